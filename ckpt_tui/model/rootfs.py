"""Reading single files out of rootfs-diff.tar without extracting it."""

from __future__ import annotations

import gzip
import tarfile
from typing import BinaryIO, Protocol

from ..errors import CkptError
from .types import RootfsDiff, SourceView


def entry_path(name: str) -> str:
    """A rootfs-diff.tar member name as a path in the root FS: relative, no ``./`` or ``/``
    around it (``""`` for the root itself). See :func:`climbs_out`."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name


def climbs_out(path: str) -> bool:
    """``path`` (an :func:`entry_path`) leaves the root: never listed, never read."""
    return ".." in path.split("/")


class HasRootfs(Protocol):
    """What reading a root FS file needs of a checkpoint (a :class:`~ckpt_tui.model.checkpoint.Checkpoint`)."""

    @property
    def source(self) -> SourceView: ...
    @property
    def rootfs(self) -> RootfsDiff: ...


def read_rootfs_file(ck: HasRootfs, path: str, limit: int | None = 16 << 20) -> bytes:
    """The bytes of ``path`` in the checkpoint's rootfs-diff.tar, at most ``limit`` of them (a
    link is returned as its target text, never followed); CkptError when it cannot be read."""
    source, diff = ck.source, ck.rootfs
    want = path.strip("/")
    if not source.has("rootfs-diff.tar"):
        raise CkptError("this checkpoint has no rootfs-diff.tar")
    # the model noted where each file's data starts in an uncompressed tar: read it directly
    for entry in diff.entries:
        if entry.path == want and entry.type == "file" and entry.data_offset >= 0:
            with source.open("rootfs-diff.tar") as fh:
                fh.seek(entry.data_offset)
                return fh.read(entry.size if limit is None else min(limit, entry.size))
    with source.open("rootfs-diff.tar") as fh:
        head = fh.read(2)
        fh.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh  # type: ignore[assignment]
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for ti in tar:
                    if entry_path(ti.name) != want or climbs_out(want):
                        continue
                    if ti.issym() or ti.islnk():
                        return f"-> {ti.linkname}\n".encode()
                    if not ti.isreg():
                        raise CkptError(f"{path} is not a regular file")
                    src = tar.extractfile(ti)
                    if src is None:
                        raise CkptError(f"{path} has no data")
                    return src.read() if limit is None else src.read(limit)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CkptError(f"rootfs-diff.tar is damaged: {exc}") from None
    raise CkptError(f"{path} is not in rootfs-diff.tar")
