"""What every part of the builder shares: the checkpoint being filled and its source, the
problems it records, the question "was I cancelled?", and the images decoded once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from ...criu import Image
from ...errors import Cancelled, CkptError, Pane, Problem, Severity
from ..checkpoint import Checkpoint
from ..memory import CapturedPages
from .images import Images

# tests set CKPT_TUI_STRICT=1 so that a bug met on odd input fails loudly instead of
# becoming a problem message
STRICT = os.environ.get("CKPT_TUI_STRICT") == "1"


def escape(raw: bytes | str) -> str:
    """Text for display; bytes that are not UTF-8 are shown escaped (\\xNN).

    A proto2 string field that is not UTF-8 comes back from protobuf as bytes.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def json_list(value: object) -> list[Any]:
    """``value`` when a JSON document gave a list there, else []."""
    return value if isinstance(value, list) else []


class Context:
    """One build: the checkpoint, its source, its images, and how problems are recorded."""

    def __init__(self, ck: Checkpoint, *, cancelled: Callable[[], bool] | None = None,
                 decoded: dict[str, Image] | None = None,
                 captured: dict[str, CapturedPages | None] | None = None) -> None:
        self.ck = ck
        self.src = ck.source
        self.cancelled = cancelled
        self.images = Images(self.src, self.problem, decoded)
        ck.captured = dict(captured or {})

    def check(self) -> None:
        """Raise :class:`Cancelled` when the caller has asked to stop."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    def problem(self, source: str, message: str, pane: Pane = Pane.OVERVIEW, severity: Severity = "error") -> None:
        self.ck.problems.append(Problem(source, message, pane, severity))

    def json_member(self, name: str, pane: Pane = Pane.OVERVIEW, shape: type = dict) -> Any:
        """The JSON document in member ``name`` if it is a ``shape``; None (and a Problem
        unless the member is absent) otherwise."""
        if not self.src.has(name):
            return None
        try:
            raw = self.src.read(name, limit=64 << 20)
        except CkptError as exc:
            self.problem(name, f"cannot read: {exc}", pane)
            return None
        if not raw.strip():
            self.problem(name, "is empty", pane)
            return None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self.problem(name, f"is not valid JSON ({exc})", pane)
            return None
        if not isinstance(data, shape):
            self.problem(name, f"has the wrong shape: expected a JSON {shape.__name__}, found {type(data).__name__}",
                         pane)
            return None
        return data
