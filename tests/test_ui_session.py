"""The session holds the UI's state and the widgets follow it: a load goes loading -> loaded,
a checkpoint picked from the list loads beside the open one and replaces it, a pick that
fails keeps the open one, and setting the session is all it takes to change what is shown."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Label, ProgressBar

import ckpt_tui.model
from ckpt_tui.app import CkptApp
from ckpt_tui.screens.main import MainScreen
from ckpt_tui.screens.picker import PickerScreen, RepickScreen
from ckpt_tui.ui.session import LoadStatus
from ckpt_tui.widgets.loading import LoadingLine
from ckpt_tui.widgets.navtree import NavTree
from ckpt_tui.widgets.processes import EnvTable

from .test_ui_app import NOW, SIZE, running, screen_text, settle
from .test_ui_picker_switching import bad_dir, pick, until

DATA = Path(__file__).parent / "data"


def loading_text(app) -> str:
    return str(app.main.query_one("#loading-label", Label).render())


async def test_loading_then_loaded_then_switched_then_a_failed_pick_keeps_the_open_one(tmp_path, held_load):
    gate = held_load
    directory = bad_dir(tmp_path)  # web-httpd.tar.zst and a broken xx-bad.tar.zst
    (directory / "ps-tree.tar.gz").symlink_to(DATA / "ps-tree.tar.gz")
    app = CkptApp(str(directory), now=NOW)
    session = app.session
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(app, pilot, lambda: isinstance(app.screen, PickerScreen))
        assert session.listing is not None and session.listing.directory == directory
        assert [p.name for p, _meta in session.listing.entries] == ["ps-tree.tar.gz", "web-httpd.tar.zst",
                                                                    "xx-bad.tar.zst"]

        # loading: the session says so, and the loading line and the overview show it
        await pick(app, pilot, "web-httpd.tar.zst")
        await pilot.pause()
        assert session.loading and session.checkpoint is None
        assert session.path == directory / "web-httpd.tar.zst"
        assert isinstance(app.screen, MainScreen)
        assert app.main.query_one(LoadingLine).display
        assert "opening web-httpd.tar.zst" in loading_text(app)
        assert "loading…" in screen_text(app)

        # loaded
        gate.set()
        await until(app, pilot, lambda: session.checkpoint is not None)
        web = session.checkpoint
        assert not session.loading and session.error == "" and web.info.name == "web"
        assert not app.main.query_one(LoadingLine).display
        assert app.main.query_one(NavTree).checkpoint is web
        assert "loading…" not in screen_text(app)
        await pilot.press("2")
        await pilot.pause()
        assert "httpd" in screen_text(app)

        # a switch from the list: the open one stays (and is what everything acts on) until
        # the picked one has loaded
        gate.clear()
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, RepickScreen)
        await pick(app, pilot, "ps-tree.tar.gz")
        await pilot.pause()
        assert session.loading and session.switching_to == directory / "ps-tree.tar.gz"
        assert session.checkpoint is web and session.path == directory / "web-httpd.tar.zst"
        assert "opening ps-tree.tar.gz…" in app.sub_title
        assert "httpd" in screen_text(app)  # still web's processes
        gate.set()
        await until(app, pilot, lambda: session.checkpoint is not web and not session.loading)
        tree = session.checkpoint
        assert tree is not None and tree.info.name == "tree"
        assert session.path == directory / "ps-tree.tar.gz" and session.switching_to is None
        assert web.source.closed  # the one replaced is closed (its temp files go)
        assert app.main.current == "processes" and "httpd" not in screen_text(app)  # new panes
        assert "opening" not in app.sub_title

        # a pick that cannot be opened: a notification, and the open one stays, unchanged
        title, sub_title = app.title, app.sub_title
        await pilot.press("L")
        await pilot.pause()
        await pick(app, pilot, "xx-bad.tar.zst")
        await until(app, pilot, lambda: not session.loading)
        await pilot.pause()
        assert session.checkpoint is tree and session.error == "" and session.switching_to is None
        assert session.path == directory / "ps-tree.tar.gz"
        assert (app.title, app.sub_title) == (title, sub_title)
        assert any("xx-bad.tar.zst" in n.title for n in app._notifications)
        assert not tree.source.closed


async def test_widgets_follow_the_session():
    """Setting the session is all it takes: nobody calls the widgets."""
    async with running("ps-tree.tar.gz") as (app, pilot):
        session = app.session
        pid = next(p.pid for p in session.checkpoint.process_list() if any(v.name == "DB_PASSWORD" for v in p.env))
        await app.goto_process(pid, "tab-env")
        await pilot.pause()
        assert session.current_pid == pid  # the screen records the process it shows
        env = app.main.current_pane.query_one(EnvTable)
        assert "hunter2" not in screen_text(app)
        session.secrets_revealed = True
        await pilot.pause()
        assert "hunter2" in screen_text(app)
        session.secrets_revealed = False
        await pilot.pause()
        assert "hunter2" not in screen_text(app) and env.row_count

        # the Memory pane opens on the process last shown
        await pilot.press("3")
        await pilot.pause()
        assert app.main.current_pane.pid == pid

        # nothing open: the loading line shows the session's status, then its error
        line = app.main.query_one(LoadingLine)
        session.checkpoint = None
        session.status = LoadStatus("reading something", 5, 10)
        await pilot.pause()
        assert line.display and loading_text(app) == "reading something"
        bar = line.query_one(ProgressBar)
        assert bar.total == 10 and bar.progress == 5
        session.error = "it broke"
        await pilot.pause()
        assert loading_text(app) == "cannot open: it broke" and not bar.display
        assert "could not be opened" in screen_text(app) and "it broke" in screen_text(app)
        assert app.title == session.path.name and "cannot open" in app.sub_title  # the header follows too


async def test_a_load_that_raises_something_unexpected_is_a_failed_open(monkeypatch):
    """Not a CkptError (a reader bug odd bytes met): the open fails with the error in words;
    nothing is left 'loading…' and q says the checkpoint could not be opened (exit 1)."""

    def broken(*args, **kwargs):
        raise RuntimeError("decoder fell over")

    monkeypatch.setattr(ckpt_tui.model, "load_checkpoint", broken)
    app = CkptApp(str(DATA / "web-httpd.tar.zst"), now=NOW)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(app, pilot, lambda: bool(app.session.error))
        assert app.session.error == "RuntimeError: decoder fell over"
        assert not app.session.loading
        text = screen_text(app)
        assert "could not be opened" in text and "loading…" not in text
        await pilot.press("q")
        await settle(app, pilot)
    assert app.return_code == 1


async def test_every_problem_area_is_a_section_a_problem_link_lands_on():
    from ckpt_tui.errors import Pane
    from ckpt_tui.widgets.problems import ProblemsPane

    async with running("broken-missing-pages.tar") as (app, pilot):
        await pilot.press("8")
        await pilot.pause()
        problems = app.main.current_pane
        assert isinstance(problems, ProblemsPane)
        for area in Pane:
            problems.post_message(ProblemsPane.GoToPane(area, "somewhere"))
            await pilot.pause()
            assert app.main.current == area.value, area
            assert app.main.query_one(NavTree).cursor_node.data.kind == area.value


async def test_the_environment_masks_what_the_masking_rules_say_and_follows_the_session():
    """Names and values, as model/masking decides for the CLI too (made-up token, not a real one)."""
    from ckpt_tui.model.types import EnvVar
    from ckpt_tui.ui.session import Session

    from .test_ui_widgets import Host

    token = "ghp_" + "A1b2C3d4E5" * 4  # the shape of a GitHub token under a harmless name
    env = [EnvVar("NOTE", token, f"NOTE={token}"), EnvVar("DB_PASSWORD", "hunter2", "DB_PASSWORD=hunter2"),
           EnvVar("HOME", "/root", "HOME=/root")]
    session = Session(Path("hand-made"))
    table = EnvTable(session)
    async with Host(table).run_test(size=(100, 10)) as pilot:
        table.load(env)
        await pilot.pause()

        def shown() -> dict[str, str]:
            return {str(table.get_row(k)[0]): str(table.get_row(k)[1]) for k in table.payloads}

        assert token not in shown()["NOTE"] and "hunter2" not in shown()["DB_PASSWORD"]
        assert shown()["HOME"] == "/root"
        session.secrets_revealed = True
        await pilot.pause()
        assert shown()["NOTE"] == token and shown()["DB_PASSWORD"] == "hunter2"
        session.secrets_revealed = False
        await pilot.pause()
        assert token not in shown()["NOTE"]
