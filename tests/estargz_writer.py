"""An eStargz writer for the tests, from the format's facts (stargz-snapshotter's estargz.md).

No eStargz producer is available on these machines (skopeo 1.9 has none, ctr-remote and nerdctl are
not packaged), so the eStargz reader is tested against layers this writes from a real image's
uncompressed layer (``ckpt-tui build --no-compress``): each tar header in a gzip member, each
file's content in gzip members of ``chunk`` bytes (``reg`` then ``chunk`` TOC entries with their
offsets and SHA-256 digests), the TOC ``stargz.index.json`` in a tar in a gzip member, and the
51-byte footer. It checks nothing itself: it is the input of the reader's tests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path


def _member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _footer(toc_offset: int) -> bytes:
    extra = b"SG" + (22).to_bytes(2, "little") + f"{toc_offset:016x}".encode() + b"STARGZ"
    head = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\x00\xff" + len(extra).to_bytes(2, "little") + extra
    return head + b"\x01\x00\x00\xff\xff" + b"\0" * 8  # an empty stored block, CRC32 0, ISIZE 0


def estargz_layer(plain_tar: bytes, chunk: int = 64 << 10) -> tuple[bytes, str]:
    """(eStargz layer, digest of its TOC JSON) of an uncompressed layer tar."""
    out = bytearray()
    entries = []
    with tarfile.open(fileobj=io.BytesIO(plain_tar), mode="r:") as tf:
        for ti in tf:
            header = ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            out += _member(header)
            e = {"name": ti.name, "mode": ti.mode, "uid": ti.uid, "gid": ti.gid,
                 "modtime": "1970-01-01T00:00:00Z"}
            if ti.isdir():
                entries.append({**e, "type": "dir"})
            elif ti.issym():
                entries.append({**e, "type": "symlink", "linkName": ti.linkname})
            elif ti.islnk():
                entries.append({**e, "type": "hardlink", "linkName": ti.linkname})
            elif ti.isfile():
                data = tf.extractfile(ti).read()
                entry = {**e, "type": "reg", "size": len(data), "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
                pad = b"\0" * (-len(data) % 512)
                for k in range(0, max(len(data), 1), chunk):
                    part = data[k:k + chunk]
                    last = k + chunk >= len(data)
                    offset = len(out)
                    out += _member(part + (pad if last else b""))
                    meta = {"chunkSize": len(part), "chunkDigest": "sha256:" + hashlib.sha256(part).hexdigest()}
                    if k == 0:
                        entries.append({**entry, "offset": offset, **meta} if data else entry)
                    else:
                        entries.append({"name": ti.name, "type": "chunk", "offset": offset, "chunkOffset": k, **meta})
    toc = json.dumps({"version": 1, "entries": entries}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("stargz.index.json")
        ti.size = len(toc)
        tf.addfile(ti, io.BytesIO(toc))
    toc_offset = len(out)
    out += _member(buf.getvalue())
    out += _footer(toc_offset)
    return bytes(out), "sha256:" + hashlib.sha256(toc).hexdigest()


def estargz_layout(plain: Path, out: Path) -> Path:
    """A copy of the OCI layout ``plain`` (one uncompressed layer) with an eStargz layer."""
    if (out / "index.json").exists():
        return out
    shutil.copytree(plain, out)
    blobs = out / "blobs" / "sha256"
    index = json.loads((out / "index.json").read_bytes())
    mdesc = index["manifests"][0]
    manifest = json.loads((blobs / mdesc["digest"].split(":")[1]).read_bytes())
    layer = manifest["layers"][0]
    data, toc_digest = estargz_layer((blobs / layer["digest"].split(":")[1]).read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    manifest["layers"][0] = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                             "digest": "sha256:" + digest, "size": len(data),
                             "annotations": {"containerd.io/snapshot/stargz/toc.digest": toc_digest}}
    mbytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    mdigest = hashlib.sha256(mbytes).hexdigest()
    (blobs / mdigest).write_bytes(mbytes)
    index["manifests"][0] = {**mdesc, "digest": "sha256:" + mdigest, "size": len(mbytes)}
    (out / "index.json").write_text(json.dumps(index))
    return out
