"""Which files and directories are checkpoints (``find_checkpoints``), by their first bytes
or their layout, reading as little as it can."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .ref import read_head
from .streams import sniff
from .types import ArchiveError, MiB

#: What a sniffed format makes of a file source: its ``Source.kind``.
KIND_OF_FORMAT = {"tar": "tar", "gzip": "tar+gzip", "zstd": "tar+zstd"}
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd")


def _oci_dir_is_checkpoint(p: Path) -> bool:
    """Cheap look at an OCI layout directory's index and manifests for checkpoint markers."""
    from .oci import CHECKPOINT_ANNOTATION_PREFIXES, MT_CRIU_TAR

    todo = [p / "index.json"]
    for _ in range(8):
        if not todo:
            break
        f = todo.pop(0)
        try:
            doc = json.loads(read_head(f, 4 * MiB + 1, nofollow=True))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            continue
        if not isinstance(doc, dict):
            continue
        text = json.dumps(doc)
        if MT_CRIU_TAR in text or any(pre in text for pre in CHECKPOINT_ANNOTATION_PREFIXES):
            return True
        for desc in doc.get("manifests") or []:
            if isinstance(desc, dict) and isinstance(desc.get("digest"), str) and ":" in desc["digest"]:
                alg, _, hexd = desc["digest"].partition(":")
                if alg.isalnum() and hexd.isalnum():
                    todo.append(p / "blobs" / alg / hexd)
    return False


def opens_as_checkpoint(p: Path) -> bool:
    """Directory ``p`` is opened as one checkpoint (not as a directory holding checkpoints):
    it looks like one, or has a checkpoint/ directory (whatever its files are: FIFOs, links)."""
    return looks_like_checkpoint_dir(p) or (p / "checkpoint").is_dir()


def looks_like_checkpoint_dir(p: Path) -> bool:
    if (p / "checkpoint" / "inventory.img").is_file() or (p / "inventory.img").is_file():
        return True
    if (p / "config.dump").is_file() and (p / "spec.dump").is_file():
        return True
    if (p / "pod.options").is_file():
        return True
    if (p / "index.json").is_file() and (p / "oci-layout").is_file():
        return _oci_dir_is_checkpoint(p)
    return False


def find_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Archives (tar, gzip or zstd by magic bytes) and unpacked checkpoints directly in ``directory``.

    A directory that is itself an unpacked checkpoint is the one checkpoint found (its
    rootfs-diff.tar and checkpoint/ are parts of it, not checkpoints of their own).
    """
    d = Path(os.fspath(directory))
    if d.is_dir() and opens_as_checkpoint(d):
        return [d]
    try:
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise ArchiveError(f"cannot list {d}: {exc.strerror or exc}") from None
    found: list[Path] = []
    for entry in entries:
        try:
            if entry.is_file():
                fmt = sniff(read_head(entry.path, 512))
                # an empty file named like an archive, or an empty tar, is listed (opening it says why not)
                if fmt in KIND_OF_FORMAT or fmt == "empty-tar" or (
                        fmt == "empty" and entry.name.endswith(_ARCHIVE_SUFFIXES)):
                    found.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and opens_as_checkpoint(Path(entry.path)):
                found.append(Path(entry.path))
        except OSError:
            continue
    return found
