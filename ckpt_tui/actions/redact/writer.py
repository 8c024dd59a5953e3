"""Writing the copy: a tar (plain, gzip or zstd) or a directory, member by member, with each
member's name, type, mode, owner and time as the original has them. Everything goes to
``OUT.part`` first and is renamed to ``OUT`` when complete (a failure leaves nothing at ``OUT``)."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import CkptError

BLOCK = 512
RECORD = 20 * BLOCK
Write = Callable[[bytes], object]
Fill = Callable[[Write], None]


@dataclass
class NewMember:
    """A member the copy adds (``redacted.json``): what the writers read of a member."""

    name: str
    mode: int = 0o644
    mtime: float = 0.0
    uid: int = 0
    gid: int = 0
    type: str = "file"
    linkname: str = ""


def _safe_name(name: str) -> str:
    clean = name.strip("/")
    if not clean or clean.startswith("../") or "/../" in f"/{clean}/" or name.startswith("/"):
        raise CkptError(f"refusing to write a member named {name!r}")
    return clean


class _Counter:
    def __init__(self, sink: Write) -> None:
        self.sink = sink
        self.size = 0

    def __call__(self, data: bytes) -> None:
        if data:
            self.sink(data)
            self.size += len(data)


class TarWriter:
    """A tar archive, optionally compressed (``compression``: "" | "gzip" | "zstd")."""

    #: what :func:`~ckpt_tui.actions.redact.write_copy` asks of a writer: the members it fills in
    #: place (JSON too: same size) and those it leaves out (the reader makes them from the rest)
    in_place: frozenset[str] = frozenset()
    derived: frozenset[str] = frozenset()

    def __init__(self, path: Path, compression: str = "") -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self._raw: BinaryIO = open(self.part, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._stream: Any
        if compression == "gzip":
            self._stream = gzip.GzipFile(filename="", fileobj=self._raw, mode="wb", mtime=0)
        elif compression == "zstd":
            import zstandard

            self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._raw, closefd=False)
        else:
            self._stream = self._raw
        self._written = 0

    def _out(self, data: bytes) -> None:
        self._stream.write(data)
        self._written += len(data)

    def _header(self, member: Any, name: str, type_: bytes, size: int = 0) -> None:
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = int(member.mode) & 0o7777
        ti.mtime = int(member.mtime)
        ti.uid, ti.gid = int(member.uid), int(member.gid)
        ti.size = size
        if type_ in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            ti.linkname = member.linkname
        self._out(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def add_dir(self, member: Any) -> None:
        self._header(member, _safe_name(member.name) + "/", tarfile.DIRTYPE)

    def add_link(self, member: Any) -> None:
        kind = tarfile.SYMTYPE if member.type == "symlink" else tarfile.LNKTYPE
        self._header(member, _safe_name(member.name), kind)

    def add_file(self, member: Any, size: int, fill: Fill) -> None:
        name = _safe_name(member.name)
        self._header(member, name, tarfile.REGTYPE, size)
        count = _Counter(self._out)
        fill(count)
        if count.size != size:
            raise CkptError(f"{name}: wrote {count.size} bytes where {size} were announced")
        if size % BLOCK:
            self._out(b"\0" * (BLOCK - size % BLOCK))

    def close(self) -> None:
        self._out(b"\0" * (2 * BLOCK))
        if self._written % RECORD:
            self._out(b"\0" * (RECORD - self._written % RECORD))
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.close()
        os.replace(self.part, self.path)

    def abort(self) -> None:
        try:
            self._raw.close()
        finally:
            self.part.unlink(missing_ok=True)


class DirWriter:
    """A directory tree; ``strip``: a prefix the names lose (a bare CRIU directory's
    ``checkpoint/``). Times are set once everything is written."""

    in_place: frozenset[str] = frozenset()  # as TarWriter's
    derived: frozenset[str] = frozenset()

    def __init__(self, path: Path, strip: str = "") -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.part.mkdir(mode=0o700)
        self.strip = strip
        self._times: list[tuple[Path, float, int]] = []

    def _target(self, member: Any) -> Path | None:
        name = _safe_name(member.name)
        if self.strip:
            if name == self.strip.rstrip("/"):
                return None
            if name.startswith(self.strip):
                name = name[len(self.strip):]
        target = self.part / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_dir(self, member: Any) -> None:
        target = self._target(member)
        if target is None:
            return
        target.mkdir(exist_ok=True)
        self._times.append((target, member.mtime, (member.mode & 0o7777) | 0o700))

    def add_link(self, member: Any) -> None:
        target = self._target(member)
        if target is None:
            return
        if member.type == "symlink":
            os.symlink(member.linkname, target)
        else:
            link = member.linkname.strip("/")
            if self.strip and link.startswith(self.strip):
                link = link[len(self.strip):]
            os.link(self.part / _safe_name(link), target)

    def add_file(self, member: Any, size: int, fill: Fill) -> None:
        target = self._target(member)
        if target is None:
            return
        with open(target, "wb") as fh:
            count = _Counter(fh.write)
            fill(count)
        if count.size != size:
            raise CkptError(f"{member.name}: wrote {count.size} bytes where {size} were announced")
        self._times.append((target, member.mtime, member.mode & 0o7777 or 0o644))

    def close(self) -> None:
        for target, mtime, mode in reversed(self._times):  # files before the directories holding them
            os.chmod(target, mode)
            os.utime(target, (mtime, mtime))
        os.replace(self.part, self.path)

    def abort(self) -> None:
        shutil.rmtree(self.part, ignore_errors=True)
