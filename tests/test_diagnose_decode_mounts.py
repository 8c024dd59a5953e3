# SPDX-License-Identifier: Apache-2.0
"""Diagnose on a file that is no CRIU log; decode's image names with/without .img;
external bind mounts' file system type."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ckpt_tui.actions.diagnose import diagnose, diagnose_file
from ckpt_tui.criu import constants as C
from ckpt_tui.criu import decode_image, image_name_candidates, resolve_image_name, to_crit_dict
from ckpt_tui.model.types import Mount

from .conftest import DATA, FIXTURE_FILES, LOGS, ORACLE
from .test_actions_cli import run


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True,
                          timeout=120, env=env)


# --------------------------------------------------------------------------- 1. diagnose: not a log

RANDOM_TEXT = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
    "# /etc/services: network services\n"
    "ssh             22/tcp\n"
    "http            80/tcp          www\n"
)


def test_text_that_is_no_log_is_not_recognised():
    d = diagnose(RANDOM_TEXT, log_path="notes.txt")
    assert d.recognised is False
    assert d.outcome == "unknown" and d.causes == [] and d.errors == []
    assert "does not look like a CRIU dump/restore log" in d.summary
    assert "text (4 lines)" in d.summary
    # says what it looked for
    assert "(00.000021)" in d.summary and "Error (file.c:N):" in d.summary and "Error: ..." in d.summary
    assert d.as_text().startswith("notes.txt: this does not look like a CRIU")


def test_binary_is_not_recognised():
    data = bytes(range(256)) * 20
    d = diagnose(data.decode("utf-8", "replace"))
    assert not d.recognised and "binary data" in d.summary


def test_empty_is_not_recognised():
    d = diagnose("")
    assert not d.recognised and "empty" in d.summary and d.outcome == "unknown"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        # the first lines of a real CRIU log: no error, no end marker, still a CRIU log
        ("\n".join((LOGS / "dump-ok.log").read_text().splitlines()[:6]) + "\n", "unknown"),
        ("Version: 4.2 (gitid 0)\n", "unknown"),
        # engine output only
        ("Error: OCI runtime error: runc: criu failed: type RESTORE errno 0\n", "failure"),
        ('time="2024-01-01T00:00:00Z" level=error msg="container not found"\n', "failure"),
        ("(00.1) Error (criu/foo.c:1): something odd\n", "failure"),
    ],
)
def test_logs_and_engine_output_stay_recognised(text, outcome):
    d = diagnose(text)
    assert d.recognised, d.summary
    assert d.outcome == outcome


@pytest.mark.parametrize(
    ("name", "outcome", "rc"),
    [("dump-ok.log", "success", 0), ("restore-missing-pages.log", "failure", 1), ("restore-criu-too-old.log", "failure", 1)],
)
def test_real_logs_unchanged(name, outcome, rc, capsys):
    d = diagnose_file(LOGS / name)
    assert d.recognised and d.outcome == outcome
    assert run(["diagnose", str(LOGS / name)]) == rc
    assert "does not look like" not in capsys.readouterr().err


def test_diagnose_command_rejects_non_log(tmp_path, capsys):
    txt = tmp_path / "notes.txt"
    txt.write_text(RANDOM_TEXT)
    assert run(["diagnose", str(txt)]) == 2
    err = capsys.readouterr()
    assert "does not look like a CRIU dump/restore log" in err.err and str(txt) in err.err
    assert err.out == ""
    assert run(["diagnose", str(txt), "--json"]) == 2  # no JSON of a non-diagnosis either
    assert capsys.readouterr().out == ""


def test_diagnose_cli_subprocess_non_log_and_real_log(tmp_path):
    binf = tmp_path / "blob.bin"
    binf.write_bytes(os.urandom(4096) + b"\x00" * 64)
    r = cli("diagnose", str(binf))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "does not look like a CRIU dump/restore log" in r.stderr and "binary data" in r.stderr
    assert "Traceback" not in r.stderr and "outcome: unknown" not in r.stdout
    ok = cli("diagnose", str(LOGS / "dump-ok.log"))
    assert ok.returncode == 0 and "success" in ok.stdout
    bad = cli("diagnose", str(LOGS / "restore-missing-pages.log"))
    assert bad.returncode == 1 and "pages-2.img" in bad.stdout


# --------------------------------------------------------------------------- 2. image names


def test_image_name_candidates():
    assert image_name_candidates("stats-dump.img") == [
        "stats-dump.img", "checkpoint/stats-dump.img", "stats-dump", "checkpoint/stats-dump"]
    assert image_name_candidates("core-1")[:2] == ["core-1", "checkpoint/core-1"]
    assert "checkpoint/core-1.img" in image_name_candidates("core-1")
    assert image_name_candidates("./checkpoint/stats-dump")[:2] == ["checkpoint/stats-dump", "stats-dump"]
    assert image_name_candidates("  ") == []


@pytest.mark.parametrize(
    ("typed", "member"),
    [
        ("stats-dump", "stats-dump"),
        ("stats-dump.img", "stats-dump"),
        ("checkpoint/stats-dump.img", "stats-dump"),
        ("core-1.img", "checkpoint/core-1.img"),
        ("core-1", "checkpoint/core-1.img"),
        ("checkpoint/core-1.img", "checkpoint/core-1.img"),
        ("config.dump", "config.dump"),
        ("core-999.img", None),
        ("nothing", None),
    ],
)
def test_resolve_in_real_archive(typed, member):
    from ckpt_tui.archive import open_source

    with open_source(DATA / FIXTURE_FILES["ps-tree"]) as src:
        got = resolve_image_name(typed, src.has)
        assert got == member
        if member and member != "config.dump":
            img = decode_image(src.read(got), got.rsplit("/", 1)[-1])
            assert img.magic in ("STATS", "CORE")


def test_resolve_in_bare_criu_dir(tmp_path):
    """A `criu dump -D` directory keeps stats-dump next to the images (under checkpoint/ in a Source)."""
    from ckpt_tui.archive import open_source

    with open_source(DATA / FIXTURE_FILES["ps-tree"]) as src:
        stats = src.read("stats-dump")
        inv = src.read("checkpoint/inventory.img")
    (tmp_path / "stats-dump").write_bytes(stats)
    (tmp_path / "inventory.img").write_bytes(inv)
    with open_source(tmp_path) as src:
        got = resolve_image_name("stats-dump.img", src.has)
        assert got is not None and got.endswith("stats-dump")
        crit = json.loads((ORACLE / "ps-tree" / "crit" / "stats-dump.json").read_text())
        assert to_crit_dict(decode_image(src.read(got), "stats-dump"))["entries"] == crit["entries"]


@pytest.mark.parametrize("typed", ["stats-dump", "stats-dump.img"])
def test_decode_cli_stats_both_names(typed):
    r = cli("decode", str(DATA / FIXTURE_FILES["ps-tree"]), typed)
    assert r.returncode == 0, r.stderr
    crit = json.loads((ORACLE / "ps-tree" / "crit" / "stats-dump.json").read_text())
    out = json.loads(r.stdout)
    assert out["magic"] == "STATS" and out["entries"] == crit["entries"]


def test_decode_cli_without_img_suffix():
    r = cli("decode", str(DATA / FIXTURE_FILES["ps-tree"]), "core-1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["magic"] == "CORE"
    r = cli("decode", str(DATA / FIXTURE_FILES["ps-tree"]), "core-999.img")
    assert r.returncode == 2 and "no image" in r.stderr


# --------------------------------------------------------------------------- 3. external mounts


def test_mount_type_name_rules():
    assert C.mount_type_name(0, external=True, root="/run/x/userdata/hosts") == "bind"
    assert C.mount_type_name(0, external=True, root="/") == "external"
    assert C.mount_type_name(0) == "unsupported"  # not external: CRIU's own word stays
    assert C.mount_type_name(5, external=True, root="/") == "tmpfs"
    assert C.mount_type_name(16, "btrfs") == "btrfs"
    assert C.mount_type_name(99) == "99"


def test_mount_model_external():
    m = Mount(destination="/etc/hosts", type="bind", source="/dev/vda", origin="criu",
              root="/run/ctr/userdata/hosts", ext_key="/etc/hosts")
    assert m.external and m.label == "bind (external: /etc/hosts)"
    plain = Mount(destination="/weird", type="unsupported", origin="criu", root="/")
    assert plain.type == "unsupported" and not plain.external and plain.label == "unsupported"
    spec = Mount(destination="/etc/hosts", type="bind", source="/x", options=["bind"])
    assert spec.label == "bind" and not spec.external


@pytest.mark.parametrize("fixture", ["ps-tree", "web-httpd", "tcp-server"])
def test_criu_mounts_against_crit(fixture):
    from ckpt_tui.model import load_checkpoint

    crit_files = sorted((ORACLE / fixture / "crit").glob("mountpoints-*.img.json"))
    assert crit_files
    entries = [e for f in crit_files for e in json.loads(f.read_text())["entries"]]
    ck = load_checkpoint(DATA / FIXTURE_FILES[fixture])
    try:
        by_id = {m.mnt_id: m for m in ck.mounts if m.origin == "criu"}
        assert len(by_id) == len(entries)
        externals = 0
        for e in entries:
            m = by_id[e["mnt_id"]]
            assert m.destination == e["mountpoint"] and m.ext_key == e.get("ext_key", "")
            assert m.type != "unsupported", (m.destination, e)
            if e["fstype"] == 0:
                # Podman's /etc/hosts, /etc/resolv.conf, ...: a host file CRIU leaves to the engine
                assert "ext_key" in e and e["root"] != "/"
                assert m.type == "bind" and m.label == f"bind (external: {e['ext_key']})"
                externals += 1
            else:
                assert m.type == C.MOUNT_FSTYPES[e["fstype"]]
        assert externals >= 3
        hosts = next(m for m in by_id.values() if m.destination == "/etc/hosts")
        assert hosts.root.endswith("/userdata/hosts")
    finally:
        ck.close()
