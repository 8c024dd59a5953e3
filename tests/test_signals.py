"""SIGTERM, SIGHUP and a real hang-up, in the middle of the work, under a real pseudo-terminal.

Issue 18: on a hang-up the app sometimes deadlocked (11 of ~30 kills), ignored SIGTERM and
left its spilled temp dir behind. The promise tested here: SIGHUP and SIGTERM end the process
at any moment of a load, a search, a build or a restore, with the status 128 + the signal's
number, no command left running, and its private TMPDIR empty. The bound asserted is a
generous 5 s (a loaded 2-core machine); the one-second goal is measured by bench/signals.py.

The archive is derived from the real memhog fixture by bench/gen.py (the benchmark's own
generator: 120 MiB of pages, zstd), once per session, so a load, a regex search and a build
each last long enough to be interrupted. Each kind of case runs several times: the deadlock was
a race.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .ptyapp import ROOT, PtyApp

FAKEBIN = Path(__file__).parent / "fakebin"
BOUND = 5.0  # seconds; generous on purpose (the 1 s goal is a benchmark's business)
SLOW_REGEX = r"(?i)(secret|token|password)=\w+"  # ~8 MB/s: a search of 120 MiB lasts many seconds
LEFT_ALT_SCREEN = b"\x1b[?1049l"


@pytest.fixture(scope="session")
def big_archive(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gen
    finally:
        sys.path.remove(str(ROOT / "bench"))
    cache = tmp_path_factory.mktemp("signals-archive")
    spec = gen.Spec("signals", "memhog-16m-threads.tar.zst", "zst", mem=[120 * gen.MiB])
    return gen.generate(spec, cache, log=lambda _msg: None)


@pytest.fixture
def dirs(tmp_path) -> tuple[Path, Path]:
    """(TMPDIR, working directory) of one run, both private."""
    tmp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    return tmp, cwd


def _fake_env(cwd: Path) -> dict[str, str]:
    """The fake podman / criu first on PATH, its restore slow (60 s) and writing its pid."""
    return {"PATH": f"{FAKEBIN}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_PODMAN_SCENARIO": "slow",
            "FAKE_PODMAN_PIDFILE": str(cwd / "podman.pid")}


def _end(app: PtyApp, how: str) -> None:
    if how == "hangup":
        app.hang_up()
    else:
        app.kill(getattr(signal, how))


def _expected(how: str) -> int:
    return 128 + (signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP)  # a hang-up is a SIGHUP


def _pid(path: Path) -> int:
    """The pid the fake podman wrote (waiting for the write to be whole)."""
    for _ in range(100):
        text = path.read_text().strip()
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} stayed empty")


def _gone(pid: int, timeout: float = BOUND) -> bool:
    """The process ``pid`` has ended (an orphan is reaped by init: a zombie counts as ended)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _check_exit(app: PtyApp, how: str, tmp: Path) -> None:
    sent = len(app.output)
    status = app.wait(BOUND)
    assert status is not None, f"still running {BOUND} s after {how}:\n{app.text()[-1500:]}"
    assert status == _expected(how), app.text()[-1500:]
    assert os.listdir(tmp) == [], f"left behind in TMPDIR: {os.listdir(tmp)}"
    if how == "SIGTERM":  # the terminal is still there: it was given back (alternate screen left)
        assert LEFT_ALT_SCREEN in app.output[sent:]


def _started(tmp: Path, cwd: Path, archive: Path, env: dict[str, str] | None = None) -> PtyApp:
    app = PtyApp([str(archive)], tmpdir=tmp, cwd=cwd, env=env)
    assert app.wait_for(r"Overview", 30), app.text()[-1500:]
    return app


def _loaded(app: PtyApp) -> None:
    """Wait until the whole checkpoint has loaded (the process count is drawn in the tree)."""
    assert app.wait_for(r"Processes\s+\d", 60), app.text()[-1500:]
    app.read(0.5)


# -- the UI -------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["hangup"] * 4 + ["SIGTERM"] * 2 + ["SIGHUP"] * 2)
def test_ui_exits_during_load(big_archive, dirs, how):
    tmp, cwd = dirs
    with _started(tmp, cwd, big_archive) as app:
        # the loading line: the archive is being read (its pages spill into TMPDIR)
        assert app.wait_for(r"opening signals-|reading processes", 10), app.text()[-1500:]
        _end(app, how)
        _check_exit(app, how, tmp)


@pytest.mark.parametrize("how", ["hangup", "SIGTERM"])
def test_ui_exits_during_search(big_archive, dirs, how):
    tmp, cwd = dirs
    with _started(tmp, cwd, big_archive) as app:
        _loaded(app)
        app.keys("s", pause=0.8)
        app.keys(*SLOW_REGEX, pause=0.01)
        # the mode: Tab past the Search button (Cancel is disabled) to the mode list, pick "regex"
        app.keys("\t", "\t", "\r", "\x1b[B", "\x1b[B", "\r", pause=0.4)
        app.keys("\x07")  # ctrl+g: search
        assert app.wait_for(r" of [\d.]+ \w+ scanned, ", 10), f"no search running (the form changed?):\n{app.text()[-1500:]}"
        app.read(0.5)
        done, total = re.findall(r"([\d.]+ \w+) of ([\d.]+ \w+) scanned, ", app.text())[-1]
        assert done != total, "the search ended before the signal"
        _end(app, how)
        _check_exit(app, how, tmp)


@pytest.mark.parametrize("how", ["hangup", "SIGTERM"])
def test_ui_exits_during_build(big_archive, dirs, how):
    tmp, cwd = dirs
    with _started(tmp, cwd, big_archive) as app:
        _loaded(app)
        app.keys("b", pause=0.8)
        app.keys("\r", pause=0.8)  # the image name proposed
        app.keys("y")  # build
        assert app.wait_for(r"Building", 10), app.text()[-1500:]
        deadline = time.monotonic() + 10
        while not list(cwd.glob(".ckpt-layer-*")) and time.monotonic() < deadline:
            app.read(0.05)
        assert list(cwd.glob(".ckpt-layer-*")), "the build did not start writing its layer"
        _end(app, how)
        _check_exit(app, how, tmp)
        assert os.listdir(cwd) == [], "a cancelled build leaves nothing next to its output"


@pytest.mark.parametrize("how", ["hangup", "SIGTERM"])
def test_ui_exits_during_restore(big_archive, dirs, how):
    tmp, cwd = dirs
    with _started(tmp, cwd, big_archive, env=_fake_env(cwd)) as app:
        _loaded(app)
        app.keys("r")
        assert app.wait_for(r"Restore the container", 20), app.text()[-1500:]
        app.read(0.3)
        app.keys("y")
        assert app.wait_for(r"restoring\.\.\.", 15), app.text()[-1500:]  # the fake podman runs
        podman = _pid(cwd / "podman.pid")
        _end(app, how)
        _check_exit(app, how, tmp)
        assert _gone(podman), "the restore command outlived the app"


# -- the command line --------------------------------------------------------------------------
def _cli(args: list[str], tmp: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "TMPDIR": str(tmp), **(env or {}),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "ckpt_tui", *args], cwd=cwd, env=environment,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _reading(pid: int, path: Path) -> bool:
    """Process ``pid`` has the file ``path`` open or mapped (it is reading the archive)."""
    try:
        if str(path) in Path(f"/proc/{pid}/maps").read_text():
            return True
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except FileNotFoundError:
            continue
    return False


def _wait_reading(proc: subprocess.Popen[bytes], path: Path, timeout: float = 30.0) -> None:
    """Until ``proc`` is reading ``path``; then it is stopped (SIGSTOP) so that the signal sent
    next lands in the middle of the work on any machine, however fast."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if _reading(proc.pid, path):
            proc.send_signal(signal.SIGSTOP)
            assert _reading(proc.pid, path), "the read finished before it could be interrupted"
            return
        time.sleep(0.002)
    raise AssertionError(f"{proc.args} never started reading {path}")


def _stop_cli(proc: subprocess.Popen[bytes], sig: int, tmp: Path) -> None:
    """Send ``sig`` (and SIGCONT, as ``kill`` of a stopped job does); it must end in the bound."""
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    try:
        _out, err = proc.communicate(timeout=BOUND)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"{proc.args} still running {BOUND} s after signal {sig}") from None
    assert proc.returncode == 128 + sig, err.decode(errors="replace")[-1500:]
    assert b"Traceback" not in err, err.decode(errors="replace")[-1500:]
    assert os.listdir(tmp) == [], f"left behind in TMPDIR: {os.listdir(tmp)}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_cli_memsearch_exits(big_archive, dirs, sig):
    tmp, cwd = dirs
    proc = _cli(["memsearch", str(big_archive), SLOW_REGEX, "--regex"], tmp, cwd)
    _wait_reading(proc, big_archive)
    _stop_cli(proc, sig, tmp)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_cli_inspect_exits(big_archive, dirs, sig):
    tmp, cwd = dirs
    proc = _cli(["inspect", str(big_archive), "--json"], tmp, cwd)
    _wait_reading(proc, big_archive)
    _stop_cli(proc, sig, tmp)


def test_cli_build_exits_and_leaves_no_partial_output(big_archive, dirs):
    tmp, cwd = dirs
    proc = _cli(["build", str(big_archive), "localhost/signals:1", "--output", str(cwd / "out.oci.tar")], tmp, cwd)
    deadline = time.monotonic() + 60
    while not list(cwd.glob(".ckpt-layer-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(cwd.glob(".ckpt-layer-*")), "the build never started writing its layer"
    _stop_cli(proc, signal.SIGTERM, tmp)
    assert os.listdir(cwd) == [], "a build stopped by a signal leaves nothing next to its output"


def test_cli_restore_kills_the_engine_command(big_archive, dirs):
    tmp, cwd = dirs
    proc = _cli(["restore", str(big_archive), "--yes", "--force"], tmp, cwd, env=_fake_env(cwd))
    deadline = time.monotonic() + 60
    while not (cwd / "podman.pid").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (cwd / "podman.pid").exists(), proc.communicate()[1].decode(errors="replace")[-1500:]
    podman = _pid(cwd / "podman.pid")
    _stop_cli(proc, signal.SIGTERM, tmp)
    assert _gone(podman), "the restore command outlived ckpt-tui"
