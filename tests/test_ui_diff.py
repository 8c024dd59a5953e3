"""The diff screens driven with Pilot (issue #13): the areas of the real pair, dive's
toggles, a VMA's changed-pages map, and the hex view marking the bytes that differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from ckpt_tui.actions.diff.result import VmaNode
from ckpt_tui.screens.diff import DiffHexScreen, DiffScreen
from ckpt_tui.widgets.difftree import DiffTree
from ckpt_tui.widgets.hexview import HexView

from .conftest import DATA

A = DATA / "turn2" / "diff-a1.tar.zst"
B = DATA / "turn2" / "diff-a2.tar.zst"


class Harness(App):
    CSS_PATH = "../ckpt_tui/app.tcss"

    def __init__(self, a, b, **kwargs):
        super().__init__()
        self.pair = (a, b)
        self.kwargs = kwargs

    def on_mount(self):
        self.push_screen(DiffScreen(*self.pair, **self.kwargs))


async def ready(pilot):
    screen = pilot.app.screen
    assert isinstance(screen, DiffScreen)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.result is not None, screen.error
    return screen


async def area(pilot, screen, key: str) -> list[str]:
    """The rows the diff tree shows after the area's number key."""
    await pilot.press(key)
    await pilot.pause()
    return rows(screen.query_one(DiffTree))


def rows(tree: DiffTree) -> list[str]:
    out = []

    def walk(node):
        for child in node.children:
            out.append(str(child.label))
            if child.is_expanded:
                walk(child)

    walk(tree.root)
    return out


@pytest.mark.asyncio
async def test_areas_and_processes():
    app = Harness(A, B)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        areas = screen.query_one("#diff-areas")
        names = [str(areas.get_option_at_index(i).prompt).split("  ")[0] for i in range(areas.option_count)]
        assert names[:6] == ["Overview", "Processes", "Memory", "Files", "Network", "Mounts"]
        await pilot.press("2")
        await pilot.pause()
        tree = screen.query_one(DiffTree)
        shown = rows(tree)
        assert "+ [20] sleep 222222" in shown and "- [9] sleep 111111" in shown and "+ [21] nc -l -p 9090" in shown
        assert not any(r.startswith("  [8] httpd") for r in shown)  # unchanged: hidden by default
        await pilot.press("u")  # dive's toggle: show the unchanged too
        await pilot.pause()
        assert any(r.startswith("  [8] httpd") for r in rows(tree))
        await pilot.press("a")  # hide the added
        await pilot.pause()
        assert not any(r.startswith("+ [20]") for r in rows(tree))
        toggles = str(screen.query_one("#diff-toggles").render())
        assert "a [ ] + added" in toggles and "u [x] = unchanged" in toggles


@pytest.mark.asyncio
async def test_files_area():
    app = Harness(A, B)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        shown = await area(pilot, screen, "4")
        assert "~ /data/modify-me.txt  file, 6 B, 0644" in shown
        assert "- /var/www/index.html  (deleted: a whiteout or deleted.files)" in shown


@pytest.mark.asyncio
async def test_memory_pane_lists_only_memory():
    app = Harness(A, B)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        shown = await area(pilot, screen, "3")
        assert any(r.startswith("~ [1] sh -c") for r in shown)
        assert any(r.startswith("~ Memory: dumped 76.0 KiB -> 3.9 MiB") for r in shown)
        assert any("[heap]; pages 4 changed, 15 only in B" in r for r in shown)
        assert not any("Open files" in r for r in shown)  # pid 1's fd change is the Processes pane's


@pytest.mark.asyncio
async def test_vma_page_map_and_hex_diff():
    app = Harness(A, B)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        await pilot.press("2")
        await pilot.pause()
        tree = screen.query_one(DiffTree)
        # walk the cursor to pid 1's heap
        target = None
        for line in range(tree.last_line + 1):
            node = tree.get_node_at_line(line)
            if node is not None and isinstance(node.data, VmaNode) and "[heap]" in node.data.label:
                target = line
                break
        assert target is not None
        tree.cursor_line = target
        await pilot.pause()
        detail = str(screen.query_one("#diff-detail").render())
        assert "pages: 4 changed, 15 only in B" in detail
        assert "~~~~+" in detail.replace("\n", "")  # the map: 4 changed pages, then new ones
        await pilot.press("x")
        await pilot.pause()
        hexscreen = app.screen
        assert isinstance(hexscreen, DiffHexScreen) and hexscreen.pid == 1
        view = hexscreen.query_one(HexView)
        heap = tree.get_node_at_line(target).data
        addr = heap.start
        changed = [a for a in range(addr, addr + 4 * 4096, 16) if view.changed_offsets(a)]
        assert changed  # the changed pages have bytes marked
        # and they are exactly the bytes that differ between the two dumps
        a_reader = screen.checkpoints[0].memory(1)
        b_reader = screen.checkpoints[1].memory(1)
        row = changed[0]
        want = [i for i in range(16) if a_reader.read(row + i, 1) != b_reader.read(row + i, 1)]
        assert view.changed_offsets(row) == want
        new_page = addr + 5 * 4096  # only in B
        assert view.compare_row(new_page) is None and "only in this dump" in view.row_text(view.row_of(new_page))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen)


@pytest.mark.asyncio
async def test_bad_second_checkpoint_is_a_message(tmp_path):
    bad = tmp_path / "nothing.tar"
    bad.write_bytes(b"not a tar at all")
    app = Harness(A, bad)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.result is None and screen.error
        assert "cannot compare" in str(screen.query_one("#diff-title").render())


@pytest.mark.asyncio
async def test_secrets_masked_until_S(tmp_path):
    """A changed DB_PASSWORD (a later dump derived from ps-tree with tests/diffkit.py)."""
    import shutil

    from ckpt_tui.model.masking import MASK

    from . import diffkit as kit
    from .corpus import load_img

    a = kit.derive("ps-tree.tar.gz", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    mm = load_img(b, "mm-11.img").entries[0].message
    env = kit.read_memory(b, 11, mm.mm_env_start, mm.mm_env_end - mm.mm_env_start)
    kit.write_memory(b, 11, mm.mm_env_start + env.index(b"hunter2"), b"hunter3")
    app = Harness(a, b)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        await pilot.press("2")
        await pilot.pause()
        tree = screen.query_one(DiffTree)

        def env_rows():
            out = []
            for line in range(tree.last_line + 1):
                node = tree.get_node_at_line(line)
                if node is not None and "DB_PASSWORD" in str(node.label):
                    out.append(str(node.label))
            return out

        for line in range(tree.last_line + 1):  # open pid 11's environment
            node = tree.get_node_at_line(line)
            if node is not None and str(node.label).startswith("~ Environment"):
                node.expand()
        await pilot.pause()
        assert env_rows() == [f"~ DB_PASSWORD: {MASK} -> {MASK}"]
        await pilot.press("S")
        await pilot.pause()
        for line in range(tree.last_line + 1):
            node = tree.get_node_at_line(line)
            if node is not None and str(node.label).startswith("~ Environment"):
                node.expand()
        await pilot.pause()
        assert env_rows() == ["~ DB_PASSWORD: hunter2 -> hunter3"]
    masked = Harness(a, b, masked=True)  # ckpt-tui serve: S never shows them
    async with masked.run_test(size=(140, 50)) as pilot:
        screen = await ready(pilot)
        await pilot.press("S")
        await pilot.pause()
        assert screen.reveal is False


# -- in the inspector: `ckpt-tui A B` and `D` -----------------------------------------


async def _loaded(app, pilot):
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.checkpoint is not None and not app.loading:
            break


@pytest.mark.asyncio
async def test_app_opened_on_two_checkpoints_shows_the_diff():
    from ckpt_tui.app import CkptApp

    app = CkptApp(str(A), compare=str(B))
    async with app.run_test(size=(140, 50)) as pilot:
        await _loaded(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await _loaded(app, pilot)
        assert screen.result is not None and not screen.result.same
        assert screen.checkpoints[0] is app.checkpoint  # A is the open one, left open
        await pilot.press("escape")
        await pilot.pause()
        assert app.checkpoint is not None and app.checkpoint.processes  # still browsable


@pytest.mark.asyncio
async def test_D_asks_for_a_path():
    from ckpt_tui.app import CkptApp
    from ckpt_tui.screens.dialogs import PromptScreen

    app = CkptApp(str(A))
    async with app.run_test(size=(140, 50)) as pilot:
        await _loaded(app, pilot)
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        for ch in str(B):
            await pilot.press(ch if ch != "/" else "slash")
        await pilot.press("enter")
        await _loaded(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.result is not None
        assert screen.result.b.path == str(B)


@pytest.mark.asyncio
async def test_D_picks_from_the_list(tmp_path):
    """Opened on a directory of checkpoints: D lists the others."""
    import shutil

    from ckpt_tui.app import CkptApp
    from ckpt_tui.screens.picker import PickerScreen, RepickScreen
    from ckpt_tui.widgets.table import FilterTable

    shutil.copy(A, tmp_path / "a1.tar.zst")
    shutil.copy(B, tmp_path / "a2.tar.zst")
    app = CkptApp(str(tmp_path))
    async with app.run_test(size=(140, 50)) as pilot:
        await _loaded(app, pilot)
        assert isinstance(app.screen, PickerScreen)
        app.screen.query_one(FilterTable).focus()
        await pilot.press("enter")  # whichever is first; D then lists the other
        await _loaded(app, pilot)
        assert app.checkpoint is not None
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        await pilot.press("enter")  # the only other one
        await _loaded(app, pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.result is not None
        names = {Path(screen.result.a.path).name, Path(screen.result.b.path).name}
        assert names == {"a1.tar.zst", "a2.tar.zst"}
