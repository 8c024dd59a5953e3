"""Indexing: member names made safe, one streaming pass over a tar, directory walks.

An :class:`Index` maps normalised member names to :class:`Member` records and to a
:class:`Ref` saying where the bytes are (in memory, a range of the original tar,
a spill file in the workspace, or a real file of a directory source).
"""

from __future__ import annotations

import errno
import io
import itertools
import json
import os
import posixpath
import stat as stat_mod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CkptError, Pane, Problem, Severity
from .streams import (
    CHUNK,
    Budget,
    GzipDecoder,
    LimitHit,
    Progress,
    RangeReader,
    StreamError,
    ZstdDecoder,
    make_decoder,
    sniff,
)
from .tarstream import NotTar, TarEntry, TarError, TarIncomplete, TarReader
from .types import ArchiveError, CacheWriteFailed, Limits, Member, MiB, Owner, display_name, human_size
from .workspace import Workspace


@dataclass
class Ref:
    """Where a member's bytes live."""

    size: int
    data: bytes | None = None  # kept in memory
    path: Path | None = None  # or a range of this file
    offset: int = 0
    spilled: bool = False  # the file is a spill file of ours
    nofollow: bool = False  # a real file of a directory source: never follow a symlink there
    remote: Any = None  # or a range of a blob in a registry (registry.blob.RemoteBlob: pread, held)

    def read(self, limit: int | None = None) -> bytes:
        n = self.size if limit is None else max(0, min(limit, self.size))
        if self.data is not None:
            return self.data[:n]
        if self.remote is not None:
            return self.remote.pread(self.offset, n)
        assert self.path is not None
        fd = open_regular(self.path, nofollow=self.nofollow)
        try:
            parts = []
            got = 0
            while got < n:
                data = os.pread(fd, min(n - got, 1 << 24), self.offset + got)
                if not data:
                    break
                parts.append(data)
                got += len(data)
        finally:
            os.close(fd)
        return b"".join(parts)


_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | os.PathLike[str], *, nofollow: bool = False) -> int:
    """A read-only descriptor of the regular file at ``path``, opened so that it cannot block.

    ``O_NONBLOCK``: opening a FIFO (or a device) does not wait for a writer; ``nofollow``
    adds ``O_NOFOLLOW``; then ``fstat`` on the descriptor (not on the name, which may have
    changed since it was listed) must say a regular file, else :class:`OSError` (EINVAL,
    "not a regular file"). Every member of a directory source, and every file the archive
    layer sniffs or peeks at, is opened through here."""
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | (_O_NOFOLLOW if nofollow else 0))
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device, socket or directory)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_head(path: str | os.PathLike[str], n: int, *, nofollow: bool = False) -> bytes:
    """The first ``n`` bytes of the regular file ``path`` (see :func:`open_regular`), never
    more than its size says: a file reporting size 0 (as /proc files do) is not read at all."""
    fd = open_regular(path, nofollow=nofollow)
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, min(n, size), 0) if size > 0 else b""
    finally:
        os.close(fd)


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
    except (OSError, ValueError, UnicodeDecodeError, CkptError):
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

    MAX_PROBLEMS = MAX_PROBLEMS

    def problem(self, source: str, message: str, severity: Severity = "error", pane: Pane = Pane.OVERVIEW) -> None:
        if len(self.problems) >= self.MAX_PROBLEMS:
            self.suppressed += 1  # a hostile archive must not flood memory with problems
            return
        self.problems.append(Problem(source=clip(source, MAX_PROBLEM_SOURCE), message=clip(message, MAX_PROBLEM_TEXT),
                                     pane=pane, severity=severity))

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
        self.ctx.problem(
            "",
            f"stopped after {self.ctx.limits.max_members} members, the most one source may hold; "
            f"the rest are not shown",
        )
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


# -- tar pass ---------------------------------------------------------------


def _capture(ctx: Context, tr: TarReader, entry: TarEntry, tick: Callable[[], None]) -> Ref:
    """Read the current entry's data out of a non-seekable stream: RAM or spill file."""
    lim = ctx.limits
    if entry.size <= lim.keep_in_memory:
        data = tr.read_data(entry)
        if ctx.mem_total + entry.size <= lim.max_memory_total:
            ctx.mem_total += len(data)
            return Ref(size=len(data), data=data)
        try:
            return ctx.pack(data)
        except OSError as exc:
            if ctx.caching:
                raise CacheWriteFailed(str(exc)) from exc
            raise
    path = ctx.spill_path()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            tr.copy_data_to_fd(entry, fd, tick, ctx.caching)
        finally:
            os.close(fd)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Ref(size=entry.size, path=path, spilled=True)


def base_ref(base: tuple[Any, int], offset: int, size: int) -> Ref:
    """A member stored in place at ``offset`` of a file (a Path) or of a registry blob."""
    if isinstance(base[0], Path):
        return Ref(size=size, path=base[0], offset=offset)
    return Ref(size=size, remote=base[0], offset=offset)


def index_tar(
    ix: Index,
    stream,
    *,
    where: str,
    size: int | None = None,
    base: tuple[Any, int] | None = None,
    prefix: str = "",
    done: Callable[[], int] = lambda: 0,
) -> TarReader:
    """Index the tar in ``stream`` into ``ix`` in one pass.

    With ``base=(file, offset)`` the stream is the plain, seekable tar stored at
    that offset of ``file`` (``size`` bytes): members become ranges of it and
    their data is skipped, not read. Otherwise member data is copied into memory
    or spill files. Damage stops the pass with a Problem; members read before it
    are kept. :class:`NotTar` propagates when there was no tar header at all.
    """
    ctx = ix.ctx
    tr = TarReader(stream, size=size if base is not None else None)
    count_before = len(ix)
    declared = Declared(ctx.budget, stream, size)

    def tick() -> None:
        ctx.progress.update(done(), "")

    current = ""
    try:
        for entry in tr.entries():
            if ix.full():
                break
            if ctx.progress.callback is not None:
                ctx.progress.update(done(), entry.name)
            declared.check(entry)
            current = entry.name
            _add_entry(ix, tr, entry, base=base, prefix=prefix, tick=tick)
            current = ""
    except NotTar:
        if tr.entries_seen == 0:
            raise
    except TarIncomplete as exc:
        ctx.problem(where, f"{exc.message}; {len(ix) - count_before} members were read", "warning")
    except (TarError, StreamError) as exc:
        kept = len(ix) - count_before
        inside = f" while reading member '{display_name(current)}'" if current and isinstance(exc, StreamError) else ""
        ctx.problem(
            where,
            f"reading stopped{inside}: {exc}; the {kept} members before that point are shown, "
            f"anything after it is missing",
        )
    except LimitHit as exc:
        inside = f" (while reading member '{display_name(current)}')" if current else ""
        ctx.problem(where, f"{exc}{inside}")
    else:
        if tr.ended_cleanly and isinstance(stream, (GzipDecoder, ZstdDecoder)):
            _verify_rest(ctx, stream, where)
    return tr


class Declared:
    """What the tar headers of one compressed stream declare, checked against the bomb
    bounds before their data is inflated (:meth:`Budget.declare`). Plain tars are read in
    place and checked against the file's size instead, so for them this does nothing."""

    def __init__(self, budget: Budget, stream, compressed: int | None) -> None:
        self.budget = budget
        self.on = isinstance(stream, (GzipDecoder, ZstdDecoder)) and compressed is not None
        self.compressed = compressed or 0
        self.total = 0

    def check(self, entry: TarEntry) -> None:
        if not self.on:
            return
        self.total += entry.size + 512
        self.budget.declare(entry.name, entry.size, self.total, self.compressed)


_DRAIN_CAP = 64 * 1024 * 1024


def _verify_rest(ctx: Context, dec: GzipDecoder | ZstdDecoder, where: str) -> None:
    """Read the compressed stream to its end after the tar's end marker, so that its
    checksum (gzip CRC, zstd content checksum) is verified and damage is reported."""
    drained = 0
    try:
        while True:
            data = dec.read(CHUNK)
            if not data:
                break
            drained += len(data)
            if drained > _DRAIN_CAP:
                ctx.problem(where, "there is more compressed data after the end of the tar archive; it was ignored", "warning")
                return
    except StreamError as exc:
        ctx.problem(
            where,
            f"{exc}: all members were read, but the compressed data does not check out, "
            f"so their contents may be damaged",
        )
        return
    except LimitHit as exc:
        ctx.problem(where, str(exc))
        return
    if getattr(dec, "trailing_garbage", False):
        ctx.problem(where, "there is non-gzip data after the end of the gzip stream; it was ignored", "warning")


def _add_entry(
    ix: Index,
    tr: TarReader,
    entry: TarEntry,
    *,
    base: tuple[Any, int] | None,
    prefix: str,
    tick: Callable[[], None],
) -> None:
    ctx = ix.ctx
    if len(entry.name) > MAX_NAME or len(entry.linkname) > MAX_NAME:
        what = "name" if len(entry.name) > MAX_NAME else "link target"
        ctx.problem(display_name(clip(entry.name, MAX_PROBLEM_SOURCE)),
                    f"skipped: its {what} is {max(len(entry.name), len(entry.linkname)):,} characters long, "
                    f"more than the {MAX_NAME} a path may have")
        return
    norm, why = normalise(entry.name)
    if norm is None:
        ctx.problem(display_name(entry.name), f"skipped: unsafe member name ({why})")
        return
    if norm == "":
        return  # the archive's own root directory entry
    name = prefix + norm

    def member(size: int, mtype: str, linkname: str = "") -> Member:
        return Member(name, size, mtype, entry.mode, entry.mtime, linkname, entry.uid, entry.gid)

    kind = entry.kind
    if kind == "dir":
        ix.add(member(0, "dir"))
    elif kind == "file":
        if base is not None:
            ref = base_ref(base, base[1] + entry.data_offset, entry.size)
        else:
            sink = ctx.watch.take(name, entry.size) if ctx.watch is not None else None
            if sink is not None:  # streamed to the watcher, not kept
                tr.copy_data(entry, sink, tick)
                ix.add(member(entry.size, "file"))
                ix.discarded.add(name)
                return
            ref = _capture(ctx, tr, entry, tick)
        ix.add(member(entry.size, "file"), ref)
    elif kind == "symlink":
        dest = resolve_link(name, entry.linkname)
        if dest is None:
            ctx.problem(
                display_name(name),
                f"skipped: symbolic link pointing outside the archive ({display_name(entry.linkname)})",
            )
            return
        ix.add(member(0, "symlink", entry.linkname))
    elif kind == "hardlink":
        tnorm, _ = normalise(entry.linkname)
        if not tnorm:
            ctx.problem(
                display_name(name),
                f"skipped: hard link pointing outside the archive ({display_name(entry.linkname)})",
            )
            return
        tname = prefix + tnorm
        target = ix.members.get(tname)
        target_ref = ix.refs.get(tname)
        if target is not None and tname in ix.discarded:  # a link to data a Watch took: the same
            ix.add(member(target.size, "hardlink", tname))
            ix.discarded.add(name)
            return
        if target is None or target.type not in ("file", "hardlink") or target_ref is None:
            ctx.problem(
                display_name(name),
                f"skipped: hard link to {display_name(entry.linkname)}, which is not a file earlier in the archive",
            )
            return
        ix.add(member(target.size, "hardlink", tname), target_ref)
    else:
        what = {
            "device": "device node",
            "fifo": "FIFO",
            "sparse": "sparse file (not supported)",
        }.get(kind, f"entry of unknown type {entry.typeflag!r}")
        ctx.problem(display_name(name), f"{what}: recorded without data", "warning")
        ix.add(member(0, "other"))


# -- opening a stream -------------------------------------------------------


def open_tar_stream(ctx: Context, raw, *, size: int, path: Path | None, offset: int):
    """Sniff ``raw`` (positioned at its start, ``size`` bytes) and return
    ``(fmt, stream, base, done)`` ready for :func:`index_tar`.

    ``raw`` must be a :class:`RangeReader` (for on-disk bytes) or a BytesIO.
    Raises ArchiveError for data that is neither tar nor gzip/zstd.
    """
    if isinstance(raw, RangeReader):
        head = os.pread(raw.f.fileno(), 512, raw.start)
    else:
        head = raw.getvalue()[:512]
    fmt = sniff(head)
    if fmt in ("gzip", "zstd"):
        dec = make_decoder(fmt, raw, ctx.budget)
        return fmt, dec, None, (lambda: offset + dec.consumed)
    if fmt == "tar":
        if isinstance(raw, RangeReader):
            return "tar", raw, (path, offset), (lambda: offset + raw.pos)
        return "tar", _SkippingBytes(raw), None, (lambda: offset + raw.tell())
    return fmt, None, None, (lambda: 0)


class _SkippingBytes:
    """A BytesIO seen as a non-seekable stream."""

    def __init__(self, bio: io.BytesIO) -> None:
        self.bio = bio

    def read(self, n: int = -1) -> bytes:
        return self.bio.read(n)


def describe_format(fmt: str, head_hex: str = "") -> str:
    return {
        "empty": "it is empty",
        "xz": "it is xz-compressed (only gzip and zstd are supported; decompress it first)",
        "bzip2": "it is bzip2-compressed (only gzip and zstd are supported; decompress it first)",
        "lzma": "it is lzma-compressed (only gzip and zstd are supported; decompress it first)",
        "zip": "it is a zip file, not a tar archive",
    }.get(fmt, f"it is neither a tar archive nor gzip/zstd-compressed data{head_hex}")


# -- directories ------------------------------------------------------------


def walk_directory(ix: Index, root: Path, *, prefix: str = "") -> None:
    """Index the files under ``root`` depth-first in name order, never following a link.

    Entries are told apart by ``lstat``: a symbolic link is recorded as one (and skipped
    when it points out of the directory), never followed, so a link to ``/proc/kmsg`` or a
    FIFO costs nothing; FIFOs, sockets and devices are recorded without data and never
    opened; regular files are opened only when read, through :func:`open_regular`. At most
    ``Limits.max_members`` entries of one directory are listed, at most :data:`MAX_DEPTH`
    levels descended."""
    ctx = ix.ctx
    cap = ctx.limits.max_members + 1

    def listing(rel: str, path: str) -> list[os.DirEntry] | None:
        try:
            with os.scandir(path) as it:
                found = list(itertools.islice(it, cap))
        except OSError as exc:
            if rel == "":
                raise ArchiveError(f"cannot read directory {root}: {exc.strerror or exc}") from None
            ctx.problem(display_name(prefix + rel), f"cannot list this directory: {exc.strerror or exc}")
            return None
        return sorted(found, key=lambda e: e.name)

    top = listing("", str(root)) or []
    stack: list[tuple[str, list[os.DirEntry], int]] = [("", top, 0)]
    while stack:
        rel, entries, i = stack.pop()
        if i >= len(entries):
            continue
        stack.append((rel, entries, i + 1))
        entry = entries[i]
        if ix.full():
            return
        relname = f"{rel}/{entry.name}" if rel else entry.name
        name = prefix + relname
        if len(relname) > MAX_NAME:
            ctx.problem(display_name(name[:MAX_PROBLEM_SOURCE]),
                        f"skipped: its path is {len(relname):,} characters long, more than the {MAX_NAME} a path may have")
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            ctx.problem(display_name(name), f"cannot stat: {exc.strerror or exc}")
            continue
        common = Owner(mode=stat_mod.S_IMODE(st.st_mode), mtime=st.st_mtime, uid=st.st_uid, gid=st.st_gid)
        ctx.progress.update(0, name)
        if stat_mod.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(entry.path)
            except OSError as exc:
                ctx.problem(display_name(name), f"cannot read symbolic link: {exc.strerror or exc}")
                continue
            if resolve_link(relname, target) is None:
                ctx.problem(
                    display_name(name),
                    f"skipped: symbolic link pointing outside the directory ({display_name(target[:MAX_PROBLEM_SOURCE])})",
                )
                continue
            ix.add(Member(name, 0, "symlink", linkname=target, **common))
        elif stat_mod.S_ISDIR(st.st_mode):
            ix.add(Member(name, 0, "dir", **common))
            if len(stack) > MAX_DEPTH:
                ctx.problem(display_name(name), f"directories nested more than {MAX_DEPTH} deep: contents not listed")
                continue
            sub = listing(relname, entry.path)
            if sub:
                stack.append((relname, sub, 0))
        elif stat_mod.S_ISREG(st.st_mode):
            if not os.access(entry.path, os.R_OK):
                ctx.problem(display_name(name), "cannot read this file: permission denied")
            ix.add(
                Member(name, st.st_size, "file", **common),
                Ref(size=st.st_size, path=Path(entry.path), nofollow=True),
            )
        else:
            what = ("FIFO" if stat_mod.S_ISFIFO(st.st_mode) else "socket" if stat_mod.S_ISSOCK(st.st_mode)
                    else "device node")
            ctx.problem(display_name(name), f"{what}: recorded without data, never opened", "warning")
            ix.add(Member(name, 0, "other", **common))


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
