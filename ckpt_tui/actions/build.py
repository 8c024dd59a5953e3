# SPDX-License-Identifier: Apache-2.0
"""Build an OCI "checkpoint image" from a checkpoint, in pure Python.

The image has one layer: a tar of the checkpoint in the common layout
(``config.dump``, ``spec.dump``, ``checkpoint/...``, ``rootfs-diff.tar``...) at the
layer root, the way ``podman container checkpoint --create-image`` lays it out.
The index and the manifest both carry the checkpoint annotations, under the
shared ``org.criu.checkpoint.*`` keys (containerd reads them on the index,
CRI-O on the manifest) and podman's ``io.podman.annotations.checkpoint.*``
keys (podman decides "this is a checkpoint image" from those).

Output is byte-for-byte deterministic: members in sorted order, mtime 0,
uid/gid 0, no user/group names, sorted JSON keys, gzip with mtime 0 and no
file name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CkptError
from . import _facts
from ._proc import CancelCheck, OutputCallback, run_streaming, which

__all__ = [
    "BuildResult",
    "LoadResult",
    "build_image",
    "checkpoint_annotations",
    "load_image",
    "normalize_image_name",
]

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

BLOCK = 512
RECORD = 20 * BLOCK
CHUNK = 1 << 20

# core_entry.mtype -> Go/OCI architecture name
_MARCH = {1: "amd64", 2: "arm", 3: "arm64", 4: "ppc64le", 5: "s390x", 6: "mips64le", 7: "loong64", 8: "riscv64"}
_UNAME_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass
class BuildResult:
    image_name: str  # the normalised reference written as ref.name, e.g. "localhost/web-ckpt:latest"
    output: str  # the oci-archive file or the OCI layout directory
    format: str  # "oci-archive" | "oci-layout"
    index_digest: str
    manifest_digest: str
    manifest_size: int
    config_digest: str  # also the image ID podman will show
    layer_digest: str
    layer_diff_id: str  # digest of the uncompressed layer tar
    layer_size: int
    layer_media_type: str
    annotations: dict[str, str]
    architecture: str
    members: int  # entries written into the layer
    size: int  # bytes of the output (archive file, or the blobs written)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def image_id(self) -> str:
        return self.config_digest.split(":", 1)[-1]


@dataclass
class LoadResult:
    ok: bool
    command: list[str]
    returncode: int | None
    tool: str  # "podman" | "skopeo" | "ctr" | ""
    image_name: str = ""
    lines: list[str] = field(default_factory=list)
    message: str = ""
    cancelled: bool = False


# --------------------------------------------------------------------------- names

_NAME_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def normalize_image_name(name: str) -> str:
    """'web-ckpt' -> 'localhost/web-ckpt:latest'; keeps a registry domain and a tag/digest."""
    raw = (name or "").strip()
    if not raw:
        raise CkptError("an image name is required")
    digest = ""
    if "@" in raw:
        raw, digest = raw.split("@", 1)
    parts = raw.split("/")
    first = parts[0]
    has_domain = len(parts) > 1 and ("." in first or ":" in first or first == "localhost")
    domain = first if has_domain else "localhost"
    path = parts[1:] if has_domain else parts
    tag = ""
    if ":" in path[-1]:
        path[-1], tag = path[-1].split(":", 1)
        if not _TAG.match(tag):
            raise CkptError(f"invalid image tag {tag!r} in {name!r}")
    for comp in path:
        if not _NAME_COMPONENT.match(comp):
            raise CkptError(
                f"invalid image name {name!r}: path components are lower-case letters, digits and . _ - separators"
            )
    ref = domain + "/" + "/".join(path)
    if digest:
        return ref + (":" + tag if tag else "") + "@" + digest
    return ref + ":" + (tag or "latest")


# --------------------------------------------------------------------------- annotations


def _criu_version_number(ver: str) -> str:
    """'4.2' -> '40200', '3.17.1' -> '31701'; a number stays as it is."""
    ver = (ver or "").strip()
    if ver.isdigit():
        return ver
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", ver)
    if not m:
        return ""
    major, minor, sub = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return str(major * 10000 + minor * 100 + sub)


def _log_fact(ckpt: Any, pattern: str) -> str:
    for log in getattr(ckpt, "logs", []) or []:
        m = re.search(pattern, getattr(log, "text", "") or "", re.M)
        if m:
            return m.group(1)
    return ""


def checkpoint_architecture(ckpt: Any) -> tuple[str, str]:
    """(GOARCH name, how we know it): annotation, else the mtype of a core image."""
    arch = _facts.annotation(ckpt, "host.arch")
    if arch:
        return arch, "annotation"
    procs = getattr(ckpt, "processes", {}) or {}
    pids = sorted(procs) or []
    for pid in pids[:4]:
        name = f"checkpoint/core-{pid}.img"
        if not _facts.has_member(ckpt, name):
            continue
        try:
            from ..criu import decode_image  # noqa: PLC0415

            img = decode_image(_facts.source_of(ckpt).read(name), f"core-{pid}.img")
            mtype = int(getattr(img.entries[0].message, "mtype", 0))
        except Exception:  # noqa: BLE001
            continue
        if mtype in _MARCH:
            return _MARCH[mtype], "core image"
    return "", ""


def checkpoint_annotations(ckpt: Any, *, runtime: str | None = None) -> tuple[dict[str, str], list[str]]:
    """The org.criu.checkpoint.* and io.podman.annotations.checkpoint.* annotations for ``ckpt``.

    Returns (annotations, notes); notes explain choices (e.g. a runtime annotation
    that disagreed with config.dump).
    """
    notes: list[str] = []
    cfg = _facts.config_of(ckpt)
    info = getattr(ckpt, "info", None)
    existing = _facts.annotations_of(ckpt)

    def first(*vals: Any) -> str:
        for v in vals:
            if isinstance(v, str) and v.strip():
                return v.strip()
        return ""

    engine = first(getattr(info, "engine", "") if getattr(info, "engine", "") != "unknown" else "",
                   existing.get("org.criu.checkpoint.engine.name"))
    if not engine and any(k.startswith(_facts.PODMAN_PREFIX) for k in existing):
        engine = "Podman"
    name = first(getattr(info, "name", ""), cfg.get("name"), _facts.annotation(ckpt, "name"),
                 existing.get("org.criu.checkpoint.container.name"))
    image_name = first(cfg.get("rootfsImageName"), getattr(info, "image", ""), _facts.annotation(ckpt, "rootfsImageName"))
    image_id = first(cfg.get("rootfsImageID"), cfg.get("rootfsImageRef"), getattr(info, "image_id", ""),
                     _facts.annotation(ckpt, "rootfsImageID"))
    user_requested = first(cfg.get("rootfsImage"), cfg.get("RawImageName"), cfg.get("rawImageName"),
                           _facts.annotation(ckpt, "rawImageName"), _facts.annotation(ckpt, "rootfsImageUserRequested"),
                           image_name)
    pod_name = first(getattr(info, "pod_name", ""), existing.get("org.criu.checkpoint.pod.name"))
    pod_ns = first(getattr(info, "namespace", ""), existing.get("org.criu.checkpoint.pod.namespace"))

    cfg_rt = _facts.config_runtime(ckpt)
    ann_rt = _facts.annotation(ckpt, "runtime.name")
    if runtime:
        rt = runtime
        if cfg_rt and _facts.short_runtime(cfg_rt) != runtime:
            notes.append(f"runtime annotation set to {runtime!r} as asked, but config.dump says {cfg_rt!r} made the checkpoint")
    else:
        rt = _facts.short_runtime(cfg_rt) if cfg_rt else ann_rt
        if ann_rt and cfg_rt and ann_rt != _facts.short_runtime(cfg_rt):
            notes.append(
                f"the source image's runtime annotation says {ann_rt!r} but config.dump says {cfg_rt!r} made the "
                f"checkpoint; the new image names {rt!r}"
            )

    criu_ver = _criu_version_number(first(_facts.annotation(ckpt, "criu.version"), getattr(info, "criu_version", ""),
                                          _log_fact(ckpt, r"^\(\d+\.\d+\) Version: (\S+)")))
    arch, arch_how = checkpoint_architecture(ckpt)
    kernel = first(_facts.annotation(ckpt, "host.kernel"), _log_fact(ckpt, r"Running on \S+ Linux (\S+)"))

    out: dict[str, str] = {}
    # carry over what a source checkpoint image already said (versions, distribution...)
    for k, v in existing.items():
        if k.startswith((_facts.PODMAN_PREFIX, _facts.CRIU_PREFIX)):
            out[k] = v

    def put(key_criu: str | None, key_podman: str | None, value: str) -> None:
        if not value:
            return
        if key_criu:
            out[_facts.CRIU_PREFIX + key_criu] = value
        if key_podman:
            out[_facts.PODMAN_PREFIX + key_podman] = value

    put("engine.name", None, engine)
    put("container.name", "name", name)
    put("pod.name", None, pod_name)
    put("pod.namespace", None, pod_ns)
    put("rootfsImageUserRequested", "rawImageName", user_requested)
    put("rootfsImageName", "rootfsImageName", image_name)
    put("rootfsImageID", "rootfsImageID", image_id)
    put("runtime.name", "runtime.name", rt)
    put("criu.version", "criu.version", criu_ver)
    put("host.arch", "host.arch", arch if arch_how else "")
    put("host.kernel", "host.kernel", kernel)
    if not name:
        notes.append("the container name is unknown: containerd will not recognise the image as a checkpoint")
    if not rt:
        notes.append("the runtime is unknown: podman will not recognise the image as a checkpoint")
    return dict(sorted(out.items())), notes


# --------------------------------------------------------------------------- writing


class _HashWriter:
    """A write-only sink that hashes and counts what passes through."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        self.sink.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _tar_header(ti: tarfile.TarInfo) -> bytes:
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _pad(n: int) -> bytes:
    rem = n % BLOCK
    return b"" if rem == 0 else b"\0" * (BLOCK - rem)


def _tarinfo(name: str, type_: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode & 0o7777
    ti.size = size
    ti.linkname = linkname
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def _sort_key(name: str) -> list[str]:
    return name.split("/")


def _layer_entries(ckpt: Any, notes: list[str]) -> list[tuple[str, Any]]:
    """(name, member) in deterministic order, with parent directories made explicit."""
    mem = _facts.members(ckpt)
    entries: dict[str, Any] = {}
    skipped: list[str] = []
    for name, m in mem.items():
        clean = name.strip("/")
        if not clean or clean.startswith("../") or "/../" in clean:
            skipped.append(name)
            continue
        mtype = getattr(m, "type", "file")
        if mtype == "other":
            skipped.append(name)
            continue
        entries[clean] = m
    dirs: set[str] = set()
    for name in entries:
        parts = name.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    for d in dirs:
        entries.setdefault(d, None)  # implicit directory
    if skipped:
        notes.append(f"skipped {len(skipped)} member(s) that are not files, directories or links: {', '.join(sorted(skipped)[:5])}")
    return sorted(entries.items(), key=lambda kv: _sort_key(kv[0]))


def _write_layer(
    ckpt: Any,
    out: BinaryIO,
    compression: str,
    notes: list[str],
    on_output: OutputCallback | None,
    cancelled: CancelCheck | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[str, int, str, int, bool]:
    """Write the layer tar to ``out``; (digest, size, diff_id, member count, cancelled)."""
    src = _facts.source_of(ckpt)
    entries = _layer_entries(ckpt, notes)
    total = sum(int(getattr(m, "size", 0) or 0) for _, m in entries if m is not None and getattr(m, "type", "") == "file")
    done = 0
    compressed = _HashWriter(out)
    gz: gzip.GzipFile | None = None
    if compression == "gzip":
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=compressed, compresslevel=6, mtime=0)  # type: ignore[arg-type]
        raw = _HashWriter(gz)  # type: ignore[arg-type]
    else:
        raw = compressed
    count = 0
    was_cancelled = False
    synthesized = set(getattr(src, "synthesized", set()) or set())
    for name, m in entries:
        if cancelled is not None and cancelled():
            was_cancelled = True
            break
        mtype = "dir" if m is None else getattr(m, "type", "file")
        mode = int(getattr(m, "mode", 0) or 0) if m is not None else 0o755
        if mtype == "dir":
            ti = _tarinfo(name + "/", tarfile.DIRTYPE, (mode or 0o755) | 0o700)
            raw.write(_tar_header(ti))
        elif mtype == "symlink":
            ti = _tarinfo(name, tarfile.SYMTYPE, mode or 0o777, linkname=getattr(m, "linkname", ""))
            raw.write(_tar_header(ti))
        elif mtype == "hardlink":
            ti = _tarinfo(name, tarfile.LNKTYPE, mode or 0o644, linkname=getattr(m, "linkname", "").strip("/"))
            raw.write(_tar_header(ti))
        else:
            size = int(getattr(m, "size", 0) or 0)
            ti = _tarinfo(name, tarfile.REGTYPE, (mode or 0o644) | 0o400, size=size)
            raw.write(_tar_header(ti))
            written = 0
            try:
                fh = src.open(name)
            except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input
                raise CkptError(f"cannot read {name} from the checkpoint: {exc}") from None
            try:
                while written < size:
                    chunk = fh.read(min(CHUNK, size - written))
                    if not chunk:
                        raise CkptError(f"{name}: the checkpoint gave {written} of {size} bytes (truncated member)")
                    raw.write(chunk)
                    written += len(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                    if cancelled is not None and size > CHUNK and cancelled():
                        was_cancelled = True
                        break
            finally:
                try:
                    fh.close()
                except Exception:  # noqa: BLE001
                    pass
            if was_cancelled:
                break
            raw.write(_pad(size))
            if on_output is not None and size >= CHUNK:
                on_output(f"  {name} ({size:,} bytes)")
        if name in synthesized:
            notes.append(f"{name} was synthesised by the reader (not in the original checkpoint)")
        count += 1
    # end of archive: two zero blocks, padded to a whole record like tar(1)
    end = b"\0" * (2 * BLOCK)
    raw.write(end)
    tail = raw.size % RECORD
    if tail:
        raw.write(b"\0" * (RECORD - tail))
    diff_id = raw.digest
    if gz is not None:
        gz.close()
    return compressed.digest, compressed.size, diff_id, count, was_cancelled


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _created(ckpt: Any) -> str:
    info = getattr(ckpt, "info", None)
    for attr in ("checkpointed", "created"):
        dt = getattr(info, attr, None)
        if isinstance(dt, datetime):
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    cfg = _facts.config_of(ckpt)
    for key in ("checkpointedTime", "createdTime"):
        val = cfg.get(key)
        if isinstance(val, str) and re.match(r"^\d{4}-\d\d-\d\dT", val):
            return val
    return "1970-01-01T00:00:00Z"


def _blob_name(digest: str) -> str:
    algo, hexd = digest.split(":", 1)
    return f"blobs/{algo}/{hexd}"


def build_image(
    checkpoint_or_path: Any,
    image_name: str,
    *,
    output_tar: str | os.PathLike[str] | None = None,
    oci_dir: str | os.PathLike[str] | None = None,
    compression: str = "gzip",
    runtime: str | None = None,
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Write an OCI checkpoint image of ``checkpoint_or_path`` (a Checkpoint or a path).

    Default output is an oci-archive tar (``output_tar``, else ``<name>-<tag>.oci.tar``
    in the current directory); give ``oci_dir`` for an OCI layout directory.
    ``compression`` is "gzip" (default) or "none". ``runtime`` overrides the
    runtime the annotations name.
    """
    if output_tar is not None and oci_dir is not None:
        raise CkptError("give either an output archive or an OCI directory, not both")
    if compression not in ("gzip", "none"):
        raise CkptError(f"unknown layer compression {compression!r}: use gzip or none")
    ref = normalize_image_name(image_name)
    owned = False
    if _facts.is_checkpoint(checkpoint_or_path):
        ckpt = checkpoint_or_path
    else:
        ckpt = _facts.load(checkpoint_or_path)
        owned = True
    emit = on_output or (lambda _line: None)
    try:
        return _build(ckpt, ref, output_tar, oci_dir, compression, runtime, emit, cancelled, progress)
    finally:
        if owned:
            ckpt.close()


def _build(
    ckpt: Any,
    ref: str,
    output_tar: Any,
    oci_dir: Any,
    compression: str,
    runtime: str | None,
    emit: OutputCallback,
    cancelled: CancelCheck | None,
    progress: Callable[[int, int], None] | None,
) -> BuildResult:
    if not _facts.members(ckpt):
        raise CkptError("the checkpoint has no members to put in an image")
    if not any(n.startswith("checkpoint/") for n in _facts.members(ckpt)):
        raise CkptError("the source has no checkpoint/ directory: it is not a checkpoint")
    annotations, notes = checkpoint_annotations(ckpt, runtime=runtime)
    arch, _how = checkpoint_architecture(ckpt)
    if not arch:
        import platform  # noqa: PLC0415

        arch = _UNAME_ARCH.get(platform.machine(), platform.machine() or "amd64")
        notes.append(f"architecture unknown from the checkpoint; the image says {arch} (this host)")

    if oci_dir is not None:
        out_dir = Path(oci_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        work_dir = out_dir
        fmt = "oci-layout"
        out_path = out_dir
    else:
        if output_tar is None:
            base = ref.split("/")[-1].replace(":", "-").replace("@", "-")
            output_tar = Path.cwd() / f"{base}.oci.tar"
        out_path = Path(output_tar)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        work_dir = out_path.parent
        fmt = "oci-archive"

    emit(f"Building {ref} ({fmt}) from {getattr(_facts.source_of(ckpt), 'path', '')}")
    media = MT_LAYER_GZIP if compression == "gzip" else MT_LAYER
    tmp = tempfile.NamedTemporaryFile(prefix=".ckpt-layer-", dir=work_dir, delete=False)
    tmp_path = Path(tmp.name)
    try:
        with tmp:
            layer_digest, layer_size, diff_id, count, was_cancelled = _write_layer(
                ckpt, tmp, compression, notes, emit, cancelled, progress
            )
        if was_cancelled:
            emit("Cancelled")
            return BuildResult(
                image_name=ref, output="", format=fmt, index_digest="", manifest_digest="", manifest_size=0,
                config_digest="", layer_digest="", layer_diff_id="", layer_size=0, layer_media_type=media,
                annotations=annotations, architecture=arch, members=count, size=0, notes=notes, cancelled=True,
            )
        emit(f"Layer: {count} entries, {layer_size:,} bytes, {layer_digest}")
        created = _created(ckpt)
        name = _facts.container_name(ckpt)
        config = {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [
                {
                    "created": created,
                    "created_by": "ckpt-tui build",
                    "comment": f"checkpoint of container {name}" if name else "container checkpoint",
                }
            ],
        }
        config_bytes = _json_bytes(config)
        config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": media, "digest": layer_digest, "size": layer_size}],
            "annotations": annotations,
        }
        manifest_bytes = _json_bytes(manifest)
        manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        index = {
            "schemaVersion": 2,
            "mediaType": MT_INDEX,
            "manifests": [
                {
                    "mediaType": MT_MANIFEST,
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {REF_NAME: ref},
                }
            ],
            "annotations": annotations,
        }
        index_bytes = _json_bytes(index)
        index_digest = "sha256:" + hashlib.sha256(index_bytes).hexdigest()
        layout_bytes = _json_bytes({"imageLayoutVersion": "1.0.0"})

        small = {config_digest: config_bytes, manifest_digest: manifest_bytes}
        if fmt == "oci-layout":
            blob_dir = out_path / "blobs" / "sha256"
            blob_dir.mkdir(parents=True, exist_ok=True)
            for dg, data in small.items():
                (out_path / _blob_name(dg)).write_bytes(data)
            os.replace(tmp_path, out_path / _blob_name(layer_digest))
            (out_path / "oci-layout").write_bytes(layout_bytes)
            (out_path / "index.json").write_bytes(index_bytes)
            size = layer_size + len(config_bytes) + len(manifest_bytes) + len(index_bytes) + len(layout_bytes)
        else:
            size = _write_oci_archive(out_path, layout_bytes, index_bytes, small, layer_digest, tmp_path, layer_size)
        emit(f"Wrote {out_path} ({size:,} bytes); manifest {manifest_digest}")
        return BuildResult(
            image_name=ref,
            output=str(out_path),
            format=fmt,
            index_digest=index_digest,
            manifest_digest=manifest_digest,
            manifest_size=len(manifest_bytes),
            config_digest=config_digest,
            layer_digest=layer_digest,
            layer_diff_id=diff_id,
            layer_size=layer_size,
            layer_media_type=media,
            annotations=annotations,
            architecture=arch,
            members=count,
            size=size,
            notes=notes,
        )
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write_oci_archive(
    out_path: Path,
    layout: bytes,
    index: bytes,
    small: dict[str, bytes],
    layer_digest: str,
    layer_path: Path,
    layer_size: int,
) -> int:
    part = out_path.with_name(out_path.name + ".part")
    with open(part, "wb") as fh:
        w = _HashWriter(fh)

        def add_bytes(name: str, data: bytes) -> None:
            w.write(_tar_header(_tarinfo(name, tarfile.REGTYPE, 0o644, size=len(data))))
            w.write(data)
            w.write(_pad(len(data)))

        w.write(_tar_header(_tarinfo("blobs/", tarfile.DIRTYPE, 0o755)))
        w.write(_tar_header(_tarinfo("blobs/sha256/", tarfile.DIRTYPE, 0o755)))
        blobs = dict(small)
        blobs[layer_digest] = b""  # placeholder: streamed from the temp file
        for dg in sorted(blobs):
            if dg == layer_digest:
                w.write(_tar_header(_tarinfo(_blob_name(dg), tarfile.REGTYPE, 0o644, size=layer_size)))
                with open(layer_path, "rb") as lf:
                    shutil.copyfileobj(lf, w, CHUNK)  # type: ignore[misc]
                w.write(_pad(layer_size))
            else:
                add_bytes(_blob_name(dg), blobs[dg])
        add_bytes("index.json", index)
        add_bytes("oci-layout", layout)
        w.write(b"\0" * (2 * BLOCK))
        tail = w.size % RECORD
        if tail:
            w.write(b"\0" * (RECORD - tail))
        size = w.size
    os.replace(part, out_path)
    return size


# --------------------------------------------------------------------------- load


def _archive_ref(path: Path) -> str:
    from .restore import _oci_ref_name  # noqa: PLC0415

    return _oci_ref_name(path)


def load_image(
    path: str | os.PathLike[str],
    engine: str = "podman",
    *,
    image_name: str | None = None,
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> LoadResult:
    """Load an OCI archive (or layout dir) into the engine's image store.

    engine "podman": ``podman load -i PATH`` when podman is installed, else
    ``skopeo copy oci-archive:PATH containers-storage:NAME``; "skopeo" forces
    skopeo; "containerd": ``ctr images import PATH``.
    """
    p = Path(path)
    if not p.exists():
        return LoadResult(ok=False, command=[], returncode=None, tool="", message=f"{p}: no such file or directory")
    engine = (engine or "podman").lower()
    name = image_name or _archive_ref(p)
    cmd: list[str]
    tool = ""
    if engine == "containerd":
        if not which("ctr"):
            return LoadResult(False, [], None, "", message="ctr (containerd) is not installed: apt-get install containerd")
        tool, cmd = "ctr", ["ctr", "images", "import", str(p)]
    else:
        # `podman load` names a layout directory after its path: prefer skopeo for directories
        use_podman = engine == "podman" and which("podman") and not (p.is_dir() and which("skopeo"))
        if use_podman:
            tool, cmd = "podman", ["podman", "load", "-i", str(p)]
        elif which("skopeo"):
            if not name:
                return LoadResult(False, [], None, "skopeo",
                                  message=f"{p} has no image name (ref.name); give one to load it with skopeo")
            transport = "oci" if p.is_dir() else "oci-archive"
            tool, cmd = "skopeo", ["skopeo", "copy", f"{transport}:{p}", f"containers-storage:{name}"]
        else:
            wanted = "podman nor skopeo" if engine == "podman" else "skopeo"
            return LoadResult(
                ok=False, command=[], returncode=None, tool="",
                message=f"neither {wanted} is installed: install podman (apt-get install podman) or skopeo to load the image",
            )
    res = run_streaming(cmd, on_output, cancelled)
    lines = [ln.text for ln in res.lines]
    loaded = name
    for ln in lines:
        m = re.search(r"Loaded image(?:\(s\))?:\s*(\S+)", ln)
        if m:
            loaded = m.group(1).split(",")[0]
    ok = res.returncode == 0 and not res.cancelled
    if res.error:
        msg = res.error
    elif ok:
        msg = f"Loaded {loaded or p} with {tool}"
    elif res.cancelled:
        msg = "Load cancelled"
    else:
        tail = next((ln for ln in reversed(lines) if ln.strip()), "")
        msg = f"{tool} failed (exit {res.returncode})" + (f": {tail}" if tail else "")
    return LoadResult(ok=ok, command=res.command, returncode=res.returncode, tool=tool, image_name=loaded or "",
                      lines=lines, message=msg, cancelled=res.cancelled)
