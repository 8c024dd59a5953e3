"""The memory pass: every secret and every page, in one pass over each pages image.

Secrets are searched by the same engine as ``memsearch`` (the windows and overlap of
:func:`ckpt_tui.model.memory.search_memory`, and :class:`ckpt_tui.model.tap.StreamSearch` on a
compressed archive, where the pages are searched as they stream past and never kept), with the
masking rules as the pattern (:class:`SecretsPattern`). The same bytes go through a
:class:`PageTally` that counts zero-filled pages and pages another page already holds.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import CkptError
from ...model import Checkpoint, MemoryMatch
from ...model.masking import MAX_SECRET_BYTES, find_secrets
from ...model.memory import PAGE_SIZE, PageRun, present_spans, search_memory
from ...model.patterns import SearchPattern
from ...model.tap import StreamSearch, load_and_search

ZERO_PAGE = bytes(PAGE_SIZE)
CONTEXT = 512  # bytes kept each side of a memory secret (its rule is told from them again)
LIMIT = 10_000  # memory secrets at most


@dataclass(frozen=True)
class _Span:
    lo: int
    hi: int

    def start(self) -> int:
        return self.lo

    def end(self) -> int:
        return self.hi


class _SecretsMatcher:
    """Stands in for a compiled regex in the memory search: its matches are the secrets
    :func:`~ckpt_tui.model.masking.find_secrets` finds, each the secret's own span."""

    def finditer(self, buf, pos: int = 0, endpos: int | None = None) -> Iterator[_Span]:
        for hit in find_secrets(buf, pos, endpos):
            yield _Span(hit.start, hit.end)


@dataclass(frozen=True)
class SecretsPattern(SearchPattern):
    """The masking rules as a memory search pattern (no literal fast path: the rules find their
    own anchors)."""

    data: bytes = b"<the masking rules>"

    @property
    def literal(self) -> bytes | None:
        return None

    def compile(self):
        return _SecretsMatcher()


# -- pages -------------------------------------------------------------------------------
ZERO_HASH = hash(ZERO_PAGE)


@dataclass
class PageTally:
    """A 64-bit hash of every page, by address, per process (8 bytes a page): enough to tell
    zero-filled pages, pages another page repeats, and pages equal to a file's bytes, after the
    pages themselves are gone."""

    spans: dict[int, list[tuple[int, array]]] = field(default_factory=dict)  # pid -> [(address, hashes)]
    pages: int = 0

    def feed(self, pid: int, vaddr: int, data: bytes, offset: int, length: int) -> None:
        """The pages of ``data[offset:offset+length]`` (whole pages), the first at ``vaddr``."""
        spans = self.spans.setdefault(pid, [])
        n = length // PAGE_SIZE
        if spans and spans[-1][0] + len(spans[-1][1]) * PAGE_SIZE == vaddr:
            hashes = spans[-1][1]
        else:
            hashes = array("q")
            spans.append((vaddr, hashes))
        hashes.extend(map(hash, (data[o:o + PAGE_SIZE] for o in range(offset, offset + n * PAGE_SIZE, PAGE_SIZE))))
        self.pages += n

    def hash_at(self, pid: int, addr: int) -> int | None:
        for start, hashes in self.spans.get(pid, ()):
            if start <= addr < start + len(hashes) * PAGE_SIZE:
                return hashes[(addr - start) // PAGE_SIZE]
        return None

    def stream_sink(self, pid: int, runs: list[PageRun], size: int) -> Callable[[bytes], None]:
        """A sink for the chunks of a pages image as it streams past (its pagemap's ``runs``)."""
        return _TallySink(self, pid, list(present_spans(runs, size)))

    def reader(self, ck: Checkpoint, pid: int) -> None:
        """Tally a process whose pages the checkpoint kept (read through its memory reader)."""
        reader = ck.memory(pid)
        if not reader.pages_kept:
            return
        pages = reader.searchable()  # a registry's pages image is fetched whole, as for a search
        if pages is None:
            return
        window = 16 << 20
        for vaddr, offset, length in reader.present_spans():
            pos = offset
            while pos < offset + length:
                n = min(window, offset + length - pos)
                lo = pages.base + pos
                data = bytes(pages.obj[lo:lo + n])
                self.feed(pid, vaddr + (pos - offset), data, 0, n)
                pages.release(pos, pos + n)
                pos += n


class _TallySink:
    def __init__(self, tally: PageTally, pid: int, spans: list[tuple[int, int, int]]) -> None:
        self.tally = tally
        self.pid = pid
        self.spans = spans  # (vaddr, file offset, length), contiguous in the file
        self.si = 0
        self.pos = 0  # file offset of the next byte to come
        self.carry = b""

    def __call__(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        base = self.pos - len(self.carry)
        self.pos += len(chunk)
        whole = len(data) - len(data) % PAGE_SIZE
        o = 0
        while o < whole and self.si < len(self.spans):
            vaddr, off, length = self.spans[self.si]
            at = base + o
            if at >= off + length:
                self.si += 1
                continue
            if at < off:  # bytes no span covers (cannot happen in a well-formed image): skip them
                o = min(whole, off - base)
                continue
            n = min(whole - o, off + length - at)
            n -= n % PAGE_SIZE
            if n <= 0:
                break
            self.tally.feed(self.pid, vaddr + (at - off), data, o, n)
            o += n
        self.carry = bytes(data[o:]) if o < len(data) else b""


class MemoryScan(StreamSearch):
    """A :class:`~ckpt_tui.model.tap.StreamSearch` for the secrets pattern that also tallies the
    pages of every image it is given."""

    def __init__(self) -> None:
        super().__init__(SecretsPattern(), context=CONTEXT, limit=LIMIT, overlap=max(64 << 10, MAX_SECRET_BYTES))
        self.tally = PageTally()

    def sink(self, name: str, pid: int, runs: list[PageRun], size: int):
        search = super().sink(name, pid, runs, size)
        count = self.tally.stream_sink(pid, runs, size)
        if search is None:
            return count

        def both(chunk: bytes) -> None:
            count(chunk)
            search(chunk)

        return both


@dataclass
class MemoryResult:
    matches: list[MemoryMatch]
    tally: PageTally
    limits: list[str]


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def tally_kept(ck: Checkpoint, pids: list[int], tally: PageTally, cancelled: Callable[[], bool] | None = None,
               progress: Progress | None = None) -> list[str]:
    """Tally the pages of processes whose pages the checkpoint kept; what could not be read."""
    limits: list[str] = []
    for n, pid in enumerate(pids):
        if progress is not None:
            progress("pages", n, len(pids))
        if cancelled is not None and cancelled():
            limits.append("memory: the scan was stopped")
            break
        if pid not in ck.processes or not ck.processes[pid].alive:
            continue
        try:
            tally.reader(ck, pid)
        except CkptError as exc:
            limits.append(f"pid {pid}: memory not read ({exc})")
    return limits


def scan_loaded(ck: Checkpoint, cancelled: Callable[[], bool] | None = None,
                progress: Progress | None = None) -> MemoryResult:
    """Secrets and pages of every process of a checkpoint whose pages are kept (a checkpoint opened
    for its overview only, ``keep_pages=False``, has none: that is said in the limits)."""
    pids: list[int] = []
    skipped: list[int] = []
    for pid in sorted(ck.processes):
        try:
            (pids if ck.memory(pid).pages_kept else skipped).append(pid)
        except CkptError:
            pids.append(pid)  # no memory images: the search skips it (the model said why)
    searched = (lambda done, total: progress("memory", done, total)) if progress is not None else None
    matches = list(search_memory(ck, SecretsPattern(), pids=pids, context=CONTEXT, limit=LIMIT,
                                 cancelled=cancelled, progress=searched)) if pids else []
    tally = PageTally()
    limits = [f"memory of pid {', '.join(map(str, skipped))} not scanned: the checkpoint was opened without its pages"
              ] if skipped else []
    return MemoryResult(matches, tally, limits + _limited(matches) + tally_kept(ck, pids, tally, cancelled, progress))


def load_and_scan(path: str | Path, limits=None) -> tuple[Checkpoint, MemoryResult]:
    """Open ``path`` and scan its memory in the same pass: the pages of a compressed archive are
    searched and tallied as they stream past, never kept; the others are read afterwards."""
    scan = MemoryScan()
    ck, matches = load_and_search(path, SecretsPattern(), context=CONTEXT, limit=LIMIT, limits=limits, search=scan)
    try:
        _, streamed = scan.matches(ck)
        rest = [p for p in sorted(ck.processes) if p not in streamed]
        result = MemoryResult(matches, scan.tally, _limited(matches) + tally_kept(ck, rest, scan.tally))
    except BaseException:
        ck.close()
        raise
    return ck, result


def _limited(matches: list[MemoryMatch]) -> list[str]:
    return [f"memory secrets: the search stopped after {LIMIT:,} matches"] if len(matches) >= LIMIT else []
