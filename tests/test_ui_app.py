"""Pilot tests of the UI on the real fixtures: press keys, read what the screen shows."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

from ckpt_tui.app import CkptApp
from ckpt_tui.screens.dialogs import ConfirmScreen, ExportScreen, PromptScreen
from ckpt_tui.screens.fileview import FileViewScreen
from ckpt_tui.screens.help import HelpScreen
from ckpt_tui.screens.memory import HexScreen, SearchScreen
from ckpt_tui.screens.picker import PickerScreen
from ckpt_tui.widgets import format as fmt
from ckpt_tui.widgets.files import FilesTree
from ckpt_tui.widgets.hexview import HexView
from ckpt_tui.widgets.logs import LogView
from ckpt_tui.widgets.matchlist import MatchList
from ckpt_tui.widgets.navtree import NavTree
from ckpt_tui.widgets.processes import EnvTable, ProcessPane
from ckpt_tui.widgets.table import FilterTable

DATA = Path(__file__).parent / "data"
LOGS = DATA / "logs"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
SIZE = (120, 40)


def screen_text(app) -> str:
    """What the terminal shows, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


@asynccontextmanager
async def running(name: str | None, *, size=SIZE, **kwargs):
    """The app on tests/data/<name> (None: the bundled demo), loaded."""
    app = CkptApp(str(DATA / name) if name else None, now=NOW, **kwargs)
    async with app.run_test(size=size, notifications=True) as pilot:
        for _ in range(100):
            await settle(app, pilot)
            if app.checkpoint is not None or app.load_error or isinstance(app.screen, PickerScreen):
                break
        yield app, pilot


async def press_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press(ch)


# --------------------------------------------------------------------------- overview / header


async def test_demo_header_and_overview():
    async with running(None) as (app, _pilot):
        assert app.load_error == ""
        assert app.is_demo
        assert "web" in app.title and "Podman" in app.title
        assert "bundled demo" in app.sub_title
        assert "localhost/busybox:latest" in app.sub_title
        text = screen_text(app)
        assert "bundled demo" in text
        for expected in ("Container", "runc", "804f8b2fc6ea364d76b984bd124b8f45e03e3040ad4680823b04ea1a1fa2d451",
                         "2026-11-23 12:26:12 UTC (7 days ago)", "Sizes", "memory pages"):
            assert expected in text, expected


async def test_overview_sections_and_stats():
    async with running("web-httpd.tar.zst") as (app, _pilot):
        pane = app.main.current_pane
        content = " ".join(str(w.render()) for w in pane.query("Static"))
        # every dump statistic, the interfaces, annotations and a problems section
        for stat in app.checkpoint.stats:
            assert stat in content
        assert "10.88.0.22/16" in content
        assert "io.container.manager" in content
        assert "No problems found" in content
        assert "█" in content and "▓" in content  # the bar of where the bytes go


async def test_overview_shows_metadata_while_loading(monkeypatch):
    """Keys work while the model loads; the overview shows config.dump as soon as it is read."""
    import threading

    import ckpt_tui.model as model

    gate = threading.Event()
    real = model.load_checkpoint

    def slow_load(*args, **kwargs):
        shown = kwargs["on_metadata"]

        def then_slow(meta):  # the rest of the archive takes its time
            shown(meta)
            if "spec" in meta:
                gate.wait(10)

        kwargs["on_metadata"] = then_slow
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "load_checkpoint", slow_load)
    app = CkptApp(str(DATA / "web-httpd.tar.zst"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(500):  # up to 10 s on a loaded machine
            await pilot.pause(0.02)
            if app.session.preview is not None:
                break
        assert app.session.preview is not None and app.checkpoint is None
        text = screen_text(app)
        assert "web" in text and "loading" in text
        await pilot.press("4")  # a pane that needs the whole model: a placeholder, not a hang
        await pilot.pause()
        assert "appears as soon as the checkpoint is loaded" in screen_text(app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        gate.set()
        await settle(app, pilot)
        for _ in range(50):
            if app.checkpoint is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        assert app.checkpoint is not None
        assert "motd" in screen_text(app)  # the Files pane replaced its placeholder


async def test_load_failure_is_shown(tmp_path):
    bad = tmp_path / "not-a-checkpoint.tar"
    bad.write_bytes(b"this is not a tar file at all" * 10)
    app = CkptApp(str(bad), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if app.load_error:
                break
        assert app.load_error
        assert "could not be opened" in screen_text(app)
        await pilot.press("q")
    assert app.return_code == 1


# --------------------------------------------------------------------------- processes


async def test_process_tree_lists_processes():
    async with running("web-httpd.tar.zst") as (app, pilot):
        text = screen_text(app)
        assert "1 sh" in text and "10 httpd" in text and "13 sleep" in text
        await pilot.press("2")
        await pilot.pause()
        table = app.main.current_pane.query_one(FilterTable)
        comms = [table.get_row_at(i)[2].plain.strip() for i in range(table.row_count)]
        assert comms == ["sh", "httpd", "sleep"]
        # Enter on httpd opens the process
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.main.current_pane, ProcessPane)
        assert app.main.current_pane.pid == 10
        assert "pid 10 httpd" in screen_text(app)


async def test_process_children_added_on_expand():
    async with running("ps-tree.tar.gz") as (app, pilot):
        nav = app.main.query_one(NavTree)
        node_9 = nav.reveal_process(9)
        assert node_9 is not None
        sh9 = app.checkpoint.processes[9]
        assert sh9.children, "pid 9 has a child in this fixture"
        # collapsed pid 9 has no child nodes until expanded
        node_9.collapse()
        fresh = app.main.query_one(NavTree)
        fresh.set_checkpoint(app.checkpoint)
        await pilot.pause()
        node = next(c for c in fresh.section_nodes["processes"].children[0].children if c.data.pid == 9)
        assert len(node.children) == 0
        node.expand()
        await pilot.pause()
        assert [c.data.pid for c in node.children] == [c for c in sh9.children if c in app.checkpoint.processes]


async def test_environment_and_command_tabs():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_process(10, "tab-env")
        await pilot.pause()
        text = screen_text(app)
        assert "GREETING" in text and "hello-from-web" in text
        env = app.main.current_pane.query_one(EnvTable)
        env.focus()
        keys = [var.name for var in env.env]
        env.move_cursor(row=keys.index("GREETING"))
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "GREETING=hello-from-web"
        app.main.current_pane.select_tab("tab-command")
        await pilot.pause()
        text = screen_text(app)
        assert "argv[0] httpd" in text and "argv[1] -f" in text


async def test_secret_masked_then_revealed():
    async with running("ps-tree.tar.gz") as (app, pilot):
        pid = next(p.pid for p in app.checkpoint.process_list()
                   if any(v.name == "DB_PASSWORD" for v in p.env))
        await app.goto_process(pid, "tab-env")
        await pilot.pause()
        text = screen_text(app)
        assert "DB_PASSWORD" in text and "APP_MODE" in text and "inspect-me" in text
        assert "hunter2" not in text
        assert fmt.MASK in text
        env = app.main.current_pane.query_one(EnvTable)
        env.focus()
        env.move_cursor(row=[v.name for v in env.env].index("DB_PASSWORD"))
        await pilot.press("c")
        assert "hunter2" not in app.clipboard  # copying a masked value copies the mask
        await pilot.press("v")
        await pilot.pause()
        assert "hunter2" in screen_text(app)
        await pilot.press("v")
        await pilot.pause()
        assert "hunter2" not in screen_text(app)
        # the global toggle (for demos) reveals and masks everything
        await pilot.press("S")
        await pilot.pause()
        assert app.secrets_revealed and "hunter2" in screen_text(app)
        await pilot.press("S")
        await pilot.pause()
        assert "hunter2" not in screen_text(app)


async def test_threads_credentials_files_sockets_memory_tabs():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        pane_tabs = ["tab-threads", "tab-creds", "tab-files", "tab-memory"]
        await app.goto_process(1, "tab-threads")
        await pilot.pause()
        pane = app.main.current_pane
        threads = pane.query_one("#process-threads", FilterTable)
        assert threads.row_count == 4
        assert "×4" in screen_text(app)  # the nav tree marks the thread count
        for tab in pane_tabs[1:]:
            pane.select_tab(tab)
            await pilot.pause()
        text = screen_text(app)
        assert "VMAs" in text and "dumped" in text and "█" in text  # the address-space picture
        pane.select_tab("tab-creds")
        await pilot.pause()
        text = screen_text(app)
        assert "effective" in text and "CAP_" in text


async def test_sockets_tab_of_httpd():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_process(10, "tab-sockets")
        await pilot.pause()
        text = screen_text(app)
        assert "LISTEN" in text and "8080" in text


# --------------------------------------------------------------------------- memory


async def test_memory_pane_vma_table_and_hex():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "[heap]" in text and "[stack]" in text and "[vdso]" in text
        assert "/bin/busybox" in text and "private" in text
        table = app.main.current_pane.query_one("#memory-vmas", FilterTable)
        table.focus()
        heap_row = next(i for i in range(table.row_count) if "[heap]" in table.get_row_at(i)[4].plain)
        table.move_cursor(row=heap_row)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, HexScreen)
        view = app.screen.query_one(HexView)
        heap = next(v for v in app.checkpoint.processes[app.screen.pid].vmas if v.label == "[heap]")
        assert view.cursor_address == heap.start
        assert f"{heap.start:012x}" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HexScreen)


async def test_hex_view_shows_marker_and_missing_pages():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        match = next(app.checkpoint.search_memory(b"CKPT-MARKER-000000-needle"))
        app.open_hex(match.pid, None)
        await settle(app, pilot)
        view = app.screen.query_one(HexView)
        view.focus()
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await press_text(pilot, f"0x{match.address:x}")
        await pilot.press("enter")
        await pilot.pause()
        assert view.cursor_address == match.address - match.address % 16
        row = view.cursor_row
        ascii_two_rows = view.row_text(row)[-18:-1] + view.row_text(row + 1)[-18:-1]
        assert "CKPT-MARKER-000000-needle" in ascii_two_rows.replace(" ", "")
        text = screen_text(app)
        assert "CKPT-MARKER-0000" in text and "00-needle" in text
        # pages that were not dumped read as such, never as zeros
        gap_rows = [r for r in range(min(view.total_rows, 400)) if "not dumped" in view.row_text(r)]
        assert gap_rows and "00 00 00" not in view.row_text(gap_rows[0])
        # an unmapped address is refused
        await pilot.press("g")
        await pilot.pause()
        from textual.widgets import Input

        app.screen.query_one(Input).value = "0x10"
        await pilot.press("enter")
        await pilot.pause()
        assert view.cursor_address == match.address - match.address % 16
        # c copies the address under the cursor
        await pilot.press("c")
        assert app.clipboard == f"0x{view.cursor_address:x}"


async def test_memory_search_screen_jumps_to_match():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await press_text(pilot, "CKPT-MARKER")
        await pilot.press("enter")
        for _ in range(50):
            await settle(app, pilot)
            if "matches" in str(app.screen.query_one("#search-status").render()):
                break
        matches = app.screen.query_one(MatchList)
        assert len(matches.matches) == 16
        assert "CKPT-MARKER-000000-needle" in matches.line_text(0)
        assert "CKPT-MARKER-000000-needle" in screen_text(app)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, HexScreen)
        view = app.screen.query_one(HexView)
        assert len(view.matches) == 16 and view.match_index == 1
        assert view.cursor_address == matches.matches[1].address - matches.matches[1].address % 16
        await pilot.press("n")
        await pilot.pause()
        assert view.match_index == 2
        await pilot.press("N", "N")
        await pilot.pause()
        assert view.match_index == 0
        assert "CKPT-MARKER-0000" in screen_text(app)


async def test_memory_search_hex_and_regex_modes_in_one_process():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        app.open_search()
        await pilot.pause()
        screen = app.screen
        from textual.widgets import Input, Select

        screen.query_one("#search-pattern", Input).value = "41 50 49 5f 54 4f 4b 45 4e"  # API_TOKEN
        screen.query_one("#search-mode", Select).value = "hex"
        screen.query_one("#search-pid", Select).value = 1
        screen.action_start()
        await settle(app, pilot)
        await pilot.pause()
        found = screen.query_one(MatchList).matches
        assert found and all(m.match == b"API_TOKEN" for m in found)
        screen.query_one("#search-pattern", Input).value = r"tok_live_[0-9a-f]{12}"
        screen.query_one("#search-mode", Select).value = "regex"
        screen.action_start()
        await settle(app, pilot)
        await pilot.pause()
        assert any(m.match == b"tok_live_4f8a2c91e7b3" for m in screen.query_one(MatchList).matches)
        # a bad pattern is reported, not raised
        screen.query_one("#search-pattern", Input).value = "zz"
        screen.query_one("#search-mode", Select).value = "hex"
        screen.action_start()
        await pilot.pause()
        assert "not hex" in str(screen.query_one("#search-status").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SearchScreen)


# --------------------------------------------------------------------------- files


async def test_files_tree_shows_changed_and_deleted():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("4")
        await pilot.pause()
        text = screen_text(app)
        lines = text.splitlines()
        motd = next(line for line in lines if "motd" in line)
        index = next(line for line in lines if "index.html" in line)
        assert " C " in motd  # marker column readable without colour
        assert " D " in index
        assert "new.html" in text and "blob.bin" in text and "300.0 KiB" in text
        tree = app.main.current_pane.query_one(FilesTree)
        nodes = {n.data.path: n.data for n in _walk(tree.root) if n.data is not None}
        assert nodes["var/www/index.html"].status == "deleted"
        assert nodes["etc/motd"].status == "changed"
        # the deleted name is struck through in red (from app.tcss)
        style = tree.get_component_rich_style("files--deleted")
        assert style.strike
        # only deleted
        tree.focus()
        await pilot.press("d")
        await pilot.pause()
        text = screen_text(app)
        assert "index.html" in text and "motd" not in text and "blob.bin" not in text
        await pilot.press("d", "l")  # only large
        await pilot.pause()
        text = screen_text(app)
        assert "blob.bin" in text and "motd" not in text and "index.html" not in text
        await pilot.press("l", "greater_than_sign")  # sort by size (">"; "o" opens a checkpoint): root/ first
        await pilot.pause()
        assert next(c.data.name for c in tree.root.children) == "root"


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


async def test_files_view_text_and_binary():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_file("/etc/motd")
        await pilot.pause()
        tree = app.main.current_pane.query_one(FilesTree)
        assert tree.cursor_node.data.path == "etc/motd"
        await pilot.press("c")
        assert app.clipboard == "/etc/motd"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FileViewScreen)
        assert "changed" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await app.goto_file("/root/blob.bin")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.pause()
        assert isinstance(app.screen, FileViewScreen)
        assert app.screen.as_hex
        assert app.screen.query(HexView)
        await pilot.press("escape")
        await pilot.pause()
        # a deleted file has nothing to view
        await app.goto_file("/var/www/index.html")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, FileViewScreen)


async def test_files_pane_without_rootfs_diff():
    async with running("web-ignore-rootfs.tar.zst") as (app, pilot):
        await pilot.press("4")
        await pilot.pause()
        assert "no root FS diff" in screen_text(app)


# --------------------------------------------------------------------------- network, mounts, logs, problems


async def test_network_listen_socket():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        line = next(line for line in text.splitlines() if "LISTEN" in line)
        assert "8080" in line and "httpd" in line and "TCP" in line
        assert "eth0" in text and "10.88.0.22/16" in text


async def test_network_marks_tcp_established():
    async with running("tcp-server.tar.zst") as (app, pilot):
        await pilot.press("5")
        await pilot.pause()
        text = screen_text(app)
        assert "ESTABLISHED" in text
        line = next(line for line in text.splitlines() if "ESTABLISHED" in line and "nc" in line)
        assert "--tcp-established" in line and "needs --tcp-established" in text
        assert "10.88.0.27" in text


async def test_mounts_pane():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("6")
        await pilot.pause()
        text = screen_text(app)
        assert "/proc" in text and "/etc/hosts" in text and "bind" in text


async def test_logs_pane_external_log_first_error():
    log = LOGS / "restore-missing-pages.log"
    async with running("broken-missing-pages.tar", log_files=[str(log)]) as (app, pilot):
        await pilot.press("7")
        await pilot.pause()
        view = app.main.current_pane.query_one(LogView)
        assert view.marked, "the error lines are marked"
        view.focus()
        await pilot.press("e")
        await pilot.pause()
        first = min(view.marked)
        assert view.cursor_line == first
        assert "Error" in view.lines[first].plain
        text = screen_text(app)
        assert "Error" in text
        assert "restore-missing-pages.log" in text
        # the log view finds with / and n
        await pilot.press("slash")
        await pilot.pause()
        await press_text(pilot, "FAILED")
        await pilot.press("enter")
        await pilot.pause()
        assert view.matches and "FAILED" in view.lines[view.cursor_line].plain.upper()


async def test_problems_list_missing_pages_and_link():
    async with running("broken-missing-pages.tar") as (app, pilot):
        await pilot.press("8")
        await pilot.pause()
        text = screen_text(app)
        assert "pages-2.img" in text and "missing" in text
        table = app.main.current_pane.query_one(FilterTable)
        table.focus()
        problem = table.selected_payload
        await pilot.press("enter")
        await pilot.pause()
        assert app.main.current == problem.pane  # a Pane names its section
        if "pid 10" in problem.message and app.main.current == "memory":
            assert app.main.current_pane.pid == 10  # the link goes to the process it names


# --------------------------------------------------------------------------- keys, palette, copy, export


async def test_filter_processes_table():
    async with running("ps-tree.tar.gz") as (app, pilot):
        await pilot.press("2")
        await pilot.pause()
        table = app.main.current_pane.query_one(FilterTable)
        table.focus()
        total = table.row_count
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await press_text(pilot, "sleep")
        await pilot.pause()
        assert 0 < table.row_count < total  # filters while typing
        await pilot.press("enter")
        await pilot.pause()
        assert all(any("sleep" in c.plain for c in table.get_row_at(i)) for i in range(table.row_count))
        await pilot.press("slash")
        await pilot.press("escape")  # escape restores the filter that was there
        await pilot.pause()
        assert all(any("sleep" in c.plain for c in table.get_row_at(i)) for i in range(table.row_count))
        table.set_filter("")
        assert table.row_count == total


async def test_filter_nav_tree():
    async with running("ps-tree.tar.gz") as (app, pilot):
        await pilot.press("slash")
        await press_text(pilot, "cat")
        await pilot.press("enter")
        await pilot.pause()
        nav = app.main.query_one(NavTree)
        procs = nav.section_nodes["processes"].children
        assert [app.checkpoint.processes[n.data.pid].comm for n in procs] == ["cat"]


async def test_help_lists_bound_keys():
    async with running("web-httpd.tar.zst", readonly=True) as (app, pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        # the help gives a binding's tooltip, the footer its short word
        for key in ("Search all memory", "Maximise the detail pane", "Quit", "Copy the selected value",
                    "Export the pane", "Filter the focused table", "Only deleted", "Go to an address", "Reveal value"):
            assert key in text, key
        assert "Build an OCI checkpoint image  (unavailable)" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_every_binding_has_an_id():
    from ckpt_tui.screens.dialogs import ExportScreen as E
    from ckpt_tui.screens.main import MainScreen
    from ckpt_tui.screens.run import RunScreen
    from ckpt_tui.widgets.matchlist import MatchList as M

    for cls in (CkptApp, MainScreen, HexScreen, SearchScreen, FileViewScreen, RunScreen, HelpScreen,
                ConfirmScreen, PromptScreen, E, PickerScreen, FilesTree, EnvTable, HexView, LogView, M):
        for binding in cls.BINDINGS:
            assert binding.id, (cls.__name__, binding.key)
            assert binding.description, (cls.__name__, binding.key)


async def test_readonly_disables_build_and_restore():
    async with running("web-httpd.tar.zst", readonly=True) as (app, pilot):
        assert app.main.check_action("build", ()) is None
        assert app.main.check_action("restore", ()) is None
        await pilot.press("b")
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, (ConfirmScreen, PromptScreen))


async def test_build_goes_through_a_confirmation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with running("web-httpd.tar.zst") as (app, pilot):
        assert app.session.operation_blocked("build") is None
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "localhost/web-checkpoint:latest" in body
        assert str(tmp_path) in body
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert list(tmp_path.iterdir()) == []
        # again, and this time build it
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(100):
            await settle(app, pilot)
            if app.screen.__class__.__name__ == "RunScreen" and app.screen.finished:
                break
        assert app.screen.__class__.__name__ == "RunScreen" and app.screen.finished
        assert "done" in screen_text(app)
        written = list(tmp_path.glob("*.oci.tar"))
        assert len(written) == 1 and written[0].stat().st_size > 100_000


async def test_restore_goes_through_a_confirmation():
    async with running("web-httpd.tar.zst") as (app, pilot):
        assert app.session.operation_blocked("restore") is None
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "restore" in body and "web-httpd.tar.zst" in body
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)


async def test_copy_in_nav_tree():
    async with running("web-httpd.tar.zst") as (app, pilot):
        nav = app.main.query_one(NavTree)
        nav.move_cursor(nav.reveal_process(10))
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "10"


async def test_export_overview_json(tmp_path):
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        from textual.widgets import Input

        target = tmp_path / "out.json"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await settle(app, pilot)
        data = json.loads(target.read_text())
        assert "web" in json.dumps(data)


async def test_export_memory_range(tmp_path):
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        match = next(app.checkpoint.search_memory(b"CKPT-MARKER-000001-needle"))
        app.open_hex(match.pid, match.address)
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        from textual.widgets import Input

        target = tmp_path / "range.bin"
        app.screen.query_one("#export-path", Input).value = str(target)
        app.screen.query_one("#export-range", Input).value = f"0x{match.address:x}-+0x19"
        await pilot.press("enter")
        await settle(app, pilot)
        assert target.read_bytes() == b"CKPT-MARKER-000001-needle"


async def test_palette_finds_a_process_and_an_address():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await press_text(pilot, "process 10")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.main.current_pane, ProcessPane)
        assert app.main.current_pane.pid == 10
        heap = next(v for v in app.checkpoint.processes[10].vmas if v.label == "[heap]")
        await pilot.press("ctrl+p")
        await pilot.pause()
        from textual.widgets import Input

        app.screen.query_one(Input).value = f"{heap.start + 0x20:x}"  # as if typed
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, HexScreen)
        assert app.screen.query_one(HexView).cursor_address == heap.start + 0x20


async def test_maximize_detail_pane():
    async with running("web-httpd.tar.zst") as (app, pilot):
        nav = app.main.query_one(NavTree)
        assert nav.display and nav.region.width > 0
        await pilot.press("z")
        await pilot.pause()
        assert nav.region.width == 0
        await pilot.press("z")
        await pilot.pause()
        assert nav.region.width > 0


async def test_directory_with_several_checkpoints_shows_a_picker(tmp_path):
    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz"):
        (tmp_path / name).symlink_to(DATA / name)
    app = CkptApp(str(tmp_path), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await settle(app, pilot)
            if isinstance(app.screen, PickerScreen):
                break
        assert isinstance(app.screen, PickerScreen)
        text = screen_text(app)
        assert "web-httpd.tar.zst" in text and "ps-tree.tar.gz" in text and "tree" in text
        await pilot.press("down", "enter")
        for _ in range(50):
            await settle(app, pilot)
            if app.checkpoint is not None:
                break
        assert app.checkpoint.info.name == "web"
        # L: back to the list, Escape returns to the open one, Enter on another opens it
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)
        assert "Back" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PickerScreen) and app.checkpoint.info.name == "web"
        await pilot.press("L")
        await pilot.pause()
        table = app.screen.query_one("#picker-table")
        web_row = table.cursor_row
        await pilot.press("up" if web_row else "down", "enter")
        for _ in range(50):
            await settle(app, pilot)
            if app.checkpoint is not None and app.checkpoint.info.name == "tree":
                break
        assert app.checkpoint.info.name == "tree"
        assert "tree" in app.title
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, PickerScreen)


async def test_list_key_does_nothing_for_a_single_checkpoint():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("L")
        await pilot.pause()
        assert not isinstance(app.screen, PickerScreen)
        assert "Checkpoint list" not in screen_text(app)


async def test_mouse_click_selects_a_section():
    async with running("web-httpd.tar.zst") as (app, pilot):
        nav = app.main.query_one(NavTree)
        node = nav.section_nodes["network"]
        await pilot.click(NavTree, offset=(2, node.line))
        await pilot.pause()
        assert app.main.current == "network"


async def test_export_a_file_of_the_diff(tmp_path):
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_file("/etc/motd")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        from textual.widgets import Input

        field = app.screen.query_one("#export-path", Input)
        assert field.value == str(Path.cwd() / "motd")  # the default is in the current directory
        field.value = str(tmp_path / "motd")
        await pilot.press("enter")
        await settle(app, pilot)
        assert (tmp_path / "motd").read_bytes() == b"changed\n"


async def test_containerd_whiteout_reads_as_deleted():
    async with running("containerd-checkpoint.oci.tar") as (app, pilot):
        assert app.checkpoint.info.engine == "containerd"
        assert "containerd" in app.title
        await pilot.press("4")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert " D " in next(line for line in lines if "index.html" in line)
        assert " C " in next(line for line in lines if "motd" in line)


async def test_loading_decompresses_the_archive_once(monkeypatch):
    """The early metadata comes from the one streaming pass, not from a second read."""
    from ckpt_tui.archive import streams

    made = []
    real_init = streams.ZstdDecoder.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(streams.ZstdDecoder, "__init__", counting)
    app = CkptApp(str(DATA / "web-httpd.tar.zst"), now=NOW)
    seen = []
    real_ready = CkptApp.on_metadata_ready

    def ready(self, message):
        seen.append(dict(message.metadata))
        real_ready(self, message)

    monkeypatch.setattr(CkptApp, "on_metadata_ready", ready)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for _ in range(100):
            if app.checkpoint is not None:
                break
            await pilot.pause(0.05)
        assert app.checkpoint is not None
    assert len(made) == 1
    assert seen and seen[-1]["config"]["name"] == "web" and seen[-1]["kind"] == "tar+zstd"


async def test_messages_from_a_load_that_outlives_the_app_are_dropped():
    """A loading thread may post after the screens are gone (the user quit): no crash, and a
    checkpoint that arrives then is closed (its temp files removed)."""
    from ckpt_tui.messages import CheckpointLoaded, LoadFailed, LoadProgress, MetadataReady
    from ckpt_tui.model import load_checkpoint

    app = CkptApp(str(DATA / "web-httpd.tar.zst"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
    app.on_load_progress(LoadProgress("late", 1, 2))
    app.on_metadata_ready(MetadataReady(DATA, {"config": {"name": "late"}}))
    app.on_load_failed(LoadFailed(DATA, "late"))
    late = load_checkpoint(DATA / "web-httpd.tar.zst")
    workspace = late.source.workspace.path
    assert workspace.exists()
    await app.on_checkpoint_loaded(CheckpointLoaded(late))
    assert not workspace.exists()
