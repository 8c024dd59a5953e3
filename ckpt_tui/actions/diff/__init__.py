"""Two checkpoints compared, down to the page; a pre-dump chain as layers.

``diff_checkpoints(a, b)`` compares two opened checkpoints (any sources the model opens:
archives, directories, OCI images; pods container by container) and returns a
:class:`~.result.CheckpointDiff`: one section per area (``AREAS``), each a tree of typed
nodes with dive's statuses (added ``+``, modified ``~``, removed ``-``, unchanged).
``load_pair`` opens two paths for it. Reads only the model (never the archive or CRIU
layers); the CLI (``ckpt-tui diff``) and the UI render the same tree.

- :mod:`.match`: which process of A is which of B (identity, not pid alone);
- :mod:`.processes`: command, environment, state, threads, credentials, limits, fds, sockets;
- :mod:`.memory`: VMAs and page content; :mod:`.layers`: a dump chain's layers;
- :mod:`.rootfs`: the root FS diffs; :mod:`.system`: metadata, mounts, network, annotations,
  statistics, sizes; :mod:`.render`: the tree as text lines.
"""

from __future__ import annotations

from pathlib import Path

from ...model.checkpoint import Checkpoint
from .engine import AREAS, DiffOptions, diff_checkpoints, needs_pages, parse_areas
from .result import INFORMATIONAL, SCHEMA_VERSION, Change, CheckpointDiff, Node, Status

__all__ = [
    "AREAS", "INFORMATIONAL", "SCHEMA_VERSION", "Change", "CheckpointDiff", "DiffOptions", "Node", "Status",
    "diff_checkpoints", "load_pair", "needs_pages", "parse_areas",
]


def load_pair(path_a: str | Path, path_b: str | Path, areas: tuple[str, ...] = AREAS,
              limits=None) -> tuple[Checkpoint, Checkpoint]:
    """Open both checkpoints (keeping their memory pages when the areas read them); the
    caller closes them. CkptError when either cannot be opened at all."""
    from ...model import load_checkpoint

    keep = needs_pages(areas)
    first = load_checkpoint(path_a, limits=limits, keep_pages=keep)
    try:
        second = load_checkpoint(path_b, limits=limits, keep_pages=keep)
    except BaseException:
        first.close()
        raise
    return first, second
