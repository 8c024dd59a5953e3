"""Hostile inputs for the archive layer and the CRIU decoder (issue #19), made by a script.

Every case is derived at run time from a real fixture (``web-httpd.tar.zst``, the podman
checkpoint image) with the project's own readers and image writer, or built from raw tar
headers; nothing here is a committed binary. Each case is small on disk (at most a few MB,
most of it compressing to almost nothing) and stands for a class of the held-out set that
broke the README's promises: a gzip stream of many members, a quarter of a million members,
an OCI index that fans out or names itself, a checkpoint directory of FIFOs and links to
blocking files, decompression bombs, header extensions that pile up, images full of empty
entries, absurd core images.

``python -m tests.hostile_corpus OUTDIR`` writes every case under ``OUTDIR/<name>/``
(``tests/hostile_run.py`` runs the CLI commands on them; ``bench/hostile.py`` times them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zstandard

from ckpt_tui.criu import MAGIC_VALUES
from ckpt_tui.criu.magic import HEAD_COMMON
from tests.archive_corpus import DATA, plain_tar_bytes, read_tar_members, reference_contents
from tests.corpus import load_img, save_img, unpack

FIXTURE = "web-httpd.tar.zst"  # a real podman checkpoint: pids 1, 10, 13
MTIME = 1_700_000_000


# -- raw tar ----------------------------------------------------------------------------------


def header(name: bytes | str, size: int = 0, typeflag: bytes = b"0", linkname: bytes = b"", mode: int = 0o644) -> bytes:
    """One GNU tar header block with a valid checksum, written directly (tarfile takes 20 us
    a header; a case of 260,000 members is made in about a second this way)."""
    raw = name.encode() if isinstance(name, str) else name
    h = bytearray(512)
    h[0 : len(raw[:100])] = raw[:100]
    h[100:108] = b"%07o\0" % mode
    h[108:116] = h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b"        "
    h[156:157] = typeflag
    h[157 : 157 + len(linkname[:100])] = linkname[:100]
    h[257:265] = b"ustar  \0"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def member(name: str, data: bytes, typeflag: bytes = b"0") -> bytes:
    return header(name, len(data), typeflag) + data + bytes(-len(data) % 512)


def extension(kind: bytes, data: bytes) -> bytes:
    """A header extension (``x`` PAX, ``L`` GNU long name, ...) carrying ``data``."""
    return member("././@LongLink" if kind in (b"L", b"K") else "././@PaxHeader", data, kind)


def pax_record(key: bytes, value: bytes) -> bytes:
    """``"<length> key=value\n"``, the length counting its own digits."""
    body = b" %s=%s\n" % (key, value)
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


END = bytes(1024)


def real_members() -> bytes:
    """Every file of the real checkpoint as tar members (directories implied by the names)."""
    return b"".join(member(name, data) for name, data in reference_contents(FIXTURE).items())


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)


def zst_stream(parts) -> bytes:
    """zstd of the concatenation of ``parts`` (an iterable of bytes), never all held at once."""
    cctx = zstandard.ZstdCompressor(level=1, write_checksum=True)
    chunker = cctx.chunker(chunk_size=1 << 20)
    out = bytearray()
    for part in parts:
        for chunk in chunker.compress(part):
            out += chunk
    for chunk in chunker.finish():
        out += chunk
    return bytes(out)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- the archive layer --------------------------------------------------------------------------


def gzip_members(d: Path, count: int = 1000) -> Path:
    """The real checkpoint's tar as ``count`` concatenated gzip members (cut anywhere, even
    inside headers): legal gzip; before the fix each member's end doubled the rest."""
    plain = plain_tar_bytes(FIXTURE)
    step = -(-len(plain) // count)
    return _write(d / "gzip-members.tar.gz", b"".join(
        gzip.compress(plain[i : i + step], mtime=0) for i in range(0, len(plain), step)))


def many_members(d: Path, count: int = 260_000) -> Path:
    """The real checkpoint, then ``count`` empty members (4 bytes each when compressed)."""
    def parts():
        yield real_members()
        for i in range(count):
            yield header(f"junk/{i:07d}")
        yield END
    return _write(d / "many-members.tar.zst", zst_stream(parts()))


def _oci_files() -> dict[str, bytes]:
    return read_tar_members((DATA / "podman-checkpoint-image.oci.tar").read_bytes())


def _index(descs: list[dict]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": descs}).encode()


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


INDEX_MT = "application/vnd.oci.image.index.v1+json"


def oci_fanout(d: Path, width: int = 100) -> Path:
    """index.json names ``width`` indexes, each naming all ``width`` of them: ``width**6``
    paths to the depth bound, and no checkpoint anywhere."""
    files = {k: v for k, v in _oci_files().items() if k in ("oci-layout",)}
    digests = [_digest(f"fan-{i}") for i in range(width)]
    level = _index([{"mediaType": INDEX_MT, "digest": dg, "size": 1} for dg in digests])
    for dg in digests:
        files["blobs/sha256/" + dg.split(":")[1]] = level
    files["index.json"] = level
    return _write(d / "oci-fanout.oci.tar", b"".join(member(n, v) for n, v in files.items()) + END)


def oci_cycle(d: Path, loops: int = 50) -> Path:
    """An index blob that names itself ``loops`` times before the real checkpoint manifest
    (blob names are not checked against their contents, so a blob can name itself)."""
    files = _oci_files()
    top = json.loads(files["index.json"])
    real = top["manifests"][0]
    self_digest = _digest("cycle")
    me = {"mediaType": INDEX_MT, "digest": self_digest, "size": 1}
    files["blobs/sha256/" + self_digest.split(":")[1]] = _index([me] * loops + [real])
    files["index.json"] = _index([me])
    return _write(d / "oci-cycle.oci.tar", b"".join(member(n, v) for n, v in files.items()) + END)


def dir_fifos(d: Path) -> Path:
    """An unpacked checkpoint whose members are FIFOs (no writer: opening one blocks) or
    links to a FIFO outside it (as a link to /proc/kmsg would block a reader); next to it,
    an "archive" that is a FIFO and one that is a link to one, for ``list``."""
    root = unpack(FIXTURE, d / "fifo-checkpoint")
    outside = d / "outside"
    outside.mkdir()
    fifo = outside / "fifo"
    os.mkfifo(fifo)
    for name in ("config.dump", "checkpoint/pstree.img", "checkpoint/pages-1.img"):
        (root / name).unlink()
        os.mkfifo(root / name)
    for name in ("spec.dump", "checkpoint/inventory.img", "checkpoint/core-1.img"):
        (root / name).unlink()
        (root / name).symlink_to(fifo)
    (root / "dump.log").unlink(missing_ok=True)
    (root / "dump.log").symlink_to(fifo)
    os.mkfifo(d / "fifo.tar.zst")
    (d / "link.tar").symlink_to(fifo)
    return root


def ratio_bomb(d: Path, size: int = 1 << 30) -> Path:
    """A real checkpoint whose pages member is ``size`` zero bytes: some 30 KB of zstd
    (a ratio of 30,000:1). Its header says so before any of it is inflated."""
    head = real_members()
    zero = bytes(1 << 20)

    def parts():
        yield head
        yield header("checkpoint/pages-9.img", size)
        for _ in range(size >> 20):
            yield zero
        yield END
    return _write(d / "ratio-bomb.tar.zst", zst_stream(parts()))


def total_bomb(d: Path, size: int = 9 << 30) -> Path:
    """A member declaring more than the 8 GiB bound for one checkpoint; only 4 MiB of its
    zeros follow before the stream ends."""
    def parts():
        yield real_members()
        yield header("checkpoint/pages-9.img", size)
        yield bytes(4 << 20)
    return _write(d / "total-bomb.tar.zst", zst_stream(parts()))


def pax_pileup(d: Path, headers: int = 200, value: int = 200_000) -> Path:
    """``headers`` PAX headers in a row before one member, each a record of its own key
    with a ``value``-byte value: kept whole they piled up into one dict (1.5 GB on the
    held-out case)."""
    def pax(n: int) -> bytes:
        return pax_record(b"SCHILY.xattr.user.k%d" % n, b"v" * value)

    def parts():
        yield real_members()
        for n in range(headers):
            yield extension(b"x", pax(n))
        yield member("checkpoint/after-the-pile.img", b"x")
        yield END
    return _write(d / "pax-pileup.tar.zst", zst_stream(parts()))


def pax_records(d: Path, records: int = 200_000) -> Path:
    """One PAX header of ``records`` tiny records (``5 a=\\n``): reading each record used to
    copy the rest of the header (200,000 copies of up to 1 MiB)."""
    def parts():
        yield real_members()
        yield extension(b"x", b"5 a=\n" * records)
        yield member("checkpoint/after-the-records.img", b"x")
        yield END
    return _write(d / "pax-records.tar.zst", zst_stream(parts()))


def long_names(d: Path, count: int = 1000, length: int = 64 << 10) -> Path:
    """``count`` members whose GNU long names are ``length`` bytes each, then a chain of
    long names longer than any member may carry."""
    def parts():
        yield real_members()
        for i in range(count):
            yield extension(b"L", b"n/" + b"a" * length + b"%d\0" % i)
            yield header("ignored", 0)
        for _ in range(64):  # a chain of long names before one member
            yield extension(b"L", b"b" * 1000 + b"\0")
        yield header("ignored", 0)
        yield END
    return _write(d / "long-names.tar.zst", zst_stream(parts()))


# -- the CRIU decoder ---------------------------------------------------------------------------


def _empty_entries(kind: str, count: int) -> bytes:
    return struct.pack("<II", HEAD_COMMON, MAGIC_VALUES[kind]) + bytes(4 * count)


def _as_archive(root: Path, dest: Path) -> Path:
    """The checkpoint directory ``root`` as a tar.zst (members in name order); ``root`` is
    removed (only the archive is the case)."""
    def parts():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield member(path.relative_to(root).as_posix(), path.read_bytes())
        yield END
    _write(dest, zst_stream(parts()))
    shutil.rmtree(root)
    return dest


def empty_entries(d: Path, count: int = 2_000_000) -> Path:
    """files.img, fdinfo-2.img and pagemap-1.img each holding ``count`` zero-length entries
    (8 MB of framing each, a few KB compressed): 6-7 GB of decoded messages before; CRIU
    writes no entry lacking its required fields, so past a few of them nothing is decoded."""
    root = unpack(FIXTURE, d / "unpacked")
    for name, kind in (("files.img", "FILES"), ("fdinfo-2.img", "FDINFO"), ("pagemap-1.img", "PAGEMAP")):
        (root / "checkpoint" / name).write_bytes(_empty_entries(kind, count))
    return _as_archive(root, d / "empty-entries.tar.zst")


def tiny_entries(d: Path, count: int = 300_000) -> Path:
    """pagemap-1.img holding ``count`` valid entries of 6 bytes each (one page every 8 KiB,
    none dumped): more than an image is decoded."""
    root = unpack(FIXTURE, d / "unpacked")
    img = load_img(root, "pagemap-1.img")
    cls = type(img.entries[1].message)
    entries = [img.entries[0].message]
    entries += [cls(vaddr=0x10000000000 + i * 0x2000, compat_nr_pages=1) for i in range(count)]
    save_img(root, "pagemap-1.img", img, entries)
    return _as_archive(root, d / "tiny-entries.tar.zst")


def core_many_entries(d: Path, count: int = 20_000) -> Path:
    """core-1.img holding ``count`` copies of its real entry (CRIU writes one)."""
    root = unpack(FIXTURE, d / "unpacked")
    img = load_img(root, "core-1.img")
    save_img(root, "core-1.img", img, [img.entries[0].message] * count)
    return _as_archive(root, d / "core-many-entries.tar.zst")


def core_cap_words(d: Path, words: int = 150_000) -> Path:
    """core-1.img whose effective capability set is ``words`` 32-bit words (CRIU writes 2);
    joining them into one integer was quadratic (~110 s on every command)."""
    root = unpack(FIXTURE, d / "unpacked")
    img = load_img(root, "core-1.img")
    img.entries[0].message.thread_core.creds.cap_eff.extend([0xFFFFFFFF] * words)
    save_img(root, "core-1.img", img)
    return _as_archive(root, d / "core-cap-words.tar.zst")


def core_huge_entry(d: Path, groups: int = 400_000) -> Path:
    """core-1.img whose one entry is some 2 MiB (``groups`` supplementary groups); a real
    core entry is 2-3 KiB."""
    root = unpack(FIXTURE, d / "unpacked")
    img = load_img(root, "core-1.img")
    img.entries[0].message.thread_core.creds.groups.extend(range(groups))
    save_img(root, "core-1.img", img)
    return _as_archive(root, d / "core-huge-entry.tar.zst")


# -- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[Path], Path]  # writes the case into an empty directory; returns what to open
    target: str  # what build returns, relative to that directory
    blame: str  # words of the problem (or error) that says which bound was hit; "" when none is
    image: str = "core-1.img"  # what `decode` asks for
    listed: str = ""  # words `list` must print on the directory holding the case ("" for none)


CASES: list[Hostile] = [
    Hostile("gzip-members", gzip_members, "gzip-members.tar.gz", ""),
    Hostile("many-members", many_members, "many-members.tar.zst", "stopped after 100000 members"),
    Hostile("oci-fanout", oci_fanout, "oci-fanout.oci.tar", "not followed"),
    Hostile("oci-cycle", oci_cycle, "oci-cycle.oci.tar", "not followed"),
    Hostile("dir-fifos", dir_fifos, "fifo-checkpoint", "FIFO", image="pstree.img", listed="is not a regular file"),
    Hostile("ratio-bomb", ratio_bomb, "ratio-bomb.tar.zst", "decompression bomb"),
    Hostile("total-bomb", total_bomb, "total-bomb.tar.zst", "past the limit of 8.0 GiB"),
    Hostile("pax-pileup", pax_pileup, "pax-pileup.tar.zst", "header extensions"),
    Hostile("pax-records", pax_records, "pax-records.tar.zst", "PAX records"),
    Hostile("long-names", long_names, "long-names.tar.zst", "more than the 4096"),
    Hostile("empty-entries", empty_entries, "empty-entries.tar.zst", "entries lack required fields", image="files.img"),
    Hostile("tiny-entries", tiny_entries, "tiny-entries.tar.zst", "only the first 200,000 were read",
            image="pagemap-1.img"),
    Hostile("core-many-entries", core_many_entries, "core-many-entries.tar.zst", "CRIU writes one"),
    Hostile("core-cap-words", core_cap_words, "core-cap-words.tar.zst", "words (CRIU writes 2)"),
    Hostile("core-huge-entry", core_huge_entry, "core-huge-entry.tar.zst", "more than a CORE entry may hold"),
]
BY_NAME = {c.name: c for c in CASES}


def target(case: Hostile, root: Path) -> Path:
    """What to open of ``case`` written into ``root`` by :func:`build`."""
    return root / case.name / case.target


def build(case: Hostile, root: Path) -> Path:
    """Write ``case`` into ``root/<name>/`` (a new directory); returns what to open."""
    d = root / case.name
    d.mkdir(parents=True, exist_ok=False)
    made = case.build(d)
    assert made == target(case, root), (made, case.target)
    return made


if __name__ == "__main__":  # pragma: no cover - a tool for people
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    for case in CASES:
        print(f"{case.name:20} -> {build(case, out)}")
