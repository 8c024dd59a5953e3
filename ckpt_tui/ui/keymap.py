"""The user's keymap: ``$XDG_CONFIG_HOME/ckpt-tui/keymap.toml`` (default ``~/.config``), binding
id -> keys, applied with Textual's keymap (``App.set_keymap``).

The file maps a binding id to a key or a list of keys; dotted TOML tables work too::

    "app.quit" = "ctrl+q"
    "main.search" = ["s", "f3"]

    [files]
    sort = "s"          # the same as "files.sort" = "s"

A file that cannot be read, is no TOML, or names unknown ids is never fatal: ``load_keymap``
returns what it could use and the problems in words, which the App shows as a notification.
``bindings()`` lists every binding of the project's own screens and widgets by id (the README's
table is checked against it, ``python -m ckpt_tui.ui.keymap`` prints that table).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MODULES = ("ckpt_tui.ui.app", "ckpt_tui.screens", "ckpt_tui.widgets")


def keymap_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the keymap is read from: ``$XDG_CONFIG_HOME/ckpt-tui/keymap.toml``, else ``~/.config/...``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "ckpt-tui" / "keymap.toml"


@dataclass(frozen=True)
class BindingInfo:
    """One binding of the project's own: its id, default keys, words, and where it applies."""

    id: str
    keys: str
    description: str
    where: str


def bindings() -> dict[str, BindingInfo]:
    """Every binding with an id in the app, its screens and widgets, by id (in module order)."""
    found: dict[str, BindingInfo] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        modules = [module]
        if hasattr(module, "__path__"):
            modules += [importlib.import_module(info.name)
                        for info in pkgutil.iter_modules(module.__path__, module.__name__ + ".")]
        for mod in modules:
            for _name, cls in inspect.getmembers(mod, inspect.isclass):
                if cls.__module__ != mod.__name__ or not issubclass(cls, DOMNode) or "BINDINGS" not in cls.__dict__:
                    continue
                where = getattr(cls, "BINDING_GROUP_TITLE", None) or cls.__name__
                for binding in Binding.make_bindings(cls.__dict__["BINDINGS"]):
                    if binding.id is None:
                        continue
                    known = found.get(binding.id)
                    keys = binding.key if known is None else f"{known.keys},{binding.key}"
                    found[binding.id] = BindingInfo(binding.id, keys, binding.tooltip or binding.description, where)
    return found


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def parse_keymap(text: str, known: set[str]) -> tuple[dict[str, str], list[str]]:
    """(binding id -> comma-separated keys, problems) from the text of a keymap file."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [f"not valid TOML: {exc}"]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    unknown: list[str] = []
    for binding_id, value in _flatten(document).items():
        if binding_id not in known:
            unknown.append(binding_id)
            continue
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k.strip() for k in keys):
            problems.append(f"{binding_id}: give a key or a list of keys (\"ctrl+q\" or [\"q\", \"f10\"])")
            continue
        if any(" " in k.strip() or "," in k for k in keys):
            problems.append(f"{binding_id}: one key per string, no spaces or commas ({value!r})")
            continue
        keymap[binding_id] = ",".join(k.strip() for k in keys)
    if unknown:
        problems.append("unknown binding ids: " + ", ".join(sorted(unknown)) + " (the README lists the ids)")
    return keymap, problems


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The user's keymap and what was wrong with it; ({}, []) when there is no file."""
    path = keymap_path() if path is None else path
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"cannot be read: {exc}"]
    return parse_keymap(text, set(bindings()))


def markdown_table() -> str:
    """The README's table of binding ids: id, default keys, what it does, where."""
    lines = ["| id | keys | does | where |", "| --- | --- | --- | --- |"]
    for info in bindings().values():
        keys = " ".join(f"`{k.strip()}`" for k in info.keys.split(","))
        lines.append(f"| `{info.id}` | {keys} | {info.description} | {info.where} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(markdown_table())
