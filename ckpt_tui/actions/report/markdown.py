"""The report as Markdown for an issue (GitHub-flavoured: tables, fenced blocks; long tables and
logs folded in ``<details>``)."""

from __future__ import annotations

import re

from ...text import safe
from .document import Block, Document, Facts, Para, Section, Table

FOLD_ROWS = 25  # a table longer than this is folded
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
STATUS = {"pass": "✅ ok", "warn": "⚠️ warn", "fail": "❌ **FAIL**", "info": "ℹ️ info"}
VERDICT = {"pass": "✅", "warn": "⚠️", "fail": "❌", "info": "ℹ️"}


def md(value: str) -> str:
    """Text for a Markdown line or cell: control characters escaped, Markdown's own characters
    taken literally, line breaks as ``<br>``."""
    return "<br>".join(_SPECIAL.sub(r"\\\1", safe(part, keep_backslashes=True)) for part in str(value).split("\n"))


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _fold(summary: str, body: str) -> str:
    return f"<details><summary>{md(summary)}</summary>\n\n{body}\n\n</details>"


def _block(block: Block) -> str:
    if isinstance(block, Facts):
        return "\n".join(f"- **{md(k)}:** {md(v)}" for k, v in block.items)
    if isinstance(block, Table):
        lines = ["| " + " | ".join(md(h) for h in block.headers) + " |", "|" + "---|" * len(block.headers)]
        for row in block.rows:
            cells = [STATUS.get(c, md(c)) if i == block.status_column else md(c) for i, c in enumerate(row)]
            lines.append("| " + " | ".join(cells) + " |")
        out = "\n".join(lines) + (f"\n\n_{md(block.note)}_" if block.note else "")
        if len(block.rows) > FOLD_ROWS:
            return _fold(f"{block.headers[0]}: {len(block.rows)} rows", out)
        return out
    if isinstance(block, Para):
        return f"{VERDICT.get(block.status, '')} **{md(block.text)}**" if block.status else md(block.text)
    text = "\n".join(safe(line, keep_backslashes=True) for line in block.text.split("\n"))
    fence = _fence(text)
    return _fold(block.caption or "text", f"{fence}\n{text}\n{fence}")


def _section(section: Section, depth: int) -> str:
    parts = [f"{'#' * min(6, depth + 2)} {md(section.title)}"]
    parts += [_block(b) for b in section.blocks]
    parts += [_section(c, depth + 1) for c in section.children]
    return "\n\n".join(parts)


def render_markdown(doc: Document) -> str:
    masked = "Secrets are masked." if doc.masked else "Written with --reveal: **secrets are shown**."
    head = f"# {md(doc.title)}\n\n{md(doc.subtitle)} — {masked} _Written by {md(doc.generator)}._"
    return head + "\n\n" + "\n\n".join(_section(s, 0) for s in doc.sections) + "\n"
