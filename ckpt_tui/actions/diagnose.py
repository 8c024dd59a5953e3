# SPDX-License-Identifier: Apache-2.0
"""Diagnose a CRIU dump/restore log (and the container engine's own error output).

``diagnose(text, checkpoint=None)`` finds CRIU's ``Error (file.c:line):`` and
``Warn (file.c:line):`` lines, tells a successful run from a failed one, and
classifies the failure into causes with an explanation and a fix. Given the
checkpoint, it names the exact image at fault (e.g. the ``pages-N.img`` the
failing process reads) and checks it against the archive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _facts

__all__ = [
    "Cause",
    "Diagnosis",
    "LogError",
    "diagnose",
    "diagnose_file",
    "find_criu_log",
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


# --------------------------------------------------------------------------- parsing

_ERR_RE = re.compile(r"\b(Error|Warn)\s*\(([\w./+-]+):(\d+)\):\s?(.*)$")
_TS_RE = re.compile(r"^\((\d+\.\d+)\)")
_PID_PREFIX_RE = re.compile(r"(?:^|\s)(\d+):\s*(?:pie:\s*(?:\d+:\s*)?)?$")
_ENGINE_ERR_RE = re.compile(r"^(?:Error|error|ERRO\[\d+\]|time=\"[^\"]*\" level=error msg=)\s*:?\s*(.*)$")

_SUCCESS_RE = re.compile(r"(Dumping finished successfully|Restore finished successfully|Pre-dumping finished successfully)")
_FAIL_RE = re.compile(r"(Dumping FAILED|Restoring FAILED|Pre-dumping FAILED|criu failed: type \w+)")

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


def _parse_errors(lines: list[str], context: int) -> list[LogError]:
    out: list[LogError] = []
    for idx, raw in enumerate(lines):
        m = _ERR_RE.search(raw)
        src = "criu"
        if m:
            level, cfile, cline, text = m.group(1), m.group(2), int(m.group(3)), m.group(4).strip()
            prefix = raw[: m.start()]
            pm = _PID_PREFIX_RE.search(prefix)
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
        out.append(
            LogError(
                line_no=idx + 1,
                file=cfile,
                line=cline,
                text=text,
                context_before=lines[max(0, idx - context) : idx],
                context_after=lines[idx + 1 : idx + 1 + context],
                level="Warn" if level == "Warn" else "Error",
                pid=pid,
                timestamp=ts,
                raw=raw,
                source=src,
                note=note,
            )
        )
    return out


# --------------------------------------------------------------------------- rules


@dataclass
class _Ctx:
    lines: list[str]
    errors: list[LogError]
    checkpoint: Any
    diag: Diagnosis


@dataclass
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    build: Callable[[_Ctx, re.Match[str], int, LogError | None], Cause | None]
    errors_only: bool = True  # match only Error/Warn lines (else any line)
    levels: tuple[str, ...] = ("Error",)


def _line_text(ctx: _Ctx, line_no: int) -> str:
    return ctx.lines[line_no - 1].strip() if 0 < line_no <= len(ctx.lines) else ""


# CRIU's debug line when an optional image is absent; raw page reads go to pages-N.img
_NO_IMAGE_RE = re.compile(r"\bNo (pages-\d+\.img) image\b")
_PR_RE = re.compile(r"\bpr(\d+)-\d+\b")


def _image_from_log(ctx: _Ctx, line_no: int, pid: int | None) -> str | None:
    """Look back from the error for the image CRIU said it could not find."""
    for i in range(line_no - 1, max(0, line_no - 400), -1):
        raw = ctx.lines[i - 1]
        if pid is not None:
            pm = re.match(r"^\(\d+\.\d+\)\s+(\d+):", raw)
            if not pm or int(pm.group(1)) != pid:
                continue
        m = _NO_IMAGE_RE.search(raw)
        if m:
            return m.group(1)
    return None


def _pid_for(ctx: _Ctx, err: LogError | None, line_no: int) -> int | None:
    if err is not None and err.pid is not None:
        return err.pid
    for i in range(line_no - 1, max(0, line_no - 20), -1):
        m = _PR_RE.search(ctx.lines[i - 1])
        if m:
            return int(m.group(1))
    return None


def _verify_image(ctx: _Ctx, member: str, pid: int | None) -> str:
    """Check the named member against the checkpoint; words for the explanation."""
    ck = ctx.checkpoint
    if ck is None:
        return ""
    if not _facts.has_member(ck, member):
        return f" The archive you gave has no {member}: it is missing."
    size = _facts.member_size(ck, member) or 0
    if member.startswith("checkpoint/pages-") and pid is not None:
        facts = _facts.pagemap_facts(ck, pid)
        if facts is not None and facts.pages_member == member and size < facts.bytes_needed:
            return (
                f" In the archive {member} is short: {size} bytes, but the pagemap of pid {pid}"
                f" needs {facts.present_pages} present pages ({facts.bytes_needed} bytes)."
            )
    return f" {member} is present in the archive you gave ({size} bytes), so the restored copy differed from it."


def _member_name(img: str) -> str:
    img = img.strip().strip("'\"")
    base = img.rsplit("/", 1)[-1]
    return f"checkpoint/{base}"


def _missing_image(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    pid = _pid_for(ctx, err, line_no)
    named = m.groupdict().get("img")
    image = _member_name(named) if named else None
    how = ""
    if image is None:
        found = _image_from_log(ctx, line_no, pid)
        if found:
            image = _member_name(found)
            how = f" The log says so a few lines earlier: \"No {found} image\"."
    if image is None and pid is not None and ctx.checkpoint is not None:
        facts = _facts.pagemap_facts(ctx.checkpoint, pid)
        if facts is not None and facts.pages_member:
            image = facts.pages_member
            how = f" Its pagemap (pagemap-{pid}.img) points at pages id {facts.pages_id}."
    if image is None and pid is not None:
        how = f" The failing task is pid {pid}; its pagemap-{pid}.img names the pages image it reads."
    who = f"pid {pid}" if pid is not None else "a task"
    what = image or "an image file"
    verify = _verify_image(ctx, image, pid) if image else ""
    return Cause(
        kind="missing-image",
        title=f"Missing image file: {what.rsplit('/', 1)[-1]}" if image else "Missing image file",
        explanation=(
            f"CRIU could not open {what} while restoring {who}, so the checkpoint is incomplete."
            f"{how}{verify}"
        ),
        fix=(
            "Restore from a complete copy of the checkpoint (re-export it, or copy it again and compare sizes); "
            "`ckpt-tui restore --dry-run` checks that every image is present before restoring."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
        image=image,
    )


def _short_image(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    pid = _pid_for(ctx, err, line_no)
    image = None
    if pid is not None and ctx.checkpoint is not None:
        facts = _facts.pagemap_facts(ctx.checkpoint, pid)
        if facts is not None:
            image = facts.pages_member
    verify = _verify_image(ctx, image, pid) if image else ""
    return Cause(
        kind="short-image",
        title="Truncated image file",
        explanation=(
            f"CRIU hit the end of an image file early while reading pages for "
            f"{'pid ' + str(pid) if pid is not None else 'a task'}: the file is shorter than its "
            f"pagemap says (a truncated copy or a full disk when it was written).{verify}"
        ),
        fix="Copy or export the checkpoint again and check its size; restore from the complete copy.",
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
        image=image,
    )


def _bad_size(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    path, have, want = m.group("path"), m.group("have"), m.group("want")
    return Cause(
        kind="file-changed",
        title=f"A file changed since the checkpoint: {path}",
        explanation=(
            f"A file the processes had open or mapped, {path}, is {have} bytes on this host but was "
            f"{want} bytes when the checkpoint was taken. CRIU refuses to map a different file."
        ),
        fix=(
            "Restore on the same base image (same image ID) and do not use --ignore-rootfs when the "
            "file was changed inside the container; the rootfs-diff.tar carries such changes."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _criu_too_old(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    who = f"CRIU {ctx.diag.criu_version}" if ctx.diag.criu_version else "This CRIU"
    kern = f" (kernel {ctx.diag.kernel})" if ctx.diag.kernel else ""
    return Cause(
        kind="criu-too-old",
        title="CRIU is too old for this kernel (vDSO layout)",
        explanation=(
            f"{who} could not parse this kernel's vDSO{kern} while probing the host "
            "(kerndat), before it looked at any image. The kernel's vDSO layout is newer than this "
            "CRIU understands, so every dump and restore fails on this host; the checkpoint itself is fine."
        ),
        fix=(
            "Install a newer CRIU (4.x; e.g. from the CRIU project's packages or backports) and retry; "
            "`criu check` must pass first."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _tcp(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    dump = "consider" in m.group(0)
    return Cause(
        kind="tcp-established",
        title="Established TCP connection needs --tcp-established",
        explanation=(
            "The container has an established TCP connection. CRIU only "
            + ("dumps" if dump else "restores")
            + " such sockets when asked to (and the connection's address must be usable on this host)."
        ),
        fix=(
            "Checkpoint with `podman container checkpoint --tcp-established`"
            if dump
            else "Restore with `--tcp-established` (podman container restore --tcp-established); the peer must be reachable"
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _addr_in_use(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="address-in-use",
        title="Address already in use",
        explanation=(
            "A socket of the checkpoint could not bind its address/port: something on this host (or the "
            "original container still running) already uses it."
        ),
        fix="Stop whatever holds that address (often the original container), or restore into a new network namespace/IP.",
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _name_in_use(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    name = m.groupdict().get("name")
    if name:
        expl = f"A container named {name!r} already exists"
    else:
        expl = "A container with the checkpoint's ID already exists (restoring without --name reuses the original ID)"
    return Cause(
        kind="name-in-use",
        title="Container name or ID already in use",
        explanation=expl + "; the engine will not create a second one.",
        fix="Restore with a new name (--name NEW), or remove the old container (podman rm NAME) first.",
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _runtime(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    required = m.groupdict().get("rt")
    if required:
        expl = (
            f"The checkpoint image's annotation io.podman.annotations.checkpoint.runtime.name says "
            f"{required!r} and podman refuses to restore it with any other runtime."
        )
        made_by = _facts.config_runtime(ctx.checkpoint) if ctx.checkpoint is not None else ""
        if made_by and made_by != required:
            expl += f" (config.dump in the checkpoint says {made_by!r} made it.)"
        fix = (
            f"Restore with `podman --runtime {required} ...` if {required} is installed with CRIU support; "
            "otherwise rebuild the image with the right runtime annotation (`ckpt-tui build`) or restore the archive with --import."
        )
    else:
        expl = (
            "The OCI runtime podman uses here cannot checkpoint/restore (e.g. a crun built without CRIU "
            "support), so the restore was refused before CRIU ran."
        )
        fix = "Use a runtime with CRIU support: `podman --runtime runc container restore ...` (install runc if needed)."
    return Cause(
        kind="runtime-mismatch",
        title="OCI runtime mismatch or without checkpoint support",
        explanation=expl,
        fix=fix,
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _cpu(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="cpu-mismatch",
        title="CPU features differ from the checkpoint host",
        explanation=(
            "The checkpoint was taken on a CPU with features (FPU/xsave state, instruction set) this CPU "
            "lacks, so the processes could not continue here."
        ),
        fix=(
            "Restore on a host with the same or a newer CPU generation; dump with `--cpu-cap=none` only if the "
            "workload does not use those features."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _mount(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="mount-missing",
        title="A mount the processes used is missing",
        explanation=(
            "CRIU could not find a mount point a file descriptor or mapping lived on (a bind mount or "
            "volume that is not there on restore, or a different mount layout)."
        ),
        fix=(
            "Make the same volumes/bind mounts available (same host paths), or restore without "
            "--ignore-volumes when the checkpoint carries them."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _base_image(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    ref = m.groupdict().get("ref") or ""
    ck = ctx.checkpoint
    image = ""
    if ck is not None:
        cfg = _facts.config_of(ck)
        image = str(cfg.get("rootfsImageName") or cfg.get("rootfsImage") or "")
    what = f" ({image})" if image else ""
    return Cause(
        kind="base-image-missing",
        title="The checkpoint's base image is not in local storage",
        explanation=(
            f"The engine needs the image the container was created from{what}"
            + (f", by ID {ref[:12]}" if re.fullmatch(r"[0-9a-f]{64}", ref) else (f", {ref}" if ref else ""))
            + ", and could not find or pull it; CRIU never ran."
        ),
        fix=(
            "Load the base image with that exact ID first (podman load / podman pull from the registry it came from); "
            "a rebuilt image gets a different ID."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _seccomp_lsm(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="seccomp-lsm",
        title="Seccomp or LSM (AppArmor/SELinux) state could not be restored",
        explanation=(
            "The checkpoint carries a seccomp filter or an LSM profile/label that this host cannot apply "
            "(profile not loaded, LSM not enabled, or a different LSM)."
        ),
        fix="Load the same AppArmor profile/SELinux policy on this host, or restore where the same LSM is active.",
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


_SIGNALS = {
    4: "SIGILL (illegal instruction: often a CPU feature missing on this host)",
    6: "SIGABRT",
    7: "SIGBUS (a mapped file shrank or changed)",
    9: "SIGKILL (killed, e.g. by the OOM killer or a timeout)",
    11: "SIGSEGV (bad memory access after restore)",
    31: "SIGSYS (a syscall blocked by seccomp)",
}


def _signal(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    pid, sig = m.group("pid"), int(m.group("sig"))
    what = _SIGNALS.get(sig, f"signal {sig}")
    return Cause(
        kind="killed-by-signal",
        title=f"Task {pid} was killed by {what.split(' ')[0]}",
        explanation=f"Task {pid} died with {what} while CRIU was restoring it.",
        fix=(
            "Look at the lines just before this one for what that task was doing; SIGILL points at CPU "
            "features, SIGBUS at changed files, SIGSYS at seccomp."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _permission(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="permission",
        title="Permission denied or a resource limit",
        explanation=(
            "CRIU was not allowed to do something it needs (it must run as root with all capabilities), "
            "or a resource limit (RLIMIT_*) is lower than what the checkpoint needs."
        ),
        fix=(
            "Restore as root (rootful podman), outside a restricted container; raise the limit named in the "
            "line (ulimit) if it is an RLIMIT."
        ),
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


def _criu_failed(ctx: _Ctx, m: re.Match[str], line_no: int, err: LogError | None) -> Cause:
    return Cause(
        kind="criu-failed",
        title=f"CRIU failed ({m.group('op').lower()})",
        explanation=(
            "The runtime ran CRIU and it failed; the engine's message does not say why. The reason is in "
            "CRIU's own log" + (f" ({ctx.diag.log_path})" if ctx.diag.log_path else "") + "."
        ),
        fix="Run the diagnosis on that log (`ckpt-tui diagnose LOG`); restore with --keep so the log is kept.",
        evidence_line=line_no,
        evidence=_line_text(ctx, line_no),
    )


_RULES: list[_Rule] = [
    _Rule("criu-too-old", re.compile(r"Unexpected rt vDSO area bounds|kerndat_vdso_fill_symtable failed|vdso: Failed to fill self vdso"), _criu_too_old),
    _Rule("missing-image", re.compile(r"Failed getting raw image fd|Unable to open (?P<img>\S+\.img)|Can't open (?:image )?(?P<img2>\S+\.img)"), _missing_image),
    _Rule("short-image", re.compile(r"Can't read mapping page|Can't read async pr bytes|Unexpected EOF|[Ss]hort read|[Pp]remature end"), _short_image),
    _Rule("file-changed", re.compile(r"File (?P<path>\S+) has bad size (?P<have>\d+) \(expect (?P<want>\d+)\)"), _bad_size),
    _Rule("tcp-established", re.compile(r"Connected TCP socket(?:, consider using --tcp-established| in image)"), _tcp),
    _Rule("address-in-use", re.compile(r"Address already in use|Can't bind inet socket"), _addr_in_use),
    _Rule("cpu-mismatch", re.compile(r"cpuinfo|FPU feature|CPU feature|xfeatures|xsave|cpu_validate", re.I), _cpu),
    _Rule("mount-missing", re.compile(r"Can't lookup mount|No mapping for \S+ mountpoint|No mapping for|Unable to find mount|No root found for mountpoint"), _mount),
    _Rule("seccomp-lsm", re.compile(r"seccomp|apparmor|selinux|\bLSM\b|lsm", re.I), _seccomp_lsm),
    _Rule("killed-by-signal", re.compile(r"(?P<pid>\d+) killed by signal (?P<sig>\d+)"), _signal),
    # engine (podman/containerd) messages, anywhere in the text
    _Rule("runtime-mismatch", re.compile(r"requires runtime: \"?(?P<rt>[\w.-]+)\"?"), _runtime, errors_only=False),
    _Rule("runtime-mismatch", re.compile(r"configured runtime does not support checkpoint/restore"), _runtime, errors_only=False),
    _Rule("name-in-use", re.compile(r"container name \"(?P<name>[^\"]+)\" is already in use|that ID is already in use|name \S+ is already in use"), _name_in_use, errors_only=False),
    _Rule("base-image-missing", re.compile(r"parsing named reference \"(?P<ref>[0-9a-f]{64})\"|initializing source docker://(?P<ref2>\S+?):|(?P<ref3>\S+): image not known"), _base_image, errors_only=False),
    _Rule("permission", re.compile(r"Operation not permitted|Permission denied|RLIMIT"), _permission),
    _Rule("criu-failed", re.compile(r"criu failed: type (?P<op>\w+)"), _criu_failed, errors_only=False),
]


def _apply_rules(ctx: _Ctx) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    err_by_line = {e.line_no: e for e in ctx.errors}
    candidates: list[tuple[int, str, LogError | None]] = []
    for e in ctx.errors:
        if e.note == "harmless":
            continue
        candidates.append((e.line_no, e.text, e))
    for rule in _RULES:
        if rule.kind in seen:
            continue
        hit: tuple[re.Match[str], int, LogError | None] | None = None
        if rule.errors_only:
            for line_no, text, err in candidates:
                if err is not None and err.level not in rule.levels:
                    continue
                mm = rule.pattern.search(text)
                if mm:
                    hit = (mm, line_no, err)
                    break
        else:
            for idx, raw in enumerate(ctx.lines):
                mm = rule.pattern.search(raw)
                if mm:
                    hit = (mm, idx + 1, err_by_line.get(idx + 1))
                    break
        if hit is None:
            continue
        mm, line_no, err = hit
        mm = _normalise_match(mm)
        cause = rule.build(ctx, mm, line_no, err)
        if cause is not None:
            causes.append(cause)
            seen.add(rule.kind)
    if "criu-failed" in seen and len(causes) > 1:
        # the engine's "criu failed" only says CRIU failed; a specific cause explains it
        causes = [c for c in causes if c.kind != "criu-failed"]
    return causes


class _Match:
    """A re.Match look-alike whose optional alternates (img2, ref2...) fold into img/ref."""

    def __init__(self, m: re.Match[str]) -> None:
        self._m = m
        gd = dict(m.groupdict())
        for base in ("img", "ref"):
            for alt in (base + "2", base + "3"):
                if gd.get(alt) and not gd.get(base):
                    gd[base] = gd[alt]
        self._gd = gd

    def group(self, key: int | str = 0) -> str:
        if isinstance(key, str):
            return self._gd.get(key) or ""
        return self._m.group(key)

    def groupdict(self) -> dict[str, str | None]:
        return self._gd


def _normalise_match(m: re.Match[str]) -> Any:
    return _Match(m)


# --------------------------------------------------------------------------- is it a log at all?

# CRIU prefixes every log line with the time since start: "(00.000021) ..." (log.c: "(%02u.%06u)")
_CRIU_TS_LINE_RE = re.compile(r"^\(\d{2,}\.\d{6}\)\s")
_VERSION_RE = re.compile(r"^(?:\(\d+\.\d+\)\s*)?Version: \d+\.\d+")

LOOKED_FOR = (
    "CRIU's timestamped log lines \"(00.000021) ...\", \"Error (file.c:N):\"/\"Warn (file.c:N):\" lines, "
    "\"Version: X.Y\", \"Dumping/Restore finished successfully\" or \"... FAILED\", "
    "or an engine's error output (\"Error: ...\", \"level=error msg=...\", \"criu failed\")"
)


def _recognise(text: str, lines: list[str], errors: list[LogError], causes: list[Cause]) -> str:
    """"" when ``text`` looks like a CRIU log or an engine's error output, else why it does not."""
    if errors or causes or _SUCCESS_RE.search(text) or _FAIL_RE.search(text):
        return ""
    for raw in lines:
        if _CRIU_TS_LINE_RE.match(raw) or _VERSION_RE.match(raw):
            return ""
    if not text.strip():
        return "it is empty: not a CRIU dump/restore log"
    sample = text[:65536]
    bad = sample.count("\x00") + sample.count("\ufffd")
    ctrl = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    if bad or ctrl > len(sample) // 100:
        what = "binary data"
    else:
        what = f"text ({len(lines)} line{'s' if len(lines) != 1 else ''})"
    return f"this does not look like a CRIU dump/restore log: it is {what} without any of {LOOKED_FOR}"


# --------------------------------------------------------------------------- public API


def diagnose(log_text: str, checkpoint: Any = None, *, context: int = 3, log_path: str | None = None) -> Diagnosis:
    """Diagnose a CRIU log (or an engine's output, or both concatenated).

    ``checkpoint`` (a loaded Checkpoint) lets it name and verify the image at fault.
    """
    text = log_text if isinstance(log_text, str) else bytes(log_text).decode("utf-8", "replace")
    lines = text.splitlines()
    diag = Diagnosis(log_path=log_path)
    for raw in lines[:50]:
        vm = re.search(r"\bVersion: (\S+)", raw)
        if vm and not diag.criu_version:
            diag.criu_version = vm.group(1)
        km = re.search(r"Running on \S+ Linux (\S+)", raw)
        if km and not diag.kernel:
            diag.kernel = km.group(1)
    if not diag.log_path:
        diag.log_path = find_criu_log(text, check_exists=False)

    # what kind of run
    if re.search(r"Dumping finished|Dumping FAILED|Dumping processes|dump\.log|type DUMP|Pre-dumping", text):
        diag.operation = "dump"
    if re.search(r"Restore finished|Restoring FAILED|Restoring processes|restore\.log|type RESTORE|Restore on-core|container restore", text):
        diag.operation = "restore"

    if diag.operation == "unknown" and log_path:
        base = os.path.basename(log_path).lower()
        diag.operation = "restore" if "restore" in base else "dump" if "dump" in base else "unknown"

    diag.errors = _parse_errors(lines, context)
    succeeded = _SUCCESS_RE.search(text) is not None
    failed = _FAIL_RE.search(text) is not None

    ctx = _Ctx(lines=lines, errors=diag.errors, checkpoint=checkpoint, diag=diag)
    if succeeded and not failed:
        diag.outcome = "success"
        harmless = [e for e in diag.errors if e.level == "Error"]
        op = {"dump": "Dump", "restore": "Restore"}.get(diag.operation, "CRIU run")
        diag.summary = f"{op} finished successfully"
        if harmless:
            diag.summary += f" ({len(harmless)} error line{'s' if len(harmless) != 1 else ''} CRIU logged did not stop it)"
        for e in harmless:
            if not e.note:
                e.note = "harmless"
        return diag

    diag.causes = _apply_rules(ctx)
    real = diag.real_errors
    if failed or real or diag.causes:
        diag.outcome = "failure"
    why_not = _recognise(text, lines, diag.errors, diag.causes)
    if why_not:
        diag.recognised = False
        diag.operation = "unknown"  # a guess from the file name means nothing here
        diag.summary = why_not
        return diag
    if diag.outcome == "failure" and not diag.causes:
        first = real[0] if real else None
        diag.causes.append(
            Cause(
                kind="unknown",
                title="Unrecognised failure",
                explanation=(
                    f"The first error is at {first.location}: {first.text}" if first else "CRIU failed without an error line."
                ),
                fix="Read the lines around the first error (shown with context); search CRIU's issues for that message.",
                evidence_line=first.line_no if first else None,
                evidence=first.raw.strip() if first else "",
            )
        )
    for c in diag.causes:
        if c.image:
            diag.image_at_fault = c.image
            break
    if diag.outcome == "failure":
        diag.summary = diag.causes[0].title
    elif not diag.errors:
        diag.summary = "No errors found"
    else:
        diag.summary = f"{len(diag.errors)} warning/error lines, no failure marker"
    return diag


def diagnose_file(path: str | os.PathLike[str], checkpoint: Any = None) -> Diagnosis:
    from ..errors import CkptError  # noqa: PLC0415

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CkptError(f"{p}: {exc.strerror or exc}") from None
    return diagnose(data.decode("utf-8", "replace"), checkpoint, log_path=str(p))


_LOG_PATH_RES = [
    re.compile(r"log file:\s*(?P<p>/\S+?\.log)\b"),
    re.compile(r"(?:see|check|in)\s+(?P<p>/\S+?/(?:restore|dump|criu)[\w.-]*\.log)\b", re.I),
    re.compile(r"(?P<p>/\S+?/(?:restore|dump)\.log)\b"),
]


def find_criu_log(engine_output: str, workdir: str | os.PathLike[str] | None = None, *, check_exists: bool = True) -> str | None:
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
