"""Reading single files out of rootfs-diff.tar without extracting it."""

from __future__ import annotations

import gzip
import tarfile
from typing import Any, BinaryIO, Protocol

from ..errors import CkptError
from .types import RootfsDiff, RootfsEntry, SourceView


def entry_path(name: str) -> str:
    """A rootfs-diff.tar member name as a path in the root FS: relative, no ``./`` or ``/``
    around it (``""`` for the root itself). See :func:`climbs_out`."""
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name


def climbs_out(path: str) -> bool:
    """``path`` (an :func:`entry_path`) leaves the root: never listed, never read."""
    return ".." in path and ".." in path.split("/")  # (split only where it may: one entry in thousands)


class HasRootfs(Protocol):
    """What reading a root FS file needs of a checkpoint (a :class:`~ckpt_tui.model.checkpoint.Checkpoint`)."""

    @property
    def source(self) -> SourceView: ...
    @property
    def rootfs(self) -> RootfsDiff: ...


def read_rootfs_file(ck: HasRootfs, path: str, limit: int | None = 16 << 20, tree: RootfsDiff | None = None) -> bytes:
    """The bytes of ``path`` in the checkpoint's rootfs-diff.tar (or in the tar of ``tree``, a
    volume's contents), at most ``limit`` of them (a link is returned as its target text, never
    followed); CkptError when it cannot be read."""
    source, diff = ck.source, tree or ck.rootfs
    member = diff.member
    want = path.strip("/")
    if not source.has(member):
        raise CkptError(f"this checkpoint has no {member}")
    # the model noted where each file's data starts in an uncompressed tar: read it directly
    for entry in diff.entries:
        if entry.path == want and entry.type == "file" and entry.data_offset >= 0:
            with source.open(member) as fh:
                fh.seek(entry.data_offset)
                return fh.read(entry.size if limit is None else min(limit, entry.size))
    with source.open(member) as fh:
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
            raise CkptError(f"{member} is damaged: {exc}") from None
    raise CkptError(f"{path} is not in {member}")


def read_rootfs_files(ck: HasRootfs, wanted: dict[str, int]) -> tuple[list[tuple[str, bytes]], str]:
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


def rootfs_digests(ck: HasRootfs, paths: set[str]) -> tuple[dict[str, bytes], str]:
    """The SHA-256 of each regular file of rootfs-diff.tar whose path (relative, as in
    ``RootfsEntry.path``) is in ``paths``: read where the model noted each file's data
    (:class:`RootfsData`), else in one pass over the tar (the data of other entries is
    skipped). Returns (digests, "" or what stopped the reading)."""
    import hashlib

    from ..archive import TarError, iter_tar

    out: dict[str, bytes] = {}
    if not paths or not ck.source.has("rootfs-diff.tar"):
        return out, ""
    try:
        with RootfsData(ck) as data:
            if all(data.has(p) for p in paths):
                for i, (p, e) in enumerate((p, e) for p, e in data.entries.items() if p in paths):
                    out[p] = hashlib.sha256(data.data(e)).digest()
                    if i % 4096 == 4095:
                        data.drop()
                return out, ""
        with ck.source.open("rootfs-diff.tar") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                entries = iter_tar(gzip.GzipFile(fileobj=fh))
            else:
                entries = iter_tar(fh, ck.source.members["rootfs-diff.tar"].size)
            for entry, reader in entries:
                if entry.kind != "file":
                    continue
                name = entry.name
                while name.startswith("./"):
                    name = name[2:]
                name = name.strip("/")
                if name in paths:  # a path stored twice: the last copy is what restore extracts
                    digest = hashlib.sha256()
                    reader.copy_data(entry, digest.update)
                    out[name] = digest.digest()
    except (CkptError, TarError, OSError, EOFError, ValueError) as exc:
        return out, f"rootfs-diff.tar could not be read to the end ({exc})"
    return out, ""


class RootfsData:
    """The bytes of the regular files of an uncompressed rootfs-diff.tar, at the offsets the
    model noted while loading (``RootfsEntry.data_offset``): mapped when the source holds the
    tar in a file, else read at each offset. A context manager; :meth:`drop` lets the pages
    read so far leave the resident set (a pass over a 100,000-file tar stays small)."""

    def __init__(self, ck: HasRootfs) -> None:
        # a path stored twice: the last copy (what restore extracts) is the one kept
        self.entries = {e.path: e for e in ck.rootfs.entries if e.type == "file" and e.data_offset >= 0}
        self._mm: Any = None
        self._view: memoryview | None = None
        self._fh: Any = None
        self._base = 0
        self._size = 0
        if not self.entries or not ck.source.has("rootfs-diff.tar"):
            self.entries = {}
            return
        import mmap

        where = ck.source.file_range("rootfs-diff.tar")
        if where is not None and where[2] > 0:
            path, base, size = where
            start = base - base % mmap.ALLOCATIONGRANULARITY
            with open(path, "rb") as f:
                self._mm = mmap.mmap(f.fileno(), base - start + size, access=mmap.ACCESS_READ, offset=start)
            self._view = memoryview(self._mm)
            self._base, self._size = base - start, size
        else:
            self._fh = ck.source.open("rootfs-diff.tar")

    def has(self, path: str) -> bool:
        return path in self.entries

    def get(self, path: str) -> bytes | None:
        """The file's bytes; None when its offset is not known (see :meth:`data`)."""
        e = self.entries.get(path)
        return None if e is None else self.data(e)

    def data(self, e: RootfsEntry) -> bytes:
        """The bytes of entry ``e`` (one of :attr:`entries`, which are in the tar's order).
        EOFError when the tar ends before the file does."""
        if self._view is not None:
            if e.data_offset + e.size > self._size:
                raise EOFError(f"{e.path} is cut short")
            lo = self._base + e.data_offset
            return bytes(self._view[lo : lo + e.size])
        self._fh.seek(e.data_offset)
        data = self._fh.read(e.size)
        if len(data) < e.size:
            raise EOFError(f"{e.path} is cut short")
        return data

    def drop(self) -> None:
        if self._mm is not None:
            import mmap

            try:
                self._mm.madvise(mmap.MADV_DONTNEED)
            except (OSError, AttributeError):
                pass

    def close(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RootfsData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
