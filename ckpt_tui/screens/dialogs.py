"""Small modal dialogs: confirm, prompt (goto / find / filter), export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from ..widgets import format as fmt
from ..widgets.format import esc

Result = TypeVar("Result")


class Dialog(ModalScreen[Result]):
    """A modal screen. The App's keys are out of reach behind it, but ctrl+c quits from
    anywhere (an input's own ctrl+c, copying a selection, comes first when it has one)."""

    BINDING_GROUP_TITLE = "Dialogs"
    BINDINGS = [Binding("ctrl+c", "app.quit", "Quit", show=False, id="dialog.quit")]


class ConfirmScreen(Dialog[bool]):
    """Names exactly what will happen; y / Enter on Yes confirms, n / Escape cancels."""

    BINDING_GROUP_TITLE = "Confirmation"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str, *, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="confirm-scroll"):
                yield Static(self.body, id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="warning", id="confirm-yes")
                yield Button(self.no, id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(Dialog[str | None]):
    """One line of input at the bottom of the screen. ``live`` is called on every change."""

    BINDING_GROUP_TITLE = "Prompt"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(
        self,
        label: str,
        *,
        value: str = "",
        placeholder: str = "",
        live: Callable[[str], None] | None = None,
        validate: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(classes="prompt-screen")
        self.label = label
        self.value = value
        self.placeholder = placeholder
        self.live = live
        self.validate_value = validate
        self.original = value

    def compose(self) -> ComposeResult:
        # the error line sits above the bar, and the prompt has a footer of its own over the
        # screen's: the keys shown are the ones that work while it is open, none cut off
        with Vertical(id="prompt-box"):
            yield Label("", id="prompt-error")
            with Horizontal(id="prompt-bar"):
                yield Label(self.label, id="prompt-label")
                yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#prompt-error", Label).display = False

    def _error(self, text: str) -> None:
        label = self.query_one("#prompt-error", Label)
        label.update(text)
        label.display = bool(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._error("")
        if self.live is not None:
            self.live(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.validate_value is not None:
            error = self.validate_value(event.value)
            if error:
                self._error(error)
                return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        if self.live is not None:
            self.live(self.original)
        self.dismiss(None)


def address_error(text: str) -> str | None:
    return None if fmt.parse_address(text) is not None else f"not an address: {text!r} (hex, e.g. 0x7f12a000)"


@dataclass
class ExportChoice:
    path: Path
    start: int = 0
    end: int = 0
    overwrite: bool = False


def parse_range(text: str) -> tuple[int, int] | None:
    text = text.replace(" ", "")
    if "-" not in text:
        return None
    lo, _, hi = text.partition("-")
    if hi.startswith("+"):
        start = fmt.parse_address(lo)
        length = fmt.parse_address(hi[1:])
        if start is None or length is None:
            return None
        return start, start + length
    start, end = fmt.parse_address(lo), fmt.parse_address(hi)
    if start is None or end is None or end <= start:
        return None
    return start, end


class ExportScreen(Dialog[ExportChoice | None]):
    """Ask for the file name (default in the current directory) and, for memory, the range."""

    BINDING_GROUP_TITLE = "Export"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, what: str, default_name: str, *, memory_range: tuple[int, int] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.what = what
        self.default_path = Path.cwd() / default_name
        self.memory_range = memory_range
        self._confirm_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Label("Export", classes="dialog-title")
            yield Static(f"Write {esc(self.what)} to a file.")
            yield Label("File")
            yield Input(str(self.default_path), id="export-path")
            if self.memory_range is not None:
                start, end = self.memory_range
                yield Label("Address range (start-end, hex)")
                yield Input(f"0x{start:x}-0x{end:x}", id="export-range")
            yield Label("", id="export-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _submit(self) -> None:
        path = Path(self.query_one("#export-path", Input).value.strip()).expanduser()
        error = self.query_one("#export-error", Label)
        if not str(path):
            error.update("give a file name")
            return
        start = end = 0
        if self.memory_range is not None:
            parsed = parse_range(self.query_one("#export-range", Input).value)
            if parsed is None:
                error.update("range must be start-end in hex, e.g. 0x1000-0x2000 (or start-+length)")
                return
            start, end = parsed
        if path.is_dir():
            error.update(f"{path} is a directory")
            return
        if path.exists() and self._confirm_overwrite != path:
            self._confirm_overwrite = path
            error.update(f"{path.name} exists: press Write again to overwrite it")
            return
        self.dismiss(ExportChoice(path, start, end, overwrite=path.exists()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-write":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
