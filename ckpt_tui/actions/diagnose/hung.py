# SPDX-License-Identifier: Apache-2.0
"""A dump that hung or was killed: a dump log that simply stops after CRIU seized the tasks.

Unlike the causes of :mod:`.causes`, no rule's line names it: it is told by what the log lacks
(no "Dumping finished", no "Dumping FAILED") and by where it stopped.
"""

from __future__ import annotations

import re

from .causes import Finding

__all__ = ["hung_dump"]


_SEIZED_RE = re.compile(r"Seized task (\d+)")
_FREEZER_RE = re.compile(r"freezer\.state=(\w+)|cgroup\.freeze.*?(\d)\b")
_STOPPED_RE = re.compile(r"Seized task (\d+), state (3|4)\b|\b(\d+) is stopped\b")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def hung_dump(lines: list[str]) -> tuple[Finding, int] | None:
    """A dump log that simply stops: CRIU seized the tasks, then nothing (no "Dumping finished",
    no "Dumping FAILED"). Says where it stopped: after seizing which task, the freezer state it
    logged last, a stopped task. None when the log is no such dump."""
    seized = [(i + 1, m.group(1)) for i, ln in enumerate(lines) for m in [_SEIZED_RE.search(ln)] if m]
    if not seized:
        return None
    freezer = ""
    for ln in lines:
        m = _FREEZER_RE.search(ln)
        if m:
            freezer = m.group(1) or ("FROZEN" if m.group(2) == "1" else "THAWED")
    stopped = [m.group(1) or m.group(3) for ln in lines for m in [_STOPPED_RE.search(ln)] if m]
    last_no, last_pid = seized[-1]
    tail = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    where = f"It stopped after seizing task {last_pid} (line {last_no}; {len(seized)} task(s) seized)"
    if tail and tail not in lines[last_no - 1]:
        where += f"; its last line is: {tail}"
    extra = []
    if freezer:
        extra.append(f"the freezer was last logged {freezer}" + (": the container is probably still frozen"
                                                                 if freezer in ("FROZEN", "FREEZING") else ""))
    if stopped:
        extra.append(f"task(s) {', '.join(sorted(set(stopped)))} were stopped (state T) when seized")
    explanation = ("The dump log ends in the middle of the dump: no \"Dumping finished successfully\" and no "
                   "\"Dumping FAILED\". CRIU hung or was killed (a timeout, the OOM killer, a signal). "
                   + where + "." + ("" if not extra else " " + _sentence("; ".join(extra))))
    return Finding(title="The dump hung or was killed", explanation=explanation,
                   fix=("Look for a task stuck in D state or a freezer left FROZEN (thaw it: echo THAWED > "
                        "freezer.state, or echo 0 > cgroup.freeze), raise the engine's timeout, and retry.")), last_no
