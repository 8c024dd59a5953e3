"""A redacted copy of a checkpoint image (``podman container checkpoint --create-image``,
checkpointctl, ours): the redacted checkpoint is laid out in the checkpoint's own temp dir, then
written as an image again by :func:`ckpt_tui.actions.build.build_image`, under the original's
image name and with its checkpoint annotations. An OCI layout directory gives a directory, an
oci-archive or a docker-archive an oci-archive (the image writer writes OCI only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ... import annotations as A
from ...model import load_checkpoint

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint
    from . import RedactResult

DEFAULT_NAME = "localhost/redacted-checkpoint:latest"


def image_name(ck: Checkpoint) -> str:
    """The name the copy is written under: the original's (its ref name), else one made up."""
    from ..build.reference import ref_name_of

    ann = ck.info.image_annotations
    return ref_name_of(ck.source_path) or ann.get(A.OCI_REF_NAME, "") or DEFAULT_NAME


def redact_image(ck: Checkpoint, out: Path, *, strip_pages: bool,
                 on_output: Callable[[str], None] | None = None) -> RedactResult:
    from ..build import build_image
    from . import write_copy
    from .writer import DirWriter

    staging = ck.scratch_dir("redacted") / "checkpoint"
    writer = DirWriter(staging)
    try:
        result = write_copy(ck, writer, ck.source_kind, strip_pages=strip_pages, on_output=on_output)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    with load_checkpoint(staging) as staged:
        # the original image's annotations (CRIU and podman versions, runtime, ...) go on the copy
        staged.info.image_annotations = dict(ck.info.image_annotations)
        as_dir = ck.source_kind == "oci-layout"
        built = build_image(staged, image_name(ck), output_tar=None if as_dir else out,
                            oci_dir=out if as_dir else None)
    if ck.source_kind == "docker-archive":
        result.notes.append("the original is a docker-archive; the copy is an oci-archive (the image writer "
                            "writes OCI only)")
    result.notes += built.notes
    result.output = built.output
    result.kind = built.format
    return result
