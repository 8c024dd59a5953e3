"""Time from process start to the UI's first frame with the header and the overview (issue #15).

``python bench/firstframe.py [ARCHIVE] [--repeat N]`` runs ``python -m ckpt_tui [ARCHIVE]`` (no
ARCHIVE: the bundled demo) in a pseudo-terminal of 160x50, reads what it draws, and stops the
clock when the screen holds the header (the container's name and engine, taken from the archive
first with ``inspect --json``) and the overview's rows; then it presses ``q``. The
clock starts before the process is spawned, so interpreter start-up and every import count.
Nothing is asserted: it prints seconds (best and median of the runs).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLS, ROWS = 160, 50
_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>78]|\x1b\][^\x07]*\x07")


def container_name(archive: Path | None) -> str:
    from ckpt_tui.app import DEMO_PATH

    path = archive or DEMO_PATH
    out = subprocess.run([sys.executable, "-m", "ckpt_tui", "inspect", str(path), "--json"],
                         capture_output=True, text=True, check=True).stdout
    container = json.loads(out)["container"]
    return f"{container['name']} ({container['engine']})"


def first_frame(archive: Path | None, marker: str, timeout: float = 60.0) -> float:
    """Seconds from spawning the UI until its output holds the header's ``marker`` and the
    overview's Engine row."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
    env.pop("TEXTUAL", None)
    cmd = [sys.executable, "-m", "ckpt_tui", *([str(archive)] if archive else [])]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    seen = b""
    want = (marker.encode(), b"Engine ")
    found = None
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            seen += chunk
            text = _ESCAPES.sub(b"", seen)
            if all(w in text for w in want):
                found = time.perf_counter() - start
                break
        os.write(master, b"q")
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        _drain(master)
        os.close(master)
    if found is None:
        raise RuntimeError(f"no frame with {want!r} within {timeout} s (exit {proc.returncode})")
    return found


def _drain(fd: int) -> None:
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            return
        try:
            if not os.read(fd, 1 << 16):
                return
        except OSError:
            return


def measure(archive: Path | None, repeat: int) -> list[float]:
    marker = container_name(archive)
    return [first_frame(archive, marker) for _ in range(repeat)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive", nargs="?", type=Path, help="archive to open (default: the bundled demo)")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    runs = measure(args.archive, args.repeat)
    print(f"first frame: best {min(runs):.3f} s, median {statistics.median(runs):.3f} s "
          f"({len(runs)} runs, load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
