"""The main screen: navigation tree on the left, the detail pane on the right."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Label, ProgressBar, Static, Tree

from ..widgets.base import Pane
from ..widgets.files import FilesPane, FilesTree
from ..widgets.logs import LogsPane
from ..widgets.memory import MemoryPane
from ..widgets.navtree import SECTION_TITLES, SECTIONS, NavItem, NavTree
from ..widgets.network import MountsPane, NetworkPane
from ..widgets.overview import OverviewPane
from ..widgets.problems import ProblemsPane
from ..widgets.processes import ProcessesPane, ProcessPane
from ..widgets.format import esc

PANES: dict[str, type[Pane]] = {
    "processes": ProcessesPane,
    "memory": MemoryPane,
    "files": FilesPane,
    "network": NetworkPane,
    "mounts": MountsPane,
    "logs": LogsPane,
    "problems": ProblemsPane,
    "process": ProcessPane,
}

# Problem.pane names the model uses -> our sections
PANE_ALIASES = {"images": "logs", "stats": "logs", "metadata": "overview", "rootfs": "files", "sockets": "network",
                "fds": "processes", "pstree": "processes"}


class MainScreen(Screen):
    BINDING_GROUP_TITLE = "Main"
    BINDINGS = [
        *(Binding(str(i + 1), f"section('{kind}')", title, show=False, id=f"main.section.{kind}")
          for i, (kind, title) in enumerate(SECTIONS)),
        Binding("s", "search", "Search memory", id="main.search"),
        Binding("b", "build", "Build image", id="main.build"),
        Binding("r", "restore", "Restore", id="main.restore"),
        Binding("z", "maximize", "Maximize", id="main.maximize"),
        Binding("escape", "back", "Back to tree", show=False, id="main.back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.current = "overview"
        self.panes: dict[str, Pane] = {}

    def compose(self) -> ComposeResult:
        yield Header(id="header")
        with Horizontal(id="body"):
            yield NavTree(id="nav")
            with Vertical(id="detail"):
                with Horizontal(id="loading"):
                    yield Label("loading…", id="loading-label")
                    yield ProgressBar(total=None, show_eta=False, id="loading-bar")
                with ContentSwitcher(id="panes", initial="pane-overview"):
                    yield OverviewPane(None, getattr(self.app, "metadata", None), id="pane-overview")
                    yield Static("", id="pane-placeholder")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(NavTree).focus()
        self.app.main_ready()  # type: ignore[attr-defined]

    # -- state from the app ------------------------------------------------
    @property
    def checkpoint(self) -> Any:
        return getattr(self.app, "checkpoint", None)

    def on_progress(self, stage: str, done: float | None, total: float | None) -> None:
        label = self.query_one("#loading-label", Label)
        bar = self.query_one("#loading-bar", ProgressBar)
        label.update(stage)
        if total:
            bar.update(total=total, progress=done or 0)
        else:
            bar.update(total=None)
        if self.current != "overview" and self.checkpoint is None:
            self._placeholder()

    def on_metadata(self, metadata: dict) -> None:
        overview = self.query_one(OverviewPane)
        overview.metadata = metadata
        overview.refresh_content()

    async def on_loaded(self) -> None:
        cp = self.checkpoint
        self.query_one("#loading").display = False
        self.query_one(NavTree).set_checkpoint(cp)
        self.query_one(OverviewPane).set_checkpoint(cp)
        for pane in list(self.panes.values()):
            await pane.remove()
        self.panes.clear()
        if self.current != "overview":
            await self.show_pane(self.current)

    def on_failed(self, error: str) -> None:
        label = self.query_one("#loading-label", Label)
        label.update(f"cannot open: {error}")
        label.add_class("-error")
        self.query_one("#loading-bar", ProgressBar).display = False
        overview = self.query_one(OverviewPane)
        overview.query_one("#ov-container", Static).update(
            f"[$text-error]This checkpoint could not be opened.[/]\n\n{esc(error)}"
        )
        self._placeholder()

    def on_retry(self, text: str) -> None:
        """Undo what a failed load left (error label, hidden bar, error overview): another
        checkpoint is being opened."""
        from textual.css.query import NoMatches

        try:
            label = self.query_one("#loading-label", Label)
            bar = self.query_one("#loading-bar", ProgressBar)
            self.query_one("#loading").display = True
        except NoMatches:
            return
        label.remove_class("-error")
        label.update(text)
        bar.display = True
        bar.update(total=None)
        self.on_metadata({})

    def _placeholder(self) -> None:
        error = getattr(self.app, "load_error", "")
        text = (f"[$text-error]Not available: the checkpoint could not be opened.[/]\n{esc(error)}" if error
                else f"[b]{esc(SECTION_TITLES.get(self.current, 'This pane'))}[/] appears as soon as the "
                     "checkpoint is loaded.\n[$text-muted]Keys work meanwhile; q quits.[/]")
        self.query_one("#pane-placeholder", Static).update(text)

    # -- panes ---------------------------------------------------------------
    async def show_pane(self, kind: str, target: Any = None) -> Pane | None:
        kind = PANE_ALIASES.get(kind, kind)
        if kind not in PANES and kind != "overview":
            kind = "overview"
        self.current = kind
        switcher = self.query_one("#panes", ContentSwitcher)
        if kind == "overview":
            switcher.current = "pane-overview"
            return self.query_one(OverviewPane)
        cp = self.checkpoint
        if cp is None:
            self._placeholder()
            switcher.current = "pane-placeholder"
            return None
        pane = self.panes.get(kind)
        if pane is None:
            pane = PANES[kind](cp, id=f"pane-{kind}")
            if kind == "process" and isinstance(target, int):
                pane.show_process(target)  # type: ignore[attr-defined]
                target = None
            self.panes[kind] = pane
            await switcher.add_content(pane, set_current=True)
        else:
            switcher.current = pane.id
        if kind == "process" and isinstance(target, int):
            pane.show_process(target)  # type: ignore[attr-defined]
            self.app.current_pid = target  # type: ignore[attr-defined]
        elif target is not None:
            pane.show_target(target)
        return pane

    @property
    def current_pane(self) -> Pane | None:
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

    def focus_pane(self, pane: Pane) -> None:
        for widget in pane.query("*"):
            if widget.focusable and widget.display and widget.visible:
                widget.focus()
                return

    async def goto_section(self, kind: str, target: Any = None) -> None:
        kind = PANE_ALIASES.get(kind, kind)
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
        if pane is not None and tab:
            pane.select_tab(tab)  # type: ignore[attr-defined]

    # -- messages from panes -----------------------------------------------
    async def on_processes_pane_open_process(self, message: ProcessesPane.OpenProcess) -> None:
        await self.open_process(message.pid)
        pane = self.current_pane
        if pane is not None:
            self.focus_pane(pane)

    def on_memory_pane_open_hex(self, message: MemoryPane.OpenHex) -> None:
        self.app.open_hex(message.pid, message.address)  # type: ignore[attr-defined]

    def on_files_tree_view_file(self, message: FilesTree.ViewFile) -> None:
        node = message.node
        if node.status == "deleted":
            self.notify(f"/{node.path} was deleted in the container: there is nothing to view.",
                        severity="warning")
            return
        from .fileview import FileViewScreen

        self.app.push_screen(FileViewScreen(self.checkpoint, node.path, node.size))

    async def on_problems_pane_go_to_pane(self, message: ProblemsPane.GoToPane) -> None:
        pane = PANE_ALIASES.get(message.pane, message.pane)
        cp = self.checkpoint
        pid = message.pid if cp is not None and message.pid in cp.processes else None
        if pane == "processes" and pid is not None:
            await self.open_process(pid)
        elif pane == "memory" and pid is not None:
            await self.goto_section("memory", pid)
        else:
            await self.goto_section(pane)

    # -- actions -------------------------------------------------------------
    async def action_section(self, kind: str) -> None:
        await self.goto_section(kind)

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
        self.app.open_search()  # type: ignore[attr-defined]

    def action_build(self) -> None:
        self.app.start_build()  # type: ignore[attr-defined]

    def action_restore(self) -> None:
        self.app.start_restore()  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app: Any = self.app
        if action == "search":
            return True if self.checkpoint is not None and self.checkpoint.processes else None
        if action in ("build", "restore"):
            return True if app.action_available(action) else None
        return True
