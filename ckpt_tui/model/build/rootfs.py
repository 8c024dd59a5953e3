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
VOLUMES = "volumes/"
DEVSHM = "devshm-checkpoint.tar"
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
    list_tar(ctx, diff)


def volumes(ctx: Context) -> None:
    """The named volumes' contents (``volumes/NAME.tar``, where config.dump's ``namedVolumes``
    says each is mounted), then /dev/shm's (``devshm-checkpoint.tar``) when it holds any:
    Podman exports both with the checkpoint and restores them into the container."""
    named = ctx.ck.config.get("namedVolumes")
    mounts = {str(v.get("volumeName")): str(v.get("dest") or "") for v in named if isinstance(v, dict)} \
        if isinstance(named, list) else {}
    for name in ctx.src.names(VOLUMES):
        volume = name[len(VOLUMES):]
        if ctx.src.members[name].type != "file" or "/" in volume or not volume.endswith(".tar"):
            continue
        volume = volume[: -len(".tar")]
        diff = RootfsDiff(present=True, member=name, kind="volume", name=volume, label=f"volume {volume}",
                          mount=mounts.get(volume, ""), whole=True)
        list_tar(ctx, diff)
        ctx.ck.volumes.append(diff)
    if ctx.src.has(DEVSHM) and ctx.src.members[DEVSHM].type == "file":
        diff = RootfsDiff(present=True, member=DEVSHM, kind="devshm", name="/dev/shm", label="/dev/shm",
                          mount="/dev/shm", whole=True)
        list_tar(ctx, diff)
        if diff.entries:  # Podman writes one for every container, empty unless /dev/shm held files
            ctx.ck.volumes.append(diff)


def list_tar(ctx: Context, diff: RootfsDiff) -> None:
    """The entries of the tar ``diff.member`` (one pass; file data skipped, and where it starts
    noted for an uncompressed tar)."""
    member = diff.member
    try:
        fh = ctx.src.open(member)
        size = ctx.src.members[member].size
    except CkptError as exc:
        ctx.problem(member, f"cannot read: {exc}", Pane.FILES)
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
                if ctx.take(1, "root FS entries"):  # past the entry bound the rest are only counted
                    add_entry(ctx, entry, diff)
        except (TarError, OSError, EOFError, ValueError) as exc:
            ctx.problem(member, f"is damaged after {len(diff.entries)} entries ({exc}); the entries before it "
                        "are shown", Pane.FILES)


def add_entry(ctx: Context, e: TarEntry, diff: RootfsDiff) -> None:
    """One tar entry: a changed file, a whiteout (deleted), or an opaque directory."""
    name = entry_path(e.name)
    if not name:
        return
    if climbs_out(name):
        ctx.problem(diff.member, f"entry {name!r} climbs out of the root; skipped", Pane.FILES)
        return
    parent, _, base = name.rpartition("/")
    if base.startswith(WHITEOUT) and not diff.whole:  # a volume's files are files, whatever their names
        if base == OPAQUE:
            diff.entries.append(RootfsEntry(path=parent, type="opaque", status="deleted"))
        else:
            diff.deleted.append(f"/{parent}/{base[len(WHITEOUT):]}" if parent else f"/{base[len(WHITEOUT):]}")
        return
    kind = _KINDS.get(e.kind) or _DEVICES.get(e.typeflag, "other")
    diff.entries.append(RootfsEntry(path=name, type=kind, size=e.size if kind == "file" else 0, mode=e.raw_mode,
                                    uid=e.uid, gid=e.gid, mtime=e.mtime, linkname=e.linkname,
                                    data_offset=e.data_offset if not diff.compressed and kind == "file" else -1))
