"""Reading single files out of rootfs-diff.tar without extracting it."""

from __future__ import annotations

import gzip
import tarfile
from typing import TYPE_CHECKING

from ..errors import CkptError
from .types import RootfsEntry

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint


def read_rootfs_file(ck: Checkpoint, path: str, limit: int | None = 16 << 20) -> bytes:
    want = path.strip("/")
    if not ck.source.has("rootfs-diff.tar"):
        raise CkptError("this checkpoint has no rootfs-diff.tar")
    # the model noted where each file's data starts in an uncompressed tar: read it directly
    for entry in ck.rootfs.entries:
        if entry.path == want and entry.type == "file" and entry.data_offset >= 0:
            with ck.source.open("rootfs-diff.tar") as fh:
                fh.seek(entry.data_offset)
                return fh.read(entry.size if limit is None else min(limit, entry.size))
    with ck.source.open("rootfs-diff.tar") as fh:
        head = fh.read(2)
        fh.seek(0)
        stream = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for ti in tar:
                    name = ti.name
                    while name.startswith("./"):
                        name = name[2:]
                    if name.strip("/") != want:
                        continue
                    if ti.issym() or ti.islnk():
                        return f"-> {ti.linkname}\n".encode()
                    if not ti.isreg():
                        raise CkptError(f"{path} is not a regular file")
                    src = tar.extractfile(ti)
                    if src is None:
                        raise CkptError(f"{path} has no data")
                    return src.read(limit)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CkptError(f"rootfs-diff.tar is damaged: {exc}") from None
    raise CkptError(f"{path} is not in rootfs-diff.tar")


def rootfs_digests(ck: Checkpoint, paths: set[str]) -> tuple[dict[str, bytes], str]:
    """The SHA-256 of each regular file of rootfs-diff.tar whose path (relative, as in
    ``RootfsEntry.path``) is in ``paths``: read where the model noted each file's data
    (an uncompressed tar), else in one pass over the tar (the data of other entries is
    skipped). Returns (digests, "" or what stopped the reading)."""
    import hashlib

    from ..archive import TarError, iter_tar

    out: dict[str, bytes] = {}
    if not paths or not ck.source.has("rootfs-diff.tar"):
        return out, ""
    placed = {e.path: e for e in ck.rootfs.entries if e.type == "file" and e.path in paths and e.data_offset >= 0}
    try:
        if len(placed) == len(paths):
            # a path stored twice: the last copy (what restore extracts) is the one kept here
            return _digests_in_place(ck, placed), ""
        with ck.source.open("rootfs-diff.tar") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                entries = iter_tar(gzip.GzipFile(fileobj=fh))
            else:
                entries = iter_tar(fh, ck.source.members["rootfs-diff.tar"].size)
            for entry, reader in entries:
                if entry.kind != "file":
                    continue
                name = entry.name
                while name.startswith("./"):
                    name = name[2:]
                name = name.strip("/")
                if name in paths:  # a path stored twice: the last copy is what restore extracts
                    digest = hashlib.sha256()
                    reader.copy_data(entry, digest.update)
                    out[name] = digest.digest()
    except (CkptError, TarError, OSError, EOFError, ValueError) as exc:
        return out, f"rootfs-diff.tar could not be read to the end ({exc})"
    return out, ""


def _digests_in_place(ck: Checkpoint, placed: dict[str, RootfsEntry]) -> dict[str, bytes]:
    """Digests of files whose data offsets the model noted: hashed straight from a mapping
    of the tar where the source has it in a file, else read at each offset."""
    import hashlib
    import mmap

    out: dict[str, bytes] = {}
    where = ck.source.file_range("rootfs-diff.tar")
    if where is not None:
        path, base, size = where
        with open(path, "rb") as f:
            if size == 0:
                return {p: hashlib.sha256().digest() for p in placed}
            start = base - base % mmap.ALLOCATIONGRANULARITY
            with mmap.mmap(f.fileno(), base - start + size, access=mmap.ACCESS_READ, offset=start) as mm:
                view = memoryview(mm)
                dropped = 0  # what was read is dropped from the resident set every 16 MiB
                try:
                    for p, e in sorted(placed.items(), key=lambda kv: kv[1].data_offset):
                        lo = base - start + e.data_offset
                        if e.data_offset + e.size > size:
                            raise EOFError(f"{p} is cut short")
                        out[p] = hashlib.sha256(view[lo : lo + e.size]).digest()
                        if lo - dropped >= 16 << 20:
                            upto = lo // mmap.PAGESIZE * mmap.PAGESIZE
                            mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
                            dropped = upto
                finally:
                    view.release()
        return out
    with ck.source.open("rootfs-diff.tar") as fh:
        for p, e in placed.items():
            fh.seek(e.data_offset)
            data = fh.read(e.size)
            if len(data) < e.size:
                raise EOFError(f"{p} is cut short")
            out[p] = hashlib.sha256(data).digest()
    return out
