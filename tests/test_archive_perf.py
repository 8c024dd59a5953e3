"""The archive layer's fast paths (issue #6) give the same results as the plain ones."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest
import zstandard

from ckpt_tui.archive import Limits, open_source
from ckpt_tui.archive.streams import Budget, ZstdDecoder, tar_checksum_ok
from ckpt_tui.archive.tarstream import TarReader

DATA = Path(__file__).parent / "data"


def _reference_checksum_ok(block: bytes) -> bool:
    if len(block) < 512 or block[:512] == bytes(512):
        return False
    field = block[148:156].split(b"\0", 1)[0].strip(b" ")
    try:
        stored = int(field, 8) if field else -1
    except ValueError:
        return False
    unsigned = sum(block[:148]) + sum(block[156:512]) + 8 * 0x20
    signed = unsigned - 256 * (sum(1 for b in block[:148] if b > 127) + sum(1 for b in block[156:512] if b > 127))
    return stored in (unsigned, signed)


def test_checksum_matches_reference():
    rng = random.Random(7)
    for i in range(3000):
        block = bytearray(rng.randbytes(512) if i % 2 else rng.choice([b"a", b"\xff", b"\0"]) * 512)
        unsigned = sum(block[:148]) + sum(block[156:]) + 256
        signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127)
        block[148:156] = b"%06o\0 " % (rng.choice([unsigned, signed, unsigned + 1, 0]) % 8**6)
        data = bytes(block) + (b"tail" if i % 7 == 0 else b"")
        assert tar_checksum_ok(data) == _reference_checksum_ok(data)


def _tar(sizes: list[int]) -> tuple[bytes, dict[str, bytes]]:
    rng = random.Random(len(sizes))
    buf = io.BytesIO()
    files = {}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i, size in enumerate(sizes):
            body = rng.randbytes(size)
            ti = tarfile.TarInfo(f"d/f{i:04d}-" + "n" * (i % 130))
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
            files[ti.name] = body
    return buf.getvalue(), files


SIZES = [0, 1, 511, 512, 513, 4095, 65536, 65537, 200_000, 3, 70_000, 1 << 20, (1 << 20) + 17, 5, 0, 262_145]


@pytest.mark.parametrize("how", ["bytesio", "zstd", "zstd-tiny-reads"])
def test_buffered_reads_give_every_byte(how, tmp_path):
    data, files = _tar(SIZES)
    if how == "bytesio":
        stream = io.BytesIO(data)
    else:
        comp = zstandard.ZstdCompressor().compress(data)

        class Tiny(io.BytesIO):
            def read(self, n=-1):
                return super().read(min(n, 7) if n and n > 0 else n)

        raw = Tiny(comp) if how == "zstd-tiny-reads" else io.BytesIO(comp)
        stream = ZstdDecoder(raw, Budget(Limits()))
    tr = TarReader(stream)
    got = {}
    for k, entry in enumerate(tr.entries()):
        if k % 3 == 0:
            got[entry.name] = tr.read_data(entry)
        elif k % 3 == 1:
            parts = []
            tr.copy_data(entry, parts.append)
            got[entry.name] = b"".join(parts)
        else:
            p = tmp_path / f"s{k}"
            fd = os.open(p, os.O_WRONLY | os.O_CREAT)
            try:
                tr.copy_data_to_fd(entry, fd)
            finally:
                os.close(fd)
            got[entry.name] = p.read_bytes()
    assert tr.ended_cleanly
    assert got == files


def test_small_members_past_the_memory_budget_share_one_pack_file():
    limits = Limits(max_memory_total=4096)
    with open_source(DATA / "web-httpd.tar.zst", limits=limits) as src, \
            open_source(DATA / "web-httpd.tar.zst") as ref:
        packed = set()
        for name, m in src.members.items():
            if m.type != "file":
                continue
            assert src.read(name) == ref.read(name)
            rng = src.file_range(name)
            if rng is not None:
                path, off, size = rng
                with open(path, "rb") as f:
                    f.seek(off)
                    assert f.read(size) == ref.read(name)
                packed.add(path)
        spill_files = [p for p in src.workspace.path.rglob("*") if p.is_file()]
        assert len(packed) == 1 and len(spill_files) == 1
