"""The Textual application: the session, its two controllers, the everywhere-keys, navigation.

``run_app(path, log_files=(), readonly=False, max_size=None) -> int`` is what the command
line calls; ``path=None`` opens the bundled demo checkpoint.

Who does what: the :class:`~ckpt_tui.ui.session.Session` holds the state; the
:class:`~ckpt_tui.ui.loading.LoadingController` and the
:class:`~ckpt_tui.ui.operations.OperationsController` run the workers and set the session
from the messages the workers post (the App's ``on_*`` handlers hand each message over);
the screens and panes watch the session. The App keeps the header in step with it.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from .. import shutdown
from ..archive.registry.reference import as_path, is_remote
from ..commands import ActionCommands, AddressCommands, FileCommands, ProcessCommands, SocketCommands
from ..errors import CkptError
from ..messages import (
    ActionFinished,
    ActionOutput,
    CheckpointLoaded,
    CheckpointsFound,
    ExportDone,
    LoadFailed,
    LoadProgress,
    MetadataReady,
    RestorePrepared,
)
from ..model.types import Socket
from ..screens.main import MainScreen
from ..text import plural
from . import protocols, terminal
from .keymap import keymap_path, load_keymap
from .loading import LoadingController
from .operations import OperationsController
from .session import Options, Session

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..widgets.memory import MemoryPane

DEMO_PATH = Path(__file__).parent.parent / "data" / "demo-web-httpd.tar.zst"

# the session fields the header and the footer's bindings depend on
_HEADER_FIELDS = ("checkpoint", "pod", "path", "preview", "error", "switching_to", "loading", "listing", "busy")


class CkptApp(App[int]):
    """ckpt-tui: inspect a container checkpoint."""

    CSS_PATH = "../app.tcss"
    TITLE = "ckpt-tui"
    SUB_TITLE = ""
    COMMANDS = App.COMMANDS | {ProcessCommands, FileCommands, SocketCommands, AddressCommands, ActionCommands}
    BINDING_GROUP_TITLE = "Everywhere"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        # a person's habit; an input's or the screen's own ctrl+c (copy a selection) comes first
        # when it has something to copy, and a running build or restore takes it as "cancel"
        Binding("ctrl+c", "quit", "Quit", show=False, id="app.quit_ctrl_c"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("slash", "filter", "Filter", tooltip="Filter the focused table or tree; find in text and hex", id="app.filter"),
        Binding("c", "copy", "Copy", tooltip="Copy the selected value", id="app.copy"),
        Binding("ctrl+s", "export", "Export", tooltip="Export the pane or the selection to a file", id="app.export"),
        Binding("S", "toggle_secrets", "Show secrets", show=False, id="app.secrets"),
        Binding("P", "pod_containers", "Pod containers", show=False, id="app.pod"),
        Binding("L", "other_checkpoint", "List", tooltip="Back to the list of checkpoints", id="app.other"),
        Binding("D", "compare", "Diff with…", show=False, tooltip="Compare with another checkpoint", id="app.diff"),
        # `o` everywhere (the files tree sorts with `>` so that it does not shadow it)
        Binding("o", "open_checkpoint", "Open", show=False, tooltip="Open another checkpoint (a path, or docker://…)", id="app.open"),
    ]

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        log_files: Iterable[str | Path] = (),
        readonly: bool = False,
        max_size: int | None = None,
        now: datetime | None = None,
        masked: bool = False,
        compare: str | Path | None = None,
        relative_times: bool = True,
        keymap: Path | None = None,
        max_entries: int | None = None,
    ) -> None:
        super().__init__()
        self.keymap_file = keymap if keymap is not None else keymap_path()  # the user's keymap.toml
        self.keymap: dict[str, str] = {}  # binding id -> keys, as applied
        self._clashes_told: set[frozenset[str]] = set()
        options = Options(readonly=readonly, is_demo=path is None, log_files=tuple(str(p) for p in log_files),
                          max_size=max_size, now=now, masked=masked, relative_times=relative_times,
                          max_entries=max_entries)
        # `ckpt-tui A B`: the diff with B, once A is open
        self._compare_with = as_path(compare) if compare is not None else None
        self.session = Session(as_path(path) if path is not None else DEMO_PATH, options)  # docker://: a RemotePath
        self.loader = LoadingController(self)
        self.operations = OperationsController(self)

    # -- read-only views of the session (for tests, scripts and the benchmark) ----------------
    @property
    def checkpoint(self) -> Checkpoint | None:
        return self.session.checkpoint

    @property
    def pod(self) -> Checkpoint | None:
        return self.session.pod

    @property
    def path(self) -> Path:
        return self.session.path

    @property
    def loading(self) -> bool:
        return self.session.loading

    @property
    def load_error(self) -> str:
        return self.session.error

    @property
    def is_demo(self) -> bool:
        return self.session.options.is_demo

    @property
    def secrets_revealed(self) -> bool:
        return self.session.secrets_revealed

    # -- start-up --------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.session)

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("the main screen is gone")

    def on_mount(self) -> None:
        # (the main screen is composed and mounted before the App's Mount)
        for name in _HEADER_FIELDS:
            self.watch(self.session, name, self._session_changed, init=False)
        if self._compare_with is not None:
            self.watch(self.session, "checkpoint", self._compare_on_load, init=False)
        self._session_changed()
        self._apply_keymap()
        gc.freeze()  # the app's own objects: never scanned again by the garbage collector
        self.loader.start()

    def _compare_on_load(self) -> None:
        other, top = self._compare_with, self.session.top
        if other is not None and top is not None:
            self._compare_with = None
            self.compare_with(other)

    def compare_with(self, other: Path) -> None:
        """Show how checkpoint ``other`` differs from the open one (the pod, for a pod)."""
        from ..screens.diff import DiffScreen  # when first used: not before the first frame

        top = self.session.top
        if top is None:
            return
        self.push_screen(DiffScreen(top, other, limits=self.session.options.limits(), masked=self.session.options.masked))

    def _apply_keymap(self) -> None:
        """The user's keymap.toml, if there is one; whatever is wrong in it is said, never fatal."""
        keymap, problems = load_keymap(self.keymap_file)
        self.keymap = keymap
        if keymap:
            self.set_keymap(keymap)
        if problems:
            self.notify("\n".join(problems), title=f"Keymap {self.keymap_file}: not all of it applies",
                        severity="error", timeout=15)

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: DOMNode) -> None:
        """A key the keymap gives to two bindings of one widget: said once (the last one wins)."""
        ids = frozenset(b.id or b.action for b in clashed_bindings)
        if ids and ids not in self._clashes_told:
            self._clashes_told.add(ids)
            self.notify(f"Keymap {self.keymap_file}: {', '.join(sorted(ids))} share a key; one of them is lost.",
                        severity="warning", timeout=10)

    def _session_changed(self) -> None:
        self.title, self.sub_title = self.session.header()
        self.refresh_bindings()

    def on_unmount(self) -> None:
        self.loader.close()

    # -- messages from the workers: each goes to the controller that started the worker --------
    def on_load_progress(self, message: LoadProgress) -> None:
        self.loader.progressed(message)

    def on_metadata_ready(self, message: MetadataReady) -> None:
        self.loader.metadata_ready(message)

    async def on_checkpoint_loaded(self, message: CheckpointLoaded) -> None:
        self.loader.loaded(message)

    def on_load_failed(self, message: LoadFailed) -> None:
        self.loader.failed(message)

    def on_checkpoints_found(self, message: CheckpointsFound) -> None:
        self.loader.found(message)

    def on_restore_prepared(self, message: RestorePrepared) -> None:
        self.operations.restore_prepared(message)

    def on_action_output(self, message: ActionOutput) -> None:
        self.operations.output(message)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.operations.finished(message)

    def on_export_done(self, message: ExportDone) -> None:
        self.operations.export_done(message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "load":
            self.loader.worker_failed(event.worker)
        else:
            self.operations.worker_failed(event.worker)

    # -- messages from the screens ---------------------------------------------------------
    def on_main_screen_requested(self, message: MainScreen.Requested) -> None:
        if message.what == "search":
            self.open_search()
        elif message.what == "build":
            self.operations.start_build()
        elif message.what == "restore":
            self.operations.start_restore()

    def on_memory_pane_open_hex(self, message: MemoryPane.OpenHex) -> None:
        self.open_hex(message.pid, message.address)

    # -- navigation (the palette, the panes' links) ---------------------------------------------
    def back_to_main(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()

    async def goto_section(self, kind: str, target: object = None) -> None:
        self.back_to_main()
        await self.main.goto_section(kind, target)

    async def goto_process(self, pid: int, tab: str | None = None) -> None:
        self.back_to_main()
        await self.main.open_process(pid, tab)

    async def goto_file(self, path: str) -> None:
        await self.goto_section("files", path)
        pane = self.main.current_pane
        if pane is not None:
            self.main.focus_pane(pane)

    async def goto_socket(self, socket: Socket) -> None:
        await self.goto_section("network", socket)

    def open_hex(self, pid: int, address: int | None = None) -> None:
        from ..screens.memory import HexScreen  # when first used: not before the first frame

        checkpoint = self.session.checkpoint
        if checkpoint is None or pid not in checkpoint.processes:
            return
        try:
            checkpoint.memory(pid)
        except CkptError as exc:
            self.notify(f"cannot read the memory of pid {pid}: {exc}", severity="error")
            return
        self.push_screen(HexScreen(checkpoint, pid, address))

    def action_open_hex(self, pid: int, address: int) -> None:
        """Target of the clickable labels of the VMA map."""
        self.open_hex(pid, address)

    def open_search(self, pattern: str = "", pid: int | None = None) -> None:
        from ..screens.memory import SearchScreen  # when first used: not before the first frame

        checkpoint = self.session.checkpoint
        if checkpoint is not None:
            self.push_screen(SearchScreen(checkpoint, pid=pid, pattern=pattern))

    # -- the everywhere-keys ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        s = self.session
        if action == "export":
            return True if (s.checkpoint is not None or not isinstance(self.screen, MainScreen)) else None
        if action == "filter":
            return True if protocols.find_target(self.screen) is not None else None
        if action == "copy":
            return True if s.checkpoint is not None or s.preview is not None else None
        if action == "pod_containers":
            return True if s.pod is not None else None
        if action == "other_checkpoint":
            return self.loader.can_go_back_to_list()
        if action == "compare":
            return True if s.checkpoint is not None and not s.loading else None
        if action == "open_checkpoint":  # not while a build or restore reads the open one
            return None if s.busy else True
        return True

    def action_quit(self) -> None:  # type: ignore[override]  # (Textual's is async; exiting needs no await)
        code = 1 if self.session.failed else 0
        self.exit(code, return_code=code)

    def action_help(self) -> None:
        from ..screens.help import HelpScreen  # when first used: not before the first frame

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(dict(self.screen.active_bindings), keymap=self.keymap))

    def action_toggle_secrets(self) -> None:
        if self.session.options.masked:
            self.notify("Secrets stay masked here (--masked; ckpt-tui serve runs the inspector so).",
                        severity="warning", timeout=4)
            return
        revealed = self.session.secrets_revealed = not self.session.secrets_revealed
        self.notify("Secret-looking environment values are shown." if revealed else
                    "Secret-looking environment values are masked.", timeout=3)

    def action_pod_containers(self) -> None:
        self.loader.pick_container()

    def action_other_checkpoint(self) -> None:
        self.loader.back_to_list()

    def action_compare(self) -> None:
        """``D``: pick the checkpoint to compare the open one with, from the list the app was
        opened on (Escape: type a path instead) or by path."""
        from ..screens.dialogs import PromptScreen  # when first used: not before the first frame
        from ..screens.picker import RepickScreen

        s = self.session
        if s.checkpoint is None:
            return

        def typed(value: str | None) -> None:
            if value:
                path = as_path(value.strip())
                if isinstance(path, Path):
                    path = path.expanduser()
                    if not path.exists():
                        self.notify(f"no such file or directory: {value}", severity="error")
                        return
                self.compare_with(path)

        def prompt() -> None:
            self.push_screen(PromptScreen("Compare with", placeholder="path of another checkpoint (archive, "
                                          "directory, OCI image, docker://…)"), typed)

        others = [e for e in s.listing.entries if e[0] != s.path] if s.listing is not None else []
        if not others or s.listing is None:
            prompt()
            return

        def picked(path: Path | None) -> None:
            if path is None:
                prompt()
            else:
                self.compare_with(path)

        self.push_screen(RepickScreen(s.listing.directory, others), picked)

    def action_open_checkpoint(self) -> None:
        """``o``: ask for a path (or docker://…) and open it; the open checkpoint stays until it has loaded."""
        from ..screens.dialogs import PromptScreen  # when first used: not before the first frame

        def done(value: str | None) -> None:
            if value and value.strip():
                text = value.strip()
                self.back_to_main()  # from a list, a hex view...: the main screen shows it loading
                self.loader.open_other(as_path(text) if is_remote(text) else Path(text).expanduser())

        self.push_screen(PromptScreen("Open", placeholder="a checkpoint archive or directory, or docker://HOST/REPO:TAG",
                                      validate=checkpoint_path_error), done)

    def action_copy(self) -> None:
        text = protocols.copy_text(self.screen)
        if not text:
            self.notify("Nothing selected to copy.", severity="warning", timeout=3)
            return
        self.copy_to_clipboard(text)
        shown = text if len(text) <= 200 else text[:200] + "…"
        # OSC 52 does not reach every terminal: the notification shows the value to select by hand
        self.notify(shown, title="Copied to the clipboard", timeout=4)

    def action_export(self) -> None:
        self.operations.export(protocols.export_payload(self.screen))

    def action_filter(self) -> None:
        target = protocols.find_target(self.screen)
        if isinstance(target, protocols.FindPrompter):
            target.prompt_find()
        elif isinstance(target, protocols.Filterable):
            self._prompt_filter(target)
        elif isinstance(target, protocols.Findable):
            self._prompt_find(target)

    def _prompt_filter(self, target: protocols.Filterable) -> None:
        from ..screens.dialogs import PromptScreen  # when first used: not before the first frame

        def done(value: str | None) -> None:
            if isinstance(target, Widget):
                target.focus()
            if value is not None:
                target.set_filter(value)

        self.push_screen(PromptScreen("Filter", value=target.filter_text, live=target.set_filter,
                                      placeholder="type to filter; Enter keeps, Escape restores"), done)

    def _prompt_find(self, target: protocols.Findable) -> None:
        from ..screens.dialogs import PromptScreen  # when first used: not before the first frame

        def found(value: str | None) -> None:
            if value is None:
                return
            count = target.find(value)  # "" clears the find
            if value:
                self.notify(f"{plural(count, 'line')} match{'es' if count == 1 else ''}" if count
                            else f"{value!r} not found", timeout=2)

        self.push_screen(PromptScreen("Find", value=target.find_pattern, placeholder="text (n / N: next / prev)"),
                         found)


def checkpoint_path_error(text: str) -> str | None:
    """Why what was typed at ``o`` cannot be opened (None: try it)."""
    text = text.strip()
    if not text:
        return "type a path, or docker://HOST/REPO:TAG"
    if is_remote(text):
        return None
    path = Path(text).expanduser()
    return None if path.exists() else f"{path} does not exist"


def run_app(
    path: str | None,
    *,
    log_files: Iterable[str] = (),
    readonly: bool = False,
    max_size: int | None = None,
    masked: bool = False,
    compare: str | None = None,
    max_entries: int | None = None,
) -> int:
    """Run the UI on ``path`` (None: the bundled demo); with ``compare``, show how that
    checkpoint differs from it once it is open. Returns the exit status: 128 + the
    signal's number after SIGTERM / SIGHUP, which always end it within
    :data:`ckpt_tui.shutdown.GRACE` seconds with the temp workspace removed (see
    :mod:`ckpt_tui.ui.terminal`)."""
    app = CkptApp(path, log_files=log_files, readonly=readonly, max_size=max_size, masked=masked, compare=compare,
                  max_entries=max_entries)
    if sys.platform != "win32" and "TEXTUAL_DRIVER" not in os.environ:
        app.driver_class = terminal.Driver
    terminal.install(app)
    try:
        result = app.run()
    finally:
        app.loader.close()  # (again: idempotent) the workspaces go even if the app did not unmount
    code = result if isinstance(result, int) else app.return_code or 0
    return shutdown.finish(code)  # after a signal: leave now, not after joining stuck threads


__all__ = ["DEMO_PATH", "CkptApp", "run_app"]
