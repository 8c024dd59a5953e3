"""Checkpoint images: OCI layouts (directory or tar) and docker-archive tars.

Two shapes are checkpoints:

* containerd's native checkpoint: an OCI index whose descriptors are the CRIU
  image tar, the rw layer, the config (spec) and option blobs;
* single-layer "checkpoint images" (``podman container checkpoint
  --create-image``, checkpointctl build, CRI-O) carrying
  ``io.podman.annotations.checkpoint.*`` or ``org.criu.checkpoint.*`` annotations:
  the layer holds the common archive layout.

Both are turned into the common layout in a fresh :class:`Index`.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..annotations import MT_REDACTED_RECORD, REDACTED_RECORD
from .containerd import decode_config_blob, synthesize_config
from .index import Context, Converted, Index, read_limited
from .passes import index_tar, open_tar_stream
from .ref import Ref
from .streams import RangeReader
from .tarstream import NotTar
from .types import ArchiveError, Member, MiB, display_name

MT_CRIU_TAR = "application/vnd.containerd.container.criu.checkpoint.criu.tar"
MT_PREDUMP_TAR = "application/vnd.containerd.container.criu.checkpoint.predump.tar"
MT_CONFIG = "application/vnd.containerd.container.checkpoint.config.v1+proto"
MT_OPTIONS = "application/vnd.containerd.container.checkpoint.options.v1+proto"
MT_RUNTIME_OPTIONS = "application/vnd.containerd.container.checkpoint.runtime.options+proto"
MT_RUNTIME_NAME = "application/vnd.containerd.container.checkpoint.runtime.name"
MT_RW_LEGACY = "application/vnd.containerd.container.rw.tar"

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
_FOLLOWED = INDEX_TYPES | MANIFEST_TYPES | {""}  # descriptors _visit reads (no media type: a manifest)
CHECKPOINT_ANNOTATION_PREFIXES = (
    "io.podman.annotations.checkpoint.",
    "org.criu.checkpoint.",
    "io.kubernetes.cri-o.annotations.checkpoint.",
)
REF_NAME = "org.opencontainers.image.ref.name"
JSON_CAP = 4 * MiB
# Bounds on what an image may make the reader do: an index may name indexes that name
# more (or itself): each blob is looked at once, at most MAX_OCI_DOCUMENTS index, manifest
# and config blobs are read while looking for the checkpoint, at most MAX_OCI_DEPTH
# indexes deep; a checkpoint image's layers are read up to MAX_LAYERS (the most an image
# built by docker or podman may have is 127).
MAX_OCI_DOCUMENTS = 64
MAX_OCI_DEPTH = 6
MAX_LAYERS = 128
_DIGEST = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")




def is_oci_layout(outer: Index) -> bool:
    m = outer.members
    return "index.json" in m and ("oci-layout" in m or outer.has_prefix("blobs/")) and not outer.has_prefix("checkpoint/")


def is_docker_archive(outer: Index) -> bool:
    m = outer.members
    return "manifest.json" in m and "index.json" not in m and not outer.has_prefix("checkpoint/")


def is_layer_type(media_type: str) -> bool:
    """A layer (containerd's checkpoint: the container's rw layer, the root FS diff)."""
    return media_type.startswith(("application/vnd.oci.image.layer.", "application/vnd.docker.image.rootfs.diff.tar")) \
        or media_type == MT_RW_LEGACY


def is_checkpoint_annotations(ann: dict[str, str]) -> bool:
    return any(k.startswith(CHECKPOINT_ANNOTATION_PREFIXES) for k in ann)


def _str_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int, float, bool))}


class _Layout:
    """Reads JSON and blob refs out of the indexed outer layout."""

    def __init__(self, outer: Index) -> None:
        self.outer = outer
        self.errors: list[ArchiveError] = []
        self.seen: set[str] = set()  # index and manifest blobs already looked at
        self.documents = 0  # JSON blobs read while looking for the checkpoint
        self.skipped = 0  # descriptors not followed: already seen, too deep or past the bound

    def follow(self, desc: dict) -> bool:
        """Whether the index or manifest ``desc`` names is to be read: not seen before
        (a cycle, or the same manifest twice) and within MAX_OCI_DOCUMENTS."""
        try:
            name = self.blob_name(desc)
        except ArchiveError:
            return True  # blob_json says what is wrong with it
        if name in self.seen or self.documents >= MAX_OCI_DOCUMENTS:
            self.skipped += 1
            return False
        self.seen.add(name)
        self.documents += 1
        return True

    def bound_note(self) -> str:
        if not self.skipped:
            return ""
        return (f"{self.skipped} descriptor(s) were not followed: each blob is read once, at most "
                f"{MAX_OCI_DOCUMENTS} index and manifest blobs, {MAX_OCI_DEPTH} indexes deep")

    def json(self, name: str, what: str) -> Any:
        data = read_limited(self.outer, name, JSON_CAP, what)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArchiveError(f"{what} {name} is not valid JSON: {exc}") from None

    def blob_name(self, desc: Any) -> str:
        digest = desc.get("digest") if isinstance(desc, dict) else None
        m = _DIGEST.match(digest) if isinstance(digest, str) else None
        if not m:
            raise ArchiveError(f"bad digest in OCI descriptor: {str(digest)[:80]!r}")
        return f"blobs/{m.group(1)}/{m.group(2)}"

    def blob_ref(self, desc: dict) -> tuple[Member, Ref]:
        name = self.blob_name(desc)
        if name not in self.outer.members:
            raise ArchiveError(f"blob {desc.get('digest')} ({display_name(_media_type(desc)[:100]) or '?'}) is missing from the image")
        member, ref = self.outer.target(name)
        if ref is None:
            raise ArchiveError(f"blob {desc.get('digest')} has no data")
        want = desc.get("size")
        if isinstance(want, int) and want != member.size:
            self.outer.ctx.problem(
                name,
                f"blob is {member.size} bytes but its descriptor says {want}",
                "warning",
            )
        return member, ref

    def blob_json(self, desc: dict, what: str) -> Any:
        name = self.blob_name(desc)
        if name not in self.outer.members:
            raise ArchiveError(f"the {what} blob {desc.get('digest')} is missing from the image")
        return self.json(name, what)


def _media_type(desc: dict) -> str:
    """A descriptor's media type; "" when absent or not a string."""
    mt = desc.get("mediaType")
    return mt if isinstance(mt, str) else ""


def _ref_name(desc: dict) -> str:
    return _str_dict(desc.get("annotations")).get(REF_NAME, "")


def _index_blob_tar(ctx: Context, ix: Index, ref: Ref, *, prefix: str, where: str) -> None:
    """Index the tar held in a blob (plain, gzip or zstd, told by magic bytes)."""
    if ref.remote is not None:  # a layer in a registry: read by range or streamed (registry/layer.py)
        from .registry.layer import index_remote_tar

        index_remote_tar(ctx, ix, ref, prefix=prefix, where=where)
        return
    try:
        with contextlib.ExitStack() as files:
            if ref.data is not None:
                raw: Any = io.BytesIO(ref.data)
                fmt, stream, base, done = open_tar_stream(ctx, raw, size=ref.size, path=None, offset=0)
            else:
                assert ref.path is not None
                raw = RangeReader(files.enter_context(open(ref.path, "rb")), ref.offset, ref.size)
                fmt, stream, base, done = open_tar_stream(ctx, raw, size=ref.size, path=ref.path, offset=ref.offset)
            if stream is None:
                ctx.problem(where, f"this blob is not a tar archive ({fmt} data): its contents are not shown")
                return
            try:
                index_tar(ix, stream, where=where, size=ref.size, base=base, prefix=prefix, done=done)
            except NotTar as exc:
                ctx.problem(where, f"this blob is not a tar archive ({exc.message}): its contents are not shown")
    except OSError as exc:
        ctx.problem(where, f"cannot read this blob: {exc.strerror or exc}")


# -- OCI layout --------------------------------------------------------------


@dataclass
class _Found:
    shape: str  # "containerd" | "image"
    index: dict | None = None  # containerd checkpoint index
    manifest: dict | None = None
    config: dict | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    name: str = ""
    blob: str = ""  # the layout's file holding the containerd checkpoint index ("index.json", "blobs/...")


def _has_criu(index: dict) -> bool:
    mans = index.get("manifests")
    return isinstance(mans, list) and any(isinstance(d, dict) and _media_type(d) == MT_CRIU_TAR for d in mans)


def _find(layout: _Layout, index: dict, ann: dict[str, str], name: str, depth: int, seen: list[str],
          blob: str = "index.json") -> _Found | None:
    if depth > MAX_OCI_DEPTH:
        layout.skipped += 1
        return None
    ann = {**ann, **_str_dict(index.get("annotations"))}
    if _has_criu(index):
        return _Found("containerd", index=index, annotations=ann, name=name, blob=blob)
    manifests = index.get("manifests")
    for desc in manifests if isinstance(manifests, list) else []:
        # only indexes and manifests lead anywhere (layers and blobs of other kinds do not)
        if not isinstance(desc, dict) or _media_type(desc) not in _FOLLOWED or not layout.follow(desc):
            continue
        try:
            found = _visit(layout, desc, ann, name, depth, seen)
        except ArchiveError as exc:
            layout.errors.append(exc)
            continue
        if found:
            return found
    return None


def _visit(layout: _Layout, desc: dict, ann: dict[str, str], name: str, depth: int, seen: list[str]) -> _Found | None:
    mt = _media_type(desc)
    dname = _ref_name(desc) or name
    dann = {**ann, **_str_dict(desc.get("annotations"))}
    if mt in INDEX_TYPES:
        child = layout.blob_json(desc, "image index")
        if isinstance(child, dict):
            return _find(layout, child, dann, dname, depth + 1, seen, layout.blob_name(desc))
    elif mt in MANIFEST_TYPES or (not mt and desc.get("digest")):
        manifest = layout.blob_json(desc, "image manifest")
        if not isinstance(manifest, dict):
            return None
        if _has_criu(manifest):  # an index stored with a manifest media type
            mann = {**dann, **_str_dict(manifest.get("annotations"))}
            return _Found("containerd", index=manifest, annotations=mann, name=dname, blob=layout.blob_name(desc))
        mann = {**dann, **_str_dict(manifest.get("annotations"))}
        config: dict | None = None
        cdesc = manifest.get("config")
        if isinstance(cdesc, dict):
            try:
                c = layout.blob_json(cdesc, "image config")
                config = c if isinstance(c, dict) else None
            except ArchiveError as exc:
                layout.outer.ctx.problem("", f"image config unreadable: {exc}", "warning")
        if config:
            mann.update(_str_dict(config.get("annotations")))
            inner = config.get("config")
            if isinstance(inner, dict):
                labels = _str_dict(inner.get("Labels"))
                mann.update({k: v for k, v in labels.items() if k.startswith(CHECKPOINT_ANNOTATION_PREFIXES)})
        if is_checkpoint_annotations(mann):
            return _Found("image", manifest=manifest, config=config, annotations=mann, name=dname)
        seen.append(dname or str(desc.get("digest", ""))[:19])
    return None


def convert_oci(ctx: Context, outer: Index, container: str) -> Converted:
    """``container``: "oci-archive" (a tar of the layout) or "oci-layout" (a directory)."""
    layout = _Layout(outer)
    top = layout.json("index.json", "OCI index")
    if not isinstance(top, dict):
        raise ArchiveError("index.json is not an OCI image index")
    if "oci-layout" not in outer.members:
        ctx.problem("oci-layout", "the OCI layout has no oci-layout file", "warning")
    seen: list[str] = []
    found = _find(layout, top, {}, "", 0, seen)
    where = {"oci-archive": "OCI archive", "registry": "registry"}.get(container, "OCI layout directory")
    note = layout.bound_note()
    if found is None and layout.errors:
        raise layout.errors[0]
    if found is None:
        names = ", ".join(n for n in seen[:8] if n) or "no manifests"
        more = f" and {len(seen) - 8} more" if len(seen) > 8 else ""
        raise ArchiveError(
            f"not a checkpoint image: this {where} holds an ordinary container image ({names}{more}), "
            f"without checkpoint annotations (io.podman.annotations.checkpoint.*, org.criu.checkpoint.*) "
            f"or containerd checkpoint media types" + (f"; {note}" if note else "")
        )
    if note:
        ctx.problem("index.json", note, "warning")
    if found.shape == "containerd":
        return _convert_containerd(ctx, layout, found, where)
    return _convert_image(ctx, layout, found, where, container)


def containerd_index_blob(outer: Index) -> str:
    """The file of an OCI layout that holds containerd's checkpoint index, found as
    :func:`convert_oci` finds it ("index.json" itself, or a blob)."""
    layout = _Layout(outer)
    top = layout.json("index.json", "OCI index")
    found = _find(layout, top, {}, "", 0, []) if isinstance(top, dict) else None
    if found is None or found.shape != "containerd":
        raise ArchiveError("this OCI layout holds no containerd checkpoint index")
    return found.blob


def _convert_containerd(ctx: Context, layout: _Layout, found: _Found, where: str) -> Converted:
    ix = Index(ctx)
    assert found.index is not None
    ann = dict(found.annotations)
    synthesized: set[str] = set()
    cfg = None
    image_ref = ""
    inventory_mtime = 0.0
    descs = [d for d in found.index.get("manifests") or [] if isinstance(d, dict)]
    # the CRIU images first, so that checkpoint/ leads the member list
    order = {MT_CRIU_TAR: 0, MT_CONFIG: 1}
    descs.sort(key=lambda d: order.get(_media_type(d), 2))
    done: set[str] = set()  # each kind of blob is read once: a second one is reported, not read
    for desc in descs:
        mt = _media_type(desc)
        kind = "layer" if is_layer_type(mt) else mt
        if kind in done and kind in (MT_CRIU_TAR, MT_PREDUMP_TAR, MT_CONFIG, MT_RW_LEGACY, "layer"):
            ctx.problem("", f"{mt}: the checkpoint index names more than one such blob; only the first is read",
                        "warning")
            continue
        done.add(kind)
        try:
            if mt == MT_CRIU_TAR:
                _, ref = layout.blob_ref(desc)
                ix.add(Member("checkpoint", 0, "dir", mode=0o700))
                _index_blob_tar(ctx, ix, ref, prefix="checkpoint/", where="checkpoint/ (CRIU image blob)")
                inv = ix.members.get("checkpoint/inventory.img")
                inventory_mtime = inv.mtime if inv else 0.0
            elif mt == MT_PREDUMP_TAR:
                _, ref = layout.blob_ref(desc)
                ix.add(Member("pre-checkpoint", 0, "dir", mode=0o700))
                _index_blob_tar(ctx, ix, ref, prefix="pre-checkpoint/", where="pre-checkpoint/ (pre-dump blob)")
            elif mt == MT_CONFIG:
                data = read_limited(layout.outer, layout.blob_name(desc), JSON_CAP, "checkpoint config blob")
                cfg = decode_config_blob(data)
                for msg in cfg.problems:
                    ctx.problem("spec.dump", msg)
            elif is_layer_type(mt):
                member, ref = layout.blob_ref(desc)
                ix.add(Member("rootfs-diff.tar", member.size, "file", mode=0o600, mtime=member.mtime), ref)
            elif mt == MT_REDACTED_RECORD:  # what `ckpt-tui redact` filled in this copy
                member, ref = layout.blob_ref(desc)
                ix.add(Member(REDACTED_RECORD, member.size, "file", mode=0o644, mtime=member.mtime), ref)
            elif mt in MANIFEST_TYPES or mt in INDEX_TYPES:
                image_ref = str(desc.get("digest", ""))
        except ArchiveError as exc:
            ctx.problem("", f"{display_name(mt[:100]) or 'blob'}: {exc}")
    if not ix.has_prefix("checkpoint/"):
        ctx.problem("checkpoint/", "the containerd checkpoint image has no CRIU image blob")
    if cfg is not None and cfg.spec_json is not None:
        ix.add(Member("spec.dump", len(cfg.spec_json), "file", mode=0o600), Ref(size=len(cfg.spec_json), data=cfg.spec_json))
        synthesized.add("spec.dump")
    elif cfg is None:
        ctx.problem("spec.dump", "the containerd checkpoint image has no config blob: no runtime spec")
    config = synthesize_config(cfg, ann, image_ref) if cfg is not None else synthesize_config(
        decode_config_blob(b"{}"), ann, image_ref
    )
    if inventory_mtime:
        config["checkpointedTime"] = _rfc3339(inventory_mtime)
    blob = json.dumps(config, indent=2).encode()
    ix.add(Member("config.dump", len(blob), "file", mode=0o600), Ref(size=len(blob), data=blob))
    synthesized.add("config.dump")
    name = found.name
    description = f"checkpoint image{' ' + name if name else ''} ({where})"
    return Converted(ix, "containerd-image", description, ann, synthesized)


def _read_once(ctx: Context, read: set[str], blob: str, what: str) -> bool:
    """True the first time ``blob`` is asked for; a layer listed twice is read once."""
    if blob in read:
        ctx.problem("", f"{what} is {blob} again: not read a second time", "warning")
        return False
    read.add(blob)
    return True


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _convert_image(ctx: Context, layout: _Layout, found: _Found, where: str, container: str) -> Converted:
    ix = Index(ctx)
    manifest = found.manifest or {}
    layers = [d for d in manifest.get("layers") or [] if isinstance(d, dict)]
    if not layers:
        raise ArchiveError("the checkpoint image has no layer")
    if len(layers) > 1:
        ctx.problem("", f"the checkpoint image has {len(layers)} layers (one is usual); "
                    f"{'all are' if len(layers) <= MAX_LAYERS else f'the first {MAX_LAYERS} are'} read in order",
                    "warning")
    read: set[str] = set()
    for n, desc in enumerate(layers[:MAX_LAYERS]):
        blob = layout.blob_name(desc)
        if _read_once(ctx, read, blob, f"image layer {n + 1}"):
            _, ref = layout.blob_ref(desc)
            _index_blob_tar(ctx, ix, ref, prefix="", where=f"image layer {n + 1} ({str(desc.get('digest', '?'))[:19]})")
    ann = dict(found.annotations)
    name = found.name
    description = f"checkpoint image{' ' + name if name else ''} ({where})"
    return Converted(ix, container, description, ann, set())


# -- docker-archive -----------------------------------------------------------


def convert_docker(ctx: Context, outer: Index) -> Converted:
    layout = _Layout(outer)
    top = layout.json("manifest.json", "docker-archive manifest")
    if not isinstance(top, list) or not top or not isinstance(top[0], dict):
        raise ArchiveError("manifest.json is not a docker-archive manifest")
    if len(top) > 1:
        ctx.problem("", f"the archive holds {len(top)} images; the first is shown", "warning")
    entry = top[0]
    tags = entry.get("RepoTags") if isinstance(entry.get("RepoTags"), list) else []
    name = str(tags[0]) if tags else ""
    ann: dict[str, str] = {}
    cname = entry.get("Config")
    if isinstance(cname, str):
        norm = cname.lstrip("./")
        if norm in outer.members:
            config = layout.json(norm, "image config")
            if isinstance(config, dict):
                inner = config.get("config")
                if isinstance(inner, dict):
                    labels = _str_dict(inner.get("Labels"))
                    ann.update({k: v for k, v in labels.items() if k.startswith(CHECKPOINT_ANNOTATION_PREFIXES)})
    layers = [x for x in entry.get("Layers") or [] if isinstance(x, str)]
    if not layers:
        raise ArchiveError("the docker-archive image has no layer")
    if not is_checkpoint_annotations(ann) and len(layers) != 1:
        raise ArchiveError(
            f"not a checkpoint image: this docker-archive holds an ordinary container image "
            f"({name or 'untagged'}, {len(layers)} layers)"
        )
    ix = Index(ctx)
    if len(layers) > MAX_LAYERS:
        ctx.problem("", f"the image has {len(layers)} layers; the first {MAX_LAYERS} are read", "warning")
    read: set[str] = set()
    for n, lname in enumerate(layers[:MAX_LAYERS]):
        norm = "/".join(p for p in lname.split("/") if p not in ("", "."))
        if norm not in outer.members:
            raise ArchiveError(f"layer {display_name(lname[:200])} is missing from the docker-archive")
        if not _read_once(ctx, read, norm, f"image layer {n + 1}"):
            continue
        _, ref = outer.target(norm)
        if ref is None:
            raise ArchiveError(f"layer {display_name(lname[:200])} has no data")
        _index_blob_tar(ctx, ix, ref, prefix="", where=f"image layer {n + 1} ({display_name(lname[:40])})")
    if not is_checkpoint_annotations(ann):
        if not (ix.has_prefix("checkpoint/") or "config.dump" in ix.members):
            raise ArchiveError(
                f"not a checkpoint image: this docker-archive ({name or 'untagged'}) has no checkpoint "
                f"labels and its layer holds no checkpoint/ directory"
            )
        ctx.problem(
            "",
            "docker-archive images carry no annotations: the checkpoint image's metadata "
            "(CRIU version, runtime, host) is not available",
            "info",
        )
    if name:
        ann.setdefault(REF_NAME, name)
    desc = f"checkpoint image{' ' + name if name else ''} (docker-archive)"
    return Converted(ix, "docker-archive", desc, ann, set())
