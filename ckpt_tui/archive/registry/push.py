"""Push an OCI layout directory to a registry: blobs, manifests, then the index under the tag.

The same bytes the layout holds are sent, so the digests do not change: each blob is uploaded
(one monolithic PUT) unless the repository has it already, or mounted from another repository
of the same registry that has it (``mount_from``); manifests and nested indexes are pushed by
digest, children first (the registry checks that what an index names exists), and the layout's
``index.json`` last, under the tag. Returns that index's digest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin

from .client import sha256_digest
from .reference import Reference, RegistryError

SMALL = 16 << 20  # blobs up to this are sent from memory (and can be retried)
_MANIFESTS = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
_INDEXES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass
class PushResult:
    reference: str
    digest: str  # of what the tag now names (the layout's index.json)
    uploaded: list[str] = field(default_factory=list)  # blob digests sent
    existing: list[str] = field(default_factory=list)  # blobs the repository had
    mounted: list[str] = field(default_factory=list)  # blobs mounted from another repository
    manifests: list[str] = field(default_factory=list)
    bytes_sent: int = 0


class _Layout:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        alg, _, hexd = digest.partition(":")
        if not alg.isalnum() or not hexd.isalnum():
            raise RegistryError(f"bad digest {digest!r} in the OCI layout {self.root}")
        return self.root / "blobs" / alg / hexd

    def json(self, digest: str) -> tuple[bytes, dict]:
        data = self.path(digest).read_bytes()
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{digest} in {self.root} is not JSON: {exc}") from None
        return data, doc if isinstance(doc, dict) else {}


def push_layout(client, ref: Reference, layout_dir: str | os.PathLike[str], *, mount_from: Iterable[str] = (),
                on_output: Callable[[str], object] | None = None) -> PushResult:
    if not ref.tag:
        raise RegistryError(f"{ref}: name a tag to push to")
    emit = on_output or (lambda _line: None)
    lay = _Layout(Path(layout_dir))
    try:
        top_bytes = (lay.root / "index.json").read_bytes()
        top = json.loads(top_bytes)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{lay.root} is not an OCI layout (index.json: {exc})") from None
    res = PushResult(str(ref), "")
    sources = [r for r in mount_from if r and r != ref.repository]
    _push_children(client, ref, lay, top, sources, res, emit, depth=0)
    mt = top.get("mediaType") if isinstance(top.get("mediaType"), str) else _INDEXES[0]
    res.digest = put_manifest(client, ref, ref.tag, mt, top_bytes)
    res.manifests.append(res.digest)
    emit(f"Pushed {ref} ({res.digest})")
    return res


def _push_children(client, ref, lay: _Layout, doc: dict, sources, res: PushResult, emit, depth: int) -> None:
    if depth > 4:
        raise RegistryError("image indexes nested too deep to push")
    for desc in doc.get("manifests") or []:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            continue
        mt = desc.get("mediaType", "")
        if mt in _MANIFESTS or mt in _INDEXES:
            data, child = lay.json(desc["digest"])
            if mt in _INDEXES:
                _push_children(client, ref, lay, child, sources, res, emit, depth + 1)
            else:
                for blob in [child.get("config"), *(child.get("layers") or [])]:
                    if isinstance(blob, dict) and isinstance(blob.get("digest"), str):
                        _push_blob(client, ref, lay, blob["digest"], sources, res, emit)
            put_manifest(client, ref, desc["digest"], mt, data)
            res.manifests.append(desc["digest"])
        else:  # a containerd checkpoint index names blobs directly
            _push_blob(client, ref, lay, desc["digest"], sources, res, emit)


def _push_blob(client, ref, lay: _Layout, digest: str, sources, res: PushResult, emit) -> None:
    if digest in res.uploaded or digest in res.existing or digest in res.mounted:
        return
    path = lay.path(digest)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RegistryError(f"blob {digest} is missing from {lay.root}: {exc.strerror or exc}") from None
    if blob_exists(client, ref, digest) is not None:
        res.existing.append(digest)
        emit(f"  {digest[:19]} exists ({size:,} bytes)")
        return
    for repo in sources:
        if mount(client, ref, digest, repo):
            res.mounted.append(digest)
            emit(f"  {digest[:19]} mounted from {repo}")
            return
    if size <= SMALL:
        upload(client, ref, digest, size, path.read_bytes())
    else:
        with open(path, "rb") as fh:
            upload(client, ref, digest, size, fh)
    res.uploaded.append(digest)
    res.bytes_sent += size
    emit(f"  {digest[:19]} uploaded ({size:,} bytes)")


# -- the distribution API's write side ----------------------------------------------


def put_manifest(client, ref: Reference, reference: str, media_type: str, data: bytes) -> str:
    what = f"docker://{ref.registry}/{ref.repository}:{reference}"
    resp = client.request("PUT", f"/v2/{ref.repository}/manifests/{quote(reference, safe=':')}",
                        scope=f"repository:{ref.repository}:pull,push", what=what,
                        headers={"Content-Type": media_type}, body=data)
    if resp.status not in (200, 201, 202):
        raise client.fail(resp, f"pushing the manifest {what}")
    resp.drain_conn()
    resp.release_conn()
    client.stats.uploaded += len(data)
    return sha256_digest(data)


def blob_exists(client, ref: Reference, digest: str) -> int | None:
    """The blob's size when the repository has it, else None."""
    resp = client.request("HEAD", f"/v2/{ref.repository}/blobs/{digest}",
                        scope=f"repository:{ref.repository}:pull,push", what=f"blob {digest}")
    resp.drain_conn()
    resp.release_conn()
    if resp.status == 200:
        length = resp.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else -1
    if resp.status == 404:
        return None
    raise RegistryError(f"{client.registry}: checking for blob {digest}: HTTP {resp.status}")


def mount(client, ref: Reference, digest: str, source_repo: str) -> bool:
    """Cross-repository mount: True when the registry linked the blob without an upload."""
    scope = f"repository:{ref.repository}:pull,push repository:{source_repo}:pull"
    resp = client.request("POST", f"/v2/{ref.repository}/blobs/uploads/?"
                        + urlencode({"mount": digest, "from": source_repo}), scope=scope,
                        what=f"mounting blob {digest}", headers={"Content-Length": "0"})
    loc = resp.headers.get("Location", "")
    resp.drain_conn()
    resp.release_conn()
    if resp.status == 201:
        return True
    if resp.status == 202 and loc:
        _cancel_upload(client, ref, loc)
        return False
    return False


def _cancel_upload(client, ref: Reference, location: str) -> None:
    try:
        resp = client.request("DELETE", urljoin(client.base_url() + "/", location),
                            scope=f"repository:{ref.repository}:pull,push", what="cancelling an upload")
        resp.drain_conn()
        resp.release_conn()
    except RegistryError:
        pass


def upload(client, ref: Reference, digest: str, size: int, chunks: Iterator[bytes] | bytes) -> None:
    """Upload a blob in one monolithic PUT (POST for a session, PUT with ?digest=)."""
    scope = f"repository:{ref.repository}:pull,push"
    resp = client.request("POST", f"/v2/{ref.repository}/blobs/uploads/", scope=scope,
                        what=f"starting the upload of {digest}", headers={"Content-Length": "0"})
    loc = resp.headers.get("Location", "")
    if resp.status != 202 or not loc:
        raise client.fail(resp, f"starting the upload of blob {digest}")
    resp.drain_conn()
    resp.release_conn()
    url = urljoin(client.base_url() + "/", loc)
    url += ("&" if "?" in url else "?") + urlencode({"digest": digest})
    replayable = isinstance(chunks, (bytes, bytearray))
    resp = client.request("PUT", url, scope=scope, what=f"uploading blob {digest}", body=chunks,
                        replayable=replayable, headers={"Content-Type": "application/octet-stream",
                                                        "Content-Length": str(size)})
    if resp.status not in (201, 204):
        raise client.fail(resp, f"uploading blob {digest}")
    resp.drain_conn()
    resp.release_conn()
    client.stats.uploaded += size
