"""The report's first line: will this checkpoint restore? — the restore verdict itself
(:func:`ckpt_tui.actions.verdict.verdict_of`), said with the status words the report's styles use."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checks import Check
from ..checks.base import FAIL, PASS, WARN
from ..verdict import RESTORABLE, RESTORABLE_WITH, verdict_of

_STATUS = {RESTORABLE: PASS, RESTORABLE_WITH: WARN}


@dataclass
class Verdict:
    status: str  # "pass" | "warn" | "fail": how the report colours it
    headline: str  # the verdict's own words: "restorable here", "will fail here: ..."
    reasons: list[str] = field(default_factory=list)  # the evidence: blocking checks, else warnings


def restore_verdict(checks: list[Check]) -> Verdict:
    verdict = verdict_of(checks)
    status = _STATUS.get(verdict.kind, FAIL)
    if verdict.kind == RESTORABLE and verdict.warnings:
        status = WARN
    return Verdict(status, verdict.headline, [f"{c.name}: {c.reason}" for c in verdict.evidence])
