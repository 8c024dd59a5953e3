"""Command lines and environments taken from the memory pages as they stream past.

``inspect`` needs four small ranges of each process's memory (argv and environ) out of
pages images that are hundreds of MB. In a compressed archive ``mm-PID.img`` and
``pagemap-PID.img`` come before ``pages-N.img`` (tar members are in name order, and
``mm`` < ``pagem`` < ``pages``), so by the time a pages image streams past we know which
of its pages hold those ranges: :class:`ArgvEnvTap` copies just those pages and the
archive layer keeps nothing else of the image (no spill file, no temp disk use).

Where the order is different, an image is damaged, or two pagemaps name the same pages
image, the tap does not take that image and it is kept as usual: the model then reads
argv/environ from it exactly as when the tap is not used.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from ..archive import Watch
from ..errors import CkptError, Pane
from .memory import PAGE_SIZE, PE_PRESENT, SEARCH_OVERLAP, SEARCH_WINDOW, pagemap_runs, present_spans
from .patterns import SearchPattern

CKPT = "checkpoint/"
_MM = re.compile(r"checkpoint/mm-(\d+)\.img")
_PAGEMAP = re.compile(r"checkpoint/pagemap-(\d+)\.img")
_PAGES = re.compile(r"checkpoint/pages-(\d+)\.img")
STRING_LIMIT = 1 << 20  # as MemoryReader.read_string_list: the first 1 MiB of argv/environ


class CapturedPages:
    """The pages of one pages image that the tap kept, by their offset in the image.

    Stands in for :class:`~ckpt_tui.model.memory.PagesData` in a MemoryReader: ``len()``
    is the image's size, ``page(offset)`` the page there or None when it was not kept.
    """

    captured = True

    def __init__(self, size: int, pages: dict[int, bytes]) -> None:
        self.size = size
        self.pages = pages

    def __len__(self) -> int:
        return self.size

    def page(self, offset: int) -> bytes | None:
        return self.pages.get(offset)

    def close(self) -> None:
        self.pages = {}


class _Sink:
    """Copies the wanted pages out of the chunks of one streaming pages image."""

    def __init__(self, wanted: list[int]) -> None:
        self.wanted = wanted  # sorted page offsets
        self.pos = 0
        self.partial: dict[int, bytearray] = {}

    def __call__(self, chunk: bytes) -> None:
        start, end = self.pos, self.pos + len(chunk)
        self.pos = end
        # pages that overlap [start, end)
        i = bisect.bisect_right(self.wanted, start - PAGE_SIZE)
        view = memoryview(chunk)
        while i < len(self.wanted) and self.wanted[i] < end:
            off = self.wanted[i]
            lo, hi = max(off, start), min(off + PAGE_SIZE, end)
            if lo < hi:
                buf = self.partial.setdefault(off, bytearray())
                if off + len(buf) == lo:  # in order (always, for a stream)
                    buf += view[lo - start : hi - start]
            i += 1

    def result(self) -> CapturedPages:
        pages = {off: bytes(buf) for off, buf in self.partial.items() if len(buf) == PAGE_SIZE}
        return CapturedPages(self.pos, pages)


class StreamSearch:
    """A memory search run on the pages as they stream past (``memsearch`` on a compressed
    archive): the same windows, overlap and context rules as
    :func:`ckpt_tui.model.memory.search_memory`, so it finds the same matches, without
    keeping the pages. Give it to :class:`ArgvEnvTap`; after loading, :meth:`matches`."""


    def __init__(self, pattern: SearchPattern, *, pids: "set[int] | None" = None, context: int = 32,
                 limit: int = 10_000, window: int = SEARCH_WINDOW, overlap: int = SEARCH_OVERLAP) -> None:
        self.compiled = pattern.compile()
        self.literal = pattern.literal
        self.pids = pids
        self.context = max(0, context)
        self.limit = limit
        self.window = window
        self.overlap = overlap
        self.sinks: dict[str, _SearchSink] = {}

    def sink(self, name: str, pid: int, runs: list, size: int) -> "_SearchSink | None":
        if self.pids is not None and pid not in self.pids:
            return None
        sink = self.sinks[name] = _SearchSink(self, pid, list(present_spans(runs, size)))
        return sink

    def matches(self, ck) -> tuple[list, set[int]]:
        """(matches in pid then address order, pids searched here) for the pages images
        that were only streamed past; the caller searches the other processes as usual."""
        from .checkpoint import MemoryMatch

        discarded = getattr(ck.source, "discarded", set())
        out = []
        searched: set[int] = set()
        for name, sink in self.sinks.items():
            proc = ck.processes.get(sink.pid)
            if name not in discarded or proc is None or ck._captured.get(name, False) is None:
                continue  # kept after all (the stream broke off), not a process of the tree, or spoiled
            searched.add(sink.pid)
            if not proc.alive:
                continue
            reader = ck.memory(sink.pid)
            for addr, match, before, after in sink.hits:
                out.append(MemoryMatch(pid=sink.pid, address=addr, length=len(match), vma=reader.vma_at(addr),
                                       match=match, before=before, after=after))
        out.sort(key=lambda m: m.pid)  # stable: address order within a process
        return out, searched


class _SearchSink:
    def __init__(self, search: StreamSearch, pid: int, spans: list[tuple[int, int, int]]) -> None:
        self.s = search
        self.pid = pid
        self.spans = spans
        self.si = 0
        self.pos = spans[0][1] if spans else 0
        self.data = bytearray()
        self.ds = 0  # file offset of data[0]
        self.recv = 0
        self.hits: list[tuple[int, bytes, bytes, bytes]] = []
        self.full = False

    def __call__(self, chunk: bytes) -> None:
        self.recv += len(chunk)
        if self.full or self.si >= len(self.spans):
            return
        self.data += chunk
        self._run()
        keep = self.pos - max(self.s.context, self.s.overlap)  # context, and look-behinds up to the overlap
        cut = keep - self.ds
        if cut > 0 and (self.si >= len(self.spans) or self.full):
            self.data = bytearray()
            self.ds = self.recv
        elif cut >= max(1 << 20, len(self.data) // 2):  # amortised: each byte moves about once
            del self.data[:cut]
            self.ds += cut

    def _run(self) -> None:
        s = self.s
        literal, ctx, data = s.literal, s.context, self.data
        while self.si < len(self.spans):
            vaddr, off, length = self.spans[self.si]
            end = off + length
            while self.pos < end:
                pos = self.pos
                wend = min(end, pos + s.window)
                hi = min(end, wend + (len(literal) - 1 if literal is not None else s.overlap))
                if self.recv < min(end, hi + ctx):
                    return  # wait for more of the stream
                ds = self.ds
                nxt = wend
                if literal is not None:
                    hits = _find_all(data, literal, pos - ds, hi - ds)
                else:
                    hits = ((m.start(), m.end()) for m in s.compiled.finditer(data, pos - ds, hi - ds))
                for a, b in hits:
                    start, stop = a + ds, b + ds
                    if start >= wend:
                        break
                    if literal is None:
                        nxt = max(nxt, stop)
                    self.hits.append((vaddr + (start - off), bytes(data[a:b]),
                                      bytes(data[max(off, start - ctx) - ds : a]), bytes(data[b : min(end, stop + ctx) - ds])))
                    if len(self.hits) >= s.limit:
                        self.full = True
                        return
                self.pos = nxt
            self.si += 1
            if self.si < len(self.spans):
                self.pos = self.spans[self.si][1]


def _find_all(data: bytearray, needle: bytes, start: int, end: int):
    pos = data.find(needle, start, end)
    while pos != -1:
        yield pos, pos + len(needle)
        pos = data.find(needle, pos + 1, end)


class _Tee:
    def __init__(self, sinks: list) -> None:
        self.sinks = sinks

    def __call__(self, chunk: bytes) -> None:
        for sink in self.sinks:
            sink(chunk)


class ArgvEnvTap(Watch):
    """Give to ``open_source(watch=...)``; after the source is open, ``captured`` maps
    ``checkpoint/pages-N.img`` to its :class:`CapturedPages` for every image it took."""

    def __init__(self, search: StreamSearch | None = None) -> None:
        self.search = search
        self.ranges: dict[int, list[tuple[int, int]]] = {}  # pid -> [(start, end)] of argv, environ
        self.pagemaps: dict[int, tuple[int, list]] = {}  # pid -> (pages_id, runs)
        self.owners: dict[int, list[int]] = {}  # pages_id -> pids whose pagemap names it
        self.spoiled: set[str] = set()  # pages images taken before a later copy of their mm/pagemap
        self.images: dict[str, object] = {}  # member name -> its decoded Image (the last copy's)
        self.sinks: dict[str, _Sink] = {}
        self._captured: dict[str, CapturedPages] | None = None

    # -- Watch -----------------------------------------------------------
    def member(self, name: str, read: Callable[[], bytes]) -> None:
        m = _MM.fullmatch(name) or _PAGEMAP.fullmatch(name)
        if m is None:
            return
        pid = int(m.group(1))
        if pid in self.pagemaps and self.pagemaps[pid][0] is not None:
            taken = f"{CKPT}pages-{self.pagemaps[pid][0]}.img"
            if taken in self.sinks:  # a later copy of an image its pages were already read with
                self.spoiled.add(taken)
        self.images.pop(name, None)
        try:
            self._decode(name, pid, read())
        except Exception:  # a damaged image: the model says what is wrong; the tap just steps aside
            if name.startswith(CKPT + "mm-"):
                self.ranges.pop(pid, None)
            else:
                self.pagemaps.pop(pid, None)

    def _decode(self, name: str, pid: int, data: bytes) -> None:
        from ..criu import decode_image

        img = decode_image(data, name.rsplit("/", 1)[-1])
        self.images[name] = img  # the model takes it from here instead of decoding it again
        if name.startswith(CKPT + "mm-"):
            mm = img.entries[0].message
            self.ranges[pid] = [(mm.mm_arg_start, mm.mm_arg_end), (mm.mm_env_start, mm.mm_env_end)]
            return
        pages_id, runs, _need = pagemap_runs(img)
        self.pagemaps[pid] = (pages_id, runs)
        self.owners.setdefault(pages_id, []).append(pid)
        if f"{CKPT}pages-{pages_id}.img" in self.sinks:  # a pagemap naming pages already read for another
            self.spoiled.add(f"{CKPT}pages-{pages_id}.img")

    def take(self, name: str, size: int) -> Callable[[bytes], object] | None:
        m = _PAGES.fullmatch(name)
        if m is None:
            return None
        pages_id = int(m.group(1))
        owners = self.owners.get(pages_id, ())
        if len(owners) != 1 or owners[0] not in self.ranges or owners[0] not in self.pagemaps:
            return None  # not known yet (other order) or ambiguous: keep the image
        pid = owners[0]
        runs = self.pagemaps[pid][1]
        starts = [r.vaddr for r in runs]
        wanted: set[int] = set()
        for start, end in self.ranges[pid]:
            end = min(end, start + STRING_LIMIT)
            page = start - start % PAGE_SIZE
            while page < end:
                i = bisect.bisect_right(starts, page) - 1
                if i >= 0 and runs[i].vaddr <= page < runs[i].end and runs[i].flags & PE_PRESENT:
                    wanted.add(runs[i].offset + (page - runs[i].vaddr))
                page += PAGE_SIZE
        sink = self.sinks[name] = _Sink(sorted(wanted))
        found = self.search.sink(name, pid, runs, size) if self.search is not None else None
        return sink if found is None else _Tee([sink, found])

    # -- results ---------------------------------------------------------
    @property
    def captured(self) -> dict[str, CapturedPages]:
        if self._captured is None:
            # a spoiled image maps to None: what was kept of it may not be what the model reads
            self._captured = {name: (None if name in self.spoiled else sink.result())
                              for name, sink in self.sinks.items()}
            self.sinks.clear()
        return self._captured


def load_and_search(path, pattern: SearchPattern, *, pids: "list[int] | None" = None, context: int = 32, limit: int = 10_000,
                    limits=None, log_files=(), window: int = SEARCH_WINDOW, overlap: int = SEARCH_OVERLAP,
                    search: StreamSearch | None = None):
    """Open ``path`` and search the memory of its processes in the same pass: the pages
    of a compressed archive are searched as they stream past and never kept; processes
    whose pages could not be searched that way (another member order, a plain tar or a
    directory) are searched afterwards as usual. Returns ``(checkpoint, matches)`` with
    the matches :func:`~ckpt_tui.model.memory.search_memory` would give, in pid then
    address order (at most ``limit``). ``search``: a StreamSearch for ``pattern`` made by the
    caller (a subclass that does more with the pages as they pass) instead of a plain one."""
    from .loader import load_checkpoint
    from .memory import search_memory

    if search is None:
        search = StreamSearch(pattern, pids=set(pids) if pids is not None else None,
                              context=context, limit=limit, window=window, overlap=overlap)
    ck = load_checkpoint(path, limits=limits, log_files=log_files, search=search)
    try:
        streamed, searched = search.matches(ck)
        targets = [p for p in (pids if pids is not None else sorted(ck.processes)) if p in ck.processes]
        rest = []
        for p in targets:
            if p in searched:
                continue
            try:
                kept = ck.memory(p).pages_kept
            except CkptError:
                kept = True  # no memory images: search_memory skips it and says nothing either
            if kept:
                rest.append(p)
            else:
                ck.add_problem(CKPT + f"pagemap-{p}.img", f"the memory of pid {p} was not searched: its pages "
                               "image streamed past before the archive's last word on its memory map (the "
                               "archive holds an image twice); search it in the app", Pane.MEMORY)
        later = list(search_memory(ck, pattern, pids=rest, context=context,
                                   limit=limit)) if rest else []
        matches = sorted(streamed + later, key=lambda m: m.pid)[:limit]
    except BaseException:
        ck.close()
        raise
    return ck, matches
