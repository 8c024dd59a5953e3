"""The report in a real browser (headless Chromium, tests/browser.py): it renders, its text is
there, secrets are not, and opening it makes no request for anything outside the file."""

from __future__ import annotations

import pytest

from ckpt_tui.cli import main

from .browser import browser, needs_browser
from .conftest import DATA

pytestmark = needs_browser


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "ps-tree.html"
    assert main(["report", str(DATA / "ps-tree.tar.gz"), "-o", str(out), "--no-preflight"]) == 0
    return out


def test_the_report_renders_offline_with_its_text(report, tmp_path):
    url = report.as_uri()
    with browser(tmp_path / "profile", (url,)) as (page, requests):
        page.goto(url)
        body = page.inner_text("body")
        assert page.title() == "Checkpoint report: tree"
        for words in ("Restore verdict and preflight", "Process tree", "Memory map", "Root FS diff", "Network",
                      "Mounts", "Logs and diagnosis", "Problems", "sleep 200000", "DB_PASSWORD", "inspect-me"):
            assert words in body, words
        assert "hunter2" not in body
        # laid out: the process table is as wide as the page's main column, the verdict line coloured
        width = page.evaluate("document.querySelector('#processes table').getBoundingClientRect().width")
        assert width > 600
        colour = page.evaluate("getComputedStyle(document.querySelector('p.verdict')).color")
        assert colour != "rgb(0, 0, 0)"
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('thead')).display") == "table-header-group"
        assert len(page.pdf()) > 10_000  # it prints
    assert requests.seen == [url] and requests.refused == []


def test_a_page_that_reaches_out_is_caught(tmp_path):
    """The check above can fail: a page with an image on another host makes a refused request."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/pixel.png">')
    url = page_file.as_uri()
    with browser(tmp_path / "profile", (url,)) as (page, requests):
        page.goto(url)
        page.wait_for_load_state("load")
    assert requests.refused == ["http://127.0.0.1:9/pixel.png"]
