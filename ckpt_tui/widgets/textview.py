"""A read-only text view over many lines (Line API), with find and n/N.

Used for logs and for files of the root FS diff. Lines are rich ``Text`` (so
syntax highlighting and error marking are plain styles); strips are rendered on
demand and cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from .base import cursor_bindings


def highlight_lines(text: str, filename: str = "", theme: str = "ansi_dark") -> list[Text]:
    """Syntax-highlight ``text`` by the file name's extension (pygments via rich)."""
    from rich.syntax import Syntax

    lexer = Syntax.guess_lexer(filename or "file.txt", text) if filename else "text"
    try:
        syntax = Syntax(text, lexer, theme=theme, word_wrap=False, tab_size=8)
        highlighted = syntax.highlight(text)
    except Exception:  # unknown lexer or pygments trouble: plain text
        highlighted = Text(text)
    highlighted.expand_tabs(8)
    lines = highlighted.split("\n", allow_blank=True)
    if lines and not lines[-1].plain and text.endswith("\n"):
        lines.pop()
    for line in lines:
        line.style = Style()  # syntax sets a background on the whole text; the widget has its own
    return lines or [Text("")]


class TextView(ScrollView, can_focus=True):
    """Lines with a line-number gutter, a cursor line, marked lines and find."""

    BINDING_GROUP_TITLE = "Text view"

    COMPONENT_CLASSES = {
        "textview--gutter",
        "textview--cursor",
        "textview--match",
        "textview--marked",
    }

    BINDINGS = [
        *cursor_bindings("text", "Top", "Bottom"),
        Binding("n", "next_match(1)", "Next match", id="text.next_match"),
        Binding("N", "next_match(-1)", "Prev match", id="text.prev_match"),
    ]

    cursor_line: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class FindRequested(Message):
        view: "TextView"

    def __init__(
        self,
        lines: Iterable[Text | str] = (),
        *,
        marked: Iterable[int] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self.find_pattern = ""
        self.matches: list[int] = []
        self.match_index = -1
        self.set_lines(lines, marked=marked)

    def set_lines(self, lines: Iterable[Text | str], *, marked: Iterable[int] = ()) -> None:
        self.lines: list[Text] = [line if isinstance(line, Text) else Text(line) for line in lines]
        self.marked: set[int] = set(marked)
        self._gutter = len(str(max(len(self.lines), 1))) + 1
        width = max((line.cell_len for line in self.lines), default=0)
        self.virtual_size = Size(self._gutter + 1 + width + 1, len(self.lines))
        self.matches = []
        self.match_index = -1
        if self.find_pattern:
            self._compute_matches()
        self._cache.clear()
        if self.is_mounted:
            self.cursor_line = 0
            self.scroll_home(animate=False)
            self.refresh()

    @property
    def plain_lines(self) -> list[str]:
        return [line.plain for line in self.lines]

    # -- rendering ---------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        is_cursor = index == self.cursor_line and self.has_focus_within
        key = (index, is_cursor, self.find_pattern, self.app.theme)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_text_line(index, is_cursor)
            self._cache[key] = strip
        gutter = strip.crop(0, self._gutter + 1)
        body = strip.crop(self._gutter + 1 + scroll_x, self._gutter + 1 + scroll_x + width - self._gutter - 1)
        return Strip.join([gutter, body]).extend_cell_length(width, self.rich_style)

    def _render_text_line(self, index: int, is_cursor: bool) -> Strip:
        style = self.get_component_rich_style
        line = self.lines[index].copy()
        if index in self.marked:
            line.stylize(style("textview--marked"))
        if self.find_pattern:
            for match in re.finditer(re.escape(self.find_pattern), line.plain, re.IGNORECASE):
                line.stylize(style("textview--match"), match.start(), match.end())
        if is_cursor:
            line.stylize(style("textview--cursor"))
        segments = list(line.render(self.app.console))
        segments = [Segment(s.text, self.rich_style + s.style if s.style else self.rich_style) for s in segments
                    if not s.control and s.text != "\n"]
        gutter_style = self.rich_style + style("textview--gutter")
        number = str(index + 1).rjust(self._gutter) + " "
        strip = Strip([Segment(number, gutter_style), *segments])
        if is_cursor:
            strip = strip.extend_cell_length(self.virtual_size.width, self.rich_style + style("textview--cursor"))
        return strip

    def refresh_view(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_focus(self) -> None:
        self.refresh_view()

    def on_blur(self) -> None:
        self.refresh_view()

    # -- cursor ------------------------------------------------------------
    def watch_cursor_line(self, old: int, new: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def goto_line(self, index: int, center: bool = True) -> None:
        index = max(0, min(index, len(self.lines) - 1))
        if center:
            height = max(self.scrollable_content_region.height, 1)
            self.scroll_to(y=max(index - height // 2, 0), animate=False)
        self.cursor_line = index

    def action_cursor(self, delta: int) -> None:
        self.goto_line(self.cursor_line + delta, center=False)

    def action_page(self, direction: int) -> None:
        self.goto_line(self.cursor_line + direction * max(self.scrollable_content_region.height - 1, 1), center=False)

    def action_edge(self, end: int) -> None:
        self.goto_line(len(self.lines) - 1 if end else 0, center=False)

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.lines):
            self.cursor_line = index

    # -- find --------------------------------------------------------------
    def _compute_matches(self) -> None:
        needle = self.find_pattern.lower()
        self.matches = [i for i, line in enumerate(self.lines) if needle in line.plain.lower()]

    def find(self, pattern: str) -> int:
        """Highlight ``pattern`` (case-insensitive) and jump to the first match after the cursor."""
        self.find_pattern = pattern
        self.matches = []
        self.match_index = -1
        if pattern:
            self._compute_matches()
        self.refresh_view()
        self.refresh_bindings()
        if self.matches:
            after = [i for i, line in enumerate(self.matches) if line >= self.cursor_line]
            self.match_index = after[0] if after else 0
            self.goto_line(self.matches[self.match_index])
        return len(self.matches)

    def action_next_match(self, direction: int) -> None:
        if not self.matches:
            return
        here = self.cursor_line
        if direction > 0:
            after = [i for i, line in enumerate(self.matches) if line > here]
            self.match_index = after[0] if after else 0
        else:
            before = [i for i, line in enumerate(self.matches) if line < here]
            self.match_index = before[-1] if before else len(self.matches) - 1
        self.goto_line(self.matches[self.match_index])
        self.notify(f"match {self.match_index + 1} of {len(self.matches)}", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_match":
            return True if self.matches else None
        return True

    def copy_text(self) -> str:
        if not self.lines:
            return ""
        return self.lines[self.cursor_line].plain
