"""zstd:chunked and eStargz layers: their table of contents, and members fetched one by one.

A zstd:chunked layer (containers/storage; ``skopeo copy --dest-compress-format zstd:chunked``,
``podman push --compression-format zstd:chunked``) is an ordinary zstd tar stream in which every
file's content starts a new zstd frame (large files: one frame per chunk), followed by a table of
contents: zstd-compressed JSON, whose place the layer descriptor's annotation
``io.containers.zstd-chunked.manifest-position`` (``OFFSET:LENGTH:UNCOMPRESSED:TYPE``) gives and
whose SHA-256 ``...manifest-checksum`` gives. Its entries name each member with its mode, size,
time, the compressed range of its content (``offset``/``endOffset``) and, per chunk, the
uncompressed offset, size and digest.

An eStargz layer (stargz-snapshotter's format) is the same idea in gzip: every file's content (or
chunk) starts a new gzip member, the table of contents is the tar entry ``stargz.index.json`` in a
gzip member of its own, and a 51-byte footer (an empty gzip member whose extra field holds
``%016x`` of the TOC's offset and ``STARGZ``) ends the layer; the descriptor's annotation
``containerd.io/snapshot/stargz/toc.digest`` is the SHA-256 of the TOC's JSON. It is used only
when that annotation is there (so the TOC can be checked).

So the layer's member list costs one or two ranged GETs, and a member costs the ranges of its
chunks; each chunk is checked against its digest when it is decompressed (a mismatch is an error,
the bytes are not used). A layer without (or with an unusable) table of contents is streamed.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import threading
import zlib
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import zstandard

from ..index import Context, Index, normalise, resolve_link
from ..ref import Ref
from ..types import Member, Owner, display_name, human_size
from .blob import RemoteBlob
from .reference import RegistryError

POSITION = ("io.github.containers.zstd-chunked.manifest-position", "io.containers.zstd-chunked.manifest-position")
CHECKSUM = ("io.github.containers.zstd-chunked.manifest-checksum", "io.containers.zstd-chunked.manifest-checksum")
TOC_CAP = 64 << 20  # uncompressed bytes a table of contents may have
CHUNK_CAP = 256 << 20
_KEEP_CHUNKS = 8  # decompressed chunks kept per member (the hex view reads near where it read)


def _annotation(blob: RemoteBlob, keys: tuple[str, ...]) -> str:
    for k in keys:
        v = blob.annotations.get(k)
        if isinstance(v, str) and v:
            return v
    return ""


ESTARGZ_TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest"
ESTARGZ_FOOTER = 51
ESTARGZ_TOC_NAME = "stargz.index.json"


def read_estargz_toc(blob: RemoteBlob) -> list[dict] | None:
    """The entries of an eStargz layer's table of contents (None without the TOC annotation)."""
    want = blob.annotations.get(ESTARGZ_TOC_DIGEST)
    if not isinstance(want, str) or not want or blob.size < ESTARGZ_FOOTER:
        return None
    footer = blob.pread(blob.size - ESTARGZ_FOOTER, ESTARGZ_FOOTER)
    # gzip header with FEXTRA (10 bytes), XLEN 26, subfield "SG" of 22 bytes: %016x + "STARGZ"
    if footer[:4] != b"\x1f\x8b\x08\x04" or footer[10:12] != b"\x1a\x00" or footer[12:14] != b"SG" \
            or footer[16 + 16:16 + 22] != b"STARGZ":
        raise RegistryError(f"layer {blob.digest}: names an eStargz table of contents but has no eStargz footer")
    try:
        toc_off = int(footer[16:32], 16)
    except ValueError:
        raise RegistryError(f"layer {blob.digest}: the eStargz footer is damaged") from None
    end = blob.size - ESTARGZ_FOOTER
    if not 0 <= toc_off < end or end - toc_off > TOC_CAP:
        raise RegistryError(f"layer {blob.digest}: the eStargz table of contents lies outside the layer or is too large")
    try:
        tar = _gunzip(blob.pread(toc_off, end - toc_off), TOC_CAP + 4096)
    except RegistryError:
        raise RegistryError(f"layer {blob.digest}: the eStargz table of contents does not decompress") from None
    from ..tarstream import TarError, iter_tar

    data = None
    try:
        for entry, reader in iter_tar(io.BytesIO(tar)):
            if entry.name == ESTARGZ_TOC_NAME and entry.kind == "file" and entry.size <= TOC_CAP:
                data = reader.read_data(entry)
                break
    except TarError:
        data = None
    if data is None:
        raise RegistryError(f"layer {blob.digest}: the eStargz table of contents holds no {ESTARGZ_TOC_NAME}")
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if got != want:
        raise RegistryError(f"layer {blob.digest}: its table of contents hashes to {got}, not to the {want} "
                            "the manifest names; nothing of it is used")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"layer {blob.digest}: the eStargz table of contents is not JSON: {exc}") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(f"layer {blob.digest}: the eStargz table of contents has no entries")
    entries = [e for e in entries if isinstance(e, dict)]
    # a gzip member ends where the next one a TOC entry names starts (or at the TOC)
    starts = sorted({int(e["offset"]) for e in entries if isinstance(e.get("offset"), int) and e["offset"] > 0}
                    | {toc_off})
    for e in entries:
        off = e.get("offset")
        if isinstance(off, int) and off > 0:
            i = bisect.bisect_right(starts, off)
            e["_end"] = starts[i] if i < len(starts) else toc_off
    return entries


def _gunzip(raw: bytes, cap: int) -> bytes:
    """The first gzip member of ``raw`` (at most ``cap`` bytes out)."""
    d = zlib.decompressobj(31)
    try:
        out = d.decompress(raw, cap)
    except zlib.error as exc:
        raise RegistryError(f"corrupt gzip data: {exc}") from None
    return out


def read_toc(blob: RemoteBlob) -> list[dict] | None:
    """The entries of the layer's table of contents; None when it has none (RegistryError when it
    has one that is damaged or does not match its checksum)."""
    pos = _annotation(blob, POSITION)
    if not pos:
        return None
    try:
        offset, length, ulen, kind = (int(x) for x in pos.split(":"))
    except ValueError:
        raise RegistryError(f"layer {blob.digest}: bad zstd:chunked manifest-position {pos!r}") from None
    if kind != 1:
        return None  # another manifest type: stream the layer
    if offset < 0 or length <= 0 or offset + length > blob.size or not 0 < ulen <= TOC_CAP:
        raise RegistryError(f"layer {blob.digest}: the zstd:chunked table of contents at {pos!r} lies outside "
                            f"the layer's {blob.size:,} bytes or is too large")
    data = blob.pread(offset, length)
    want = _annotation(blob, CHECKSUM)
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if want and got != want:
        raise RegistryError(f"layer {blob.digest}: its table of contents hashes to {got}, not to the {want} "
                            "the manifest names; nothing of it is used")
    try:
        raw = zstandard.ZstdDecompressor().decompress(data, max_output_size=ulen)
        doc = json.loads(raw)
    except (zstandard.ZstdError, ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"layer {blob.digest}: the zstd:chunked table of contents is damaged: {exc}") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(f"layer {blob.digest}: the zstd:chunked table of contents has no entries")
    return [e for e in entries if isinstance(e, dict)]


class ChunkedMember:
    """A file of a zstd:chunked layer: ``pread`` decompresses the chunks it needs (checked against
    their digests); ``ensure`` of the whole file writes it to a spill file, ``held`` then maps it."""

    def __init__(self, blob: RemoteBlob, name: str, size: int, parts: list[tuple[int, int, int, int, str, int]],
                 ctx: Context, fmt: str = "zstd") -> None:
        self.blob = blob
        self.fmt = fmt  # "zstd" (zstd:chunked) or "gzip" (eStargz)
        self.name = name
        self.size = size
        self.parts = parts  # (uncompressed offset, size, compressed start, compressed end, digest, inner offset)
        self._ctx = ctx
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._spill: Path | None = None
        self._lock = threading.RLock()  # the UI reads pages while a search worker fetches

    def pread(self, offset: int, n: int) -> bytes:
        with self._lock:
            return self._pread(offset, n)

    def ensure(self, start: int, end: int) -> None:
        with self._lock:
            self._ensure(start, end)

    def _chunk(self, i: int) -> bytes:
        got = self._cache.get(i)
        if got is not None:
            self._cache.move_to_end(i)
            return got
        uoff, usize, cstart, cend, digest, inner = self.parts[i]
        raw = self.blob.pread(cstart, cend - cstart)
        try:
            if self.fmt == "gzip":
                data = _gunzip(raw, inner + usize + 1)[inner:]
            else:
                reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True)
                data = reader.read(inner + usize + 1)[inner:]
        except (zstandard.ZstdError, RegistryError) as exc:
            raise RegistryError(f"{display_name(self.name)}: its chunk at byte {uoff:,} does not decompress "
                                f"({exc}); nothing of it is used") from None
        if self.fmt == "gzip" and len(data) > usize:  # the member also holds the tar padding after it
            data = data[:usize]
        if len(data) != usize:
            raise RegistryError(f"{display_name(self.name)}: its chunk at byte {uoff:,} holds {len(data):,} bytes, "
                                f"the table of contents says {usize:,}; nothing of it is used")
        if digest.startswith("sha256:") and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryError(f"{display_name(self.name)}: its chunk at byte {uoff:,} does not match its digest "
                                "in the table of contents; nothing of it is used")
        self._cache[i] = data
        while len(self._cache) > _KEEP_CHUNKS:
            self._cache.popitem(last=False)
        return data

    def _index_of(self, offset: int) -> int:
        lo, hi = 0, len(self.parts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.parts[mid][0] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _pread(self, offset: int, n: int) -> bytes:
        end = min(self.size, offset + max(0, n))
        if offset >= end:
            return b""
        if self._spill is not None:
            with open(self._spill, "rb") as f:
                f.seek(offset)
                return f.read(end - offset)
        out = bytearray()
        i = self._index_of(offset)
        j = self._index_of(end - 1)
        self.blob.ensure(self.parts[i][2], self.parts[j][3])  # the chunks' compressed bytes: one pass
        pos = offset
        while pos < end and i < len(self.parts):
            uoff, usize = self.parts[i][0], self.parts[i][1]
            data = self._chunk(i)
            out += data[pos - uoff: min(end, uoff + usize) - uoff]
            pos = uoff + usize
            i += 1
        return bytes(out)

    def _ensure(self, start: int, end: int) -> None:
        if self._spill is not None or start > 0 or end < self.size:
            return
        path = self._ctx.spill_path()
        if self.parts:
            self.blob.ensure(self.parts[0][2], self.parts[-1][3])  # every chunk in a few ranged GETs
        with open(path, "wb") as f:
            for i in range(len(self.parts)):
                f.write(self._chunk(i))
                self._cache.pop(i, None)
        self._spill = path

    def held(self, offset: int, n: int) -> tuple[Path, int, int] | None:
        return (self._spill, offset, n) if self._spill is not None else None


def _mtime(text: object) -> float:
    if not isinstance(text, str) or not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _parts(entry: dict, chunks: list[dict]) -> list[tuple[int, int, int, int, str, int]]:
    """The chunks of a file (the ``reg`` entry is its first), each with its compressed range:
    zstd:chunked gives the file's ``endOffset``, eStargz the start of the next gzip member (``_end``)."""
    size = int(entry.get("size") or 0)
    first_size = int(entry.get("chunkSize") or 0) or (size if not chunks else int(chunks[0].get("chunkOffset") or 0))
    first = (0, first_size, int(entry["offset"]), str(entry.get("chunkDigest") or entry.get("digest") or ""),
             int(entry.get("innerOffset") or 0), entry.get("_end"))
    rows = [first] + [(int(c.get("chunkOffset") or 0), int(c.get("chunkSize") or 0), int(c["offset"]),
                       str(c.get("chunkDigest") or ""), int(c.get("innerOffset") or 0), c.get("_end")) for c in chunks]
    parts = []
    for j, (uoff, usize, cstart, digest, inner, own_end) in enumerate(rows):
        if isinstance(own_end, int):
            cend = own_end
        else:
            cend = rows[j + 1][2] if j + 1 < len(rows) else int(entry["endOffset"])
        if usize == 0 and j + 1 == len(rows):
            usize = size - uoff
        parts.append((uoff, usize, cstart, cend, digest, inner))
    return parts


def index_from_toc(ctx: Context, ix: Index, blob: RemoteBlob, fmt: str, *, prefix: str, where: str) -> bool:
    """Index ``blob`` from its table of contents; False when it has none (stream it instead)."""
    entries = read_toc(blob) if fmt == "zstd" else read_estargz_toc(blob)
    if entries is None:
        return False
    chunks: dict[str, list[dict]] = {}
    for e in entries:
        if e.get("type") == "chunk" and isinstance(e.get("name"), str):
            chunks.setdefault(e["name"], []).append(e)
    total = 0
    for e in entries:
        kind, raw = e.get("type"), e.get("name")
        if kind == "chunk" or not isinstance(raw, str) or (fmt == "gzip" and raw == ESTARGZ_TOC_NAME):
            continue
        if ix.full():
            break
        norm, why = normalise(raw)
        if norm is None:
            ctx.problem(display_name(raw), f"skipped: unsafe member name ({why})")
            continue
        if norm == "":
            continue
        name = prefix + norm
        common = Owner(mode=int(e.get("mode") or 0) & 0o7777, mtime=_mtime(e.get("modtime")),
                       uid=int(e.get("uid") or 0), gid=int(e.get("gid") or 0))
        link = str(e.get("linkName") or "")
        if kind == "dir":
            ix.add(Member(name, 0, "dir", **common))
        elif kind == "reg":
            size = int(e.get("size") or 0)
            total += size
            if total > ctx.limits.max_total_bytes:
                ctx.problem(where, f"stopped after {human_size(ctx.limits.max_total_bytes)} of members (the "
                                   "--max-size bound); the rest are not shown")
                break
            try:
                parts = _parts(e, chunks.get(raw, [])) if size else []
            except (KeyError, ValueError, TypeError):
                ctx.problem(display_name(name), "its table-of-contents entry has no usable offsets: no data")
                ix.add(Member(name, size, "other", **common))
                continue
            member = ChunkedMember(blob, name, size, parts, ctx, fmt)
            ref = Ref(size=0, data=b"") if not size else Ref(size=size, remote=member)
            ix.add(Member(name, size, "file", **common), ref)
        elif kind == "symlink":
            if resolve_link(name, link) is None:
                ctx.problem(display_name(name), f"skipped: symbolic link pointing outside the archive "
                                                f"({display_name(link)})")
                continue
            ix.add(Member(name, 0, "symlink", linkname=link, **common))
        elif kind == "hardlink":
            tnorm, _ = normalise(link)
            target = prefix + tnorm if tnorm else ""
            if target not in ix.members or target not in ix.refs:
                ctx.problem(display_name(name), f"skipped: hard link to {display_name(link)}, which is not a "
                                                "file earlier in the archive")
                continue
            ix.add(Member(name, ix.members[target].size, "hardlink", linkname=target, **common), ix.refs[target])
        else:
            ctx.problem(display_name(name), f"{kind} entry: recorded without data", "warning")
            ix.add(Member(name, 0, "other", **common))
    return True
