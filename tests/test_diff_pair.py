"""The diff engine on the real pair tests/data/turn2/diff-a1 -> diff-a2 (issue #13).

Everything tests/data/turn2/README.md lists as changed is found; everything checkpointctl's
own diff (checkpointctl-diff.txt, beside the pair) reports is reported too; what it gets
wrong or misses is pinned.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from ckpt_tui.actions.diff import DiffOptions, Status, diff_checkpoints, load_pair
from ckpt_tui.actions.diff.render import Filter, lines

from .conftest import DATA

TURN2 = DATA / "turn2"


@pytest.fixture(scope="module")
def pair():
    a, b = load_pair(TURN2 / "diff-a1.tar.zst", TURN2 / "diff-a2.tar.zst")
    yield a, b
    a.close()
    b.close()


@pytest.fixture(scope="module")
def diff(pair):
    return diff_checkpoints(*pair, DiffOptions(keep_unchanged=True))


def procs(diff):
    return {n.key: n for n in diff.section("processes").children}


def group(proc, kind):
    return next((g for g in proc.children if g.kind == kind), None)


def test_processes_added_removed_and_kept(diff):
    p = procs(diff)
    assert p["9"].status is Status.REMOVED and p["9"].label == "sleep 111111"
    assert p["20"].status is Status.ADDED and p["20"].label == "sleep 222222"
    assert p["21"].status is Status.ADDED and p["21"].label == "nc -l -p 9090"
    assert p["1"].status is Status.MODIFIED and p["1"].matched_by == "identity"
    # pid 8 httpd: unchanged, fds, sockets and every page
    assert p["8"].status is Status.UNCHANGED
    mem8 = group(p["8"], "memory")
    assert mem8.pages.changed == mem8.pages.only_a == mem8.pages.only_b == 0 and mem8.pages.same > 0


def test_new_child_environment_is_shown(diff):
    """checkpointctl misses it although --ps-tree-env was given."""
    env = group(procs(diff)["20"], "environment")
    var = next(v for v in env.children if v.key == "NEW_CHILD_ENV")
    assert var.status is Status.ADDED and var.changes[0].b == "phase-two"
    assert "not in its parent's environment" in var.note
    inherited = next(v for v in env.children if v.key == "PAIR")
    assert inherited.note == ""  # pid 1 has PAIR=a too


def test_pid1_closed_fd5_and_opened_fd6(diff):
    files = group(procs(diff)["1"], "files")
    changed = {(f.key, f.status, f.label) for f in files.children if f.status is not Status.UNCHANGED}
    assert changed == {("5", Status.REMOVED, "REG /tmp/old-fd.txt"), ("6", Status.ADDED, "REG /tmp/new-fd.txt")}


def test_new_listener(diff):
    socks = group(procs(diff)["21"], "sockets")
    (s,) = socks.children
    assert s.status is Status.ADDED and s.note == "new listener" and s.key == "TCP :::9090 (LISTEN)"
    # httpd's :::8080 is there in both
    socks8 = group(procs(diff)["8"], "sockets")
    assert [c.status for c in socks8.children] == [Status.UNCHANGED]


def test_pid1_memory_grew_by_about_4mb(diff):
    mem = group(procs(diff)["1"], "memory")
    grown = mem.dumped_b - mem.dumped_a
    assert 3_900_000 < grown < 4_200_000
    # the 4,000,000-byte variable is a new anonymous mapping, every page of it only in B
    new = [v for v in mem.children if v.status is Status.ADDED]
    assert len(new) == 1 and new[0].label == "rw-p [anon]"
    assert new[0].pages.only_b * 4096 >= 4_000_000 and new[0].pages.changed == 0
    # pages that stayed are compared by content: some changed (the shell ran), some did not
    assert mem.pages.changed > 0 and mem.pages.same > 0
    assert sum(s.pages for v in mem.children for s in v.page_map) == (
        mem.pages.changed + mem.pages.same + mem.pages.only_a + mem.pages.only_b)


def test_root_fs_changes(diff):
    files = {n.key: n for n in diff.section("files").children}
    expect = {
        "/data/new-file.txt": Status.ADDED, "/tmp/new-fd.txt": Status.ADDED, "/tmp/phase2": Status.ADDED,
        "/data/modify-me.txt": Status.MODIFIED, "/data/delete-me.txt": Status.REMOVED,
        "/var/www/index.html": Status.REMOVED,
        "/data/keep.txt": Status.UNCHANGED, "/tmp/ctl": Status.UNCHANGED, "/tmp/phase1": Status.UNCHANGED,
    }
    assert {k: files[k].status for k in expect} == expect
    size = next(c for c in files["/data/modify-me.txt"].changes if c.field == "size")
    assert (size.a, size.b) == (3, 6)
    assert "deleted" in files["/var/www/index.html"].note  # deleted.files names an image file
    assert "gone from the diff" in files["/data/delete-me.txt"].note  # created, then removed: no whiteout
    # /data/keep.txt has the same size in both: its content was hashed, and is the same
    assert not files["/data/keep.txt"].changes


def test_sizes_and_memory_as_checkpointctl_says(diff):
    sizes = {n.key: n for n in diff.section("sizes").children}
    total = sizes["checkpoint (CRIU images)"]
    assert (total.a, total.b) == (255163, 4394782)  # checkpointctl's "Size: ... bytes"
    pages = sizes["memory pages"]
    assert round((pages.b - pages.a) / 2**20, 2) == 3.93  # "Increased by 3.93 MB"


def test_metadata_and_stats_side_by_side(diff):
    meta = {n.key: n for n in diff.section("metadata").children}
    assert meta["checkpointed"].status is Status.MODIFIED
    assert meta["name"].status is Status.UNCHANGED and meta["name"].a == "t2a"
    assert meta["image"].a == meta["image"].b == "localhost/busybox:latest"
    dump = next(g for g in diff.section("stats").children if g.key == "dump")
    stats = {n.key: n for n in dump.children}
    assert (stats["pages_written"].a, stats["pages_written"].b) == (51, 1058)
    assert len(stats) == 14 and stats["pages_lazy"].status is Status.UNCHANGED


def _ctl_fd_changes() -> Counter:
    """(sign, pid, type, what) of checkpointctl's 'File Descriptor Changes' (second run)."""
    text = (TURN2 / "checkpointctl-diff.txt").read_text()
    block = text.split("File Descriptor Changes")[-1].split("Socket Changes")[0]
    out: Counter = Counter()
    for line in block.splitlines():
        m = re.match(r"│\s+([+-]) PID (\d+)\s+(\S+)?\s+(\S+)\s*$", line)
        if m:
            out[(m.group(1), int(m.group(2)), m.group(3) or "", m.group(4))] += 1
    return out


def _our_fd_changes(diff) -> Counter:
    """The same from our diff: fds of added / removed processes and pid 1's own change;
    cwd and root (checkpointctl's rows without a type) as their paths."""
    out: Counter = Counter()
    for node in diff.section("processes").children:
        pid = int(node.key)
        sign = {Status.ADDED: "+", Status.REMOVED: "-"}.get(node.status)
        for f in group(node, "files").children if group(node, "files") else []:
            s = sign or {Status.ADDED: "+", Status.REMOVED: "-"}.get(f.status)
            if s:
                ftype, _, what = f.label.partition(" ")
                out[(s, pid, ftype, what)] += 1
        if sign:
            for c in node.changes:
                if c.field in ("cwd", "root"):
                    out[(sign, pid, "", c.b if sign == "+" else c.a)] += 1
    return out


def test_every_fd_change_checkpointctl_reports(diff):
    ctl = _ctl_fd_changes()
    assert sum(ctl.values()) == 24  # "Files: +16 -8"
    ours = _our_fd_changes(diff)
    for (sign, pid, ftype, what), n in ctl.items():
        if re.fullmatch(r"[A-Z]+\.\d+", what):  # checkpointctl names these by file id: FIFO.2, INETSK.20
            found = sum(v for (s, p, t, _), v in ours.items() if (s, p, t) == (sign, pid, ftype))
        else:
            found = ours[(sign, pid, ftype, what)]
        assert found >= n, (sign, pid, ftype, what)
    # what it calls FIFO.2 and INETSK.20 is the fifo and the listener
    assert ours[("+", 21, "FIFO", "fifo /tmp/ctl [1794656]")] == 1
    assert ours[("+", 21, "INETSK", "TCP :::9090 (LISTEN)")] == 1


def test_checkpointctl_process_summary_is_pinned(diff):
    """checkpointctl: 'Processes: +2 -1 ~0'. pid 1 did change (fd 5 -> 6, memory): ~1."""
    assert "Processes: +2 -1 ~0" in (TURN2 / "checkpointctl-diff.txt").read_text()
    c = diff.section("processes").counts()
    assert (c["added"], c["removed"], c["modified"]) == (2, 1, 1)


def test_same_checkpoint_twice_is_same(pair):
    a, _b = pair
    d = diff_checkpoints(a, a, DiffOptions(keep_unchanged=True))
    assert d.same
    mem = group(procs(d)["1"], "memory")
    assert mem.pages.changed == 0 and mem.pages.same == mem.dumped_a // 4096


def test_text_lines_have_the_markers(diff):
    out = [line.plain for line in lines(diff)]
    assert any(line.endswith("+ [20] sleep 222222") for line in out)
    assert any(line.endswith("- [9] sleep 111111") for line in out)
    assert any("~ /data/modify-me.txt" in line for line in out)
    assert any("+ NEW_CHILD_ENV=phase-two" in line for line in out)
    # unchanged things are hidden by default, shown with every status on
    assert not any("/data/keep.txt  file" in line for line in out)
    assert any("   /data/keep.txt  file, 5 B" in line for line in (x.plain for x in lines(diff, Filter.everything())))
    # nothing from the checkpoint reaches the terminal raw: pid 1's argv has newlines and tabs
    assert all("\n" not in line and "\t" not in line for line in out)
