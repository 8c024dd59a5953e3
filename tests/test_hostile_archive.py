"""The archive layer and the CRIU decoder on the hostile corpus (issue #19), in process:
each case stops at the bound its class needs, says so in a problem (or a clear error), and
keeps what came before it. (The CLI runs of the same cases are in test_hostile_cli.py;
their time is measured by bench/hostile.py, not here.)"""

from __future__ import annotations

import gzip
import io
import os
import signal
import struct
import tracemalloc
from pathlib import Path

import pytest

from ckpt_tui.archive import ArchiveError, Limits, find_checkpoints, open_source, peek_metadata, tarstream
from ckpt_tui.archive import index as index_mod
from ckpt_tui.archive import oci as oci_mod
from ckpt_tui.archive import passes as passes_mod
from ckpt_tui.archive import ref as ref_mod
from ckpt_tui.archive import source as source_mod
from ckpt_tui.archive import streams as streams_mod
from ckpt_tui.archive.streams import CHUNK, Budget, GzipDecoder
from ckpt_tui.archive.types import MiB
from ckpt_tui.criu import MAGIC_VALUES, decode_image, images, iter_entries
from ckpt_tui.criu.constants import MAX_CAP_WORDS, caps_from_words
from ckpt_tui.criu.magic import HEAD_COMMON
from ckpt_tui.model import load_checkpoint
from tests import hostile_corpus as hc
from tests.archive_corpus import plain_tar_bytes, reference_contents


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setattr(source_mod, "_STRICT", True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = hc.build(hc.BY_NAME[name], root)
        return made[name]
    return get


@pytest.fixture
def no_hang():
    """A blocking open or read would wait forever: fail after 60 s instead."""
    def expired(*_):
        raise AssertionError("blocked: something opened or read a FIFO")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def problems(src) -> str:
    return "\n".join(f"{p.source}: {p.message}" for p in src.problems)


def test_every_case_has_a_bound_and_a_target():
    assert len({c.name for c in hc.CASES}) == len(hc.CASES)
    for case in hc.CASES:
        assert case.target and (case.blame or case.name == "gzip-members")


# -- gzip streams of many members ------------------------------------------------------------


@pytest.mark.parametrize("read_size", [1, 7, 512, 4096, 65536, 700_000])
def test_gzip_members_decode_to_the_same_bytes_with_bounded_buffers(read_size):
    """Member ends reached exactly at a read's limit used to leave the rest of the stream in
    both of zlib's tails, and joining them doubled it at every member."""
    plain = plain_tar_bytes(hc.FIXTURE)
    if read_size < 512:  # a byte at a time: a smaller stream, as many members
        plain = plain[:60_000]
    step = len(plain) // 300 + 1
    data = b"".join(gzip.compress(plain[i : i + step], mtime=0) for i in range(0, len(plain), step))
    dec = GzipDecoder(io.BytesIO(data), Budget(Limits()))
    out = bytearray()
    most = 0
    while chunk := dec.read(read_size):
        out += chunk
        most = max(most, len(dec._pending))
    assert bytes(out) == plain
    assert dec.members == -(-len(plain) // step)
    assert most <= CHUNK + len(data) // 300 * 2  # never more than one read of input buffered


def test_gzip_members_case_opens_whole(corpus):
    with open_source(corpus("gzip-members")) as src:
        want = {n for n in reference_contents(hc.FIXTURE)}
        assert want <= set(src.members)
        assert not [p for p in src.problems if p.source == "gzip-members.tar.gz"], problems(src)
        assert src.read("checkpoint/pstree.img") == reference_contents(hc.FIXTURE)["checkpoint/pstree.img"]


def test_too_many_gzip_members_is_damage(tmp_path, monkeypatch):
    monkeypatch.setattr(streams_mod, "MAX_GZIP_MEMBERS", 50)
    plain = plain_tar_bytes(hc.FIXTURE)
    step = len(plain) // 80 + 1
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"".join(gzip.compress(plain[i : i + step], mtime=0) for i in range(0, len(plain), step)))
    with open_source(p) as src:
        assert "more than 50 members" in problems(src)
        assert "config.dump" in src.members  # what came before stays


# -- many members ------------------------------------------------------------------------------


def test_many_members_stop_at_the_bound_after_the_real_ones(corpus):
    with open_source(corpus("many-members")) as src:
        assert len(src.members) == Limits().max_members == 100_000
        assert "stopped after 100000 members" in problems(src)
        assert {"config.dump", "spec.dump", "checkpoint/core-1.img"} <= set(src.members)


def test_many_members_cost_one_pass(corpus, monkeypatch):
    """Each header is parsed once and each name normalised once: the work is linear."""
    calls = {"normalise": 0}
    real = passes_mod.normalise

    def counting(raw):
        calls["normalise"] += 1
        return real(raw)
    monkeypatch.setattr(passes_mod, "normalise", counting)
    with open_source(corpus("many-members")) as src:
        assert calls["normalise"] == len(src.members)


# -- OCI indexes -------------------------------------------------------------------------------


def _count_json(monkeypatch) -> dict[str, int]:
    reads = {"n": 0}
    real = oci_mod._Layout.json

    def counting(self, name, what):
        reads["n"] += 1
        return real(self, name, what)
    monkeypatch.setattr(oci_mod._Layout, "json", counting)
    return reads


def test_oci_fanout_reads_each_blob_once_within_the_bound(corpus, monkeypatch):
    reads = _count_json(monkeypatch)
    with pytest.raises(ArchiveError) as exc:
        open_source(corpus("oci-fanout"))
    text = str(exc.value)
    assert "not a checkpoint image" in text and "descriptor(s) were not followed" in text
    assert reads["n"] <= oci_mod.MAX_OCI_DOCUMENTS + 1  # index.json + at most the bound


def test_oci_cycle_is_cut_and_the_checkpoint_still_found(corpus, monkeypatch):
    reads = _count_json(monkeypatch)
    with open_source(corpus("oci-cycle")) as src:
        assert src.kind == "oci-archive"
        assert "checkpoint/inventory.img" in src.members
        assert any(p.severity == "warning" and "50 descriptor(s) were not followed" in p.message
                   for p in src.problems), problems(src)
    assert reads["n"] <= 4  # index.json, the self-naming index once, the manifest, its config


def test_oci_media_types_of_any_json_type(tmp_path):
    """A list where a media type should be is not a crash (it was: unhashable in a set test)."""
    files = hc._oci_files()
    files["index.json"] = b'{"schemaVersion": 2, "manifests": [{"mediaType": ["x"], "digest": "sha256:00"}, 7]}'
    p = tmp_path / "odd.oci.tar"
    p.write_bytes(b"".join(hc.member(n, v) for n, v in files.items()) + hc.END)
    with pytest.raises(ArchiveError, match="blob sha256:00 is missing"):
        open_source(p)


# -- a directory of FIFOs and links to blocking files ---------------------------------------------


def test_directory_of_fifos_is_never_blocked_on(corpus, no_hang):
    root = corpus("dir-fifos")
    with open_source(root) as src:
        text = problems(src)
        for name in ("config.dump", "checkpoint/pstree.img", "checkpoint/pages-1.img"):
            assert src.members[name].type == "other"
            assert f"{name}: FIFO: recorded without data, never opened" in text
            with pytest.raises(ArchiveError):
                src.read(name)
        for name in ("spec.dump", "checkpoint/inventory.img", "checkpoint/core-1.img", "dump.log"):
            assert name not in src.members
            assert f"{name}: skipped: symbolic link pointing outside the directory" in text
        assert src.read("checkpoint/mm-1.img")  # the rest is read
    meta = peek_metadata(root)
    assert meta["config"] is None and meta["spec"] is None
    found = find_checkpoints(root.parent)  # a FIFO named like an archive, a link to a FIFO
    assert root.parent / "fifo.tar.zst" not in found and root.parent / "link.tar" not in found
    with load_checkpoint(root) as ck:
        assert ck.problems  # the model reads through the same source


def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path, no_hang):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        ref_mod.open_regular(fifo)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    (tmp_path / "target").write_bytes(b"x")
    with pytest.raises(OSError):
        ref_mod.open_regular(link, nofollow=True)
    assert ref_mod.read_head(link, 10) == b"x"  # followed when asked
    with pytest.raises(ArchiveError, match="neither a regular file nor a directory"):
        open_source(tmp_path / "fifo")
    # a ref of a directory source whose file became a FIFO since it was listed
    ref = ref_mod.Ref(size=10, path=fifo, nofollow=True)
    with pytest.raises(OSError, match="not a regular file"):
        ref.read()


def test_a_file_reporting_size_zero_is_not_read(tmp_path, monkeypatch):
    """/proc files say size 0 and may block or consume (/proc/kmsg): nothing is read."""
    p = tmp_path / "empty.tar"
    p.write_bytes(b"")
    preads = []
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: preads.append(n) or real(fd, n, off))
    assert ref_mod.read_head(p, 512) == b""
    with pytest.raises(ArchiveError, match="empty"):
        open_source(p)
    assert preads == []


# -- decompression bombs ----------------------------------------------------------------------------


def test_ratio_bomb_is_told_by_its_header(corpus):
    with open_source(corpus("ratio-bomb")) as src:
        text = problems(src)
        assert "decompression bomb (told by its headers, before inflating it)" in text
        assert "checkpoint/pages-9.img" not in src.members
        assert "checkpoint/core-1.img" in src.members
        spilled = sum(f.stat().st_size for f in src.workspace.path.rglob("*") if f.is_file())
        assert spilled < MiB  # the gigabyte was never inflated into the workspace


def test_total_bomb_is_told_by_its_header(corpus):
    with open_source(corpus("total-bomb")) as src:
        text = problems(src)
        assert "declares 9.0 GiB, past the limit of 8.0 GiB" in text and "--max-size" in text
        assert "truncated" not in text  # stopped at the header, before the missing data
    meta = peek_metadata(corpus("total-bomb"))  # list's look stops there too
    assert meta["config"] is not None


def test_declared_sizes_do_not_refuse_a_genuine_archive(tmp_path):
    """A compressed archive whose data is all there and under the bounds opens as before."""
    p = tmp_path / "ok.tar.zst"
    p.write_bytes(hc.zst(hc.real_members() + hc.END))
    with open_source(p) as src:
        assert not src.problems


# -- header extensions ------------------------------------------------------------------------------


def _traced_open(path):
    tracemalloc.start()
    try:
        src = open_source(path)
        return src, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_pax_headers_do_not_pile_up(corpus):
    src, peak = _traced_open(corpus("pax-pileup"))
    with src:
        assert "tar header extensions" in problems(src) and "in a row" in problems(src)
        assert "checkpoint/core-1.img" in src.members
    assert peak < 16 * MiB


def test_pax_records_are_bounded_and_parsed_once(corpus):
    src, peak = _traced_open(corpus("pax-records"))
    with src:
        assert f"more than {tarstream.MAX_PAX_RECORDS} PAX records" in problems(src)
        assert "checkpoint/core-1.img" in src.members
    assert peak < 16 * MiB


def test_pax_keeps_only_what_it_uses():
    into: dict[str, bytes] = {}
    data = hc.pax_record(b"path", b"a/b") + hc.pax_record(b"SCHILY.xattr.x", b"y" * 1000) + \
        hc.pax_record(b"GNU.sparse.size", b"1")
    assert tarstream._pax_records(data, 0, into, 10) == 3
    assert into == {"path": b"a/b", "GNU.sparse": b"1"}


def test_long_names_are_skipped_and_their_problems_short(corpus):
    src, peak = _traced_open(corpus("long-names"))
    with src:
        assert all(len(n) <= index_mod.MAX_NAME for n in src.members)
        long_ones = [p for p in src.problems if "more than the 4096 a path may have" in p.message]
        assert len(long_ones) >= 100
        assert all(len(p.source) < index_mod.MAX_PROBLEM_SOURCE + 40 for p in src.problems)
        assert "... and " in problems(src)  # past MAX_PROBLEMS they are counted
        assert "checkpoint/core-1.img" in src.members
    assert peak < 64 * MiB


def test_a_chain_of_long_names_is_damage(tmp_path):
    data = hc.real_members() + b"".join(hc.extension(b"L", b"x" * 100 + b"\0") for _ in range(40))
    p = tmp_path / "chain.tar"
    p.write_bytes(data + hc.header("y") + hc.END)
    with open_source(p) as src:
        assert "41 tar header extensions" not in problems(src)
        assert f"{tarstream.MAX_EXTENSION_HEADERS + 1} tar header extensions" in problems(src)


# -- the CRIU decoder ---------------------------------------------------------------------------------


def _image(kind: str, body: bytes) -> bytes:
    return struct.pack("<II", HEAD_COMMON, MAGIC_VALUES[kind]) + body


def test_images_full_of_empty_entries_cost_nothing():
    data = _image("FILES", bytes(4 * 2_000_000))
    tracemalloc.start()
    try:
        img = decode_image(data, "files.img")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert img.truncated and len(img.entries) == images.MAX_IMAGE_PROBLEMS
    assert "more than 20 entries lack required fields" in img.problems[-1]
    assert "the 7,999,920 bytes from entry 20 on were not decoded" in img.problems[-1]
    assert peak < 4 * MiB


def test_entries_past_the_bound_are_not_decoded():
    cls = images.message_class("pagemap_entry")
    head = images.message_class("pagemap_head")(pages_id=1).SerializeToString()
    one = cls(vaddr=0x1000, compat_nr_pages=1).SerializeToString()
    body = struct.pack("<I", len(head)) + head + (struct.pack("<I", len(one)) + one) * 30
    img = decode_image(_image("PAGEMAP", body), "pagemap-1.img", max_entries=11)
    assert img.truncated and len(img.entries) == 11
    assert img.problems == [f"pagemap-1.img holds more than 11 entries; only the first 11 were read "
                            f"(the {20 * (4 + len(one)):,} bytes after them were not decoded)"]
    assert len(list(iter_entries(_image("PAGEMAP", body), "pagemap-1.img", max_entries=11))) == 11
    whole = decode_image(_image("PAGEMAP", body), "pagemap-1.img")
    assert len(whole.entries) == 31 and not whole.truncated and not whole.problems
    assert images.entry_limit("PAGEMAP") == images.MAX_ENTRIES == 200_000


def test_tiny_entries_case_stops_at_max_entries(corpus):
    with open_source(corpus("tiny-entries")) as src:
        img = decode_image(src.read("checkpoint/pagemap-1.img"), "pagemap-1.img")
    assert len(img.entries) == images.MAX_ENTRIES and img.truncated
    assert "only the first 200,000 were read" in img.problems[0]


def test_single_entry_kinds_read_a_few(corpus):
    with open_source(corpus("core-many-entries")) as src:
        img = decode_image(src.read("checkpoint/core-1.img"), "core-1.img")
    assert len(img.entries) == images.SINGLE_ENTRY_LIMIT and img.truncated
    assert "core-1.img holds more than 16 entries (CRIU writes one); only the first 16 were read" in img.problems[0]


def test_an_entry_bigger_than_its_kind_allows_is_not_decoded(corpus):
    with open_source(corpus("core-huge-entry")) as src:
        img = decode_image(src.read("checkpoint/core-1.img"), "core-1.img")
    assert img.entries == [] and img.truncated
    assert "more than a CORE entry may hold (1,048,576)" in img.problems[0]


def test_capability_words_are_bounded(corpus):
    words = [0xFFFFFFFF] * 150_000
    assert caps_from_words(words) == caps_from_words(words[:MAX_CAP_WORDS])
    assert len(caps_from_words(words)) == 32 * MAX_CAP_WORDS
    assert caps_from_words([0x401, 0]) == ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    with open_source(corpus("core-cap-words")) as src:
        img = decode_image(src.read("checkpoint/core-1.img"), "core-1.img")
    assert len(img.entries) == 1 and not img.truncated
    assert img.problems == ["core-1.img: thread_core.creds.cap_eff holds 150,002 words (CRIU writes 2); "
                            "only the first 4 are read as capabilities"]


@pytest.mark.parametrize("name, member, words", [
    ("empty-entries", "checkpoint/files.img", "entries lack required fields"),
    ("core-many-entries", "checkpoint/core-1.img", "(CRIU writes one)"),
    ("core-huge-entry", "checkpoint/core-1.img", "more than a CORE entry may hold"),
])
def test_the_model_reports_the_bound_as_a_problem(corpus, name, member, words):
    """The decoder's problem reaches the checkpoint's problems, naming the image."""
    with load_checkpoint(corpus(name)) as ck:
        assert any(p.source == member and words in p.message for p in ck.problems), \
            [f"{p.source}: {p.message}" for p in ck.problems]
        assert ck.processes  # the rest stays browsable
