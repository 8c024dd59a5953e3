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
# the developer's own ~/.config/ckpt-tui/keymap.toml must not change what the UI tests press
# (a directory that does not exist: no keymap; the keymap tests give theirs)
os.environ["XDG_CONFIG_HOME"] = os.path.join(os.path.dirname(__file__), "data", "no-config-here")

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
def checkpoint_dir(tmp_path_factory):
    """checkpoint_dir("web-httpd") -> a directory holding that podman fixture's CRIU images
    (unpacked once, without ckpt_tui.archive: tests/criu_images.py)."""
    from .criu_images import extract_checkpoint

    extracted: dict[str, Path] = {}

    def get(fixture: str) -> Path:
        if fixture not in extracted:
            dest = tmp_path_factory.mktemp(f"ckpt-{fixture}")
            extracted[fixture] = extract_checkpoint(DATA / FIXTURE_FILES[fixture], dest)
        return extracted[fixture]

    return get


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Every bad-input case of tests/corpus.py, built once: name -> checkpoint directory."""
    from .corpus import CASES, build

    root = tmp_path_factory.mktemp("corpus")
    return {c.name: build(c, root / c.name) for c in CASES}


# -- the registry tests' registries and images (tests/registry_fixtures.py, tests/registry_images.py)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """The real CNCF distribution registry on 127.0.0.1, without auth (skips without it)."""
    from .registry_fixtures import start_registry, stop_registry

    reg = start_registry(tmp_path_factory.mktemp("registry"), auth=False)
    yield reg
    stop_registry(reg)


@pytest.fixture(scope="session")
def registry_auth(tmp_path_factory):
    """The same with htpasswd basic auth (registry_fixtures.USER / PASSWORD)."""
    from .registry_fixtures import start_registry, stop_registry

    reg = start_registry(tmp_path_factory.mktemp("registry-auth"), auth=True)
    yield reg
    stop_registry(reg)


@pytest.fixture
def fake_registry():
    """An in-process fake registry whose behaviour each test sets (registry_fixtures.FakeRegistry)."""
    from .registry_fixtures import FakeRegistry

    fake = FakeRegistry()
    yield fake
    fake.close()


@pytest.fixture
def other_host():
    """A second fake registry reached as ``localhost`` (another host than 127.0.0.1)."""
    from .registry_fixtures import FakeRegistry

    fake = FakeRegistry()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Checkpoint images made from the real fixtures: name -> OCI layout or archive."""
    from .registry_images import make_images

    return make_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def zchunked(images, tmp_path_factory):
    """``images``' layouts recompressed as zstd:chunked by skopeo."""
    from .registry_images import make_zchunked

    return make_zchunked(images, tmp_path_factory.mktemp("zchunked"))


@pytest.fixture(scope="session")
def estargz(images, tmp_path_factory):
    """``images``' layouts with their layer rewritten as eStargz."""
    from .registry_images import make_estargz

    return make_estargz(images, tmp_path_factory.mktemp("estargz"))
