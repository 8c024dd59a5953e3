"""A small streaming tar reader of our own (ustar, GNU and PAX headers).

It never holds more than one header extension (bounded) in memory, reports the
offset of every member's data inside the uncompressed stream, and turns every
kind of damage into :class:`TarError` (or :class:`NotTar` when not even the first
header is one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .streams import CHUNK, tar_checksum_ok
from .types import CacheWriteFailed, display_name

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# Bounds on the metadata that header extensions (PAX records, GNU long names) attach to one
# member: past any of them the stream is damage (TarError), so hostile headers cannot pile up
# memory or time. Real archives use a few records and a name of at most PATH_MAX per member.
MAX_EXTENSION = 1 << 20  # bytes of one PAX header or GNU long name/link record
MAX_MEMBER_METADATA = 1 << 20  # bytes of all the extension records before one member, together
MAX_EXTENSION_HEADERS = 32  # extension headers (x, g, L, K) in a row before one member
MAX_PAX_RECORDS = 1024  # PAX records before one member
# The PAX keys the reader uses; the other records are parsed for their framing and dropped.
_PAX_KEYS = frozenset({"path", "linkpath", "size", "uid", "gid", "mtime"})
SPILL_CHUNK = 1 << 20  # write size for spill files


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while len(view):
        n = os.write(fd, view)
        view = view[n:]


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


@dataclass(slots=True)
class TarEntry:
    """One member's header, as the reader yields it (slots: one per member of a large tar)."""

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
    raw_mode: int = 0  # the mode field as stored (may carry file-type bits, as tarfile shows it)


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
    try:  # the common case: octal digits, then NUL and/or spaces
        return int(field.split(b"\0", 1)[0] or b"0", 8)
    except ValueError:
        pass
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


def _pax_records(data: bytes, offset: int, into: dict[str, bytes], budget: int) -> int:
    """Parse one PAX header's records into ``into`` (only the keys the reader uses, and
    ``GNU.sparse`` as a flag); returns how many records it held. More than ``budget``
    records is damage."""
    pos = 0
    count = 0
    end_all = len(data)
    padded = len(data.rstrip(b"\0\n "))  # only padding from here on (one copy, not one per record)
    while pos < padded:
        count += 1
        if count > budget:
            raise TarError(
                f"more than {MAX_PAX_RECORDS} PAX records for one member at byte {offset}: damage or a hostile archive",
                offset,
            )
        sp = data.find(b" ", pos, pos + 21)
        if sp < 0:
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarError(f"corrupt PAX header at byte {offset}", offset) from None
        end = pos + length
        if length <= sp - pos + 1 or end > end_all or data[end - 1 : end] != b"\n":
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        eq = data.find(b"=", sp + 1, end - 1)
        if eq < 0:
            raise TarError(f"corrupt PAX header at byte {offset}", offset)
        key = _decode(data[sp + 1 : eq])
        if key in _PAX_KEYS:
            into[key] = data[eq + 1 : end - 1]
        elif key.startswith("GNU.sparse."):
            into["GNU.sparse"] = b"1"
        pos = end
    return count


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
    also have ``skip(n)`` and the data offsets are checked against ``size``).

    Headers and small member data come out of a read-ahead buffer (a few calls
    into the decompressor per thousand small members instead of one per header);
    large member data is copied straight from the stream in big chunks.
    """

    READAHEAD = 64 * 1024  # for decompressed streams: the bytes are needed anyway
    READAHEAD_SEEKABLE = 8 * 1024  # for plain tars: do not read much member data we skip

    def __init__(self, stream, size: int | None = None) -> None:
        self.stream = stream
        self.size = size
        self.pos = 0  # logical position: bytes of the tar stream consumed so far
        self.entries_seen = 0
        self.ended_cleanly = False
        self._buf = b""
        self._bpos = 0
        self._ahead = self.READAHEAD if size is None else self.READAHEAD_SEEKABLE
        self._readinto = getattr(stream, "readinto", None)

    # -- low level ---------------------------------------------------------
    def _buffered(self) -> int:
        return len(self._buf) - self._bpos

    def _take(self, n: int) -> bytes:
        """Up to ``n`` bytes from the buffer (does not touch the stream)."""
        b, i = self._buf, self._bpos
        if i == 0 and n >= len(b):
            self._buf = b""
            return b
        data = b[i : i + n]
        self._bpos = i + len(data)
        if self._bpos >= len(b):
            self._buf, self._bpos = b"", 0
        return data

    def _read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer at the end of the stream."""
        if n <= 0:
            return b""
        avail = self._buffered()
        if avail >= n:
            data = self._take(n)
            self.pos += n
            return data
        parts: list[bytes] = [self._take(avail)] if avail else []
        got = avail
        while got < n:
            want = n - got
            # small reads fill the read-ahead buffer; larger ones are read as they are
            data = self.stream.read(self._ahead if want < self._ahead // 4 else min(want, CHUNK))
            if not data:
                break
            if len(data) > want:
                parts.append(data[:want])
                self._buf, self._bpos = data, want
                got = n
                break
            parts.append(data)
            got += len(data)
        self.pos += got
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def _skip(self, n: int) -> int:
        if n <= 0:
            return 0
        moved = len(self._take(n)) if self._buffered() else 0
        if self.size is not None:
            if moved < n:
                moved += self.stream.skip(n - moved)
            self.pos += moved
            return moved
        while moved < n:
            data = self.stream.read(min(CHUNK, n - moved))
            if not data:
                break
            moved += len(data)
        self.pos += moved
        return moved

    def _truncated(self, entry: TarEntry, left: int) -> TarError:
        have = entry.size - left
        return TarError(
            f"the archive is truncated inside member '{display_name(entry.name)}' at byte {self.pos} "
            f"({have} of {entry.size} bytes present)",
            self.pos,
        )

    def read_data(self, entry: TarEntry) -> bytes:
        """The entry's data as bytes (call right after the entry is yielded; for small members)."""
        data = self._read(entry.size)
        if len(data) < entry.size:
            raise self._truncated(entry, entry.size - len(data))
        return data

    def copy_data(self, entry: TarEntry, sink: Callable[[bytes], object], tick: Callable[[], None] | None = None) -> None:
        """Feed the entry's data to ``sink`` in chunks (call right after the entry is yielded)."""
        left = entry.size
        if left > 0 and self._buffered():
            data = self._take(left)
            self.pos += len(data)
            left -= len(data)
            sink(data)
        while left > 0:
            data = self.stream.read(min(CHUNK, left))
            if not data:
                raise self._truncated(entry, left)
            self.pos += len(data)
            left -= len(data)
            sink(data)
            if tick is not None:
                tick()

    def copy_data_to_fd(self, entry: TarEntry, fd: int, tick: Callable[[], None] | None = None,
                        cache_spill: bool = False) -> None:
        """Write the entry's data to the file descriptor ``fd`` (a spill file): large
        chunks decompressed into one reused buffer, no per-chunk allocation.

        ``cache_spill``: ``fd`` is in the opt-in cache directory, whose write errors
        are raised as :class:`~.types.CacheWriteFailed` (the open is retried without it).
        """
        if cache_spill:
            try:
                return self.copy_data_to_fd(entry, fd, tick)
            except OSError as exc:
                raise CacheWriteFailed(str(exc)) from exc
        left = entry.size
        if left > 0 and self._buffered():
            data = self._take(left)
            self.pos += len(data)
            left -= len(data)
            _write_all(fd, data)
        if left <= 0:
            return
        if self._readinto is None:  # e.g. the gzip decoder: it hands out new bytes anyway
            while left > 0:
                data = self.stream.read(min(SPILL_CHUNK, left))
                if not data:
                    raise self._truncated(entry, left)
                self.pos += len(data)
                left -= len(data)
                _write_all(fd, data)
                if tick is not None:
                    tick()
            return
        buf = bytearray(min(SPILL_CHUNK, left))
        view = memoryview(buf)
        try:
            while left > 0:
                n = self._readinto(view[: min(len(buf), left)])
                if not n:
                    raise self._truncated(entry, left)
                self.pos += n
                left -= n
                _write_all(fd, view[:n])
                if tick is not None:
                    tick()
        finally:
            view.release()

    # -- entries -----------------------------------------------------------
    def entries(self) -> Iterator[TarEntry]:
        long_name: bytes | None = None
        long_link: bytes | None = None
        pax: dict[str, bytes] = {}
        # what the extension headers before the current member added up to
        ext_headers = ext_bytes = pax_records = 0
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
            if pax and "size" in pax:
                size = _pax_int(pax["size"], size)
            if size < 0:
                raise TarError(f"corrupt tar header at byte {hdr_off} (negative size)", hdr_off)
            data_off = self.pos

            if typeflag in (b"L", b"K", b"x", b"g"):
                if size > MAX_EXTENSION:
                    raise TarError(
                        f"tar header extension of {size} bytes at byte {hdr_off} is too large "
                        f"(at most {MAX_EXTENSION} bytes)", hdr_off
                    )
                ext_headers += 1
                ext_bytes += size
                if ext_headers > MAX_EXTENSION_HEADERS or ext_bytes > MAX_MEMBER_METADATA:
                    raise TarError(
                        f"{ext_headers} tar header extensions ({ext_bytes} bytes) in a row at byte {hdr_off}, "
                        f"more than one member may carry ({MAX_EXTENSION_HEADERS} headers, "
                        f"{MAX_MEMBER_METADATA} bytes): damage or a hostile archive", hdr_off
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
                    pax_records += _pax_records(data, hdr_off, pax, MAX_PAX_RECORDS - pax_records)
                # global PAX headers ("g") carry nothing we use
                continue
            ext_headers = ext_bytes = pax_records = 0

            if long_name is not None:
                raw_name = long_name
            else:
                raw_name = block[0:100].split(b"\0", 1)[0]
                if block[257:263] == b"ustar\x00":
                    prefix = block[345:500].split(b"\0", 1)[0]
                    if prefix:
                        raw_name = prefix + b"/" + raw_name
            if pax:
                name = pax.get("path", raw_name).decode("utf-8", "surrogateescape")
            else:
                name = raw_name.decode("utf-8", "surrogateescape")
            if "linkpath" in pax:
                linkname = _decode(pax["linkpath"])
            elif long_link is not None:
                linkname = _decode(long_link)
            else:
                linkname = block[157:257].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            raw_mode = _number(block[100:108], "mode", hdr_off)
            mode = raw_mode & 0o7777
            uid = _number(block[108:116], "uid", hdr_off)
            gid = _number(block[116:124], "gid", hdr_off)
            mtime: float = _number(block[136:148], "mtime", hdr_off)
            kind = _KINDS.get(typeflag, "other")
            if pax:
                if "uid" in pax:
                    uid = _pax_int(pax["uid"], uid)
                if "gid" in pax:
                    gid = _pax_int(pax["gid"], gid)
                if "mtime" in pax:
                    mtime = _pax_float(pax["mtime"], mtime)
                if "GNU.sparse" in pax:
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
                raw_mode=raw_mode,
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


class _SeekingReader:
    """A seekable binary file seen as ``read(n)`` + ``skip(n)`` over ``size`` bytes from where it is."""

    def __init__(self, f, size: int) -> None:
        self.f = f
        self.size = size
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n < 0 else min(n, left)
        data = self.f.read(n) if n > 0 else b""
        self.pos += len(data)
        return data

    def skip(self, n: int) -> int:
        step = max(0, min(n, self.size - self.pos))
        self.f.seek(step, 1)
        self.pos += step
        return step


def iter_tar(f, size: int | None = None) -> Iterator[tuple[TarEntry, TarReader]]:
    """``(entry, reader)`` for every entry of the tar in the binary file ``f``, in one
    pass; ``reader.read_data(entry)`` gives an entry's bytes if asked for right away.

    With ``size`` (the tar's length from ``f``'s current position; ``f`` seekable) the
    data of entries not asked for is skipped with seek, not read, and
    ``entry.data_offset`` is where the data starts, from that position. Damage raises
    :class:`TarError` (:class:`NotTar` if not even the first header is one) after the
    entries before it were yielded.
    """
    stream = _SeekingReader(f, size) if size is not None else f
    tr = TarReader(stream, size=size)
    for entry in tr.entries():
        yield entry, tr
