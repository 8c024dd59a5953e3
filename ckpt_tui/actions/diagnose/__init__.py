# SPDX-License-Identifier: Apache-2.0
"""Diagnose a CRIU dump/restore log (and the container engine's own error output).

``diagnose(text, checkpoint=None)`` finds CRIU's ``Error (file.c:line):`` and
``Warn (file.c:line):`` lines, tells a successful run from a failed one, and
classifies the failure into causes with an explanation and a fix. Given the
checkpoint, it names the exact image at fault (e.g. the ``pages-N.img`` the
failing process reads) and checks it against the archive.

``logparse`` reads the log, ``rules`` says which line means which cause, ``causes`` words
each cause, ``report`` holds the result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import CkptError
from ...text import plural
from . import logparse
from .causes import Context
from .hung import hung_dump
from .logparse import LogError, find_criu_log
from .report import Cause, Diagnosis
from .rules import apply_rules

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint

__all__ = [
    "Cause",
    "Diagnosis",
    "LogError",
    "diagnose",
    "diagnose_file",
    "find_criu_log",
]


def diagnose(log_text: str, checkpoint: Checkpoint | None = None, *, context: int = 3,
             log_path: str | None = None) -> Diagnosis:
    """Diagnose a CRIU log (or an engine's output, or both concatenated).

    ``checkpoint`` (the loaded checkpoint the log is about) lets it name and verify the image at fault.
    """
    lines = log_text.splitlines()
    head = logparse.header(lines)
    diag = Diagnosis(log_path=log_path or find_criu_log(log_text, check_exists=False),
                     criu_version=head.criu_version, kernel=head.kernel)
    diag.operation = logparse.operation(log_text, log_path)
    diag.errors = logparse.parse_errors(lines, context)
    succeeded, failed = logparse.succeeded(log_text), logparse.failed(log_text)

    ctx = Context(lines=lines, header=head, checkpoint=checkpoint, log_path=diag.log_path)
    if succeeded and not failed:
        died = [c for c in apply_rules(ctx, diag.errors) if c.kind == "sigill-exit"]
        if died:  # "successful", then a restored task died of SIGILL
            diag.outcome, diag.causes, diag.summary = "failure", died, died[0].title
            return diag
        diag.outcome = "success"
        harmless = [e for e in diag.errors if e.level == "Error"]
        op = {"dump": "Dump", "restore": "Restore"}.get(diag.operation, "CRIU run")
        diag.summary = f"{op} finished successfully"
        if harmless:
            diag.summary += f" ({plural(len(harmless), 'error line')} CRIU logged did not stop it)"
        for e in harmless:
            if not e.note:
                e.note = "harmless"
        return diag

    diag.causes = apply_rules(ctx, diag.errors)
    if not failed and not diag.causes and diag.operation != "restore":
        hung = hung_dump(lines)
        if hung is not None:  # a dump log that simply stops
            f, line_no = hung
            diag.operation = "dump"
            diag.causes.append(Cause(kind="dump-hung", title=f.title, explanation=f.explanation, fix=f.fix,
                                     evidence_line=line_no, evidence=ctx.line_text(line_no)))
    real = diag.real_errors
    if failed or real or diag.causes:
        diag.outcome = "failure"
    why_not = logparse.why_not_a_log(log_text, lines, bool(diag.errors or diag.causes))
    if why_not:
        diag.recognised = False
        diag.operation = "unknown"  # a guess from the file name means nothing here
        diag.summary = why_not
        return diag
    if diag.outcome == "failure" and not diag.causes:
        first = real[0] if real else None
        diag.causes.append(Cause(
            kind="unknown",
            title="Unrecognised failure",
            explanation=f"The first error is at {first.location}: {first.text}" if first else "CRIU failed without an error line.",
            fix="Read the lines around the first error (shown with context); search CRIU's issues for that message.",
            evidence_line=first.line_no if first else None,
            evidence=first.raw.strip() if first else "",
        ))
    diag.image_at_fault = next((c.image for c in diag.causes if c.image), None)
    if diag.outcome == "failure":
        diag.summary = diag.causes[0].title
    elif not diag.errors:
        diag.summary = "No errors found"
    else:
        diag.summary = f"{plural(len(diag.errors), 'warning/error line')}, no failure marker"
    return diag


def diagnose_file(path: str | os.PathLike[str], checkpoint: Checkpoint | None = None) -> Diagnosis:
    """Diagnose the log in the file ``path`` (CkptError when it cannot be read)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CkptError(f"{p}: {exc.strerror or exc}") from None
    return diagnose(data.decode("utf-8", "replace"), checkpoint, log_path=str(p))
