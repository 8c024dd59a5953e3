"""What the report says, section by section, from the model (and the preflight and diagnosis
actions). Secrets are masked by the masking module's rules unless ``reveal``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import text
from ...model.masking import mask_text, masked
from ..checks import Check
from ..diagnose import diagnose
from .document import Facts, Para, Pre, Section, Table
from .verdict import restore_verdict

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint
    from ...model.types import Process

ROWS = 500  # rows a long table shows (the root FS diff, a memory map); the note says how many were left
LOG_LINES = 300  # lines of each log shown (its end: where a failure is)


def _cut(rows: list[list[str]], limit: int = ROWS) -> tuple[list[list[str]], str]:
    if len(rows) <= limit:
        return rows, ""
    return rows[:limit], f"… and {text.plural(len(rows) - limit, 'more row')} (ckpt-tui inspect --json lists every one)"


def verdict_section(checks: list[Check] | None, sid: str = "verdict") -> Section:
    sec = Section(sid, "Restore verdict and preflight")
    if checks is None:
        return sec.add(Para("The preflight checks were not run (--no-preflight).", "info"))
    verdict = restore_verdict(checks)
    sec.add(Para(verdict.headline, verdict.status))
    for reason in verdict.reasons:
        sec.add(Para(reason))
    rows = [[c.status, c.name, c.reason, c.fix, "; ".join(c.details)] for c in checks]
    sec.add(Table(["status", "check", "reason", "fix", "details"], rows, status_column=0,
                  note="Checked on the machine that wrote this report, as a restore there would run."))
    return sec


def overview_section(ck: Checkpoint, sid: str, reveal: bool) -> Section:
    info, sizes = ck.info, ck.sizes
    facts = [
        ("Container", info.name or "(unnamed)"), ("ID", info.id or "-"), ("Image", info.image or "-"),
        ("Image ID", info.image_id or "-"), ("Engine", str(info.engine)), ("Runtime", info.runtime or "-"),
        ("Created", text.when(info.created, missing="unknown")),
        ("Checkpointed", text.when(info.checkpointed, missing="unknown")),
    ]
    if info.pod_name or info.namespace:
        facts += [("Pod", info.pod_name or "-"), ("Namespace", info.namespace or "-")]
    facts += [(k, v) for k, v in (("Hostname", info.hostname), ("CRIU version", info.criu_version),
                                  ("Host kernel", info.host_kernel), ("Host architecture", info.host_arch)) if v]
    if info.img_version is not None:
        facts.append(("CRIU image version", str(info.img_version)))
    facts += [("Source", f"{info.source_kind} — {info.source_path}")]
    if sizes.file is not None:
        facts.append(("File size", f"{text.size(sizes.file)} ({text.exact_size(sizes.file)})"))
    facts += [("Uncompressed", text.size(sizes.uncompressed)), ("Compression ratio", text.ratio(sizes.compression_ratio)),
              ("CRIU images", text.size(sizes.total)), ("Memory pages", text.size(sizes.memory_pages)),
              ("Root FS diff", text.size(sizes.rootfs_diff) if ck.rootfs.present else "none")]
    sec = Section(sid, "Overview", [Facts(facts)])
    if ck.stats:
        sec.children.append(Section(f"{sid}-stats", "CRIU dump statistics", [Facts(
            [(k, f"{text.count(v)}{' µs' if k.endswith('_time') else ''}") for k, v in ck.stats.items()])]))
    if info.annotations:
        rows = [[k, masked(k, v, reveal)] for k, v in sorted(info.annotations.items())]
        sec.children.append(Section(f"{sid}-annotations", "Annotations", [Table(["key", "value"], rows)]))
    return sec


def _user(proc: Process) -> str:
    return f"{proc.creds.uid}:{proc.creds.gid}" if proc.creds else "-"


def processes_section(ck: Checkpoint, sid: str, reveal: bool) -> Section:
    rows = []
    for depth, proc in ck.walk():
        threads = str(len(proc.threads)) if proc.threads else "1"
        branch = "\u00a0\u00a0" * (depth - 1) + "└\u00a0" if depth else ""
        rows.append([str(proc.pid), str(proc.ppid), branch + (proc.comm or "?"), proc.state, threads, _user(proc),
                     mask_text(proc.title, reveal)])
    sec = Section(sid, "Process tree", [Table(["pid", "ppid", "process", "state", "threads", "uid:gid", "command line"],
                                              rows)])
    if not rows:
        sec.add(Para("No process could be read."))
    for proc in ck.process_list():
        sec.children.append(_process_detail(proc, f"{sid}-{proc.pid}", reveal))
    return sec


def _process_detail(proc: Process, sid: str, reveal: bool) -> Section:
    sec = Section(sid, f"pid {proc.pid}: {proc.comm or '?'}")
    facts = [("Command line", mask_text(proc.title, reveal) or "-"), ("State", proc.state_text if proc.zombie else proc.state), ("cwd", proc.cwd or "-"),
             ("root", proc.root or "-"), ("exe", proc.exe or "-")]
    if proc.creds:
        facts.append(("Capabilities (effective)", ", ".join(proc.creds.cap_eff) or "none"))
    sec.add(Facts(facts))
    if proc.env:
        env = [[var.raw if var.malformed else var.name, mask_text(var.raw, reveal) if var.malformed
                else masked(var.name, var.value, reveal)] for var in proc.env]
        sec.add(Table(["environment", "value"], env))
    if proc.files:
        sec.add(Table(["fd", "type", "what"], [[str(f.fd), f.type, f.path] for f in proc.files]))
    if proc.sockets:
        sec.add(Table(["fd", "socket", "state", "local", "remote"],
                      [[str(s.fd), f"{s.family} {s.proto} {s.type}".strip(), s.state, s.local or "-",
                        s.remote or "-"] for s in proc.sockets]))
    return sec


def memory_section(ck: Checkpoint, sid: str) -> Section:
    sec = Section(sid, "Memory map")
    for proc in ck.process_list():
        if not proc.vmas:
            continue
        rows = [[f"{v.start:#x}-{v.end:#x}", v.perms, text.size(v.size), text.size(v.pages_present * 4096), v.label]
                for v in proc.vmas]
        rows, note = _cut(rows)
        sec.children.append(Section(f"{sid}-{proc.pid}", f"pid {proc.pid} ({proc.comm}): "
                                    f"{text.plural(len(proc.vmas), 'VMA')}, {text.size(proc.memory_size)} dumped",
                                    [Table(["range", "perms", "size", "dumped", "mapping"], rows, note=note)]))
    if not sec.children:
        sec.add(Para("No memory map could be read."))
    return sec


def rootfs_section(ck: Checkpoint, sid: str) -> Section:
    sec = Section(sid, "Root FS diff")
    fs = ck.rootfs
    if not fs.present and not fs.deleted:
        return sec.add(Para("The checkpoint has no root FS diff (made with --ignore-rootfs, or the engine keeps none)."))
    changed = [e for e in fs.entries if e.status != "deleted" and e.type != "dir"]
    sec.add(Para(f"{text.plural(len(changed), 'changed entry', 'changed entries')} "
                 f"({text.size(sum(e.size for e in changed))}), {len(fs.deleted)} deleted."))
    rows, note = _cut([[f"/{e.path}", e.type, text.size(e.size)] for e in sorted(changed, key=lambda e: -e.size)])
    if rows:
        sec.add(Table(["changed (largest first)", "type", "size"], rows, note=note))
    rows, note = _cut([[d] for d in fs.deleted])
    if rows:
        sec.add(Table(["deleted"], rows, note=note))
    return sec


def network_section(ck: Checkpoint, sid: str) -> Section:
    sec = Section(sid, "Network")
    if ck.interfaces:
        sec.add(Table(["network", "interface", "IP", "MAC", "gateway"],
                      [[i.network, i.name, i.ip, i.mac, i.gateway] for i in ck.interfaces]))
    if ck.devices:
        sec.add(Table(["device", "type", "MTU", "MAC"], [[d.name, d.type, str(d.mtu), d.mac] for d in ck.devices]))
    socks = ck.sockets
    if socks:
        sec.add(Table(["pid", "fd", "socket", "state", "local", "remote", "needs --tcp-established"],
                      [[str(s.pid), str(s.fd), f"{s.family} {s.proto}", s.state, s.local or "-",
                        s.remote or "-", "yes" if s.needs_tcp_established else ""] for s in socks]))
    if not sec.blocks:
        sec.add(Para("No interfaces, devices or sockets."))
    return sec


def mounts_section(ck: Checkpoint, sid: str) -> Section:
    rows = [[m.destination, m.label, m.source, ",".join(m.options), m.origin] for m in ck.mounts]
    sec = Section(sid, "Mounts")
    return sec.add(Table(["destination", "type", "source", "options", "from"], rows) if rows else Para("No mounts."))


def logs_section(ck: Checkpoint, sid: str, reveal: bool) -> Section:
    sec = Section(sid, "Logs and diagnosis")
    for n, log in enumerate(ck.logs):
        child = Section(f"{sid}-{n + 1}", log.name)
        if not log.text.strip():
            child.add(Para("(empty)"))
            sec.children.append(child)
            continue
        dx = diagnose(log.text, ck, log_path=log.name)
        status = "pass" if dx.ok else "fail" if dx.outcome == "failure" else "info"
        child.add(Para(mask_text(dx.summary, reveal) or f"{dx.operation}: {dx.outcome}", status))
        for cause in dx.causes:
            facts = [("Cause", cause.title), ("Why", cause.explanation), ("Fix", cause.fix)]
            if cause.evidence:
                facts.append(("Evidence", mask_text(cause.evidence, reveal)))
            if cause.image:
                facts.append(("Image at fault", cause.image))
            child.add(Facts(facts))
        lines = log.text.splitlines()
        shown = lines[-LOG_LINES:]
        caption = f"last {len(shown)} of {len(lines)} lines" if len(shown) < len(lines) else f"{len(lines)} lines"
        child.add(Pre("\n".join(mask_text(ln, reveal) for ln in shown), caption))
        sec.children.append(child)
    if not ck.logs:
        sec.add(Para("The checkpoint holds no logs (attach one with --log FILE)."))
    return sec


def problems_section(ck: Checkpoint, sid: str) -> Section:
    sec = Section(sid, "Problems")
    if not ck.problems:
        return sec.add(Para("None: every member that was read made sense.", "pass"))
    rows = [[p.severity, p.source, str(p.pane), p.message] for p in ck.problems]
    status = {"error": "fail", "warning": "warn"}
    return sec.add(Table(["severity", "where", "pane", "problem"],
                         [[status.get(r[0], "info"), *r[1:]] for r in rows], status_column=0))
