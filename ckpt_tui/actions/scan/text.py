"""A scan report as lines of plain text (``ckpt-tui scan`` without ``--json``)."""

from __future__ import annotations

from ...text import plural, safe
from ...text import size as human
from .findings import LEVELS, Report, at_or_above

WASTE_LINES = 10


def lines(report: Report, *, fail_on: str = "high", reveal: bool = False) -> list[str]:
    out = []
    counts = report.counts()
    summary = ", ".join(f"{counts[lv]} {lv}" for lv in reversed(LEVELS) if counts[lv])
    out.append(f"{report.name or report.path}: {plural(len(report.findings), 'finding')}"
               + (f" ({summary})" if summary else ""))
    for f in report.findings:
        out.append(f"{f.level.upper():8} {safe(f.text(reveal))}")
        out.append(f"{'':8} id {safe(f.id)}" + (f"  ({plural(f.count, 'place')})" if f.count > 1 else ""))
    w = report.waste
    out.append("")
    out.append(f"efficiency {w.score:.1%}: {human(w.wasted)} of {human(w.total)} is waste"
               + ("" if w.memory_scanned else " (memory not scanned)"))
    for item in w.items[:WASTE_LINES]:
        out.append(f"  {safe(item.title)}")
    if len(w.items) > WASTE_LINES:
        out.append(f"  ... {plural(len(w.items) - WASTE_LINES, 'more item')}")
    for limit in report.limits:
        out.append(f"note: {safe(limit)}")
    failing = at_or_above(report.findings, fail_on)
    if failing:
        out.append(f"{plural(len(failing), 'finding')} at {fail_on} or above")
    return out
