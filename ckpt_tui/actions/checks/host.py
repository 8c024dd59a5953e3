# SPDX-License-Identifier: Apache-2.0
"""Checks of this host against a checkpoint: the engine, privileges, the OCI runtime, CRIU,
the architecture and the kernel. They run only short, read-only commands (``--version``,
``podman info``, ``criu check``) and never raise for a missing tool."""

from __future__ import annotations

import os
import re

from ...model.checkpoint import Checkpoint
from ...model.metadata import short_runtime
from .. import _host
from .._proc import run_quick, which
from .._versions import dumped_with
from ..diagnose import diagnose
from ..restore import RestoreOptions, RestoreTarget
from .base import FAIL, INFO, PASS, WARN, Check

__all__ = ["check_criu", "check_engine", "check_host", "check_root", "check_runtime"]


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", v)[:3])


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def check_engine(engine: str, o: RestoreOptions) -> Check:
    binary = o.podman_bin if engine == "podman" else o.ctr_bin
    path = which(binary)
    if not path:
        pkg = "podman" if engine == "podman" else "containerd"
        return Check("Engine", FAIL, f"{binary} is not installed", fix=f"apt-get install {pkg}")
    _rc, out, err = run_quick([binary, "--version"])
    return Check("Engine", PASS, f"{_first_line(out or err) or binary} ({path})")


def check_root(engine: str) -> Check:
    if _host.is_root():
        return Check("Privileges", PASS, "running as root")
    return Check(
        "Privileges",
        FAIL if engine == "podman" else WARN,
        "restoring a container needs root (rootful podman / containerd); you are not root",
        fix="run the restore with sudo",
    )


def _runtime_version(rt: str) -> tuple[str, bool | None]:
    """(first version line, has CRIU support or None if unknown)."""
    _rc, out, err = run_quick([rt, "--version"])
    text = (out or err).strip()
    first = _first_line(text)
    if os.path.basename(rt).startswith("crun"):
        # crun lists its build features as +FEATURE / -FEATURE
        if "+CRIU" in text:
            return first, True
        return first, False if re.search(r"[+-][A-Z]{3,}", text) else None
    return first, None


def _podman_default_runtime(o: RestoreOptions) -> str:
    if not which(o.podman_bin):
        return ""
    rc, out, _err = run_quick([o.podman_bin, "info", "--format", "{{.Host.OCIRuntime.Name}}"], timeout=30)
    return out.strip() if rc == 0 else ""


def _containerd_runtime(ck: Checkpoint) -> Check:
    rt = ck.info.runtime
    short = ck.info.runtime_name or "runc"
    shim = f"containerd-shim-{short}-v2"
    missing = [b for b in (shim, short) if not which(b)]
    if missing:
        return Check("Runtime", FAIL, f"checkpoint made with {rt or short}; not installed here: {', '.join(missing)}",
                     fix=f"apt-get install {short}")
    return Check("Runtime", PASS, f"checkpoint made with {rt or short}; {shim} and {short} are installed")


def check_runtime(ck: Checkpoint, engine: str, o: RestoreOptions, target: RestoreTarget | None) -> list[Check]:
    if engine == "containerd":
        return [_containerd_runtime(ck)]
    checks: list[Check] = []
    made_with = ck.info.runtime_name  # config.dump's runtime (else the image annotation's)
    ann = ck.info.image_runtime
    image_mode = target is not None and target.mode == "image"
    annotation_wrong = image_mode and bool(ann and made_with and ann != made_with)

    # podman: which runtime will it use, which one does it demand?
    if image_mode and ann:
        required, why = ann, "the image's runtime annotation, which podman enforces"
    else:
        required, why = made_with or ann, "config.dump" if made_with else "the image's runtime annotation"
    if annotation_wrong:
        checks.append(Check(
            "Runtime annotation", FAIL,
            f"the image's annotation io.podman.annotations.checkpoint.runtime.name says {ann!r} but config.dump says "
            f"{made_with!r} made the checkpoint; podman insists on {ann!r} for this image",
            fix=(f"rebuild the image with the right annotation (ckpt-tui build --runtime {made_with}), or restore "
                 "the archive inside it with --import"),
        ))
    elif ann and made_with and ann != made_with:
        checks.append(Check(
            "Runtime annotation", WARN,
            f"annotation says {ann!r}, config.dump says {made_with!r} made the checkpoint (--import uses config.dump)"))

    if o.runtime:
        effective, how = o.runtime, "you asked for"
    elif image_mode:
        effective, how = _podman_default_runtime(o), "podman's default runtime is"
    else:
        effective, how = made_with, "podman will use"
    if required and effective and short_runtime(effective) != required:
        checks.append(Check(
            "Runtime", FAIL, f"the checkpoint requires runtime {required!r} ({why}) but {how} {effective!r}",
            fix=f"rebuild the image with --runtime {made_with} (ckpt-tui build)" if annotation_wrong
            else f"restore with --runtime {required}",
        ))
        return checks
    rt = effective or required
    if not rt:
        checks.append(Check("Runtime", WARN, "the checkpoint does not say which OCI runtime made it"))
        return checks
    path = which(rt)
    if not path:
        checks.append(Check("Runtime", FAIL, f"runtime {rt!r} is not installed", fix=f"apt-get install {short_runtime(rt)}"))
        return checks
    ver, criu_ok = _runtime_version(path)
    if criu_ok is False:
        checks.append(Check("Runtime", FAIL, f"{ver or rt} is built without CRIU support: it cannot restore",
                            fix="use runc (--runtime runc) or a crun built with +CRIU"))
    else:
        checks.append(Check("Runtime", PASS, f"{rt} ({ver or path}) as the checkpoint requires"))
    return checks


def _criu_check(path: str, host_ver: str) -> Check:
    if not _host.is_root():
        return Check("criu check", WARN, "not run: `criu check` needs root")
    rc, out, err = run_quick([path, "check"], timeout=60)
    text = (out + "\n" + err).strip()
    if rc == 0:
        return Check("criu check", PASS, text.splitlines()[-1] if text else "Looks good.")
    if rc is None:
        return Check("criu check", WARN, f"could not run criu check: {err}")
    d = diagnose(f"Version: {host_ver}\nRunning on {_host.node() or 'host'} Linux {_host.kernel()}\n{text}")
    cause = d.causes[0] if d.causes else None
    first = next((ln for ln in text.splitlines() if "Error" in ln), _first_line(text))
    return Check(
        "criu check", FAIL, f"`criu check` fails on this host: {cause.title if cause else first}",
        fix=cause.fix if cause else "see `criu check` output",
        details=[cause.explanation] if cause else [first],
    )


def check_criu(ck: Checkpoint, run_criu_check: bool) -> list[Check]:
    path = which("criu")
    if not path:
        return [Check("CRIU", FAIL, "criu is not installed: the runtime needs it to restore", fix="apt-get install criu")]
    _rc, out, err = run_quick([path, "--version"])
    m = re.search(r"Version:\s*(\S+)", out + err)
    host_ver = m.group(1) if m else ""
    made = dumped_with(ck).criu_version
    checks: list[Check] = []
    if host_ver and made and _version_tuple(host_ver) < _version_tuple(made):
        checks.append(Check("CRIU", WARN, f"CRIU {host_ver} here is older than CRIU {made} that wrote the images",
                            fix="install CRIU >= " + made))
    else:
        extra = f"; images written by CRIU {made}" if made else ""
        checks.append(Check("CRIU", PASS, f"CRIU {host_ver or '?'} ({path}){extra}"))
    if run_criu_check:
        checks.append(_criu_check(path, host_ver))
    return checks


def check_host(ck: Checkpoint) -> list[Check]:
    checks: list[Check] = []
    arch, _how = ck.architecture
    here = _host.architecture()
    if arch:
        if arch != here:
            checks.append(Check("Architecture", FAIL, f"checkpoint made on {arch}, this host is {here}"))
        else:
            checks.append(Check("Architecture", PASS, f"{arch}, like this host"))
    kernel = dumped_with(ck).kernel
    if kernel:
        mine = _host.kernel()
        if kernel != mine:
            checks.append(Check("Kernel", INFO, f"checkpoint made on kernel {kernel}, this host runs {mine}"))
        else:
            checks.append(Check("Kernel", PASS, f"same kernel ({mine})"))
    return checks
