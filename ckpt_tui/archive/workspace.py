"""The app's own temporary directory: every byte ckpt-tui writes goes in here.

Every live workspace is also known to :mod:`ckpt_tui.shutdown`: a forced exit after SIGTERM /
SIGHUP (a clean one did not happen in time) removes them all before the process ends.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import weakref
from pathlib import Path

from .. import shutdown
from .types import ArchiveError

# the directories of the workspaces not yet removed (a dict: insertion-ordered, and a copy of
# its keys can be taken from the watchdog thread while another thread adds one)
_live: dict[str, None] = {}


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _live.pop(path, None)


def remove_all() -> None:
    """Remove every workspace still on disk (the forced exit's cleanup; safe on any thread)."""
    for path in list(_live):
        _remove(path)


shutdown.add_cleanup(remove_all)


class Workspace:
    """A private temp dir (``ckpt-tui-XXXX``) removed by :meth:`cleanup`, on context
    exit, when garbage collected, and at interpreter exit, even after errors."""

    def __init__(self) -> None:
        try:
            self.path = Path(tempfile.mkdtemp(prefix="ckpt-tui-"))
        except OSError as exc:
            raise ArchiveError(f"cannot create a temporary directory: {exc.strerror or exc}") from exc
        _live[str(self.path)] = None
        self._counter = itertools.count(1)
        # weakref.finalize runs at interpreter exit (atexit) as well as on collection.
        self._finalizer = weakref.finalize(self, _remove, str(self.path))

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def cleanup(self) -> None:
        """Remove the directory and everything in it (idempotent)."""
        self._finalizer()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}{', closed' if self.closed else ''})"

    # -- places inside ------------------------------------------------------
    def _check(self) -> None:
        if self.closed:
            raise ArchiveError(f"workspace {self.path} was already cleaned up")

    def mkdir(self, stem: str = "dir") -> Path:
        """A new, empty directory inside the workspace."""
        self._check()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:40] or "dir"
        path = self.path / f"{safe}-{next(self._counter)}"
        path.mkdir(mode=0o700)
        return path

    def new_file(self, stem: str = "file") -> Path:
        """A path for a new file inside the workspace (the file is created empty)."""
        self._check()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:40] or "file"
        path = self.path / f"{safe}-{next(self._counter)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        return path
