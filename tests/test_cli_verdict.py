# SPDX-License-Identifier: Apache-2.0
"""ckpt-tui check (exit codes, --json, --host, --rules) and ckpt-tui host-profile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ckpt_tui.cli import main

from .conftest import DATA
from .test_verdict import ORIGIN

FAKEBIN = Path(__file__).parent / "fakebin"
WEB_ID = "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de"


@pytest.fixture
def host(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps(ORIGIN))
    return str(path)


def check(capsys, *argv):
    rc = main(["check", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("name, code, verdict", [
    ("web-httpd.tar.zst", 0, "restorable"),
    ("tcp-established.tar.zst", 1, "restorable-with"),
    ("broken-missing-pages.tar", 2, "will-fail"),
    ("podman-checkpoint-image.oci.tar", 2, "will-fail"),
])
def test_exit_codes_and_json(capsys, host, name, code, verdict):
    rc, out, _err = check(capsys, str(DATA / name), "--host", host, "--json")
    assert rc == code
    doc = json.loads(out)
    assert doc["verdict"] == verdict and doc["exit_code"] == code and doc["host"] == "origin"
    assert {c["result"] for c in doc["checks"]} <= {"BLOCK", "WARN", "OK"}
    assert all(c["result"] == "BLOCK" for c in doc["checks"] if c["status"] == "fail")


def test_text_output(capsys, host):
    rc, out, _err = check(capsys, str(DATA / "tcp-established.tar.zst"), "--host", host)
    assert rc == 1
    first = out.splitlines()[0]
    assert first == "cli: restorable on origin with --tcp-established"
    assert "BLOCK  TCP connections: 1 established TCP connection(s)" in out
    assert "       → restorable with --tcp-established" in out
    assert "OK     Engine: podman version 4.3.1" in out
    rc, out, _err = check(capsys, str(DATA / "tcp-established.tar.zst"), "--host", host, "--problems-only")
    assert "OK " not in out and "BLOCK" in out


def test_not_a_checkpoint_is_3(capsys, tmp_path, host):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    rc, _out, err = check(capsys, str(junk), "--host", host)
    assert rc == 3 and "not a checkpoint archive" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.dump").write_text("{}")
    rc, _out, err = check(capsys, str(empty), "--host", host)
    assert rc == 3 and "not a checkpoint" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc, _out, err = check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", str(bad))
    assert rc == 3 and "not a host profile" in err


def test_rules_json_and_yaml(capsys, tmp_path, host):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"max_total": "100K", "no_established_tcp": True,
                                 "require_annotations": ["io.example/owner"], "min_criu_version": "4.0"}))
    rc, out, _err = check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", host, "--rules", str(rules), "--json")
    doc = json.loads(out)
    rows = {c["name"]: c for c in doc["checks"] if c["name"].startswith("Policy: ")}
    assert rc == 2 and doc["verdict"] == "will-fail"
    assert rows["Policy: max_total"]["result"] == "BLOCK" and "> 100.0 KiB" in rows["Policy: max_total"]["reason"]
    assert rows["Policy: no_established_tcp"]["result"] == "OK"
    assert rows["Policy: require_annotations"]["result"] == "BLOCK"
    assert rows["Policy: min_criu_version"]["result"] == "WARN"  # the archive does not say which CRIU wrote it
    # the checkpoint image's annotation does (criu.version 40200)
    for want, result in (("4.0", "OK"), ("4.3", "BLOCK")):
        rules.write_text(json.dumps({"min_criu_version": want}))
        _rc, out, _err = check(capsys, str(DATA / "podman-checkpoint-image.oci.tar"), "--host", host, "--rules",
                               str(rules), "--json")
        row = next(c for c in json.loads(out)["checks"] if c["name"] == "Policy: min_criu_version")
        assert row["result"] == result and "CRIU 4.2" in row["reason"]

    yaml_rules = tmp_path / "rules.yaml"
    yaml_rules.write_text("max_total: 2G\nno_established_tcp: true\nforbid_capabilities: [CAP_SYS_ADMIN]\n")
    assert check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", host, "--rules", str(yaml_rules))[0] == 0
    rc, out, _err = check(capsys, str(DATA / "tcp-established.tar.zst"), "--host", host, "--rules", str(yaml_rules))
    assert rc == 2 and "BLOCK  Policy: no_established_tcp: 1 established TCP connection" in out

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("max_sizes: 1G\n")
    rc, _out, err = check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", host, "--rules", str(unknown))
    assert rc == 3 and "unknown rule(s) max_sizes" in err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"max_total": "lots"}))
    rc, _out, err = check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", host, "--rules", str(wrong))
    assert rc == 3 and "max_total must be a size" in err


def test_no_secrets_gates_on_the_scan(capsys, tmp_path, host):
    """ps-tree's DB_PASSWORD=hunter2 is a secret of level medium (the scan's finding)."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"no_secrets": "high"}))
    rc, out, _err = check(capsys, str(DATA / "ps-tree.tar.gz"), "--host", host, "--rules", str(rules))
    assert "OK     Policy: no_secrets: no secret at high or above" in out
    rules.write_text(json.dumps({"no_secrets": "medium"}))
    rc, out, _err = check(capsys, str(DATA / "ps-tree.tar.gz"), "--host", host, "--rules", str(rules))
    assert rc == 2 and "BLOCK  Policy: no_secrets: 1 secret at medium or above" in out
    assert "hunter2" not in out
    rules.write_text(json.dumps({"no_secrets": "severe"}))
    rc, _out, err = check(capsys, str(DATA / "ps-tree.tar.gz"), "--host", host, "--rules", str(rules))
    assert rc == 3 and "no_secrets must be true, false or a level" in err


def test_host_profile_round_trip(capsys, monkeypatch, tmp_path):
    """host-profile on this machine (fake podman/criu first on PATH), read back by check --host."""
    monkeypatch.setenv("PATH", f"{FAKEBIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODMAN_IMAGES", WEB_ID)
    monkeypatch.setenv("FAKE_PODMAN_CONTAINERS", "web")
    monkeypatch.setenv("FAKE_CRIU_VERSION", "4.2")
    assert main(["host-profile", "--no-criu-check"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "ckpt-tui/host-profile/1"
    assert doc["criu"]["version"] == "4.2" and doc["criu"]["check_ran"] is False
    podman = next(e for e in doc["engines"] if e["name"] == "podman")
    assert podman["images"] == [{"id": WEB_ID, "names": [], "digests": []}]
    assert podman["containers"] == [{"id": "", "names": ["web"]}]
    crun = next(r for r in doc["runtimes"] if r["name"] == "crun")
    assert crun["checkpoint_restore"] is False  # the fake crun is Debian's, built without +CRIU
    assert isinstance(doc["cap_last_cap"], int) and doc["arch"]
    saved = tmp_path / "here.json"
    saved.write_text(json.dumps(doc))
    _rc, out, _err = check(capsys, str(DATA / "web-httpd.tar.zst"), "--host", str(saved), "--json")
    names = {c["name"]: c for c in json.loads(out)["checks"]}
    assert names["Container name"]["result"] == "BLOCK" and names["Container name"]["step"] == "--name web-restored"
    assert names["Base image"]["result"] == "OK"
