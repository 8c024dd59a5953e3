"""Every shape a checkpoint comes in opens to the same model (issue #5).

CRI-O, containerd-CRI and pod archives are built here from the real fixtures' CRIU
images plus metadata in the shapes those engines write; the OCI fixtures are real.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.criu import decode_image
from ckpt_tui.criu.constants import PE_PARENT
from ckpt_tui.criu.writer import encode_image
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.checkpoint import expand_annotations
from ckpt_tui.model.memory import PRESENT

from .conftest import DATA
from .corpus import unpack


def tar_dir(root: Path, out: Path, compress: str = "") -> Path:
    mode = {"": "w", "gz": "w:gz"}[compress]
    with tarfile.open(out, mode) as tar:
        for entry in sorted(root.iterdir()):
            tar.add(entry, arcname=entry.name)
    return out


def summary(ck):
    return sorted((p.comm, tuple(p.cmdline), tuple(sorted(p.env_dict.items()))) for p in ck.process_list())


@pytest.fixture(scope="module")
def web_ref():
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:
        yield {"summary": summary(ck), "pids": sorted(ck.processes),
               "rootfs": sorted(e.path for e in ck.rootfs.entries), "deleted": list(ck.rootfs.deleted)}


def test_crio_kubelet_archive(tmp_path, web_ref):
    root = unpack("web-httpd.tar.zst", tmp_path / "crio")
    spec = json.loads((root / "spec.dump").read_text())
    spec["annotations"] = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": "counter", "attempt": 0}),
        "io.kubernetes.pod.name": "counters",
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.cri-o.IP.0": "10.85.0.12",
        "io.kubernetes.cri-o.Created": "2026-11-23T12:00:00.5Z",
        "io.kubernetes.cri-o.Labels": json.dumps({"app": "counter", "io.kubernetes.pod.name": "counters"}),
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"kind": "Pod", "metadata": {"name": "counters"}}),
    }
    (root / "spec.dump").write_text(json.dumps(spec))
    os.chmod(root / "checkpoint", 0o600)  # CRI-O writes it so; must not matter
    try:
        archive = tar_dir(root, tmp_path / "checkpoint-counters_default-counter-2026-11-23T12:00:00Z.tar")
    finally:
        os.chmod(root / "checkpoint", 0o700)
    with load_checkpoint(archive) as ck:
        assert ck.info.engine == "CRI-O"
        assert (ck.info.name, ck.info.pod_name, ck.info.namespace) == ("counter", "counters", "default")
        assert [i.ip for i in ck.interfaces][:1] == ["10.85.0.12"] or any(i.ip == "10.85.0.12" for i in ck.interfaces)
        assert summary(ck) == web_ref["summary"]
        expanded = expand_annotations(ck.info.annotations)
        assert expanded["io.kubernetes.cri-o.Labels"]["app"] == "counter"
        assert expanded["kubectl.kubernetes.io/last-applied-configuration"]["kind"] == "Pod"


def test_containerd_cri_archive_with_gzip_rootfs(tmp_path, web_ref):
    root = unpack("web-httpd.tar.zst", tmp_path / "ctrd")
    spec = json.loads((root / "spec.dump").read_text())
    spec["annotations"] = {
        "io.kubernetes.cri.container-name": "web",
        "io.kubernetes.cri.sandbox-name": "webpod",
        "io.kubernetes.cri.sandbox-namespace": "prod",
        "io.kubernetes.cri.image-name": "localhost/busybox:latest",
    }
    (root / "spec.dump").write_text(json.dumps(spec))
    config = {"id": "abc123", "name": "web", "rootfsImageName": "localhost/busybox:latest",
              "rootfsImageRef": "sha256:3f8f", "runtime": "io.containerd.runc.v2",
              "createdTime": "2026-11-23T12:26:12Z", "checkpointedTime": "2026-11-23T12:30:00Z"}
    (root / "config.dump").write_text(json.dumps(config))
    (root / "status").write_text(json.dumps({"Pid": 4242, "CreatedAt": 1, "StartedAt": 2}))
    (root / "status.dump").write_text(json.dumps({"id": "abc123", "state": "CONTAINER_RUNNING"}))
    (root / "container.log").write_text("2026-11-23T12:26:13Z stdout F hello\n")
    raw = (root / "rootfs-diff.tar").read_bytes()
    (root / "rootfs-diff.tar").write_bytes(gzip.compress(raw))  # containerd keeps the gzip layer as is
    (root / "network.status").unlink()
    with load_checkpoint(tar_dir(root, tmp_path / "checkpoint-webpod_prod-web.tar")) as ck:
        assert ck.info.engine == "containerd"
        assert (ck.info.name, ck.info.pod_name, ck.info.namespace) == ("web", "webpod", "prod")
        assert ck.info.checkpointed is not None
        assert ck.rootfs.compressed == "gzip"
        assert sorted(e.path for e in ck.rootfs.entries) == web_ref["rootfs"]
        assert "container.log" in [lf.name for lf in ck.logs]
        assert summary(ck) == web_ref["summary"]
        assert ck.read_rootfs_file("etc/motd").strip() == b"changed"


def test_pod_checkpoint_lists_its_containers(tmp_path, web_ref):
    root = tmp_path / "pod"
    unpack("web-httpd.tar.zst", root / "aaa111-web")
    unpack("ps-tree.tar.gz", root / "bbb222-tree")
    (root / "pod.options").write_text(json.dumps({
        "version": 1,
        "containers": {"web": "aaa111-web", "tree": "bbb222-tree"},
        "annotations": {"org.criu.checkpoint.engine.name": "cri-o", "org.criu.checkpoint.pod.name": "mypod",
                        "org.criu.checkpoint.pod.namespace": "ns1"},
    }))
    (root / "pod.dump").write_text("{}")
    with load_checkpoint(tar_dir(root, tmp_path / "pod.tar")) as ck:
        assert ck.info.engine == "CRI-O" and ck.info.pod_name == "mypod"
        assert [c.info.name for c in ck.containers] == ["tree", "web"]
        web = ck.containers[1]
        assert summary(web) == web_ref["summary"]
        assert web.info.namespace == "ns1"
        # memory of a container inside the pod reads through the same source
        m = next(web.search_memory("hello-from-web"))
        assert m.pid in web.processes
        tree = ck.containers[0]
        assert any(p.env_dict.get("DB_PASSWORD") == "hunter2" for p in tree.process_list())


def test_bare_criu_directory(tmp_path, web_ref):
    src = unpack("web-httpd.tar.zst", tmp_path / "full")
    bare = tmp_path / "criu-dump"
    shutil.copytree(src / "checkpoint", bare)
    with load_checkpoint(bare) as ck:
        assert "CRIU" in ck.info.engine
        assert summary(ck) == web_ref["summary"]
        assert any("no engine metadata" in p.message for p in ck.problems)


def test_incremental_dump_reads_parent_pages(tmp_path):
    """A pre-dump chain: pages marked PE_PARENT are read from pre-checkpoint/."""
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ref:
        pid = 10
        reader = ref.memory(pid)
        expected = {r.vaddr: reader.read(r.vaddr, r.nr_pages * 4096) for r in reader.runs if r.state == PRESENT}
    root = unpack("web-httpd.tar.zst", tmp_path / "inc")
    ck_dir = root / "checkpoint"
    pre = root / "pre-checkpoint"
    pre.mkdir()
    pm = decode_image((ck_dir / f"pagemap-{pid}.img").read_bytes(), f"pagemap-{pid}.img")
    pages_id = pm.entries[0].message.pages_id
    # the pre-dump holds the same pagemap and pages
    shutil.copy(ck_dir / f"pagemap-{pid}.img", pre / f"pagemap-{pid}.img")
    shutil.copy(ck_dir / f"pages-{pages_id}.img", pre / f"pages-{pages_id}.img")
    # the final dump: the first present run now lives in the parent
    entries = [(e.message, b"") for e in pm.entries]
    first = entries[1][0]
    n = first.nr_pages
    first.flags = PE_PARENT
    (ck_dir / f"pagemap-{pid}.img").write_bytes(encode_image("PAGEMAP", entries))
    data = (ck_dir / f"pages-{pages_id}.img").read_bytes()
    (ck_dir / f"pages-{pages_id}.img").write_bytes(data[n * 4096:])
    os.symlink("../pre-checkpoint", ck_dir / "parent")
    with load_checkpoint(tar_dir(root, tmp_path / "inc.tar")) as ck:
        r = ck.memory(pid)
        assert r.page_state(first.vaddr) == PRESENT  # found in the parent
        for vaddr, data in expected.items():
            assert r.read(vaddr, len(data)) == data
        assert ck.processes[pid].cmdline == ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
        shutil.rmtree(pre)
    # without the parent dir the pages are "in parent checkpoint", never invented
    with load_checkpoint(tar_dir(root, tmp_path / "inc2.tar")) as ck:
        assert ck.memory(pid).page_state(first.vaddr) == "parent"


def test_podman_checkpoint_image_matches_the_archive(web_ref):
    with load_checkpoint(DATA / "podman-checkpoint-image.oci.tar") as ck:
        assert ck.source.kind == "oci-archive"
        assert "checkpoint image" in ck.info.source_kind.lower()
        assert [(c, a) for c, a, _ in summary(ck)] == [(c, a) for c, a, _ in web_ref["summary"]]
        assert ck.info.image_annotations["io.podman.annotations.checkpoint.runtime.name"] == "crun"
        assert ck.info.criu_version == "40200"
        # the runtime annotation disagrees with config.dump (runc made it): flagged
        assert any("crun" in p.message and "runc" in p.message for p in ck.problems)


def test_containerd_native_image():
    with load_checkpoint(DATA / "containerd-checkpoint.oci.tar") as ck:
        assert ck.info.engine == "containerd"
        assert ck.info.runtime == "io.containerd.runc.v2"
        assert ck.info.image == "localhost/busybox:latest"
        comms = sorted(p.comm for p in ck.process_list())
        assert "httpd" in comms and "sh" in comms
        sh = next(p for p in ck.process_list() if p.pid == 1)
        assert sh.env_dict["CTR_DEMO"] == "containerd-env"
        assert ck.rootfs.compressed == "gzip"
        assert "/var/www/index.html" in ck.rootfs.deleted  # a whiteout in the rw layer
        assert any(e.path == "etc/motd" for e in ck.rootfs.entries)


def test_built_image_round_trip(tmp_path, web_ref):
    """An image the build action writes opens again to the same model."""
    from ckpt_tui.actions.build import build_image

    out = tmp_path / "web-image.tar"
    with load_checkpoint(DATA / "web-httpd.tar.zst") as src:
        build_image(src, "localhost/web-ckpt:rt", output_tar=out)
    with load_checkpoint(out) as ck:
        assert ck.source.kind == "oci-archive"
        assert summary(ck) == web_ref["summary"]
        assert sorted(ck.processes) == web_ref["pids"]
        assert sorted(e.path for e in ck.rootfs.entries) == web_ref["rootfs"]
        assert ck.rootfs.deleted == web_ref["deleted"]
        ann = ck.info.image_annotations
        assert ann["org.criu.checkpoint.container.name"] == "web"
        assert ann["io.podman.annotations.checkpoint.runtime.name"] == "runc"
        assert not [p for p in ck.problems if "runtime annotation" in p.message]
