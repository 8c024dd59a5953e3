"""Every CLI command on every hostile case (issue #19), the way the held-out set is run:
``python -m ckpt_tui`` with a fresh HOME and TMPDIR per command (tests/hostile_run.py).

Each run must end with exit code 0, 1 or 2, print no traceback and no ESC byte on stdout,
leave HOME and TMPDIR empty, and stay under ``MAX_RSS`` of peak RSS. Time is not asserted
(bench/hostile.py measures it); the generous ``HANG`` timeout only turns a hang into a
failure instead of a stuck suite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import hostile_model as hm
from tests import hostile_run

MAX_RSS = 512 << 20  # the most any command may take on any case (the smallest take ~30 MB)
HANG = 600.0
HEAVY = {"many-members", "tiny-entries", "many-threads", "fds-missing-ids", "pstree-chain", "pstree-loop", "memfds",
         "ttys"}  # a few seconds per command


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-cli")


@pytest.mark.parametrize("name", [
    pytest.param(c.name, marks=pytest.mark.slow) if c.name in HEAVY else c.name for c in hm.ALL
])
def test_every_command_keeps_the_promises(corpus_root, name):
    case = hm.ALL_BY_NAME[name]
    path = hm.build(case, corpus_root)
    # two at a time: each is its own process, and the machine has two cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda cmd: hostile_run.run_all(path, image=case.image, commands=(cmd,),
                                                              timeout=HANG)[0], hostile_run.COMMANDS))
    for r in runs:
        what = f"{name}: {' '.join(r.argv[:1])} (exit {r.rc}):\n{r.stderr.decode(errors='replace')[-1500:]}"
        assert not r.timed_out, what
        assert r.rc in (0, 1, 2), what
        assert b"Traceback" not in r.stderr + r.stdout, what
        assert b"\x1b" not in r.stdout, what
        assert not r.leftovers, f"{what}\nleft behind: {r.leftovers[:10]}"
        assert r.max_rss < MAX_RSS, f"{what}\npeak RSS {r.max_rss >> 20} MB"
    by = {r.command: r for r in runs}
    # the bound that was hit is said where a person sees it: inspect's problems (or its error)
    if case.blame:
        shown = by["inspect"].stdout + by["inspect"].stderr
        assert case.blame.encode() in shown, f"{name}: inspect does not say {case.blame!r}"
    # list names the case (an error in its row is fine); nothing hangs on what is next to it
    assert by["list"].rc == 0, by["list"].stderr[-1500:]
    assert path.name.encode() in by["list"].stdout, f"{name}: list leaves it out"
    if case.listed:  # with its problem, not as a healthy row
        assert case.listed.encode() in by["list"].stdout, f"{name}: list does not say {case.listed!r}"
