"""The result of comparing two checkpoints: a tree of typed dataclasses.

Every compared thing is a :class:`Node` (a process, an fd, a VMA, a file, a mount, ...)
with a :class:`Status` (dive's markers: ``+`` added, ``~`` modified, ``-`` removed, and
unchanged), the values that differ as :class:`Change` entries, and its children. The CLI
tree, ``--json`` and the UI panes all read this one tree; nothing here renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from ...model.masking import MASK, mask_text

SCHEMA_VERSION = 1
# sections that describe each side rather than a difference (a dump chain's layers): they
# never make two checkpoints differ, and are shown whole
INFORMATIONAL = ("layers",)


class Status(str, Enum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    UNCHANGED = "unchanged"

    @property
    def marker(self) -> str:
        """dive's marker: ``+`` added, ``~`` modified, ``-`` removed, a space for unchanged."""
        return _MARKERS[self]

    def __str__(self) -> str:
        return self.value


# node kinds whose label is free text from the checkpoint that may hold a secret
FREE_TEXT_LABELS = ("process",)

_MARKERS = {Status.ADDED: "+", Status.REMOVED: "-", Status.MODIFIED: "~", Status.UNCHANGED: " "}


def presence(a: object, b: object) -> Status:
    """The status of a thing that is ``a`` in A and ``b`` in B (None: absent there), before
    its values are compared."""
    if a is None:
        return Status.ADDED
    if b is None:
        return Status.REMOVED
    return Status.UNCHANGED


# how a value is written (the renderers read this; the JSON keeps the plain value)
VALUE, COUNT, SIZE, TIME, SET, HEX, LIMIT, MICROS = "value", "count", "size", "time", "set", "hex", "limit", "micros"


@dataclass
class Change:
    """One value that differs: ``a`` in A, ``b`` in B (None where it has none). ``fmt`` says
    what the value is: a count or size (shown with its delta), a time, a set (shown as the
    members added and removed), a hex number, an rlimit (cur, max), or any other value.
    ``secret``: the whole value is masked unless revealed (an environment variable whose name
    or value looks secret); ``free_text``: secrets found inside it are (a command line)."""

    field: str
    a: Any
    b: Any
    secret: bool = False
    fmt: str = VALUE
    free_text: bool = False

    def shown(self, reveal: bool = False) -> tuple[Any, Any]:
        if reveal:
            return self.a, self.b
        if self.secret:
            return (None if self.a is None else MASK), (None if self.b is None else MASK)
        if self.free_text:
            return _masked_text(self.a), _masked_text(self.b)
        return self.a, self.b


def _masked_text(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_text(v) if isinstance(v, str) else v for v in value]
    return value


@dataclass
class Node:
    """One compared thing. ``key`` names it the same way on both sides ("fd 5", a path, a
    VMA's range), ``label`` says what it is (B's description, or A's when removed), ``note``
    a short summary ("grown by 4.0 MiB", "new listener")."""

    kind: str
    key: str
    status: Status = Status.UNCHANGED
    label: str = ""
    note: str = ""
    changes: list[Change] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    unlisted: int = 0  # unchanged children counted but not kept (a diff made without them)

    def change(self, name: str, a: Any, b: Any, *, secret: bool = False, fmt: str = VALUE,
               free_text: bool = False) -> None:
        """Record ``name`` when ``a`` and ``b`` differ (and the node as modified)."""
        if a != b:
            self.changes.append(Change(name, a, b, secret, fmt, free_text))
            if self.status is Status.UNCHANGED:
                self.status = Status.MODIFIED

    def add(self, child: Node) -> Node:
        self.children.append(child)
        if child.status is not Status.UNCHANGED and self.status is Status.UNCHANGED:
            self.status = Status.MODIFIED
        return child

    def settle(self) -> Node:
        """Mark a container node modified when any child differs (after children were
        filled in directly)."""
        if self.status is Status.UNCHANGED and any(c.status is not Status.UNCHANGED for c in self.children):
            self.status = Status.MODIFIED
        return self

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        stack = [(depth, self)]
        while stack:
            d, node = stack.pop()
            yield d, node
            stack.extend((d + 1, c) for c in reversed(node.children))

    def counts(self) -> dict[str, int]:
        """How many of the direct children are added / removed / modified / unchanged."""
        out = {s.value: 0 for s in Status}
        for c in self.children:
            out[c.status.value] += 1
        out[Status.UNCHANGED.value] += self.unlisted
        return out

    def extra_json(self) -> dict[str, Any]:
        """Kind-specific members of this node's JSON object (see the subclasses)."""
        return {}

    def shown_label(self, reveal: bool = False) -> str:
        """The label, secrets in it masked unless revealed (a process's command line)."""
        return self.label if reveal or self.kind not in FREE_TEXT_LABELS else mask_text(self.label)

    def to_json(self, reveal: bool = False, unchanged: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "key": self.key, "status": self.status.value,
                               "label": self.shown_label(reveal), "note": self.note}
        changes = []
        for c in self.changes:
            a, b = c.shown(reveal)
            changes.append({"field": c.field, "a": _plain(a), "b": _plain(b)})
        out["changes"] = changes
        out.update(self.extra_json())
        out["children"] = [c.to_json(reveal, unchanged) for c in self.children
                           if unchanged or c.status is not Status.UNCHANGED]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


@dataclass
class ValueNode(Node):
    """One named value side by side (a metadata field, a dump statistic, a size, an
    annotation): ``a`` and ``b`` are kept whether or not they differ."""

    a: Any = None
    b: Any = None
    fmt: str = VALUE
    secret: bool = False

    @classmethod
    def of(cls, kind: str, key: str, a: Any, b: Any, fmt: str = VALUE, *, present: tuple[bool, bool] = (True, True),
           secret: bool = False) -> ValueNode:
        """``present``: whether A / B have the value at all (an annotation only in B is added)."""
        if not present[0]:
            status = Status.ADDED
        elif not present[1]:
            status = Status.REMOVED
        else:
            status = Status.UNCHANGED if a == b else Status.MODIFIED
        return cls(kind, key, status, a=a, b=b, fmt=fmt, secret=secret)

    def shown(self, reveal: bool = False) -> tuple[Any, Any]:
        return Change(self.key, self.a, self.b, self.secret, self.fmt).shown(reveal)

    def to_json(self, reveal: bool = False, unchanged: bool = False) -> dict[str, Any]:
        out = super().to_json(reveal, unchanged)
        a, b = self.shown(reveal)
        out["a"], out["b"] = _plain(a), _plain(b)
        return out


@dataclass
class ProcessNode(Node):
    """A process matched between the dumps (or only in one). ``matched_by`` says how the
    two were found to be the same process (see :mod:`.match`)."""

    pid_a: int | None = None
    pid_b: int | None = None
    matched_by: str = ""

    def extra_json(self) -> dict[str, Any]:
        return {"pid_a": self.pid_a, "pid_b": self.pid_b, "matched_by": self.matched_by}


PAGE_STATES = ("changed", "same", "only_a", "only_b")


@dataclass
class PageCounts:
    changed: int = 0
    same: int = 0
    only_a: int = 0
    only_b: int = 0

    def add(self, other: PageCounts) -> None:
        self.changed += other.changed
        self.same += other.same
        self.only_a += other.only_a
        self.only_b += other.only_b

    @property
    def differs(self) -> bool:
        return bool(self.changed or self.only_a or self.only_b)

    def as_dict(self) -> dict[str, int]:
        return {"changed": self.changed, "same": self.same, "only_a": self.only_a, "only_b": self.only_b}


@dataclass
class PageSpan:
    """``pages`` consecutive pages from ``start`` that are all ``state`` (one of PAGE_STATES)."""

    start: int
    pages: int
    state: str


MAP_LIMIT = 4096  # spans kept per VMA; the counts stay exact past it


@dataclass
class VmaNode(Node):
    """A VMA (matched by its start, else its end), with how its pages compare."""

    start_a: int | None = None
    end_a: int | None = None
    start_b: int | None = None
    end_b: int | None = None
    pages: PageCounts = field(default_factory=PageCounts)
    page_map: list[PageSpan] = field(default_factory=list)
    map_truncated: bool = False
    pages_compared: bool = False

    @property
    def start(self) -> int:
        return self.start_b if self.start_b is not None else self.start_a or 0

    def extra_json(self) -> dict[str, Any]:
        return {
            "a": None if self.start_a is None else {"start": f"{self.start_a:#x}", "end": f"{self.end_a:#x}"},
            "b": None if self.start_b is None else {"start": f"{self.start_b:#x}", "end": f"{self.end_b:#x}"},
            "pages": self.pages.as_dict() if self.pages_compared else None,
            "page_map": [[f"{s.start:#x}", s.pages, s.state] for s in self.page_map] if self.pages_compared else None,
            "page_map_truncated": self.map_truncated,
        }


@dataclass
class MemoryNode(Node):
    """A process's memory: its VMAs as children, the page counts summed over them."""

    pages: PageCounts = field(default_factory=PageCounts)
    dumped_a: int = 0  # bytes of pages in each dump
    dumped_b: int = 0
    pages_compared: bool = False

    def extra_json(self) -> dict[str, Any]:
        return {"pages": self.pages.as_dict() if self.pages_compared else None,
                "dumped_a": self.dumped_a, "dumped_b": self.dumped_b}


@dataclass
class Side:
    """What one of the two checkpoints is."""

    path: str
    name: str
    kind: str
    container: str = ""  # for a pod: the container compared

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "kind": self.kind, "container": self.container}


@dataclass
class CheckpointDiff:
    """Two checkpoints compared: one section node per area (see ``AREAS``), in order."""

    a: Side
    b: Side
    areas: tuple[str, ...]
    sections: list[Node] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be compared, and why

    @property
    def same(self) -> bool:
        return all(s.status is Status.UNCHANGED for s in self.sections if s.key not in INFORMATIONAL)

    def section(self, area: str) -> Node | None:
        return next((s for s in self.sections if s.key == area), None)

    def summary(self) -> dict[str, dict[str, int]]:
        return {s.key: s.counts() for s in self.sections}

    def to_json(self, reveal: bool = False, unchanged: bool = False) -> dict[str, Any]:
        """The stable JSON document of ``ckpt-tui diff --json`` (``schema`` says its version)."""
        return {
            "schema": SCHEMA_VERSION,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "same": self.same,
            "areas": list(self.areas),
            "summary": self.summary(),
            # an informational section (a dump chain's layers) is whole, whatever ``unchanged`` says
            "sections": {s.key: s.to_json(reveal, unchanged or s.key in INFORMATIONAL) for s in self.sections},
            "problems": list(self.problems),
        }
