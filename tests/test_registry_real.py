"""Against the real CNCF distribution registry (Debian's docker-registry), with skopeo on the
other side: images put there by ``skopeo copy`` and by our own push, read back by ``skopeo
inspect`` and by us; basic auth with htpasswd; listing; the opt-in blob cache."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from ckpt_tui.archive import ArchiveError, Limits, open_source
from ckpt_tui.archive.registry import parse
from ckpt_tui.archive.registry.listing import list_catalog, list_repository
from ckpt_tui.archive.registry.push import push_layout
from ckpt_tui.archive.registry.source import Options, make_client, open_remote
from ckpt_tui.model import build_checkpoint
from ckpt_tui.model.metadata import info_from_peek

from .registry_fixtures import PASSWORD, USER, no_auth_files, skopeo

OPTS = Options(tls_verify=False)
AUTH = Options(tls_verify=False, creds=f"{USER}:{PASSWORD}")


@pytest.fixture(autouse=True)
def _no_machine_auth(monkeypatch, tmp_path):
    no_auth_files(monkeypatch, tmp_path)


def _push(reg, repo_tag: str, layout, opts=OPTS, **kw):
    ref = parse(reg.url(repo_tag))
    client = make_client(ref, opts)
    try:
        return push_layout(client, ref, layout, **kw), client.stats
    finally:
        client.close()


def _layer_digest(layout) -> str:
    index = json.loads((layout / "index.json").read_bytes())
    digest = index["manifests"][0]["digest"].split(":")[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_bytes())["layers"][0]["digest"]


def _procs(src) -> dict:
    ck = build_checkpoint(src)
    return {pid: (p.comm, p.cmdline) for pid, p in ck.processes.items()}


def test_skopeo_copy_then_open(registry, images):
    got = skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{images['podman']}", registry.url("sk/web:podman"))
    assert got.returncode == 0, got.stderr
    with open_remote(registry.url("sk/web:podman"), opts=OPTS) as src, open_source(images["podman"]) as local:
        assert src.description == f"checkpoint image {registry.host}/sk/web:podman (registry)"
        assert list(src.members) == list(local.members)
        assert src.read("checkpoint/pages-1.img") == local.read("checkpoint/pages-1.img")
        assert _procs(src) == _procs(local)


def test_our_push_read_back_by_skopeo_and_us(registry, images):
    res, _stats = _push(registry, "ours/web:plain", images["web-plain"])
    index = (images["web-plain"] / "index.json").read_bytes()
    assert res.digest == "sha256:" + hashlib.sha256(index).hexdigest()
    raw = skopeo("inspect", "--tls-verify=false", "--raw", registry.url("ours/web:plain"))
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.encode() == index  # the same bytes the OCI layout holds
    info = json.loads(skopeo("inspect", "--tls-verify=false", registry.url("ours/web:plain")).stdout)
    manifest = json.loads((images["web-plain"] / "blobs" / "sha256" /
                           json.loads(index)["manifests"][0]["digest"].split(":")[1]).read_bytes())
    assert info["Layers"] == [manifest["layers"][0]["digest"]]
    with open_remote(registry.url("ours/web:plain"), opts=OPTS) as src, open_source(images["web-plain"]) as local:
        assert _procs(src) == _procs(local)


def test_second_push_uploads_nothing_and_mounts_across_repositories(registry, images):
    first, _ = _push(registry, "ours/mount-a:1", images["web-gzip"])
    assert len(first.uploaded) == 2  # config and layer
    again, _ = _push(registry, "ours/mount-a:2", images["web-gzip"])
    assert again.uploaded == [] and len(again.existing) == 2
    other, stats = _push(registry, "ours/mount-b:1", images["web-gzip"], mount_from=["ours/mount-a"])
    assert other.uploaded == [] and len(other.mounted) == 2 and other.bytes_sent == 0
    assert any("mount=" in p or p.startswith("POST") for p in stats.paths)


def test_range_reads_fetch_a_fraction_of_an_uncompressed_layer(registry, images):
    _push(registry, "ours/mem:plain", images["mem-plain"])
    layer = max((images["mem-plain"] / "blobs" / "sha256").iterdir(), key=lambda f: f.stat().st_size)
    with open_remote(registry.url("ours/mem:plain"), opts=OPTS) as src:
        ck = build_checkpoint(src)
        assert ck.processes
        # the rest of the client's counters: every byte of every response body
        from ckpt_tui.archive.registry.blob import RemoteBlob

        blob: RemoteBlob = src._index.refs["checkpoint/pstree.img"].remote
        read = blob.client.stats.body_bytes
    assert layer.stat().st_size > 16 << 20
    assert read < layer.stat().st_size // 4, (read, layer.stat().st_size)


def test_hex_page_by_range_and_search_streams_the_pages(registry, images):
    from ckpt_tui.model.memory import RemotePages

    _push(registry, "ours/mem:plain", images["mem-plain"])
    with open_remote(registry.url("ours/mem:plain"), opts=OPTS) as src, open_source(images["mem-plain"]) as local:
        ck, lk = build_checkpoint(src), build_checkpoint(local)
        pid = next(p for p in sorted(ck.processes) if ck.memory(p).pages is not None)
        mem, lmem = ck.memory(pid), lk.memory(pid)
        assert isinstance(mem.pages, RemotePages)
        client = src._index.refs["checkpoint/pstree.img"].remote.client
        span = next(iter(mem.present_spans()))
        before = client.stats.body_bytes
        assert mem.read(span[0], 4096) == lmem.read(span[0], 4096)
        assert client.stats.body_bytes - before <= 64 << 10  # one aligned chunk for one page
        hits = [(m.pid, m.address) for m in ck.search_memory(b"CKPT-MARKER-")]
        assert hits and hits == [(m.pid, m.address) for m in lk.search_memory(b"CKPT-MARKER-")]


def test_scan_and_memory_diff_read_a_registry_checkpoint_s_pages(registry, images):
    """The scan's page tally and the memory diff read the pages of a checkpoint in a registry
    (its pages image fetched whole, as a search does): what they tell is what they tell of the
    same image opened locally."""
    from ckpt_tui.actions.diff import DiffOptions, diff_checkpoints
    from ckpt_tui.actions.scan import scan

    _push(registry, "ours/mem:scan", images["mem-plain"])
    with open_remote(registry.url("ours/mem:scan"), opts=OPTS) as src, open_source(images["mem-plain"]) as local:
        ck, lk = build_checkpoint(src), build_checkpoint(local)
        remote, here = scan(ck), scan(lk)
        assert remote.limits == here.limits == []
        assert remote.waste.memory_scanned and remote.waste == here.waste
        d = diff_checkpoints(lk, ck, DiffOptions(keep_unchanged=True))
        proc = next(n for n in d.section("processes").children if n.key == "1")
        mem = next(g for g in proc.children if g.kind == "memory")
        assert mem.pages_compared and mem.pages.changed == 0
        assert mem.pages.same * 4096 == mem.dumped_a == mem.dumped_b > 16 << 20


def test_basic_auth_with_creds_and_authfile(registry_auth, images, tmp_path):
    import base64

    url = registry_auth.url("auth/web:1")
    with pytest.raises(ArchiveError, match="authentication required"):
        _push(registry_auth, "auth/web:1", images["web-plain"])
    _push(registry_auth, "auth/web:1", images["web-plain"], AUTH)
    got = skopeo("inspect", "--tls-verify=false", *registry_auth.skopeo_creds(), url)
    assert got.returncode == 0, got.stderr
    with pytest.raises(ArchiveError, match=r"authentication required for docker://.*--creds"):
        open_remote(url, opts=OPTS)
    with pytest.raises(ArchiveError, match="refused"):
        open_remote(url, opts=Options(tls_verify=False, creds=f"{USER}:wrong"))
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"auths": {registry_auth.host: {
        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    with open_remote(url, opts=Options(tls_verify=False, authfile=str(authfile))) as src:
        assert src.has("checkpoint/pstree.img")
    listing = list_repository(registry_auth.url("auth/web"), AUTH)
    assert [r for r, _m in listing.rows] == [url]


def _ordinary_image(tmp_path):
    """An OCI layout of an ordinary (non-checkpoint) image: one empty layer, no annotations."""
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w"):
        pass
    layer = gzip.compress(buf.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()]}}).encode()
    blobs = tmp_path / "plain" / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        (blobs / d).write_bytes(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(layer)}]
                           }).encode()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest)}]}
    (tmp_path / "plain" / "index.json").write_text(json.dumps(index))
    return tmp_path / "plain"


def test_list_tags_and_catalog(registry, images, tmp_path):
    _push(registry, "list/web:plain", images["web-plain"])
    _push(registry, "list/web:gzip", images["web-gzip"])
    _push(registry, "list/web:busybox", _ordinary_image(tmp_path))
    listing = list_repository(registry.url("list/web"), OPTS)
    rows = dict(listing.rows)
    assert set(rows) == {registry.url("list/web:plain"), registry.url("list/web:gzip")}
    assert listing.skipped == [registry.url("list/web:busybox")]
    row = rows[registry.url("list/web:plain")]
    info = info_from_peek(row)
    assert (info.name, str(info.engine), info.runtime) == ("web", "Podman", "runc")
    assert info.checkpointed is not None and info.checkpointed.year >= 2026
    assert row["size"] > 0 and row["digest"].startswith("sha256:")
    every = list_catalog(f"docker://{registry.host}", OPTS)
    assert registry.url("list/web:plain") in dict(every.rows)


def test_listing_reads_no_layer(registry, images):
    _push(registry, "list/only:plain", images["web-plain"])
    ref = parse(registry.url("list/only"))
    client = make_client(ref, OPTS)
    list_repository(registry.url("list/only"), OPTS, client=client)
    layer = _layer_digest(images["web-plain"])
    assert any("/manifests/" in p for p in client.stats.paths)
    assert not any(layer in p for p in client.stats.paths)


def test_blob_cache_is_opt_in_and_reused(registry, images, tmp_path, monkeypatch):
    _push(registry, "cache/web:gzip", images["web-gzip"])
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    with open_remote(registry.url("cache/web:gzip"), opts=OPTS) as src:
        assert src.has("checkpoint/pstree.img")
    assert not (home / ".cache").exists()  # off by default: nothing outside the temp workspace
    cache = tmp_path / "cache"
    first = _open_paths(registry.url("cache/web:gzip"), cache)
    layer = _layer_digest(images["web-gzip"])
    assert any(layer in p for p in first)
    again = _open_paths(registry.url("cache/web:gzip"), cache)  # the layer comes from the cache
    assert not any(layer in p for p in again), again


def _open_paths(url, cache):
    import ckpt_tui.archive.registry.client as C

    seen = []
    orig = C.Client.close

    def close(self):
        seen.extend(self.stats.paths)
        orig(self)

    C.Client.close = close
    try:
        with open_remote(url, opts=OPTS, limits=Limits(cache_dir=cache)):
            pass
    finally:
        C.Client.close = orig
    return seen


def test_two_processes_share_the_cache(registry, images, tmp_path):
    _push(registry, "cache/mem:plain", images["mem-plain"])
    cache = tmp_path / "cache"
    code = (
        "import sys\n"
        "from ckpt_tui.archive import Limits\n"
        "from ckpt_tui.archive.registry.source import Options, open_remote\n"
        "from ckpt_tui.model import build_checkpoint\n"
        f"src = open_remote({registry.url('cache/mem:plain')!r}, opts=Options(tls_verify=False), "
        f"limits=Limits(cache_dir={str(cache)!r}))\n"
        "ck = build_checkpoint(src)\n"
        "n = sum(1 for _ in ck.search_memory(b'CKPT-MARKER-'))\n"
        "print(n)\n"
        "src.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert outs[0][0] == outs[1][0] and int(outs[0][0]) > 0
    entries = [d for d in (cache / "ckpt-tui-cache-v1").iterdir() if not d.name.startswith(("tmp-", "trash-"))]
    verified = [json.loads((d / "ranges").read_text()).get("verified") for d in entries if (d / "ranges").exists()]
    assert True in verified  # the search fetched the whole layer: it was checked against its digest


def test_containerd_checkpoint_index_pushed_and_read_back(registry, images, tmp_path):
    """The real containerd checkpoint (an index whose descriptors are the CRIU tar, the rw
    layer and config blobs) goes through our push and comes back the same."""
    import tarfile

    lay = tmp_path / "ctr"
    with tarfile.open(images["containerd"]) as tf:
        tf.extractall(lay)
    res, _ = _push(registry, "ctr/web:1", lay)
    raw = skopeo("inspect", "--tls-verify=false", "--raw", registry.url("ctr/web:1"))
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.encode() == (lay / "index.json").read_bytes()
    assert len(res.uploaded) == 5  # every blob the checkpoint index names
    with open_remote(registry.url("ctr/web:1"), opts=OPTS) as src, open_source(images["containerd"]) as local:
        assert src.kind == "containerd-image"
        assert list(src.members) == list(local.members)
        assert _procs(src) == _procs(local)
    rows = dict(list_repository(registry.url("ctr/web"), OPTS).rows)
    info = info_from_peek(rows[registry.url("ctr/web:1")])
    with open_source(images["containerd"]) as local:
        want = build_checkpoint(local).info
    assert (str(info.engine), info.runtime, info.name) == ("containerd", "io.containerd.runc.v2", want.name)


def test_zstd_chunked_layer_read_by_its_table_of_contents(registry, images, zchunked):
    lay = zchunked["mem"]
    _push(registry, "zc/mem:1", lay)
    manifest = json.loads(skopeo("inspect", "--tls-verify=false", "--raw",
                                 registry.url("zc/mem:1") + "").stdout)
    if "manifests" in manifest:
        digest = manifest["manifests"][0]["digest"]
        manifest = json.loads(skopeo("inspect", "--tls-verify=false", "--raw",
                                     registry.url("zc/mem") + "@" + digest).stdout)
    layer = manifest["layers"][0]
    assert "io.containers.zstd-chunked.manifest-position" in layer.get("annotations", {})
    with open_remote(registry.url("zc/mem:1"), opts=OPTS) as src, open_source(images["mem-plain"]) as local:
        ck, lk = build_checkpoint(src), build_checkpoint(local)
        assert _procs(src) == _procs(local)
        client = src._index.refs["checkpoint/pstree.img"].remote.blob.client
        assert client.stats.body_bytes < layer["size"] // 4, (client.stats.body_bytes, layer["size"])
        pid = sorted(ck.processes)[0]
        span = next(iter(ck.memory(pid).present_spans()))
        assert ck.memory(pid).read(span[0], 8192) == lk.memory(pid).read(span[0], 8192)
        hits = [(m.pid, m.address) for m in ck.search_memory(b"CKPT-MARKER-")]
        assert hits and hits == [(m.pid, m.address) for m in lk.search_memory(b"CKPT-MARKER-")]


def test_peek_metadata_of_a_reference(registry, images, tmp_path, monkeypatch):
    import ckpt_tui.archive.registry.source as rs
    from ckpt_tui.archive import peek_metadata

    monkeypatch.setattr(rs, "_defaults", OPTS)
    _push(registry, "peek/web:plain", images["web-plain"])
    _push(registry, "peek/web:busybox", _ordinary_image(tmp_path))
    info = info_from_peek(peek_metadata(registry.url("peek/web:plain")))
    assert (info.name, str(info.engine)) == ("web", "Podman")
    with pytest.raises(ArchiveError, match="ordinary container image"):
        peek_metadata(registry.url("peek/web:busybox"))
    with pytest.raises(ArchiveError, match="no image"):
        peek_metadata(registry.url("peek/web:nope"))
