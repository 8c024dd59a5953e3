"""Checks of a host against a checkpoint: the engine, privileges, the OCI runtime, CRIU, the
architecture and the kernel. The host is a :class:`HostProfile`: this machine's (collected with
short, read-only commands) or one read from a file."""

from __future__ import annotations

import re

from ...model.checkpoint import Checkpoint
from ...model.metadata import short_runtime
from .._versions import dumped_with
from ..diagnose import diagnose
from ..hostprofile import HostProfile
from ..restore import RestoreOptions, RestoreTarget
from .base import FAIL, INFO, PASS, WARN, Check

__all__ = ["check_criu", "check_engine", "check_host", "check_root", "check_runtime", "version_tuple"]


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", v)[:3])


def check_engine(engine: str, o: RestoreOptions, prof: HostProfile) -> Check:
    binary = o.podman_bin if engine == "podman" else o.ctr_bin
    eng = prof.engine(engine)
    if eng is None or not eng.path:
        pkg = "podman" if engine == "podman" else "containerd"
        return Check("Engine", FAIL, f"{binary} is not installed on {prof.where}", fix=f"apt-get install {pkg}")
    return Check("Engine", PASS, f"{eng.version or binary} ({eng.path})")


def check_root(engine: str, prof: HostProfile) -> Check:
    if prof.root:
        return Check("Privileges", PASS, "running as root" if prof.source == "this host" else "profiled as root")
    if prof.root is None:
        return Check("Privileges", WARN, "the profile does not say whether the restore runs as root")
    return Check(
        "Privileges",
        FAIL if engine == "podman" else WARN,
        "restoring a container needs root (rootful podman / containerd); you are not root",
        fix="run the restore with sudo",
    )


def _containerd_runtime(ck: Checkpoint, prof: HostProfile) -> Check:
    rt = ck.info.runtime
    short = ck.info.runtime_name or "runc"
    found = prof.runtime(short)
    if found is None or not found.path:
        return Check("Runtime", FAIL, f"checkpoint made with {rt or short}; {short} is not installed on {prof.where}",
                     fix=f"apt-get install {short}")
    return Check("Runtime", PASS, f"checkpoint made with {rt or short}; {short} is installed ({found.path})")


def _runtime_annotation(made_with: str, ann: str, image_mode: bool) -> Check | None:
    if not (ann and made_with and ann != made_with):
        return None
    if image_mode:
        return Check(
            "Runtime annotation", FAIL,
            f"the image's annotation io.podman.annotations.checkpoint.runtime.name says {ann!r} but config.dump says "
            f"{made_with!r} made the checkpoint; podman insists on {ann!r} for this image",
            fix=(f"rebuild the image with the right annotation (ckpt-tui build --runtime {made_with}), or restore "
                 "the archive inside it with --import"),
        )
    return Check("Runtime annotation", WARN,
                 f"annotation says {ann!r}, config.dump says {made_with!r} made the checkpoint (--import uses config.dump)")


def check_runtime(ck: Checkpoint, engine: str, o: RestoreOptions, target: RestoreTarget | None,
                  prof: HostProfile) -> list[Check]:
    if engine == "containerd":
        return [_containerd_runtime(ck, prof)]
    checks: list[Check] = []
    made_with = ck.info.runtime_name  # config.dump's runtime (else the image annotation's)
    ann = ck.info.image_runtime
    image_mode = target is not None and target.mode == "image"
    annotation = _runtime_annotation(made_with, ann, image_mode)
    if annotation is not None:
        checks.append(annotation)
    annotation_wrong = annotation is not None and annotation.status == FAIL

    # podman: which runtime will it use, which one does it demand?
    if image_mode and ann:
        required, why = ann, "the image's runtime annotation, which podman enforces"
    else:
        required, why = made_with or ann, "config.dump" if made_with else "the image's runtime annotation"
    podman = prof.engine("podman")
    if o.runtime:
        effective, how = o.runtime, "you asked for"
    elif image_mode:
        effective, how = (podman.default_runtime if podman else ""), "podman's default runtime is"
    else:
        effective, how = made_with, "podman will use"
    rt = required or effective
    found = prof.runtime(rt) if rt else None
    if required and effective and short_runtime(effective) != required:
        fixed_by_flag = (not o.runtime and not annotation_wrong and found is not None and bool(found.path)
                         and found.checkpoint_restore is not False)
        checks.append(Check(
            "Runtime", FAIL, f"the checkpoint requires runtime {required!r} ({why}) but {how} {effective!r}",
            fix=f"rebuild the image with --runtime {made_with} (ckpt-tui build)" if annotation_wrong
            else f"restore with --runtime {required}",
            step=f"--runtime {required}" if fixed_by_flag else "",
        ))
        return checks
    if not rt:
        checks.append(Check("Runtime", WARN, "the checkpoint does not say which OCI runtime made it"))
        return checks
    if found is None or not found.path:
        checks.append(Check("Runtime", FAIL, f"runtime {rt!r} is not installed on {prof.where}",
                            fix=f"apt-get install {short_runtime(rt)}"))
        return checks
    if found.checkpoint_restore is False:
        checks.append(Check("Runtime", FAIL, f"{found.version or rt} is built without CRIU support: it cannot restore",
                            fix="use runc (--runtime runc) or a crun built with +CRIU"))
    else:
        checks.append(Check("Runtime", PASS, f"{rt} ({found.version or found.path}) as the checkpoint requires"))
    return checks


def _criu_check(prof: HostProfile) -> Check:
    c = prof.criu
    if not c.check_ran:
        return Check("criu check", WARN, "not run: `criu check` needs root")
    if c.check_ok:
        text = c.check_output.strip()
        return Check("criu check", PASS, text.splitlines()[-1] if text else "Looks good.")
    d = diagnose(f"Version: {c.version}\nRunning on {prof.hostname or 'host'} Linux {prof.kernel}\n{c.check_output}")
    cause = d.causes[0] if d.causes else None
    lines = c.check_output.splitlines()
    first = next((ln for ln in lines if "Error" in ln), lines[0] if lines else "")
    return Check(
        "criu check", FAIL, f"`criu check` fails on {prof.where}: {cause.title if cause else first}",
        fix=cause.fix if cause else "see `criu check` output",
        details=[cause.explanation] if cause else [first],
    )


def check_criu(ck: Checkpoint, run_criu_check: bool, prof: HostProfile) -> list[Check]:
    c = prof.criu
    if not c.path:
        return [Check("CRIU", FAIL, f"criu is not installed on {prof.where}: the runtime needs it to restore",
                      fix="apt-get install criu")]
    made = dumped_with(ck).criu_version
    checks: list[Check] = []
    if c.version and made and version_tuple(c.version) < version_tuple(made):
        checks.append(Check("CRIU", WARN, f"CRIU {c.version} on {prof.where} is older than CRIU {made} that wrote the images",
                            fix="install CRIU >= " + made))
    else:
        extra = f"; images written by CRIU {made}" if made else ""
        checks.append(Check("CRIU", PASS, f"CRIU {c.version or '?'} ({c.path}){extra}"))
    if run_criu_check or c.check_ran:
        checks.append(_criu_check(prof))
    return checks


def check_host(ck: Checkpoint, prof: HostProfile) -> list[Check]:
    checks: list[Check] = []
    arch, _how = ck.architecture
    here = prof.arch
    if arch and here:
        if arch != here:
            checks.append(Check("Architecture", FAIL, f"checkpoint made on {arch}, {prof.where} is {here}"))
        else:
            checks.append(Check("Architecture", PASS, f"{arch}, like {prof.where}"))
    kernel = dumped_with(ck).kernel
    if kernel and prof.kernel:
        if kernel != prof.kernel:
            checks.append(Check("Kernel", INFO, f"checkpoint made on kernel {kernel}, {prof.where} runs {prof.kernel}"))
        else:
            checks.append(Check("Kernel", PASS, f"same kernel ({prof.kernel})"))
    return checks
