# SPDX-License-Identifier: Apache-2.0
"""What a diagnosis says: the causes found (each with its evidence and fix) and the plain-text report."""

from __future__ import annotations

from dataclasses import dataclass, field

from .logparse import LogError

__all__ = ["Cause", "Diagnosis"]


@dataclass
class Cause:
    title: str
    explanation: str
    fix: str
    evidence_line: int | None  # line_no of the line that shows it
    kind: str = "unknown"  # stable id, e.g. "missing-image", "criu-too-old"
    evidence: str = ""  # that line's text
    image: str | None = None  # the member at fault, when known


@dataclass
class Diagnosis:
    errors: list[LogError] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)
    image_at_fault: str | None = None
    operation: str = "unknown"  # "dump" | "restore" | "unknown"
    outcome: str = "unknown"  # "success" | "failure" | "unknown"
    criu_version: str = ""
    kernel: str = ""
    summary: str = ""
    log_path: str | None = None
    # False when the text shows none of the signs of a CRIU log or an engine's error output
    # (then ``summary`` says what was looked for and outcome stays "unknown")
    recognised: bool = True

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    @property
    def real_errors(self) -> list[LogError]:
        """Error lines that are neither known-harmless nor mere consequences."""
        return [e for e in self.errors if e.level == "Error" and not e.note]

    @property
    def first_error(self) -> LogError | None:
        errs = self.real_errors
        return errs[0] if errs else None

    def as_text(self, max_errors: int = 8) -> str:
        """Plain-text report (for a status pane, a copy to the clipboard or a log)."""
        if not self.recognised:
            return (f"{self.log_path}: " if self.log_path else "") + self.summary
        out = [f"{self.operation} log: {self.outcome}" + (f" (CRIU {self.criu_version})" if self.criu_version else "")]
        if self.log_path:
            out.append(f"log: {self.log_path}")
        for c in self.causes:
            out.append("")
            out.append(c.title + (f" (line {c.evidence_line})" if c.evidence_line else ""))
            out.append(f"  {c.explanation}")
            out.append(f"  fix: {c.fix}")
        if self.image_at_fault:
            out.append(f"image at fault: {self.image_at_fault}")
        shown = [e for e in self.errors if e.level == "Error"][:max_errors]
        if shown:
            out.append("")
            out.extend(f"{e.line_no:>6}: {e.location}{' (' + e.note + ')' if e.note else ''}: {e.text}" for e in shown)
        if self.outcome == "success":
            out.append(self.summary)
        return "\n".join(out)
