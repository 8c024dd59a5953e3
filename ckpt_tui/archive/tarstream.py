"""A small streaming tar reader of our own (ustar, GNU and PAX headers).

It never holds more than one header extension (bounded) in memory, reports the
offset of every member's data inside the uncompressed stream, and turns every
kind of damage into :class:`TarError` (or :class:`NotTar` when not even the first
header is one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .streams import CHUNK, tar_checksum_ok
from .types import display_name

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
MAX_EXTENSION = 1 << 20  # a PAX header or GNU long name bigger than this is damage


class TarError(Exception):
    """The tar stream is damaged or ends early here; what was read before stays valid."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class NotTar(TarError):
    """The data does not start with a tar header at all."""


class TarIncomplete(TarError):
    """The stream ends at a header boundary without the end-of-archive marker."""


@dataclass
class TarEntry:
    name: str  # as stored (decoded with surrogateescape), not normalised
    kind: str  # "file" | "dir" | "symlink" | "hardlink" | "device" | "fifo" | "sparse" | "other"
    typeflag: bytes
    size: int  # bytes of data stored in the archive for this entry
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str
    header_offset: int
    data_offset: int


_KINDS = {
    b"0": "file",
    b"\0": "file",
    b"7": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"3": "device",
    b"4": "device",
    b"5": "dir",
    b"6": "fifo",
    b"D": "dir",
    b"S": "sparse",
}
# entries whose data blocks follow the header (like Python's tarfile: regular files
# and anything unknown; directories, links and devices carry none whatever their size)
_NO_DATA = {"dir", "symlink", "hardlink", "device", "fifo"}


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _cstr(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _number(field: bytes, what: str, offset: int) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(field, "big") - (0x80 << (8 * (len(field) - 1)))
    text = _cstr(field).strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarError(f"corrupt tar header at byte {offset} (bad {what} field)", offset) from None


def _pax_records(data: bytes, offset: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\0\n ") == b"":
            break
        sp = data.find(b" ", pos)
        if sp < 0 or sp - pos > 20:
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarError(f"corrupt PAX header at byte {offset}", offset) from None
        end = pos + length
        if length <= sp - pos + 1 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        record = data[sp + 1 : end - 1]
        key, eq, value = record.partition(b"=")
        if not eq:
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        out[_decode(key)] = value
        pos = end
    return out


def _pax_int(value: bytes, default: int) -> int:
    try:
        return int(value.split(b".")[0])
    except ValueError:
        return default


def _pax_float(value: bytes, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default


class TarReader:
    """Reads tar entries from ``stream`` (``read(n)``; with ``size`` given it must
    also have ``skip(n)`` and the data offsets are checked against ``size``)."""

    def __init__(self, stream, size: int | None = None) -> None:
        self.stream = stream
        self.size = size
        self.pos = 0
        self.entries_seen = 0
        self.ended_cleanly = False

    # -- low level ---------------------------------------------------------
    def _read(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            data = self.stream.read(min(n - got, CHUNK))
            if not data:
                break
            parts.append(data)
            got += len(data)
        self.pos += got
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def _skip(self, n: int) -> int:
        if n <= 0:
            return 0
        if self.size is not None:
            moved = self.stream.skip(n)
            self.pos += moved
            return moved
        moved = 0
        while moved < n:
            data = self.stream.read(min(CHUNK, n - moved))
            if not data:
                break
            moved += len(data)
        self.pos += moved
        return moved

    def copy_data(self, entry: TarEntry, sink: Callable[[bytes], object], tick: Callable[[], None] | None = None) -> None:
        """Feed the entry's data to ``sink`` in chunks (call right after the entry is yielded)."""
        left = entry.size
        while left > 0:
            data = self.stream.read(min(CHUNK, left))
            if not data:
                have = entry.size - left
                raise TarError(
                    f"the archive is truncated inside member '{display_name(entry.name)}' at byte {self.pos} "
                    f"({have} of {entry.size} bytes present)",
                    self.pos,
                )
            self.pos += len(data)
            left -= len(data)
            sink(data)
            if tick is not None:
                tick()

    # -- entries -----------------------------------------------------------
    def entries(self) -> Iterator[TarEntry]:
        long_name: bytes | None = None
        long_link: bytes | None = None
        pax: dict[str, bytes] = {}
        while True:
            hdr_off = self.pos
            block = self._read(BLOCK)
            first = self.entries_seen == 0 and hdr_off == 0
            if not block:
                if first:
                    raise NotTar("it is empty", 0)
                raise TarIncomplete(
                    f"the archive ends at byte {hdr_off} without an end-of-archive marker (it may be truncated)",
                    hdr_off,
                )
            if len(block) < BLOCK:
                if first:
                    raise NotTar("it is too short to be a tar archive", 0)
                raise TarError(f"the archive is truncated inside a header at byte {hdr_off}", hdr_off)
            if block == ZERO_BLOCK:
                if first:
                    raise NotTar("it starts with an empty block: no tar header", 0)
                self.ended_cleanly = True
                return
            if not tar_checksum_ok(block):
                if first:
                    raise NotTar("no valid tar header at its start", 0)
                raise TarError(f"corrupt tar header at byte {hdr_off} (bad checksum)", hdr_off)
            self.entries_seen += 1
            typeflag = block[156:157]
            size = _number(block[124:136], "size", hdr_off)
            if "size" in pax:
                size = _pax_int(pax["size"], size)
            if size < 0:
                raise TarError(f"corrupt tar header at byte {hdr_off} (negative size)", hdr_off)
            data_off = self.pos

            if typeflag in (b"L", b"K", b"x", b"g"):
                if size > MAX_EXTENSION:
                    raise TarError(
                        f"tar header extension of {size} bytes at byte {hdr_off} is too large", hdr_off
                    )
                data = self._read(size)
                if len(data) < size:
                    raise TarError(f"the archive is truncated inside a header at byte {hdr_off}", hdr_off)
                self._skip(-size % BLOCK)
                if typeflag == b"L":
                    long_name = _cstr(data)
                elif typeflag == b"K":
                    long_link = _cstr(data)
                elif typeflag == b"x":
                    pax.update(_pax_records(data, hdr_off))
                # global PAX headers ("g") carry nothing we use
                continue

            magic = block[257:263]
            if long_name is not None:
                raw_name = long_name
            else:
                raw_name = _cstr(block[0:100])
                if magic == b"ustar\x00":
                    prefix = _cstr(block[345:500])
                    if prefix:
                        raw_name = prefix + b"/" + raw_name
            name = _decode(pax["path"]) if "path" in pax else _decode(raw_name)
            if "linkpath" in pax:
                linkname = _decode(pax["linkpath"])
            elif long_link is not None:
                linkname = _decode(long_link)
            else:
                linkname = _decode(_cstr(block[157:257]))
            mode = _number(block[100:108], "mode", hdr_off) & 0o7777
            uid = _number(block[108:116], "uid", hdr_off)
            gid = _number(block[116:124], "gid", hdr_off)
            mtime: float = _number(block[136:148], "mtime", hdr_off)
            if "uid" in pax:
                uid = _pax_int(pax["uid"], uid)
            if "gid" in pax:
                gid = _pax_int(pax["gid"], gid)
            if "mtime" in pax:
                mtime = _pax_float(pax["mtime"], mtime)
            kind = _KINDS.get(typeflag, "other")
            if any(k.startswith("GNU.sparse.") for k in pax):
                kind = "sparse"
            if kind == "file" and name.endswith("/") and typeflag == b"\0":
                kind = "dir"  # old tars mark directories by a trailing slash
            long_name = long_link = None
            pax = {}

            carries_data = kind not in _NO_DATA
            if not carries_data:
                size = 0
            if carries_data and self.size is not None and data_off + size > self.size:
                have = max(0, self.size - data_off)
                raise TarError(
                    f"the archive is truncated inside member '{display_name(name)}' at byte {self.size} "
                    f"({have} of {size} bytes present)",
                    self.size,
                )
            entry = TarEntry(
                name=name,
                kind=kind,
                typeflag=typeflag,
                size=size,
                mode=mode,
                uid=uid,
                gid=gid,
                mtime=float(mtime),
                linkname=linkname,
                header_offset=hdr_off,
                data_offset=data_off,
            )
            yield entry
            target = data_off + size + (-size % BLOCK)
            if self.pos < target:
                need = target - self.pos
                moved = self._skip(need)
                if moved < need and self.pos < data_off + size:
                    raise TarError(
                        f"the archive is truncated inside member '{display_name(name)}' at byte {self.pos} "
                        f"({self.pos - data_off} of {size} bytes present)",
                        self.pos,
                    )
