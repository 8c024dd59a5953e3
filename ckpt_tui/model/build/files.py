"""Open files: files.img (every file entry, by id) and each process's fd table.

What a file entry is -- a path, ``pipe[123]``, ``TCP 10.0.0.2:80 (LISTEN)``, ``eventfd
(count 0)`` -- is decided by the kind of entry it holds (the sub-message of ``file_entry``
that is set: ``reg``, ``pipe``, ``isk``...), one function per kind in :data:`DESCRIBE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...criu import constants as C
from ...criu import message_to_dict
from ...errors import Pane
from ..types import OpenFile, PbMessage, Process, Terminal
from . import sockets
from .context import Context, escape
from .images import CKPT

CLOCKS = {0: "REALTIME", 1: "MONOTONIC", 7: "BOOTTIME", 8: "REALTIME_ALARM", 9: "BOOTTIME_ALARM"}
NS_KINDS = {value: name[len("CLONE_NEW"):].lower() for name, value in C.NAMESPACE_FLAGS}

Described = sockets.Described


class FileTable:
    """files.img by id, and what each entry is."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.images = ctx.images
        self.by_id: dict[int, PbMessage] = {}
        self.unlinked: dict[int, str] = {}  # files.img id -> "ghost" | "linked": deleted while open
        self._ttys: dict[int, Terminal] | None = None
        self._memfds: dict[int, PbMessage] | None = None  # memfd.img by inode id, made when first asked

    def load(self) -> None:
        if not self.ctx.src.has(CKPT + "files.img") and self.ctx.src.names(CKPT + "fdinfo-"):
            self.ctx.problem(CKPT + "files.img", "is missing: what each open file is cannot be told (every fd is "
                             "shown by its file id only)", Pane.PROCESSES)
        for fe in self.images.entries("files.img", Pane.PROCESSES):
            self.by_id[fe.id] = fe
        for r in self.images.entries("remap-fpath.img", Pane.PROCESSES):
            # a file reached another way at restore; LINKED and GHOST ones were deleted while open
            kind = r.remap_type if r.HasField("remap_type") else (1 if r.remap_id & 0x80000000 else 0)
            if C.REMAP_TYPES.get(kind) in ("LINKED", "GHOST"):
                self.unlinked[r.orig_id] = C.REMAP_TYPES[kind].lower()

    def path(self, file_id: int) -> str:
        """What file ``file_id`` is (its path for a regular file)."""
        entry = self.by_id.get(file_id)
        if entry is None:
            return f"<file {file_id} missing from files.img>"
        return self.describe(entry)[1]

    def describe(self, fe: PbMessage) -> tuple[str, str, dict[str, Any]]:
        """(type name, what it is, details) for a files.img entry."""
        tname = C.FD_TYPES.get(fe.type, str(fe.type))
        kind = kind_of(fe)
        if kind is None:
            return tname, f"{tname}.{fe.id}", message_to_dict(fe)
        field, sub = kind
        what, details = DESCRIBE[field](self, sub)
        return tname, what, details

    def fds(self, proc: Process) -> None:
        """The fd table of ``proc`` (fdinfo-<files_id>.img), with its sockets."""
        files_id = proc.ids.get("files_id")
        if files_id is None:
            ids = CKPT + f"ids-{proc.pid}.img"
            if self.ctx.src.has(ids):  # (a missing one was said already)
                self.ctx.problem(ids, "names no fd table (files_id): the process's open files are unknown",
                                 Pane.PROCESSES)
            return
        name = f"fdinfo-{files_id}.img"
        if not self.ctx.src.has(CKPT + name):
            self.ctx.problem(CKPT + name, "is missing: the open files of the processes using it are unknown",
                             Pane.PROCESSES)
            return
        img = self.images.image(name, Pane.PROCESSES)
        if img is None:
            return
        fds = img.entries[:self.ctx.take(len(img.entries), "open files")]
        unknown: list[tuple[int, int]] = []  # (fd, file id) of the fds files.img does not hold
        for e in fds:
            fd: PbMessage = e.message
            fe = self.by_id.get(fd.id)
            if fe is None:
                unknown.append((fd.fd, fd.id))
                proc.files.append(OpenFile(fd=fd.fd, type="?", path=f"<missing file {fd.id}>", file_id=fd.id))
                continue
            tname, what, details = self.describe(fe)
            proc.files.append(OpenFile(fd=fd.fd, type=tname, path=what, file_id=fd.id,
                                       flags=details.get("flags", fd.flags) or 0, pos=details.get("pos"),
                                       details=details))
            kind = kind_of(fe)
            make = sockets.SOCKETS.get(kind[0]) if kind is not None else None
            if make is not None and kind is not None:
                proc.sockets.append(make(self.images, proc.pid, fd.fd, fe.id, kind[1]))
        proc.files.sort(key=lambda f: f.fd)
        if unknown and self.by_id:  # (files.img missing altogether was said once)
            shown = ", ".join(f"fd {fd}: id {fid}" for fd, fid in unknown[:5])
            self.ctx.problem(CKPT + "files.img", f"pid {proc.pid}: {len(unknown):,} fds name file ids that are not "
                             f"in files.img ({shown}{', ...' if len(unknown) > 5 else ''})", Pane.PROCESSES)

    # -- what other entries point at --------------------------------------
    def memfd_inode(self, inode_id: int) -> PbMessage | None:
        if self._memfds is None:
            self._memfds = {}
            for m in self.images.entries("memfd.img"):
                self._memfds.setdefault(m.inode_id, m)  # the first entry of an id, as a scan finds it
        return self._memfds.get(inode_id)

    def tty_name(self, tty: PbMessage) -> str:
        info = self.tty_infos().get(tty.tty_info_id)
        if info is not None:
            return info.name
        if tty.HasField("regf_id"):
            return self.path(tty.regf_id)
        return f"tty [{tty.tty_info_id}]"

    def tty_infos(self) -> dict[int, Terminal]:
        """tty-info.img as Terminals by id (no holders yet: :meth:`terminals` adds them)."""
        if self._ttys is None:
            self._ttys = {info.id: _terminal(info) for info in self.images.entries("tty-info.img")}
        return self._ttys

    def terminals(self) -> None:
        """The checkpoint's terminals, each with the fds of every process that holds it."""
        ttys = self.tty_infos()
        for proc in self.ctx.ck.process_list():
            for f in proc.files:
                tty = ttys.get(f.details.get("tty_info_id", -1)) if f.type == "TTY" and f.fd >= 0 else None
                if tty is not None:
                    tty.fds.setdefault(proc.pid, []).append(f.fd)
        self.ctx.ck.terminals = sorted(ttys.values(), key=lambda t: t.id)


def _terminal(info: PbMessage) -> Terminal:
    kind = C.TTY_TYPES.get(info.type, str(info.type))
    rdev = ((info.rdev >> 8) & 0xFFF, (info.rdev & 0xFF) | ((info.rdev >> 12) & 0xFFF00))  # the kernel's dev_t
    index = info.pty.index if info.HasField("pty") else None
    master = index is not None and not C.PTS_MAJOR_FIRST <= rdev[0] <= C.PTS_MAJOR_LAST
    if index is not None:
        name = f"/dev/ptmx (master of /dev/pts/{index})" if master else f"/dev/pts/{index}"
    else:
        name = {"CONSOLE": "/dev/console", "VT": f"/dev/tty{rdev[1]}", "CTTY": "/dev/tty"}.get(kind, f"tty ({kind})")
    return Terminal(id=info.id, name=name, type=kind, index=index, master=master, rdev=rdev, sid=info.sid,
                    pgrp=info.pgrp)


def kind_of(fe: PbMessage) -> tuple[str, PbMessage] | None:
    """(field name, sub-message) of the kind of entry ``fe`` holds, None for none we know."""
    for fd, value in fe.ListFields():
        if fd.name in DESCRIBE:
            return fd.name, value
    return None


# -- one function per kind of file entry ----------------------------------------
def _reg(t: FileTable, r: PbMessage) -> Described:
    details: dict[str, Any] = {"flags": r.flags, "pos": r.pos, "size": r.size if r.HasField("size") else None,
                               "mode": r.mode}
    if r.id in t.unlinked:
        details["unlinked"] = t.unlinked[r.id]
    return escape(r.name), details


def _pipe(t: FileTable, p: PbMessage) -> Described:
    return f"pipe[{p.pipe_id}]", {"pipe_id": p.pipe_id, "flags": p.flags}


def _fifo(t: FileTable, f: PbMessage) -> Described:
    return f"fifo {t.path(f.regf_id)} [{f.pipe_id}]", {"pipe_id": f.pipe_id}


def _eventfd(t: FileTable, e: PbMessage) -> Described:
    return f"eventfd (count {e.counter})", {"counter": e.counter, "flags": e.flags}


def _eventpoll(t: FileTable, e: PbMessage) -> Described:
    tfds = [w.tfd for w in e.tfd]
    return f"eventpoll (watching fds {', '.join(map(str, tfds)) or 'none'})", {"targets": tfds}


def _signalfd(t: FileTable, s: PbMessage) -> Described:
    mask = s.sigmask
    sigs = [C.SIGNALS.get(i + 1, f"SIG{i + 1}") for i in range(64) if mask >> i & 1]
    return f"signalfd ({', '.join(sigs) or 'no signals'})", {"sigmask": mask}


def _timerfd(t: FileTable, f: PbMessage) -> Described:
    return (f"timerfd {CLOCKS.get(f.clockid, f.clockid)} value {f.vsec}.{f.vnsec:09d}s "
            f"interval {f.isec}.{f.insec:09d}s"), {"ticks": f.ticks}


def _inotify(t: FileTable, i: PbMessage) -> Described:
    return f"inotify ({len(i.wd)} watches)", {}


def _memfd(t: FileTable, m: PbMessage) -> Described:
    inode = t.memfd_inode(m.inode_id)
    name = escape(inode.name) if inode is not None else f"inode {m.inode_id}"
    return f"memfd:{name}", {"size": inode.size if inode is not None else None}


def _tty(t: FileTable, tty: PbMessage) -> Described:
    return t.tty_name(tty), {"tty_info_id": tty.tty_info_id, "flags": tty.flags}


def _namespace(t: FileTable, n: PbMessage) -> Described:
    return f"{NS_KINDS.get(n.ns_cflag, hex(n.ns_cflag))} namespace [{n.ns_id}]", {}


def _socket(describe: Callable[[PbMessage], Described]) -> Callable[[FileTable, PbMessage], Described]:
    return lambda t, msg: describe(msg)


def _named(text: str) -> Callable[[FileTable, PbMessage], Described]:
    return lambda t, msg: (text, {})


DESCRIBE: dict[str, Callable[[FileTable, PbMessage], Described]] = {
    "reg": _reg, "pipe": _pipe, "fifo": _fifo, "efd": _eventfd, "epfd": _eventpoll, "sgfd": _signalfd,
    "tfd": _timerfd, "ify": _inotify, "ffy": _named("fanotify"), "memfd": _memfd, "tty": _tty,
    "nsf": _namespace, "tunf": lambda t, f: (f"tun {escape(f.netdev)}", {}), "ext": _named("external file"),
    "bpf": _named("bpf map"), "pidfd": lambda t, p: (f"pidfd (pid {p.nspid})", {}),
    **{field: _socket(describe) for field, describe in sockets.DESCRIBE.items()},
}
