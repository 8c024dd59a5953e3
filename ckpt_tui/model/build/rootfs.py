"""The root file system diff: deleted.files and the entries of rootfs-diff.tar (listed in
one pass; file data is skipped, and where it starts is noted for an uncompressed tar)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

from ...archive import TarEntry, TarError, iter_tar
from ...errors import CkptError, Pane
from ..rootfs import climbs_out, entry_path
from ..types import RootfsDiff, RootfsEntry
from .context import Context

TAR = "rootfs-diff.tar"
_KINDS = {"file": "file", "dir": "dir", "symlink": "symlink", "hardlink": "hardlink", "fifo": "fifo"}
_DEVICES = {b"3": "char", b"4": "block"}
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def rootfs(ctx: Context) -> None:
    diff = ctx.ck.rootfs
    deleted = ctx.json_member("deleted.files", Pane.FILES, shape=list) if ctx.src.has("deleted.files") else None
    if deleted:
        diff.deleted.extend(str(p) for p in deleted if isinstance(p, (str, int)))
    if not ctx.src.has(TAR):
        diff.present = bool(diff.deleted)
        return
    diff.present = True
    try:
        fh = ctx.src.open(TAR)
        size = ctx.src.members[TAR].size
    except CkptError as exc:
        ctx.problem(TAR, f"cannot read: {exc}", Pane.FILES)
        return
    with fh:
        head = fh.read(2)
        fh.seek(0)
        entries: Iterator[tuple[TarEntry, object]]
        if head == b"\x1f\x8b":
            diff.compressed = "gzip"
            entries = iter_tar(gzip.GzipFile(fileobj=fh))
        else:
            entries = iter_tar(fh, size)  # seekable: file data is skipped, not read
        try:
            for i, (entry, _reader) in enumerate(entries):
                if i & 4095 == 4095:
                    ctx.check()
                add_entry(ctx, entry, diff)
        except (TarError, OSError, EOFError, ValueError) as exc:
            ctx.problem(TAR, f"is damaged after {len(diff.entries)} entries ({exc}); the entries before it are shown",
                        Pane.FILES)


def add_entry(ctx: Context, e: TarEntry, diff: RootfsDiff) -> None:
    """One tar entry: a changed file, a whiteout (deleted), or an opaque directory."""
    name = entry_path(e.name)
    if not name:
        return
    if climbs_out(name):
        ctx.problem(TAR, f"entry {name!r} climbs out of the root; skipped", Pane.FILES)
        return
    parent, _, base = name.rpartition("/")
    if base.startswith(WHITEOUT):
        if base == OPAQUE:
            diff.entries.append(RootfsEntry(path=parent, type="opaque", status="deleted"))
        else:
            diff.deleted.append(f"/{parent}/{base[len(WHITEOUT):]}" if parent else f"/{base[len(WHITEOUT):]}")
        return
    kind = _KINDS.get(e.kind) or _DEVICES.get(e.typeflag, "other")
    diff.entries.append(RootfsEntry(path=name, type=kind, size=e.size if kind == "file" else 0, mode=e.raw_mode,
                                    uid=e.uid, gid=e.gid, mtime=e.mtime, linkname=e.linkname,
                                    data_offset=e.data_offset if not diff.compressed and kind == "file" else -1))
