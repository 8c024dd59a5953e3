"""Headless Chromium for the tests that look at what a person sees in a browser: Debian's
``chromium`` driven by Playwright (never a browser Playwright downloads), a fresh profile for
each test, and every request the page makes recorded; a request for anything but the page
itself (and, for a served app, its own host) is refused and kept for the test to see."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _have_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and _have_playwright()),
    reason="needs Debian's chromium (apt-get install chromium) and the playwright package (.ci/run installs both)")


class Requests:
    """Every URL the page asked for, and those that were refused (outside ``allowed``)."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed
        self.seen: list[str] = []
        self.refused: list[str] = []

    def _note(self, url: str) -> bool:
        """Record ``url`` (once); whether it may be loaded."""
        if url not in self.seen:
            self.seen.append(url)
        ok = url.startswith(self.allowed)
        if not ok and url not in self.refused:
            self.refused.append(url)
        return ok

    def route(self, route) -> None:
        if self._note(route.request.url):
            route.continue_()
        else:
            route.abort()

    def request(self, request) -> None:
        self._note(request.url)


@contextlib.contextmanager
def browser(profile: Path, allowed: tuple[str, ...], size: tuple[int, int] = (1280, 900)) -> Iterator[tuple]:
    """(page, requests) in a fresh Chromium profile under ``profile``; requests outside ``allowed``
    (URL prefixes) are refused and recorded."""
    from playwright.sync_api import sync_playwright

    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=ARGS, headless=True,
            viewport={"width": size[0], "height": size[1]})
        try:
            requests = Requests(allowed)
            ctx.route("**/*", requests.route)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("request", requests.request)
            yield page, requests
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


# -- the inspector served (ckpt-tui serve) ---------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(path: Path, *extra: str, startup: float = 60.0) -> Iterator[tuple[str, object]]:
    """``ckpt-tui serve PATH`` on a free loopback port, until the block ends: (its URL, its process)."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "ckpt_tui", "serve", str(path), "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + startup
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ckpt-tui serve did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Screen:
    """What the served app sent the browser's terminal (its websocket frames), as text."""

    _CONTROL = __import__("re").compile(r"\x1b\[[0-9;?$]*[A-Za-z]|\x1b\][^\x07]*\x07")

    def __init__(self, page) -> None:
        self.frames: list[str] = []
        self.sockets: list[str] = []
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        self.sockets.append(ws.url)
        ws.on("framereceived", lambda payload: self.frames.append(
            payload if isinstance(payload, str) else payload.decode("utf-8", "replace")))

    def mark(self) -> int:
        return len(self.frames)

    def text(self, since: int = 0) -> str:
        return self._CONTROL.sub(" ", "".join(self.frames[since:]))

    def wait_for(self, page, pattern: str, since: int = 0, limit: float = 60.0) -> bool:
        """Until ``pattern`` (a regex) is on the screen sent after mark ``since`` (bounded by ``limit``
        seconds: a slow machine is not a failure, a screen that never shows it is)."""
        import re
        import time

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if re.search(pattern, self.text(since)):
                return True
            page.wait_for_timeout(200)
        return False


def drive_served(page, url: str, screen: Screen, shot: Path | None = None) -> dict[str, bool]:
    """Open the served inspector of web-httpd, wait for its Overview, press 2 for Processes; a
    screenshot to ``shot`` at the end. What was seen, by step."""
    page.goto(url + "/")
    seen = {"overview": screen.wait_for(page, r"Container\s+web\b")}
    mark = screen.mark()
    page.focus("textarea.xterm-helper-textarea")
    page.keyboard.press("2")
    seen["processes"] = screen.wait_for(page, r"Threads\s+Dumped\s+FDs", mark)  # the process table's header
    if shot is not None:
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot))
    return seen
