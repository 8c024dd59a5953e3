"""Archive layer: open a checkpoint (archive, directory or checkpoint image), index its
members in one streaming pass, read them lazily; all temp files in a Workspace.

No Textual here. See docs/ARCHITECTURE.md for the contract.
"""

from .source import Source, find_checkpoints, open_source, peek_metadata
from .tarstream import NotTar, TarEntry, TarError, iter_tar
from .types import ArchiveError, Limits, Member, display_name, human_size
from .workspace import Workspace

__all__ = [
    "ArchiveError",
    "Limits",
    "Member",
    "NotTar",
    "Source",
    "TarEntry",
    "TarError",
    "Workspace",
    "display_name",
    "find_checkpoints",
    "human_size",
    "iter_tar",
    "open_source",
    "peek_metadata",
]
