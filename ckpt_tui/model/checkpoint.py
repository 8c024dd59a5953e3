"""The Checkpoint object: one opened checkpoint, its tree model, and readers.

Built by :func:`ckpt_tui.model.load_checkpoint` (the ``model.build`` package). Plain Python,
no Textual. Reading it never changes it: every problem, and whether each process's memory
can be read, is decided while it is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..archive.types import Member
from ..criu.constants import GOARCH
from ..errors import CkptError, Pane, Problem, Severity
from .memory import CapturedPages, MemoryMatch, MemoryReader, search_memory
from .patterns import SearchPattern
from .requirements import CpuInfo
from .rootfs import read_rootfs_file
from .types import (
    VMA,
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
    SourceView,
    Terminal,
)

__all__ = ["VMA", "Checkpoint", "MemoryMatch", "expand_annotations"]


@dataclass
class Checkpoint:
    source: SourceView
    info: ContainerInfo = field(default_factory=ContainerInfo)
    sizes: Sizes = field(default_factory=Sizes)
    stats: dict[str, int] = field(default_factory=dict)  # every dump_stats_entry field
    restore_stats: dict[str, int] = field(default_factory=dict)
    inventory: dict[str, Any] = field(default_factory=dict)
    cpuinfo: CpuInfo | None = None  # cpuinfo.img (a dump with --cpu-cap), None without one
    processes: dict[int, Process] = field(default_factory=dict)
    roots: list[int] = field(default_factory=list)
    rootfs: RootfsDiff = field(default_factory=RootfsDiff)
    volumes: list[RootfsDiff] = field(default_factory=list)  # named volumes, then /dev/shm (whole contents)
    terminals: list[Terminal] = field(default_factory=list)  # tty-info.img with the fds that hold each
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
    # pods: for a pod checkpoint, the containers (each a Checkpoint); for a container of a
    # pod, its directory in the pod archive
    containers: list[Checkpoint] = field(default_factory=list)
    directory: str = ""
    # decided while loading: each process's memory reader, or why it has none
    readers: dict[int, MemoryReader] = field(default_factory=dict, repr=False)
    unreadable: dict[int, str] = field(default_factory=dict, repr=False)
    # pages images that were only streamed past (load_checkpoint(keep_pages=False)): what was
    # kept of each (the pages of argv/environ), None where that cannot be trusted
    captured: dict[str, CapturedPages | None] = field(default_factory=dict, repr=False)
    closed: bool = field(default=False, repr=False)

    # -- convenience -----------------------------------------------------
    @property
    def sockets(self) -> list[Socket]:
        return [s for pid in sorted(self.processes) for s in self.processes[pid].sockets]

    @property
    def spec_terminal(self) -> bool:
        """The OCI spec gives the container a terminal (``process.terminal``: ``podman run -t``)."""
        process = self.spec.get("process")
        return isinstance(process, dict) and process.get("terminal") is True

    def terminals_of(self, pid: int) -> list[tuple[Terminal, list[int]]]:
        """The terminals process ``pid`` holds, each with its fds there."""
        return [(t, t.fds[pid]) for t in self.terminals if pid in t.fds]

    def process_list(self) -> list[Process]:
        return [self.processes[p] for p in sorted(self.processes)]

    @property
    def state_counts(self) -> dict[str, int]:
        """How many processes are in each state (``{"Alive": 3, "Zombie": 1}``), states in order met."""
        out: dict[str, int] = {}
        for proc in self.process_list():
            out[proc.state] = out.get(proc.state, 0) + 1
        return out

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
        return self.source.remote

    @property
    def source_kind(self) -> str:
        """The archive layer's kind of source: ``tar+zstd``, ``directory``, ``oci-archive``, ..."""
        return self.source.kind

    def has(self, name: str) -> bool:
        return self.source.has(name)

    def member(self, name: str) -> Member | None:
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
    def memory(self, pid: int) -> MemoryReader:
        """The memory of process ``pid``; CkptError (saying why) when it cannot be read."""
        if self.closed:
            raise CkptError("the checkpoint is closed")
        reader = self.readers.get(pid)
        if reader is not None:
            return reader
        if pid not in self.processes:
            raise CkptError(f"no process with pid {pid}")
        raise CkptError(self.unreadable.get(pid, f"pid {pid} has no memory images"))

    def search_memory(
        self,
        pattern: bytes | str | SearchPattern,
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
        if not isinstance(pattern, SearchPattern):
            pattern = SearchPattern.of(pattern, regex=regex, utf16=utf16, ignore_case=ignore_case)
        return search_memory(self, pattern, pids=pids, context=context, progress=progress,
                             cancelled=cancelled, limit=limit)

    # -- the root FS diff ------------------------------------------------
    def read_rootfs_file(self, path: str, limit: int | None = 16 << 20, tree: RootfsDiff | None = None) -> bytes:
        """The bytes of one file of rootfs-diff.tar (or of ``tree``: one of :attr:`volumes`), at
        most ``limit`` (None: all of them); a link is returned as its target text, never
        followed. CkptError when it cannot be read."""
        return read_rootfs_file(self, path, limit, tree)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        for sub in self.containers:
            sub.close_readers()
        self.close_readers()
        self.source.close()

    def close_readers(self) -> None:
        """Unmap the memory readers (the source stays open: a pod's containers share it)."""
        self.closed = True
        for reader in self.readers.values():
            reader.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    out: dict[str, Any] = {}
    for key, value in annotations.items():
        if key in JSON_ANNOTATIONS or (value[:1] in "{[" and value[-1:] in "}]"):
            try:
                out[key] = json.loads(value)
                continue
            except (ValueError, RecursionError):
                pass
        out[key] = value
    return out
