"""Triage: what in a checkpoint deserves a look — secrets, intruders, waste.

``scan(ck)`` runs every rule over an opened checkpoint (its memory through the same engine as
``memsearch``); ``scan_path(path)`` opens one and scans its memory in the same streaming pass.
Both give a :class:`Report`: findings with a level and a stable id, and the waste score.
``at_or_above(findings, level)`` is the policy gate ("no findings at X or above").

Reads only the model (no archive or CRIU imports).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...model import Checkpoint
from ...model.rootfs import read_rootfs_files
from . import processes, rootfs, secrets, waste
from .findings import (
    CATEGORIES,
    LEVELS,
    SCHEMA,
    Category,
    Finding,
    Level,
    Link,
    Report,
    Waste,
    WasteItem,
    Where,
    at_or_above,
    level_rank,
)
from .memory import MemoryResult, Progress, load_and_scan, scan_loaded

__all__ = [
    "CATEGORIES", "LEVELS", "SCHEMA", "Category", "Finding", "Level", "Link", "Report", "Waste", "WasteItem",
    "Where", "at_or_above", "gate", "level_rank", "scan", "scan_path",
]

FILE_READ_LIMIT = 1 << 20  # files of the root FS diff up to this size are searched for secrets
MAPPED_READ_LIMIT = 64 << 20  # ... and mapped files up to this size compared with their dumped pages


def scan(ck: Checkpoint, *, memory: bool = True, cancelled: Callable[[], bool] | None = None,
         memory_result: MemoryResult | None = None, progress: Progress | None = None) -> Report:
    """Every finding of an opened checkpoint (each container of a pod). ``memory=False`` leaves
    the memory pages alone (no memory secrets, no zero or repeated pages); ``memory_result``:
    what a streaming pass already found (see :func:`scan_path`); ``progress(stage, done, total)``
    is called as the memory is read (the UI's worker shows it)."""
    report = Report(name=ck.info.name, path=str(ck.source_path))
    parts = [(c, c.info.name or getattr(c.source, "prefix", "")) for c in ck.containers] or [(ck, "")]
    for sub, container in parts:
        found = memory_result if sub is ck else None
        if memory and found is None:
            found = scan_loaded(sub, cancelled, progress)
        _scan_one(sub, container, found, report)
    if not memory:
        report.limits.append("memory not scanned: no memory secrets, zero-filled or repeated pages")
    if len(parts) > 1:  # a pod: one score over its containers
        report.waste.items.sort(key=lambda i: (-i.size, i.rule, i.title))
    report.findings = _unique_ids(report.findings)
    report.sort()
    return report


def gate(ck: Checkpoint, level: str = "high", categories: tuple[str, ...] = ("secrets",),
         memory: bool = True) -> list[Finding]:
    """What a policy of "no findings at ``level`` or above" (in ``categories``; all for ``()``)
    refuses in an opened checkpoint: the findings that break it, most serious first. For
    ``check --rules``' ``no_secrets``; the level is checked first (CkptError naming the levels)."""
    level_rank(level)
    report = scan(ck, memory=memory)
    return [f for f in at_or_above(report.findings, level) if not categories or f.category in categories]


def _scan_one(ck: Checkpoint, container: str, found: MemoryResult | None, report: Report) -> None:
    changed = rootfs.changed_paths(ck)
    report.findings += secrets.env_and_argv(ck, container)
    if found is not None:
        report.findings += secrets.memory(ck, found.matches, container)
        report.limits += [f"{container}: {m}" if container else m for m in found.limits]
    report.findings += list(processes.scan(ck, {p: e.status for p, e in changed.items()}, container))
    report.findings += list(rootfs.scan(ck, container))
    wanted = {e.path: FILE_READ_LIMIT for e in changed.values()
              if e.type == "file" and 0 < e.size <= FILE_READ_LIMIT}
    wanted.update({p[1:]: MAPPED_READ_LIMIT for p in waste.mapped_files(ck)
                   if p in changed and changed[p].type == "file" and changed[p].size <= MAPPED_READ_LIMIT})
    contents, why = read_rootfs_files(ck, wanted)
    files = {"/" + p: data for p, data in contents}
    report.findings += secrets.files(((p, data[:FILE_READ_LIMIT]) for p, data in files.items()
                                      if changed[p].size <= FILE_READ_LIMIT), container)
    for p, e in changed.items():
        if e.type == "file" and e.size > FILE_READ_LIMIT and secrets.credential_kind(p):
            report.findings.append(Finding(secrets.KEY_FILE_RULE, "secrets", "medium",
                                           f"{secrets.credential_kind(p)} in the root FS diff: {p} (too large to read)",
                                           Where(path=p, container=container),
                                           link=Link("file", path=p, container=container)))
    if why:
        report.limits.append(why)
    report.limits += [f"{container + ': ' if container else ''}{p.source + ': ' if p.source else ''}{p.message}"
                      for p in ck.problems if p.severity == "error"]
    w = waste.measure(ck, found.tally if found is not None else None, files, container)
    _add_waste(report.waste, w)
    report.findings += waste.findings(w)


def _add_waste(total: Waste, part: Waste) -> None:
    total.total += part.total
    total.wasted += part.wasted
    total.memory_scanned = total.memory_scanned and part.memory_scanned
    for rule, n in part.by_rule.items():
        total.by_rule[rule] = total.by_rule.get(rule, 0) + n
    total.items += part.items


def _unique_ids(findings: list[Finding]) -> list[Finding]:
    """Findings whose ids would repeat get ``#2``, ``#3``... in the order found (deterministic)."""
    import dataclasses

    seen: dict[str, int] = {}
    out = []
    for f in findings:
        n = seen.get(f.id, 0) + 1
        seen[f.id] = n
        if n > 1:
            f = dataclasses.replace(f, where=dataclasses.replace(f.where, name=f"{f.where.name}#{n}"))
        out.append(f)
    return out


def scan_path(path: str | Path, *, memory: bool = True, limits=None) -> tuple[Checkpoint, Report]:
    """Open ``path`` and scan it; with ``memory`` its memory is scanned in the opening pass (a
    compressed archive's pages are searched as they stream past and never kept). The caller
    closes the checkpoint."""
    if not memory:
        from ...model import load_checkpoint

        ck = load_checkpoint(path, limits=limits, keep_pages=False)
        return ck, _closing(ck, lambda: scan(ck, memory=False))
    ck, result = load_and_scan(path, limits=limits)
    return ck, _closing(ck, lambda: scan(ck, memory_result=result))


def _closing(ck: Checkpoint, run: Callable[[], Report]) -> Report:
    try:
        return run()
    except BaseException:
        ck.close()
        raise
