"""What is on disk, presented as the common layout: a tar (plain, gzip or zstd; an OCI archive
or docker archive inside it is handed to :mod:`.oci`), an OCI layout directory, a bare CRIU
image directory or an unpacked checkpoint directory, each a :class:`~.index.Converted`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .find import KIND_OF_FORMAT, find_checkpoints, opens_as_checkpoint
from .index import METADATA_CAP, Context, Converted, Index, read_limited
from .passes import describe_format, index_tar, open_tar_stream, walk_directory
from .ref import Ref, open_regular_file
from .streams import RangeReader, sniff
from .tarstream import NotTar
from .types import ArchiveError, Member


def open_file(ctx: Context, p: Path, size: int) -> Converted:
    f = open_regular_file(p)
    with f:
        head = os.pread(f.fileno(), min(512, size), 0) if size > 0 else b""  # never past its size
        fmt = sniff(head)
        if fmt not in KIND_OF_FORMAT:
            hexhead = f" (it starts with {head[:8].hex(' ')})" if head else ""
            raise ArchiveError(f"not a checkpoint archive: {p}: {describe_format(fmt, hexhead)}")
        raw = RangeReader(f, 0, size)
        fmt, stream, base, done = open_tar_stream(ctx, raw, size=size, path=p, offset=0)
        ctx.kind = KIND_OF_FORMAT.get(fmt, fmt)
        ix = Index(ctx)
        try:
            index_tar(ix, stream, where=p.name, size=size, base=base, done=done)
        except NotTar as exc:
            what = "its data" if fmt == "tar" else f"its {fmt}-compressed data"
            raise ArchiveError(f"not a checkpoint archive: {p}: {what} is not a tar archive ({exc.message})") from None
    kind = KIND_OF_FORMAT[fmt]
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


def open_directory(ctx: Context, p: Path) -> Converted:
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
    if not opens_as_checkpoint(p):
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
    if member is None or member.type not in ("file", "hardlink") or member.size > METADATA_CAP or member.size == 0:
        return
    try:
        data = read_limited(ix, "spec.dump", METADATA_CAP, "spec.dump")
    except ArchiveError:
        return
    if data.lstrip()[:1] in (b"{", b"["):
        return
    from google.protobuf import any_pb2  # only for a spec.dump that is no JSON (a containerd one)
    from google.protobuf.message import DecodeError

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
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    value = bytes(msg.value)
    ix.refs["spec.dump"] = Ref(size=len(value), data=value)
    member.size = len(value)
    member.type = "file"
    member.linkname = ""
    synthesized.add("spec.dump")
    ctx.problem("spec.dump", "spec.dump was stored as a protobuf Any (containerd); its JSON spec is shown", "info")
