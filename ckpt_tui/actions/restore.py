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
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CkptError
from . import _facts
from ._proc import CancelCheck, OutputCallback, run_streaming
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


def _oci_ref_name(path: Path) -> str:
    """The ``org.opencontainers.image.ref.name`` of an OCI layout (dir or tar), '' if none."""
    try:
        if path.is_dir():
            data = (path / "index.json").read_bytes()
        else:
            with tarfile.open(path, "r:*") as tf:
                member = tf.getmember("index.json")
                fh = tf.extractfile(member)
                data = fh.read(1 << 20) if fh is not None else b""
        index = json.loads(data)
    except (OSError, KeyError, ValueError, tarfile.TarError):
        return ""
    for desc in index.get("manifests", []) or []:
        ref = (desc.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if ref:
            return str(ref)
    return ""


def restore_target(checkpoint: Any, options: RestoreOptions) -> RestoreTarget:
    """Decide between ``--import FILE`` and restoring a checkpoint image by name."""
    if options.image:
        return RestoreTarget(mode="image", image=options.image, kind=_facts.source_kind(checkpoint) if checkpoint is not None else "")
    if checkpoint is None:
        raise CkptError("nothing to restore: give a checkpoint or an image name")
    if isinstance(checkpoint, (str, os.PathLike)):
        path = Path(checkpoint)
        kind = _sniff_kind(path)
    else:
        sp = _facts.source_path(checkpoint)
        if sp is None:
            raise CkptError("the checkpoint has no file on disk to restore from")
        path, kind = sp, _facts.source_kind(checkpoint)
    path = path.absolute()
    if kind in IMAGE_KINDS:
        ref = _oci_ref_name(path)
        ann = _facts.annotations_of(checkpoint) if not isinstance(checkpoint, (str, os.PathLike)) else {}
        ref = ref or ann.get("org.opencontainers.image.ref.name", "") or ann.get("image.name", "")
        if not ref:
            raise CkptError(
                f"{path} is a checkpoint image file without an image name: load it into the engine "
                "(`ckpt-tui build ... --load`, `podman load -i FILE`) and restore it by name (--image NAME)"
            )
        return RestoreTarget(mode="image", image=ref, path=str(path), kind=kind, needs_load=True)
    return RestoreTarget(mode="import", path=str(path), kind=kind)


def _sniff_kind(path: Path) -> str:
    if path.is_dir():
        return "oci-layout" if (path / "index.json").is_file() and (path / "oci-layout").exists() else "directory"
    try:
        with tarfile.open(path, "r:*") as tf:
            names = set()
            for i, m in enumerate(tf):
                names.add(m.name.lstrip("./"))
                if i > 20:
                    break
        if "oci-layout" in names or "index.json" in names:
            return "oci-archive"
    except (OSError, tarfile.TarError):
        pass
    suffix = path.name.lower()
    if suffix.endswith((".zst", ".zstd")):
        return "tar+zstd"
    if suffix.endswith((".gz", ".tgz")):
        return "tar+gzip"
    return "tar"


# --------------------------------------------------------------------------- command


def default_engine(checkpoint: Any) -> str:
    """containerd for a containerd checkpoint (native image or CRI archive), else podman."""
    source = getattr(checkpoint, "source", None)
    info = getattr(checkpoint, "info", None)
    if getattr(source, "kind", "") == "containerd-image":
        return "containerd"
    if info is not None and getattr(info, "engine", "") == "containerd":
        return "containerd"
    return "podman"


def build_restore_command(checkpoint: Any, options: RestoreOptions | None = None) -> list[str]:
    """The engine command that restores ``checkpoint`` (a Checkpoint, a path, or None with options.image).

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
        return _podman_command(checkpoint, options, target)
    return _ctr_command(checkpoint, options, target)


def _podman_command(checkpoint: Any, o: RestoreOptions, t: RestoreTarget) -> list[str]:
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


def _ctr_command(checkpoint: Any, o: RestoreOptions, t: RestoreTarget) -> list[str]:
    if t.mode != "image":
        raise CkptError(
            "ctr restores containerd checkpoint images only; this is a checkpoint archive "
            f"({t.kind or 'tar'}). Restore it with podman (--engine podman) or through the CRI (crictl/kubelet)"
        )
    container = o.name or (_facts.container_name(checkpoint) if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)) else "")
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
    checkpoint: Any = None,
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
        except OSError:
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
        except ValueError:
            stats = None
        if isinstance(stats, dict):
            res.stats = stats
            for entry in stats.get("container_statistics") or []:
                cid = entry.get("Id") or entry.get("id")
                if cid:
                    res.container_id = str(cid)
                    break
    for line in res.stdout:
        s = line.strip()
        if _HEX64.match(s):
            res.container_id = s
