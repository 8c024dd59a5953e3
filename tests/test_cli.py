"""The command line: inspect, memsearch, memdump, decode; errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ckpt_tui.cli import main
from ckpt_tui.model.masking import MASK

from .conftest import DATA


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True, timeout=120)


def test_inspect_json_shape(capsys):
    assert main(["inspect", str(DATA / "web-httpd.tar.zst"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["container"]["name"] == "web"
    assert data["container"]["engine"] == "Podman"
    assert set(data["sizes"]) >= {"total", "memory_pages", "rootfs_diff"}
    httpd = next(p for p in data["processes"] if p["comm"] == "httpd")
    assert httpd["cmdline"] == ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    assert httpd["env"]["GREETING"] == "hello-from-web"
    for key in ("pid", "ppid", "pgid", "sid", "state", "threads", "cwd", "root", "uid", "gid", "files", "sockets"):
        assert key in httpd
    [sock] = httpd["sockets"]
    assert (sock["proto"], sock["state"], sock["src"], sock["src_port"]) == ("TCP", "LISTEN", "::", 8080)
    assert data["network"]["interfaces"][0]["ip"] == "10.88.0.22/16"
    assert "/var/www/index.html" in data["rootfs_diff"]["deleted"]
    assert {c["path"] for c in data["rootfs_diff"]["changed"]} >= {"etc/motd", "var/www/docs/new.html", "root/blob.bin"}
    assert data["mounts"] and isinstance(data["problems"], list)


def test_inspect_tree_output(capsys):
    assert main(["inspect", str(DATA / "ps-tree.tar.gz")]) == 0
    out = capsys.readouterr().out
    assert "Process tree" in out and "sleep 200000" in out and "APP_MODE=inspect-me" in out
    assert "hunter2" not in out and f"DB_PASSWORD={MASK}" in out  # masked unless --reveal
    assert main(["inspect", str(DATA / "ps-tree.tar.gz"), "--reveal"]) == 0
    assert "DB_PASSWORD=hunter2" in capsys.readouterr().out


def test_errors_go_to_stderr_with_exit_2(tmp_path):
    bad = tmp_path / "not-an-archive.txt"
    bad.write_text("hello")
    r = run("inspect", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith("ckpt-tui: error:")
    r = run("inspect", str(tmp_path / "missing.tar"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_memsearch_lists_markers(capsys):
    assert main(["memsearch", str(DATA / "memhog-16m-threads.tar.zst"), "CKPT-MARKER-00000", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 10
    assert all(h["pid"] == 1 and h["address"].startswith("0x") for h in hits)


def test_memsearch_hex_and_bad_pid(capsys):
    assert main(["memsearch", str(DATA / "memhog-16m-threads.tar.zst"), "41 50 49 5f 54 4f 4b 45 4e", "--hex"]) == 0
    assert "API_TOKEN" in capsys.readouterr().out
    assert main(["memsearch", str(DATA / "memhog-16m-threads.tar.zst"), "x", "--pid", "4242"]) == 2


def test_memdump_shows_marker_and_missing_pages(capsys):
    assert main(["memsearch", str(DATA / "memhog-16m-threads.tar.zst"), "CKPT-MARKER-000003", "--json"]) == 0
    addr = json.loads(capsys.readouterr().out)[0]["address"]
    assert main(["memdump", str(DATA / "memhog-16m-threads.tar.zst"), "--pid", "1", "--address", addr, "--length", "32"]) == 0
    out = capsys.readouterr().out
    assert "CKPT-MARKER-0000" in out and addr[2:].rjust(16, "0")[:-1] in out


def test_decode_matches_crit_shape(capsys):
    assert main(["decode", str(DATA / "ps-tree.tar.gz"), "pstree.img"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["magic"] == "PSTREE" and data["entries"][0]["pid"] == 1


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    r = run(flag)
    assert r.returncode == 0 and "inspect" in r.stdout and "memsearch" in r.stdout


def test_missing_path_is_an_error_not_the_ui(tmp_path):
    r = run(str(tmp_path / "nope.tar"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_directory_that_is_no_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    r = run("inspect", str(tmp_path))
    assert r.returncode == 2 and "not a checkpoint" in r.stderr


def test_memdump_bounds_and_raw_output(tmp_path, capsys):
    assert main(["memdump", str(DATA / "web-httpd.tar.zst"), "--pid", "1", "--address", "0x1000", "--length", "0"]) == 2
    out = tmp_path / "heap.bin"
    assert main(["memsearch", str(DATA / "memhog-16m-threads.tar.zst"), "API_TOKEN=", "--json"]) == 0
    addr = int(json.loads(capsys.readouterr().out)[0]["address"], 16)
    assert main(["memdump", str(DATA / "memhog-16m-threads.tar.zst"), "--pid", "1", "--address", hex(addr),
                 "--length", "31", "-o", str(out)]) == 0
    assert out.read_bytes() == b"API_TOKEN=tok_live_4f8a2c91e7b3"


def test_stack_and_heap_are_named(capsys):
    assert main(["memsearch", str(DATA / "web-httpd.tar.zst"), "httpd", "--pid", "1", "--json"]) == 0
    labels = {h["vma"] for h in json.loads(capsys.readouterr().out)}
    assert {"[heap]", "[stack]"} <= labels


def test_missing_pages_never_invent_argv(capsys):
    assert main(["inspect", str(DATA / "broken-missing-pages.tar"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    httpd = next(p for p in data["processes"] if p["pid"] == 10)
    assert httpd["cmdline"] == [] and httpd["env"] == {}
    assert any("not in the dump" in p["message"] for p in data["problems"])
