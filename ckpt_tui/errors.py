"""Error and problem types shared by every layer (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class CkptError(Exception):
    """The project's own error type: every failure on bad input is one of these."""


class Cancelled(BaseException):
    """The caller asked to stop (the user quit while a checkpoint was loading).

    A BaseException, like KeyboardInterrupt, so that the loaders' "record a problem and
    go on" handlers let it through."""


class Pane(str, Enum):
    """The areas of the inspector a problem can affect (the UI's sections)."""

    OVERVIEW = "overview"
    PROCESSES = "processes"
    MEMORY = "memory"
    FILES = "files"
    NETWORK = "network"
    MOUNTS = "mounts"
    LOGS = "logs"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """Something missing or unreadable in a checkpoint, recorded instead of raised.

    ``source`` names the member (``checkpoint/pages-2.img``, ``config.dump``...),
    ``message`` says in plain words what is wrong, ``pane`` is the area it affects.
    """

    source: str
    message: str
    pane: Pane = Pane.OVERVIEW
    severity: Severity = "error"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.source}: {self.message}" if self.source else self.message
