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


def read_rootfs_files(ck: "Checkpoint", wanted: dict[str, int]) -> tuple[list[tuple[str, bytes]], str]:
    """The leading bytes of several regular files of rootfs-diff.tar: ``wanted`` maps a path (as in
    ``RootfsEntry.path``) to how many bytes to read. Files whose data the model placed (an
    uncompressed tar) are read there; the others in one pass over the tar. Returns
    ([(path, bytes)] in the tar's order, "" or what stopped the reading)."""
    from ..archive import TarError, iter_tar

    out: list[tuple[str, bytes]] = []
    if not wanted or not ck.source.has("rootfs-diff.tar"):
        return out, ""
    placed = {e.path: e for e in ck.rootfs.entries if e.type == "file" and e.path in wanted and e.data_offset >= 0}
    try:
        with ck.source.open("rootfs-diff.tar") as fh:
            if len(placed) == len(wanted):
                for path, e in placed.items():
                    fh.seek(e.data_offset)
                    out.append((path, fh.read(min(e.size, wanted[path]))))
                return out, ""
            head = fh.read(2)
            fh.seek(0)
            stream = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
            for entry, reader in iter_tar(stream):
                name = entry.name
                while name.startswith("./"):
                    name = name[2:]
                name = name.strip("/")
                if entry.kind == "file" and name in wanted:
                    data = reader.read_data(entry)
                    out.append((name, data[:wanted[name]]))
    except (CkptError, TarError, OSError, EOFError, ValueError) as exc:
        return out, f"rootfs-diff.tar could not be read to the end ({exc})"
    return out, ""
