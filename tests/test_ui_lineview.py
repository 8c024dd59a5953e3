"""The Line-API base (widgets/lineview.py) on a small view of numbered lines, and the find state
of the views built on it (issue #18: a new search replaces the last one's matches)."""

from __future__ import annotations

from types import SimpleNamespace

from rich.segment import Segment
from textual.app import App
from textual.geometry import Size
from textual.strip import Strip

from ckpt_tui.screens.fileview import FileViewScreen
from ckpt_tui.screens.memory import HexScreen
from ckpt_tui.widgets.base import cursor_bindings
from ckpt_tui.widgets.hexview import HexView
from ckpt_tui.widgets.lineview import CursorLineView
from ckpt_tui.widgets.matchlist import MatchList
from tests.test_ui_app import press_text, running, settle


class Numbered(CursorLineView):
    """``count`` lines "line N"; a match is (line, column); counts what it renders."""

    BINDINGS = [*cursor_bindings("numbered"), ("n", "next_match(1)", "Next"), ("N", "next_match(-1)", "Prev")]

    def __init__(self, count: int, width: int = 20, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = count
        self.text_width = width
        self.rendered: list[int] = []
        self.moves: list[int] = []
        self.virtual_size = Size(width, count)

    @property
    def line_count(self) -> int:
        return self.count

    def render_full_line(self, line: int, is_cursor: bool) -> Strip:
        self.rendered.append(line)
        text = f"line {line}".ljust(self.text_width, ".")
        return Strip([Segment(text, self.rich_style)])

    def match_line(self, index: int) -> int | None:
        return self.matches[index][0]

    def cursor_moved(self, line: int) -> None:
        self.moves.append(line)


class Host(App):
    CSS = "#framed { border: round white; }"

    def __init__(self, *widgets) -> None:
        super().__init__()
        self.widgets = widgets

    def compose(self):
        yield from self.widgets


def shown(view: CursorLineView, y: int) -> str:
    return "".join(segment.text for segment in view.render_line(y))


async def test_cursor_is_clamped_and_scrolled_into_view():
    view = Numbered(100)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        view.focus()
        await pilot.press("up", "k")
        assert view.cursor_line == 0
        await pilot.press("end")
        assert view.cursor_line == 99
        height = view.scrollable_content_region.height
        assert view.scroll_offset.y == 100 - height  # the last line is the bottom one
        await pilot.press("down", "j", "pagedown")
        assert view.cursor_line == 99
        view.move_cursor(-7)
        assert view.cursor_line == 0 and view.scroll_offset.y == 0
        view.move_cursor(10**9)
        assert view.cursor_line == 99
        await pilot.press("home")
        assert view.cursor_line == 0 and view.moves[-1] == 0


async def test_an_empty_view_keeps_its_cursor_and_draws_blank_lines():
    view = Numbered(0)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        view.focus()
        await pilot.press("down", "end", "pagedown", "n")
        await pilot.pause()
        assert view.cursor_line == 0 and view.moves == [] and view.rendered == []
        assert shown(view, 0).strip() == ""


async def test_a_hex_view_of_no_memory_at_all_takes_every_key():
    from ckpt_tui.widgets.hexview import MemorySource

    reader = SimpleNamespace(runs=[], page_state=lambda addr: "unmapped", read=lambda addr, n: b"")
    view = HexView(MemorySource(reader, []))
    async with Host(view).run_test(size=(100, 10)) as pilot:
        view.focus()
        await pilot.press("down", "end", "pagedown", "right_square_bracket", "left_square_bracket", "n")
        await pilot.pause()
        assert view.line_count == 0 and view.cursor_address == 0 and view.cursor_segment is None
        assert not view.goto(0x1000) and view.copy_text() == "0x0"


async def test_paging_moves_a_screen_less_one_line():
    view = Numbered(100)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        view.focus()
        height = view.scrollable_content_region.height
        assert height == 10
        await pilot.press("pagedown")
        assert view.cursor_line == height - 1
        await pilot.press("pagedown")
        assert view.cursor_line == 2 * (height - 1)
        top = view.scroll_offset.y
        assert top <= view.cursor_line < top + height
        await pilot.press("pageup", "pageup", "pageup")
        assert view.cursor_line == 0 and view.scroll_offset.y == 0


async def test_click_moves_the_cursor_to_the_line_under_the_pointer():
    plain, framed = Numbered(50, id="plain"), Numbered(50, id="framed")
    async with Host(plain, framed).run_test(size=(40, 30)) as pilot:
        plain.scroll_to(y=5, animate=False)
        await pilot.pause()
        await pilot.click(plain, offset=(2, 3))
        assert plain.cursor_line == 5 + 3
        # with a border the first text row is the widget's second row; the border is no line
        await pilot.click(framed, offset=(2, 4))
        assert framed.cursor_line == 3
        await pilot.click(framed, offset=(2, 0))
        assert framed.cursor_line == 3


async def test_next_and_previous_match_wrap_and_share_a_line():
    view = Numbered(100)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        view.focus()
        view.set_matches([(20, 0), (5, 4), (5, 1)], 0, "x")
        assert view.matches == [(5, 1), (5, 4), (20, 0)]  # in line order
        assert view.cursor_line == 5 and view.match_status == "match 1/3"
        await pilot.press("n")  # the next match is on the same line
        assert view.match_index == 1 and view.cursor_line == 5
        await pilot.press("n")
        assert view.match_index == 2 and view.cursor_line == 20
        await pilot.press("n")  # wraps to the first
        assert view.match_index == 0 and view.cursor_line == 5
        await pilot.press("N")  # and back to the last
        assert view.match_index == 2 and view.match_status == "match 3/3"
        # from a line that holds no match: the nearest one in that direction
        view.move_cursor(10)
        await pilot.press("N")
        assert view.match_index == 1 and view.cursor_line == 5
        view.move_cursor(10)
        await pilot.press("n")
        assert view.match_index == 2 and view.cursor_line == 20
        view.move_cursor(50)
        await pilot.press("n")  # none after the cursor: wraps
        assert view.match_index == 0 and view.cursor_line == 5


async def test_new_matches_replace_the_old_and_none_leave_nothing_to_cycle():
    view = Numbered(100)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        view.focus()
        view.set_matches([(40, 0)], 0, "old")
        assert view.cursor_line == 40 and view.check_action("next_match", (1,))
        view.clear_matches("new")
        assert view.matches == [] and view.match_index == -1 and view.match_status == ""
        assert view.find_pattern == "new"
        assert view.check_action("next_match", (1,)) is None  # n shows disabled
        view.move_cursor(0)
        await pilot.press("n", "N")
        assert view.cursor_line == 0
        view.set_matches([(7, 0), (9, 0)], -1)  # none current
        assert view.match_status == "2 matches" and view.cursor_line == 0


async def test_strips_are_cached_until_the_theme_or_the_data_changes():
    view = Numbered(30)
    app = Host(view)
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        first = view.render_line(2)
        assert 2 in view.rendered
        view.rendered.clear()
        view.refresh()
        await pilot.pause()
        assert view.render_line(2) is first and view.rendered == []  # from the cache
        dark_background = view.rich_style.bgcolor
        app.theme = "textual-light"
        await pilot.pause()
        again = view.render_line(2)
        assert view.rendered and again is not first
        assert view.rich_style.bgcolor != dark_background
        assert {segment.style.bgcolor for segment in again} == {view.rich_style.bgcolor}
        # a data change (new matches) renders again too
        view.rendered.clear()
        view.set_matches([(2, 0)], -1)
        assert view.render_line(2) is not again and view.rendered == [2]


async def test_hex_view_draws_a_new_theme_in_its_colours():
    """The hex view makes its styles once per theme (line_styles): a theme change is seen."""
    from ckpt_tui.widgets.hexview import BytesSource

    view = HexView(BytesSource(bytes(range(64)), 0x1000, "buf"))
    app = Host(view)
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()

        def address_colour():
            return next(s.style.color for s in view.render_line(1) if s.text.strip() == "000000001000")

        before = address_colour()
        assert before == view.get_component_rich_style("hexview--address").color
        app.theme = "textual-light"
        await pilot.pause()
        after = address_colour()
        assert after != before and after == view.get_component_rich_style("hexview--address").color


async def test_strips_are_cached_per_horizontal_scroll_and_width():
    view = Numbered(30, width=200)
    async with Host(view).run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        assert shown(view, 3).startswith("line 3....")
        view.scroll_to(x=2, animate=False)
        await pilot.pause()
        assert shown(view, 3).startswith("ne 3....")
        assert len(shown(view, 3)) == view.scrollable_content_region.width


async def test_match_list_opens_on_a_second_click_of_the_cursor_line():
    def match(address: int):
        return SimpleNamespace(pid=1, address=address, vma=None, before=b"<", match=b"hit", after=b">")

    opened = []

    class ListHost(Host):
        def on_match_list_opened(self, message: MatchList.Opened) -> None:
            opened.append(message.index)

    view = MatchList(comms={1: "init"})
    async with ListHost(view).run_test(size=(100, 10)) as pilot:
        view.add([match(0x1000 + i) for i in range(20)])
        await pilot.pause()
        assert view.line_count == 20 and "0x000000001003" in view.line_text(3)
        await pilot.click(view, offset=(3, 4))
        assert view.cursor_line == 4 and opened == []
        await pilot.double_click(view, offset=(3, 4))
        await pilot.pause()
        assert opened == [4]
        view.clear()
        assert view.line_count == 0 and view.cursor_line == 0


# --------------------------------------------------------------------------- issue #18


async def test_hex_view_not_found_replaces_the_last_search():
    """After a search that finds nothing the status shows no match and n has nothing to cycle."""
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        needle = next(app.checkpoint.search_memory(b"CKPT-MARKER-000000-needle"))
        app.open_hex(needle.pid, None)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, HexScreen)
        view = screen.query_one(HexView)

        async def find(text: str) -> None:
            await pilot.press("slash")
            await pilot.pause()
            await press_text(pilot, text)
            await pilot.press("enter")
            for _ in range(20):
                await settle(app, pilot)
                if not any(w.is_running for w in app.workers):
                    break
            await pilot.pause()

        def status() -> str:
            return str(screen.query_one("#hex-status").render())

        await find("CKPT-MARKER-000000-needle")
        assert view.matches and "match 1/" in status()
        found_at = view.cursor_row
        await pilot.press("home")
        assert view.cursor_row != found_at
        await find("no-such-bytes-anywhere-7f3a")
        assert view.matches == [] and view.match_index == -1
        assert "match" not in status()
        await pilot.press("n")
        await pilot.pause()
        assert view.cursor_row == 0  # n has no old matches to go back to


async def test_file_hex_view_not_found_replaces_the_last_find():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_file("/etc/motd")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FileViewScreen) and not screen.as_hex
        await pilot.press("x")
        await pilot.pause()
        view = screen.query_one(HexView)
        word = screen.data.split()[0].decode()
        screen.prompt_find()
        await pilot.pause()
        await press_text(pilot, word)
        await pilot.press("enter")
        await pilot.pause()
        assert view.matches and view.find_pattern == word
        screen.prompt_find()
        await pilot.pause()
        await press_text(pilot, "no-such-text-7f3a")
        await pilot.press("enter")
        await pilot.pause()
        assert view.matches == [] and view.find_pattern == "no-such-text-7f3a"
