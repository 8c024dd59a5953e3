"""Memory addressing (PE_PRESENT / PE_PARENT / PE_LAZY) and search on the real memhog fixture."""

from __future__ import annotations

import re

import pytest

from ckpt_tui.criu.constants import PE_LAZY, PE_PARENT, PE_PRESENT
from ckpt_tui.errors import CkptError
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.memory import (
    LAZY,
    NOT_DUMPED,
    PARENT,
    PRESENT,
    TRUNCATED,
    UNMAPPED,
    MemoryReader,
    PagesData,
    layout_runs,
)
from ckpt_tui.model.patterns import compile_pattern
from ckpt_tui.model.types import VMA

from .conftest import DATA

P = 4096


def test_only_present_runs_advance_the_pages_offset():
    entries = [
        (0x1000, 2, PE_PRESENT),  # file offset 0
        (0x3000, 1, PE_PARENT),  # not in this pages file
        (0x4000, 1, PE_LAZY),  # not dumped
        (0x5000, 1, PE_LAZY | PE_PRESENT),  # present (lazy-capable): offset 2 pages
    ]
    runs, need = layout_runs(entries)
    assert [r.offset for r in runs] == [0, None, None, 2 * P]
    assert need == 3 * P


def _reader(entries, pages: bytes, parent=None):
    vmas = [VMA(start=0x1000, end=0x7000, prot=3, flags=0x22, status=1 | (1 << 9))]
    runs, _ = layout_runs(entries)
    return MemoryReader(1, vmas, runs, PagesData(pages), parent=parent)


def test_page_states_and_reads():
    pages = b"A" * P + b"B" * P + b"C" * P
    r = _reader([(0x1000, 2, PE_PRESENT), (0x3000, 1, PE_PARENT), (0x4000, 1, PE_LAZY),
                 (0x5000, 1, PE_LAZY | PE_PRESENT)], pages)
    assert r.page_state(0x1000) == PRESENT
    assert r.page_state(0x2fff) == PRESENT
    assert r.page_state(0x3000) == PARENT  # no parent checkpoint here
    assert r.page_state(0x4000) == LAZY
    assert r.page_state(0x5000) == PRESENT
    assert r.page_state(0x6000) == NOT_DUMPED  # inside the VMA, in no pagemap run
    assert r.page_state(0x9000) == UNMAPPED
    assert r.read(0x1ffe, 4) == b"AABB"
    assert r.read(0x5000, 2) == b"CC"
    # pages the dump lacks are filled, and read_pages says which they are
    assert r.read(0x3ffe, 4, fill=b"?") == b"????"
    assert [d is None for _, d in r.read_pages(0x2000, 3 * P)] == [False, True, True]
    spans = list(r.runs_between(0x1000, 0x7000))
    assert [s for _, _, s in spans] == [PRESENT, PARENT, LAZY, PRESENT, NOT_DUMPED]


def test_parent_pages_come_from_the_parent_dump():
    parent = _reader([(0x3000, 1, PE_PRESENT)], b"P" * P)
    r = _reader([(0x1000, 2, PE_PRESENT), (0x3000, 1, PE_PARENT)], b"A" * 2 * P, parent=parent)
    assert r.page_state(0x3000) == PRESENT
    assert r.read(0x2fff, 2) == b"AP"


def test_pages_file_shorter_than_the_pagemap_needs():
    r = _reader([(0x1000, 2, PE_PRESENT)], b"A" * P)
    assert r.page_state(0x1000) == PRESENT
    assert r.page_state(0x2000) == TRUNCATED
    assert r.read_pages(0x2000, 1)[0][1] is None


def test_compile_pattern_errors_are_ours():
    with pytest.raises(CkptError):
        compile_pattern("(", regex=True)
    with pytest.raises(CkptError):
        compile_pattern("")
    assert compile_pattern("ab", utf16=True).search(b"xa\0b\0")


@pytest.fixture(scope="module")
def memhog():
    ck = load_checkpoint(DATA / "memhog-16m-threads.tar.zst")
    yield ck
    ck.close()


def test_every_marker_found_at_its_address(memhog):
    matches = list(memhog.search_memory(b"CKPT-MARKER-", context=20))
    markers = {}
    for m in matches:
        text = (m.match + m.after)[:30].decode("latin-1")
        found = re.match(r"CKPT-MARKER-(\d{6})-needle", text)
        assert found, text
        markers[int(found.group(1))] = m
    assert sorted(markers) == list(range(16))
    reader = memhog.memory(1)
    base = markers[0].address
    for idx, m in markers.items():
        assert m.pid == 1
        # one marker at the start of every MiB of the same buffer
        assert m.address == base + idx * (1 << 20)
        assert m.vma is not None and m.vma.contains(m.address)
        # the address is VMA start + offset, and the reader returns the marker there
        assert reader.read(m.vma.start + (m.address - m.vma.start), 25) == f"CKPT-MARKER-{idx:06d}-needle".encode()


def test_api_token_on_the_heap(memhog):
    [m] = [m for m in memhog.search_memory("API_TOKEN=tok_live_", context=8)]
    assert m.match + m.after[:8] == b"API_TOKEN=tok_live_4f8a2c91"
    assert m.vma is not None and m.vma.label in ("[heap]", "[anon]")


def test_regex_and_pid_filter(memhog):
    hits = list(memhog.search_memory(rb"CKPT-MARKER-00001[0-5]-needle", regex=True, pids=[1]))
    assert len(hits) == 6
    assert list(memhog.search_memory(b"CKPT-MARKER-", pids=[999])) == []


def test_threads_and_memory_size(memhog):
    proc = memhog.processes[1]
    assert [t.tid for t in proc.threads] == [1, 6, 7, 8]
    assert proc.memory_size >= 16 << 20
    assert proc.cmdline == ["memhog", "16", "3"]
