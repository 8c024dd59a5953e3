"""Where the opt-in re-open cache lives, and how its entries are named.

The cache is off unless the user turns it on (nothing is written outside the app's temp
dir otherwise):

* ``CKPT_TUI_CACHE_DIR=DIR`` -- on, in ``DIR``;
* ``CKPT_TUI_CACHE=1`` (or the ``--cache`` option) -- on, in the user cache directory
  (``$XDG_CACHE_HOME/ckpt-tui``, default ``~/.cache/ckpt-tui``);
* ``CKPT_TUI_CACHE=0`` -- off, whatever else says (except ``--cache`` on the command line).

Every entry of ``<dir>/ckpt-tui-cache-v1/`` is keyed on the archive's path (as given, made
absolute), size, mtime, ctime, inode and device plus the ckpt-tui code (version and the size
and mtime of each of its modules): a changed archive or a changed ckpt-tui is a miss.
The entries themselves are written and evicted by :mod:`ckpt_tui.archive.cache` (spilled
members) and :mod:`ckpt_tui.archive.results` (finished command results), both above this
module. It imports only the standard library's basics: the CLI looks for a cached result
before it imports anything else.
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

_OFF = ("0", "off", "no", "false")


def user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ckpt-tui")


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> str | None:
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


def source_path(path: str | os.PathLike[str]) -> str:
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
