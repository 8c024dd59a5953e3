"""Quitting the way people do (ctrl+c anywhere, q in the help too), and --readonly saying
what it does: a READONLY marker, and b / r say why they do nothing."""

from __future__ import annotations

import pytest

from ckpt_tui.screens.dialogs import ConfirmScreen, PromptScreen
from ckpt_tui.screens.help import HelpScreen
from ckpt_tui.screens.memory import SearchScreen

from .test_ui_app import running, screen_text


async def open_where(app, pilot, where: str) -> None:
    if where == "help":
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
    elif where == "prompt":  # an input has the focus, with nothing selected to copy
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
    elif where == "search":
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
    elif where == "processes":
        await pilot.press("2")
        await pilot.pause()


@pytest.mark.parametrize("where", ["main", "processes", "help", "prompt", "search"])
async def test_ctrl_c_quits(where):
    async with running("web-httpd.tar.zst") as (app, pilot):
        await open_where(app, pilot, where)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_q_quits_from_the_help():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await open_where(app, pilot, "help")
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_escape_still_closes_the_help():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await open_where(app, pilot, "help")
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running and not isinstance(app.screen, HelpScreen)


async def test_readonly_shows_a_marker_and_says_why_build_and_restore_do_nothing():
    async with running("web-httpd.tar.zst", readonly=True) as (app, pilot):
        assert "READONLY" in app.sub_title
        assert "READONLY" in screen_text(app)
        for key, words in (("b", "building an image"), ("r", "restoring")):
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (ConfirmScreen, PromptScreen))
            said = [n.message for n in app._notifications]
            assert any("--readonly" in m and words in m for m in said), said
    async with running("web-httpd.tar.zst") as (app, pilot):
        assert "READONLY" not in app.sub_title and "READONLY" not in screen_text(app)


async def test_ctrl_c_cancels_a_running_build_or_restore_first():
    """On the run screen ctrl+c is the shell's: it stops the command; once it has ended, it quits."""
    from ckpt_tui.screens.run import RunScreen

    async with running("web-httpd.tar.zst") as (app, pilot):
        screen = RunScreen("Restoring", "podman container restore ...")
        app.push_screen(screen)
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert screen.cancelled and app.is_running
        screen.finish(False, "cancelled")
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
