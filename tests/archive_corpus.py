"""Builders of good and bad inputs for the archive-layer tests, made from the real fixtures.

Nothing here is a fixture of its own: every helper derives bytes from
tests/data (or builds a tiny tar in memory) at test time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from pathlib import Path

import zstandard

DATA = Path(__file__).parent / "data"
ORACLE = DATA / "oracle"

PODMAN_FIXTURES = {
    "web-httpd": "web-httpd.tar.zst",
    "web-ignore-rootfs": "web-ignore-rootfs.tar.zst",
    "ps-tree": "ps-tree.tar.gz",
    "ps-tree-uncompressed": "ps-tree-uncompressed.tar",
    "tcp-established": "tcp-established.tar.zst",
    "tcp-server": "tcp-server.tar.zst",
    "memhog-16m-threads": "memhog-16m-threads.tar.zst",
}


def oracle_members(name: str) -> dict[str, int]:
    out = {}
    for line in (ORACLE / name / "members.tsv").read_text().splitlines():
        if line.strip():
            path, size = line.split("\t")
            out[path] = int(size)
    return out


def plain_tar_bytes(fixture: str) -> bytes:
    """The uncompressed tar stream of a fixture (decompressed with the reference libraries)."""
    raw = (DATA / fixture).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True).read()
    return raw


def reference_contents(fixture: str) -> dict[str, bytes]:
    """name -> bytes of every regular file, read with Python's tarfile (the reference)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(plain_tar_bytes(fixture))) as tf:
        for ti in tf:
            if ti.isfile():
                name = ti.name[2:] if ti.name.startswith("./") else ti.name
                out[name] = tf.extractfile(ti).read()
    return out


def header_offsets(tar: bytes) -> list[int]:
    """Offsets of every member header of a plain tar."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for ti in tf:
            out.append(ti.offset)
    return out


# -- building tars ------------------------------------------------------------------


def _info(name: str, *, type=tarfile.REGTYPE, size=0, mode=0o644, linkname="") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.size = size
    ti.mode = mode
    ti.linkname = linkname
    ti.mtime = 1_700_000_000
    return ti


class TarBuilder:
    """A tiny in-memory tar writer that does not sanitise anything (GNU format)."""

    def __init__(self) -> None:
        self.entries: list[tuple[tarfile.TarInfo, bytes | None]] = []  # written by bytes()

    def file(self, name: str, data: bytes, mode: int = 0o644) -> TarBuilder:
        self.entries.append((_info(name, size=len(data), mode=mode), data))
        return self

    def dir(self, name: str, mode: int = 0o755) -> TarBuilder:
        self.entries.append((_info(name, type=tarfile.DIRTYPE, mode=mode), None))
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        self.entries.append((_info(name, type=tarfile.SYMTYPE, linkname=target, mode=0o777), None))
        return self

    def hardlink(self, name: str, target: str) -> TarBuilder:
        self.entries.append((_info(name, type=tarfile.LNKTYPE, linkname=target), None))
        return self

    def device(self, name: str, kind=tarfile.CHRTYPE) -> TarBuilder:
        ti = _info(name, type=kind, mode=0o666)
        ti.devmajor, ti.devminor = 1, 3
        self.entries.append((ti, None))
        return self

    def bytes(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT,
                          encoding="utf-8", errors="surrogateescape") as tf:
            for info, data in self.entries:
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def minimal_checkpoint(b: TarBuilder | None = None) -> TarBuilder:
    """A small valid-looking checkpoint layout using real images from web-httpd."""
    ref = reference_contents("web-httpd.tar.zst")
    b = b or TarBuilder()
    b.file("config.dump", ref["config.dump"], 0o600)
    b.file("spec.dump", ref["spec.dump"], 0o600)
    b.dir("checkpoint", 0o600)
    for name in ("checkpoint/inventory.img", "checkpoint/pstree.img", "checkpoint/core-1.img"):
        b.file(name, ref[name])
    return b


def evil_tar() -> bytes:
    """Every kind of unsafe entry mixed into a real, small checkpoint."""
    b = minimal_checkpoint()
    b.file("../escape.txt", b"up")
    b.file("/abs/path.txt", b"abs")
    b.file("checkpoint/../../climb.txt", b"climb")
    b.file("a/../../x", b"x")
    b.symlink("link-out", "../../etc/passwd")
    b.symlink("checkpoint/abs-link", "/etc/passwd")
    b.symlink("checkpoint/parent", "../pre-checkpoint")  # inside: kept
    b.symlink("pstree-alias", "checkpoint/pstree.img")  # inside: kept, readable
    b.hardlink("hard-out", "../../etc/shadow")
    b.hardlink("hard-missing", "no/such/member")
    b.hardlink("checkpoint/pstree-hard.img", "checkpoint/pstree.img")
    b.device("dev-null", tarfile.CHRTYPE)
    b.device("dev-sda", tarfile.BLKTYPE)
    b.device("a-fifo", tarfile.FIFOTYPE)
    b.file("stats-dump", b"first")
    b.file("stats-dump", b"second")  # duplicate: later wins
    b.file("checkpoint/\udcff\udcfe-raw.img", b"non-utf8 name")
    b.file("weird-\x1b[31m-name", b"escape sequence in the name")
    b.file("./dot/./slash//name", b"normalised")
    return b.bytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data)


def zero_bomb(size: int, fmt: str, name: str = "checkpoint/pages-1.img") -> bytes:
    """A tar holding one member of ``size`` zero bytes, compressed without ever
    holding the uncompressed data in memory."""
    hdr = io.BytesIO()
    with tarfile.open(fileobj=hdr, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(_info("checkpoint", type=tarfile.DIRTYPE))
        ti = _info(name, size=size)
        tf.addfile(ti)  # header only: no fileobj
    head = hdr.getvalue()
    # addfile without a fileobj writes just the header; close appended the end blocks
    head = head[: 1024]
    chunk = bytes(1 << 20)
    tail = bytes(-size % 512) + bytes(1024)
    if fmt == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [c.compress(head)]
        left = size
        while left:
            n = min(left, len(chunk))
            parts.append(c.compress(chunk[:n]))
            left -= n
        parts += [c.compress(tail), c.flush()]
        return b"".join(parts)
    cctx = zstandard.ZstdCompressor(level=3, write_checksum=True)
    out = io.BytesIO()
    with cctx.stream_writer(out, closefd=False) as w:
        w.write(head)
        left = size
        while left:
            n = min(left, len(chunk))
            w.write(chunk[:n])
            left -= n
        w.write(tail)
    return out.getvalue()


# -- OCI / docker images -------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {ti.name: tf.extractfile(ti).read() for ti in tf if ti.isfile()}


def write_layout_dir(dest: Path, files: dict[str, bytes]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        p = dest / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return dest


def tar_of(files: dict[str, bytes]) -> bytes:
    b = TarBuilder()
    for name, data in files.items():
        b.file(name, data)
    return b.bytes()


def strip_checkpoint_annotations(files: dict[str, bytes]) -> dict[str, bytes]:
    """The podman checkpoint image turned into an ordinary image: manifest annotations removed."""
    files = dict(files)
    index = json.loads(files["index.json"])
    mdesc = index["manifests"][0]
    mname = "blobs/sha256/" + mdesc["digest"].split(":")[1]
    manifest = json.loads(files.pop(mname))
    manifest.pop("annotations", None)
    mdata = json.dumps(manifest).encode()
    mdesc["digest"] = "sha256:" + _sha(mdata)
    mdesc["size"] = len(mdata)
    files["blobs/sha256/" + _sha(mdata)] = mdata
    files["index.json"] = json.dumps(index).encode()
    return files


def docker_archive_from_oci(files: dict[str, bytes]) -> bytes:
    """A docker-archive (``podman save --format docker-archive`` shape) of the podman checkpoint image."""
    index = json.loads(files["index.json"])
    mdesc = index["manifests"][0]
    manifest = json.loads(files["blobs/sha256/" + mdesc["digest"].split(":")[1]])
    config = files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]]
    layer_gz = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    layer = gzip.decompress(layer_gz)
    lhex = _sha(layer)
    chex = _sha(config)
    out = {
        f"{lhex}/layer.tar": layer,
        f"{chex}.json": config,
        "manifest.json": json.dumps(
            [{"Config": f"{chex}.json", "RepoTags": ["localhost/checkpoint-web:latest"], "Layers": [f"{lhex}/layer.tar"]}]
        ).encode(),
    }
    return tar_of(out)
