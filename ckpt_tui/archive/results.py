"""Where the opt-in re-open cache lives, and its cheapest part: finished command results.

The cache is off unless the user turns it on (DEVELOPERS.md: nothing is written outside
the app's temp dir otherwise):

* ``CKPT_TUI_CACHE_DIR=DIR`` -- on, in ``DIR``;
* ``CKPT_TUI_CACHE=1`` (or the ``--cache`` option) -- on, in the user cache directory
  (``$XDG_CACHE_HOME/ckpt-tui``, default ``~/.cache/ckpt-tui``);
* ``CKPT_TUI_CACHE=0`` -- off, whatever else says (except ``--cache`` on the command line).

Two kinds of entries share ``<dir>/ckpt-tui-cache-v1/`` and its size bound (see
:mod:`ckpt_tui.archive.cache` for eviction): the spilled members of a compressed archive
(so opening it again decompresses nothing), and here, the finished output of a command
(``inspect --json``) for one archive, so that running it again is one read. Both are
keyed on the archive's path (as given, made absolute), size, mtime, ctime, inode and
device plus the ckpt-tui code (version and the size and mtime of each of its modules) and
the options that change the output; a changed archive or a changed ckpt-tui is a miss. A
kept result also carries a digest of its bytes, checked when it is read back.

This module imports only the standard library's basics: the CLI checks for a cached
result before it imports anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

from .. import __version__

ENV_DIR = "CKPT_TUI_CACHE_DIR"
ENV_ON = "CKPT_TUI_CACHE"
ROOT = "ckpt-tui-cache-v1"
FORMAT = 1
RESULT = "result.bin"

_OFF = ("0", "off", "no", "false")


def user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ckpt-tui")


def cache_dir(explicit: "str | os.PathLike[str] | None" = None) -> str | None:
    """The cache directory the user asked for, or None (the cache is off).

    ``explicit``: ``Limits.cache_dir`` -- None lets the environment decide, ``""`` is off."""
    if explicit is not None:
        return os.path.expanduser(os.fspath(explicit)) or None
    on = os.environ.get(ENV_ON, "").strip().lower()
    if on in _OFF:
        return None
    where = os.environ.get(ENV_DIR, "")
    if where:
        return os.path.expanduser(where)
    if on:
        return user_cache_dir()
    return None


def trusted_root(base: str, create: bool) -> str | None:
    """``base/ckpt-tui-cache-v1`` when it is a directory of ours that nobody else can
    write to (its entries are trusted to be what the archives hold), else None."""
    root = os.path.join(base, ROOT)
    try:
        if create:
            os.makedirs(root, mode=0o700, exist_ok=True)
        st = os.stat(root, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    if not os.access(root, os.W_OK | os.X_OK):
        return None
    return root


_CODE: list[str] = []


def code_fingerprint() -> str:
    """The version plus the size and mtime of every module of the package: entries made by
    other code (a development checkout, an upgrade that kept the version) are misses."""
    if not _CODE:
        h = hashlib.blake2b(__version__.encode(), digest_size=16)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        stack = [root]
        while stack:
            d = stack.pop()
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "__pycache__")):
                    stack.append(e.path)
                elif e.name.endswith((".py", ".tcss")):
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    h.update(f"{os.path.relpath(e.path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        _CODE.append(h.hexdigest())
    return _CODE[0]


def source_path(path: "str | os.PathLike[str]") -> str:
    """The path the way the archive layer names it: made absolute, not normalised (``a/../b``
    stays, since ``a`` may be a symbolic link), so lookups stat what a real open reads."""
    p = os.fspath(path)
    return p if os.path.isabs(p) else os.path.join(os.getcwd(), p)


def archive_identity(path: str, st: os.stat_result) -> dict:
    return {
        "format": FORMAT,
        "code": code_fingerprint(),
        "path": path,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
    }


def key_of(ident: dict) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def result_identity(path: str, st: os.stat_result, command: str, options: dict) -> dict:
    ident = archive_identity(path, st)
    ident["result"] = command
    ident["options"] = options
    return ident


def lookup_result(path: "str | os.PathLike[str]", command: str, options: dict,
                  explicit_dir: "str | None" = None) -> bytes | None:
    """The stored output of ``command`` on the archive at ``path``, or None (off, missing,
    changed archive, damaged or foreign entry: a miss, never an error)."""
    base = cache_dir(explicit_dir)
    if base is None:
        return None
    try:
        p = source_path(path)
        st = os.stat(p)
    except (OSError, TypeError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    root = trusted_root(base, create=False)
    if root is None:
        return None
    ident = result_identity(p, st, command, options)
    entry = os.path.join(root, key_of(ident))
    try:
        fd = os.open(os.path.join(entry, "lock"), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # fails while the entry is being evicted
        with open(os.path.join(entry, "ident.json"), "rb") as f:
            if json.loads(f.read()) != ident:
                return None
        with open(os.path.join(entry, RESULT), "rb") as f:
            data = f.read()
        with open(os.path.join(entry, "size"), "rb") as f:
            if int(f.read()) != len(data):
                return None
        with open(os.path.join(entry, "digest"), "rb") as f:
            if f.read().decode() != _digest(data):
                return None
        try:
            os.utime(fd)  # last use, for least-recently-used eviction
        except OSError:
            pass
        return data
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def store_result(path: "str | os.PathLike[str]", st: os.stat_result, command: str, options: dict, data: bytes,
                 explicit_dir: "str | None" = None, max_bytes: int | None = None) -> bool:
    """Keep ``data`` as the output of ``command`` for the archive that had stat ``st``
    when the command started (nothing is kept if it changed since). True when kept."""
    base = cache_dir(explicit_dir)
    if base is None:
        return False
    p = source_path(path)
    try:
        now = os.stat(p)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or archive_identity(p, now) != archive_identity(p, st):
        return False  # changed while we read it: what we have may not be what it holds
    from .cache import Cache  # the writing side may cost imports; reading above does not

    cache = Cache.at(base, max_bytes)
    if cache is None:
        return False
    ident = result_identity(p, st, command, options)
    return cache.publish(key_of(ident), {"ident.json": json.dumps(ident).encode(), RESULT: data,
                                         "digest": _digest(data).encode()}, len(data))


def _digest(data: bytes) -> str:
    """A check against damage, not tampering (the directory is the user's own): CRC-32 reads
    a 20 MB result in 5 ms, a cryptographic hash in 20+."""
    import zlib

    return f"crc32:{zlib.crc32(data):08x}"
