"""Run ``python -m ckpt_tui ...`` under a real pseudo-terminal, as a person's terminal would.

The child is the session leader with the pty as its controlling terminal (``pty.fork``), so
closing the master is a real hang-up: the kernel sends SIGHUP and SIGCONT and every later
terminal I/O fails with EIO. Each run gets a private ``TMPDIR`` (the app's workspaces go there)
and working directory. Used by tests/test_signals.py and bench/signals.py.

:func:`drive` runs several scripted sessions side by side (one ``select`` over their terminals,
no threads: a fork from a threaded process could hang the child before its exec). A script is a
generator that yields what it waits for next: a regex to be drawn, a number of seconds to pass,
a predicate to become true, or :data:`EXIT` (the process to end).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
        # (forkpty's master is inheritable: an app started later would hold this terminal open,
        # and closing it here would then be no hang-up)
        os.set_inheritable(fd, False)
        self.pid = pid
        self.fd: int | None = fd
        self.output = bytearray()
        self.status: int | None = None
        self.closed = False  # the child side is gone (every read fails with EIO)

    # -- the screen ------------------------------------------------------------------------
    def read(self, seconds: float) -> None:
        """Take what the app wrote for ``seconds`` (or until the pty closes)."""
        pump([self], seconds)

    def take(self) -> None:
        """One read of what the app wrote (the terminal is readable)."""
        assert self.fd is not None
        try:
            chunk = os.read(self.fd, 1 << 16)
        except OSError:  # EIO: the child side is closed
            chunk = b""
        if chunk:
            self.output += chunk
        else:
            self.closed = True

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

    def send(self, key: str) -> None:
        """Type ``key`` (raw terminal bytes)."""
        assert self.fd is not None
        os.write(self.fd, key.encode())

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        """Type each of ``keys`` (raw terminal bytes), reading the screen between them."""
        for key in keys:
            self.send(key)
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
            self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self.hang_up()

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pump(apps: list[PtyApp], seconds: float) -> None:
    """Take what every app in ``apps`` wrote during ``seconds``."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        fds = {app.fd: app for app in apps if app.fd is not None and not app.closed}
        if not fds:
            time.sleep(min(left, 0.02))
            continue
        ready, _, _ = select.select(list(fds), [], [], min(left, 0.05))
        for fd in ready:
            fds[fd].take()


EXIT = object()  # a script waits for its process to end
WAIT = 40.0  # seconds a script waits for a drawing or a predicate (a loaded 2-core machine)
EXIT_WAIT = 10.0  # seconds it waits for an exit


@dataclass
class Session:
    """One scripted run: ``start`` makes its app, ``script(app)`` drives it (see the module)."""

    name: str
    start: Callable[[], PtyApp]
    script: Callable[[PtyApp], Iterator[object]]
    app: PtyApp | None = None
    error: str | None = None
    _steps: Iterator[object] | None = field(default=None, repr=False)
    _waiting: object = None
    _limit: float = 0.0
    _until: float = 0.0

    def _advance(self) -> bool:
        """Run the script to its next wait; False once it has ended."""
        assert self._steps is not None
        try:
            self._waiting = next(self._steps)
        except StopIteration:
            return False
        if isinstance(self._waiting, (int, float)):
            self._limit = float(self._waiting)
        else:
            self._limit = EXIT_WAIT if self._waiting is EXIT else WAIT
        self._until = time.monotonic() + self._limit
        return True

    def _ready(self) -> bool:
        assert self.app is not None
        now = time.monotonic()
        waiting = self._waiting
        if isinstance(waiting, (int, float)):
            return now >= self._until
        if waiting is EXIT:
            done = self.app.poll() is not None
            if done:  # what it wrote last (its exit status is known: nothing more comes)
                while self.app.fd is not None and not self.app.closed and select.select([self.app.fd], [], [], 0)[0]:
                    self.app.take()
        elif isinstance(waiting, str):
            done = re.search(waiting, self.app.text()) is not None
        else:
            done = bool(waiting())  # type: ignore[operator]
        if not done and now >= self._until:
            what = "the exit" if waiting is EXIT else repr(waiting)
            raise AssertionError(f"waited {self._limit:.0f} s for {what}; the screen:\n{self.app.text()[-1500:]}")
        return done


def drive(sessions: list[Session], parallel: int = 3) -> None:
    """Run ``sessions``, ``parallel`` at a time; raise one AssertionError naming every session whose
    script failed (an assertion, or a wait that timed out). Every app is ended and reaped."""
    pending, live = list(sessions), []
    try:
        while pending or live:
            while pending and len(live) < parallel:
                session = pending.pop(0)
                session.app = session.start()
                session._steps = session.script(session.app)
                live.append(session)
                _step(session, live, first=True)
            pump([s.app for s in live if s.app is not None], 0.02)
            for session in list(live):
                _step(session, live)
    finally:
        for session in sessions:
            if session.app is not None:
                session.app.close()
    failed = [f"{s.name}: {s.error}" for s in sessions if s.error]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(sessions)} runs failed:\n" + "\n\n".join(failed))


def _step(session: Session, live: list[Session], first: bool = False) -> None:
    try:
        while first or session._ready():
            first = False
            if not session._advance():
                live.remove(session)
                return
    except Exception as exc:  # an assertion, or an app gone before its signal
        session.error = f"{type(exc).__name__}: {exc}"
        live.remove(session)
        assert session.app is not None
        session.app.close()
