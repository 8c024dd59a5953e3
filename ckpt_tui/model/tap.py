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
from .memory import PAGE_SIZE, PE_PRESENT, layout_runs

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


class ArgvEnvTap(Watch):
    """Give to ``open_source(watch=...)``; after the source is open, ``captured`` maps
    ``checkpoint/pages-N.img`` to its :class:`CapturedPages` for every image it took."""

    def __init__(self) -> None:
        self.ranges: dict[int, list[tuple[int, int]]] = {}  # pid -> [(start, end)] of argv, environ
        self.pagemaps: dict[int, tuple[int, list]] = {}  # pid -> (pages_id, runs)
        self.sinks: dict[str, _Sink] = {}
        self._captured: dict[str, CapturedPages] | None = None

    # -- Watch -----------------------------------------------------------
    def member(self, name: str, read: Callable[[], bytes]) -> None:
        m = _MM.fullmatch(name) or _PAGEMAP.fullmatch(name)
        if m is None:
            return
        pid = int(m.group(1))
        try:
            self._decode(name, pid, read())
        except Exception:  # a damaged image: the model says what is wrong; the tap just steps aside
            self.ranges.pop(pid, None) if name.startswith(CKPT + "mm-") else self.pagemaps.pop(pid, None)

    def _decode(self, name: str, pid: int, data: bytes) -> None:
        from ..criu import decode_image

        img = decode_image(data, name.rsplit("/", 1)[-1])
        if name.startswith(CKPT + "mm-"):
            mm = img.entries[0].message
            self.ranges[pid] = [(mm.mm_arg_start, mm.mm_arg_end), (mm.mm_env_start, mm.mm_env_end)]
            return
        head = img.entries[0].message
        entries = []
        for e in img.entries[1:]:
            pm = e.message
            nr = pm.nr_pages if pm.HasField("nr_pages") else pm.compat_nr_pages
            flags = pm.flags if pm.HasField("flags") else (1 if getattr(pm, "in_parent", False) else 4)
            entries.append((pm.vaddr, nr, flags))
        runs, _need = layout_runs(entries)
        self.pagemaps[pid] = (head.pages_id, runs)

    def take(self, name: str, size: int) -> Callable[[bytes], object] | None:
        m = _PAGES.fullmatch(name)
        if m is None:
            return None
        pages_id = int(m.group(1))
        owners = [pid for pid, (pid_pages, _runs) in self.pagemaps.items() if pid_pages == pages_id]
        if len(owners) != 1 or owners[0] not in self.ranges:
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
        return sink

    # -- results ---------------------------------------------------------
    @property
    def captured(self) -> dict[str, CapturedPages]:
        if self._captured is None:
            self._captured = {name: sink.result() for name, sink in self.sinks.items()}
            self.sinks.clear()
        return self._captured
