# SPDX-License-Identifier: Apache-2.0
"""One test per failure class of issue #12: from a real log where tests/data has one, else from
CRIU's (or the engine's) exact message text, framed as CRIU logs it."""

from __future__ import annotations

import pytest

from ckpt_tui.actions.diagnose import diagnose, diagnose_file

from .conftest import DATA, LOGS

TURN2 = DATA / "turn2" / "logs"


def kinds(d):
    return [c.kind for c in d.causes]


@pytest.mark.parametrize("path, kind", [
    (LOGS / "restore-missing-pages.log", "missing-image"),
    (TURN2 / "restore-core-truncated.log", "short-image"),
    (TURN2 / "restore-inventory-missing.podman.txt", "missing-image"),
    (TURN2 / "restore-file-bad-size.log", "file-changed"),
    (TURN2 / "restore-tcp-without-flag.log", "tcp-established"),
    (TURN2 / "restore-name-in-use.podman.txt", "name-in-use"),
    (TURN2 / "restore-image-missing.podman.txt", "base-image-missing"),
    (TURN2 / "restore-static-ip-conflict.podman.txt", "address-in-use"),
    (LOGS / "restore-criu-too-old.log", "criu-too-old"),
    (TURN2 / "restore-file-bad-size.podman.txt", "criu-failed"),  # the engine's wrapper alone
])
def test_real_logs(path, kind):
    d = diagnose_file(path)
    assert d.outcome == "failure"
    assert kinds(d)[0] == kind


def test_short_core_image_names_it():
    d = diagnose_file(TURN2 / "restore-core-truncated.log")
    assert d.image_at_fault == "checkpoint/core-1.img"


def _log(*lines: str, op: str = "Restoring") -> str:
    body = "\n".join(f"(00.{i + 100:06d}) {ln}" for i, ln in enumerate(lines))
    return f"(00.000001) Version: 4.2 (gitid 0)\n{body}\n(00.900000) Error (criu/cr-restore.c:2460): {op} FAILED.\n"


# exact texts from CRIU's sources (file and format string), a pid and values filled in
@pytest.mark.parametrize("line, kind", [
    ("     1: Error (criu/files-reg.c:2294): File etc/motd has bad mode 0100600 (expect 0100644)", "file-bad-mode"),
    ("     1: Error (criu/files-reg.c:2153): File usr/lib/libc.so.6 has bad build-ID", "file-build-id"),
    ("     1: Error (criu/cr-restore.c:1539): Pid 10 do not match expected 11", "pid-clash"),
    ("    10: Error (criu/pie/restorer.c:755): Thread pid mismatch 12/13", "pid-clash"),
    ("Error (criu/cr-restore.c:1230): Can't fork for 10: File exists", "pid-clash"),
    ("Error (criu/arch/x86/cpu.c:247): FPU feature required by image is not supported on host "
     "(fpu:0 fxsr:0 osxsave:0 xsaves:1)", "cpu-mismatch"),
    ("Error (criu/arch/x86/cpu.c:262): CPU xfeatures has unsupported bits (0x200)", "cpu-mismatch"),
    ("     1: Error (criu/pie/restorer.c:196): can't write lsm profile -13", "seccomp-lsm"),
    ("Error (criu/lsm.c:360): mismatched lsm types and lsm profile specified", "seccomp-lsm"),
    ("     1: Error (criu/sk-inet.c:912): Connected TCP socket in image", "tcp-established"),
    ("     8: Error (criu/sk-inet.c:1085): Can't connect inet socket back: Cannot assign requested address",
     "connect-back"),
    ("     8: Error (criu/sk-inet.c:1009): Can't bind inet socket (id 5): Address already in use", "address-in-use"),
    ("Error (criu/mount.c:3141): No mapping for 1104:/etc/hosts mountpoint", "mount-missing"),
    ("     1: Error (criu/files-reg.c:1790): Can't lookup mount=1104 for fd=3 path=/data/f", "mount-missing"),
    ("Error (criu/cgroup.c:1490): cg: Failed writing 0-63 to cpuset/libpod/cpuset.cpus: No space left on device",
     "cgroup-nospc"),
    ("Error (criu/image.c:198): Missing required plugin: cuda_plugin", "missing-plugin"),
    ("Error (plugins/amdgpu/amdgpu_plugin.c:1240): amdgpu_plugin: Failed to restore topology: device mismatch", "gpu"),
    ("     1: Error (criu/pie/restorer.c:347): Unable to restore capabilities: -22", "capabilities"),
    ("     1: Error (criu/pie/restorer.c:2335): Restorer fail 1", "restorer"),
    ("Error (criu/cr-restore.c:1500): 10 killed by signal 11: Segmentation fault", "killed-by-signal"),
])
def test_exact_criu_texts(line, kind):
    d = diagnose(_log(line))
    assert d.outcome == "failure"
    assert kinds(d)[0] == kind, (kinds(d), d.causes[0].title)
    assert d.causes[0].fix


def test_sigill_right_after_a_successful_restore():
    text = ("(00.000001) Version: 4.2 (gitid 0)\n(00.500000) Restore finished successfully. Tasks resumed.\n"
            "(00.600000) 1 exited, status=132\n")
    d = diagnose(text)
    assert "sigill-exit" in kinds(d)
    assert "SIGILL" in d.causes[0].title and "132" in d.causes[0].explanation


@pytest.mark.parametrize("text, kind", [
    ('Error: OCI runtime error: runc: criu failed: type RESTORE errno 0\n', "criu-failed"),
    ("Error: CRIU restoring failed -52\n", "engine-wrapper"),
    ("Error: OCI runtime error: crun: open checkpoint/restore: No such file\n", "engine-wrapper"),
    ('Error: configured runtime does not support checkpoint/restore\n', "runtime-mismatch"),
    ("E1201 rpc error: code = Unknown desc = checkpoint/restore support not available\n", "crio-disabled"),
])
def test_engine_messages(text, kind):
    d = diagnose(text)
    assert kinds(d)[0] == kind


def test_wrapper_points_at_the_log():
    d = diagnose("Error: OCI runtime error: runc: criu failed: type RESTORE errno 0\n"
                 "log file: /var/lib/containers/storage/overlay-containers/abc/userdata/restore.log\n")
    assert d.log_path == "/var/lib/containers/storage/overlay-containers/abc/userdata/restore.log"
    assert d.log_path in d.causes[0].explanation
    d = diagnose("Error: CRIU restoring failed -52\n")
    assert "CRI-O keeps it in the container's userdata directory" in d.causes[0].explanation


def test_dump_that_stops_after_seize():
    """dump-ok.log (real) cut after its last `Seized task` line, as the log of a dump that hung
    or was killed there looks: not 'unknown', not exit 0."""
    lines = (LOGS / "dump-ok.log").read_text().splitlines()
    last = max(i for i, ln in enumerate(lines) if "Seized task" in ln)
    d = diagnose("\n".join(lines[: last + 3]) + "\n", log_path="dump.log")
    assert d.outcome == "failure" and d.operation == "dump"
    assert kinds(d) == ["dump-hung"]
    cause = d.causes[0]
    assert "after seizing task 15363" in cause.explanation
    assert "freezer was last logged FROZEN" in cause.explanation and "still frozen" in cause.explanation
    assert cause.evidence_line == last + 1


def test_hung_dump_cli_exit(tmp_path, capsys):
    from ckpt_tui.cli import main

    lines = (LOGS / "dump-ok.log").read_text().splitlines()
    last = max(i for i, ln in enumerate(lines) if "Seized task" in ln)
    cut = tmp_path / "dump.log"
    cut.write_text("\n".join(lines[: last + 1]) + "\n")
    assert main(["diagnose", str(cut)]) == 1
    assert "The dump hung or was killed" in capsys.readouterr().out
    assert main(["diagnose", str(LOGS / "dump-ok.log")]) == 0  # the whole log is a success
