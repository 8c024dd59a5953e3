"""Will it restore here? One verdict from the preflight checks.

``judge(ck, profile=None)`` runs the preflight against a host profile (this host's when None)
as the bare engine command would restore it (no ``--tcp-established``, no ``--name``), and
:func:`verdict_of` reads the checks:

- **restorable here**: no check blocks (warnings may remain);
- **restorable with**: every blocking check names the flag or step that fixes it
  (``--tcp-established``, ``--runtime runc``, ``podman pull IMAGE``, ``--name NEW``);
- **will fail**: a check blocks and nothing known fixes it: the first such is the reason.

A policy (:mod:`.policy`, ``check --rules FILE``) adds its own rows; a broken rule blocks.
Exit codes for the CLI: :attr:`Verdict.exit_code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...model.checkpoint import Checkpoint
from ..checks import Check, label, preflight
from ..checks.base import FAIL, WARN
from ..hostprofile import HostProfile
from ..restore import RestoreOptions

__all__ = ["RESTORABLE", "RESTORABLE_WITH", "WILL_FAIL", "Verdict", "judge", "verdict_of"]

RESTORABLE, RESTORABLE_WITH, WILL_FAIL = "restorable", "restorable-with", "will-fail"
_EXIT = {RESTORABLE: 0, RESTORABLE_WITH: 1, WILL_FAIL: 2}


@dataclass
class Verdict:
    kind: str  # RESTORABLE | RESTORABLE_WITH | WILL_FAIL
    headline: str  # "restorable here", "restorable with --tcp-established", "will fail: ..."
    where: str = "this host"
    steps: list[str] = field(default_factory=list)  # what "restorable with" needs, in check order
    reason: Check | None = None  # the first check that blocks with no step (will fail)
    checks: list[Check] = field(default_factory=list)
    warnings: int = 0

    @property
    def exit_code(self) -> int:
        return _EXIT[self.kind]

    @property
    def evidence(self) -> list[Check]:
        """The checks behind the verdict: the blocking ones, else the warnings."""
        blocking = [c for c in self.checks if c.status == FAIL]
        return blocking or [c for c in self.checks if c.status == WARN]

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.kind, "headline": self.headline, "host": self.where, "steps": self.steps,
            "reason": None if self.reason is None else {"name": self.reason.name, "reason": self.reason.reason,
                                                        "fix": self.reason.fix},
            "checks": [{"name": c.name, "result": label(c), "status": c.status, "reason": c.reason, "fix": c.fix,
                        "step": c.step, "details": c.details} for c in self.checks],
        }


def verdict_of(checks: list[Check], where: str = "this host") -> Verdict:
    """The verdict the checks give (see the module's docstring)."""
    here = "here" if where == "this host" else f"on {where}"
    blocking = [c for c in checks if c.status == FAIL]
    warnings = sum(1 for c in checks if c.status == WARN)
    hard = next((c for c in blocking if not c.step), None)
    if hard is not None:
        return Verdict(WILL_FAIL, f"will fail {here}: {hard.name}: {hard.reason}", where, reason=hard, checks=checks,
                       warnings=warnings)
    if blocking:
        steps: list[str] = []
        for c in blocking:
            if c.step not in steps:
                steps.append(c.step)
        return Verdict(RESTORABLE_WITH, f"restorable {here} with {', '.join(steps)}", where, steps=steps, checks=checks,
                       warnings=warnings)
    extra = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    return Verdict(RESTORABLE, f"restorable {here}{extra}", where, checks=checks, warnings=warnings)


def judge(ck: Checkpoint, profile: HostProfile | None = None, options: RestoreOptions | None = None, *,
          criu_check: bool = True, extra: list[Check] | None = None) -> Verdict:
    """The verdict for ``ck`` on the host ``profile`` describes (None: this host, profiled now).
    ``extra``: more rows (a policy's) judged with the preflight's."""
    checks = preflight(ck, options or RestoreOptions(), criu_check=criu_check, profile=profile)
    checks += extra or []
    where = "this host" if profile is None or profile.source == "this host" else (profile.hostname or profile.source)
    return verdict_of(checks, where)
