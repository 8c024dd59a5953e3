# SPDX-License-Identifier: Apache-2.0
"""actions.diagnose on the real CRIU logs in tests/data/logs and on real podman error output."""

from __future__ import annotations

import pytest

from ckpt_tui.actions.diagnose import diagnose, diagnose_file, find_criu_log

from .conftest import DATA, LOGS

MISSING = LOGS / "restore-missing-pages.log"
TOO_OLD = LOGS / "restore-criu-too-old.log"
DUMP_OK = LOGS / "dump-ok.log"

# what podman 4.3.1 printed on this machine (restore --import of web-httpd with Debian's CRIU 3.17.1)
PODMAN_CRIU_FAILED = (
    "Error: OCI runtime error: runc: criu failed: type RESTORE errno 0\n"
    "log file: /var/lib/containers/storage/overlay-containers/"
    "804f8b2fc6ea364d76b984bd124b8f45e03e3040ad4680823b04ea1a1fa2d451/userdata/restore.log\n"
)


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


def kinds(d):
    return [c.kind for c in d.causes]


def test_missing_pages_log_alone():
    d = diagnose_file(MISSING)
    assert d.operation == "restore"
    assert d.outcome == "failure"
    assert d.criu_version == "4.2"
    assert kinds(d)[0] == "missing-image"
    cause = d.causes[0]
    # the first real error, not the harmless RLIMIT line 66
    assert cause.evidence_line == 767
    assert "Failed getting raw image fd" in cause.evidence
    # the log itself says which file: "No pages-2.img image"
    assert d.image_at_fault == "checkpoint/pages-2.img"
    assert "pid 10" in cause.explanation
    first = d.first_error
    assert first is not None and first.file == "criu/pagemap.c" and first.line == 242 and first.pid == 10
    assert any("pr10-2 Read 401000 1 pages" in ln for ln in first.context_before)
    assert first.context_after
    rl = next(e for e in d.errors if "RLIMIT_NOFILE" in e.text)
    assert rl.note == "harmless" and rl.line_no == 66
    assert {e.note for e in d.errors if "Restoring FAILED" in e.text} == {"consequence"}
    assert any(e.level == "Warn" for e in d.errors)


def test_missing_pages_with_checkpoint_names_and_verifies_image(load):
    ck = load("broken-missing-pages.tar")
    assert ck.processes[10].pages_id == 2
    d = diagnose(MISSING.read_text(), ck)
    assert d.image_at_fault == "checkpoint/pages-2.img"
    cause = d.causes[0]
    assert cause.kind == "missing-image"
    assert "missing" in cause.explanation and "checkpoint/pages-2.img" in cause.explanation
    assert "has no checkpoint/pages-2.img" in cause.explanation


def test_missing_pages_pid_route_without_log_hint(load):
    """Without the "No pages-N.img image" line, the pid's pagemap gives pages_id."""
    text = "\n".join(
        ln for ln in MISSING.read_text().splitlines() if "No pages-2.img image" not in ln
    )
    assert "No pages-" not in text
    assert diagnose(text).image_at_fault is None  # nothing to go on without the checkpoint
    ck = load("broken-missing-pages.tar")
    d = diagnose(text, ck)
    assert d.image_at_fault == "checkpoint/pages-2.img"
    assert "pagemap-10.img" in d.causes[0].explanation


def test_criu_too_old_log():
    d = diagnose_file(TOO_OLD)
    assert d.outcome == "failure"
    assert d.criu_version == "3.17.1"
    assert d.kernel.startswith("6.18")
    assert kinds(d) == ["criu-too-old"]
    c = d.causes[0]
    assert c.evidence_line == 27 and "vDSO" in c.evidence
    assert "3.17.1" in c.explanation and "newer CRIU" in c.fix
    assert d.image_at_fault is None


def test_dump_ok_is_success_despite_error_line():
    d = diagnose_file(DUMP_OK)
    assert d.operation == "dump"
    assert d.outcome == "success" and d.ok
    assert d.causes == []
    assert d.image_at_fault is None
    errs = [e for e in d.errors if e.level == "Error"]
    assert len(errs) == 1 and "RLIMIT_NOFILE" in errs[0].text and errs[0].note == "harmless"
    assert "finished successfully" in d.summary


def test_engine_output_points_at_log():
    d = diagnose(PODMAN_CRIU_FAILED)
    assert d.outcome == "failure"
    assert kinds(d) == ["criu-failed"]
    assert d.log_path.endswith("/userdata/restore.log")
    assert find_criu_log(PODMAN_CRIU_FAILED, check_exists=False) == d.log_path


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # real podman 4.3.1 messages seen on this machine
        ('Error: container image "b219b0b720538a052fb48103c946471c7d05c2bb5a64081cf4483fccf1ec9d9d" requires runtime: "crun"',
         "runtime-mismatch"),
        ('Error: creating container storage: the container name "web3" is already in use by 60db39ca2666. '
         "You have to remove that container to be able to reuse that name: that name is already in use", "name-in-use"),
        ("Error: creating container storage: that ID is already in use", "name-in-use"),
        ('Error: creating container storage: parsing named reference "3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de": '
         "invalid repository name (3f8f4c49f0ff92804b2501ebc292e9340cd9d98677d95b404a6576a9fe1835de), cannot specify 64-byte hexadecimal strings",
         "base-image-missing"),
        ("Error: initializing source docker://localhost/busybox:latest: pinging container registry localhost: "
         'Get "https://localhost/v2/": dial tcp 127.0.0.1:443: connect: connection refused', "base-image-missing"),
        ("Error: OCI runtime error: configured runtime does not support checkpoint/restore", "runtime-mismatch"),
        # CRIU messages (texts from CRIU's sources)
        ("(00.1) Error (criu/sk-inet.c:199): inet: Connected TCP socket, consider using --tcp-established option.",
         "tcp-established"),
        ("(00.1)      1: Error (criu/sk-inet.c:740): Connected TCP socket in image", "tcp-established"),
        ("(00.1)      7: Error (criu/sk-inet.c:860): inet: Can't bind inet socket (id 5): Address already in use",
         "address-in-use"),
        ("(00.1) Error (criu/cpu.c:300): cpu: FPU feature required by image is not supported on host", "cpu-mismatch"),
        ("(00.1) Error (criu/files-reg.c:2100): Can't lookup mount=1234 for fd=-3 path=/data/x", "mount-missing"),
        ("(00.1) Error (criu/files-reg.c:1900): File /usr/lib/libc.so.6 has bad size 284 (expect 248)", "file-changed"),
        ("(00.1)      1: Error (criu/cr-restore.c:1500): 10 killed by signal 11: Segmentation fault", "killed-by-signal"),
        ("(00.1) Error (criu/image.c:500): Unable to open core-13.img: No such file or directory", "missing-image"),
        ("(00.1) Error (criu/pagemap.c:330): Can't read mapping page 0: Success", "short-image"),
        ("(00.1) Error (criu/lsm.c:200): apparmor: Can't set profile for task", "seccomp-lsm"),
        ("(00.1) Error (criu/cr-restore.c:100): Can't set RLIMIT_MEMLOCK: Operation not permitted", "permission"),
    ],
)
def test_classification(text, kind):
    d = diagnose(text + "\n(00.2) Error (criu/cr-restore.c:2324): Restoring FAILED.\n")
    assert d.outcome == "failure"
    assert kinds(d)[0] == kind, d.causes


def test_unable_to_open_names_the_image():
    d = diagnose("(00.1) Error (criu/image.c:500): Unable to open core-13.img: No such file or directory\n")
    assert d.image_at_fault == "checkpoint/core-13.img"


def test_unknown_failure_falls_back_to_first_error():
    d = diagnose("(00.1) Error (criu/foo.c:1): something odd\n(00.2) Error (criu/cr-restore.c:2324): Restoring FAILED.\n")
    assert kinds(d) == ["unknown"]
    assert "criu/foo.c:1" in d.causes[0].explanation and d.causes[0].evidence_line == 1


def test_empty_text():
    d = diagnose("")
    assert d.outcome == "unknown" and d.errors == [] and d.causes == []


def test_find_criu_log_workdir(tmp_path):
    (tmp_path / "restore.log").write_text("x")
    assert find_criu_log("no path here", tmp_path) == str(tmp_path / "restore.log")
    printed = f"log file: {tmp_path}/restore.log"
    assert find_criu_log(printed) == str(tmp_path / "restore.log")
    assert find_criu_log("nothing") is None
