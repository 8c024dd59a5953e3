"""archive/registry without a server: references, auth files, challenges, the blob store."""

from __future__ import annotations

import base64
import json
import os

import pytest

from ckpt_tui.archive.registry import RegistryError, is_remote, parse
from ckpt_tui.archive.registry.auth import lookup, parse_challenges, parse_creds
from ckpt_tui.archive.registry.blobstore import BlobStore, missing
from ckpt_tui.archive.registry.reference import parse_registry

from .registry_fixtures import no_auth_files


@pytest.mark.parametrize("text, want", [
    ("docker://127.0.0.1:5000/ckpt/web:v1", ("127.0.0.1:5000", "ckpt/web", "v1", "")),
    ("docker://localhost/web", ("localhost", "web", "latest", "")),
    ("docker://quay.io/a/b/c@sha256:" + "ab" * 32, ("quay.io", "a/b/c", "", "sha256:" + "ab" * 32)),
    ("docker://web-ckpt", ("docker.io", "library/web-ckpt", "latest", "")),
    ("docker://index.docker.io/me/x:1", ("docker.io", "me/x", "1", "")),
    ("docker://[::1]:5000/x:t", ("[::1]:5000", "x", "t", "")),
])
def test_parse(text, want):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == want
    assert str(parse(str(ref))) == str(ref)


@pytest.mark.parametrize("text, why", [
    ("docker://", "no registry"),
    ("docker://host:5000/Upper/x", "lower-case"),
    ("docker://host:5000/x:bad tag", "not a valid tag"),
    ("docker://host:5000/x@md5:12", "not a digest"),
    ("docker://host:5000/", "no repository"),
    ("/tmp/x.tar", "not a registry reference"),
])
def test_parse_refuses(text, why):
    with pytest.raises(RegistryError, match=why):
        parse(text)


def test_is_remote_and_registry_only():
    assert is_remote("docker://h/x") and not is_remote("docker:/h/x") and not is_remote(os.path)
    assert parse_registry("docker://127.0.0.1:5000") == "127.0.0.1:5000"
    assert parse("docker://h.io/x", allow_bare=True).tag == ""
    with pytest.raises(RegistryError, match="name a tag"):
        parse("docker://h.io/x@sha256:" + "0" * 64, need_tag=True)


def test_creds():
    c = parse_creds("bob:pa:ss")
    assert (c.username, c.password) == ("bob", "pa:ss")
    assert c.basic() == "Basic " + base64.b64encode(b"bob:pa:ss").decode()
    with pytest.raises(RegistryError):
        parse_creds(":x")


def _authfile(path, auths, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths, **extra}))
    return path


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def test_authfile_most_specific_key_wins(tmp_path):
    f = _authfile(tmp_path / "auth.json", {
        "reg.io": {"auth": _b64("host:1")},
        "reg.io/team": {"auth": _b64("team:2")},
        "https://reg.io/team/app/": {"auth": _b64("app:3")},
    })
    assert lookup(parse("docker://reg.io/team/app:x"), f).creds.username == "app"
    assert lookup(parse("docker://reg.io/team/other:x"), f).creds.username == "team"
    assert lookup(parse("docker://reg.io/solo:x"), f).creds.username == "host"
    assert lookup(parse("docker://elsewhere.io/solo:x"), f).creds is None


def test_authfile_default_order_and_helpers(tmp_path, monkeypatch):
    no_auth_files(monkeypatch, tmp_path)
    ref = parse("docker://reg.io/x:1")
    assert lookup(ref).creds is None
    docker = _authfile(tmp_path / "docker" / "config.json", {"https://index.docker.io/v1/": {"auth": _b64("hub:1")}},
                       credHelpers={"reg.io": "secretservice"})
    got = lookup(ref)
    assert got.creds is None and got.helper == "secretservice" and got.file == docker
    assert lookup(parse("docker://someone/img")).creds.username == "hub"
    _authfile(tmp_path / "run" / "containers" / "auth.json", {"reg.io": {"auth": _b64("xdg:2")}})
    assert lookup(ref).creds.username == "xdg"  # $XDG_RUNTIME_DIR/containers/auth.json comes first


def test_authfile_errors(tmp_path):
    with pytest.raises(RegistryError, match="no such file"):
        lookup(parse("docker://reg.io/x"), tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(RegistryError, match="not valid JSON"):
        lookup(parse("docker://reg.io/x"), bad)
    _authfile(bad, {"reg.io": {"auth": "!!!"}})
    with pytest.raises(RegistryError, match="base64"):
        lookup(parse("docker://reg.io/x"), bad)


def test_challenges():
    got = parse_challenges('Bearer realm="https://auth.io/token",service="reg.io",scope="repository:a/b:pull,push"')
    assert [(c.scheme, c.params) for c in got] == [
        ("bearer", {"realm": "https://auth.io/token", "service": "reg.io", "scope": "repository:a/b:pull,push"})]
    got = parse_challenges('Basic realm="x y", Bearer realm="https://t/token"')
    assert [c.scheme for c in got] == ["basic", "bearer"] and got[1].params["realm"] == "https://t/token"
    assert parse_challenges("") == []


def test_missing_ranges():
    assert missing([], 0, 10) == [(0, 10)]
    assert missing([(0, 4), (6, 8)], 0, 10) == [(4, 6), (8, 10)]
    assert missing([(0, 10)], 2, 5) == []
    assert missing([(3, 5)], 0, 4) == [(0, 3)]


def test_blobstore_ranges_and_verification(tmp_path):
    import hashlib

    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store = BlobStore(tmp_path, shared=True, max_bytes=1 << 30)
    e = store.entry(digest, len(data))
    e.write(0, data[:1000])
    e.write(200_000, data[200_000:])
    assert e.missing(0, len(data)) == [(1000, 200_000)]
    assert e.read(200_010, 5) == data[200_010:200_015]
    with pytest.raises(RegistryError, match="not fetched"):
        e.read(999, 2)
    # a second store (another process) sees what the first recorded
    other = BlobStore(tmp_path, shared=True, max_bytes=1 << 30)
    e2 = other.entry(digest, len(data))
    assert e2.missing(0, len(data)) == [(1000, 200_000)]
    e2.write(1000, data[1000:200_000])
    assert e.missing(0, len(data)) == [] and e.complete
    e.verify()
    assert e.verified
    store.close()
    other.close()


def test_blobstore_mismatch_is_dropped(tmp_path):
    import hashlib

    data = b"x" * 5000
    digest = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    store = BlobStore(tmp_path, shared=True, max_bytes=1 << 30)
    e = store.entry(digest, len(data))
    e.write(0, data)
    with pytest.raises(RegistryError, match="not to the blob's digest"):
        e.verify()
    assert e.have == [] and not e.verified
    again = BlobStore(tmp_path, shared=True).entry(digest, len(data))
    assert again.missing(0, len(data)) == [(0, len(data))]  # nothing of it survives for another process
    store.close()


def test_blobstore_is_bounded_and_never_evicts_an_entry_in_use(tmp_path):
    """The re-open cache's least-recently-used eviction covers blob entries too."""
    import hashlib
    import time

    def blob(n):
        data = bytes([n]) * 100_000
        return "sha256:" + hashlib.sha256(data).hexdigest(), data

    store = BlobStore(tmp_path, shared=True, max_bytes=150_000)
    (d1, b1), (d2, b2) = blob(1), blob(2)
    e1 = store.entry(d1, len(b1))
    e1.write(0, b1)
    store.close()
    time.sleep(0.01)
    user = BlobStore(tmp_path, shared=True, max_bytes=150_000)  # another process holds the first blob
    held = user.entry(d1, len(b1))
    store = BlobStore(tmp_path, shared=True, max_bytes=150_000)
    e2 = store.entry(d2, len(b2))
    e2.write(0, b2)
    store.close()
    store.evict()  # 200,000 bytes held, 150,000 allowed: the first is older but in use
    assert held.read(0, 10) == b1[:10]
    fresh = BlobStore(tmp_path, shared=True, max_bytes=150_000)
    assert fresh.entry(d2, len(b2)).missing(0, len(b2)) == [(0, len(b2))]  # the second had to go
    fresh.close()
    user.close()
    store.evict()
    again = BlobStore(tmp_path, shared=True, max_bytes=150_000)
    assert again.entry(d1, len(b1)).missing(0, 100_000) == []  # alone it fits: kept
    again.close()
