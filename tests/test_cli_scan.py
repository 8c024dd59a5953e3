"""``ckpt-tui scan``: exit codes by --fail-on, JSON (masked unless --reveal), plain lines for
scripts. The planted checkpoint is derived from tcp-established (see tests/scankit.intruder)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ckpt_tui.actions.scan import LEVELS, SCHEMA
from ckpt_tui.cli import main
from ckpt_tui.cli import scan as cli_scan
from ckpt_tui.model.masking import MASK

from . import scankit
from .conftest import DATA


@pytest.fixture(scope="module")
def intruder(tmp_path_factory):
    base = tmp_path_factory.mktemp("cliscan")
    return scankit.pack(scankit.intruder(base / "intruder"), base / "intruder.tar.zst")


def test_exit_codes_follow_fail_on(capsys, intruder):
    ps_tree = str(DATA / "ps-tree.tar.gz")  # DB_PASSWORD (medium) and a shell from its own command (info)
    assert main(["scan", ps_tree]) == 0
    assert main(["scan", ps_tree, "--fail-on", "medium"]) == 1
    assert main(["scan", ps_tree, "--fail-on", "critical"]) == 0
    assert main(["scan", str(intruder)]) == 1  # high: the AWS key, the PEM, the nc, the setuid file
    out = capsys.readouterr().out
    assert "HIGH" in out and "id secret-in-memory:pid=1:" in out and "findings at high or above" in out


def test_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing.tar")]) == 2
    assert "ckpt-tui: error:" in capsys.readouterr().err
    (tmp_path / "junk").write_bytes(b"not a checkpoint" * 10)
    assert main(["scan", str(tmp_path / "junk")]) == 2
    assert main(["scan", str(DATA / "ps-tree.tar.gz"), "--fail-on", "severe"]) == 2


def test_json_is_masked_unless_revealed(capsys, intruder):
    assert main(["scan", str(intruder), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == SCHEMA and doc["summary"]["fail_on"] == "high" and doc["summary"]["failing"] >= 4
    secrets = [f for f in doc["findings"] if f["category"] == "secrets"]
    assert secrets and all(f["value"] == MASK for f in secrets) and scankit.AWS_KEY not in json.dumps(doc)
    assert main(["scan", str(intruder), "--json", "--reveal"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert {f["value"] for f in shown["findings"] if f.get("secret_rule") == "aws-access-key-id"} == {scankit.AWS_KEY}


def test_piped_lines_are_plain_and_whole(intruder):
    r = subprocess.run([sys.executable, "-m", "ckpt_tui", "scan", str(intruder), "--reveal"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "\x1b" not in r.stdout and scankit.AWS_KEY in r.stdout
    # the PEM's line breaks are escaped: one finding, one line
    pem = [line for line in r.stdout.splitlines() if "PEM private key in the memory" in line]
    assert len(pem) == 1 and "-----BEGIN RSA PRIVATE KEY-----\\x0a" in pem[0] and pem[0].endswith("-----")


def test_no_memory(capsys, intruder):
    assert main(["scan", str(intruder), "--no-memory", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not any(f["rule"] == "secret-in-memory" for f in doc["findings"])
    assert doc["waste"]["memory_scanned"] is False


def test_the_cli_names_the_engines_levels():
    assert cli_scan.LEVELS == LEVELS


def test_scan_does_not_load_textual():
    code = ("import sys, io, contextlib; from ckpt_tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['scan', sys.argv[1], '--json'])\n"
            "print('textual' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code, str(DATA / "ps-tree.tar.gz")], capture_output=True, text=True)
    assert r.stderr.strip().endswith("False"), r.stderr
