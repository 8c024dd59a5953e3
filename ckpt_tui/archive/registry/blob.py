"""A layer blob in a registry, read lazily: by HTTP Range in aligned chunks, or streamed once.

:class:`RemoteBlob` is what a member's ``Ref.remote`` points at: ``pread`` fetches the chunks
of a byte range that are not held yet (64 KiB aligned, neighbours merged into one request) into
the blob's :class:`~.blobstore.BlobEntry` and reads them from there. A server that ignores
Range (answers 200) or refuses it (416) makes the blob be read whole, once, instead (noted as a
problem). ``stream()`` reads it from the start in one GET (a compressed layer without a table
of contents), hashing as it goes: the digest is checked at the end, and a mismatch is an error.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .blobstore import BlobEntry, BlobStore
from .client import Client, NoRanges, RangeRefused
from .reference import Reference, RegistryError

ALIGN = 64 << 10
MAX_REQUEST = 16 << 20  # bytes per ranged GET (a longer read is several)


class RemoteBlob:
    def __init__(self, client: Client, ref: Reference, desc: dict, store: BlobStore,
                 note: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.ref = ref
        self.desc = desc
        self.digest = str(desc.get("digest", ""))
        self.size = int(desc.get("size") or 0)
        self.media_type = str(desc.get("mediaType", ""))
        ann = desc.get("annotations")
        self.annotations: dict[str, Any] = ann if isinstance(ann, dict) else {}
        self.store = store
        self._entry: BlobEntry | None = None
        self._note = note or (lambda _msg: None)
        self.ranged = True  # False once the server showed it does not do Range
        self._lock = threading.Lock()  # the UI reads pages while a search worker fetches

    def __repr__(self) -> str:
        return f"<RemoteBlob {self.digest[:19]} {self.size}>"

    @property
    def entry(self) -> BlobEntry:
        if self._entry is None:
            self._entry = self.store.entry(self.digest, self.size)
        return self._entry

    # -- random access -------------------------------------------------------------
    def pread(self, offset: int, n: int) -> bytes:
        end = min(self.size, offset + max(0, n))
        if offset >= end:
            return b""
        self.ensure(offset, end)
        return self.entry.read(offset, end - offset)

    def ensure(self, start: int, end: int) -> None:
        """Fetch what is not held of [start, end) (whole aligned chunks); a blob that became
        complete is verified against its digest."""
        end = min(self.size, end)
        if start >= end:
            return
        with self._lock:
            entry = self.entry
            if entry.missing(start, end):
                lo = start - start % ALIGN
                hi = min(self.size, -(-end // ALIGN) * ALIGN)
                for s, e in entry.missing(lo, hi):
                    self._fetch(s, e)
            if entry.complete and not entry.verified:
                entry.verify()

    def _fetch(self, start: int, end: int) -> None:
        if not self.ranged:
            self._whole()
            return
        pos = start
        while pos < end:
            stop = min(end, pos + MAX_REQUEST)
            try:
                data = self.client.blob_range(self.ref, self.digest, pos, stop, self.size)
            except NoRanges:
                self._no_ranges("the registry does not answer HTTP Range requests")
                return
            except RangeRefused as exc:
                self._no_ranges(f"{exc}")
                return
            if pos == 0 and stop >= self.size:  # the whole blob: check it before keeping it
                got = "sha256:" + hashlib.sha256(data).hexdigest()
                if self.digest.startswith("sha256:") and got != self.digest:
                    raise RegistryError(f"layer {self.digest}: the registry sent bytes that hash to {got}; "
                                        "nothing of it is used")
                self.entry.write(0, data)
                self.entry.mark_verified()
                return
            self.entry.write(pos, data)
            pos = stop

    def _no_ranges(self, why: str) -> None:
        self.ranged = False
        self._note(f"{why}: layer {self.digest[:19]} ({self.size:,} bytes) is read whole instead")
        self._whole()

    def _whole(self) -> None:
        """Fetch the whole blob in one GET into the entry, verified before it counts."""
        entry = self.entry
        if entry.complete:
            entry.verify()
            return
        resp = self.client.blob(self.ref, self.digest, what="layer")
        h = hashlib.sha256()
        pos = 0
        chunks = self.client.iter_blob(resp, "layer", self.digest)
        staged: list[tuple[int, bytes]] = []
        for chunk in chunks:
            if pos + len(chunk) > self.size:
                raise RegistryError(f"layer {self.digest}: the registry sent more than its {self.size:,} bytes")
            h.update(chunk)
            staged.append((pos, chunk))
            pos += len(chunk)
            if len(staged) > 64:  # write as it comes; the ranges are recorded only when verified
                self._stage(staged)
        self._stage(staged)
        if pos != self.size:
            entry.discard()
            raise RegistryError(f"layer {self.digest}: the registry sent {pos:,} of its {self.size:,} bytes "
                                "(truncated); nothing of it is used")
        got = "sha256:" + h.hexdigest()
        if self.digest.startswith("sha256:") and got != self.digest:
            entry.discard()
            raise RegistryError(f"layer {self.digest}: the registry sent bytes that hash to {got}; "
                                "nothing of it is used")
        entry.commit_written()
        entry.mark_verified()

    def _stage(self, staged: list[tuple[int, bytes]]) -> None:
        for off, chunk in staged:
            self.entry.write_unrecorded(off, chunk)
        staged.clear()

    def held(self, offset: int, n: int) -> tuple[Path, int, int] | None:
        """``(file, offset, size)`` of bytes already held locally, else None."""
        if self._entry is None and n:
            return None
        entry = self.entry
        if entry.missing(offset, min(self.size, offset + n)):
            return None
        return entry.data_path, offset, n

    # -- one pass --------------------------------------------------------------------
    def stream(self, keep: bool) -> BlobStream:
        """A reader of the whole blob from its start (``keep``: store the bytes too)."""
        return BlobStream(self, keep)


class BlobStream:
    """``read(n)`` over a blob from its start; ``finish()`` reads the rest and checks the digest."""

    def __init__(self, blob: RemoteBlob, keep: bool) -> None:
        self.blob = blob
        self.pos = 0
        self._h = hashlib.sha256()
        self._buf = b""
        self._local = blob.store is not None and blob.entry.complete and blob.entry.verified
        self._keep = keep and not self._local
        self._chunks = None
        if not self._local:
            resp = blob.client.blob(blob.ref, blob.digest, what="layer")
            self._chunks = blob.client.iter_blob(resp, "layer", blob.digest)

    @property
    def consumed(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        size = self.blob.size
        if n < 0:
            n = size - self.pos
        if self._local:
            data = self.blob.entry.read(self.pos, min(n, size - self.pos))
            self.pos += len(data)
            return data
        while not self._buf:
            assert self._chunks is not None
            chunk = next(self._chunks, b"")
            if not chunk:
                return b""
            if self.pos + len(chunk) > size:
                raise RegistryError(f"layer {self.blob.digest}: the registry sent more than its {size:,} bytes")
            self._h.update(chunk)
            if self._keep:
                self.blob.entry.write_unrecorded(self.pos, chunk)
            self._buf = chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        self.pos += len(data)
        return data

    def finish(self) -> None:
        """Read to the end and check the digest (RegistryError on a mismatch or a short blob)."""
        if self._local:
            return
        while self.read(1 << 20):
            pass
        size = self.blob.size
        if self.pos != size:
            self._drop()
            raise RegistryError(f"layer {self.blob.digest}: the registry sent {self.pos:,} of its {size:,} bytes "
                                "(truncated); nothing read from it is shown")
        got = "sha256:" + self._h.hexdigest()
        if self.blob.digest.startswith("sha256:") and got != self.blob.digest:
            self._drop()
            raise RegistryError(f"layer {self.blob.digest}: the registry sent bytes that hash to {got}; "
                                "nothing read from it is shown")
        if self._keep:
            self.blob.entry.commit_written()
            self.blob.entry.mark_verified()

    def _drop(self) -> None:
        if self._keep:
            self.blob.entry.discard()

    def close(self) -> None:
        if self._chunks is not None:
            self._chunks.close()  # releases the connection
