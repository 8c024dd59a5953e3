"""The checkpoint tree model (plain dataclasses, no Textual)."""

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
