"""Bad input never crashes the model: every corpus case loads, names the member at fault,
and leaves the rest browsable (issue #7)."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from ckpt_tui.cli import main
from ckpt_tui.model import load_checkpoint

from .corpus import CASES

NAMES = {c.name: c for c in CASES}


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_case_loads_and_names_the_member(corpus, name):
    case = NAMES[name]
    with load_checkpoint(corpus[name]) as ck:
        if case.blame:
            hits = [p for p in ck.problems if case.blame in p.source or case.blame in p.message]
            assert hits, f"{name}: no problem names {case.blame!r}: {ck.problems}"
        # the rest stays browsable: metadata and at least one process survive
        assert ck.info.name or case.blame == "config.dump"
        assert ck.info.id
        assert ck.processes


def test_cycle_is_broken_and_reported(corpus):
    with load_checkpoint(corpus["pstree-cycle"]) as ck:
        order = [p.pid for _, p in ck.walk()]
        assert sorted(order) == sorted(ck.processes)  # every process reachable exactly once
        assert any("cycle" in p.message for p in ck.problems)


def test_deep_chain_no_recursion_limit(corpus):
    with load_checkpoint(corpus["deep-chain"]) as ck:
        depths = [d for d, _ in ck.walk()]
        assert max(depths) >= 5000
        # thousands of missing core images become one summary problem, not thousands
        assert len(ck.problems) < 50
    assert main(["inspect", str(corpus["deep-chain"]), "--json"]) == 0


def test_many_processes(corpus, capsys):
    with load_checkpoint(corpus["many-processes"]) as ck:
        assert len(ck.processes) == 10_000
        assert len(ck.problems) < 50


def test_non_utf8_env_shown_escaped(corpus):
    with load_checkpoint(corpus["non-utf8-env"]) as ck:
        raws = [v.raw for v in ck.processes[1].env]
        assert any("\\xff\\xfe" in r for r in raws), raws
        json.dumps([v.raw for v in ck.processes[1].env])  # printable as JSON


def test_huge_cmdline_is_bounded(corpus):
    with load_checkpoint(corpus["huge-cmdline"]) as ck:
        total = sum(len(a) for a in ck.processes[1].cmdline)
        # 1 MiB of bytes is read; undecodable bytes show as 4-character escapes
        assert 0 < total <= 4 << 20
        assert any("only the first" in p.message for p in ck.problems)


def test_unknown_fields_are_kept_and_flagged(corpus):
    with load_checkpoint(corpus["unknown-fields"]) as ck:
        assert ck.processes[1].comm == "sh"
        assert any("does not know" in p.message for p in ck.problems if "core-1.img" in p.source), ck.problems


def test_unknown_image_kind_listed(corpus):
    with load_checkpoint(corpus["unknown-image-kind"]) as ck:
        [img] = [i for i in ck.images if i.name == "frobnicate-7.img"]
        assert img.magic == "UNKNOWN"


def test_rootfs_link_never_followed(corpus):
    with load_checkpoint(corpus["rootfs-link-out"]) as ck:
        assert ck.read_rootfs_file("etc/evil-link") == b"-> ../../../../etc/shadow\n"
        assert not any(e.path.endswith("escape.txt") for e in ck.rootfs.entries)


def test_every_case_via_cli_exit_0(corpus, capsys):
    for name, path in corpus.items():
        if name in ("many-processes", "deep-chain"):
            continue
        assert main(["inspect", str(path), "--json"]) == 0, name
        data = json.loads(capsys.readouterr().out)
        if NAMES[name].blame:
            assert data["problems"], name


def test_nothing_written_outside_the_workspace(corpus, tmp_path, monkeypatch):
    # a temp dir of this test's own: other processes on the machine come and go in /tmp
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tmp = tempfile.gettempdir()
    before = set(os.listdir(tmp))
    ck = load_checkpoint(corpus["pages-short"])
    ws = ck.source.workspace.path
    assert os.path.dirname(str(ws)) == tmp
    ck.close()
    after = set(os.listdir(tmp))
    assert after <= before | {os.path.basename(str(ws))}
    assert not os.path.exists(ws)
