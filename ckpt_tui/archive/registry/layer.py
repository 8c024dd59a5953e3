"""Indexing a layer blob that lives in a registry, reading as little of it as the layer allows.

* an uncompressed tar (containerd's CRIU image blob, ``ckpt-tui build --no-compress``): the tar
  headers are read by range (64 KiB chunks: the small members around them come along) and every
  member becomes a range of the blob, fetched when it is read;
* a zstd:chunked or eStargz layer: its table of contents (see :mod:`.toc`) says where each
  member's compressed bytes are, and each member is fetched and decompressed on its own;
* any other gzip or zstd layer: streamed once from its start, like a local compressed archive
  (members spilled to the temp workspace, or handed to the ``watch``); the digest of what was
  streamed is checked at the end -- a mismatch makes the open fail, nothing of it is shown.
"""

from __future__ import annotations

from ..index import Context, Index
from ..passes import index_tar
from ..ref import Ref
from ..streams import make_decoder, sniff
from ..tarstream import NotTar
from .blob import RemoteBlob


class _RangedTar:
    """The seekable reader ``index_tar`` wants (``read``/``skip``) over a remote plain tar."""

    def __init__(self, blob: RemoteBlob) -> None:
        self.blob = blob
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.blob.size - self.pos
        data = self.blob.pread(self.pos, n)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> int:
        step = max(0, min(n, self.blob.size - self.pos))
        self.pos += step
        return step


def index_remote_tar(ctx: Context, ix: Index, ref: Ref, *, prefix: str, where: str) -> None:
    blob: RemoteBlob = ref.remote
    head = blob.pread(0, 512)
    fmt = sniff(head)
    if fmt == "tar":
        reader = _RangedTar(blob)
        try:
            index_tar(ix, reader, where=where, size=blob.size, base=(blob, 0), prefix=prefix,
                      done=lambda: reader.pos)
        except NotTar as exc:
            ctx.problem(where, f"this blob is not a tar archive ({exc.message}): its contents are not shown")
        return
    if fmt not in ("gzip", "zstd"):
        ctx.problem(where, f"this blob is not a tar archive ({fmt} data): its contents are not shown")
        return
    from .toc import index_from_toc

    if index_from_toc(ctx, ix, blob, fmt, prefix=prefix, where=where):
        return
    keep = blob.store.shared and blob.store.fits(blob.size)  # the user's cache: keep the layer too
    stream = blob.stream(keep)
    try:
        dec = make_decoder(fmt, stream, ctx.budget)
        try:
            index_tar(ix, dec, where=where, size=blob.size, prefix=prefix, done=lambda: stream.consumed)
        except NotTar as exc:
            ctx.problem(where, f"this blob is not a tar archive ({exc.message}): its contents are not shown")
        stream.finish()
    finally:
        stream.close()
