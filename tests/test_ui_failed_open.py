"""A checkpoint that cannot be opened shows the error, and nothing on screen pretends to load."""

from __future__ import annotations

import random

import pytest
from textual.widgets import Static

from ckpt_tui.app import CkptApp

from .test_ui_app import NOW, SIZE, screen_text, settle


def empty(tmp_path):
    path = tmp_path / "empty.tar.zst"
    path.write_bytes(b"")
    return path


def noise(tmp_path):
    path = tmp_path / "noise.tar"
    path.write_bytes(random.Random(18).randbytes(64 * 1024))  # seeded: the same bytes every run
    return path


def zstd_junk(tmp_path):
    path = tmp_path / "junk.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"junk" * 100)  # zstd magic, then garbage
    return path


@pytest.mark.parametrize("make", [empty, noise, zstd_junk])
async def test_a_failed_open_shows_the_error_and_nothing_loading(tmp_path, make):
    path = make(tmp_path)
    app = CkptApp(str(path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            await settle(app, pilot)
            if app.load_error:
                break
        assert app.load_error and app.checkpoint is None and not app.loading
        text = screen_text(app)
        assert "could not be opened" in text and f"cannot open: {app.load_error[:20]}" in text
        assert "loading" not in text  # no box, line or header pretending to load
        overview = app.main.query_one("#pane-overview")
        shown = [w.id for w in overview.query(Static) if w.display]
        assert shown == ["ov-container"]  # Sizes, Network, Stats, Annotations, Problems: not there
        # the other sections say the same, without a promise
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(app)
        assert "Not available: the checkpoint could not be opened" in text
        assert "appears as soon as" not in text and "loading" not in text
        await pilot.press("q")
    assert app.return_code == 1
