"""Memory searched as the pages stream past (``memsearch`` on a compressed archive).

:class:`StreamSearch` is given to the streaming tap (:class:`ckpt_tui.model.build.tap.ArgvEnvTap`)
and searches each pages image the tap takes, window by window as
:func:`ckpt_tui.model.memory.search_memory` does, without keeping the pages;
:func:`load_and_search` loads a checkpoint that way and searches the rest as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..archive import Limits
from ..errors import CkptError, Pane
from .build import load_checkpoint
from .build.tap import ArgvEnvTap
from .checkpoint import Checkpoint
from .memory import (
    SEARCH_OVERLAP,
    SEARCH_WINDOW,
    CapturedPages,
    MemoryMatch,
    PageRun,
    find_all,
    present_spans,
    search_memory,
)
from .patterns import SearchPattern

__all__ = ["ArgvEnvTap", "CapturedPages", "StreamSearch", "load_and_search"]

CKPT = "checkpoint/"


class StreamSearch:
    """A memory search run on the pages as they stream past (``memsearch`` on a compressed
    archive): the same windows, overlap and context rules as
    :func:`ckpt_tui.model.memory.search_memory`, so it finds the same matches, without
    keeping the pages. Give it to :class:`ArgvEnvTap`; after loading, :meth:`matches`."""

    def __init__(self, pattern: SearchPattern, *, pids: set[int] | None = None, context: int = 32,
                 limit: int = 10_000, window: int = SEARCH_WINDOW, overlap: int = SEARCH_OVERLAP) -> None:
        self.compiled = pattern.compile()
        self.literal = pattern.literal
        self.pids = pids
        self.context = max(0, context)
        self.limit = limit
        self.window = window
        self.overlap = overlap
        self.sinks: dict[str, _SearchSink] = {}

    def sink(self, name: str, pid: int, runs: list[PageRun], size: int) -> _SearchSink | None:
        if self.pids is not None and pid not in self.pids:
            return None
        sink = self.sinks[name] = _SearchSink(self, pid, list(present_spans(runs, size)))
        return sink

    def matches(self, ck: Checkpoint) -> tuple[list[MemoryMatch], set[int]]:
        """(matches in pid then address order, pids searched here) for the pages images
        that were only streamed past; the caller searches the other processes as usual."""
        discarded = ck.source.discarded
        out: list[MemoryMatch] = []
        searched: set[int] = set()
        for name, sink in self.sinks.items():
            proc = ck.processes.get(sink.pid)
            spoiled = name in ck.captured and ck.captured[name] is None
            if name not in discarded or proc is None or spoiled:
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
                    hits = find_all(data, literal, pos - ds, hi - ds)
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


def load_and_search(path: str | Path, pattern: SearchPattern, *, pids: list[int] | None = None, context: int = 32,
                    limit: int = 10_000, limits: Limits | None = None, log_files: Iterable[str | Path] = (),
                    window: int = SEARCH_WINDOW, overlap: int = SEARCH_OVERLAP,
                    search: StreamSearch | None = None) -> tuple[Checkpoint, list[MemoryMatch]]:
    """Open ``path`` and search the memory of its processes in the same pass: the pages
    of a compressed archive are searched as they stream past and never kept; processes
    whose pages could not be searched that way (another member order, a plain tar or a
    directory) are searched afterwards as usual. Returns ``(checkpoint, matches)`` with
    the matches :func:`~ckpt_tui.model.memory.search_memory` would give, in pid then
    address order (at most ``limit``). ``search``: a StreamSearch for ``pattern`` made by the
    caller (a subclass that does more with the pages as they pass) instead of a plain one."""
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
