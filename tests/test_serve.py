"""``ckpt-tui serve``: the inspector in a real browser (headless Chromium through Playwright,
tests/browser.py) over textual-serve — the page loads, the Overview shows the container's name, a
key press moves to Processes, and the page talks only to the server it came from."""

from __future__ import annotations

import urllib.request

import pytest

from ckpt_tui.cli import main
from ckpt_tui.cli.serve import app_command, csp, is_loopback

from .browser import Screen, browser, drive_served, needs_browser, served
from .conftest import DATA


@needs_browser
def test_the_served_inspector_in_a_browser(tmp_path):
    with served(DATA / "web-httpd.tar.zst") as (url, proc):
        with urllib.request.urlopen(url + "/") as resp:
            page_html = resp.read().decode()
            policy = resp.headers["Content-Security-Policy"]
        assert "fonts.googleapis.com" not in page_html and "default-src 'self'" in policy
        with browser(tmp_path / "profile", (url,), size=(1400, 900)) as (page, requests):
            screen = Screen(page)
            seen = drive_served(page, url, screen, tmp_path / "served.png")
        assert seen == {"overview": True, "processes": True}
        assert requests.refused == [] and requests.seen and all(u.startswith(url) for u in requests.seen)
        assert screen.sockets and all(u.startswith("ws://127.0.0.1:") for u in screen.sockets)
        assert (tmp_path / "served.png").stat().st_size > 10_000
    said = proc.stderr.read().decode()
    assert "Listening on 127.0.0.1 (loopback): only this machine can connect" in said
    assert "build and restore are off" in said and "S cannot show them" in said
    assert "--readonly --masked" in proc.stdout.read().decode()  # textual-serve names the command it runs


def test_app_command_and_the_policy():
    plain = app_command("/x y/ck.tar", allow_actions=False, max_size=None, logs=["/l.log"])
    assert plain.endswith("-m ckpt_tui ui '/x y/ck.tar' --readonly --masked --log /l.log")
    assert "--readonly" not in app_command(None, allow_actions=True, max_size=1 << 30, logs=[])
    assert "--masked" not in app_command(None, allow_actions=False, max_size=None, logs=[], allow_reveal=True)
    assert "--max-size 1073741824" in app_command(None, allow_actions=True, max_size=1 << 30, logs=[])
    assert "connect-src 'self' ws://127.0.0.1:8000" in csp("http://127.0.0.1:8000")
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.org")


@pytest.mark.parametrize("args,words", [
    (["serve", "/no/such/ckpt.tar"], "no such file"),
    (["serve", str(DATA / "web-httpd.tar.zst"), "--port", "70000"], "not a port"),
])
def test_serve_refuses_bad_input(args, words, capsys):
    assert main(args) == 2
    assert words in capsys.readouterr().err


async def test_a_masked_inspector_keeps_secrets_masked():
    """What serve runs (--masked): S says so and shows nothing; without it, S shows the secrets."""
    from ckpt_tui.app import CkptApp

    for masked in (True, False):
        app = CkptApp(str(DATA / "ps-tree.tar.gz"), masked=masked)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("S")
            await pilot.pause()
            assert app.secrets_revealed is (not masked)
