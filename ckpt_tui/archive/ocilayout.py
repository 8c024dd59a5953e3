"""An OCI image layout's own files, as they are: ``index.json``, ``oci-layout`` and ``blobs/...``
of a layout directory or of a tar of one (an oci-archive, plain, gzip or zstd), without the
conversion to the common layout :func:`~ckpt_tui.archive.source.open_source` makes.

A writer that rewrites some blobs of an image and copies the rest (``ckpt-tui redact`` of a
containerd checkpoint image) reads the original through this.
"""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path

from .find import KIND_OF_FORMAT
from .index import Context, Index
from .passes import index_tar, open_tar_stream, walk_directory
from .ref import open_regular
from .source import Source
from .streams import Progress, RangeReader, sniff
from .tarstream import NotTar
from .types import ArchiveError, Limits
from .workspace import Workspace


def open_layout(path: str | os.PathLike[str], workspace: Workspace) -> Source:
    """The files of the OCI layout at ``path``; the Source's ``kind`` is how it is held:
    "directory", "tar", "tar+gzip" or "tar+zstd". Temp files go to ``workspace``."""
    p = Path(os.fspath(path))
    try:
        st = os.stat(p)
    except OSError as exc:
        raise ArchiveError(f"cannot open {p}: {exc.strerror or exc}") from None
    ctx = Context(str(p), workspace, Limits(), Progress(None, st.st_size if stat_mod.S_ISREG(st.st_mode) else 0))
    ix = Index(ctx)
    try:
        if stat_mod.S_ISDIR(st.st_mode):
            walk_directory(ix, p)
            kind = "directory"
        else:
            with os.fdopen(open_regular(p), "rb") as f:
                fmt = sniff(os.pread(f.fileno(), 512, 0))
                if fmt not in KIND_OF_FORMAT:
                    raise ArchiveError(f"{p} is not a tar of an OCI layout ({fmt} data)")
                raw = RangeReader(f, 0, st.st_size)
                fmt, stream, base, done = open_tar_stream(ctx, raw, size=st.st_size, path=p, offset=0)
                try:
                    index_tar(ix, stream, where=p.name, size=st.st_size, base=base, done=done)
                except NotTar as exc:
                    raise ArchiveError(f"{p} is not a tar of an OCI layout ({exc.message})") from None
            kind = KIND_OF_FORMAT[fmt]
    except OSError as exc:
        raise ArchiveError(f"cannot read {p}: {exc.strerror or exc}") from None
    finally:
        ctx.close_pack()
    if "index.json" not in ix.members:
        raise ArchiveError(f"{p} is not an OCI layout: it has no index.json")
    return Source(path=p, kind=kind, description="OCI image layout", index=ix, problems=ctx.problems,
                  annotations={}, synthesized=set(), workspace=workspace, owns_workspace=False,
                  scratch=ctx.spill_dir)


def containerd_index_of(src: Source) -> str:
    """Which file of the layout ``src`` (from :func:`open_layout`) holds containerd's checkpoint index."""
    from .oci import containerd_index_blob

    return containerd_index_blob(src._index)
