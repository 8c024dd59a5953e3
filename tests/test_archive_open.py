"""ckpt_tui.archive: every real fixture opens as the common layout."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from ckpt_tui.archive import (
    ArchiveError,
    Limits,
    Member,
    Source,
    Workspace,
    find_checkpoints,
    open_source,
    peek_metadata,
)
from ckpt_tui.errors import CkptError, Problem
from tests.archive_corpus import (
    DATA,
    PODMAN_FIXTURES,
    docker_archive_from_oci,
    oracle_members,
    read_tar_members,
    reference_contents,
    strip_checkpoint_annotations,
    tar_of,
    write_layout_dir,
)

KINDS = {
    "web-httpd.tar.zst": "tar+zstd",
    "web-ignore-rootfs.tar.zst": "tar+zstd",
    "ps-tree.tar.gz": "tar+gzip",
    "ps-tree-uncompressed.tar": "tar",
    "tcp-established.tar.zst": "tar+zstd",
    "tcp-server.tar.zst": "tar+zstd",
    "memhog-16m-threads.tar.zst": "tar+zstd",
    "broken-missing-pages.tar": "tar",
    "containerd-checkpoint.oci.tar": "containerd-image",
    "podman-checkpoint-image.oci.tar": "oci-archive",
}


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point tempfile at an empty directory of our own so that writes can be audited."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def snapshot(path: Path) -> dict[str, tuple[int, float]]:
    out = {}
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime)
    return out


def check_all_reads(src: Source) -> None:
    for name, m in src.members.items():
        if m.type not in ("file", "hardlink"):
            continue
        data = src.read(name)
        assert len(data) == m.size, name
        assert src.read(name, limit=7) == data[:7]
        with src.open(name) as f:
            assert f.seekable()
            assert f.read() == data
            f.seek(max(0, m.size - 3))
            assert f.read() == data[max(0, m.size - 3):]
            with pytest.raises(io.UnsupportedOperation):
                f.write(b"x")
        rng = src.file_range(name)
        if rng is not None:
            path, off, size = rng
            assert size == m.size
            with open(path, "rb") as fh:
                fh.seek(off)
                assert fh.read(size) == data


@pytest.mark.parametrize("fixture", sorted(KINDS))
def test_every_fixture_opens(fixture, private_tmp):
    before = snapshot(DATA)
    with open_source(DATA / fixture) as src:
        assert src.kind == KINDS[fixture]
        assert src.description
        assert [p for p in src.problems if p.severity == "error"] == []
        assert all(isinstance(p, Problem) for p in src.problems)
        assert src.has("checkpoint/pstree.img")
        assert src.has("checkpoint/inventory.img")
        assert src.members["checkpoint"].type == "dir"
        assert src.names("checkpoint/")[0].startswith("checkpoint/")
        spec = json.loads(src.read("spec.dump"))
        assert isinstance(spec, dict) and "process" in spec
        config = json.loads(src.read("config.dump"))
        assert isinstance(config, dict) and "id" in config
        for name, m in src.members.items():
            assert isinstance(m, Member)
            assert not name.startswith(("/", "./")) and ".." not in name.split("/")
        check_all_reads(src)
        ws = src.workspace.path
        assert ws.is_dir() and ws.parent == private_tmp
    assert not ws.exists()
    assert os.listdir(private_tmp) == []
    assert snapshot(DATA) == before


@pytest.mark.parametrize("name", sorted(PODMAN_FIXTURES))
def test_podman_members_match_oracle(name):
    with open_source(DATA / PODMAN_FIXTURES[name]) as src:
        files = {n: m.size for n, m in src.members.items() if m.type == "file"}
        assert files == oracle_members(name)
        ref = reference_contents(PODMAN_FIXTURES[name])
        for n in ("config.dump", "checkpoint/pstree.img", "checkpoint/pages-1.img"):
            assert src.read(n) == ref[n]


def test_plain_tar_is_zero_copy():
    fixture = DATA / "ps-tree-uncompressed.tar"
    with open_source(fixture) as src:
        for name, m in src.members.items():
            if m.type == "file":
                path, _off, _size = src.file_range(name)
                assert path == fixture.absolute()
        assert list(src.workspace.path.iterdir()) == []


def test_compressed_members_spill_into_workspace():
    limits = Limits(keep_in_memory=4096)
    with open_source(DATA / "web-httpd.tar.zst", limits=limits) as src:
        rng = src.file_range("checkpoint/pages-1.img")
        assert rng is not None and src.workspace.path in rng[0].parents
        assert src.file_range("checkpoint/pstree.img") is None  # small: in memory
        ref = reference_contents("web-httpd.tar.zst")
        assert src.read("checkpoint/pages-1.img") == ref["checkpoint/pages-1.img"]
        assert src.read("rootfs-diff.tar") == ref["rootfs-diff.tar"]


def test_containerd_checkpoint_image():
    with open_source(DATA / "containerd-checkpoint.oci.tar") as src:
        assert src.kind == "containerd-image"
        assert src.annotations["io.containerd.checkpoint.runtime"] == "io.containerd.runc.v2"
        assert src.annotations["io.containerd.checkpoint.snapshotter"] == "overlayfs"
        assert src.annotations["org.opencontainers.image.ref.name"] == "localhost/busybox:latest"
        assert src.synthesized == {"spec.dump", "config.dump"}
        spec = json.loads(src.read("spec.dump"))
        assert "CTR_DEMO=containerd-env" in spec["process"]["env"]
        config = json.loads(src.read("config.dump"))
        assert config["id"] == "ctrweb2" and config["name"] == "ctrweb2"
        assert config["runtime"] == "io.containerd.runc.v2"
        assert config["rootfsImageName"] == "localhost/busybox:latest"
        # the rw layer is kept gzip-compressed, as containerd's CRI does
        diff = src.read("rootfs-diff.tar")
        assert diff[:2] == b"\x1f\x8b"
        with tarfile.open(fileobj=io.BytesIO(diff)) as tf:
            assert "etc/motd" in tf.getnames()
        # CRIU images are ranges of the original file (no copy)
        path, _off, size = src.file_range("checkpoint/pages-1.img")
        assert path == (DATA / "containerd-checkpoint.oci.tar").absolute()
        assert size == 77824
        assert src.members["checkpoint/pstree.img"].size == 50


def test_podman_checkpoint_image():
    with open_source(DATA / "podman-checkpoint-image.oci.tar") as src:
        assert src.kind == "oci-archive"
        ann = src.annotations
        assert ann["io.podman.annotations.checkpoint.runtime.name"] == "crun"
        assert ann["io.podman.annotations.checkpoint.criu.version"] == "40200"
        assert ann["org.opencontainers.image.ref.name"] == "localhost/checkpoint-web:latest"
        assert src.synthesized == set()
        assert json.loads(src.read("config.dump"))["name"] == "web3"
        assert src.members["rootfs-diff.tar"].size == 311296
        assert src.members["checkpoint"].mode == 0o600
        check_all_reads(src)


@pytest.mark.parametrize("fixture", ["containerd-checkpoint.oci.tar", "podman-checkpoint-image.oci.tar"])
@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_oci_archives(tmp_path, fixture, compress):
    from tests.archive_corpus import gz, zst

    raw = (DATA / fixture).read_bytes()
    p = tmp_path / "img"
    p.write_bytes(gz(raw) if compress == "gzip" else zst(raw))
    with open_source(p, limits=Limits(keep_in_memory=1000)) as src:
        assert src.kind == KINDS[fixture]
        assert compress in src.description
        assert not src.problems
        check_all_reads(src)
        path, _off, _size = src.file_range("checkpoint/pages-1.img")
        assert src.workspace.path in path.parents


def test_oci_layout_directories(tmp_path):
    for fixture, kind in (("podman-checkpoint-image.oci.tar", "oci-layout"),
                          ("containerd-checkpoint.oci.tar", "containerd-image")):
        files = read_tar_members((DATA / fixture).read_bytes())
        d = write_layout_dir(tmp_path / fixture, files)
        with open_source(d) as src:
            assert src.kind == kind
            assert src.has("checkpoint/pstree.img")
            json.loads(src.read("spec.dump"))
            check_all_reads(src)


def test_docker_archive():
    files = read_tar_members((DATA / "podman-checkpoint-image.oci.tar").read_bytes())
    data = docker_archive_from_oci(files)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "img.tar"
        p.write_bytes(data)
        with open_source(p) as src:
            assert src.kind == "docker-archive"
            assert src.has("checkpoint/pstree.img")
            assert json.loads(src.read("config.dump"))["name"] == "web3"
            assert any(pr.severity == "info" for pr in src.problems)


def test_non_checkpoint_images_are_refused(tmp_path, private_tmp):
    files = read_tar_members((DATA / "podman-checkpoint-image.oci.tar").read_bytes())
    plain = strip_checkpoint_annotations(files)
    p = tmp_path / "plain.oci.tar"
    p.write_bytes(tar_of(plain))
    with pytest.raises(ArchiveError, match="not a checkpoint image"):
        open_source(p)
    d = write_layout_dir(tmp_path / "plain-layout", plain)
    with pytest.raises(ArchiveError, match="not a checkpoint image"):
        open_source(d)
    assert os.listdir(private_tmp) == []


def unpack(fixture: str, dest: Path) -> Path:
    """Unpack a fixture with Python's tarfile (independent of our reader)."""
    from tests.archive_corpus import plain_tar_bytes

    dest.mkdir()
    with tarfile.open(fileobj=io.BytesIO(plain_tar_bytes(fixture))) as tf:
        tf.extractall(dest, filter="fully_trusted")
    return dest


def test_directory_source(tmp_path):
    d = unpack("web-httpd.tar.zst", tmp_path / "web")
    os.chmod(d / "checkpoint", 0o600)  # like CRI-O archives: must not matter
    try:
        with open_source(d) as src:
            assert src.kind == "directory"
            files = {n: m.size for n, m in src.members.items() if m.type == "file"}
            assert files == oracle_members("web-httpd")
            check_all_reads(src)
            path, off, _size = src.file_range("config.dump")
            assert path == (d / "config.dump") and off == 0
            # the shape only: which engine made it is the model's to say (model.metadata)
            assert src.description == "unpacked checkpoint (directory)"
        from ckpt_tui.model import load_checkpoint

        with load_checkpoint(d) as ck:
            assert ck.info.source_kind == "unpacked Podman checkpoint (directory)"
    finally:
        os.chmod(d / "checkpoint", 0o755)


def test_bare_criu_directory(tmp_path):
    d = unpack("ps-tree-uncompressed.tar", tmp_path / "u")
    criu = tmp_path / "criu-images"
    shutil.copytree(d / "checkpoint", criu)
    with open_source(criu) as src:
        assert src.kind == "criu-directory"
        assert src.members["checkpoint"].type == "dir"
        want = {n for n in oracle_members("ps-tree-uncompressed") if n.startswith("checkpoint/")}
        assert {n for n, m in src.members.items() if m.type == "file"} == want
        assert not [p for p in src.problems if p.severity == "error"]
        check_all_reads(src)


def test_bare_criu_tar():
    files = {n[len("checkpoint/"):]: data for n, data in reference_contents("ps-tree.tar.gz").items()
             if n.startswith("checkpoint/")}
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "images.tar"
        p.write_bytes(tar_of(files))
        with open_source(p) as src:
            assert src.has("checkpoint/pstree.img") and src.has("checkpoint/inventory.img")
            assert "CRIU" in src.description
            assert not src.problems


def test_symlinks_inside_a_directory_source(tmp_path):
    d = unpack("tcp-server.tar.zst", tmp_path / "srv")
    os.symlink("../pre-checkpoint", d / "checkpoint" / "parent")
    os.symlink("/etc/passwd", d / "outside")
    os.symlink("../../../etc", d / "checkpoint" / "up")
    with open_source(d) as src:
        assert src.members["checkpoint/parent"].type == "symlink"
        assert src.members["checkpoint/parent"].linkname == "../pre-checkpoint"
        assert not src.has("outside") and not src.has("checkpoint/up")
        assert len([p for p in src.problems if "outside" in p.message]) == 2


def test_workspace_lifecycle(private_tmp):
    ws = Workspace()
    assert ws.path.parent == private_tmp and ws.path.name.startswith("ckpt-tui-")
    f = ws.new_file("x")
    f.write_bytes(b"1")
    ws.cleanup()
    assert not ws.path.exists()
    ws.cleanup()  # idempotent
    with Workspace() as ws2:
        path = ws2.path
        with open_source(DATA / "ps-tree.tar.gz", workspace=ws2, limits=Limits(keep_in_memory=100)) as src:
            assert any(path.iterdir())
            assert src.workspace is ws2
        assert path.exists() and not any(path.iterdir())  # the source removed its own files only
    assert not path.exists()


def test_workspace_removed_at_interpreter_exit(tmp_path):
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from ckpt_tui.archive import open_source\n"
        "src = open_source({!r})\n"
        "print(src.workspace.path, flush=True)\n"
        "raise SystemExit('boom')\n"
    ).format(str(Path(__file__).parents[1]), str(DATA / "web-httpd.tar.zst"))
    env = dict(os.environ, TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0
    ws = Path(out.stdout.strip())
    assert ws.parent == tmp_path
    assert not ws.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_open_leaves_nothing(private_tmp, tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b" + os.urandom(2000))
    with pytest.raises(ArchiveError):
        open_source(bad)
    assert os.listdir(private_tmp) == []


def test_progress_is_reported():
    calls = []
    fixture = DATA / "memhog-16m-threads.tar.zst"
    with open_source(fixture, progress=lambda d, t, n: calls.append((d, t, n))):
        pass
    total = fixture.stat().st_size
    assert calls and calls[-1][0] == total and all(t == total for _, t, _ in calls)
    dones = [d for d, _, _ in calls]
    assert dones == sorted(dones)
    assert len(calls) < 200  # coalesced


def test_find_checkpoints(tmp_path):
    kube = tmp_path / "checkpoint-mypod_default-web-2025-01-01T00:00:00Z.tar"
    shutil.copy(DATA / "ps-tree-uncompressed.tar", kube)
    shutil.copy(DATA / "web-httpd.tar.zst", tmp_path / "web.bin")  # name does not matter
    shutil.copy(DATA / "ps-tree.tar.gz", tmp_path / "tree")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    unpack("tcp-established.tar.zst", tmp_path / "unpacked")
    (tmp_path / "random-dir").mkdir()
    criu = tmp_path / "docker-ckpt"
    shutil.copytree(tmp_path / "unpacked" / "checkpoint", criu)
    layout = write_layout_dir(tmp_path / "layout",
                              read_tar_members((DATA / "containerd-checkpoint.oci.tar").read_bytes()))
    found = find_checkpoints(tmp_path)
    assert found == sorted([kube, tmp_path / "web.bin", tmp_path / "tree", tmp_path / "unpacked", criu, layout])
    with pytest.raises(ArchiveError):
        find_checkpoints(tmp_path / "nope")


def test_peek_metadata(tmp_path):
    for fixture, name in (("web-httpd.tar.zst", "web"), ("ps-tree.tar.gz", "tree"),
                          ("ps-tree-uncompressed.tar", "tree2"), ("podman-checkpoint-image.oci.tar", "web3"),
                          ("containerd-checkpoint.oci.tar", "ctrweb2")):
        meta = peek_metadata(DATA / fixture)
        assert meta["config"]["name"] == name, fixture
        assert isinstance(meta["spec"], dict)
        assert meta["size"] == (DATA / fixture).stat().st_size
    d = unpack("tcp-server.tar.zst", tmp_path / "srv")
    meta = peek_metadata(d)
    assert meta["config"]["name"] == "srv" and meta["size"] > 0
    with pytest.raises(ArchiveError):
        peek_metadata(tmp_path / "missing")


def test_peek_stops_early():
    """config.dump and spec.dump lead a podman archive: the stream is not read to the end."""
    from ckpt_tui.archive import peek_metadata
    from ckpt_tui.archive.streams import ZstdDecoder

    consumed = []
    real_read = ZstdDecoder.read

    def spy(self, n):
        out = real_read(self, n)
        consumed.append(self.consumed)
        return out

    ZstdDecoder.read = spy
    try:
        meta = peek_metadata(DATA / "memhog-16m-threads.tar.zst")
    finally:
        ZstdDecoder.read = real_read
    assert meta["config"] is not None and meta["spec"] is not None
    assert max(consumed) < (DATA / "memhog-16m-threads.tar.zst").stat().st_size // 4


def test_only_ckpterror_subclasses():
    assert issubclass(ArchiveError, CkptError)


def test_find_checkpoints_on_an_unpacked_checkpoint_is_itself(tmp_path):
    """Its rootfs-diff.tar and checkpoint/ are parts of it, not more checkpoints."""
    import tarfile as _tarfile

    from ckpt_tui.archive import find_checkpoints as _find

    root = tmp_path / "ck"
    root.mkdir()
    with _tarfile.open(DATA / "ps-tree-uncompressed.tar") as tar:
        tar.extractall(root, filter="data")
    assert _find(root) == [root]
    assert _find(tmp_path) == [root]
