#!/usr/bin/env python3
"""ckpt-tui diff benchmark (issue #13): two large checkpoints compared, in fresh processes.

    python bench/diff.py             # 200 MB of pages each (120 + 80 MiB), 100,000-entry root FS diffs
    python bench/diff.py --quick     # small sizes, a smoke run
    python bench/diff.py --repeat 5

Each pair is a base archive and a "later dump" of it (bench/gen.py, ``Spec.changed``: an
eighth of the memory's MiB chunks, a twentieth of the files given other content). Measured,
each in a fresh child (wall, peak RSS from wait4): opening both checkpoints the way the
diff does (every member indexed, memory pages kept), ``ckpt-tui diff A B --json`` end to
end, and one ``ckpt-tui inspect --json`` (the RSS yardstick). Targets: the diff within
1.5x of opening both, its peak RSS within 1.5x of one inspect's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))

import gen  # noqa: E402
import run  # noqa: E402
from gen import MiB, Spec  # noqa: E402

LATER = {"mem": 0.125, "files": 0.05}


def pairs(quick: bool) -> dict[str, tuple[Spec, Spec]]:
    sizes = run.QUICK if quick else run.FULL
    specs = run.archive_specs(sizes)
    out = {}
    for key, base in (("mem", specs["mem.zst"]), ("files", specs["files.zst"])):
        later = dataclasses.replace(base, name=base.name + "-later", changed=LATER[key])
        out[key] = (base, later)
    return out


def probe(task: str, a: str, b: str) -> None:
    """In a child: open both checkpoints (``open``) as ``diff`` does, print one JSON line."""
    t0 = time.perf_counter()
    from ckpt_tui.model import load_checkpoint

    out: dict[str, float] = {}
    if task == "open":
        x = load_checkpoint(a)
        y = load_checkpoint(b)
        out["wall"] = time.perf_counter() - t0
        x.close()
        y.close()
    elif task == "phases":  # the diff's own phases in one process: opening both, then comparing
        from ckpt_tui.actions.diff import diff_checkpoints, load_pair

        x, y = load_pair(a, b)
        t1 = time.perf_counter()
        result = diff_checkpoints(x, y)
        json.dumps(result.to_json())
        out["open"] = t1 - t0
        out["compare"] = time.perf_counter() - t1
        x.close()
        y.close()
    else:
        raise SystemExit(f"unknown probe {task}")
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", type=Path, default=gen.CACHE)
    p.add_argument("--probe", nargs=3, metavar=("TASK", "A", "B"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        probe(*args.probe)
        return 0
    import compileall

    import ckpt_tui

    compileall.compile_dir(str(Path(ckpt_tui.__file__).parent), quiet=1)  # as installed (see run.py)
    run.start_spawner()
    res = run.Results()
    cli = run.ckpt_tui_cmd()
    for key, (base, later) in pairs(args.quick).items():
        a, b = gen.generate(base, args.cache), gen.generate(later, args.cache)
        for path in (a, b):
            run.warm(path)
        case = f"{key}: {a.stat().st_size / MiB:.0f} + {b.stat().st_size / MiB:.0f} MiB archives"
        # a fresh process that opens both, as the diff does: the same start-up and imports
        opened = [run.run_child([sys.executable, str(HERE / "diff.py"), "--probe", "open", str(a), str(b)])
                  for _ in range(args.repeat)]
        diffs = [run.run_child([*cli, "diff", str(a), str(b), "--json"], capture=True) for _ in range(args.repeat)]
        phases = [json.loads(run.run_child([sys.executable, str(HERE / "diff.py"), "--probe", "phases", str(a), str(b)],
                                           capture=True).out.decode().strip().splitlines()[-1])
                  for _ in range(args.repeat)]
        inspects = [run.run_child([*cli, "inspect", str(a), "--json"], capture=True) for _ in range(args.repeat)]
        if any(r.rc != 1 for r in diffs):
            res.skip("diff", case, f"ckpt-tui diff exited {diffs[0].rc}: {diffs[0].err.strip()[-300:]}")
            continue
        doc = json.loads(diffs[0].out)
        summary = doc["summary"]
        o, d, i = run.Run.best(opened), run.Run.best(diffs), run.Run.best(inspects)
        res.add("diff", case, "open both (process, best)", o.wall, "s")
        res.add("diff", case, "ckpt-tui diff --json (best)", d.wall, "s", target=1.5 * o.wall,
                note=f"{d.wall / o.wall:.2f}x opening both")
        ph = min(phases, key=lambda p: p["open"] + p["compare"])
        res.add("diff", case, "in one process: open both + compare", ph["open"] + ph["compare"], "s",
                target=1.5 * ph["open"], note=f"open {ph['open']:.3f} s, compare {ph['compare']:.3f} s "
                                              f"({(ph['open'] + ph['compare']) / ph['open']:.2f}x opening)")
        res.add("diff", case, "peak RSS: diff", d.rss_mb, "MB", target=1.5 * i.rss_mb,
                note=f"one inspect --json: {i.rss_mb:.0f} MB; opening both: {o.rss_mb:.0f} MB")
        if key == "mem":
            pages = [n for n in _walk(doc["sections"]["processes"]) if n["kind"] == "memory"]
            changed = sum(n["pages"]["changed"] for n in pages)
            same = sum(n["pages"]["same"] for n in pages)
            res.add("diff", case, "pages compared", changed + same, "", note=f"{changed:,} changed, {same:,} same")
        else:
            f = summary["files"]
            res.add("diff", case, "root FS entries", f["added"] + f["removed"] + f["modified"] + f["unchanged"], "",
                    note=f"+{f['added']:,} -{f['removed']:,} ~{f['modified']:,}")
    print()
    run.print_table(res)
    return 0


def _walk(node: dict):
    yield node
    for c in node.get("children", ()):
        yield from _walk(c)


if __name__ == "__main__":
    sys.exit(main())
