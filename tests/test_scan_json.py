"""``scan --json`` has a stable schema: snapshot-tested on the planted intruder checkpoint
(tests/__snapshots__/test_scan_json/; ``pytest --snapshot-update`` after a deliberate change,
with ``findings.SCHEMA`` raised), and every finding carries the same members."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from ckpt_tui.actions.scan import CATEGORIES, LEVELS, SCHEMA, scan_path

from . import scankit


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    """Derived from tcp-established (see scankit.intruder)."""
    base = tmp_path_factory.mktemp("scanjson")
    archive = scankit.pack(scankit.intruder(base / "intruder"), base / "intruder.tar.zst")
    ck, report = scan_path(archive)
    ck.close()
    out = report.to_json()
    out["checkpoint"]["path"] = out["checkpoint"]["path"].rsplit("/", 1)[-1]
    return out


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_scan_json_snapshot(doc, snapshot_json):
    assert doc == snapshot_json


def test_every_finding_has_the_common_members(doc):
    assert doc["schema"] == SCHEMA
    assert set(doc) == {"schema", "checkpoint", "summary", "waste", "findings", "limits"}
    assert set(doc["summary"]["by_level"]) == set(LEVELS) and set(doc["summary"]["by_category"]) == set(CATEGORIES)
    assert set(doc["waste"]) == {"score", "total_bytes", "wasted_bytes", "by_rule", "memory_scanned", "items"}
    for f in doc["findings"]:
        assert {"id", "rule", "category", "level", "title", "where"} <= set(f)
        assert set(f) <= {"id", "rule", "category", "level", "title", "where", "detail", "value", "masked",
                          "secret_rule", "bytes", "count", "also"}
        assert f["level"] in LEVELS and f["category"] in CATEGORIES
