"""Pilot tests: plurals, the help's keys, palette jumps through a filter,
the memory search at 80x24, the Sizes hierarchy, and directory sizes under "only deleted"."""

from __future__ import annotations

import re

from textual.widgets import Input

from ckpt_tui.model.types import RootfsDiff, RootfsEntry, Sizes
from ckpt_tui.screens.dialogs import PromptScreen
from ckpt_tui.screens.help import OTHER_VIEWS, HelpScreen
from ckpt_tui.screens.memory import SearchScreen
from ckpt_tui.text import plural
from ckpt_tui.widgets import format as fmt
from ckpt_tui.widgets.files import FilesTree, build_index
from ckpt_tui.widgets.navtree import NavTree
from ckpt_tui.widgets.overview import size_rows
from tests.test_ui_app import press_text, running, screen_text, settle
from tests.test_ui_widgets import Host


def plain(widget) -> str:
    """What a Static shows, without markup."""
    rendered = widget.render()
    return getattr(rendered, "plain", None) or str(rendered)


def label_of(tree: FilesTree, path: str) -> str:
    node = next(n for n in _walk(tree.root) if n.data is not None and n.data.path == path)
    return tree.render_label(node, tree.rich_style, tree.rich_style).plain


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


# --------------------------------------------------------------------------- 1. plurals


def test_plural_helper():
    assert plural(0, "socket") == "0 sockets"
    assert plural(1, "socket") == "1 socket"
    assert plural(2, "process") == "2 processes"
    assert plural(1, "process") == "1 process"
    assert plural(3, "match") == "3 matches"
    assert plural(1, "deleted entry", "deleted entries") == "1 deleted entry"
    assert plural(2, "deleted entry", "deleted entries") == "2 deleted entries"
    assert fmt.plural is plural  # the UI uses the same helper as the command line


async def test_network_summary_and_nav_count_are_singular_for_one():
    async with running("web-httpd.tar.zst") as (app, pilot):
        nav = app.main.query_one(NavTree)
        assert nav.counts["network"] == "1 socket"
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "1 interface, 1 socket, 1 listening" in text
        assert "Network 1 socket " in text
        for wrong in ("1 sockets", "1 interfaces"):
            assert wrong not in text, wrong


async def test_tcp_established_summary_says_needs_for_one_connection():
    async with running("tcp-server.tar.zst") as (app, pilot):
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "1 TCP connection needs --tcp-established" in text
        assert "connection(s)" not in text


async def test_one_process_summary_and_palette_thread_count():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        await pilot.press("2")
        await pilot.pause()
        assert "1 process, 4 threads" in screen_text(app)
    async with running("ps-tree.tar.gz") as (app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await press_text(pilot, "process 1")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "1 thread:" in text and "1 threads" not in text


async def test_search_status_says_one_match():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        await pilot.press("s")
        await pilot.pause()
        await press_text(pilot, "CKPT-MARKER-000003-")
        await pilot.press("enter")
        status = app.screen.query_one("#search-status")
        for _ in range(50):
            await settle(app, pilot)
            if "match" in plain(status):
                break
        assert plain(status) == "1 match"


# --------------------------------------------------------------------------- 2. help lists the real keys

HELP_LINE = re.compile(r"^ {2}(?P<keys>.{12}) {2}(?P<description>\S.*?)(?:  \(unavailable\))?$")


async def test_help_shows_only_keys_that_are_bound():
    async with running("web-httpd.tar.zst") as (app, pilot):
        active = dict(app.screen.active_bindings)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        # every key the help shows, for every description, is a key really bound to it
        bound: dict[str, set[str]] = {}
        # the help says a binding's tooltip, if it has one, and lists every key of its action on its line
        keys_of: dict[tuple[object, str], set[str]] = {}
        for item in active.values():
            keys_of.setdefault((item.node, item.binding.action), set()).add(app.get_key_display(item.binding))
        for item in active.values():
            words = item.binding.tooltip or item.binding.description
            bound.setdefault(words, set()).update(keys_of[(item.node, item.binding.action)])
        for _title, cls in OTHER_VIEWS:
            for binding in cls.BINDINGS:
                bound.setdefault(binding.tooltip or binding.description, set()).update(
                    app.get_key_display(b) for b in type(binding).make_bindings([binding]))
        shown = 0
        for widget_id in ("#help-active", "#help-other"):
            for line in plain(app.screen.query_one(widget_id)).splitlines():
                match = HELP_LINE.match(line)
                if not match:
                    continue
                description = match["description"]
                for key in match["keys"].split():
                    assert key in bound.get(description, set()), (key, description)
                    shown += 1
        assert shown > 30
        # quit: the app's own q first (Textual's inherited ctrl+q is bound too, and listed after it)
        quit_line = next(line for line in plain(app.screen.query_one("#help-active")).splitlines()
                         if line.endswith("  Quit"))
        assert quit_line.split()[0] == "q"
        assert active["q"].binding.action == "quit"
        # keys with several bindings are all listed: ? and f1 both open help
        help_line = next(line for line in plain(app.screen.query_one("#help-active")).splitlines()
                         if line.endswith("  Help"))
        assert help_line.split()[:2] == ["?", "f1"]
        # "[" is padded like any key (escaping must not shift the column)
        other = plain(app.screen.query_one("#help-other")).splitlines()
        prev_vma = next(line for line in other if line.endswith("Previous VMA"))
        goto = next(line for line in other if line.endswith("Go to an address"))
        assert prev_vma.index("Previous VMA") == goto.index("Go to an address")


# --------------------------------------------------------------------------- 3. palette jump through a filter


async def _open_files_tree(app, pilot) -> FilesTree:
    await pilot.press("4")
    await pilot.pause()
    tree = app.main.current_pane.query_one(FilesTree)
    tree.focus()
    await pilot.pause()
    return tree


async def _palette(app, pilot, text: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await press_text(pilot, text)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await settle(app, pilot)


async def test_palette_jump_clears_a_mode_that_hides_the_file():
    async with running("web-httpd.tar.zst") as (app, pilot):
        tree = await _open_files_tree(app, pilot)
        await pilot.press("d")  # only deleted: etc/motd is hidden
        await pilot.pause()
        assert "motd" not in screen_text(app)
        await _palette(app, pilot, "file /etc/motd")
        assert not tree.only_deleted and not tree.filtering
        assert tree.cursor_node is not None and tree.cursor_node.data.path == "etc/motd"
        assert app.focused is tree
        line = next(line for line in screen_text(app).splitlines() if "motd" in line)
        assert " C " in line


async def test_palette_jump_clears_a_text_filter_that_hides_the_file():
    async with running("web-httpd.tar.zst") as (app, pilot):
        tree = await _open_files_tree(app, pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await press_text(pilot, "motd")
        await pilot.press("enter")
        await pilot.pause()
        assert tree.filter_text == "motd"
        assert "blob.bin" not in screen_text(app)
        await _palette(app, pilot, "file /root/blob.bin")
        assert tree.filter_text == ""
        assert tree.cursor_node is not None and tree.cursor_node.data.path == "root/blob.bin"
        assert "blob.bin" in screen_text(app)


async def test_palette_jump_keeps_a_mode_that_shows_the_file():
    async with running("web-httpd.tar.zst") as (app, pilot):
        tree = await _open_files_tree(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        await _palette(app, pilot, "file /var/www/index.html (deleted)")
        assert tree.only_deleted  # the deleted file is shown in this mode: nothing to clear
        assert tree.cursor_node is not None and tree.cursor_node.data.path == "var/www/index.html"


# --------------------------------------------------------------------------- 4. memory search at 80x24


async def test_memory_search_form_fits_80x24():
    async with running("memhog-16m-threads.tar.zst", size=(80, 24)) as (app, pilot):
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        field = screen.query_one("#search-pattern", Input)
        assert field.size.width >= 20
        for widget_id in ("#search-pattern", "#search-mode", "#search-pid", "#search-go", "#search-cancel"):
            region = screen.query_one(widget_id).region
            assert region.width > 0 and region.right <= 80 and region.bottom <= 24, (widget_id, region)
        # what is typed is seen and searched
        await press_text(pilot, "CKPT-MARKER-000003-")
        await pilot.pause()
        assert "CKPT-MARKER-000003-" in screen_text(app)
        await pilot.press("enter")
        status = screen.query_one("#search-status")
        for _ in range(50):
            await settle(app, pilot)
            if "match" in plain(status):
                break
        assert plain(status) == "1 match"
        assert screen.query_one("#search-matches").region.height >= 5


# --------------------------------------------------------------------------- 5. the Sizes hierarchy


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


async def test_overview_sizes_put_the_rootfs_diff_beside_the_criu_images():
    async with running("web-httpd.tar.zst") as (app, _pilot):
        sizes = app.checkpoint.sizes
        text = plain(app.main.query_one("#ov-sizes"))
        lines = {line.strip().split("  ")[0]: line for line in text.splitlines() if line.strip()}
        assert _indent(lines["archive"]) == 0
        assert _indent(lines["CRIU images"]) == 2
        assert _indent(lines["memory pages"]) == 4 and _indent(lines["other CRIU images"]) == 4
        assert _indent(lines["root FS diff"]) == 2  # a sibling of the CRIU images, not one of them
        assert _indent(lines["metadata, logs and other"]) == 2
        assert f"{sizes.rootfs_diff:,} B" in lines["root FS diff"]
        assert f"{sizes.total:,} B" in lines["CRIU images"]
        # the children add up to their parent
        rows = dict((name.strip(), value) for name, value in size_rows(sizes))
        assert rows["memory pages"] + rows["other CRIU images"] == rows["CRIU images"]
        assert rows["CRIU images"] + rows["root FS diff"] + rows["metadata, logs and other"] == rows["archive"]


def test_size_rows_without_an_archive_size():
    sizes = Sizes(total=100, memory_pages=60, rootfs_diff=40, archive=0)
    assert size_rows(sizes) == [("CRIU images", 100), ("  memory pages", 60), ("  other CRIU images", 40),
                                ("root FS diff", 40)]


# --------------------------------------------------------------------------- 6. sizes under "only deleted"


async def test_only_deleted_directories_count_what_is_shown_not_hidden_sizes():
    async with running("web-httpd.tar.zst") as (app, pilot):
        tree = await _open_files_tree(app, pilot)
        assert label_of(tree, "var").endswith("9 B")  # all of it: docs/new.html
        await pilot.press("d")
        await pilot.pause()
        for path in ("var", "var/www"):
            label = label_of(tree, path)
            assert label.endswith("1 deleted") and "9 B" not in label, label
        line = next(line for line in screen_text(app).splitlines() if "var/" in line)
        assert "1 deleted" in line and "9 B" not in line
        root = tree.render_label(tree.root, tree.rich_style, tree.rich_style).plain
        assert "shown: 1 deleted entry" in root and "[only deleted]" in root
        await pilot.press("d")
        await pilot.pause()
        assert label_of(tree, "var").endswith("9 B")




async def test_only_large_and_filter_sizes_are_of_the_files_shown():
    diff = RootfsDiff(present=True, entries=[
        RootfsEntry("data/big.bin", "file", 200 * 1024),
        RootfsEntry("data/small.txt", "file", 10),
        RootfsEntry("data/notes.md", "file", 5),
    ], deleted=["/data/old.log", "/data/sub/gone"])
    tree = FilesTree(build_index(diff))
    async with Host(tree).run_test(size=(100, 30)) as pilot:
        tree.focus()
        assert label_of(tree, "data").endswith(fmt.size(200 * 1024 + 15))
        await pilot.press("l")  # only large: small.txt and notes.md are hidden
        assert label_of(tree, "data").endswith(fmt.size(200 * 1024))
        await pilot.press("l")
        tree.set_filter("small")
        assert label_of(tree, "data").endswith("10 B")
        tree.set_filter("")
        await pilot.press("d")
        assert label_of(tree, "data").endswith("2 deleted")
        assert label_of(tree, "data/sub").endswith("1 deleted")
