#!/usr/bin/env python3
"""The ratio table of issue #15, every row in one run.

    python bench/ratios.py                # the web server fixture, 5,000 and 100,000 root FS entries, the UI
    python bench/ratios.py --repeat 7 --no-big

For each archive and command (``inspect --json``, ``memsearch``, text ``inspect``) it runs the
CLI in fresh processes, alternately with what it is compared with so that both see the same
load, and prints medians of ``--repeat`` runs: wall and CPU time, peak RSS, and the ratio of
CPU times (on a shared machine wall time mostly measures the other processes), against:

* Python's own floor: ``python -c`` importing exactly the third-party modules that command
  imported (listed from ``sys.modules`` of a probe run of the same command); the goal is at
  most 2x on an archive of 1 MB or less;
* ``checkpointctl`` when it is on PATH (``inspect --all --format json``, ``memparse --search``
  once per pid, ``show``); the goal for ``inspect --json`` is at most 2x everywhere and 1x from
  100,000 root FS entries up (with peak RSS at most 64 MB there).

The last row is the UI's first frame on the bundled demo from process start (a pty, the header
and the overview detected on screen: ``bench/firstframe.py``); the goal is 0.5 s. Archives come
from ``bench/gen.py`` (cached in ``bench/.cache/``). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import firstframe  # noqa: E402
import gen  # noqa: E402
from run import machine, run_child  # noqa: E402

_PROBE = (
    "import contextlib, io, json, runpy, sys\n"
    "sys.argv = ['ckpt-tui', *sys.argv[1:]]\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    try:\n"
    "        runpy.run_module('ckpt_tui', run_name='__main__')\n"
    "    except SystemExit:\n"
    "        pass\n"
    "std = sys.stdlib_module_names\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in std and not m.startswith('_')\n"
    "                        and m.split('.')[0] not in ('ckpt_tui', '__main__'))))\n"
)


def third_party(args: list[str]) -> list[str]:
    """The third-party modules ``ckpt-tui ARGS`` imports."""
    r = run_child([sys.executable, "-c", _PROBE, *args], capture=True)
    return json.loads(r.out.decode().strip().splitlines()[-1])


def timed(cmd: list[str], repeat: int) -> tuple[float, float]:
    runs = [run_child(cmd) for _ in range(repeat)]
    return statistics.median(r.wall for r in runs), max(r.rss_mb for r in runs)


def paired(ours: list[str], others: list[list[str]], repeat: int) -> dict:
    """``ours`` and ``others`` (summed: one per pid) run alternately, so both see the same load:
    medians of wall and CPU time, and the median of the runs' CPU ratios."""
    rows = []
    for _ in range(repeat):
        a = run_child(ours)
        b = [run_child(c) for c in others]
        rows.append((a.wall, a.cpu, a.rss_mb, sum(r.wall for r in b), sum(r.cpu for r in b)))
    med = statistics.median
    return {"wall": med(r[0] for r in rows), "cpu": med(r[1] for r in rows), "rss_mb": max(r[2] for r in rows),
            "other_wall": med(r[3] for r in rows), "other_cpu": med(r[4] for r in rows),
            "ratio": med(r[1] / r[4] for r in rows if r[4] > 0)}


def archives(big: bool) -> list[tuple[str, Path]]:
    rows = [("web server, 340 KB (tests/data/web-httpd.tar.zst)", ROOT / "tests/data/web-httpd.tar.zst")]
    sizes = [5000] + ([100_000] if big else [])
    for n in sizes:
        spec = gen.Spec(f"files-{n}", "web-httpd.tar.zst", "zst", files=n)
        path = gen.generate(spec, log=lambda *a: None)
        rows.append((f"{n:,}-entry root FS diff ({path.stat().st_size / 1e6:.1f} MB zst)", path))
    return rows


def checkpointctl_cmds(ctl: str, path: Path, pids: list[int]) -> dict[str, list[list[str]]]:
    return {"inspect --json": [[ctl, "inspect", str(path), "--all", "--format", "json"]],
            "memsearch": [[ctl, "memparse", str(path), "--pid", str(p), "--search", "httpd"] for p in pids],
            "text inspect": [[ctl, "show", str(path)]]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-big", action="store_true", help="leave out the 100,000-entry archive")
    p.add_argument("--no-ui", action="store_true", help="leave out the first frame")
    args = p.parse_args()
    info = machine()
    ctl = shutil.which("checkpointctl")
    cli = [sys.executable, "-m", "ckpt_tui"]
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']}, {info['os']}, Python {info['python']}")
    print(f"load average at start: {info.get('load', '?')}; checkpointctl: {ctl or 'not on PATH'}; "
          f"median of {args.repeat} runs each, fresh processes; ratios of CPU time")
    print()
    head = (f"{'archive':44} {'command':14} {'ckpt-tui wall/cpu':>17} {'floor cpu':>9} {'x floor':>7} "
            f"{'ctl cpu':>7} {'x ctl':>6} {'RSS':>6}")
    print(head)
    print("-" * len(head))
    rows = []
    for title, path in archives(not args.no_big):
        pids = [proc["pid"] for proc in json.loads(run_child([*cli, "inspect", str(path), "--json"],
                                                             capture=True).out)["processes"]]
        ours = {"inspect --json": ["inspect", str(path), "--json"], "memsearch": ["memsearch", str(path), "httpd"],
                "text inspect": ["inspect", str(path)]}
        theirs = checkpointctl_cmds(ctl, path, pids) if ctl else {}
        for name, cmd in ours.items():
            mods = third_party(cmd)
            # by importlib: some module names are no identifiers (rich._unicode_data.unicode17-0-0)
            floor_cmd = [sys.executable, "-c", f"import importlib\nfor m in {mods!r}: importlib.import_module(m)"]
            f = paired([*cli, *cmd], [floor_cmd], args.repeat)
            c = paired([*cli, *cmd], theirs[name], args.repeat) if name in theirs else None
            rows.append({"archive": title, "command": name, **f, "floor_modules": mods,
                         "checkpointctl": c})
            ctl_text = f"{c['other_cpu']:6.3f}s {c['ratio']:5.1f}x" if c else f"{'-':>7} {'-':>6}"
            print(f"{title[:44]:44} {name:14} {f['wall']:7.3f}s/{f['cpu']:6.3f}s {f['other_cpu']:8.3f}s "
                  f"{f['ratio']:6.1f}x {ctl_text} {f['rss_mb']:4.0f}MB", flush=True)
    if not args.no_ui:
        marker = firstframe.container_name(None)
        floor_cmd = [sys.executable, "-c", "import textual.app, textual.widgets"]
        runs, floors = [], []
        for _ in range(args.repeat):
            runs.append(firstframe.first_frame(None, marker))
            floors.append(run_child(floor_cmd).wall)
        wall, floor = statistics.median(runs), statistics.median(floors)
        rows.append({"archive": "bundled demo", "command": "UI first frame", "wall": wall, "floor_wall": floor,
                     "best": min(runs)})
        print(f"{'bundled demo, from process start':44} {'first frame':14} {wall:7.3f}s (wall; best {min(runs):.3f}s)"
              f"  floor: import textual.app, textual.widgets {floor:.3f}s wall, {wall / floor:.1f}x")
    print()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
