"""View one file of the root FS diff: text highlighted by extension, binary as hex."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..widgets import format as fmt
from ..widgets.format import esc
from ..widgets.hexview import BytesSource, HexView
from ..widgets.textview import TextView, highlight_lines

VIEW_LIMIT = 16 * 1024 * 1024


_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if chr(c) not in "\t\n"}
_CONTROL[0x7F] = "\\x7f"
_CONTROL.update({c: f"\\u{c:04x}" for c in range(0x80, 0xA0)})


def _safe_text(text: str) -> str:
    """Control characters escaped: raw ones would reach the terminal and garble it."""
    return text.translate(_CONTROL).replace("\t", "    ")


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is not binary
        return exc.start < len(head) - 4
    return False


@dataclass
class FileRead(Message, bubble=False):
    data: bytes | None
    error: str = ""


class FileViewScreen(Screen):
    BINDING_GROUP_TITLE = "File view"
    BINDINGS = [
        Binding("escape", "close", "Back", id="fileview.close"),
        Binding("x", "toggle_hex", "Text/hex", id="fileview.toggle_hex"),
    ]

    def __init__(self, checkpoint: Any, path: str, size: int = 0, volume: Any = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.volume = volume  # the volume (a model RootfsDiff) the file is in; None: the root FS diff
        self.path = path.strip("/")
        self.file_size = size
        self.data: bytes | None = None
        self.as_hex = False
        self.sub_title = "/" + self.path

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]/{esc(self.path)}[/]  {fmt.size(self.file_size)}   [$text-muted]loading…[/]",
                     id="fileview-title", classes="pane-summary")
        yield Vertical(id="fileview-body")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.read_file()

    @work(thread=True, exclusive=True, group="fileview", exit_on_error=False)
    def read_file(self) -> None:
        try:
            try:
                if self.volume is not None:
                    data = self.checkpoint.read_rootfs_file(self.path, VIEW_LIMIT, tree=self.volume)
                else:
                    data = self.checkpoint.read_rootfs_file(self.path, VIEW_LIMIT)
            except TypeError:
                data = self.checkpoint.read_rootfs_file(self.path)
        except Exception as exc:  # noqa: BLE001  (a file's bytes from the checkpoint: said, never a crash)
            self.post_message(FileRead(None, str(exc) or type(exc).__name__))
            return
        self.post_message(FileRead(data))

    async def on_file_read(self, message: FileRead) -> None:
        title = self.query_one("#fileview-title", Static)
        if message.data is None:
            title.update(f"[b]/{esc(self.path)}[/]  [$text-error]{esc(message.error)}[/]")
            return
        self.data = message.data
        self.as_hex = looks_binary(self.data)
        await self._show()

    async def _show(self) -> None:
        data = self.data or b""
        body = self.query_one("#fileview-body", Vertical)
        await body.remove_children()
        truncated = len(data) >= VIEW_LIMIT and self.file_size > len(data)
        binary = looks_binary(data)
        kind = ("binary, shown as hex" if binary else "hex") if self.as_hex else (
            "binary, shown as text (control bytes escaped)" if binary else "text")
        self.query_one("#fileview-title", Static).update(
            f"[b]/{esc(self.path)}[/]  {fmt.size(self.file_size or len(data))}  [$text-muted]{kind}"
            f"{' — first ' + fmt.size(len(data)) + ' shown' if truncated else ''} · x text/hex · / find · "
            f"n/N · ctrl+s save[/]"
        )
        if self.as_hex:
            view: Any = HexView(BytesSource(data, 0, "/" + self.path), id="fileview-hex")
        else:
            text = _safe_text(data.decode("utf-8", "backslashreplace"))
            view = TextView(highlight_lines(text, self.path), id="fileview-text")
        await body.mount(view)
        view.focus()

    def on_hex_view_goto_requested(self, event: HexView.GotoRequested) -> None:
        """g in the hex view: go to an offset in the file."""
        from .dialogs import PromptScreen

        event.stop()
        view = event.view

        def done(value: str | None) -> None:
            if not value:
                return
            offset = fmt.parse_address(value)
            if offset is None or not view.goto(offset):
                self.notify(f"{value} is not an offset in this file (0 to {len(self.data or b'') - 1:#x})",
                            severity="warning")

        self.app.push_screen(PromptScreen("Go to offset", placeholder="0x240 (hex)"), done)

    async def action_toggle_hex(self) -> None:
        if self.data is None:
            return
        self.as_hex = not self.as_hex
        await self._show()

    def prompt_find(self) -> None:
        from .dialogs import PromptScreen

        views = self.query(TextView)
        if views:
            view = views.first()

            def done(value: str | None) -> None:
                if value is not None:
                    count = view.find(value)
                    self.notify(f"{fmt.plural(count, 'line')} match{'es' if count == 1 else ''}" if count else f"{value!r} not found", timeout=2)

            self.app.push_screen(PromptScreen("Find", value=view.find_pattern), done)
            return
        hexes = self.query(HexView)
        if hexes:
            hexview = hexes.first()

            def done_hex(value: str | None) -> None:
                if not value:
                    return
                from ..errors import CkptError
                from ..model.patterns import parse_find

                try:
                    compiled = parse_find(value).compile()
                except CkptError as exc:
                    self.notify(str(exc), severity="error")
                    return
                data = self.data or b""
                found = [(m.start(), max(m.end() - m.start(), 1))
                         for _, m in zip(range(10_000), compiled.finditer(data), strict=False)]
                hexview.set_matches(found, 0, value)  # replaces the last find's, also with none
                if not found:
                    self.notify(f"{value!r} not found", severity="warning")
                    return
                self.notify(fmt.plural(len(found), "match"), timeout=2)

            self.app.push_screen(PromptScreen("Find", placeholder="text · x:hex bytes · re:regex"), done_hex)

    def action_close(self) -> None:
        self.app.pop_screen()

    def export_payload(self):
        if self.data is None:
            return None
        return self.path.rsplit("/", 1)[-1] or "file", self.data
