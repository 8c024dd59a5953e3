"""Error and problem types shared by every layer (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass


class CkptError(Exception):
    """The project's own error type: every failure on bad input is one of these."""


class Cancelled(BaseException):
    """The caller asked to stop (the user quit while a checkpoint was loading).

    A BaseException, like KeyboardInterrupt, so that the loaders' "record a problem and
    go on" handlers let it through."""


@dataclass(frozen=True)
class Problem:
    """Something missing or unreadable in a checkpoint, recorded instead of raised.

    ``source`` names the member (``checkpoint/pages-2.img``, ``config.dump``...),
    ``message`` says in plain words what is wrong, ``pane`` names the UI pane it
    affects (overview, processes, memory, files, network, mounts, logs, images).
    """

    source: str
    message: str
    pane: str = "overview"
    severity: str = "error"  # "error" | "warning" | "info"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.source}: {self.message}" if self.source else self.message
