"""Archive layer: open a checkpoint (archive, directory or checkpoint image), index its
members in one streaming pass, read them lazily; all temp files in a Workspace.

No Textual here. See docs/ARCHITECTURE.md for the contract.

The names below are imported on first use, so that ``import ckpt_tui.archive.cache``
(the CLI's cached fast path) does not pay for the whole layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "Source": ".source",
    "find_checkpoints": ".find",
    "open_source": ".source",
    "peek_metadata": ".peek",
    "NotTar": ".tarstream",
    "TarEntry": ".tarstream",
    "TarError": ".tarstream",
    "iter_tar": ".tarstream",
    "ArchiveError": ".types",
    "Limits": ".types",
    "Member": ".types",
    "display_name": ".types",
    "human_size": ".types",
    "json_document": ".types",
    "Workspace": ".workspace",
    "Watch": ".index",
}

__all__ = sorted(_WHERE)

if TYPE_CHECKING:  # pragma: no cover  (the "X as X" form: names this package exports)
    from .find import find_checkpoints as find_checkpoints
    from .index import Watch as Watch
    from .peek import peek_metadata as peek_metadata
    from .source import Source as Source
    from .source import open_source as open_source
    from .tarstream import NotTar as NotTar
    from .tarstream import TarEntry as TarEntry
    from .tarstream import TarError as TarError
    from .tarstream import iter_tar as iter_tar
    from .types import ArchiveError as ArchiveError
    from .types import Limits as Limits
    from .types import Member as Member
    from .types import display_name as display_name
    from .types import human_size as human_size
    from .types import json_document as json_document
    from .workspace import Workspace as Workspace


__getattr__, __dir__ = exports(__name__, _WHERE, globals())
