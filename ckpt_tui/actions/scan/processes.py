"""Processes worth a look: shells and network tools started after the container's first process,
binaries from the root FS diff, listeners on ports the container does not publish, raw and
packet sockets, ptrace, files deleted while open, executable memfds, writable+executable memory.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator

from ...model import Checkpoint, Process, Socket
from .findings import Finding, Level, Link, Where

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh"})
NETWORK_TOOLS = frozenset({"nc", "ncat", "netcat", "socat", "curl", "wget", "telnet", "ssh", "scp", "sftp",
                           "ftp", "tftp", "nmap", "tcpdump", "openssl", "rsync", "sshd", "dropbear"})
INTERPRETERS = re.compile(r"(python|perl|ruby|node|nodejs|php|lua|tclsh|pwsh|deno|bun)[0-9.]*")
#: ports backdoors and reverse shells like to use
SUSPECT_PORTS = frozenset({1337, 31337, 4444, 4445, 5555, 6666, 6667, 6697, 12345, 54321})


def tool_kind(proc: Process) -> str:
    """'shell', 'network tool', 'interpreter' or '' for what a process runs (by its name and argv[0])."""
    names = {proc.comm}
    if proc.cmdline:
        names.add(posixpath.basename(proc.cmdline[0]))
    if proc.exe.startswith("/") and posixpath.basename(proc.exe) != "busybox":  # busybox: the applet's name says
        names.add(posixpath.basename(proc.exe))
    names.discard("")
    if names & NETWORK_TOOLS:
        return "network tool"
    if names & SHELLS:
        return "shell"
    if any(INTERPRETERS.fullmatch(n) for n in names):
        return "interpreter"
    return ""


def container_command(ck: Checkpoint) -> str:
    """The container's configured command as one text (the entrypoint's script included)."""
    process = ck.spec.get("process")
    args = process.get("args") if isinstance(process, dict) else None
    if not isinstance(args, list):
        command = ck.config.get("command")
        args = command if isinstance(command, list) else []
    return " ".join(str(a) for a in args)


def _in_command(proc: Process, command: str) -> bool:
    """The process's command line is spelled out in the container's command (a line of its
    script; quotes and runs of spaces aside)."""
    line = _plain(" ".join(proc.cmdline))
    return bool(line) and line in _plain(command)


def _plain(text: str) -> str:
    return " ".join(text.replace('"', " ").replace("'", " ").split())


def published_ports(ck: Checkpoint) -> set[int] | None:
    """The ports the container says it serves (podman's port mappings, CRI's container ports);
    None when the checkpoint records none at all."""
    ports: set[int] = set()
    found = False
    for key in ("newPortMappings", "portMappings"):
        items = ck.config.get(key)
        if isinstance(items, list):
            found = True
            for item in items:
                if isinstance(item, dict):
                    port = item.get("container_port", item.get("containerPort"))
                    span = item.get("range", 1) or 1
                    if isinstance(port, int) and isinstance(span, int):
                        ports.update(range(port, port + max(1, span)))
    annotations = ck.spec.get("annotations")
    text = annotations.get("io.kubernetes.container.ports") if isinstance(annotations, dict) else None
    if isinstance(text, str):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            found = True
            ports.update(i["containerPort"] for i in items if isinstance(i, dict) and isinstance(i.get("containerPort"), int))
    return ports if found else None


def _socket_text(s: Socket) -> str:
    if s.has_ports:
        peer = f" -> {s.remote}" if s.state not in ("LISTEN", "") and s.remote else ""
        return f"{s.proto} {s.local or 'unbound'}{peer}" + (f" ({s.state})" if s.state else "")
    return f"{s.family} {s.proto}".strip()


def scan(ck: Checkpoint, changed: dict[str, str], container: str = "") -> Iterator[Finding]:
    """``changed``: absolute paths of the root FS diff -> what happened to them ("changed")."""
    first = min(ck.roots) if ck.roots else min(ck.processes, default=None)
    command = container_command(ck)
    ports = published_ports(ck)
    for proc in ck.process_list():
        where = Where(pid=proc.pid, container=container)
        link = Link("process", pid=proc.pid, container=container)
        what = f"{where.process} ({proc.comm or '?'})"
        inet = [s for s in proc.sockets if s.family in ("IPv4", "IPv6")]
        kind = tool_kind(proc)
        if kind and proc.pid != first:
            expected = _in_command(proc, command)
            level: Level
            if inet:
                level = "medium" if expected else "high"
            elif kind == "network tool":
                level = "low" if expected else "medium"
            else:
                level = "info" if expected else "low"
            sock = f" with {'a socket' if len(inet) == 1 else f'{len(inet)} sockets'} open ({_socket_text(inet[0])})" if inet else ""
            how = " (spelled out in the container's command)" if expected else ""
            yield Finding("late-" + kind.replace(" ", "-"), "processes", level,
                          f"{kind} {what} started after the container's first process{sock}{how}", where,
                          detail=" ".join(proc.cmdline), link=link)
        exe = proc.exe if proc.exe.startswith("/") else ""
        if exe and exe in changed:
            yield Finding("exe-from-diff", "processes", "high",
                          f"{what} runs {exe}, which the root FS diff adds or changes", where, link=link)
        for s in inet:
            if s.state != "LISTEN" and not (s.proto == "UDP" and not s.dst_port):
                continue
            if ports is not None and s.src_port in ports:
                continue
            suspect = s.src_port in SUSPECT_PORTS
            level = "high" if suspect or kind else "low"
            why = "a port backdoors use" if suspect else ("not a published port" if ports is not None
                                                            else "the checkpoint publishes no ports")
            yield Finding("unexpected-listener", "processes", level,
                          f"{what} listens on {s.proto} port {s.src_port} ({why})",
                          Where(pid=proc.pid, fd=s.fd, container=container), link=link)
        for s in proc.sockets:
            if s.family == "PACKET" or s.proto == "RAW" or s.type == "RAW":
                yield Finding("raw-socket", "processes", "high", f"{what} holds a {_socket_text(s)} socket (fd {s.fd}): "
                              "it can see or forge any traffic", Where(pid=proc.pid, fd=s.fd, container=container), link=link)
        if proc.creds is not None and "CAP_SYS_PTRACE" in proc.creds.cap_eff:
            yield Finding("ptrace-capable", "processes", "medium",
                          f"{what} has CAP_SYS_PTRACE: it can read and change other processes", where, link=link)
        for f in proc.files:
            if f.details.get("unlinked"):
                yield Finding("deleted-open-file", "processes", "medium",
                              f"{what} holds {f.path} open (fd {f.fd}) after it was deleted",
                              Where(pid=proc.pid, fd=f.fd, container=container), link=link)
        if proc.exe.startswith("memfd:"):
            yield Finding("memfd-exec", "processes", "high", f"{what} runs a program from memory ({proc.exe})",
                          where, link=link)
        for v in proc.vmas:
            writable, executable = v.perms[1] == "w", v.perms[2] == "x"
            if v.path.startswith("memfd:") and executable:
                yield Finding("memfd-exec", "processes", "high", f"{what} maps {v.path} executable",
                              Where(pid=proc.pid, address=v.start, vma=v.label, vma_start=v.start, container=container),
                              link=Link("hex", pid=proc.pid, address=v.start, container=container))
            elif writable and executable:
                yield Finding("writable-executable-memory", "processes", "medium",
                              f"{what} has writable and executable memory ({v.label}, {v.perms}, {v.size:,} bytes)",
                              Where(pid=proc.pid, address=v.start, vma=v.label, vma_start=v.start, container=container),
                              detail="JIT compilers do this; injected code does too",
                              link=Link("hex", pid=proc.pid, address=v.start, container=container))
