#!/usr/bin/env python3
"""How fast the UI leaves on SIGTERM, SIGHUP and a hang-up (issue #18): the goal is one second.

    python bench/signals.py               # 12 runs: during a load, at varied delays
    python bench/signals.py --repeat 30 --mem 120M

Each run is ``ckpt-tui ARCHIVE`` on a real pseudo-terminal (tests/ptyapp.py), with a private
TMPDIR; the signal is sent (or the terminal's master side closed) a varied delay after the
app's first frame, while the archive loads. Measured: the time from the signal to the exit
(``waitpid``), and whether TMPDIR was left empty. The archive is the memhog fixture grown by
bench/gen.py (cached in bench/.cache/). tests/test_signals.py asserts that every run ends and
leaves nothing, with generous waits; this prints the times against the one-second goal.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import gen  # noqa: E402
from run import parse_size  # noqa: E402

from tests.ptyapp import PtyApp  # noqa: E402

GOAL = 1.0  # seconds from the signal to the exit
HOWS = ("hangup", "SIGTERM", "SIGHUP")


def one(archive: Path, how: str, delay: float) -> tuple[float | None, bool, str]:
    """(seconds from the signal to the exit or None if it had not ended after 10 s, TMPDIR left
    empty, the load's state when the signal came)."""
    with tempfile.TemporaryDirectory(prefix="bench-signals-") as base:
        tmp, cwd = Path(base, "tmp"), Path(base, "cwd")
        tmp.mkdir()
        cwd.mkdir()
        with PtyApp([str(archive)], tmpdir=tmp, cwd=cwd) as app:
            if not app.wait_for(r"Overview", 60):
                raise SystemExit(f"the app did not start:\n{app.text()[-1500:]}")
            app.read(delay)
            state = "loaded" if re.search(r"Processes\s+\d", app.text()) else "loading"
            sent = time.monotonic()
            if how == "hangup":
                app.hang_up()
            else:
                app.kill(getattr(signal, how))
            status = app.wait(10.0)
            took = time.monotonic() - sent if status is not None else None
            return took, not os.listdir(tmp), state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=12, help="runs (hang-up, SIGTERM, SIGHUP in turn)")
    ap.add_argument("--mem", type=parse_size, default=parse_size("64M"), help="memory of the archive (64M)")
    args = ap.parse_args()
    spec = gen.Spec("signals", "memhog-16m-threads.tar.zst", "zst", mem=[args.mem])
    archive = gen.generate(spec, gen.CACHE, log=lambda msg: print(msg, file=sys.stderr))
    print(f"machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; archive {archive.name}")
    times: list[float] = []
    bad = 0
    for i in range(args.repeat):
        how, delay = HOWS[i % len(HOWS)], (i * 0.13) % 1.2
        took, clean, state = one(archive, how, delay)
        bad += took is None or not clean
        if took is not None:
            times.append(took)
        shown = "STUCK" if took is None else f"{took:.3f} s"
        print(f"{how:8} after {delay:4.2f} s ({state:7}): exit {shown}{'' if clean else ', TMPDIR NOT EMPTY'}")
    if times:
        worst = max(times)
        print(f"signal to exit: median {statistics.median(times):.3f} s, worst {worst:.3f} s "
              f"(goal {GOAL:.0f} s: {'ok' if worst <= GOAL and not bad else 'MISS'})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
