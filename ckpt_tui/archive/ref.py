"""Where a member's bytes are and how they are read.

:class:`Ref` says where (in memory, a range of a file, a spill file, a real file of a directory
source, or a range of a registry blob). Every file the archive layer opens is opened through
:func:`open_regular` (so that a FIFO or a device cannot block it); :class:`RangeFile` and
:class:`ReadOnlyBytesIO` are the read-only, seekable files ``Source.open`` hands out.
"""

from __future__ import annotations

import errno
import io
import os
import stat as stat_mod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .types import ArchiveError


@dataclass
class Ref:
    """Where a member's bytes live."""

    size: int
    data: bytes | None = None  # kept in memory
    path: Path | None = None  # or a range of this file
    offset: int = 0
    spilled: bool = False  # the file is a spill file of ours
    nofollow: bool = False  # a real file of a directory source: never follow a symlink there
    remote: Any = None  # or a range of a blob in a registry (registry.blob.RemoteBlob: pread, held)

    def read(self, limit: int | None = None) -> bytes:
        n = self.size if limit is None else max(0, min(limit, self.size))
        if self.data is not None:
            return self.data[:n]
        if self.remote is not None:
            return self.remote.pread(self.offset, n)
        assert self.path is not None
        fd = open_regular(self.path, nofollow=self.nofollow)
        try:
            parts = []
            got = 0
            while got < n:
                data = os.pread(fd, min(n - got, 1 << 24), self.offset + got)
                if not data:
                    break
                parts.append(data)
                got += len(data)
        finally:
            os.close(fd)
        return b"".join(parts)


_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | os.PathLike[str], *, nofollow: bool = False) -> int:
    """A read-only descriptor of the regular file at ``path``, opened so that it cannot block.

    ``O_NONBLOCK``: opening a FIFO (or a device) does not wait for a writer; ``nofollow``
    adds ``O_NOFOLLOW``; then ``fstat`` on the descriptor (not on the name, which may have
    changed since it was listed) must say a regular file, else :class:`OSError` (EINVAL,
    "not a regular file"). Every member of a directory source, and every file the archive
    layer sniffs or peeks at, is opened through here."""
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | (_O_NOFOLLOW if nofollow else 0))
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device, socket or directory)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_head(path: str | os.PathLike[str], n: int, *, nofollow: bool = False) -> bytes:
    """The first ``n`` bytes of the regular file ``path`` (see :func:`open_regular`), never
    more than its size says: a file reporting size 0 (as /proc files do) is not read at all."""
    fd = open_regular(path, nofollow=nofollow)
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, min(n, size), 0) if size > 0 else b""
    finally:
        os.close(fd)


def open_regular_file(p: Path) -> BinaryIO:
    """:func:`open_regular` as a binary file; ArchiveError when it cannot be opened."""
    try:
        return os.fdopen(open_regular(p), "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read {p}: {exc.strerror or exc}") from None


class ReadOnlyBytesIO(io.BytesIO):
    def writable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        raise io.UnsupportedOperation("archive members are read-only")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("archive members are read-only")


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes that ``pread(offset, n)`` reads: a range of a
    file (:meth:`of_file`) or a member in a registry blob (ranges fetched on demand)."""

    def __init__(self, pread: Callable[[int, int], bytes], size: int, name: str,
                 on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._pread = pread
        self._size = size
        self._pos = 0
        self._on_close = on_close
        self.name = name

    @classmethod
    def of_file(cls, path: Path, offset: int, size: int, nofollow: bool) -> RangeFile:
        fd = open_regular(path, nofollow=nofollow)
        return cls(lambda off, n: os.pread(fd, n, offset + off), size, str(path), lambda: os.close(fd))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        n = min(len(b), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._pread(self._pos, n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        new = {0: pos, 1: self._pos + pos, 2: self._size + pos}.get(whence)
        if new is None:
            raise ValueError(f"invalid whence {whence}")
        if new < 0:
            raise ValueError("negative seek position")
        self._pos = new
        return new

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            try:
                if self._on_close is not None:
                    self._on_close()
            finally:
                super().close()
