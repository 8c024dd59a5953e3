"""The Checkpoint object: one opened checkpoint, its tree model, and readers.

Built by :func:`ckpt_tui.model.loader.load_checkpoint`. Plain Python, no Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..criu.constants import GOARCH

from ..errors import Pane, Problem, Severity
from .requirements import CpuInfo
from .types import (
    ContainerInfo,
    ImageInfo,
    LogFile,
    Mount,
    NetDevice,
    NetInterface,
    Process,
    RootfsDiff,
    Sizes,
    Socket,
    VMA,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..archive import Member, Source
    from .memory import MemoryReader
    from .patterns import SearchPattern


@dataclass
class MemoryMatch:
    pid: int
    address: int
    length: int
    vma: VMA | None
    match: bytes
    before: bytes = b""
    after: bytes = b""


@dataclass
class Checkpoint:
    source: "Source"
    info: ContainerInfo = field(default_factory=ContainerInfo)
    sizes: Sizes = field(default_factory=Sizes)
    stats: dict[str, int] = field(default_factory=dict)  # every dump_stats_entry field
    restore_stats: dict[str, int] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    cpuinfo: CpuInfo | None = None  # cpuinfo.img (a dump with --cpu-cap), None without one
    processes: dict[int, Process] = field(default_factory=dict)
    roots: list[int] = field(default_factory=list)
    rootfs: RootfsDiff = field(default_factory=RootfsDiff)
    interfaces: list[NetInterface] = field(default_factory=list)
    devices: list[NetDevice] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    cgroups: list[dict[str, Any]] = field(default_factory=list)
    seccomp: dict[str, Any] = field(default_factory=dict)
    namespaces: dict[str, Any] = field(default_factory=dict)
    logs: list[LogFile] = field(default_factory=list)
    images: list[ImageInfo] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # pods: for a pod checkpoint, the containers (each a Checkpoint) and pod options
    containers: list["Checkpoint"] = field(default_factory=list)
    _readers: dict[int, "MemoryReader"] = field(default_factory=dict, repr=False)
    # pages images that were only streamed past (load_checkpoint(keep_pages=False)): the
    # pages of argv/environ the tap kept, by member name
    _captured: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- convenience -----------------------------------------------------
    @property
    def sockets(self) -> list[Socket]:
        return [s for pid in sorted(self.processes) for s in self.processes[pid].sockets]

    def process_list(self) -> list[Process]:
        return [self.processes[p] for p in sorted(self.processes)]

    def walk(self) -> Iterator[tuple[int, Process]]:
        """Depth-first (depth, process) over the tree, iterative (no recursion limit)."""
        seen: set[int] = set()
        stack = [(0, pid) for pid in reversed(self.roots)]
        while stack:
            depth, pid = stack.pop()
            if pid in seen or pid not in self.processes:
                continue
            seen.add(pid)
            proc = self.processes[pid]
            yield depth, proc
            for child in reversed(proc.children):
                stack.append((depth + 1, child))

    # -- the source's members (for the actions that check or copy them) ---------
    @property
    def source_path(self) -> Path:
        return Path(self.source.path)

    @property
    def source_remote(self) -> bool:
        """The source is a checkpoint image in a registry (``docker://``), read on demand."""
        return bool(getattr(self.source, "remote", False))

    @property
    def source_kind(self) -> str:
        """The archive layer's kind of source: ``tar+zstd``, ``directory``, ``oci-archive``, ..."""
        return self.source.kind

    def has(self, name: str) -> bool:
        return self.source.has(name)

    def member(self, name: str) -> "Member | None":
        return self.source.members.get(name)

    def member_names(self, prefix: str = "") -> list[str]:
        return self.source.names(prefix)

    def scratch_file(self, stem: str = "file") -> Path:
        """A new empty file in the app's own temp dir (removed with the checkpoint's workspace)."""
        return Path(self.source.workspace.new_file(stem))

    def scratch_dir(self, stem: str = "dir") -> Path:
        """A new empty directory in the app's own temp dir (removed with the checkpoint's workspace)."""
        return Path(self.source.workspace.mkdir(stem))

    def open_member(self, name: str) -> BinaryIO:
        """A member's bytes, read lazily from the source (CkptError when it is absent)."""
        return self.source.open(name)

    def is_synthesized(self, name: str) -> bool:
        """The reader made the member up (a containerd record's spec.dump...): not in the original."""
        return name in self.source.synthesized

    @property
    def architecture(self) -> tuple[str, str]:
        """(OCI architecture name, how it is known): a checkpoint image's annotation, else
        the machine type of a core image; ("", "") when neither says."""
        if self.info.host_arch:
            return self.info.host_arch, "annotation"
        for proc in self.process_list():
            if proc.mtype in GOARCH:
                return GOARCH[proc.mtype], "core image"
        return "", ""

    @property
    def tids(self) -> list[int]:
        """Every task id: each process and each of its threads."""
        out = set(self.processes)
        for proc in self.processes.values():
            out.update(t.tid for t in proc.threads)
        return sorted(out)

    def add_problem(self, source: str, message: str, pane: Pane = Pane.OVERVIEW, severity: Severity = "error") -> None:
        self.problems.append(Problem(source, message, pane, severity))

    # -- memory ----------------------------------------------------------
    def memory(self, pid: int) -> "MemoryReader":
        from .memory import MemoryReader

        if pid not in self._readers:
            self._readers[pid] = MemoryReader.for_process(self, pid)
        return self._readers[pid]

    def search_memory(
        self,
        pattern: "bytes | str | SearchPattern",
        *,
        regex: bool = False,
        utf16: bool = False,
        ignore_case: bool = False,
        pids: list[int] | None = None,
        context: int = 32,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        limit: int = 10_000,
    ) -> Iterator[MemoryMatch]:
        """Every match of ``pattern`` (a parsed :class:`SearchPattern`, or bytes/text with the
        flags) in the dumped memory of every (chosen) process, in pid then address order."""
        from .memory import search_memory
        from .patterns import SearchPattern

        if not isinstance(pattern, SearchPattern):
            pattern = SearchPattern.of(pattern, regex=regex, utf16=utf16, ignore_case=ignore_case)
        return search_memory(self, pattern, pids=pids, context=context, progress=progress,
                             cancelled=cancelled, limit=limit)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        self.source.close()

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_rootfs_file(self: Checkpoint, path: str, limit: int = 16 << 20) -> bytes:
    """The bytes of one file of rootfs-diff.tar (a link is returned as its target text, never followed)."""
    from .rootfs import read_rootfs_file

    return read_rootfs_file(self, path, limit)


Checkpoint.read_rootfs_file = _read_rootfs_file  # type: ignore[attr-defined]


# annotations whose values are JSON documents (CRI-O, kubectl); shown expanded
JSON_ANNOTATIONS = (
    "io.kubernetes.cri-o.Labels",
    "io.kubernetes.cri-o.Annotations",
    "io.kubernetes.cri-o.Volumes",
    "io.kubernetes.cri-o.Metadata",
    "kubectl.kubernetes.io/last-applied-configuration",
)


def expand_annotations(annotations: dict[str, str]) -> dict[str, Any]:
    """The annotations with JSON-valued ones parsed (left as text when they do not parse)."""
    import json

    out: dict[str, Any] = {}
    for key, value in annotations.items():
        if key in JSON_ANNOTATIONS or (value[:1] in "{[" and value[-1:] in "}]"):
            try:
                out[key] = json.loads(value)
                continue
            except ValueError:
                pass
        out[key] = value
    return out
