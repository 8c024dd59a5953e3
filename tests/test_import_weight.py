"""Each command imports what it needs and nothing else (issue #15): which modules a command
loads, asked of a fresh interpreter's ``sys.modules`` after it ran, never how long it took."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SMALL = DATA / "web-httpd.tar.zst"  # a real podman checkpoint, 340 KB

# runs the CLI as `python -m ckpt_tui ARGS` does, then prints the names in sys.modules
_PROBE = (
    "import contextlib, io, json, runpy, sys\n"
    "sys.argv = ['ckpt-tui', *json.loads(sys.argv[1])]\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out):\n"
    "    try:\n"
    "        runpy.run_module('ckpt_tui', run_name='__main__')\n"
    "    except SystemExit as exc:\n"
    "        code = exc.code\n"
    "print(json.dumps({'code': code, 'out': len(out.getvalue()), 'modules': sorted(sys.modules)}))\n"
)


def loaded(*args: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", _PROBE, json.dumps([str(a) for a in args])],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["code"] in (0, 1) and got["out"] > 0, (args, got["code"], r.stderr)
    return set(got["modules"])


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


UI = ("textual", "ckpt_tui.ui", "ckpt_tui.app", "ckpt_tui.widgets", "ckpt_tui.screens")


def under(modules: set[str], *prefixes: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_inspect_json_of_a_small_archive_imports_the_model_and_nothing_to_render():
    mods = loaded("inspect", SMALL, "--json")
    # what it needs: the archive layer with zstd, the CRIU decoder with protobuf, the model
    assert {"zstandard", "google.protobuf.message", "ckpt_tui.criu.images", "ckpt_tui.model.build",
            "ckpt_tui.model.export"} <= mods
    # what it does not: Rich, humanize (the tree's renderings), the UI, the actions, the other
    # commands' modules, the registry client
    assert not under(mods, "rich", "humanize", "urllib3", *UI, "ckpt_tui.actions", "ckpt_tui.cli.render",
                     "ckpt_tui.archive.registry.client")
    assert under(mods, "ckpt_tui.cli") == {"ckpt_tui.cli", "ckpt_tui.cli.common", "ckpt_tui.cli.inspect"}


def test_text_inspect_adds_rich_but_no_ui():
    mods = loaded("inspect", SMALL)
    assert {"rich.console", "ckpt_tui.cli.render"} <= mods
    assert not under(mods, *UI, "ckpt_tui.actions")


@pytest.mark.parametrize("args", [
    ("diagnose", DATA / "logs" / "restore-missing-pages.log"),
    ("host-profile",),
    ("inspect", "--help"),
])
def test_commands_that_read_no_criu_image_import_no_protobuf_nor_zstd(args):
    mods = loaded(*args)
    assert not packages(mods) & {"google", "zstandard", "textual"}, sorted(under(mods, "google", "zstandard"))
    assert not under(mods, "ckpt_tui.criu.pb", "ckpt_tui.criu.images", "ckpt_tui.model.build")


def test_a_command_registers_only_its_own_module_but_help_lists_every_command():
    mods = loaded("decode", SMALL, "core-1.img")
    assert under(mods, "ckpt_tui.cli") == {"ckpt_tui.cli", "ckpt_tui.cli.common", "ckpt_tui.cli.memory"}
    r = subprocess.run([sys.executable, "-m", "ckpt_tui", "--help"], capture_output=True, text=True, cwd=ROOT)
    from ckpt_tui.cli import SUBCOMMANDS

    listed = r.stdout.split("commands:", 1)[1]
    assert all(f"    {name} " in listed or f"    {name}\n" in listed for name in SUBCOMMANDS), listed


def test_importing_the_cli_does_not_import_textual():
    r = subprocess.run([sys.executable, "-c", "import sys, ckpt_tui.cli; print(sorted(m for m in sys.modules "
                        "if m.split('.')[0] in ('textual', 'rich', 'google', 'zstandard')))"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
