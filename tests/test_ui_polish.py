"""What a new user hit in the UI (issue 18): narrow terminals, the palette, focus, sorting, copy,
the other end of pipes and unix sockets, the search options, opening another checkpoint,
mounts, fd flags, rlimits, counts, annotations and interface rows. Pilot on the real fixtures."""

from __future__ import annotations

import json
import shlex
import tarfile
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Checkbox, Select

from ckpt_tui.model.patterns import parse_pattern
from ckpt_tui.model.procinfo import open_flags, rlimit_text
from ckpt_tui.model.types import NetDevice, NetInterface
from ckpt_tui.screens.dialogs import PromptScreen
from ckpt_tui.screens.memory import HexScreen, SearchScreen
from ckpt_tui.text import natural_key
from ckpt_tui.widgets.files import FilesTree
from ckpt_tui.widgets.hexview import HexView
from ckpt_tui.widgets.navtree import NavTree
from ckpt_tui.widgets.network import merge_mounts
from ckpt_tui.widgets.overview import device_line, interface_line
from ckpt_tui.widgets.processes import ProcessPane
from ckpt_tui.widgets.table import FilterTable
from tests.corpus import load_img, save_img, unpack
from tests.test_ui_app import DATA, press_text, running, screen_text, settle

SIZES = [(80, 24), (160, 45), (220, 60)]


def lines(app) -> list[str]:
    return screen_text(app).splitlines()


# -- narrow terminals --------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_panes_fit_at_every_size(size):
    cols, _rows = size
    async with running("web-httpd.tar.zst", size=size) as (app, pilot):
        nav = app.main.query_one(NavTree)
        assert nav.size.width <= (22 if cols < 100 else 32)
        # beside the tree, the overview's rows end in "…" where they do not fit, never wrap
        sizes = [line for line in lines(app) if "KiB  " in line]  # the rows, not the bar's legend
        assert sizes and all(line.rstrip(" ▆▅▄▃▂▁█").removesuffix("│").rstrip().endswith(("B", "…"))
                             for line in sizes), sizes
        assert not any(line.strip(" │▊▕").strip() == "B" for line in lines(app))
        await pilot.press("1")  # the overview, focus in it: the container ID on one line, never wrapped
        await pilot.pause()
        row = next(line for line in lines(app) if "Container ID" in line)
        ident = app.checkpoint.info.id
        assert ident[:40] in row
        assert not any(line.strip(" │▊").startswith(ident[40:50]) for line in lines(app))
        await pilot.press("2")  # the process table keeps its Command column, with the command in it
        await pilot.pause()
        text = screen_text(app)
        assert "Command" in text and "httpd -f -p 8080" in text
        if cols < 100:  # the tree gave way to the pane; Escape brings it back
            assert not nav.display or nav.size.width == 0 or nav.region.width == 0
            await pilot.press("escape")
            await pilot.pause()
            assert nav.has_focus and nav.region.width > 0
        else:
            assert nav.region.width > 0


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_hex_view_keeps_the_ascii_column(size):
    async with running("memhog-16m-threads.tar.zst", size=size) as (app, pilot):
        match = next(app.checkpoint.search_memory(b"CKPT-MARKER-000000-needle"))
        app.open_hex(match.pid, match.address)
        await settle(app, pilot)
        await pilot.pause()
        assert isinstance(app.screen, HexScreen)
        view = app.screen.query_one(HexView)
        row = next(line for line in lines(app) if "CKPT-MARKER" in line)
        # the whole row is on screen: 16 digits of address (vsyscall is above 2^48), the bytes, the ASCII
        assert row.rstrip().endswith(view.row_text(view.cursor_row).rstrip()[-16:])
        assert len(view.row_text(view.cursor_row).rstrip()) <= view.scrollable_content_region.width
        assert view.compact == (size[0] < 90)


# -- the command palette ----------------------------------------------------------------------
async def palette_hits(app, pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(app.screen, CommandPalette)
    await press_text(pilot, query)
    options = app.screen.query_one(CommandList)
    for _ in range(40):  # the palette gathers hits in a worker, in batches
        await pilot.pause(0.05)
        if options.option_count and not app.screen._show_busy:
            break
    await pilot.pause(0.3)
    return [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)]


async def test_palette_lists_processes_then_files_then_sockets_then_vmas():
    async with running("web-httpd.tar.zst") as (app, pilot):
        hits = await palette_hits(app, pilot, "e")
        kinds = [h.split(" ")[0] for h in hits if h.split(" ")[0] in ("process", "file", "socket", "memory")]
        order = {"process": 0, "file": 1, "socket": 2, "memory": 3}
        assert kinds == sorted(kinds, key=order.__getitem__)
        assert {"process", "file", "memory"} <= set(kinds)


async def test_palette_matches_command_lines():
    async with running("web-httpd.tar.zst") as (app, pilot):
        hits = await palette_hits(app, pilot, "-p 8080")  # in httpd's command line, not its name
        assert hits[0] == "process 10 httpd"


async def test_palette_address_hit_names_its_vma():
    async with running("web-httpd.tar.zst") as (app, pilot):
        proc = app.checkpoint.processes[10]
        stack = next(v for v in proc.vmas if v.start <= proc.mm["mm_start_stack"] < v.end)
        address = stack.start + 0x10
        hits = await palette_hits(app, pilot, f"0x{address:x}")
        assert hits[0] == f"go to 0x{address:x} in pid 10 httpd, [stack]"
        assert "()" not in " ".join(hits)
        assert any(h.startswith("memory 0x") and "[anon]" in h for h in await _all_memory_hits(app, pilot))


async def _all_memory_hits(app, pilot) -> list[str]:
    await pilot.press("escape")
    await pilot.pause()
    return await palette_hits(app, pilot, "memory 0x")


# -- focus -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "widget_id"), [("2", "processes-table"), ("3", "memory-vmas"),
                                                ("4", "files-tree"), ("5", "network-sockets"),
                                                ("6", "mounts-table"), ("7", "logs-view"),
                                                ("8", "problems-table"), ("9", "findings-table")])
async def test_section_keys_and_enter_focus_the_main_table(key, widget_id):
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press(key)
        await pilot.pause()
        assert app.focused is not None and app.focused.id == widget_id
        assert not isinstance(app.focused, Select)
        await pilot.press("escape")  # back to the tree, then Enter on the section: the same widget
        await pilot.pause()
        assert isinstance(app.focused, NavTree)
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == widget_id


async def test_the_focused_widget_is_marked():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("3")
        await pilot.pause()
        table = app.screen.query_one("#memory-vmas", FilterTable)
        focused_bar = table.styles.border_left
        await pilot.press("escape")
        await pilot.pause()
        assert table.styles.border_left != focused_bar  # the accent bar goes with the focus
        assert focused_bar[0] == "tall"


# -- sorting and copying -----------------------------------------------------------------------
async def test_tables_sort_by_header_click_and_keys():
    async with running("ps-tree.tar.gz") as (app, pilot):
        await pilot.press("2")
        await pilot.pause()
        table = app.screen.query_one("#processes-table", FilterTable)
        comm = lambda: [table.get_row_at(i)[2].plain for i in range(table.row_count)]  # noqa: E731
        dumped = lambda: [app.checkpoint.processes[int(table.get_row_at(i)[0].plain)].memory_size  # noqa: E731
                          for i in range(table.row_count)]
        given = comm()
        # the "Dumped" header: past the focus bar and the five columns before it
        header = (1 + sum(c.get_render_width(table) for c in table.ordered_columns[:5]) + 2, 0)
        await pilot.click("#processes-table", offset=header)
        await pilot.pause()
        assert table.sort_column == 5 and dumped() == sorted(dumped())
        await pilot.click("#processes-table", offset=header)  # again: the other way round
        await pilot.pause()
        assert dumped() == sorted(dumped(), reverse=True)
        assert "▼" in str(table.columns[table.ordered_columns[5].key].label)
        table.sort_by(None)
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")  # PID, PPID, Comm
        await pilot.pause()
        assert comm() == sorted(comm(), key=natural_key) and comm() != given
        assert all(not c.startswith(" ") for c in comm())  # the tree's indentation goes while sorted
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert comm() == sorted(comm(), key=natural_key, reverse=True)


@pytest.mark.parametrize(("key", "widget_id"), [("3", "memory-vmas"), ("5", "network-sockets")])
async def test_vma_and_socket_tables_sort(key, widget_id):
    async with running("tcp-server.tar.zst") as (app, pilot):
        await pilot.press(key)
        await pilot.pause()
        table = app.screen.query_one(f"#{widget_id}", FilterTable)
        before = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        await pilot.press("greater_than_sign", "less_than_sign")  # the first column, reversed
        await pilot.pause()
        after = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert after == sorted(before, key=natural_key, reverse=True)


async def test_process_fd_table_sorts():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await app.goto_process(10, "tab-files")
        await pilot.pause()
        table = app.screen.query_one("#process-files", FilterTable)
        table.focus()
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")  # "What"
        await pilot.pause()
        what = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        assert what == sorted(what, key=natural_key)


async def test_c_in_the_process_table_copies_the_command_line():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("2", "down")
        await pilot.pause()
        copied = []
        app.copy_to_clipboard = copied.append
        await pilot.press("c")
        assert copied == [shlex.join(app.checkpoint.processes[10].cmdline)]


# -- facts in words ----------------------------------------------------------------------------
def test_open_flags_and_rlimits_in_words():
    assert open_flags(0) == "O_RDONLY"
    assert open_flags(0o2002) == "O_RDWR|O_APPEND"
    assert open_flags(0o2000001) == "O_WRONLY|O_CLOEXEC"
    assert rlimit_text("STACK", 8 << 20) == "8 MiB"
    assert rlimit_text("NOFILE", 1048576) == "1,048,576"
    assert rlimit_text("CPU", (1 << 64) - 1) == "unlimited"
    assert rlimit_text("MSGQUEUE", 819200) == "800 KiB"
    assert natural_key("d2") < natural_key("d10") < natural_key("D11")


async def test_fd_flags_rlimits_and_the_other_end_of_a_pipe():
    """tcp-server: pid 6 (sleep) writes pipe 63866 on fd 1, pid 7 (nc) reads it on fd 0."""
    async with running("tcp-server.tar.zst") as (app, pilot):
        await app.goto_process(6, "tab-files")
        await pilot.pause()
        table = app.screen.query_one("#process-files", FilterTable)
        row = next(table.get_row_at(i) for i in range(table.row_count) if table.get_row_at(i)[0].plain == "1")
        assert row[3].plain == "O_WRONLY" and row[5].plain == "pid 7 nc fd 0"
        assert "0" + "1" not in row[3].plain  # no octal
        await app.goto_process(7, "tab-command")
        await pilot.pause()
        text = str(app.screen.query_one("#process-command").render())
        assert "8 MiB / unlimited" in text  # STACK
        assert "unlimited / unlimited" in text and "1,024 / 1,024" in text
        assert "18446744073709551615" not in text


def unix_pair(dest: Path) -> Path:
    """tcp-server with a connected pair of unix stream sockets: pid 6 fd 7 <-> pid 7 fd 8.

    No fixture has one: the socket entries are written with the project's image writer, their
    fown and options copied from the fixture's TCP socket."""
    root = unpack("tcp-server.tar.zst", dest / "root")
    files = load_img(root, "files.img")
    isk = next(e.message for e in files.entries if e.message.HasField("isk")).isk
    entries = [(e.message, e.extra or b"") for e in files.entries]
    for file_id, ino, peer, name in ((101, 9001, 9002, b"/run/app.sock"), (102, 9002, 9001, b"")):
        fe = type(files.entries[0].message)()
        fe.type, fe.id = 5, file_id  # UNIXSK
        u = fe.usk
        u.id, u.ino, u.type, u.state, u.flags, u.uflags, u.backlog, u.peer, u.name = (
            file_id, ino, 1, 1, 0o2, 0, 0, peer, name)
        u.fown.CopyFrom(isk.fown)
        u.opts.CopyFrom(isk.opts)
        entries.append((fe, b""))
    save_img(root, "files.img", files, entries)
    for img_name, file_id, fd in (("fdinfo-3.img", 101, 7), ("fdinfo-4.img", 102, 8)):
        fdinfo = load_img(root, img_name)
        msg = type(fdinfo.entries[0].message)()
        msg.id, msg.flags, msg.type, msg.fd = file_id, 0, 5, fd
        save_img(root, img_name, fdinfo, [(e.message, e.extra or b"") for e in fdinfo.entries] + [(msg, b"")])
    out = dest / "unix-pair.tar"
    with tarfile.open(out, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    return out


async def test_a_unix_socket_names_who_holds_its_peer(tmp_path):
    archive = unix_pair(tmp_path)
    async with running(str(archive), size=(160, 40)) as (app, pilot):  # (an absolute path)
        await pilot.press("5")
        await pilot.pause()
        table = app.screen.query_one("#network-sockets", FilterTable)
        rows = {table.get_row_at(i)[0].plain: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["6 sleep"][5].plain == "/run/app.sock" and rows["6 sleep"][6].plain == "pid 7 nc fd 8"
        assert rows["6 sleep"][5].plain.endswith("sock")  # a unix name has no port
        await app.goto_process(7, "tab-sockets")
        await pilot.pause()
        sockets = app.screen.query_one("#process-sockets", FilterTable)
        peers = [sockets.get_row_at(i)[6].plain for i in range(sockets.row_count)]
        assert "pid 6 sleep fd 7" in peers
        await app.goto_process(7, "tab-files")  # the same in the fd table
        await pilot.pause()
        files = app.screen.query_one("#process-files", FilterTable)
        row = next(files.get_row_at(i) for i in range(files.row_count) if files.get_row_at(i)[0].plain == "8")
        assert row[1].plain == "UNIXSK" and row[5].plain == "pid 6 sleep fd 7"


# -- memory search options ---------------------------------------------------------------------
async def test_memory_search_offers_utf16_and_ignore_case():
    async with running("memhog-16m-threads.tar.zst") as (app, pilot):
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        await press_text(pilot, "ckpt-marker-000000-needle")
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.count == 0  # case matters by default
        screen.query_one("#search-icase", Checkbox).value = True
        screen.action_start()
        await settle(app, pilot)
        await pilot.pause()
        assert screen.count >= 1
        utf16 = screen.query_one("#search-utf16", Checkbox)
        utf16.value = True
        screen.action_start()
        await settle(app, pilot)
        await pilot.pause()
        expected = list(app.checkpoint.search_memory(
            parse_pattern("ckpt-marker-000000-needle", "text", utf16=True, ignore_case=True)))
        assert screen.count == len(expected)


# -- open another checkpoint -------------------------------------------------------------------
async def test_o_opens_another_checkpoint_keeping_the_open_one_until_it_loads(held_load):
    held_load.set()  # the first load goes through; the one `o` starts waits for the test
    async with running("web-httpd.tar.zst") as (app, pilot):
        held_load.clear()
        await pilot.press("4")  # the files tree: `o` is not its sort key any more
        await pilot.pause()
        assert isinstance(app.focused, FilesTree)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await press_text(pilot, str(DATA / "nothing-here.tar"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)  # refused, said why, still asking
        assert "does not exist" in str(app.screen.query_one("#prompt-error").render())
        app.screen.query_one("#prompt-input").value = str(DATA / "tcp-server.tar.zst")
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.switching_to == DATA / "tcp-server.tar.zst"
        assert app.checkpoint.info.name == "web"  # still browsable while the other loads
        held_load.set()
        for _ in range(100):
            await settle(app, pilot)
            if app.checkpoint.info.name == "srv":
                break
        assert app.checkpoint.info.name == "srv" and app.session.path.name == "tcp-server.tar.zst"


# -- mounts, counts, annotations, interfaces ---------------------------------------------------
async def test_mounts_say_where_each_row_comes_from_once():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("6")
        await pilot.pause()
        table = app.screen.query_one("#mounts-table", FilterTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        destinations = [r[0].plain for r in rows]
        assert len(destinations) == len(set(destinations))  # the spec's mounts are not listed twice
        origin = {r[0].plain: r[1].plain for r in rows}
        assert origin["/etc/hosts"] == "spec + CRIU" and origin["/sys/firmware"] == "CRIU"
        spec = {m.destination for m in app.checkpoint.mounts if m.origin == "spec"}
        assert len(merge_mounts(app.checkpoint.mounts)) == len({m.destination for m in app.checkpoint.mounts})
        assert destinations[: len(spec)] == [m.destination for m in app.checkpoint.mounts if m.origin == "spec"]
        assert "in the spec and in CRIU" in screen_text(app)


def test_one_warning_line_is_one_line():
    """A restore log cut before its end (the real restore-missing-pages.log up to its first error)
    with one warning: "1 warning/error line", not "lines"."""
    from ckpt_tui.actions.diagnose import diagnose

    lines = (DATA / "logs" / "restore-missing-pages.log").read_text().splitlines()
    first_error = next(i for i, line in enumerate(lines) if "Error" in line)
    text = "\n".join([*lines[:first_error], "(00.010000) Warn  (criu/cr-restore.c:1): a made-up warning"])
    assert diagnose(text, log_path="restore.log").summary == "1 warning/error line, no failure marker"


async def test_counts_are_grouped(tmp_path):
    """web-httpd with 1,500 more files in its root FS diff (derived: no fixture counts past 999)."""
    import io

    root = unpack("web-httpd.tar.zst", tmp_path / "root")
    diff = root / "rootfs-diff.tar"
    with tarfile.open(diff, "a") as tar:
        for i in range(1500):
            info = tarfile.TarInfo(f"srv/many/f{i}")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    async with running(str(root), size=(160, 40)) as (app, pilot):  # (an absolute path)
        rootfs = app.checkpoint.rootfs
        changed = sum(1 for e in rootfs.entries if e.type not in ("dir", "whiteout"))
        files = changed + len(rootfs.deleted)  # the tree counts the changed and the deleted
        assert changed > 1500
        nav = app.main.query_one(NavTree)
        assert nav.counts["files"] == f"{files:,}" and "," in nav.counts["files"]
        assert f"Files {files:,}" in screen_text(app)  # the tree's line, as the user sees it
        await pilot.press("4")
        await pilot.pause()
        assert f"in {changed:,} changed" in screen_text(app)  # the files pane's summary


async def test_crio_annotations_are_expanded(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "root")
    spec = json.loads((root / "spec.dump").read_text())
    spec["annotations"] = {  # a CRI-O (kubelet) archive's JSON-valued annotations (derived)
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Labels": json.dumps({"app": "counter", "io.kubernetes.pod.name": "counters"}),
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": "counter", "attempt": 0}),
    }
    (root / "spec.dump").write_text(json.dumps(spec))
    async with running(str(root), size=(160, 60)) as (app, _pilot):  # (an absolute path)
        text = str(app.screen.query_one("#ov-annotations").render())
        assert "app: counter" in text and "name: counter" in text and "attempt: 0" in text
        assert '{"app"' not in text and '"name"' not in text


async def test_interface_rows_never_show_empty_labels():
    async with running("tcp-server.tar.zst") as (app, _pilot):
        text = str(app.screen.query_one("#ov-network").render())
        assert "eth0" in text and "mac 9e:ee:20:ff:ec:13" in text and "gw 10.88.0.1" in text
    # what a network.status without a name or a MAC gives, and a device without its MTU
    line = interface_line(NetInterface(network="podman", ip="10.88.0.5/16", gateway="10.88.0.1"))
    assert "mac" not in line and "?" not in line and "interface" in line and "10.88.0.5/16" in line
    assert "mtu" not in device_line(NetDevice(name="lo", type="loopback"))


async def test_process_pane_keeps_the_other_tabs_working():
    async with running("ps-tree.tar.gz") as (app, pilot):
        await app.goto_process(1, "tab-files")
        await pilot.pause()
        pane = app.main.current_pane
        assert isinstance(pane, ProcessPane)
        flags = [pane.query_one("#process-files", FilterTable).get_row_at(i)[3].plain
                 for i in range(pane.query_one("#process-files", FilterTable).row_count)]
        assert flags and all(f.startswith("O_") for f in flags if f)


async def test_files_tree_sorts_names_naturally():
    from textual.app import App

    from ckpt_tui.model.types import RootfsDiff, RootfsEntry
    from ckpt_tui.widgets.files import build_index

    diff = RootfsDiff(present=True, entries=[RootfsEntry(f"srv/{name}", "file", size) for name, size in
                                             (("d10", 1), ("d2", 3), ("D1", 2), ("d9", 5))])
    tree = FilesTree(build_index(diff))

    class Host(App):
        CSS_PATH = "../ckpt_tui/app.tcss"

        def compose(self):
            yield tree

    async with Host().run_test(size=(100, 20)) as pilot:
        srv = tree.root.children[0]
        assert [c.data.name for c in srv.children] == ["D1", "d2", "d9", "d10"]
        tree.focus()
        await pilot.press("greater_than_sign")  # by size, then by name
        await pilot.pause()
        srv = tree.root.children[0]
        assert [c.data.name for c in srv.children] == ["d9", "d2", "D1", "d10"]


async def test_help_lists_the_file_views_x_and_the_table_sort_keys():
    async with running("web-httpd.tar.zst") as (app, pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        other = str(app.screen.query_one("#help-other").render())
        file_view = other[other.index("File view"):]
        assert any(line.split()[:1] == ["x"] and "Text/hex" in line for line in file_view.splitlines())
        tables = other[other.index("Tables"):other.index("Files tree")]
        assert ">" in tables and "<" in tables and "Sort by next column" in tables
