"""Random access to a pages image, wherever its bytes are: a local file mapped (or bytes
read), a registry's read on demand, or the few pages a streaming load copied.

:class:`PagesData`, :class:`RemotePages` and :class:`CapturedPages` answer ``len()`` and
``page(offset)``; a :class:`~ckpt_tui.model.memory.MemoryReader` reads through one of them.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..criu.constants import PAGE_SIZE
from ..errors import CkptError
from .types import SourceView

_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14+; Python 3.12 names it


class PagesData:
    """Random access to one pages-N.img: an mmap window when the source has a file, else bytes.

    ``obj`` is the mmap (or bytes) and ``base`` where the image starts in it, so searches
    run on ``obj`` directly (mmap.find / re over the mapping: no copy).
    """

    def __init__(self, obj: mmap.mmap | bytes, base: int = 0, size: int | None = None):
        self.obj = obj
        self.base = base
        self.size = len(obj) - base if size is None else size
        self.buf = memoryview(obj)[base : base + self.size]

    @classmethod
    def from_source(cls, source: SourceView, name: str) -> PagesData | RemotePages | None:
        """Member ``name`` of ``source``: mapped, read, or (in a registry) read on demand."""
        if not source.has(name):
            return None
        rng = source.file_range(name)
        if rng is None and source.is_remote(name):
            return RemotePages(source, name, source.members[name].size)
        if rng is not None:
            return cls.mapped(rng)
        return cls(source.read(name))

    @classmethod
    def mapped(cls, rng: tuple[Path, int, int]) -> PagesData:
        """An mmap of ``(path, offset, size)``."""
        path, offset, size = rng
        with open(path, "rb") as fh:
            # map only the member (a plain tar or a pack file holds much more)
            size = max(0, min(size, os.fstat(fh.fileno()).st_size - offset))
            if size == 0:
                return cls(b"")
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            mm = mmap.mmap(fh.fileno(), offset - start + size, access=mmap.ACCESS_READ, offset=start)
        return cls(mm, offset - start, size)

    def __len__(self) -> int:
        return self.size

    def page(self, offset: int) -> bytes | None:
        """The page at ``offset`` of the image (None past its end)."""
        if offset < 0 or offset + PAGE_SIZE > self.size:
            return None
        return bytes(self.buf[offset : offset + PAGE_SIZE])

    def find(self, needle: bytes, start: int, end: int) -> int:
        pos = self.obj.find(needle, self.base + start, self.base + end)
        return -1 if pos == -1 else pos - self.base

    def finditer(self, pattern: re.Pattern[bytes], start: int, end: int) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(self.obj, self.base + start, self.base + end):
            yield m.start() - self.base, m.end() - self.base

    def prefetch(self, start: int, end: int) -> None:
        """Map [start, end) in one call (MADV_POPULATE_READ, Linux 5.14+) instead of a page
        fault per 64 KiB; a no-op where the kernel or the data does not support it."""
        if not isinstance(self.obj, mmap.mmap):
            return
        lo = (self.base + start) // mmap.PAGESIZE * mmap.PAGESIZE
        hi = self.base + end
        try:
            self.obj.madvise(_MADV_POPULATE_READ, lo, hi - lo)
        except (OSError, ValueError, OverflowError):
            pass

    def release(self, start: int, end: int) -> None:
        """Drop the pages of [start, end) from this process's resident set (they stay in
        the OS page cache): a search over a 1 GB image does not keep 1 GB resident."""
        if not isinstance(self.obj, mmap.mmap):
            return
        lo = -(-(self.base + start) // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = (self.base + end) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            try:
                self.obj.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            except (OSError, ValueError, AttributeError):
                pass

    def close(self) -> None:
        self.buf.release()
        if isinstance(self.obj, mmap.mmap):
            try:
                self.obj.close()
            except BufferError:  # a slice is still referenced somewhere; GC closes it
                pass


class RemotePages:
    """A pages image in a registry (``Source.is_remote``): single pages are read by HTTP range
    when the hex view asks for them; the first search fetches the whole image in one pass and
    from then on it is mapped like a local one (:class:`PagesData`). A page that cannot be
    fetched reads as None (not shown), and ``error`` says why."""

    def __init__(self, source: SourceView, name: str, size: int) -> None:
        self.source = source
        self.name = name
        self.size = size
        self.error = ""
        self._fh: BinaryIO | None = None
        self._local: PagesData | None = None

    def __len__(self) -> int:
        return self.size

    def page(self, offset: int) -> bytes | None:
        if self._local is not None:
            return self._local.page(offset)
        if offset < 0 or offset + PAGE_SIZE > self.size:
            return None
        try:
            if self._fh is None:
                self._fh = self.source.open(self.name)
            self._fh.seek(offset)
            data = self._fh.read(PAGE_SIZE)
        except CkptError as exc:
            self.error = str(exc)
            return None
        return data if len(data) == PAGE_SIZE else None

    def local(self) -> PagesData:
        """The whole image, fetched once and mapped (CkptError when it cannot be fetched)."""
        if self._local is None:
            rng = self.source.fetch(self.name)
            self._local = PagesData.mapped(rng) if rng is not None else PagesData(self.source.read(self.name))
        return self._local

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._local is not None:
            self._local.close()
            self._local = None


class CapturedPages:
    """The pages of one pages image that were copied as it streamed past (the rest of it was
    not kept: ``load_checkpoint(keep_pages=False)``), by their offset in the image.

    Stands in for :class:`PagesData` in a MemoryReader: ``len()`` is the image's size,
    ``page(offset)`` the page there, or None when it was not kept.
    """

    def __init__(self, size: int, pages: dict[int, bytes]) -> None:
        self.size = size
        self.pages = pages

    def __len__(self) -> int:
        return self.size

    def page(self, offset: int) -> bytes | None:
        return self.pages.get(offset)

    def close(self) -> None:
        self.pages = {}
