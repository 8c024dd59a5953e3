"""A picture of a process address space: one bar per VMA, dumped pages shaded."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from . import format as fmt
from .format import esc
from .hexview import MemorySource, Segment_

PAGE = 4096
BAR = 32
# shading: present, partly present, lazy/parent, not dumped — distinct characters for NO_COLOR
SHADES = {"present": ("█", "$success"), "partial": ("▓", "$success-darken-2"),
          "other": ("▒", "$warning"), "none": ("░", "$text-muted")}


def vma_cells(vma: Any, reader: Any | None, width: int = BAR) -> list[str]:
    """For each of ``width`` cells of the VMA: present | partial | other | none."""
    size = max(vma.end - vma.start, 1)
    present = [0] * width
    other = [0] * width
    pages_per_cell = [0] * width
    # how many pages each cell covers
    for cell in range(width):
        lo = vma.start + size * cell // width
        hi = vma.start + size * (cell + 1) // width
        pages_per_cell[cell] = max((hi - lo) // PAGE, 1 if hi > lo else 0)

    def add(addr: int, length: int, target: list[int]) -> None:
        pos = addr
        end = addr + length
        while pos < end:
            cell = min((pos - vma.start) * width // size, width - 1)
            cell_end = vma.start + size * (cell + 1) // width
            chunk = min(end, cell_end) - pos
            if chunk <= 0:
                chunk = min(end - pos, PAGE)
            target[cell] += -(-chunk // PAGE)
            pos += chunk

    runs = None
    if reader is not None:  # (MemorySource answers "missing" for a page it cannot tell)
        runs = [(s, e - s, state) for s, e, state in MemorySource(reader, []).pieces(Segment_(vma.start, vma.end))]
    if runs is not None:
        for addr, length, state in runs:
            if state == "present":
                add(addr, length, present)
            elif state in ("lazy", "parent"):
                add(addr, length, other)
    else:  # no reader: spread the counts evenly
        total_pages = max(size // PAGE, 1)
        frac = vma.pages_present / total_pages
        frac_other = (vma.pages_lazy + vma.pages_parent) / total_pages
        for cell in range(width):
            present[cell] = round(frac * pages_per_cell[cell])
            other[cell] = round(frac_other * pages_per_cell[cell])
    out = []
    for cell in range(width):
        n = pages_per_cell[cell]
        if n == 0:
            out.append("none")
        elif present[cell] >= n:
            out.append("present")
        elif present[cell] > 0:
            out.append("partial")
        elif other[cell] > 0:
            out.append("other")
        else:
            out.append("none")
    return out


def render_map(pid: int, vmas: list[Any], reader: Any | None, *, width: int = BAR, clickable: bool = True,
               mm: dict | None = None) -> str:
    if not vmas:
        return "[$text-muted](no memory mappings recorded)[/]"
    vmas = sorted(vmas, key=lambda v: v.start)
    addr_width = 16 if vmas[-1].end > (1 << 48) else 12
    mapped = sum(v.end - v.start for v in vmas)
    dumped = sum(v.pages_present for v in vmas) * PAGE
    lines = [
        f"{fmt.plural(len(vmas), 'VMA')}, {fmt.size(mapped)} mapped, {fmt.size(dumped)} dumped   "
        + "  ".join(f"[{var}]{ch}[/] {name}" for name, (ch, var) in
                    (("dumped", SHADES["present"]), ("part", SHADES["partial"]),
                     ("lazy", SHADES["other"]), ("none", SHADES["none"]))),
        "",
    ]
    previous_end = None
    for vma in vmas:
        if previous_end is not None and vma.start > previous_end:
            gap = vma.start - previous_end
            lines.append(f"[$text-muted]{'':{addr_width}}   ┆ gap {fmt.size(gap)}[/]")
        previous_end = vma.end
        cells = vma_cells(vma, reader, width)
        bar = "".join(f"[{SHADES[c][1]}]{SHADES[c][0]}[/]" for c in cells)
        label = esc(fmt.vma_label(vma, mm))
        if clickable:
            label = f"[@click=app.open_hex({pid},{vma.start})]{label}[/]"
        lines.append(
            f"{vma.start:0{addr_width}x} {esc(vma.perms)} {bar} {fmt.size(vma.end - vma.start):>10} {label}"
        )
    return "\n".join(lines)


class VmaMap(Static):
    """The address-space picture of one process (click a label to open the hex view)."""

    def show(self, pid: int, vmas: list[Any], reader: Any | None, mm: dict | None = None) -> None:
        self.update(render_map(pid, vmas, reader, mm=mm))
