# SPDX-License-Identifier: Apache-2.0
"""One preflight check's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FAIL", "INFO", "PASS", "WARN", "Check"]

PASS, WARN, FAIL, INFO = "pass", "warn", "fail", "info"


@dataclass
class Check:
    name: str
    status: str  # "pass" | "warn" | "fail" | "info"
    reason: str
    fix: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != FAIL
