"""Property tests: whatever the bytes, open_source returns a Source or raises ArchiveError."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_tui.archive import ArchiveError, Limits, open_source
from ckpt_tui.archive import source as source_mod
from ckpt_tui.archive.types import MiB
from tests import hostile_corpus as hc
from tests.archive_corpus import DATA, evil_tar, header_offsets, plain_tar_bytes

FIXTURES = [
    "ps-tree.tar.gz",
    "tcp-established.tar.zst",
    "containerd-checkpoint.oci.tar",
    "podman-checkpoint-image.oci.tar",
    "broken-missing-pages.tar",
]
RAW = {name: (DATA / name).read_bytes() for name in FIXTURES}
PLAIN = {name: plain_tar_bytes(name) for name in FIXTURES}
PLAIN["evil"] = evil_tar()
HEADERS = {name: header_offsets(data) for name, data in PLAIN.items()}
LIMITS = Limits(max_total_bytes=24 * MiB, keep_in_memory=64 * 1024)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setattr(source_mod, "_STRICT", True)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def exercise(data: bytes, where: Path) -> None:
    p = where / "input"
    p.write_bytes(data)
    try:
        src = open_source(p, limits=LIMITS)
    except ArchiveError:
        return
    with src:
        assert src.members or src.problems
        for name, member in list(src.members.items())[:80]:
            assert not name.startswith("/") and ".." not in name.split("/")
            for call in (functools.partial(src.read, name, limit=4096), functools.partial(src.file_range, name)):
                try:
                    call()
                except ArchiveError:
                    pass
            if member.type in ("file", "hardlink"):
                try:
                    with src.open(name) as f:
                        f.seek(max(0, member.size - 10))
                        f.read(20)
                except ArchiveError:
                    pass
    assert not src.workspace.path.exists()


def fix_checksum(buf: bytearray, off: int) -> None:
    buf[off + 148 : off + 156] = b"        "
    total = sum(buf[off : off + 512])
    buf[off + 148 : off + 156] = b"%06o\0 " % total


FIELDS = [(0, 100), (100, 8), (108, 8), (124, 12), (136, 12), (156, 1), (157, 100), (257, 8), (345, 155)]
FIELD_VALUES = st.one_of(
    st.binary(min_size=1, max_size=12),
    st.sampled_from([b"../../etc/x", b"/abs", b"7777777777\0", b"\x80\0\0\0\0\0\0\x01\0\0\0\0", b"\xff" * 12,
                     b"1", b"2", b"3", b"5", b"L", b"K", b"x", b"g", b"S", b"Z", b"ustar\x0000", b"ustar  \0",
                     b"99999999999\0", b"-1", b"\0"]),
)


@st.composite
def mutated_archive(draw) -> bytes:
    name = draw(st.sampled_from(sorted(PLAIN)))
    if name != "evil" and draw(st.booleans()):
        data = bytearray(RAW[name])  # raw-level damage to the file as it is
    else:
        data = bytearray(PLAIN[name])
        for _ in range(draw(st.integers(0, 3))):  # header damage with valid checksums
            off = draw(st.sampled_from(HEADERS[name]))
            start, width = draw(st.sampled_from(FIELDS))
            value = draw(FIELD_VALUES)[:width]
            data[off + start : off + start + len(value)] = value
            fix_checksum(data, off)
        how = draw(st.sampled_from(["none", "gzip", "zstd"]))
        if how == "gzip":
            data = bytearray(gzip.compress(bytes(data), compresslevel=1, mtime=0))
        elif how == "zstd":
            data = bytearray(zstandard.ZstdCompressor(level=1, write_checksum=True).compress(bytes(data)))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "zero"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 4096))]
        else:
            n = draw(st.integers(1, 2048))
            data[pos : pos + n] = bytes(len(data[pos : pos + n]))
    return bytes(data)


@SETTINGS
@given(mutated_archive())
def test_mutated_real_archives(fuzz_dir, data):
    exercise(data, fuzz_dir)


@SETTINGS
@given(
    st.sampled_from([b"", b"\x1f\x8b", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", b"\x28\xb5\x2f\xfd", b"BZh"]),
    st.binary(max_size=3000),
)
def test_random_bytes(fuzz_dir, prefix, body):
    exercise(prefix + body, fuzz_dir)


@SETTINGS
@given(st.binary(min_size=0, max_size=600), st.integers(0, 2))
def test_random_tar_headers(fuzz_dir, body, compress):
    """Random bytes shaped like a tar header (valid checksum) followed by junk."""
    block = bytearray(body[:512].ljust(512, b"\0"))
    block[257:263] = b"ustar\x00"
    fix_checksum(block, 0)
    data = bytes(block) + body[512:]
    if compress == 1:
        data = gzip.compress(data, mtime=0)
    elif compress == 2:
        data = zstandard.ZstdCompressor().compress(data)
    exercise(data, fuzz_dir)


@given(st.binary(min_size=512, max_size=512))
@SETTINGS
def test_byte_sum_is_the_sum(block):
    from ckpt_tui.archive.streams import _byte_sum

    assert _byte_sum(block) == sum(block)
    assert _byte_sum(b"\xff" * 512) == 255 * 512


# -- issue #19: the other readers a hostile input reaches ------------------------------------


@SETTINGS
@given(mutated_archive())
def test_peek_metadata_of_any_archive(fuzz_dir, data):
    """What `list` reads: a dict of what was found, or ArchiveError."""
    from ckpt_tui.archive import peek_metadata

    p = fuzz_dir / "peek"
    p.write_bytes(data)
    try:
        meta = peek_metadata(p)
    except ArchiveError:
        return
    assert set(meta) >= {"config", "spec", "size", "kind"}


@SETTINGS
@given(st.binary(max_size=4096), st.booleans())
def test_iter_tar_raises_only_tar_errors(body, seekable):
    """The streaming reader the model uses for rootfs-diff.tar: TarError or entries."""
    import io

    from ckpt_tui.archive import TarError, iter_tar

    block = bytearray(body[:512].ljust(512, b"\0"))
    fix_checksum(block, 0)
    data = bytes(block) + body[512:]
    try:
        for entry, reader in iter_tar(io.BytesIO(data), len(data) if seekable else None):
            if entry.kind == "file" and entry.size < 4096 and not seekable:
                reader.read_data(entry)
    except TarError:
        pass


def _tar(members: list[tuple[str, bytes, bytes]]) -> bytes:
    return b"".join(hc.member(name, data, flag) for name, data, flag in members) + hc.END


EXTENSIONS = st.lists(
    st.tuples(
        st.sampled_from([b"x", b"g", b"L", b"K", b"0", b"5", b"2"]),
        st.one_of(
            st.binary(max_size=300),
            st.lists(st.tuples(st.sampled_from([b"path", b"linkpath", b"size", b"mtime", b"uid", b"GNU.sparse.map",
                                                b"SCHILY.xattr.a", b"k"]),
                               st.binary(max_size=40).filter(lambda v: b"\n" not in v)), max_size=8)
            .map(lambda recs: b"".join(hc.pax_record(k, v) for k, v in recs)),
        ),
    ),
    max_size=40,
)


@SETTINGS
@given(EXTENSIONS, st.integers(0, 2))
def test_header_extensions_of_any_shape(fuzz_dir, parts, compress):
    """Runs of PAX, GNU long-name and global headers (well formed or not) between members:
    a Source with its problems, or ArchiveError; never anything else."""
    members = [(f"{'././@PaxHeader' if flag in (b'x', b'g') else 'n'}", data, flag) for flag, data in parts]
    data = _tar([("config.dump", b"{}", b"0"), *members, ("checkpoint/inventory.img", b"x", b"0")])
    if compress == 1:
        data = gzip.compress(data, mtime=0)
    elif compress == 2:
        data = zstandard.ZstdCompressor().compress(data)
    exercise(data, fuzz_dir)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=10,
)
_MT = st.sampled_from(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                       "application/vnd.containerd.container.criu.checkpoint.criu.tar", "", "x"])


@st.composite
def oci_layouts(draw) -> bytes:
    """An OCI archive of a few blobs named by digests the descriptors use, holding any JSON
    or indexes that name each other (cycles and fan-out included)."""
    digests = [f"sha256:{i:064x}" for i in range(draw(st.integers(1, 5)))]
    desc = st.builds(lambda mt, dg, ann: {"mediaType": mt, "digest": dg, "size": 1, "annotations": ann},
                     _MT, st.sampled_from(digests), st.dictionaries(st.text(max_size=8), JSON, max_size=2))
    doc = st.one_of(JSON, st.builds(lambda m: {"schemaVersion": 2, "manifests": m}, st.lists(desc, max_size=6)),
                    st.builds(lambda c, ls: {"config": c, "layers": ls}, desc, st.lists(desc, max_size=3)))
    files = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}', b"0"),
             ("index.json", json.dumps(draw(doc)).encode(), b"0")]
    for dg in digests:
        files.append((f"blobs/sha256/{dg[7:]}", json.dumps(draw(doc)).encode(), b"0"))
    return _tar(files)


@settings(SETTINGS, max_examples=60)
@given(oci_layouts())
def test_oci_indexes_of_any_shape(fuzz_dir, data):
    exercise(data, fuzz_dir)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["file", "fifo", "link", "dir"]),
                          st.sampled_from(["config.dump", "spec.dump", "checkpoint", "checkpoint/inventory.img",
                                           "checkpoint/core-1.img", "a", "a/b"]),
                          st.sampled_from(["/dev/null", "../x", "a", "checkpoint", ".", "/nonexistent",
                                           "checkpoint/inventory.img", "fifo-outside"])), max_size=10))
def test_directories_of_any_shape(tmp_path_factory, entries):
    """Files, FIFOs, links (in, out, dangling, loops) and directories in any arrangement:
    a directory source opens or refuses, and nothing blocks on a FIFO."""
    import os
    import signal

    root = tmp_path_factory.mktemp("dir")
    ckpt = root / "ckpt"
    (ckpt / "checkpoint").mkdir(parents=True)
    os.mkfifo(root / "fifo-outside")
    for kind, name, target in entries:
        p = ckpt / name
        if p.exists() or p.is_symlink() or not p.parent.is_dir():
            continue
        if kind == "file":
            p.write_bytes(b"{}")
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "dir":
            p.mkdir()
        else:
            p.symlink_to(root / target if target == "fifo-outside" else target)

    def blocked(*_):
        raise AssertionError("blocked on a FIFO")
    old = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(20)
    try:
        exercise_path(ckpt)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def exercise_path(p: Path) -> None:
    from ckpt_tui.archive import find_checkpoints, peek_metadata

    try:
        src = open_source(p, limits=LIMITS)
    except ArchiveError:
        pass
    else:
        with src:
            for name in src.members:
                assert not name.startswith("/") and ".." not in name.split("/")
                try:
                    src.read(name, limit=4096)
                except ArchiveError:
                    pass
    try:
        peek_metadata(p)
    except ArchiveError:
        pass
    find_checkpoints(p.parent)
