"""The diff's JSON has a stable schema (``ckpt-tui diff --json``): snapshot-tested on the
real pair (tests/__snapshots__/test_diff_json/; ``pytest --snapshot-update`` after a
deliberate change, with ``SCHEMA_VERSION`` raised), and every node of every kind carries
the same members."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from ckpt_tui.actions.diff import SCHEMA_VERSION, DiffOptions, diff_checkpoints, load_pair

from .conftest import DATA

COMMON = {"kind", "key", "status", "label", "note", "changes", "children"}
EXTRA = {
    "process": {"pid_a", "pid_b", "matched_by"},
    "memory": {"pages", "dumped_a", "dumped_b"},
    "vma": {"a", "b", "pages", "page_map", "page_map_truncated"},
    "field": {"a", "b"}, "stat": {"a", "b"}, "size": {"a", "b"}, "annotation": {"a", "b"},
}


@pytest.fixture(scope="module")
def doc():
    a, b = load_pair(DATA / "turn2" / "diff-a1.tar.zst", DATA / "turn2" / "diff-a2.tar.zst")
    with a, b:
        out = diff_checkpoints(a, b).to_json()
        full = diff_checkpoints(a, b, DiffOptions(keep_unchanged=True)).to_json(unchanged=True)
    for d in (out, full):
        for side in ("a", "b"):
            d[side]["path"] = d[side]["path"].rsplit("/", 1)[-1]
    return out, full


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_diff_json_snapshot(doc, snapshot_json):
    out, _full = doc
    assert out == snapshot_json


def walk(node):
    yield node
    for c in node["children"]:
        yield from walk(c)


def test_every_node_has_its_kinds_members(doc):
    _out, full = doc
    assert full["schema"] == SCHEMA_VERSION
    assert set(full) == {"schema", "a", "b", "same", "areas", "summary", "sections", "problems"}
    kinds = set()
    for section in full["sections"].values():
        for node in walk(section):
            kinds.add(node["kind"])
            assert set(node) == COMMON | EXTRA.get(node["kind"], set()), node["kind"]
            assert node["status"] in ("added", "removed", "modified", "unchanged")
            for c in node["changes"]:
                assert set(c) == {"field", "a", "b"}
    # every kind the real pair has
    assert {"process", "memory", "vma", "fd", "socket", "env", "thread", "file", "mount", "field", "stat",
            "size"} <= kinds
    json.dumps(full)  # plain JSON all through
