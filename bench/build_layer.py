#!/usr/bin/env python3
"""Does writing the OCI layer with :mod:`tarfile` cost anything against a hand-written tar writer?

    python bench/build_layer.py              # 120 + 80 MiB of pages (the archive run.py's mem.tar uses)
    python bench/build_layer.py --quick      # 20 + 18 MiB
    python bench/build_layer.py --repeat 5 --sizes mem=512M

``ckpt-tui build`` writes the layer tar with ``tarfile`` in stream mode
(``ckpt_tui.actions.build.oci.write_layer``). Before, it wrote the headers itself
(``TarInfo.tobuf``, the data, the padding); that writer is reproduced here as the reference.
Both run on the same loaded checkpoint (a plain tar from ``bench/gen.py``, read in place, so
neither waits for decompression), into a sink that hashes and drops the bytes. The digests
must be equal; the table gives the best wall time of ``--repeat`` runs and the throughput,
uncompressed (the tar writer alone) and with gzip (what ``build`` does by default).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))  # after PYTHONPATH / the installed package

import gen  # noqa: E402
from gen import MiB, Spec  # noqa: E402

from ckpt_tui.actions.build import oci  # noqa: E402
from ckpt_tui.model import Checkpoint, load_checkpoint  # noqa: E402

BLOCK, RECORD = 512, 20 * 512
MEMHOG = "memhog-16m-threads.tar.zst"


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        return len(data)


def hand_written_layer(ck: Checkpoint, out, compress: bool) -> str:
    """The writer ckpt-tui had before tarfile: the same headers (TarInfo.tobuf, PAX), the data
    in 1 MiB reads, the padding and the end blocks, written by hand. Returns the diff ID."""
    entries = oci.layer_entries(ck, [])
    stored = oci.HashWriter(out)
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=stored, compresslevel=6, mtime=0) if compress else None
    raw = oci.HashWriter(gz) if gz is not None else stored
    for entry in entries:
        ti = oci._tarinfo(entry)
        raw.write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if entry.kind != "file":
            continue
        with ck.open_member(entry.name) as fh:
            left = entry.size
            while left:
                chunk = fh.read(min(oci.CHUNK, left))
                raw.write(chunk)
                left -= len(chunk)
        if entry.size % BLOCK:
            raw.write(b"\0" * (BLOCK - entry.size % BLOCK))
    raw.write(b"\0" * (2 * BLOCK))
    if raw.size % RECORD:
        raw.write(b"\0" * (RECORD - raw.size % RECORD))
    if gz is not None:
        gz.close()
    return raw.digest


def with_tarfile(ck: Checkpoint, out, compress: bool) -> str:
    return oci.write_layer(ck, out, compress=compress, notes=[]).diff_id


def best_of(fn: Callable[[], str], repeat: int) -> tuple[float, str]:
    times, digest = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        digest = fn()
        times.append(time.perf_counter() - t0)
    return min(times), digest


def parse_mem(text: str) -> list[int]:
    sizes = []
    for part in text.removeprefix("mem=").split("+"):
        number, unit = part[:-1], part[-1].upper()
        sizes.append(int(float(number) * {"K": 1 << 10, "M": MiB, "G": 1 << 30}[unit]))
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 + 18 MiB of pages")
    ap.add_argument("--sizes", default="", metavar="mem=120M+80M", help="memory of the two processes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=gen.CACHE, help="where the generated archive is kept")
    args = ap.parse_args(argv)
    mem = parse_mem(args.sizes) if args.sizes else ([20 * MiB, 18 * MiB] if args.quick else [120 * MiB, 80 * MiB])
    tag = "+".join(f"{m // MiB}M" for m in mem)
    archive = gen.generate(Spec(f"mem-{tag}", MEMHOG, "tar", mem=mem), args.cache, log=print)
    with load_checkpoint(archive) as ck:
        total = sum(m.size for n in ck.member_names() if (m := ck.member(n)) is not None and m.type == "file")
        print(f"archive: {archive.name}, {len(ck.member_names())} members, {total / MiB:.0f} MiB of files")
        print(f"{'layer':<14} {'writer':<13} {'best s':>8} {'MiB/s':>8} {'vs hand':>8}")
        ok = True
        for compress in (False, True):
            hand_s, hand_d = best_of(lambda c=compress: hand_written_layer(ck, _Null(), c), args.repeat)
            tar_s, tar_d = best_of(lambda c=compress: with_tarfile(ck, _Null(), c), args.repeat)
            label = "gzip" if compress else "uncompressed"
            for who, secs in (("hand-written", hand_s), ("tarfile w|", tar_s)):
                print(f"{label:<14} {who:<13} {secs:>8.3f} {total / MiB / secs:>8.0f} {secs / hand_s:>7.2f}x")
            if hand_d != tar_d:
                print(f"  DIGESTS DIFFER: {hand_d} vs {tar_d}")
                ok = False
        print("same diff ID from both writers" if ok else "the writers disagree")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
