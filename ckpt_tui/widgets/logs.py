"""Logs & stats: dump.log / restore.log / --log files with errors marked, diagnosis, statistics."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Select, Static

from ..actions.diagnose import Diagnosis, diagnose
from . import format as fmt
from .base import Pane
from .format import esc
from .textview import TextView

ERROR_LINE = re.compile(r"\bError\b|\bFAILED\b|\berror:|\bfailed\b", re.IGNORECASE)
WARN_LINE = re.compile(r"\bWarn(ing)?\b", re.IGNORECASE)


def error_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if ERROR_LINE.search(line)]


def render_diagnosis(diagnosis: Any) -> str:
    """Markup for what actions.diagnose returned (a Diagnosis; anything else generically)."""
    if diagnosis is None:
        return ""
    if hasattr(diagnosis, "causes") and hasattr(diagnosis, "errors"):
        lines = []
        head = getattr(diagnosis, "summary", "") or ""
        outcome = getattr(diagnosis, "outcome", "")
        operation = getattr(diagnosis, "operation", "")
        meta = " · ".join(p for p in (operation, outcome, getattr(diagnosis, "criu_version", "")) if p and p != "unknown")
        if head:
            lines.append(f"[b]{esc(head)}[/]" + (f"  [$text-muted]{esc(meta)}[/]" if meta else ""))
        for cause in diagnosis.causes:
            lines.append(f"[$text-error]✗ {esc(cause.title)}[/]")
            if cause.explanation:
                lines.append(f"  {esc(cause.explanation)}")
            if cause.fix:
                lines.append(f"  [b]Fix:[/] {esc(cause.fix)}")
            if cause.evidence_line:
                lines.append(f"  [$text-muted]line {cause.evidence_line}: {esc(cause.evidence)}[/]")
        errors = [e for e in diagnosis.errors if getattr(e, "level", "Error") == "Error"]
        harmless = [e for e in errors if getattr(e, "note", "") == "harmless"]
        if errors:
            text = fmt.plural(len(errors), "error line")
            if harmless:
                text += f" ({fmt.count(len(harmless))} harmless)"
            lines.append(f"[$text-muted]{text} · e jumps to the first, E to the next[/]")
        return "\n".join(lines)
    if isinstance(diagnosis, str):
        return esc(diagnosis)
    if is_dataclass(diagnosis):
        items = [(f.name, getattr(diagnosis, f.name)) for f in fields(diagnosis)]
    elif isinstance(diagnosis, dict):
        items = list(diagnosis.items())
    else:
        return esc(str(diagnosis))
    lines = []
    for name, value in items:
        if value in (None, "", [], {}):
            continue
        if isinstance(value, (list, tuple)):
            lines.append(f"[b]{esc(name)}[/]")
            for item in value:
                lines.append(f"  • {esc(str(item))}")
        else:
            lines.append(f"[b]{esc(name)}[/]  {esc(str(value))}")
    return "\n".join(lines)


def diagnose_text(text: str, checkpoint: Any) -> Diagnosis | Exception:
    """The diagnosis of a log, or what stopped it (the diagnosis is a help, never a crash)."""
    try:
        return diagnose(text, checkpoint)
    except Exception as exc:  # noqa: BLE001  (a log's bytes met a bug in the rules: said, the pane stays)
        return exc


def failed_log(checkpoint: Any) -> tuple[str, Diagnosis] | None:
    """(name, diagnosis) of the first log that records a failed CRIU run — a ``--log`` file
    first, then the checkpoint's own logs — or None when none does."""
    for log in sorted(checkpoint.logs, key=lambda lf: not lf.external):
        if not ERROR_LINE.search(log.text):
            continue  # nothing failed in it: not worth a diagnosis
        result = diagnose_text(log.text, checkpoint)
        if isinstance(result, Diagnosis) and result.outcome == "failure" and result.causes:
            return _short(log.name), result
    return None


def _short(name: str) -> str:
    """A log's name for labels: members keep their path, external files their base name."""
    return name.rsplit("/", 1)[-1] if name.startswith("/") else name


class LogView(TextView):
    BINDING_GROUP_TITLE = "Log view"
    BINDINGS = [Binding("e", "first_error", "Error", tooltip="First error line", id="logs.first_error"),
                Binding("E", "next_error", "Next error", tooltip="Next error line", id="logs.next_error")]

    def action_first_error(self) -> None:
        errors = sorted(self.marked)
        if not errors:
            self.notify("No error lines in this log.", timeout=3)
            return
        self.goto_line(errors[0])

    def action_next_error(self) -> None:
        errors = sorted(i for i in self.marked if i > self.cursor_line)
        if errors:
            self.goto_line(errors[0])
        else:
            self.action_first_error()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("first_error", "next_error"):
            return True if self.marked else None
        return super().check_action(action, parameters)


class LogsPane(Pane):
    pane_id = "logs"
    title = "Logs & stats"

    def __init__(self, checkpoint, **kwargs: Any) -> None:
        super().__init__(checkpoint, **kwargs)
        self.log_index = 0

    def compose(self):
        yield Static(id="logs-stats", classes="pane-summary")
        logs = self.checkpoint.logs
        if logs:
            options = [(Text(f"{_short(lf.name)}{' (--log)' if lf.external else ''}  "
                             f"({fmt.plural(len(error_lines(lf.text.splitlines())), 'error line')})"), i)
                       for i, lf in enumerate(logs)]
            yield Select(options, allow_blank=False, id="logs-select", value=self._default_log())
        yield LogView(id="logs-view")
        yield Static(id="logs-diagnosis", classes="diagnosis")

    def _default_log(self) -> int:
        logs = self.checkpoint.logs
        # an external log given with --log, else the first one with errors, else the first
        for i, lf in enumerate(logs):
            if lf.external:
                return i
        for i, lf in enumerate(logs):
            if error_lines(lf.text.splitlines()) and lf.text.strip():
                return i
        for i, lf in enumerate(logs):
            if lf.text.strip():
                return i
        return 0

    def on_mount(self) -> None:
        cp = self.checkpoint
        parts = []
        if cp.stats:
            parts.append("[b]dump stats[/] " + "  ".join(
                f"[$text-muted]{esc(k)}[/] {esc(fmt.stat_value(k, v))}" for k, v in cp.stats.items()))
        if cp.restore_stats:
            parts.append("[b]restore[/] " + "  ".join(
                f"[$text-muted]{esc(k)}[/] {esc(fmt.stat_value(k, v))}" for k, v in cp.restore_stats.items()))
        self.query_one("#logs-stats", Static).update("\n".join(parts) or "[$text-muted](no statistics)[/]")
        if cp.logs:
            self.show_log(self._default_log())
        else:
            self.query_one(LogView).set_lines([Text("(no logs in this checkpoint; pass --log FILE to add one)")])
            self.query_one("#logs-diagnosis", Static).display = False

    def show_log(self, index: int) -> None:
        logs = self.checkpoint.logs
        if not (0 <= index < len(logs)):
            return
        self.log_index = index
        log = logs[index]
        lines = [line.expandtabs(8) for line in log.text.splitlines()] or ["(empty)"]
        errors = error_lines(lines)
        view = self.query_one(LogView)
        view.set_lines(lines, marked=errors)
        view.border_title = (f"{_short(log.name)} — {fmt.plural(len(lines), 'line')}, "
                             f"{fmt.plural(len(errors), 'error line')} (e: first error)")
        self.refresh_bindings()
        self._diagnose(log.text)

    def _diagnose(self, text: str) -> None:
        widget = self.query_one("#logs-diagnosis", Static)
        result = diagnose_text(text, self.checkpoint)
        if isinstance(result, Exception):
            widget.update(f"[$text-warning]diagnosis failed: {esc(str(result))}[/]")
            widget.display = True
            return
        body = render_diagnosis(result)
        widget.display = bool(body)
        widget.set_class(bool(getattr(result, "causes", None)), "-failed")
        widget.border_title = "Diagnosis"
        widget.update(body)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int):
            self.show_log(event.value)

    def copy_text(self) -> str:
        return self.query_one(LogView).copy_text()

    def export_payload(self):
        logs = self.checkpoint.logs
        if not logs:
            return None
        log = logs[self.log_index]
        return log.name.replace("/", "_"), log.text
