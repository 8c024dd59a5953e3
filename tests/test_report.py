"""``ckpt-tui report``: what the HTML and Markdown say, that the HTML refers to nothing outside
itself and carries no script, and that secrets are masked unless --reveal. (The real browser's
view of the same file is tests/test_browser.py.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ckpt_tui.actions.checks import Check
from ckpt_tui.actions.report import build_report, render_html, render_markdown, restore_verdict
from ckpt_tui.actions.report.document import Document, Para, Pre, Section, Table
from ckpt_tui.cli import main
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.masking import MASK

from .conftest import DATA, LOGS
from .corpus import unpack
from .test_cli_pods import _pod_dir

SECTIONS = ["verdict", "overview", "processes", "memory", "rootfs", "network", "mounts", "logs", "problems"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("href", "src", "action", "srcset", "poster", "data"):
                self.refs.append(value or "")
            if key == "id":
                self.ids.append(value or "")


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def ps_tree():
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        yield ck


def test_html_holds_every_section_and_nothing_from_outside(ps_tree):
    page = render_html(build_report(ps_tree))
    tags = _parse(page)
    assert [i for i in tags.ids if i in SECTIONS] == SECTIONS
    assert "script" not in tags.tags and "link" not in tags.tags and "iframe" not in tags.tags
    assert "img" not in tags.tags and "object" not in tags.tags
    assert tags.refs and all(ref.startswith("#") for ref in tags.refs)  # the contents' anchors only
    assert not re.search(r"url\(|@import|https?://", page.split("<body>")[0])  # the style loads nothing
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "@media print" in page and "thead { display: table-header-group; }" in page
    for anchor in tags.refs:
        assert anchor[1:] in tags.ids


def test_report_says_what_the_model_says(ps_tree):
    doc = build_report(ps_tree)
    text = doc.text()
    assert "Checkpoint report: tree" in text
    for proc in ps_tree.process_list():
        assert f"pid {proc.pid}: {proc.comm}" in text
    assert "sleep 200000" in text and "cat /dev/zero" in text  # command lines
    assert "/dev/null" in text and "pipe[" in text  # open files
    assert any(f"{v.start:#x}-{v.end:#x}" in text for v in ps_tree.processes[1].vmas)  # the memory map
    assert "APP_MODE" in text and "inspect-me" in text
    assert "freezing_time" in text and "ctr.log" in text


def test_secrets_are_masked_unless_reveal(ps_tree):
    for render in (render_html, render_markdown):
        masked = render(build_report(ps_tree))
        assert "hunter2" not in masked and MASK in masked
        shown = render(build_report(ps_tree, reveal=True))
        assert "hunter2" in shown and "secrets are shown" in shown


def test_markdown_is_the_same_document(ps_tree):
    doc = build_report(ps_tree)
    page = render_markdown(doc)
    for _depth, section in doc.walk():
        assert section.title.replace("_", "\\_") in page
    assert page.startswith("# Checkpoint report: tree")
    assert "| pid | ppid | process | state | threads | uid:gid | command line |" in page
    assert "<details><summary>" in page  # long tables fold


def test_logs_are_diagnosed_and_the_verdict_comes_from_the_checks(tmp_path):
    with load_checkpoint(DATA / "broken-missing-pages.tar", log_files=[str(LOGS / "restore-missing-pages.log")]) as ck:
        checks = [Check("Archive complete", "fail", "the checkpoint is incomplete (missing: pages-2.img)"),
                  Check("Engine", "pass", "podman 4.3.1")]
        doc = build_report(ck, checks=checks)
    text = doc.text()
    assert "will fail here: Archive complete" in text
    assert "checkpoint/pages-2.img" in text  # the diagnosis names the image at fault
    assert "Restoring FAILED" in text  # the log's end is shown
    page = render_html(doc)
    assert 'class="verdict st-fail"' in page


def test_restore_verdict_hook():
    """The report says the restore verdict (actions.verdict), in its own colours."""
    ok = restore_verdict([Check("a", "pass", "")])
    assert (ok.status, ok.headline) == ("pass", "restorable here")
    v = restore_verdict([Check("a", "warn", "hmm"), Check("b", "pass", "")])
    assert v.status == "warn" and v.reasons == ["a: hmm"]
    fixable = restore_verdict([Check("tcp", "fail", "established", step="--tcp-established")])
    assert fixable.status == "warn" and fixable.headline == "restorable here with --tcp-established"
    bad = restore_verdict([Check("a", "warn", ""), Check("b", "fail", "no")])
    assert bad.status == "fail" and bad.headline == "will fail here: b: no" and bad.reasons == ["b: no"]
    with load_checkpoint(DATA / "tcp-server.tar.zst") as ck:
        assert "were not run" in build_report(ck, checks=None).text()


def test_hostile_strings_are_text_in_html_and_markdown():
    doc = Document("t <script>alert(1)</script>", "s\x1b[2J", [Section("x", "a|b", [
        Table(["h"], [["<img src=http://x/a.png>"], ["pipe|cell"]]),
        Para("**bold** `code`"),
        Pre("```\n</pre><script>x</script>", "cap"),
    ])])
    page = render_html(doc)
    tags = _parse(page)
    assert "script" not in tags.tags and "img" not in tags.tags and "\x1b" not in page
    assert "&lt;script&gt;" in page and "\\x1b[2J" in page
    md = render_markdown(doc)
    assert "pipe\\|cell" in md and "\\*\\*bold\\*\\*" in md and "\x1b" not in md
    assert "````\n```\n</pre><script>x</script>\n````" in md  # a fence longer than any inside


def test_report_of_a_pod_has_a_section_per_container(tmp_path):
    with load_checkpoint(_pod_dir(tmp_path)) as ck:
        doc = build_report(ck)
    titles = [s.title for s in doc.sections]
    assert titles[0] == "Restore verdict and preflight" and titles[-1] == "Problems"
    assert sorted(t for t in titles if t.startswith("Container")) == ["Container tree", "Container web"]
    assert "httpd" in doc.text() and "sleep 200000" in doc.text()


def test_planted_markup_in_a_checkpoint_is_escaped(tmp_path):
    """web-httpd with HTML in the container's name (config.dump) and in its environment (the pages,
    same length)."""
    root = unpack("web-httpd.tar.zst", tmp_path / "web")
    config = json.loads((root / "config.dump").read_text())
    config["name"] = "web</title><script>alert(1)</script>"
    (root / "config.dump").write_text(json.dumps(config))
    for pages in (root / "checkpoint").glob("pages-*.img"):
        pages.write_bytes(pages.read_bytes().replace(b"hello-from-web", b"<b>x</b><i>y</"))
    with load_checkpoint(root) as ck:
        page = render_html(build_report(ck))
    tags = _parse(page)
    assert "script" not in tags.tags and "b" not in tags.tags and "i" not in tags.tags
    assert "web&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;&lt;i&gt;y&lt;/" in page


def test_cli_report(tmp_path, capsys):
    out = tmp_path / "r.md"
    assert main(["report", str(DATA / "tcp-established.tar.zst"), "-o", str(out), "--no-preflight"]) == 0
    assert out.read_text().startswith("# Checkpoint report: cli") and "Wrote" in capsys.readouterr().err
    assert main(["report", str(DATA / "tcp-established.tar.zst"), "--no-preflight", "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "10.88.0.27:9000" in page and "yes" in page
    assert main(["report", str(DATA / "tcp-established.tar.zst"), "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["report", str(Path("/no/such"))]) == 2
