"""Streams the output of a build or restore while it runs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Log, Static

from ..widgets.format import esc


class RunScreen(Screen[None]):
    BINDING_GROUP_TITLE = "Running"
    BINDINGS = [
        Binding("escape", "close", "Back", id="run.close"),
        Binding("ctrl+c", "cancel", "Cancel", id="run.cancel"),
    ]

    def __init__(self, title: str, command: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.command = command
        self.finished = False
        self.cancelled = False
        self.sub_title = title

    def compose(self) -> ComposeResult:
        yield Header()
        body = f"[b]{esc(self.title_text)}[/]"
        if self.command:
            body += f"\n[$text-muted]$ {esc(self.command)}[/]"
        yield Static(body, id="run-title", classes="pane-summary")
        yield Log(id="run-log", highlight=False)
        yield Static("running…", id="run-status", classes="status-line")
        yield Footer(compact=True)

    def write(self, line: str) -> None:
        self.query_one(Log).write_line(line.rstrip("\n"))

    def finish(self, ok: bool, detail: str = "") -> None:
        self.finished = True
        status = self.query_one("#run-status", Static)
        if ok:
            status.update(f"[$text-success]done[/] {esc(detail)}")
        else:
            status.update(f"[$text-error]failed[/] {esc(detail)}  [$text-muted](see Logs & stats for a "
                          "diagnosis)[/]")
        self.refresh_bindings()

    def action_cancel(self) -> None:
        self.cancelled = True
        self.query_one("#run-status", Static).update("cancelling…")

    def action_close(self) -> None:
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return None if self.finished else True
        return True
