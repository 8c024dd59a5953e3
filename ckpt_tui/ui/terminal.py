"""The terminal the UI runs on, and leaving it on SIGTERM / SIGHUP (a closed window, an ssh drop,
``tmux kill-session``).

Textual's Linux driver, as it is, can deadlock on a hang-up: the kernel sends SIGHUP *and*
SIGCONT, and the driver's SIGCONT handler restarts "application mode" from inside the signal
handler (a second writer and input thread, though nothing was suspended); the writer thread dies
on the first write that fails with EIO, its queue (30 writes) fills, and the next write — a frame,
or the driver's own ``close()`` at exit — blocks the event loop forever. :class:`Driver` fixes
those causes: SIGCONT resumes only what its own SIGTSTP suspended, output to a terminal that is
gone is dropped (never an exception that kills the writer), and a hung-up terminal's descriptors
are pointed at ``/dev/null`` so that nothing later (the error console, Python's last flush)
writes to it either. :func:`install` wires :mod:`ckpt_tui.shutdown` to the app: a signal asks
the event loop to exit through ``loop.call_soon_threadsafe`` (the loop's self-pipe wakes it),
workers are cancelled, and the watchdog keeps the one-second deadline if the loop cannot answer.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import termios
from typing import Any

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

from .. import shutdown

# what Textual's application mode turned on, turned off (the forced exit's terminal reset)
RESET = ("\x1b[<u\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?2048l"
         "\x1b[?7h\x1b[?1004l\x1b[?1049l\x1b[?25h")


def hung_up(fd: int) -> bool:
    """True if ``fd`` is a terminal that has been hung up (every ioctl on it fails with EIO)."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    except (OSError, ValueError):
        return False
    return False


def detach_hung_up() -> bool:
    """Point standard input, output and error at ``/dev/null`` where they are a hung-up
    terminal (writes then succeed unseen, reads see the end). True if one was."""
    gone = [fd for fd in (0, 1, 2) if hung_up(fd)]
    if not gone:
        return False
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in gone:
            os.dup2(null, fd)
    finally:
        os.close(null)
    return True


class _Output:
    """The driver's output file: a write or flush that fails because the terminal went away is
    dropped, and says so once (``on_lost``), instead of raising in Textual's writer thread."""

    def __init__(self, file: Any, on_lost: Any) -> None:
        self._file = file
        self._on_lost = on_lost
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self._file.write(text)
            except (OSError, ValueError):  # EIO (hung up), EPIPE, a closed file
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._lose()

    def fileno(self) -> int:
        return int(self._file.fileno())

    def _lose(self) -> None:
        self.lost = True
        self._on_lost()


class Driver(LinuxDriver):
    """Textual's Linux driver made safe against a terminal that goes away (see the module)."""

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._output = _Output(self._file, self.terminal_lost)
        self._file = self._output  # type: ignore[assignment]
        self._suspended = False
        shutdown.add_cleanup(self.force_reset)

    # -- suspend / resume: only what was suspended is resumed -----------------------------
    def _sigtstp_application(self, *args: Any) -> None:
        self._suspended = self._auto_restart
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args: Any) -> None:
        # a hang-up sends SIGCONT with SIGHUP, and `kill -CONT` can come at any time: restarting
        # application mode then would start a second writer and input thread on a dead terminal
        if not self._suspended or shutdown.stopping():
            return
        self._suspended = False
        super()._sigcont_application(*args)

    # -- the terminal going away -----------------------------------------------------------
    def terminal_lost(self) -> None:
        """The terminal is gone (a write failed, or SIGHUP on a hung-up terminal): drop all
        output, stop reading, and leave as on SIGHUP. Safe on any thread."""
        self._output.lost = True
        self.exit_event.set()  # the input thread stops (a hung-up terminal reads as endless EOF)
        try:
            detach_hung_up()
        except OSError:
            pass
        if not shutdown.stopping():
            os.kill(os.getpid(), signal.SIGHUP)  # the one way out: the handler, its deadline

    def force_reset(self) -> None:
        """The forced exit's terminal reset: the modes off, the saved attributes back; never
        blocks (a terminal under flow control or gone is left as it is)."""
        if self._output.lost or self.attrs_before is None:
            return
        try:
            termios.tcsetattr(self.fileno, termios.TCSANOW, self.attrs_before)
        except (termios.error, OSError):
            pass
        try:
            fd = os.open(os.ttyname(self._output.fileno()), os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except (OSError, ValueError):
            return
        try:
            os.write(fd, RESET.encode())
        except OSError:
            pass
        finally:
            os.close(fd)


def install(app: App[Any]) -> None:
    """SIGTERM / SIGHUP make ``app`` exit with 128 + the signal's number (within the shutdown
    deadline, by force if need be)."""

    def on_signal(signum: int) -> None:
        driver = getattr(app, "_driver", None)
        if signum == signal.SIGHUP and isinstance(driver, Driver) and hung_up(driver.fileno):
            driver.terminal_lost()
        loop = getattr(driver, "_loop", None)
        if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed():
            if driver is None:  # the app has not started: nothing to tear down but the process
                raise SystemExit(128 + signum)
            return  # the app is done already: the end of the command leaves
        loop.call_soon_threadsafe(_exit, app, 128 + signum)

    shutdown.install(on_signal)


def _exit(app: App[Any], code: int) -> None:
    app.workers.cancel_all()  # every worker sees it at its next step
    app.exit(code, return_code=code)


__all__ = ["Driver", "detach_hung_up", "hung_up", "install"]
