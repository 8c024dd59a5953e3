"""The UI opens every bad-input corpus case, shows the problem, and keeps working (issue #7);
a pod checkpoint lists its containers and each one is browsable (issue #5)."""

from __future__ import annotations

import json

import pytest

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.picker import ContainerPickerScreen
from ckpt_tui.widgets.table import FilterTable

from .corpus import CASES, build, unpack
from .test_ui_app import NOW, SIZE, screen_text, settle

# the very large cases are covered by the model tests; the UI ones stay fast
UI_CASES = [c for c in CASES if c.name not in ("many-processes", "deep-chain", "huge-cmdline")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-corpus")
    return {c.name: build(c, root / c.name) for c in UI_CASES}


async def _open(path):
    app = CkptApp(str(path), now=NOW)
    return app


@pytest.mark.parametrize("case", UI_CASES, ids=[c.name for c in UI_CASES])
async def test_ui_shows_the_problem(corpus, case):
    app = CkptApp(str(corpus[case.name]), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if app.checkpoint is not None or app.load_error:
                break
        assert app.load_error == "" and app.checkpoint is not None
        await pilot.press("8")  # Problems
        await pilot.pause()
        text = screen_text(app)
        if case.blame:
            assert case.blame.rstrip("-") in text, text
        # the rest stays browsable: every pane opens without an error
        for key in "1234567":
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        assert "sh" in screen_text(app)


async def test_pod_checkpoint_lists_and_opens_containers(tmp_path):
    import tarfile

    root = tmp_path / "pod"
    unpack("web-httpd.tar.zst", root / "aaa111-web")
    unpack("ps-tree.tar.gz", root / "bbb222-tree")
    (root / "pod.options").write_text(json.dumps({
        "version": 1, "containers": {"web": "aaa111-web", "tree": "bbb222-tree"},
        "annotations": {"org.criu.checkpoint.engine.name": "cri-o", "org.criu.checkpoint.pod.name": "mypod",
                        "org.criu.checkpoint.pod.namespace": "ns1"}}))
    archive = tmp_path / "pod.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    app = CkptApp(str(archive), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if isinstance(app.screen, ContainerPickerScreen):
                break
        assert isinstance(app.screen, ContainerPickerScreen)
        text = screen_text(app)
        assert "mypod" in text and "tree" in text and "web" in text
        table = app.screen.query_one(FilterTable)
        table.focus()
        # rows are in pod.options order sorted by name: tree, web
        await pilot.press("down")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.checkpoint is app.pod.containers[1]
        assert app.title.startswith("mypod / web")
        await pilot.press("2")
        await pilot.pause()
        assert "httpd" in screen_text(app)
        # P goes back to the pod's containers; the other one opens too
        await pilot.press("P")
        await pilot.pause()
        assert isinstance(app.screen, ContainerPickerScreen)
        app.screen.query_one(FilterTable).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.checkpoint.info.name == "tree"
        await pilot.press("2")
        await pilot.pause()
        assert "sleep" in screen_text(app)


async def test_overview_export_keeps_secrets_masked(tmp_path):
    from textual.widgets import Input

    from ckpt_tui.screens.dialogs import ExportScreen

    from .test_ui_app import DATA

    app = CkptApp(str(DATA / "ps-tree.tar.gz"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if app.checkpoint is not None:
                break
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        field = app.screen.query_one("#export-path", Input)
        field.value = str(tmp_path / "ck.json")
        await pilot.press("enter")
        await settle(app, pilot)
        text = (tmp_path / "ck.json").read_text()
        assert "hunter2" not in text and "DB_PASSWORD" in text
        assert "inspect-me" in text  # APP_MODE is no secret


async def test_file_hex_view_goto_offset_and_safe_text():
    from ckpt_tui.screens.dialogs import PromptScreen
    from ckpt_tui.screens.fileview import FileViewScreen
    from ckpt_tui.widgets.hexview import HexView

    from .test_ui_app import DATA, press_text

    app = CkptApp(str(DATA / "web-httpd.tar.zst"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if app.checkpoint is not None:
                break
        await app.goto_file("/root/blob.bin")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FileViewScreen) and app.screen.as_hex
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await press_text(pilot, "0x240")
        await pilot.press("enter")
        await pilot.pause()
        assert "000000000240" in screen_text(app)
        assert app.screen.query_one(HexView)
        # as text, the random bytes never reach the terminal raw
        await pilot.press("x")
        await settle(app, pilot)
        assert "\x1b" not in screen_text(app)
