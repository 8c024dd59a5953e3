"""The list of memory matches (Line API: ten thousand matches cost nothing to show)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from ..text import printable
from . import format as fmt
from .base import cursor_bindings
from .lineview import CursorLineView


class MatchList(CursorLineView):
    """One line per memory match: every line is a match, ``matches`` holds them in arrival order."""

    BINDING_GROUP_TITLE = "Matches"

    DEFAULT_CSS = """
    MatchList > .matchlist--cursor { background: $block-cursor-background; }
    MatchList > .matchlist--match { background: $warning; color: $background; text-style: bold; }
    MatchList > .matchlist--address { color: $text-accent; }
    MatchList > .matchlist--muted { color: $text-muted; }
    """

    COMPONENT_CLASSES = {"matchlist--cursor", "matchlist--match", "matchlist--address", "matchlist--muted"}

    BINDINGS = [
        *cursor_bindings("matches", "First", "Last"),
        Binding("enter", "open", "Open in hex view", id="matches.open"),
    ]

    CURSOR_WHEN_BLURRED = True
    STRIP_CACHE_SIZE = 512

    @dataclass
    class Opened(Message):
        match: Any
        index: int

    def __init__(self, *, comms: dict[int, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.comms = comms or {}
        self.virtual_size = Size(120, 0)

    @property
    def line_count(self) -> int:
        return len(self.matches)

    def clear(self) -> None:
        self.matches = []
        self.invalidate()
        self.virtual_size = Size(120, 0)
        self.cursor_line = 0

    def add(self, matches: list[Any]) -> None:
        """More matches from the search worker, after those there are (in the order found)."""
        self.matches.extend(matches)
        self.virtual_size = Size(140, len(self.matches))
        self.refresh()

    def match_line(self, index: int) -> int | None:
        return index

    def line_text(self, index: int) -> str:
        return "".join(s.text for s in self._segments(index, False))

    def _segments(self, index: int, is_cursor: bool) -> list[Segment]:
        m = self.matches[index]
        get = self.get_component_rich_style
        base = self.rich_style
        cursor = get("matchlist--cursor") if is_cursor else Style()
        muted = base + get("matchlist--muted") + cursor
        normal = base + cursor
        label = m.vma.label if m.vma is not None else "?"
        comm = self.comms.get(m.pid, "")
        return [
            Segment(f"{m.pid:>7} ", normal),
            Segment(f"{fmt.truncate(comm, 10):<10} ", muted),
            Segment(f"0x{m.address:012x} ", base + get("matchlist--address") + cursor),
            Segment(f"{fmt.truncate(label, 18):<18} ", muted),
            Segment(printable(m.before, "·"), normal),
            Segment(printable(m.match, "·"), base + get("matchlist--match") + cursor),
            Segment(printable(m.after, "·"), normal),
        ]

    def render_full_line(self, line: int, is_cursor: bool) -> Strip:
        return Strip(self._segments(line, is_cursor))

    def action_open(self) -> None:
        if self.matches:
            self.post_message(self.Opened(self.matches[self.cursor_line], self.cursor_line))

    def line_clicked(self, line: int, event: events.Click) -> None:
        """A second click on the cursor line opens its match."""
        if line == self.cursor_line and event.chain >= 2:
            self.action_open()
        super().line_clicked(line, event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return True if self.matches else None
        return super().check_action(action, parameters)

    def copy_text(self) -> str:
        if not self.matches:
            return ""
        return f"0x{self.matches[self.cursor_line].address:x}"
