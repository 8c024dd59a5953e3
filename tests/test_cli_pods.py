"""The command line on a pod checkpoint (``pod.options`` + one directory per container):
inspect, memsearch, memdump and decode see the containers' processes; and the CLI's
option checks (--context bound, --cache before the subcommand)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from ckpt_tui.cli import main
from ckpt_tui.model import load_checkpoint

from .conftest import DATA
from .corpus import unpack

POD_OPTIONS = {
    "version": 1,
    "containers": {"web": "aaa111-web", "tree": "bbb222-tree"},
    "annotations": {"org.criu.checkpoint.engine.name": "cri-o", "org.criu.checkpoint.pod.name": "mypod",
                    "org.criu.checkpoint.pod.namespace": "ns1"},
}


def _pod_dir(base: Path) -> Path:
    """The same pod as tests/test_sources_more.py: web-httpd and ps-tree as two containers."""
    root = base / "pod"
    unpack("web-httpd.tar.zst", root / "aaa111-web")
    unpack("ps-tree.tar.gz", root / "bbb222-tree")
    (root / "pod.options").write_text(json.dumps(POD_OPTIONS))
    (root / "pod.dump").write_text("{}")
    return root


@pytest.fixture(scope="module", params=["tar", "tar.zst"])
def pod(request, tmp_path_factory) -> Path:
    """pod.tar (pages read in place) and pod.tar.zst (the streaming paths of inspect/memsearch)."""
    base = tmp_path_factory.mktemp("pod")
    root = _pod_dir(base)
    plain = base / "pod.tar"
    with tarfile.open(plain, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    if request.param == "tar":
        return plain
    out = base / "pod.tar.zst"
    out.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    return out


def _err(capsys) -> str:
    return capsys.readouterr().err


# -- inspect -------------------------------------------------------------------
def test_inspect_json_has_each_containers_processes(pod, capsys):
    assert main(["inspect", str(pod), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # the top-level keys of a normal checkpoint stay
    for key in ("source", "container", "sizes", "stats", "processes", "network", "rootfs_diff", "mounts", "problems"):
        assert key in data
    assert data["container"]["pod"] == "mypod" and data["container"]["engine"] == "CRI-O"
    # a pod has no checkpoint/ of its own: that is no problem of it
    assert not any("no checkpoint/ directory" in p["message"] for p in data["problems"])
    assert not [p for p in data["problems"] if p["severity"] == "error"]
    assert [c["name"] for c in data["containers"]] == ["tree", "web"]
    assert [c["directory"] for c in data["containers"]] == ["bbb222-tree", "aaa111-web"]
    tree, web = data["containers"]
    httpd = next(p for p in web["processes"] if p["comm"] == "httpd")
    assert httpd["cmdline"] == ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    assert httpd["env"]["GREETING"] == "hello-from-web"
    assert httpd["sockets"][0]["src_port"] == 8080
    assert any(p["cmdline"] == ["sleep", "200000"] for p in tree["processes"])
    assert any(p["env"].get("DB_PASSWORD") == "hunter2" for p in tree["processes"])
    assert "/var/www/index.html" in web["rootfs_diff"]["deleted"]
    # the pod's sizes are its containers'
    assert data["sizes"]["total"] == tree["sizes"]["total"] + web["sizes"]["total"] > 0
    assert data["sizes"]["memory_pages"] == tree["sizes"]["memory_pages"] + web["sizes"]["memory_pages"] > 0


def test_inspect_json_of_a_plain_checkpoint_has_no_containers(capsys):
    assert main(["inspect", str(DATA / "ps-tree.tar.gz"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["containers"] == [] and data["processes"]


def test_inspect_text_shows_pod_and_every_container(pod, capsys):
    assert main(["inspect", str(pod)]) == 0
    out = capsys.readouterr().out
    assert "pod mypod" in out and "Containers: 2" in out
    assert "container web" in out and "container tree" in out
    assert "aaa111-web/" in out and "bbb222-tree/" in out
    # each container's overview: its process tree with command lines and environments
    assert "httpd -f -p 8080 -h /var/www" in out and "GREETING=hello-from-web" in out
    assert "sleep 200000" in out and "DB_PASSWORD=" in out and "hunter2" not in out  # masked
    assert "no checkpoint/ directory" not in out
    # the web container comes after the tree container, the pod summary before both
    assert out.index("Containers: 2") < out.index("container tree") < out.index("container web")


def test_pod_model_keeps_real_problems_of_a_container(tmp_path):
    """Only the false top-level problem goes; a container's own problems stay, named by directory."""
    root = _pod_dir(tmp_path)
    (root / "aaa111-web" / "checkpoint" / "core-13.img").unlink()
    with load_checkpoint(root) as ck:
        assert not any("no checkpoint/ directory" in p.message for p in ck.problems)
        assert any(p.source.startswith("aaa111-web/") and "core-13" in p.source + p.message for p in ck.problems)


# -- memsearch ------------------------------------------------------------------
def test_memsearch_searches_every_container(pod, capsys):
    with load_checkpoint(pod) as ck:  # what the model finds, container by container
        expected = [(c.info.name, m.pid, m.address) for c in ck.containers for m in c.search_memory("hello-from-web")]
    assert len(expected) == 3 and {e[0] for e in expected} == {"web"}
    assert main(["memsearch", str(pod), "hello-from-web", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(h["container"], h["pid"], int(h["address"], 16)) for h in hits] == expected
    assert all(h["match"] == "hello-from-web" and h["before"].endswith("GREETING=") for h in hits)


def test_memsearch_text_names_the_container(pod, capsys):
    assert main(["memsearch", str(pod), "hunter2"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines and all(line.startswith("tree") for line in lines)
    assert any("DB_PASSWORD=hunter2" in line for line in lines)  # the match inside its context
    assert f"{len(lines)} match" in captured.err


def test_memsearch_container_and_pid_restrict(pod, capsys):
    # "sleep" is in the memory of both containers
    assert main(["memsearch", str(pod), "sleep", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert {h["container"] for h in both} == {"tree", "web"}
    assert main(["memsearch", str(pod), "sleep", "--json", "--container", "web"]) == 0
    web = json.loads(capsys.readouterr().out)
    assert web == [h for h in both if h["container"] == "web"]
    # the directory names the container too
    assert main(["memsearch", str(pod), "sleep", "--json", "--container", "bbb222-tree/"]) == 0
    assert json.loads(capsys.readouterr().out) == [h for h in both if h["container"] == "tree"]
    # --pid within the chosen containers: pid 1 exists in both
    assert main(["memsearch", str(pod), "sleep", "--json", "--pid", "1"]) == 0
    pid1 = json.loads(capsys.readouterr().out)
    assert pid1 == [h for h in both if h["pid"] == 1] and {h["container"] for h in pid1} == {"tree", "web"}
    # --limit counts over all containers
    assert main(["memsearch", str(pod), "sleep", "--json", "--limit", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == both[:2]


def test_memsearch_pod_errors(pod, capsys):
    assert main(["memsearch", str(pod), "x", "--container", "nope"]) == 2
    err = _err(capsys)
    assert "no container 'nope'" in err and "web (aaa111-web/)" in err and "tree (bbb222-tree/)" in err
    # pid 11 is only in tree
    assert main(["memsearch", str(pod), "x", "--container", "web", "--pid", "11"]) == 2
    err = _err(capsys)
    assert "no process with pid 11" in err and "web: 1, 10, 13" in err


def test_memsearch_container_on_a_plain_checkpoint(capsys):
    assert main(["memsearch", str(DATA / "ps-tree.tar.gz"), "hunter2", "--container", "x"]) == 2
    assert "not a pod" in _err(capsys)
    # no container field for a plain checkpoint
    assert main(["memsearch", str(DATA / "ps-tree.tar.gz"), "hunter2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all("container" not in h for h in hits)


@pytest.mark.parametrize("value, ok", [("-1", False), ("65537", False), ("100000000", False), ("0", True),
                                       ("65536", True)])
def test_memsearch_context_bound(value, ok, capsys):
    rc = main(["memsearch", str(DATA / "ps-tree.tar.gz"), "hunter2", "--context", value, "--json"])
    if not ok:
        assert rc == 2 and "--context must be between 0 and 65536" in _err(capsys)
        return
    assert rc == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(h["match"] == "hunter2" for h in hits)
    if value == "0":
        assert all(h["before"] == "" and h["after"] == "" for h in hits)


# -- memdump ---------------------------------------------------------------------
def test_memdump_needs_container_for_a_shared_pid(pod, capsys, tmp_path):
    assert main(["memsearch", str(pod), "hello-from-web", "--json", "--pid", "1"]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert hit["container"] == "web"
    addr = hit["address"]
    assert main(["memdump", str(pod), "--pid", "1", "--address", addr, "--length", "32"]) == 2
    err = _err(capsys)
    assert "pid 1 is in 2 containers" in err and "tree, web" in err and "--container" in err
    assert main(["memdump", str(pod), "--pid", "1", "--container", "web", "--address", addr, "--length", "32"]) == 0
    out = capsys.readouterr().out
    assert addr[2:].rjust(16, "0")[:-1] in out and "hello" in out
    raw = tmp_path / "greeting.bin"
    assert main(["memdump", str(pod), "--pid", "1", "--container", "web", "--address", addr, "--length", "14",
                 "-o", str(raw)]) == 0
    assert raw.read_bytes() == b"hello-from-web"
    # tree's pid 1 is another process: that address is not mapped there
    assert main(["memdump", str(pod), "--pid", "1", "--container", "tree", "--address", addr, "--length", "14"]) == 2
    assert f"address {addr} is not mapped in pid 1" in _err(capsys)


def test_memdump_pid_in_one_container_needs_no_container(pod, capsys):
    # pid 13 (sleep) is only in web
    assert main(["memsearch", str(pod), "sleep", "--json", "--pid", "13"]) == 0
    hit = json.loads(capsys.readouterr().out)[0]
    assert hit["container"] == "web"
    assert main(["memdump", str(pod), "--pid", "13", "--address", hit["address"], "--length", "5"]) == 0
    assert "|sleep|" in capsys.readouterr().out


def test_memdump_unknown_pid_names_pids_per_container(pod, capsys):
    assert main(["memdump", str(pod), "--pid", "4242", "--address", "0x1000"]) == 2
    err = _err(capsys)
    assert "no process with pid 4242" in err
    assert "tree: 1, 9, 10, 11, 12, 15" in err and "web: 1, 10, 13" in err
    assert "pids: )" not in err


# -- decode ----------------------------------------------------------------------
def test_decode_in_a_pod(pod, capsys):
    # core-13.img: only web has pid 13
    assert main(["decode", str(pod), "core-13.img"]) == 0
    core = json.loads(capsys.readouterr().out)
    assert core["magic"] == "CORE" and core["entries"][0]["tc"]["comm"] == "sleep"
    # pstree.img is in both: ambiguous without --container
    assert main(["decode", str(pod), "pstree.img"]) == 2
    err = _err(capsys)
    assert "2 containers" in err and "tree (bbb222-tree/)" in err and "web (aaa111-web/)" in err
    assert main(["decode", str(pod), "pstree.img", "--container", "tree"]) == 0
    tree_pids = sorted(e["pid"] for e in json.loads(capsys.readouterr().out)["entries"])
    assert tree_pids == [1, 9, 10, 11, 12, 15]
    assert main(["decode", str(pod), "pstree.img", "--container", "aaa111-web"]) == 0
    assert sorted(e["pid"] for e in json.loads(capsys.readouterr().out)["entries"]) == [1, 10, 13]
    # a path from the top of the archive still works
    assert main(["decode", str(pod), "bbb222-tree/checkpoint/core-11.img"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"][0]["tc"]["comm"] == "sleep"


def test_decode_pod_errors(pod, capsys):
    assert main(["decode", str(pod), "core-13.img", "--container", "tree"]) == 2
    assert "no image 'core-13.img' in container 'tree'" in _err(capsys)
    assert main(["decode", str(pod), "core-99.img"]) == 2
    assert "in any container of the pod" in _err(capsys)
    assert main(["decode", str(pod), "core-1.img", "--container", "nope"]) == 2
    assert "no container 'nope'" in _err(capsys)
    assert main(["decode", str(DATA / "ps-tree.tar.gz"), "core-1.img", "--container", "tree"]) == 2
    assert "not a pod" in _err(capsys)


# -- --cache before the subcommand ------------------------------------------------
def test_cache_option_before_the_subcommand(tmp_path, monkeypatch, capsys):
    from ckpt_tui.archive import results

    monkeypatch.setenv(results.ENV_ON, "")
    monkeypatch.delenv(results.ENV_ON)
    monkeypatch.delenv(results.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    arc = tmp_path / "ps-tree.tar.gz"
    arc.write_bytes((DATA / "ps-tree.tar.gz").read_bytes())
    assert main(["--cache", "inspect", "--json", str(arc)]) == 0
    first = capsys.readouterr().out
    assert json.loads(first)["processes"]
    assert results.lookup_result(arc, "inspect", {"json": True, "max_size": None}) is not None
    assert (tmp_path / "xdg" / "ckpt-tui").is_dir()
    # served from the cache the second time, the same bytes, either spelling
    import ckpt_tui.model

    def boom(*_a, **_k):
        raise AssertionError("the archive was read although its result was cached")

    monkeypatch.setattr(ckpt_tui.model, "load_checkpoint", boom)
    assert main(["--cache", "inspect", "--json", str(arc)]) == 0
    assert capsys.readouterr().out == first
    assert main(["inspect", "--cache", "--json", str(arc)]) == 0
    assert capsys.readouterr().out == first
