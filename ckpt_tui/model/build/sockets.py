"""Sockets: how a socket's file entry is described in the fd list, and the Socket row the
network pane shows, for inet, unix, packet and netlink sockets.

Each kind of socket file entry (``isk``, ``usk``, ``psk``, ``nlsk``: the sub-message a
``file_entry`` holds) has one function in :data:`DESCRIBE` and one in :data:`SOCKETS`.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterable
from typing import Any

from ...criu import constants as C
from ...errors import Pane
from ..types import PbMessage, Socket
from .context import escape
from .images import Images

NETLINK_PROTOS = {0: "ROUTE", 4: "SOCK_DIAG", 9: "AUDIT", 15: "KOBJECT_UEVENT", 16: "GENERIC"}

#: (what the entry is, details) of one file entry's sub-message
Described = tuple[str, dict[str, Any]]


def ip_from_words(words: Iterable[int], family: int) -> str:
    """CRIU stores addresses as u32 words holding network-order bytes (little-endian host)."""
    words = list(words)
    if not words:
        return ""
    raw = b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in words)
    try:
        if family == C.AF_INET or len(raw) == 4:
            return str(ipaddress.IPv4Address(raw[:4]))
        addr = ipaddress.IPv6Address(raw[:16])
    except ValueError:
        return raw.hex()
    mapped = addr.ipv4_mapped
    return str(mapped) if mapped is not None else str(addr)


def unix_name(name: bytes) -> str:
    """A unix socket's name: an abstract name (leading NUL) shown with '@', its bytes kept up
    to the NULs that end it; a path name ends at its first NUL (bind() may count a terminating
    NUL in the address length, and the image keeps it: ``/run/app.sock\\0`` is ``/run/app.sock``)."""
    return ("@" + escape(name[1:].rstrip(b"\0"))) if name[:1] == b"\0" else escape(name.split(b"\0", 1)[0])


def _family(s: PbMessage) -> str:
    return "IPv4" if s.family == C.AF_INET else "IPv6"


def _tcp_state(state: int) -> str:
    return C.TCP_STATES.get(state, str(state))


# -- what each socket is, for the fd list ---------------------------------------
def describe_inet(s: PbMessage) -> Described:
    proto = C.IP_PROTOCOLS.get(s.proto, str(s.proto))
    state = _tcp_state(s.state)
    text = f"{proto} {ip_from_words(s.src_addr, s.family)}:{s.src_port}"
    if state == "LISTEN":
        text += " (LISTEN)"
    else:
        text += f" -> {ip_from_words(s.dst_addr, s.family)}:{s.dst_port} ({state})"
    return text, {"family": _family(s), "ino": s.ino}


def describe_unix(u: PbMessage) -> Described:
    text = f"unix:[{u.ino}] {unix_name(u.name) or '(unnamed)'}" + (f" peer {u.peer}" if u.peer else "")
    return text, {"ino": u.ino, "peer": u.peer}


def describe_packet(p: PbMessage) -> Described:
    return f"packet socket (protocol {p.protocol:#x})", {}


def describe_netlink(n: PbMessage) -> Described:
    return f"netlink {NETLINK_PROTOS.get(n.protocol, n.protocol)}", {}


DESCRIBE: dict[str, Callable[[PbMessage], Described]] = {
    "isk": describe_inet, "usk": describe_unix, "psk": describe_packet, "nlsk": describe_netlink,
}


# -- the network pane's rows -----------------------------------------------------
def _buffers(s: PbMessage) -> tuple[int, int]:
    return (s.opts.so_sndbuf, s.opts.so_rcvbuf) if s.HasField("opts") else (0, 0)


def inet_socket(images: Images, pid: int, fd: int, file_id: int, s: PbMessage) -> Socket:
    if s.proto == C.IPPROTO_TCP:
        state = _tcp_state(s.state)
    else:  # a UDP or raw socket is "closed" when not connected: say nothing
        state = "" if s.state == C.TCP_CLOSE else _tcp_state(s.state)
    send_buf, recv_buf = _buffers(s)
    sock = Socket(pid=pid, fd=fd, family=_family(s), proto=C.IP_PROTOCOLS.get(s.proto, str(s.proto)),
                  type=C.SOCKET_TYPES.get(s.type, str(s.type)), state=state,
                  src=ip_from_words(s.src_addr, s.family), src_port=s.src_port,
                  dst=ip_from_words(s.dst_addr, s.family), dst_port=s.dst_port,
                  send_buf=send_buf, recv_buf=recv_buf, ino=s.ino, file_id=s.id)
    if s.proto == C.IPPROTO_TCP and s.state not in (C.TCP_LISTEN, C.TCP_CLOSE):
        stream = images.first(f"tcp-stream-{s.ino:x}.img", Pane.NETWORK)
        if stream is not None:
            sock.inq_len, sock.outq_len = stream.inq_len, stream.outq_len
    return sock


def unix_socket(images: Images, pid: int, fd: int, file_id: int, u: PbMessage) -> Socket:
    send_buf, recv_buf = _buffers(u)
    return Socket(pid=pid, fd=fd, family="UNIX", proto="UNIX", type=C.SOCKET_TYPES.get(u.type, str(u.type)),
                  state=_tcp_state(u.state), src=unix_name(u.name), ino=u.ino, peer_ino=u.peer,
                  send_buf=send_buf, recv_buf=recv_buf, file_id=u.id)


def packet_socket(images: Images, pid: int, fd: int, file_id: int, p: PbMessage) -> Socket:
    return Socket(pid=pid, fd=fd, family="PACKET", proto="PACKET", type=C.SOCKET_TYPES.get(p.type, ""),
                  file_id=file_id)


def netlink_socket(images: Images, pid: int, fd: int, file_id: int, n: PbMessage) -> Socket:
    return Socket(pid=pid, fd=fd, family="NETLINK", proto="NETLINK",
                  type=NETLINK_PROTOS.get(n.protocol, str(n.protocol)), file_id=file_id)


SOCKETS: dict[str, Callable[[Images, int, int, int, PbMessage], Socket]] = {
    "isk": inet_socket, "usk": unix_socket, "psk": packet_socket, "nlsk": netlink_socket,
}
