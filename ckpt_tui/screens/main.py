"""The main screen: navigation tree on the left, the detail pane on the right.

It reads the session it is given: when ``session.checkpoint`` changes it drops the panes
built from the previous one and shows the current section again; the loading line, the
navigation tree and the overview follow the session themselves. Keys that need the App
(search, build, restore) post :class:`MainScreen.Requested`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static, Tree

from ..errors import Pane as Area
from ..widgets.base import DetailPane, Pane
from ..widgets.format import esc
from ..widgets.loading import LoadingLine
from ..widgets.navtree import SECTION_TITLES, SECTIONS, NavItem, NavTree
from ..widgets.overview import OverviewPane

if TYPE_CHECKING:  # pragma: no cover
    from ..ui.session import Operation, Session
    from ..widgets.files import FilesTree
    from ..widgets.findings import FindingsPane
    from ..widgets.problems import ProblemsPane
    from ..widgets.processes import ProcessesPane

# each section's pane: (module under ckpt_tui.widgets, class), imported when the pane is first
# shown, so the first frame pays only for the overview
PANES: dict[str, tuple[str, str]] = {
    "processes": ("processes", "ProcessesPane"),
    "memory": ("memory", "MemoryPane"),
    "files": ("files", "FilesPane"),
    "network": ("network", "NetworkPane"),
    "mounts": ("network", "MountsPane"),
    "logs": ("logs", "LogsPane"),
    "problems": ("problems", "ProblemsPane"),
    "findings": ("findings", "FindingsPane"),
    "process": ("processes", "ProcessPane"),
}


def pane_class(kind: str) -> type[Pane]:
    import importlib

    module, name = PANES[kind]
    cls: type[Pane] = getattr(importlib.import_module(f"..widgets.{module}", __package__), name)
    return cls
OPERATION_ACTIONS: dict[str, Operation] = {"build": "build", "restore": "restore"}


class MainScreen(Screen[None]):
    BINDING_GROUP_TITLE = "Main"
    # the tree narrows below 140 columns, and below 100 it gives way to the pane that has the
    # focus (Escape brings it back): app.tcss
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    BINDINGS = [
        *(Binding(str(i + 1), f"section('{kind}')", title, show=False, id=f"main.section.{kind}")
          for i, (kind, title) in enumerate(SECTIONS)),
        Binding("s", "search", "Search", tooltip="Search all memory", id="main.search"),
        Binding("b", "build", "Build", tooltip="Build an OCI checkpoint image", id="main.build"),
        Binding("r", "restore", "Restore", tooltip="Restore the container with its engine", id="main.restore"),
        Binding("z", "maximize", "Maximize", show=False, tooltip="Maximise the detail pane (again: back)", id="main.maximize"),
        Binding("escape", "back", "Back to tree", show=False, id="main.back"),
    ]

    @dataclass
    class Requested(Message):
        """A key asked for something the App runs on the open checkpoint."""

        what: Literal["search", "build", "restore"]

    def __init__(self, session: Session) -> None:
        super().__init__(id="main")
        self.session = session
        self.current = "overview"
        self.panes: dict[str, Pane] = {}

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        with Horizontal(id="body"):
            yield NavTree(self.session, id="nav")
            with Vertical(id="detail"):
                yield LoadingLine(self.session, id="loading")
                with ContentSwitcher(id="panes", initial="pane-overview"):
                    yield OverviewPane(session=self.session, id="pane-overview")
                    yield Static("", id="pane-placeholder")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(NavTree).focus()
        self.watch(self.session, "checkpoint", self._checkpoint_changed, init=False)
        self.watch(self.session, "error", self._placeholder, init=False)

    async def _checkpoint_changed(self) -> None:
        """Another checkpoint (or another container of the pod): new panes, the same section."""
        for pane in list(self.panes.values()):
            await pane.remove()
        self.panes.clear()
        if self.current != "overview":
            await self.show_pane(self.current)

    def _placeholder(self) -> None:
        error = self.session.error
        text = (f"[$text-error]Not available: the checkpoint could not be opened.[/]\n{esc(error)}" if error
                else f"[b]{esc(SECTION_TITLES.get(self.current, 'This pane'))}[/] appears as soon as the "
                     "checkpoint is loaded.\n[$text-muted]Keys work meanwhile; q quits.[/]")
        self.query_one("#pane-placeholder", Static).update(text)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Note where the focus is: at narrow widths the tree collapses while a pane has it."""
        self.set_class(not isinstance(event.widget, NavTree), "-pane-focused")

    # -- panes ---------------------------------------------------------------
    async def show_pane(self, kind: str, target: object = None) -> DetailPane | None:
        kind = str(kind)
        if kind not in PANES:
            kind = "overview"
        self.current = kind
        switcher = self.query_one("#panes", ContentSwitcher)
        if kind == "overview":
            switcher.current = "pane-overview"
            return self.query_one(OverviewPane)
        cp = self.session.checkpoint
        if cp is None:
            self._placeholder()
            switcher.current = "pane-placeholder"
            return None
        pane = self.panes.get(kind)
        pid = target if kind == "process" and isinstance(target, int) else None  # the ProcessPane's process
        if pane is None:
            pane = pane_class(kind)(cp, session=self.session, id=f"pane-{kind}")
            self.panes[kind] = pane
            if pid is not None:
                pane.show_process(pid)  # type: ignore[attr-defined]  # before it mounts: it fills once
            await switcher.add_content(pane, set_current=True)
        else:
            switcher.current = pane.id
            if pid is not None:
                pane.show_process(pid)  # type: ignore[attr-defined]
        if pid is not None:
            self.session.current_pid = pid
        elif target is not None:
            pane.show_target(target)
        return pane

    @property
    def current_pane(self) -> DetailPane | None:
        switcher = self.query_one("#panes", ContentSwitcher)
        if switcher.current == "pane-overview":
            return self.query_one(OverviewPane)
        return self.panes.get(self.current) if switcher.current != "pane-placeholder" else None

    @on(Tree.NodeHighlighted, "#nav")
    async def _nav_highlighted(self, event: Tree.NodeHighlighted[NavItem]) -> None:
        item = event.node.data
        if item is None:
            return
        if item.kind == "process":
            await self.show_pane("process", item.pid)
        else:
            await self.show_pane(item.kind)

    @on(Tree.NodeSelected, "#nav")
    def _nav_selected(self, event: Tree.NodeSelected[NavItem]) -> None:
        """Enter on a section moves into the pane."""
        pane = self.current_pane
        if pane is not None:
            self.focus_pane(pane)

    def focus_pane(self, pane: DetailPane) -> None:
        """Into the pane's main table (or tree, or view), never a dropdown above it."""
        target = pane.focus_target()
        if target is not None:
            target.focus()

    async def goto_section(self, kind: str, target: object = None) -> None:
        kind = str(kind)
        nav = self.query_one(NavTree)
        with nav.prevent(Tree.NodeHighlighted):
            nav.select_section(kind if kind in SECTION_TITLES else "overview")
        await self.show_pane(kind, target)

    async def open_process(self, pid: int, tab: str | None = None) -> None:
        nav = self.query_one(NavTree)
        node = nav.reveal_process(pid)
        if node is not None:
            with nav.prevent(Tree.NodeHighlighted):
                nav.move_cursor(node)
                nav.scroll_to_node(node, animate=False)
        pane = await self.show_pane("process", pid)
        if pane is not None and tab and isinstance(pane, pane_class("process")):
            pane.select_tab(tab)  # type: ignore[attr-defined]

    # -- messages from panes -----------------------------------------------
    async def on_processes_pane_open_process(self, message: ProcessesPane.OpenProcess) -> None:
        await self.open_process(message.pid)
        pane = self.current_pane
        if pane is not None:
            self.focus_pane(pane)

    def on_files_tree_view_file(self, message: FilesTree.ViewFile) -> None:
        node = message.node
        if node.status == "deleted":
            self.notify(f"/{node.path} was deleted in the container: there is nothing to view.",
                        severity="warning")
            return
        if self.session.checkpoint is not None:
            from .fileview import FileViewScreen

            self.app.push_screen(FileViewScreen(self.session.checkpoint, node.path, node.size, volume=message.volume))

    async def on_findings_pane_open_link(self, message: FindingsPane.OpenLink) -> None:
        """A finding's link: its process, its file, or the memory at its address (which the App opens)."""
        link, cp = message.link, self.session.checkpoint
        if cp is None:
            return
        from ..widgets.memory import MemoryPane
        from .fileview import FileViewScreen

        if link.kind == "hex" and link.pid is not None:
            self.post_message(MemoryPane.OpenHex(link.pid, link.address or 0))
        elif link.kind == "process" and link.pid in cp.processes:
            await self.open_process(link.pid)
        elif link.kind == "file":
            entry = next((e for e in cp.rootfs.entries if "/" + e.path == link.path), None)
            if entry is not None:
                self.app.push_screen(FileViewScreen(cp, entry.path, entry.size))

    async def on_problems_pane_go_to_pane(self, message: ProblemsPane.GoToPane) -> None:
        cp = self.session.checkpoint
        pid = message.pid if cp is not None and message.pid in cp.processes else None
        if message.pane is Area.PROCESSES and pid is not None:
            await self.open_process(pid)
        elif message.pane is Area.MEMORY and pid is not None:
            await self.goto_section("memory", pid)
        else:
            await self.goto_section(message.pane)

    # -- actions -------------------------------------------------------------
    async def action_section(self, kind: str) -> None:
        """A section key: that pane, with the focus in its main table."""
        await self.goto_section(kind)
        pane = self.current_pane
        if pane is not None:
            self.focus_pane(pane)

    def action_back(self) -> None:
        if self.has_class("-maximized"):
            self.remove_class("-maximized")
        self.query_one(NavTree).focus()

    def action_maximize(self) -> None:
        self.toggle_class("-maximized")
        if self.has_class("-maximized"):
            pane = self.current_pane
            focused = self.focused
            if pane is not None and (focused is None or isinstance(focused, NavTree)):
                self.focus_pane(pane)

    def action_search(self) -> None:
        self.post_message(self.Requested("search"))

    def action_build(self) -> None:
        self.post_message(self.Requested("build"))

    def action_restore(self) -> None:
        self.post_message(self.Requested("restore"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "search":
            return True if self.session.can_search() else None
        operation = OPERATION_ACTIONS.get(action)
        if operation is not None:
            return True if self.session.operation_blocked(operation) is None else None
        return True

    def on_key(self, event: events.Key) -> None:
        """A dimmed build or restore key says why it does nothing (read-only, nothing loaded, busy)."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        operation = OPERATION_ACTIONS.get(active.binding.action)
        reason = self.session.operation_blocked(operation) if operation is not None else None
        if reason:
            event.stop()
            self.notify(reason, severity="warning", timeout=4)
