# SPDX-License-Identifier: Apache-2.0
"""Image names: what the user types made into a full reference, and the name an OCI layout on
disk carries (its ``org.opencontainers.image.ref.name``: what the engine will call it)."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

from ... import annotations as A
from ...errors import CkptError

__all__ = ["normalize_image_name", "ref_name_of"]

_NAME_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_INDEX_LIMIT = 1 << 20  # an index.json larger than this is not one we would write or read


def normalize_image_name(name: str) -> str:
    """'web-ckpt' -> 'localhost/web-ckpt:latest'; keeps a registry domain and a tag/digest."""
    raw = name.strip()
    if not raw:
        raise CkptError("an image name is required")
    digest = ""
    if "@" in raw:
        raw, digest = raw.split("@", 1)
    parts = raw.split("/")
    first = parts[0]
    has_domain = len(parts) > 1 and ("." in first or ":" in first or first == "localhost")
    domain = first if has_domain else "localhost"
    path = parts[1:] if has_domain else parts
    tag = ""
    if ":" in path[-1]:
        path[-1], tag = path[-1].split(":", 1)
        if not _TAG.match(tag):
            raise CkptError(f"invalid image tag {tag!r} in {name!r}")
    for comp in path:
        if not _NAME_COMPONENT.match(comp):
            raise CkptError(
                f"invalid image name {name!r}: path components are lower-case letters, digits and . _ - separators"
            )
    ref = domain + "/" + "/".join(path)
    if digest:
        return ref + (":" + tag if tag else "") + "@" + digest
    return ref + ":" + (tag or "latest")


def ref_name_of(path: Path) -> str:
    """The ``org.opencontainers.image.ref.name`` of an OCI layout (a directory or an
    oci-archive), '' when it has none or is no OCI layout."""
    try:
        if path.is_dir():
            with open(path / "index.json", "rb") as fh:
                data = fh.read(_INDEX_LIMIT)
        else:
            with tarfile.open(path, "r:*") as tf:
                fh2 = tf.extractfile(tf.getmember("index.json"))
                data = fh2.read(_INDEX_LIMIT) if fh2 is not None else b""
        index = json.loads(data)
    # a file on disk given by the user: unreadable, not a tar, no index.json, not JSON
    except (OSError, KeyError, ValueError, tarfile.TarError, EOFError):
        return ""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    for desc in manifests if isinstance(manifests, list) else []:
        annotations = desc.get("annotations") if isinstance(desc, dict) else None
        ref = annotations.get(A.OCI_REF_NAME) if isinstance(annotations, dict) else None
        if isinstance(ref, str) and ref:
            return ref
    return ""
