# SPDX-License-Identifier: Apache-2.0
"""The restore verdict: every shared fixture's pinned against a host profile like the one that
made them (Podman 4.3.1, runc, CRIU 4.2, Linux 6.18 x86_64, the base image present), then each
kind of mismatch in a synthetic profile flips it."""

from __future__ import annotations

import copy
import tarfile
from pathlib import Path

import pytest

from ckpt_tui.actions.hostprofile import profile_from_dict
from ckpt_tui.actions.restore import RestoreOptions
from ckpt_tui.actions.verdict import RESTORABLE, RESTORABLE_WITH, WILL_FAIL, judge
from ckpt_tui.errors import CkptError

from .conftest import DATA
from .corpus import unpack

BASE_ID = "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de"
FLAGS = (  # noqa: SIM905 (the flags as /proc/cpuinfo writes them)
    "fpu tsc cx8 sep cmov clflush mmx fxsr sse sse2 syscall mmxext rdtscp lm rep_good nopl pni pclmulqdq ssse3 "
    "fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand abm sse4a misalignsse 3dnowprefetch "
    "fsgsbase bmi1 avx2 bmi2 erms avx512f avx512dq rdseed adx clflushopt avx512cd sha_ni avx512bw avx512vl "
    "xsaveopt xsavec xgetbv1 xsaves").split()

# the host the fixtures were made on, as `ckpt-tui host-profile` writes it
ORIGIN = {
    "schema": "ckpt-tui/host-profile/1", "hostname": "origin", "arch": "amd64", "kernel": "6.18.0", "root": True,
    "cap_last_cap": 40,
    "cpu": {"vendor": "AuthenticAMD", "model": "AMD EPYC", "flags": FLAGS, "xfeatures_mask": 0xE7,
            "xfeatures": [], "source": "/proc/cpuinfo"},
    "criu": {"path": "/usr/sbin/criu", "version": "4.2", "check_ran": True, "check_ok": True,
             "check_output": "Looks good.", "features": {}, "plugins": []},
    "runtimes": [{"name": "runc", "path": "/usr/sbin/runc", "version": "runc version 1.1.5", "checkpoint_restore": True},
                 {"name": "crun", "path": "/usr/bin/crun", "version": "crun version 1.8.1",
                  "checkpoint_restore": False}],
    "engines": [{"name": "podman", "path": "/usr/bin/podman", "version": "podman version 4.3.1",
                 "default_runtime": "runc",
                 "images": [{"id": BASE_ID, "names": ["localhost/busybox:latest"], "digests": []}],
                 "containers": []}],
    "lsm": {"active": [], "apparmor_profiles": None, "selinux": "disabled"},
    "cgroup": {"version": 1, "controllers": ["cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
                                            "pids"]},
    "crio": {"installed": False},
}


def profile(**changes):
    """ORIGIN with ``changes`` applied: ``cpu__flags=[...]`` sets ORIGIN["cpu"]["flags"]."""
    doc = copy.deepcopy(ORIGIN)
    for key, value in changes.items():
        where = doc
        parts = key.split("__")
        for p in parts[:-1]:
            where = where[p]
        where[parts[-1]] = value
    return profile_from_dict(doc, "origin.json")


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


def blocking(v):
    return [c.name for c in v.checks if c.status == "fail"]


# -- every shared fixture ----------------------------------------------------------------------
@pytest.mark.parametrize("name, kind, exit_code", [
    ("web-httpd.tar.zst", RESTORABLE, 0),
    ("ps-tree.tar.gz", RESTORABLE, 0),
    ("memhog-16m-threads.tar.zst", RESTORABLE, 0),
    ("web-ignore-rootfs.tar.zst", RESTORABLE, 0),
    ("tcp-established.tar.zst", RESTORABLE_WITH, 1),
    ("tcp-server.tar.zst", RESTORABLE_WITH, 1),
    ("broken-missing-pages.tar", WILL_FAIL, 2),
    ("podman-checkpoint-image.oci.tar", WILL_FAIL, 2),
])
def test_fixture_verdicts(load, name, kind, exit_code):
    v = judge(load(name), profile())
    assert (v.kind, v.exit_code) == (kind, exit_code), (v.headline, blocking(v))


def test_tcp_established_is_restorable_with_the_flag(load):
    v = judge(load("tcp-established.tar.zst"), profile())
    assert v.steps == ["--tcp-established"]
    assert v.headline == "restorable on origin with --tcp-established"
    tcp = next(c for c in v.checks if c.name == "TCP connections")
    assert any("10.88.0.28" in d and "free and assignable" in d for d in tcp.details)  # the address its repair binds
    assert judge(load("tcp-established.tar.zst"), profile(), RestoreOptions(tcp_established=True)).kind == RESTORABLE


def test_broken_fixture_names_the_missing_image(load):
    v = judge(load("broken-missing-pages.tar"), profile())
    assert v.reason is not None and v.reason.name == "Archive complete"
    assert "pages-2.img" in v.headline


def test_checkpoint_image_whose_annotation_names_crun(load):
    """The annotation says crun (podman 4.3 wrote its default), config.dump says runc: podman
    insists on crun, and the crun there has no CRIU: nothing a flag can fix."""
    v = judge(load("podman-checkpoint-image.oci.tar"), profile())
    assert v.reason is not None and v.reason.name == "Runtime annotation" and "'crun'" in v.reason.reason
    # even where crun could restore, podman still refuses runc for it: still a failure, not a step
    crun_ok = [dict(r, checkpoint_restore=True) for r in ORIGIN["runtimes"]]
    assert judge(load("podman-checkpoint-image.oci.tar"), profile(runtimes=crun_ok)).kind == WILL_FAIL


def test_ignore_rootfs_fixture_relies_on_the_base_image(load):
    """Dumped with --ignore-rootfs: podman applies no diff (it restores without the flag); the
    verdict stays restorable while the base image is there, and fails without it."""
    ck = load("web-ignore-rootfs.tar.zst")
    assert not ck.has("rootfs-diff.tar")
    assert judge(ck, profile()).kind == RESTORABLE
    v = judge(ck, profile(engines=[dict(ORIGIN["engines"][0], images=[])]))
    assert v.kind == WILL_FAIL and v.reason.name == "Base image" and "localhost/" in v.reason.reason


# -- each mismatch flips the verdict of a healthy checkpoint ----------------------------------
def _engine(**changes):
    return [dict(ORIGIN["engines"][0], **changes)]


@pytest.mark.parametrize("changes, kind, check", [
    ({"arch": "arm64"}, WILL_FAIL, "Architecture"),
    ({"criu__path": ""}, WILL_FAIL, "CRIU"),
    ({"criu__check_ok": False, "criu__check_output":
      "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n"
      "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat."},
     WILL_FAIL, "criu check"),
    ({"runtimes": []}, WILL_FAIL, "Runtime"),
    ({"engines": []}, WILL_FAIL, "Engine"),
    ({"root": False}, WILL_FAIL, "Privileges"),
    ({"engines": _engine(images=[])}, WILL_FAIL, "Base image"),
    ({"engines": _engine(containers=[{"id": "", "names": ["web"]}])}, RESTORABLE_WITH, "Container name"),
    ({"cap_last_cap": 30}, WILL_FAIL, "Capability numbers"),
    ({"cpu__flags": [f for f in FLAGS if not f.startswith("avx512")], "cpu__xfeatures_mask": 0x7}, WILL_FAIL, "CPU"),
    ({"cpu__flags": [f for f in FLAGS if not f.startswith("xsave")], "cpu__xfeatures_mask": None}, WILL_FAIL, "CPU"),
])
def test_mismatch_flips_the_verdict(load, changes, kind, check):
    ck = load("web-httpd.tar.zst")
    assert judge(ck, profile()).kind == RESTORABLE
    v = judge(ck, profile(**changes))
    assert v.kind == kind, (v.headline, blocking(v))
    assert check in blocking(v)


def test_name_in_use_step_and_base_image_to_pull(load):
    ck = load("web-httpd.tar.zst")
    v = judge(ck, profile(engines=_engine(containers=[{"id": "", "names": ["web"]}])))
    assert v.steps == ["--name web-restored"]
    # a base image with a registry name can be pulled: a step, not a failure (the name is the
    # model's; a checkpoint of an image from a registry records it so)
    ck.info.image = "quay.io/prometheus/busybox:latest"
    ck.info.image_id = ""
    v = judge(ck, profile(engines=_engine(images=[])))
    assert v.kind == RESTORABLE_WITH and v.steps == ["podman pull quay.io/prometheus/busybox:latest"]
    ck.info.image = "busybox"  # a short name: pullable, through the configured registries
    base = next(c for c in judge(ck, profile(engines=_engine(images=[]))).checks if c.name == "Base image")
    assert "not fully qualified" in base.reason and base.step == "podman pull busybox"


def test_inventory_requirements(load):
    """Plugins, the LSM and the network lock come from inventory.img (the model's dict of it,
    changed here as a dump with those options writes it)."""
    ck = load("web-httpd.tar.zst")
    ck.inventory = dict(ck.inventory, plugins_entry={"plugins": ["cuda_plugin"]})
    v = judge(ck, profile())
    assert v.kind == WILL_FAIL and "Missing required plugin: cuda_plugin" in v.reason.reason
    assert judge(ck, profile(criu__plugins=["cuda_plugin"])).kind == RESTORABLE

    ck = load("web-httpd.tar.zst")
    ck.inventory = dict(ck.inventory, lsmtype="APPARMOR")
    v = judge(ck, profile())
    assert v.kind == WILL_FAIL and v.reason.name == "LSM" and "mismatched lsm types" in v.reason.reason
    assert judge(ck, profile(lsm__active=["apparmor"])).kind == RESTORABLE

    ck = load("web-httpd.tar.zst")
    ck.inventory = dict(ck.inventory, network_lock_method=1)
    v = judge(ck, profile(criu__features={"network_lock_nftables": False}))
    assert v.kind == WILL_FAIL and v.reason.name == "Network lock"
    assert judge(ck, profile(criu__features={"network_lock_nftables": True})).kind == RESTORABLE


def _with_cpuinfo(tmp_path, **fields):
    """web-httpd unpacked, with the cpuinfo.img a `criu dump --cpu-cap` writes (the project's
    writer), packed again."""
    from ckpt_tui.criu.pb import misc_pb2
    from ckpt_tui.criu.writer import encode_image

    root = unpack("web-httpd.tar.zst", tmp_path / "ck")
    words = [0] * 19
    for name, word, bit in (("fpu", 0, 0), ("fxsr", 0, 24), ("sse", 0, 25), ("xsave", 4, 26), ("osxsave", 4, 27),
                            ("avx", 4, 28), ("avx2", 9, 5), ("xsaves", 10, 3)):
        if name not in fields.get("without", ()):
            words[word] |= 1 << bit
    entry = misc_pb2.cpuinfo_entry()
    x = entry.x86_entry.add(vendor_id=2, cpu_family=25, model=17, stepping=1, capability_ver=2, capability=words,
                            model_id="AMD EPYC", xfeatures_mask=fields.get("mask", 0x7))
    if "size" in fields:
        x.xsave_size, x.xsave_size_max = fields["size"], fields["size"]
    (root / "checkpoint" / "cpuinfo.img").write_bytes(encode_image("CPUINFO", [entry]))
    out = tmp_path / "ck.tar"  # podman --import takes an archive, not a directory
    with tarfile.open(out, "w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out


def test_cpuinfo_image(load, tmp_path):
    ck = load(_with_cpuinfo(tmp_path / "a"))
    assert ck.cpuinfo is not None and ck.cpuinfo.has("avx2") and ck.cpuinfo.vendor == "AMD"
    assert judge(ck, profile()).kind == RESTORABLE
    v = judge(ck, profile(cpu__flags=[f for f in FLAGS if f != "avx2"]))
    assert v.kind == WILL_FAIL and "instruction capabilities" in v.reason.reason and "avx2" in v.reason.reason
    v = judge(ck, profile(cpu__flags=[f for f in FLAGS if f != "xsaves"]))
    assert v.kind == WILL_FAIL and "FPU feature required by image" in v.reason.reason
    ck = load(_with_cpuinfo(tmp_path / "b", mask=0xE7 | (1 << 9)))  # PKRU, which the host lacks
    v = judge(ck, profile())
    assert v.kind == WILL_FAIL and "XFEATURE_PKRU" in v.reason.reason
    ck = load(_with_cpuinfo(tmp_path / "c", size=2440))
    cpu = next(c for c in judge(ck, profile()).checks if c.name == "CPU")
    assert cpu.status == "warn" and "not compared" in cpu.reason  # the profile does not know its size
    assert judge(ck, profile(cpu__xsave_size=2440, cpu__xsave_size_max=2440)).kind == RESTORABLE
    v = judge(ck, profile(cpu__xsave_size=2696, cpu__xsave_size_max=2696))
    assert v.kind == WILL_FAIL and "xsave size mismatch (2440/2696" in v.reason.reason


def test_crio_setting(load):
    from ckpt_tui.model.types import Engine

    ck = load("web-httpd.tar.zst")
    ck.info.engine = Engine.CRIO  # as a CRI-O checkpoint's metadata says
    v = judge(ck, profile(crio={"installed": True, "criu_support": False, "config": ["/etc/crio/crio.conf"]}))
    assert v.kind == WILL_FAIL and v.reason.name == "CRI-O restore" and "enable_criu_support" in v.reason.reason


def test_profile_rejects_bad_input():
    with pytest.raises(CkptError, match="cap_last_cap is not an integer"):
        profile_from_dict(dict(ORIGIN, cap_last_cap="40"))
    with pytest.raises(CkptError, match="schema"):
        profile_from_dict(dict(ORIGIN, schema="something/else"))
    with pytest.raises(CkptError, match=r"engines\[0\]\.images is not a list"):
        profile_from_dict(dict(ORIGIN, engines=[{"name": "podman", "images": {}}]))
