"""What a process's numbers say in words: open flags by name, resource limits, and which
process holds the other end of a pipe or a unix socket.

Decided here once for every reader (the UI's process tabs and sockets, and any rendering):
the numbers come from the model's dataclasses, the names from ``criu.constants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..criu import constants as C
from ..text import count, size
from .types import OpenFile, Process, Socket

O_ACCMODE = 0o3
RLIM_INFINITY = (1 << 64) - 1

# the resources whose limits are bytes, seconds and microseconds (the rest are counts or values)
_BYTE_LIMITS = frozenset({"FSIZE", "DATA", "STACK", "CORE", "RSS", "MEMLOCK", "AS", "MSGQUEUE"})
_SECOND_LIMITS = frozenset({"CPU"})
_MICROSECOND_LIMITS = frozenset({"RTTIME"})
_ACCESS = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR", 3: "O_ACCMODE"}


def open_flags(flags: int) -> str:
    """``O_RDWR|O_APPEND|O_CLOEXEC``: the access mode (O_RDONLY is 0, so it is named from the
    low two bits) and every other flag by name; bits no name covers as hex."""
    names = [_ACCESS[flags & O_ACCMODE]]
    table = [(name, bit) for name, bit in C.OPEN_FLAGS if bit & ~O_ACCMODE]
    names += C.flag_names(flags & ~O_ACCMODE, table)
    return "|".join(names)


def _binary(n: int) -> str:
    """A byte count in the largest binary unit it is a whole multiple of (``8 MiB``), else ``size``."""
    for shift, unit in ((60, "EiB"), (50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{count(n >> shift)} {unit}"
    return size(n) if n >= 1024 else f"{n} B"


def rlimit_text(name: str, value: int) -> str:
    """One resource limit as a person reads it: ``8 MiB``, ``unlimited``, ``1,024``, ``10 s``.

    ``name`` is the resource without ``RLIMIT_`` (``STACK``), as ``Process.rlimits`` has it."""
    if value < 0 or value >= RLIM_INFINITY or value == (1 << 63) - 1:
        return "unlimited"
    resource = name.upper().removeprefix("RLIMIT_")
    if resource in _BYTE_LIMITS:
        return _binary(value)
    if resource in _SECOND_LIMITS:
        return f"{count(value)} s"
    if resource in _MICROSECOND_LIMITS:
        return f"{count(value)} µs"
    return count(value)


@dataclass(frozen=True)
class End:
    """One holder of a pipe or socket: the process and its fd."""

    pid: int
    comm: str
    fd: int

    def __str__(self) -> str:
        return f"pid {self.pid} {self.comm} fd {self.fd}".replace("  ", " ")


class OtherEnds:
    """Who holds the other end of each pipe and unix socket of a checkpoint.

    A pipe's other end is the opposite direction of the same pipe (its read end for a write
    end); a unix socket's is the socket whose inode is its peer. An empty answer means no
    process in the checkpoint holds it (it is outside the container, or closed)."""

    def __init__(self, processes: Mapping[int, Process], sockets: Iterable[Socket] = ()) -> None:
        self._comm = {pid: proc.comm for pid, proc in processes.items()}
        self._pipes: dict[int, list[tuple[End, int]]] = {}  # pipe id -> (holder, access mode)
        self._unix: dict[int, list[End]] = {}  # socket inode -> holders
        for pid, proc in processes.items():
            for f in proc.files:
                pipe_id = f.details.get("pipe_id") if isinstance(f.details, dict) else None
                if f.type in ("PIPE", "FIFO") and isinstance(pipe_id, int):
                    self._pipes.setdefault(pipe_id, []).append((End(pid, proc.comm, f.fd), f.flags & O_ACCMODE))
        for sock in sockets:
            if sock.family == "UNIX" and sock.ino:
                self._unix.setdefault(sock.ino, []).append(End(sock.pid, self._comm.get(sock.pid, ""), sock.fd))

    def of_file(self, pid: int, f: OpenFile) -> list[End]:
        """The holders of the other end of the pipe, FIFO or unix socket ``f`` of ``pid`` (none
        for other files)."""
        details = f.details if isinstance(f.details, dict) else {}
        if f.type == "UNIXSK":
            peer = details.get("peer")
            return list(self._unix.get(peer, [])) if isinstance(peer, int) and peer else []
        pipe_id = details.get("pipe_id")
        if f.type not in ("PIPE", "FIFO") or not isinstance(pipe_id, int):
            return []
        mode = f.flags & O_ACCMODE
        holders = self._pipes.get(pipe_id, [])
        if mode == 2:  # O_RDWR (a FIFO opened both ways): every other holder shares it
            return [end for end, _m in holders if (end.pid, end.fd) != (pid, f.fd)]
        return [end for end, m in holders if m != mode]

    def of_socket(self, sock: Socket) -> list[End]:
        """The holders of the unix socket ``sock`` is connected to (none for other sockets)."""
        if sock.family != "UNIX" or not sock.peer_ino:
            return []
        return list(self._unix.get(sock.peer_ino, []))


def describe_ends(ends: list[End], *, limit: int = 3) -> str:
    """``pid 7 nc fd 0``, several joined, the rest counted: ``pid 7 nc fd 0, pid 8 sh fd 1 and 2 more``."""
    shown = ", ".join(str(end) for end in ends[:limit])
    rest = len(ends) - limit
    return shown + (f" and {count(rest)} more" if rest > 0 else "")
