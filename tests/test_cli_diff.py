"""``ckpt-tui diff`` (issue #13): exit codes, markers readable without colour, output for
scripts, --only, --show-unchanged, --json, masking, and no Textual."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ckpt_tui.cli import main
from ckpt_tui.model.masking import MASK

from .conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
A = str(DATA / "turn2" / "diff-a1.tar.zst")
B = str(DATA / "turn2" / "diff-a2.tar.zst")


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_exit_codes_and_markers():
    r = cli("diff", A, B)
    assert r.returncode == 1, r.stderr
    out = r.stdout
    assert "\x1b[" not in out  # piped: no colour, no control bytes
    for line in ("+ [20] sleep 222222", "- [9] sleep 111111", "+ [21] nc -l -p 9090", "~ /data/modify-me.txt",
                 "- /var/www/index.html", "+ NEW_CHILD_ENV=phase-two", "+ fd 6  REG /tmp/new-fd.txt",
                 "- fd 5  REG /tmp/old-fd.txt  (closed)", "+ TCP :::9090 (LISTEN)  fd 4  (new listener)",
                 "~ memory pages: 204.0 KiB -> 4.1 MiB (+3.9 MiB)"):
        assert line in out, line
    # never wrapped or cut for a script: pid 1's whole command line on one line
    (argv,) = [x for x in out.splitlines() if "[1] sh -c" in x]
    assert argv.endswith("wait") and "\\x0a" in argv
    same = cli("diff", A, A)
    assert same.returncode == 0, same.stderr
    assert "Processes  unchanged (3)" in same.stdout
    missing = cli("diff", A, "/nonexistent/ckpt.tar")
    assert missing.returncode == 2 and missing.stderr.startswith("ckpt-tui: error:") and "Traceback" not in missing.stderr
    bad = cli("diff", A, B, "--only", "processes,bogus")
    assert bad.returncode == 2 and "bogus" in bad.stderr


def test_only_and_show_unchanged():
    r = cli("diff", A, B, "--only", "files", "--show-unchanged")
    assert r.returncode == 1
    assert "Processes" not in r.stdout and "Metadata" not in r.stdout
    assert "  /data/keep.txt  file, 5 B, 0644" in r.stdout  # unchanged, listed
    same = cli("diff", A, B, "--only", "mounts")
    assert same.returncode == 0  # the mounts did not change


def test_json():
    r = cli("diff", A, B, "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["schema"] == 1 and doc["same"] is False
    assert doc["summary"]["processes"] == {"added": 2, "removed": 1, "modified": 1, "unchanged": 1}
    procs = {n["key"]: n for n in doc["sections"]["processes"]["children"]}
    assert procs["20"]["status"] == "added" and "8" not in procs  # unchanged left out
    full = json.loads(cli("diff", A, B, "--json", "--show-unchanged", "--only", "processes").stdout)
    assert list(full["sections"]) == ["processes"]
    assert {n["key"] for n in full["sections"]["processes"]["children"]} == {"1", "8", "9", "20", "21"}


def test_secrets(tmp_path):
    from . import diffkit as kit
    from .corpus import load_img

    a = kit.derive("ps-tree.tar.gz", tmp_path / "a")
    b = shutil.copytree(a, tmp_path / "b")
    mm = load_img(b, "mm-11.img").entries[0].message
    env = kit.read_memory(b, 11, mm.mm_env_start, mm.mm_env_end - mm.mm_env_start)
    kit.write_memory(b, 11, mm.mm_env_start + env.index(b"hunter2"), b"hunter3")
    text = cli("diff", str(a), str(b)).stdout
    assert f"DB_PASSWORD: {MASK} -> {MASK}" in text and "hunter" not in text
    assert "DB_PASSWORD: hunter2 -> hunter3" in cli("diff", str(a), str(b), "--reveal").stdout
    assert "hunter3" in cli("diff", str(a), str(b), "--json").stdout
    masked = cli("diff", str(a), str(b), "--json", "--mask").stdout
    assert "hunter" not in masked and MASK.encode("unicode_escape").decode() in masked


def _pty(args: list[str], env: dict) -> str:
    """The output of the CLI on a terminal."""
    import pty

    code = "import sys; from ckpt_tui.cli import main; sys.exit(main(sys.argv[1:]))"
    out = bytearray()
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ.update(env)
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, [sys.executable, "-c", code, *args])
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pty")
def test_colour_on_a_terminal_and_no_color():
    coloured = _pty(["diff", A, B, "--only", "processes"], {"TERM": "xterm-256color", "COLUMNS": "200"})
    assert "\x1b[" in coloured and "+ [20] sleep 222222" in coloured
    plain = _pty(["diff", A, B, "--only", "processes"], {"TERM": "xterm-256color", "COLUMNS": "200", "NO_COLOR": "1"})
    assert "+ [20] sleep 222222" in plain and "- [9] sleep 111111" in plain
    assert "\x1b[3" not in plain and "\x1b[9" not in plain  # no colour; the markers say it


def test_diff_does_not_load_textual():
    code = ("import sys, io, contextlib; from ckpt_tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['diff', sys.argv[1], sys.argv[2]])\n"
            "print(rc, 'textual' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, A, B], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.split() == ["1", "False"], r.stderr


def test_main_in_process(capsys):
    assert main(["diff", A, A, "--only", "sizes"]) == 0
    assert "Sizes  unchanged (4)" in capsys.readouterr().out


def test_two_paths_open_the_inspector_on_the_diff(monkeypatch):
    import ckpt_tui.app

    calls = []
    monkeypatch.setattr(ckpt_tui.app, "run_app", lambda path, **kw: calls.append((path, kw)) or 0)
    assert main([A, B, "--readonly"]) == 0
    assert calls == [(A, {"log_files": (), "readonly": True, "max_size": None, "masked": False, "compare": B,
                          "max_entries": None})]
    assert main([A, "/nonexistent/b.tar"]) == 2 and len(calls) == 1


def test_layers_of_a_chain(tmp_path):
    """A pre-dump chain derived from a real dump (tests/diffkit.make_chain)."""
    from . import diffkit as kit

    chain = kit.derive("web-httpd.tar.zst", tmp_path / "chain")
    kit.make_chain(chain, 10, rewrite=1)
    r = cli("diff", str(chain), str(chain), "--only", "layers")
    assert r.returncode == 0, r.stderr  # layers describe; they never differ
    out = r.stdout
    assert "Dump chain (layers)" in out and "A  (2 dumps)" in out
    assert "~ [10] httpd -f -p 8080 -h /var/www: wrote 1 (0 new, 1 rewritten), 14 from parent, provides 1" in out
    assert "+ pre-checkpoint (pre-dump 1 of 1)" in out
    doc = json.loads(cli("diff", str(chain), str(chain), "--only", "layers", "--json").stdout)
    (side,) = doc["sections"]["layers"]["children"]
    final, pre = side["children"]
    assert (final["dump"], pre["dump"]) == ("checkpoint", "pre-checkpoint")
    assert pre["pages"]["provides"] == 14
