"""Terminal injection (#19): strings from a checkpoint reach the CLI's output escaped, and Rich
markup in them is data, in every command, piped or on a terminal.

The hostile checkpoint is derived from the real ``web-httpd`` fixture (tests/corpus.py style):
escape sequences and markup are planted in the container's name, image, hostname and a mount
(config.dump / spec.dump), in the environment and command line (the bytes in ``pages-*.img``,
same length), in a process's ``comm`` and an open file's name (re-encoded with the project's
image writer), in file names of ``rootfs-diff.tar`` (one with ``../``), in a CRIU log, and in
the archive's own file name.
"""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .conftest import LOGS
from .corpus import load_img, save_img, unpack
from .test_actions_cli import fakebin  # noqa: F401  (the fake podman/criu on PATH)

ESC_TITLE = "\x1b]0;pwned\x07"  # sets the terminal title
ESC_CLEAR = "\x1b[2J"
MARKUP = "[bold][/][link=http://x]"


def _replace_in_pages(root: Path, old: bytes, new: bytes) -> int:
    assert len(old) == len(new)
    n = 0
    for pages in (root / "checkpoint").glob("pages-*.img"):
        raw = pages.read_bytes()
        n += raw.count(old)
        pages.write_bytes(raw.replace(old, new))
    return n


def plant(root: Path, log: Path) -> None:
    config = json.loads((root / "config.dump").read_text())
    config["name"] = f"web{ESC_TITLE}[/]"
    config["rootfsImageName"] = f"localhost/{MARKUP}{ESC_CLEAR}:latest"
    (root / "config.dump").write_text(json.dumps(config))
    spec = json.loads((root / "spec.dump").read_text())
    spec["hostname"] = f"host{ESC_CLEAR}[red]"
    spec.setdefault("mounts", []).append({"destination": f"/mnt/{ESC_TITLE}[/]", "type": "bind",
                                          "source": f"/src{ESC_CLEAR}", "options": ["rbind"]})
    (root / "spec.dump").write_text(json.dumps(spec))
    # environment and argv live in the pages: same-length replacements
    value = b"\x1b]0;t\x07[/][b]xy"  # 14 bytes, like "hello-from-web"
    assert _replace_in_pages(root, b"GREETING=hello-from-web", b"GREETING=" + value) == 3
    assert _replace_in_pages(root, b"-h\x00/var/www", b"[/]\x1b[2J[b]z") == 1
    core = load_img(root, "core-10.img")
    core.entries[0].message.tc.comm = "ht\x1b[5m[/]"
    save_img(root, "core-10.img", core)
    files = load_img(root, "files.img")
    for e in files.entries:
        if e.message.HasField("reg") and e.message.reg.name == "/dev/null":
            e.message.reg.name = f"/dev/{ESC_CLEAR}null[/]"
    save_img(root, "files.img", files)
    with tarfile.open(root / "rootfs-diff.tar", "a") as tar:
        for name in (f"etc/{ESC_TITLE}evil[/]", "[bold]x[/bold].txt", f"../{ESC_CLEAR}up"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    text = LOGS.joinpath("restore-missing-pages.log").read_text()
    log.write_text(text.replace("Failed getting raw image fd", f"Failed {ESC_TITLE} getting [/] raw image fd"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hostile")
    root = unpack("web-httpd.tar.zst", base / "root")
    log = base / f"restore{ESC_CLEAR}.log"
    plant(root, log)
    listed = base / "listed"
    listed.mkdir()
    archive = listed / f"ck{ESC_TITLE}[bold].tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive, log


def _cli(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], stdout=stdout or subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120, env=env)


def _commands(archive: Path, log: Path, tmp: Path) -> list[list[str]]:
    a = str(archive)
    return [
        ["inspect", a], ["inspect", a, "--reveal"], ["inspect", a, "--json"], ["inspect", a, "--log", str(log)],
        ["list", str(archive.parent)], ["list", str(archive.parent), "--json"],
        ["memsearch", a, "GREETING"], ["memsearch", a, "GREETING", "--json"], ["memsearch", a, "[/]"],
        ["memsearch", a, "\x1b", "--context", "64"],
        ["memdump", a, "--pid", "10", "--address", "0", "--length", "16"],  # an error that names no string
        ["decode", a, "core-10.img"], ["decode", a, "files.img"], ["decode", a, f"{ESC_TITLE}.img"],
        ["build", a, "localhost/hostile:1", "--output", str(tmp / "h.oci.tar")],
        ["build", a, "localhost/hostile:1", "--output", str(tmp / "h2.oci.tar"), "--json"],
        ["restore", a, "--dry-run"], ["restore", a, "--dry-run", "--json"],
        ["diagnose", str(log), "--checkpoint", a], ["diagnose", str(log), "--json"],
    ]


def test_no_escape_byte_reaches_stdout_or_stderr(hostile, tmp_path, fakebin):  # noqa: F811
    archive, log = hostile
    for argv in _commands(archive, log, tmp_path):
        r = _cli(*argv)
        label = f"{argv[0]} {' '.join(argv[2:])!r}"
        assert r.returncode in (0, 1, 2), (label, r.returncode, r.stderr)
        assert b"Traceback" not in r.stderr, (label, r.stderr.decode(errors="replace"))
        assert b"\x1b" not in r.stdout, (label, r.stdout[:2000])
        assert b"\x1b" not in r.stderr, (label, r.stderr[:2000])
        assert b"\x07" not in r.stdout + r.stderr, label


def test_escapes_and_markup_are_shown_as_data(hostile, fakebin):  # noqa: F811
    archive, log = hostile
    out = _cli("inspect", str(archive), "--reveal").stdout.decode()
    assert "web\\x1b]0;pwned\\x07[/]" in out  # the container's name, escaped, its brackets literal
    assert f"localhost/{MARKUP}\\x1b[2J:latest" in out  # the image: markup printed as is
    assert "GREETING=\\x1b]0;t\\x07[/][b]xy" in out  # an environment value
    assert "[/]\\x1b[2J[b]z" in out  # the command line
    assert "/dev/\\x1b[2Jnull[/]" in out  # an open file
    assert "etc/\\x1b]0;pwned\\x07evil[/]" in out and "[bold]x[/bold].txt" in out  # root FS diff names
    assert "/mnt/\\x1b]0;pwned\\x07[/]" in out  # a mount
    listed = _cli("list", str(archive.parent)).stdout.decode()
    assert "ck\\x1b]0;pwned\\x07[bold].tar" in listed and "web\\x1b]0;pwned\\x07[/]" in listed
    restore = _cli("restore", str(archive), "--dry-run").stdout.decode()
    # the command as a shell reads it: bash's $'...' quoting for the control bytes
    assert "$'" in restore and "\\x1b]0;pwned\\x07[bold].tar'" in restore
    diag = _cli("diagnose", str(log)).stdout.decode()
    assert "Failed \\x1b]0;pwned\\x07 getting [/] raw image fd" in diag
    data = json.loads(_cli("inspect", str(archive), "--json").stdout)
    assert data["container"]["name"] == f"web{ESC_TITLE}[/]"  # JSON carries the value, \u001b-escaped


def test_a_terminal_gets_no_planted_sequence(hostile):
    """On a terminal Rich styles the output with its own sequences; none from the checkpoint."""
    archive, _log = hostile
    for argv in (["inspect", str(archive), "--reveal"], ["memsearch", str(archive), "GREETING"],
                 ["list", str(archive.parent)]):
        leader, follower = pty.openpty()
        try:
            env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
            env.update(TERM="xterm-256color", COLUMNS="100", LINES="40")
            proc = subprocess.Popen([sys.executable, "-m", "ckpt_tui", *argv], stdout=follower,
                                    stderr=subprocess.PIPE, env=env)
            os.close(follower)
            follower = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            _out, err = proc.communicate(timeout=120)
        finally:
            os.close(leader)
            if follower >= 0:
                os.close(follower)
        shown = b"".join(chunks)
        assert proc.returncode == 0, err
        assert shown, argv
        for planted in (b"\x1b]0;", b"\x1b[2J", b"\x1b[5m", b"\x07"):
            assert planted not in shown, (argv, planted)
