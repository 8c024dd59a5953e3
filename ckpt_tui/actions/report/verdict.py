"""The report's first line: will this checkpoint restore? — the hook for the restore verdict.

:func:`restore_verdict` is the one place the report asks. Until the restore-verdict feature (being
built in its own issue) lands, it answers from the preflight checks alone
(:func:`ckpt_tui.actions.checks.preflight`): the checks that fail, else those that warn. When the
feature lands, this function calls it and the report follows without other change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...text import plural
from ..checks import Check
from ..checks.base import FAIL, PASS, WARN


@dataclass
class Verdict:
    status: str  # "pass" | "warn" | "fail"
    headline: str
    reasons: list[str] = field(default_factory=list)
    source: str = "preflight"  # what decided it


def restore_verdict(checks: list[Check]) -> Verdict:
    """HOOK for the restore verdict: from the preflight checks until the verdict feature exists."""
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    if failed:
        return Verdict(FAIL, f"Would not restore here: {plural(len(failed), 'check')} failed",
                       [f"{c.name}: {c.reason}" for c in failed])
    if warned:
        return Verdict(WARN, f"Should restore here, with {plural(len(warned), 'warning')}",
                       [f"{c.name}: {c.reason}" for c in warned])
    return Verdict(PASS, "Every preflight check passed")
