"""The diff engine on shapes no fixture pair has, each later dump derived from a real
checkpoint with the project's image writer (tests/diffkit.py): rewritten pages, VMAs that
grew, moved or changed permissions, pids that moved, argv rewritten, a pid reused, a
secret that changed, sockets, root FS edits, a pod, damaged input."""

from __future__ import annotations

import json
import shutil
import tarfile

import pytest

from ckpt_tui.actions.diff import DiffOptions, Status, diff_checkpoints
from ckpt_tui.actions.diff.render import lines
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.masking import MASK

from . import diffkit as kit
from .corpus import load_img, save_img, unpack


def run(a_path, b_path, **opts):
    with load_checkpoint(a_path) as a, load_checkpoint(b_path) as b:
        return diff_checkpoints(a, b, DiffOptions(keep_unchanged=True, **opts))


def proc(diff, key):
    return next(n for n in diff.section("processes").children if n.key == str(key))


def group(node, kind):
    return next((g for g in node.children if g.kind == kind), None)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    return kit.derive("web-httpd.tar.zst", tmp_path_factory.mktemp("web") / "a")


def test_one_changed_page_is_found_exactly(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    pages = kit.present_pages(b, 10)
    target = pages[len(pages) // 2]
    old = kit.read_memory(b, 10, target + 100, 4)
    kit.write_memory(b, 10, target + 100, bytes(x ^ 0x55 for x in old))
    d = run(web, b)
    mem = group(proc(d, 10), "memory")
    assert (mem.pages.changed, mem.pages.same) == (1, len(pages) - 1)
    spans = [(s.start, s.pages) for v in mem.children for s in v.page_map if s.state == "changed"]
    assert spans == [(target, 1)]
    # the other processes: every page the same
    assert group(proc(d, 1), "memory").pages.changed == 0
    assert proc(d, 13).status is Status.UNCHANGED


def test_vma_grown_permissions_and_mapping(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    mm = load_img(b, "mm-10.img").entries[0].message
    heap = next(v for v in mm.vmas if v.start == 0x1A7F7000)
    kit.edit_vma(b, 10, heap.start, end=heap.end + 0x10000)  # brk grew by 64 KiB
    kit.edit_vma(b, 10, 0x5E5000, prot=1)  # rw- -> r--
    files = {e.message.id: e.message for e in load_img(b, "files.img").entries}
    other = next(i for i, f in files.items() if f.HasField("reg") and f.reg.name == "/dev/null")
    kit.edit_vma(b, 10, 0x585000, shmid=other)  # the same range, another file behind it
    d = run(web, b)
    vmas = {v.key: v for v in group(proc(d, 10), "memory").children}
    grown = vmas[f"{heap.start:#x}-{heap.end + 0x10000:#x}"]
    assert grown.status is Status.MODIFIED and grown.note == "grown by 64.0 KiB"
    perm = vmas["0x5e5000-0x5ec000"]
    assert [(c.field, c.a, c.b) for c in perm.changes] == [("permissions", "rw-p", "r--p")]
    mapped = vmas["0x585000-0x5db000"]
    assert "file-backed mapping changed" in mapped.note
    assert ("mapping", "/bin/busybox", "/dev/null") in [(c.field, c.a, c.b) for c in mapped.changes]


def test_vma_mapped_and_unmapped(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    img = load_img(b, "mm-13.img")
    mm = img.entries[0].message
    vdso = next(v for v in mm.vmas if v.start == 0x7FE2136CD000)
    mm.vmas.remove(vdso)
    save_img(b, "mm-13.img", img)
    d = run(web, b)
    vma = next(v for v in group(proc(d, 13), "memory").children if v.key.startswith("0x7fe2136cd000"))
    assert vma.status is Status.REMOVED and vma.note.startswith("unmapped")
    # its dumped pages have no VMA in B: only in A, counted once
    assert vma.pages.only_a == 2 and vma.pages.same == 0


def test_pids_shifted_are_matched_by_identity(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    kit.shift_pids(b, 1000)
    d = run(web, b)
    nodes = d.section("processes").children
    assert {n.status for n in nodes} == {Status.MODIFIED}
    assert {(n.pid_a, n.pid_b, n.matched_by) for n in nodes} == {
        (1, 1001, "pid changed"), (10, 1010, "pid changed"), (13, 1013, "pid changed")}
    httpd = proc(d, 1010)
    # the parent moved with it: not a change; the fds and every page are the same
    assert [(c.field, c.a, c.b) for c in httpd.changes] == [("pid", 10, 1010)]
    assert group(httpd, "threads").status is Status.UNCHANGED  # its tid moved with it
    assert group(httpd, "memory").pages.changed == 0
    assert group(httpd, "files").status is Status.UNCHANGED


def test_argv_rewritten_in_place(web, tmp_path):
    """The same process (pid, comm, memory layout) that rewrote its argv (setproctitle)."""
    b = shutil.copytree(web, tmp_path / "b")
    mm = load_img(b, "mm-13.img").entries[0].message
    argv = kit.read_memory(b, 13, mm.mm_arg_start, mm.mm_arg_end - mm.mm_arg_start)
    assert argv == b"sleep\x001\x00"
    kit.write_memory(b, 13, mm.mm_arg_start, b"sleep\x009\x00")
    d = run(web, b)
    node = proc(d, 13)
    assert node.matched_by == "argv rewritten" and node.note == "argv rewritten"
    assert ("argv", ["sleep", "1"], ["sleep", "9"]) in [(c.field, c.a, c.b) for c in node.changes]
    assert group(node, "memory").pages.changed == 1  # the page holding argv


def test_pid_reused_by_another_process(web, tmp_path):
    """pid 13 in B is a new `sleep` with another command line and layout: not the same."""
    b = shutil.copytree(web, tmp_path / "b")
    img = load_img(b, "mm-13.img")
    mm = img.entries[0].message
    kit.write_memory(b, 13, mm.mm_arg_start, b"sleep\x009\x00")
    mm.mm_start_stack += 0x1000
    save_img(b, "mm-13.img", img)
    d = run(web, b)
    statuses = [(n.key, n.status) for n in d.section("processes").children if n.key == "13"]
    assert statuses == [("13", Status.REMOVED), ("13", Status.ADDED)]


def test_re_executed_same_command(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    img = load_img(b, "mm-13.img")
    img.entries[0].message.mm_start_stack += 0x1000
    save_img(b, "mm-13.img", img)
    node = proc(run(web, b), 13)
    assert node.matched_by == "re-executed" and any(c.field == "memory layout" for c in node.changes)


def test_changed_secret_is_masked(tmp_path):
    a = kit.derive("ps-tree.tar.gz", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    mm = load_img(b, "mm-11.img").entries[0].message
    env = kit.read_memory(b, 11, mm.mm_env_start, mm.mm_env_end - mm.mm_env_start)
    at = env.index(b"DB_PASSWORD=hunter2")
    kit.write_memory(b, 11, mm.mm_env_start + at, b"DB_PASSWORD=hunter3")
    d = run(a, b)
    var = next(v for v in group(proc(d, 11), "environment").children if v.key == "DB_PASSWORD")
    assert var.status is Status.MODIFIED
    text = "\n".join(line.plain for line in lines(d))
    assert "DB_PASSWORD: " + MASK + " -> " + MASK in text and "hunter" not in text
    assert "hunter3" in "\n".join(line.plain for line in lines(d, reveal=True))
    doc = json.dumps(d.to_json())
    assert "hunter" not in doc and "hunter3" in json.dumps(d.to_json(reveal=True))


def test_socket_state_change_and_ipv4_mapped_addresses(tmp_path):
    """tcp-server's established connection, in B half-closed with another peer port. The
    addresses are IPv4-mapped IPv6: shown as IPv4 (checkpointctl prints a58:1b::)."""
    a = kit.derive("tcp-server.tar.zst", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    img = load_img(b, "files.img")
    isk = next(e.message for e in img.entries if e.message.HasField("isk")).isk
    isk.state = 8  # CLOSE_WAIT
    isk.dst_port = 52665
    save_img(b, "files.img", img)
    d = run(a, b)
    (sock,) = group(proc(d, 7), "sockets").children
    changes = {c.field: (c.a, c.b) for c in sock.changes}
    assert changes["state"] == ("ESTABLISHED", "CLOSE_WAIT")
    assert changes["peer"] == ("10.88.0.28:52664", "10.88.0.28:52665")
    text = "\n".join(line.plain for line in lines(d))
    assert "10.88.0.27:9000" in text and "a58:" not in text


def test_unix_socket_name_ends_at_its_nul(web, tmp_path):
    """A path-named UNIX socket whose stored name carries the terminating NUL (bind() given
    sizeof(sockaddr_un)) is the same socket as one without: shown as /run/app.sock, not
    with the NUL (or garbage after it) as checkpointctl prints it."""
    a = shutil.copytree(web, tmp_path / "a")
    b = shutil.copytree(web, tmp_path / "b")
    kit.add_unix_socket(a, 10, 9, b"/run/app.sock")
    kit.add_unix_socket(b, 10, 9, b"/run/app.sock\x00\x00junk", state=1)
    d = run(a, b)
    socks = group(proc(d, 10), "sockets").children
    (sock,) = [s for s in socks if s.key.startswith("unix:")]
    assert sock.status is Status.MODIFIED and sock.key == "unix:[777001] /run/app.sock"
    assert {c.field: (c.a, c.b) for c in sock.changes} == {"state": ("LISTEN", "ESTABLISHED")}
    assert [s.status for s in socks if not s.key.startswith("unix:")] == [Status.UNCHANGED]  # httpd's :::8080
    with load_checkpoint(b) as ck:
        (s,) = [s for s in ck.processes[10].sockets if s.family == "UNIX"]
        assert s.src == "/run/app.sock"


def test_root_fs_mode_content_and_whiteout(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")

    def change(name, ti, data):
        if name.endswith("etc/motd"):
            return ti, data.upper()  # same size, other content
        if name.endswith("root/blob.bin"):
            ti.mode = 0o600
            return ti, data
        return ti, data

    wh = tarfile.TarInfo("etc/.wh.hostname")
    change.extra = [(wh, b"")]
    kit.rewrite_rootfs(b, change)
    d = run(web, b)
    files = {n.key: n for n in d.section("files").children}
    motd = files["/etc/motd"]
    assert motd.status is Status.MODIFIED and motd.note == "content changed"
    assert [c.field for c in motd.changes] == ["content (sha256)"]
    assert [(c.field, c.a, c.b) for c in files["/root/blob.bin"].changes] == [("mode", "0644", "0600")]
    assert files["/etc/hostname"].status is Status.REMOVED and "whiteout" in files["/etc/hostname"].note
    assert files["/var/www/index.html"].status is Status.UNCHANGED  # deleted in both


def test_pods_are_compared_container_by_container(tmp_path):
    a = tmp_path / "a"
    unpack("web-httpd.tar.zst", a / "aaa111-web")
    unpack("ps-tree.tar.gz", a / "bbb222-tree")
    (a / "pod.options").write_text(json.dumps({"version": 1, "containers": {"web": "aaa111-web", "tree": "bbb222-tree"}}))
    (a / "pod.dump").write_text("{}")
    b = shutil.copytree(a, tmp_path / "b")  # mtimes kept: config.dump's dates the checkpoint here
    kit.write_memory(b / "bbb222-tree", 10, kit.present_pages(b / "bbb222-tree", 10)[0], b"\xff")
    d = run(a, b)
    containers = {n.key: n for n in d.section("containers").children}
    assert set(containers) == {"web", "tree"}
    assert containers["web"].status is Status.UNCHANGED
    tree = containers["tree"]
    assert tree.status is Status.MODIFIED
    procs = next(s for s in tree.children if s.key == "processes")
    mem = group(next(p for p in procs.children if p.key == "10"), "memory")
    assert mem.pages.changed == 1


def test_missing_pages_are_a_problem_not_a_crash(web, tmp_path):
    b = shutil.copytree(web, tmp_path / "b")
    kit.pages_file(b, 10).unlink()
    d = run(web, b)
    mem = group(proc(d, 10), "memory")
    assert mem.pages.only_a > 0 and mem.pages.changed == 0  # B has none of pid 10's pages
    assert group(proc(d, 1), "memory").pages.same > 0  # the rest is compared


def test_pre_dump_chain_as_layers(web, tmp_path):
    """An incremental dump of pid 10 on a pre-dump (derived: tests/diffkit.make_chain): the
    final dump wrote its first run again (one page changed), takes the rest from its parent."""
    b = shutil.copytree(web, tmp_path / "chain")
    want = kit.make_chain(b, 10, rewrite=1)
    d = run(web, b)
    # the pages PE_PARENT points at are read from pre-checkpoint/: all the same but one
    mem = group(proc(d, 10), "memory")
    assert (mem.pages.changed, mem.pages.only_a, mem.pages.only_b) == (1, 0, 0)
    assert mem.pages.same == want["written"] + want["from_parent"] - 1
    assert d.same is False
    layers = d.section("layers")
    (chain,) = layers.children
    assert chain.key == "B" and chain.label == "2 dumps"
    final, pre = chain.children
    assert (final.key, pre.key) == ("checkpoint", "pre-checkpoint")
    (p10,) = [p for p in final.children if p.key == "10"]
    assert p10.pages.written == want["written"] and p10.pages.rewritten == want["written"]
    assert p10.pages.new == 0 and p10.pages.from_parent == want["from_parent"]
    assert p10.pages.provides == want["written"]
    (q10,) = pre.children
    assert q10.pages.new == want["written"] + want["from_parent"] and q10.pages.from_parent == 0
    assert q10.pages.provides == want["from_parent"]
    # the layers describe B; they never make two dumps differ
    with load_checkpoint(b) as x, load_checkpoint(b) as y:
        same = diff_checkpoints(x, y)
    assert same.same and [c.key for c in same.section("layers").children] == ["A"]  # the one chain, once
    text = "\n".join(line.plain for line in lines(same))
    assert "Dump chain (layers)" in text and "pre-checkpoint (pre-dump 1 of 1)" in text


def test_any_sources_compare(web):
    """An archive and its unpacked directory hold the same dump; the OCI checkpoint image of
    the container restored from it (tests/data/README.md: web restored as web3) has the same
    processes: CRIU restores pids and memory layout exactly, so they match by identity."""
    from .conftest import DATA

    d = run(DATA / "web-httpd.tar.zst", web)
    for area in ("processes", "files", "mounts", "network", "stats"):
        assert d.section(area).status is Status.UNCHANGED, area
    source = next(n for n in d.section("metadata").children if n.key == "source")
    assert source.status is Status.MODIFIED  # an archive, then a directory
    img = run(DATA / "web-httpd.tar.zst", DATA / "podman-checkpoint-image.oci.tar")
    nodes = img.section("processes").children
    assert {(n.key, n.matched_by) for n in nodes} == {("1", "identity"), ("10", "identity"), ("13", "identity")}
    assert img.section("metadata").status is Status.MODIFIED  # web -> web3, another id, the image's annotations


def test_secret_in_a_command_line_is_masked(web, tmp_path):
    """argv rewritten to hold KEY=abcd (a secret-looking assignment): masked as everywhere
    (model.masking.mask_text), shown with reveal."""
    b = shutil.copytree(web, tmp_path / "b")
    mm = load_img(b, "mm-13.img").entries[0].message
    kit.write_memory(b, 13, mm.mm_arg_start, b"KEY=abcd")
    d = run(web, b)
    text = "\n".join(line.plain for line in lines(d))
    assert f"argv: [sleep, 1] -> [KEY={MASK}]" in text and "abcd" not in text
    assert "argv: [sleep, 1] -> [KEY=abcd]" in "\n".join(line.plain for line in lines(d, reveal=True))
    assert "abcd" not in json.dumps(d.to_json()) and "abcd" in json.dumps(d.to_json(reveal=True))


def test_credentials_limits_seccomp_cwd_threads_network(tmp_path):
    """memhog (pid 1 with threads 6, 7, 8): in B thread 8 is gone, pid 1 runs as uid 1000
    without CAP_CHOWN, with another RLIMIT_NOFILE, seccomp strict, cwd moved, and the
    container got another address."""
    a = kit.derive("memhog-16m-threads.tar.zst", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    img = load_img(b, "pstree.img")
    del img.entries[0].message.threads[-1]
    save_img(b, "pstree.img", img)
    core = load_img(b, "core-1.img")
    tc = core.entries[0].message
    tc.thread_core.creds.uid = 1000
    tc.thread_core.creds.cap_eff[0] &= ~1  # CAP_CHOWN
    tc.tc.rlimits.rlimits[7].cur = 4096  # RLIMIT_NOFILE
    tc.thread_core.seccomp_mode = 1
    save_img(b, "core-1.img", core)
    files = [e.message for e in load_img(b, "files.img").entries]
    other = next(f for f in files if f.HasField("reg") and f.reg.name not in ("/", ""))
    fs = load_img(b, "fs-1.img")
    fs.entries[0].message.cwd_id = other.id  # another directory (any other file serves the test)
    save_img(b, "fs-1.img", fs)
    net = json.loads((b / "network.status").read_text())
    net["podman"]["interfaces"]["eth0"]["subnets"][0]["ipnet"] = "10.88.0.99/16"
    (b / "network.status").write_text(json.dumps(net))
    d = run(a, b)
    p1 = proc(d, 1)
    assert {(c.field, c.a, c.b) for c in p1.changes} >= {("seccomp", "filter", "strict"), ("cwd", "/", other.reg.name)}
    creds = group(p1, "credentials")
    changes = {c.field: (c.a, c.b) for c in creds.changes}
    assert changes["uid"] == (0, 1000)
    eff = changes["effective capabilities"]
    assert set(eff[0]) - set(eff[1]) == {"CAP_CHOWN"}
    assert {c.field: (c.a, c.b) for c in group(p1, "limits").changes} == {"NOFILE": ((1024, 1024), (4096, 1024))}
    threads = group(p1, "threads")
    changed = [(t.key, t.status, [c.field for c in t.changes]) for t in threads.children if t.status is not Status.UNCHANGED]
    assert changed == [("1", Status.MODIFIED, ["seccomp"]), ("8", Status.REMOVED, [])]  # the main thread's seccomp
    assert [(c.field, c.a, c.b) for c in threads.changes] == [("count", 4, 3)]
    text = "\n".join(line.plain for line in lines(d))
    assert "effective capabilities: -CAP_CHOWN" in text and "NOFILE: 1,024/1,024 -> 4,096/1,024" in text
    (iface,) = next(g for g in d.section("network").children if g.key == "interfaces").children
    assert [(c.field, c.a, c.b) for c in iface.changes] == [("address", "10.88.0.25/16", "10.88.0.99/16")]


def test_queued_bytes_of_a_connection(tmp_path):
    a = kit.derive("tcp-server.tar.zst", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    stream = load_img(b, "tcp-stream-f97e.img")
    stream.entries[0].message.inq_len = 5
    save_img(b, "tcp-stream-f97e.img", stream)
    (sock,) = group(proc(run(a, b), 7), "sockets").children
    assert [(c.field, c.a, c.b) for c in sock.changes] == [("queued to read", 0, 5)]
