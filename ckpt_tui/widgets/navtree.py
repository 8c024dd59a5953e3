"""The navigation tree: sections, with the process tree under Processes (children added on expand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import NodeID, TreeNode

from . import format as fmt
from .network import merge_mounts

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..model.types import Process
    from ..ui.session import Session

SECTIONS = (
    ("overview", "Overview"),
    ("processes", "Processes"),
    ("memory", "Memory"),
    ("files", "Files"),
    ("network", "Network"),
    ("mounts", "Mounts"),
    ("logs", "Logs & stats"),
    ("problems", "Problems"),
    ("findings", "Findings"),
)
SECTION_TITLES = dict(SECTIONS)

STATE_MARK = {"Zombie": ("Z zombie", "nav--zombie"), "Stopped": ("T stopped", "nav--stopped")}


@dataclass(frozen=True)
class NavItem:
    kind: str  # a section id, or "process"
    pid: int | None = None


class NavTree(Tree[NavItem]):
    """The sections, and the process tree of the session's checkpoint (it follows the session)."""

    BINDING_GROUP_TITLE = "Navigation tree"
    COMPONENT_CLASSES = Tree.COMPONENT_CLASSES | {
        "nav--section", "nav--count", "nav--zombie", "nav--stopped", "nav--pid", "nav--problem", "nav--disabled",
    }

    def __init__(self, session: Session, **kwargs: Any) -> None:
        self.session = session
        self.checkpoint: Checkpoint | None = None
        self.filter_text = ""
        self.section_nodes: dict[str, TreeNode[NavItem]] = {}
        self.counts: dict[str, str] = {}
        self._problem_errors = 0
        self._unpopulated: set[NodeID] = set()  # process nodes whose children are added on expand
        super().__init__("checkpoint", data=NavItem("root"), **kwargs)
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 2
        for kind, title in SECTIONS:
            self.section_nodes[kind] = self.root.add_leaf(title, data=NavItem(kind))
        self.root.expand()

    def on_mount(self) -> None:
        self.watch(self.session, "checkpoint", self.set_checkpoint)

    # -- population --------------------------------------------------------
    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = cp = checkpoint
        if cp is None:
            self.counts = {}
            self._problem_errors = 0
            self._rebuild_processes()
            self.refresh()
            return
        errors = sum(1 for p in cp.problems if p.severity == "error")
        self.counts = {
            "processes": fmt.count(len(cp.processes)),
            "memory": fmt.plural(sum(len(p.vmas) for p in cp.processes.values()), "VMA"),
            "files": fmt.count(sum(1 for e in cp.rootfs.entries if e.type not in ("dir", "whiteout"))
                               + len(cp.rootfs.deleted)),
            "network": fmt.plural(len(cp.sockets), "socket"),
            "mounts": fmt.count(len(merge_mounts(cp.mounts))),  # the rows of the Mounts pane
            "logs": fmt.count(len(cp.logs)),
            "problems": fmt.count(len(cp.problems)),
        }
        self._problem_errors = errors
        self._rebuild_processes()
        self.refresh()

    def _process_node(self, parent: TreeNode[NavItem], proc: Process) -> TreeNode[NavItem]:
        has_children = any(c in self.checkpoint.processes for c in proc.children) if self.checkpoint else False
        node = parent.add(str(proc.pid), data=NavItem("process", proc.pid), allow_expand=has_children)
        self._unpopulated.add(node.id)
        return node

    def _rebuild_processes(self) -> None:
        node = self.section_nodes["processes"]
        node.remove_children()
        self._unpopulated.clear()
        cp = self.checkpoint
        if cp is None:
            return
        if self.filter_text:
            needle = self.filter_text.lower()
            for proc in cp.process_list():
                if needle in str(proc.pid) or needle in proc.comm.lower() or needle in proc.title.lower():
                    node.add_leaf(str(proc.pid), data=NavItem("process", proc.pid))
            node.expand()
            return
        roots = cp.roots or [p for p in sorted(cp.processes) if cp.processes[p].ppid not in cp.processes]
        for pid in roots:
            if pid in cp.processes:
                child = self._process_node(node, cp.processes[pid])
                if len(roots) <= 4:  # the first level opens by itself; deeper ones on expand
                    self.populate(child)
                    child.expand()
        node.allow_expand = bool(node.children)
        node.expand()

    def populate(self, node: TreeNode[NavItem]) -> None:
        item = node.data
        if item is None or item.pid is None or node.id not in self._unpopulated:
            return
        self._unpopulated.discard(node.id)
        cp = self.checkpoint
        proc = cp.processes.get(item.pid) if cp is not None else None
        if cp is None or proc is None:
            return
        for child in proc.children:
            if child in cp.processes:
                self._process_node(node, cp.processes[child])

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NavItem]) -> None:
        self.populate(event.node)

    def reveal_process(self, pid: int) -> TreeNode[NavItem] | None:
        """Expand the ancestors of ``pid`` and return its node."""
        cp = self.checkpoint
        if cp is None or pid not in cp.processes:
            return None
        if self.filter_text:
            self.set_filter("")
        chain = []
        current: int | None = pid
        seen = set()
        while current is not None and current in cp.processes and current not in seen:
            seen.add(current)
            chain.append(current)
            parent = cp.processes[current].ppid
            current = parent if parent in cp.processes and parent != current else None
        chain.reverse()
        node = self.section_nodes["processes"]
        node.expand()
        for step in chain:
            self.populate(node)
            match = next((c for c in node.children if c.data and c.data.pid == step), None)
            if match is None:
                return None
            node = match
            if step != pid:
                self.populate(node)
                node.expand()
        return node

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild_processes()

    # -- rendering ---------------------------------------------------------
    def _component_style(self, name: str) -> Style:
        """A component style, or no style before the widget has its styles (width computations)."""
        try:
            return self.get_component_rich_style(name, partial=True)
        except KeyError:
            return Style()

    def render_label(self, node: TreeNode[NavItem], base_style: Style, style: Style) -> Text:
        item = node.data
        get = self._component_style
        prefix = ""
        if node._allow_expand:
            prefix = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        if item is None:
            return Text(str(node._label), style=base_style + style)
        if item.kind == "process":
            proc = self.checkpoint.processes.get(item.pid) if self.checkpoint and item.pid is not None else None
            if proc is None:
                return Text.assemble((prefix, base_style + style), (str(item.pid), base_style + style))
            parts: list[tuple[str, Style]] = [
                (prefix, base_style + style),
                (f"{proc.pid} ", base_style + get("nav--pid") + style),
                (proc.comm or "?", base_style + style),
            ]
            threads = len(proc.threads)
            if threads > 1:
                parts.append((f" ×{threads}", base_style + get("nav--count") + style))
            mark = STATE_MARK.get(proc.state)
            if mark:
                parts.append((f" {mark[0]}", base_style + get(mark[1]) + style))
            return Text.assemble(*parts)
        title = str(node._label)
        count = self.counts.get(item.kind, "")
        loaded = self.checkpoint is not None or item.kind == "overview"
        section_style = get("nav--section") if loaded else get("nav--disabled")
        parts = [(prefix, base_style + style), (title, base_style + section_style + style)]
        if count:
            count_style = get("nav--count")
            if item.kind == "problems" and self._problem_errors:
                count_style = get("nav--problem")
            parts.append((f" {count}", base_style + count_style + style))
        return Text.assemble(*parts)

    def select_section(self, kind: str) -> None:
        node = self.section_nodes.get(kind)
        if node is not None:
            self.move_cursor(node)

    def copy_text(self) -> str:
        node = self.cursor_node
        if node is None or node.data is None:
            return ""
        if node.data.kind == "process":
            return str(node.data.pid)
        return SECTION_TITLES.get(node.data.kind, "")
