"""The checkpoint tree model (plain dataclasses, no Textual)."""

from .checkpoint import Checkpoint, MemoryMatch
from .loader import build_checkpoint, load_checkpoint
from .memory import MemoryReader
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
    "Checkpoint", "MemoryMatch", "MemoryReader", "build_checkpoint", "load_checkpoint", "VMA",
    "ContainerInfo", "Creds", "EnvVar", "ImageInfo", "LogFile", "Mount", "NetDevice", "NetInterface",
    "OpenFile", "Process", "RootfsDiff", "RootfsEntry", "Sizes", "Socket", "Thread",
]
