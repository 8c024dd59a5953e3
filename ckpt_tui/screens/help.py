"""The help screen: the keys truly bound where you pressed ``?``, then the keys of the other views."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..widgets.files import FilesTree
from ..widgets.hexview import HexView
from ..widgets.logs import LogView
from ..widgets.processes import EnvTable
from ..widgets.textview import TextView
from ..widgets.format import esc

OTHER_VIEWS = (
    ("Files tree", FilesTree),
    ("Environment table", EnvTable),
    ("Hex view", HexView),
    ("Text view (files, logs)", TextView),
    ("Log view", LogView),
)

ABOUT = (
    "ckpt-tui inspects container checkpoints (Podman, CRI-O, containerd archives of CRIU images). "
    "The left tree chooses a pane; Tab moves between the tree and the pane; ctrl+p searches processes, "
    "files, sockets, addresses and actions. Apache-2.0."
)


def _group_name(node: Any) -> str:
    from textual.app import App
    from textual.screen import Screen

    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return getattr(node, "BINDING_GROUP_TITLE", None) or "This screen"
    return getattr(node, "BINDING_GROUP_TITLE", None) or type(node).__name__


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, active: dict[str, Any]) -> None:
        super().__init__(classes="dialog-screen")
        self.active = active

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(esc(ABOUT), id="help-about")
            yield Static(self._active_markup(), id="help-active")
            yield Static(self._other_markup(), id="help-other")
            yield Static("[$text-muted]Escape closes this help.[/]")

    def _key(self, binding: Binding) -> str:
        return self.app.get_key_display(binding)

    def _active_markup(self) -> str:
        groups: dict[str, list[tuple[str, str, bool]]] = {}
        seen: set[tuple[str, str]] = set()
        for key, active in self.active.items():
            binding = active.binding
            if not binding.description:
                continue
            group = _group_name(active.node)
            ident = (group, binding.action)
            if ident in seen:
                continue
            seen.add(ident)
            groups.setdefault(group, []).append((self._key(binding), binding.description, active.enabled))
        lines = ["[b]Here[/] [$text-muted](dimmed: not available right now)[/]"]
        order = sorted(groups, key=lambda g: (g == "Everywhere", g))
        for group in order:
            lines.append(f"\n[b $accent]{esc(group)}[/]")
            for key, description, enabled in groups[group]:
                text = f"  [b]{esc(key):>12}[/]  {esc(description)}"
                lines.append(text if enabled else f"[$text-disabled]{text}  (unavailable)[/]")
        return "\n".join(lines)

    def _other_markup(self) -> str:
        lines = ["\n[b]In other views[/]"]
        for title, cls in OTHER_VIEWS:
            bindings = [b for b in cls.BINDINGS if isinstance(b, Binding) and b.description and b.show]
            if not bindings:
                continue
            lines.append(f"\n[b $accent]{esc(title)}[/]")
            for binding in bindings:
                lines.append(f"  [b]{esc(self.app.get_key_display(binding)):>12}[/]  {esc(binding.description)}")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
