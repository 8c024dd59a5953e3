"""Smoke test of the benchmark (not part of the test suite: ``pytest bench/test_smoke.py``).

Runs ``bench/run.py --quick --only inspect`` on freshly generated small archives and
checks that it finishes, exits 0 and prints its table.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_quick_inspect_runs(tmp_path):
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--quick", "--only", "inspect", "--repeat", "1",
         "--cache", str(tmp_path), "--json", str(tmp_path / "results.json")],
        capture_output=True, text=True, timeout=120,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "machine:" in out and "ckpt-tui" in out
    rows = [line for line in out.splitlines() if line.startswith("inspect ")]
    assert any("wall (best)" in r for r in rows), out[-2000:]
    assert not any("skipped" in r for r in rows), out[-2000:]
    assert (tmp_path / "results.json").is_file()
    assert elapsed < 60, f"the quick smoke run took {elapsed:.1f} s"


def test_checkpointctl_on_path_gets_a_ratio(tmp_path):
    """With a checkpointctl on PATH (here a stand-in that takes 0.5 s) the same work is run
    with it and the table says how ckpt-tui compares."""
    import os

    fake = tmp_path / "bin" / "checkpointctl"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nsleep 0.5\necho '[]'\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--quick", "--only", "inspect", "--repeat", "1",
         "--cache", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("inspect ") and "wall (best)" in line]
    assert rows and all(("faster" in r or "slower" in r) and "0.5" in r for r in rows), proc.stdout[-2000:]
