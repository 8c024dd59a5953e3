"""Screens and widgets read the UI state from the typed session they are given (the behaviour
is pinned by tests/test_ui_session.py); none of them probes the App for it by name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "ckpt_tui"
UI_MODULES = sorted([*ROOT.glob("screens/*.py"), *ROOT.glob("widgets/*.py"), ROOT / "commands.py"])


def probes_of_the_app(path: Path) -> list[str]:
    """``getattr(<...>.app, ...)`` / ``hasattr(<...>.app, ...)`` calls (and on a name ``app``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr") and node.args):
            continue
        target = node.args[0]
        if (isinstance(target, ast.Attribute) and target.attr == "app") or (
                isinstance(target, ast.Name) and target.id == "app"):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_check_finds_a_probe(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(self):\n    return getattr(self.app, 'checkpoint', None) or hasattr(app, 'x')\n")
    assert len(probes_of_the_app(sample)) == 2


def test_no_screen_or_widget_probes_the_app_for_state():
    assert len(UI_MODULES) > 15
    offenders = [hit for path in UI_MODULES for hit in probes_of_the_app(path)]
    assert offenders == []
