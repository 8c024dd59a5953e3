"""``load_checkpoint(keep_pages=False)`` (what ``inspect`` uses): argv and environ are
taken from the pages as they stream past and the pages images are not kept -- with the
same overview as a full load, on the real fixtures and on every damaged corpus case."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.export import to_json
from ckpt_tui.model.patterns import SearchPattern
from ckpt_tui.model.tap import ArgvEnvTap

from .conftest import DATA
from .corpus import CASES, build, unpack

COMPRESSED = sorted(p.name for p in DATA.glob("*.tar.*"))


def _overview(path: Path, keep_pages: bool) -> tuple[dict, set[str], dict]:
    with load_checkpoint(path, keep_pages=keep_pages) as ck:
        return to_json(ck), set(ck.source.discarded), dict(ck.captured)


def _pack(root: Path, dest: Path, order=sorted) -> Path:
    """A tar.zst of directory ``root`` with its members in ``order`` (default: by name,
    as podman writes them)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            names.append(os.path.relpath(os.path.join(dirpath, n), root))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in order(names):
            tar.add(root / name, arcname=name, recursive=False)
    dest.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    return dest


@pytest.mark.parametrize("name", COMPRESSED)
def test_fixture_overview_is_the_same(name):
    full, discarded_full, _ = _overview(DATA / name, True)
    lean, discarded, captured = _overview(DATA / name, False)
    assert discarded_full == set()
    assert lean == full
    if any(p["cmdline"] for p in full["processes"]) and "checkpoint/pages-1.img" in discarded:
        # only the pages that hold argv/environ were copied, nothing else of the images
        for pages in captured.values():
            assert len(pages.pages) <= 4 and len(pages) > 0


def test_podman_archives_keep_no_pages():
    _, discarded, captured = _overview(DATA / "web-httpd.tar.zst", False)
    assert discarded == {"checkpoint/pages-1.img", "checkpoint/pages-2.img", "checkpoint/pages-3.img"}
    assert set(captured) == discarded


def test_nothing_spilled_for_a_large_pages_image(tmp_path):
    """memhog's 16 MiB pages image is spilled to the workspace by a full load, not by a lean one."""
    from ckpt_tui.archive import Workspace

    def spilled(keep: bool) -> int:
        with Workspace() as ws, load_checkpoint(DATA / "memhog-16m-threads.tar.zst", workspace=ws,
                                                keep_pages=keep) as ck:
            assert ck.processes[1].cmdline[:2] == ["memhog", "16"]
            return sum(f.stat().st_size for f in ws.path.rglob("*") if f.is_file())

    assert spilled(True) >= 16 << 20
    assert spilled(False) < 1 << 20


def test_memory_of_a_lean_load_says_it_was_not_kept():
    with load_checkpoint(DATA / "web-httpd.tar.zst", keep_pages=False) as ck:
        httpd = next(p for p in ck.process_list() if p.comm == "httpd")
        assert httpd.cmdline == ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
        with pytest.raises(CkptError, match="not kept"):
            list(ck.search_memory("hello"))
        with pytest.raises(CkptError, match="not kept"):
            ck.source.read("checkpoint/pages-1.img")
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:  # a full load still finds it
        assert list(ck.search_memory("hello-from-web"))


def test_pages_before_pagemap_are_kept(tmp_path):
    """Another member order (pages first): the tap cannot know which pages it needs, so
    the images are kept and the result is the same."""
    root = unpack("web-httpd.tar.zst", tmp_path / "unpacked")

    def pages_first(names):
        return sorted(names, key=lambda n: (0 if "/pages-" in n else 1, n))

    arc = _pack(root, tmp_path / "pages-first.tar.zst", pages_first)
    full, _, _ = _overview(arc, True)
    lean, discarded, _ = _overview(arc, False)
    assert discarded == set()
    assert lean == full
    assert any(p["cmdline"] == ["httpd", "-f", "-p", "8080", "-h", "/var/www"] for p in lean["processes"])


def test_sink_copies_pages_split_across_chunks():
    from ckpt_tui.model.build.tap import _Sink

    data = bytes(range(256)) * 16 * 8  # 8 pages
    sink = _Sink([4096, 3 * 4096, 7 * 4096])
    for i in range(0, len(data), 1000):  # chunks that cut pages anywhere
        sink(data[i : i + 1000])
    pages = sink.result()
    assert len(pages) == len(data)
    assert sorted(pages.pages) == [4096, 3 * 4096, 7 * 4096]
    for off in pages.pages:
        assert pages.page(off) == data[off : off + 4096]
    assert pages.page(0) is None


def test_truncated_pages_image_keeps_only_whole_pages():
    from ckpt_tui.model.build.tap import _Sink

    sink = _Sink([0, 4096])
    sink(b"x" * 6000)  # the stream ends inside the second page
    pages = sink.result()
    assert list(pages.pages) == [0] and len(pages) == 6000


def test_damaged_images_make_the_tap_step_aside():
    tap = ArgvEnvTap()
    tap.member("checkpoint/mm-1.img", lambda: b"\x00garbage")
    tap.member("checkpoint/pagemap-1.img", lambda: b"")
    assert tap.take("checkpoint/pages-1.img", 1 << 20) is None


@pytest.mark.parametrize("case", [c for c in CASES if c.fixture.endswith(".tar.zst")], ids=lambda c: c.name)
def test_corpus_case_same_overview(case, tmp_path):
    """Every damaged archive (packed by name, as podman does): the lean load reports the
    same problems and shows the same processes as the full one."""
    root = build(case, tmp_path / case.name)
    if not root.is_dir():
        pytest.skip("the case is not a directory")
    arc = _pack(root, tmp_path / f"{case.name}.tar.zst")
    full, _, _ = _overview(arc, True)
    lean, _, _ = _overview(arc, False)
    assert json.dumps(lean, sort_keys=True, default=str) == json.dumps(full, sort_keys=True, default=str)


# -- memsearch while streaming ---------------------------------------------------

SEARCHES = [
    ("hello", {}),
    ("HOME=", {"context": 0}),
    ("e", {"limit": 40}),
    (rb"[a-z]{3,}=", {"regex": True, "limit": 500}),
    (rb"\x00{100,}", {"regex": True}),
    ("sh", {"utf16": True, "context": 64}),
    (b"\x7fELF", {}),
]


def _key(matches) -> list:
    return [(m.pid, m.address, m.match, m.before, m.after, m.vma.start if m.vma else None) for m in matches]


def _reference(path, pattern, **kw) -> list:
    from ckpt_tui.model.memory import search_memory

    with load_checkpoint(path) as ck:
        flags = {k: kw.pop(k) for k in ("regex", "utf16") if k in kw}
        return _key(search_memory(ck, SearchPattern.of(pattern, **flags), **kw))


def _streamed(path, pattern, **kw) -> tuple[list, set[str]]:
    from ckpt_tui.model.tap import load_and_search

    flags = {k: kw.pop(k) for k in ("regex", "utf16") if k in kw}
    ck, matches = load_and_search(path, SearchPattern.of(pattern, **flags), **kw)
    with ck:
        return _key(matches), set(ck.source.discarded)


@pytest.mark.parametrize("name", COMPRESSED)
@pytest.mark.parametrize("pattern,kw", SEARCHES, ids=[str(p) for p, _ in SEARCHES])
def test_streamed_search_finds_what_the_full_search_finds(name, pattern, kw):
    want = _reference(DATA / name, pattern, **kw)
    got, discarded = _streamed(DATA / name, pattern, **kw)
    assert got == want
    if name.endswith(".zst") or name.endswith(".gz"):
        assert discarded, "the pages were searched while streaming, not kept"


def test_streamed_search_one_pid():
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:
        httpd = next(p.pid for p in ck.process_list() if p.comm == "httpd")
    want = _reference(DATA / "web-httpd.tar.zst", "GREETING", pids=[httpd])
    got, _discarded = _streamed(DATA / "web-httpd.tar.zst", "GREETING", pids=[httpd])
    assert got == want and got and {m[0] for m in got} == {httpd}


@pytest.mark.parametrize("pattern,kw", [
    (rb"\x00{3000,}", {"regex": True}),  # matches longer than a window: the next window starts after them
    (b"\x00" * 64, {"limit": 2000}),  # overlapping literal matches across window edges
    (rb"(?<=m)emhog", {"regex": True, "context": 0}),  # look-behind at a window start
    ("memhog", {"context": 5000}),  # context reaching over window edges
])
def test_small_windows_same_matches(monkeypatch, pattern, kw):
    """Windows of a few pages make every edge case of the windowing happen on the fixtures."""
    from ckpt_tui.model import memory

    window, overlap = 3 * 4096, 4096
    monkeypatch.setattr(memory, "SEARCH_WINDOW", window)
    monkeypatch.setattr(memory, "SEARCH_OVERLAP", overlap)
    path = DATA / "memhog-16m-threads.tar.zst"
    want = _reference(path, pattern, **kw)
    got, discarded = _streamed(path, pattern, window=window, overlap=overlap, **kw)
    assert discarded
    assert got == want and want


def test_search_falls_back_when_pages_come_first(tmp_path):
    root = unpack("tcp-server.tar.zst", tmp_path / "unpacked")
    arc = _pack(root, tmp_path / "pages-first.tar.zst", lambda names: sorted(names, key=lambda n: ("/pages-" not in n, n)))
    want = _reference(arc, "PATH=")
    got, discarded = _streamed(arc, "PATH=")
    assert not discarded and got == want and want


def test_memsearch_cli_uses_the_streamed_search(capsys):
    from ckpt_tui.cli import main

    assert main(["memsearch", str(DATA / "web-httpd.tar.zst"), "hello-from-web", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out and all(m["match"] == "hello-from-web" for m in out)
    assert main(["memsearch", str(DATA / "web-httpd.tar.zst"), "[", "--regex"]) == 2
    assert "bad regular expression" in capsys.readouterr().err


def test_a_pagemap_seen_twice_makes_the_tap_step_aside():
    from ckpt_tui.archive import open_source

    with open_source(DATA / "web-httpd.tar.zst") as src:
        mm, pagemap = src.read("checkpoint/mm-1.img"), src.read("checkpoint/pagemap-1.img")
    tap = ArgvEnvTap()
    tap.member("checkpoint/mm-1.img", lambda: mm)
    tap.member("checkpoint/pagemap-1.img", lambda: pagemap)
    pages_id = tap.pagemaps[1][0]
    assert tap.take(f"checkpoint/pages-{pages_id}.img", 1 << 16) is not None
    tap.member("checkpoint/pagemap-1.img", lambda: b"garbage")  # a later, damaged copy
    assert tap.take(f"checkpoint/pages-{pages_id}.img", 1 << 16) is None
    tap2 = ArgvEnvTap()
    tap2.member("checkpoint/mm-1.img", lambda: mm)
    tap2.member("checkpoint/pagemap-1.img", lambda: pagemap)
    tap2.member("checkpoint/pagemap-1.img", lambda: pagemap)  # the same pages image named twice
    assert tap2.take(f"checkpoint/pages-{pages_id}.img", 1 << 16) is None


def test_utf16_regex_finds_wide_text(tmp_path):
    """`--regex --utf16` finds a regex's match written as UTF-16-LE, in the app's search and
    while streaming (it used to look for the regex source text literally)."""
    root = unpack("web-httpd.tar.zst", tmp_path / "unpacked")
    pages = root / "checkpoint" / "pages-1.img"
    data = bytearray(pages.read_bytes())
    wide = "tok_abc_1234abcd".encode("utf-16-le")
    data[100 : 100 + len(wide)] = wide
    pages.write_bytes(bytes(data))
    arc = _pack(root, tmp_path / "wide.tar.zst")
    pattern = r"tok_[a-z]+_[0-9a-f]{8}"
    want = _reference(arc, pattern, regex=True, utf16=True)
    got, discarded = _streamed(arc, pattern, regex=True, utf16=True)
    assert discarded and got == want
    assert [m[2] for m in got] == [wide]
    assert _reference(arc, pattern, regex=True) == []  # not there as UTF-8


@pytest.mark.parametrize("pattern,text,hit", [
    (r"^ab$", "ab", True),
    (r"(foo|ba.r)+", "xbazrfoo", True),
    (r"(?<=x)y\d\w\s", "xy1a ", True),
    (r"[^a]b", "ab", False),
    (r"[^a]b", "cb", True),
    (r"\Aq", "q", True),
    (r"caf[\xe9e]", "café", True),
])
def test_utf16_regex_translation(pattern, text, hit):
    import re

    from ckpt_tui.model.patterns import utf16_regex

    assert bool(re.search(utf16_regex(pattern), text.encode("utf-16-le"), re.DOTALL)) is hit
    assert bool(re.search(pattern, text)) is hit  # what the pattern means on text


@pytest.mark.parametrize("pattern", [r"(a)\1", r"\bword", "[\u0400-\u04ff]"])
def test_utf16_regex_says_what_it_cannot_translate(pattern):
    from ckpt_tui.model.patterns import compile_pattern

    with pytest.raises(CkptError, match="UTF-16"):
        compile_pattern(pattern, regex=True, utf16=True)


def test_non_utf8_literal_pattern(capsys):
    """A pattern with bytes that are not UTF-8 (a shell's $'\\xff') is those bytes, no crash."""
    from ckpt_tui.cli import main

    assert main(["memsearch", str(DATA / "web-httpd.tar.zst"), "\udcff\udcfe"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "match" in err


def test_a_later_copy_of_a_pagemap_is_reported_not_misread(tmp_path):
    """An archive holding pagemap-1.img twice, the second copy (naming another pages image)
    after the pages streamed past: the lean load says so instead of reading argv or
    searching with the wrong map, and never crashes."""
    from ckpt_tui.model.tap import load_and_search

    root = unpack("web-httpd.tar.zst", tmp_path / "unpacked")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = sorted(os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs)
        for name in names:
            tar.add(root / name, arcname=name, recursive=False)
        tar.add(root / "checkpoint" / "pagemap-10.img", arcname="checkpoint/pagemap-1.img")
    arc = tmp_path / "dup.tar.zst"
    arc.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    ck, matches = load_and_search(arc, SearchPattern.of(rb"[A-Z]{4,}=", regex=True))
    with ck:
        assert ck.source.discarded
        said = [p for p in ck.problems if "later copy" in p.message]
        assert said and said[0].pane == "memory"
    want = set(_reference(arc, rb"[A-Z]{4,}=", regex=True))
    assert set(_key(matches)) <= want
