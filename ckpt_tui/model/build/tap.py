"""Command lines and environments taken from the memory pages as they stream past.

``inspect`` needs four small ranges of each process's memory (argv and environ) out of
pages images that are hundreds of MB. In a compressed archive ``mm-PID.img`` and
``pagemap-PID.img`` come before ``pages-N.img`` (tar members are in name order, and
``mm`` < ``pagem`` < ``pages``), so by the time a pages image streams past we know which
of its pages hold those ranges: :class:`ArgvEnvTap` copies just those pages and the
archive layer keeps nothing else of the image (no spill file, no temp disk use).

Where the order is different, an image is damaged, or two pagemaps name the same pages
image, the tap does not take that image and it is kept as usual: the model then reads
argv/environ from it exactly as when the tap is not used. A :class:`PageSearch` given to
the tap (``model.tap.StreamSearch``) also sees every pages image the tap takes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Protocol

from ...archive import Watch
from ...criu import Image, decode_image
from ..memory import PAGE_SIZE, PE_PRESENT, CapturedPages, PageRun, pagemap_runs
from ..types import PbMessage

CKPT = "checkpoint/"
_MM = re.compile(r"checkpoint/mm-(\d+)\.img")
_PAGEMAP = re.compile(r"checkpoint/pagemap-(\d+)\.img")
_PAGES = re.compile(r"checkpoint/pages-(\d+)\.img")
STRING_LIMIT = 1 << 20  # as MemoryReader.read_string_list: the first 1 MiB of argv/environ

Chunks = Callable[[bytes], object]


class PageSearch(Protocol):
    """A search run on pages images as they stream past (``model.tap.StreamSearch``)."""

    def sink(self, name: str, pid: int, runs: list[PageRun], size: int) -> Chunks | None:
        """What takes the chunks of pages image ``name`` (pid's), None to leave it alone."""


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


class _Tee:
    def __init__(self, sinks: list[Chunks]) -> None:
        self.sinks = sinks

    def __call__(self, chunk: bytes) -> None:
        for sink in self.sinks:
            sink(chunk)


class ArgvEnvTap(Watch):
    """Give to ``open_source(watch=...)``; after the source is open, ``captured`` maps
    ``checkpoint/pages-N.img`` to its :class:`CapturedPages` for every image it took."""

    def __init__(self, search: PageSearch | None = None) -> None:
        self.search = search
        self.ranges: dict[int, list[tuple[int, int]]] = {}  # pid -> [(start, end)] of argv, environ
        self.pagemaps: dict[int, tuple[int, list[PageRun]]] = {}  # pid -> (pages_id, runs)
        self.owners: dict[int, list[int]] = {}  # pages_id -> pids whose pagemap names it
        self.spoiled: set[str] = set()  # pages images taken before a later copy of their mm/pagemap
        self.images: dict[str, Image] = {}  # member name -> its decoded Image (the last copy's)
        self.sinks: dict[str, _Sink] = {}
        self._captured: dict[str, CapturedPages | None] | None = None

    # -- Watch -----------------------------------------------------------
    def member(self, name: str, read: Callable[[], bytes]) -> None:
        m = _MM.fullmatch(name) or _PAGEMAP.fullmatch(name)
        if m is None:
            return
        pid = int(m.group(1))
        if pid in self.pagemaps:
            taken = f"{CKPT}pages-{self.pagemaps[pid][0]}.img"
            if taken in self.sinks:  # a later copy of an image its pages were already read with
                self.spoiled.add(taken)
        self.images.pop(name, None)
        try:
            self._decode(name, pid, read())
        except Exception:  # noqa: BLE001 - guards the archive's one indexing pass against a damaged mm/pagemap image
            # (an error here would lose the whole archive): the model decodes it again and says
            # what is wrong; the tap just steps aside
            if name.startswith(CKPT + "mm-"):
                self.ranges.pop(pid, None)
            else:
                self.pagemaps.pop(pid, None)

    def _decode(self, name: str, pid: int, data: bytes) -> None:
        img = decode_image(data, name.rsplit("/", 1)[-1])
        self.images[name] = img  # the model takes it from here instead of decoding it again
        if name.startswith(CKPT + "mm-"):
            mm: PbMessage = img.entries[0].message
            self.ranges[pid] = [(mm.mm_arg_start, mm.mm_arg_end), (mm.mm_env_start, mm.mm_env_end)]
            return
        pages_id, runs, _need = pagemap_runs(img)
        self.pagemaps[pid] = (pages_id, runs)
        self.owners.setdefault(pages_id, []).append(pid)
        if f"{CKPT}pages-{pages_id}.img" in self.sinks:  # a pagemap naming pages already read for another
            self.spoiled.add(f"{CKPT}pages-{pages_id}.img")

    def take(self, name: str, size: int) -> Chunks | None:
        m = _PAGES.fullmatch(name)
        if m is None:
            return None
        pages_id = int(m.group(1))
        owners = self.owners.get(pages_id, [])
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
                offset = runs[i].offset if i >= 0 and runs[i].vaddr <= page < runs[i].end else None
                if offset is not None and runs[i].flags & PE_PRESENT:
                    wanted.add(offset + (page - runs[i].vaddr))
                page += PAGE_SIZE
        sink = self.sinks[name] = _Sink(sorted(wanted))
        found = self.search.sink(name, pid, runs, size) if self.search is not None else None
        return sink if found is None else _Tee([sink, found])

    # -- results ---------------------------------------------------------
    @property
    def captured(self) -> dict[str, CapturedPages | None]:
        if self._captured is None:
            # a spoiled image maps to None: what was kept of it may not be what the model reads
            self._captured = {name: (None if name in self.spoiled else sink.result())
                              for name, sink in self.sinks.items()}
            self.sinks.clear()
        return self._captured


