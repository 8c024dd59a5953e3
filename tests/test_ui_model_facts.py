"""The model facts of issue #18 in the UI, driven with Pilot: a zombie (derived from ps-tree
with the project's image writer: ``tests/corpus.py`` ``make_zombie``, as CRIU's
``dump_one_zombie`` writes one), a unix socket on ``/dev/log\\0`` (``tests/diffkit.py``
``add_unix_socket``), and the real tty and volume checkpoints of ``tests/data/turn2``."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from textual.widgets import TabbedContent

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.fileview import FileViewScreen
from ckpt_tui.widgets.files import FilesTree
from ckpt_tui.widgets.table import FilterTable

from .corpus import make_zombie, unpack
from .diffkit import add_unix_socket
from .test_ui_app import NOW, screen_text, settle

TURN2 = Path(__file__).parent / "data" / "turn2"


@asynccontextmanager
async def opened(path: Path, size=(150, 45)):
    app = CkptApp(str(path), now=NOW)
    async with app.run_test(size=size) as pilot:
        for _ in range(100):
            await settle(app, pilot)
            if app.checkpoint is not None or app.load_error:
                break
        yield app, pilot


def _cells(table: FilterTable) -> list[str]:
    return [c.plain if hasattr(c, "plain") else str(c) for i in range(table.row_count) for c in table.get_row_at(i)]


async def test_zombie_in_tree_table_and_process(tmp_path):
    root = unpack("ps-tree.tar.gz", tmp_path / "ck")
    make_zombie(root, 15, wait_status=1 << 8, garbage_tid=0x5EED)  # `sleep 1` exited with code 1
    async with opened(root) as (app, pilot):
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "Z zombie" in text and "X dead" not in text  # the navigation tree's mark
        assert "1 zombie" in text  # the processes summary counts it
        await app.main.open_process(15)
        await pilot.pause()
        text = screen_text(app)
        assert "zombie, exit code 1" in text
        assert "(no command line recorded: pid 15 is a zombie: a zombie has no memory" in text
        threads = app.screen.query_one("#process-threads", FilterTable)
        assert [str(threads.get_row_at(i)[0]) for i in range(threads.row_count)] == ["15"]  # not 24301


async def test_unix_socket_has_no_port(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    add_unix_socket(root, 10, 20, b"/dev/log\0")
    async with opened(root) as (app, pilot):
        await app.main.open_process(10)
        await pilot.pause()
        cells = _cells(app.screen.query_one("#process-sockets", FilterTable))
        assert "/dev/log" in cells and not any(":0" in c and "log" in c for c in cells)
        await pilot.press("5")
        await pilot.pause()
        assert "/dev/log" in screen_text(app) and "/dev/log:0" not in screen_text(app)


async def test_tty_shown_as_terminal():
    async with opened(TURN2 / "tty.tar.zst") as (app, pilot):
        await app.main.open_process(1)
        await pilot.pause()
        assert "terminal       /dev/pts/0 on fds 0, 1, 2 (controlling terminal of session 1" in screen_text(app)
        files = _cells(app.screen.query_one("#process-files", FilterTable))
        assert files.count("/dev/pts/0  (terminal)") == 3


async def test_volume_and_devshm_trees_in_files():
    async with opened(TURN2 / "volume-devshm.tar.zst") as (app, pilot):
        text = screen_text(app)
        assert "volumes" in text and "/dev/shm" in text  # the Overview's size rows
        await pilot.press("4")
        await pilot.pause()
        tabs = app.screen.query_one("#files-tabs", TabbedContent)
        assert "volume t2vol on /data" in screen_text(app) and "/dev/shm" in screen_text(app)
        tabs.active = "files-tab-0"
        await pilot.pause()
        tree = app.screen.query_one("#files-volume-0", FilesTree)
        assert {n.data.path for n in _walk(tree.root) if n.data is not None} >= {"vol-file.txt", "sub/b.txt"}
        text = screen_text(app)
        assert "vol-file.txt" in text and " C " not in text  # a volume's files are its contents, not changes
        tree.focus()
        node = next(n for n in _walk(tree.root) if n.data is not None and n.data.path == "vol-file.txt")
        tree.move_cursor(node)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.pause()
        assert isinstance(app.screen, FileViewScreen)
        assert "in-the-volume" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        tabs.active = "files-tab-1"
        await pilot.pause()
        assert "t2-shm-seg" in screen_text(app)


async def test_no_volume_tabs_without_volumes():
    async with opened(TURN2.parent / "web-httpd.tar.zst") as (app, pilot):
        await pilot.press("4")
        await pilot.pause()
        assert not app.screen.query("#files-tabs") and app.screen.query("#files-tree")


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)
