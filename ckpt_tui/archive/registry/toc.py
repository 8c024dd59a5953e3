"""Tables of contents of seekable compressed layers: zstd:chunked and eStargz (see below)."""

from __future__ import annotations

from ..index import Context, Index
from .blob import RemoteBlob


def index_from_toc(ctx: Context, ix: Index, blob: RemoteBlob, fmt: str, *, prefix: str, where: str) -> bool:
    """Index ``blob`` from its table of contents; False when it has none (stream it instead)."""
    return False
