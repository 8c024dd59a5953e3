"""The Findings pane, driven with Pilot: the scan runs in a worker, secrets stay masked until S,
Enter opens what a finding links to. The checkpoints are the planted ones of tests/scankit.py
(derived from the real fixtures with the project's image writer)."""

from __future__ import annotations

import json

import pytest

from ckpt_tui.app import CkptApp
from ckpt_tui.model.masking import MASK
from ckpt_tui.screens.fileview import FileViewScreen
from ckpt_tui.screens.memory import HexScreen
from ckpt_tui.widgets.findings import FindingsPane
from ckpt_tui.widgets.hexview import HexView
from ckpt_tui.widgets.processes import ProcessPane
from ckpt_tui.widgets.table import FilterTable

from . import scankit
from .test_ui_app import NOW, SIZE, screen_text, settle


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    base = tmp_path_factory.mktemp("uiscan")
    return {"intruder": scankit.intruder(base / "intruder"), "tampered": scankit.tampered_rootfs(base / "tampered")}


async def _findings(path):
    """The app on ``path`` with the Findings pane shown and its scan done."""
    app = CkptApp(str(path), now=NOW)
    ctx = app.run_test(size=SIZE, notifications=True)
    pilot = await ctx.__aenter__()
    for _ in range(100):
        await settle(app, pilot)
        if app.checkpoint is not None:
            break
    await pilot.press("9")  # the Findings section
    for _ in range(200):
        await settle(app, pilot)
        pane = app.main.current_pane
        if isinstance(pane, FindingsPane) and (pane.report is not None or pane.error):
            break
    return app, pilot, ctx


async def _select(app, pilot, finding_id: str) -> None:
    pane = app.main.current_pane
    table = pane.query_one("#findings-table", FilterTable)
    pane.show_target(finding_id)
    table.focus()
    await pilot.pause()
    assert table.selected_payload.id == finding_id


async def test_findings_masked_until_revealed(planted):
    app, pilot, ctx = await _findings(planted["intruder"])
    try:
        pane = app.main.current_pane
        assert isinstance(pane, FindingsPane) and not pane.error
        table = pane.query_one("#findings-table", FilterTable)
        assert table.row_count == len(pane.report.findings) >= 7
        text = screen_text(app)
        assert "5 at high or above" in text and "Efficiency" in text and scankit.AWS_KEY not in text

        def row(finding_id: str) -> str:
            return str(table.get_row(finding_id)[2])

        aws = "secret-in-environment:pid=1:AWS_ACCESS_KEY_ID"
        assert row(aws).endswith(MASK) and scankit.AWS_KEY not in row(aws)
        await pilot.press("S")
        await settle(app, pilot)
        assert row(aws).endswith(scankit.AWS_KEY)
        name, content = pane.export_payload()
        assert name == "scan.json" and json.loads(content)["findings"][0]["masked"] is False
        await pilot.press("S")
        await settle(app, pilot)
        assert row(aws).endswith(MASK) and scankit.AWS_KEY not in pane.export_payload()[1]
    finally:
        await ctx.__aexit__(None, None, None)


async def test_enter_on_a_memory_secret_opens_the_hex_view_there(planted):
    app, pilot, ctx = await _findings(planted["intruder"])
    try:
        await _select(app, pilot, f"secret-in-memory:pid=1:{scankit.PEM_ADDRESS:#x}")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, HexScreen) and app.screen.pid == 1
        assert app.screen.query_one(HexView).cursor_address == scankit.PEM_ADDRESS
    finally:
        await ctx.__aexit__(None, None, None)


async def test_enter_on_a_process_finding_opens_the_process(planted):
    app, pilot, ctx = await _findings(planted["intruder"])
    try:
        await _select(app, pilot, "late-network-tool:pid=8")
        await pilot.press("enter")
        await settle(app, pilot)
        pane = app.main.current_pane
        assert isinstance(pane, ProcessPane) and app.session.current_pid == 8
    finally:
        await ctx.__aexit__(None, None, None)


async def test_enter_on_a_file_secret_opens_the_file(planted):
    app, pilot, ctx = await _findings(planted["tampered"])
    try:
        await _select(app, pilot, "secret-in-file:/root/.ssh/id_rsa:+0")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FileViewScreen) and app.screen.path == "root/.ssh/id_rsa"
    finally:
        await ctx.__aexit__(None, None, None)


async def test_a_failing_scan_says_so(planted, monkeypatch):
    import ckpt_tui.widgets.findings as findings

    def broken(*args, **kwargs):
        raise ValueError("odd bytes")

    monkeypatch.setattr(findings, "scan", broken)
    app, _pilot, ctx = await _findings(planted["intruder"])
    try:
        assert "The scan failed: odd bytes" in screen_text(app)
        assert app.main.current_pane.export_payload() is None
    finally:
        await ctx.__aexit__(None, None, None)
