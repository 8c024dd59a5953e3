"""Byte streams for the indexer: magic sniffing, bounded gzip/zstd decoding, ranges.

Decoders hand out at most the number of bytes asked for, whatever the compression
ratio, so memory stays bounded; every byte they produce is charged to a
:class:`Budget` that stops decompression bombs.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from typing import BinaryIO, Protocol

import zstandard

from .types import Limits, display_name, human_size

try:  # optional: zlib-ng inflates gzip ~2x faster than zlib, with the same API
    from zlib_ng import zlib_ng as _inflate  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - the usual case
    _inflate = zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER_MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"PK\x03\x04", "zip"),
    (b"\x5d\x00\x00", "lzma"),
)
CHUNK = 256 * 1024
# Concatenated gzip members are legal (``cat a.gz b.gz``, BGZF writes one per 64 KiB of data:
# 8 GiB is 131,072 members); past this many the stream is treated as damaged.
MAX_GZIP_MEMBERS = 500_000


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class StreamError(Exception):
    """Compressed data is corrupt or ends early."""


class LimitHit(Exception):
    """A bound of :class:`Limits` was reached; the message says which and how to raise it."""


# -- sniffing ---------------------------------------------------------------


_ZERO_BLOCK = bytes(512)
_LOW_BYTES = bytes(range(128))


def _byte_sum(block: bytes) -> int:
    """sum(block) for a 512-byte block, five times faster: Adler-32's first half is
    1 + the byte sum modulo 65521, and 256 bytes sum to at most 65280, so each half is exact."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:512]) & 0xFFFF) - 2


def tar_checksum_ok(block: bytes) -> bool:
    """True when ``block`` (512 bytes) is a tar header with a valid checksum."""
    if len(block) < 512:
        return False
    if len(block) > 512:
        block = block[:512]
    if block == _ZERO_BLOCK:
        return False
    field = block[148:156].split(b"\0", 1)[0].strip(b" ")
    try:
        stored = int(field, 8) if field else -1
    except ValueError:
        return False
    # the checksum field itself counts as eight spaces
    unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 0x20
    if stored == unsigned:
        return True
    # some old tars summed signed chars: every byte > 127 counts 256 less
    high = len(block[:148].translate(None, _LOW_BYTES)) + len(block[156:].translate(None, _LOW_BYTES))
    return stored == unsigned - 256 * high


def sniff(head: bytes) -> str:
    """Name the format of data from its first bytes (at least 512 for tar).

    Returns "gzip", "zstd", "tar", "empty", "empty-tar" (a first block of zeros: the end of a
    tar that holds no members), one of "xz"/"bzip2"/"zip"/"lzma", or "unknown".
    """
    if not head:
        return "empty"
    if len(head) >= 512 and not head[:512].strip(b"\0"):
        return "empty-tar"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[257:262] == b"ustar" or tar_checksum_ok(head[:512]):
        return "tar"
    for magic, name in _OTHER_MAGICS:
        if head.startswith(magic):
            return name
    return "unknown"


# -- budget and progress ----------------------------------------------------


class Budget:
    """Counts the uncompressed bytes produced for one source against :class:`Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0

    def charge(self, n: int, produced: int, consumed: int) -> None:
        """Charge ``n`` new bytes; ``produced``/``consumed`` are the decoder's own totals."""
        self.total += n
        lim = self.limits
        if self.total > lim.max_total_bytes:
            raise LimitHit(
                f"stopped after {human_size(lim.max_total_bytes)} of uncompressed data, the limit "
                f"for one checkpoint (a decompression-bomb guard); members past this point are "
                f"not shown. {self._raise_it()}"
            )
        ratio = lim.effective_ratio()
        if ratio and produced > lim.ratio_after and produced > ratio * max(consumed, 1):
            raise LimitHit(
                f"stopped after {human_size(produced)} of uncompressed data expanded from only "
                f"{human_size(consumed)} (over {ratio}:1): this looks like a decompression bomb; "
                f"members past this point are not shown. {self._ratio_off()}"
            )

    def declare(self, name: str, size: int, declared: int, compressed: int) -> None:
        """A tar header in a compressed stream says ``size`` bytes of data follow (``declared``:
        all the stream's headers said so far, ``compressed``: the stream's compressed size).

        Raises :class:`LimitHit` *before* decompressing them when they cannot fit: past
        ``max_total_bytes``, or more than the bomb ratio allows even if the rest of the
        compressed stream held nothing else (a bomb is told by its headers, not after
        gigabytes were inflated). The streaming checks of :meth:`charge` would stop the
        same stream later, so nothing genuine is refused that was accepted before."""
        lim = self.limits
        if self.total + size > lim.max_total_bytes:
            raise LimitHit(
                f"member '{display_name(name[:300])}' declares {human_size(size)}, past the limit of "
                f"{human_size(lim.max_total_bytes)} of uncompressed data for one checkpoint (a "
                f"decompression-bomb guard, checked before inflating it); it and the members after "
                f"it are not shown. {self._raise_it()}"
            )
        ratio = lim.effective_ratio()
        if ratio and declared > lim.ratio_after and declared > ratio * max(compressed, 1):
            shown = display_name(name[:300])
            raise LimitHit(
                f"the members up to '{shown}' declare {human_size(declared)} of data held in only "
                f"{human_size(compressed)} of compressed data (over {ratio}:1): this looks like a "
                f"decompression bomb (told by its headers, before inflating it); '{shown}' and the "
                f"members after it are not shown. {self._ratio_off()}"
            )

    def _raise_it(self) -> str:
        return (f"Raise the limit with --max-size (e.g. --max-size {_suggest(self.limits.max_total_bytes)}) "
                f"if the archive is genuine")

    def _ratio_off(self) -> str:
        return (f"If the archive is genuine, open it with an explicit --max-size (e.g. --max-size "
                f"{_suggest(self.limits.max_total_bytes)}), which turns this ratio check off")


def _suggest(current: int) -> str:
    gib = max(1, (current * 2) // (1 << 30))
    return f"{gib}G"


class Progress:
    """Calls ``callback(done, total, name)`` at most every ``interval`` seconds."""

    def __init__(self, callback: Callable[[int, int, str], object] | None, total: int, interval: float = 0.1):
        self.callback = callback
        self.total = total
        self.interval = interval
        self._last = 0.0
        self.done = 0

    def update(self, done: int, name: str, force: bool = False) -> None:
        if self.callback is None:
            return
        self.done = max(self.done, done)
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            self.callback(min(self.done, self.total) if self.total else self.done, self.total, name)


# -- raw readers ------------------------------------------------------------


class RangeReader:
    """Sequential, seekable reader over ``size`` bytes of an open file from ``start``."""

    def __init__(self, f: BinaryIO, start: int, size: int) -> None:
        self.f = f
        self.start = start
        self.size = size
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        if n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        data = os.pread(self.f.fileno(), n, self.start + self.pos)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> int:
        """Move forward ``n`` bytes (not past the end); returns how far it moved."""
        step = max(0, min(n, self.size - self.pos))
        self.pos += step
        return step

    @property
    def consumed(self) -> int:
        return self.pos


class _Counting:
    """Wraps a reader, counts bytes read and shows them to an observer."""

    def __init__(self, raw: Readable, observer: Callable[[bytes], None] | None = None) -> None:
        self.raw = raw
        self.count = 0
        self.observer = observer

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        if self.observer is not None and data:
            self.observer(data)
        return data


# -- decoders ---------------------------------------------------------------


class GzipDecoder:
    """Bounded-output gzip reader (multi-member, zero padding after the last member tolerated)."""

    name = "gzip"

    def __init__(self, raw: Readable, budget: Budget) -> None:
        self.raw = raw
        self.budget = budget
        self.consumed = 0
        self.produced = 0
        self._d: zlib._Decompress | None = _inflate.decompressobj(31)
        self._pending = b""
        self._eof = False
        self.trailing_garbage = False
        self.members = 0  # gzip members that ended so far

    def _fill(self) -> bool:
        chunk = self.raw.read(CHUNK)
        self.consumed += len(chunk)
        self._pending += chunk
        return bool(chunk)

    def read(self, n: int) -> bytes:
        while not self._eof:
            if self._d is None:  # between members
                self._pending = self._pending.lstrip(b"\0")
                while len(self._pending) < 2:
                    if not self._fill():
                        break
                    self._pending = self._pending.lstrip(b"\0")
                if not self._pending:
                    self._eof = True
                    break
                if not self._pending.startswith(GZIP_MAGIC):
                    self.trailing_garbage = True
                    self._eof = True
                    break
                self._d = _inflate.decompressobj(31)
            if not self._pending and not self._fill():
                raise StreamError(
                    f"the gzip stream ends early (truncated) after {self.consumed} compressed bytes"
                )
            try:
                out = self._d.decompress(self._pending, n)
            except (zlib.error, _inflate.error) as exc:
                raise StreamError(f"corrupt gzip data near compressed byte {self.consumed}: {exc}") from None
            if self._d.eof:
                # the member ended: what follows it is in unused_data. (When the output limit
                # is reached right at a member's end, CPython's zlib leaves the same bytes in
                # unconsumed_tail too; joining both doubled the rest of the stream at every
                # member: exponential time and memory over a stream of many members.)
                self._pending = self._d.unused_data
                self._d = None
                self.members += 1
                if self.members > MAX_GZIP_MEMBERS:
                    raise StreamError(
                        f"the gzip stream holds more than {MAX_GZIP_MEMBERS:,} members (concatenated gzip "
                        f"streams), more than any archive writer makes; reading stopped there"
                    )
            else:
                self._pending = self._d.unconsumed_tail
            if out:
                self.produced += len(out)
                self.budget.charge(len(out), self.produced, self.consumed)
                return out
        return b""


class ZstdFrameWalker:
    """Follows zstd frame and block headers without decoding, to tell whether a
    stream ended at a frame boundary (python-zstandard's readers end quietly on
    truncated input)."""

    _NEED = {"magic": 4, "skipsize": 4, "fhd": 1, "block": 3}

    def __init__(self) -> None:
        self.state = "magic"
        self.buf = bytearray()
        self.skip = 0
        self.frames = 0
        self.bad: str | None = None
        self._checksum = 0
        self._in_frame = False

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n and self.bad is None:
            if self.skip:
                take = min(self.skip, n - i)
                self.skip -= take
                i += take
                continue
            need = self._NEED[self.state]
            if not self.buf and n - i >= need:  # the whole header is here: no copying
                self._step(data[i : i + need])
                i += need
                continue
            take = min(need - len(self.buf), n - i)
            self.buf += data[i : i + take]
            i += take
            if len(self.buf) < need:
                break
            self._step(bytes(self.buf))
            self.buf.clear()

    def _step(self, b: bytes) -> None:
        if self.state == "magic":
            magic = int.from_bytes(b, "little")
            if magic == 0xFD2FB528:
                self.state = "fhd"
                self._in_frame = True
            elif magic & 0xFFFFFFF0 == 0x184D2A50:
                self.state = "skipsize"
                self._in_frame = True
            else:
                self.bad = "data after the zstd stream is not a zstd frame"
        elif self.state == "skipsize":
            self.skip = int.from_bytes(b, "little")
            self.state = "magic"
            self._in_frame = False
        elif self.state == "fhd":
            fhd = b[0]
            if fhd & 0x08:
                self.bad = "bad zstd frame header"
                return
            single = (fhd >> 5) & 1
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            did = (0, 1, 2, 4)[fhd & 3]
            self._checksum = 4 if fhd & 0x04 else 0
            self.skip = (0 if single else 1) + did + fcs
            self.state = "block"
        else:  # block header
            hdr = int.from_bytes(b, "little")
            last, btype, bsize = hdr & 1, (hdr >> 1) & 3, hdr >> 3
            if btype == 3:
                self.bad = "bad zstd block type"
                return
            self.skip = 1 if btype == 1 else bsize
            if last:
                self.skip += self._checksum
                self.state = "magic"
                self.frames += 1
                self._in_frame = False

    @property
    def complete(self) -> bool:
        return self.bad is None and self.frames > 0 and not self._in_frame and not self.buf and not self.skip


class ZstdDecoder:
    """Bounded-output zstd reader (several frames allowed) that detects truncation."""

    name = "zstd"

    def __init__(self, raw: Readable, budget: Budget) -> None:
        self.budget = budget
        self.walker = ZstdFrameWalker()
        self._counting = _Counting(raw, self.walker.feed)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            self._counting,  # type: ignore[arg-type]  # any object with read() will do; the stub wants IO[bytes]
            read_size=CHUNK, read_across_frames=True, closefd=False,
        )
        self.produced = 0
        self._eof = False

    @property
    def consumed(self) -> int:
        return self._counting.count

    def read(self, n: int) -> bytes:
        if self._eof:
            return b""
        try:
            out = self._reader.read(n)
        except zstandard.ZstdError as exc:
            raise StreamError(f"corrupt zstd data near compressed byte {self.consumed}: {exc}") from None
        if not out:
            self._finish()
            return b""
        self.produced += len(out)
        self.budget.charge(len(out), self.produced, self.consumed)
        return out

    def readinto(self, b) -> int:
        """Decompress into the writable buffer ``b`` (no new bytes object); 0 at the end."""
        if self._eof:
            return 0
        try:
            n = self._reader.readinto(b)
        except zstandard.ZstdError as exc:
            raise StreamError(f"corrupt zstd data near compressed byte {self.consumed}: {exc}") from None
        if not n:
            self._finish()
            return 0
        self.produced += n
        self.budget.charge(n, self.produced, self.consumed)
        return n

    def _finish(self) -> None:
        self._eof = True
        # drain what the decoder did not ask for, so the walker sees the whole stream
        while self._counting.read(CHUNK):
            if self.walker.bad:
                break
        if not self.walker.complete:
            why = self.walker.bad or "it ends early (truncated)"
            raise StreamError(f"the zstd stream is incomplete: {why}, after {self.consumed} compressed bytes")


def make_decoder(fmt: str, raw: Readable, budget: Budget) -> GzipDecoder | ZstdDecoder:
    if fmt == "gzip":
        return GzipDecoder(raw, budget)
    if fmt == "zstd":
        return ZstdDecoder(raw, budget)
    raise ValueError(fmt)  # pragma: no cover
