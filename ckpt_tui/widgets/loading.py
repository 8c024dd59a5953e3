"""The line above the detail pane while a checkpoint opens: what is read, how far, or why it failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from .format import esc

if TYPE_CHECKING:  # pragma: no cover
    from ..ui.session import Session


class LoadingLine(Horizontal):
    """Follows the session: shown until a checkpoint is open, the error once an open failed."""

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def compose(self) -> ComposeResult:
        yield Label("loading…", id="loading-label")
        yield ProgressBar(total=None, show_eta=False, id="loading-bar")

    def on_mount(self) -> None:
        for name in ("checkpoint", "status", "error"):
            self.watch(self.session, name, self._update, init=False)
        self._update()

    def _update(self) -> None:
        s = self.session
        self.display = s.checkpoint is None
        label = self.query_one("#loading-label", Label)
        bar = self.query_one("#loading-bar", ProgressBar)
        if s.error:
            label.update(f"cannot open: {esc(s.error)}")
            label.add_class("-error")
            bar.display = False
            return
        label.remove_class("-error")
        label.update(esc(s.status.text))
        bar.display = True
        if s.status.total:
            bar.update(total=s.status.total, progress=s.status.done or 0)
        else:
            bar.update(total=None)
