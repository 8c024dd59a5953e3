"""Model facts of issue #18 ("Wrong facts", "Shapes not shown yet"), through the model, the
JSON and the command line.

Shapes no fixture has are derived from real fixtures with the project's own image writer
(``tests/corpus.py``: ``make_zombie``, ``corrupt_core``, ``pages_missing``;
``tests/diffkit.py``: ``add_unix_socket``): a zombie written as CRIU's ``dump_one_zombie``
writes one, a pages image removed, a core image whose entry does not decode, unix sockets
bound to a NUL-terminated path and to an abstract name. The tty and volume checkpoints are
real (``tests/data/turn2``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ckpt_tui.archive import Limits
from ckpt_tui.cli import main
from ckpt_tui.criu import constants as C
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.export import to_json

from .corpus import corrupt_core, make_zombie, missing_core, pages_missing, pages_short, unpack
from .diffkit import add_unix_socket

DATA = Path(__file__).parent / "data"
TURN2 = DATA / "turn2"
GARBAGE_TID = 0x5EED


def run_cli(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def zombies(tmp_path_factory) -> Path:
    """ps-tree with pid 15 (`sleep 1`) a zombie that exited 0 and pid 11 (`sleep 200000`) one
    a SIGKILL killed (wait status 9), each as CRIU dumps a zombie."""
    root = unpack("ps-tree.tar.gz", tmp_path_factory.mktemp("zombies") / "ck")
    make_zombie(root, 15, wait_status=0, garbage_tid=GARBAGE_TID)
    make_zombie(root, 11, wait_status=9, garbage_tid=GARBAGE_TID + 1)
    return root


# -- zombies -----------------------------------------------------------------------------------
def test_criu_task_states():
    # criu/include/pid.h: TASK_HELPER and TASK_THREAD follow COMPEL_TASK_MAX (0x7f): never 4 and 5
    assert (C.TASK_ALIVE, C.TASK_DEAD, C.TASK_STOPPED, C.TASK_ZOMBIE) == (1, 2, 3, 6)
    assert (C.TASK_HELPER, C.TASK_THREAD) == (0x80, 0x81)
    assert C.PROCESS_STATES[C.TASK_DEAD] == "Zombie"  # what CRIU writes for a zombie
    assert C.TASK_STATES[C.TASK_DEAD] == "Dead"  # decode keeps CRIU's (crit's) name of the value


def test_zombie_is_a_zombie_with_its_exit(zombies):
    with load_checkpoint(zombies) as ck:
        z, killed = ck.processes[15], ck.processes[11]
        assert z.state == killed.state == "Zombie" and z.zombie and not z.alive
        assert (z.exit_code, z.exit_signal, z.state_text) == (0, None, "zombie, exit code 0")
        assert (killed.exit_code, killed.exit_signal, killed.state_text) == (None, "SIGKILL",
                                                                             "zombie, killed by SIGKILL")
        # the thread id CRIU never filled in is not a TID: the zombie's one thread is its pid
        assert [t.tid for t in z.threads] == [15] and [t.tid for t in killed.threads] == [11]
        assert GARBAGE_TID not in ck.tids and GARBAGE_TID + 1 not in ck.tids
        assert "a zombie has no memory" in ck.unreadable[15]
        assert not z.cmdline and not z.vmas and not z.files
        assert ck.state_counts == {"Alive": 4, "Zombie": 2}
        # nothing of a zombie is "missing": CRIU writes no mm, pagemap or fd image for one
        assert not [p for p in ck.problems if "-15.img" in p.source or "-11.img" in p.source], ck.problems
        assert ck.processes[1].exit_code is None and ck.processes[1].state_text == "alive"


def test_zombie_json_and_inspect(zombies, capsys):
    with load_checkpoint(zombies) as ck:
        procs = {p["pid"]: p for p in to_json(ck)["processes"]}
    assert procs[15]["state"] == "Zombie" and procs[15]["exit_code"] == 0 and procs[15]["exit_signal"] is None
    assert procs[11]["exit_code"] is None and procs[11]["exit_signal"] == "SIGKILL"
    assert procs[15]["threads"] == [15] and procs[1]["exit_code"] is None
    out = run_cli(capsys, "inspect", str(zombies))
    assert "[15 (zombie, exit code 0)]  sleep" in out and "[11 (zombie, killed by SIGKILL)]  sleep" in out
    assert "Process tree (6 processes, 2 zombies)" in out
    assert "Dead" not in out and "dead" not in out and str(GARBAGE_TID) not in out


# -- unix sockets ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unix_sockets(tmp_path_factory) -> Path:
    """web-httpd's httpd (pid 10) with a unix socket bound to /dev/log counted with its
    terminating NUL (what bind() may store), and one on an abstract name."""
    root = unpack("web-httpd.tar.zst", tmp_path_factory.mktemp("unix") / "ck")
    add_unix_socket(root, 10, 20, b"/dev/log\0")
    add_unix_socket(root, 10, 21, b"\0app-abstract\0", ino=777002)
    return root


def test_unix_socket_names_and_no_port(unix_sockets, capsys):
    with load_checkpoint(unix_sockets) as ck:
        socks = {s.fd: s for s in ck.processes[10].sockets}
        assert socks[20].local == "/dev/log" and socks[21].local == "@app-abstract"
        assert not socks[20].has_ports and socks[20].remote == ""
        js = {s["fd"]: s for p in to_json(ck)["processes"] for s in p["sockets"]}
    assert js[20]["src"] == "/dev/log" and js[20]["local"] == "/dev/log"
    assert js[20]["src_port"] is None and js[20]["dst_port"] is None  # a unix socket has no port
    tcp = next(s for s in js.values() if s["proto"] == "TCP")  # httpd's listener keeps its port
    assert tcp["src_port"] == 8080 and tcp["local"] == "[::]:8080"
    out = run_cli(capsys, "inspect", str(unix_sockets))
    assert "[UNIX (STREAM)]  /dev/log" in out and "@app-abstract" in out
    assert "/dev/log:0" not in out and "\x00" not in out
    raw = run_cli(capsys, "inspect", str(unix_sockets), "--json")
    assert "/dev/log:0" not in raw and "\\u0000" not in raw.split('"sockets"')[1].split("]")[0]


# -- pages that are not there ------------------------------------------------------------------
def test_missing_pages_are_not_dumped(tmp_path):
    """pid 10's pages image removed (corpus ``pages_missing``): nothing of it is "dumped"."""
    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    pages_missing(root)
    with load_checkpoint(root) as ck:
        proc = ck.processes[10]
        assert proc.pages_present > 0 and proc.pages_missing == proc.pages_present
        assert proc.memory_size == 0 and proc.pagemap_size == proc.pages_present * 4096
        mem = next(p for p in to_json(ck)["processes"] if p["pid"] == 10)["memory"]
        assert mem["dumped_bytes"] == 0 and mem["missing_bytes"] == proc.pagemap_size
        problem = next(p for p in ck.problems if p.source == proc.pages_member)
        assert "is missing from the checkpoint" in problem.message and "pid 10" in problem.message
        assert ck.processes[1].memory_size > 0 and ck.processes[1].pages_missing == 0


def test_short_pages_count_only_what_is_there(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    pages_short(root)
    with load_checkpoint(root) as ck:
        proc = ck.processes[10]
        held = ck.member(proc.pages_member).size
        assert 0 < proc.pages_missing < proc.pages_present
        assert proc.memory_size <= held < proc.pagemap_size


# -- not read is not missing; damaged is not absent --------------------------------------------
def test_reading_stopped_is_not_missing():
    """A --max-size bound stops reading ps-tree.tar.gz: the images after it were not read."""
    with load_checkpoint(DATA / "ps-tree.tar.gz", limits=Limits(max_total_bytes=200_000)) as ck:
        assert ck.source.stopped
        images = [p for p in ck.problems if p.source.startswith("checkpoint/")]
        assert images and all("missing from the checkpoint" not in p.message for p in images)
        assert any(p.message.startswith("was not read: reading stopped") for p in images)
    with load_checkpoint(DATA / "ps-tree.tar.gz") as ck:
        assert ck.source.stopped == ""


def test_damaged_core_is_not_no_core(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    corrupt_core(root, 10)
    missing_core(root)  # core-13.img gone
    with load_checkpoint(root) as ck:
        assert ck.processes[10].state == "unknown (core image damaged)"
        assert ck.processes[13].state == "unknown (no core image)"
        assert not [p for p in ck.problems if p.source.endswith("core-10.img") and "no entries" in p.message]


# -- a terminal --------------------------------------------------------------------------------
def test_tty_terminal(capsys):
    with load_checkpoint(TURN2 / "tty.tar.zst") as ck:
        assert ck.spec_terminal
        [tty] = ck.terminals
        assert (tty.name, tty.type, tty.index, tty.master, tty.rdev) == ("/dev/pts/0", "PTY", 0, False, (136, 0))
        assert tty.fds == {1: [0, 1, 2]} and (tty.sid, tty.pgrp) == (1, 1)
        assert ck.terminals_of(1) == [(tty, [0, 1, 2])]
        js = to_json(ck)
    assert js["terminal"] is True
    assert js["terminals"] == [{"name": "/dev/pts/0", "type": "PTY", "index": 0, "master": False, "rdev": "136:0",
                                "sid": 1, "pgrp": 1, "fds": {"1": [0, 1, 2]}}]
    out = run_cli(capsys, "inspect", str(TURN2 / "tty.tar.zst"))
    assert "/dev/pts/0  (PTY, controlling terminal of session 1, foreground group 1)  pid 1 fds 0, 1, 2" in out
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:
        assert ck.terminals == [] and not ck.spec_terminal


# -- volumes and /dev/shm ----------------------------------------------------------------------
def test_volume_and_devshm_trees(capsys):
    with load_checkpoint(TURN2 / "volume-devshm.tar.zst") as ck:
        vol, shm = ck.volumes
        assert (vol.kind, vol.name, vol.mount, vol.member) == ("volume", "t2vol", "/data", "volumes/t2vol.tar")
        assert {e.path: e.type for e in vol.entries} == {"sub": "dir", "sub/b.txt": "file", "vol-file.txt": "file"}
        assert ck.read_rootfs_file("vol-file.txt", tree=vol) == b"in-the-volume\n"
        assert ck.read_rootfs_file("/sub/b.txt", tree=vol) == b"deeper\n"
        assert (shm.kind, shm.mount, [e.path for e in shm.entries]) == ("devshm", "/dev/shm", ["t2-shm-seg"])
        assert ck.read_rootfs_file("t2-shm-seg", tree=shm) == b"shm-content\n"
        assert ck.sizes.volumes == ck.member("volumes/t2vol.tar").size
        assert ck.sizes.devshm == ck.member("devshm-checkpoint.tar").size
        assert ck.rootfs.member == "rootfs-diff.tar" and not ck.rootfs.whole
        js = to_json(ck)
    assert js["sizes"]["volumes"] == 4096 and js["sizes"]["devshm"] == 2560
    assert [(v["kind"], v["name"], v["mount"], v["size"]) for v in js["volumes"]] == [
        ("volume", "t2vol", "/data", 21), ("devshm", "/dev/shm", "/dev/shm", 12)]
    out = run_cli(capsys, "inspect", str(TURN2 / "volume-devshm.tar.zst"))
    assert "Volume t2vol on /data: 2 entries, 21 B" in out and "/vol-file.txt  (14 B)" in out
    assert "/dev/shm: 1 entry, 12 B" in out and "/t2-shm-seg" in out
    assert "Volumes: 4.0 KiB" in out and "/dev/shm: 2.5 KiB" in out


def test_empty_devshm_is_no_tree():
    """Podman writes an empty devshm-checkpoint.tar for every container: no tree, no size row."""
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:
        assert ck.has("devshm-checkpoint.tar")
        assert ck.volumes == [] and ck.sizes.devshm == 0 and ck.sizes.volumes == 0
