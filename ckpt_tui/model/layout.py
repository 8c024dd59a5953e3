"""A checkpoint image's OCI layout as it is on disk, for the actions that write a new one from it
(``ckpt-tui redact`` of a containerd checkpoint image): its files, the media types of the
checkpoint's blobs and where the strings of containerd's config blob are. The archive layer
decides all of it; the actions read it here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..archive.containerd import BlobString, config_blob_strings, decode_config_blob
from ..archive.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MT_CONFIG,
    MT_CRIU_TAR,
    MT_PREDUMP_TAR,
    is_layer_type,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint

__all__ = ["INDEX_TYPES", "MANIFEST_TYPES", "MT_CONFIG", "MT_CRIU_TAR", "MT_PREDUMP_TAR",
           "BlobString", "config_blob_strings", "containerd_index_file", "decode_config_blob", "is_layer_type", "open_image_layout",
           "spec_of_config_blob"]


def open_image_layout(ck: Checkpoint) -> Any:
    """The files of the OCI layout ``ck`` was read from (a Source: ``names``, ``members``,
    ``open``, ``read``, ``close``; ``kind`` "directory", "tar", "tar+gzip" or "tar+zstd")."""
    from ..archive.ocilayout import open_layout

    return open_layout(ck.source_path, ck.source.workspace)


def containerd_index_file(layout: Any) -> str:
    """The file of ``layout`` (from :func:`open_image_layout`) holding containerd's checkpoint index,
    as the reader finds it: "index.json" or "blobs/<algorithm>/<hex>"."""
    from ..archive.ocilayout import containerd_index_of

    return containerd_index_of(layout)


def spec_of_config_blob(data: bytes) -> bytes | None:
    """The runtime spec JSON the reader takes from a checkpoint config blob (its spec.dump)."""
    return decode_config_blob(data).spec_json

