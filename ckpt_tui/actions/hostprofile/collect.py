"""Profile this host: read /proc and /sys, and ask the tools with short, read-only commands
(``--version``, ``criu check``, ``podman images``, ``ctr images ls``). A tool that is missing
or does not answer leaves its facts unknown; nothing here raises for it."""

from __future__ import annotations

import glob
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ...errors import CkptError
from ...model.requirements import cpuinfo_from_image, xfeatures_from_flags, xsave_names
from .. import _host
from .._proc import run_quick, which
from .profile import (
    CgroupProfile,
    CpuProfile,
    CrioProfile,
    CriuProfile,
    EngineProfile,
    HostProfile,
    LocalContainer,
    LocalImage,
    LsmProfile,
    RuntimeProfile,
)

__all__ = ["CRIU_FEATURES", "RUNTIMES", "collect_profile", "runtime_profile"]

RUNTIMES = ("runc", "crun", "runsc", "youki", "krun")
# `criu check --feature` names a restore may depend on (CRIU's cr-check.c feature table)
CRIU_FEATURES = ("mnt_id", "mem_dirty_track", "uffd-noncoop", "timens", "clone3_set_tid", "nftables",
                 "network_lock_nftables", "tcp_half_closed", "ipv6_freebind", "move_mount_set_group",
                 "pidfd_store", "apparmor_stacking", "ns_pid", "seccomp_filters")
CRIU_PLUGIN_DIRS = ("/usr/lib/criu", "/usr/local/lib/criu", "/usr/lib64/criu")
CRIO_CONFIGS = ("/etc/crio/crio.conf", "/etc/crio/crio.conf.d/*.conf", "/etc/crio/crio.conf.d/*")


def _read(path: str, limit: int = 1 << 20) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def _cpu(notes: list[str], criu_path: str, run_criu: bool) -> CpuProfile:
    text = _read("/proc/cpuinfo")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first CPU is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = (fields.get("flags") or fields.get("Features") or "").split()
    cpu = CpuProfile(vendor=fields.get("vendor_id", ""), model=fields.get("model name", fields.get("cpu model", "")),
                     flags=flags, source="/proc/cpuinfo")
    if "xsave" in flags:
        cpu.xfeatures_mask = xfeatures_from_flags(flags)
        cpu.xfeatures = xsave_names(cpu.xfeatures_mask)
    if criu_path and run_criu and _host.is_root():
        with tempfile.TemporaryDirectory(prefix="ckpt-tui-cpuinfo-") as tmp:
            rc, _o, _e = run_quick([criu_path, "cpuinfo", "dump", "-D", tmp, "-o", os.path.join(tmp, "log")], timeout=30)
            data = Path(tmp, "cpuinfo.img").read_bytes() if rc == 0 and Path(tmp, "cpuinfo.img").is_file() else b""
        try:
            found = cpuinfo_from_image(data) if data else None
        except CkptError:
            found = None
        if found is not None:
            cpu.xfeatures_mask = found.xfeatures_mask
            cpu.xfeatures = found.xfeatures
            cpu.xsave_size, cpu.xsave_size_max = found.xsave_size, found.xsave_size_max
            cpu.source = "criu cpuinfo dump"
    if cpu.xsave_size is None:
        notes.append("xsave sizes unknown: `criu cpuinfo dump` did not run or failed here")
    return cpu


def _criu(notes: list[str], run_check: bool) -> CriuProfile:
    path = which("criu") or ""
    out = CriuProfile(path=path)
    for d in CRIU_PLUGIN_DIRS:
        out.plugins += sorted(Path(p).stem for p in glob.glob(os.path.join(d, "*.so")))
    if not path:
        notes.append("criu is not installed")
        return out
    _rc, o, e = run_quick([path, "--version"])
    m = re.search(r"Version:\s*(\S+)", o + e)
    out.version = m.group(1) if m else ""
    if not run_check:
        return out
    if not _host.is_root():
        notes.append("`criu check` not run: it needs root")
        return out
    rc, o, e = run_quick([path, "check"], timeout=60)
    out.check_ran, out.check_ok = True, rc == 0
    out.check_output = (o + "\n" + e).strip()[-4000:]
    if rc != 0:
        return out  # a CRIU that cannot initialise answers no feature either
    for feature in CRIU_FEATURES:
        frc, _fo, _fe = run_quick([path, "check", "--feature", feature], timeout=30)
        if frc is not None:
            out.features[feature] = frc == 0
    return out


def runtime_profile(name_or_path: str) -> RuntimeProfile:
    """One OCI runtime: where, which version, whether it can checkpoint/restore."""
    name = os.path.basename(name_or_path)
    path = which(name_or_path) or ""
    rt = RuntimeProfile(name=name, path=path)
    if not path:
        return rt
    _rc, out, err = run_quick([path, "--version"])
    text = (out or err).strip()
    rt.version = _first_line(text)
    if name.startswith("crun"):  # crun lists its build features as +FEATURE / -FEATURE
        rt.checkpoint_restore = True if "+CRIU" in text else (False if re.search(r"[+-][A-Z]{3,}", text) else None)
    elif name == "runc":
        rt.checkpoint_restore = True  # runc always carries checkpoint/restore (it needs criu)
    return rt


def _podman(o_bin: str, notes: list[str]) -> EngineProfile | None:
    path = which(o_bin)
    if not path:
        return None
    eng = EngineProfile(name="podman", path=path)
    _rc, out, err = run_quick([path, "--version"])
    eng.version = _first_line(out or err)
    rc, out, _e = run_quick([path, "info", "--format", "{{.Host.OCIRuntime.Name}}"], timeout=30)
    eng.default_runtime = out.strip() if rc == 0 else ""
    rc, out, err = run_quick([path, "images", "--format", "json"], timeout=60)
    try:
        items = json.loads(out) if rc == 0 else None
    except ValueError:
        items = None
    if isinstance(items, list):
        eng.images = []
        for it in items:
            if not isinstance(it, dict):
                continue
            names = [str(n) for n in it.get("Names") or [] if isinstance(n, str)]
            digests = [str(d) for d in it.get("RepoDigests") or [] if isinstance(d, str)]
            eng.images.append(LocalImage(id=str(it.get("Id", "")), names=names, digests=digests))
    else:
        notes.append(f"podman images did not answer: {_first_line(err) or rc}")
    rc, out, err = run_quick([path, "ps", "-a", "--format", "json"], timeout=60)
    try:
        items = json.loads(out) if rc == 0 else None
    except ValueError:
        items = None
    if isinstance(items, list):
        eng.containers = []
        for it in items:
            if isinstance(it, dict):
                names = it.get("Names") or []
                names = [names] if isinstance(names, str) else [str(n) for n in names if isinstance(n, str)]
                eng.containers.append(LocalContainer(id=str(it.get("Id", "")), names=names))
    else:
        notes.append(f"podman ps did not answer: {_first_line(err) or rc}")
    return eng


def _containerd(ctr_bin: str, namespace: str) -> EngineProfile | None:
    path = which(ctr_bin)
    if not path:
        return None
    eng = EngineProfile(name="containerd", path=path)
    _rc, out, err = run_quick([path, "--version"])
    eng.version = _first_line(out or err)
    ns = ["-n", namespace] if namespace else []
    rc, out, _e = run_quick([path, *ns, "images", "ls", "-q"], timeout=30)
    if rc == 0:
        eng.images = [LocalImage(names=[n]) for n in out.split()]
    rc, out, _e = run_quick([path, *ns, "containers", "ls", "-q"], timeout=30)
    if rc == 0:
        eng.containers = [LocalContainer(id=c, names=[c]) for c in out.split()]
    return eng


def _crio() -> CrioProfile:
    path = which("crio")
    out = CrioProfile(installed=bool(path))
    if path:
        _rc, o, e = run_quick([path, "--version"])
        m = re.search(r"Version:\s*(\S+)", o + e)
        out.version = m.group(1) if m else _first_line(o or e)
    for pattern in CRIO_CONFIGS:
        for f in sorted(glob.glob(pattern)):
            if f in out.config or not os.path.isfile(f):
                continue
            text = _read(f)
            out.config.append(f)
            m = re.search(r"^\s*enable_criu_support\s*=\s*(true|false)\b", text, re.M)
            if m:
                out.criu_support = m.group(1) == "true"  # later drop-ins win, as in CRI-O
    return out


def _lsm() -> LsmProfile:
    lsm = LsmProfile()
    listed = _read("/sys/kernel/security/lsm").strip()
    if listed:
        lsm.active = [x for x in listed.split(",") if x]
    else:
        active = []
        if _read("/sys/module/apparmor/parameters/enabled").strip() == "Y":
            active.append("apparmor")
        if os.path.exists("/sys/fs/selinux/enforce"):
            active.append("selinux")
        lsm.active = active if active or os.path.isdir("/sys/kernel/security") else None
    profiles = _read("/sys/kernel/security/apparmor/profiles")
    if profiles:
        lsm.apparmor_profiles = sorted({ln.rsplit(" (", 1)[0] for ln in profiles.splitlines() if ln.strip()})
    enforce = _read("/sys/fs/selinux/enforce").strip()
    lsm.selinux = {"1": "enforcing", "0": "permissive"}.get(enforce, "disabled" if lsm.active is not None else "")
    return lsm


def _cgroup() -> CgroupProfile:
    v2 = _read("/sys/fs/cgroup/cgroup.controllers")
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return CgroupProfile(version=2, controllers=v2.split())
    names = []
    for line in _read("/proc/cgroups").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and parts[3] == "1":
            names.append(parts[0])
    return CgroupProfile(version=1 if names else None, controllers=names)


def _int_file(path: str) -> int | None:
    text = _read(path).strip()
    return int(text) if text.isdigit() else None


def collect_profile(*, podman_bin: str = "podman", ctr_bin: str = "ctr", namespace: str = "",
                    criu_check: bool = True, runtimes: tuple[str, ...] = ()) -> HostProfile:
    """This host's profile. ``criu_check``: run ``criu check`` (and its ``--feature`` checks and
    ``criu cpuinfo dump``, all as root); ``runtimes``: more runtime names or paths to look at."""
    notes: list[str] = []
    criu = _criu(notes, criu_check)
    prof = HostProfile(
        hostname=_host.node(), collected=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        arch=_host.architecture(), kernel=_host.kernel(), root=_host.is_root(),
        cap_last_cap=_int_file("/proc/sys/kernel/cap_last_cap"), pid_max=_int_file("/proc/sys/kernel/pid_max"),
        cpu=_cpu(notes, criu.path, criu_check), criu=criu, lsm=_lsm(), cgroup=_cgroup(), crio=_crio(),
        notes=notes,
    )
    seen: set[str] = set()
    for name in (*RUNTIMES, *runtimes):
        rt = runtime_profile(name)
        if rt.path and rt.path not in seen:
            seen.add(rt.path)
            prof.runtimes.append(rt)
    for eng in (_podman(podman_bin, notes), _containerd(ctr_bin, namespace)):
        if eng is not None:
            prof.engines.append(eng)
    if prof.crio.installed:
        prof.engines.append(EngineProfile(name="crio", path=which("crio") or "", version=prof.crio.version))
    return prof
