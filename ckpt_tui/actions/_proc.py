# SPDX-License-Identifier: Apache-2.0
"""Run an external command, streaming its output lines, with cancellation.

Used by the restore and load actions. No Textual here: the UI calls these
from a thread worker and passes ``on_output`` / ``cancelled`` callables.

Every command runs in its own process group, and no group outlives the app: after SIGTERM /
SIGHUP (:func:`ckpt_tui.shutdown.stopping`) a running command is stopped as if cancelled, with a
short grace before SIGKILL, and the forced exit kills every group still running.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from .. import shutdown

OutputCallback = Callable[[str], None]
CancelCheck = Callable[[], bool]


@dataclass
class OutputLine:
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass
class ProcResult:
    command: list[str]
    returncode: int | None  # None when the command could not be started
    lines: list[OutputLine] = field(default_factory=list)
    cancelled: bool = False
    timed_out: bool = False
    error: str = ""  # could not start it (not found, permission), in words
    duration: float = 0.0

    @property
    def stdout(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.stream == "stdout"]

    @property
    def stderr(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.stream == "stderr"]

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)


STOP_GRACE = 0.3  # seconds from SIGTERM to SIGKILL of a command when the app is leaving

# the commands running now, by process-group id (the forced exit kills them)
_running: dict[int, subprocess.Popen[bytes]] = {}


def kill_running() -> None:
    """SIGKILL every command group still running (the forced exit's cleanup; any thread)."""
    for proc in list(_running.values()):
        if proc.returncode is None:
            _signal_group(proc, signal.SIGKILL)


shutdown.add_cleanup(kill_running)


def which(name: str) -> str | None:
    """shutil.which, looked up on the current PATH every time (tests change PATH)."""
    return shutil.which(name)


def _reader(stream: IO[bytes], tag: str, out: queue.Queue[tuple[str, str | None]]) -> None:
    try:
        for raw in iter(stream.readline, b""):
            out.put((tag, raw.decode("utf-8", "replace").rstrip("\r\n")))
    except (OSError, ValueError):  # pragma: no cover - closed under us
        pass
    finally:
        out.put((tag, None))


def run_streaming(
    cmd: Sequence[str],
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    poll: float = 0.1,
    kill_grace: float = 5.0,
) -> ProcResult:
    """Run ``cmd``; call ``on_output(line)`` for every stdout/stderr line as it comes.

    ``cancelled()`` is polled; when it returns True the process gets SIGTERM
    (its process group), then SIGKILL after ``kill_grace`` seconds. Never raises
    for a missing program: ``returncode`` is None and ``error`` says why.
    """
    command = [str(c) for c in cmd]
    result = ProcResult(command=command, returncode=None)
    started = time.monotonic()
    if shutdown.stopping():  # the app is leaving: start nothing more
        result.cancelled = True
        result.error = f"{command[0]}: not started (ckpt-tui is exiting)"
        return result
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError:
        result.error = f"{command[0]}: command not found"
        return result
    except PermissionError as exc:
        result.error = f"{command[0]}: {exc.strerror or 'permission denied'}"
        return result
    except OSError as exc:
        result.error = f"{command[0]}: {exc}"
        return result

    _running[proc.pid] = proc
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    threads = [
        threading.Thread(target=_reader, args=(proc.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_reader, args=(proc.stderr, "stderr", lines), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        _pump(proc, lines, result, on_output, cancelled, started, timeout, poll, kill_grace)
    except BaseException:
        # the caller's on_output / cancelled raised (or ^C): never leave the command running
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
        raise
    finally:
        try:
            for t in threads:  # (a grandchild may hold the pipes: do not wait for it when leaving)
                t.join(timeout=0.05 if shutdown.stopping() else 1)
            result.returncode = proc.wait()
        finally:
            _running.pop(proc.pid, None)
        result.duration = time.monotonic() - started
    return result


def _pump(
    proc: subprocess.Popen[bytes],
    lines: queue.Queue[tuple[str, str | None]],
    result: ProcResult,
    on_output: OutputCallback | None,
    cancelled: CancelCheck | None,
    started: float,
    timeout: float | None,
    poll: float,
    kill_grace: float,
) -> None:
    """Move output lines to ``result`` / ``on_output`` until the command and its pipes are done;
    SIGTERM its group on cancel or timeout, SIGKILL after ``kill_grace``."""
    open_streams = 2
    term_sent_at: float | None = None
    exited_at: float | None = None
    while open_streams or proc.poll() is None:
        try:
            tag, text = lines.get(timeout=poll)
        except queue.Empty:
            pass
        else:
            if text is None:
                open_streams -= 1
            else:
                result.lines.append(OutputLine(tag, text))
                if on_output is not None:
                    on_output(text)
        now = time.monotonic()
        stop = False
        if not result.cancelled and (shutdown.stopping() or (cancelled is not None and cancelled())):
            result.cancelled = stop = True
            if shutdown.stopping():
                kill_grace = min(kill_grace, STOP_GRACE)
        if timeout is not None and not result.timed_out and now - started > timeout:
            result.timed_out = stop = True
        if stop and term_sent_at is None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            term_sent_at = now
        if term_sent_at is not None and proc.poll() is None and now - term_sent_at > kill_grace:
            _signal_group(proc, signal.SIGKILL)
            term_sent_at = now + 3600  # once
        if proc.poll() is not None and open_streams:
            # a daemonised grandchild (conmon...) may hold our pipes open: give it 2 s
            exited_at = exited_at if exited_at is not None else now
            if shutdown.stopping() or (now - exited_at > 2.0 and lines.empty()):
                break
        if open_streams == 0 and proc.poll() is None:
            # streams closed but the process lingers: wait for it briefly
            try:
                proc.wait(timeout=poll)
            except subprocess.TimeoutExpired:
                pass


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def run_quick(cmd: Sequence[str], timeout: float = 20.0) -> tuple[int | None, str, str]:
    """Run a short query command; (returncode or None if it could not run, stdout, stderr)."""
    try:
        cp = subprocess.run(
            [str(c) for c in cmd],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return None, "", f"{cmd[0]}: command not found"
    except subprocess.TimeoutExpired:
        return None, "", f"{cmd[0]}: timed out after {timeout:g}s"
    except OSError as exc:
        return None, "", f"{cmd[0]}: {exc}"
    return cp.returncode, cp.stdout.decode("utf-8", "replace"), cp.stderr.decode("utf-8", "replace")
