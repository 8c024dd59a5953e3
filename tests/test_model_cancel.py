"""Building the model stops when the caller says so (the user quit while loading)."""

from __future__ import annotations

import pytest

from ckpt_tui.archive import Workspace
from ckpt_tui.errors import Cancelled
from ckpt_tui.model import load_checkpoint

from .conftest import DATA


@pytest.mark.parametrize("after", [0, 1, 5])
def test_cancel_stops_the_build_and_cleans_up(after):
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > after

    ws = Workspace()
    with pytest.raises(Cancelled):
        load_checkpoint(DATA / "web-httpd.tar.zst", workspace=ws, cancelled=cancelled)
    assert len(asked) == after + 1  # stopped at the first "yes"
    ws.cleanup()


def test_never_cancelled_builds_everything():
    asked = []
    with load_checkpoint(DATA / "web-httpd.tar.zst", cancelled=lambda: asked.append(1) or False) as ck:
        assert ck.processes and ck.rootfs.entries
    assert len(asked) >= 10  # once per step at least


def test_cancelled_is_not_turned_into_a_problem():
    """The loaders' catch-all handlers record problems and go on; a cancel must get through."""
    assert not issubclass(Cancelled, Exception)
