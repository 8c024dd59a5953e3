# SPDX-License-Identifier: Apache-2.0
"""actions.build: OCI checkpoint images written in pure Python, checked by reading them back,
by skopeo, by podman, and by our own archive layer."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from ckpt_tui.actions.build import build_image, checkpoint_annotations, load_image, normalize_image_name, oci
from ckpt_tui.errors import CkptError

from .conftest import DATA
from .corpus import unpack
from .test_cli_output import crio  # noqa: F401  (a CRI-O/kubelet archive derived from web-httpd)

FAKEBIN = Path(__file__).parent / "fakebin"
WEB_ID = "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de"


@pytest.fixture
def load():
    from ckpt_tui.model import load_checkpoint

    opened = []

    def _load(name):
        ck = load_checkpoint(DATA / name if not os.path.isabs(str(name)) else name)
        opened.append(ck)
        return ck

    yield _load
    for ck in opened:
        ck.close()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_oci_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}


def blob(files: dict[str, bytes], digest: str) -> bytes:
    return files["blobs/sha256/" + digest.split(":", 1)[1]]


def verify_layout(files: dict[str, bytes]) -> tuple[dict, dict, dict, bytes]:
    """Check every digest and size by re-reading the blobs; (index, manifest, config, layer tar)."""
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2 and index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    (mdesc,) = index["manifests"]
    mbytes = blob(files, mdesc["digest"])
    assert sha(mbytes) == mdesc["digest"] and len(mbytes) == mdesc["size"]
    manifest = json.loads(mbytes)
    cdesc = manifest["config"]
    cbytes = blob(files, cdesc["digest"])
    assert sha(cbytes) == cdesc["digest"] and len(cbytes) == cdesc["size"]
    config = json.loads(cbytes)
    (ldesc,) = manifest["layers"]
    lbytes = blob(files, ldesc["digest"])
    assert sha(lbytes) == ldesc["digest"] and len(lbytes) == ldesc["size"]
    raw = gzip.decompress(lbytes) if ldesc["mediaType"].endswith("+gzip") else lbytes
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha(raw)]}
    # no stray blobs
    blobs = {n for n in files if n.startswith("blobs/")}
    assert blobs == {"blobs/sha256/" + d.split(":")[1] for d in (mdesc["digest"], cdesc["digest"], ldesc["digest"])}
    return index, manifest, config, raw


def layer_members(raw: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return {m.name.rstrip("/"): m for m in tf}


REQUIRED_CRIU = {
    "org.criu.checkpoint.engine.name": "Podman",
    "org.criu.checkpoint.container.name": "web",
    "org.criu.checkpoint.rootfsImageUserRequested": "localhost/busybox:latest",
    "org.criu.checkpoint.rootfsImageName": "localhost/busybox:latest",
    "org.criu.checkpoint.rootfsImageID": WEB_ID,
    "org.criu.checkpoint.runtime.name": "runc",
}
REQUIRED_PODMAN = {
    "io.podman.annotations.checkpoint.name": "web",
    "io.podman.annotations.checkpoint.rawImageName": "localhost/busybox:latest",
    "io.podman.annotations.checkpoint.rootfsImageID": WEB_ID,
    "io.podman.annotations.checkpoint.rootfsImageName": "localhost/busybox:latest",
    "io.podman.annotations.checkpoint.runtime.name": "runc",
}


def test_build_oci_archive_digests_annotations_and_layer(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    out = tmp_path / "web.oci.tar"
    lines: list[str] = []
    res = build_image(ck, "web-ckpt", output_tar=out, on_output=lines.append)
    assert res.image_name == "localhost/web-ckpt:latest"
    assert res.format == "oci-archive" and Path(res.output) == out and out.stat().st_size == res.size
    assert lines and "Building" in lines[0]
    files = read_oci_archive(out)
    index, manifest, config, raw = verify_layout(files)
    assert index["manifests"][0]["digest"] == res.manifest_digest
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "localhost/web-ckpt:latest"
    assert index["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}
    assert manifest["config"]["digest"] == res.config_digest and manifest["layers"][0]["digest"] == res.layer_digest
    assert res.layer_diff_id == config["rootfs"]["diff_ids"][0]
    assert sha(files["index.json"]) == res.index_digest
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    # annotations on the index AND the manifest
    for where in (index["annotations"], manifest["annotations"]):
        for k, v in {**REQUIRED_CRIU, **REQUIRED_PODMAN}.items():
            assert where.get(k) == v, k
    assert index["annotations"] == manifest["annotations"] == res.annotations
    # the layer holds the common layout at its root, byte for byte
    members = layer_members(raw)
    src = ck.source
    want = {n for n, m in src.members.items() if m.type in ("file", "dir", "symlink", "hardlink")}
    assert want <= set(members)
    for name in ("config.dump", "spec.dump", "rootfs-diff.tar", "checkpoint/inventory.img", "checkpoint/pages-2.img"):
        assert members[name].isfile()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for name, m in src.members.items():
            if m.type == "file":
                ti = tf.getmember(name)
                assert ti.size == m.size
                assert tf.extractfile(ti).read() == src.read(name), name
    # fixed metadata
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, 0, "", "")}
    assert list(members) == sorted(members, key=lambda n: n.split("/"))
    assert members["checkpoint"].isdir()


def test_build_is_deterministic(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    a = build_image(ck, "localhost/web-ckpt:v1", output_tar=tmp_path / "a.tar")
    b = build_image(ck, "localhost/web-ckpt:v1", output_tar=tmp_path / "sub" / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "sub" / "b.tar").read_bytes()
    assert a.manifest_digest == b.manifest_digest
    # a fresh load of the same file gives the same bytes too
    c = build_image(load("web-httpd.tar.zst"), "localhost/web-ckpt:v1", output_tar=tmp_path / "c.tar")
    assert (tmp_path / "c.tar").read_bytes() == (tmp_path / "a.tar").read_bytes()
    assert c.config_digest == a.config_digest
    # no temp files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar", "c.tar", "sub"]


# What the hand-written tar writer (b2f11a5, before the layer was written with tarfile) made of
# these inputs, image "localhost/x:1": the whole oci-archive with an uncompressed layer, and the
# layer tar's digest (diff ID) with gzip. The compressed bytes are left out: they depend on zlib.
WRITTEN_BEFORE = {
    "web-httpd.tar.zst": ("7a700b5c2f2e497aad2c8d573b19fbc66edf37591a65c7067ec40a57015ed24f",
                          "sha256:e27bbbb4a2303d32417e21eb78fd9596583b92a4b9a5f950bb7481eca2c53c51"),
    "tcp-established.tar.zst": ("d98406355cd18215225ea008f96554781c9797c5db865c9669d492901ec0ef92",
                                "sha256:c9ea375e6ad6e8d88331fed2c7040a4a8b192ad3a9a6d32bf94efd4731d0026a"),
    "podman-checkpoint-image.oci.tar": ("136942212654d152224059d8ba97584b959c319293694537efafe07f7ee2f96a",
                                        "sha256:838e4c06ce74e53eac25a60a75a76d691486b99f01bc9789913d634eb553afdd"),
    # containerd: config.dump and spec.dump are synthesised by the reader
    "containerd-checkpoint.oci.tar": ("4726237614fe67e5424f0eeb7890dc421a61e467cf156e07fa286f49e695d140",
                                      "sha256:70ae38d255afb90d1cb34afdd1c86dd22fa894ec912d91524956531d3b9590d4"),
    # web-httpd unpacked into a directory by derived_directory() below
    "derived": ("f060214a34bb71323eac1dd8b4abf471cf4faf7f24426f24aa7a18ad300bc074",
                "sha256:7d6481fdb6a62fa1fafd68f4426f6878290823ca5cc374a5618189b782bf79eb"),
}


def derived_directory(out: Path) -> Path:
    """web-httpd.tar.zst unpacked into a directory (tests/corpus.py), plus members no
    fixture has: a 150-character name (a PAX header), a symlink, a name that is not UTF-8. Modes
    and times are fixed so the build does not depend on the umask or the clock."""
    unpack("web-httpd.tar.zst", out)
    extra = out / "extra"
    extra.mkdir()
    (extra / ("n" * 150 + ".txt")).write_bytes(b"long name\n")
    os.symlink("../config.dump", extra / "link")
    with open(os.fsencode(extra) + b"/caf\xe9", "wb") as fh:
        fh.write(b"latin-1 name\n")
    for root, dirs, files in os.walk(out):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            path = os.path.join(root, f)
            if not os.path.islink(path):
                os.chmod(path, 0o640)
                os.utime(path, (1_700_000_000, 1_700_000_000))
    return out


@pytest.mark.parametrize("source", sorted(WRITTEN_BEFORE))
def test_build_bytes_unchanged_by_the_tarfile_writer(tmp_path, load, source):
    if source == "derived":
        ck = load(derived_directory(tmp_path / "ck"))
        assert {"extra/link", "extra/caf\udce9", "extra/" + "n" * 150 + ".txt"} <= set(ck.member_names())
    else:
        ck = load(source)
    archive_sha, diff_id = WRITTEN_BEFORE[source]
    plain = build_image(ck, "localhost/x:1", output_tar=tmp_path / "plain.tar", compression="none")
    assert hashlib.sha256((tmp_path / "plain.tar").read_bytes()).hexdigest() == archive_sha
    assert plain.layer_diff_id == plain.layer_digest == diff_id
    gz = build_image(ck, "localhost/x:1", output_tar=tmp_path / "gz.tar")
    assert gz.layer_diff_id == diff_id
    files = read_oci_archive(tmp_path / "gz.tar")
    raw = gzip.decompress(blob(files, gz.layer_digest))
    assert raw == blob(read_oci_archive(tmp_path / "plain.tar"), plain.layer_digest)


def test_oci_dir_and_uncompressed_layer(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    res = build_image(ck, "web-ckpt", oci_dir=tmp_path / "layout", compression="none")
    assert res.format == "oci-layout"
    assert res.layer_media_type == "application/vnd.oci.image.layer.v1.tar"
    assert res.layer_digest == res.layer_diff_id
    root = tmp_path / "layout"
    files = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    _index, _manifest, _config, raw = verify_layout(files)
    assert len(raw) % 10240 == 0
    again = build_image(ck, "web-ckpt", oci_dir=tmp_path / "layout2", compression="none")
    assert again.manifest_digest == res.manifest_digest


def test_build_from_podman_checkpoint_image_fixes_runtime(tmp_path, load):
    ck = load("podman-checkpoint-image.oci.tar")
    res = build_image(ck, "web3-ckpt", output_tar=tmp_path / "w3.tar")
    ann = res.annotations
    # config.dump says runc made it; the source image's annotation said crun (podman 4.3 records its default)
    assert ann["io.podman.annotations.checkpoint.runtime.name"] == "runc"
    assert ann["org.criu.checkpoint.runtime.name"] == "runc"
    assert any("crun" in n and "runc" in n for n in res.notes)
    # facts carried over from the source image
    assert ann["io.podman.annotations.checkpoint.criu.version"] == "40200"
    assert ann["org.criu.checkpoint.criu.version"] == "40200"
    assert ann["io.podman.annotations.checkpoint.host.kernel"] == "6.18.44-fc-v669"
    assert ann["org.criu.checkpoint.host.arch"] == "amd64"
    assert ann["io.podman.annotations.checkpoint.podman.version"] == "4.3.1"
    assert ann["org.criu.checkpoint.container.name"] == "web3"
    # asking for a runtime explicitly wins
    ann2, notes2 = checkpoint_annotations(ck, runtime="crun")
    assert ann2["io.podman.annotations.checkpoint.runtime.name"] == "crun"
    assert any("runc" in n for n in notes2)


def test_roundtrip_through_archive_layer(tmp_path, load):
    from ckpt_tui.archive import open_source

    ck = load("web-httpd.tar.zst")
    res = build_image(ck, "web-ckpt", output_tar=tmp_path / "rt.tar")
    src = open_source(res.output)
    try:
        orig = {n: m for n, m in ck.source.members.items() if m.type == "file"}
        back = {n: m for n, m in src.members.items() if m.type == "file"}
        assert set(back) == set(orig)
        for name, m in orig.items():
            assert back[name].size == m.size
        assert src.read("config.dump") == ck.source.read("config.dump")
        assert src.read("checkpoint/pages-1.img") == ck.source.read("checkpoint/pages-1.img")
        for k, v in REQUIRED_PODMAN.items():
            assert src.annotations.get(k) == v
    finally:
        src.close()
    # and the model reads it as the same container
    ck2 = load(Path(res.output))
    assert ck2.info.name == "web"
    assert sorted(ck2.processes) == sorted(ck.processes)


def test_crio_archive_image_carries_crios_checkpoint_annotation(tmp_path, load, crio):  # noqa: F811
    """A CRI-O (kubelet) archive (tests/test_cli_output.py derives it from web-httpd: CRI-O's spec
    annotations, config.dump's k8s_... name): its image also carries the annotation CRI-O's
    restore path looks for, naming the container."""
    res = build_image(load(crio), "counter-ckpt", output_tar=tmp_path / "counter.tar")
    index, manifest, _config, _raw = verify_layout(read_oci_archive(tmp_path / "counter.tar"))
    for where in (index["annotations"], manifest["annotations"], res.annotations):
        assert where["io.kubernetes.cri-o.annotations.checkpoint.name"] == "counter"
        assert where["org.criu.checkpoint.engine.name"] == "CRI-O"
        assert where["org.criu.checkpoint.container.name"] == where["io.podman.annotations.checkpoint.name"] == "counter"
        assert (where["org.criu.checkpoint.pod.name"], where["org.criu.checkpoint.pod.namespace"]) == (
            "counters", "default")
    back = load(tmp_path / "counter.tar")
    assert (back.info.engine, back.info.name, back.info.pod_name) == ("CRI-O", "counter", "counters")
    # a Podman checkpoint's image does not carry it
    podman = build_image(load("web-httpd.tar.zst"), "web-ckpt", output_tar=tmp_path / "web.tar")
    assert not any(k.startswith("io.kubernetes.cri-o.") for k in podman.annotations)


def test_ref_name_of_what_is_on_disk(tmp_path, load):
    from ckpt_tui.actions.build.reference import ref_name_of

    ck = load("web-httpd.tar.zst")
    archive = build_image(ck, "web-ckpt:v3", output_tar=tmp_path / "web.tar", compression="none")
    layout = build_image(ck, "quay.io/me/web:1", oci_dir=tmp_path / "layout", compression="none")
    assert ref_name_of(Path(archive.output)) == "localhost/web-ckpt:v3"
    assert ref_name_of(Path(layout.output)) == "quay.io/me/web:1"
    # no OCI layout, no name: a checkpoint archive, a missing path, index.json of the wrong shape
    assert ref_name_of(DATA / "web-httpd.tar.zst") == ""
    assert ref_name_of(tmp_path / "nope.tar") == ""
    for bad in (b"[1, 2]", b'{"manifests": {"a": 1}}', b'{"manifests": ["x", {"annotations": []}]}', b"\xff"):
        (tmp_path / "layout" / "index.json").write_bytes(bad)
        assert ref_name_of(tmp_path / "layout") == "", bad


def test_containerd_source_builds(tmp_path, load):
    ck = load("containerd-checkpoint.oci.tar")
    res = build_image(ck, "ctr-ckpt", output_tar=tmp_path / "ctr.tar")
    files = read_oci_archive(tmp_path / "ctr.tar")
    _i, _m, _c, raw = verify_layout(files)
    names = set(layer_members(raw))
    assert "spec.dump" in names and "checkpoint/inventory.img" in names
    assert res.annotations.get("org.criu.checkpoint.container.name")
    assert {n.split()[0] for n in res.notes if "synthesised by the reader" in n} == {"config.dump", "spec.dump"}


def test_cancel_leaves_nothing(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    res = build_image(ck, "web-ckpt", output_tar=tmp_path / "x.tar", cancelled=lambda: True)
    assert res.cancelled and res.output == ""
    assert list(tmp_path.iterdir()) == []


def test_progress_counts_every_file_byte_and_cancel_stops_inside_a_member(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    total = sum(m.size for m in ck.source.members.values() if m.type == "file")
    seen: list[tuple[int, int]] = []
    build_image(ck, "web-ckpt", output_tar=tmp_path / "x.tar", progress=lambda done, all_: seen.append((done, all_)))
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    # where rootfs-diff.tar (311,296 bytes, the biggest member) starts in the copy
    files = [e for e in oci.layer_entries(ck, []) if e.kind == "file"]
    start = sum(e.size for e in files[: [e.name for e in files].index("rootfs-diff.tar")])
    seen.clear()
    res = build_image(ck, "web-ckpt", output_tar=tmp_path / "y.tar", progress=lambda done, all_: seen.append((done, all_)),
                      cancelled=lambda: bool(seen) and seen[-1][0] > start)
    assert res.cancelled and res.output == ""
    assert start < seen[-1][0] < start + 311_296  # it stopped inside the member, not after it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar"]


def test_a_member_shorter_than_indexed_is_an_error_and_leaves_nothing(tmp_path, load):
    """A directory checkpoint is read in place: a pages image cut short after it was loaded
    gives fewer bytes than its member says."""
    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    ck = load(root)
    with open(root / "checkpoint" / "pages-1.img", "r+b") as fh:
        fh.truncate(4096)
    out = tmp_path / "out"
    with pytest.raises(CkptError, match=r"pages-1.img: .*truncated member"):
        build_image(ck, "web-ckpt", output_tar=out / "x.tar")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("web", "localhost/web:latest"),
        ("web:v2", "localhost/web:v2"),
        ("localhost/web", "localhost/web:latest"),
        ("quay.io/me/web-ckpt:1.0", "quay.io/me/web-ckpt:1.0"),
        ("registry:5000/web", "registry:5000/web:latest"),
        ("me/web", "localhost/me/web:latest"),
    ],
)
def test_normalize_image_name(name, want):
    assert normalize_image_name(name) == want


@pytest.mark.parametrize("bad", ["", "Web", "web ckpt", "web:", "-web"])
def test_bad_image_names(bad):
    with pytest.raises(CkptError):
        normalize_image_name(bad)


def test_bad_arguments(tmp_path, load):
    ck = load("web-httpd.tar.zst")
    with pytest.raises(CkptError):
        build_image(ck, "x", output_tar=tmp_path / "a", oci_dir=tmp_path / "b")
    with pytest.raises(CkptError):
        build_image(ck, "x", output_tar=tmp_path / "a", compression="lz4")


# --------------------------------------------------------------------------- load_image


def test_load_image_without_tools(tmp_path, monkeypatch):
    f = tmp_path / "x.tar"
    f.write_bytes(b"")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    res = load_image(f)
    assert not res.ok and res.returncode is None
    assert "neither podman nor skopeo is installed" in res.message


def test_load_image_with_fake_podman(tmp_path, monkeypatch):
    f = tmp_path / "x.tar"
    f.write_bytes(b"")
    argv = tmp_path / "argv"
    monkeypatch.setenv("PATH", f"{FAKEBIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODMAN_ARGV", str(argv))
    monkeypatch.setenv("FAKE_PODMAN_LOADED", "localhost/web-ckpt:latest")
    seen: list[str] = []
    res = load_image(f, on_output=seen.append)
    assert res.ok and res.tool == "podman"
    assert res.image_name == "localhost/web-ckpt:latest"
    assert json.loads(argv.read_text().splitlines()[-1]) == ["load", "-i", str(f)]
    assert "Loaded image: localhost/web-ckpt:latest" in seen


# --------------------------------------------------------------------------- real tools


def test_skopeo_accepts_the_archive(tmp_path, load):
    skopeo = shutil.which("skopeo")
    if not skopeo:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    ck = load("web-httpd.tar.zst")
    res = build_image(ck, "web-ckpt", output_tar=tmp_path / "web.tar")
    cp = subprocess.run([skopeo, "inspect", f"oci-archive:{res.output}"], capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    info = json.loads(cp.stdout)
    assert info["Digest"] == res.manifest_digest
    assert info["Layers"] == [res.layer_digest]
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    raw = subprocess.run([skopeo, "inspect", "--raw", f"oci-archive:{res.output}"], capture_output=True, text=True, timeout=120)
    assert raw.returncode == 0, raw.stderr
    manifest = json.loads(raw.stdout)
    for k, v in {**REQUIRED_CRIU, **REQUIRED_PODMAN}.items():
        assert manifest["annotations"][k] == v
    cfg = subprocess.run([skopeo, "inspect", "--config", f"oci-archive:{res.output}"], capture_output=True, text=True, timeout=120)
    assert cfg.returncode == 0 and json.loads(cfg.stdout)["rootfs"]["diff_ids"] == [res.layer_diff_id]
    # the layout directory too
    res2 = build_image(ck, "web-ckpt", oci_dir=tmp_path / "layout")
    cp2 = subprocess.run([skopeo, "inspect", f"oci:{res2.output}"], capture_output=True, text=True, timeout=120)
    assert cp2.returncode == 0 and json.loads(cp2.stdout)["Digest"] == res2.manifest_digest


def _podman_ok() -> bool:
    return bool(shutil.which("podman")) and os.geteuid() == 0


@pytest.mark.podman
def test_podman_load_and_inspect(tmp_path, load):
    if not _podman_ok():
        pytest.skip("needs podman, as root")
    name = f"localhost/ckpt-tui-test-{uuid.uuid4().hex[:8]}:latest"
    ck = load("web-httpd.tar.zst")
    res = build_image(ck, name, output_tar=tmp_path / "web.tar")
    lr = load_image(res.output, "podman")
    try:
        assert lr.ok, lr.lines
        assert lr.tool == "podman" and lr.image_name == name
        cp = subprocess.run(["podman", "image", "inspect", name], capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        (img,) = json.loads(cp.stdout)
        assert img["Id"] == res.image_id
        for k, v in {**REQUIRED_CRIU, **REQUIRED_PODMAN}.items():
            assert img["Annotations"][k] == v
    finally:
        subprocess.run(["podman", "rmi", "-f", name], capture_output=True, timeout=60)
