"""A hex view over a process address space or a byte buffer (Line API).

The view never materialises the data as text: ``render_line`` formats one row
of 16 bytes on demand, reading whole 4 KiB pages through the source and caching
pages (here) and rendered strips (``CursorLineView``) in small LRU caches, so a
1 GiB mapping scrolls like 4 KiB.  The address space is shown as the concatenation of its segments (the
VMAs), each preceded by one header row; rows of pages that were not dumped show
``..`` and the reason, never zeros.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from ..text import printable
from . import format as fmt
from .base import cursor_bindings
from .lineview import CursorLineView

PAGE = 4096
ROW = 16
_HEX = tuple(f"{b:02x}" for b in range(256))

STATE_WORDS = {
    "present": "",
    "lazy": "lazy, not in this dump",
    "parent": "in the parent checkpoint",
    "not dumped": "not dumped",
    "missing": "not dumped",
    "truncated": "pages file missing/short",
    "unmapped": "unmapped",
}


@dataclass(frozen=True)
class Segment_:
    start: int
    end: int
    label: str = ""
    perms: str = ""

    @property
    def size(self) -> int:
        return self.end - self.start


class HexSource(Protocol):
    """What the hex view reads: segments, their runs of page states, bytes and per-page states."""

    @property
    def segments(self) -> Sequence[Segment_]: ...

    def pieces(self, segment: Segment_) -> list[tuple[int, int, str]]: ...

    def read(self, addr: int, n: int) -> bytes: ...

    def page_state(self, addr: int) -> str: ...


class BytesSource:
    """A byte buffer shown from ``base`` (a file, an exported range)."""

    def __init__(self, data: bytes, base: int = 0, label: str = "") -> None:
        self.data = data
        self.base = base
        end = base + max(len(data), 1)
        self.segments = [Segment_(base, end, label, "")]

    def pieces(self, segment: Segment_) -> list[tuple[int, int, str]]:
        return [(segment.start, segment.end, "present")]

    def read(self, addr: int, n: int) -> bytes:
        off = addr - self.base
        return self.data[max(off, 0) : max(off + n, 0)]

    def page_state(self, addr: int) -> str:
        return "present" if self.base <= addr < self.base + len(self.data) else "unmapped"


class MemorySource:
    """A process's memory through the model's MemoryReader, one segment per VMA.

    Runs of pages that are not in the dump collapse to one row each.
    """

    def __init__(self, reader, vmas, mm: dict | None = None) -> None:
        self.reader = reader
        self.vmas = sorted(vmas, key=lambda v: v.start)
        self.segments = [Segment_(v.start, v.end, fmt.vma_label(v, mm), v.perms) for v in self.vmas]
        runs = getattr(reader, "runs", None)
        self._runs = sorted(runs, key=lambda r: r.vaddr) if isinstance(runs, list) else None
        self._run_starts = [r.vaddr for r in self._runs] if self._runs is not None else []

    def _state(self, addr: int) -> str:
        try:
            return self.reader.page_state(addr)
        except Exception:  # noqa: BLE001  (a reader problem is shown as missing data, not a crash)
            return "missing"

    def pieces(self, segment: Segment_) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []

        def push(start: int, end: int, state: str) -> None:
            if end <= start:
                return
            if out and out[-1][2] == state and out[-1][1] == start:
                out[-1] = (out[-1][0], end, state)
            else:
                out.append((start, end, state))

        if self._runs is None:
            between = getattr(self.reader, "runs_between", None)
            if callable(between) and segment.size <= (64 << 20):
                for addr, length, state in between(segment.start, segment.end):
                    push(addr, addr + length, state)
                return out
            return [(segment.start, segment.end, "present")]  # per-page states when drawn
        index = max(bisect_right(self._run_starts, segment.start) - 1, 0)
        cur = segment.start
        while index < len(self._runs):
            run = self._runs[index]
            index += 1
            run_end = run.vaddr + run.nr_pages * PAGE
            if run_end <= segment.start:
                continue
            if run.vaddr >= segment.end:
                break
            start, end = max(run.vaddr, segment.start), min(run_end, segment.end)
            if start > cur:
                push(cur, start, self._state(cur))
            push(start, end, self._state(start))
            cur = max(cur, end)
        if cur < segment.end:
            push(cur, segment.end, self._state(cur))
        return out

    def read(self, addr: int, n: int) -> bytes:
        return self.reader.read(addr, n)

    def page_state(self, addr: int) -> str:
        return self._state(addr)


def byte_cells(data: bytes, addr: int, match: tuple[int, int] | None, compact: bool,
               styles: dict[str, Style], changed: set[int] | None = None) -> list[Segment]:
    """The hex and ASCII cells of one row of ``data`` at ``addr``: full (a space after every byte,
    a gap after the eighth) or compact (xxd's pairs); the bytes of ``match`` highlighted, and
    those at the row offsets ``changed`` (a diff's hex view) marked."""
    normal, zero_style, ascii_style, match_style = styles["normal"], styles["zero"], styles["ascii"], styles["match"]
    changed_style = styles["changed"]
    changed = changed or set()
    chars = printable(data)
    hex_parts: list[Segment] = []
    ascii_parts: list[Segment] = []
    for i in range(ROW):
        if i == 8 and not compact:
            hex_parts.append(Segment(" ", normal))
        gap = " " if not compact or i % 2 else ""
        if i >= len(data):
            hex_parts.append(Segment("  " + gap, normal))
            ascii_parts.append(Segment(" ", normal))
            continue
        byte = data[i]
        hit = match is not None and match[0] <= addr + i < match[0] + match[1]
        differs = i in changed
        cell_style = match_style if hit else changed_style if differs else (zero_style if byte == 0 else normal)
        hex_parts.append(Segment(_HEX[byte], cell_style))
        if gap:
            hex_parts.append(Segment(gap, normal))
        ascii_parts.append(Segment(chars[i], match_style if hit else changed_style if differs else ascii_style))
    return [*hex_parts, Segment(" ", normal), *ascii_parts, Segment(" ", normal)]


class HexView(CursorLineView):
    """address | hex | ASCII, one header row per segment.

    Where the full row (bytes three cells apart, a gap after the eighth) does not fit, as with
    16-digit addresses at 80 columns, the bytes are grouped in pairs like ``xxd`` does, so the
    ASCII column stays on screen."""

    BINDING_GROUP_TITLE = "Hex view"

    DEFAULT_CSS = """
    HexView > .hexview--address { color: $text-accent; }
    HexView > .hexview--ascii { color: $text-success; }
    HexView > .hexview--zero { color: $text-disabled; }
    HexView > .hexview--missing { color: $text-disabled; text-style: italic; }
    HexView > .hexview--header { color: $text-muted; background: $boost; text-style: bold; }
    HexView > .hexview--cursor { background: $block-cursor-blurred-background; }
    HexView:focus > .hexview--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    HexView > .hexview--match { background: $warning; color: $background; text-style: bold; }
    HexView > .hexview--changed { color: $text-warning; text-style: bold underline; }
    """

    COMPONENT_CLASSES = {
        "hexview--address",
        "hexview--ascii",
        "hexview--zero",
        "hexview--missing",
        "hexview--header",
        "hexview--cursor",
        "hexview--match",
        "hexview--changed",
    }

    BINDINGS = [
        *cursor_bindings("hex", "Start", "End"),
        Binding("left_square_bracket", "segment(-1)", "VMA", tooltip="Previous VMA", id="hex.prev_segment"),
        Binding("right_square_bracket", "segment(1)", "VMA", tooltip="Next VMA", id="hex.next_segment"),
        Binding("g", "goto", "Go to", tooltip="Go to an address", id="hex.goto"),
        Binding("n", "next_match(1)", "Next", tooltip="Next match", id="hex.next_match"),
        Binding("N", "next_match(-1)", "Prev", tooltip="Previous match", id="hex.prev_match"),
    ]

    STRIP_CACHE_SIZE = 2048

    matches: list[tuple[int, int]]  # (address, length), sorted

    @dataclass
    class GotoRequested(Message):
        view: HexView

    @dataclass
    class CursorMoved(Message):
        view: HexView
        address: int

    def __init__(
        self,
        source: HexSource,
        *,
        compare: HexSource | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # the same memory in the other checkpoint of a diff: the bytes that differ are marked
        self.compare = compare
        self._compare_cache: LRUCache[int, bytes | None] = LRUCache(256)
        self._page_cache: LRUCache[int, tuple[str, bytes]] = LRUCache(256)
        self._set_source(source)

    # -- geometry ----------------------------------------------------------
    # The rows are a flat list of pieces: ("header", segment), ("data", start, end) shown
    # 16 bytes a row, and ("gap", start, end, state) shown as one row.
    def _set_source(self, source: HexSource) -> None:
        self.source = source
        self._segments = list(source.segments)
        self._pieces: list[tuple[int, str, int, int, str, int]] = []  # (row0, kind, start, end, state, seg)
        self._segment_rows: list[int] = []
        row = 0
        for index, seg in enumerate(self._segments):
            self._segment_rows.append(row)
            self._pieces.append((row, "header", seg.start, seg.end, "", index))
            row += 1
            try:
                pieces = source.pieces(seg)
            except Exception:  # noqa: BLE001  (a reader problem is shown as missing data, not a crash)
                pieces = [(seg.start, seg.end, "present")]
            for start, end, state in pieces:
                if state == "present":
                    self._pieces.append((row, "data", start, end, state, index))
                    row += (end - start + ROW - 1) // ROW
                else:
                    self._pieces.append((row, "gap", start, end, state, index))
                    row += 1
        self._piece_rows = [p[0] for p in self._pieces]
        self._body = [p for p in self._pieces if p[1] != "header"]  # in address order
        self._body_starts = [p[2] for p in self._body]
        self._total_rows = row
        top = max((s.end for s in self._segments), default=0)
        self._addr_width = 16 if top > (1 << 48) else 12
        self._line_width = self._addr_width + 2 + ROW * 3 + 1 + 1 + ROW + 1
        self._compact_width = self._addr_width + 2 + ROW * 2 + ROW // 2 + ROW + 1
        self._set_virtual_size()
        self._strips.clear()
        self._page_cache.clear()

    @property
    def compact(self) -> bool:
        """The bytes grouped in pairs: the full row does not fit the width the view has."""
        width = self.scrollable_content_region.width
        return 0 < width < self._line_width

    def _set_virtual_size(self) -> None:
        width = self._compact_width if self.compact else self._line_width
        self.virtual_size = Size(width, self._total_rows)

    def on_resize(self) -> None:
        self._set_virtual_size()

    @property
    def line_count(self) -> int:
        return self._total_rows

    total_rows = line_count

    @property
    def cursor_row(self) -> int:
        return self.cursor_line

    @cursor_row.setter
    def cursor_row(self, row: int) -> None:
        self.cursor_line = row

    def _piece_at_row(self, row: int) -> tuple[int, str, int, int, str, int]:
        return self._pieces[max(bisect_right(self._piece_rows, row) - 1, 0)]

    def locate(self, row: int) -> tuple[int, int | None]:
        """Row -> (segment index, address); address None for a header row."""
        row0, kind, start, _end, _state, seg = self._piece_at_row(row)
        if kind == "header":
            return seg, None
        if kind == "gap":
            return seg, start
        return seg, start + (row - row0) * ROW

    def row_of(self, addr: int) -> int | None:
        index = bisect_right(self._body_starts, addr) - 1
        if index < 0:
            return None
        row0, kind, start, end, _state, _seg = self._body[index]
        if not start <= addr < end:
            return None
        return row0 if kind == "gap" else row0 + (addr - start) // ROW

    def segment_at(self, addr: int) -> Segment_ | None:
        for seg in self._segments:
            if seg.start <= addr < seg.end:
                return seg
        return None

    @property
    def cursor_address(self) -> int:
        if not self._segments:  # a process without a single VMA
            return 0
        index, addr = self.locate(self.cursor_row)
        return self._segments[index].start if addr is None else addr

    @property
    def cursor_segment(self) -> Segment_ | None:
        if not self._segments:
            return None
        return self._segments[self.locate(self.cursor_row)[0]]

    # -- data --------------------------------------------------------------
    def _page(self, page_addr: int) -> tuple[str, bytes]:
        cached = self._page_cache.get(page_addr)
        if cached is None:
            try:
                state = self.source.page_state(page_addr)
            except Exception:  # noqa: BLE001  a reader problem is shown as missing data, not a crash
                state = "missing"
            data = b""
            if state == "present":
                try:
                    data = self.source.read(page_addr, PAGE)
                except Exception:  # noqa: BLE001  (a reader problem is shown as missing data, not a crash)
                    state, data = "missing", b""
            cached = (state, data)
            self._page_cache[page_addr] = cached
        return cached

    def row_bytes(self, addr: int) -> tuple[str, bytes]:
        page_addr = addr - (addr % PAGE)
        state, data = self._page(page_addr)
        off = addr - page_addr
        return state, data[off : off + ROW]

    def compare_row(self, addr: int) -> bytes | None:
        """The other checkpoint's bytes of the row at ``addr`` (None: it has no such page)."""
        if self.compare is None:
            return None
        page_addr = addr - (addr % PAGE)
        if page_addr not in self._compare_cache:
            data: bytes | None = None
            try:
                if self.compare.page_state(page_addr) == "present":
                    data = self.compare.read(page_addr, PAGE)
            except Exception:  # noqa: BLE001 - unreadable there: nothing to compare with
                data = None
            self._compare_cache[page_addr] = data
        other = self._compare_cache[page_addr]
        off = addr - page_addr
        return None if other is None else other[off : off + ROW]

    def changed_offsets(self, addr: int) -> list[int]:
        """Offsets in the row at ``addr`` whose byte differs from the other checkpoint's."""
        _state, data = self.row_bytes(addr)
        other = self.compare_row(addr)
        if other is None:
            return []
        return [i for i in range(len(data)) if i >= len(other) or other[i] != data[i]]

    def row_text(self, row: int) -> str:
        """The plain text of one row (used by tests, copy and export)."""
        return "".join(seg.text for seg in self._render_row(row, False))

    # -- rendering ---------------------------------------------------------
    def _match_in_row(self, addr: int) -> tuple[int, int] | None:
        if 0 <= self.match_index < len(self.matches):
            start, length = self.matches[self.match_index]
            if start < addr + ROW and start + length > addr:
                return (start, length)
        return None

    def make_line_styles(self, is_cursor: bool) -> dict[str, Style]:
        get = self.get_component_rich_style
        base = self.rich_style
        cursor_style = get("hexview--cursor") if is_cursor else None

        def wrap(st: Style) -> Style:
            st = base + st
            return st + cursor_style if cursor_style else st

        styles = {name: wrap(get(f"hexview--{name}")) for name in ("header", "address", "missing", "zero", "ascii",
                                                                     "match", "changed")}
        styles["normal"] = wrap(Style())
        return styles

    def _render_row(self, row: int, is_cursor: bool) -> list[Segment]:
        if row >= self._total_rows or not self._pieces:
            return []
        row0, kind, start, end, state, index = self._piece_at_row(row)
        styles = self.line_styles(is_cursor)
        compact = self.compact
        line_width = self._compact_width if compact else self._line_width
        if kind == "header":
            seg_info = self._segments[index]
            text = (
                f"── {fmt.address(seg_info.start, self._addr_width)}-"
                f"{fmt.address(seg_info.end, self._addr_width)} {seg_info.perms} "
                f"{seg_info.label} ({fmt.size(seg_info.size)}) "
            )
            return [Segment(text.ljust(line_width, "─"), styles["header"])]
        addr_style = styles["address"]
        missing = styles["missing"]
        normal = styles["normal"]
        if kind == "gap":
            pages = (end - start + PAGE - 1) // PAGE
            word = STATE_WORDS.get(state, state) or state
            text = (f".. {word}: {pages} page{'s' if pages != 1 else ''} ({fmt.size(end - start)}) "
                    f"to {fmt.address(end, self._addr_width)} ")
            return [
                Segment(fmt.address(start, self._addr_width), addr_style),
                Segment("  ", normal),
                Segment(text.ljust(line_width - self._addr_width - 3, "."), missing),
            ]
        addr = start + (row - row0) * ROW
        page_state, data = self.row_bytes(addr)
        match = self._match_in_row(addr)
        out: list[Segment] = [
            Segment(fmt.address(addr, self._addr_width), addr_style),
            Segment("  ", normal),
        ]
        if page_state != "present" or not data:
            out.append(Segment(("...." + " ") * 8 if compact else ".. " * 8 + " " + ".. " * 8, missing))
            word = STATE_WORDS.get(page_state, page_state) or "no data"
            out.append(Segment(" " + word + " ", missing))
            return out
        changed = set(self.changed_offsets(addr)) if self.compare is not None else set()
        out.extend(byte_cells(data, addr, match, compact, styles, changed))
        if self.compare is not None and self.compare_row(addr) is None:
            out.append(Segment("only in this dump ", missing))
        elif changed:
            out.append(Segment(f"~{len(changed)} ", styles["changed"]))
        return out

    def render_full_line(self, line: int, is_cursor: bool) -> Strip:
        return Strip(self._render_row(line, is_cursor))

    # -- cursor ------------------------------------------------------------
    def cursor_moved(self, line: int) -> None:
        self.post_message(self.CursorMoved(self, self.cursor_address))

    def goto(self, addr: int) -> bool:
        """Move the cursor to the row holding ``addr``; False if unmapped."""
        row = self.row_of(addr)
        if row is None:
            return False
        self.move_cursor(row, center=True)
        return True

    def action_segment(self, direction: int) -> None:
        if not self._segments:
            return
        index, _ = self.locate(self.cursor_row)
        index = max(0, min(index + direction, len(self._segments) - 1))
        self.scroll_to(y=self._segment_rows[index], animate=False)
        self.move_cursor(self._segment_rows[index])

    def action_goto(self) -> None:
        self.post_message(self.GotoRequested(self))

    # -- matches: (address, length) ----------------------------------------
    def match_line(self, index: int) -> int | None:
        return self.row_of(self.matches[index][0])

    def match_note(self, index: int) -> str:
        return f" at 0x{self.matches[index][0]:x}"

    # -- helpers for copy/export -------------------------------------------
    def copy_text(self) -> str:
        return f"0x{self.cursor_address:x}"

    def export_range(self) -> tuple[int, int]:
        seg = self.cursor_segment
        if seg is None:
            return (0, 0)
        return (seg.start, min(seg.end, seg.start + 64 * 1024 * 1024))
