"""A host profile: what a restore depends on, recorded on one machine and judged on any.

``ckpt-tui host-profile > host.json`` writes one (:func:`.collect.collect_profile`);
``ckpt-tui check PATH --host host.json`` reads it back (:func:`load_profile`). Every field may
be unknown (None, or an empty list): a check that needs an unknown fact says so instead of
guessing. The JSON's ``schema`` is :data:`SCHEMA`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...errors import CkptError

__all__ = ["SCHEMA", "CgroupProfile", "CpuProfile", "CrioProfile", "CriuProfile", "EngineProfile", "HostProfile",
           "LocalContainer", "LocalImage", "LsmProfile", "RuntimeProfile", "load_profile", "profile_from_dict"]

SCHEMA = "ckpt-tui/host-profile/1"


@dataclass
class CpuProfile:
    vendor: str = ""
    model: str = ""  # "AMD EPYC 9R14", "Intel(R) Xeon(R) ..."
    flags: list[str] = field(default_factory=list)  # /proc/cpuinfo names
    xfeatures_mask: int | None = None  # the xsave components this CPU saves
    xfeatures: list[str] = field(default_factory=list)  # their names (XFEATURE_FP, ...)
    xsave_size: int | None = None  # CRIU compares these with a cpuinfo.img; known from `criu cpuinfo dump`
    xsave_size_max: int | None = None
    source: str = ""  # where the facts came from: "criu cpuinfo dump", "/proc/cpuinfo"


@dataclass
class CriuProfile:
    path: str = ""  # "" when CRIU is not installed
    version: str = ""  # as CRIU prints it: "4.2", "3.17.1"
    check_ran: bool = False
    check_ok: bool | None = None
    check_output: str = ""
    features: dict[str, bool] = field(default_factory=dict)  # `criu check --feature NAME`
    plugins: list[str] = field(default_factory=list)  # plugin names found (cuda_plugin, amdgpu_plugin)


@dataclass
class RuntimeProfile:
    name: str  # runc, crun, runsc, youki
    path: str = ""
    version: str = ""
    checkpoint_restore: bool | None = None  # None: cannot tell


@dataclass
class LocalImage:
    id: str = ""
    names: list[str] = field(default_factory=list)  # repo:tag
    digests: list[str] = field(default_factory=list)  # repo@sha256:...


@dataclass
class LocalContainer:
    id: str = ""
    names: list[str] = field(default_factory=list)


@dataclass
class EngineProfile:
    name: str  # podman, containerd, crio
    path: str = ""
    version: str = ""
    default_runtime: str = ""
    images: list[LocalImage] | None = None  # None: not listed (not asked, or the engine did not answer)
    containers: list[LocalContainer] | None = None


@dataclass
class LsmProfile:
    active: list[str] | None = None  # "apparmor", "selinux", ... (None: cannot tell)
    apparmor_profiles: list[str] | None = None  # loaded AppArmor profiles
    selinux: str = ""  # "enforcing", "permissive", "disabled", "" (unknown)


@dataclass
class CgroupProfile:
    version: int | None = None  # 1 or 2
    controllers: list[str] = field(default_factory=list)


@dataclass
class CrioProfile:
    installed: bool = False
    version: str = ""
    criu_support: bool | None = None  # [crio.runtime] enable_criu_support (None: not set or unread)
    config: list[str] = field(default_factory=list)  # the files read


@dataclass
class HostProfile:
    hostname: str = ""
    collected: str = ""  # ISO time
    arch: str = ""  # OCI name: amd64, arm64
    kernel: str = ""
    root: bool | None = None  # the profile was made as root (restores need it)
    cap_last_cap: int | None = None  # /proc/sys/kernel/cap_last_cap
    pid_max: int | None = None
    cpu: CpuProfile = field(default_factory=CpuProfile)
    criu: CriuProfile = field(default_factory=CriuProfile)
    runtimes: list[RuntimeProfile] = field(default_factory=list)
    engines: list[EngineProfile] = field(default_factory=list)
    lsm: LsmProfile = field(default_factory=LsmProfile)
    cgroup: CgroupProfile = field(default_factory=CgroupProfile)
    crio: CrioProfile = field(default_factory=CrioProfile)
    source: str = "this host"  # "this host" or the profile file's path
    notes: list[str] = field(default_factory=list)  # what could not be found out

    def runtime(self, name: str) -> RuntimeProfile | None:
        base = os.path.basename(name)
        return next((r for r in self.runtimes if r.name == base or r.path == name), None)

    def engine(self, name: str) -> EngineProfile | None:
        return next((e for e in self.engines if e.name == name), None)

    @property
    def where(self) -> str:
        """"this host", or "the host of host.json" for words in a check."""
        return "this host" if self.source == "this host" else f"the profiled host ({self.hostname or self.source})"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"schema": SCHEMA}
        out.update(asdict(self))
        out.pop("source", None)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=True)


# --------------------------------------------------------------------------- reading one back

class _Reader:
    """Typed reads of one JSON object; a wrong type is a CkptError naming the key."""

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            raise CkptError(f"host profile: {where or 'the document'} is not a JSON object")
        self.obj: dict[str, object] = obj
        self.where = where

    def _bad(self, key: str, what: str) -> CkptError:
        return CkptError(f"host profile: {self.where + '.' if self.where else ''}{key} is not {what}")

    def text(self, key: str) -> str:
        v = self.obj.get(key, "")
        if v is None:
            return ""
        if not isinstance(v, str):
            raise self._bad(key, "a string")
        return v

    def opt_int(self, key: str) -> int | None:
        v = self.obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self._bad(key, "an integer")
        return v

    def opt_bool(self, key: str) -> bool | None:
        v = self.obj.get(key)
        if v is None:
            return None
        if not isinstance(v, bool):
            raise self._bad(key, "true or false")
        return v

    def strs(self, key: str) -> list[str]:
        v = self.obj.get(key)
        return [] if v is None else self._strs(key, v)

    def opt_strs(self, key: str) -> list[str] | None:
        v = self.obj.get(key)
        return None if v is None else self._strs(key, v)

    def _strs(self, key: str, v: object) -> list[str]:
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self._bad(key, "a list of strings")
        return [str(x) for x in v]

    def sub(self, key: str) -> _Reader:
        v = self.obj.get(key)
        return _Reader({} if v is None else v, f"{self.where}.{key}" if self.where else key)

    def items(self, key: str) -> list[_Reader] | None:
        v = self.obj.get(key)
        if v is None:
            return None
        if not isinstance(v, list):
            raise self._bad(key, "a list")
        return [_Reader(x, f"{self.where}.{key}[{i}]" if self.where else f"{key}[{i}]") for i, x in enumerate(v)]

    def bools(self, key: str) -> dict[str, bool]:
        v = self.obj.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict) or not all(isinstance(x, bool) for x in v.values()):
            raise self._bad(key, "an object of true/false")
        return {str(k): bool(x) for k, x in v.items()}


def profile_from_dict(obj: object, source: str = "") -> HostProfile:
    """A HostProfile from its JSON form; CkptError saying which key is wrong."""
    r = _Reader(obj, "")
    schema = r.text("schema")
    if schema and schema != SCHEMA:
        raise CkptError(f"host profile: schema {schema!r} is not {SCHEMA!r}")
    cpu, criu, lsm, cg, crio = r.sub("cpu"), r.sub("criu"), r.sub("lsm"), r.sub("cgroup"), r.sub("crio")
    engines = []
    for e in r.items("engines") or []:
        images = e.items("images")
        containers = e.items("containers")
        engines.append(EngineProfile(
            name=e.text("name"), path=e.text("path"), version=e.text("version"), default_runtime=e.text("default_runtime"),
            images=None if images is None else [LocalImage(i.text("id"), i.strs("names"), i.strs("digests")) for i in images],
            containers=None if containers is None else [LocalContainer(c.text("id"), c.strs("names")) for c in containers],
        ))
    return HostProfile(
        hostname=r.text("hostname"), collected=r.text("collected"), arch=r.text("arch"), kernel=r.text("kernel"),
        root=r.opt_bool("root"), cap_last_cap=r.opt_int("cap_last_cap"), pid_max=r.opt_int("pid_max"),
        cpu=CpuProfile(vendor=cpu.text("vendor"), model=cpu.text("model"), flags=cpu.strs("flags"),
                       xfeatures_mask=cpu.opt_int("xfeatures_mask"), xfeatures=cpu.strs("xfeatures"),
                       xsave_size=cpu.opt_int("xsave_size"), xsave_size_max=cpu.opt_int("xsave_size_max"),
                       source=cpu.text("source")),
        criu=CriuProfile(path=criu.text("path"), version=criu.text("version"), check_ran=criu.opt_bool("check_ran") is True,
                         check_ok=criu.opt_bool("check_ok"), check_output=criu.text("check_output"),
                         features=criu.bools("features"), plugins=criu.strs("plugins")),
        runtimes=[RuntimeProfile(name=x.text("name"), path=x.text("path"), version=x.text("version"),
                                 checkpoint_restore=x.opt_bool("checkpoint_restore")) for x in r.items("runtimes") or []],
        engines=engines,
        lsm=LsmProfile(active=lsm.opt_strs("active"), apparmor_profiles=lsm.opt_strs("apparmor_profiles"),
                       selinux=lsm.text("selinux")),
        cgroup=CgroupProfile(version=cg.opt_int("version"), controllers=cg.strs("controllers")),
        crio=CrioProfile(installed=crio.opt_bool("installed") is True, version=crio.text("version"),
                         criu_support=crio.opt_bool("criu_support"), config=crio.strs("config")),
        source=source or "profile", notes=r.strs("notes"),
    )


def load_profile(path: str | os.PathLike[str]) -> HostProfile:
    """Read a host profile written by ``ckpt-tui host-profile``; CkptError when it is not one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CkptError(f"{p}: cannot read the host profile: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise CkptError(f"{p}: not a host profile (not JSON: {exc})") from None
    return profile_from_dict(obj, str(p))
