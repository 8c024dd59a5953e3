"""Small formatting helpers shared by the panes (no widgets here)."""

from __future__ import annotations

from typing import Any, Protocol

from ..model.masking import MASK, is_secret_name, should_mask  # noqa: F401  (re-exported for the panes)
from ..text import count, exact_size, micros, natural_key, parse_address, plural, size, when  # noqa: F401  (the panes say them as the CLI does)


def address(addr: int, width: int = 12) -> str:
    return f"{addr:0{width}x}"


def stat_value(name: str, value: int) -> str:
    if name.endswith("_time"):
        return micros(value)
    return f"{value:,}"


def truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


def esc(text: object) -> str:
    """Make any text safe inside Textual markup (textual.markup.escape misses ``[$x]``)."""
    return str(text).replace("[", "\\[")


class Mapping(Protocol):
    """What a label needs of a VMA (the model's ``VMA``, or a test's stand-in)."""

    start: int
    end: int

    @property
    def label(self) -> str: ...


def vma_label(vma: Mapping, mm: dict[str, Any] | None = None) -> str:
    """The VMA's label, with the main stack named even when CRIU's flags do not say so."""
    label = vma.label or "[anon]"
    if label == "[anon]" and mm:
        stack = mm.get("mm_start_stack")  # from the decoded mm image: check its type
        if isinstance(stack, int) and vma.start <= stack < vma.end:
            return "[stack]"
    return label
