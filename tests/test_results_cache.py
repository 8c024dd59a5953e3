"""The opt-in cache of finished ``inspect --json`` results (ckpt_tui/archive/results.py)
and how it is turned on (``CKPT_TUI_CACHE_DIR``, ``CKPT_TUI_CACHE``, ``--cache``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ckpt_tui.model
from ckpt_tui.archive import cachedir, results
from ckpt_tui.archive.cache import Cache
from ckpt_tui.cli import main

from .conftest import DATA

SRC = DATA / "tcp-server.tar.zst"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for var in (results.ENV_DIR, results.ENV_ON, "CKPT_TUI_CACHE_MAX"):
        # set, then removed: monkeypatch then restores "unset" after the test even when the
        # code under test (--cache) set it in between
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def arc(tmp_path) -> Path:
    dst = tmp_path / SRC.name
    shutil.copyfile(SRC, dst)
    return dst


def _no_loading(monkeypatch):
    """Any attempt to read the archive now fails the test."""

    def boom(*_a, **_k):
        raise AssertionError("the archive was read although its result was cached")

    monkeypatch.setattr(ckpt_tui.model, "load_checkpoint", boom)


def _inspect(capsys, *args: str) -> str:
    assert main(["inspect", "--json", *args]) == 0
    return capsys.readouterr().out


def _entries(base: Path) -> list[Path]:
    root = base / results.ROOT
    return sorted(p for p in root.iterdir() if len(p.name) == 32) if root.is_dir() else []


def test_off_by_default_nothing_written(arc, capsys, tmp_path, monkeypatch):
    first = _inspect(capsys, str(arc))
    assert json.loads(first)["processes"]
    assert not (tmp_path / "xdg").exists()
    assert results.lookup_result(arc, "inspect", {"json": True, "max_size": None}) is None


def test_second_run_is_served_from_the_cache(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    first = _inspect(capsys, str(arc))
    assert len(_entries(tmp_path / "c")) >= 1
    _no_loading(monkeypatch)
    assert _inspect(capsys, str(arc)) == first
    # the same archive named by a relative path is the same entry
    monkeypatch.chdir(arc.parent)
    assert _inspect(capsys, arc.name) == first


def test_a_changed_archive_is_a_miss(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    _inspect(capsys, str(arc))
    st = arc.stat()
    os.utime(arc, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    calls = []
    real = ckpt_tui.model.load_checkpoint

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(ckpt_tui.model, "load_checkpoint", counting)
    _inspect(capsys, str(arc))
    assert len(calls) == 1


def test_options_that_change_the_output_are_part_of_the_key(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    _inspect(capsys, str(arc))
    # a tiny --max-size makes a different (failing) answer: it must not be served the cached one
    assert main(["inspect", "--json", "--max-size", "1K", str(arc)]) == 2
    assert "--max-size" in capsys.readouterr().err


def test_cache_flag_uses_the_user_cache_dir(arc, capsys, tmp_path, monkeypatch):
    first = _inspect(capsys, "--cache", str(arc))
    base = tmp_path / "xdg" / "ckpt-tui"
    assert _entries(base), "--cache keeps entries in $XDG_CACHE_HOME/ckpt-tui"
    assert oct((base / results.ROOT).stat().st_mode & 0o777) == "0o700"
    _no_loading(monkeypatch)
    monkeypatch.delenv(results.ENV_ON, raising=False)  # --cache set it for the process
    assert _inspect(capsys, "--cache", str(arc)) == first


def test_cache_env_on_and_off(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_ON, "1")
    assert results.cache_dir() == str(tmp_path / "xdg" / "ckpt-tui")
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "elsewhere"))
    assert results.cache_dir() == str(tmp_path / "elsewhere")
    monkeypatch.setenv(results.ENV_ON, "0")  # off wins over a directory
    assert results.cache_dir() is None
    _inspect(capsys, str(arc))
    assert not (tmp_path / "elsewhere").exists()
    assert results.cache_dir("") is None  # Limits(cache_dir="") is off whatever the environment says


def test_damaged_or_foreign_entries_are_misses(arc, capsys, tmp_path, monkeypatch):
    base = tmp_path / "c"
    monkeypatch.setenv(results.ENV_DIR, str(base))
    first = _inspect(capsys, str(arc))
    opts = {"json": True, "max_size": None}
    assert results.lookup_result(arc, "inspect", opts) == first.encode()
    [entry] = [e for e in _entries(base) if (e / results.RESULT).exists()]
    # truncated result: a miss, and the next run recomputes and replaces it
    (entry / results.RESULT).write_bytes(first.encode()[:100])
    assert results.lookup_result(arc, "inspect", opts) is None
    assert _inspect(capsys, str(arc)) == first
    assert results.lookup_result(arc, "inspect", opts) == first.encode()
    # a cache directory others may write to is not trusted
    root = base / results.ROOT
    root.chmod(0o777)
    try:
        assert results.lookup_result(arc, "inspect", opts) is None
    finally:
        root.chmod(0o700)
    # an entry whose identity does not match (e.g. written for another archive) is a miss
    ident = json.loads((entry / "ident.json").read_text())
    ident["size"] += 1
    (entry / "ident.json").write_text(json.dumps(ident))
    assert results.lookup_result(arc, "inspect", opts) is None


def test_results_with_errors_are_not_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    broken = tmp_path / "broken.tar"
    shutil.copyfile(DATA / "broken-missing-pages.tar", broken)
    monkeypatch.delenv("CKPT_TUI_STRICT", raising=False)
    out = _inspect(capsys, str(broken))
    assert any(p["severity"] == "error" for p in json.loads(out)["problems"])
    assert results.lookup_result(broken, "inspect", {"json": True, "max_size": None}) is None


def test_bounded_least_recently_used_first(tmp_path):
    base = tmp_path / "c"
    cache = Cache.at(str(base), max_bytes=250)
    assert cache is not None
    for i in range(4):
        assert cache.publish(f"{i:032x}", {"result.bin": b"x" * 100}, 100)
        os.utime(cache.root / f"{i:032x}" / "lock", (1000 + i, 1000 + i))
    cache.evict()
    left = sorted(p.name for p in _entries(base))
    assert left == [f"{2:032x}", f"{3:032x}"]
    assert not cache.publish("f" * 32, {"result.bin": b"y" * 300}, 300)  # larger than the bound: not kept


def test_unwritable_cache_dir_is_never_an_error(arc, capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv(results.ENV_DIR, str(blocker))
    assert json.loads(_inspect(capsys, str(arc)))["processes"]
    assert json.loads(_inspect(capsys, str(arc)))["processes"]


def test_cli_fast_path_imports_no_model(arc, tmp_path):
    """The cached answer is printed before argparse, the model or protobuf are imported."""
    env = dict(os.environ, CKPT_TUI_CACHE_DIR=str(tmp_path / "c"))
    env.pop("CKPT_TUI_CACHE", None)
    cmd = [sys.executable, "-c",
           "import sys; from ckpt_tui.cli import main; rc = main(); "
           "sys.stderr.write(' '.join(sorted(m for m in sys.modules if m.startswith(('ckpt_tui', 'google', 'argparse')))));"
           "sys.exit(rc)", "inspect", "--json", str(arc)]
    cold = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    assert cold.returncode == 0, cold.stderr
    assert "ckpt_tui.model" in cold.stderr.decode()
    warm = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    assert warm.returncode == 0 and warm.stdout == cold.stdout
    loaded = warm.stderr.decode().split()
    assert "ckpt_tui.archive.results" in loaded
    assert not [m for m in loaded if m.startswith(("ckpt_tui.model", "ckpt_tui.criu", "google", "argparse"))], loaded


def test_broken_pipe_is_quiet():
    """The reader is gone before anything is written (``| head`` that already quit)."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "ckpt_tui", "inspect", "--json", str(SRC)], stdout=w,
                              stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(w)
    assert proc.returncode == 0
    assert proc.stderr == b"", proc.stderr


def test_metadata_is_reported_on_a_cache_hit_too(arc, tmp_path):
    from ckpt_tui.archive import Limits, open_source

    limits = Limits(cache_dir=str(tmp_path / "c"))
    seen: list[dict] = []
    with open_source(arc, limits=limits, on_metadata=seen.append) as src:
        assert not src.from_cache
    assert seen and seen[-1]["config"]["name"]
    hit: list[dict] = []
    with open_source(arc, limits=limits, on_metadata=hit.append) as src:
        assert src.from_cache
    assert hit and hit[-1]["config"] == seen[-1]["config"] and hit[-1]["spec"] == seen[-1]["spec"]
    assert hit[-1]["kind"] == "tar+zstd"


def test_a_path_through_a_symlink_is_not_served_another_archive(tmp_path, capsys, monkeypatch):
    """`sd/../a.tar.zst` with `sd` a link elsewhere names another file than `a.tar.zst`."""
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    here, other = tmp_path / "here", tmp_path / "other"
    (other / "dir").mkdir(parents=True)
    here.mkdir()
    shutil.copyfile(DATA / "web-httpd.tar.zst", here / "a.tar.zst")
    shutil.copyfile(DATA / "ps-tree.tar.gz", other / "a.tar.zst")
    (here / "sd").symlink_to(other / "dir")
    monkeypatch.chdir(here)
    assert json.loads(_inspect(capsys, "a.tar.zst"))["container"]["name"] == "web"
    assert json.loads(_inspect(capsys, "sd/../a.tar.zst"))["container"]["name"] == "tree"


def test_a_rewrite_that_keeps_size_and_mtime_is_a_miss(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    _inspect(capsys, str(arc))
    st = arc.stat()
    data = bytearray(arc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arc.write_bytes(bytes(data))
    os.utime(arc, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime; ctime moved
    assert results.lookup_result(arc, "inspect", {"json": True, "max_size": None}) is None


def test_other_ckpt_tui_code_is_a_miss(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    opts = {"json": True, "max_size": None}
    _inspect(capsys, str(arc))
    assert results.lookup_result(arc, "inspect", opts) is not None
    monkeypatch.setattr(cachedir, "_CODE", ["another build"])
    assert results.lookup_result(arc, "inspect", opts) is None


def test_a_result_damaged_in_place_is_a_miss(arc, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    first = _inspect(capsys, str(arc))
    [entry] = [e for e in _entries(tmp_path / "c") if (e / results.RESULT).exists()]
    (entry / results.RESULT).write_bytes(b"X" * len(first.encode()))  # same size, other bytes
    assert results.lookup_result(arc, "inspect", {"json": True, "max_size": None}) is None
    assert _inspect(capsys, str(arc)) == first


def test_a_zero_bound_keeps_nothing_and_big_archives_are_not_spilled_into_it(arc, capsys, tmp_path, monkeypatch):
    from ckpt_tui.archive import open_source

    monkeypatch.setenv(results.ENV_DIR, str(tmp_path / "c"))
    monkeypatch.setenv("CKPT_TUI_CACHE_MAX", "0")
    _inspect(capsys, str(arc))
    assert not _entries(tmp_path / "c")
    monkeypatch.setenv("CKPT_TUI_CACHE_MAX", "1K")  # smaller than the archive itself

    def no_staging(self, key):
        raise AssertionError("an archive larger than the bound was spilled into the cache")

    monkeypatch.setattr(Cache, "stage", no_staging)
    with open_source(DATA / "memhog-16m-threads.tar.zst") as src:
        assert not src.from_cache and src.read("config.dump")
