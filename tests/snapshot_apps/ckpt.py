"""Builds the app for snapshot tests: a fixture, a frozen clock, and the steps to reach a pane."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ckpt_tui.app import CkptApp

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)  # humanized times never move


def make_app(fixture: str | None, **kwargs) -> CkptApp:
    return CkptApp(str(DATA / fixture) if fixture else None, now=NOW, **kwargs)


async def wait_loaded(pilot) -> None:
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.checkpoint is not None or app.load_error:
            break
    await pilot.pause()


def steps(*keys: str, then=None):
    """A run_before for snap_compare: wait for the load, press keys, run ``then(app)``, settle."""

    async def run_before(pilot) -> None:
        await wait_loaded(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        if then is not None:
            result = then(pilot.app)
            if hasattr(result, "__await__"):
                await result
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()

    return run_before
