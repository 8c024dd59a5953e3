"""CursorLineView: the Line-API base of the hex view, the text view and the match list.

A subclass says how many lines there are (``line_count``), renders one whole line
(``render_full_line``) and, if it has a find, on which line each of its matches sits
(``match_line``). The base owns the rest:

* the cursor line (``cursor_line``), clamped to the lines there are, and the keys that
  move it (``action_cursor`` / ``action_page`` / ``action_edge``; the subclass binds them
  with ``cursor_bindings`` under its own ids), scrolling it into view, click-to-move;
* an LRU cache of the strips ``render_line`` returns, keyed by everything that changes
  the picture from frame to frame (line, cursor shown, width, horizontal scroll, theme,
  focus); whatever changes the data (new lines, new matches, another current match)
  calls ``invalidate``, which empties it, and so does a stylesheet update;
* the match state of the last find: ``matches`` (in line order), ``match_index`` (the
  current one, -1 for none), ``find_pattern``; ``set_matches`` replaces all of it at
  once, ``n`` / ``N`` (``action_next_match``) go to the next / previous match from the
  cursor and wrap, ``match_status`` says "match 2/7".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import events
from textual.cache import LRUCache
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from . import format as fmt


class CursorLineView(ScrollView, can_focus=True):
    """A scrolling list of lines with a cursor line, a strip cache and next/previous match."""

    DEFAULT_CSS = """
    CursorLineView {
        height: 1fr;
        background: $surface;
    }
    """

    CURSOR_WHEN_BLURRED: ClassVar[bool] = False
    """Draw the cursor line when the view does not have the focus (the match list does)."""

    STRIP_CACHE_SIZE: ClassVar[int] = 1024

    cursor_line: reactive[int] = reactive(0, always_update=True, init=False)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._strips: LRUCache[tuple, Strip] = LRUCache(self.STRIP_CACHE_SIZE)
        self._line_styles: dict[tuple, Any] = {}
        self.matches: list[Any] = []
        self.match_index = -1
        self.find_pattern = ""

    # -- what a subclass supplies ------------------------------------------------
    @property
    def line_count(self) -> int:
        raise NotImplementedError

    def render_full_line(self, line: int, is_cursor: bool) -> Strip:
        """Line ``line`` (0 <= line < line_count) from its first cell, uncropped."""
        raise NotImplementedError

    def crop_line(self, strip: Strip, scroll_x: int, width: int) -> Strip:
        """What of a whole line is on screen at ``scroll_x``, exactly ``width`` cells."""
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def make_line_styles(self, is_cursor: bool) -> Any:
        """The styles lines are drawn with (from the component classes), for ``line_styles``."""
        return None

    def match_line(self, index: int) -> int | None:
        """The line ``matches[index]`` sits on (None: not shown)."""
        return None

    def match_note(self, index: int) -> str:
        """Words after "match 2 of 7" in the notification (the hex view gives the address)."""
        return ""

    def cursor_moved(self, line: int) -> None:
        """Called after the cursor moved to ``line`` (and was scrolled into view)."""

    def line_clicked(self, line: int, event: events.Click) -> None:
        """A click on ``line``: the cursor goes there."""
        self.cursor_line = line

    # -- rendering ---------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = scroll_y + y
        width = self.scrollable_content_region.width
        if not 0 <= line < self.line_count:
            return Strip.blank(width, self.rich_style)
        focused = self.has_focus_within
        is_cursor = line == self.cursor_line and (focused or self.CURSOR_WHEN_BLURRED)
        key = (line, is_cursor, width, scroll_x, self.app.theme, focused)
        strip = self._strips.get(key)
        if strip is None:
            strip = self.crop_line(self.render_full_line(line, is_cursor), scroll_x, width)
            self._strips[key] = strip
        return strip

    def line_styles(self, is_cursor: bool) -> Any:
        """``make_line_styles(is_cursor)``, made once per theme, focus and cursor state, not once a line."""
        key = (self.app.theme, self.has_focus_within, is_cursor)
        styles = self._line_styles.get(key)
        if styles is None:
            styles = self._line_styles[key] = self.make_line_styles(is_cursor)
        return styles

    def invalidate(self) -> None:
        """The data changed: forget every rendered strip and draw again."""
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._line_styles.clear()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor ------------------------------------------------------------------
    def watch_cursor_line(self, old: int, new: int) -> None:
        self.scroll_to_line(new)
        self.refresh_line(old)
        self.refresh_line(new)
        self.cursor_moved(new)

    def scroll_to_line(self, line: int, center: bool = False) -> None:
        """Scroll so that ``line`` is shown (in the middle when ``center``)."""
        height = max(self.scrollable_content_region.height, 1)
        top = int(self.scroll_offset.y)
        if center:
            self.scroll_to(y=max(line - height // 2, 0), animate=False)
        elif line < top:
            self.scroll_to(y=line, animate=False)
        elif line >= top + height:
            self.scroll_to(y=line - height + 1, animate=False)

    def move_cursor(self, line: int, center: bool = False) -> None:
        """Put the cursor on ``line``, clamped to the lines there are (nothing when there are none)."""
        count = self.line_count
        if count <= 0:
            return
        line = max(0, min(line, count - 1))
        if center:
            self.scroll_to_line(line, center=True)
        self.cursor_line = line

    @property
    def page_lines(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_line + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_line + direction * self.page_lines)

    def action_edge(self, end: int) -> None:
        self.move_cursor(self.line_count - 1 if end else 0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)  # None on the border
        if offset is None:
            return
        line = int(self.scroll_offset.y) + offset.y
        if 0 <= line < self.line_count:
            self.line_clicked(line, event)

    # -- matches -----------------------------------------------------------------
    def set_matches(self, matches: Iterable[Any], index: int = 0, pattern: str = "", *, jump: bool = True) -> None:
        """Replace the match state: ``matches`` (sorted here), the current one, the pattern.

        ``index`` -1 leaves no match current; with ``jump`` the cursor goes to the current one.
        """
        self.matches = sorted(matches)
        self.find_pattern = pattern
        self.match_index = min(index, len(self.matches) - 1) if self.matches else -1
        self.invalidate()
        self.refresh_bindings()
        if jump and self.match_index >= 0:
            self.goto_match(self.match_index)

    def clear_matches(self, pattern: str = "") -> None:
        self.set_matches([], pattern=pattern)

    def goto_match(self, index: int) -> None:
        line = self.match_line(index)
        if line is not None:
            self.move_cursor(line, center=True)

    def next_match_index(self, direction: int) -> int:
        """The match ``n`` (direction 1) or ``N`` (-1) goes to from the cursor, wrapping around.

        From the current match when the cursor is on its line (the next one may share the
        line), else from the cursor line.
        """
        count = len(self.matches)
        here = self.cursor_line
        current = self.match_index
        if 0 <= current < count and self.match_line(current) == here:
            return (current + direction) % count
        order = range(count) if direction > 0 else range(count - 1, -1, -1)
        for i in order:
            line = self.match_line(i)
            if line is not None and (line > here if direction > 0 else line < here):
                return i
        return order[0]

    def action_next_match(self, direction: int) -> None:
        if not self.matches:
            return
        self.match_index = self.next_match_index(direction)
        self.invalidate()
        self.goto_match(self.match_index)
        if self.is_mounted:
            self.notify(f"match {fmt.count(self.match_index + 1)} of {fmt.count(len(self.matches))}{self.match_note(self.match_index)}",
                        timeout=2)

    @property
    def match_status(self) -> str:
        """"match 2/7" (the current one of all), "7 matches" (none current) or "" (none)."""
        if not self.matches:
            return ""
        if self.match_index < 0:
            return fmt.plural(len(self.matches), "match")
        return f"match {fmt.count(self.match_index + 1)}/{fmt.count(len(self.matches))}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_match":
            return True if self.matches else None
        return True
