"""Findings pane: what in the checkpoint deserves a look (``actions.scan``), most serious first,
and the waste score with its ranked list. The scan runs in a thread worker when the pane is
first shown; Enter on a finding opens what it links to (the memory at an address, a file of the
root FS diff, a process). Secrets are masked unless revealed (``S``: the session's
``secrets_revealed``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from ..actions.scan import LEVELS, Finding, Link, Report, at_or_above, scan
from ..messages import ScanFinished, ScanProgress
from ..text import safe
from . import format as fmt
from .base import ExportPayload, Pane, dumps
from .format import esc
from .table import FilterTable

LEVEL_ROLE = {"critical": "error", "high": "error", "medium": "warning", "low": "accent", "info": "muted"}


class FindingsPane(Pane):
    pane_id = "findings"
    title = "Findings"

    @dataclass
    class OpenLink(Message):
        """Enter on a finding: open the file or the process it names (the App opens memory)."""

        link: Link

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report: Report | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("[$text-muted]scanning… (secrets in every process's memory, every page)[/]",
                     id="findings-summary", classes="pane-summary")
        yield FilterTable(id="findings-table", copy_column=2)
        yield Static(id="finding-detail", classes="problem-detail")
        yield Static(id="findings-waste-title", classes="pane-summary")
        yield FilterTable(id="findings-waste", copy_column=1)

    def on_mount(self) -> None:
        self.query_one("#findings-table", FilterTable).setup(["Level", "Area", "Finding"])
        self.query_one("#findings-waste", FilterTable).setup(["Bytes", "Waste"])
        self.watch(self.session, "secrets_revealed", self._fill, init=False)
        self.run_scan(self.checkpoint)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False, description="scan")
    def run_scan(self, checkpoint: Any) -> None:
        worker = get_current_worker()
        started = time.monotonic()

        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(ScanProgress(stage, done, total))

        try:
            report = scan(checkpoint, cancelled=lambda: worker.is_cancelled, progress=progress)
        except Exception as exc:  # noqa: BLE001 - CkptError on bad input, a bug odd bytes met: say it, never crash
            self.post_message(ScanFinished(None, str(exc) or type(exc).__name__))
            return
        if not worker.is_cancelled:
            self.post_message(ScanFinished(report, elapsed=time.monotonic() - started))

    def on_scan_progress(self, message: ScanProgress) -> None:
        if self.report is None and not self.error:
            share = f" {100 * message.done // max(1, message.total)}%" if message.total else ""
            self.query_one("#findings-summary", Static).update(
                f"[$text-muted]scanning {esc(message.stage)}…{share}[/]")

    def on_scan_finished(self, message: ScanFinished) -> None:
        self.report, self.error = message.report, message.error
        self._fill()

    @property
    def revealed(self) -> bool:
        return self.session.secrets_revealed

    def _fill(self) -> None:
        summary = self.query_one("#findings-summary", Static)
        if self.report is None:
            summary.update(f"[$text-error]The scan failed:[/] {esc(self.error)}" if self.error else "")
            return
        report, reveal = self.report, self.revealed
        counts = report.counts()
        parts = [f"[$text-{LEVEL_ROLE[lv]}]{counts[lv]} {lv}[/]" for lv in reversed(LEVELS) if counts[lv]]
        high = len(at_or_above(report.findings, "high"))
        head = (f"{fmt.plural(len(report.findings), 'finding')}" + (f": {', '.join(parts)}" if parts else "")
                + (f"   [$text-error]{high} at high or above[/]" if high else ""))
        notes = "".join(f"\n[$text-muted]note: {esc(m)}[/]" for m in report.limits[:3])
        summary.update(f"{head}   [$text-muted]Enter opens it · S shows secrets[/]{notes}")
        table = self.query_one("#findings-table", FilterTable)
        table.copy_value = lambda f, cells: f"{f.id}: {f.text(self.revealed)}" if f else ""
        table.set_rows([(f.id, [(f.level, LEVEL_ROLE[f.level]), f.category, safe(f.text(reveal))], f)
                        for f in report.findings])
        w = report.waste
        self.query_one("#findings-waste-title", Static).update(
            f"[b]Efficiency {w.score:.1%}[/]: {fmt.size(w.wasted)} of {fmt.size(w.total)} is waste"
            + ("" if w.memory_scanned else " [$text-muted](memory not scanned)[/]"))
        self.query_one("#findings-waste", FilterTable).set_rows(
            [(str(i), [fmt.size(item.size), safe(item.title)], item) for i, item in enumerate(w.items)])
        self._detail(table.selected_payload)

    def _detail(self, f: Finding | None) -> None:
        detail = self.query_one("#finding-detail", Static)
        if f is None:
            detail.update("")
            return
        lines = [f"[b]{esc(f.id)}[/]  [$text-muted]{esc(f.level)} · {esc(f.category)} · {esc(f.where.text())}[/]"]
        if f.detail:
            lines.append(esc(safe(f.detail_text(self.revealed))))
        if f.count > 1:
            more = ", ".join(w.text() for w in f.also[:5])
            lines.append(f"[$text-muted]{fmt.plural(f.count, 'place')}; also {esc(more)}"
                         + (" …" if f.count - 1 > 5 else "") + "[/]")
        if f.link is not None:
            lines.append("[$text-muted]Enter: " + {"hex": "the memory there", "file": "the file",
                                                  "process": "the process"}[f.link.kind] + "[/]")
        detail.update("\n".join(lines))

    def on_data_table_row_highlighted(self, event: FilterTable.RowHighlighted) -> None:
        if event.data_table.id == "findings-table":
            event.stop()
            self._detail(self.query_one("#findings-table", FilterTable).payload_of(event.row_key))

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        if event.data_table.id != "findings-table":
            return
        event.stop()
        f = self.query_one("#findings-table", FilterTable).payload_of(event.row_key)
        if f is not None and f.link is not None:
            self.post_message(self.OpenLink(f.link))

    def show_target(self, target: object) -> None:
        """Select the finding with this id."""
        table = self.query_one("#findings-table", FilterTable)
        if isinstance(target, str) and target in table.payloads:
            table.move_cursor(row=table.get_row_index(target))

    def copy_text(self) -> str:
        return self.query_one("#findings-table", FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        if self.report is None:
            return None
        return "scan.json", dumps(self.report.to_json(reveal=self.revealed))
