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
