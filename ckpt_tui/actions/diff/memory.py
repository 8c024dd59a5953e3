"""Comparing the memory of two matched processes: their VMAs, and their pages by content.

VMAs are matched by their start address, then (a stack grows down) by their end; the
rest were mapped or unmapped between the dumps. Pages are compared at the same address:
*changed* and *same* where both dumps hold the page's bytes, *only in A* / *only in B*
where just one does (the other did not dump it, or has no mapping there). The bytes are
read where the model says they are (``MemoryReader.data_spans``: this dump's pages image
or a parent's), compared a window at a time and page by page inside a window that
differs, and each window is released after it was read, so a diff of two multi-GB dumps
keeps a bounded resident set. Each page is counted once, in the VMA of B that holds it
(else A's).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ...model.memory import PAGE_SIZE, MemoryReader, PagesData
from ...model.types import VMA, Process
from ...text import size
from .result import HEX, MAP_LIMIT, SIZE, MemoryNode, PageSpan, Status, VmaNode

WINDOW = 64 * PAGE_SIZE  # bytes compared at once (then page by page where they differ)
CHUNK = 4 << 20  # bytes mapped, compared and released at a time

CHANGED, SAME, ONLY_A, ONLY_B = "changed", "same", "only_a", "only_b"


def match_vmas(va: list[VMA], vb: list[VMA]) -> list[tuple[VMA | None, VMA | None]]:
    """(A's VMA or None, B's VMA or None): by start, then by end; in address order."""
    pairs: list[tuple[VMA | None, VMA | None]] = []
    left_a, left_b = list(va), list(vb)
    for key in (lambda v: v.start, lambda v: v.end):
        index = {key(v): v for v in left_b}
        rest = []
        for v in left_a:
            w = index.pop(key(v), None)
            if w is not None:
                pairs.append((v, w))
            else:
                rest.append(v)
        taken = {id(w) for _v, w in pairs}
        left_a, left_b = rest, [w for w in left_b if id(w) not in taken]
    pairs.extend((v, None) for v in left_a)
    pairs.extend((None, w) for w in left_b)
    pairs.sort(key=lambda p: ((p[1] or p[0]).start, p[1] is not None))  # type: ignore[union-attr]
    return pairs


def vma_node(x: VMA | None, y: VMA | None) -> VmaNode:
    v = y if y is not None else x
    assert v is not None
    node = VmaNode("vma", f"{v.start:#x}-{v.end:#x}", label=f"{v.perms} {v.label}",
                   start_a=x.start if x else None, end_a=x.end if x else None,
                   start_b=y.start if y else None, end_b=y.end if y else None)
    if x is None or y is None:
        node.status = Status.ADDED if x is None else Status.REMOVED
        node.note = f"{'mapped' if x is None else 'unmapped'}, {size(v.size)}"
        return node
    node.change("start", x.start, y.start, fmt=HEX)
    node.change("end", x.end, y.end, fmt=HEX)
    node.change("size", x.size, y.size, fmt=SIZE)
    if y.size != x.size:
        node.note = f"{'grown' if y.size > x.size else 'shrunk'} by {size(abs(y.size - x.size))}"
    node.change("permissions", x.perms, y.perms)
    node.change("mapping", x.label, y.label)
    if x.path != y.path and (x.path or y.path):
        node.note = ", ".join(filter(None, (node.note, "file-backed mapping changed")))
    node.change("file offset", x.pgoff, y.pgoff, fmt=HEX)
    return node


def memory_node(ck_a: Checkpoint, ck_b: Checkpoint, a: Process | None, b: Process | None, *, pages: bool,
                problems: list[str]) -> MemoryNode:
    """The memory of a pair: one node per VMA, and (``pages``) the page comparison. A
    process only in one dump has all its VMAs added (removed), its dumped pages counted
    as only in B (A)."""
    va, vb = (a.vmas if a else []), (b.vmas if b else [])
    mem = MemoryNode("memory", "memory", dumped_a=a.memory_size if a else 0, dumped_b=b.memory_size if b else 0)
    nodes = [vma_node(x, y) for x, y in match_vmas(va, vb)]
    if pages and (va or vb):
        readers: list[Any] = []
        for ck, proc, side in ((ck_a, a, "A"), (ck_b, b, "B")):
            if proc is None:
                readers.append(None)
                continue
            try:
                readers.append(ck.memory(proc.pid))
            except CkptError as exc:
                problems.append(f"pid {proc.pid} in {side}: its memory cannot be read ({exc}); pages not compared")
                readers.append(_FAILED)
        if _FAILED not in readers:
            try:
                compare_pages(readers[0], readers[1], va, vb, nodes)
                mem.pages_compared = True
            except CkptError as exc:
                problems.append(f"pid {(b or a).pid}: pages not compared ({exc})")  # type: ignore[union-attr]
    for n in nodes:
        n.pages_compared = mem.pages_compared
        if mem.pages_compared:
            mem.pages.add(n.pages)
            if n.status is Status.UNCHANGED and n.pages.differs:
                n.status = Status.MODIFIED
    for n in nodes:
        mem.add(n)
    if a is not None and b is not None:
        mem.change("dumped", a.memory_size, b.memory_size, fmt=SIZE)
        if mem.pages_compared and mem.pages.differs and mem.status is Status.UNCHANGED:
            mem.status = Status.MODIFIED
    else:
        mem.status = Status.ADDED if a is None else Status.REMOVED
    return mem


_FAILED = object()  # a reader that could not be made (its problem is recorded)


def _owners(nodes: list[VmaNode], va: list[VMA], vb: list[VMA]) -> tuple[list[int], list[int], list[VmaNode]]:
    """Address segments (starts, ends, node): B's VMAs, then A's where B maps nothing."""
    by_b = {(n.start_b, n.end_b): n for n in nodes if n.start_b is not None}
    by_a = {(n.start_a, n.end_a): n for n in nodes if n.start_a is not None}
    segs: list[tuple[int, int, VmaNode]] = [(v.start, v.end, by_b[(v.start, v.end)]) for v in vb]
    b_ranges = sorted((v.start, v.end) for v in vb)
    for v in va:
        node = by_a[(v.start, v.end)]
        for lo, hi in _minus(v.start, v.end, b_ranges):
            segs.append((lo, hi, node))
    segs.sort(key=lambda s: s[0])
    return [s[0] for s in segs], [s[1] for s in segs], [s[2] for s in segs]


def _minus(lo: int, hi: int, ranges: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """[lo, hi) without the (sorted, disjoint) ``ranges``."""
    i = max(0, bisect.bisect_right(ranges, (lo, lo)) - 1)
    cur = lo
    while i < len(ranges) and ranges[i][0] < hi:
        s, e = ranges[i]
        if e > cur:
            if s > cur:
                yield cur, min(s, hi)
            cur = max(cur, e)
        i += 1
    if cur < hi:
        yield cur, hi


def _merged(vmas: list[VMA]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted((v.start, v.end) for v in vmas):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def compare_pages(ra: MemoryReader | None, rb: MemoryReader | None, va: list[VMA], vb: list[VMA],
                  nodes: list[VmaNode]) -> None:
    """Fill each node's page counts and map from the pages of every mapped address (a
    missing reader: that side has no pages at all)."""
    starts, ends, owners = _owners(nodes, va, vb)

    def emit(addr: int, length: int, state: str) -> None:
        end = addr + length
        i = max(0, bisect.bisect_right(starts, addr) - 1)
        while addr < end and i < len(starts):
            if ends[i] <= addr:
                i += 1
                continue
            lo = max(addr, starts[i])
            if lo >= end:
                break
            hi = min(end, ends[i])
            _account(owners[i], lo, (hi - lo) // PAGE_SIZE, state)
            addr = hi
            i += 1

    ranges_a, ranges_b = _merged(va), _merged(vb)
    for lo, hi in _merged([*va, *vb]):
        lo -= lo % PAGE_SIZE
        for addr, length, pa, oa, pb, ob in _paired(_spans(ra, lo, hi, ranges_a), _spans(rb, lo, hi, ranges_b)):
            if pa is None and pb is None:
                continue
            if pa is None or pb is None:
                emit(addr, length, ONLY_B if pa is None else ONLY_A)
                continue
            _compare(addr, length, pa, oa, pb, ob, emit)


def _spans(reader: MemoryReader | None, lo: int, hi: int, mapped: list[tuple[int, int]]
           ) -> Iterator[tuple[int, int, PagesData | None, int]]:
    """Where one side's bytes of [lo, hi) are, none outside its own VMAs (``mapped``: their
    merged ranges): a page its pagemap lists where it maps nothing is no memory of it."""
    cur = lo
    i = max(0, bisect.bisect_right(mapped, (lo, lo)) - 1)
    while cur < hi:
        while i < len(mapped) and mapped[i][1] <= cur:
            i += 1
        if i >= len(mapped) or mapped[i][0] >= hi:
            yield cur, hi - cur, None, 0
            return
        s, e = max(mapped[i][0], cur), min(mapped[i][1], hi)
        if s > cur:
            yield cur, s - cur, None, 0
        if reader is None:
            yield s, e - s, None, 0
        else:
            yield from reader.data_spans(s - s % PAGE_SIZE, e)
        cur = e


def _paired(sa: Iterator[tuple[int, int, PagesData | None, int]], sb: Iterator[tuple[int, int, PagesData | None, int]]
            ) -> Iterator[tuple[int, int, PagesData | None, int, PagesData | None, int]]:
    """Both coverings of one range cut at each other's boundaries."""
    a = next(sa, None)
    b = next(sb, None)
    while a is not None and b is not None:
        addr = max(a[0], b[0])
        end = min(a[0] + a[1], b[0] + b[1])
        if end > addr:
            oa = a[3] + (addr - a[0])
            ob = b[3] + (addr - b[0])
            yield addr, end - addr, a[2], oa, b[2], ob
        if a[0] + a[1] <= end:
            a = next(sa, None)
        if b[0] + b[1] <= end:
            b = next(sb, None)


def _compare(addr: int, length: int, pa: PagesData, oa: int, pb: PagesData, ob: int, emit) -> None:
    """Compare ``length`` bytes of both dumps, a chunk at a time: mapped in one call, compared
    a window at a time (page by page where a window differs), then dropped from the resident
    set, so a span of any size keeps at most one chunk of each side resident."""
    done = 0
    while done < length:
        chunk = min(CHUNK, length - done)
        pa.prefetch(oa + done, oa + done + chunk)
        pb.prefetch(ob + done, ob + done + chunk)
        end = done + chunk
        while done < end:
            n = min(WINDOW, end - done)
            xa = bytes(pa.buf[oa + done : oa + done + n])
            xb = bytes(pb.buf[ob + done : ob + done + n])
            if xa == xb:
                emit(addr + done, n, SAME)
            else:
                for p in range(0, n, PAGE_SIZE):
                    emit(addr + done + p, PAGE_SIZE, SAME if xa[p : p + PAGE_SIZE] == xb[p : p + PAGE_SIZE] else CHANGED)
            done += n
        pa.release(oa + end - chunk, oa + end)
        pb.release(ob + end - chunk, ob + end)


def _account(node: VmaNode, start: int, pages: int, state: str) -> None:
    if pages <= 0:
        return
    counts = node.pages
    setattr(counts, state, getattr(counts, state) + pages)
    spans = node.page_map
    if spans and spans[-1].state == state and spans[-1].start + spans[-1].pages * PAGE_SIZE == start:
        spans[-1].pages += pages
    elif len(spans) < MAP_LIMIT:
        spans.append(PageSpan(start, pages, state))
    else:
        node.map_truncated = True
