"""The checkpoint tree model (plain dataclasses, no Textual)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

_WHERE = {
    "build_checkpoint": ".build",
    "load_checkpoint": ".build",
    "Checkpoint": ".checkpoint",
    "MemoryMatch": ".memory",
    "MemoryReader": ".memory",
    "VMA": ".types",
    "ContainerInfo": ".types",
    "Creds": ".types",
    "EnvVar": ".types",
    "ImageInfo": ".types",
    "LogFile": ".types",
    "Mount": ".types",
    "NetDevice": ".types",
    "NetInterface": ".types",
    "OpenFile": ".types",
    "Process": ".types",
    "RootfsDiff": ".types",
    "RootfsEntry": ".types",
    "Sizes": ".types",
    "Socket": ".types",
    "Thread": ".types",
}

if TYPE_CHECKING:  # pragma: no cover
    from .build import build_checkpoint, load_checkpoint
    from .checkpoint import Checkpoint
    from .memory import MemoryMatch, MemoryReader
    from .types import (
        VMA,
        ContainerInfo,
        Creds,
        EnvVar,
        ImageInfo,
        LogFile,
        Mount,
        NetDevice,
        NetInterface,
        OpenFile,
        Process,
        RootfsDiff,
        RootfsEntry,
        Sizes,
        Socket,
        Thread,
    )


__all__ = [
    "VMA",
    "Checkpoint",
    "ContainerInfo",
    "Creds",
    "EnvVar",
    "ImageInfo",
    "LogFile",
    "MemoryMatch",
    "MemoryReader",
    "Mount",
    "NetDevice",
    "NetInterface",
    "OpenFile",
    "Process",
    "RootfsDiff",
    "RootfsEntry",
    "Sizes",
    "Socket",
    "Thread",
    "build_checkpoint",
    "load_checkpoint",
]

__getattr__, __dir__ = exports(__name__, _WHERE, globals())
