"""Blob bytes by digest, whole or in ranges, fetched once and verified when complete.

Where: in the opt-in cache (``--cache``, ``CKPT_TUI_CACHE=1``, ``CKPT_TUI_CACHE_DIR``; the same
switch, directory and size bound as the re-open cache of :mod:`ckpt_tui.archive.cache`, whose
least-recently-used eviction also removes blob entries), else in the app's temp workspace,
removed on exit. An entry is a directory ``ckpt-tui-cache-v1/<key>/`` (``key`` from the
digest) holding ``data`` (a sparse file of the blob's size), ``ranges`` (the byte ranges held,
JSON), ``size`` (bytes held, for the bound), ``digest`` and ``lock``.

Two processes may use one entry at once: each holds a shared ``flock`` on ``lock`` while it
has the entry open (eviction needs it exclusively, so an entry in use is never removed); the
list of ranges is updated under an exclusive lock on ``wlock``, after the bytes were written.
When the ranges cover the whole blob its SHA-256 is checked; a mismatch drops the entry and
is reported -- the bytes are never handed out as verified.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from .reference import RegistryError

Range = tuple[int, int]


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[list[int]] = []
    for s, e in sorted(ranges):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def missing(have: list[Range], start: int, end: int) -> list[Range]:
    """The parts of [start, end) not covered by ``have`` (merged, sorted)."""
    out: list[Range] = []
    pos = start
    for s, e in have:
        if e <= pos:
            continue
        if s >= end:
            break
        if s > pos:
            out.append((pos, min(s, end)))
        pos = max(pos, e)
        if pos >= end:
            break
    if pos < end:
        out.append((pos, end))
    return out


def blob_key(digest: str) -> str:
    """The cache entry name of a blob: 32 hex digits, like the re-open cache's keys."""
    return hashlib.sha256(b"ckpt-tui blob\0" + digest.encode()).hexdigest()[:32]


class BlobEntry:
    """The bytes of one blob held so far."""

    def __init__(self, store: BlobStore, directory: Path, digest: str, size: int, lock_fd: int | None) -> None:
        self.store = store
        self.dir = directory
        self.digest = digest
        self.size = size
        self.data_path = directory / "data"
        self._lock_fd = lock_fd
        self._fd = os.open(self.data_path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        self.have: list[Range] = []
        self.verified = False
        self._reload()

    # -- state -------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            doc = json.loads((self.dir / "ranges").read_text())
            have = [(int(s), int(e)) for s, e in doc.get("ranges", [])]
            self.verified = bool(doc.get("verified"))
        except (OSError, ValueError, TypeError, AttributeError):
            have = []
        size = os.fstat(self._fd).st_size
        self.have = _merge([(max(0, s), min(e, size)) for s, e in have])

    @property
    def held(self) -> int:
        return sum(e - s for s, e in self.have)

    @property
    def complete(self) -> bool:
        return self.have == [(0, self.size)] or self.size == 0

    def missing(self, start: int, end: int) -> list[Range]:
        got = missing(self.have, start, end)
        if got and self.store.shared:  # another process may have fetched it meanwhile
            self._reload()
            got = missing(self.have, start, end)
        return got

    # -- bytes -------------------------------------------------------------------
    def read(self, offset: int, n: int) -> bytes:
        """Bytes that are held (the caller fetched what was missing first)."""
        end = min(self.size, offset + n)
        if offset >= end:
            return b""
        if missing(self.have, offset, end):
            raise RegistryError(f"blob {self.digest}: bytes {offset}-{end - 1} were not fetched")
        return os.pread(self._fd, end - offset, offset)

    def write(self, offset: int, data: bytes) -> None:
        """Store bytes fetched from the registry (recorded once written)."""
        self.write_unrecorded(offset, data)
        self._record([(offset, offset + len(data))])

    def write_unrecorded(self, offset: int, data: bytes) -> None:
        """Write bytes that count only after :meth:`commit_written` (a whole blob, verified first)."""
        if offset < 0 or offset + len(data) > self.size:
            raise RegistryError(f"blob {self.digest}: bytes {offset}-{offset + len(data) - 1} lie outside "
                                f"its {self.size} bytes")
        view = memoryview(data)
        pos = offset
        while len(view):
            n = os.pwrite(self._fd, view, pos)
            view = view[n:]
            pos += n

    def commit_written(self) -> None:
        """The whole blob was written (and its digest checked by the caller)."""
        self._record([(0, self.size)])

    def _record(self, new: list[Range], verified: bool = False) -> None:
        wfd = os.open(self.dir / "wlock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(wfd, fcntl.LOCK_EX)
            if self.store.shared:
                self._reload()
            self.have = _merge(self.have + new)
            self.verified = self.verified or verified
            tmp = self.dir / f"ranges.{os.getpid()}.{secrets.token_hex(3)}"
            tmp.write_text(json.dumps({"ranges": self.have, "verified": self.verified}))
            os.replace(tmp, self.dir / "ranges")
            (self.dir / "size").write_text(str(self.held))
        finally:
            os.close(wfd)

    def mark_verified(self) -> None:
        self._record([], verified=True)

    def verify(self) -> None:
        """Check the SHA-256 of a complete blob; a mismatch drops the entry (RegistryError)."""
        if self.verified or not self.complete:
            return
        if not self.digest.startswith("sha256:"):
            return
        h = hashlib.sha256()
        pos = 0
        while pos < self.size:
            chunk = os.pread(self._fd, min(1 << 22, self.size - pos), pos)
            if not chunk:
                break
            h.update(chunk)
            pos += len(chunk)
        if "sha256:" + h.hexdigest() != self.digest:
            self.discard()
            raise RegistryError(f"blob {self.digest}: the bytes the registry sent hash to sha256:{h.hexdigest()}, "
                                "not to the blob's digest; they were dropped and are not shown")
        self.mark_verified()

    def discard(self) -> None:
        """Forget what is held (a digest mismatch): the entry is emptied and removed."""
        self.have = []
        self.verified = False
        try:
            os.ftruncate(self._fd, 0)
            os.ftruncate(self._fd, self.size)
            (self.dir / "ranges").unlink(missing_ok=True)
            (self.dir / "size").write_text("0")
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = -1
        self._lock_fd = None


class BlobStore:
    """Entries by digest under ``root`` (the cache's ``ckpt-tui-cache-v1`` or a temp dir)."""

    def __init__(self, root: Path, *, shared: bool, max_bytes: int | None = None) -> None:
        self.root = root
        self.shared = shared  # the user's cache: other processes use it too
        self.max_bytes = max_bytes
        self._open: dict[str, BlobEntry] = {}

    def fits(self, size: int) -> bool:
        return self.max_bytes is None or size <= self.max_bytes

    def entry(self, digest: str, size: int) -> BlobEntry:
        got = self._open.get(digest)
        if got is not None:
            return got
        key = blob_key(digest)
        final = self.root / key
        entry = self._open_existing(final, digest, size)
        if entry is None:
            entry = self._create(final, digest, size)
        self._open[digest] = entry
        return entry

    def _open_existing(self, final: Path, digest: str, size: int) -> BlobEntry | None:
        try:
            fd = os.open(final / "lock", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # fails while it is being evicted
            if (final / "digest").read_text() != digest or os.stat(final / "data").st_size != size:
                raise OSError("another blob")
            os.utime(fd)  # last use, for the cache's LRU eviction
            return BlobEntry(self, final, digest, size, fd)
        except OSError:
            os.close(fd)
            return None

    def _create(self, final: Path, digest: str, size: int) -> BlobEntry:
        staging = self.root / f"tmp-{final.name}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            staging.mkdir(mode=0o700, parents=True)
            with open(staging / "data", "wb") as f:
                f.truncate(size)
            (staging / "digest").write_text(digest)
            (staging / "size").write_text("0")
            fd = os.open(staging / "lock", os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise RegistryError(f"cannot keep blob {digest} in {self.root}: {exc.strerror or exc}") from None
        try:
            os.rename(staging, final)
            where = final
        except OSError:  # another process made it meanwhile (or a damaged one is in the way)
            os.close(fd)
            got = self._open_existing(final, digest, size)
            if got is not None:
                shutil.rmtree(staging, ignore_errors=True)
                return got
            fd = os.open(staging / "lock", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            fcntl.flock(fd, fcntl.LOCK_SH)
            where = staging  # used privately, removed on close
        return BlobEntry(self, where, digest, size, fd)

    def evict(self) -> None:
        """Bring the shared cache back under its bound (the re-open cache's LRU eviction)."""
        if not self.shared or self.max_bytes is None:
            return
        from ..cache import Cache

        Cache(self.root, self.max_bytes).evict()

    def close(self) -> None:
        for entry in self._open.values():
            private = entry.dir.name.startswith("tmp-")
            entry.close()
            if private:
                shutil.rmtree(entry.dir, ignore_errors=True)
        self._open.clear()
