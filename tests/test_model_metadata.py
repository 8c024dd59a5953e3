"""The container record: one engine rule, one image chain, one time parser, the same answer
in the model, ``inspect --json``, ``list``, ``restore --dry-run`` and the UI header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.metadata import Metadata, container_info, decide_engine, info_from_peek, short_runtime
from ckpt_tui.model.types import Engine
from ckpt_tui.text import parse_time

from .conftest import DATA
from .corpus import unpack


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400"}  # a table row on one line
    return subprocess.run([sys.executable, "-m", "ckpt_tui", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def _tar(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out


@pytest.fixture(scope="module")
def no_manager(tmp_path_factory) -> Path:
    """web-httpd (a real Podman checkpoint) with io.container.manager taken out of spec.dump:
    derived from the fixture, since no engine writes such a spec. Before the record was decided
    once, the archive layer called this "container", the model "containerd" and restore
    defaulted to ctr."""
    base = tmp_path_factory.mktemp("no-manager")
    root = unpack("web-httpd.tar.zst", base / "root")
    spec = json.loads((root / "spec.dump").read_text())
    del spec["annotations"]["io.container.manager"]
    (root / "spec.dump").write_text(json.dumps(spec))
    listed = base / "list"
    listed.mkdir()
    return _tar(root, listed / "web-no-manager.tar")


def test_one_engine_everywhere_without_the_manager_annotation(no_manager):
    with load_checkpoint(no_manager) as ck:
        assert ck.info.engine is Engine.PODMAN
        assert ck.info.source_kind == "Podman checkpoint archive (tar)"
    data = json.loads(_cli("inspect", "--json", str(no_manager)).stdout)
    assert data["container"]["engine"] == "Podman"
    listing = _cli("list", str(no_manager.parent))
    assert listing.returncode == 0
    row = next(line for line in listing.stdout.splitlines() if "web-no-manager" in line)
    assert "Podman" in row and "containerd" not in row
    dry = _cli("restore", "--dry-run", "--no-criu-check", str(no_manager))
    command = next(line for line in dry.stdout.splitlines() if "restore" in line and "--import" in line)
    assert command.lstrip("$ ").startswith("podman") and "ctr" not in command.split()


async def test_header_says_the_same_engine(no_manager):
    from ckpt_tui.app import CkptApp

    app = CkptApp(no_manager, readonly=True)
    async with app.run_test() as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.checkpoint is not None:
                break
        assert app.checkpoint is not None
        assert app.title == "web (Podman)"


def _meta(**kw) -> Metadata:
    return Metadata(**kw)


@pytest.mark.parametrize("meta,spec_ann,want", [
    (_meta(spec={"annotations": {"io.container.manager": "libpod"}}), {"io.container.manager": "libpod"}, Engine.PODMAN),
    (_meta(spec={"x": 1}), {"io.container.manager": "cri-o"}, Engine.CRIO),
    (_meta(image_annotations={"org.criu.checkpoint.engine.name": "CRI-O"}), {}, Engine.CRIO),
    (_meta(image_annotations={"io.podman.annotations.checkpoint.name": "web"}), {}, Engine.PODMAN),
    (_meta(source_kind="containerd-image", config={"id": "x"}), {}, Engine.CONTAINERD),
    (_meta(spec={"a": 1}, has_member={"status"}.__contains__), {}, Engine.CONTAINERD),
    (_meta(spec={"a": 1}), {"io.kubernetes.cri.container-name": "c"}, Engine.CONTAINERD),
    (_meta(spec={"a": 1}), {"io.podman.annotations.init": "FALSE"}, Engine.PODMAN),
    (_meta(config={"lockID": 0}), {}, Engine.PODMAN),
    (_meta(spec={"a": 1}), {"io.kubernetes.cri-o.TTY": "false"}, Engine.CRIO),
    # checkpointctl's rule for what is left: spec.dump {} + status {} is containerd
    (_meta(config={"id": "c"}, spec={}), {}, Engine.CONTAINERD),
    (_meta(has_member={"checkpoint/inventory.img"}.__contains__), {}, Engine.CRIU),
    (_meta(), {}, Engine.UNKNOWN),
])
def test_engine_rule(meta, spec_ann, want):
    assert decide_engine(meta, spec_ann) is want


def test_crio_record_from_its_annotations():
    spec = {"annotations": {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": "web", "attempt": 0}),
        "io.kubernetes.pod.name": "mypod", "io.kubernetes.pod.namespace": "ns1",
        "io.kubernetes.cri-o.Created": "2026-11-23T12:26:12.230741499Z",
        "io.kubernetes.cri-o.ImageName": "quay.io/x/web:1",
    }}
    info, problems = container_info(Metadata(config={"name": "k8s_web_mypod_ns1_0"}, spec=spec))
    assert (info.engine, info.name, info.pod_name, info.namespace, info.image) == (
        Engine.CRIO, "web", "mypod", "ns1", "quay.io/x/web:1")
    assert info.created == datetime(2026, 11, 23, 12, 26, 12, 230741, tzinfo=timezone.utc)
    assert not problems
    spec["annotations"]["io.kubernetes.cri-o.Metadata"] = "{not json"
    info, problems = container_info(Metadata(config={"name": "k8s_web_mypod_ns1_0"}, spec=spec))
    assert info.name == "k8s_web_mypod_ns1_0" and "not JSON" in problems[0].message


def test_image_chain_and_runtime():
    info, problems = container_info(Metadata(
        config={"rootfsImage": "busybox", "rootfsImageRef": "sha256:abc", "runtime": "runc"},
        image_annotations={"io.podman.annotations.checkpoint.runtime.name": "crun",
                           "io.podman.annotations.checkpoint.criu.version": "40200"}))
    assert (info.image, info.image_id, info.image_requested) == ("busybox", "sha256:abc", "busybox")
    assert (info.runtime, info.image_runtime, info.criu_version) == ("runc", "crun", "40200")
    assert "crun" in problems[0].message and problems[0].severity == "warning"
    info, _ = container_info(Metadata(config={}, image_annotations={
        "org.criu.checkpoint.rootfsImageName": "img:1", "org.criu.checkpoint.container.name": "c1"}))
    assert (info.image, info.name) == ("img:1", "c1")
    assert short_runtime("io.containerd.runc.v2") == "runc" and short_runtime("/usr/bin/crun") == "crun"


def test_checkpointed_time_falls_back_to_config_mtime():
    created = "2026-11-23T12:00:00Z"
    later = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc).timestamp()
    info, _ = container_info(Metadata(config={"createdTime": created}, config_mtime=later))
    assert info.checkpointed == datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
    info, _ = container_info(Metadata(config={"createdTime": created}, config_mtime=later - 7200))
    assert info.checkpointed is None  # an mtime before creation says nothing
    # tar mtimes are whole seconds: checkpointed in the second it was created
    same = datetime(2026, 11, 23, 12, 26, 29, tzinfo=timezone.utc)
    info, _ = container_info(Metadata(config={"createdTime": "2026-11-23T12:26:29.144435151Z"},
                                      config_mtime=same.timestamp()))
    assert info.checkpointed == same


@pytest.mark.parametrize("text,want", [
    ("2026-11-23T12:26:12.230741499Z", datetime(2026, 11, 23, 12, 26, 12, 230741, tzinfo=timezone.utc)),
    ("2026-11-23T12:26:12Z", datetime(2026, 11, 23, 12, 26, 12, tzinfo=timezone.utc)),
    ("2026-11-23T13:26:12.5+01:00", datetime(2026, 11, 23, 12, 26, 12, 500000, tzinfo=timezone.utc)),
    ("0001-01-01T00:00:00Z", None),
    ("yesterday", None),
    (12, None),
])
def test_parse_time(text, want):
    got = parse_time(text)
    assert got == want


def test_list_peek_and_full_load_agree_on_every_fixture():
    """The checkpoint list reads a few members; the full load reads them all: same record."""
    from ckpt_tui.archive import peek_metadata

    for name in ("web-httpd.tar.zst", "ps-tree.tar.gz", "tcp-server.tar.zst", "containerd-checkpoint.oci.tar",
                 "podman-checkpoint-image.oci.tar"):
        early = info_from_peek(peek_metadata(DATA / name))
        with load_checkpoint(DATA / name) as ck:
            full = ck.info
        assert (early.engine, early.name, early.image, early.runtime, early.checkpointed) == (
            full.engine, full.name, full.image, full.runtime, full.checkpointed), name
