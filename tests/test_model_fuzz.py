"""Property tests: random damage to real CRIU images never makes the model raise (issue #7)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_tui.archive import open_source
from ckpt_tui.model import build_checkpoint

from .corpus import unpack

_ROOT: Path | None = None


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = unpack("web-httpd.tar.zst", Path(tempfile.mkdtemp(prefix="ckpt-tui-fuzz-")) / "web")
    return _ROOT


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    if _ROOT is not None:
        shutil.rmtree(_ROOT.parent, ignore_errors=True)


IMAGES = ["pstree.img", "core-1.img", "core-10.img", "mm-10.img", "pagemap-10.img", "files.img",
          "fdinfo-3.img", "ids-10.img", "fs-10.img", "inventory.img", "mountpoints-13.img", "utsns-12.img"]


@settings(max_examples=int(os.environ.get("CKPT_FUZZ_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    image=st.sampled_from(IMAGES),
    data=st.data(),
)
def test_mutated_image_never_raises(image, data):
    root = _root()
    path = root / "checkpoint" / image
    original = path.read_bytes()
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice", "random"]))
    if kind == "flip":
        pos = data.draw(st.integers(0, len(original) - 1))
        mutated = original[:pos] + bytes([original[pos] ^ data.draw(st.integers(1, 255))]) + original[pos + 1:]
    elif kind == "truncate":
        mutated = original[: data.draw(st.integers(0, len(original)))]
    elif kind == "splice":
        pos = data.draw(st.integers(0, len(original)))
        mutated = original[:pos] + data.draw(st.binary(max_size=64)) + original[pos:]
    else:
        mutated = data.draw(st.binary(max_size=256))
    path.write_bytes(mutated)
    try:
        with open_source(root) as src:
            ck = build_checkpoint(src)
            # every part stays reachable
            for proc in ck.process_list():
                _ = proc.title, proc.env_dict, proc.memory_size
            if mutated != original:
                assert ck.problems or kind != "random"
    finally:
        path.write_bytes(original)
