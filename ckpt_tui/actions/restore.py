# SPDX-License-Identifier: Apache-2.0
"""Restore a checkpoint with the container engine: build the command, run it, stream it.

``build_restore_command`` only builds an argv (nothing runs), so the UI and
``--dry-run`` can show it; ``run_restore`` runs it, streams every line to
``on_output``, honours ``cancelled()``, and on failure finds CRIU's log and
diagnoses it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import annotations as A
from ..errors import CkptError
from ..model.checkpoint import Checkpoint
from ..model.types import Engine
from ._proc import CancelCheck, OutputCallback, run_streaming
from .build.reference import ref_name_of
from .diagnose import Diagnosis, diagnose, find_criu_log

__all__ = [
    "ENGINES",
    "RestoreOptions",
    "RestoreResult",
    "RestoreTarget",
    "build_restore_command",
    "restore_target",
    "run_restore",
]

ENGINES = ("podman", "containerd")
IMAGE_KINDS = ("oci-archive", "oci-layout", "docker-archive", "containerd-image")
ARCHIVE_KINDS = ("tar", "tar+gzip", "tar+zstd")


@dataclass
class RestoreOptions:
    engine: str = ""  # "podman" | "containerd"; "" = the engine that made the checkpoint (default_engine)
    runtime: str | None = None  # podman --runtime R (must match the checkpoint's runtime)
    name: str | None = None  # --name for the restored container (ctr: the container id)
    ignore_rootfs: bool = False
    ignore_volumes: bool = False
    tcp_established: bool = False
    keep: bool = False
    print_stats: bool = False
    image: str | None = None  # restore this checkpoint image (already in the engine's storage)
    extra_args: list[str] = field(default_factory=list)
    # containerd only
    namespace: str | None = None  # ctr -n NAMESPACE
    rw: bool = True  # ctr containers restore --rw (apply the rw layer)
    live: bool = False  # ctr containers restore --live (also restore the task)
    # binaries (tests / unusual installs)
    podman_bin: str = "podman"
    ctr_bin: str = "ctr"


@dataclass
class RestoreTarget:
    """What the engine is asked to restore."""

    mode: str  # "import" (podman --import FILE) | "image" (a checkpoint image by name)
    path: str = ""  # the archive file for "import"
    image: str = ""  # the image reference for "image"
    kind: str = ""  # the source kind (tar+zstd, oci-archive, ...)
    needs_load: bool = False  # the image lives in a file: load it into the engine first


@dataclass
class RestoreResult:
    command: list[str]
    returncode: int | None
    ok: bool
    lines: list[str] = field(default_factory=list)  # stdout and stderr, in the order they came
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    container_id: str | None = None
    container_name: str | None = None
    log_path: str | None = None  # the CRIU restore.log the engine named (or found in a kept work dir)
    cancelled: bool = False
    timed_out: bool = False
    error: str = ""  # the command could not start (not installed...)
    stats: dict[str, Any] = field(default_factory=dict)  # --print-stats JSON
    diagnosis: Diagnosis | None = None  # of the CRIU log (or of the engine output) on failure
    engine_diagnosis: Diagnosis | None = None
    message: str = ""  # one line for a status bar
    duration: float = 0.0


# --------------------------------------------------------------------------- target


def restore_target(checkpoint: Checkpoint | None, options: RestoreOptions) -> RestoreTarget:
    """Decide between ``--import FILE`` and restoring a checkpoint image by name
    (``checkpoint`` may be None only when ``options.image`` names the image)."""
    if options.image:
        return RestoreTarget(mode="image", image=options.image, kind=checkpoint.source_kind if checkpoint else "")
    if checkpoint is None:
        raise CkptError("nothing to restore: give a checkpoint or an image name")
    if checkpoint.source_remote:
        raise CkptError("restoring straight from a registry is not supported: pull the image into the "
                        "engine (podman pull HOST/REPO:TAG) and restore it with --image HOST/REPO:TAG")
    path, kind = checkpoint.source_path.absolute(), checkpoint.source_kind
    if kind in IMAGE_KINDS:
        ann = checkpoint.info.image_annotations
        ref = ref_name_of(path) or ann.get(A.OCI_REF_NAME, "") or ann.get(A.CONTAINERD_IMAGE_NAME, "")
        if not ref:
            raise CkptError(
                f"{path} is a checkpoint image file without an image name: load it into the engine "
                "(`ckpt-tui build ... --load`, `podman load -i FILE`) and restore it by name (--image NAME)"
            )
        return RestoreTarget(mode="image", image=ref, path=str(path), kind=kind, needs_load=True)
    return RestoreTarget(mode="import", path=str(path), kind=kind)


# --------------------------------------------------------------------------- command


def default_engine(checkpoint: Checkpoint | None) -> str:
    """containerd for a containerd checkpoint (native image or CRI archive), else podman."""
    if checkpoint is not None and checkpoint.info.engine is Engine.CONTAINERD:
        return "containerd"
    return "podman"


def build_restore_command(checkpoint: Checkpoint | None, options: RestoreOptions | None = None) -> list[str]:
    """The engine command that restores ``checkpoint`` (or, when it is None, the image options.image names).

    podman: ``podman [--runtime R] container restore --import PATH [--name N] [--ignore-rootfs]
    [--ignore-volumes] [--tcp-established] [--keep] [--print-stats]``; a checkpoint image:
    ``podman [--runtime R] container restore [--name N] ... IMAGE``.
    containerd: ``ctr [-n NS] containers restore [--rw] [--live] CONTAINER IMAGE``.
    """
    options = options or RestoreOptions()
    engine = (options.engine or default_engine(checkpoint)).lower()
    if engine not in ENGINES:
        raise CkptError(f"unknown engine {options.engine!r}: use one of {', '.join(ENGINES)}")
    target = restore_target(checkpoint, options)
    if engine == "podman":
        return _podman_command(options, target)
    return _ctr_command(checkpoint, options, target)


def _podman_command(o: RestoreOptions, t: RestoreTarget) -> list[str]:
    cmd = [o.podman_bin]
    if o.runtime:
        cmd += ["--runtime", o.runtime]
    cmd += ["container", "restore"]
    if t.mode == "import":
        cmd += ["--import", t.path]
    if o.name:
        cmd += ["--name", o.name]
    if t.mode == "import":
        # podman accepts these only together with --import
        if o.ignore_rootfs:
            cmd.append("--ignore-rootfs")
        if o.ignore_volumes:
            cmd.append("--ignore-volumes")
    if o.tcp_established:
        cmd.append("--tcp-established")
    if o.keep:
        cmd.append("--keep")
    if o.print_stats:
        cmd.append("--print-stats")
    cmd += list(o.extra_args)
    if t.mode == "image":
        cmd.append(t.image)
    return cmd


def _ctr_command(checkpoint: Checkpoint | None, o: RestoreOptions, t: RestoreTarget) -> list[str]:
    if t.mode != "image":
        raise CkptError(
            "ctr restores containerd checkpoint images only; this is a checkpoint archive "
            f"({t.kind or 'tar'}). Restore it with podman (--engine podman) or through the CRI (crictl/kubelet)"
        )
    container = o.name or (checkpoint.info.name if checkpoint is not None else "")
    if not container:
        raise CkptError("containerd needs a container id for the restored container: give --name")
    cmd = [o.ctr_bin]
    if o.namespace:
        cmd += ["-n", o.namespace]
    cmd += ["containers", "restore"]
    if o.rw:
        cmd.append("--rw")
    if o.live:
        cmd.append("--live")
    cmd += list(o.extra_args)
    cmd += [container, t.image]
    return cmd


# --------------------------------------------------------------------------- run

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CTR_DIR = re.compile(r"/overlay-containers/([0-9a-f]{64})/userdata/")


def _arg_after(cmd: Sequence[str], *flags: str) -> str | None:
    for i, a in enumerate(cmd):
        for f in flags:
            if a == f and i + 1 < len(cmd):
                return cmd[i + 1]
            if a.startswith(f + "="):
                return a.split("=", 1)[1]
    return None


def run_restore(
    cmd: Sequence[str],
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
    *,
    checkpoint: Checkpoint | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> RestoreResult:
    """Run a restore command; stream its lines; parse the new container and the CRIU log path.

    On failure the CRIU log (when the engine named one that still exists, or one in
    ``workdir``) is diagnosed with ``checkpoint`` for context; otherwise the
    engine's own output is.
    """
    command = [str(c) for c in cmd]
    proc = run_streaming(command, on_output, cancelled, env=env, timeout=timeout)
    res = RestoreResult(
        command=command,
        returncode=proc.returncode,
        ok=proc.returncode == 0 and not proc.cancelled and not proc.timed_out,
        lines=[ln.text for ln in proc.lines],
        stdout=proc.stdout,
        stderr=proc.stderr,
        cancelled=proc.cancelled,
        timed_out=proc.timed_out,
        error=proc.error,
        duration=proc.duration,
    )
    is_ctr = bool(command) and os.path.basename(command[0]).startswith("ctr")
    res.container_name = _arg_after(command, "--name", "-n") if not is_ctr else _ctr_container(command)
    _parse_stdout(res)
    all_text = "\n".join(res.lines)
    res.log_path = find_criu_log(all_text, workdir)
    if res.container_id is None and res.log_path:
        m = _CTR_DIR.search(res.log_path)
        if m:
            res.container_id = m.group(1)
    if is_ctr and res.ok and res.container_id is None:
        res.container_id = res.container_name

    if res.error:
        res.message = f"Could not run the restore: {res.error}"
        return res
    if res.cancelled:
        res.message = "Restore cancelled"
    elif res.timed_out:
        res.message = f"Restore timed out after {timeout:g}s"
    if res.ok:
        who = res.container_name or (res.container_id or "")[:12] or "container"
        res.message = f"Restored {who}" + (f" ({res.container_id[:12]})" if res.container_id and res.container_name else "")
        return res

    res.engine_diagnosis = diagnose(all_text, checkpoint, log_path=res.log_path)
    res.diagnosis = res.engine_diagnosis
    if res.log_path and os.path.isfile(res.log_path):
        try:
            log_text = Path(res.log_path).read_text("utf-8", "replace")
        except OSError:  # the engine's work dir went away under us
            log_text = ""
        if log_text:
            crit = diagnose(log_text, checkpoint, log_path=res.log_path)
            if crit.causes:
                res.diagnosis = crit
    if not res.message:
        first = res.diagnosis.causes[0].title if res.diagnosis and res.diagnosis.causes else ""
        res.message = f"Restore failed (exit {res.returncode})" + (f": {first}" if first else "")
    return res


def _ctr_container(cmd: Sequence[str]) -> str | None:
    # ctr [-n NS] containers restore [flags] CONTAINER REF
    try:
        i = cmd.index("restore")
    except ValueError:
        return None
    positional = [a for a in cmd[i + 1 :] if not a.startswith("-")]
    return positional[0] if len(positional) >= 2 else None


def _parse_stdout(res: RestoreResult) -> None:
    text = "\n".join(res.stdout).strip()
    if text.startswith("{"):
        try:
            stats = json.loads(text)
        except ValueError:  # --print-stats output that is not JSON after all
            stats = None
        if isinstance(stats, dict):
            res.stats = stats
            entries = stats.get("container_statistics")
            for entry in entries if isinstance(entries, list) else []:
                cid = (entry.get("Id") or entry.get("id")) if isinstance(entry, dict) else None
                if cid:
                    res.container_id = str(cid)
                    break
    for line in res.stdout:
        s = line.strip()
        if _HEX64.match(s):
            res.container_id = s
