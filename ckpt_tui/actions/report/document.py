"""The report as a plain document — sections of facts, tables and text — that the HTML and
Markdown writers both write, so the two always say the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass
class Facts:
    """Name/value pairs (a definition list)."""

    items: list[tuple[str, str]]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    status_column: int | None = None  # a column whose cells are pass/warn/fail/info (coloured in HTML)
    note: str = ""  # said under the table (e.g. how many rows were left out)


@dataclass
class Para:
    text: str
    status: str = ""  # "" | "pass" | "warn" | "fail" | "info": a verdict line


@dataclass
class Pre:
    """Text shown as it is (a log excerpt, a multi-line command), in a fixed-width block."""

    text: str
    caption: str = ""


Block = Union[Facts, Table, Para, Pre]


@dataclass
class Section:
    id: str  # the anchor (unique in the document)
    title: str
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)

    def add(self, block: Block) -> Section:
        self.blocks.append(block)
        return self

    def walk(self, depth: int = 0):
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)
    masked: bool = True  # secrets masked (False: --reveal)
    generator: str = ""

    def walk(self):
        for section in self.sections:
            yield from section.walk()

    def text(self) -> str:
        """Every word of the document as plain text (tests, search)."""
        out = [self.title, self.subtitle]
        for _depth, section in self.walk():
            out.append(section.title)
            for block in section.blocks:
                if isinstance(block, Facts):
                    out += [f"{k}: {v}" for k, v in block.items]
                elif isinstance(block, Table):
                    out.append(" | ".join(block.headers))
                    out += [" | ".join(row) for row in block.rows]
                    out.append(block.note)
                elif isinstance(block, Para):
                    out.append(block.text)
                else:
                    out += [block.caption, block.text]
        return "\n".join(out)
