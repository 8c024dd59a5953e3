"""The model against what checkpointctl (inspect --all --format json) says of the real fixtures.

crit is ground truth for decoded images (tests/test_criu_oracle.py); checkpointctl is a
peer whose rendering is sometimes wrong: where it is, a test here pins the right answer.
"""

from __future__ import annotations

import json
import re

import pytest

from ckpt_tui.model import load_checkpoint

from .conftest import DATA, FIXTURE_FILES, ORACLE, PODMAN_FIXTURES


def oracle(name: str) -> dict:
    return json.loads((ORACLE / name / "checkpointctl-inspect.json").read_text())[0]


def flatten_tree(node: dict, parent: int = 0, out: dict | None = None) -> dict[int, tuple[int, dict]]:
    out = {} if out is None else out
    stack = [(node, parent)]
    while stack:
        n, par = stack.pop()
        out[n["pid"]] = (par, n)
        for child in n.get("children", []):
            stack.append((child, n["pid"]))
    return out


@pytest.fixture(scope="module", params=PODMAN_FIXTURES)
def pair(request):
    name = request.param
    ck = load_checkpoint(DATA / FIXTURE_FILES[name])
    yield name, ck, oracle(name)
    ck.close()




def test_container_metadata(pair):
    _name, ck, o = pair
    info = ck.info
    assert info.name == o["container_name"]
    assert info.id == o["id"]
    assert info.image == o["image"]
    assert info.runtime == o["runtime"]
    assert info.engine == o["engine"] == "Podman"
    # checkpointctl prints the creation time truncated to seconds
    assert info.created.strftime("%Y-%m-%dT%H:%M:%SZ") == o["created"]
    assert ck.info.annotations == o["metadata"]["annotations"]
    assert not [p for p in ck.problems if p.severity == "error"], ck.problems


def test_sizes(pair):
    _name, ck, o = pair
    sizes = o["checkpoint_size"]
    assert ck.sizes.total == sizes["total_size"]
    assert ck.sizes.memory_pages == sizes["memory_pages_size"]
    assert ck.sizes.rootfs_diff == sizes.get("root_fs_diff_size", 0)


def test_stats_all_fields(pair):
    name, ck, o = pair
    for key, value in o["statistics"].items():
        assert ck.stats[key] == value
    # checkpointctl shows 6 fields; the dump entry has 14 and all are in the model
    crit = json.loads((ORACLE / name / "crit" / "stats-dump.json").read_text())["entries"][0]["dump"]
    assert ck.stats == crit
    assert len(ck.stats) == 14


def test_process_tree(pair):
    _name, ck, o = pair
    theirs = flatten_tree(o["process_tree"])
    assert set(ck.processes) == set(theirs)
    for pid, (parent, node) in theirs.items():
        proc = ck.processes[pid]
        assert proc.ppid == parent or (parent == 0 and pid in ck.roots)
        assert proc.comm == node["command"]
        assert proc.state == node["task_state"]
        # checkpointctl joins argv with spaces and a trailing space
        assert " ".join(proc.cmdline) + " " == node["cmdline"]
        assert proc.env_dict == node.get("environment_variables", {})
    # children come sorted by pid, the walk is depth-first from the roots
    order = [p.pid for _, p in ck.walk()]
    assert sorted(order) == sorted(ck.processes)


def test_pstree_against_crit(pair):
    name, ck, _ = pair
    crit = json.loads((ORACLE / name / "crit" / "pstree.img.json").read_text())["entries"]
    for e in crit:
        proc = ck.processes[e["pid"]]
        assert (proc.ppid, proc.pgid, proc.sid) == (e["ppid"], e["pgid"], e["sid"])
        assert [t.tid for t in proc.threads] == e["threads"]


def test_open_files(pair):
    _name, ck, o = pair
    for entry in o.get("file_descriptors", []):
        proc = ck.processes[entry["pid"]]
        ours = {f"{f.type} {f.fd}": f for f in proc.files}
        for f in entry["open_files"]:
            if f["fd"] == "cwd":
                assert proc.cwd == f["path"]
            elif f["fd"] == "root":
                assert proc.root == f["path"]
            else:
                mine = ours[f["fd"]]
                assert mine.type == f["type"]
                if f["type"] in ("REG", "PIPE"):
                    assert mine.path == f["path"]
                else:
                    # checkpointctl prints an opaque "TYPE.id"; we say what it is
                    assert mine.path != f["path"] and mine.path


def test_sockets(pair):
    name, ck, o = pair
    theirs = [(e["pid"], s) for e in o.get("sockets", []) for s in e["open_sockets"]]
    ours = [s for s in ck.sockets if s.family in ("IPv4", "IPv6")]
    assert len(ours) == len(theirs)
    for (pid, s), mine in zip(theirs, ours, strict=True):
        assert mine.pid == pid
        assert mine.proto == s["protocol"]
        d = s["data"]
        assert mine.state == d["state"]
        assert mine.src_port == d["src_port"]
        assert mine.dst_port == d.get("dst_port", 0)
        if name != "tcp-server":
            assert mine.src == d["src"]
            if d["state"] != "LISTEN":
                assert mine.dst == d["dst"]


def test_tcp_server_ipv4_mapped_addresses_pinned():
    """checkpointctl prints tcp-server's IPv4-mapped IPv6 addresses as garbage ("a58:1b::").

    The socket is AF_INET6 with ::ffff:10.88.0.27 -> ::ffff:10.88.0.28; we show the IPv4
    addresses they carry, as the other end (tcp-established) confirms.
    """
    o = oracle("tcp-server")
    theirs = o["sockets"][0]["open_sockets"][0]["data"]
    assert theirs["src"] == "a58:1b::"  # the peer's mistake, as recorded
    with load_checkpoint(DATA / "tcp-server.tar.zst") as srv, load_checkpoint(DATA / "tcp-established.tar.zst") as cli:
        [s] = [s for s in srv.sockets if s.proto == "TCP"]
        assert s.family == "IPv6"
        assert (s.src, s.src_port, s.dst, s.dst_port) == ("10.88.0.27", 9000, "10.88.0.28", 52664)
        assert s.state == "ESTABLISHED" and s.needs_tcp_established
        [c] = [c for c in cli.sockets if c.proto == "TCP"]
        assert (c.src, c.src_port, c.dst, c.dst_port) == (s.dst, s.dst_port, s.src, s.src_port)
        # the established connection carries its queues (tcp-stream image)
        assert s.inq_len is not None and s.outq_len is not None


def test_mounts(pair):
    _name, ck, o = pair
    spec_mounts = [(m.destination, m.type, m.source) for m in ck.mounts if m.origin == "spec"]
    assert spec_mounts == [(m["destination"], m["type"], m["source"]) for m in o["mounts"]]
    criu_mounts = [m for m in ck.mounts if m.origin == "criu"]
    assert any(m.destination == "/" for m in criu_mounts)


def test_networks(pair):
    _name, ck, o = pair
    theirs = [(n["name"], ifname, i["ip"], i["mac"], i["gateway"])
              for n in o.get("networks", []) for ifname, i in n["interfaces"].items()]
    ours = [(i.network, i.name, i.ip, i.mac, i.gateway) for i in ck.interfaces]
    assert ours == theirs


def test_memory_sizes_match_memparse(pair):
    name, ck, _ = pair
    text = (ORACLE / name / "checkpointctl-memparse.txt").read_text()
    rows = re.findall(r"^(\d+)\s+(\S+)\s+([\d.]+ \S+)\s+([\d.]+ \S+)\s*$", text, re.M)
    assert rows
    import humanize

    for pid, comm, mem, shared in rows:
        proc = ck.processes[int(pid)]
        assert proc.comm == comm
        # checkpointctl: 1024-based, one decimal
        def fmt(n: int) -> str:
            if n == 0:
                return "0 B"
            return humanize.naturalsize(n, binary=True, format="%.1f")

        assert fmt(proc.memory_size) == mem
        assert fmt(sum(v.size for v in proc.vmas if v.shared)) == shared


def test_vmas_against_crit(pair):
    name, ck, _ = pair
    for pid, proc in ck.processes.items():
        path = ORACLE / name / "crit" / f"mm-{pid}.img.json"
        if not path.exists():
            continue
        crit = json.loads(path.read_text())["entries"][0]
        assert [(int(v["start"], 16), int(v["end"], 16)) for v in crit["vmas"]] == [(v.start, v.end) for v in proc.vmas]
        assert proc.mm["mm_arg_start"] == int(crit["mm_arg_start"], 16)
