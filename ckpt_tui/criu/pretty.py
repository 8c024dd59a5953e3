"""Turn decoded CRIU messages into plain dicts, the way ``crit`` shows them.

``message_to_dict`` walks a protobuf message field by field (in field-number
order, only fields that are present) and renders each value according to the
display hints of ``opts.proto``:

* ``hex``   -> ``"0x1f"`` (inherited by every integer inside a hex message)
* ``ipadd`` -> one address string, ``"10.88.0.27"`` or ``"::ffff:a58:1b"``
* ``flags`` -> ``"PROT_READ | PROT_EXEC"`` (unknown bits as a trailing hex)
* ``dev``   -> ``"major:minor"``
* ``dict``  -> a name from a value table (``"ESTABLISHED"``, ``"Alive"``)
* enums     -> their value name; bytes -> base64 text (``unix_name``: quoted-printable)

``to_crit_dict`` renders a whole :class:`~ckpt_tui.criu.images.Image` as
``{"magic": ..., "entries": [...]}``, the shape ``crit decode --pretty``
prints, including the ``extra`` payloads.

Deliberate differences from crit 3.17: task_state 3 is "Stopped" and 6 is
"Zombie" (crit 3.17 swaps them; CRIU's real numbers are 1 Alive, 2 Dead,
3 Stopped, 6 Zombie) and 2 is "Dead"; socket state 11 is "CLOSING" (crit
prints 11); and a value crit cannot render (an IP list that is neither 1 nor
4 words, an enum number the schema lacks) comes out as plain numbers instead
of a crash.
"""

from __future__ import annotations

import base64
import ipaddress
import quopri
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from . import constants as C
from .magic import PbMessage
from .pb import opts_pb2

if TYPE_CHECKING:  # pragma: no cover
    from .images import Entry, Image

__all__ = ["FLAG_TABLES", "VALUE_TABLES", "as_text", "entry_to_dict", "message_to_dict", "to_crit_dict"]

#: Flag tables named by ``(fmt).flags``.
FLAG_TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    "mmap.prot": C.VMA_PROT,
    "mmap.flags": C.VMA_FLAGS,
    "mmap.status": C.VMA_STATUS,
    "rfile.flags": C.OPEN_FLAGS,
    "pmap.flags": C.PAGEMAP_FLAGS,
    "seals.flags": C.MEMFD_SEALS,
}

#: Value tables named by ``(fmt).dict``, then keyed by field name.
VALUE_TABLES: dict[str, dict[str, dict[int, str]]] = {
    "gen": {"task_state": C.TASK_STATES},
    "sk": {
        "family": C.SOCKET_FAMILIES,
        "type": {k: v for k, v in C.SOCKET_TYPES.items() if k in (1, 2, 3, 5, 10)},
        "state": {k: v for k, v in C.TCP_STATES.items() if k <= 11},
        "proto": {0: "IP", 6: "TCP", 17: "UDP", 136: "UDPLITE"},
    },
}

_MINORBITS = 20
_INT_TYPES = frozenset({
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
})


class _Hints:
    """The display hints of one field, looked up once and cached."""

    __slots__ = ("conv", "dev", "dict", "flags", "hex", "ipadd", "odev")

    def __init__(self, field: FieldDescriptor) -> None:
        opts = field.GetOptions()
        ext = opts_pb2.fmt  # type: ignore[attr-defined]  # a generated module: its names are made at import
        fmt = opts.Extensions[ext] if opts.HasExtension(ext) else None
        self.hex = bool(fmt and fmt.hex)
        self.ipadd = bool(fmt and fmt.ipadd)
        self.flags = fmt.flags if fmt and fmt.flags else ""
        self.dev = bool(fmt and fmt.dev)
        self.odev = bool(fmt and fmt.odev)
        self.dict = fmt.dict if fmt and fmt.dict else ""
        self.conv = fmt.conv if fmt and fmt.conv else ""


# Keyed by full name: descriptor objects of the upb runtime are not guaranteed
# to stay alive, so their id() may be reused.
_HINTS: dict[str, _Hints] = {}


def _hints(field: FieldDescriptor) -> _Hints:
    key = field.full_name
    hints = _HINTS.get(key)
    if hints is None:
        hints = _HINTS[key] = _Hints(field)
    return hints


def as_text(value: str | bytes) -> str:
    """A proto2 ``string`` value as text.

    The protobuf runtime hands back ``bytes`` when a string field is not valid
    UTF-8 (file names are arbitrary bytes on Linux); those are decoded with
    ``surrogateescape`` so that ``.encode("utf-8", "surrogateescape")`` gives
    the original bytes back.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _dev(value: int, old: bool) -> str:
    if old:  # glibc's major()/minor() layout
        major = ((value >> 8) & 0xFFF) | ((value >> 32) & ~0xFFF)
        minor = (value & 0xFF) | ((value >> 12) & ~0xFF)
    else:  # the kernel's MKDEV layout
        major, minor = value >> _MINORBITS, value & ((1 << _MINORBITS) - 1)
    return f"{major}:{minor}"


def _ipv6_text(raw: bytes) -> str:
    """RFC 5952 text of an IPv6 address, always in hexadecimal groups.

    (Python >= 3.13 prints IPv4-mapped addresses as ``::ffff:1.2.3.4``; crit,
    and this function, keep ``::ffff:102:304`` on every Python.)
    """
    groups = struct.unpack(">8H", raw)
    best_start, best_len, run_start, run_len = -1, 0, -1, 0
    for i, group in enumerate(groups):
        if group == 0:
            if run_start < 0:
                run_start, run_len = i, 0
            run_len += 1
            if run_len > best_len:
                best_start, best_len = run_start, run_len
        else:
            run_start = -1
    parts = [f"{g:x}" for g in groups]
    if best_len > 1:
        return ":".join(parts[:best_start]) + "::" + ":".join(parts[best_start + best_len:])
    return ":".join(parts)


def _ip(words: Iterable[int]) -> str | None:
    """crit's reading of an address list: words are in network byte order,
    one word for IPv4, four for IPv6."""
    words = list(words)
    if len(words) == 1:
        return str(ipaddress.IPv4Address(struct.pack("<I", words[0] & 0xFFFFFFFF)))
    if len(words) == 4:
        return _ipv6_text(b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in words))
    return None


def _flags(value: int, table_name: str) -> str:
    table = FLAG_TABLES.get(table_name)
    if table is None:
        return f"0x{value:x}"
    return " | ".join(C.flag_names(value, table))


def _scalar(field: FieldDescriptor, value: Any, pretty: bool, hexed: bool) -> Any:
    ftype = field.type
    if ftype == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type  # always set for an enum field
        ev = enum.values_by_number.get(value) if enum is not None else None
        return ev.name if ev is not None else value
    if ftype == FieldDescriptor.TYPE_BYTES:
        if _hints(field).conv == "unix_name":
            return quopri.encodestring(bytes(value)).decode("ascii")
        return base64.encodebytes(bytes(value)).decode("ascii")
    if ftype == FieldDescriptor.TYPE_STRING:
        return as_text(value)
    if ftype == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if ftype in _INT_TYPES:
        value = int(value)
        if not pretty:
            return value
        hints = _hints(field)
        if hexed or hints.hex:
            return f"0x{value:x}"
        if hints.dev:
            return _dev(value, hints.odev)
        if hints.flags:
            return _flags(value, hints.flags)
        if hints.dict:
            return VALUE_TABLES.get(hints.dict, {}).get(field.name, {}).get(value, value)
        return value
    return value  # float / double: none in the CRIU schema


def message_to_dict(message: Message, pretty: bool = True, *, unknown: bool = False,
                    _hexed: bool = False) -> dict[str, Any]:
    """Render one message as a dict of present fields, crit style.

    With ``pretty=False`` integers stay integers (enums are still named and
    bytes still base64, as in plain ``crit decode``).  With ``unknown=True``
    fields this schema does not know (written by a newer CRIU) are added as
    ``"#<number>"`` keys holding their raw values, for display.
    """
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        hints = _hints(field)
        hexed = _hexed or hints.hex
        if field.is_repeated:
            if pretty and hints.ipadd:
                addr = _ip(value)
                if addr is not None:
                    out[field.name] = [addr]
                    continue
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                out[field.name] = [message_to_dict(v, pretty, unknown=unknown, _hexed=hexed) for v in value]
            else:
                out[field.name] = [_scalar(field, v, pretty, hexed) for v in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            out[field.name] = message_to_dict(value, pretty, unknown=unknown, _hexed=hexed)
        else:
            out[field.name] = _scalar(field, value, pretty, hexed)
    if unknown:
        for number, values in _unknown_values(message).items():
            out[f"#{number}"] = values if len(values) > 1 else values[0]
    return out


def _unknown_values(message: Message) -> dict[int, list[Any]]:
    from .images import unknown_fields_of

    found: dict[int, list[Any]] = {}
    for uf in unknown_fields_of(message):
        data = uf.data
        if isinstance(data, (bytes, bytearray)):
            data = base64.b64encode(bytes(data)).decode("ascii")
        elif not isinstance(data, int):
            data = repr(data)
        found.setdefault(uf.field_number, []).append(data)
    return found


def _b64(data: bytes | None) -> str:
    return base64.encodebytes(data or b"").decode("ascii")


def entry_to_dict(magic: str, entry: Entry, pretty: bool = True, *, big_endian: bool = False) -> dict[str, Any]:
    """One image entry as crit shows it, its ``extra`` payload included.

    ``big_endian`` says how the image framing was written (Image.big_endian);
    it matters for the binary semaphore values of ipcns-sem images.
    """
    msg: PbMessage = entry.message  # a tcp_stream_entry has inq_len
    out = message_to_dict(msg, pretty)
    extra = entry.extra
    if magic in ("PIPES_DATA", "FIFO_DATA", "SK_QUEUES", "BPFMAP_DATA", "IPCNS_SHM"):
        if extra is not None:
            out["extra"] = _b64(extra)
    elif magic == "TCP_STREAM":
        if extra is not None:
            inq = extra[: msg.inq_len]
            out["extra"] = {"inq": _b64(inq), "outq": _b64(extra[len(inq):])}
    elif magic == "IPCNS_SEM":
        if extra is not None:
            count = len(extra) // 2
            out["extra"] = list(struct.unpack(f"{'>' if big_endian else '<'}{count}H", extra[: count * 2]))
    elif magic == "IPCNS_MSG":
        if extra is not None:
            from .images import split_ipc_messages

            items: list[Any] = []
            for m, data in split_ipc_messages(extra, big_endian=big_endian):
                items.append(message_to_dict(m, pretty=False))
                items.append(_b64(data))
            out["extra"] = items
    elif magic == "GHOST_FILE" and extra is not None:
        out["extra"] = _b64(extra)
    return out


def to_crit_dict(image: Image, pretty: bool = True) -> dict[str, Any]:
    """The whole image as ``crit decode [--pretty]`` prints it:
    ``{"magic": "CORE", "entries": [{...}, ...]}``."""
    return {
        "magic": image.magic,
        "entries": [entry_to_dict(image.magic, e, pretty, big_endian=image.big_endian) for e in image.entries],
    }


def descriptor_fields(descriptor: Descriptor) -> list[str]:
    """Field names of a message type in number order (for table headers)."""
    return [f.name for f in sorted(descriptor.fields, key=lambda f: f.number)]
