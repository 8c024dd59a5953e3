"""Reading checkpoint images through what a real registry cannot be made to do (FakeRegistry):
Bearer tokens and their expiry, no Range support, 416, 5xx, truncated and wrong blobs, redirects
to another host, wrong media types, huge manifests. Each is a clear error, nothing wrong is shown
or kept."""

from __future__ import annotations

import json

import pytest

from ckpt_tui.archive import ArchiveError, open_source
from ckpt_tui.archive.registry.source import Options, open_remote
from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint

from .registry_fixtures import FakeRegistry, no_auth_files

OPTS = Options(tls_verify=False, retries=2)


@pytest.fixture(autouse=True)
def _no_machine_auth(monkeypatch, tmp_path):
    import ckpt_tui.archive.registry.source as rs

    no_auth_files(monkeypatch, tmp_path)
    monkeypatch.setattr(rs, "_defaults", OPTS)  # what load_checkpoint's docker:// opens use


def _open(url: str, opts: Options = OPTS, **kw):
    return open_remote(url, opts=opts, **kw)


def _processes(src) -> dict:
    from ckpt_tui.model import build_checkpoint

    ck = build_checkpoint(src)
    return {pid: p.cmdline for pid, p in ck.processes.items()}


def _layer(fake: FakeRegistry, repo: str = "ckpt/web", tag: str = "latest") -> str:
    _mt, data = fake.repos[repo][tag]
    doc = json.loads(data)
    if "manifests" in doc:
        _mt, data = fake.repos[repo][doc["manifests"][0]["digest"]]
        doc = json.loads(data)
    return doc["layers"][0]["digest"]


def test_containerd_checkpoint_index_opens_like_the_file(fake_registry, images):
    fake_registry.add_layout("ctr/web", "2", images["containerd"])
    with _open(fake_registry.url("ctr/web", "2")) as remote, open_source(images["containerd"]) as local:
        assert remote.kind == "containerd-image"
        assert list(remote.members) == list(local.members)
        assert remote.read("checkpoint/pstree.img") == local.read("checkpoint/pstree.img")
        assert _processes(remote) == _processes(local)


def test_podman_checkpoint_image_streams_gzip_layer(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["podman"])
    seen = []
    with _open(fake_registry.url("ckpt/web"), on_metadata=seen.append) as src, open_source(images["podman"]) as local:
        assert src.read("config.dump") == local.read("config.dump")
        assert _processes(src) == _processes(local)
    # the first overview comes from the manifest's annotations, before any layer byte
    from ckpt_tui.model.metadata import info_from_peek

    early = info_from_peek(seen[0])
    assert (early.name, str(early.engine), early.criu_version) == ("web3", "Podman", "40200")
    assert "spec" not in seen[0] or seen[0]["spec"] is None


def test_bearer_token_scoped_and_anonymous(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.bearer = True
    with _open(fake_registry.url("ckpt/web")) as src:
        assert src.has("checkpoint/pstree.img")
    req = fake_registry.token_requests[0]
    assert req["scope"] == "repository:ckpt/web:pull" and req["service"] == "fake"
    assert req["authorization"] == ""  # no credentials: an anonymous token
    assert len(fake_registry.token_requests) == 1  # one token for every request after it


def test_bearer_token_fetched_with_credentials(fake_registry, images):
    import base64

    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.bearer = True
    with _open(fake_registry.url("ckpt/web"), Options(tls_verify=False, creds="bob:pw")):
        pass
    assert fake_registry.token_requests[0]["authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()


def test_401_after_token_expiry_renews_once(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["mem-plain"])
    fake_registry.b.bearer = True
    fake_registry.b.token_lies = True  # says 300 s: the client learns of the expiry only from a 401
    with _open(fake_registry.url("ckpt/web")) as src:
        assert len(fake_registry.token_requests) == 1
        for tok in fake_registry.tokens:  # every token issued so far dies now (no clock involved)
            fake_registry.tokens[tok] = 0.0
        name = max(src.names("checkpoint/pages-"), key=lambda n: src.members[n].size)
        assert len(src.read(name)) == src.members[name].size
    assert len(fake_registry.token_requests) == 2


def test_server_without_range_support(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.no_ranges = True
    with _open(fake_registry.url("ckpt/web")) as src, open_source(images["web-plain"]) as local:
        assert _processes(src) == _processes(local)
        notes = [p.message for p in src.problems]
    assert any("does not answer HTTP Range" in m and "read whole" in m for m in notes)
    assert not any("range" in h for _m, _p, h in fake_registry.log[-1:])


def test_416_falls_back_to_one_whole_read(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.refuse_ranges = True
    with _open(fake_registry.url("ckpt/web")) as src:
        notes = [p.message for p in src.problems]
        assert src.has("checkpoint/pstree.img")
    assert any("HTTP 416" in m for m in notes)


def test_5xx_is_retried_then_reported(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.fail_first = 2
    with _open(fake_registry.url("ckpt/web")) as src:
        assert src.has("checkpoint/pstree.img")
    fake_registry.b.fail_first, fake_registry._served = 10, 0
    with pytest.raises(ArchiveError, match=r"HTTP 503 .*UNAVAILABLE: try later"):
        _open(fake_registry.url("ckpt/web"))


def test_truncated_blob_is_refused_and_not_kept(fake_registry, images, tmp_path):
    from ckpt_tui.archive import Limits

    fake_registry.add_layout("ckpt/web", "latest", images["web-gzip"])
    layer = _layer(fake_registry)
    fake_registry.b.truncate[layer] = 10_000
    cache = tmp_path / "cache"
    with pytest.raises(ArchiveError, match=r"truncated|broke off"):
        _open(fake_registry.url("ckpt/web"), limits=Limits(cache_dir=cache))
    assert not _kept(cache, layer)


def test_truncated_range_is_refused(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.truncate[_layer(fake_registry)] = 100
    with pytest.raises(ArchiveError, match=r"truncated|broke off"):
        _open(fake_registry.url("ckpt/web"))


def _kept(cache, digest: str) -> bool:
    """Whether the blob cache under ``cache`` holds any byte of ``digest`` as fetched."""
    from ckpt_tui.archive.registry.blobstore import blob_key

    entry = cache / "ckpt-tui-cache-v1" / blob_key(digest)
    if not (entry / "ranges").exists():
        return False
    return bool(json.loads((entry / "ranges").read_text())["ranges"])


def test_digest_mismatch_of_a_streamed_layer(fake_registry, images, tmp_path):
    """Byte 4 of a gzip stream is its MTIME, which gzip ignores: every member decompresses
    fine and only the digest, checked at the end of the stream, tells the bytes are wrong."""
    from ckpt_tui.archive import Limits

    fake_registry.add_layout("ckpt/web", "latest", images["web-gzip"])
    layer = _layer(fake_registry)
    fake_registry.b.corrupt[layer] = 4
    cache = tmp_path / "cache"
    seen = []
    with pytest.raises(ArchiveError, match=r"hash to .*nothing read from it is shown"):
        load_checkpoint(fake_registry.url("ckpt/web"), limits=Limits(cache_dir=cache), on_metadata=seen.append)
    assert not _kept(cache, layer)
    del fake_registry.b.corrupt[layer]  # the registry is mended: the same cache now serves it
    with _open(fake_registry.url("ckpt/web"), limits=Limits(cache_dir=cache)) as src:
        assert src.has("checkpoint/pstree.img")
    assert _complete(cache, layer)


def test_digest_mismatch_of_a_config_or_manifest(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    top = json.loads(fake_registry.repos["ckpt/web"]["latest"][1])
    manifest = json.loads(fake_registry.repos["ckpt/web"][top["manifests"][0]["digest"]][1])
    fake_registry.b.corrupt[manifest["config"]["digest"]] = 3
    with pytest.raises(ArchiveError, match=r"image config .*hash to"):
        _open(fake_registry.url("ckpt/web"))
    fake_registry.b.corrupt.clear()
    digest = top["manifests"][0]["digest"]
    mt, data = fake_registry.repos["ckpt/web"][digest]
    fake_registry.repos["ckpt/web"][digest] = (mt, data.replace(b'"schemaVersion":2', b'"schemaVersion":2 '))
    with pytest.raises(ArchiveError, match="not the digest asked for"):
        _open(fake_registry.url("ckpt/web"))


def test_range_reads_verified_when_the_blob_is_complete(fake_registry, images, tmp_path):
    """Ranges cannot be checked on their own: the digest is checked once all of the blob was
    fetched (a search fetches the pages), and wrong bytes are then refused and dropped."""
    from ckpt_tui.archive import Limits

    fake_registry.add_layout("ckpt/mem", "latest", images["mem-plain"])
    layer = _layer(fake_registry, "ckpt/mem")
    fake_registry.b.corrupt[layer] = -20_000  # in the zero blocks at the end of the tar
    cache = tmp_path / "cache"
    ck = load_checkpoint(fake_registry.url("ckpt/mem"), limits=Limits(cache_dir=cache))
    try:
        assert ck.processes and not _complete(cache, layer)
        blob = ck.source._index.refs["checkpoint/pstree.img"].remote
        with pytest.raises(CkptError, match="hash to"):
            blob.ensure(0, blob.size)
    finally:
        ck.close()
    assert not _kept(cache, layer)


def _complete(cache, digest):
    from ckpt_tui.archive.registry.blobstore import blob_key

    f = cache / "ckpt-tui-cache-v1" / blob_key(digest) / "ranges"
    return f.exists() and json.loads(f.read_text())["verified"]


def test_redirect_to_another_host_gets_no_token(fake_registry, other_host, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    other_host.blobs.update(fake_registry.blobs)
    fake_registry.b.bearer = True
    fake_registry.b.redirect_blobs_to = f"http://localhost:{other_host.port}"
    with _open(fake_registry.url("ckpt/web")) as src, open_source(images["web-plain"]) as local:
        assert _processes(src) == _processes(local)
    assert other_host.log, "the blobs were fetched from the other host"
    assert all("authorization" not in h for _m, _p, h in other_host.log)
    assert any(h.get("authorization", "").startswith("Bearer ") for _m, _p, h in fake_registry.log)


@pytest.mark.parametrize("mt, why", [
    ("text/html", "answered with text/html, not an image manifest or index"),
    ("application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
])
def test_wrong_manifest_media_type(fake_registry, images, mt, why):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.manifest_type = mt
    with pytest.raises(ArchiveError, match=why):
        _open(fake_registry.url("ckpt/web"))


def test_huge_manifest_is_refused(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    fake_registry.b.huge_manifest = 5 << 20
    with pytest.raises(ArchiveError, match="more than the 4,194,304 accepted"):
        _open(fake_registry.url("ckpt/web"))


def test_missing_image_and_auth_needed(fake_registry, images):
    fake_registry.add_layout("ckpt/web", "latest", images["web-plain"])
    with pytest.raises(ArchiveError, match=r"no image docker://.*ckpt/web:nope .*MANIFEST_UNKNOWN"):
        _open(fake_registry.url("ckpt/web", "nope"))
    fake_registry.b.basic = ("u", "p")
    with pytest.raises(ArchiveError, match=r"authentication required .*--creds"):
        _open(fake_registry.url("ckpt/web"))
    with pytest.raises(ArchiveError, match="credentials of --creds were refused"):
        _open(fake_registry.url("ckpt/web"), Options(tls_verify=False, creds="u:wrong"))
    with _open(fake_registry.url("ckpt/web"), Options(tls_verify=False, creds="u:p")) as src:
        assert src.has("checkpoint/pstree.img")


def test_ordinary_image_is_not_a_checkpoint(fake_registry):
    import hashlib

    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    fake_registry.blobs[cd] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                      "size": len(config)}, "layers": []}).encode()
    fake_registry.add_manifest("lib/busybox", "latest", "application/vnd.oci.image.manifest.v1+json", manifest)
    with pytest.raises(ArchiveError, match="not a checkpoint image"):
        _open(fake_registry.url("lib/busybox"))


def _platform_index(fake: FakeRegistry, images) -> None:
    """An index of two platforms: amd64 is the web checkpoint, arm64 the podman one."""
    a = fake.add_layout("multi/web", "amd64-only", images["web-plain"])
    b = fake.add_layout("multi/web", "arm64-only", images["podman"])
    ma = json.loads(fake.repos["multi/web"][a][1])["manifests"][0]
    b = json.loads(fake.repos["multi/web"][b][1])["manifests"][0]["digest"]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {**ma, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": b,
         "size": len(fake.repos["multi/web"][b][1]), "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": b,
         "size": len(fake.repos["multi/web"][b][1]), "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}
    fake.add_manifest("multi/web", "latest", "application/vnd.oci.image.index.v1+json", json.dumps(index).encode())


def test_multi_platform_index(fake_registry, images):
    _platform_index(fake_registry, images)
    with _open(fake_registry.url("multi/web"), Options(tls_verify=False, platform="linux/amd64")) as src:
        assert json.loads(src.read("config.dump"))["name"] == "web"
    with _open(fake_registry.url("multi/web"), Options(tls_verify=False, platform="linux/arm64")) as src:
        assert json.loads(src.read("config.dump"))["name"] == "web3"
    with pytest.raises(ArchiveError, match=r"no image for platform linux/s390x .*linux/amd64, linux/arm64.*--platform"):
        _open(fake_registry.url("multi/web"), Options(tls_verify=False, platform="linux/s390x"))


def _zc_layer(fake: FakeRegistry, repo: str) -> dict:
    top = json.loads(fake.repos[repo]["latest"][1])
    manifest = json.loads(fake.repos[repo][top["manifests"][0]["digest"]][1])
    return manifest["layers"][0]


def test_zstd_chunked_chunk_that_does_not_match_its_digest(fake_registry, zchunked):
    """A byte changed inside one member's compressed chunk: the table of contents says where and
    what it must hash to, so that member is refused; the others still read."""
    from ckpt_tui.archive.registry.toc import read_toc

    fake_registry.add_layout("zc/web", "latest", zchunked["web"])
    layer = _zc_layer(fake_registry, "zc/web")
    with _open(fake_registry.url("zc/web")) as src:
        entry = next(e for e in read_toc(src._index.refs["checkpoint/pstree.img"].remote.blob)
                     if e.get("name") == "checkpoint/pages-1.img")
        good = src.read("checkpoint/core-1.img")
    fake_registry.b.corrupt[layer["digest"]] = entry["offset"] + 8
    with _open(fake_registry.url("zc/web")) as src:
        assert src.read("checkpoint/core-1.img") == good
        with pytest.raises(ArchiveError, match=r"pages-1.img: its chunk at byte 0 does not"):
            src.read("checkpoint/pages-1.img")


def test_zstd_chunked_table_of_contents_checked(fake_registry, zchunked):
    fake_registry.add_layout("zc/web", "latest", zchunked["web"])
    layer = _zc_layer(fake_registry, "zc/web")
    pos = int(layer["annotations"]["io.containers.zstd-chunked.manifest-position"].split(":")[0])
    fake_registry.b.corrupt[layer["digest"]] = pos + 10
    with pytest.raises(ArchiveError, match=r"table of contents hashes to .*nothing of it is used"):
        _open(fake_registry.url("zc/web"))


def test_estargz_layer_read_by_its_table_of_contents(fake_registry, images, estargz):
    """eStargz (gzip with a TOC): the member list from the footer and the TOC, members by their
    chunks. The layers come from tests/estargz_writer.py: no real eStargz producer is here."""
    fake_registry.add_layout("es/mem", "latest", estargz["mem"])
    layer = _zc_layer(fake_registry, "es/mem")
    with _open(fake_registry.url("es/mem")) as src, open_source(images["mem-plain"]) as local:
        assert list(src.members) == list(local.members)
        ck, lk = (build_checkpoint_of(s) for s in (src, local))
        assert {p: x.cmdline for p, x in ck.processes.items()} == {p: x.cmdline for p, x in lk.processes.items()}
        blob = src._index.refs["checkpoint/pstree.img"].remote.blob
        assert blob.client.stats.body_bytes < layer["size"] // 4  # the process tree: a small part
        name = max(src.names("checkpoint/pages-"), key=lambda n: src.members[n].size)
        assert src.read(name) == local.read(name)  # every chunk, checked against its digest
        mid = src.members[name].size // 2
        fh = src.open(name)
        fh.seek(mid)
        assert fh.read(5000) == local.read(name)[mid:mid + 5000]


def build_checkpoint_of(src):
    from ckpt_tui.model import build_checkpoint

    return build_checkpoint(src)


def test_estargz_damaged_chunk_and_toc(fake_registry, estargz):
    from ckpt_tui.archive.registry.toc import read_estargz_toc

    fake_registry.add_layout("es/web", "latest", estargz["web"])
    layer = _zc_layer(fake_registry, "es/web")
    with _open(fake_registry.url("es/web")) as src:
        entries = read_estargz_toc(src._index.refs["checkpoint/pstree.img"].remote.blob)
    entry = next(e for e in entries if e.get("name") == "checkpoint/pages-1.img")
    fake_registry.b.corrupt[layer["digest"]] = entry["offset"] + 30  # inside that gzip member's data
    with _open(fake_registry.url("es/web")) as src:
        assert src.read("checkpoint/core-1.img")
        with pytest.raises(ArchiveError, match=r"pages-1.img: its chunk at byte 0 does not"):
            src.read("checkpoint/pages-1.img")
    footer_at = layer["size"] - 51
    toc_at = int(fake_registry.blobs[layer["digest"]][footer_at + 16:footer_at + 32], 16)
    fake_registry.b.corrupt[layer["digest"]] = toc_at + 40
    with pytest.raises(ArchiveError, match="table of contents"):
        _open(fake_registry.url("es/web"))
