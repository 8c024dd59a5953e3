# SPDX-License-Identifier: Apache-2.0
"""Build an OCI "checkpoint image" from a loaded checkpoint, in pure Python.

The image has one layer: a tar of the checkpoint in the common layout (``config.dump``,
``spec.dump``, ``checkpoint/...``, ``rootfs-diff.tar``...) at the layer root, the way
``podman container checkpoint --create-image`` lays it out (:mod:`.oci`). The index and the
manifest both carry the checkpoint annotations (:mod:`.annotations`). The same checkpoint and
name give the same bytes. :mod:`.reference` makes image names, :mod:`.load` hands the image to
an engine.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ... import annotations as A
from ... import shutdown
from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from .. import _host
from .._proc import CancelCheck, OutputCallback
from . import oci
from .annotations import checkpoint_annotations
from .load import LoadResult, load_image
from .reference import normalize_image_name

__all__ = [
    "BuildResult",
    "LoadResult",
    "build_image",
    "checkpoint_annotations",
    "load_image",
    "normalize_image_name",
]


@dataclass
class BuildResult:
    image_name: str  # the normalised reference written as ref.name, e.g. "localhost/web-ckpt:latest"
    output: str  # the oci-archive file or the OCI layout directory ("" when cancelled)
    format: str  # "oci-archive" | "oci-layout"
    index_digest: str
    manifest_digest: str
    manifest_size: int
    config_digest: str  # also the image ID podman will show
    layer_digest: str
    layer_diff_id: str  # digest of the uncompressed layer tar
    layer_size: int
    layer_media_type: str
    annotations: dict[str, str]
    architecture: str
    members: int  # entries written into the layer
    size: int  # bytes of the output (archive file, or the blobs written)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def image_id(self) -> str:
        return self.config_digest.split(":", 1)[-1]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _created(ck: Checkpoint) -> str:
    """When the image was made: when the checkpoint was taken, else when its container was
    created, else the epoch (never the clock: the same input gives the same bytes)."""
    when: datetime | None = ck.info.checkpointed or ck.info.created
    if when is None:
        return "1970-01-01T00:00:00Z"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Documents:
    """The config, manifest and index of an image with one layer, as bytes, with their digests."""

    config: bytes
    manifest: bytes
    index: bytes

    @property
    def config_digest(self) -> str:
        return _sha(self.config)

    @property
    def manifest_digest(self) -> str:
        return _sha(self.manifest)

    @property
    def blobs(self) -> dict[str, bytes]:
        return {self.config_digest: self.config, self.manifest_digest: self.manifest}


def _documents(ck: Checkpoint, ref: str, arch: str, layer: oci.Layer, media: str,
               annotations: dict[str, str]) -> _Documents:
    created = _created(ck)
    name = ck.info.name
    config = oci.json_bytes({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": created, "created_by": "ckpt-tui build",
                     "comment": f"checkpoint of container {name}" if name else "container checkpoint"}],
    })
    manifest = oci.json_bytes({
        "schemaVersion": 2,
        "mediaType": oci.MT_MANIFEST,
        "config": {"mediaType": oci.MT_CONFIG, "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": media, "digest": layer.digest, "size": layer.size}],
        "annotations": annotations,
    })
    index = oci.json_bytes({
        "schemaVersion": 2,
        "mediaType": oci.MT_INDEX,
        "manifests": [{"mediaType": oci.MT_MANIFEST, "digest": _sha(manifest), "size": len(manifest),
                       "platform": {"architecture": arch, "os": "linux"},
                       "annotations": {A.OCI_REF_NAME: ref}}],
        "annotations": annotations,
    })
    return _Documents(config, manifest, index)


def build_image(
    ck: Checkpoint,
    image_name: str,
    *,
    output_tar: str | os.PathLike[str] | None = None,
    oci_dir: str | os.PathLike[str] | None = None,
    compression: str = "gzip",
    runtime: str | None = None,
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
    progress: oci.Progress | None = None,
) -> BuildResult:
    """Write an OCI checkpoint image of the loaded checkpoint ``ck`` named ``image_name``.

    Default output is an oci-archive tar (``output_tar``, else ``<name>-<tag>.oci.tar``
    in the current directory); give ``oci_dir`` for an OCI layout directory.
    ``compression`` is "gzip" (default) or "none". ``runtime`` overrides the
    runtime the annotations name. Cancelled, it leaves nothing behind.
    """
    if output_tar is not None and oci_dir is not None:
        raise CkptError("give either an output archive or an OCI directory, not both")
    if compression not in ("gzip", "none"):
        raise CkptError(f"unknown layer compression {compression!r}: use gzip or none")
    ref = normalize_image_name(image_name)
    if not ck.member_names():
        raise CkptError("the checkpoint has no members to put in an image")
    if not ck.member_names("checkpoint/"):
        raise CkptError("the source has no checkpoint/ directory: it is not a checkpoint")
    emit = on_output or (lambda _line: None)
    annotations, notes = checkpoint_annotations(ck, runtime=runtime)
    arch, _how = ck.architecture
    if not arch:
        arch = _host.architecture() or "amd64"
        notes.append(f"architecture unknown from the checkpoint; the image says {arch} (this host)")

    if oci_dir is not None:
        fmt, out_path = "oci-layout", Path(oci_dir)
        out_path.mkdir(parents=True, exist_ok=True)
        work_dir = out_path
    else:
        fmt = "oci-archive"
        if output_tar is None:
            base = ref.split("/")[-1].replace(":", "-").replace("@", "-")
            output_tar = Path.cwd() / f"{base}.oci.tar"
        out_path = Path(output_tar)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        work_dir = out_path.parent

    emit(f"Building {ref} ({fmt}) from {ck.source_path}")
    media = oci.MT_LAYER_GZIP if compression == "gzip" else oci.MT_LAYER
    # named and registered before it exists (the forced exit after SIGTERM / SIGHUP removes it
    # too), created inside the try: a signal's SystemExit at any point leaves no layer behind
    tmp_path = Path(work_dir) / f".ckpt-layer-{os.urandom(8).hex()}"
    shutdown.partial_file(tmp_path)
    try:
        with open(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as tmp:  # (as mkstemp)
            layer = oci.write_layer(ck, tmp, compress=compression == "gzip", notes=notes, on_output=emit,
                                    cancelled=cancelled, progress=progress)
        if layer.cancelled:
            emit("Cancelled")
            return BuildResult(
                image_name=ref, output="", format=fmt, index_digest="", manifest_digest="", manifest_size=0,
                config_digest="", layer_digest="", layer_diff_id="", layer_size=0, layer_media_type=media,
                annotations=annotations, architecture=arch, members=layer.members, size=0, notes=notes,
                cancelled=True,
            )
        emit(f"Layer: {layer.members} entries, {layer.size:,} bytes, {layer.digest}")
        docs = _documents(ck, ref, arch, layer, media, annotations)
        if fmt == "oci-layout":
            size = oci.write_layout(out_path, tmp_path, layer.digest, docs.blobs, docs.index)
        else:
            size = oci.write_archive(out_path, tmp_path, layer.digest, docs.blobs, docs.index)
        emit(f"Wrote {out_path} ({size:,} bytes); manifest {docs.manifest_digest}")
        return BuildResult(
            image_name=ref, output=str(out_path), format=fmt, index_digest=_sha(docs.index),
            manifest_digest=docs.manifest_digest, manifest_size=len(docs.manifest),
            config_digest=docs.config_digest, layer_digest=layer.digest, layer_diff_id=layer.diff_id,
            layer_size=layer.size, layer_media_type=media, annotations=annotations, architecture=arch,
            members=layer.members, size=size, notes=notes,
        )
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
        shutdown.partial_file(tmp_path, done=True)
