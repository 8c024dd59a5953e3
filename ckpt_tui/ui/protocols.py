"""What the App's everywhere-keys ask of a widget or screen, as small protocols.

``c`` copies from the first :class:`Copyable` in the focus chain, ``ctrl+s`` exports the first
:class:`Exportable` payload, ``/`` filters a :class:`Filterable` or finds in a :class:`Findable`
(or asks a :class:`FindPrompter` screen to prompt for itself). A widget takes part by having the
methods; nothing registers. :func:`focus_chain` is the order they are asked in.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from textual.dom import DOMNode
from textual.screen import Screen

from ..screens.main import MainScreen
from ..widgets.base import ExportPayload


@runtime_checkable
class Copyable(Protocol):
    def copy_text(self) -> str:
        """The selected value as text ("" when nothing is selected)."""
        ...


@runtime_checkable
class Exportable(Protocol):
    def export_payload(self) -> ExportPayload:
        """What ``ctrl+s`` writes, or None when there is nothing to export here."""
        ...


@runtime_checkable
class Filterable(Protocol):
    """A tree or table that ``/`` narrows as the user types."""

    filter_text: str

    def set_filter(self, text: str) -> None: ...


@runtime_checkable
class Findable(Protocol):
    """A text view ``/`` finds in: ``find`` moves to the first match and says how many lines match."""

    find_pattern: str

    def find(self, pattern: str) -> int: ...


@runtime_checkable
class FindPrompter(Protocol):
    """A screen that asks for its own find pattern (the hex view: text, ``x:`` bytes or ``re:``)."""

    def prompt_find(self) -> None: ...


def focus_chain(screen: Screen[object]) -> list[DOMNode]:
    """The focused widget and its ancestors, then the screen's current pane, then the screen."""
    chain: list[DOMNode] = []
    node: DOMNode | None = screen.focused
    while node is not None and node is not screen:
        chain.append(node)
        node = node.parent
    if isinstance(screen, MainScreen):
        pane = screen.current_pane
        if pane is not None and pane not in chain:
            chain.append(pane)
    chain.append(screen)
    return chain


def copy_text(screen: Screen[object]) -> str:
    """The first non-empty value a Copyable of the focus chain gives."""
    for node in focus_chain(screen):
        if isinstance(node, Copyable):
            text = node.copy_text()
            if text:
                return text
    return ""


def export_payload(screen: Screen[object]) -> ExportPayload:
    for node in focus_chain(screen):
        if isinstance(node, Exportable):
            payload = node.export_payload()
            if payload is not None:
                return payload
    return None


FindTarget = Filterable | Findable | FindPrompter


def find_target(screen: Screen[object]) -> FindTarget | None:
    """What ``/`` acts on: a screen that prompts for itself, else the focused filterable or
    findable widget, else the first shown filterable (then findable) of the current pane."""
    if isinstance(screen, FindPrompter):
        return screen
    focused = screen.focused
    if isinstance(focused, (Filterable, Findable)):
        return focused
    if isinstance(screen, MainScreen):
        pane = screen.current_pane
        if pane is not None:
            widgets = list(pane.query("*"))
            for widget in widgets:
                if isinstance(widget, Filterable) and widget.display:
                    return widget
            for widget in widgets:
                if isinstance(widget, Findable):
                    return widget
    return None
