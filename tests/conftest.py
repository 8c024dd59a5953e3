"""Shared test paths. The fixtures in tests/data are real checkpoints (see tests/data/README.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

# bugs met on odd input must fail tests, not turn into problem messages
os.environ.setdefault("CKPT_TUI_STRICT", "1")
for _var in ("CKPT_TUI_CACHE", "CKPT_TUI_CACHE_DIR", "CKPT_TUI_CACHE_MAX"):  # tests that want it set it
    os.environ.pop(_var, None)

DATA = Path(__file__).parent / "data"
ORACLE = DATA / "oracle"
LOGS = DATA / "logs"

# podman archives that checkpointctl and crit were run on (tests/data/oracle/<name>/)
PODMAN_FIXTURES = [
    "web-httpd",
    "web-ignore-rootfs",
    "ps-tree",
    "ps-tree-uncompressed",
    "tcp-established",
    "tcp-server",
    "memhog-16m-threads",
]
FIXTURE_FILES = {
    "web-httpd": "web-httpd.tar.zst",
    "web-ignore-rootfs": "web-ignore-rootfs.tar.zst",
    "ps-tree": "ps-tree.tar.gz",
    "ps-tree-uncompressed": "ps-tree-uncompressed.tar",
    "tcp-established": "tcp-established.tar.zst",
    "tcp-server": "tcp-server.tar.zst",
    "memhog-16m-threads": "memhog-16m-threads.tar.zst",
}


@pytest.fixture
def held_load(monkeypatch):
    """load_checkpoint waits for the returned event before it starts (the UI's load worker
    then sits in "loading" until the test sets it)."""
    import ckpt_tui.model

    gate = threading.Event()
    real = ckpt_tui.model.load_checkpoint

    def held(*args, **kwargs):
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(ckpt_tui.model, "load_checkpoint", held)
    yield gate
    gate.set()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Every bad-input case of tests/corpus.py, built once: name -> checkpoint directory."""
    from .corpus import CASES, build

    root = tmp_path_factory.mktemp("corpus")
    return {c.name: build(c, root / c.name) for c in CASES}
