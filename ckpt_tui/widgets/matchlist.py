"""The list of memory matches (Line API: ten thousand matches cost nothing to show)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from . import format as fmt
from .base import cursor_bindings


def printable(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "·" for b in data)


class MatchList(ScrollView, can_focus=True):
    BINDING_GROUP_TITLE = "Matches"
    COMPONENT_CLASSES = {"matchlist--cursor", "matchlist--match", "matchlist--address", "matchlist--muted"}

    BINDINGS = [
        *cursor_bindings("matches", "First", "Last"),
        Binding("enter", "open", "Open in hex view", id="matches.open"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class Opened(Message):
        match: Any
        index: int

    def __init__(self, *, comms: dict[int, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.matches: list[Any] = []
        self.comms = comms or {}
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)
        self.virtual_size = Size(120, 0)

    def clear(self) -> None:
        self.matches = []
        self._cache.clear()
        self.virtual_size = Size(120, 0)
        self.cursor = 0
        self.refresh()

    def add(self, matches: list[Any]) -> None:
        self.matches.extend(matches)
        self.virtual_size = Size(140, len(self.matches))
        self.refresh()

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
            Segment(printable(m.before), normal),
            Segment(printable(m.match), base + get("matchlist--match") + cursor),
            Segment(printable(m.after), normal),
        ]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.matches):
            return Strip.blank(width, self.rich_style)
        is_cursor = index == self.cursor
        key = (index, is_cursor, self.app.theme)
        strip = self._cache.get(key)
        if strip is None:
            strip = Strip(self._segments(index, is_cursor))
            self._cache[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def watch_cursor(self, old: int, new: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def _move(self, index: int) -> None:
        if self.matches:
            self.cursor = max(0, min(index, len(self.matches) - 1))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(self.scrollable_content_region.height - 1, 1))

    def action_edge(self, end: int) -> None:
        self._move(len(self.matches) - 1 if end else 0)

    def action_open(self) -> None:
        if self.matches:
            self.post_message(self.Opened(self.matches[self.cursor], self.cursor))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.matches):
            if index == self.cursor and event.chain >= 2:
                self.action_open()
            self.cursor = index

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return True if self.matches else None
        return True

    def copy_text(self) -> str:
        if not self.matches:
            return ""
        return f"0x{self.matches[self.cursor].address:x}"
