"""A read-only text view over many lines (Line API), with find and n/N.

Used for logs and for files of the root FS diff. Lines are rich ``Text`` (so
syntax highlighting and error marking are plain styles); strips are rendered on
demand and cached (``CursorLineView``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.strip import Strip

from .base import cursor_bindings
from .lineview import CursorLineView


def highlight_lines(text: str, filename: str = "", theme: str = "ansi_dark") -> list[Text]:
    """Syntax-highlight ``text`` by the file name's extension (pygments via rich)."""
    from rich.syntax import Syntax

    lexer = Syntax.guess_lexer(filename or "file.txt", text) if filename else "text"
    try:
        syntax = Syntax(text, lexer, theme=theme, word_wrap=False, tab_size=8)
        highlighted = syntax.highlight(text)
    except Exception:  # noqa: BLE001  (unknown lexer or pygments trouble: plain text)
        highlighted = Text(text)
    highlighted.expand_tabs(8)
    lines = highlighted.split("\n", allow_blank=True)
    if lines and not lines[-1].plain and text.endswith("\n"):
        lines.pop()
    for line in lines:
        line.style = Style()  # syntax sets a background on the whole text; the widget has its own
    return list(lines) or [Text("")]


class TextView(CursorLineView):
    """Lines with a line-number gutter, a cursor line, marked lines and find."""

    BINDING_GROUP_TITLE = "Text view"

    DEFAULT_CSS = """
    TextView > .textview--gutter { color: $text-disabled; }
    TextView > .textview--cursor { background: $block-cursor-blurred-background; }
    TextView:focus > .textview--cursor { background: $block-cursor-background; }
    TextView > .textview--match { background: $warning; color: $background; }
    TextView > .textview--marked { color: $text-error; text-style: bold; }
    """

    COMPONENT_CLASSES = {
        "textview--gutter",
        "textview--cursor",
        "textview--match",
        "textview--marked",
    }

    BINDINGS = [
        *cursor_bindings("text", "Top", "Bottom"),
        Binding("n", "next_match(1)", "Next", tooltip="Next match", id="text.next_match"),
        Binding("N", "next_match(-1)", "Prev", tooltip="Previous match", id="text.prev_match"),
    ]

    matches: list[int]  # the lines holding find_pattern

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
        self.set_lines(lines, marked=marked)

    def set_lines(self, lines: Iterable[Text | str], *, marked: Iterable[int] = ()) -> None:
        """New lines (the find pattern stays and is looked for in them); the cursor goes to the top."""
        self.lines: list[Text] = [line if isinstance(line, Text) else Text(line) for line in lines]
        self.marked: set[int] = set(marked)
        self._gutter = len(str(max(len(self.lines), 1))) + 1
        width = max((line.cell_len for line in self.lines), default=0)
        self.virtual_size = Size(self._gutter + 1 + width + 1, len(self.lines))
        self.set_matches(self._lines_matching(self.find_pattern), -1, self.find_pattern, jump=False)
        if self.is_mounted:
            self.cursor_line = 0
            self.scroll_home(animate=False)

    @property
    def plain_lines(self) -> list[str]:
        return [line.plain for line in self.lines]

    @property
    def line_count(self) -> int:
        return len(self.lines)

    # -- rendering ---------------------------------------------------------
    def crop_line(self, strip: Strip, scroll_x: int, width: int) -> Strip:
        """The gutter stays put; the text scrolls sideways."""
        gutter = strip.crop(0, self._gutter + 1)
        body = strip.crop(self._gutter + 1 + scroll_x, self._gutter + 1 + scroll_x + width - self._gutter - 1)
        return Strip.join([gutter, body]).extend_cell_length(width, self.rich_style)

    def render_full_line(self, index: int, is_cursor: bool) -> Strip:
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

    # -- cursor ------------------------------------------------------------
    def goto_line(self, index: int, center: bool = True) -> None:
        self.move_cursor(index, center=center)

    # -- find --------------------------------------------------------------
    def _lines_matching(self, pattern: str) -> list[int]:
        if not pattern:
            return []
        needle = pattern.lower()
        return [i for i, line in enumerate(self.lines) if needle in line.plain.lower()]

    def match_line(self, index: int) -> int | None:
        return self.matches[index]

    def find(self, pattern: str) -> int:
        """Highlight ``pattern`` (case-insensitive) and jump to the first match after the cursor."""
        found = self._lines_matching(pattern)
        index = next((i for i, line in enumerate(found) if line >= self.cursor_line), 0)
        self.set_matches(found, index, pattern)
        return len(self.matches)

    def copy_text(self) -> str:
        if not self.lines:
            return ""
        return self.lines[self.cursor_line].plain
