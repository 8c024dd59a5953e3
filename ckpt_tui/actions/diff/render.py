"""The diff tree as text lines: what ``ckpt-tui diff`` prints and the UI's diff panes show.

Each :class:`Line` carries its status (the caller colours it), the tree prefix, dive's
marker and the text; every string that comes from a checkpoint is escaped
(:func:`ckpt_tui.text.safe`) and secret-looking environment values are masked unless
``reveal``. Which nodes show is :class:`Filter`'s: by default the unchanged are hidden;
a node whose own status is hidden still shows when something below it is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ... import text
from .layers import LayerNode
from .result import (
    COUNT,
    HEX,
    INFORMATIONAL,
    LIMIT,
    MICROS,
    SET,
    SIZE,
    TIME,
    Change,
    CheckpointDiff,
    MemoryNode,
    Node,
    PageCounts,
    ProcessNode,
    Status,
    ValueNode,
    VmaNode,
)

ARROW = " -> "
TITLES = {"metadata": "Metadata", "processes": "Processes", "memory": "Memory", "files": "Root file system",
          "mounts": "Mounts", "network": "Network", "annotations": "Annotations", "stats": "Dump statistics",
          "sizes": "Sizes", "layers": "Dump chain (layers)", "containers": "Containers"}
GROUP_TITLES = {"environment": "Environment", "threads": "Threads", "credentials": "Credentials",
                "limits": "Resource limits", "open files": "Open files", "sockets": "Sockets", "memory": "Memory"}
UNLIMITED = 2**63 - 1


@dataclass
class Filter:
    """dive's toggles: the statuses to show (unchanged off by default)."""

    shown: set[Status] = field(default_factory=lambda: {Status.ADDED, Status.REMOVED, Status.MODIFIED})

    @classmethod
    def everything(cls) -> Filter:
        return cls(set(Status))

    def shows(self, node: Node) -> bool:
        return node.status in self.shown


@dataclass
class Line:
    depth: int
    prefix: str  # tree glyphs
    status: Status
    text: str
    node: Node | None = None
    change: Change | None = None

    @property
    def plain(self) -> str:
        return f"{self.prefix}{self.status.marker} {self.text}"


def lines(diff: CheckpointDiff, flt: Filter | None = None, reveal: bool = False) -> Iterator[Line]:
    """The whole diff: a heading, each section as a tree, then problems."""
    flt = flt or Filter()
    a, b = diff.a, diff.b
    status = Status.UNCHANGED if diff.same else Status.MODIFIED
    yield Line(0, "", status, f"{text.safe(a.path)}{ARROW}{text.safe(b.path)}"
               + (f"  ({text.safe(b.name or a.name)})" if (b.name or a.name) else ""))
    for section in diff.sections:
        whole = section.key in INFORMATIONAL
        if whole and not section.children:
            continue
        yield Line(0, "", section.status, section_title(section), section)
        yield from _tree(section, Filter.everything() if whole else flt, reveal, "")
    for problem in diff.problems:
        yield Line(0, "", Status.UNCHANGED, f"note: {text.safe(problem)}")


def section_title(section: Node) -> str:
    title = TITLES.get(section.key, section.key)
    if section.key in INFORMATIONAL:
        return title
    c = section.counts()
    if section.status is Status.UNCHANGED:
        return f"{title}  unchanged ({c['unchanged']:,})"
    parts = [f"{m}{c[s.value]}" for s, m in ((Status.ADDED, "+"), (Status.REMOVED, "-"), (Status.MODIFIED, "~"))]
    return f"{title}  {' '.join(parts)}  ({c['unchanged']:,} unchanged)"


def visible(node: Node, flt: Filter) -> bool:
    if flt.shows(node):
        return True
    return any(visible(c, flt) for c in node.children)


def _tree(node: Node, flt: Filter, reveal: bool, prefix: str) -> Iterator[Line]:
    items: list[tuple[Node | None, Change | None]] = []
    if not isinstance(node, ValueNode):
        items.extend((None, c) for c in node.changes if not inline_change(node, c))
    items.extend((c, None) for c in node.children if visible(c, flt))
    depth = prefix.count("    ") + prefix.count("│   ") + 1
    for i, (child, change) in enumerate(items):
        last = i == len(items) - 1
        glyph = "└── " if last else "├── "
        if change is not None:
            status, body = change_line(node, change, reveal)
            yield Line(depth, prefix + glyph, status, body, node, change)
            continue
        assert child is not None
        yield Line(depth, prefix + glyph, child.status, node_text(child, reveal), child)
        yield from _tree(child, flt, reveal, prefix + ("    " if last else "│   "))


def inline_change(node: Node, change: Change) -> bool:
    """Changes said on the node's own line instead of a line of their own."""
    return (isinstance(node, MemoryNode) and change.field == "dumped") or node.kind == "env" \
        or (node.kind == "threads" and change.field == "count" and node.status in (Status.ADDED, Status.REMOVED))


def node_text(node: Node, reveal: bool = False) -> str:
    s = text.safe
    if isinstance(node, ValueNode):
        a, b = node.shown(reveal)
        if node.status is Status.ADDED:
            return f"{s(node.key)}: {value(b, node.fmt)}"
        if node.status is Status.REMOVED:
            return f"{s(node.key)}: {value(a, node.fmt)}"
        if node.status is Status.UNCHANGED:
            return f"{s(node.key)}: {value(a, node.fmt)}"
        return f"{s(node.key)}: {delta(a, b, node.fmt)}"
    if isinstance(node, ProcessNode):
        pid = (f"{node.pid_a}{ARROW}{node.pid_b}" if node.pid_a is not None and node.pid_b is not None
               and node.pid_a != node.pid_b else node.key)
        return _with_note(f"[{pid}] {s(node.shown_label(reveal))}", node.note)
    if isinstance(node, MemoryNode):
        out = "Memory"
        if node.dumped_a != node.dumped_b or node.status is not Status.UNCHANGED:
            out += f": dumped {delta(node.dumped_a, node.dumped_b, SIZE)}"
        return out + (f"; pages {pages_text(node.pages)}" if node.pages_compared else "")
    if isinstance(node, VmaNode):
        out = _with_note(f"{node.key} {s(node.label)}", node.note)
        if node.pages_compared and (node.pages.differs or node.pages.same):
            out += f"; pages {pages_text(node.pages)}"
        return out
    if node.kind == "env":
        change = node.changes[0] if node.changes else None
        a, b = change.shown(reveal) if change else (None, None)
        if node.status is Status.MODIFIED:
            body = f"{s(node.key)}: {value(a)}{ARROW}{value(b)}"
        else:
            body = f"{s(node.key)}={s(str(b if b is not None else a or ''))}"
        return _with_note(body, node.note)
    if isinstance(node, LayerNode):
        return f"{s(node.key)} ({node.label}): {node.note}" if node.kind == "layer" else _layer_line(node, reveal)
    if node.kind == "section" or node.kind == "group":
        title = TITLES.get(node.key) or GROUP_TITLES.get(node.key) or s(node.key)
        return title + (f"  ({s(node.label)})" if node.label else "")
    if node.kind in GROUP_KINDS:
        return GROUP_TITLES.get(node.key, node.key) + _group_counts(node)
    if node.kind == "fd":
        return _with_note(f"fd {node.key}  {s(node.label)}", node.note)
    if node.kind == "socket":
        return _with_note(f"{s(node.key)}  {node.label}", node.note)
    if node.kind == "thread":
        return f"thread {node.key}" + (f" {s(node.label)}" if node.label else "")
    if node.kind == "container":
        return _with_note(f"container {s(node.key)}" + (f"  {s(node.label)}" if node.label else ""), node.note)
    label = f"  {s(node.label)}" if node.label else ""
    return _with_note(f"{s(node.key)}{label}", node.note)


GROUP_KINDS = ("environment", "threads", "credentials", "limits", "files", "sockets")


def _group_counts(node: Node) -> str:
    if not node.children and not node.unlisted:
        return ""
    c = node.counts()
    parts = [f"{m}{c[st.value]}" for st, m in ((Status.ADDED, "+"), (Status.REMOVED, "-"), (Status.MODIFIED, "~"))
             if c[st.value]]
    return f"  {' '.join(parts)}" if parts else ""


def _layer_line(node: LayerNode, reveal: bool = False) -> str:
    p = node.pages
    head = (f"[{node.key}] {text.safe(node.shown_label(reveal))}" if node.kind == "process"
            else f"{node.key} {text.safe(node.label)}")
    return (f"{head}: wrote {p.written:,} ({p.new:,} new, {p.rewritten:,} rewritten), "
            f"{p.from_parent:,} from parent, provides {p.provides:,}")


def _with_note(body: str, note: str) -> str:
    return f"{body}  ({text.safe(note)})" if note else body


def pages_text(p: PageCounts) -> str:
    parts = [f"{n:,} {what}" for n, what in ((p.changed, "changed"), (p.same, "same"), (p.only_a, "only in A"),
                                              (p.only_b, "only in B")) if n]
    return ", ".join(parts) or "none dumped"


def change_line(node: Node, change: Change, reveal: bool = False) -> tuple[Status, str]:
    """The status and text of a change's own line: how it changed (``~``), or for a thing
    only one side has, what it is there."""
    if node.status in (Status.ADDED, Status.REMOVED):
        a, b = change.shown(reveal)
        return node.status, f"{text.safe(change.field)}: {value(b if node.status is Status.ADDED else a, change.fmt)}"
    return Status.MODIFIED, change_text(change, reveal)


def change_text(change: Change, reveal: bool = False) -> str:
    a, b = change.shown(reveal)
    return f"{text.safe(change.field)}: {delta(a, b, change.fmt)}"


def delta(a: Any, b: Any, fmt: str = "value") -> str:
    """How ``a`` became ``b``: both values, with the difference for counts and sizes, the
    members added and removed for sets."""
    if fmt == SET and isinstance(a, list) and isinstance(b, list):
        added = [f"+{text.safe(str(x))}" for x in b if x not in a]
        removed = [f"-{text.safe(str(x))}" for x in a if x not in b]
        return " ".join(added + removed) or "(reordered)"
    out = f"{value(a, fmt)}{ARROW}{value(b, fmt)}"
    if fmt in (COUNT, SIZE) and isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        d = b - a
        out += f" ({'+' if d >= 0 else '-'}{text.size(abs(d)) if fmt == SIZE else f'{abs(d):,}'})"
    return out


def value(v: Any, fmt: str = "value") -> str:
    if v is None:
        return "(none)"
    if fmt == SIZE and isinstance(v, int):
        return text.size(v)
    if fmt == COUNT and isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if fmt == MICROS and isinstance(v, int):
        return text.micros(v)
    if fmt == HEX and isinstance(v, int):
        return f"{v:#x}"
    if fmt == TIME and isinstance(v, datetime):
        return text.absolute_time(v)
    if fmt == LIMIT and isinstance(v, tuple):
        return "/".join("unlimited" if x >= UNLIMITED or x < 0 else f"{x:,}" for x in v)
    if isinstance(v, list):
        return "[" + ", ".join(text.safe(str(x)) for x in v) + "]"
    if v == "":
        return '""'
    return text.safe(str(v))


# a page map cell: what its pages are, the most telling state winning
MAP_MARKS = {"changed": "~", "only_b": "+", "only_a": "-", "same": "=", "": "·"}
_RANK = {"": 0, "same": 1, "only_a": 2, "only_b": 3, "changed": 4}


def page_map_cells(vma: VmaNode, width: int) -> tuple[list[str], int]:
    """The VMA's pages as ``width`` cells (or fewer): each the most telling state of the pages
    it covers (changed > only in B > only in A > same; "" where neither dump has the page),
    and how many pages one cell covers."""
    lo = min(x for x in (vma.start_a, vma.start_b) if x is not None)
    hi = max(x for x in (vma.end_a, vma.end_b) if x is not None)
    pages = max(1, (hi - lo) // 4096)
    per = max(1, -(-pages // max(1, width)))
    cells = [""] * (-(-pages // per))
    for span in vma.page_map:
        first = (span.start - lo) // 4096
        for c in range(max(0, first // per), min(len(cells), (first + span.pages - 1) // per + 1)):
            if _RANK[span.state] > _RANK[cells[c]]:
                cells[c] = span.state
    return cells, per
