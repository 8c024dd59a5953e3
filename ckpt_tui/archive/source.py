"""``open_source``: any checkpoint on disk presented as the common layout."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import stat as stat_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError

from ..errors import CkptError, Problem
from .index import (
    METADATA_CAP,
    METADATA_FILES,
    Context,
    Converted,
    Declared,
    Index,
    Ref,
    Watch,
    describe_format,
    index_tar,
    metadata_value,
    normalise,
    open_regular,
    open_tar_stream,
    read_head,
    read_limited,
    walk_directory,
)
from .registry.reference import is_remote
from .results import cache_dir
from .streams import LimitHit, Progress, RangeReader, StreamError, sniff
from .tarstream import NotTar, TarError, TarReader
from .types import ArchiveError, CacheWriteFailed, Limits, Member, MiB, display_name
from .workspace import Workspace

# Tests set this to let unexpected internal exceptions through instead of
# wrapping them in ArchiveError, so that bugs are not hidden.
_STRICT = False

_KIND_OF_FMT = {"tar": "tar", "gzip": "tar+gzip", "zstd": "tar+zstd"}
_META_CAP = METADATA_CAP  # the engine's JSON files are read whole up to this

ProgressFn = Callable[[int, int, str], object]


class _ReadOnlyBytesIO(io.BytesIO):
    def writable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        raise io.UnsupportedOperation("archive members are read-only")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("archive members are read-only")


class _RangeRaw(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes that ``pread(offset, n)`` reads: a range of a
    file (:meth:`of_file`) or a member in a registry blob (ranges fetched on demand)."""

    def __init__(self, pread: Callable[[int, int], bytes], size: int, name: str,
                 on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._pread = pread
        self._size = size
        self._pos = 0
        self._on_close = on_close
        self.name = name

    @classmethod
    def of_file(cls, path: Path, offset: int, size: int, nofollow: bool) -> _RangeRaw:
        fd = open_regular(path, nofollow=nofollow)
        return cls(lambda off, n: os.pread(fd, n, offset + off), size, str(path), lambda: os.close(fd))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        n = min(len(b), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._pread(self._pos, n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        new = {0: pos, 1: self._pos + pos, 2: self._size + pos}.get(whence)
        if new is None:
            raise ValueError(f"invalid whence {whence}")
        if new < 0:
            raise ValueError("negative seek position")
        self._pos = new
        return new

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            try:
                if self._on_close is not None:
                    self._on_close()
            finally:
                super().close()


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
            return _ReadOnlyBytesIO(ref.data)
        if ref.remote is not None:
            held = ref.remote.held(ref.offset, ref.size)
            if held is None:
                remote, base = ref.remote, ref.offset
                raw = _RangeRaw(lambda off, n: remote.pread(base + off, n), ref.size, name)
                return io.BufferedReader(raw, buffer_size=64 << 10)
            ref = Ref(size=ref.size, path=held[0], offset=held[1])
        assert ref.path is not None
        try:
            raw = _RangeRaw.of_file(ref.path, ref.offset, ref.size, ref.nofollow)
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
            conv = _open_directory(ctx, p)
        elif stat_mod.S_ISREG(st.st_mode):
            conv = _open_file(ctx, p, st.st_size)
        else:
            raise ArchiveError(f"not a checkpoint archive: {p} is neither a regular file nor a directory")
        ctx.close_pack()
        _collect_spills(ctx, conv.index)
        ctx.finish_problems()
        ctx.progress.update(total, "", force=True)
        committed = None
        if cache is not None:
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


def _open_regular_file(p: Path) -> BinaryIO:
    try:
        return os.fdopen(open_regular(p), "rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read {p}: {exc.strerror or exc}") from None


def _open_file(ctx: Context, p: Path, size: int) -> Converted:
    f = _open_regular_file(p)
    with f:
        head = os.pread(f.fileno(), min(512, size), 0) if size > 0 else b""  # never past its size
        fmt = sniff(head)
        if fmt not in _KIND_OF_FMT:
            hexhead = f" (it starts with {head[:8].hex(' ')})" if head else ""
            raise ArchiveError(f"not a checkpoint archive: {p}: {describe_format(fmt, hexhead)}")
        raw = RangeReader(f, 0, size)
        fmt, stream, base, done = open_tar_stream(ctx, raw, size=size, path=p, offset=0)
        ctx.kind = _KIND_OF_FMT.get(fmt, fmt)
        ix = Index(ctx)
        try:
            index_tar(ix, stream, where=p.name, size=size, base=base, done=done)
        except NotTar as exc:
            what = "its data" if fmt == "tar" else f"its {fmt}-compressed data"
            raise ArchiveError(f"not a checkpoint archive: {p}: {what} is not a tar archive ({exc.message})") from None
    kind = _KIND_OF_FMT[fmt]
    if not ix.members:
        stopped = [pr.message for pr in ctx.problems if pr.source == p.name]
        why = stopped[-1] if stopped else "the tar archive has no members"
        raise ArchiveError(f"not a checkpoint archive: {p}: {why}")
    if _maybe_image(ix):
        from .oci import convert_docker, convert_oci, is_docker_archive, is_oci_layout

        if is_oci_layout(ix):
            conv = convert_oci(ctx, ix, "oci-archive")
            if fmt != "tar":
                conv.description = conv.description.replace("(OCI archive)", f"(OCI archive, {fmt})")
            return conv
        if is_docker_archive(ix):
            return convert_docker(ctx, ix)
    return _common_layout(ctx, ix, kind, "archive")


def _maybe_image(ix: Index) -> bool:
    """Cheap first look: could this be an OCI layout or a docker archive (see oci.py)?"""
    return "index.json" in ix.members or "manifest.json" in ix.members


def _open_directory(ctx: Context, p: Path) -> Converted:
    if not os.access(p, os.R_OK | os.X_OK):
        raise ArchiveError(f"cannot read directory {p}: permission denied")
    if (p / "index.json").is_file() and ((p / "oci-layout").is_file() or (p / "blobs").is_dir()):
        from .oci import convert_oci

        outer = Index(ctx)
        walk_directory(outer, p)
        return convert_oci(ctx, outer, "oci-layout")
    if (p / "inventory.img").is_file() and not (p / "checkpoint").is_dir():
        ix = Index(ctx)
        ix.add(Member("checkpoint", 0, "dir", mode=0o700))
        walk_directory(ix, p, prefix="checkpoint/")
        desc = "CRIU image directory"
        if p.parent.name == "checkpoints":  # /var/lib/docker/containers/<id>/checkpoints/<name>
            desc = "Docker checkpoint (CRIU image directory)"
        return Converted(ix, "criu-directory", desc, {}, set())
    if not _looks_like_checkpoint_dir(p) and not (p / "checkpoint").is_dir():
        found = find_checkpoints(p)
        hint = (f"; it holds {len(found)} checkpoint(s): open one, or list them with `ckpt-tui list {p}`"
                if found else "")
        raise ArchiveError(f"not a checkpoint: {p} has no config.dump, spec.dump, checkpoint/ or CRIU images{hint}")
    ix = Index(ctx)
    walk_directory(ix, p)
    if not ix.members:
        raise ArchiveError(f"not a checkpoint archive: {p} is an empty directory")
    return _common_layout(ctx, ix, "directory", "directory")


def _common_layout(ctx: Context, ix: Index, kind: str, shape: str) -> Converted:
    synthesized: set[str] = set()
    has_checkpoint = ix.has_prefix("checkpoint/")
    bare = False
    if not has_checkpoint and "inventory.img" in ix.members:
        # a tar of a bare CRIU image directory: present its images under checkpoint/
        bare = True
        moved = Index(ctx)
        moved.add(Member("checkpoint", 0, "dir", mode=0o700))
        for name, member in ix.members.items():
            member.name = "checkpoint/" + name
            if member.type == "hardlink":
                member.linkname = "checkpoint/" + member.linkname
            moved.members[member.name] = member
            if name in ix.refs:
                moved.refs[member.name] = ix.refs[name]
        ix = moved
    elif not has_checkpoint and "pod.options" not in ix.members:  # a pod: each container has its own
        if ix.has_prefix("pre-checkpoint/"):
            ctx.problem(
                "checkpoint/",
                "no checkpoint/ directory: only pre-checkpoint/ (a pre-dump), no full CRIU image set",
            )
        elif ix.members.get("checkpoint") is not None and ix.members["checkpoint"].type == "dir":
            ctx.problem("checkpoint/", "the checkpoint/ directory is empty: no CRIU images")
        else:
            ctx.problem("checkpoint/", "no checkpoint/ directory: no CRIU images")
    _unwrap_spec(ctx, ix, synthesized)
    if bare:
        desc = f"CRIU image {'archive' if shape == 'archive' else 'directory'} ({kind})"
    elif shape == "archive":  # the engine is the model's to say (model.metadata.describe_source)
        desc = f"checkpoint archive ({kind})"
    else:
        desc = "unpacked checkpoint (directory)"
    return Converted(ix, kind, desc, {}, synthesized)


def _unwrap_spec(ctx: Context, ix: Index, synthesized: set[str]) -> None:
    """Older containerd CRI archives store spec.dump as the raw protobuf Any blob."""
    member = ix.members.get("spec.dump")
    if member is None or member.type not in ("file", "hardlink") or member.size > _META_CAP or member.size == 0:
        return
    try:
        data = read_limited(ix, "spec.dump", _META_CAP, "spec.dump")
    except ArchiveError:
        return
    if data.lstrip()[:1] in (b"{", b"["):
        return
    msg = any_pb2.Any()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        return
    if "runtime-spec" not in msg.type_url:
        return
    try:
        if not isinstance(json.loads(msg.value), dict):
            return
    except (ValueError, UnicodeDecodeError):
        return
    value = bytes(msg.value)
    ix.refs["spec.dump"] = Ref(size=len(value), data=value)
    member.size = len(value)
    member.type = "file"
    member.linkname = ""
    synthesized.add("spec.dump")
    ctx.problem("spec.dump", "spec.dump was stored as a protobuf Any (containerd); its JSON spec is shown", "info")


# -- find_checkpoints / peek_metadata -------------------------------------------


def _oci_dir_is_checkpoint(p: Path) -> bool:
    """Cheap look at an OCI layout directory's index and manifests for checkpoint markers."""
    from .oci import CHECKPOINT_ANNOTATION_PREFIXES, MT_CRIU_TAR

    todo = [p / "index.json"]
    for _ in range(8):
        if not todo:
            break
        f = todo.pop(0)
        try:
            doc = json.loads(read_head(f, 4 * MiB + 1, nofollow=True))
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict):
            continue
        text = json.dumps(doc)
        if MT_CRIU_TAR in text or any(pre in text for pre in CHECKPOINT_ANNOTATION_PREFIXES):
            return True
        for desc in doc.get("manifests") or []:
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str) and ":" in desc["digest"]:
                alg, _, hexd = desc["digest"].partition(":")
                if alg.isalnum() and hexd.isalnum():
                    todo.append(p / "blobs" / alg / hexd)
    return False


def _looks_like_checkpoint_dir(p: Path) -> bool:
    if (p / "checkpoint" / "inventory.img").is_file() or (p / "inventory.img").is_file():
        return True
    if (p / "config.dump").is_file() and (p / "spec.dump").is_file():
        return True
    if (p / "pod.options").is_file():
        return True
    if (p / "index.json").is_file() and (p / "oci-layout").is_file():
        return _oci_dir_is_checkpoint(p)
    return False


def find_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Archives (tar, gzip or zstd by magic bytes) and unpacked checkpoints directly in ``directory``.

    A directory that is itself an unpacked checkpoint is the one checkpoint found (its
    rootfs-diff.tar and checkpoint/ are parts of it, not checkpoints of their own).
    """
    d = Path(os.fspath(directory))
    if d.is_dir() and _looks_like_checkpoint_dir(d):
        return [d]
    try:
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise ArchiveError(f"cannot list {d}: {exc.strerror or exc}") from None
    found: list[Path] = []
    for entry in entries:
        try:
            if entry.is_file():
                if sniff(read_head(entry.path, 512)) in _KIND_OF_FMT:
                    found.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and _looks_like_checkpoint_dir(Path(entry.path)):
                found.append(Path(entry.path))
        except OSError:
            continue
    return found


def _parse_json(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def peek_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"config": dict|None, "spec": dict|None, "size": int, "kind": str}`` (and, when
    known, ``config_mtime``; for image sources ``description``, ``annotations`` and
    ``members``) reading only what it must: a tar stream stops once both files were read. A
    ``docker://`` reference gives what its index, manifest and config say (``registry.listing``)."""
    if is_remote(path):
        from .registry.listing import list_repository

        rows = list_repository(str(path)).rows
        if not rows:
            raise ArchiveError(f"not a checkpoint image: {path} is an ordinary container image")
        meta = rows[0][1]
        if "error" in meta:
            raise ArchiveError(meta["error"])
        return meta
    p = Path(os.fspath(path))
    try:
        st = os.stat(p)
    except OSError as exc:
        raise ArchiveError(f"cannot open {p}: {exc.strerror or exc}") from None
    result: dict[str, Any] = {"config": None, "spec": None, "size": st.st_size, "kind": ""}
    if stat_mod.S_ISDIR(st.st_mode):
        is_image = (p / "index.json").is_file() and (p / "oci-layout").is_file()
        if not is_image:
            result["kind"] = "criu-directory" if (p / "inventory.img").is_file() else "directory"
            total = seen = 0
            for root, dirs, files in os.walk(p):  # (os.walk does not follow links)
                for fn in files:
                    try:
                        total += os.lstat(os.path.join(root, fn)).st_size
                    except OSError:
                        pass
                seen += len(files) + len(dirs)
                if seen > Limits().max_members:  # as far as opening it would index
                    break
            result["size"] = total
            for key, fn in (("config", "config.dump"), ("spec", "spec.dump")):
                fp = p / fn
                try:
                    fst = fp.lstat()  # a link, FIFO or device is not read (as opening does)
                    if stat_mod.S_ISREG(fst.st_mode) and fst.st_size <= _META_CAP:
                        result[key] = _parse_json(read_head(fp, _META_CAP, nofollow=True))
                        if key == "config":
                            result["config_mtime"] = fst.st_mtime
                except OSError:
                    pass
            return result
        return _peek_by_opening(p, result)
    if not stat_mod.S_ISREG(st.st_mode):
        raise ArchiveError(f"not a checkpoint archive: {p} is neither a regular file nor a directory")
    f = _open_regular_file(p)
    image = False
    with f, Workspace() as ws:
        head = os.pread(f.fileno(), min(512, st.st_size), 0) if st.st_size > 0 else b""
        fmt = sniff(head)
        if fmt not in _KIND_OF_FMT:
            raise ArchiveError(f"not a checkpoint archive: {p}: {describe_format(fmt)}")
        result["kind"] = _KIND_OF_FMT[fmt]
        ctx = Context(str(p), ws, Limits(), Progress(None, 0))
        raw = RangeReader(f, 0, st.st_size)
        fmt, stream, base, _done = open_tar_stream(ctx, raw, size=st.st_size, path=p, offset=0)
        tr = TarReader(stream, size=st.st_size if base is not None else None)
        declared = Declared(ctx.budget, stream, st.st_size)
        wanted = {"config.dump": "config", "spec.dump": "spec"}
        try:
            for entry in tr.entries():
                if tr.entries_seen > ctx.limits.max_members:
                    break
                declared.check(entry)
                name, _ = normalise(entry.name)
                if name in ("index.json", "oci-layout", "manifest.json") or (name or "").startswith("blobs/"):
                    image = True
                    break
                if name in wanted and entry.kind == "file" and entry.size <= _META_CAP:
                    buf = bytearray()
                    if base is not None:
                        buf += os.pread(f.fileno(), entry.size, entry.data_offset)
                    else:
                        tr.copy_data(entry, buf.extend)
                    result[wanted.pop(name)] = _parse_json(bytes(buf))
                    if name == "config.dump":
                        result["config_mtime"] = entry.mtime
                    if not wanted:
                        break
        except NotTar as exc:
            raise ArchiveError(f"not a checkpoint archive: {p}: not a tar archive ({exc.message})") from None
        except (TarError, StreamError, LimitHit):
            pass
    if image:
        return _peek_by_opening(p, result)
    return result


def _peek_by_opening(p: Path, result: dict[str, Any]) -> dict[str, Any]:
    with Workspace() as ws, open_source(p, workspace=ws) as src:
        result["kind"] = src.kind
        result["description"] = src.description
        result["annotations"] = dict(src.annotations)
        result["members"] = list(src.members)
        if "config.dump" in src.members:
            result["config_mtime"] = src.members["config.dump"].mtime
        for key, fn in (("config", "config.dump"), ("spec", "spec.dump")):
            if src.has(fn) and src.members[fn].size <= _META_CAP:
                try:
                    result[key] = _parse_json(src.read(fn))
                except ArchiveError:
                    pass
    return result
