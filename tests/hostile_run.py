"""Run the CLI commands on one input the way the held-out hostile set is run (issue #19).

Each command is its own ``python -m ckpt_tui`` process with a fresh, empty HOME and TMPDIR
(and no cache settings), stdout and stderr to files; its peak RSS comes from ``wait4`` in a
small wrapper process (the child's own, see ``_WRAPPER``). HOME and TMPDIR are listed
afterwards: they must be empty again.
``tests/test_hostile_cli.py`` asserts on the results; ``bench/hostile.py`` prints their
times. (A ``timeout`` kills the process group and marks the run; the tests give a generous
one only so that a hang fails instead of stopping the suite.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("inspect", "list", "memsearch", "memdump", "decode", "build")


@dataclass
class Run:
    command: str
    argv: list[str]
    rc: int
    stdout: bytes
    stderr: bytes
    seconds: float
    max_rss: int  # bytes
    timed_out: bool = False
    leftovers: list[str] = field(default_factory=list)  # what was left in HOME or TMPDIR


def argv_for(command: str, path: Path, *, image: str = "core-1.img", out: Path | None = None) -> list[str]:
    """The arguments of ``command`` on ``path`` (``list`` looks in the directory holding it)."""
    p = str(path)
    return {
        "inspect": ["inspect", p],
        "list": ["list", str(path.parent)],
        "memsearch": ["memsearch", p, "ckpt-tui-hostile-needle"],
        "memdump": ["memdump", p, "--pid", "1", "--address", "0x1000", "--length", "16"],
        "decode": ["decode", p, image],
        "build": ["build", p, "localhost/hostile:latest", "--output", str(out or Path(tempfile.gettempdir()) / "x")],
    }[command]


def _left(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


# A child's ru_maxrss includes the resident size of the process it was started from (Linux
# carries the pre-exec mm's high-water mark over exec, and Popen's vfork shares the parent's
# mm until then), so each command is started by a small wrapper (``python -S``, ~10 MB),
# which waits for it with wait4, kills its process group at the timeout, and reports.
_WRAPPER = r"""
import json, os, signal, subprocess, sys, time
job = json.loads(sys.argv[1])
out, err = open(job["stdout"], "wb"), open(job["stderr"], "wb")
t0 = time.monotonic()
p = subprocess.Popen(job["cmd"], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=job["env"],
                     cwd=job["cwd"], start_new_session=True)
timed_out = False
while True:
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    if job["timeout"] and time.monotonic() - t0 > job["timeout"]:
        timed_out = True
        os.killpg(p.pid, signal.SIGKILL)
        pid, status, ru = os.wait4(p.pid, 0)
        break
    time.sleep(0.01)
print(json.dumps([os.waitstatus_to_exitcode(status), time.monotonic() - t0, ru.ru_maxrss, timed_out]))
"""


def run(argv: list[str], *, timeout: float | None = None, command: str = "") -> Run:
    """``python -m ckpt_tui *argv`` in a fresh HOME and TMPDIR (both removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="ckpt-hostile-") as base:
        b = Path(base)
        home, tmp = b / "home", b / "tmp"
        home.mkdir()
        tmp.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CKPT_TUI_CACHE", "XDG_")) and k not in ("HOME", "TMPDIR")}
        env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
        out_path, err_path = b / "stdout", b / "stderr"
        job = {"cmd": [sys.executable, "-m", "ckpt_tui", *argv], "env": env, "cwd": str(b), "timeout": timeout,
               "stdout": str(out_path), "stderr": str(err_path)}
        report = subprocess.run([sys.executable, "-S", "-c", _WRAPPER, json.dumps(job)], capture_output=True,
                                text=True, check=True)
        rc, seconds, max_rss, timed_out = json.loads(report.stdout)
        return Run(command=command or argv[0], argv=argv, rc=rc, stdout=out_path.read_bytes(),
                   stderr=err_path.read_bytes(), seconds=seconds, max_rss=max_rss * 1024, timed_out=timed_out,
                   leftovers=[f"HOME/{n}" for n in _left(home)] + [f"TMPDIR/{n}" for n in _left(tmp)])


def run_all(path: Path, *, image: str = "core-1.img", commands=COMMANDS, timeout: float | None = None) -> list[Run]:
    """Every command of ``commands`` on ``path``; ``build`` writes into a directory of its own."""
    runs = []
    for command in commands:
        out_dir = Path(tempfile.mkdtemp(prefix="ckpt-hostile-out-"))
        try:
            argv = argv_for(command, path, image=image, out=out_dir / "image.tar")
            runs.append(run(argv, timeout=timeout, command=command))
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
    return runs
