"""Base classes of the detail panes, and what ``ctrl+s`` exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, time
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Tabs

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..ui.session import Session


@dataclass
class ExportRequest:
    """What ``ctrl+s`` writes: fixed content, or a memory range of a process read on demand."""

    default_name: str
    content: bytes | str | None = None
    pid: int | None = None
    start: int = 0
    end: int = 0
    what: str = ""  # words for the prompt: "the selected VMA", "pane as JSON" ...
    producer: Callable[[], bytes | str] | None = None  # slow content, made in the export worker

    @property
    def is_memory(self) -> bool:
        return self.pid is not None


# (default file name, content), a request, or None: nothing to export here
ExportPayload = ExportRequest | tuple[str, bytes | str] | None


def to_jsonable(value: Any) -> Any:
    """Dataclasses, bytes, sets and datetimes made JSON-friendly."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (date, time)):  # (a datetime is a date)
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False, default=str) + "\n"


class DetailPane(Vertical):
    """A pane of the main screen's detail area: reads the session it is given, knows what to
    copy (``copy_text``) and what to export (``export_payload``)."""

    pane_id = "pane"
    title = "Pane"

    def __init__(self, *, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def export_payload(self) -> ExportPayload:
        """(default file name, content) or an ExportRequest of what ``ctrl+s`` writes, or None."""
        return None

    def copy_text(self) -> str:
        return ""

    def show_target(self, target: Any) -> None:
        """Select something in the pane (a pid, a path, a socket ...)."""

    def focus_target(self) -> Widget | None:
        """Where a section key or Enter on the tree puts the focus: the pane's main table, tree
        or view — the first shown focusable widget that is no dropdown, button, input or tab bar."""
        for widget in self.query("*"):
            if (widget.focusable and not isinstance(widget, (Select, Button, Input, Tabs))
                    and shown_in(widget, self)):
                return widget
        return None


def shown_in(widget: Widget, top: Widget) -> bool:
    """``widget`` and every container up to ``top`` are displayed (a hidden tab's table is not)."""
    node: Any = widget
    while node is not None and node is not top:
        if not node.display:
            return False
        node = node.parent
    return True


class Pane(DetailPane):
    """A pane built from one loaded checkpoint (the main screen makes new ones for another)."""

    def __init__(self, checkpoint: Checkpoint, *, session: Session, **kwargs: Any) -> None:
        super().__init__(session=session, **kwargs)
        self.checkpoint = checkpoint


def cursor_bindings(prefix: str, home: str = "Start", end: str = "End") -> list[Binding]:
    """The cursor keys every Line-API view shares (ids ``<prefix>.up`` ... so they stay remappable)."""
    return [
        Binding("up,k", "cursor(-1)", "Up", show=False, id=f"{prefix}.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id=f"{prefix}.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id=f"{prefix}.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id=f"{prefix}.pagedown"),
        Binding("home", "edge(0)", home, show=False, id=f"{prefix}.home"),
        Binding("end", "edge(1)", end, show=False, id=f"{prefix}.end"),
    ]
