# SPDX-License-Identifier: Apache-2.0
"""actions.checks.preflight on the real fixtures, with fake podman/criu/runc/crun first on PATH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ckpt_tui.actions.checks import preflight, summarize
from ckpt_tui.actions.restore import RestoreOptions

from .conftest import DATA

FAKEBIN = Path(__file__).parent / "fakebin"
WEB_ID = "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de"


@pytest.fixture
def load():
    from ckpt_tui.model import load_checkpoint

    opened = []

    def _load(name):
        ck = load_checkpoint(DATA / name)
        opened.append(ck)
        return ck

    yield _load
    for ck in opened:
        ck.close()


@pytest.fixture
def fakebin(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", f"{FAKEBIN}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PODMAN_ARGV", str(tmp_path / "argv"))
    for var in ("FAKE_PODMAN_CONTAINERS", "FAKE_PODMAN_IMAGES", "FAKE_PODMAN_RUNTIME", "FAKE_CRIU_CHECK", "FAKE_CRIU_VERSION"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    assert found, f"no check {name!r} in {[c.name for c in checks]}"
    return found[0]


def test_runtime_mismatch_checkpoint_image(fakebin, load):
    """podman-checkpoint-image.oci.tar: the annotation says crun, config.dump says runc made it."""
    ck = load("podman-checkpoint-image.oci.tar")
    checks = preflight(ck, RestoreOptions(), criu_check=False)
    ann = by_name(checks, "Runtime annotation")
    assert ann.status == "fail"
    assert "'crun'" in ann.reason and "'runc'" in ann.reason
    rt = by_name(checks, "Runtime")
    assert rt.status == "fail"
    assert "'crun'" in rt.reason and "'runc'" in rt.reason  # required crun, podman's default here runc

    # asking for runc explicitly: podman would still refuse (the annotation wins) -> fail early, naming both
    checks = preflight(ck, RestoreOptions(runtime="runc"), criu_check=False)
    rt = by_name(checks, "Runtime")
    assert rt.status == "fail" and "requires runtime 'crun'" in rt.reason and "asked for 'runc'" in rt.reason

    # asking for crun: it matches the annotation, but Debian's crun has no CRIU support
    checks = preflight(ck, RestoreOptions(runtime="crun"), criu_check=False)
    rt = by_name(checks, "Runtime")
    assert rt.status == "fail" and "without CRIU support" in rt.reason


def test_runtime_explicit_mismatch_for_archive(fakebin, load):
    ck = load("web-httpd.tar.zst")
    rt = by_name(preflight(ck, RestoreOptions(runtime="crun"), criu_check=False), "Runtime")
    assert rt.status == "fail" and "'runc'" in rt.reason and "'crun'" in rt.reason
    rt = by_name(preflight(ck, RestoreOptions(runtime="runc"), criu_check=False), "Runtime")
    assert rt.status == "pass" and "runc" in rt.reason


def test_tcp_established_needs_flag(fakebin, load):
    ck = load("tcp-established.tar.zst")
    tcp = by_name(preflight(ck, RestoreOptions(), criu_check=False), "TCP connections")
    assert tcp.status == "fail" and "--tcp-established" in tcp.reason
    assert tcp.details and "ESTABLISHED" in tcp.details[0] and "9000" in tcp.details[0]
    tcp = by_name(preflight(ck, RestoreOptions(tcp_established=True), criu_check=False), "TCP connections")
    assert tcp.status == "pass"
    web = load("web-httpd.tar.zst")  # only a LISTEN socket
    assert by_name(preflight(web, RestoreOptions(), criu_check=False), "TCP connections").status == "pass"


def test_incomplete_archive(fakebin, load):
    ck = load("broken-missing-pages.tar")
    c = by_name(preflight(ck, RestoreOptions(), criu_check=False), "Archive complete")
    assert c.status == "fail"
    assert "pages-2.img" in c.reason
    assert any("checkpoint/pages-2.img" in d and "pid 10" in d for d in c.details)


def test_complete_archive(fakebin, load):
    for name in ("web-httpd.tar.zst", "memhog-16m-threads.tar.zst", "ps-tree.tar.gz"):
        ck = load(name)
        c = by_name(preflight(ck, RestoreOptions(), criu_check=False), "Archive complete")
        assert c.status == "pass", (name, c)
        assert "pages image(s) big enough" in c.reason


def test_short_pages_image(fakebin, load, monkeypatch):
    ck = load("web-httpd.tar.zst")
    real = ck.source.members["checkpoint/pages-2.img"]
    monkeypatch.setattr(real, "size", 4096)
    c = by_name(preflight(ck, RestoreOptions(), criu_check=False), "Archive complete")
    assert c.status == "fail" and "short" in c.reason and "pages-2.img" in c.reason


def test_name_and_base_image(fakebin, load):
    ck = load("web-httpd.tar.zst")
    fakebin.setenv("FAKE_PODMAN_CONTAINERS", "web")
    checks = preflight(ck, RestoreOptions(), criu_check=False)
    assert by_name(checks, "Container name").status == "fail"
    assert by_name(checks, "Base image").status == "fail"
    assert "3f8f4c49f0ff" in by_name(checks, "Base image").reason
    fakebin.setenv("FAKE_PODMAN_IMAGES", WEB_ID)
    checks = preflight(ck, RestoreOptions(name="web2"), criu_check=False)
    assert by_name(checks, "Container name").status == "pass"
    assert by_name(checks, "Base image").status == "pass"


def test_container_id_reuse(fakebin, load):
    ck = load("web-httpd.tar.zst")
    fakebin.setenv("FAKE_PODMAN_CONTAINERS", ck.info.id)
    checks = preflight(ck, RestoreOptions(), criu_check=False)
    assert by_name(checks, "Container ID").status == "fail"
    assert all(c.name != "Container ID" for c in preflight(ck, RestoreOptions(name="x"), criu_check=False))


def test_criu_version_and_check(fakebin, load):
    ck = load("podman-checkpoint-image.oci.tar")  # images written by CRIU 4.2 (annotation 40200)
    fakebin.setenv("FAKE_CRIU_CHECK", "vdso")
    checks = preflight(ck, RestoreOptions(), criu_check=True)
    criu = by_name(checks, "CRIU")
    assert criu.status == "warn" and "3.17.1" in criu.reason and "4.2" in criu.reason
    cc = by_name(checks, "criu check")
    if os.geteuid() == 0:
        assert cc.status == "fail" and "too old" in cc.reason
    else:
        assert cc.status == "warn"
    fakebin.setenv("FAKE_CRIU_VERSION", "4.2")
    fakebin.setenv("FAKE_CRIU_CHECK", "ok")
    checks = preflight(ck, RestoreOptions(), criu_check=True)
    assert by_name(checks, "CRIU").status == "pass"
    if os.geteuid() == 0:
        assert by_name(checks, "criu check").status == "pass"


def test_spec_summary(fakebin, load):
    ck = load("web-httpd.tar.zst")
    checks = preflight(ck, RestoreOptions(), criu_check=False)
    for name in ("Privileged", "Capabilities", "Seccomp", "Mounts", "Security note"):
        assert by_name(checks, name).status in ("info", "warn")
    caps = by_name(checks, "Capabilities")
    assert "CAP_CHOWN" in caps.details
    assert "seccomp profile" in by_name(checks, "Seccomp").reason


def test_no_tools_never_crashes(monkeypatch, tmp_path, load):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    ck = load("tcp-established.tar.zst")
    checks = preflight(ck, RestoreOptions(), criu_check=True)
    assert by_name(checks, "Engine").status == "fail" and "not installed" in by_name(checks, "Engine").reason
    assert by_name(checks, "CRIU").status == "fail"
    assert by_name(checks, "Container name").status == "warn"
    assert by_name(checks, "Base image").status == "warn"
    assert by_name(checks, "Runtime").status == "fail" and "not installed" in by_name(checks, "Runtime").reason
    counts = summarize(checks)
    assert counts["fail"] >= 3 and sum(counts.values()) == len(checks)
    ctrd = load("containerd-checkpoint.oci.tar")
    checks = preflight(ctrd, RestoreOptions(engine="containerd", name="c1"), criu_check=False)
    assert by_name(checks, "Engine").status == "fail"
    assert by_name(checks, "Runtime").status == "fail"


def test_ignore_rootfs_warning(fakebin, load):
    ck = load("web-httpd.tar.zst")
    c = by_name(preflight(ck, RestoreOptions(ignore_rootfs=True), criu_check=False), "Root FS changes")
    assert c.status == "warn"
    img = load("podman-checkpoint-image.oci.tar")
    c = by_name(preflight(img, RestoreOptions(ignore_rootfs=True), criu_check=False), "Options")
    assert c.status == "warn" and "--import" in c.reason
