"""The opt-in re-open cache: an archive opened once is re-opened without decompressing it again.

Off by default: nothing is written outside the app's temporary workspace unless the user
turns it on (how: :mod:`ckpt_tui.archive.cachedir`; or ``Limits(cache_dir=DIR)``). Then,
when a compressed archive is opened, its large members are spilled straight into a new
entry of ``DIR/ckpt-tui-cache-v1/`` instead of the workspace (no extra copy), and the index
(members, where their bytes are, problems) is written next to them. Opening the same
archive again -- same path, size, mtime and inode, same limits, same ckpt-tui version --
reads that index and maps the spilled files: no decompression. Finished command results
(``inspect --json``) are kept in the same directory as small entries of their own.

Bounded: after each new entry the least recently used entries are removed until the
cache holds at most ``CKPT_TUI_CACHE_MAX`` (``Limits.cache_max_bytes``; default 2 GiB);
an entry larger than the bound is not kept. Never required: a missing, damaged or
foreign entry, an unwritable directory or a full disk are cache misses, never errors.
An entry in use is held with a shared ``flock`` and never evicted under a reader.
Entries are plain files (JSON and raw member bytes), read only through this module and
``results``; ``DIR/ckpt-tui-cache-v1`` is created 0700 and ignored unless it is the
user's own and not writable by others (its entries are trusted to be what the archive holds).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Pane, Problem
from ..text import parse_size
from .cachedir import archive_identity, cache_dir, trusted_root
from .cachedir import key_of as key_of  # what source.py keys an entry with
from .types import GiB, Limits, Member

ENV_MAX = "CKPT_TUI_CACHE_MAX"
DEFAULT_MAX = 2 * GiB
STALE = 24 * 3600  # half-written entries older than this are removed

_KEY = re.compile(r"^[0-9a-f]{32}$")
_FILE = re.compile(r"^m[0-9]{6}$")


def _bound(explicit: int | None) -> int:
    if explicit is None:
        try:
            explicit = parse_size(os.environ.get(ENV_MAX, ""))  # 0 is a bound too: keep nothing
        except ValueError:  # unset or not a size
            explicit = DEFAULT_MAX
    return max(0, int(explicit))


def settings(limits: Limits) -> tuple[Path, int] | None:
    """(directory, size bound) when the cache is on, else None."""
    where = cache_dir(limits.cache_dir)
    if where is None:
        return None
    return Path(where), _bound(limits.cache_max_bytes)


def identity(path: Path, st: os.stat_result, limits: Limits) -> dict[str, Any]:
    ident = archive_identity(str(path), st)
    # the limits that change what is kept (not where the cache is)
    ident["limits"] = {"max_total_bytes": limits.max_total_bytes, "keep_in_memory": limits.keep_in_memory,
                       "max_ratio": limits.max_ratio, "ratio_after": limits.ratio_after,
                       "max_memory_total": limits.max_memory_total, "max_members": limits.max_members}
    return ident


@dataclass
class Loaded:
    """An entry read back: what ``Source`` needs."""

    kind: str
    description: str
    annotations: dict[str, str]
    synthesized: set[str]
    problems: list[Problem]
    members: list[Member]
    refs: dict[str, tuple]  # name -> ("m", data) | ("f", path, offset, size) | ("s", offset, size)
    lock_fd: int


def _release(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def hold(obj: object, fd: int) -> weakref.finalize:
    """Close ``fd`` (releasing its shared lock) when the returned finalizer is called or
    ``obj`` is garbage collected, whichever comes first (exactly once)."""
    return weakref.finalize(obj, _release, fd)


class Cache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @classmethod
    def for_limits(cls, limits: Limits) -> Cache | None:
        conf = settings(limits)
        if conf is None:
            return None
        return cls.at(str(conf[0]), conf[1])

    @classmethod
    def at(cls, base: str, max_bytes: int | None = None) -> Cache | None:
        """The cache in directory ``base`` (created if need be), or None when it cannot be
        used: not ours, writable by others, or not writable."""
        root = trusted_root(base, create=True)
        if root is None:
            return None
        return cls(Path(root), _bound(max_bytes))

    # -- reading -----------------------------------------------------------
    def load(self, key: str, ident: dict[str, Any]) -> Loaded | None:
        """The entry for ``key``, or None (missing, in the middle of eviction, damaged)."""
        d = self.root / key
        try:
            fd = os.open(d / "lock", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            loaded = self._read_entry(d, ident, fd)
        except (OSError, ValueError, LookupError, TypeError, AttributeError):
            # an entry's files are read back as found on disk: a damaged or foreign one is a miss
            loaded = None
        if loaded is None:
            _release(fd)
            self._discard(d)
            return None
        try:
            os.utime(fd)  # last use, for LRU
        except OSError:
            pass
        return loaded

    def _read_entry(self, d: Path, ident: dict[str, Any], fd: int) -> Loaded | None:
        doc = json.loads((d / "index.json").read_bytes())
        if doc.get("ident") != ident:
            return None
        inline_size = int(doc["inline"])
        inline = b""
        if inline_size:
            with open(d / "inline.bin", "rb") as f:
                inline = f.read()
            if len(inline) != inline_size:
                return None
        files: dict[str, int] = doc["files"]
        for name, size in files.items():
            if not _FILE.match(name) or os.stat(d / name, follow_symlinks=False).st_size != size:
                return None
        members = [Member(*m) for m in doc["members"]]
        refs: dict[str, tuple] = {}
        view = memoryview(inline)
        for name, r in doc["refs"].items():
            kind = r[0]
            if kind == "m":
                off, size = int(r[1]), int(r[2])
                if off < 0 or off + size > inline_size:
                    return None
                refs[name] = ("m", bytes(view[off : off + size]))
            elif kind == "f":
                fname, off, size = r[1], int(r[2]), int(r[3])
                if fname not in files or off < 0 or off + size > files[fname]:
                    return None
                refs[name] = ("f", d / fname, off, size)
            elif kind == "s":
                refs[name] = ("s", int(r[1]), int(r[2]))
            else:
                return None
        view.release()
        names = {m.name for m in members}
        if not set(refs) <= names:
            return None
        return Loaded(
            kind=str(doc["kind"]),
            description=str(doc["description"]),
            annotations={str(k): str(v) for k, v in doc["annotations"].items()},
            synthesized=set(doc["synthesized"]),
            problems=[Problem(p[0], p[1], Pane(p[2]), p[3]) for p in doc["problems"]],
            members=members,
            refs=refs,
            lock_fd=fd,
        )

    # -- writing -----------------------------------------------------------
    def stage(self, key: str) -> Path | None:
        """A new private directory to spill into (None when that fails)."""
        try:
            d = self.root / f"tmp-{key}-{os.getpid()}-{secrets.token_hex(4)}"
            d.mkdir(mode=0o700)
            return d
        except OSError:
            return None

    def commit(self, staging: Path, key: str, ident: dict[str, Any], source_path: Path, *, kind: str,
               description: str, annotations: dict[str, str], synthesized: set[str], problems: list[Problem],
               members: dict[str, Member], refs: dict[str, Any]) -> tuple[Path, int] | None:
        """Write the index next to the spilled files and publish the entry under ``key``.

        Returns (entry directory, shared-lock fd) or None (not cacheable, too big, or any
        error): then ``staging`` stays the caller's scratch directory.
        """
        try:
            files: dict[str, int] = {}
            for child in staging.iterdir():
                if _FILE.match(child.name):
                    files[child.name] = child.stat().st_size
            out_refs: dict[str, list] = {}
            chunks: list[bytes] = []
            inline = 0
            seen: dict[int, int] = {}  # id(bytes) -> offset: hard links share their data
            for name, ref in refs.items():
                if ref.data is not None:
                    off = seen.get(id(ref.data))
                    if off is None:
                        off = seen[id(ref.data)] = inline
                        chunks.append(ref.data)
                        inline += len(ref.data)
                    out_refs[name] = ["m", off, len(ref.data)]
                elif ref.path is not None and ref.path.parent == staging and ref.path.name in files:
                    out_refs[name] = ["f", ref.path.name, ref.offset, ref.size]
                elif ref.path is not None and ref.path == source_path and not ref.spilled:
                    out_refs[name] = ["s", ref.offset, ref.size]
                else:
                    return None  # a kind of reference the cache does not know
            total = sum(files.values()) + inline
            if total > self.max_bytes or total == 0:
                return None  # too big to keep, or nothing a re-open would save (a plain tar)
            doc = {
                "ident": ident,
                "kind": kind,
                "description": description,
                "annotations": annotations,
                "synthesized": sorted(synthesized),
                "problems": [[p.source, p.message, p.pane, p.severity] for p in problems],
                "members": [[m.name, m.size, m.type, m.mode, m.mtime, m.linkname, m.uid, m.gid]
                            for m in members.values()],
                "refs": out_refs,
                "files": files,
                "inline": inline,
            }
            if inline:
                with open(staging / "inline.bin", "wb") as f:
                    for c in chunks:
                        f.write(c)
            (staging / "index.json").write_text(json.dumps(doc))
            (staging / "size").write_text(str(total))
            fd = os.open(staging / "lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (OSError, ValueError, TypeError):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            final = self.root / key
            os.rename(staging, final)  # fails if another process published this key meanwhile
        except OSError:
            _release(fd)
            return None
        self.evict(protect=key)
        return final, fd

    def publish(self, key: str, files: dict[str, bytes], size: int) -> bool:
        """Write a small entry made of ``files`` under ``key`` (replacing an older one) and
        evict down to the bound. ``size`` is what it counts against the bound."""
        if size > self.max_bytes:
            return False
        staging = self.stage(key)
        if staging is None:
            return False
        try:
            for name, data in files.items():
                with open(staging / name, "xb") as f:
                    f.write(data)
            (staging / "size").write_text(str(size))
            os.close(os.open(staging / "lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            final = self.root / key
            if final.exists():
                self._discard(final)
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            return False
        self.evict(protect=key)
        return True

    # -- eviction ----------------------------------------------------------
    def _discard(self, d: Path) -> bool:
        """Remove entry ``d`` unless someone holds it (True when removed)."""
        try:
            fd = os.open(d / "lock", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = None
        except OSError:
            return False
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            trash = self.root / f"trash-{d.name}-{secrets.token_hex(4)}"
            os.rename(d, trash)
        except OSError:
            return False
        finally:
            if fd is not None:
                _release(fd)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def evict(self, protect: str = "") -> None:
        """Remove least recently used entries until the cache fits its bound."""
        now = time.time()
        entries = []
        try:
            children = list(os.scandir(self.root))
        except OSError:
            return
        for child in children:
            name = child.name
            try:
                if name.startswith(("tmp-", "trash-")):
                    if now - child.stat(follow_symlinks=False).st_mtime > STALE:
                        shutil.rmtree(child.path, ignore_errors=True)
                    continue
                if not _KEY.match(name):
                    continue
                try:
                    size = int((Path(child.path) / "size").read_text())
                    used = os.stat(Path(child.path) / "lock").st_mtime
                except (OSError, ValueError):
                    size, used = 0, 0.0  # damaged: evict first
                entries.append((used, size, name))
            except OSError:
                continue
        total = sum(size for _, size, _ in entries)
        for _used, size, name in sorted(entries):
            if total <= self.max_bytes:
                break
            if name == protect:
                continue
            if self._discard(self.root / name):
                total -= size
