"""Run ``python -m ckpt_tui ...`` under a real pseudo-terminal, as a person's terminal would.

The child is the session leader with the pty as its controlling terminal (``pty.fork``), so
closing the master is a real hang-up: the kernel sends SIGHUP and SIGCONT and every later
terminal I/O fails with EIO. Each run gets a private ``TMPDIR`` (the app's workspaces go there)
and working directory. Used by tests/test_signals.py and bench/signals.py.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMNOZc])")


class PtyApp:
    """One ``ckpt-tui`` process on a pty of ``cols`` x ``rows``."""

    def __init__(self, args: list[str], *, tmpdir: Path, cwd: Path, env: dict[str, str] | None = None,
                 cols: int = 120, rows: int = 40) -> None:
        self.tmpdir = tmpdir
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEXTUAL"))}
        environment.update({"TMPDIR": str(tmpdir), "TERM": "xterm-256color", "COLORTERM": "truecolor",
                            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
        environment.update(env or {})
        argv = [sys.executable, "-m", "ckpt_tui", *args]
        pid, fd = pty.fork()
        if pid == 0:  # the child: only async-signal-safe work until exec
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], argv, environment)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd: int | None = fd
        self.output = bytearray()
        self.status: int | None = None

    # -- the screen ------------------------------------------------------------------------
    def read(self, seconds: float) -> None:
        """Take what the app wrote for ``seconds`` (or until the pty closes)."""
        end = time.monotonic() + seconds
        while self.fd is not None:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:  # EIO: the child side is closed
                chunk = b""
            if not chunk:
                return
            self.output += chunk

    def text(self) -> str:
        """Everything written so far, without escape sequences (for "has it drawn X")."""
        return ANSI.sub(b"", bytes(self.output)).decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = 15.0) -> bool:
        """Read until ``pattern`` (a regex) has been drawn; False after ``timeout`` or an exit."""
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        seen = 0
        while time.monotonic() < end and self.fd is not None and self.poll() is None:
            self.read(0.05)
            text = self.text()
            if rx.search(text, max(0, seen - 4096)):
                return True
            seen = len(text)
        return bool(rx.search(self.text()))

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        """Type each of ``keys`` (raw terminal bytes), reading the screen between them."""
        for key in keys:
            assert self.fd is not None
            os.write(self.fd, key.encode())
            self.read(pause)

    # -- ending it ---------------------------------------------------------------------------
    def hang_up(self) -> None:
        """Close the terminal (the master side): what a closed window or an ssh drop does."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def kill(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait(self, timeout: float) -> int | None:
        """The exit status (negative: killed by that signal), reading the screen meanwhile so the
        app never blocks on a full terminal; None if it is still running after ``timeout``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.poll() is not None:
                return self.status
            if self.fd is not None:
                self.read(0.02)
            else:
                time.sleep(0.02)
        return self.poll()

    def close(self) -> None:
        """Make sure nothing is left: SIGKILL a process still running, close the pty."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
        self.hang_up()

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
