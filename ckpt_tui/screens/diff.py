"""The diff screens: two checkpoints compared, area by area; a process's memory in hex with
the bytes that differ marked.

:class:`DiffScreen` opens what it is given (a path, or a checkpoint the app already holds,
which it then leaves open), compares them in a thread worker (:mod:`ckpt_tui.actions.diff`)
and shows each area (the panes of the inspector: overview, processes, memory, files,
network, mounts, statistics, the dump chain's layers) as a :class:`DiffTree` with dive's
toggles; a VMA shows its changed-pages map, and ``enter`` on it (or on a process's memory)
opens :class:`DiffHexScreen`.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ..actions.diff import INFORMATIONAL, CheckpointDiff, DiffOptions, Node, Status, diff_checkpoints
from ..actions.diff.render import TITLES, pages_text
from ..actions.diff.result import MemoryNode, ProcessNode, VmaNode
from ..errors import CkptError
from ..widgets.difftree import DiffTree
from ..widgets.hexview import HexView, MemorySource
from ..widgets.pagemap import page_map_text

# the areas in the order of the inspector's panes: (section key, title)
PANES = (("metadata", "Overview"), ("processes", "Processes"), ("memory", "Memory"), ("files", "Files"),
         ("network", "Network"), ("mounts", "Mounts"), ("annotations", "Annotations"), ("stats", "Logs & stats"),
         ("sizes", "Sizes"), ("layers", "Layers"), ("containers", "Containers"))


def memory_section(processes: Node | None) -> Node | None:
    """The Memory pane: each process of the processes area with only its memory (its VMAs
    and their page maps) below it."""
    if processes is None:
        return None
    out = Node("section", "memory")
    for proc in processes.children:
        mem: list[Node] = [c for c in proc.children if isinstance(c, MemoryNode)]
        if not mem:
            continue
        view = ProcessNode(proc.kind, proc.key, label=proc.label, note=proc.note, children=mem,
                           pid_a=getattr(proc, "pid_a", None), pid_b=getattr(proc, "pid_b", None),
                           matched_by=getattr(proc, "matched_by", ""))
        view.status = proc.status if proc.status is not Status.MODIFIED else mem[0].status
        out.children.append(view)
    return out.settle()


class DiffScreen(Screen):
    """``a`` and ``b`` compared; each is a path or an opened Checkpoint (not closed here)."""

    BINDING_GROUP_TITLE = "Diff"
    BINDINGS = [
        Binding("escape", "close", "Back", id="diff.close"),
        Binding("x", "hex", "Hex diff", id="diff.hex"),
        Binding("S", "secrets", "Show secrets", show=False, id="diff.secrets"),
        *[Binding(str(i + 1), f"pane({i})", f"Area {i + 1}", show=False, tooltip=f"Go to the list's area {i + 1}",
                  id=f"diff.pane{i + 1}") for i in range(9)],
    ]
    DEFAULT_CSS = """
    DiffScreen #diff-body { height: 1fr; }
    DiffScreen #diff-areas { width: 24; }
    DiffScreen #diff-right { width: 1fr; }
    DiffScreen DiffTree { height: 1fr; }
    DiffScreen #diff-detail { height: auto; max-height: 14; padding: 0 1; border-top: solid $primary-darken-2; }
    DiffScreen #diff-title, DiffScreen #diff-toggles { padding: 0 1; }
    """

    def __init__(self, a: Any, b: Any, *, limits: Any = None, masked: bool = False) -> None:
        super().__init__()
        self.masked = masked  # secrets stay masked: S does not show them (ckpt-tui serve)
        self.inputs = (a, b)
        self.limits = limits
        self.checkpoints: list[Any] = [None, None]
        self.owned = [not hasattr(a, "processes"), not hasattr(b, "processes")]
        self.result: CheckpointDiff | None = None
        self.error = ""
        self.reveal = False
        self.area = "metadata"
        self.sections: dict[str, Node] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("comparing…", id="diff-title")
        with Horizontal(id="diff-body"):
            yield OptionList(id="diff-areas")
            with Vertical(id="diff-right"):
                yield Static(id="diff-toggles")
                yield DiffTree(id="diff-tree")
                yield Static(id="diff-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "diff"
        self.compare()

    # -- the worker ------------------------------------------------------------
    @work(thread=True, exclusive=True, group="diff", exit_on_error=False, description="diff")
    def compare(self) -> None:
        from ..model import load_checkpoint

        worker = get_current_worker()
        cks: list[Any] = []

        said = [0.0]

        def say(text: str, every: float = 0.0) -> None:
            now = time.monotonic()
            if now - said[0] >= every:
                said[0] = now
                self.app.call_from_thread(self.query_one("#diff-title", Static).update, text)

        try:
            for side, item in zip("AB", self.inputs, strict=True):
                if not hasattr(item, "processes"):
                    say(f"opening {side}: {item}…")
                cks.append(item if hasattr(item, "processes") else load_checkpoint(item, limits=self.limits))
                if worker.is_cancelled:
                    raise CkptError("cancelled")
            self.checkpoints = cks
            say("comparing…")
            result = diff_checkpoints(cks[0], cks[1], DiffOptions(keep_unchanged=True),
                                      progress=lambda done, total: say(f"comparing processes: {done} of {total}…", 0.2),
                                      cancelled=lambda: worker.is_cancelled)
        except Exception as exc:  # noqa: BLE001 - bad input is a message on the screen, never a crash
            for ck, owned in zip(cks, self.owned[:len(cks)], strict=True):
                if owned and ck is not None:
                    ck.close()
            self.checkpoints = [None, None]
            self.app.call_from_thread(self._failed, str(exc) or type(exc).__name__)
            return
        self.app.call_from_thread(self._ready, result)

    def _failed(self, message: str) -> None:
        self.error = message
        self.query_one("#diff-title", Static).update(Text(f"cannot compare: {message}", style="bold red"))

    def _ready(self, result: CheckpointDiff) -> None:
        self.result = result
        a, b = result.a, result.b
        title = Text()
        title.append("same" if result.same else "different", style="bold green" if result.same else "bold yellow")
        title.append(f"   A {a.path}  →  B {b.path}")
        for p in result.problems:
            title.append(f"\nnote: {p}", style="dim")
        self.query_one("#diff-title", Static).update(title)
        areas = self.query_one("#diff-areas", OptionList)
        areas.clear_options()
        self.sections = {s.key: s for s in result.sections}
        self.sections["memory"] = memory_section(result.section("processes"))  # type: ignore[assignment]
        for key, name in PANES:
            section = self.sections.get(key)
            if section is None or (key in INFORMATIONAL and not section.children):
                continue
            areas.add_option(Option(self._area_label(name, section), id=key))
        areas.highlighted = 0
        self._show(areas.get_option_at_index(0).id or "metadata")
        self.query_one(DiffTree).focus()

    @staticmethod
    def _area_label(name: str, section: Node) -> Text:
        """``Processes  +2 -1 ~1`` (only the counts that are not 0), ``Mounts  =`` when unchanged."""
        if section.key in INFORMATIONAL:
            return Text(name)
        c = section.counts()
        parts = [f"{m}{c[st.value]}" for st, m in ((Status.ADDED, "+"), (Status.REMOVED, "-"), (Status.MODIFIED, "~"))
                 if c[st.value]]
        style = "dim" if section.status is Status.UNCHANGED else "yellow"
        return Text(f"{name}  {' '.join(parts) or '='}", style=style)

    # -- showing -----------------------------------------------------------------
    def _show(self, area: str) -> None:
        if self.result is None:
            return
        self.area = area
        section = self.sections.get(area)
        tree = self.query_one(DiffTree)
        tree.show(section, reveal=self.reveal, everything=area in INFORMATIONAL)
        self._toggles()
        self._detail(None)

    def _toggles(self) -> None:
        tree = self.query_one(DiffTree)
        text = Text(f"{TITLES.get(self.area, self.area)}   ", style="bold")
        if self.area in INFORMATIONAL:
            text.append("describes each dump; never a difference", style="dim")
        else:
            text.append_text(tree.toggles_text())
        self.query_one("#diff-toggles", Static).update(text)

    def _detail(self, node: Node | None) -> None:
        out = Text()
        if isinstance(node, VmaNode) and node.pages_compared:
            out.append_text(page_map_text(node, width=max(16, self.size.width - 42), rows=6))
            out.append("\nx: hex view with the bytes that differ marked", style="dim")
        elif isinstance(node, MemoryNode) and node.pages_compared:
            out.append(f"pages: {pages_text(node.pages)}\n")
            out.append("x: hex view with the bytes that differ marked", style="dim")
        elif isinstance(node, ProcessNode) and node.matched_by:
            out.append(f"matched by {node.matched_by}: pid {node.pid_a} in A is pid {node.pid_b} in B", style="dim")
        self.query_one("#diff-detail", Static).update(out)

    @on(OptionList.OptionHighlighted, "#diff-areas")
    def _area_picked(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._show(event.option.id)

    def on_tree_node_highlighted(self, event: DiffTree.NodeHighlighted) -> None:
        data = event.node.data
        self._detail(data if isinstance(data, Node) else None)

    def on_diff_tree_toggled(self, _event: DiffTree.Toggled) -> None:
        self._toggles()

    # -- actions -----------------------------------------------------------------
    def action_pane(self, index: int) -> None:
        areas = self.query_one("#diff-areas", OptionList)
        if index < areas.option_count:
            areas.highlighted = index

    def action_secrets(self) -> None:
        if self.masked:
            self.notify("Secrets stay masked here (--masked).", severity="warning", timeout=3)
            return
        self.reveal = not self.reveal
        self._show(self.area)
        self.notify("secrets shown" if self.reveal else "secrets masked", timeout=2)

    def _process_of(self) -> tuple[ProcessNode | None, VmaNode | None]:
        """The process (and VMA) the tree's cursor is in."""
        tree = self.query_one(DiffTree)
        node = tree.cursor_node
        vma = None
        while node is not None:
            data = node.data
            if isinstance(data, VmaNode) and vma is None:
                vma = data
            if isinstance(data, ProcessNode):
                return data, vma
            node = node.parent
        return None, vma

    def action_hex(self) -> None:
        proc, vma = self._process_of()
        a, b = self.checkpoints
        if proc is None or a is None or b is None:
            self.notify("put the cursor on a process's memory or one of its VMAs", severity="warning")
            return
        if proc.pid_b is not None:  # B's memory, A's differences marked
            ck, pid, cmp, other = b, proc.pid_b, a, proc.pid_a
        elif proc.pid_a is not None:  # a process only in A
            ck, pid, cmp, other = a, proc.pid_a, b, None
        else:
            return
        try:
            start = vma.start if vma else None
            if vma is not None:  # the first page that changed, if one did
                start = next((span.start for span in vma.page_map if span.state == "changed"), start)
            self.app.push_screen(DiffHexScreen(ck, pid, cmp, other, address=start))
        except CkptError as exc:
            self.notify(str(exc), severity="error")

    def action_close(self) -> None:
        self.workers.cancel_group(self, "diff")
        self.app.pop_screen()

    def on_unmount(self) -> None:
        for ck, owned in zip(self.checkpoints, self.owned, strict=True):
            if owned and ck is not None:
                ck.close()
        self.checkpoints = [None, None]


class DiffHexScreen(Screen):
    """A process's memory in one dump, the bytes that differ in the other dump marked."""

    BINDING_GROUP_TITLE = "Hex diff"
    BINDINGS = [Binding("escape", "close", "Back", id="hexdiff.close")]

    def __init__(self, checkpoint: Any, pid: int, other: Any, other_pid: int | None, *,
                 address: int | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.pid = pid
        proc = checkpoint.processes[pid]
        self.source = MemorySource(checkpoint.memory(pid), proc.vmas, proc.mm)
        self.compare_source = None
        if other_pid is not None and other_pid in other.processes:
            oproc = other.processes[other_pid]
            self.compare_source = MemorySource(other.memory(other_pid), oproc.vmas, oproc.mm)
        self.address = address
        self.sub_title = f"pid {pid} {proc.comm}: bytes that differ from pid {other_pid} of the other dump"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("underlined: differs in the other dump · ~N: N bytes of the row differ · "
                          "'only in this dump': no such page there", style="dim"), id="hexdiff-legend")
        yield HexView(self.source, compare=self.compare_source, id="hexdiff-view")
        yield Footer()

    def on_mount(self) -> None:
        view = self.query_one(HexView)
        view.focus()
        if self.address is not None:
            self.call_after_refresh(view.goto, self.first_change(view, self.address))

    @staticmethod
    def first_change(view: HexView, address: int) -> int:
        """The first row at or after ``address`` (within its page) with a byte that differs."""
        base = address - address % 16
        for addr in range(base, base + 4096, 16):
            if view.changed_offsets(addr):
                return addr
        return address

    def action_close(self) -> None:
        self.app.pop_screen()
