# SPDX-License-Identifier: Apache-2.0
"""The build / restore / diagnose subcommands (ckpt_tui/cli/actions.py)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.cli import main

from .conftest import DATA, LOGS

FAKEBIN = Path(__file__).parent / "fakebin"
WEB_ID = "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de"


def run(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def fakebin(monkeypatch, tmp_path):
    argv = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PATH", f"{FAKEBIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODMAN_ARGV", str(argv))
    monkeypatch.setenv("FAKE_PODMAN_LOGDIR", str(tmp_path / "storage"))
    monkeypatch.setenv("FAKE_PODMAN_IMAGES", WEB_ID)  # the base image is "there"
    monkeypatch.setenv("FAKE_CRIU_VERSION", "4.2")
    monkeypatch.setenv("COLUMNS", "160")
    for var in ("FAKE_PODMAN_CONTAINERS", "FAKE_PODMAN_SCENARIO", "FAKE_CRIU_CHECK"):
        monkeypatch.delenv(var, raising=False)

    def calls() -> list[list[str]]:
        return [json.loads(x) for x in argv.read_text().splitlines()] if argv.exists() else []

    return calls


def test_diagnose_command(capsys):
    assert run(["diagnose", str(LOGS / "restore-missing-pages.log"), "--checkpoint", str(DATA / "broken-missing-pages.tar")]) == 1
    out = capsys.readouterr().out
    assert "Missing image file: pages-2.img" in out
    assert "image at fault: checkpoint/pages-2.img" in out
    assert run(["diagnose", str(LOGS / "dump-ok.log")]) == 0
    assert "Dump finished successfully" in capsys.readouterr().out
    assert run(["diagnose", str(LOGS / "restore-criu-too-old.log"), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["causes"][0]["kind"] == "criu-too-old" and data["errors"][0]["line_no"] == 27


def test_errors_exit_2_without_traceback(capsys, tmp_path):
    assert run(["diagnose", str(tmp_path / "missing.log")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ckpt-tui: error:") and "Traceback" not in err
    assert run(["build", str(tmp_path / "nope.tar.zst"), "x"]) == 2
    assert run(["build", str(DATA / "web-httpd.tar.zst"), "Bad Name"]) == 2
    assert "invalid image name" in capsys.readouterr().err
    assert run(["restore", str(tmp_path / "nope.tar"), "--dry-run"]) == 2


def test_build_command(capsys, tmp_path):
    out = tmp_path / "web.oci.tar"
    assert run(["build", str(DATA / "web-httpd.tar.zst"), "web-ckpt", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "localhost/web-ckpt:latest" in text and "org.criu.checkpoint.container.name" in text
    with tarfile.open(out) as tf:
        assert {"index.json", "oci-layout"} <= set(tf.getnames())
    assert run(["build", str(DATA / "web-httpd.tar.zst"), "web-ckpt", "--oci-dir", str(tmp_path / "d"), "-q"]) == 0
    assert (tmp_path / "d" / "index.json").is_file()


def test_build_and_load_with_fake_podman(capsys, tmp_path, fakebin, monkeypatch):
    monkeypatch.setenv("FAKE_PODMAN_LOADED", "localhost/web-ckpt:latest")
    out = tmp_path / "web.oci.tar"
    assert run(["build", str(DATA / "web-httpd.tar.zst"), "web-ckpt", "-o", str(out), "--load", "-q"]) == 0
    assert fakebin()[-1] == ["load", "-i", str(out)]
    assert "Loaded localhost/web-ckpt:latest with podman" in capsys.readouterr().out


def test_restore_dry_run(capsys, fakebin):
    code = run(["restore", str(DATA / "web-httpd.tar.zst"), "--dry-run", "--name", "web2"])
    out = capsys.readouterr().out
    assert f"podman container restore --import {(DATA / 'web-httpd.tar.zst').absolute()} --name web2" in out
    assert "preflight" in out and "Archive complete" in out
    assert code == 0, out
    assert not any(c[:2] == ["container", "restore"] for c in fakebin())


def test_restore_dry_run_adds_tcp_established(capsys, fakebin):
    """An established connection in the checkpoint: the command carries --tcp-established (as
    the UI's restore does) and its check passes; --no-tcp-established leaves it out and fails."""
    src = DATA / "tcp-established.tar.zst"
    assert run(["restore", str(src), "--dry-run"]) == 0
    out = capsys.readouterr().out
    command = out.splitlines()[1].split()
    assert command[:4] == ["podman", "container", "restore", "--import"] and "--tcp-established" in command
    assert "--tcp-established added" in out and "FAIL" not in out
    assert run(["restore", str(src), "--dry-run", "--no-tcp-established"]) == 1
    out = capsys.readouterr().out
    assert "--tcp-established" not in out.splitlines()[1] and "FAIL" in out
    # a checkpoint without established connections gets no flag
    assert run(["restore", str(DATA / "web-httpd.tar.zst"), "--dry-run"]) == 0
    assert "--tcp-established" not in capsys.readouterr().out.splitlines()[1]


def test_restore_refuses_on_failed_preflight(capsys, fakebin):
    assert run(["restore", str(DATA / "broken-missing-pages.tar"), "--yes"]) == 1
    assert "preflight failed" in capsys.readouterr().err
    assert not any(c[:2] == ["container", "restore"] for c in fakebin())


def test_restore_asks_and_defaults_to_no(capsys, fakebin, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a tty: never taken as consent
    assert run(["restore", str(DATA / "web-httpd.tar.zst"), "--name", "w"]) == 1
    assert "not restoring" in capsys.readouterr().out
    assert not any(c[:2] == ["container", "restore"] for c in fakebin())


def test_restore_yes_runs_it(capsys, fakebin):
    assert run(["restore", str(DATA / "web-httpd.tar.zst"), "--name", "web2", "--keep", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Restored web2" in out
    assert fakebin()[-1] == ["container", "restore", "--import", str((DATA / "web-httpd.tar.zst").absolute()),
                             "--name", "web2", "--keep"]


def test_restore_failure_is_diagnosed(capsys, fakebin, monkeypatch):
    monkeypatch.setenv("FAKE_PODMAN_SCENARIO", "criu-fail")
    assert run(["restore", str(DATA / "web-httpd.tar.zst"), "--name", "web2", "--keep", "--yes"]) == 1
    cap = capsys.readouterr()
    assert "criu failed: type RESTORE errno 0" in cap.out
    assert "CRIU is too old for this kernel" in cap.out
    assert "Restore failed (exit 125)" in cap.err


def test_main_wires_subcommands(capsys):
    assert main(["diagnose", str(LOGS / "dump-ok.log")]) == 0
    assert "Dump finished successfully" in capsys.readouterr().out
