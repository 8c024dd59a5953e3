"""The opt-in re-open cache of the archive layer (ckpt_tui/archive/cache.py)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from ckpt_tui.archive import Limits, cachedir, open_source, tarstream
from ckpt_tui.archive import cache as cache_mod

DATA = Path(__file__).parent / "data"
MEMHOG = DATA / "memhog-16m-threads.tar.zst"  # a 16 MiB pages image: spilled
WEB = DATA / "web-httpd.tar.zst"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(cachedir.ENV_DIR, raising=False)
    monkeypatch.delenv(cache_mod.ENV_MAX, raising=False)


def _copy(tmp_path: Path, src: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return dst


def _snapshot(src) -> dict:
    out = {"kind": src.kind, "description": src.description, "annotations": src.annotations,
           "synthesized": sorted(src.synthesized), "problems": [(p.source, p.message, p.pane, p.severity) for p in src.problems],
           "members": [(m.name, m.size, m.type, m.mode, m.mtime, m.linkname, m.uid, m.gid) for m in src.members.values()]}
    data = {}
    for name, m in src.members.items():
        if m.type in ("file", "hardlink"):
            data[name] = src.read(name)
            rng = src.file_range(name)
            if rng is not None:
                path, off, size = rng
                with open(path, "rb") as f:
                    f.seek(off)
                    assert f.read(size) == data[name]
    out["data"] = data
    return out


def _entries(cache_dir: Path) -> list[Path]:
    root = cache_dir / cachedir.ROOT
    return sorted(p for p in root.iterdir() if len(p.name) == 32) if root.is_dir() else []


def test_off_by_default(tmp_path):
    arc = _copy(tmp_path, MEMHOG)
    with open_source(arc) as src:
        assert not src.from_cache
    with open_source(arc) as src:
        assert not src.from_cache
    assert sorted(p.name for p in tmp_path.iterdir()) == [arc.name]


@pytest.mark.parametrize("how", ["env", "limits"])
def test_reopen_from_cache_is_identical(tmp_path, monkeypatch, how):
    arc = _copy(tmp_path, MEMHOG)
    cdir = tmp_path / "cache"
    if how == "env":
        monkeypatch.setenv(cachedir.ENV_DIR, str(cdir))
        limits = None
    else:
        limits = Limits(cache_dir=cdir)
    with open_source(arc, limits=Limits(cache_dir="")) as plain:
        want = _snapshot(plain)
    with open_source(arc, limits=limits) as first:
        assert not first.from_cache
        assert _snapshot(first) == want
        path, _off, _size = first.file_range("checkpoint/pages-1.img")
        assert str(path).startswith(str(cdir))  # spilled straight into the cache entry
    assert len(_entries(cdir)) == 1
    with open_source(arc, limits=limits) as again:
        assert again.from_cache
        assert _snapshot(again) == want


def test_limits_empty_string_turns_it_off(tmp_path, monkeypatch):
    arc = _copy(tmp_path, WEB)
    monkeypatch.setenv(cachedir.ENV_DIR, str(tmp_path / "cache"))
    for _ in range(2):
        with open_source(arc, limits=Limits(cache_dir="")) as src:
            assert not src.from_cache
    assert not (tmp_path / "cache").exists()


def test_changed_archive_is_a_miss(tmp_path):
    arc = _copy(tmp_path, WEB)
    lim = Limits(cache_dir=tmp_path / "cache")
    open_source(arc, limits=lim).close()
    st = arc.stat()
    os.utime(arc, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with open_source(arc, limits=lim) as src:
        assert not src.from_cache
    with open_source(arc, limits=lim) as src:
        assert src.from_cache
    # other limits, other entry
    with open_source(arc, limits=Limits(cache_dir=tmp_path / "cache", max_members=10_000)) as src:
        assert not src.from_cache


@pytest.mark.parametrize("damage", ["index", "spill", "inline", "ident", "garbage-dir"])
def test_damaged_entry_is_a_miss_and_is_replaced(tmp_path, damage):
    arc = _copy(tmp_path, MEMHOG)
    cdir = tmp_path / "cache"
    lim = Limits(cache_dir=cdir)
    with open_source(arc, limits=Limits(cache_dir="")) as plain:
        want = _snapshot(plain)
    open_source(arc, limits=lim).close()
    (entry,) = _entries(cdir)
    if damage == "index":
        (entry / "index.json").write_text("{not json")
    elif damage == "spill":
        spill = next(p for p in entry.iterdir() if p.name.startswith("m"))
        with open(spill, "r+b") as f:
            f.truncate(100)
    elif damage == "inline":
        with open(entry / "inline.bin", "r+b") as f:
            f.truncate(10)
    elif damage == "ident":
        text = (entry / "index.json").read_text().replace(str(arc), "/elsewhere")
        (entry / "index.json").write_text(text)
    else:
        for child in entry.iterdir():
            child.unlink()
    with open_source(arc, limits=lim) as src:
        assert not src.from_cache
        assert _snapshot(src) == want
    with open_source(arc, limits=lim) as src:
        assert src.from_cache
        assert _snapshot(src) == want


def test_bounded_lru_and_entries_in_use_survive(tmp_path):
    cdir = tmp_path / "cache"
    arcs = []
    for i in range(3):
        d = tmp_path / f"a{i}"
        d.mkdir()
        arcs.append(_copy(d, MEMHOG))
    # room for two entries of ~16.9 MB, not three
    lim = Limits(cache_dir=cdir, cache_max_bytes=40 << 20)
    held = open_source(arcs[0], limits=lim)  # in use while the others come in
    open_source(arcs[1], limits=lim).close()
    open_source(arcs[2], limits=lim).close()
    # arcs[0] is the least recently used but held open: arcs[1] went instead
    with open_source(arcs[0], limits=lim) as src:
        assert src.from_cache
    assert held.read("checkpoint/pages-1.img", 64)
    held.close()
    with open_source(arcs[1], limits=lim) as src:
        assert not src.from_cache
    assert len(_entries(cdir)) == 2
    total = sum(int((e / "size").read_text()) for e in _entries(cdir))
    assert total <= 40 << 20


def test_entry_larger_than_the_bound_is_not_kept(tmp_path):
    arc = _copy(tmp_path, MEMHOG)
    cdir = tmp_path / "cache"
    lim = Limits(cache_dir=cdir, cache_max_bytes=1 << 20)
    with open_source(arc, limits=lim) as src:
        assert src.read("checkpoint/pages-1.img", 16)
        path = src.file_range("checkpoint/pages-1.img")[0]
        assert path.exists()
    assert not path.exists()  # the staging dir went with the source
    assert _entries(cdir) == []
    with open_source(arc, limits=lim) as src:
        assert not src.from_cache


def test_unusable_cache_dir_is_ignored(tmp_path):
    arc = _copy(tmp_path, WEB)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with open_source(arc, limits=Limits(cache_dir=blocker)) as src:
        assert not src.from_cache and src.members


def test_write_failure_falls_back_to_the_workspace(tmp_path, monkeypatch):
    arc = _copy(tmp_path, MEMHOG)
    cdir = tmp_path / "cache"
    real = tarstream._write_all
    calls = {"n": 0}

    def failing(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(cdir)):
            calls["n"] += 1
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(tarstream, "_write_all", failing)
    with open_source(arc, limits=Limits(cache_dir=cdir)) as src:
        assert calls["n"] == 1
        assert not src.from_cache
        assert len(src.read("checkpoint/pages-1.img")) == 16859136
        assert not str(src.file_range("checkpoint/pages-1.img")[0]).startswith(str(cdir))
    assert _entries(cdir) == []
    assert not any(p.name.startswith("tmp-") for p in (cdir / cachedir.ROOT).iterdir())


def test_eviction_skips_locked_entry(tmp_path):
    arc = _copy(tmp_path, MEMHOG)
    cdir = tmp_path / "cache"
    open_source(arc, limits=Limits(cache_dir=cdir)).close()
    (entry,) = _entries(cdir)
    fd = os.open(entry / "lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        cache_mod.Cache(cdir / cachedir.ROOT, 0).evict()
        assert entry.exists()
    finally:
        os.close(fd)
    cache_mod.Cache(cdir / cachedir.ROOT, 0).evict()
    assert not entry.exists()


def test_cache_dir_writable_by_others_is_ignored(tmp_path):
    arc = _copy(tmp_path, WEB)
    cdir = tmp_path / "cache"
    (cdir / cachedir.ROOT).mkdir(parents=True)
    os.chmod(cdir / cachedir.ROOT, 0o777)
    for _ in range(2):
        with open_source(arc, limits=Limits(cache_dir=cdir)) as src:
            assert not src.from_cache
    assert _entries(cdir) == []
