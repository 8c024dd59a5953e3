"""The command line as scripts use it (#18): piped output is whole, `memsearch | grep` finds every
match, sizes are named, secrets masked, the JSON schemas of list / build / restore --dry-run, the
options every command shares, --help, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.archive import open_source
from ckpt_tui.cli import main
from ckpt_tui.model.masking import MASK

from .conftest import DATA
from .corpus import unpack
from .test_actions_cli import fakebin  # noqa: F401  (the fake podman/criu on PATH)

ROOT = Path(__file__).resolve().parent.parent
WEB = DATA / "web-httpd.tar.zst"
MEMHOG = DATA / "memhog-16m-threads.tar.zst"


def cli(*args: str, columns: str = "40") -> subprocess.CompletedProcess:
    """The command with stdout a pipe and a narrow COLUMNS, which must not matter."""
    env = dict(os.environ, COLUMNS=columns)
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def tar_dir(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    return out


@pytest.fixture(scope="module")
def crio(tmp_path_factory) -> Path:
    """A CRI-O (kubelet) archive derived from web-httpd: CRI-O's spec annotations, and the
    config.dump name CRI-O writes (``k8s_<container>_<pod>_<ns>_<uid>_<attempt>``)."""
    base = tmp_path_factory.mktemp("crio")
    root = unpack("web-httpd.tar.zst", base / "root")
    spec = json.loads((root / "spec.dump").read_text())
    spec["annotations"] = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": "counter", "attempt": 0}),
        "io.kubernetes.pod.name": "counters", "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.cri-o.Created": "2026-11-23T12:00:00.5Z",
    }
    (root / "spec.dump").write_text(json.dumps(spec))
    config = json.loads((root / "config.dump").read_text())
    config["name"] = "k8s_counter_counters_default_0f1e2d3c_0"
    (root / "config.dump").write_text(json.dumps(config))
    listed = base / "kubelet"
    listed.mkdir()
    return tar_dir(root, listed / "checkpoint-counters_default-counter-2026-11-23T12:00:00Z.tar")


# -- piped output --------------------------------------------------------------------------------
def test_piped_output_is_never_wrapped_or_cut():
    r = cli("inspect", str(WEB))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.endswith("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") for line in lines)
    assert any(line.endswith("ID: 804f8b2fc6ea364d76b984bd124b8f45e03e3040ad4680823b04ea1a1fa2d451") for line in lines)
    # the multi-line `sh -c` script is one line of the tree, its line breaks escaped
    assert sum("[1]  sh -c \\x0a" in line for line in lines) == 1
    assert "…" not in r.stdout
    listing = cli("list", str(DATA))
    assert listing.returncode == 0 and "…" not in listing.stdout
    for name in ("podman-checkpoint-image.oci.tar", "memhog-16m-threads.tar.zst", "web-ignore-rootfs.tar.zst"):
        assert f"{DATA / name}" in listing.stdout or f"{DATA}/{name}" in listing.stdout


def test_memsearch_lines_hold_the_match_in_its_context():
    """`memsearch X PAT | grep PAT` finds every match: the context is printed contiguous."""
    r = cli("memsearch", str(MEMHOG), "CKPT-MARKER-0000", "--context", "24")
    assert r.returncode == 0, r.stderr
    hits = json.loads(cli("memsearch", str(MEMHOG), "CKPT-MARKER-0000", "--context", "24", "--json").stdout)
    lines = r.stdout.splitlines()
    assert len(lines) == len(hits) == 16  # one marker per MiB
    for line, hit in zip(lines, hits, strict=True):
        assert int(line.split()[2], 16) == int(hit["address"], 16)
        marker = re.search(r"CKPT-MARKER-\d{6}-needle", line)  # the match and what follows, unbroken
        assert marker and (hit["match"] + hit["after"]).startswith("CKPT-MARKER-0000")
    assert "16 matches" in r.stderr and "no matches" not in r.stdout
    secret = cli("memsearch", str(MEMHOG), "API_TOKEN=", "--context", "32")
    assert secret.stdout.strip() and all("API_TOKEN=tok_live_4f8a2c91e7b3" in line
                                         for line in secret.stdout.splitlines())
    none = cli("memsearch", str(MEMHOG), "no-such-bytes-anywhere")
    assert none.returncode == 0 and none.stdout == "" and "no matches" in none.stderr


def test_memsearch_of_a_checkpoint_without_processes_is_an_error(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "nopstree")
    (root / "checkpoint" / "pstree.img").unlink()
    r = cli("memsearch", str(root), "httpd")
    assert r.returncode == 2 and "nothing to search" in r.stderr and "Traceback" not in r.stderr


# -- sizes ---------------------------------------------------------------------------------------
def test_inspect_names_file_uncompressed_and_ratio(capsys, tmp_path):
    arc = DATA / "ps-tree.tar.gz"
    with open_source(arc) as src:
        contents = sum(m.size for m in src.members.values() if m.type == "file")
    assert main(["inspect", str(arc), "--json"]) == 0
    sizes = json.loads(capsys.readouterr().out)["sizes"]
    assert sizes["file"] == arc.stat().st_size and sizes["uncompressed"] == contents
    assert sizes["compression_ratio"] == pytest.approx(contents / arc.stat().st_size)
    assert "archive" not in sizes  # the old, unnamed total
    assert main(["inspect", str(arc)]) == 0
    text = capsys.readouterr().out
    assert f"File: 84.0 KiB ({arc.stat().st_size:,} B, on disk)" in text
    assert f"Uncompressed: 525.0 KiB ({contents:,} B, every member)" in text
    assert f"Compression ratio: {contents / arc.stat().st_size:.1f}:1" in text
    # an unpacked checkpoint has no file: no file size, no ratio
    root = unpack("ps-tree.tar.gz", tmp_path / "unpacked")
    assert main(["inspect", str(root), "--json"]) == 0
    sizes = json.loads(capsys.readouterr().out)["sizes"]
    assert sizes["file"] is None and sizes["compression_ratio"] is None and sizes["uncompressed"] == contents
    assert main(["inspect", str(root)]) == 0
    assert "Compression ratio" not in capsys.readouterr().out


# -- secrets -------------------------------------------------------------------------------------
def test_json_masks_with_mask_and_the_cache_keeps_them_apart(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CKPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    arc = tmp_path / "ps-tree.tar.gz"
    arc.write_bytes((DATA / "ps-tree.tar.gz").read_bytes())
    for _ in range(2):  # the second round is served from the cache
        assert main(["inspect", str(arc), "--json", "--mask"]) == 0
        masked = json.loads(capsys.readouterr().out)
        assert {p["env"].get("DB_PASSWORD") for p in masked["processes"]} == {MASK}
        assert main(["inspect", str(arc), "--json"]) == 0
        plain = json.loads(capsys.readouterr().out)
        assert {p["env"].get("DB_PASSWORD") for p in plain["processes"]} == {"hunter2"}
    assert main(["inspect", str(arc), "--mask", "--reveal"]) == 2
    assert "contradict" in capsys.readouterr().err


def test_secret_looking_values_and_command_line_secrets_are_masked(tmp_path, capsys):
    """The masking rules (model/masking.py) beyond names: a token-shaped value under a harmless
    name, and NAME=value in a command line. Derived from web-httpd: same-length replacements of
    pid 10's PATH value and of an argument in its pages."""
    root = unpack("web-httpd.tar.zst", tmp_path / "secrets")
    token = "ghp_" + "a1B2c3D4e5" * 5 + "xyzxyz"  # 60 characters, the length of PATH's value
    old_path = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    pages = root / "checkpoint" / "pages-2.img"  # pid 10's
    raw = pages.read_bytes()
    assert raw.count(old_path) == 1 and raw.count(b"-h\x00/var/www") == 1
    pages.write_bytes(raw.replace(old_path, token.encode()).replace(b"-h\x00/var/www", b"-h\x00KEY=abcd"))
    assert main(["inspect", str(root)]) == 0
    text = capsys.readouterr().out
    assert token not in text and f"PATH={MASK}" in text
    assert "httpd -f -p 8080 -h KEY=abcd" not in text and f"-h KEY={MASK}" in text
    assert main(["inspect", str(root), "--reveal"]) == 0
    text = capsys.readouterr().out
    assert f"PATH={token}" in text and "httpd -f -p 8080 -h KEY=abcd" in text
    assert main(["inspect", str(root), "--json", "--mask"]) == 0
    httpd = next(p for p in json.loads(capsys.readouterr().out)["processes"] if p["pid"] == 10)
    assert httpd["env"]["PATH"] == MASK and httpd["cmdline"][-1] == f"KEY={MASK}"
    assert main(["inspect", str(root), "--json"]) == 0
    httpd = next(p for p in json.loads(capsys.readouterr().out)["processes"] if p["pid"] == 10)
    assert httpd["env"]["PATH"] == token and httpd["cmdline"][-1] == "KEY=abcd"


# -- list ----------------------------------------------------------------------------------------
LIST_KEYS = {"path", "container", "id", "image", "engine", "pod", "namespace", "created", "checkpointed",
             "file_size", "kind", "error", "problems"}


def test_list_json_schema_and_checkpointed_times(capsys):
    assert main(["list", str(DATA), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(set(r) == LIST_KEYS for r in rows)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["web-httpd.tar.zst"]["file_size"] == WEB.stat().st_size
    assert by_name["web-httpd.tar.zst"]["container"] == "web"
    # every Podman archive says when it was checkpointed, also those checkpointed within the
    # second their (restored) container was created
    podman = [r for r in rows if r["engine"] == "Podman"]
    assert len(podman) == 9 and all(r["checkpointed"] for r in podman), [r["path"] for r in podman]


def test_list_names_crio_containers_as_inspect_does(crio, capsys):
    assert main(["list", str(crio.parent), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["container"], row["pod"], row["namespace"], row["engine"]) == ("counter", "counters", "default", "CRI-O")
    assert row["path"] == str(crio)
    assert main(["inspect", str(crio), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["container"]["name"] == "counter"
    r = cli("list", str(crio.parent))
    assert "counter" in r.stdout and "k8s_counter" not in r.stdout and "counters / default" in r.stdout


def test_list_exit_codes(tmp_path, capsys):
    assert main(["list", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["list", str(tmp_path / "missing"), str(DATA), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


# -- build and restore ---------------------------------------------------------------------------
def test_build_json_schema(capsys, tmp_path):
    out = tmp_path / "web.oci.tar"
    assert main(["build", str(WEB), "web-ckpt", "--output", str(out), "--json"]) == 0
    cap = capsys.readouterr()
    data = json.loads(cap.out)
    assert set(data) == {"image", "output", "format", "size", "index_digest", "manifest", "config_digest", "image_id",
                         "layer", "architecture", "entries", "annotations", "notes", "loaded"}
    assert (data["image"], data["output"], data["format"]) == ("localhost/web-ckpt:latest", str(out), "oci-archive")
    assert data["size"] == out.stat().st_size and data["loaded"] is None
    assert set(data["manifest"]) == {"digest", "size"} and data["manifest"]["digest"].startswith("sha256:")
    assert set(data["layer"]) == {"digest", "size", "media_type", "diff_id"}
    assert data["annotations"]["org.criu.checkpoint.container.name"] == "web"
    assert data["image_id"] == data["config_digest"].split(":", 1)[1]


RESTORE_KEYS = {"command", "command_line", "tcp_established", "established_connections", "checks", "summary", "ok",
                "kubernetes"}


def test_restore_dry_run_json_schema(capsys, fakebin):  # noqa: F811
    assert main(["restore", str(DATA / "tcp-established.tar.zst"), "--dry-run", "--json", "--name", "c2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == RESTORE_KEYS
    assert data["command"][:3] == ["podman", "container", "restore"] and "--tcp-established" in data["command"]
    assert data["command_line"].split() == data["command"]
    assert (data["tcp_established"], data["established_connections"], data["ok"]) == (True, 1, True)
    assert all(set(c) == {"name", "status", "reason", "fix", "details"} for c in data["checks"])
    assert set(data["summary"]) >= {"pass", "warn", "fail", "info"} and data["kubernetes"] is None
    assert main(["restore", str(WEB), "--json"]) == 2  # --json only with --dry-run
    assert "--dry-run" in capsys.readouterr().err


def test_restore_dry_run_of_a_crio_archive_names_the_kubernetes_path(crio, capsys, fakebin):  # noqa: F811
    main(["restore", str(crio), "--dry-run", "--json"])
    kube = json.loads(capsys.readouterr().out)["kubernetes"]
    assert (kube["container"], kube["pod"], kube["namespace"]) == ("counter", "counters", "default")
    assert kube["annotation"] == "io.kubernetes.cri-o.annotations.checkpoint.name"
    assert kube["steps"][0].startswith(f"ckpt-tui build {crio} ")
    assert "skopeo copy oci-archive:" in kube["steps"][1] and "namespace default" in kube["steps"][2]
    main(["restore", str(crio), "--dry-run"])
    text = capsys.readouterr().out
    assert "kubernetes" in text and f"1. ckpt-tui build {crio}" in text


# -- the parser ----------------------------------------------------------------------------------
def test_help_lists_the_inspectors_options_and_every_commands_common_ones():
    top = cli("--help", columns="100")
    assert top.returncode == 0
    for option in ("--readonly", "--log FILE", "--max-size SIZE", "--cache"):
        assert option in top.stdout, option
    for command in ("inspect", "list", "memsearch", "memdump", "decode", "build", "restore", "diagnose"):
        assert re.search(rf"^\s+{command}\s", top.stdout, re.M), command
        sub = cli(command, "--help", columns="100")
        assert sub.returncode == 0, command
        if command != "list":  # list reads only metadata
            assert "--max-size SIZE" in sub.stdout and "--cache" in sub.stdout, command
        if command not in ("memdump", "decode"):  # decode always prints JSON
            assert "--json" in sub.stdout, command
    ui = cli(str(WEB), "--help", columns="100")
    assert ui.returncode == 0 and "--readonly" in ui.stdout and "[path]" in ui.stdout


def test_common_options_before_or_after_the_command(capsys):
    for argv in (["--max-size", "64K", "inspect", str(WEB), "--json"], ["inspect", str(WEB), "--json", "--max-size", "64K"]):
        assert main(argv) == 0
        problems = json.loads(capsys.readouterr().out)["problems"]
        # the bound applied (told by a member's declared size or by what was inflated)
        assert any("limit of 64.0 KiB" in p["message"] or "stopped after 64.0 KiB" in p["message"]
                   for p in problems), argv
    assert main(["memdump", str(WEB), "--pid", "1", "--address", "0x10", "--max-size", "nonsense"]) == 2
    assert "not a size" in capsys.readouterr().err


def test_the_console_script_and_python_m_run_main():
    assert re.search(r'^ckpt-tui = "ckpt_tui\.cli:main"$', (ROOT / "pyproject.toml").read_text(), re.M)
    r = subprocess.run([sys.executable, "-c", "import ckpt_tui.cli as c, sys; sys.exit(c.main(['--version']))"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ckpt-tui ")
    assert cli("--version").stdout == r.stdout


def test_no_command_opens_the_inspector_with_its_options(monkeypatch, tmp_path):
    import ckpt_tui.app

    calls = []
    monkeypatch.setattr(ckpt_tui.app, "run_app", lambda path, **kw: calls.append((path, kw)) or 0)
    log = tmp_path / "restore.log"
    log.write_text("x")
    assert main([]) == 0
    assert main([str(WEB), "--readonly", "--log", str(log), "--max-size", "1G"]) == 0
    assert main(["--readonly", "--log", str(log), "--max-size", "1G", str(WEB), "--max-entries", "9000"]) == 0
    assert calls[0] == (None, {"log_files": (), "readonly": False, "max_size": None, "masked": False,
                               "compare": None, "max_entries": None})
    assert calls[1] == (str(WEB), {"log_files": [str(log)], "readonly": True, "max_size": 1 << 30,
                                   "masked": False, "compare": None, "max_entries": None})
    assert calls[2] == (str(WEB), {**calls[1][1], "max_entries": 9000})
    assert main([str(tmp_path / "missing.tar")]) == 2 and len(calls) == 3
    assert main(["--masked", str(WEB)]) == 0  # what serve runs
    assert calls[3] == (str(WEB), {"log_files": (), "readonly": False, "max_size": None, "masked": True,
                                   "compare": None, "max_entries": None})
