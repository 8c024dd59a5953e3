# SPDX-License-Identifier: Apache-2.0
"""Reading a CRIU dump/restore log (or an engine's error output): its error lines, the CRIU
version and kernel it names, what kind of run it was and how it ended, whether it is a log at
all, and where the engine said CRIU's own log is.

The line formats are CRIU's (``log.c``: ``(%02u.%06u)`` timestamps, ``Error (file.c:N):``) and the
engines' (``Error: ...``, logrus ``level=error msg=...``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...text import plural

__all__ = [
    "LOOKED_FOR",
    "LogError",
    "LogHeader",
    "failed",
    "find_criu_log",
    "header",
    "operation",
    "parse_errors",
    "succeeded",
    "why_not_a_log",
]


@dataclass
class LogError:
    line_no: int  # 1-based line number in the text
    file: str  # CRIU source file ("criu/pagemap.c"), "" for an engine message
    line: int  # line in that source file, 0 if unknown
    text: str  # the message after "):"
    context_before: list[str] = field(default_factory=list)
    context_after: list[str] = field(default_factory=list)
    level: str = "Error"  # "Error" | "Warn"
    pid: int | None = None  # the task that logged it, when the line carries one
    timestamp: float | None = None
    raw: str = ""
    source: str = "criu"  # "criu" | "engine"
    note: str = ""  # "harmless" | "consequence" | ""

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.file else self.source


# --------------------------------------------------------------------------- error lines

_ERR_RE = re.compile(r"\b(Error|Warn)\s*\(([\w./+-]+):(\d+)\):\s?(.*)$")
_TS_RE = re.compile(r"^\((\d+\.\d+)\)")
_PID_PREFIX_RE = re.compile(r"(?:^|\s)(\d+):\s*(?:pie:\s*(?:\d+:\s*)?)?$")
_ENGINE_ERR_RE = re.compile(r"^(?:Error|error|ERRO\[\d+\]|time=\"[^\"]*\" level=error msg=)\s*:?\s*(.*)$")

# Error lines CRIU prints on a healthy run: not a cause of anything.
_HARMLESS = [
    re.compile(r"Can't setup RLIMIT_NOFILE for self"),
]
# Lines that only follow from an earlier error.
_CONSEQUENCE = [
    re.compile(r"^\d+ exited, status=\d+"),
    re.compile(r"Restoring FAILED"),
    re.compile(r"Dumping FAILED"),
    re.compile(r"cgroupd: recv req error"),
    re.compile(r"Failed to fill self vdso symtable"),
]


def parse_errors(lines: list[str], context: int) -> list[LogError]:
    """Every CRIU ``Error``/``Warn`` line and every engine error line, with ``context`` lines around."""
    out: list[LogError] = []
    for idx, raw in enumerate(lines):
        m = _ERR_RE.search(raw)
        src = "criu"
        pid: int | None
        ts: float | None
        if m:
            level, cfile, cline, text = m.group(1), m.group(2), int(m.group(3)), m.group(4).strip()
            pm = _PID_PREFIX_RE.search(raw[: m.start()])
            pid = int(pm.group(1)) if pm else None
            tm = _TS_RE.match(raw)
            ts = float(tm.group(1)) if tm else None
        else:
            em = _ENGINE_ERR_RE.match(raw.strip())
            if not em or not em.group(1).strip():
                continue
            level, cfile, cline, text, pid, ts, src = "Error", "", 0, em.group(1).strip(), None, None, "engine"
        note = ""
        if any(p.search(text) for p in _HARMLESS):
            note = "harmless"
        elif any(p.search(text) for p in _CONSEQUENCE):
            note = "consequence"
        out.append(LogError(
            line_no=idx + 1, file=cfile, line=cline, text=text,
            context_before=lines[max(0, idx - context): idx], context_after=lines[idx + 1: idx + 1 + context],
            level="Warn" if level == "Warn" else "Error", pid=pid, timestamp=ts, raw=raw, source=src, note=note,
        ))
    return out


# --------------------------------------------------------------------------- the run

@dataclass
class LogHeader:
    criu_version: str = ""  # as CRIU prints it: "4.2", "3.17.1"
    kernel: str = ""  # the kernel release CRIU ran on


_VERSION_WORD_RE = re.compile(r"\bVersion: (\S+)")
_KERNEL_RE = re.compile(r"Running on \S+ Linux (\S+)")


def header(lines: list[str]) -> LogHeader:
    """The CRIU version and kernel a log's first lines name (CRIU logs them when it starts)."""
    head = LogHeader()
    for raw in lines[:50]:
        vm = _VERSION_WORD_RE.search(raw)
        if vm and not head.criu_version:
            head.criu_version = vm.group(1)
        km = _KERNEL_RE.search(raw)
        if km and not head.kernel:
            head.kernel = km.group(1)
    return head


_SUCCESS_RE = re.compile(r"(Dumping finished successfully|Restore finished successfully|Pre-dumping finished successfully)")
_FAIL_RE = re.compile(r"(Dumping FAILED|Restoring FAILED|Pre-dumping FAILED|criu failed: type \w+)")
_DUMP_RE = re.compile(r"Dumping finished|Dumping FAILED|Dumping processes|dump\.log|type DUMP|Pre-dumping")
_RESTORE_RE = re.compile(
    r"Restore finished|Restoring FAILED|Restoring processes|restore\.log|type RESTORE|Restore on-core|container restore")


def succeeded(text: str) -> bool:
    return _SUCCESS_RE.search(text) is not None


def failed(text: str) -> bool:
    return _FAIL_RE.search(text) is not None


def operation(text: str, log_path: str | None) -> str:
    """"dump", "restore" or "unknown": what the text says, else what the file is called."""
    op = "unknown"
    if _DUMP_RE.search(text):
        op = "dump"
    if _RESTORE_RE.search(text):
        op = "restore"
    if op == "unknown" and log_path:
        base = os.path.basename(log_path).lower()
        op = "restore" if "restore" in base else "dump" if "dump" in base else "unknown"
    return op


# --------------------------------------------------------------------------- is it a log at all?

# CRIU prefixes every log line with the time since start: "(00.000021) ..." (log.c: "(%02u.%06u)")
_CRIU_TS_LINE_RE = re.compile(r"^\(\d{2,}\.\d{6}\)\s")
_VERSION_RE = re.compile(r"^(?:\(\d+\.\d+\)\s*)?Version: \d+\.\d+")

LOOKED_FOR = (
    "CRIU's timestamped log lines \"(00.000021) ...\", \"Error (file.c:N):\"/\"Warn (file.c:N):\" lines, "
    "\"Version: X.Y\", \"Dumping/Restore finished successfully\" or \"... FAILED\", "
    "or an engine's error output (\"Error: ...\", \"level=error msg=...\", \"criu failed\")"
)


def why_not_a_log(text: str, lines: list[str], found_something: bool) -> str:
    """"" when ``text`` looks like a CRIU log or an engine's error output, else why it does not.
    ``found_something``: error lines or causes were found in it already."""
    if found_something or succeeded(text) or failed(text):
        return ""
    for raw in lines:
        if _CRIU_TS_LINE_RE.match(raw) or _VERSION_RE.match(raw):
            return ""
    if not text.strip():
        return "it is empty: not a CRIU dump/restore log"
    sample = text[:65536]
    bad = sample.count("\x00") + sample.count("\ufffd")
    ctrl = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    what = "binary data" if bad or ctrl > len(sample) // 100 else f"text ({plural(len(lines), 'line')})"
    return f"this does not look like a CRIU dump/restore log: it is {what} without any of {LOOKED_FOR}"


# --------------------------------------------------------------------------- where CRIU's log is

_LOG_PATH_RES = [
    re.compile(r"log file:\s*(?P<p>/\S+?\.log)\b"),
    re.compile(r"(?:see|check|in)\s+(?P<p>/\S+?/(?:restore|dump|criu)[\w.-]*\.log)\b", re.I),
    re.compile(r"(?P<p>/\S+?/(?:restore|dump)\.log)\b"),
]


def find_criu_log(engine_output: str, workdir: str | os.PathLike[str] | None = None, *,
                  check_exists: bool = True) -> str | None:
    """The CRIU log path the engine printed (``log file: /.../restore.log``), or restore.log/dump.log in ``workdir``.

    With ``check_exists`` (default), a printed path that no longer exists is
    only returned when nothing better is found.
    """
    printed: list[str] = []
    for rx in _LOG_PATH_RES:
        for m in rx.finditer(engine_output or ""):
            p = m.group("p").rstrip(".,;:'\")")
            if p not in printed:
                printed.append(p)
    if not check_exists:
        return printed[0] if printed else None
    for p in printed:
        if os.path.isfile(p):
            return p
    if workdir is not None:
        wd = Path(workdir)
        for name in ("restore.log", "dump.log", "checkpoint/restore.log", "checkpoint/dump.log"):
            cand = wd / name
            if cand.is_file():
                return str(cand)
    return printed[0] if printed else None
