"""The UI's state, held once: what is open, what is loading, what failed, which process is current.

A :class:`Session` is a Textual ``DOMNode`` that is never mounted: its fields are reactive
``var`` s, so a widget given the session reads them typed and follows them with
``self.watch(session, "checkpoint", callback)``. Only the controllers (``ui.loading``,
``ui.operations``) and the App's own actions set the load state; a screen sets the current
process and nothing else. Workers never touch it: they post messages (``ckpt_tui.messages``)
that the App hands to a controller, on the UI thread.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual.dom import DOMNode
from textual.reactive import var

from ..model.types import ContainerInfo
from ..text import absolute_time, when

if TYPE_CHECKING:  # pragma: no cover
    from ..archive import Limits
    from ..model.checkpoint import Checkpoint

Operation = Literal["build", "restore"]
OPERATION_WORDS: dict[Operation, str] = {"build": "building an image", "restore": "restoring"}


@dataclass(frozen=True)
class Options:
    """How the app was started (the command line); fixed for the session."""

    readonly: bool = False
    is_demo: bool = False
    log_files: tuple[str, ...] = ()
    max_size: int | None = None
    now: datetime | None = None  # a frozen clock (snapshot tests): "7 days ago" never moves
    masked: bool = False  # secrets stay masked: S does not show them (ckpt-tui serve)
    relative_times: bool = True  # False: times without "(7 days ago)" (the README's screenshots)
    max_entries: int | None = None

    def limits(self) -> Limits | None:
        """The bounds --max-size and --max-entries set (None: the defaults)."""
        if self.max_size is None and self.max_entries is None:
            return None
        from ..archive import Limits

        bounds = Limits(max_entries=self.max_entries)
        return bounds if self.max_size is None else dataclasses.replace(bounds, max_total_bytes=self.max_size)


@dataclass(frozen=True)
class LoadStatus:
    """What the loading line says, and how far (``total`` None: no measure yet)."""

    text: str = "loading…"
    done: float | None = None
    total: float | None = None


@dataclass(frozen=True)
class Listing:
    """The directory of several checkpoints the app was opened on (``L`` goes back to it)."""

    directory: Path
    entries: tuple[tuple[Path, dict[str, Any]], ...]


class Session(DOMNode):
    """The open checkpoint and everything the screens show about the state of the app."""

    # the container browsed: the checkpoint, or one container of ``pod``
    # (always_update: a Checkpoint is a dataclass; comparing two would compare whole models)
    checkpoint: var[Checkpoint | None] = var(None, init=False, always_update=True)
    pod: var[Checkpoint | None] = var(None, init=False, always_update=True)  # a pod checkpoint, when one is open
    path: var[Path] = var(Path(), init=False)  # what is open, or being opened when nothing is
    preview: var[ContainerInfo | None] = var(None, init=False)  # from config.dump/spec.dump while loading
    loading: var[bool] = var(False, init=False)
    status: var[LoadStatus] = var(LoadStatus(), init=False)
    error: var[str] = var("", init=False)  # why ``path`` could not be opened (nothing is open then)
    switching_to: var[Path | None] = var(None, init=False)  # picked while ``checkpoint`` stays open
    listing: var[Listing | None] = var(None, init=False)
    current_pid: var[int | None] = var(None, init=False)  # the process last shown
    secrets_revealed: var[bool] = var(False, init=False)
    busy: var[bool] = var(False, init=False)  # a build or restore is running

    def __init__(self, path: Path, options: Options | None = None) -> None:
        super().__init__()
        self.options = options or Options()
        self.set_reactive(Session.path, path)

    # -- questions the widgets ask -------------------------------------------
    def now(self) -> datetime:
        return self.options.now or datetime.now(timezone.utc)

    def when(self, value: datetime | None) -> str:
        """A time as the panes write it: absolute, and how long ago unless that is turned off."""
        if not self.options.relative_times:
            return absolute_time(value) if value is not None else "-"
        return when(value, self.now())

    @property
    def top(self) -> Checkpoint | None:
        """What was loaded (the pod, or the checkpoint): what is closed when another replaces it."""
        return self.pod if self.pod is not None else self.checkpoint

    @property
    def failed(self) -> bool:
        """Nothing is open because the last open failed."""
        return bool(self.error) and self.checkpoint is None

    def operation_blocked(self, operation: Operation) -> str | None:
        """Why ``operation`` cannot run now, in words for a notification; None when it can."""
        what = OPERATION_WORDS[operation]
        if self.options.readonly:
            return f"Read-only mode (--readonly): {what} is turned off."
        if self.checkpoint is None:
            return f"Nothing is open yet: {what} needs a loaded checkpoint."
        if self.busy:
            return f"A build or restore is running: {what} waits until it has finished."
        return None

    def can_search(self) -> bool:
        return self.checkpoint is not None and bool(self.checkpoint.processes)

    def header(self) -> tuple[str, str]:
        """(title, sub-title) of the app's header for the current state."""
        tail = [p for p in ("bundled demo" if self.options.is_demo else "",
                            "READONLY" if self.options.readonly else "") if p]
        cp = self.checkpoint
        if cp is not None:
            info = cp.info
            name = info.name or self.path.name
            if self.pod is not None and cp is not self.pod:
                name = f"{self.pod.info.pod_name or 'pod'} / {name}"
            title = f"{name} ({info.engine})" if info.engine.known else name
            middle = [f"opening {self.switching_to.name}…"] if self.switching_to is not None else []
            parts = [info.image, info.source_kind, *middle]
        elif self.error:
            title = self.path.name
            parts = [f"{self.path.name}: cannot open"]
        elif self.preview is not None:
            early = self.preview
            name = early.name or self.path.name
            title = f"{name} ({early.engine})" if early.engine.known else name
            parts = [early.image, early.source_kind, "loading…"]
        else:
            title = self.path.name
            parts = ["loading…"]
        return title, " · ".join(p for p in (*parts, *tail) if p)
