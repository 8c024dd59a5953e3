"""Pick one of several checkpoints found in a directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..archive.registry.reference import RemotePath
from ..model.metadata import info_from_peek
from ..widgets import format as fmt
from ..widgets.format import esc
from ..widgets.table import FilterTable

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint


def describe(meta: dict[str, Any]) -> tuple[str, str, str]:
    """(container, image, runtime) of a listed checkpoint, from its container record."""
    info = info_from_peek(meta)
    return info.name, info.image, info.runtime


class PickerScreen(Screen[Path | None]):
    BINDING_GROUP_TITLE = "Checkpoint picker"
    BINDINGS = [Binding("escape", "cancel", "Quit", id="picker.quit")]

    def __init__(self, directory: Path, entries: list[tuple[Path, dict[str, Any]]], *,
                 current: Path | None = None) -> None:
        super().__init__()
        self.directory = directory
        self.entries = entries
        self.current = current  # picked again from an open checkpoint: Escape goes back to it
        self.sub_title = f"{fmt.plural(len(entries), 'checkpoint')} in {directory}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]{fmt.plural(len(self.entries), 'checkpoint')}[/] in {esc(str(self.directory))}   "
                     "[$text-muted]Enter opens one · / filters · L comes back here later[/]",
                     classes="pane-summary")
        yield FilterTable(id="picker-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(FilterTable)
        table.setup(["File", "Container", "Image", "Runtime", "Size"])
        rows = []
        for path, meta in self.entries:
            name, image, runtime = describe(meta)
            try:
                if isinstance(path, RemotePath):  # a tag of a registry repository: its blobs' size
                    size = fmt.size(int(meta.get("size") or 0)) if "size" in meta else "?"
                else:
                    size = fmt.size(path.stat().st_size) if path.is_file() else "dir"
            except OSError:
                size = "?"
            error = meta.get("error")
            rows.append((str(path), [path.name, name or (("unreadable", "error") if error else ""), image,
                                     runtime, size], path))
        table.set_rows(rows)
        if self.current is not None:
            for i, (path, _meta) in enumerate(self.entries):
                if path == self.current:
                    table.move_cursor(row=i)
        table.focus()

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        event.stop()
        path = self.query_one(FilterTable).payload_of(event.row_key)
        if isinstance(path, (Path, RemotePath)):
            self.dismiss(cast(Path, path))  # a RemotePath stands where the UI keeps a Path

    def action_cancel(self) -> None:
        self.dismiss(None)


class RepickScreen(PickerScreen):
    """The same list, opened again from a checkpoint (``L``, or ``o`` on a directory): Escape goes back to it."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="picker.back")]


class ContainerPickerScreen(Screen[int | None]):
    """Pick one container of a pod checkpoint (pod.options lists them)."""

    BINDING_GROUP_TITLE = "Pod containers"
    BINDINGS = [Binding("escape", "cancel", "Back", id="pod.back")]

    def __init__(self, pod: Checkpoint) -> None:
        super().__init__()
        self.pod = pod
        info = pod.info
        self.sub_title = f"pod {info.pod_name or '?'} · {fmt.plural(len(pod.containers), 'container')}"

    def compose(self) -> ComposeResult:
        info = self.pod.info
        yield Header()
        yield Static(f"[b]Pod {esc(info.pod_name or '?')}[/] namespace {esc(info.namespace or '-')} · "
                     f"{esc(info.engine)} · {fmt.plural(len(self.pod.containers), 'container')}   "
                     "[$text-muted]Enter opens one · P comes back here[/]", classes="pane-summary")
        yield FilterTable(id="pod-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(FilterTable)
        table.setup(["Container", "Image", "Engine", "Processes", "Problems"])
        rows = []
        for index, ck in enumerate(self.pod.containers):
            info = ck.info
            rows.append((str(index), [info.name, info.image, info.engine, fmt.count(len(ck.processes)),
                                      fmt.count(len(ck.problems))], index))
        table.set_rows(rows)
        table.focus()

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        event.stop()
        index = self.query_one(FilterTable).payload_of(event.row_key)
        if isinstance(index, int):
            self.dismiss(index)

    def action_cancel(self) -> None:
        self.dismiss(None)
