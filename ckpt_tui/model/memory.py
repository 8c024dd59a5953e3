"""Process memory: which pages a checkpoint holds, reading bytes at any address, searching.

A pagemap image lists runs of pages (``vaddr``, ``nr_pages``, ``flags``). Only runs
flagged ``PE_PRESENT`` have their bytes in ``pages-<pages_id>.img``, one after the
other in pagemap order; ``PE_PARENT`` runs live in the parent checkpoint (a pre-dump
chain), ``PE_LAZY`` runs without ``PE_PRESENT`` were left for lazy restore and are not
in the dump. Pages of a VMA that no pagemap run covers were never dumped (CRIU skips
zero and untouched pages): they are reported as such, never invented as zeros.
"""

from __future__ import annotations

import bisect
import mmap
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CkptError
from ..criu.constants import PE_LAZY, PE_PARENT, PE_PRESENT
from .patterns import SearchPattern
from .types import VMA

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint, MemoryMatch

PAGE_SIZE = 4096
SEARCH_WINDOW = 16 << 20  # bytes searched per step; the pages behind it leave the resident set
SEARCH_OVERLAP = 64 << 10  # a regex match may run this far past a window's end
_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)

# page states
PRESENT = "present"  # bytes are in the pages image
LAZY = "lazy"  # left for lazy restore, not in this dump
PARENT = "parent"  # in the parent (pre-dump) checkpoint, which is not here
NOT_DUMPED = "not dumped"  # inside a VMA but in no pagemap run (zero/untouched page)
TRUNCATED = "truncated"  # pagemap says present but the pages file ends before it
PAGES_MISSING = "pages file missing"  # pagemap says present but pages-N.img is not in the checkpoint
UNMAPPED = "unmapped"  # outside every VMA


@dataclass
class PageRun:
    """One pagemap entry, with where its bytes sit in the pages file."""

    vaddr: int
    nr_pages: int
    flags: int
    offset: int | None  # byte offset in the pages file (PE_PRESENT runs only)

    @property
    def end(self) -> int:
        return self.vaddr + self.nr_pages * PAGE_SIZE

    @property
    def state(self) -> str:
        if self.flags & PE_PRESENT:
            return PRESENT
        if self.flags & PE_PARENT:
            return PARENT
        if self.flags & PE_LAZY:
            return LAZY
        return NOT_DUMPED


def pagemap_runs(img) -> tuple[int, list[PageRun], int]:
    """(pages_id, runs, bytes the pages image must hold) of a decoded pagemap image: its
    head names the pages image, each entry after it a run (older images: ``in_parent``
    and ``compat_nr_pages`` instead of ``flags`` and ``nr_pages``)."""
    entries = []
    for e in img.entries[1:]:
        m = e.message
        nr = m.nr_pages if m.HasField("nr_pages") else m.compat_nr_pages
        flags = m.flags if m.HasField("flags") else (PE_PARENT if getattr(m, "in_parent", False) else PE_PRESENT)
        entries.append((m.vaddr, nr, flags))
    runs, need = layout_runs(entries)
    return img.entries[0].message.pages_id, runs, need


def layout_runs(entries: list[tuple[int, int, int]]) -> tuple[list[PageRun], int]:
    """Assign pages-file offsets: only PE_PRESENT runs advance the offset.

    ``entries`` are (vaddr, nr_pages, flags) in pagemap order. Returns the runs sorted
    by address and the number of bytes the pages file must hold.
    """
    runs: list[PageRun] = []
    offset = 0
    for vaddr, nr_pages, flags in entries:
        if flags & PE_PRESENT:
            runs.append(PageRun(vaddr, nr_pages, flags, offset))
            offset += nr_pages * PAGE_SIZE
        else:
            runs.append(PageRun(vaddr, nr_pages, flags, None))
    runs.sort(key=lambda r: r.vaddr)
    return runs, offset


def present_spans(runs: list[PageRun], size: int) -> Iterator[tuple[int, int, int]]:
    """(vaddr, file_offset, length) of the present data of a pages image of ``size`` bytes,
    in file order, runs merged where they are contiguous both in memory and in the file."""
    cur: list[int] | None = None
    for run in sorted((r for r in runs if r.flags & PE_PRESENT and r.offset is not None), key=lambda r: r.offset):
        length = min(run.nr_pages * PAGE_SIZE, max(0, size - run.offset))
        if length <= 0:
            continue
        if cur and cur[0] + cur[2] == run.vaddr and cur[1] + cur[2] == run.offset:
            cur[2] += length
            continue
        if cur:
            yield cur[0], cur[1], cur[2]
        cur = [run.vaddr, run.offset, length]
    if cur:
        yield cur[0], cur[1], cur[2]


class PagesData:
    """Random access to one pages-N.img: an mmap window when the source has a file, else bytes.

    ``obj`` is the mmap (or bytes) and ``base`` where the image starts in it, so searches
    run on ``obj`` directly (mmap.find / re over the mapping: no copy).
    """

    def __init__(self, obj: "mmap.mmap | bytes", base: int = 0, size: int | None = None):
        self.obj = obj
        self.base = base
        self.size = len(obj) - base if size is None else size
        self.buf = memoryview(obj)[base : base + self.size]

    @classmethod
    def from_source(cls, source, name: str) -> "PagesData | RemotePages | None":
        if not source.has(name):
            return None
        rng = source.file_range(name)
        if rng is None and getattr(source, "is_remote", None) is not None and source.is_remote(name):
            return RemotePages(source, name, source.members[name].size)
        if rng is not None:
            return cls.mapped(rng)
        return cls(source.read(name))

    @classmethod
    def mapped(cls, rng: tuple) -> "PagesData":
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

    def finditer(self, pattern: "re.Pattern[bytes]", start: int, end: int) -> Iterator[tuple[int, int]]:
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

    captured = False

    def __init__(self, source, name: str, size: int) -> None:
        self.source = source
        self.name = name
        self.size = size
        self.error = ""
        self._fh = None
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

    @property
    def obj(self):
        return self.local().obj

    @property
    def buf(self) -> memoryview:
        return self.local().buf

    def find(self, needle: bytes, start: int, end: int) -> int:
        return self.local().find(needle, start, end)

    def finditer(self, pattern: "re.Pattern[bytes]", start: int, end: int) -> Iterator[tuple[int, int]]:
        return self.local().finditer(pattern, start, end)

    def prefetch(self, start: int, end: int) -> None:
        self.local().prefetch(start, end)

    def release(self, start: int, end: int) -> None:
        self.local().release(start, end)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._local is not None:
            self._local.close()
            self._local = None


class MemoryReader:
    """The memory of one process as the checkpoint holds it."""

    def __init__(
        self,
        pid: int,
        vmas: list[VMA],
        runs: list[PageRun],
        pages: PagesData | None,
        parent: "MemoryReader | None" = None,
        pages_name: str = "",
    ):
        self.pid = pid
        self.vmas = sorted(vmas, key=lambda v: v.start)
        self._vma_starts = [v.start for v in self.vmas]
        self.runs = runs
        self._run_starts = [r.vaddr for r in runs]
        self.pages = pages
        self.parent = parent
        self.pages_name = pages_name

    # -- construction ----------------------------------------------------
    @classmethod
    def for_process(cls, checkpoint: "Checkpoint", pid: int) -> "MemoryReader":
        from .loader import memory_reader_for

        return memory_reader_for(checkpoint, pid)

    def close(self) -> None:
        if self.pages is not None:
            self.pages.close()
        if self.parent is not None:
            self.parent.close()

    # -- lookup ------------------------------------------------------------
    def vma_at(self, addr: int) -> VMA | None:
        i = bisect.bisect_right(self._vma_starts, addr) - 1
        if i >= 0 and self.vmas[i].contains(addr):
            return self.vmas[i]
        return None

    def run_at(self, addr: int) -> PageRun | None:
        i = bisect.bisect_right(self._run_starts, addr) - 1
        # runs can overlap in a malformed image: look back a little for a covering one
        for j in range(i, max(i - 4, -1), -1):
            run = self.runs[j]
            if run.vaddr <= addr < run.end:
                return run
        return None

    def page_state(self, addr: int) -> str:
        run = self.run_at(addr)
        if run is not None:
            state = run.state
            if state == PRESENT:
                if self.pages is None or run.offset is None:
                    return PAGES_MISSING
                end = run.offset + (addr - run.vaddr) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE
                if end > len(self.pages):
                    return TRUNCATED
            elif state == PARENT and self.parent is not None:
                return self.parent.page_state(addr)
            return state
        return NOT_DUMPED if self.vma_at(addr) is not None else UNMAPPED

    def runs_between(self, start: int, end: int) -> Iterator[tuple[int, int, str]]:
        """(address, length, state) spans covering [start, end), split at page granularity."""
        addr = start
        while addr < end:
            state = self.page_state(addr)
            nxt = min(end, (addr // PAGE_SIZE + 1) * PAGE_SIZE)
            while nxt < end and self.page_state(nxt) == state:
                nxt = min(end, nxt + PAGE_SIZE)
            yield addr, nxt - addr, state
            addr = nxt

    # the name the UI contract uses
    runs_in = runs_between

    def _page_bytes(self, page_addr: int) -> bytes | None:
        run = self.run_at(page_addr)
        if run is None:
            return None
        if run.flags & PE_PRESENT:
            if self.pages is None or run.offset is None:
                return None
            return self.pages.page(run.offset + (page_addr - run.vaddr))
        if run.flags & PE_PARENT and self.parent is not None:
            return self.parent._page_bytes(page_addr)
        return None

    def read(self, addr: int, length: int, fill: bytes = b"\0") -> bytes:
        """Bytes at [addr, addr+length); pages the dump lacks are ``fill`` bytes.

        Use :meth:`page_state` / :meth:`read_pages` to tell real bytes from fill.
        """
        out = bytearray()
        end = addr + length
        cur = addr
        while cur < end:
            page = cur - cur % PAGE_SIZE
            take = min(end, page + PAGE_SIZE) - cur
            data = self._page_bytes(page)
            if data is None:
                out += fill * take
            else:
                out += data[cur - page : cur - page + take]
            cur += take
        return bytes(out)

    def read_pages(self, addr: int, length: int) -> list[tuple[int, bytes | None]]:
        """[(page_address, bytes or None)] for every page touching the range."""
        out = []
        page = addr - addr % PAGE_SIZE
        while page < addr + length:
            out.append((page, self._page_bytes(page)))
            page += PAGE_SIZE
        return out

    def read_string_list(self, start: int, end: int, limit: int = 1 << 20) -> tuple[list[bytes], bool]:
        """NUL-separated strings in [start, end) (argv, environ); (items, truncated)."""
        truncated = False
        if end - start > limit:
            end = start + limit
            truncated = True
        if end <= start:
            return [], truncated
        raw = self.read(start, end - start)
        items = raw.split(b"\0")
        if items and items[-1] == b"":
            items.pop()
        return items, truncated

    # -- present data, for search ----------------------------------------
    @property
    def pages_kept(self) -> bool:
        """False when only the pages of argv/environ were kept (``load_checkpoint(keep_pages=False)``)."""
        return not getattr(self.pages, "captured", False)

    def present_spans(self) -> Iterator[tuple[int, int, int]]:
        """(vaddr, file_offset, length) of contiguous present data, merged across runs."""
        if self.pages is None:
            return
        if not self.pages_kept:
            raise CkptError(f"the memory pages of pid {self.pid} were not kept (the checkpoint was opened "
                            "for its overview only); open it again to read its memory")
        yield from present_spans(self.runs, len(self.pages))

    @property
    def present_bytes(self) -> int:
        return sum(length for _, _, length in self.present_spans())

    def data_spans(self, start: int, end: int) -> Iterator[tuple[int, int, "PagesData | None", int]]:
        """Where the bytes of the pages of [start, end) are: ``(address, length, pages, offset)``
        spans covering the range in address order, ``pages`` the image holding them (this
        dump's, or a parent's for ``PE_PARENT`` runs) and ``offset`` where in it; ``pages`` is
        None where the dump has no bytes (not dumped, lazy, parent absent, truncated,
        missing). ``start`` and ``end`` are page-aligned."""
        if not self.pages_kept:
            raise CkptError(f"the memory pages of pid {self.pid} were not kept (the checkpoint was opened "
                            "for its overview only); open it again to read its memory")
        addr = start
        i = max(0, bisect.bisect_right(self._run_starts, start) - 1)
        while addr < end:
            run = self.runs[i] if i < len(self.runs) else None
            if run is None or run.vaddr >= end:
                yield addr, end - addr, None, 0
                return
            if run.end <= addr:
                i += 1
                continue
            if run.vaddr > addr:
                yield addr, run.vaddr - addr, None, 0
                addr = run.vaddr
            hi = min(end, run.end)
            if run.flags & PE_PRESENT and self.pages is not None and run.offset is not None:
                off = run.offset + (addr - run.vaddr)
                have = max(0, min(hi - addr, (len(self.pages) - off) // PAGE_SIZE * PAGE_SIZE))
                if have:
                    yield addr, have, self.pages, off
                if have < hi - addr:
                    yield addr + have, hi - addr - have, None, 0
            elif run.flags & PE_PARENT and self.parent is not None:
                yield from self.parent.data_spans(addr, hi)
            else:
                yield addr, hi - addr, None, 0
            addr = hi
            i += 1


def search_memory(
    checkpoint: "Checkpoint",
    pattern: SearchPattern,
    *,
    pids: list[int] | None = None,
    context: int = 32,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    limit: int = 10_000,
) -> Iterator["MemoryMatch"]:
    """Every match in every (chosen) process's dumped memory, in pid then address order."""
    from .checkpoint import MemoryMatch

    compiled = pattern.compile()
    literal = pattern.literal
    targets = [p for p in (pids or sorted(checkpoint.processes)) if p in checkpoint.processes]
    readers = []
    for pid in targets:
        if not checkpoint.processes[pid].alive:
            continue
        try:
            readers.append(checkpoint.memory(pid))
        except CkptError:
            continue
    total = sum(r.present_bytes for r in readers) or 1
    done = 0
    found = 0
    for reader in readers:
        pages = reader.pages
        if pages is None:
            continue
        buf = pages.buf
        for vaddr, offset, length in reader.present_spans():
            end = offset + length
            pos = offset
            while pos < end:
                if cancelled and cancelled():
                    return
                wend = min(end, pos + SEARCH_WINDOW)
                pages.prefetch(pos, min(end, wend + SEARCH_OVERLAP))
                if literal is not None:
                    hits = _find_all(pages, literal, pos, min(end, wend + len(literal) - 1))
                else:
                    hits = pages.finditer(compiled, pos, min(end, wend + SEARCH_OVERLAP))
                nxt = wend
                for start, stop in hits:
                    if start >= wend:
                        break
                    nxt = max(nxt, stop) if literal is None else nxt
                    addr = vaddr + (start - offset)
                    yield MemoryMatch(
                        pid=reader.pid,
                        address=addr,
                        length=stop - start,
                        vma=reader.vma_at(addr),
                        match=bytes(buf[start:stop]),
                        before=bytes(buf[max(offset, start - context) : start]),
                        after=bytes(buf[stop : min(end, stop + context)]),
                    )
                    found += 1
                    if found >= limit:
                        return
                    if cancelled and cancelled():
                        return
                pages.release(pos, wend)
                done += wend - pos
                pos = nxt
                if progress:
                    progress(done, total)


def _find_all(pages: PagesData, needle: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = pages.find(needle, start, end)
    while pos != -1:
        yield pos, pos + len(needle)
        pos = pages.find(needle, pos + 1, end)
