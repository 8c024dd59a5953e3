"""What a scan reports: findings with a level, a stable id, where they are, and the waste score.

A finding's ``id`` depends only on what is in the checkpoint (its rule and where it is), so the
same checkpoint gives the same ids on every run and a policy can name one. Secret values are
kept so that they can be revealed on request; every rendering masks them unless asked not to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ...errors import CkptError
from ...model.masking import MASK

Level = Literal["info", "low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("info", "low", "medium", "high", "critical")
Category = Literal["secrets", "processes", "rootfs", "waste"]
CATEGORIES: tuple[Category, ...] = ("secrets", "processes", "rootfs", "waste")

SCHEMA = "ckpt-tui/scan/1"


def level_rank(level: str) -> int:
    """0 for info ... 4 for critical; CkptError naming the levels for anything else."""
    try:
        return [str(x) for x in LEVELS].index(level)
    except ValueError:
        raise CkptError(f"unknown level {level!r} (one of {', '.join(LEVELS)})") from None


@dataclass(frozen=True)
class Where:
    """Where a finding is: a process (and an address in its memory, with the VMA holding it), a
    file of the root FS diff, or the checkpoint as a whole. ``container`` names the container of
    a pod checkpoint."""

    pid: int | None = None
    address: int | None = None
    vma: str = ""  # the VMA's label ([heap], a path, [anon])
    vma_start: int | None = None
    path: str = ""  # a root FS path (absolute) or a process's file
    fd: int | None = None
    name: str = ""  # an environment variable, a socket "TCP :::8080"
    offset: int | None = None  # where in the file, variable or command line
    container: str = ""

    @property
    def key(self) -> str:
        """The part of a finding's id that says where."""
        parts = [f"container={self.container}"] if self.container else []
        if self.pid is not None:
            parts.append(f"pid={self.pid}")
        if self.fd is not None:
            parts.append(f"fd={self.fd}")
        if self.address is not None:
            parts.append(f"{self.address:#x}")
        if self.path:
            parts.append(self.path)
        if self.name:
            parts.append(self.name)
        if self.offset is not None:
            parts.append(f"+{self.offset}")
        return ":".join(parts)

    @property
    def process(self) -> str:
        """``pid 1``, ``pid 1 in container web`` (a pod's)."""
        return f"pid {self.pid}" + (f" in container {self.container}" if self.container else "")

    def text(self) -> str:
        """For people: ``pid 1 0x7f3a2c001000 ([heap] +0x1000)``, ``/etc/motd``."""
        out = []
        if self.container:
            out.append(f"container {self.container}")
        if self.pid is not None:
            out.append(f"pid {self.pid}")
        if self.fd is not None:
            out.append(f"fd {self.fd}")
        if self.address is not None:
            addr = f"{self.address:#x}"
            if self.vma:
                rel = f" +{self.address - self.vma_start:#x}" if self.vma_start is not None else ""
                addr += f" ({self.vma}{rel})"
            out.append(addr)
        if self.name:
            out.append(self.name)
        if self.path:
            out.append(self.path)
        return " ".join(out) or "the checkpoint"

    def to_json(self) -> dict:
        out: dict = {}
        for key in ("container", "pid", "fd", "name", "path", "offset", "vma"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.address is not None:
            out["address"] = f"{self.address:#x}"
        if self.vma_start is not None:
            out["vma_start"] = f"{self.vma_start:#x}"
        return out


@dataclass(frozen=True)
class Link:
    """Where a finding can be looked at: ``hex`` (a process's memory at an address), ``file`` (a
    file of the root FS diff), ``process`` (a process's details)."""

    kind: Literal["hex", "file", "process"]
    pid: int | None = None
    address: int | None = None
    path: str = ""
    container: str = ""


@dataclass(frozen=True)
class Finding:
    """One thing that deserves a look.

    ``title`` and ``detail`` never hold a secret value: it is in ``value`` and shown only when
    revealed (``{value}`` in them stands for it, masked or not)."""

    rule: str
    category: Category
    level: Level
    title: str
    where: Where = field(default_factory=Where)
    detail: str = ""
    value: str = ""  # a secret's value ("" when the finding is no secret)
    secret_rule: str = ""  # the masking rule that found it (masking.SecretRule.id)
    size: int = 0  # bytes a waste finding accounts for
    count: int = 1  # occurrences (copies of a secret in memory, pages, files)
    also: tuple[Where, ...] = ()  # further places of the same thing (at most ALSO_KEPT)
    link: Link | None = None

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.where.key}" if self.where.key else self.rule

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level)

    def shown_value(self, reveal: bool = False) -> str:
        return self.value if reveal else (MASK if self.value else "")

    def text(self, reveal: bool = False) -> str:
        return self.title.replace("{value}", self.shown_value(reveal))

    def detail_text(self, reveal: bool = False) -> str:
        return self.detail.replace("{value}", self.shown_value(reveal))

    def to_json(self, reveal: bool = False) -> dict:
        out: dict = {"id": self.id, "rule": self.rule, "category": self.category, "level": self.level,
                     "title": self.text(reveal), "where": self.where.to_json()}
        if self.detail:
            out["detail"] = self.detail_text(reveal)
        if self.value:
            out["value"] = self.shown_value(reveal)
            out["masked"] = not reveal
        if self.secret_rule:
            out["secret_rule"] = self.secret_rule
        if self.size:
            out["bytes"] = self.size
        if self.count != 1:
            out["count"] = self.count
        if self.also:
            out["also"] = [w.to_json() for w in self.also]
        return out


ALSO_KEPT = 50  # further places kept per finding (``count`` says how many there are)


@dataclass
class WasteItem:
    """One line of the waste list: what, how many bytes, where."""

    rule: str
    title: str
    size: int
    where: Where = field(default_factory=Where)

    def to_json(self) -> dict:
        return {"rule": self.rule, "title": self.title, "bytes": self.size, "where": self.where.to_json()}


@dataclass
class Waste:
    """Like dive's efficiency score: the share of the checkpoint's bytes that are not waste.

    ``total``: the bytes the checkpoint holds (its CRIU images and the root FS diff); ``wasted``:
    bytes of zero-filled pages, of dumped read-only file mappings, of logs and caches in the root
    FS diff, and of pages another page already holds; ``items`` ranked, largest first."""

    total: int = 0
    wasted: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    items: list[WasteItem] = field(default_factory=list)
    memory_scanned: bool = True

    @property
    def score(self) -> float:
        return 1.0 if self.total <= 0 else max(0.0, 1.0 - self.wasted / self.total)

    def to_json(self) -> dict:
        return {"score": round(self.score, 4), "total_bytes": self.total, "wasted_bytes": self.wasted,
                "by_rule": dict(sorted(self.by_rule.items())), "memory_scanned": self.memory_scanned,
                "items": [i.to_json() for i in self.items]}


@dataclass
class Report:
    """A scan's result: findings most serious first, the waste score, and what kept the scan from
    seeing everything."""

    findings: list[Finding] = field(default_factory=list)
    waste: Waste = field(default_factory=Waste)
    limits: list[str] = field(default_factory=list)  # e.g. "memory not scanned (--no-memory)"
    name: str = ""
    path: str = ""

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (-f.rank, CATEGORIES.index(f.category), f.id))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(LEVELS, 0)
        for f in self.findings:
            out[f.level] += 1
        return out

    def to_json(self, fail_on: str = "high", reveal: bool = False) -> dict:
        failing = at_or_above(self.findings, fail_on)
        return {
            "schema": SCHEMA,
            "checkpoint": {"name": self.name, "path": self.path},
            "summary": {"findings": len(self.findings), "by_level": self.counts(),
                        "by_category": {c: sum(1 for f in self.findings if f.category == c) for c in CATEGORIES},
                        "fail_on": fail_on, "failing": len(failing)},
            "waste": self.waste.to_json(),
            "findings": [f.to_json(reveal) for f in self.findings],
            "limits": list(self.limits),
        }


def at_or_above(findings: Iterable[Finding], level: str) -> list[Finding]:
    """The findings at ``level`` or above: what a policy of "no findings above X" refuses
    (``scan --fail-on``, and ``check --rules``)."""
    rank = level_rank(level)
    return [f for f in findings if f.rank >= rank]
