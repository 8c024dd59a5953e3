"""Decode CRIU image files: framing, magic checks, entries and their payloads.

Layout of an image (all framing words in the byte order of the dumping host,
little-endian on x86)::

    [HEAD u32]  MAGIC u32  { SIZE u32  MESSAGE[SIZE]  [EXTRA] }

HEAD is ``COMMON`` or ``SERVICE`` (absent in ``inventory.img``); MAGIC names
the image kind; each entry is a protobuf message of the kind's type, and a
few kinds follow some entries with raw bytes whose length the message gives
(pipe data, socket queues, TCP queues, ghost file contents, IPC objects).

The decoder never trusts a length: every size is checked against the bytes
that remain before anything is sliced, so a corrupt size word costs nothing.
What is damaged is reported in ``Image.problems``; only a file that cannot be
an image of the expected kind at all raises :class:`ImageError`.

Nor does it trust a count: an image is decoded up to :data:`MAX_ENTRIES` entries
(:data:`SINGLE_ENTRY_LIMIT` for the kinds CRIU writes with a single entry,
:data:`SINGLE_ENTRY_IMAGES`),
an entry may hold at most :data:`MAX_ENTRY_BYTES` (:data:`MAX_ENTRY_BYTES_BY_KIND`
for some kinds), and after :data:`MAX_IMAGE_PROBLEMS` entries lacking required fields
(which CRIU never writes) the rest is not decoded. Past a bound the image is
``truncated`` and a problem says what was left unread; a few bytes of hostile framing
(millions of empty entries) cannot cost gigabytes of decoded messages.
"""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.protobuf import unknown_fields as _unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, EncodeError, Message

from ..errors import CkptError
from .constants import MAX_CAP_WORDS
from .magic import (
    HEAD_MAGICS,
    HEADLESS_IMAGES,
    MAGIC_VALUES,
    MAGICS,
    NON_IMAGE_MAGICS,
    PAYLOADS,
    RAW,
    SERVICE_IMAGES,
    PbMessage,
    expected_magic,
    message_class,
)

if TYPE_CHECKING:  # pragma: no cover
    # the stubs give a message's DESCRIPTOR (and its fields) one of two classes: the Python
    # descriptor module's or the upb runtime's; both have what is read here
    from google._upb._message import Descriptor as UpbDescriptor
    from google._upb._message import FieldDescriptor as UpbFieldDescriptor

__all__ = [
    "Entry",
    "Image",
    "ImageError",
    "decode_file",
    "decode_image",
    "entry_limit",
    "find_unknown_fields",
    "iter_entries",
    "split_ipc_messages",
]

#: bytes, bytearray, memoryview, mmap: anything exposing the buffer protocol.
Buffer = Any

_LE = struct.Struct("<I")
_BE = struct.Struct(">I")

#: Entries decoded per image; the rest of a larger image is left undecoded (a problem says so).
#: A decoded entry costs ~650 bytes whatever its size (an empty one too): 200,000 is ~130 MB,
#: and three times the runs of a process at the default vm.max_map_count (65,530 mappings).
MAX_ENTRIES = 200_000
#: Kinds CRIU writes (and reads back) with exactly one entry: at most SINGLE_ENTRY_LIMIT are
#: decoded (a few, not one, so that an odd image still decodes as ``crit`` shows it).
SINGLE_ENTRY_LIMIT = 16
SINGLE_ENTRY_IMAGES = frozenset({
    "INVENTORY", "CORE", "MM", "FS", "IDS", "CREDS", "UTSNS", "IPC_VAR", "NETNS", "TIMENS",
    "USERNS", "CGROUP", "SECCOMP", "CPUINFO", "STATS",
})
#: Bytes one entry's message may hold (its size word says more: the entry is not decoded).
MAX_ENTRY_BYTES = 64 << 20
#: Tighter bounds for kinds whose entries are small (a core entry is a few KiB).
MAX_ENTRY_BYTES_BY_KIND = {"CORE": 1 << 20}
#: Entries lacking required fields that are listed one by one; past it the rest of the image is
#: not decoded (CRIU refuses such entries; an image full of empty entries is hostile).
MAX_IMAGE_PROBLEMS = 20


class ImageError(CkptError):
    """A file is not a decodable CRIU image (raw image, unknown or wrong magic,
    too short to hold a magic)."""


@dataclass(eq=False, slots=True)  # slots: an image may hold MAX_ENTRIES of them
class Entry:
    """One decoded entry of an image.

    ``message`` is the protobuf message; ``extra`` the raw bytes that followed
    it in the image, if its kind has any (None otherwise); ``offset`` the byte
    offset of the entry's size word in the image; ``size`` the message's
    encoded length.
    """

    message: Message
    extra: bytes | None = None
    offset: int = 0
    size: int = 0


@dataclass(eq=False)
class Image:
    """A decoded image.

    ``magic`` is the kind's name ("CORE", "PAGEMAP", ...), ``magic_value`` the
    number found in the file, ``head`` "COMMON", "SERVICE" or None (no head
    word, as in inventory.img).  ``problems`` lists, in plain words, whatever
    could not be decoded (entries before a damaged one are kept).
    ``unknown_fields`` is True when some message carries fields this schema
    does not know, typically written by a newer CRIU; protobuf keeps them
    (see :func:`find_unknown_fields`). ``truncated`` is True when a bound
    (:data:`MAX_ENTRIES`, :data:`MAX_ENTRY_BYTES`) stopped the decoding before the
    end of the image; ``problems`` then says what was left unread.
    """

    magic: str
    magic_value: int
    head: str | None
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)
    unknown_fields: bool = False
    name: str = ""
    big_endian: bool = False
    truncated: bool = False

    @property
    def messages(self) -> list[Message]:
        """The entries' messages, in order."""
        return [e.message for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)


# --------------------------------------------------------------------------
# header


@dataclass
class _Header:
    magic: str
    magic_value: int
    head: str | None
    start: int
    word: struct.Struct
    problems: list[str]


def _label(name: str) -> str:
    return posixpath.basename(name) if name else "image"


def _as_view(data: Buffer) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise ImageError(f"expected the bytes of an image, got {type(data).__name__}") from None
    if view.ndim != 1 or view.itemsize != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view


def _read_header(view: memoryview, name: str) -> _Header:
    label = _label(name)
    expected = expected_magic(name) if name else None
    if expected == RAW:
        raise ImageError(
            f"{label} is a raw image: CRIU stores it without magic or protobuf entries "
            "(page contents, an ip/iptables/nft dump or a tarball), so there is nothing to decode"
        )
    size = len(view)
    if size == 0:
        raise ImageError(f"{label} is empty")
    if size < 4:
        raise ImageError(f"{label} is only {size} byte(s) long, too short for a CRIU magic")

    found: tuple[int, str | None, int, struct.Struct] | None = None
    for word in (_LE, _BE):
        first = word.unpack_from(view, 0)[0]
        if first in HEAD_MAGICS:
            if size < 8:
                raise ImageError(f"{label} ends right after its {HEAD_MAGICS[first]} head word")
            found = (word.unpack_from(view, 4)[0], HEAD_MAGICS[first], 8, word)
            break
        if first in MAGICS:
            found = (first, None, 4, word)
            break
    if found is None:
        first = _LE.unpack_from(view, 0)[0]
        if first in NON_IMAGE_MAGICS:
            raise ImageError(f"{label} is a {NON_IMAGE_MAGICS[first]} file, not a checkpoint image")
        raise ImageError(
            f"{label}: unknown magic 0x{first:08x}; not a CRIU image "
            "(maybe a raw image such as pages-*.img, which has no magic)"
        )
    value, head, start, word = found
    canonical = MAGICS.get(value)
    if canonical is None:
        if value in NON_IMAGE_MAGICS:
            raise ImageError(f"{label} is a {NON_IMAGE_MAGICS[value]} file, not a checkpoint image")
        raise ImageError(f"{label}: unknown image magic 0x{value:08x} after the {head} head word")

    magic = canonical
    if expected is not None and expected != canonical:
        if MAGIC_VALUES.get(expected) == value:
            magic = expected  # an alias sharing the value, e.g. PSIGNAL
        else:
            raise ImageError(
                f"{label}: expected a {expected} image, but its magic 0x{value:08x} is {canonical}"
            )

    problems: list[str] = []
    if word is _BE:
        problems.append(f"{label}: written on a big-endian host; framing read as big-endian")
    if magic in HEADLESS_IMAGES:
        if head is not None:
            problems.append(f"{label}: carries a {head} head word, which CRIU never writes for {magic}")
    elif magic in SERVICE_IMAGES:
        if head != "SERVICE":
            problems.append(f"{label}: {magic} should start with the SERVICE head word, found {head or 'none'}")
    elif head != "COMMON":
        problems.append(
            f"{label}: {magic} should start with the COMMON head word, found {head or 'none (image format v1.0?)'}"
        )
    return _Header(magic, value, head, start, word, problems)


# --------------------------------------------------------------------------
# entries


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def _entry_class(magic: str, index: int) -> type[Message]:
    if magic == "PAGEMAP" and index == 0:
        return message_class("pagemap_head")
    if magic == "GHOST_FILE" and index > 0:
        return message_class("ghost_chunk_entry")
    return message_class(PAYLOADS[magic])


def _parse(cls: type[Message], data: memoryview) -> PbMessage:
    """``cls.FromString`` of a slice of the image, not copied first: the runtime parses any
    buffer (its stub says bytes). Raises DecodeError, or RecursionError for nesting too deep."""
    return cls.FromString(data)  # type: ignore[arg-type]


def _ipc_span(view: memoryview, start: int, qnum: int, word: struct.Struct) -> tuple[int, str]:
    """Bytes taken by qnum framed System V messages at start; reason if short."""
    end = len(view)
    msg_cls = message_class("ipc_msg")
    off = start
    for i in range(qnum):
        if end - off < 4:
            return off - start, f"message {i} of {qnum} is missing"
        size = word.unpack_from(view, off)[0]
        off += 4
        if size > end - off:
            return off - 4 - start, f"message {i} of {qnum} claims {size} bytes, {end - off} remain"
        try:
            msg = _parse(msg_cls, view[off:off + size])
        except (DecodeError, RecursionError) as exc:
            return off - 4 - start, f"message {i} of {qnum} is not a valid ipc_msg ({exc})"
        off += size
        padded = _round_up(msg.msize, 8)
        if padded > end - off:
            return off - start, f"message {i} of {qnum} holds {msg.msize} bytes, {end - off} remain"
        off += padded
    return off - start, ""


def split_ipc_messages(extra: bytes, big_endian: bool = False) -> list[tuple[Message, bytes]]:
    """The (ipc_msg, data) pairs of an ipcns-msg entry's extra payload."""
    word = _BE if big_endian else _LE
    view = memoryview(extra)
    msg_cls = message_class("ipc_msg")
    out: list[tuple[Message, bytes]] = []
    off = 0
    while len(view) - off >= 4:
        size = word.unpack_from(view, off)[0]
        off += 4
        if size > len(view) - off:
            break
        try:
            msg = _parse(msg_cls, view[off:off + size])
        except (DecodeError, RecursionError):
            break
        off += size
        data = bytes(view[off:off + msg.msize])
        out.append((msg, data))
        off += _round_up(msg.msize, 8)
    return out


def _extra_span(magic: str, msg: PbMessage, index: int, view: memoryview, start: int,
                word: struct.Struct) -> tuple[int, int, str] | None:
    """(payload length, bytes consumed incl. padding, problem) of an entry's
    extra payload, or None if entries of this kind carry none."""
    if magic in ("PIPES_DATA", "FIFO_DATA"):
        return msg.bytes, msg.bytes, ""
    if magic == "SK_QUEUES":
        return msg.length, msg.length, ""
    if magic == "TCP_STREAM":
        n = msg.inq_len + msg.outq_len
        return n, n, ""
    if magic == "BPFMAP_DATA":
        n = msg.keys_bytes + msg.values_bytes
        return n, n, ""
    if magic == "IPCNS_SHM":
        if msg.in_pagemaps:
            return None  # contents are in a pagemap-shmem image
        return msg.size, _round_up(msg.size, 4), ""
    if magic == "IPCNS_SEM":
        n = 2 * msg.nsems
        return n, _round_up(n, 8), ""
    if magic == "IPCNS_MSG":
        n, reason = _ipc_span(view, start, msg.qnum, word)
        return n, n, reason
    if magic == "GHOST_FILE":
        if index == 0:
            if msg.chunks:
                return None
            rest = len(view) - start
            return rest, rest, ""
        return msg.len, msg.len, ""
    return None


@dataclass
class _Decoding:
    """What one pass over an image's entries noticed: its problems and whether a bound
    stopped it (for :attr:`Image.truncated`)."""

    problems: list[str]
    truncated: bool = False
    incomplete: int = 0  # entries lacking required fields


def entry_limit(magic: str) -> int:
    """How many entries of an image of kind ``magic`` are decoded."""
    return SINGLE_ENTRY_LIMIT if magic in SINGLE_ENTRY_IMAGES else MAX_ENTRIES


def _entries(view: memoryview, hdr: _Header, state: _Decoding, label: str,
             max_entries: int | None = None) -> Iterator[Entry]:
    magic, word = hdr.magic, hdr.word
    problems = state.problems
    end = len(view)
    off = hdr.start
    index = 0
    limit = entry_limit(magic) if max_entries is None else max_entries
    max_bytes = MAX_ENTRY_BYTES_BY_KIND.get(magic, MAX_ENTRY_BYTES)
    first_cls, rest_cls = _entry_class(magic, 0), _entry_class(magic, 1)

    def where() -> str:
        return f"{label}: entry {index} at offset {off}"

    while off < end:
        if index >= limit:
            state.truncated = True
            rest = f"the {end - off:,} bytes after them were not decoded"
            single = " (CRIU writes one)" if magic in SINGLE_ENTRY_IMAGES else ""
            problems.append(f"{label} holds more than {limit:,} entries{single}; only the first {limit:,} "
                            f"were read ({rest})")
            return
        if end - off < 4:
            problems.append(f"{where()}: {end - off} trailing byte(s), too few for a size word (truncated image)")
            return
        size = word.unpack_from(view, off)[0]
        body = off + 4
        if size > end - body:
            problems.append(
                f"{where()}: its size word says {size} bytes but only {end - body} remain (truncated or corrupt image)"
            )
            return
        if size > max_bytes:
            state.truncated = True
            problems.append(f"{where()}: its size word says {size:,} bytes, more than a {magic} entry may hold "
                            f"({max_bytes:,}); it and the {end - body - size:,} bytes after it were not decoded")
            return
        cls = rest_cls if index else first_cls
        try:
            msg = _parse(cls, view[body:body + size])
        except (DecodeError, RecursionError) as exc:
            problems.append(f"{where()}: not a valid {cls.DESCRIPTOR.name} message ({exc or type(exc).__name__})")
            return
        if not msg.IsInitialized():
            state.incomplete += 1
            if state.incomplete > MAX_IMAGE_PROBLEMS:  # CRIU itself refuses such an entry
                state.truncated = True
                problems.append(f"{label}: more than {MAX_IMAGE_PROBLEMS} entries lack required fields "
                                f"(CRIU writes none like that); the {end - off:,} bytes from entry {index} "
                                f"on were not decoded")
                return
            missing = ", ".join(msg.FindInitializationErrors()) or "?"
            problems.append(f"{where()}: {cls.DESCRIPTOR.name} lacks required field(s): {missing}")
        pos = body + size
        span = _extra_span(magic, msg, index, view, pos, word)
        if span is None:
            yield Entry(msg, None, off, size)
            off = pos
            index += 1
            continue
        length, consumed, reason = span
        left = end - pos
        if reason or length > left:
            why = reason or f"its payload needs {length} bytes but only {left} remain"
            problems.append(f"{where()}: {why} (truncated payload kept)")
            yield Entry(msg, bytes(view[pos:pos + min(length, left)]), off, size)
            return
        yield Entry(msg, bytes(view[pos:pos + length]), off, size)
        if consumed > left:
            problems.append(f"{where()}: the padding after its payload is missing")
            return
        off = pos + consumed
        index += 1


# --------------------------------------------------------------------------
# unknown fields

_SUBMESSAGE_FIELDS: dict[str, tuple[FieldDescriptor | UpbFieldDescriptor, ...]] = {}


def _submessage_fields(desc: Descriptor | UpbDescriptor) -> tuple[FieldDescriptor | UpbFieldDescriptor, ...]:
    found = _SUBMESSAGE_FIELDS.get(desc.full_name)
    if found is None:
        found = tuple(f for f in desc.fields if f.type == FieldDescriptor.TYPE_MESSAGE)
        _SUBMESSAGE_FIELDS[desc.full_name] = found
    return found


def unknown_fields_of(msg: Message) -> list[Any]:
    """The fields of ``msg`` itself that the schema does not know (``field_number``, ``data``).
    (The runtime's UnknownFieldSet is a sequence by index; its stub does not say it iterates.)"""
    found = _unknown_fields.UnknownFieldSet(msg)
    return [found[i] for i in range(len(found))]


def _has_unknown_walk(msg: Message) -> bool:
    """The same answer as :func:`_has_unknown`, by walking every nested message in Python
    (slow; the reference its tests compare the fast check with)."""
    if len(_unknown_fields.UnknownFieldSet(msg)):
        return True
    for fd in _submessage_fields(msg.DESCRIPTOR):
        if fd.is_repeated:
            for sub in getattr(msg, fd.name):
                if _has_unknown_walk(sub):
                    return True
        elif msg.HasField(fd.name) and _has_unknown_walk(getattr(msg, fd.name)):
            return True
    return False


def _has_unknown(msg: Message) -> bool:
    """Whether ``msg`` or any message inside it holds fields the schema does not know.

    Done by the runtime, not by walking the tree in Python: a copy without unknown fields
    is strictly smaller exactly when there were some (each one has at least a tag byte).
    A message that lacks required fields cannot be sized (EncodeError): then its partial
    serialisations are compared, which the runtime also does in one call."""
    if not _submessage_fields(msg.DESCRIPTOR):  # flat (pagemap entries...): one look is enough
        return bool(len(_unknown_fields.UnknownFieldSet(msg)))
    bare = type(msg)()
    bare.CopyFrom(msg)
    bare.DiscardUnknownFields()
    try:
        return bare.ByteSize() != msg.ByteSize()
    except EncodeError:  # required fields missing (already reported as a problem)
        return len(bare.SerializePartialToString()) != len(msg.SerializePartialToString())


def find_unknown_fields(msg: Message, prefix: str = "") -> list[str]:
    """Paths of fields the schema does not know, e.g. ``["thread_core.16"]``.

    Repeated submessages are written with their index: ``"vmas[3].11"``.
    """
    found = [f"{prefix}{uf.field_number}" for uf in unknown_fields_of(msg)]
    for fd in _submessage_fields(msg.DESCRIPTOR):
        if fd.is_repeated:
            for i, sub in enumerate(getattr(msg, fd.name)):
                found += find_unknown_fields(sub, f"{prefix}{fd.name}[{i}].")
        elif msg.HasField(fd.name):
            found += find_unknown_fields(getattr(msg, fd.name), f"{prefix}{fd.name}.")
    # The same field number repeated on the wire shows up once per value.
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------
# public entry points


def iter_entries(data: Buffer, name: str = "", problems: list[str] | None = None, *,
                 max_entries: int | None = None) -> Iterator[Entry]:
    """Decode entries one at a time (header errors raise on the first ``next``).

    Problems met on the way are appended to ``problems`` when a list is given.
    ``max_entries`` replaces the kind's bound (:func:`entry_limit`).
    Only :class:`ImageError` (a :class:`~ckpt_tui.errors.CkptError`) escapes.
    """
    label = _label(name)
    sink = problems if problems is not None else []
    try:
        view = _as_view(data)
        hdr = _read_header(view, name)
        sink.extend(hdr.problems)
        yield from _entries(view, hdr, _Decoding(sink), label, max_entries)
    except CkptError:
        raise
    except Exception as exc:  # pragma: no cover - a bug; never let it escape as something else
        raise ImageError(f"{label}: internal decoder error: {type(exc).__name__}: {exc}") from exc


def decode_image(data: Buffer, name: str = "", *, max_entries: int | None = None) -> Image:
    """Decode a whole image held in memory (bytes, bytearray, memoryview, mmap).

    ``name`` is the image's file name (directories are ignored); it lets the
    decoder refuse raw images by name, check that the magic matches, and tell
    alias kinds apart (signal-p-*.img is PSIGNAL).  Raises :class:`ImageError`
    when the data is no CRIU image of that kind; damage after a valid header
    becomes ``Image.problems`` instead.  No other exception type escapes.
    Entries past the kind's bound (:func:`entry_limit`, or ``max_entries``) are
    not decoded: the image is ``truncated`` and a problem says so.
    """
    label = _label(name)
    view: memoryview | None = None
    try:
        view = _as_view(data)
        hdr = _read_header(view, name)
        state = _Decoding(list(hdr.problems))
        problems = state.problems
        entries = list(_entries(view, hdr, state, label, max_entries))
        problems.extend(_cap_problems(hdr.magic, entries, label))
        unknown = False
        for entry in entries:
            if _has_unknown(entry.message):
                unknown = True
                break
        return Image(
            magic=hdr.magic,
            magic_value=hdr.magic_value,
            head=hdr.head,
            entries=entries,
            problems=problems,
            unknown_fields=unknown,
            name=name,
            big_endian=hdr.word is _BE,
            truncated=state.truncated,
        )
    except CkptError:
        raise
    except Exception as exc:  # pragma: no cover - a bug; never let it escape as something else
        raise ImageError(f"{label}: internal decoder error: {type(exc).__name__}: {exc}") from exc
    finally:
        # Let go of the caller's buffer now (an mmap can then be closed even
        # while a traceback still references this frame).
        if view is not None:
            try:
                view.release()
            except (BufferError, ValueError):  # pragma: no cover - a slice still alive
                pass


def _cap_problems(magic: str, entries: list[Entry], label: str) -> list[str]:
    """Capability sets longer than :data:`~ckpt_tui.criu.constants.MAX_CAP_WORDS` words
    (CRIU writes two): only that many are read (by ``caps_from_words``); say so."""
    if magic not in ("CORE", "CREDS") or not entries:
        return []
    msg: Any = entries[0].message
    if magic == "CORE":
        if not (msg.HasField("thread_core") and msg.thread_core.HasField("creds")):
            return []
        creds, where = msg.thread_core.creds, "thread_core.creds"
    else:
        creds, where = msg, "creds"
    out = []
    for fname in ("cap_inh", "cap_prm", "cap_eff", "cap_bnd", "cap_amb"):
        n = len(getattr(creds, fname))
        if n > MAX_CAP_WORDS:
            out.append(f"{label}: {where}.{fname} holds {n:,} words (CRIU writes 2); only the first "
                       f"{MAX_CAP_WORDS} are read as capabilities")
    return out


def decode_file(path: str | Path) -> Image:
    """Read and decode an image file; its file name selects the expected kind."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return decode_image(data, p.name)
