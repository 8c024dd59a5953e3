"""A VMA's changed-pages map in a diff: one cell per page (or per run of pages), dive's
colours: ``~`` changed, ``+`` only in B, ``-`` only in A, ``=`` the same, ``·`` in neither dump."""

from __future__ import annotations

from rich.text import Text

from ..actions.diff.render import MAP_MARKS, page_map_cells, pages_text
from ..actions.diff.result import VmaNode

MAP_STYLES = {"changed": "bold yellow", "only_b": "green", "only_a": "red", "same": "dim", "": "dim"}


def page_map_text(vma: VmaNode, width: int = 64, rows: int = 8) -> Text:
    """The map, ``width`` cells a row, at most ``rows`` rows, with a legend line above."""
    cells, per = page_map_cells(vma, width * rows)
    out = Text()
    out.append(f"pages: {pages_text(vma.pages)}  (one cell: {per:,} page{'s' if per != 1 else ''})\n")
    for i, state in enumerate(cells):
        if i and i % width == 0:
            out.append("\n")
        out.append(MAP_MARKS[state], style=MAP_STYLES[state])
    out.append("\n")
    for state, words in (("changed", "changed"), ("only_b", "only in B"), ("only_a", "only in A"),
                         ("same", "same"), ("", "in neither dump")):
        out.append(f"{MAP_MARKS[state]} ", style=MAP_STYLES[state])
        out.append(f"{words}   ", style="dim")
    if vma.map_truncated:
        out.append("\n(the map stops where the VMA had too many runs; the counts are exact)", style="dim")
    return out
