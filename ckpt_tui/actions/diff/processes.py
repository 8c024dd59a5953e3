"""Comparing two matched processes: command, environment, state, threads, credentials,
limits, open files and sockets (memory is :mod:`.memory`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from ...model.masking import should_mask
from ...model.types import Creds, OpenFile, Process, Socket, Thread
from .match import PID_CHANGED, Pair, layout
from .result import COUNT, HEX, LIMIT, SET, Change, Node, ProcessNode, Status

T = TypeVar("T")

CAP_SETS = (("cap_eff", "effective capabilities"), ("cap_prm", "permitted capabilities"),
            ("cap_inh", "inheritable capabilities"), ("cap_bnd", "bounding set"), ("cap_amb", "ambient capabilities"))
ID_FIELDS = ("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid")


def process_node(pair: Pair, pids: dict[int, int], parent: Process | None = None) -> ProcessNode:
    """The node of one pair (no memory yet); ``pids`` maps A's pids to B's. A process only
    in one dump lists what it has (environment, threads, files, sockets) as added or
    removed; ``parent`` (its parent in that dump) tells which of its environment
    variables it did not inherit."""
    a, b = pair.a, pair.b
    proc = b if b is not None else a
    assert proc is not None
    node = ProcessNode("process", str(proc.pid), label=proc.title, pid_a=a.pid if a else None,
                       pid_b=b.pid if b else None, matched_by=pair.how)
    if a is None or b is None:
        return _one_sided(node, proc, added=a is None, parent=parent)
    if pair.how != "identity":
        node.note = pair.how
    node.change("pid", a.pid, b.pid)
    for name, va, vb in (("parent", a.ppid, b.ppid), ("process group", a.pgid, b.pgid), ("session", a.sid, b.sid)):
        node.change(name, pids.get(va, va), vb)
    node.change("comm", a.comm, b.comm)
    node.change("argv", list(a.cmdline), list(b.cmdline), free_text=True)
    node.change("exe", a.exe, b.exe)
    node.change("memory layout", _hex_layout(a), _hex_layout(b))
    node.change("state", a.state, b.state)
    node.change("exit code", a.exit_code, b.exit_code)
    node.change("cwd", a.cwd, b.cwd)
    node.change("root", a.root, b.root)
    node.change("seccomp", a.seccomp_mode, b.seccomp_mode)
    node.change("oom_score_adj", a.oom_score_adj, b.oom_score_adj)
    node.add(environment(a, b))
    node.add(threads(a, b, by_position=pair.how == PID_CHANGED))
    node.add(credentials(a.creds, b.creds))
    node.add(limits(a, b))
    node.add(open_files(a, b))
    node.add(sockets(a, b))
    return node


def _one_sided(node: ProcessNode, proc: Process, *, added: bool, parent: Process | None) -> ProcessNode:
    status = Status.ADDED if added else Status.REMOVED
    node.status = status
    blank = Process(pid=proc.pid)
    x, y = (blank, proc) if added else (proc, blank)
    env = environment(x, y)
    inherited = parent.env_dict if parent is not None else {}
    for var in env.children:
        value = proc.env_dict.get(var.key)
        if parent is not None and inherited.get(var.key) != value:
            var.note = f"not in its parent's environment (pid {parent.pid})" if var.key not in inherited \
                else f"differs from its parent's (pid {parent.pid})"
    for name, v in (("exe", proc.exe), ("cwd", proc.cwd), ("root", proc.root)):
        if v:
            node.changes.append(Change(name, None if added else v, v if added else None))
    if not proc.alive:
        node.changes.append(Change("state", None if added else proc.state, proc.state if added else None))
    groups = [env, threads(x, y), open_files(x, y), sockets(x, y)]
    for g in groups:
        if g.children:
            g.status = status
            node.children.append(g)
    return node


def _hex_layout(proc: Process) -> str:
    lay = layout(proc)
    return " ".join(f"{v:#x}" for v in lay) if lay else ""


def group(kind: str, key: str, children: Iterable[Node]) -> Node:
    return Node(kind, key, children=list(children)).settle()


def keyed(a: Iterable[T], b: Iterable[T], key: Callable[[T], Hashable]) -> list[tuple[T | None, T | None]]:
    """(item of A or None, item of B or None) by ``key``: B's order, then what only A has."""
    ia = {key(x): x for x in a}
    out: list[tuple[T | None, T | None]] = []
    seen = set()
    for y in b:
        k = key(y)
        seen.add(k)
        out.append((ia.get(k), y))
    out.extend((x, None) for k, x in ia.items() if k not in seen)
    return out


def environment(a: Process, b: Process) -> Node:
    nodes = []
    for pa, pb in keyed(a.env_dict.items(), b.env_dict.items(), key=lambda kv: kv[0]):
        name = (pb or pa)[0]  # type: ignore[index]
        va, vb = (pa[1] if pa else None), (pb[1] if pb else None)
        node = Node("env", name, status=_presence(pa, pb))
        secret = should_mask(name, va or "") or should_mask(name, vb or "")
        if node.status is Status.UNCHANGED:
            node.change("value", va, vb, secret=secret)
        else:
            node.changes.append(Change("value", va, vb, secret))
        nodes.append(node)
    return group("environment", "environment", nodes)


def _presence(a: object, b: object) -> Status:
    return Status.ADDED if a is None else Status.REMOVED if b is None else Status.UNCHANGED


def threads(a: Process, b: Process, by_position: bool = False) -> Node:
    """Threads by tid (by position when the pids shifted: their tids did too)."""
    if by_position:
        ta, tb = sorted(a.threads, key=lambda t: t.tid), sorted(b.threads, key=lambda t: t.tid)
        pairs: list[tuple[Thread | None, Thread | None]] = [
            (ta[i] if i < len(ta) else None, tb[i] if i < len(tb) else None) for i in range(max(len(ta), len(tb)))]
    else:
        pairs = keyed(a.threads, b.threads, key=lambda t: t.tid)
    nodes = []
    for x, y in pairs:
        t = y or x
        assert t is not None
        node = Node("thread", str(t.tid), status=_presence(x, y), label=t.comm)
        if x is not None and y is not None:
            if not by_position:  # tids that moved with their pids are no change of their own
                node.change("tid", x.tid, y.tid)
            node.change("comm", x.comm, y.comm)
            node.change("state", x.state, y.state)
            node.change("seccomp", x.seccomp_mode, y.seccomp_mode)
            node.change("scheduling", (x.sched_policy, x.sched_nice, x.sched_prio),
                        (y.sched_policy, y.sched_nice, y.sched_prio))
            node.change("blocked signals", x.blk_sigset, y.blk_sigset, fmt=HEX)
        nodes.append(node)
    out = group("threads", "threads", nodes)
    out.change("count", len(a.threads), len(b.threads), fmt=COUNT)
    return out


def credentials(a: Creds | None, b: Creds | None) -> Node:
    node = Node("credentials", "credentials")
    if a is None or b is None:
        node.change("known", a is not None, b is not None)
        return node
    for name in ID_FIELDS:
        node.change(name, getattr(a, name), getattr(b, name))
    node.change("groups", sorted(a.groups), sorted(b.groups), fmt=SET)
    for name, title in CAP_SETS:
        node.change(title, sorted(getattr(a, name)), sorted(getattr(b, name)), fmt=SET)
    node.change("securebits", a.secbits, b.secbits, fmt=HEX)
    node.change("no_new_privs", a.no_new_privs, b.no_new_privs)
    node.change("LSM profile", a.lsm_profile, b.lsm_profile)
    return node


def limits(a: Process, b: Process) -> Node:
    la = {name: (cur, mx) for name, cur, mx in a.rlimits}
    lb = {name: (cur, mx) for name, cur, mx in b.rlimits}
    node = Node("limits", "limits")
    for name in list(lb) + [n for n in la if n not in lb]:
        node.change(name, la.get(name), lb.get(name), fmt=LIMIT)
    return node


def fd_label(f: OpenFile) -> str:
    return f"{f.type} {f.path}"


def open_files(a: Process, b: Process) -> Node:
    nodes = []
    for x, y in keyed(a.files, b.files, key=lambda f: f.fd):
        f = y or x
        assert f is not None
        node = Node("fd", str(f.fd), status=_presence(x, y), label=fd_label(f))
        if x is not None and y is not None:
            node.change("target", fd_label(x), fd_label(y))
            if node.changes:
                node.note = "re-pointed"
            node.change("flags", x.flags, y.flags, fmt=HEX)
            if x.type == y.type == "REG":
                node.change("position", x.pos, y.pos, fmt=COUNT)
        elif x is not None:
            node.note = "closed"
        nodes.append(node)
    return group("files", "open files", nodes)


def socket_key(s: Socket) -> Hashable:
    """What a socket is, independent of its fd: its addresses (INET), its name or inode (UNIX)."""
    if s.family in ("IPv4", "IPv6"):
        return (s.family, s.proto, s.type, s.src, s.src_port, s.dst, s.dst_port)
    if s.family == "UNIX":
        return (s.family, s.type, s.src) if s.src else (s.family, s.type, "ino", s.ino)
    return (s.family, s.proto, s.type, s.fd)


def socket_label(proc: Process, s: Socket) -> str:
    """The socket as its fd says it (``TCP :::9090 (LISTEN)``, ``unix:[ino] name``)."""
    for f in proc.files:
        if f.fd == s.fd:
            return f.path
    return f"{s.proto} {s.type}".strip()


def sockets(a: Process, b: Process) -> Node:
    pairs = keyed(a.sockets, b.sockets, key=socket_key)
    matched = [(x, y) for x, y in pairs if x is not None and y is not None]
    # one that no longer matches by address (a UDP socket connected since, a restored
    # unnamed UNIX socket's new inode) is the same socket if its fd and kind are
    gone = {(x.fd, x.family, x.proto, x.type): x for x, y in pairs if y is None and x is not None}
    new = []
    for x, y in pairs:
        if x is None and y is not None:
            old = gone.pop((y.fd, y.family, y.proto, y.type), None)
            if old is not None:
                matched.append((old, y))
            else:
                new.append((None, y))
    merged: list[tuple[Socket | None, Socket | None]] = [*matched, *new, *((x, None) for x in gone.values())]
    merged.sort(key=lambda p: (p[1] or p[0]).fd)  # type: ignore[union-attr]
    nodes = []
    for x, y in merged:
        s, owner = (y, b) if y is not None else (x, a)
        assert s is not None
        node = Node("socket", socket_label(owner, s), status=_presence(x, y), label=f"fd {s.fd}")
        if x is not None and y is not None:
            node.change("fd", x.fd, y.fd)
            node.change("state", x.state, y.state)
            node.change("local", _addr(x, local=True), _addr(y, local=True))
            node.change("peer", _addr(x, local=False), _addr(y, local=False))
            node.change("queued to read", x.inq_len, y.inq_len, fmt=COUNT)
            node.change("queued to send", x.outq_len, y.outq_len, fmt=COUNT)
            node.change("send buffer", x.send_buf, y.send_buf, fmt=COUNT)
            node.change("receive buffer", x.recv_buf, y.recv_buf, fmt=COUNT)
        elif y is not None:
            node.note = "new listener" if y.state == "LISTEN" else "new connection" if y.dst_port else "new socket"
        else:
            node.note = "closed"
        nodes.append(node)
    return group("sockets", "sockets", nodes)


def _addr(s: Socket, local: bool) -> str:
    if s.family not in ("IPv4", "IPv6"):
        return s.src if local else ""
    host, port = (s.src, s.src_port) if local else (s.dst, s.dst_port)
    return f"{host}:{port}"
