"""``ckpt-tui report``: one self-contained file that says everything a bug report needs about a
checkpoint — the restore verdict and preflight, the overview, the process tree with command lines,
open files and sockets, each process's memory map, the root FS diff, network, mounts, the logs with
their diagnosis and the problems — with secrets masked unless ``reveal``.

:func:`build_report` makes a :class:`~.document.Document` from the model; :func:`render_html`
(:mod:`.html`: one HTML file, its CSS inline, no script, no external reference, a print style)
and :func:`render_markdown` (:mod:`.markdown`: for pasting into an issue) write the same document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import __version__
from ..checks import Check
from . import sections as S
from .document import Document, Section
from .html import render_html
from .markdown import render_markdown
from .verdict import Verdict, restore_verdict

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint

__all__ = ["FORMATS", "Document", "Verdict", "build_report", "render", "render_html", "render_markdown",
           "report_name", "report_text", "restore_verdict", "run_preflight"]

FORMATS = ("html", "md")


def run_preflight(ck: Checkpoint) -> list[Check]:
    """The preflight as a restore here would run it (``--tcp-established`` when the checkpoint
    holds established connections, as the restore command adds it)."""
    from ..checks import preflight
    from ..restore import RestoreOptions

    tcp = any(s.needs_tcp_established for c in (ck, *ck.containers) for s in c.sockets)
    return preflight(ck, RestoreOptions(tcp_established=tcp))


def _container_sections(ck: Checkpoint, prefix: str, reveal: bool) -> list[Section]:
    return [
        S.overview_section(ck, f"{prefix}overview", reveal),
        S.processes_section(ck, f"{prefix}processes", reveal),
        S.memory_section(ck, f"{prefix}memory"),
        S.rootfs_section(ck, f"{prefix}rootfs"),
        S.network_section(ck, f"{prefix}network"),
        S.mounts_section(ck, f"{prefix}mounts"),
        S.logs_section(ck, f"{prefix}logs", reveal),
    ]


def build_report(ck: Checkpoint, *, reveal: bool = False, checks: list[Check] | None = None) -> Document:
    """The report of ``ck``. ``checks``: the preflight's (None: the verdict says it was not run)."""
    name = ck.info.name or "(unnamed container)"
    doc = Document(title=f"Checkpoint report: {name}",
                   subtitle=f"{ck.info.source_kind} — {ck.source_path.name}",
                   masked=not reveal, generator=f"ckpt-tui {__version__}")
    doc.sections.append(S.verdict_section(checks))
    if ck.containers:
        for n, sub in enumerate(ck.containers, 1):
            box = Section(f"c{n}", f"Container {sub.info.name or n}")
            box.children = _container_sections(sub, f"c{n}-", reveal)
            doc.sections.append(box)
    else:
        doc.sections += _container_sections(ck, "", reveal)
    doc.sections.append(S.problems_section(ck, "problems"))
    return doc


def render(doc: Document, fmt: str) -> str:
    """The document as ``fmt`` ("html" or "md")."""
    return render_html(doc) if fmt == "html" else render_markdown(doc)


def report_text(ck: Checkpoint, fmt: str = "html", *, reveal: bool = False, preflight: bool = True) -> str:
    """The whole report of ``ck`` as ``fmt``, with the preflight run here unless ``preflight`` is off
    (what ``ckpt-tui report`` writes and the inspector's palette exports)."""
    return render(build_report(ck, reveal=reveal, checks=run_preflight(ck) if preflight else None), fmt)


def report_name(ck: Checkpoint, fmt: str = "html") -> str:
    """A file name for the report: ``<container>-report.html`` (only letters, digits, ``.-_``)."""
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in (ck.info.name or "checkpoint"))[:60]
    return f"{base.strip('.-') or 'checkpoint'}-report.{fmt}"
