"""Reading a loaded checkpoint never changes it: every problem, and whether each process's
memory can be read, is decided while it loads. Reading memory, searching it, reading root
FS files and exporting JSON, twice over, leave the problems and the model as they were, on
every fixture and on every bad-input corpus case (tests/corpus.py)."""

from __future__ import annotations

import json

import pytest

from ckpt_tui.errors import CkptError
from ckpt_tui.model import Checkpoint, load_checkpoint
from ckpt_tui.model.export import to_json

from .conftest import DATA
from .corpus import CASES

FIXTURES = sorted(p.relative_to(DATA).as_posix() for p in [*DATA.glob("*.tar*"), *(DATA / "turn2").glob("*.tar*")])
SMALL_CASES = [c for c in CASES if c.name not in ("many-processes", "deep-chain")]


def _state(ck: Checkpoint) -> tuple[list, str]:
    return list(ck.problems), json.dumps(to_json(ck), sort_keys=True, default=str)


def _read_memory(ck: Checkpoint) -> list[str]:
    """Every task id's memory (and one pid that is not there), a page of each VMA: what
    each answered."""
    said = []
    for pid in [*ck.tids, max(ck.tids, default=0) + 1]:
        try:
            reader = ck.memory(pid)
        except CkptError as exc:
            said.append(f"{pid}: {exc}")
            continue
        proc = ck.processes[pid]
        for vma in proc.vmas[:50]:
            reader.page_state(vma.start)
            reader.read(vma.start, 64)
        said.append(f"{pid}: {len(reader.runs)} runs")
    return said


def _read_everything(ck: Checkpoint) -> list[str]:
    said = []
    for c in [ck, *ck.containers]:
        said += _read_memory(c)
        try:
            said += [f"{m.pid}:{m.address:#x}" for m in c.search_memory(b"PATH=", limit=20)]
        except CkptError as exc:  # the pages were not kept (keep_pages=False)
            said.append(str(exc))
        for entry in [e for e in c.rootfs.entries if e.type in ("file", "symlink")][:20]:
            try:
                said.append(c.read_rootfs_file(entry.path, 256).hex())
            except CkptError as exc:
                said.append(str(exc))
        to_json(c)
    return said


def _check_pure(ck: Checkpoint) -> None:
    before = _state(ck)
    first = _read_everything(ck)
    assert _state(ck) == before
    assert _read_everything(ck) == first  # the same answers the second time
    assert _state(ck) == before


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("keep_pages", [True, False], ids=["pages", "lean"])
def test_reading_a_fixture_changes_nothing(name, keep_pages):
    with load_checkpoint(DATA / name, keep_pages=keep_pages) as ck:
        _check_pure(ck)


@pytest.mark.parametrize("name", [c.name for c in SMALL_CASES])
def test_reading_a_damaged_checkpoint_changes_nothing(corpus, name):
    with load_checkpoint(corpus[name]) as ck:
        _check_pure(ck)


@pytest.mark.parametrize("name", ["many-processes", "deep-chain"])
def test_reading_memory_of_thousands_of_processes_changes_nothing(corpus, name):
    with load_checkpoint(corpus[name]) as ck:
        before = list(ck.problems)
        first = _read_memory(ck)
        assert _read_memory(ck) == first
        assert ck.problems == before


def test_a_process_without_a_pagemap_says_why_every_time(corpus):
    """The case the issue names: memory() on it used to add a problem on every call."""
    with load_checkpoint(corpus["pagemap-missing"]) as ck:
        assert 10 in ck.processes and ck.processes[10].vmas  # its memory map is there
        said = [p for p in ck.problems if "pagemap-10.img" in p.source]
        assert said and said[0].pane == "memory"
        before = list(ck.problems)
        for _ in range(4):
            with pytest.raises(CkptError, match="pid 10 has no readable pagemap"):
                ck.memory(10)
        assert ck.problems == before
        assert list(ck.search_memory(b"PATH=", pids=[10])) == []


def test_a_process_that_is_not_running_has_no_memory_and_no_problem_for_it(corpus):
    """deep-chain's added processes have no core image: not running, no memory images."""
    with load_checkpoint(corpus["deep-chain"]) as ck:
        pid = 200_000
        assert not ck.processes[pid].alive
        with pytest.raises(CkptError, match="not running"):
            ck.memory(pid)
        assert not [p for p in ck.problems if f"pagemap-{pid}" in p.source or "pagemap-2000" in p.message]


def test_a_closed_checkpoint_says_so():
    ck = load_checkpoint(DATA / "ps-tree.tar.gz")
    pid = min(ck.readers)
    ck.close()
    with pytest.raises(CkptError, match="closed"):
        ck.memory(pid)
