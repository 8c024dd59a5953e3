"""The cheapest part of the opt-in cache: the finished output of a command (``inspect --json``)
for one archive, so that running it again is one read.

Where the cache is and how entries are keyed: :mod:`ckpt_tui.archive.cachedir`; eviction
and the size bound shared with the spilled members: :mod:`ckpt_tui.archive.cache`. A result
is keyed on what any entry is, plus the command and the options that change its output,
and carries a digest of its bytes, checked when it is read back.

Looking a result up imports only the standard library's basics: the CLI checks for a
cached result before it imports anything else. Storing one needs the writing side
(:mod:`ckpt_tui.archive.cache`), imported then.
"""

from __future__ import annotations

import json
import os
import stat

from .cachedir import ENV_DIR, ENV_ON, ROOT, archive_identity, cache_dir, key_of, source_path, trusted_root

__all__ = ["ENV_DIR", "ENV_ON", "RESULT", "ROOT", "cache_dir", "lookup_result", "result_identity", "store_result"]

RESULT = "result.bin"


def result_identity(path: str, st: os.stat_result, command: str, options: dict) -> dict:
    ident = archive_identity(path, st)
    ident["result"] = command
    ident["options"] = options
    return ident


def lookup_result(path: str | os.PathLike[str], command: str, options: dict,
                  explicit_dir: str | None = None) -> bytes | None:
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


def store_result(path: str | os.PathLike[str], st: os.stat_result, command: str, options: dict, data: bytes,
                 explicit_dir: str | None = None, max_bytes: int | None = None) -> bool:
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
