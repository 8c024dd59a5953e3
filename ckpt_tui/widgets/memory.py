"""Memory pane: a process's VMA table; Enter opens the hex view at the VMA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Select, Static

from ..model.types import VMA_AREA_HEAP, VMA_AREA_STACK
from . import format as fmt
from .base import ExportPayload, ExportRequest, Pane, dumps, to_jsonable
from .format import esc
from .table import FilterTable

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..model.types import VMA
    from ..ui.session import Session

PAGE = 4096


def vma_kind(vma: VMA, mm: dict | None = None) -> str:
    if vma.status & (VMA_AREA_STACK | VMA_AREA_HEAP) or vma.label.startswith("["):
        return fmt.vma_label(vma, mm)
    return vma.path or "[anon]"


def vma_row(vma: VMA, width: int = 12, mm: dict | None = None) -> list[Any]:
    total = max(vma.size // PAGE, 1)
    dumped = vma.pages_present
    role = "ok" if dumped == total else ("muted" if dumped == 0 else "")
    extra = []
    if vma.pages_lazy:
        extra.append(f"{vma.pages_lazy} lazy")
    if vma.pages_parent:
        extra.append(f"{vma.pages_parent} parent")
    return [
        f"{vma.start:0{width}x}-{vma.end:0{width}x}",
        fmt.size(vma.size),
        vma.perms[:3],
        "shared" if vma.shared else "private",
        vma_kind(vma, mm),
        (f"{dumped}/{total}", role),
        ", ".join(extra),
    ]


class MemoryPane(Pane):
    pane_id = "memory"
    title = "Memory"

    @dataclass
    class OpenHex(Message):
        pid: int
        address: int

    def __init__(self, checkpoint: Checkpoint, *, session: Session, **kwargs: Any) -> None:
        super().__init__(checkpoint, session=session, **kwargs)
        self.pid: int | None = None

    def compose(self) -> ComposeResult:
        options = [(Text(f"{p.pid} {p.comm}  ({fmt.size(p.memory_size)} dumped)"), p.pid)
                   for p in self.checkpoint.process_list()]
        yield Select(options, allow_blank=False, id="memory-process", prompt="process") if options else Static(
            "(no processes)")
        yield Static(id="memory-summary", classes="pane-summary")
        yield FilterTable(id="memory-vmas")

    def on_mount(self) -> None:
        table = self.query_one("#memory-vmas", FilterTable)
        table.setup(["Range", "Size", "Perm", "Map", "Backing", "Pages dumped", "Other"])
        table.copy_value = lambda vma, cells: f"0x{vma.start:x}-0x{vma.end:x}" if vma else ""
        procs = self.checkpoint.process_list()
        if procs and self.pid is None:
            current = self.session.current_pid  # the process last shown, else the biggest
            self.pid = current if current in self.checkpoint.processes else max(procs, key=lambda p: p.memory_size).pid
        if self.pid is not None:
            self._sync_select()
            self._fill()

    def show_target(self, target: Any) -> None:
        if isinstance(target, int) and target in self.checkpoint.processes:
            self.pid = target
            if self.is_mounted:
                self._sync_select()
                self._fill()

    def _sync_select(self) -> None:
        selects = self.query("#memory-process").results(Select)
        select = next(selects, None)
        if select is None:  # no processes: no selector
            return
        if select.value != self.pid:
            with select.prevent(Select.Changed):
                select.value = self.pid

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, int) and event.value != self.pid:
            self.pid = event.value
            self._fill()

    def _fill(self) -> None:
        proc = self.checkpoint.processes.get(self.pid) if self.pid is not None else None
        table = self.query_one("#memory-vmas", FilterTable)
        if proc is None:
            table.set_rows([])
            return
        vmas = sorted(proc.vmas, key=lambda v: v.start)
        width = 16 if vmas and vmas[-1].end > (1 << 48) else 12
        table.set_rows([(str(v.start), vma_row(v, width, proc.mm), v) for v in vmas])
        mapped = sum(v.size for v in vmas)
        self.query_one("#memory-summary", Static).update(
            f"[b]pid {proc.pid} {esc(proc.comm)}[/]: {fmt.plural(len(vmas), 'VMA')}, {fmt.size(mapped)} mapped, "
            f"{fmt.size(proc.memory_size)} dumped   [$text-muted]Enter: hex view · s: search[/]"
        )

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        event.stop()
        vma = self.query_one("#memory-vmas", FilterTable).payload_of(event.row_key)
        if self.pid is not None and vma is not None:
            self.post_message(self.OpenHex(self.pid, vma.start))

    @property
    def selected_vma(self) -> VMA | None:
        return self.query_one("#memory-vmas", FilterTable).selected_payload

    def copy_text(self) -> str:
        return self.query_one("#memory-vmas", FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        vma = self.selected_vma
        if vma is None or self.pid is None:
            proc = self.checkpoint.processes.get(self.pid) if self.pid is not None else None
            if proc is None:
                return None
            return f"vmas-{proc.pid}.json", dumps([to_jsonable(v) for v in proc.vmas])
        end = min(vma.end, vma.start + 256 * 1024 * 1024)
        return ExportRequest(
            default_name=f"mem-{self.pid}-{vma.start:x}-{end:x}.bin",
            pid=self.pid, start=vma.start, end=end, what=f"memory of pid {self.pid}, {vma.label}",
        )
