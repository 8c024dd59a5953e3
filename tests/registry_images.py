"""Checkpoint images for the registry tests, made from the real fixtures.

``ckpt-tui build``'s own writer (``actions.build.build_image``) turns the real Podman archives of
``tests/data`` into OCI layouts, uncompressed (read by range) and gzip (streamed); the real
checkpoint images of ``tests/data`` (podman ``--create-image``, containerd ``ctr c checkpoint``)
are used as they are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import DATA


def _build(src: Path, out: Path, name: str, compression: str) -> Path:
    from ckpt_tui.actions.build import build_image

    if not (out / "index.json").exists():
        build_image(src, name, oci_dir=out, compression=compression)
    return out


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    return {
        "web-plain": _build(DATA / "web-httpd.tar.zst", root / "web-plain", "localhost/web:plain", "none"),
        "web-gzip": _build(DATA / "web-httpd.tar.zst", root / "web-gzip", "localhost/web:gzip", "gzip"),
        "mem-plain": _build(DATA / "memhog-16m-threads.tar.zst", root / "mem-plain", "localhost/mem:plain", "none"),
        "podman": DATA / "podman-checkpoint-image.oci.tar",
        "containerd": DATA / "containerd-checkpoint.oci.tar",
    }
