"""Checkpoint images for the registry tests, made from the real fixtures.

``ckpt-tui build``'s own writer (``actions.build.build_image``) turns the real Podman archives of
``tests/data`` into OCI layouts, uncompressed (read by range) and gzip (streamed); the real
checkpoint images of ``tests/data`` (podman ``--create-image``, containerd ``ctr c checkpoint``)
are used as they are. ``zchunked``: skopeo's zstd:chunked recompression of our layouts. (The
session fixtures ``images``, ``zchunked`` and ``estargz`` are in tests/conftest.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import DATA


def _build(src: Path, out: Path, name: str, compression: str) -> Path:
    from ckpt_tui.actions.build import build_image
    from ckpt_tui.model import load_checkpoint

    if not (out / "index.json").exists():
        ck = load_checkpoint(src)
        try:
            build_image(ck, name, oci_dir=out, compression=compression)
        finally:
            ck.close()
    return out


def zstd_chunked(layout: Path, out: Path) -> Path:
    """``layout`` recompressed as zstd:chunked by skopeo (containers/image's own writer)."""
    import os
    import shutil
    import subprocess

    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo is not installed")
    if not (out / "index.json").exists():
        env = {**os.environ, "HOME": str(out.parent / "skopeo-home")}  # no blob-info cache of the machine's
        got = subprocess.run([exe, "copy", "--dest-compress-format", "zstd:chunked", "--dest-compress",
                              f"oci:{layout}", f"oci:{out}"], capture_output=True, text=True, env=env, timeout=300)
        assert got.returncode == 0, got.stderr
    return out


def make_zchunked(images: dict[str, Path], root: Path) -> dict[str, Path]:
    return {"mem": zstd_chunked(images["mem-plain"], root / "mem"), "web": zstd_chunked(images["web-plain"], root / "web")}


def make_estargz(images: dict[str, Path], root: Path) -> dict[str, Path]:
    """Our layouts with their layer rewritten as eStargz by tests/estargz_writer.py (no real
    eStargz producer is available here)."""
    from .estargz_writer import estargz_layout

    return {"mem": estargz_layout(images["mem-plain"], root / "mem"),
            "web": estargz_layout(images["web-plain"], root / "web")}


def make_images(root: Path) -> dict[str, Path]:
    return {
        "web-plain": _build(DATA / "web-httpd.tar.zst", root / "web-plain", "localhost/web:plain", "none"),
        "web-gzip": _build(DATA / "web-httpd.tar.zst", root / "web-gzip", "localhost/web:gzip", "gzip"),
        "mem-plain": _build(DATA / "memhog-16m-threads.tar.zst", root / "mem-plain", "localhost/mem:plain", "none"),
        "podman": DATA / "podman-checkpoint-image.oci.tar",
        "containerd": DATA / "containerd-checkpoint.oci.tar",
    }
