# SPDX-License-Identifier: Apache-2.0
"""The actions take their facts from the model, one answer per fact: the architecture, which
CRIU and kernel made the images, the engine, the spec's settings. Checkpoints no fixture has
are derived from real ones (unpacked with tests/corpus.py, then changed)."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from ckpt_tui.actions._proc import run_streaming
from ckpt_tui.actions.build import build_image, checkpoint_annotations
from ckpt_tui.actions.checks import preflight
from ckpt_tui.actions.restore import RestoreOptions
from ckpt_tui.model import load_checkpoint

from .conftest import DATA, LOGS
from .corpus import unpack

TURN2_LOGS = DATA / "turn2" / "logs"


@pytest.fixture(autouse=True)
def no_tools(monkeypatch, tmp_path):
    """Nothing on PATH (no podman, criu or runtime): the checks here do not depend on the host's tools."""
    empty = tmp_path / "no-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def by_name(checks, name):
    found = [c for c in checks if c.name == name]
    return found[0] if found else None


def test_architecture_is_the_models_in_build_and_preflight(tmp_path, monkeypatch):
    """web-httpd has no annotation; its core images say x86-64. Build and preflight both say amd64."""
    with load_checkpoint(DATA / "web-httpd.tar.zst") as ck:
        assert ck.architecture == ("amd64", "core image")
        assert build_image(ck, "x", output_tar=tmp_path / "x.tar").architecture == "amd64"
        monkeypatch.setattr("platform.machine", lambda: "x86_64")
        assert by_name(preflight(ck, RestoreOptions(), criu_check=False), "Architecture").status == "pass"
        monkeypatch.setattr("platform.machine", lambda: "aarch64")
        arch = by_name(preflight(ck, RestoreOptions(), criu_check=False), "Architecture")
        assert arch.status == "fail" and arch.reason == "checkpoint made on amd64, this host is arm64"


def test_criu_version_and_kernel_come_from_the_checkpoints_own_dump_log(tmp_path):
    root = unpack("web-httpd.tar.zst", tmp_path / "web")
    # a restore log given from outside names the restoring host: not the one that dumped
    with load_checkpoint(root, log_files=[TURN2_LOGS / "restore-tcp-without-flag.log"]) as ck:
        ann, _notes = checkpoint_annotations(ck)
        assert not any(k.endswith(("criu.version", "host.kernel")) for k in ann)
        assert by_name(preflight(ck, RestoreOptions(), criu_check=False), "Kernel") is None
    # the container's own output (ctr.log) is no CRIU log either, whatever it prints
    (root / "ctr.log").write_text("(00.000001) Version: 9.9\n(00.000002) Running on x Linux 1.2.3\n")
    with load_checkpoint(root) as ck:
        assert not any(k.endswith(("criu.version", "host.kernel")) for k in checkpoint_annotations(ck)[0])
    # its own dump.log does (CRIU 4.2 on 6.18.44-fc-v669)
    shutil.copy(LOGS / "dump-ok.log", root / "dump.log")
    with load_checkpoint(root) as ck:
        ann, _notes = checkpoint_annotations(ck)
        assert ann["org.criu.checkpoint.criu.version"] == ann["io.podman.annotations.checkpoint.criu.version"] == "40200"
        assert ann["org.criu.checkpoint.host.kernel"] == "6.18.44-fc-v669"
        kernel = by_name(preflight(ck, RestoreOptions(), criu_check=False), "Kernel")
        assert kernel is not None and "6.18.44-fc-v669" in kernel.reason


def test_bare_criu_images_name_no_engine(tmp_path):
    """A `criu dump -D` directory has no engine: the image says so by leaving engine.name out
    (it used to say "CRIU (no engine metadata)", the model's words for no engine)."""
    full = unpack("web-httpd.tar.zst", tmp_path / "full")
    shutil.copytree(full / "checkpoint", tmp_path / "bare")
    with load_checkpoint(tmp_path / "bare") as ck:
        ann, notes = checkpoint_annotations(ck)
    assert "org.criu.checkpoint.engine.name" not in ann
    assert ann["org.criu.checkpoint.host.arch"] == "amd64"
    assert any("container name is unknown" in n for n in notes)


def test_spec_of_any_shape_is_read_without_crashing(tmp_path):
    """spec.dump is the archive's: fields of the wrong type are treated as absent."""
    root = unpack("web-httpd.tar.zst", tmp_path / "web")
    spec = json.loads((root / "spec.dump").read_text())
    spec["process"] = {"capabilities": {"effective": "CAP_SYS_ADMIN", "bounding": ["CAP_SYS_ADMIN", 5]},
                       "apparmorProfile": "containers-default"}
    spec["linux"] = {"seccomp": ["not", "an", "object"], "namespaces": ["pid", {"type": "mount"}]}
    spec["mounts"] = [{"destination": "/data", "type": "bind", "source": str(tmp_path / "gone"), "options": ["rbind"]},
                      "junk"]
    (root / "spec.dump").write_text(json.dumps(spec))
    with load_checkpoint(root) as ck:
        checks = preflight(ck, RestoreOptions(), criu_check=False)
    caps = by_name(checks, "Capabilities")
    assert caps.status == "warn" and caps.details == ["5", "CAP_SYS_ADMIN"]
    assert by_name(checks, "Seccomp").status == "warn"  # not a profile: none
    assert by_name(checks, "LSM").reason.startswith("AppArmor containers-default")
    mounts = by_name(checks, "Mounts")
    assert mounts.status == "warn" and str(tmp_path / "gone") in mounts.reason
    assert "network, pid, ipc, uts" in by_name(checks, "Namespaces").reason


def test_a_failing_output_callback_stops_the_command(tmp_path):
    """When the caller's on_output raises, the command is killed and reaped, not left running."""
    pidfile = tmp_path / "pid"
    script = f"echo $$ > {pidfile}; echo started; exec /bin/sleep 60"

    def on_output(line: str) -> None:
        raise RuntimeError(f"the UI is gone ({line})")

    with pytest.raises(RuntimeError, match="the UI is gone"):
        run_streaming(["/bin/sh", "-c", script], on_output)
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_streaming_reports_a_missing_program():
    res = run_streaming([sys.executable + "-does-not-exist"])
    assert res.returncode is None and "command not found" in res.error
