#!/usr/bin/env python3
"""ckpt-tui scan benchmark (issue #17): scanning all memory against one memsearch pass.

    python bench/scan.py             # the 1 GiB checkpoint (big.zst) and the 200 MB one (mem.zst)
    python bench/scan.py --quick     # small sizes, a smoke run
    python bench/scan.py --repeat 5

Each in a fresh child (wall, peak RSS from wait4), the archive warm in the OS page cache:
``ckpt-tui memsearch PATH NEEDLE`` (one literal pass over all memory, the yardstick),
``memsearch --regex``, ``ckpt-tui scan PATH --json`` (every secret rule over all memory, every
page hashed, and the rest of the scan), and ``scan --no-memory``. Target: the scan within 1.5x
of the literal memsearch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))

import gen  # noqa: E402
import run  # noqa: E402
from gen import SECRET, SECRET_REGEX, MiB  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", type=Path, default=gen.CACHE)
    args = p.parse_args(argv)
    import compileall

    import ckpt_tui

    compileall.compile_dir(str(Path(ckpt_tui.__file__).parent), quiet=1)  # as installed (see run.py)
    run.start_spawner()
    res = run.Results()
    cli = run.ckpt_tui_cmd()
    specs = run.archive_specs(run.QUICK if args.quick else run.FULL)
    for key in ("big.zst", "mem.zst"):
        path = gen.generate(specs[key], args.cache)
        run.warm(path)
        case = f"{key} ({path.stat().st_size / MiB:.0f} MiB archive)"
        times = {}
        for label, cmd in (("memsearch literal", ["memsearch", str(path), SECRET.decode()]),
                           ("memsearch --regex", ["memsearch", str(path), "--regex", SECRET_REGEX.decode()]),
                           ("scan --json", ["scan", str(path), "--json"]),
                           ("scan --no-memory --json", ["scan", str(path), "--no-memory", "--json"])):
            runs = [run.run_child([*cli, *cmd], capture=True) for _ in range(args.repeat)]
            # memsearch exits 0; scan 0 or 1 (findings at high) with its JSON: anything else failed
            bad = [r for r in runs if r.rc not in (0, 1) or (label.startswith("scan") and not r.out.startswith(b"{"))]
            if bad:
                res.skip("scan", case, f"{label} exited {bad[0].rc}: {bad[0].err.strip()[-300:]}")
                break
            times[label] = b = run.Run.best(runs)
            target = 1.5 * times["memsearch literal"].wall if label == "scan --json" else None
            note = f"peak RSS {b.rss_mb:.0f} MB"
            if label != "memsearch literal":
                note += f"; {b.wall / times['memsearch literal'].wall:.2f}x the literal memsearch"
            if label == "scan --json":
                doc = json.loads(b.out)
                note += (f"; {doc['summary']['findings']} findings, waste score {doc['waste']['score']:.3f} "
                         f"({doc['waste']['wasted_bytes'] / MiB:.0f} MiB)")
            res.add("scan", case, f"{label} (best)", b.wall, "s", target=target, note=note)
    print()
    run.print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
