"""The inspector on every hostile case (issue #19: the archive layer's, tests/hostile_corpus.py,
and the model's, tests/hostile_model.py), driven with Pilot: it opens (or says why it cannot),
shows the problem that names the bound or damage, every section opens, and ``q`` quits with
the app's exit code (0; 1 for a source that could not be opened at all). An exception in the
app fails the test (Pilot re-raises it). Times are not asserted (bench/hostile.py)."""

from __future__ import annotations

import pytest

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.picker import ContainerPickerScreen
from ckpt_tui.widgets.table import FilterTable
from tests import hostile_model as hm

from .test_ui_app import NOW, screen_text, settle

SIZE = (160, 50)
SLOW = {"many-members", "tiny-entries", "many-threads", "fds-missing-ids", "pstree-chain", "pstree-loop", "memfds",
        "ttys", "gzip-members", "ratio-bomb", "pax-pileup", "long-names", "empty-entries"}


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-ui")


async def _opened(app, pilot) -> None:
    for _ in range(600):
        await settle(app, pilot)
        if app.load_error or app.checkpoint is not None or isinstance(app.screen, ContainerPickerScreen):
            return
    raise AssertionError("the app neither opened the checkpoint nor said why not")


async def _problem_shown(app, pilot, words: str) -> str:
    """The Problems section, filtered to ``words`` (what a person types after ``/``), its first
    row selected: the screen then shows the whole message under the table."""
    await pilot.press("8")
    await pilot.pause()
    table = app.main.query_one("#problems-table", FilterTable)
    table.set_filter(words)
    table.focus()
    await pilot.pause()
    await pilot.press("home")
    await pilot.pause()
    return screen_text(app)


@pytest.mark.parametrize("name", [pytest.param(c.name, marks=pytest.mark.slow) if c.name in SLOW else c.name
                                  for c in hm.ALL])
async def test_the_inspector_opens_every_hostile_case_and_quits(corpus_root, name):
    case = hm.ALL_BY_NAME[name]
    path = hm.build(case, corpus_root)
    app = CkptApp(str(path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await _opened(app, pilot)
        if app.load_error:  # nothing could be opened: the error is the message
            assert case.blame and case.blame in app.load_error, app.load_error
            assert "could not be opened" in screen_text(app)
            await pilot.press("q")
        else:
            if isinstance(app.screen, ContainerPickerScreen):  # a pod: its first container
                app.screen.query_one(FilterTable).focus()
                await pilot.press("enter")
                await settle(app, pilot)
            assert app.checkpoint is not None
            top = app.session.top
            if case.blame:
                assert any(case.blame in f"{p.source} {p.message}" for p in top.problems), \
                    [p.message for p in top.problems][:20]
                if app.checkpoint is top:  # (a pod's own problems are the pod's, not a container's)
                    shown = await _problem_shown(app, pilot, case.blame)
                    assert case.blame[:40] in shown, shown
            for key in "12345679":  # every section opens
                await pilot.press(key)
                await pilot.pause()
            await pilot.press("q")
    assert app.return_code == (1 if app.load_error else 0)
