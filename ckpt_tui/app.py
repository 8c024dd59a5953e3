"""The Textual application: loads a checkpoint in a thread worker and shows it.

``run_app(path, log_files=(), readonly=False, max_size=None) -> int`` is what the
command line calls. ``path=None`` opens the bundled demo checkpoint.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import shlex
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget
from textual.worker import get_current_worker

from .archive.registry.reference import RemotePath, as_path
from .commands import (
    ActionCommands,
    AddressCommands,
    FileCommands,
    ProcessCommands,
    SocketCommands,
)
from .errors import Cancelled
from .messages import (
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
from .screens.dialogs import ConfirmScreen, ExportChoice, ExportScreen, PromptScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .widgets import format as fmt
from .widgets.base import ExportRequest
from .widgets.format import esc

DEMO_PATH = Path(__file__).parent / "data" / "demo-web-httpd.tar.zst"


def _fmt_stage(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, float | None, float | None]:
    """Make sense of whatever a progress callback is given: (done, total, stage) in any order."""
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    words = [a for a in args if isinstance(a, str)]
    stage = words[0] if words else str(kwargs.get("stage", "loading"))
    done = numbers[0] if numbers else kwargs.get("done")
    total = numbers[1] if len(numbers) > 1 else kwargs.get("total")
    return stage, done, total


class CkptApp(App[int]):
    """ckpt-tui: inspect a container checkpoint."""

    CSS_PATH = "app.tcss"
    TITLE = "ckpt-tui"
    SUB_TITLE = ""
    COMMANDS = App.COMMANDS | {ProcessCommands, FileCommands, SocketCommands, AddressCommands, ActionCommands}
    BINDING_GROUP_TITLE = "Everywhere"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("slash", "filter", "Filter/find", id="app.filter"),
        Binding("c", "copy", "Copy", id="app.copy"),
        Binding("ctrl+s", "export", "Export", id="app.export"),
        Binding("S", "toggle_secrets", "Show secrets", show=False, id="app.secrets"),
        Binding("P", "pod_containers", "Pod containers", show=False, id="app.pod"),
        Binding("L", "other_checkpoint", "Checkpoint list", id="app.other"),
    ]

    secrets_revealed: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        log_files: Iterable[str | Path] = (),
        readonly: bool = False,
        max_size: int | None = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__()
        self.is_demo = path is None
        self.path = as_path(path) if path is not None else DEMO_PATH  # docker://: a RemotePath
        self.log_files = [str(p) for p in log_files]
        self.readonly = readonly
        self.max_size = max_size
        self._now = now
        self.checkpoint: Any = None
        self.pod: Any = None  # a pod checkpoint; self.checkpoint is then the container browsed
        self.metadata: dict[str, Any] | None = None
        self.found: tuple[Path, list] | None = None  # (directory, checkpoints) when opened on a directory of them
        self.load_error = ""
        self.loading = False
        # picked from the list while another checkpoint stays open (and usable) until it has loaded
        self._switch_to: Path | None = None
        self.current_pid: int | None = None
        self._running_action = False
        self._started = False

    # -- clock (frozen in snapshot tests) ----------------------------------
    def now(self) -> datetime:
        return self._now or datetime.now(timezone.utc)

    # -- start-up ----------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return self.get_screen("_default")  # type: ignore[return-value]

    def _has_main(self) -> bool:
        """False while the app is shutting down (its screens are gone but a loading thread
        may still post a message or two)."""
        try:
            self.main
        except KeyError:
            return False
        return True

    def on_mount(self) -> None:
        self._set_header()

    def main_ready(self) -> None:
        """The main screen is composed: start loading (once)."""
        if not self._started:
            self._started = True
            gc.freeze()  # the app's own objects: never scanned again by the garbage collector
            self.start_load(self.path)

    def start_load(self, path: Path) -> None:
        self.path = as_path(path)
        self.loading = True
        self.load_error = ""
        self.load(self.path, first=True)

    def _limits(self) -> Any:
        if self.max_size is None:
            return None
        from .archive import Limits

        limits = Limits()
        try:
            return dataclasses.replace(limits, max_total_bytes=self.max_size)
        except TypeError:  # not a dataclass: set the attribute
            limits.max_total_bytes = self.max_size
            return limits

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, description="loading checkpoint")
    def load(self, path: Path, first: bool = False) -> None:
        # No cyclic garbage collection while loading: a collection scans every widget too and
        # holds the GIL, which is what made keys pressed during a load wait 100+ ms; a load
        # makes few reference cycles. (The collector is process-wide; it is back on after.)
        gc.disable()
        try:
            self._load(get_current_worker(), path, first)
        finally:
            gc.enable()

    def _load(self, worker: Any, path: Path, first: bool) -> None:
        try:
            from . import archive
        except Exception:  # pragma: no cover - the archive layer is part of the package
            archive = None  # type: ignore[assignment]

        if first and isinstance(path, RemotePath) and path.is_dir():  # a registry repository: its tags
            try:
                from .archive.registry.listing import list_repository

                rows = list_repository(str(path)).rows
            except Exception as exc:  # CkptError says it in words; anything else too, rather than crash
                self.post_message(LoadFailed(path, str(exc) or type(exc).__name__))
                return
            self.post_message(CheckpointsFound(path, [(as_path(ref), meta) for ref, meta in rows]))
            return
        if first and path.is_dir() and archive is not None and hasattr(archive, "find_checkpoints"):
            try:
                found = archive.find_checkpoints(path)
            except Exception:
                found = []
            if len(found) > 1:
                entries = []
                for item in found:
                    try:
                        entries.append((Path(item), archive.peek_metadata(item)))
                    except Exception as exc:
                        entries.append((Path(item), {"error": str(exc)}))
                self.post_message(CheckpointsFound(path, entries))
                return
            if len(found) == 1 and Path(found[0]) != path:
                path = Path(found[0])

        self.post_message(LoadProgress(f"opening {path.name}…"))
        if worker.is_cancelled:
            return

        def metadata(meta: dict[str, Any]) -> None:
            # config.dump / spec.dump as they stream past: the overview shows them while the
            # rest of the archive is read (one pass, nothing decompressed twice)
            if (meta.get("config") or meta.get("spec")) and not worker.is_cancelled:
                self.post_message(MetadataReady(path, meta))

        def progress(*args: Any, **kwargs: Any) -> None:
            if worker.is_cancelled:  # the user quit: stop indexing (cleans up through the loader)
                raise Cancelled()
            stage, done, total = _fmt_stage(args, kwargs)
            if total and done is not None and done >= total:
                text = f"{path.name}: reading processes, memory maps and files…"
            else:
                text = f"opening {path.name}" + (f": {stage}" if stage and stage != "loading" else "…")
            self.post_message(LoadProgress(text, done, total))

        try:
            from .model import load_checkpoint

            checkpoint = load_checkpoint(str(path) if isinstance(path, RemotePath) else path, limits=self._limits(), progress=progress, log_files=self.log_files,
                                         on_metadata=metadata, cancelled=lambda: worker.is_cancelled)
        except Cancelled:
            return
        except Exception as exc:  # CkptError says it in words; anything else too, rather than crash
            message = str(exc) or type(exc).__name__
            self.post_message(LoadFailed(path, message))
            return
        if worker.is_cancelled:
            checkpoint.close()
            return
        self.post_message(CheckpointLoaded(checkpoint))

    def on_load_progress(self, message: LoadProgress) -> None:
        if not self._has_main():
            return
        if self.checkpoint is None:
            self.main.on_progress(message.stage, message.done, message.total)

    def on_metadata_ready(self, message: MetadataReady) -> None:
        if not self._has_main():
            return
        if self.checkpoint is not None:
            return  # the whole model is here already
        self.metadata = message.metadata
        self._set_header()
        self.main.on_metadata(message.metadata)

    async def on_checkpoint_loaded(self, message: CheckpointLoaded) -> None:
        if not self._has_main():
            message.checkpoint.close()  # nobody will look at it: remove its temp files now
            return
        if self.checkpoint is not None:
            # another one replaces it: the screens over the main one (a pod's containers, a hex
            # view, a search…) belong to the one about to be closed
            self._to_main()
            self.metadata = None
        if self._switch_to is not None:
            self.path = self._switch_to
            self._switch_to = None
        self._close_checkpoint()
        self.checkpoint = message.checkpoint
        self.current_pid = None
        gc.freeze()  # nor the model's (100,000 root-FS entries would make every collection slow)
        self.loading = False
        if self.checkpoint.containers:
            # a pod checkpoint: the pod's overview first, then pick a container to browse
            self.pod = self.checkpoint
        self._set_header()
        await self.main.on_loaded()
        self.refresh_bindings()
        if self.pod is not None:
            self.action_pod_containers()

    def _close_checkpoint(self) -> None:
        top = self.pod if self.pod is not None else self.checkpoint
        if top is not None:
            try:
                top.close()
            except Exception:
                pass
            gc.unfreeze()  # what was frozen with it may be collected again (it is frozen anew on load)
        self.pod = None
        self.checkpoint = None

    def action_pod_containers(self) -> None:
        """Pick a container of a pod checkpoint to browse."""
        from .screens.picker import ContainerPickerScreen

        if self.pod is None:
            return

        async def chosen(index: int | None) -> None:
            if index is None or self.pod is None:
                return
            self.checkpoint = self.pod.containers[index]
            self.current_pid = None
            self._set_header()
            await self.main.on_loaded()
            self.refresh_bindings()

        self.push_screen(ContainerPickerScreen(self.pod), chosen)

    def on_load_failed(self, message: LoadFailed) -> None:
        if not self._has_main():
            return
        self.loading = False
        if self._switch_to is not None and self.checkpoint is not None:
            # picked from the list while another is open: say so, and stay on the open one
            self._switch_to = None
            self._set_header()
            self.notify(f"{message.error}\n\nStill showing {self.path.name}.",
                        title=f"Cannot open {message.path.name}", severity="error", timeout=10)
            self.refresh_bindings()
            return
        self._switch_to = None
        self.load_error = message.error
        self.sub_title = f"{message.path.name}: cannot open"
        self.main.on_failed(message.error)
        self.notify(message.error, title="Cannot open the checkpoint", severity="error", timeout=10)
        self.refresh_bindings()

    def on_checkpoints_found(self, message: CheckpointsFound) -> None:
        from .screens.picker import PickerScreen

        self.found = (message.directory, message.entries)

        def chosen(path: Path | None) -> None:
            if path is None:
                self.exit(0)
                return
            self._open_picked(as_path(path))

        self.loading = False
        self.refresh_bindings()
        self.push_screen(PickerScreen(message.directory, message.entries), chosen)

    def _open_picked(self, path: Path) -> None:
        """Load a checkpoint picked from the list; ``loading`` until it has loaded or failed.

        With one open already, that one stays open (and everything acts on it) until the
        picked one has loaded; if it cannot be opened a notification says so and nothing
        changes. With none open (the first pick, or the last one failed) the main screen
        shows the picked one loading."""
        self.loading = True
        if self.checkpoint is not None:
            self._switch_to = path
            self.sub_title = f"opening {path.name}…"
        else:
            self._switch_to = None
            self.path = path
            self.load_error = ""
            self.metadata = None
            self._set_header()
            self.main.on_retry(f"opening {path.name}…")
        self.refresh_bindings()
        self.load(path, first=False)

    def _picker_active(self) -> bool:
        from .screens.picker import PickerScreen

        return isinstance(self.screen, PickerScreen)

    def action_other_checkpoint(self) -> None:
        """Back to the list of the directory's checkpoints (when the app was opened on one)."""
        from .screens.picker import RepickScreen

        if self.found is None or self.loading or self._running_action or self._picker_active():
            return
        directory, entries = self.found

        def chosen(path: Path | None) -> None:
            if path is None:
                return  # Escape: stay with the one open
            if as_path(path) == self.path and self.checkpoint is not None:
                return  # the one open
            self._open_picked(as_path(path))

        self.push_screen(RepickScreen(directory, entries, current=self.path), chosen)

    def _set_header(self) -> None:
        demo = " · bundled demo" if self.is_demo else ""
        cp = self.checkpoint
        if cp is not None:
            info = cp.info
            name = info.name or self.path.name
            if self.pod is not None and cp is not self.pod:
                name = f"{self.pod.info.pod_name or 'pod'} / {name}"
            self.title = f"{name} ({info.engine})" if info.engine.known else name
            parts = [p for p in (info.image, info.source_kind) if p]
            self.sub_title = " · ".join(parts) + demo
        elif self.metadata:
            from .model.metadata import info_from_peek

            early = info_from_peek(self.metadata, str(self.path))
            name = early.name or self.path.name
            self.title = f"{name} ({early.engine})" if early.engine.known else name
            kind = str(self.metadata.get("kind") or "")
            self.sub_title = " · ".join(p for p in (early.image, kind, "loading…") if p) + demo
        else:
            self.title = self.path.name
            self.sub_title = "loading…" + demo

    def on_unmount(self) -> None:
        self._close_checkpoint()

    # -- navigation helpers (palette, panes) -------------------------------
    async def goto_section(self, kind: str, target: Any = None) -> None:
        self._to_main()
        await self.main.goto_section(kind, target)

    async def goto_process(self, pid: int, tab: str | None = None) -> None:
        self._to_main()
        await self.main.open_process(pid, tab)

    async def goto_file(self, path: str) -> None:
        await self.goto_section("files", path)
        pane = self.main.current_pane
        if pane is not None:
            self.main.focus_pane(pane)

    async def goto_socket(self, socket: Any) -> None:
        await self.goto_section("network", socket)

    def _to_main(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()

    def open_hex(self, pid: int, address: int | None = None) -> None:
        from .screens.memory import HexScreen

        if self.checkpoint is None or pid not in self.checkpoint.processes:
            return
        try:
            screen = HexScreen(self.checkpoint, pid, address)
        except Exception as exc:
            self.notify(f"cannot read the memory of pid {pid}: {exc}", severity="error")
            return
        self.push_screen(screen)

    def action_open_hex(self, pid: int, address: int) -> None:
        """Target of the clickable labels of the VMA map."""
        self.open_hex(pid, address)

    def open_search(self, pattern: str = "", pid: int | None = None) -> None:
        from .screens.memory import SearchScreen

        if self.checkpoint is None:
            return
        self.push_screen(SearchScreen(self.checkpoint, pid=pid, pattern=pattern))

    # -- key actions -------------------------------------------------------
    def action_quit(self) -> None:  # type: ignore[override]
        code = 1 if self.load_error and self.checkpoint is None else 0
        self.exit(code, return_code=code)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(dict(self.screen.active_bindings)))

    def watch_secrets_revealed(self, revealed: bool) -> None:
        from .widgets.processes import ProcessPane

        for pane in self.main.query(ProcessPane):
            pane.refresh_masks()
        self.notify("Secret-looking environment values are shown." if revealed else
                    "Secret-looking environment values are masked.", timeout=3)

    def action_toggle_secrets(self) -> None:
        self.secrets_revealed = not self.secrets_revealed

    def _focus_chain(self) -> list[Any]:
        """The focused widget, its ancestors, then the current pane and the screen."""
        chain: list[Any] = []
        node: Any = self.screen.focused
        while node is not None and node is not self.screen:
            chain.append(node)
            node = node.parent
        if isinstance(self.screen, MainScreen):
            pane = self.screen.current_pane
            if pane is not None and pane not in chain:
                chain.append(pane)
        chain.append(self.screen)
        return chain

    def _copy_value(self) -> str:
        for node in self._focus_chain():
            method = getattr(node, "copy_text", None)
            if callable(method):
                text = method()
                if text:
                    return str(text)
        return ""

    def action_copy(self) -> None:
        text = self._copy_value()
        if not text:
            self.notify("Nothing selected to copy.", severity="warning", timeout=3)
            return
        self.copy_to_clipboard(text)
        shown = text if len(text) <= 200 else text[:200] + "…"
        # OSC 52 does not reach every terminal: the notification shows the value to select by hand
        self.notify(shown, title="Copied to the clipboard", timeout=4)

    def _filter_target(self) -> Widget | None:
        from .widgets.hexview import HexView
        from .widgets.textview import TextView

        focused = self.screen.focused
        if focused is not None and (hasattr(focused, "set_filter") or isinstance(focused, (TextView, HexView))):
            return focused
        if isinstance(self.screen, MainScreen):
            pane = self.screen.current_pane
            if pane is not None:
                for widget in pane.query("*"):
                    if hasattr(widget, "set_filter") and widget.display:
                        return widget
                for widget in pane.query(TextView):
                    return widget
        return None

    def action_filter(self) -> None:
        from .widgets.hexview import HexView
        from .widgets.textview import TextView

        target = self._filter_target()
        if target is None:
            return
        if isinstance(target, HexView) or (isinstance(target, TextView) and hasattr(self.screen, "prompt_find")):
            finder = getattr(self.screen, "prompt_find", None)
            if callable(finder):
                finder()
            return
        if isinstance(target, TextView):
            def found(value: str | None) -> None:
                if value is not None:
                    count = target.find(value)
                    if value:
                        self.notify(f"{fmt.plural(count, 'line')} match{'es' if count == 1 else ''}" if count else f"{value!r} not found", timeout=2)

            self.push_screen(PromptScreen("Find", value=target.find_pattern, placeholder="text (n / N: next / prev)"),
                             found)
            return

        setter = getattr(target, "set_filter")
        original = getattr(target, "filter_text", "")

        def done(value: str | None) -> None:
            target.focus()
            if value is not None:
                setter(value)

        self.push_screen(PromptScreen("Filter", value=original, placeholder="type to filter; Enter keeps, Escape "
                                      "restores", live=setter), done)

    def action_export(self) -> None:
        payload = None
        for node in self._focus_chain():
            method = getattr(node, "export_payload", None)
            if callable(method):
                payload = method()
                if payload is not None:
                    break
        if payload is None:
            self.notify("Nothing to export here.", severity="warning", timeout=3)
            return
        if isinstance(payload, ExportRequest):
            request = payload
        else:
            name, content = payload
            request = ExportRequest(default_name=name, content=content)
        what = request.what or ("the selection" if not request.is_memory else "a memory range")
        screen = ExportScreen(what, request.default_name,
                              memory_range=(request.start, request.end) if request.is_memory else None)

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self.write_export(request, choice)

        self.push_screen(screen, chosen)

    @work(thread=True, group="export", exit_on_error=False, description="export")
    def write_export(self, request: ExportRequest, choice: ExportChoice) -> None:
        try:
            if request.is_memory:
                reader = self.checkpoint.memory(request.pid)
                size = 0
                with open(choice.path, "wb") as out:
                    addr = choice.start
                    while addr < choice.end:
                        chunk = min(1 << 20, choice.end - addr)
                        data = reader.read(addr, chunk)
                        out.write(data)
                        size += len(data)
                        addr += chunk
            else:
                content = request.producer() if request.producer is not None else request.content
                content = content if content is not None else b""
                data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
                choice.path.write_bytes(data)
                size = len(data)
        except Exception as exc:
            self.post_message(ExportDone(choice.path, 0, str(exc) or type(exc).__name__))
            return
        self.post_message(ExportDone(choice.path, size))

    def on_export_done(self, message: ExportDone) -> None:
        if message.error:
            self.notify(f"{message.path}: {message.error}", title="Export failed", severity="error")
        else:
            self.notify(f"{fmt.size(message.size)} written to {message.path}", title="Exported", timeout=5)

    # -- build / restore ---------------------------------------------------
    def _action_module(self, action: str) -> str:
        return {"build": "ckpt_tui.actions.build", "restore": "ckpt_tui.actions.restore"}[action]

    def action_available(self, action: str) -> bool:
        if self.readonly or self.checkpoint is None or self._running_action:
            return False
        try:
            return importlib.util.find_spec(self._action_module(action)) is not None
        except (ImportError, ValueError):
            return False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return True if (self.checkpoint is not None or not isinstance(self.screen, MainScreen)) else None
        if action == "filter":
            return True if self._filter_target() is not None else None
        if action == "copy":
            return True if self.checkpoint is not None or self.metadata else None
        if action == "pod_containers":
            return True if self.pod is not None else None
        if action == "other_checkpoint":  # only when opened on a directory of checkpoints
            if self.found is None or self._picker_active():
                return False  # nor on the list itself
            # not while a checkpoint loads, nor while a build/restore reads the open one
            return True if not (self.loading or self._running_action) else None
        return True

    def default_image_name(self) -> str:
        cp = self.checkpoint
        name = (cp.info.name if cp is not None else "") or "checkpoint"
        cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower()).strip("-._") or "checkpoint"
        return f"localhost/{cleaned}-checkpoint:latest"

    def start_build(self) -> None:
        if not self.action_available("build"):
            self.notify("Building an image is disabled (read-only mode, or nothing loaded).", severity="warning")
            return

        def named(image: str | None) -> None:
            if not image:
                return
            image = image.strip()
            safe = image.rsplit("/", 1)[-1].replace(":", "-")
            output = Path.cwd() / f"{safe}.oci.tar"
            body = (
                f"Write an OCI checkpoint image of [b]{esc(self.checkpoint.info.name or self.path.name)}[/]\n"
                f"named [b]{esc(image)}[/]\n"
                f"to the file [b]{esc(output)}[/]\n\n"
                "Nothing is loaded into a container engine; `podman load -i FILE` does that."
            )

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self.run_build(image, output)

            self.push_screen(ConfirmScreen("Build a checkpoint image", body, yes="Build"), confirmed)

        self.push_screen(PromptScreen("Image name", value=self.default_image_name()), named)

    def start_restore(self) -> None:
        if not self.action_available("restore"):
            self.notify("Restoring is disabled (read-only mode, or nothing loaded).", severity="warning")
            return
        self.notify("Checking whether this checkpoint can be restored here…", timeout=2)
        self._prepare_restore()

    @work(thread=True, exclusive=True, group="restore-prepare", exit_on_error=False, description="preflight")
    def _prepare_restore(self) -> None:
        """Build the command and run the preflight checks (they call podman/criu) off the UI thread."""
        try:
            from .actions.restore import RestoreOptions, build_restore_command

            options = RestoreOptions(tcp_established=any(s.needs_tcp_established for s in self.checkpoint.sockets))
            command = build_restore_command(self.checkpoint, options)
        except Exception as exc:
            self.post_message(RestorePrepared([], "", str(exc) or type(exc).__name__))
            return
        checks_text = ""
        try:
            from .actions.checks import preflight

            checks = preflight(self.checkpoint, options, criu_check=True)
            marks = {"pass": "[$text-success]✓[/]", "warn": "[$text-warning]![/]", "fail": "[$text-error]✗[/]",
                     "info": "[$text-muted]·[/]"}
            checks_text = "\n\n[b]Preflight[/]\n" + "\n".join(
                f"{marks.get(c.status, '·')} {esc(c.name)}: {esc(c.reason)}" for c in checks
            )
        except Exception:  # the checks are advice; the confirmation still names the command
            pass
        self.post_message(RestorePrepared(list(command), checks_text))

    def on_restore_prepared(self, message: "RestorePrepared") -> None:
        if message.error:
            self.notify(message.error, title="Cannot restore this checkpoint", severity="error", timeout=8)
            return
        command = message.command
        body = (f"Run this command to restore [b]{esc(self.checkpoint.info.name or self.path.name)}[/]:\n\n"
                f"[b]{esc(shlex.join(command))}[/]{message.checks}")

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.run_restore_command(command)

        self.push_screen(ConfirmScreen("Restore the container", body, yes="Restore"), confirmed)

    def _start_run_screen(self, title: str, command: str) -> Any:
        from .screens.run import RunScreen

        screen = RunScreen(title, command)
        self.push_screen(screen)
        self._run_screen = screen
        self._running_action = True
        self.refresh_bindings()
        return screen

    def run_build(self, image: str, output: Path) -> None:
        self._start_run_screen(f"Building {image}", f"(internal) build_image → {output}")
        self._build_worker(image, output)

    @work(thread=True, group="action", exit_on_error=False, description="build image")
    def _build_worker(self, image: str, output: Path) -> None:
        from .actions.build import build_image

        screen = self._run_screen
        try:
            result = build_image(self.checkpoint, image, output_tar=output,
                                 on_output=lambda line: self.post_message(ActionOutput(line)),
                                 cancelled=lambda: screen.cancelled)
        except Exception as exc:
            self.post_message(ActionFinished("build", False, str(exc)))
            return
        detail = f"{result.image_name} → {result.output} ({fmt.size(result.size)})"
        for note in getattr(result, "notes", []) or []:
            self.post_message(ActionOutput(f"note: {note}"))
        self.post_message(ActionFinished("build", not getattr(result, "cancelled", False), detail))

    def run_restore_command(self, command: list[str]) -> None:
        self._start_run_screen("Restoring", shlex.join(command))
        self._restore_worker(command)

    @work(thread=True, group="action", exit_on_error=False, description="restore")
    def _restore_worker(self, command: list[str]) -> None:
        from .actions.restore import run_restore

        screen = self._run_screen
        try:
            result = run_restore(command, lambda line: self.post_message(ActionOutput(line)),
                                 lambda: screen.cancelled, checkpoint=self.checkpoint)
        except Exception as exc:
            self.post_message(ActionFinished("restore", False, str(exc)))
            return
        detail = result.message or ("ok" if result.ok else f"exit {result.returncode}")
        diagnosis = getattr(result, "diagnosis", None)
        if diagnosis is not None and not result.ok:
            for cause in getattr(diagnosis, "causes", [])[:3]:
                self.post_message(ActionOutput(f"cause: {cause.title} — {cause.fix}"))
        self.post_message(ActionFinished("restore", result.ok, detail))

    def on_action_output(self, message: ActionOutput) -> None:
        screen = getattr(self, "_run_screen", None)
        if screen is not None and screen.is_mounted:
            screen.write(message.line)

    def on_action_finished(self, message: ActionFinished) -> None:
        self._running_action = False
        screen = getattr(self, "_run_screen", None)
        if screen is not None and screen.is_mounted:
            screen.finish(message.ok, message.detail)
        self.notify(message.detail, title=f"{message.title} {'finished' if message.ok else 'failed'}",
                    severity="information" if message.ok else "error", timeout=8)
        self.refresh_bindings()


def run_app(
    path: str | None,
    *,
    log_files: Iterable[str] = (),
    readonly: bool = False,
    max_size: int | None = None,
) -> int:
    """Run the UI on ``path`` (None: the bundled demo). Returns the exit status."""
    import signal

    app = CkptApp(path, log_files=log_files, readonly=readonly, max_size=max_size)

    def stop(signum: int, _frame: object) -> None:
        # SIGTERM / SIGHUP (terminal closed): leave like `q` does, so the terminal is restored
        # and the temp workspace is removed
        app.call_later(app.exit, 128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, stop)
        except (ValueError, OSError):  # not the main thread
            pass
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or 0


__all__ = ["CkptApp", "run_app", "DEMO_PATH"]
