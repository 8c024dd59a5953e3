"""``open_source``: any checkpoint on disk presented as the common layout."""

from __future__ import annotations

import functools
import io
import os
import shutil
import stat as stat_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CkptError, Problem
from .index import METADATA_FILES, Context, Index, Watch, metadata_value
from .layout import open_directory, open_file
from .ref import RangeFile, ReadOnlyBytesIO, Ref
from .registry.reference import is_remote
from .results import cache_dir
from .streams import Progress
from .types import ArchiveError, CacheWriteFailed, Limits, Member, display_name
from .workspace import Workspace

# Tests set this to let unexpected internal exceptions through instead of
# wrapping them in ArchiveError, so that bugs are not hidden.
_STRICT = False

ProgressFn = Callable[[int, int, str], object]


class Source:
    """An opened checkpoint: members in the common layout and lazy access to their bytes."""

    def __init__(
        self,
        *,
        path: Path | str,
        kind: str,
        description: str,
        index: Index,
        problems: list[Problem],
        annotations: dict[str, str],
        synthesized: set[str],
        workspace: Workspace,
        owns_workspace: bool,
        scratch: Path | None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.description = description
        self.members: dict[str, Member] = index.members
        self.problems = problems
        self.annotations = annotations
        self.synthesized = synthesized
        self.workspace = workspace
        self._index = index
        self._owns_workspace = owns_workspace
        self._scratch = scratch
        self._closed = False
        self.from_cache = False  # re-opened from the opt-in cache (see cache.py)
        self._cache_lock: Any = None  # finalizer closing the shared lock on the cache entry in use
        self._cache_scratch: Path | None = None  # an uncommitted cache staging dir
        self.remote = False  # a docker:// source: member bytes come from a registry on demand
        self.stopped = ""  # why indexing stopped before the source's end (a bound, damage); "" if it did not
        self._on_close: list[Callable[[], object]] = []  # closes what a registry source holds

    def __repr__(self) -> str:
        return f"<Source {self.kind} {str(self.path)!r}: {len(self.members)} members, {len(self.problems)} problems>"

    # -- queries -----------------------------------------------------------
    def names(self, prefix: str = "") -> list[str]:
        """Member names starting with ``prefix``, in archive order."""
        return [n for n in self.members if n.startswith(prefix)]

    def has(self, name: str) -> bool:
        return name in self.members

    @property
    def discarded(self) -> set[str]:
        """File members handed to the ``watch`` of ``open_source`` instead of being kept."""
        return self._index.discarded

    @property
    def closed(self) -> bool:
        return self._closed

    def _data_ref(self, name: str) -> tuple[Member, Ref]:
        if self._closed:
            raise ArchiveError(f"{self.path} is closed")
        member, ref = self._index.target(name)
        if member.type == "dir":
            raise ArchiveError(f"{display_name(name)} is a directory")
        if ref is None:
            if member.name in self._index.discarded:
                raise ArchiveError(f"{display_name(name)} was not kept: it was only streamed past "
                                   "(the archive was opened without its memory pages)")
            raise ArchiveError(f"{display_name(name)} has no data (a {member.type} entry)")
        return member, ref

    def read(self, name: str, limit: int | None = None) -> bytes:
        """The member's bytes (at most ``limit``); ArchiveError if absent or unreadable."""
        _, ref = self._data_ref(name)
        try:
            data = ref.read(limit)
        except OSError as exc:
            raise ArchiveError(f"cannot read {display_name(name)} from {self.path}: {exc.strerror or exc}") from None
        want = ref.size if limit is None else max(0, min(limit, ref.size))
        if len(data) < want:
            raise ArchiveError(
                f"{display_name(name)}: only {len(data)} of {want} bytes could be read (the file changed?)"
            )
        return data

    def open(self, name: str) -> BinaryIO:
        """A seekable, read-only binary file of the member."""
        _, ref = self._data_ref(name)
        if ref.data is not None:
            return ReadOnlyBytesIO(ref.data)
        if ref.remote is not None:
            held = ref.remote.held(ref.offset, ref.size)
            if held is None:
                remote, base = ref.remote, ref.offset
                raw = RangeFile(lambda off, n: remote.pread(base + off, n), ref.size, name)
                return io.BufferedReader(raw, buffer_size=64 << 10)
            ref = Ref(size=ref.size, path=held[0], offset=held[1])
        assert ref.path is not None
        try:
            raw = RangeFile.of_file(ref.path, ref.offset, ref.size, ref.nofollow)
        except OSError as exc:
            raise ArchiveError(f"cannot open {display_name(name)} from {self.path}: {exc.strerror or exc}") from None
        return io.BufferedReader(raw)

    def file_range(self, name: str) -> tuple[Path, int, int] | None:
        """``(file, offset, size)`` holding the member's bytes (for mmap), or None when
        the member lives in memory (or in a registry, and was not fetched yet)."""
        _, ref = self._data_ref(name)
        if ref.remote is not None:
            return ref.remote.held(ref.offset, ref.size)
        if ref.data is not None or ref.path is None:
            return None
        return ref.path, ref.offset, ref.size

    def fetch(self, name: str) -> tuple[Path, int, int] | None:
        """Like :meth:`file_range`, but a member in a registry is fetched first (in one pass of
        ranged GETs), so that it can be mapped; None for members that live in memory."""
        _, ref = self._data_ref(name)
        if ref.remote is not None:
            ref.remote.ensure(ref.offset, ref.offset + ref.size)
            return ref.remote.held(ref.offset, ref.size)
        return self.file_range(name)

    def is_remote(self, name: str) -> bool:
        """True when the member's bytes are read from a registry on demand (not held yet)."""
        _, ref = self._data_ref(name)
        return ref.remote is not None and ref.remote.held(ref.offset, ref.size) is None

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_workspace:
            self.workspace.cleanup()
        elif self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self._cache_scratch is not None:
            shutil.rmtree(self._cache_scratch, ignore_errors=True)
        if self._cache_lock is not None:
            self._cache_lock()
        for hook in self._on_close:
            try:
                hook()
            except Exception:  # noqa: BLE001 - closing must not fail
                pass
        self._on_close.clear()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- open_source --------------------------------------------------------------


def open_source(
    path: str | os.PathLike[str],
    *,
    workspace: Workspace | None = None,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    on_metadata: Callable[[dict[str, Any]], object] | None = None,
    watch: Watch | None = None,
) -> Source:
    """Open a checkpoint archive, directory or checkpoint image (see ARCHITECTURE.md).

    ``on_metadata(dict)`` is called while the source is indexed, each time ``config.dump``
    or ``spec.dump`` has been read (keys ``config``/``spec`` with the parsed JSON, ``kind``,
    ``size``): a UI shows them at once, with no second pass over a compressed archive.
    ``watch`` (an ``index.Watch``) sees every file member as it is indexed and may take the
    data of large ones as they stream past instead of keeping them (``Source.discarded``);
    it is ignored when the opt-in cache is on (an entry must be complete)."""
    if is_remote(path):  # a checkpoint image in a registry
        from .registry.source import open_remote

        return open_remote(str(path), workspace=workspace, limits=limits, progress=progress,
                           on_metadata=on_metadata, watch=watch)
    try:
        p = Path(os.fspath(path)).absolute()
    except TypeError:
        raise ArchiveError(f"not a path: {path!r}") from None
    limits = limits or Limits()
    try:
        st = os.stat(p)
    except OSError as exc:
        raise ArchiveError(f"cannot open {p}: {exc.strerror or exc}") from None
    cache = None
    if stat_mod.S_ISREG(st.st_mode) and cache_dir(limits.cache_dir) is not None:
        from . import cache as _cache  # only when the opt-in cache is on (saves its imports)

        cache = _cache.Cache.for_limits(limits)
        if cache is not None and st.st_size > cache.max_bytes:
            cache = None  # what it expands to cannot fit the bound: do not write it only to drop it
    if cache is None:
        return _open(p, st, workspace, limits, progress, on_metadata=on_metadata, watch=watch)
    ident = _cache.identity(p, st, limits)
    key = _cache.key_of(ident)
    loaded = cache.load(key, ident)
    if loaded is not None:
        src = _from_cache(p, st, loaded, workspace, limits, progress)
        if on_metadata is not None:  # what the streaming pass would have shown on its way
            meta = dict(found for fn in METADATA_FILES if src.has(fn)
                        and (found := metadata_value(fn, src.members[fn].size, functools.partial(src.read, fn))))
            if meta:
                on_metadata({**meta, "kind": src.kind, "size": st.st_size})
        return src
    staging = cache.stage(key)
    if staging is None:
        return _open(p, st, workspace, limits, progress, on_metadata=on_metadata)
    try:
        return _open(p, st, workspace, limits, progress, cache=(cache, staging, key, ident), on_metadata=on_metadata)
    except CacheWriteFailed:
        shutil.rmtree(staging, ignore_errors=True)
        # the cache is never required
        return _open(p, st, workspace, limits, progress, on_metadata=on_metadata)


def _open(p: Path, st: os.stat_result, workspace: Workspace | None, limits: Limits, progress: ProgressFn | None,
          cache: tuple | None = None, on_metadata: Callable[[dict[str, Any]], object] | None = None,
          watch: Watch | None = None) -> Source:
    owns = workspace is None
    ws = Workspace() if workspace is None else workspace
    total = st.st_size if stat_mod.S_ISREG(st.st_mode) else 0
    ctx = Context(str(p), ws, limits, Progress(progress, total))
    ctx.on_metadata = on_metadata
    ctx.watch = watch
    if cache is not None:
        from . import cache as _cache

        ctx.spill_dir = cache[1]
        ctx.caching = True
    try:
        if stat_mod.S_ISDIR(st.st_mode):
            conv = open_directory(ctx, p)
        elif stat_mod.S_ISREG(st.st_mode):
            conv = open_file(ctx, p, st.st_size)
        else:
            raise ArchiveError(f"not a checkpoint archive: {p} is neither a regular file nor a directory")
        ctx.close_pack()
        _collect_spills(ctx, conv.index)
        ctx.finish_problems()
        ctx.progress.update(total, "", force=True)
        committed = None
        if cache is not None and not ctx.stopped:  # an entry is a whole index: a stopped read is not kept
            store, staging, key, ident = cache
            committed = store.commit(
                staging, key, ident, p, kind=conv.kind, description=conv.description,
                annotations=conv.annotations, synthesized=conv.synthesized, problems=ctx.problems,
                members=conv.index.members, refs=conv.index.refs,
            )
            if committed is not None:
                final = committed[0]
                for ref in conv.index.refs.values():
                    if ref.path is not None and ref.path.parent == staging:
                        ref.path = final / ref.path.name
        src = Source(
            path=p,
            kind=conv.kind,
            description=conv.description,
            index=conv.index,
            problems=ctx.problems,
            annotations=conv.annotations,
            synthesized=conv.synthesized,
            workspace=ws,
            owns_workspace=owns,
            scratch=None if cache is not None else ctx.spill_dir,
        )
        src.stopped = ctx.stopped
        if cache is not None:
            if committed is not None:
                src._cache_lock = _cache.hold(src, committed[1])
            else:
                src._cache_scratch = cache[1]
        return src
    except BaseException as exc:
        try:
            ctx.close_pack()
        except OSError:
            pass
        if owns:
            ws.cleanup()
        elif ctx.spill_dir is not None and cache is None:
            shutil.rmtree(ctx.spill_dir, ignore_errors=True)
        if cache is not None:
            shutil.rmtree(cache[1], ignore_errors=True)
        if isinstance(exc, (CkptError, CacheWriteFailed)) or not isinstance(exc, Exception):
            raise
        if isinstance(exc, OSError):
            raise ArchiveError(f"cannot read {p}: {exc.strerror or exc}") from exc
        if _STRICT:
            raise
        raise ArchiveError(f"cannot read {p}: {type(exc).__name__}: {exc}") from exc


def _from_cache(p: Path, st: os.stat_result, loaded: Any, workspace: Workspace | None,
                limits: Limits, progress: ProgressFn | None) -> Source:
    """A Source over a cache entry (a ``cache.Loaded``): the index as it was, member bytes
    in the entry's files."""
    from . import cache as _cache
    owns = workspace is None
    try:
        ws = Workspace() if workspace is None else workspace
    except BaseException:
        os.close(loaded.lock_fd)
        raise
    ctx = Context(str(p), ws, limits, Progress(progress, st.st_size))
    ix = Index(ctx)
    for m in loaded.members:
        ix.members[m.name] = m
    for name, r in loaded.refs.items():
        if r[0] == "m":
            ix.refs[name] = Ref(size=len(r[1]), data=r[1])
        elif r[0] == "f":
            ix.refs[name] = Ref(size=r[3], path=r[1], offset=r[2], spilled=True)
        else:
            ix.refs[name] = Ref(size=r[2], path=p, offset=r[1])
    src = Source(
        path=p,
        kind=loaded.kind,
        description=loaded.description,
        index=ix,
        problems=loaded.problems,
        annotations=loaded.annotations,
        synthesized=loaded.synthesized,
        workspace=ws,
        owns_workspace=owns,
        scratch=None,
    )
    src.from_cache = True
    src._cache_lock = _cache.hold(src, loaded.lock_fd)
    ctx.progress.update(st.st_size, "", force=True)
    return src


def _collect_spills(ctx: Context, ix: Index) -> None:
    """Delete spill files the final layout does not use (e.g. the outer blobs of an image)."""
    if ctx.spill_dir is None:
        return
    used = {ref.path for ref in ix.refs.values() if ref.path is not None}
    for child in ctx.spill_dir.iterdir():
        if child not in used:
            child.unlink(missing_ok=True)
