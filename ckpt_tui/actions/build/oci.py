# SPDX-License-Identifier: Apache-2.0
"""The bytes of an OCI image: the layer tar, the blobs, the layout directory, the oci-archive.

The layer is a tar of the checkpoint's members in the common layout (``config.dump``,
``spec.dump``, ``checkpoint/...``) at its root, written with :mod:`tarfile` in stream mode.
Everything is deterministic: members in sorted order with their parent directories made explicit,
mtime 0, uid/gid 0, no user or group names, PAX headers (names are kept byte for byte:
``surrogateescape``), gzip with mtime 0 and no file name, JSON with sorted keys.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ... import shutdown
from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from .._proc import CancelCheck, OutputCallback

if TYPE_CHECKING:  # pragma: no cover
    from _typeshed import ReadableBuffer

__all__ = ["CHUNK", "HashWriter", "Layer", "LayerEntry", "blob_name", "json_bytes", "layer_entries",
           "write_archive", "write_layer", "write_layout"]

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYOUT = {"imageLayoutVersion": "1.0.0"}

CHUNK = 1 << 20  # a member at least this big is named in the output as it is copied
BUFSIZE = 64 << 10  # tarfile's stream buffer and copy size (its 10 KiB default is slower)
Progress = Callable[[int, int], None]


class Sink(Protocol):
    def write(self, data: ReadableBuffer, /) -> object: ...


class HashWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to ``sink``."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.sink = sink
        self._sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        n = memoryview(data).nbytes
        self._sha.update(data)
        self.size += n
        self.sink.write(data)
        return n

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


@dataclass(frozen=True)
class LayerEntry:
    """One entry of the layer tar, with the mode it is written with."""

    name: str
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    mode: int
    size: int = 0
    linkname: str = ""


@dataclass
class Layer:
    digest: str  # of the bytes stored (gzip or plain)
    size: int
    diff_id: str  # digest of the uncompressed tar
    members: int  # entries written
    cancelled: bool = False


# kind -> (the mode of a member that has none, bits always set: the owner can read a file, enter a dir)
_MODES = {"file": (0o644, 0o400), "dir": (0o755, 0o700), "symlink": (0o777, 0), "hardlink": (0o644, 0)}


def layer_entries(ck: Checkpoint, notes: list[str]) -> list[LayerEntry]:
    """Every member that can go into the layer, with its parent directories, in tar order
    (sorted by path component); a note names what was left out."""
    entries: dict[str, LayerEntry] = {}
    skipped: list[str] = []
    for name in ck.member_names():
        member = ck.member(name)
        clean = name.strip("/")
        if member is None or not clean or clean.startswith("../") or "/../" in clean or member.type == "other":
            skipped.append(name)
            continue
        kind = member.type if member.type in _MODES else "file"
        default, forced = _MODES[kind]
        linkname = {"symlink": member.linkname, "hardlink": member.linkname.strip("/")}.get(kind, "")
        entries[clean] = LayerEntry(clean, kind, ((member.mode or default) | forced) & 0o7777,
                                    member.size if kind == "file" else 0, linkname)
    for name in list(entries):
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            entries.setdefault(parent, LayerEntry(parent, "dir", 0o755))
    if skipped:
        notes.append(f"skipped {len(skipped)} member(s) that are not files, directories or links: "
                     f"{', '.join(sorted(skipped)[:5])}")
    return [entries[n] for n in sorted(entries, key=lambda n: n.split("/"))]


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}


def _tarinfo(entry: LayerEntry) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(entry.name + "/" if entry.kind == "dir" else entry.name)
    ti.type = _TYPES[entry.kind]
    ti.mode = entry.mode
    ti.size = entry.size
    ti.linkname = entry.linkname
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


class _Stop(Exception):
    """The caller cancelled while a member was being copied."""


@dataclass
class _Copying:
    total: int  # bytes of every file member
    progress: Progress | None
    cancelled: CancelCheck | None
    done: int = 0


class _MemberReader:
    """One member's bytes for tarfile: exactly ``entry.size`` of them, or a CkptError."""

    def __init__(self, fh: BinaryIO, entry: LayerEntry, state: _Copying) -> None:
        self.fh, self.entry, self.state, self.given = fh, entry, state, 0

    def read(self, n: int = -1, /) -> bytes:
        n = self.entry.size - self.given if n < 0 else n
        parts: list[bytes] = []
        want = n
        while want > 0:
            try:
                chunk = self.fh.read(want)
            except OSError as exc:  # the archive's storage went away under us
                raise CkptError(f"cannot read {self.entry.name} from the checkpoint: {exc}") from None
            if not chunk:
                raise CkptError(f"{self.entry.name}: the checkpoint gave {self.given} of {self.entry.size} bytes "
                                "(truncated member)")
            parts.append(chunk)
            self.given += len(chunk)
            want -= len(chunk)
        state = self.state
        state.done += n
        if state.progress is not None:
            state.progress(state.done, state.total)
        if state.cancelled is not None and self.entry.size > BUFSIZE and state.cancelled():
            raise _Stop
        return b"".join(parts)  # one part: that bytes object itself


def _copy_member(tf: tarfile.TarFile, ck: Checkpoint, entry: LayerEntry, state: _Copying) -> None:
    try:
        fh = ck.open_member(entry.name)
    except (OSError, CkptError) as exc:  # an unreadable member of the archive
        raise CkptError(f"cannot read {entry.name} from the checkpoint: {exc}") from None
    with fh:
        tf.addfile(_tarinfo(entry), _MemberReader(fh, entry, state))


def write_layer(
    ck: Checkpoint,
    out: Sink,
    *,
    compress: bool = True,
    notes: list[str],
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
    progress: Progress | None = None,
) -> Layer:
    """Write the layer tar of ``ck`` (gzip unless not ``compress``) to ``out``.

    ``progress(done, total)`` counts the bytes of file members; ``cancelled()`` is asked before
    each entry and while a big member is copied (then the Layer says cancelled and ``out`` holds
    a partial tar). A member that cannot be read, or gives fewer bytes than it says, is a CkptError.
    """
    entries = layer_entries(ck, notes)
    state = _Copying(sum(e.size for e in entries if e.kind == "file"), progress, cancelled)
    stored = HashWriter(out)
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=stored, compresslevel=6, mtime=0) if compress else None
    raw = HashWriter(gz) if gz is not None else stored
    count = 0
    try:
        # copybufsize is tarfile's (since 3.8, undocumented); typeshed leaves it out of open()
        with tarfile.open(fileobj=raw, mode="w|", bufsize=BUFSIZE, copybufsize=BUFSIZE,  # type: ignore[call-overload]
                          format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
            for entry in entries:
                if cancelled is not None and cancelled():
                    raise _Stop
                if entry.kind == "file":
                    _copy_member(tf, ck, entry, state)
                    if on_output is not None and entry.size >= CHUNK:
                        on_output(f"  {entry.name} ({entry.size:,} bytes)")
                else:
                    tf.addfile(_tarinfo(entry))
                if ck.is_synthesized(entry.name):
                    notes.append(f"{entry.name} was synthesised by the reader (not in the original checkpoint)")
                count += 1
    except _Stop:
        return Layer("", 0, "", count, cancelled=True)
    finally:
        if gz is not None:
            gz.close()
    return Layer(stored.digest, stored.size, raw.digest, count)


def json_bytes(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def blob_name(digest: str) -> str:
    algo, hexd = digest.split(":", 1)
    return f"blobs/{algo}/{hexd}"


def write_layout(out_dir: Path, layer_path: Path, layer_digest: str, blobs: Mapping[str, bytes], index: bytes) -> int:
    """An OCI layout directory: the small ``blobs`` (by digest), the layer moved in from
    ``layer_path``, ``oci-layout`` and ``index.json``; the bytes written."""
    (out_dir / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for digest, data in blobs.items():
        (out_dir / blob_name(digest)).write_bytes(data)
    size = layer_path.stat().st_size
    os.replace(layer_path, out_dir / blob_name(layer_digest))
    layout = json_bytes(LAYOUT)
    (out_dir / "oci-layout").write_bytes(layout)
    (out_dir / "index.json").write_bytes(index)
    return size + sum(len(b) for b in blobs.values()) + len(layout) + len(index)


def _file_info(name: str, size: int = 0) -> tarfile.TarInfo:
    kind = "dir" if name.endswith("/") else "file"
    return _tarinfo(LayerEntry(name.rstrip("/"), kind, 0o755 if kind == "dir" else 0o644, size))


def write_archive(out_path: Path, layer_path: Path, layer_digest: str, blobs: Mapping[str, bytes], index: bytes) -> int:
    """An oci-archive (the layout as a tar, blobs in digest order) written next to ``out_path``
    and moved over it when whole; its size."""
    part = out_path.with_name(out_path.name + ".part")
    shutdown.partial_file(part)
    try:
        with tarfile.TarFile(part, "w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape",
                             copybufsize=CHUNK) as tf:
            tf.addfile(_file_info("blobs/"))
            tf.addfile(_file_info("blobs/sha256/"))
            for digest in sorted([*blobs, layer_digest]):
                if digest == layer_digest:
                    with open(layer_path, "rb") as fh:
                        tf.addfile(_file_info(blob_name(digest), layer_path.stat().st_size), fh)
                else:
                    tf.addfile(_file_info(blob_name(digest), len(blobs[digest])), io.BytesIO(blobs[digest]))
            tf.addfile(_file_info("index.json", len(index)), io.BytesIO(index))
            layout = json_bytes(LAYOUT)
            tf.addfile(_file_info("oci-layout", len(layout)), io.BytesIO(layout))
        os.replace(part, out_path)
    finally:
        if part.exists():
            part.unlink()
        shutdown.partial_file(part, done=True)
    return out_path.stat().st_size
