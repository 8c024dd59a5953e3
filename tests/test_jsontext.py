"""ckpt_tui.jsontext.dumps writes exactly what json.dumps(indent=2, default=str) writes."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ckpt_tui.jsontext import dumps
from ckpt_tui.model import load_checkpoint
from ckpt_tui.model.export import to_json

DATA = Path(__file__).resolve().parent / "data"


class Kind(str, enum.Enum):
    FILE = "file"


class Level(enum.IntEnum):
    HIGH = 3


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(), st.sampled_from([Kind.FILE, Level.HIGH, Path("/a/b"), math.inf, -math.inf]))
keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner), st.tuples(inner, inner),
                                                       st.dictionaries(keys, inner)), max_leaves=40)
# lists of records with the same keys: the shape the fast path takes (and near misses of it)
records = st.lists(st.text(min_size=1), min_size=1, max_size=4, unique=True).flatmap(
    lambda ks: st.lists(st.fixed_dictionaries({k: st.one_of(scalars, st.lists(scalars, max_size=2)) for k in ks}),
                        min_size=0, max_size=12))


def same(value) -> None:
    assert dumps(value) == json.dumps(value, indent=2, default=str)


@settings(max_examples=400, deadline=None)
@given(values)
def test_any_tree_is_written_as_json_writes_it(value):
    same(value)


@settings(max_examples=200, deadline=None)
@given(records, st.integers(0, 3))
def test_lists_of_records_at_any_depth(rows, depth):
    value = rows
    for _ in range(depth):
        value = {"k": value, "n": [value]}
    same(value)


def test_every_fixture_inspect_json_is_the_same_text():
    paths = sorted(p for p in DATA.iterdir() if p.is_file() and ".tar" in p.name)
    assert len(paths) >= 8
    for path in paths:
        ck = load_checkpoint(path, keep_pages=False)
        try:
            same(to_json(ck))
            same(to_json(ck, mask=True))
        finally:
            ck.close()


def test_keys_json_refuses_are_refused_as_json_refuses_them():
    import pytest

    with pytest.raises(TypeError):
        dumps({(1, 2): 3})
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 3}, indent=2, default=str)


def test_records_longer_than_a_chunk():
    from ckpt_tui import jsontext

    n = 2 * jsontext._CHUNK + 3
    rows = [{"path": f"d/{i}\x7f\u00e9", "type": "file", "size": i, "mode": "0o644", "ratio": i / 7} for i in range(n)]
    same({"rootfs_diff": {"changed": rows, "deleted": [r["path"] for r in rows]}})
    rows[n - 1] = {**rows[n - 1], "size": [1]}  # one record holding a container: not the fast path
    same([rows])
