"""The help screen: the keys truly bound where you pressed ``?``, then the keys of the other views."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Label, Static

from ..widgets.difftree import DiffTree
from ..widgets.files import FilesTree
from ..widgets.format import esc
from ..widgets.hexview import HexView
from ..widgets.logs import LogView
from ..widgets.processes import EnvTable
from ..widgets.table import FilterTable
from ..widgets.textview import TextView
from .dialogs import Dialog
from .fileview import FileViewScreen
from .memory import SearchScreen

OTHER_VIEWS = (
    ("Tables", FilterTable),
    ("Files tree", FilesTree),
    ("Environment table", EnvTable),
    ("Hex view", HexView),
    ("Text view (files, logs)", TextView),
    ("Log view", LogView),
    ("Diff (D, or ckpt-tui A B)", DiffTree),
    ("File view", FileViewScreen),
    ("Memory search", SearchScreen),
)
# the cursor keys every view has (not worth a line in the help)
CURSOR_IDS = (".up", ".down", ".pageup", ".pagedown", ".home", ".end")

ABOUT = (
    "ckpt-tui inspects container checkpoints (Podman, CRI-O, containerd archives of CRIU images). "
    "The left tree chooses a pane; Tab moves between the tree and the pane; ctrl+p searches processes, "
    "files, sockets, addresses and actions. Apache-2.0."
)


def _group_name(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return node.BINDING_GROUP_TITLE or "This screen"
    return node.BINDING_GROUP_TITLE or type(node).__name__


class HelpScreen(Dialog[None]):
    BINDING_GROUP_TITLE = "Help"
    BINDINGS = [
        Binding("escape,question_mark", "close", "Close", id="help.close"),
        Binding("q", "app.quit", "Quit", id="help.quit"),
    ]

    def __init__(self, active: dict[str, ActiveBinding], *, keymap: dict[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.active = active
        self.keymap = keymap or {}  # binding id -> keys: the other views' keys as remapped

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield Static(esc(ABOUT), id="help-about")
            yield Static(self._active_markup(), id="help-active")
            yield Static(self._other_markup(), id="help-other")
            yield Static("[$text-muted]Escape closes this help; q quits.[/]")

    def _key(self, binding: Binding) -> str:
        return self.app.get_key_display(binding)

    def active_rows(self) -> dict[str, list[tuple[list[Binding], str, bool]]]:
        """The bindings active where help was asked for, by group: (every key bound to the action,
        description, enabled). Keys come from the real bindings only, so this list cannot drift."""
        groups: dict[str, list[tuple[list[Binding], str, bool]]] = {}
        rows: dict[tuple[str, str], tuple[list[Binding], str, bool]] = {}
        for active in self.active.values():
            binding = active.binding
            if not binding.description:
                continue
            group = _group_name(active.node)
            ident = (group, binding.action)
            if ident in rows:
                rows[ident][0].append(binding)
                continue
            rows[ident] = ([binding], binding.tooltip or binding.description, active.enabled)
            groups.setdefault(group, []).append(rows[ident])
        for group, entries in groups.items():  # the project's own (shown) key first: "q ^q", not "^q q",
            for bindings, _description, _enabled in entries:  # and its words ("Quit", not Textual's)
                bindings.sort(key=lambda b: not b.show)
            groups[group] = [(b, b[0].tooltip or b[0].description, enabled) for b, _d, enabled in entries]
        return groups

    def other_rows(self) -> list[tuple[str, list[tuple[list[Binding], str]]]]:
        """The bindings of the other views, from their classes' BINDINGS, with the keymap's keys."""
        out = []
        for title, cls in OTHER_VIEWS:
            rows: dict[str, tuple[list[Binding], str]] = {}
            for binding in Binding.make_bindings(cls.BINDINGS):
                if not binding.description or (binding.id or "").endswith(CURSOR_IDS):
                    continue
                keys = self.keymap.get(binding.id or "")
                remapped = [binding.with_key(key) for key in keys.split(",")] if keys else [binding]
                rows.setdefault(binding.action, ([], binding.tooltip or binding.description))[0].extend(remapped)
            if rows:
                out.append((title, list(rows.values())))
        return out

    def _keys(self, bindings: list[Binding]) -> str:
        """The keys right-aligned in 12 cells, escaped after padding (``[`` must not count twice)."""
        return esc(" ".join(dict.fromkeys(self._key(b) for b in bindings)).rjust(12))

    def _active_markup(self) -> str:
        groups = self.active_rows()
        lines = ["[b]Here[/] [$text-muted](dimmed: not available right now)[/]"]
        order = sorted(groups, key=lambda g: (g == "Everywhere", g))
        for group in order:
            lines.append(f"\n[b $accent]{esc(group)}[/]")
            for bindings, description, enabled in groups[group]:
                text = f"  [b]{self._keys(bindings)}[/]  {esc(description)}"
                lines.append(text if enabled else f"[$text-disabled]{text}  (unavailable)[/]")
        return "\n".join(lines)

    def _other_markup(self) -> str:
        lines = ["\n[b]In other views[/]"]
        for title, rows in self.other_rows():
            lines.append(f"\n[b $accent]{esc(title)}[/]")
            for bindings, description in rows:
                lines.append(f"  [b]{self._keys(bindings)}[/]  {esc(description)}")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
