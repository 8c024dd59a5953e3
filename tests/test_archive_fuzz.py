"""Property tests: whatever the bytes, open_source returns a Source or raises ArchiveError."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_tui.archive import ArchiveError, Limits, open_source
from ckpt_tui.archive import source as source_mod
from ckpt_tui.archive.types import MiB

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
            for call in (lambda: src.read(name, limit=4096), lambda: src.file_range(name)):
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
