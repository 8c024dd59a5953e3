"""The inspector's palette exports the report ``ckpt-tui report`` writes (driven with Pilot)."""

from __future__ import annotations

from textual.widgets import Input

from ckpt_tui.actions.report import report_name
from ckpt_tui.screens.dialogs import ExportScreen

from .test_ui_app import press_text, running, settle


async def test_palette_exports_the_report_as_html_and_markdown(tmp_path):
    async with running("ps-tree.tar.gz") as (app, pilot):
        for label, suffix in (("export report (HTML)", "html"), ("export report (Markdown)", "md")):
            await pilot.press("ctrl+p")
            await pilot.pause()
            await press_text(pilot, label)
            await pilot.pause(0.3)
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, ExportScreen)
            path = app.screen.query_one("#export-path", Input)
            assert path.value.endswith(report_name(app.checkpoint, suffix)) and path.value.endswith(f"tree-report.{suffix}")
            target = tmp_path / f"r.{suffix}"
            path.value = str(target)
            await pilot.press("enter")
            await settle(app, pilot)
            text = target.read_text()
            assert "Checkpoint report: tree" in text and "Restore verdict and preflight" in text
            assert "hunter2" not in text and "PASSWORD" in text  # masked, as the command writes it
        assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
        assert (tmp_path / "r.md").read_text().startswith("# Checkpoint report: tree")
