# SPDX-License-Identifier: Apache-2.0
"""One preflight check's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FAIL", "INFO", "PASS", "WARN", "Check", "label"]

PASS, WARN, FAIL, INFO = "pass", "warn", "fail", "info"


@dataclass
class Check:
    name: str
    status: str  # "pass" | "warn" | "fail" | "info"
    reason: str
    fix: str = ""
    details: list[str] = field(default_factory=list)
    # a flag or a step that makes a failing check pass ("--tcp-established", "podman pull IMAGE"):
    # the restore as it stands fails, with this it does not (the verdict's "restorable with")
    step: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAIL


def label(check: Check) -> str:
    """BLOCK, WARN or OK: how ``check`` prints in the verdict's list."""
    return {FAIL: "BLOCK", WARN: "WARN"}.get(check.status, "OK")
