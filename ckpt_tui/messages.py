"""Messages the workers post to the UI (dataclasses, safe to post from threads).

The flow is always worker -> message -> (the App hands it to a controller) -> session ->
the widgets that watch the session. A worker never touches a widget or the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # pragma: no cover
    from .actions.scan import Report
    from .model.checkpoint import Checkpoint, MemoryMatch


@dataclass
class LoadProgress(Message, bubble=False):
    """Loading advanced; a flood of these coalesces to the newest."""

    stage: str
    done: float | None = None
    total: float | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress)


@dataclass
class CheckpointsFound(Message, bubble=False):
    """The path is a directory holding several checkpoints: let the user pick one."""

    directory: Path
    entries: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


@dataclass
class MetadataReady(Message, bubble=False):
    """config.dump / spec.dump are read: enough for the header and a first overview."""

    path: Path
    metadata: dict[str, Any]


@dataclass
class CheckpointLoaded(Message, bubble=False):
    checkpoint: Checkpoint


@dataclass
class LoadFailed(Message, bubble=False):
    path: Path
    error: str


@dataclass
class SearchProgress(Message, bubble=False):
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SearchProgress)


@dataclass
class SearchMatches(Message, bubble=False):
    """A batch of memory matches (model MemoryMatch objects)."""

    matches: list[MemoryMatch]


@dataclass
class SearchFinished(Message, bubble=False):
    count: int
    cancelled: bool = False
    error: str = ""
    elapsed: float = 0.0


@dataclass
class ScanProgress(Message, bubble=False):
    """The Findings pane's scan advanced: ``stage`` is "memory" (secrets) or "pages" (the tally)."""

    stage: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress)


@dataclass
class ScanFinished(Message, bubble=False):
    report: Report | None
    error: str = ""
    elapsed: float = 0.0


@dataclass
class ActionOutput(Message, bubble=False):
    """A line of output of a running build/restore."""

    line: str


@dataclass
class ActionFinished(Message, bubble=False):
    title: str
    ok: bool
    detail: str = ""


@dataclass
class ExportDone(Message, bubble=False):
    path: Path
    size: int
    error: str = ""


@dataclass
class RestorePrepared(Message, bubble=False):
    """The restore command and the preflight checks, ready for the confirmation."""

    command: list[str]
    checks: str = ""
    error: str = ""
