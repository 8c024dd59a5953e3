# SPDX-License-Identifier: Apache-2.0
"""actions.restore: command construction, running against a fake podman that replays real
podman output, and one real restore with the installed podman."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from ckpt_tui.actions.restore import RestoreOptions, build_restore_command, restore_target, run_restore
from ckpt_tui.errors import CkptError

from .conftest import DATA

FAKEBIN = Path(__file__).parent / "fakebin"
WEB = DATA / "web-httpd.tar.zst"
PCI = DATA / "podman-checkpoint-image.oci.tar"
CTRD = DATA / "containerd-checkpoint.oci.tar"


@pytest.fixture
def load():
    from ckpt_tui.model import load_checkpoint

    opened = []

    def _load(name):
        ck = load_checkpoint(name if isinstance(name, Path) else DATA / name)
        opened.append(ck)
        return ck

    yield _load
    for ck in opened:
        ck.close()


@pytest.fixture
def fake_podman(tmp_path, monkeypatch):
    """PATH with tests/fakebin first; returns a function giving the recorded argv lists."""
    argv = tmp_path / "podman-argv.jsonl"
    monkeypatch.setenv("PATH", f"{FAKEBIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODMAN_ARGV", str(argv))
    monkeypatch.setenv("FAKE_PODMAN_LOGDIR", str(tmp_path / "storage"))

    def calls() -> list[list[str]]:
        if not argv.exists():
            return []
        return [json.loads(line) for line in argv.read_text().splitlines()]

    return calls


# --------------------------------------------------------------------------- commands


def test_podman_import_command_all_flags(load):
    ck = load("web-httpd.tar.zst")
    opts = RestoreOptions(name="web2", ignore_rootfs=True, ignore_volumes=True, tcp_established=True,
                          keep=True, print_stats=True, runtime="runc")
    assert build_restore_command(ck, opts) == [
        "podman", "--runtime", "runc", "container", "restore", "--import", str(WEB.absolute()),
        "--name", "web2", "--ignore-rootfs", "--ignore-volumes", "--tcp-established", "--keep", "--print-stats",
    ]


def test_podman_import_minimal(load):
    assert build_restore_command(load(WEB), RestoreOptions()) == [
        "podman", "container", "restore", "--import", str(WEB.absolute())]


def test_podman_checkpoint_image_command(load):
    ck = load("podman-checkpoint-image.oci.tar")
    t = restore_target(ck, RestoreOptions())
    assert t.mode == "image" and t.image == "localhost/checkpoint-web:latest" and t.needs_load
    # --ignore-rootfs/--ignore-volumes only exist with --import: left out
    cmd = build_restore_command(ck, RestoreOptions(name="w", ignore_rootfs=True, keep=True))
    assert cmd == ["podman", "container", "restore", "--name", "w", "--keep", "localhost/checkpoint-web:latest"]
    assert build_restore_command(None, RestoreOptions(image="localhost/x:1", runtime="runc")) == [
        "podman", "--runtime", "runc", "container", "restore", "localhost/x:1"]


def test_containerd_command(load):
    ck = load("containerd-checkpoint.oci.tar")
    cmd = build_restore_command(ck, RestoreOptions(engine="containerd", name="ctrweb2", namespace="default"))
    assert cmd == ["ctr", "-n", "default", "containers", "restore", "--rw", "ctrweb2", "localhost/ckpt-ctrweb:2"]
    cmd = build_restore_command(None, RestoreOptions(engine="containerd", name="c1", image="docker.io/x/y:1", live=True, rw=False))
    assert cmd == ["ctr", "containers", "restore", "--live", "c1", "docker.io/x/y:1"]
    with pytest.raises(CkptError, match="ctr restores containerd checkpoint images only"):
        build_restore_command(load(WEB), RestoreOptions(engine="containerd", name="x"))


def test_bad_engine_and_nothing_to_restore(load):
    with pytest.raises(CkptError):
        build_restore_command(load(WEB), RestoreOptions(engine="docker"))
    with pytest.raises(CkptError):
        build_restore_command(None, RestoreOptions())


# --------------------------------------------------------------------------- fake podman


def test_run_restore_success(fake_podman, load):
    ck = load("web-httpd.tar.zst")
    cmd = build_restore_command(ck, RestoreOptions(name="web2"))
    seen: list[str] = []
    res = run_restore(cmd, seen.append, lambda: False, checkpoint=ck)
    assert res.ok and res.returncode == 0
    assert res.container_id == "804f8b2fc6ea364d76b984bd124b8f45e03e3040ad4680823b04ea1a1fa2d451"
    assert res.container_name == "web2"
    assert seen == [res.container_id]
    assert fake_podman()[-1] == cmd[1:]
    assert res.diagnosis is None and "Restored web2" in res.message


def test_run_restore_print_stats(fake_podman, load):
    ck = load("web-httpd.tar.zst")
    res = run_restore(build_restore_command(ck, RestoreOptions(print_stats=True)))
    assert res.ok
    assert res.stats["podman_restore_duration"] == 412345
    assert res.container_id.startswith("804f8b2f")


def test_run_restore_criu_failure_is_diagnosed(fake_podman, monkeypatch, load):
    monkeypatch.setenv("FAKE_PODMAN_SCENARIO", "criu-fail")
    ck = load("web-httpd.tar.zst")
    cmd = build_restore_command(ck, RestoreOptions(keep=True))
    seen: list[str] = []
    res = run_restore(cmd, seen.append, checkpoint=ck)
    assert not res.ok and res.returncode == 125
    assert seen[0] == "Error: OCI runtime error: runc: criu failed: type RESTORE errno 0"
    assert res.stderr == seen
    assert res.log_path and res.log_path.endswith("/userdata/restore.log") and os.path.isfile(res.log_path)
    assert res.container_id == "804f8b2fc6ea364d76b984bd124b8f45e03e3040ad4680823b04ea1a1fa2d451"
    assert res.diagnosis is not None and res.diagnosis.causes[0].kind == "criu-too-old"
    assert res.diagnosis.log_path == res.log_path
    assert res.engine_diagnosis.causes[0].kind == "criu-failed"
    assert "CRIU is too old" in res.message


def test_run_restore_missing_pages_names_image(fake_podman, monkeypatch, load):
    monkeypatch.setenv("FAKE_PODMAN_SCENARIO", "missing-pages")
    ck = load("broken-missing-pages.tar")
    res = run_restore(build_restore_command(ck, RestoreOptions(keep=True)), checkpoint=ck)
    assert not res.ok
    assert res.diagnosis.image_at_fault == "checkpoint/pages-2.img"
    assert "missing" in res.diagnosis.causes[0].explanation


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [("name-in-use", "name-in-use"), ("requires-runtime", "runtime-mismatch"), ("no-base-image", "base-image-missing")],
)
def test_run_restore_engine_errors(fake_podman, monkeypatch, scenario, kind, load):
    monkeypatch.setenv("FAKE_PODMAN_SCENARIO", scenario)
    ck = load("podman-checkpoint-image.oci.tar")
    res = run_restore(build_restore_command(ck, RestoreOptions(name="web3")), checkpoint=ck)
    assert not res.ok and res.returncode == 125
    assert res.log_path is None
    assert res.diagnosis.causes[0].kind == kind


def test_run_restore_cancel(fake_podman, monkeypatch, load):
    monkeypatch.setenv("FAKE_PODMAN_SCENARIO", "slow")
    flag = threading.Event()
    seen: list[str] = []

    def on_output(line: str) -> None:
        seen.append(line)
        flag.set()

    start = time.monotonic()
    res = run_restore(build_restore_command(load(WEB), RestoreOptions()), on_output, flag.is_set)
    assert time.monotonic() - start < 20
    assert res.cancelled and not res.ok
    assert seen == ["restoring..."]
    assert res.message == "Restore cancelled" or res.message.startswith("Restore failed")


def test_run_restore_missing_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    res = run_restore(["podman", "container", "restore", "--import", str(WEB)])
    assert not res.ok and res.returncode is None
    assert "command not found" in res.error and "Could not run" in res.message


# --------------------------------------------------------------------------- real podman


def _podman_root() -> bool:
    return bool(shutil.which("podman")) and os.geteuid() == 0


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


def _patched_copy(src: Path, dst: Path, **config_changes: str) -> None:
    """A copy of a checkpoint archive (uncompressed tar) with config.dump fields changed."""
    import zstandard

    with open(src, "rb") as fh:
        stream = zstandard.ZstdDecompressor().stream_reader(fh)
        data = stream.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tin, tarfile.open(dst, "w") as tout:
        for m in tin:
            payload = tin.extractfile(m).read() if m.isfile() else None
            if m.name.lstrip("./") == "config.dump":
                cfg = json.loads(payload)
                cfg.update(config_changes)
                payload = json.dumps(cfg).encode()
                m.size = len(payload)
            tout.addfile(m, io.BytesIO(payload) if payload is not None else None)


@pytest.mark.podman
@pytest.mark.slow
def test_real_podman_restore_without_base_image(load):
    """web-httpd as it is: its base image (ID 3f8f4c49...) was never on this machine, so podman
    fails before CRIU runs; recorded here: "creating container storage: parsing named reference ..."."""
    if not _podman_root():
        pytest.skip("needs podman, as root")
    if _podman("image", "exists", "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de").returncode == 0:
        pytest.skip("the fixture's base image is present here: the restore would get further")
    name = f"ckpt-tui-test-{uuid.uuid4().hex[:8]}"
    cmd = build_restore_command(load(WEB), RestoreOptions(name=name))
    try:
        res = run_restore(cmd, timeout=300)
    finally:
        _podman("rm", "-f", name)
    assert not res.ok and res.returncode == 125
    assert res.diagnosis.causes[0].kind == "base-image-missing", res.lines


@pytest.mark.podman
@pytest.mark.slow
def test_real_podman_restore_reaches_criu(tmp_path, load):
    """Restore web-httpd for real. Its base image is not here, so a stand-in image is imported and
    config.dump of a copy points at it; podman then creates the container and runc runs CRIU.

    What happens on this machine (Debian 12: podman 4.3.1, runc 1.1.5, CRIU 3.17.1, Linux 6.18):
    podman exits 125 with "OCI runtime error: runc: criu failed: type RESTORE errno 0" and the path
    of restore.log, which ends in "vdso: Unexpected rt vDSO area bounds" ...
    "kerndat_vdso_fill_symtable failed": CRIU 3.17 is too old for this kernel. With a newer CRIU the
    restore would get further (and then fail on the stand-in rootfs lacking busybox).
    """
    if not _podman_root():
        pytest.skip("needs podman, as root")
    if not shutil.which("criu"):
        pytest.skip("criu is not installed")
    tag = uuid.uuid4().hex[:8]
    base = f"localhost/ckpt-tui-test-base-{tag}:latest"
    empty = tmp_path / "empty"
    empty.mkdir()
    with tarfile.open(tmp_path / "empty.tar", "w") as tf:
        tf.add(empty, arcname=".")
    cp = _podman("import", str(tmp_path / "empty.tar"), base)
    assert cp.returncode == 0, cp.stderr
    base_id = _podman("image", "inspect", base, "--format", "{{.Id}}").stdout.strip()
    name = f"ckpt-tui-test-{tag}"
    archive = tmp_path / "web-patched.tar"
    _patched_copy(WEB, archive, rootfsImageID=base_id, rootfsImageName=base)
    ck = load(archive)
    cmd = build_restore_command(ck, RestoreOptions(name=name, keep=True))
    seen: list[str] = []
    try:
        res = run_restore(cmd, seen.append, lambda: False, checkpoint=ck, timeout=600)
        criu_ver = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout
    finally:
        _podman("rm", "-f", name)
        _podman("rmi", "-f", base)
    assert seen == res.lines
    if res.ok:
        pytest.fail(f"the restore unexpectedly worked here: {res.lines}")
    assert res.returncode == 125
    assert any("criu failed" in line for line in res.lines), res.lines
    assert res.log_path and res.log_path.endswith("restore.log")
    assert res.diagnosis is not None and res.diagnosis.causes, res.lines
    if "3.17" in criu_ver:
        assert res.diagnosis.causes[0].kind == "criu-too-old"
        assert res.diagnosis.criu_version.startswith("3.17")
    else:  # a different CRIU: whatever happens must be diagnosed, not "unknown"
        assert res.diagnosis.causes[0].kind != "unknown", res.diagnosis


@pytest.mark.podman
@pytest.mark.slow
def test_real_podman_restores_our_built_image(tmp_path, load):
    """The image `build` writes is taken by podman as a checkpoint image: `podman container restore
    IMAGE` mounts it, creates the container and runs CRIU (which then fails here like above)."""
    if not _podman_root():
        pytest.skip("needs podman, as root")
    from ckpt_tui.actions.build import build_image, load_image

    tag = uuid.uuid4().hex[:8]
    base = f"localhost/ckpt-tui-test-base-{tag}:latest"
    image = f"localhost/ckpt-tui-test-img-{tag}:latest"
    name = f"ckpt-tui-test-img-{tag}"
    empty = tmp_path / "empty"
    empty.mkdir()
    with tarfile.open(tmp_path / "empty.tar", "w") as tf:
        tf.add(empty, arcname=".")
    assert _podman("import", str(tmp_path / "empty.tar"), base).returncode == 0
    try:
        base_id = _podman("image", "inspect", base, "--format", "{{.Id}}").stdout.strip()
        archive = tmp_path / "web-patched.tar"
        _patched_copy(WEB, archive, rootfsImageID=base_id, rootfsImageName=base)
        built = build_image(load(archive), image, output_tar=tmp_path / "img.tar")
        lr = load_image(built.output)
        assert lr.ok, lr.lines
        res = run_restore(build_restore_command(None, RestoreOptions(image=image, name=name, keep=True)), timeout=600)
        assert not res.ok and res.returncode == 125, res.lines
        # podman got past "is this a checkpoint image" and the runtime check: CRIU ran
        assert any("criu failed" in line for line in res.lines), res.lines
        assert res.diagnosis.causes and res.diagnosis.causes[0].kind != "unknown"
    finally:
        _podman("rm", "-f", name)
        _podman("rmi", "-f", image)
        _podman("rmi", "-f", base)


def test_containerd_checkpoint_defaults_to_ctr():
    from ckpt_tui.actions.restore import RestoreOptions, build_restore_command
    from ckpt_tui.model import load_checkpoint

    with load_checkpoint(DATA / "containerd-checkpoint.oci.tar") as ck:
        cmd = build_restore_command(ck, RestoreOptions())
    assert cmd[0].endswith("ctr") and "restore" in cmd
