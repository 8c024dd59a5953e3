"""ckpt_tui.archive on bad input (issue #7): unsafe names, links out, devices,
duplicates, truncation, corrupt compressed streams, decompression bombs."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from ckpt_tui.archive import ArchiveError, Limits, display_name, open_source
from ckpt_tui.archive import ref as ref_mod
from ckpt_tui.archive import source as source_mod
from ckpt_tui.archive.types import MiB
from tests.archive_corpus import (
    DATA,
    TarBuilder,
    evil_tar,
    gz,
    header_offsets,
    minimal_checkpoint,
    reference_contents,
    zero_bomb,
    zst,
)


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """Internal bugs must show up as failures, not as wrapped ArchiveErrors."""
    monkeypatch.setattr(source_mod, "_STRICT", True)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def msgs(src) -> str:
    return "\n".join(f"{p.source}: {p.message}" for p in src.problems)


# -- unsafe members ------------------------------------------------------------------


@pytest.mark.parametrize("compress", [None, gz, zst])
def test_evil_members(tmp_path, compress):
    data = evil_tar()
    if compress:
        data = compress(data)
    with open_source(write(tmp_path, "evil.tar", data)) as src:
        names = set(src.members)
        for bad in ("../escape.txt", "/abs/path.txt", "abs/path.txt", "climb.txt", "x", "escape.txt",
                    "link-out", "checkpoint/abs-link", "hard-out", "hard-missing"):
            assert bad not in names, bad
        for name in names:
            assert not name.startswith("/") and ".." not in name.split("/")
        text = msgs(src)
        for shown in ("../escape.txt", "/abs/path.txt", "checkpoint/../../climb.txt", "a/../../x"):
            assert f"{shown}: skipped: unsafe member name" in text
        assert "link-out: skipped: symbolic link pointing outside" in text
        assert "checkpoint/abs-link: skipped: symbolic link pointing outside" in text
        assert "hard-out: skipped: hard link pointing outside" in text
        assert "hard-missing: skipped: hard link" in text
        # links inside stay
        assert src.members["checkpoint/parent"].type == "symlink"
        assert src.members["checkpoint/parent"].linkname == "../pre-checkpoint"
        ref = reference_contents("web-httpd.tar.zst")
        assert src.read("pstree-alias") == ref["checkpoint/pstree.img"]
        assert src.members["checkpoint/pstree-hard.img"].type == "hardlink"
        assert src.read("checkpoint/pstree-hard.img") == ref["checkpoint/pstree.img"]
        with pytest.raises(ArchiveError):
            src.read("checkpoint/parent")  # dangling: no pre-checkpoint/
        # devices and fifos: recorded without data, each reported
        for dev in ("dev-null", "dev-sda", "a-fifo"):
            assert src.members[dev].type == "other" and src.members[dev].size == 0
            assert any(p.source == dev for p in src.problems)
            with pytest.raises(ArchiveError):
                src.read(dev)
        # duplicates: later wins, with a warning
        assert src.read("stats-dump") == b"second"
        assert any(p.source == "stats-dump" and p.severity == "warning" for p in src.problems)
        # non-UTF-8 names are kept (surrogateescape) and shown escaped
        raw = "checkpoint/\udcff\udcfe-raw.img"
        assert src.read(raw) == b"non-utf8 name"
        assert display_name(raw) == "checkpoint/\\xff\\xfe-raw.img"
        assert display_name("weird-\x1b[31m-name") == "weird-\\x1b[31m-name"
        assert src.read("dot/slash/name") == b"normalised"
        # CRI-O style 0600 checkpoint dir does not matter
        assert src.members["checkpoint"].mode == 0o600
        assert src.read("checkpoint/pstree.img") == ref["checkpoint/pstree.img"]
        for p in src.problems:
            assert p.pane == "overview"
            assert "\x1b" not in p.source + p.message


def test_no_checkpoint_directory(tmp_path):
    data = TarBuilder().file("config.dump", b"{}").file("notes.txt", b"hi").bytes()
    with open_source(write(tmp_path, "x.tar", data)) as src:
        assert set(src.members) == {"config.dump", "notes.txt"}
        assert any("no checkpoint/ directory: no CRIU images" in p.message for p in src.problems)


# -- not an archive ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"hello world\n" * 100, "neither a tar archive"),
        (bytes(4096), "an empty tar archive"),  # what tar writes for no members
        (b"\xfd7zXZ\x00" + bytes(600), "xz"),
        (b"PK\x03\x04" + bytes(600), "zip"),
        (gz(b"just text, not a tar" * 50), "not a tar archive"),
        (zst(b"just text, not a tar" * 50), "not a tar archive"),
        (b"\x1f\x8b\x08\x00" + os.urandom(64), "gzip"),
        (b"\x28\xb5\x2f\xfd" + os.urandom(64), "zstd"),
    ],
    ids=["empty", "text", "zeros", "xz", "zip", "gzip-text", "zstd-text", "gzip-junk", "zstd-junk"],
)
def test_not_an_archive(tmp_path, data, words):
    p = write(tmp_path, "thing", data)
    with pytest.raises(ArchiveError) as exc:
        open_source(p)
    assert "not a checkpoint archive" in str(exc.value) and words in str(exc.value)
    assert str(p) in str(exc.value)


def test_missing_and_unreadable(tmp_path, monkeypatch):
    with pytest.raises(ArchiveError, match="No such file"):
        open_source(tmp_path / "nope.tar")
    p = write(tmp_path, "secret.tar", (DATA / "ps-tree.tar.gz").read_bytes())
    if os.geteuid() != 0:
        p.chmod(0)
    else:  # root reads anything: make the open fail the way it would for a user
        real_open = ref_mod.open_regular

        def deny(path, *a, **k):
            if str(path) == str(p):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *a, **k)

        monkeypatch.setattr(ref_mod, "open_regular", deny)
    with pytest.raises(ArchiveError) as exc:
        open_source(p)
    assert str(p) in str(exc.value) and "Permission denied" in str(exc.value)
    with pytest.raises(ArchiveError, match="neither a regular file"):
        open_source("/dev/null")


# -- truncation and corruption --------------------------------------------------------


def _offsets(size: int, n: int) -> list[int]:
    step = max(1, size // n)
    return sorted({*range(1, size, step), 511, 512, 513, 1023, 1024, size - 1, size - 512, size - 1024})


@pytest.mark.parametrize("fixture", ["ps-tree-uncompressed.tar", "ps-tree.tar.gz", "web-httpd.tar.zst"])
def test_truncated_at_many_offsets(tmp_path, fixture):
    full = (DATA / fixture).read_bytes()
    ref = reference_contents(fixture)
    p = tmp_path / "cut"
    opened = 0
    for cut in _offsets(len(full), 60):
        if cut <= 0 or cut >= len(full):
            continue
        p.write_bytes(full[:cut])
        try:
            src = open_source(p)
        except ArchiveError as exc:
            assert "not a checkpoint archive" in str(exc)
            continue
        opened += 1
        with src:
            for name, m in src.members.items():
                if m.type == "file":
                    assert src.read(name) == ref[name], (cut, name)
            complete = set(n for n, m in src.members.items() if m.type == "file") == set(ref)
            if not complete:
                assert any(p.source == "cut" for p in src.problems), cut
                text = msgs(src)
                assert "truncated" in text or "ends" in text or "incomplete" in text, text
    assert opened > 40


def test_truncated_inside_a_member_names_it(tmp_path):
    full = (DATA / "ps-tree-uncompressed.tar").read_bytes()
    offsets = header_offsets(full)
    cut = offsets[len(offsets) // 2] + 512 + 10  # 10 bytes into some member's data
    with open_source(write(tmp_path, "cut.tar", full[:cut])) as src:
        text = msgs(src)
        assert "truncated inside member" in text and f"at byte {cut}" in text
        assert len(src.members) >= len(offsets) // 2 - 1


@pytest.mark.parametrize("fixture", ["ps-tree.tar.gz", "web-httpd.tar.zst", "tcp-server.tar.zst"])
def test_corrupt_compressed_stream(tmp_path, fixture):
    full = bytearray((DATA / fixture).read_bytes())
    for pos in (len(full) // 5, len(full) // 2, len(full) - 20, len(full) - 5):
        bad = bytearray(full)
        for i in range(pos, min(pos + 8, len(bad))):
            bad[i] ^= 0x5A
        p = write(tmp_path, "bad", bytes(bad))
        try:
            with open_source(p) as src:
                assert src.problems, pos  # the damage is always reported
                assert any(pr.severity == "error" for pr in src.problems)
        except ArchiveError:
            pass


# -- bombs and memory -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["gzip", "zstd"])
def test_bomb_stops_at_the_limit(tmp_path, fmt):
    p = write(tmp_path, "bomb", zero_bomb(64 * MiB, fmt))
    assert p.stat().st_size < 1 * MiB
    with open_source(p, limits=Limits(max_total_bytes=8 * MiB)) as src:
        assert src.has("checkpoint") and not src.has("checkpoint/pages-1.img")
        text = msgs(src)
        assert "--max-size" in text and "8.0 MiB" in text
        # nothing huge left behind in the workspace
        used = sum(f.stat().st_size for f in src.workspace.path.rglob("*") if f.is_file())
        assert used == 0


@pytest.mark.parametrize("fmt", ["gzip", "zstd"])
def test_bomb_ratio_check(tmp_path, fmt):
    p = write(tmp_path, "bomb", zero_bomb(24 * MiB, fmt))
    limits = Limits(max_ratio=50, ratio_after=4 * MiB)
    with open_source(p, limits=limits) as src:
        text = msgs(src)
        assert "decompression bomb" in text and "--max-size" in text
        assert not src.has("checkpoint/pages-1.img")


def test_raised_limit_reads_it_all_with_bounded_memory(tmp_path):
    size = 40 * MiB
    p = write(tmp_path, "big.tar.zst", zero_bomb(size, "zstd"))
    tracemalloc.start()
    try:
        with open_source(p, limits=Limits(max_total_bytes=1 << 30)) as src:
            _, peak = tracemalloc.get_traced_memory()
            assert src.members["checkpoint/pages-1.img"].size == size
            assert not src.problems
            path, _off, _n = src.file_range("checkpoint/pages-1.img")
            assert path.stat().st_size == size and src.workspace.path in path.parents
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, peak


def test_default_limits_ratio_check_is_automatic():
    assert Limits().effective_ratio() == 1000
    assert Limits(max_total_bytes=16 << 30).effective_ratio() == 0


def test_member_count_limit(tmp_path):
    b = minimal_checkpoint()
    for i in range(50):
        b.file(f"checkpoint/extra-{i}.img", b"x")
    with open_source(write(tmp_path, "many.tar", b.bytes()), limits=Limits(max_members=20)) as src:
        assert len(src.members) == 20
        assert any("20 members" in p.message for p in src.problems)


def test_huge_pax_header_is_damage_not_memory(tmp_path):
    b = minimal_checkpoint().bytes()
    # a pax header claiming 1 GiB of records, then EOF
    import tarfile

    hdr = tarfile.TarInfo("././@PaxHeader")
    hdr.type = tarfile.XHDTYPE
    hdr.size = 1 << 30
    block = hdr.tobuf(format=tarfile.USTAR_FORMAT)
    end = b.rstrip(b"\0")
    end += bytes(-len(end) % 512)
    with open_source(write(tmp_path, "pax.tar", end + block + bytes(4096))) as src:
        assert src.has("checkpoint/core-1.img")
        assert "too large" in msgs(src)


def test_nothing_outside_workspace_for_bad_input(tmp_path, monkeypatch):
    tmp = tmp_path / "t"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    inputs = [evil_tar(), gz(evil_tar()), zero_bomb(4 * MiB, "zstd"), b"junk" * 300,
              (DATA / "web-httpd.tar.zst").read_bytes()[:100000]]
    for i, data in enumerate(inputs):
        p = write(tmp_path, f"in{i}", data)
        try:
            with open_source(p, limits=Limits(max_total_bytes=2 * MiB, keep_in_memory=64)):
                assert len(os.listdir(tmp)) == 1
        except ArchiveError:
            pass
        assert os.listdir(tmp) == []
    assert sorted(os.listdir(tmp_path)) == sorted(["t"] + [f"in{i}" for i in range(len(inputs))])


def test_problem_flood_is_capped(tmp_path):
    b = minimal_checkpoint()
    for i in range(700):
        b.file(f"../evil-{i}", b"")
    with open_source(write(tmp_path, "flood.tar", b.bytes())) as src:
        assert len(src.problems) == 501
        assert "200 more problems" in src.problems[-1].message
        assert src.has("checkpoint/pstree.img")
