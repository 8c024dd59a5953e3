"""SVG snapshots of the main screens (pytest-textual-snapshot). Update with --snapshot-update.

The clock is frozen (tests/snapshot_apps/ckpt.py) so "7 days ago" never changes.
"""

from __future__ import annotations

from tests.snapshot_apps.ckpt import make_app, steps

SIZE = (120, 40)


def test_snapshot_overview(snap_compare):
    assert snap_compare(make_app("web-httpd.tar.zst"), run_before=steps(), terminal_size=SIZE)


def test_snapshot_process_environment_masked(snap_compare):
    async def env(app):
        pid = next(p.pid for p in app.checkpoint.process_list() if any(v.name == "DB_PASSWORD" for v in p.env))
        await app.goto_process(pid, "tab-env")

    assert snap_compare(make_app("ps-tree.tar.gz"), run_before=steps(then=env), terminal_size=SIZE)


def test_snapshot_files(snap_compare):
    # (a section key puts the focus in the pane: no Enter needed, which would fold the tree's root)
    assert snap_compare(make_app("web-httpd.tar.zst"), run_before=steps("4"), terminal_size=SIZE)


def test_snapshot_hex_view_at_marker(snap_compare):
    def hexview(app):
        match = next(app.checkpoint.search_memory(b"CKPT-MARKER-000000-needle"))
        app.open_hex(match.pid, match.address)

    assert snap_compare(make_app("memhog-16m-threads.tar.zst"), run_before=steps(then=hexview), terminal_size=SIZE)


def test_snapshot_network_tcp_established(snap_compare):
    assert snap_compare(make_app("tcp-server.tar.zst"), run_before=steps("5"), terminal_size=SIZE)


def test_snapshot_problems(snap_compare):
    # (a section key puts the focus in the problems table: Enter there would go to the first problem's pane)
    assert snap_compare(make_app("broken-missing-pages.tar"), run_before=steps("8"), terminal_size=SIZE)
