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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..criu.constants import PAGE_SIZE, PE_LAZY, PE_PARENT, PE_PRESENT
from ..errors import CkptError
from .pages import CapturedPages, PagesData, RemotePages
from .patterns import SearchPattern
from .types import VMA, PbMessage, Process

if TYPE_CHECKING:  # pragma: no cover
    from ..criu import Image

__all__ = [
    "LAZY", "NOT_DUMPED", "PAGES_MISSING", "PARENT", "PRESENT", "TRUNCATED", "UNMAPPED", "CapturedPages",
    "MemoryMatch", "MemoryReader", "PageRun", "PagesData", "RemotePages", "layout_runs", "pagemap_runs",
    "present_spans", "search_memory",
]

# bytes searched per step (the pages behind it leave the resident set). One step is one C call
# that holds the GIL: a slow but ordinary regex scans ~8 MB/s, so 2 MiB keeps a step, and so the
# answer to a key, a cancel or SIGTERM, well under a second (16 MiB took 2+ s)
SEARCH_WINDOW = 2 << 20
SEARCH_OVERLAP = 64 << 10  # a regex match may run this far past a window's end

# page states
PRESENT = "present"  # bytes are in the pages image
LAZY = "lazy"  # left for lazy restore, not in this dump
PARENT = "parent"  # in the parent (pre-dump) checkpoint, which is not here
NOT_DUMPED = "not dumped"  # inside a VMA but in no pagemap run (zero/untouched page)
TRUNCATED = "truncated"  # pagemap says present but the pages file ends before it
PAGES_MISSING = "pages file missing"  # pagemap says present but pages-N.img is not in the checkpoint
UNMAPPED = "unmapped"  # outside every VMA


@dataclass
class MemoryMatch:
    """One match of a memory search: where, in which VMA, and the bytes around it."""

    pid: int
    address: int
    length: int
    vma: VMA | None
    match: bytes
    before: bytes = b""
    after: bytes = b""


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


def pagemap_runs(img: Image, limit: int | None = None) -> tuple[int, list[PageRun], int]:
    """(pages_id, runs, bytes the pages image must hold) of a decoded pagemap image: its
    head names the pages image, each entry after it a run (older images: ``in_parent``
    and ``compat_nr_pages`` instead of ``flags`` and ``nr_pages``); ``limit``: of the first
    so many entries only."""
    entries = []
    for e in img.entries[1 : None if limit is None else 1 + limit]:
        m: PbMessage = e.message  # a pagemap_entry
        nr = m.nr_pages if m.HasField("nr_pages") else m.compat_nr_pages
        flags = m.flags if m.HasField("flags") else (PE_PARENT if m.in_parent else PE_PRESENT)
        entries.append((m.vaddr, nr, flags))
    runs, need = layout_runs(entries)
    head: PbMessage = img.entries[0].message  # the pagemap_head
    return head.pages_id, runs, need


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
    placed = sorted((r.offset, r) for r in runs if r.flags & PE_PRESENT and r.offset is not None)
    for offset, run in placed:
        length = min(run.nr_pages * PAGE_SIZE, max(0, size - offset))
        if length <= 0:
            continue
        if cur and cur[0] + cur[2] == run.vaddr and cur[1] + cur[2] == offset:
            cur[2] += length
            continue
        if cur:
            yield cur[0], cur[1], cur[2]
        cur = [run.vaddr, offset, length]
    if cur:
        yield cur[0], cur[1], cur[2]


class MemoryReader:
    """The memory of one process as the checkpoint holds it."""

    def __init__(
        self,
        pid: int,
        vmas: list[VMA],
        runs: list[PageRun],
        pages: PagesData | CapturedPages | RemotePages | None,
        parent: MemoryReader | None = None,
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
        """(address, length, state) spans covering [start, end), split at page granularity:
        as many steps as runs and VMAs the range meets, however many pages it spans."""
        addr = span = start
        held = ""  # the state of [span, addr), not yet yielded
        while addr < end:
            state, reach = self._state_span(addr)
            if state != held and addr > span:
                yield span, addr - span, held
                span = addr
            held = state
            addr = min(end, max(reach, addr - addr % PAGE_SIZE + PAGE_SIZE))
        if addr > span:
            yield span, addr - span, held

    def _state_span(self, addr: int) -> tuple[str, int]:
        """The state of the page at ``addr`` (:meth:`page_state`) and an address up to which
        the pages after it have that state too."""
        page = addr - addr % PAGE_SIZE
        later = bisect.bisect_right(self._run_starts, page)
        next_run = self.runs[later].vaddr if later < len(self.runs) else 1 << 64
        run = self.run_at(page)
        if run is None:
            vma = self.vma_at(page)
            if vma is not None:
                return NOT_DUMPED, min(next_run, vma.end)
            j = bisect.bisect_right(self._vma_starts, page)
            return UNMAPPED, min(next_run, self._vma_starts[j] if j < len(self.vmas) else 1 << 64)
        reach = min(run.end, next_run)
        state = run.state
        if state == PRESENT:
            if self.pages is None or run.offset is None:
                return PAGES_MISSING, reach
            held = run.vaddr + max(0, len(self.pages) - run.offset) // PAGE_SIZE * PAGE_SIZE
            return (PRESENT, min(reach, held)) if page < held else (TRUNCATED, reach)
        if state == PARENT and self.parent is not None:
            parent_state, parent_reach = self.parent._state_span(page)
            return parent_state, min(reach, parent_reach)
        return state, reach

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
        out: list[tuple[int, bytes | None]] = []
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
        return not isinstance(self.pages, CapturedPages)

    def searchable(self) -> PagesData | None:
        """The pages image to search, None when there is none (a registry's is fetched whole
        the first time); CkptError when only the pages of argv/environ were kept
        (``load_checkpoint(keep_pages=False)``) or a registry's cannot be fetched."""
        if isinstance(self.pages, CapturedPages):
            raise CkptError(f"the memory pages of pid {self.pid} were not kept (the checkpoint was opened "
                            "for its overview only); open it again to read its memory")
        if isinstance(self.pages, RemotePages):
            return self.pages.local()
        return self.pages

    def present_spans(self) -> Iterator[tuple[int, int, int]]:
        """(vaddr, file_offset, length) of contiguous present data, merged across runs."""
        pages = self.searchable()
        if pages is not None:
            yield from present_spans(self.runs, len(pages))

    @property
    def present_bytes(self) -> int:
        return sum(length for _, _, length in self.present_spans())

    def data_spans(self, start: int, end: int) -> Iterator[tuple[int, int, PagesData | None, int]]:
        """Where the bytes of the pages of [start, end) are: ``(address, length, pages, offset)``
        spans covering the range in address order, ``pages`` the image holding them (this
        dump's, or a parent's for ``PE_PARENT`` runs) and ``offset`` where in it; ``pages`` is
        None where the dump has no bytes (not dumped, lazy, parent absent, truncated,
        missing). ``start`` and ``end`` are page-aligned. A registry's pages image is fetched
        whole first (as for a search: :meth:`searchable`)."""
        pages = self.searchable()
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
            if run.flags & PE_PRESENT and pages is not None and run.offset is not None:
                off = run.offset + (addr - run.vaddr)
                have = max(0, min(hi - addr, (len(pages) - off) // PAGE_SIZE * PAGE_SIZE))
                if have:
                    yield addr, have, pages, off
                if have < hi - addr:
                    yield addr + have, hi - addr - have, None, 0
            elif run.flags & PE_PARENT and self.parent is not None:
                yield from self.parent.data_spans(addr, hi)
            else:
                yield addr, hi - addr, None, 0
            addr = hi
            i += 1


class HasMemory(Protocol):
    """What a memory search needs of a checkpoint (a :class:`~ckpt_tui.model.checkpoint.Checkpoint`)."""

    @property
    def processes(self) -> Mapping[int, Process]: ...

    def memory(self, pid: int) -> MemoryReader: ...


def search_memory(
    checkpoint: HasMemory,
    pattern: SearchPattern,
    *,
    pids: list[int] | None = None,
    context: int = 32,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    limit: int = 10_000,
) -> Iterator[MemoryMatch]:
    """Every match in every (chosen) process's dumped memory, in pid then address order."""
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
        pages = reader.searchable()
        if pages is None:
            continue
        buf = pages.buf
        for vaddr, offset, length in present_spans(reader.runs, len(pages)):
            end = offset + length
            pos = offset
            while pos < end:
                if cancelled and cancelled():
                    return
                wend = min(end, pos + SEARCH_WINDOW)
                pages.prefetch(pos, min(end, wend + SEARCH_OVERLAP))
                hits: Iterator[tuple[int, int]]
                if literal is not None:
                    hits = find_all(pages, literal, pos, min(end, wend + len(literal) - 1))
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


class Findable(Protocol):
    """bytes, a bytearray or PagesData: what a literal search looks in."""

    def find(self, sub: bytes, start: int, end: int, /) -> int: ...


def find_all(haystack: Findable, needle: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every occurrence of ``needle`` within [start, end), overlapping ones too."""
    pos = haystack.find(needle, start, end)
    while pos != -1:
        yield pos, pos + len(needle)
        pos = haystack.find(needle, pos + 1, end)
