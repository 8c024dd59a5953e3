"""Leaving on SIGTERM / SIGHUP: promptly, and with nothing left behind.

Who owns what (docs/ARCHITECTURE.md, "Shutdown"): this module owns the signal handlers and the
deadline; the archive layer's workspaces and the actions' child processes register what must be
undone (:func:`add_cleanup`); the UI and the CLI say how a clean exit is asked for (``on_signal``
of :func:`install`).

A signal handler only sets a flag, asks for the clean exit and arms a watchdog. The clean exit
is the ordinary one (the UI's event loop leaves, the CLI unwinds with ``SystemExit``): workers see
:func:`stopping` between bounded steps, child processes are killed, workspaces are closed, the
terminal is restored. If that has not ended the process within :data:`GRACE` seconds (a loop
blocked, a worker in a long call, a thread join that waits), the watchdog thread runs every
cleanup itself and ends the process with ``os._exit``. Only the standard library here: every
layer may import it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

GRACE = 1.0  # seconds from the first signal to the forced exit
SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_stopping = threading.Event()
_code: list[int] = []  # the exit status the first signal asked for
_cleanups: list[Callable[[], None]] = []
_lock = threading.Lock()


def stopping() -> bool:
    """True once SIGTERM or SIGHUP was received: long work stops at its next step."""
    return _stopping.is_set()


def exit_code() -> int | None:
    """128 + the signal's number once one was received (143 SIGTERM, 129 SIGHUP), else None."""
    return _code[0] if _code else None


def add_cleanup(callback: Callable[[], None]) -> None:
    """Register what the forced exit must undo (idempotent; it may run on any thread, while other
    threads are stuck anywhere: no locks the rest of the program holds)."""
    with _lock:
        _cleanups.append(callback)


def run_cleanups() -> None:
    """Run every registered cleanup in the order registered (the workspaces' first); none may
    stop the others."""
    with _lock:
        callbacks = list(_cleanups)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001  (a cleanup that fails must not keep the others from running)
            pass


def install(on_signal: Callable[[int], None] | None = None, *, grace: float = GRACE) -> bool:
    """Handle SIGTERM and SIGHUP: the first one sets :func:`stopping`, arms the watchdog and calls
    ``on_signal(signum)`` (which asks for the clean exit and may raise ``SystemExit``); a later
    one does nothing more. False where handlers cannot be installed (not the main thread)."""

    def handler(signum: int, _frame: object) -> None:
        if _stopping.is_set():
            return  # already leaving; the watchdog keeps the deadline
        _code.append(128 + signum)
        _stopping.set()
        _arm_watchdog(128 + signum, grace)
        if on_signal is not None:
            on_signal(signum)

    try:
        for sig in SIGNALS:
            signal.signal(sig, handler)
    except (ValueError, OSError):  # not the main thread (an embedding program's worker)
        return False
    return True


def _arm_watchdog(code: int, grace: float) -> None:
    def watchdog() -> None:
        _done.wait(grace)
        force_exit(code)

    threading.Thread(target=watchdog, name="ckpt-tui-exit-watchdog", daemon=True).start()


_done = threading.Event()  # never set: the watchdog's clock (an Event waits without a busy loop)


def force_exit(code: int) -> None:
    """Run every cleanup, flush what can be flushed, and end the process now with ``code``."""
    run_cleanups()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or a hung-up terminal
            pass
    os._exit(code)


def finish(code: int) -> int:
    """The end of a command: after a signal, leave at once (with the signal's status) rather than
    wait for threads at interpreter exit; else ``code``."""
    signalled = exit_code()
    if signalled is not None:
        force_exit(signalled)
    return code


# files being written outside a workspace, next to an output the user asked for (a build's
# layer and archive before they are renamed into place): removed by the forced exit
_partial: dict[str, None] = {}


def partial_file(path: str | os.PathLike[str], done: bool = False) -> None:
    """``path`` is being written and is no output yet: the forced exit removes it (``done``: it
    was renamed into place or removed by its writer, forget it)."""
    if done:
        _partial.pop(os.fspath(path), None)
    else:
        _partial[os.fspath(path)] = None


def _remove_partial() -> None:
    for path in list(_partial):
        try:
            os.unlink(path)
        except OSError:
            pass


add_cleanup(_remove_partial)
