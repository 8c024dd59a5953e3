"""The layers stay apart: nothing below the UI imports Textual, and the CLI starts without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts():
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else ["lint-imports"]
    r = subprocess.run([*cmd, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout and "BROKEN" not in r.stdout


def test_cli_and_lower_layers_do_not_load_textual():
    code = (
        "import sys, ckpt_tui.cli, ckpt_tui.model, ckpt_tui.actions, ckpt_tui.archive, ckpt_tui.criu; "
        "from ckpt_tui.cli import build_parser; build_parser(); "
        "print('textual' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr


def test_inspect_json_does_not_load_textual(tmp_path):
    code = (
        "import sys, io, contextlib; from ckpt_tui.cli import main; "
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf): main(['inspect', sys.argv[1], '--json'])\n"
        "print('textual' in sys.modules, file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests/data/ps-tree.tar.gz")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.stderr.strip().endswith("False"), r.stderr


def _cycles(graph, modules: set[str]) -> list[list[str]]:
    """The import cycles (strongly connected components of two or more) among ``modules``."""
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycles_in_the_model_or_the_cache():
    """Lower modules never import upper ones, not even lazily or for type checking."""
    import grimp

    graph = grimp.build_graph("ckpt_tui")
    model = {m for m in graph.modules if m.startswith("ckpt_tui.model")}
    cache = {"ckpt_tui.archive.cache", "ckpt_tui.archive.cachedir", "ckpt_tui.archive.results"}
    assert _cycles(graph, model) == []
    assert _cycles(graph, cache) == []
