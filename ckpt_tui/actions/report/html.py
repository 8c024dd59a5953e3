"""The report as one self-contained HTML file: its style inline, no script, no reference to
anything outside the file (a Content-Security-Policy says so to the browser too), and a print
style (tables whose header repeats on each page, no rows cut in two, no backgrounds needed)."""

from __future__ import annotations

import html

from ...text import safe
from .document import Block, Document, Facts, Para, Section, Table

#: the browser may load nothing: not a style, an image, a font, a frame, a script or a connection
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
STATUS_WORD = {"pass": "ok", "warn": "warn", "fail": "FAIL", "info": "info"}

CSS = """
:root { --fg: #1d2125; --dim: #5b6570; --line: #d4d9de; --head: #f1f3f5; --ok: #1a7f37; --warn: #9a6700;
        --fail: #cf222e; --info: #0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; padding: 1.5em 2em 3em; max-width: 78em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid var(--line); padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
h4, h5, h6 { font-size: 1em; margin-top: 1.2em; }
.sub, .note, figcaption, .tnote, footer { color: var(--dim); }
.note { font-size: .92em; }
nav.toc ol { columns: 2; margin: .3em 0; padding-left: 1.4em; }
nav.toc a { color: var(--info); text-decoration: none; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1.2em; margin: .6em 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .6em 0; width: 100%; font-size: .92em; }
th, td { border: 1px solid var(--line); padding: .25em .5em; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
thead th { background: var(--head); }
td.mono, pre, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
pre { background: var(--head); border: 1px solid var(--line); padding: .6em .8em; white-space: pre-wrap;
      overflow-wrap: anywhere; margin: .3em 0 .8em; }
figure { margin: .6em 0; }
.st { font-weight: 700; white-space: nowrap; }
.st-pass { color: var(--ok); } .st-warn { color: var(--warn); } .st-fail { color: var(--fail); }
.st-info { color: var(--info); }
p.verdict { font-size: 1.15em; font-weight: 700; border-left: 6px solid currentColor; padding: .3em .7em; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  nav.toc { break-after: page; }
  h2 { break-after: avoid; }
  h3, h4 { break-after: avoid; }
  thead { display: table-header-group; }
  tr, dl.facts, p.verdict { break-inside: avoid; }
  pre { max-height: none; border-color: #999; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 14mm 12mm; }
"""


def _t(value: str) -> str:
    """A string for HTML: control characters escaped (as the CLI writes them), then HTML-escaped."""
    return html.escape(safe(str(value), keep_backslashes=True), quote=True)


def _lines(value: str) -> str:
    return "\n".join(_t(part) for part in str(value).split("\n"))


def _status(status: str) -> str:
    return f'<span class="st st-{_t(status)}">{_t(STATUS_WORD.get(status, status))}</span>'


def _block(block: Block) -> str:
    if isinstance(block, Facts):
        items = "".join(f"<dt>{_t(k)}</dt><dd>{_lines(v)}</dd>" for k, v in block.items)
        return f'<dl class="facts">{items}</dl>'
    if isinstance(block, Table):
        head = "".join(f"<th>{_t(h)}</th>" for h in block.headers)
        rows = []
        for row in block.rows:
            cells = []
            for i, cell in enumerate(row):
                if i == block.status_column:
                    cells.append(f"<td>{_status(cell)}</td>")
                else:
                    cells.append(f"<td>{_lines(cell)}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        note = f'<p class="tnote">{_t(block.note)}</p>' if block.note else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"
    if isinstance(block, Para):
        if block.status:
            return f'<p class="verdict st-{_t(block.status)}">{_status(block.status)} {_lines(block.text)}</p>'
        return f"<p>{_lines(block.text)}</p>"
    caption = f"<figcaption>{_t(block.caption)}</figcaption>" if block.caption else ""
    return f"<figure>{caption}<pre>{_lines(block.text)}</pre></figure>"


def _section(section: Section, depth: int) -> str:
    level = min(6, depth + 2)
    body = "".join(_block(b) for b in section.blocks)
    kids = "".join(_section(c, depth + 1) for c in section.children)
    return f'<section id="{_t(section.id)}"><h{level}>{_t(section.title)}</h{level}>{body}{kids}</section>\n'


def _toc(doc: Document) -> str:
    items = []
    for section in doc.sections:
        sub = "".join(f'<li><a href="#{_t(c.id)}">{_t(c.title)}</a></li>' for c in section.children
                      if section.id.startswith("c") and section.id[1:].isdigit())
        sub = f"<ol>{sub}</ol>" if sub else ""
        items.append(f'<li><a href="#{_t(section.id)}">{_t(section.title)}</a>{sub}</li>')
    return f'<nav class="toc"><h2>Contents</h2><ol>{"".join(items)}</ol></nav>'


def render_html(doc: Document) -> str:
    masked = ("Secrets are masked (secret-looking environment values, tokens, keys and passwords in command lines "
              "and logs): written with --reveal they would be shown." if doc.masked else
              "Written with --reveal: secrets are shown. Do not share this file.")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{_t(doc.generator)}">\n'
        f"<title>{_t(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header><h1>{_t(doc.title)}</h1><p class="sub">{_t(doc.subtitle)}</p>'
        f'<p class="note">{_t(masked)}</p></header>\n'
        f"{_toc(doc)}\n<main>\n{''.join(_section(s, 0) for s in doc.sections)}</main>\n"
        f'<footer><p>Written by {_t(doc.generator)}.</p></footer>\n</body>\n</html>\n'
    )
