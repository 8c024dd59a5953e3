"""What a process holds open: files (the fd table), terminals and sockets (plain dataclasses,
re-exported by :mod:`ckpt_tui.model.types`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OpenFile:
    fd: int  # -1 for cwd/root/exe pseudo entries
    type: str  # REG, PIPE, FIFO, INETSK, UNIXSK, EVENTFD, EVENTPOLL, SIGNALFD, TIMERFD, MEMFD, TTY, NS, ...
    path: str  # what it is: a path, "pipe[123]", "socket:[ino]", "eventfd (count 0)" ...
    file_id: int = 0
    flags: int = 0
    pos: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded_size(self) -> int | None:
        """A regular file's size when it was dumped (CRIU checks it on restore), None if not recorded."""
        size = self.details.get("size") if self.type == "REG" else None
        return size if isinstance(size, int) else None

    @property
    def recorded_mode(self) -> int | None:
        """A regular file's st_mode when it was dumped (CRIU checks it on restore)."""
        mode = self.details.get("mode") if self.type == "REG" else None
        return mode if isinstance(mode, int) and mode else None


@dataclass
class Terminal:
    """A terminal the processes hold open (tty-info.img, with the fds that point at it)."""

    id: int  # tty_info_entry.id (a tty file entry's tty_info_id)
    name: str  # "/dev/pts/0", "/dev/ptmx (master of /dev/pts/0)", "/dev/console"
    type: str  # PTY, CONSOLE, VT, CTTY, EXT_TTY, SERIAL (criu.constants.TTY_TYPES)
    index: int | None = None  # a pseudo-terminal's number (/dev/pts/N)
    master: bool = False  # the multiplexer side of a pseudo-terminal (/dev/ptmx)
    rdev: tuple[int, int] = (0, 0)  # (major, minor) of the device
    sid: int = 0  # the session whose controlling terminal it is (0: none)
    pgrp: int = 0  # its foreground process group
    fds: dict[int, list[int]] = field(default_factory=dict)  # pid -> the fds it is open on

    @property
    def where(self) -> str:
        """``pid 1 fds 0, 1, 2``, each holder in pid order."""
        return "; ".join(f"pid {pid} {'fd' if len(fds) == 1 else 'fds'} {', '.join(map(str, fds))}"
                         for pid, fds in sorted(self.fds.items()))

    @property
    def role(self) -> str:
        """``controlling terminal of session 1, foreground group 1`` ("" when it controls none)."""
        return f"controlling terminal of session {self.sid}, foreground group {self.pgrp}" if self.sid else ""


@dataclass
class Socket:
    pid: int
    fd: int
    family: str  # IPv4, IPv6, UNIX, PACKET, NETLINK
    proto: str  # TCP, UDP, UDPLITE, RAW, UNIX, PACKET, NETLINK
    type: str = ""  # STREAM, DGRAM, SEQPACKET, RAW
    state: str = ""  # LISTEN, ESTABLISHED, ... (UNIX: LISTEN / ESTABLISHED / CLOSE)
    src: str = ""
    src_port: int = 0
    dst: str = ""
    dst_port: int = 0
    send_buf: int = 0  # SO_SNDBUF
    recv_buf: int = 0  # SO_RCVBUF
    inq_len: int | None = None  # bytes queued for reading (tcp-stream image)
    outq_len: int | None = None  # bytes queued for sending
    ino: int = 0
    peer_ino: int = 0
    file_id: int = 0

    @property
    def needs_tcp_established(self) -> bool:
        return self.proto == "TCP" and self.state not in ("LISTEN", "CLOSE", "")

    @property
    def has_ports(self) -> bool:
        """Only IP sockets have ports (a unix socket is named by a path or an abstract name)."""
        return self.family in ("IPv4", "IPv6")

    @property
    def local(self) -> str:
        """This end as text: ``10.88.0.27:9000``, ``[::]:8080``; a unix socket's name
        (``/dev/log``, ``@name``); "" when it is bound to nothing (any address, port 0)."""
        return self._end(self.src, self.src_port) if self.has_ports else self.src

    @property
    def remote(self) -> str:
        """The peer's end as :attr:`local` writes it ("" for none, and for a unix socket, whose
        peer is another socket: :attr:`peer_ino`)."""
        return self._end(self.dst, self.dst_port) if self.has_ports else ""

    def _end(self, host: str, port: int) -> str:
        if not port and host in ("", "::", "0.0.0.0"):
            return ""
        if ":" in host or (self.family == "IPv6" and not host):
            return f"[{host or '::'}]:{port}"
        return f"{host or '0.0.0.0'}:{port}"
