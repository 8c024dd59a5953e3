"""The checkpoint list of a directory (PickerScreen / RepickScreen, key L): switching between
checkpoints leaves one consistent state (a bad archive, pod picker, stacked lists, loading)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.main import MainScreen
from ckpt_tui.screens.picker import ContainerPickerScreen, PickerScreen, RepickScreen
from ckpt_tui.widgets.table import FilterTable

from .corpus import unpack
from .test_ui_app import NOW, SIZE, screen_text, settle

DATA = Path(__file__).parent / "data"


def bad_dir(tmp_path: Path) -> Path:
    (tmp_path / "web-httpd.tar.zst").symlink_to(DATA / "web-httpd.tar.zst")
    (tmp_path / "xx-bad.tar.zst").write_bytes(b"\x28\xb5\x2f\xfdjunk")  # zstd magic, then garbage
    return tmp_path


def pod_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src" / "pod"
    unpack("web-httpd.tar.zst", root / "aaa111-web")
    unpack("ps-tree.tar.gz", root / "bbb222-tree")
    (root / "pod.options").write_text(json.dumps({
        "version": 1, "containers": {"web": "aaa111-web", "tree": "bbb222-tree"},
        "annotations": {"org.criu.checkpoint.engine.name": "cri-o", "org.criu.checkpoint.pod.name": "mypod",
                        "org.criu.checkpoint.pod.namespace": "ns1"}}))
    (root / "pod.dump").write_text("{}")
    directory = tmp_path / "dir"
    directory.mkdir()
    with tarfile.open(directory / "a-pod.tar", "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    (directory / "web-httpd.tar.zst").symlink_to(DATA / "web-httpd.tar.zst")
    return directory


async def until(app, pilot, condition, rounds: int = 100) -> None:
    for _ in range(rounds):
        await settle(app, pilot)
        if condition():
            return
    raise AssertionError("condition not reached")


async def pick(app, pilot, name: str) -> None:
    """Select the row of file ``name`` in the active picker and press Enter."""
    assert isinstance(app.screen, PickerScreen)
    table = app.screen.query_one("#picker-table", FilterTable)
    names = [path.name for path, _meta in app.screen.entries]
    target = names.index(name)
    while table.cursor_row < target:
        await pilot.press("down")
    while table.cursor_row > target:
        await pilot.press("up")
    await pilot.press("enter")


def bindings_shown(app) -> set[str]:
    return {b.action for _key, (_node, b, enabled, _tip) in app.screen.active_bindings.items() if enabled}


async def test_switching_to_a_bad_archive_stays_on_the_open_one(tmp_path):
    directory = bad_dir(tmp_path)
    app = CkptApp(str(directory), now=NOW)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        await pick(app, pilot, "web-httpd.tar.zst")
        await until(app, pilot, lambda: app.checkpoint is not None)
        web = app.checkpoint
        title, sub_title = app.title, app.sub_title
        assert "web" in title
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        await pick(app, pilot, "xx-bad.tar.zst")
        await until(app, pilot, lambda: not app.loading)
        await pilot.pause()
        # still the web checkpoint, everywhere
        assert app.checkpoint is web
        assert app.path == directory / "web-httpd.tar.zst"
        assert (app.title, app.sub_title) == (title, sub_title)
        assert "cannot open" not in app.sub_title
        assert app.load_error == ""
        assert isinstance(app.screen, MainScreen)
        text = screen_text(app)
        assert "could not be opened" not in text
        assert "xx-bad.tar.zst" in text  # the notification names it
        assert any("xx-bad.tar.zst" in n.message or "xx-bad.tar.zst" in n.title for n in app._notifications)
        assert "804f8b2fc6ea" in text  # the overview is web's
        await pilot.press("2")
        await pilot.pause()
        assert "httpd" in screen_text(app)
        # the list again: the open one is still web, and another pick works
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        assert app.screen.current == directory / "web-httpd.tar.zst"
        await pilot.press("escape")
        await pilot.pause()
        assert app.checkpoint is web
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_first_pick_of_a_bad_archive_fails_then_another_opens(tmp_path):
    directory = bad_dir(tmp_path)
    app = CkptApp(str(directory), now=NOW)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        await pick(app, pilot, "xx-bad.tar.zst")
        await until(app, pilot, lambda: bool(app.load_error))
        assert app.checkpoint is None and not app.loading
        assert "xx-bad.tar.zst: cannot open" in app.sub_title
        assert "could not be opened" in screen_text(app)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        await pick(app, pilot, "web-httpd.tar.zst")
        await until(app, pilot, lambda: app.checkpoint is not None)
        assert app.load_error == "" and app.path == directory / "web-httpd.tar.zst"
        assert "web" in app.title and "cannot open" not in app.sub_title
        text = screen_text(app)
        assert "could not be opened" not in text and "cannot open" not in text
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_switching_from_a_pod_closes_its_container_picker(tmp_path):
    directory = pod_dir(tmp_path)
    app = CkptApp(str(directory), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        await pick(app, pilot, "a-pod.tar")
        await until(app, pilot, lambda: isinstance(app.screen, ContainerPickerScreen))
        pod = app.pod
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        await pick(app, pilot, "web-httpd.tar.zst")
        await until(app, pilot, lambda: app.checkpoint is not None and app.checkpoint is not pod and not app.loading)
        await pilot.pause()
        assert app.pod is None and app.checkpoint.info.name == "web"
        assert isinstance(app.screen, MainScreen)
        assert [type(s) for s in app.screen_stack] == [MainScreen]
        await pilot.press("2")
        await pilot.pause()
        assert "httpd" in screen_text(app)


async def test_switching_closes_screens_of_the_previous_checkpoint(tmp_path):
    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz"):
        (tmp_path / name).symlink_to(DATA / name)
    app = CkptApp(str(tmp_path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        await pick(app, pilot, "web-httpd.tar.zst")
        await until(app, pilot, lambda: app.checkpoint is not None)
        pid = next(iter(app.checkpoint.processes))
        app.open_hex(pid)  # a screen that reads the open checkpoint
        await pilot.pause()
        hex_screen = app.screen
        assert not isinstance(hex_screen, MainScreen)
        await pilot.press("L")
        await pilot.pause()
        await pick(app, pilot, "ps-tree.tar.gz")
        await until(app, pilot, lambda: app.checkpoint is not None and app.checkpoint.info.name == "tree")
        await pilot.pause()
        assert hex_screen not in app.screen_stack
        assert isinstance(app.screen, MainScreen)


async def test_list_key_does_nothing_on_a_list(tmp_path):
    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz"):
        (tmp_path / name).symlink_to(DATA / name)
    app = CkptApp(str(tmp_path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        first = app.screen
        depth = len(app.screen_stack)
        await pilot.press("L", "L")
        await pilot.pause()
        assert app.screen is first and len(app.screen_stack) == depth
        assert "other_checkpoint" not in bindings_shown(app)
        await pick(app, pilot, "web-httpd.tar.zst")
        await until(app, pilot, lambda: app.checkpoint is not None)
        await pilot.press("L")
        await pilot.pause()
        repick = app.screen
        assert isinstance(repick, RepickScreen)
        depth = len(app.screen_stack)
        await pilot.press("L", "L")
        await pilot.pause()
        assert app.screen is repick and len(app.screen_stack) == depth
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 1
        assert app.checkpoint.info.name == "web"


@pytest.mark.parametrize("first", ["web-httpd.tar.zst", "ps-tree.tar.gz"])
async def test_loading_until_the_picked_checkpoint_is_loaded(tmp_path, held_load, first):
    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz"):
        (tmp_path / name).symlink_to(DATA / name)
    app = CkptApp(str(tmp_path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        # the first pick: loading, and L does nothing until it is loaded
        await pick(app, pilot, first)
        await pilot.pause()
        assert app.loading and app.checkpoint is None
        assert isinstance(app.screen, MainScreen)
        assert "other_checkpoint" not in bindings_shown(app)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        held_load.set()
        await until(app, pilot, lambda: app.checkpoint is not None)
        assert not app.loading
        assert "other_checkpoint" in bindings_shown(app)
        # a later pick: the same
        held_load.clear()
        await pilot.press("L")
        await pilot.pause()
        other = "ps-tree.tar.gz" if first == "web-httpd.tar.zst" else "web-httpd.tar.zst"
        await pick(app, pilot, other)
        await pilot.pause()
        assert app.loading
        assert "other_checkpoint" not in bindings_shown(app)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        held_load.set()
        await until(app, pilot, lambda: not app.loading)
        assert app.path.name == other
        # q quits while a load runs, too
        held_load.clear()
        await pilot.press("L")
        await pilot.pause()
        await pick(app, pilot, first)
        await pilot.pause()
        assert app.loading
        held_load.set()  # the worker must be able to end for the app to exit
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pytest.mark.parametrize("where", ["picker", "repick", "pod"])
async def test_q_quits_from_the_lists(tmp_path, where):
    directory = pod_dir(tmp_path)
    app = CkptApp(str(directory), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        if where != "picker":
            await pick(app, pilot, "a-pod.tar")
            await until(app, pilot, lambda: isinstance(app.screen, ContainerPickerScreen))
        if where == "repick":
            await pilot.press("L")
            await pilot.pause()
            assert isinstance(app.screen, RepickScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0
