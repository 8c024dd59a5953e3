"""Memory screens: the hex view of a process, and the memory search."""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from ..errors import CkptError
from ..messages import SearchFinished, SearchMatches, SearchProgress
from ..model.patterns import SearchPattern, parse_find, parse_pattern
from ..widgets import format as fmt
from ..widgets.format import esc
from ..widgets.hexview import HexView, MemorySource
from ..widgets.matchlist import MatchList
from .dialogs import PromptScreen, address_error

MODES = (("text", "text"), ("hex bytes", "hex"), ("regex", "regex"))


class SearchWorkerMixin:
    """A thread worker running Checkpoint.search_memory, posting batches to this screen."""

    @work(thread=True, exclusive=True, group="memsearch", exit_on_error=False, description="memory search")
    def run_search(self, checkpoint: Any, pattern: SearchPattern, pids: list[int] | None) -> None:
        worker = get_current_worker()
        started = time.monotonic()
        batch: list[Any] = []
        count = 0
        last = started

        def progress(done: int, total: int) -> None:
            self.post_message(SearchProgress(int(done), int(total)))  # type: ignore[attr-defined]

        try:
            for match in checkpoint.search_memory(
                pattern, pids=pids, context=24, progress=progress,
                cancelled=lambda: worker.is_cancelled,
            ):
                batch.append(match)
                count += 1
                now = time.monotonic()
                if len(batch) >= 256 or now - last > 0.1:
                    self.post_message(SearchMatches(batch))  # type: ignore[attr-defined]
                    batch = []
                    last = now
                if worker.is_cancelled:
                    break
        except Exception as exc:  # noqa: BLE001  (CkptError on bad input, or a bug odd bytes met: shown, never a crash)
            if batch:
                self.post_message(SearchMatches(batch))  # type: ignore[attr-defined]
            self.post_message(SearchFinished(count, error=str(exc) or type(exc).__name__,  # type: ignore
                                             elapsed=time.monotonic() - started))
            return
        if batch:
            self.post_message(SearchMatches(batch))  # type: ignore[attr-defined]
        self.post_message(SearchFinished(count, cancelled=worker.is_cancelled,  # type: ignore[attr-defined]
                                         elapsed=time.monotonic() - started))


class HexScreen(SearchWorkerMixin, Screen):
    """A process's memory in hex: every VMA in address order, pages not dumped shown as such."""

    BINDING_GROUP_TITLE = "Hex view"
    BINDINGS = [Binding("escape", "close", "Back", id="hexscreen.close")]

    def __init__(
        self,
        checkpoint: Any,
        pid: int,
        address: int | None = None,
        *,
        matches: list[tuple[int, int]] | None = None,
        pattern: str = "",
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.pid = pid
        self.start_address = address
        self.initial_matches = matches or []
        self.pattern = pattern
        self._found: list[tuple[int, int]] = []
        proc = checkpoint.processes[pid]
        self.proc = proc
        self.sub_title = f"memory of pid {pid} {proc.comm}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="hex-title", classes="pane-summary")
        yield HexView(MemorySource(self.checkpoint.memory(self.pid), self.proc.vmas, self.proc.mm), id="hex-view")
        yield Static(id="hex-status", classes="status-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        proc = self.proc
        self.query_one("#hex-title", Static).update(
            f"[b]pid {proc.pid} {esc(proc.comm)}[/] — {fmt.plural(len(proc.vmas), 'VMA')}, "
            f"{fmt.size(proc.memory_size)} dumped   "
            f"[$text-muted]g address · \\[ ] VMA · / find · n/N matches · c copy address · ctrl+s export[/]"
        )
        self.query_one(HexView).focus()
        self._update_status()
        self.call_after_refresh(self._initial_position)

    def _initial_position(self) -> None:
        view = self.query_one(HexView)
        if self.initial_matches:
            index = 0
            if self.start_address is not None:
                index = next((i for i, (a, _l) in enumerate(sorted(self.initial_matches))
                              if a == self.start_address), 0)
            view.set_matches(self.initial_matches, index, self.pattern)
        elif self.start_address is not None:
            view.goto(self.start_address)
        self._update_status()

    @property
    def view(self) -> HexView:
        return self.query_one(HexView)

    def _update_status(self) -> None:
        view = self.view
        addr = view.cursor_address
        seg = view.cursor_segment
        try:
            state = self.checkpoint.memory(self.pid).page_state(addr - addr % 4096)
        except Exception:  # noqa: BLE001  (a reader problem: the status says "?", the view goes on)
            state = "?"
        where = f"{seg.label} {seg.perms}" if seg else ""
        matches = f"   {view.match_status}" if view.matches else ""
        self.query_one("#hex-status", Static).update(
            f"0x{addr:x}  {esc(where)}  page {esc(state)}{matches}"
        )

    def on_hex_view_cursor_moved(self, event: HexView.CursorMoved) -> None:
        self._update_status()

    def on_hex_view_goto_requested(self, event: HexView.GotoRequested) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            addr = fmt.parse_address(value)
            if addr is None:
                return
            if not self.view.goto(addr):
                self.notify(f"0x{addr:x} is not mapped in pid {self.pid}", severity="warning")

        self.app.push_screen(
            PromptScreen("Go to address", placeholder="0x7f12a000 (hex)", validate=address_error), done
        )

    def prompt_find(self) -> None:
        def done(value: str | None) -> None:
            if value:
                self.find(value)

        self.app.push_screen(
            PromptScreen("Find in memory", value=self.pattern,
                         placeholder="text · x:43 4b 50 (hex bytes) · re:regex"), done
        )

    def find(self, text: str) -> None:
        try:
            pattern = parse_find(text)
        except CkptError as exc:
            self.notify(str(exc), severity="error")
            return
        self.pattern = text
        self._found = []
        self.view.clear_matches(text)  # a new search replaces the last one's matches, found or not
        self._update_status()
        self.notify(f"searching pid {self.pid} for {text!r}…", timeout=2)
        self.run_search(self.checkpoint, pattern, [self.pid])

    def on_search_matches(self, message: SearchMatches) -> None:
        self._found.extend((m.address, max(m.length, 1)) for m in message.matches)

    def on_search_progress(self, message: SearchProgress) -> None:
        pass

    def on_search_finished(self, message: SearchFinished) -> None:
        if message.error:
            self.notify(f"search failed: {message.error}", severity="error")
            return
        if not self._found:
            self.notify(f"{self.pattern!r} not found in pid {self.pid}", severity="warning")
            return
        here = self.view.cursor_address
        found = sorted(self._found)
        index = next((i for i, (a, _l) in enumerate(found) if a >= here), 0)
        self.view.set_matches(found, index, self.pattern)
        self.notify(fmt.plural(len(found), "match"), timeout=2)
        self._update_status()

    def action_close(self) -> None:
        self.app.pop_screen()

    def export_payload(self):
        from ..widgets.base import ExportRequest

        start, end = self.view.export_range()
        return ExportRequest(
            default_name=f"mem-{self.pid}-{start:x}-{end:x}.bin", pid=self.pid, start=start, end=end,
            what=f"memory of pid {self.pid}",
        )


class SearchScreen(SearchWorkerMixin, Screen):
    """Search every process's memory (or one) for text, hex bytes or a regex."""

    BINDING_GROUP_TITLE = "Memory search"
    BINDINGS = [
        Binding("escape", "cancel_or_close", "Cancel / back", id="search.close"),
        Binding("ctrl+g", "start", "Search", id="search.start"),
    ]

    def __init__(self, checkpoint: Any, *, pid: int | None = None, pattern: str = "", mode: str = "text") -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.initial_pid = pid
        self.initial_pattern = pattern
        self.initial_mode = mode
        self.worker: Worker | None = None
        self.pattern_text = ""  # the pattern of the last search started
        self.count = 0
        self.sub_title = "memory search"

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="search-form"):
            # two rows, so the pattern keeps most of the width even at 80 columns
            with Horizontal(id="search-row"):
                yield Input(self.initial_pattern, placeholder="pattern (Enter searches)", id="search-pattern")
                yield Button("Search", variant="primary", id="search-go")
                yield Button("Cancel", id="search-cancel", disabled=True)
            with Horizontal(id="search-options"):
                yield Select(MODES, value=self.initial_mode, allow_blank=False, id="search-mode")
                options = [("all processes", -1)] + [
                    (f"{p.pid} {p.comm}", p.pid) for p in self.checkpoint.process_list()
                ]
                yield Select(options, value=self.initial_pid if self.initial_pid is not None else -1,
                             allow_blank=False, id="search-pid")
                # as memsearch's --utf16 and -i (model/patterns.py): for text and regex patterns
                yield Checkbox("UTF-16", id="search-utf16")
                yield Checkbox("ignore case", id="search-icase")
            with Horizontal(id="search-progress-row"):
                yield ProgressBar(total=100, show_eta=False, id="search-progress")
                yield Label("", id="search-status")
        comms = {p.pid: p.comm for p in self.checkpoint.process_list()}
        yield MatchList(comms=comms, id="search-matches")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#search-pattern", Input).focus()
        self.query_one("#search-progress", ProgressBar).display = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    @on(Button.Pressed, "#search-go")
    def _go(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#search-cancel")
    def _cancel(self) -> None:
        self.cancel()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_start(self) -> None:
        text = self.query_one("#search-pattern", Input).value
        mode = self.query_one("#search-mode", Select).value
        pid = self.query_one("#search-pid", Select).value
        utf16 = self.query_one("#search-utf16", Checkbox).value
        ignore_case = self.query_one("#search-icase", Checkbox).value
        try:
            pattern = parse_pattern(text, str(mode), utf16=utf16, ignore_case=ignore_case)
        except CkptError as exc:
            self.query_one("#search-status", Label).update(str(exc))
            return
        if self.running:
            self.cancel()
        matches = self.query_one(MatchList)
        matches.clear()
        self.count = 0
        pids = None if pid in (-1, None, Select.NULL) else [int(pid)]  # type: ignore[arg-type]
        bar = self.query_one("#search-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        where = "all processes" if pids is None else f"pid {pids[0]}"
        self.query_one("#search-status", Label).update(f"searching {where}…")
        self.query_one("#search-cancel", Button).disabled = False
        self.pattern_text = text
        self.worker = self.run_search(self.checkpoint, pattern, pids)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
            self.query_one("#search-status", Label).update("cancelling…")
        else:
            self.app.pop_screen()

    def on_search_progress(self, message: SearchProgress) -> None:
        bar = self.query_one("#search-progress", ProgressBar)
        if message.total:
            bar.update(total=message.total, progress=message.done)
        self.query_one("#search-status", Label).update(
            f"{fmt.size(message.done)} of {fmt.size(message.total)} scanned, {fmt.plural(self.count, 'match')}"
        )

    def on_search_matches(self, message: SearchMatches) -> None:
        self.count += len(message.matches)
        self.query_one(MatchList).add(message.matches)

    def on_search_finished(self, message: SearchFinished) -> None:
        self.query_one("#search-cancel", Button).disabled = True
        bar = self.query_one("#search-progress", ProgressBar)
        if message.error:
            status = f"error: {message.error}"
        elif message.cancelled:
            status = f"cancelled — {fmt.plural(message.count, 'match')} so far"
        else:
            bar.update(progress=bar.total or 100)
            status = fmt.plural(message.count, "match")
            if message.count >= 10_000:
                status += " (the search stops at 10,000)"
        self.query_one("#search-status", Label).update(status)
        if message.count and not message.error:
            self.query_one(MatchList).focus()

    def on_match_list_opened(self, message: MatchList.Opened) -> None:
        match = message.match
        if match.pid not in self.checkpoint.processes:
            return
        same = [(m.address, max(m.length, 1)) for m in self.query_one(MatchList).matches if m.pid == match.pid]
        self.app.push_screen(
            HexScreen(self.checkpoint, match.pid, match.address, matches=same,
                      pattern=self.pattern_text)
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True
