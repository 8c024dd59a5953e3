"""Widgets on small hand-made models: the hex view, the text view, the files tree, tables, helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.app import App

from ckpt_tui.errors import CkptError
from ckpt_tui.model.patterns import SearchPattern, parse_find, parse_pattern
from ckpt_tui.model.types import RootfsDiff, RootfsEntry, Socket
from ckpt_tui.screens.dialogs import parse_range
from ckpt_tui.screens.fileview import looks_binary
from ckpt_tui.widgets import format as fmt
from ckpt_tui.widgets.files import FilesTree, build_index
from ckpt_tui.widgets.hexview import BytesSource, HexView, MemorySource
from ckpt_tui.widgets.logs import error_lines, render_diagnosis
from ckpt_tui.widgets.overview import size_bar
from ckpt_tui.widgets.table import FilterTable
from ckpt_tui.widgets.textview import TextView, highlight_lines
from ckpt_tui.widgets.vmamap import render_map, vma_cells

PAGE = 4096


class Host(App):
    """Mounts one widget, with the app's stylesheet."""

    CSS_PATH = "../ckpt_tui/app.tcss"

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self):
        yield self.widget


# --------------------------------------------------------------------------- a fake process memory


@dataclass
class FakeVMA:
    start: int
    end: int
    label: str = "[anon]"
    perms: str = "rw-p"
    pages_present: int = 0
    pages_lazy: int = 0
    pages_parent: int = 0


@dataclass
class FakeRun:
    vaddr: int
    nr_pages: int
    state: str


class FakeReader:
    """Pages present where a run says so; the byte at each address is its low byte."""

    def __init__(self, runs: list[FakeRun], vmas: list[FakeVMA]) -> None:
        self.runs = runs
        self.vmas = vmas
        self.reads = 0

    def page_state(self, addr: int) -> str:
        for run in self.runs:
            if run.vaddr <= addr < run.vaddr + run.nr_pages * PAGE:
                return run.state
        if any(v.start <= addr < v.end for v in self.vmas):
            return "not dumped"
        return "unmapped"

    def read(self, addr: int, n: int) -> bytes:
        self.reads += 1
        return bytes((a & 0xFF) for a in range(addr, addr + n))

    def runs_between(self, start, end):  # pragma: no cover - the list path is used
        raise AssertionError


GIB = 1 << 30


def big_memory():
    base = 0x7F0000000000
    vmas = [FakeVMA(0x400000, 0x402000, "/bin/x", "r-xp", 1), FakeVMA(base, base + GIB, "[heap]", "rw-p")]
    runs = [FakeRun(0x400000, 1, "present"), FakeRun(base, 2, "present"), FakeRun(base + 2 * PAGE, 3, "lazy"),
            FakeRun(base + GIB - 16 * PAGE, 16, "present")]
    return MemorySource(FakeReader(runs, vmas), vmas), base


async def test_hexview_collapses_missing_pages_and_shows_bytes():
    source, base = big_memory()
    view = HexView(source)
    async with Host(view).run_test(size=(100, 30)) as pilot:
        rows = [view.row_text(r) for r in range(view.total_rows)]
        assert rows[0].startswith("── 000000400000-000000402000 r-xp /bin/x")
        assert rows[1].startswith("000000400000  00 01 02 03")
        assert rows[1].rstrip().endswith("................")
        gap = next(r for r in rows if r.startswith("000000401000"))
        assert "not dumped: 1 page" in gap and "00 00" not in gap
        lazy = next(r for r in rows if r.startswith(f"{base + 2 * PAGE:012x}"))
        assert "lazy" in lazy and "3 pages" in lazy
        # the 1 GiB heap is ~ header + 2 pages + 2 gaps + 16 pages of rows, not 64M rows
        assert view.total_rows < 3 * 256 + 16 * 256 + 10
        # g-style jump, and scrolling to the end is immediate
        started = time.perf_counter()
        assert view.goto(base + GIB - 1)
        await pilot.press("end", "home", "pagedown")
        assert time.perf_counter() - started < 2
        assert not view.goto(0x10)  # unmapped
        await pilot.press("right_square_bracket")
        assert view.cursor_segment.label == "[heap]"


async def test_hexview_matches_and_copy():
    data = b"hello world, hello needle, hello" + bytes(range(256))
    view = HexView(BytesSource(data, 0x1000, "buf"))
    async with Host(view).run_test(size=(100, 20)) as pilot:
        view.focus()
        view.set_matches([(0x1000 + 13, 5), (0x1000 + 27, 5)], 0, "hello")
        await pilot.pause()
        assert view.cursor_address == 0x1000
        await pilot.press("n")
        assert view.match_index == 1 and view.cursor_address == 0x1010
        await pilot.press("N")
        assert view.match_index == 0
        assert view.copy_text() == "0x1000"
        assert "hello world, he" in view.row_text(1)


async def test_hexview_over_a_large_buffer_renders_only_what_is_shown():
    reader_runs = [FakeRun(0x10000000, GIB // PAGE, "present")]
    vmas = [FakeVMA(0x10000000, 0x10000000 + GIB, "[anon]", "rw-p", GIB // PAGE)]
    reader = FakeReader(reader_runs, vmas)
    view = HexView(MemorySource(reader, vmas))
    async with Host(view).run_test(size=(100, 30)) as pilot:
        view.focus()
        assert view.total_rows == 1 + GIB // 16
        started = time.perf_counter()
        await pilot.press("end")
        await pilot.pause()
        await pilot.press("pageup", "pageup", "home")
        await pilot.pause()
        assert time.perf_counter() - started < 2
        assert reader.reads < 20  # a page read per 256 rows shown, never the whole GiB


async def test_textview_find_and_next():
    lines = [f"line {i}" for i in range(1000)]
    lines[10] = "an Error here"
    lines[500] = "another error there"
    view = TextView(lines, marked=[10, 500])
    async with Host(view).run_test(size=(80, 20)) as pilot:
        view.focus()
        assert view.find("error") == 2
        assert view.cursor_line == 10
        await pilot.press("n")
        assert view.cursor_line == 500
        await pilot.press("n")
        assert view.cursor_line == 10
        await pilot.press("N")
        assert view.cursor_line == 500
        assert view.copy_text() == "another error there"


def test_highlight_lines_by_extension():
    lines = highlight_lines('def f():\n    return "x"\n', "tool.py")
    assert [line.plain for line in lines] == ["def f():", '    return "x"']
    assert any(span.style for span in lines[0].spans)  # pygments coloured the keyword
    assert [line.plain for line in highlight_lines("a\tb\n", "notes")] == ["a       b"]


def test_looks_binary():
    assert looks_binary(b"\x00\x01\x02")
    assert not looks_binary("héllo wörld\n".encode())
    assert not looks_binary(("é" * 5000).encode()[:8191])


# --------------------------------------------------------------------------- files tree


def diff_fixture() -> RootfsDiff:
    entries = [
        RootfsEntry("etc", "dir"),
        RootfsEntry("etc/motd", "file", 8),
        RootfsEntry("root/blob.bin", "file", 300 * 1024),
        RootfsEntry("var/www/docs/new.html", "file", 9),
        RootfsEntry("var/lib/.wh.gone", "whiteout"),
        RootfsEntry("usr/bin/tool", "symlink", 0, linkname="/bin/busybox"),
    ]
    return RootfsDiff(present=True, entries=entries, deleted=["/var/www/index.html"])


def test_build_index_sums_and_statuses():
    root = build_index(diff_fixture())
    assert root.size == 8 + 300 * 1024 + 9
    assert root.deleted_count == 2 and root.changed_count == 4
    www = root.children["var"].children["www"]
    assert www.children["index.html"].status == "deleted" and www.children["index.html"].marker == "D"
    assert root.children["var"].children["lib"].children["gone"].status == "deleted"
    assert root.children["etc"].children["motd"].marker == "C"
    assert root.children["etc"].marker == " "


def test_build_index_deep_tree_has_no_recursion_limit():
    deep = "/".join(f"d{i}" for i in range(3000)) + "/leaf"
    root = build_index(RootfsDiff(present=True, entries=[RootfsEntry(deep, "file", 5)]))
    assert root.size == 5


async def test_files_tree_filters_and_sort():
    tree = FilesTree(build_index(diff_fixture()))
    async with Host(tree).run_test(size=(100, 30)) as pilot:
        tree.focus()
        names = lambda: [n.data.name for n in _walk(tree.root) if n.data is not None and n is not tree.root]  # noqa: E731
        assert {"motd", "blob.bin", "new.html", "index.html", "gone", "tool"} <= set(names())
        await pilot.press("d")
        assert set(n for n in names() if n not in ("var", "www", "lib")) == {"index.html", "gone"}
        await pilot.press("d", "l")
        assert "blob.bin" in names() and "motd" not in names()
        await pilot.press("l")
        tree.set_filter("new")
        assert "new.html" in names() and "motd" not in names()
        tree.set_filter("")
        await pilot.press("greater_than_sign")  # ">" sorts by size ("o" opens a checkpoint)
        assert tree.root.children[0].data.name == "root"
        label = tree.render_label(next(n for n in _walk(tree.root) if n.data and n.data.name == "tool"),
                                  tree.rich_style, tree.rich_style)
        assert "tool → /bin/busybox" in label.plain


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


async def test_files_tree_caps_children():
    entries = [RootfsEntry(f"many/f{i:05d}", "file", 1) for i in range(1500)]
    tree = FilesTree(build_index(RootfsDiff(present=True, entries=entries)))
    async with Host(tree).run_test(size=(100, 30)):
        many = tree.root.children[0]
        many.expand()
        tree.populate(many)
        assert len(many.children) == 1001
        assert "500 more" in str(many.children[-1].label)


# --------------------------------------------------------------------------- tables, helpers


async def test_filter_table_filters_and_copies():
    table = FilterTable()
    async with Host(table).run_test(size=(80, 20)):
        table.setup(["Name", "Value"])
        table.set_rows([("a", ["alpha", ("[heap] literal", "warning")], 1), ("b", ["beta", "x"], 2)])
        assert table.row_count == 2
        assert table.get_row_at(0)[1].plain == "[heap] literal"  # never parsed as markup
        table.set_filter("BET")
        assert table.row_count == 1 and table.selected_payload == 2
        assert table.copy_text() == "beta"
        table.set_filter("")
        assert table.row_count == 2
        assert table.export_rows() == [{"Name": "alpha", "Value": "[heap] literal"}, {"Name": "beta", "Value": "x"}]


def test_secret_names():
    for name in ("DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "passwd", "SSH_PRIVATE_KEY"):
        assert fmt.is_secret_name(name), name
    for name in ("HOME", "PATH", "GREETING", "APP_MODE"):
        assert not fmt.is_secret_name(name), name


def test_format_helpers():
    assert fmt.size(8) == "8 B" and fmt.size(300 * 1024) == "300.0 KiB"
    assert Socket(1, 3, "IPv6", "TCP", src="::", src_port=8080).local == "[::]:8080"
    assert Socket(1, 3, "IPv6", "TCP", dst="10.88.0.27", dst_port=9000).remote == "10.88.0.27:9000"
    assert Socket(1, 3, "IPv6", "TCP", src="::").local == ""
    assert Socket(1, 3, "UNIX", "UNIX", src="/dev/log").local == "/dev/log"  # no port: never /dev/log:0
    assert fmt.parse_address("0x7f00") == 0x7F00 and fmt.parse_address("7f00") == 0x7F00
    assert fmt.parse_address("100d") == 100 and fmt.parse_address("xyz") is None
    assert fmt.micros(1500) == "1.50 ms" and fmt.stat_value("pages_written", 1234) == "1,234"
    assert fmt.esc("[$x] [b]") == "\\[$x] \\[b]"


def test_patterns_and_ranges():
    assert parse_pattern("CKPT", "text") == SearchPattern(b"CKPT", "text")
    assert parse_pattern("43 4b 50 54", "hex") == SearchPattern(b"CKPT", "hex")
    assert parse_pattern("\\x43\\x4b", "hex").data == b"CK"
    assert parse_pattern("0x43 0x4b", "hex").data == parse_pattern("43:4b", "hex").data == b"CK"
    assert parse_pattern("tok_[a-z]+", "regex") == SearchPattern(b"tok_[a-z]+", "regex")
    for text, mode in (("zz", "hex"), ("", "text"), ("(", "regex")):
        with pytest.raises(CkptError):
            parse_pattern(text, mode)
    assert parse_find("x:41 42") == SearchPattern(b"AB", "hex")
    assert parse_find("re:a+") == SearchPattern(b"a+", "regex")
    assert parse_find("plain") == SearchPattern(b"plain", "text")
    assert parse_range("0x1000-0x2000") == (0x1000, 0x2000)
    assert parse_range("0x1000-+0x10") == (0x1000, 0x1010)
    assert parse_range("0x2000-0x1000") is None and parse_range("nothing") is None


def test_size_bar_is_exact_width_and_readable_without_colour():
    bar = size_bar([("memory pages", 200), ("rootfs diff", 300), ("other", 1)], width=50)
    first = bar.split("\n")[0]
    import re

    cells = re.sub(r"\[[^\]]*\]", "", first)
    assert len(cells) == 50
    assert cells.count("░") == 1  # a tiny part still shows
    assert "memory pages" in bar and "(60%)" in bar
    assert "(no data)" in size_bar([("a", 0)])


def test_vma_map_cells_and_picture():
    vma = FakeVMA(0x1000, 0x1000 + 32 * PAGE, "[heap]", "rw-p", 16)
    reader = FakeReader([FakeRun(0x1000, 16, "present"), FakeRun(0x1000 + 16 * PAGE, 8, "lazy")], [vma])
    cells = vma_cells(vma, reader, 32)
    assert cells[:16] == ["present"] * 16 and cells[16:24] == ["other"] * 8 and cells[24:] == ["none"] * 8
    picture = render_map(7, [vma], reader)
    assert "1 VMA," in picture and "[@click=app.open_hex(7,4096)]" in picture and "\\[heap]" in picture


def test_error_lines_and_diagnosis_rendering():
    lines = ["(00.1) ok", "(00.2) Error (criu/x.c:1): boom [$x]", "Restoring FAILED."]
    assert error_lines(lines) == [1, 2]

    @dataclass
    class Cause:
        title: str
        explanation: str
        fix: str
        evidence_line: int | None
        evidence: str = ""

    @dataclass
    class Diag:
        errors: list
        causes: list
        summary: str = "Missing image file: pages-2.img"
        operation: str = "restore"
        outcome: str = "failure"
        criu_version: str = ""

    text = render_diagnosis(Diag([], [Cause("pages-2.img is missing", "why [$x]", "re-export", 66, "Error [x]")]))
    assert "pages-2.img is missing" in text and "\\[$x]" in text and "line 66" in text
    from textual.content import Content

    Content.from_markup(text)  # valid markup whatever the log says


async def test_files_tree_with_100k_entries_stays_lazy():
    entries = [RootfsEntry(f"d{d:04d}/f{f:03d}", "file", d + f) for d in range(1000) for f in range(100)]
    started = time.perf_counter()
    index = build_index(RootfsDiff(present=True, entries=entries))
    tree = FilesTree(index)
    async with Host(tree).run_test(size=(100, 30)) as pilot:
        assert len(tree.root.children) == 1000
        assert all(len(child.children) == 0 for child in tree.root.children)  # nothing below is built yet
        tree.root.children[500].expand()
        await pilot.pause()
        assert len(tree.root.children[500].children) == 100
        await pilot.press("end")
    assert time.perf_counter() - started < 15


async def test_nav_tree_marks_zombies_and_stopped_and_loads_children_on_expand():
    from ckpt_tui.model.checkpoint import Checkpoint
    from ckpt_tui.model.types import Process, Thread
    from ckpt_tui.ui.session import Session
    from ckpt_tui.widgets.navtree import NavTree

    procs = {
        1: Process(1, 0, comm="init", children=[2, 3]),
        2: Process(2, 1, comm="worker", state="Zombie", state_code=6, children=[4]),
        3: Process(3, 1, comm="paused", state="Stopped", state_code=3,
                   threads=[Thread(3), Thread(30), Thread(31)]),
        4: Process(4, 2, comm="grandchild"),
    }
    checkpoint = Checkpoint(source=None, processes=procs, roots=[1])
    session = Session(Path("hand-made"))
    nav = NavTree(session)
    async with Host(nav).run_test(size=(60, 20)) as pilot:
        session.checkpoint = checkpoint  # the tree follows the session
        await pilot.pause()
        root = nav.section_nodes["processes"].children[0]
        labels = {n.data.pid: nav.render_label(n, nav.rich_style, nav.rich_style).plain for n in root.children}
        assert "Z zombie" in labels[2]
        assert "T stopped" in labels[3] and "×3" in labels[3]
        zombie = next(n for n in root.children if n.data.pid == 2)
        assert len(zombie.children) == 0  # grandchildren come on expand
        zombie.expand()
        await pilot.pause()
        assert [n.data.pid for n in zombie.children] == [4]
        nav.set_filter("grand")
        assert [n.data.pid for n in nav.section_nodes["processes"].children] == [4]
