"""The indexing passes that fill an :class:`~.index.Index`: one streaming pass over a tar
(:func:`index_tar`, over what :func:`open_tar_stream` opened: plain, gzip or zstd), and a walk
of a directory (:func:`walk_directory`) that never follows a link.
"""

from __future__ import annotations

import io
import itertools
import os
import stat as stat_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .index import MAX_DEPTH, MAX_NAME, MAX_PROBLEM_SOURCE, Context, Index, clip, normalise, resolve_link
from .ref import Ref
from .streams import CHUNK, Budget, GzipDecoder, LimitHit, RangeReader, StreamError, ZstdDecoder, make_decoder, sniff
from .tarstream import NotTar, TarEntry, TarError, TarIncomplete, TarReader
from .types import ArchiveError, CacheWriteFailed, Member, Owner, display_name

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
        ctx.stop(f"{where}: {exc.message}")
    except (TarError, StreamError) as exc:
        kept = len(ix) - count_before
        inside = f" while reading member '{display_name(current)}'" if current and isinstance(exc, StreamError) else ""
        ctx.problem(
            where,
            f"reading stopped{inside}: {exc}; the {kept} members before that point are shown, "
            f"anything after it is missing",
        )
        ctx.stop(f"{where}: {exc}")
    except LimitHit as exc:
        inside = f" (while reading member '{display_name(current)}')" if current else ""
        ctx.problem(where, f"{exc}{inside}")
        ctx.stop(f"{where}: {exc}")
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
        "empty-tar": "it is an empty tar archive (it holds no members)",
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
