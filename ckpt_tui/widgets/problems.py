"""Problems pane: everything missing or unreadable; Enter goes to the pane it affects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from .. import errors
from . import format as fmt
from .base import ExportPayload, Pane, dumps, to_jsonable
from .format import esc
from .table import FilterTable

SEVERITY_ROLE = {"error": "error", "warning": "warning", "info": "muted"}


class ProblemsPane(Pane):
    pane_id = "problems"
    title = "Problems"

    @dataclass
    class GoToPane(Message):
        pane: errors.Pane  # the area the problem affects
        source: str
        pid: int | None = None  # the process the problem names, if any

    def compose(self) -> ComposeResult:
        yield Static(id="problems-summary", classes="pane-summary")
        yield FilterTable(id="problems-table", copy_column=3)
        yield Static(id="problem-detail", classes="problem-detail")

    def on_mount(self) -> None:
        problems = self.checkpoint.problems
        table = self.query_one(FilterTable)
        table.setup(["Severity", "Pane", "Source", "Problem"])
        table.copy_value = lambda p, cells: f"{p.source}: {p.message}" if p else ""
        table.set_rows([
            (str(i), [(p.severity, SEVERITY_ROLE.get(p.severity, "")), (f"→ {p.pane}", "accent"), p.source, p.message],
             p)
            for i, p in enumerate(problems)
        ])
        errors = sum(1 for p in problems if p.severity == "error")
        warnings = sum(1 for p in problems if p.severity == "warning")
        if problems:
            notes = len(problems) - errors - warnings
            text = (f"[$text-error]{fmt.plural(errors, 'error')}[/], "
                    f"[$text-warning]{fmt.plural(warnings, 'warning')}[/], {fmt.plural(notes, 'note')}   "
                    "[$text-muted]Enter goes to the affected pane[/]")
        else:
            text = "[$text-success]No problems found in this checkpoint.[/]"
        self.query_one("#problems-summary", Static).update(text)

    def on_data_table_row_highlighted(self, event: FilterTable.RowHighlighted) -> None:
        event.stop()
        problem = self.query_one(FilterTable).payload_of(event.row_key)
        detail = self.query_one("#problem-detail", Static)
        if problem is None:
            detail.update("")
            return
        detail.update(f"[b]{esc(problem.source or '(no member)')}[/]  [$text-muted]{esc(problem.severity)} · "
                      f"affects {esc(problem.pane)} · Enter goes there[/]\n{esc(problem.message)}")

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        event.stop()
        problem = self.query_one(FilterTable).payload_of(event.row_key)
        if problem is not None:
            found = re.search(r"\bpid (\d+)", problem.message)
            pid = int(found.group(1)) if found else None
            self.post_message(self.GoToPane(problem.pane, problem.source, pid))

    def copy_text(self) -> str:
        return self.query_one(FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        return "problems.json", dumps(to_jsonable(self.checkpoint.problems))
