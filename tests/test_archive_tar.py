"""Our tar reader and stream decoders against Python's tarfile / gzip / zstandard."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import zstandard

from ckpt_tui.archive import Limits, open_source
from ckpt_tui.archive import source as source_mod
from ckpt_tui.archive.streams import Budget, GzipDecoder, StreamError, ZstdDecoder, ZstdFrameWalker, sniff
from ckpt_tui.archive.tarstream import NotTar, TarReader
from tests.archive_corpus import DATA, plain_tar_bytes


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setattr(source_mod, "_STRICT", True)


def build(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tf:
        def add(name, data=b"", type=tarfile.REGTYPE, linkname="", uid=0):
            ti = tarfile.TarInfo(name)
            ti.type, ti.size, ti.linkname, ti.uid, ti.mtime = type, len(data), linkname, uid, 1_700_000_123
            tf.addfile(ti, io.BytesIO(data) if data else None)

        ustar = fmt == tarfile.USTAR_FORMAT
        add("checkpoint", type=tarfile.DIRTYPE)
        if not ustar:  # one path component longer than 100 bytes needs GNU or PAX headers
            add("checkpoint/" + "long-" * 40 + ".img", b"a" * 1000)
        add("checkpoint/" + "deep/" * 30 + "x.img", b"b" * 513)
        add("checkpoint/ünïcødé-名前.img", b"c" * 512)
        add("checkpoint/link-" + "l" * (20 if ustar else 120), type=tarfile.SYMTYPE,
            linkname="../../" + "t" * (20 if ustar else 150))
        add("checkpoint/inventory.img", b"d" * 86, uid=7 if ustar else 70_000_000_000)
        add("empty", b"")
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_formats_match_tarfile(tmp_path, fmt):
    data = build(fmt)
    tr = TarReader(io.BytesIO(data))
    ours = [(e.name.rstrip("/"), e.kind, e.size, e.linkname, e.uid, e.mtime) for e in tr.entries()]
    assert tr.ended_cleanly
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        ref = []
        for ti in tf:
            kind = "dir" if ti.isdir() else "symlink" if ti.issym() else "file"
            ref.append((ti.name, kind, ti.size if kind == "file" else 0, ti.linkname, ti.uid, float(ti.mtime)))
    assert ours == ref
    for how, blob in (("tar", data), ("gz", gzip.compress(data)), ("zst", zstandard.ZstdCompressor().compress(data))):
        p = tmp_path / f"t.{how}"
        p.write_bytes(blob)
        with open_source(p) as src:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                for ti in tf:
                    if ti.isfile():
                        assert src.read(ti.name) == tf.extractfile(ti).read()
            link = [n for n, m in src.members.items() if m.type == "symlink"]
            assert link == []  # "../../ttt..." from checkpoint/ climbs out: skipped
            assert any("symbolic link pointing outside" in pr.message for pr in src.problems)


def test_every_fixture_matches_tarfile():
    for name in ("ps-tree-uncompressed.tar", "web-httpd.tar.zst", "ps-tree.tar.gz", "broken-missing-pages.tar"):
        data = plain_tar_bytes(name)
        ours = [(e.name.rstrip("/"), e.size, e.data_offset) for e in TarReader(io.BytesIO(data)).entries()]
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            ref = [(ti.name, ti.size, ti.offset_data) for ti in tf]
        assert ours == ref


def test_not_tar():
    with pytest.raises(NotTar):
        list(TarReader(io.BytesIO(b"")).entries())
    with pytest.raises(NotTar):
        list(TarReader(io.BytesIO(b"x" * 2048)).entries())


def test_sniff():
    assert sniff(b"") == "empty"
    assert sniff(b"\x1f\x8b\x08") == "gzip"
    assert sniff(b"\x28\xb5\x2f\xfd") == "zstd"
    assert sniff((DATA / "ps-tree-uncompressed.tar").read_bytes()[:512]) == "tar"
    assert sniff(b"BZh91AY") == "bzip2"
    assert sniff(b"hello") == "unknown"


def _drain(dec) -> bytes:
    out = []
    while True:
        b = dec.read(65536)
        if not b:
            return b"".join(out)
        out.append(b)


def test_gzip_multi_member_and_padding():
    a, b = b"first member " * 1000, b"second member " * 1000
    data = gzip.compress(a) + gzip.compress(b) + bytes(1024)
    assert _drain(GzipDecoder(io.BytesIO(data), Budget(Limits()))) == a + b
    with pytest.raises(StreamError, match="truncated"):
        _drain(GzipDecoder(io.BytesIO(gzip.compress(a)[:-3]), Budget(Limits())))


def test_zstd_frames_skippable_and_truncation():
    c = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    a, b = b"A" * 300_000, bytes(range(256)) * 2000
    skippable = (0x184D2A5A).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    data = c.compress(a) + skippable + c.compress(b)
    assert _drain(ZstdDecoder(io.BytesIO(data), Budget(Limits()))) == a + b
    w = ZstdFrameWalker()
    w.feed(data)
    assert w.complete and w.frames == 2
    for cut in (5, 100, len(data) - 1, len(data) - 4):
        w = ZstdFrameWalker()
        w.feed(data[:cut])
        assert not w.complete
        with pytest.raises(StreamError):
            _drain(ZstdDecoder(io.BytesIO(data[:cut]), Budget(Limits())))


def test_decoders_bound_their_output():
    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(64 << 20))
    dec = ZstdDecoder(io.BytesIO(bomb), Budget(Limits()))
    assert all(len(dec.read(4096)) <= 4096 for _ in range(100))
    gbomb = gzip.compress(bytes(16 << 20), 9)
    gdec = GzipDecoder(io.BytesIO(gbomb), Budget(Limits()))
    assert all(len(gdec.read(4096)) <= 4096 for _ in range(100))


def test_containerd_spec_dump_as_protobuf_any(tmp_path):
    """Older containerd CRI archives carry spec.dump as the raw config blob (a protobuf Any)."""
    from google.protobuf import any_pb2

    from tests.archive_corpus import TarBuilder, reference_contents

    ref = reference_contents("web-httpd.tar.zst")
    msg = any_pb2.Any(type_url="types.containerd.io/opencontainers/runtime-spec/1/Spec", value=ref["spec.dump"])
    b = TarBuilder().file("spec.dump", msg.SerializeToString()).file("status", b"{}")
    b.dir("checkpoint").file("checkpoint/inventory.img", ref["checkpoint/inventory.img"])
    p = tmp_path / "ctrd.tar"
    p.write_bytes(b.bytes())
    with open_source(p) as src:
        assert src.read("spec.dump") == ref["spec.dump"]
        assert "spec.dump" in src.synthesized
        assert any(pr.severity == "info" for pr in src.problems)


def test_container_record_config_blob():
    """A config blob holding a whole containerd container record also works."""
    from google.protobuf import any_pb2

    from ckpt_tui.archive.containerd import decode_config_blob, synthesize_config
    from ckpt_tui.archive.pb import containerd_container_pb2 as cpb

    rec = cpb.ContainerRecord(id="abc123", image="docker.io/library/busybox:latest", snapshotter="overlayfs")
    rec.runtime.name = "io.containerd.runc.v2"
    rec.spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
    rec.spec.value = b'{"ociVersion": "1.0.2", "process": {"args": ["sh"]}}'
    rec.created_at.seconds = 1_700_000_000
    rec.created_at.nanos = 500_000_000
    blob = any_pb2.Any(type_url="containerd.services.containers.v1.Container", value=rec.SerializeToString())
    cfg = decode_config_blob(blob.SerializeToString())
    assert not cfg.problems and cfg.spec["process"]["args"] == ["sh"]
    config = synthesize_config(cfg, {})
    assert config == {
        "id": "abc123",
        "name": "abc123",
        "rootfsImageName": "docker.io/library/busybox:latest",
        "rootfsImageRef": "",
        "runtime": "io.containerd.runc.v2",
        "createdTime": "2023-11-14T22:13:20.5Z",
    }
    bad = decode_config_blob(b"\xff\xff\xff")
    assert bad.problems and bad.spec_json is None
