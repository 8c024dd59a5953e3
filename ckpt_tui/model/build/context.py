"""What every part of the builder shares: the checkpoint being filled and its source, the
problems it records, the question "was I cancelled?", and the images decoded once."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ...archive import json_document
from ...criu import Image
from ...errors import Cancelled, CkptError, Pane, Problem, Severity
from ..checkpoint import Checkpoint
from ..memory import CapturedPages
from .images import Images

# tests set CKPT_TUI_STRICT=1 so that a bug met on odd input fails loudly instead of
# becoming a problem message
STRICT = os.environ.get("CKPT_TUI_STRICT") == "1"

#: the entries the model of one source holds at most (processes, threads, open files, VMAs,
#: pagemap runs, argv and environment strings, mounts, root FS entries; a pod's containers
#: together): ``Limits.max_entries`` / ``--max-entries`` raise it
MAX_MODEL_ENTRIES = 500_000
#: problems kept with the same message (the rest are counted, see ``load.summarise``) and
#: problems kept in all (the rest are counted in one more)
SAME_PROBLEMS = 8
MAX_PROBLEMS = 2_000


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


class Budget:
    """The entries a model may still hold (shared by the containers of a pod)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_MODEL_ENTRIES if limit is None else limit
        self.left = self.limit


class Context:
    """One build: the checkpoint, its source, its images, and how problems are recorded."""

    def __init__(self, ck: Checkpoint, *, cancelled: Callable[[], bool] | None = None,
                 decoded: dict[str, Image] | None = None,
                 captured: dict[str, CapturedPages | None] | None = None,
                 budget: Budget | None = None) -> None:
        self.ck = ck
        self.src = ck.source
        self.cancelled = cancelled
        self.budget = budget if budget is not None else Budget()
        self.skipped: dict[str, int] = {}  # what the budget left out: kind -> how many
        self.folded: dict[tuple[str, str, str], int] = {}  # problems counted, not kept: key -> how many
        self._kept: dict[tuple[str, str, str], int] = {}
        self.images = Images(self.src, self.problem, decoded)
        ck.captured = dict(captured or {})

    def take(self, n: int, what: str) -> int:
        """How many of ``n`` entries of kind ``what`` the model may still hold: all of them
        while they fit in half of what is left (one list never takes the rest from all the
        others), else that half. What is left out is counted, and :meth:`budget_problem` says so."""
        allowed = n if n <= self.budget.left // 2 else max(0, self.budget.left // 2)
        self.budget.left -= allowed
        if allowed < n:
            self.skipped[what] = self.skipped.get(what, 0) + n - allowed
        return allowed

    def budget_problem(self) -> None:
        """One problem naming what the entry bound left out, if it left out anything."""
        if self.skipped:
            what = ", ".join(f"{n:,} {kind}" for kind, n in self.skipped.items())
            self.problem("", f"the model holds at most {self.budget.limit:,} entries (--max-entries); "
                         f"not loaded: {what}", Pane.OVERVIEW)

    def check(self) -> None:
        """Raise :class:`Cancelled` when the caller has asked to stop."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    def problem(self, source: str, message: str, pane: Pane = Pane.OVERVIEW, severity: Severity = "error") -> None:
        """Record a problem; past ``SAME_PROBLEMS`` with its message, or ``MAX_PROBLEMS`` in
        all, it is only counted (``load.summarise`` says how many more there were)."""
        key = (message, pane, severity)
        kept = self._kept.get(key, 0)
        if kept >= SAME_PROBLEMS or len(self.ck.problems) >= MAX_PROBLEMS:
            self.folded[key] = self.folded.get(key, 0) + 1
            return
        self._kept[key] = kept + 1
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
        data, why = json_document(raw, shape)
        if why:
            self.problem(name, why, pane)
            return None
        return data
