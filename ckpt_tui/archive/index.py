"""The index of one source: member names made safe, and what one ``open_source`` call
records as it indexes (:class:`Context`: bounds, problems, spills).

An :class:`Index` maps normalised member names to :class:`Member` records and to a
:class:`~.ref.Ref` saying where the bytes are (in memory, a range of the original tar,
a spill file in the workspace, or a real file of a directory source). The passes that fill
it are in :mod:`.passes`.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CkptError, Pane, Problem, Severity
from .ref import Ref
from .streams import Budget, Progress
from .types import ArchiveError, Limits, Member, MiB, display_name, human_size
from .workspace import Workspace


class Watch:
    """What a caller of ``open_source(watch=...)`` sees during the one indexing pass.

    ``member(name, read)``: a file member was indexed (``read()`` returns its bytes).
    ``take(name, size)``: a file member is about to stream past in a compressed archive;
    return a sink to be fed its bytes, in order, *instead of* keeping them (the member is
    indexed without data and listed in ``Source.discarded``), or None to keep it as usual.
    Plain tars and directories are read in place, so ``take`` is never asked for them.
    """

    def member(self, name: str, read: Callable[[], bytes]) -> None:  # pragma: no cover - interface
        pass

    def take(self, name: str, size: int) -> Callable[[bytes], object] | None:  # pragma: no cover
        return None


# Bounds on what one source's index records (with Limits.max_members):
MAX_PROBLEMS = 500  # problems listed per source; past it they are counted ("... and N more")
MAX_PROBLEM_SOURCE = 300  # characters of a problem's member name (escaped); longer ones are cut
MAX_PROBLEM_TEXT = 2000  # characters of a problem's message
MAX_NAME = 4096  # characters of a member name or link target (PATH_MAX); longer: skipped
MAX_DEPTH = 64  # directory levels a directory walk descends


def clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


METADATA_FILES = {"config.dump": "config", "spec.dump": "spec"}
METADATA_CAP = 16 * MiB


def metadata_value(name: str, size: int, read: Callable[[], bytes]) -> tuple[str, dict] | None:
    """("config" | "spec", parsed JSON) when ``name`` is one of the engine's metadata files
    and reads as a JSON object; None otherwise (the model reports a broken file: this is
    only a preview)."""
    key = METADATA_FILES.get(name)
    if key is None or size > METADATA_CAP:
        return None
    try:
        value = json.loads(read())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, CkptError):
        return None
    return (key, value) if isinstance(value, dict) else None


class Context:
    """State of one ``open_source`` call shared by its passes."""

    def __init__(
        self,
        label: str,
        workspace: Workspace,
        limits: Limits,
        progress: Progress,
    ) -> None:
        self.label = label
        self.workspace = workspace
        self.limits = limits
        self.budget = Budget(limits)
        self.progress = progress
        self.problems: list[Problem] = []
        self.suppressed = 0
        self.mem_total = 0
        self.spill_dir: Path | None = None
        self.caching = False  # spill_dir is a staging dir of the opt-in cache
        self._spills = 0
        self._pack: tuple[Path, int] | None = None  # (path, fd) of the pack of small members
        self._pack_size = 0
        self.kind = ""  # "tar+zstd"... once known
        # on_metadata(dict): called as config.dump / spec.dump stream past (see open_source)
        self.on_metadata: Callable[[dict], object] | None = None
        self.metadata: dict = {}
        self.watch: Watch | None = None  # see open_source(watch=...)
        self.stopped = ""  # why indexing stopped before the end of the source ("" when it did not)

    MAX_PROBLEMS = MAX_PROBLEMS

    def problem(self, source: str, message: str, severity: Severity = "error", pane: Pane = Pane.OVERVIEW) -> None:
        if len(self.problems) >= self.MAX_PROBLEMS:
            self.suppressed += 1  # a hostile archive must not flood memory with problems
            return
        self.problems.append(Problem(source=clip(source, MAX_PROBLEM_SOURCE), message=clip(message, MAX_PROBLEM_TEXT),
                                     pane=pane, severity=severity))

    def stop(self, why: str) -> None:
        """Indexing stopped before the end (a bound, damage): members after it are not known."""
        self.stopped = self.stopped or why

    def finish_problems(self) -> None:
        if self.suppressed:
            self.problems.append(
                Problem(source="", message=f"... and {self.suppressed} more problems not listed", severity="warning")
            )
            self.suppressed = 0

    def saw_member(self, name: str, ref: Ref) -> None:
        """Hand the engine's metadata files to ``on_metadata`` as soon as they were read,
        so a caller can show them while the rest of the archive is still streaming."""
        found = metadata_value(name, ref.size, ref.read)
        if found is None:
            return
        self.metadata[found[0]] = found[1]
        callback = self.on_metadata
        if callback is not None:
            callback({**self.metadata, "kind": self.kind, "size": self.progress.total})

    def spill_path(self) -> Path:
        if self.spill_dir is None:
            self.spill_dir = self.workspace.mkdir("source")
        self._spills += 1
        return self.spill_dir / f"m{self._spills:06d}"

    def pack(self, data: bytes) -> Ref:
        """Keep a small member in the pack file: one spill file for all the small members
        that no longer fit the in-memory budget (no file per member)."""
        if self._pack is None:
            path = self.spill_path()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
            self._pack = (path, fd)
        path, fd = self._pack
        offset = self._pack_size
        view = memoryview(data)
        while len(view):
            n = os.pwrite(fd, view, offset + len(data) - len(view))
            view = view[n:]
        self._pack_size += len(data)
        return Ref(size=len(data), path=path, offset=offset, spilled=True)

    def close_pack(self) -> None:
        if self._pack is not None:
            _path, fd = self._pack
            self._pack = None
            os.close(fd)


# -- names ------------------------------------------------------------------


def normalise(raw: str) -> tuple[str | None, str]:
    """``"./checkpoint//x/"`` -> ``("checkpoint/x", "")``; unsafe names give ``(None, why)``;
    the archive root (``"."``, ``"./"``) gives ``("", "")``."""
    if raw.startswith("/"):
        return None, "absolute path"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "the path contains '..'"
    return "/".join(parts), ""


def resolve_link(name: str, target: str) -> str | None:
    """The member a symlink ``name -> target`` points at, or None when it leaves the source."""
    if not target or target.startswith("/"):
        return None
    parts: list[str] = []
    base = posixpath.dirname(name)
    for p in (base.split("/") if base else []) + target.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts)


class Index:
    """Members in archive order plus where their bytes are."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.members: dict[str, Member] = {}
        self.refs: dict[str, Ref] = {}
        self.discarded: set[str] = set()  # file members streamed to a Watch, not kept

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: Member, ref: Ref | None = None) -> None:
        name = member.name
        members = self.members
        if name in members:  # a later entry of the same name replaces it, at its own place
            old = members.pop(name)
            self.refs.pop(name, None)
            self.discarded.discard(name)
            if not (old.type == "dir" and member.type == "dir"):
                self.ctx.problem(
                    display_name(name),
                    "appears more than once in the archive; the later entry is used",
                    "warning",
                )
        members[name] = member
        if ref is not None:
            self.refs[name] = ref
            if self.ctx.on_metadata is not None:
                self.ctx.saw_member(member.name, ref)
            if self.ctx.watch is not None and member.type == "file":
                self.ctx.watch.member(member.name, ref.read)

    def has_prefix(self, prefix: str) -> bool:
        return any(n.startswith(prefix) for n in self.members)

    def full(self) -> bool:
        if len(self.members) < self.ctx.limits.max_members:
            return False
        why = f"stopped after {self.ctx.limits.max_members} members, the most one source may hold"
        self.ctx.problem("", f"{why}; the rest are not shown")
        self.ctx.stop(why)
        return True

    def target(self, name: str, hops: int = 0) -> tuple[Member, Ref | None]:
        """The member ``name`` refers to, following symlinks and hardlinks inside the source."""
        member = self.members.get(name)
        if member is None:
            raise ArchiveError(f"no member {display_name(name)!s} in {self.ctx.label}")
        if member.type == "symlink":
            if hops > 16:
                raise ArchiveError(f"{display_name(name)}: too many levels of symbolic links")
            dest = resolve_link(name, member.linkname)
            if dest is None or dest not in self.members:
                raise ArchiveError(f"{display_name(name)}: dangling symbolic link to {display_name(member.linkname)}")
            return self.target(dest, hops + 1)
        return member, self.refs.get(name)


@dataclass
class Converted:
    """A source as the common layout: what ``open_source`` turns into a Source."""

    index: Index
    kind: str
    description: str
    annotations: dict[str, str] = field(default_factory=dict)
    synthesized: set[str] = field(default_factory=set)


def read_limited(ix: Index, name: str, cap: int, what: str) -> bytes:
    member, ref = ix.target(name)
    if ref is None:
        raise ArchiveError(f"{what} {display_name(name)} has no data")
    if member.size > cap:
        raise ArchiveError(f"{what} {display_name(name)} is too large ({human_size(member.size)})")
    try:
        return ref.read()
    except OSError as exc:
        raise ArchiveError(f"cannot read {what} {display_name(name)}: {exc.strerror or exc}") from None
