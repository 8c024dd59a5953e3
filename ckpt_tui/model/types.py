"""The checkpoint tree model: plain dataclasses, no Textual, no I/O.

A :class:`Checkpoint` (see ``model/checkpoint.py``) holds these. Everything a
pane or the CLI shows comes from here; anything missing or unreadable is a
:class:`~ckpt_tui.errors.Problem` in ``Checkpoint.problems``.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import BinaryIO, Protocol

from ..archive.types import Member
from ..archive.workspace import Workspace
from ..criu.constants import (
    MAP_ANONYMOUS,
    MAP_SHARED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    RUNNING_STATES,
    SIGNALS,
    TASK_ALIVE,
    VMA_ANON_SHARED,
    VMA_AREA_HEAP,
    VMA_AREA_STACK,
    VMA_AREA_SYSVIPC,
    VMA_AREA_VDSO,
    VMA_AREA_VSYSCALL,
    VMA_AREA_VVAR,
    ZOMBIE_STATES,
)
from ..criu.message import PbMessage as PbMessage  # a decoded message, its fields read by name (untyped)
from ..errors import Problem
from .handles import OpenFile as OpenFile  # re-exported: what a process holds open lives in model.handles
from .handles import Socket as Socket
from .handles import Terminal as Terminal


class SourceView(Protocol):
    """What the model reads of a source: an opened :class:`ckpt_tui.archive.Source`, or one
    container's part of a pod source (:class:`ckpt_tui.model.pods.PrefixedSource`)."""

    @property
    def path(self) -> Path | str: ...  # a str for a registry's docker:// reference
    @property
    def kind(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def members(self) -> dict[str, Member]: ...
    @property
    def problems(self) -> list[Problem]: ...
    @property
    def annotations(self) -> dict[str, str]: ...
    @property
    def discarded(self) -> Set[str]: ...
    @property
    def synthesized(self) -> Set[str]: ...
    @property
    def remote(self) -> bool: ...
    @property
    def workspace(self) -> Workspace: ...
    @property
    def stopped(self) -> str: ...  # why indexing stopped before the end ("" when it did not)


    def names(self, prefix: str = "") -> list[str]: ...
    def has(self, name: str) -> bool: ...
    def read(self, name: str, limit: int | None = None) -> bytes: ...
    def open(self, name: str) -> BinaryIO: ...
    def file_range(self, name: str) -> tuple[Path, int, int] | None: ...
    def fetch(self, name: str) -> tuple[Path, int, int] | None: ...
    def is_remote(self, name: str) -> bool: ...
    def close(self) -> None: ...


class Engine(str, Enum):
    """The container engine that made a checkpoint (decided by ``model.metadata.decide_engine``)."""

    PODMAN = "Podman"
    CRIO = "CRI-O"
    CONTAINERD = "containerd"
    CRIU = "CRIU (no engine metadata)"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def known(self) -> bool:
        return self not in (Engine.CRIU, Engine.UNKNOWN)


@dataclass
class ContainerInfo:
    """The container record (see :mod:`ckpt_tui.model.metadata`, which decides every field)."""

    name: str = ""
    id: str = ""
    image: str = ""  # the image the container was created from (resolved name)
    image_id: str = ""  # its id or digest reference
    image_requested: str = ""  # the image as the user asked for it
    engine: Engine = Engine.UNKNOWN
    runtime: str = ""  # as config.dump records it ("runc", "io.containerd.runc.v2")
    image_runtime: str = ""  # what a checkpoint image's runtime annotation says
    created: datetime | None = None
    checkpointed: datetime | None = None
    pod_name: str = ""
    namespace: str = ""
    source_kind: str = ""  # e.g. "Podman checkpoint archive (tar+zstd)", "containerd checkpoint image"
    source_path: str = ""
    criu_version: str = ""
    img_version: int | None = None
    host_arch: str = ""  # from a checkpoint image's annotations
    host_kernel: str = ""
    hostname: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    # annotations of a checkpoint image (io.podman.annotations.checkpoint.* / org.criu.checkpoint.*)
    image_annotations: dict[str, str] = field(default_factory=dict)

    @property
    def runtime_name(self) -> str:
        """The runtime's own name (``runc`` for ``io.containerd.runc.v2``)."""
        return short_runtime(self.runtime) if self.runtime else ""


def short_runtime(name: str) -> str:
    """The runtime's own name: ``io.containerd.runc.v2`` -> ``runc``, ``/usr/bin/crun`` -> ``crun``."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("io.containerd.") and base.count(".") >= 2:
        return base.split(".")[2]
    return base


@dataclass
class Sizes:
    total: int = 0  # sum of the regular files under checkpoint/
    memory_pages: int = 0  # checkpoint/pages-*
    rootfs_diff: int = 0  # rootfs-diff.tar
    volumes: int = 0  # volumes/*.tar: the named volumes' contents
    devshm: int = 0  # devshm-checkpoint.tar when /dev/shm held files (an empty one counts as "other")
    archive: int = 0  # every member of the source: what it holds uncompressed
    breakdown: dict[str, int] = field(default_factory=dict)  # pages / rootfs diff / images / other
    file: int | None = None  # the source's file on disk; None for a directory or a container of a pod

    @property
    def uncompressed(self) -> int:
        """The bytes of every member, uncompressed (``archive``)."""
        return self.archive

    @property
    def compression_ratio(self) -> float | None:
        """Uncompressed bytes per byte of the file (None without a file or contents)."""
        return self.archive / self.file if self.file and self.archive else None


@dataclass
class Creds:
    uid: int = 0
    gid: int = 0
    euid: int = 0
    egid: int = 0
    suid: int = 0
    sgid: int = 0
    fsuid: int = 0
    fsgid: int = 0
    groups: list[int] = field(default_factory=list)
    cap_eff: list[str] = field(default_factory=list)
    cap_prm: list[str] = field(default_factory=list)
    cap_inh: list[str] = field(default_factory=list)
    cap_bnd: list[str] = field(default_factory=list)
    cap_amb: list[str] = field(default_factory=list)
    secbits: int = 0
    no_new_privs: bool = False
    lsm_profile: str = ""


@dataclass
class Thread:
    tid: int
    comm: str = ""
    state: str = ""
    sched_policy: int = 0
    sched_nice: int = 0
    sched_prio: int = 0
    blk_sigset: int = 0
    seccomp_mode: str = ""
    ip: int | None = None  # instruction pointer (x86_64)
    sp: int | None = None  # stack pointer
    creds: Creds | None = None
    xstate_bv: int | None = None  # XSAVE components with live state (x86_64; criu.constants.XSAVE_FEATURES)
    shadow_stack: bool | None = None  # CET shadow stack on; None when the image has no CET state (x86_64)


@dataclass
class VMA:
    start: int
    end: int
    prot: int = 0
    flags: int = 0
    status: int = 0
    pgoff: int = 0
    shmid: int = 0
    path: str = ""  # backing file, or "" for anonymous
    pages_present: int = 0  # pages stored in the pages image
    pages_lazy: int = 0  # pages marked lazy and not present
    pages_parent: int = 0  # pages in a parent checkpoint

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def shared(self) -> bool:
        return bool(self.flags & MAP_SHARED)

    @property
    def anon(self) -> bool:
        return bool(self.flags & MAP_ANONYMOUS) or not self.path

    @property
    def perms(self) -> str:
        return (
            ("r" if self.prot & PROT_READ else "-")
            + ("w" if self.prot & PROT_WRITE else "-")
            + ("x" if self.prot & PROT_EXEC else "-")
            + ("s" if self.shared else "p")
        )

    @property
    def label(self) -> str:
        """[stack], [heap], [vdso], [vvar], [vsyscall], a path, or [anon]."""
        if self.status & VMA_AREA_STACK:
            return "[stack]"
        if self.status & VMA_AREA_HEAP:
            return "[heap]"
        if self.status & VMA_AREA_VDSO:
            return "[vdso]"
        if self.status & VMA_AREA_VVAR:
            return "[vvar]"
        if self.status & VMA_AREA_VSYSCALL:
            return "[vsyscall]"
        if self.path:
            return self.path
        if self.status & VMA_AREA_SYSVIPC:
            return f"[sysvipc:{self.shmid}]"
        if self.status & VMA_ANON_SHARED:
            return f"[shmem:{self.shmid}]"
        return "[anon]"

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end


@dataclass
class EnvVar:
    name: str
    value: str
    raw: str  # the entry as found in memory (a malformed one has no '=')

    @property
    def malformed(self) -> bool:
        return "=" not in self.raw or self.raw.startswith("=")


#: why a zombie has no command line, environment or memory map
ZOMBIE_NO_MEMORY = "a zombie has no memory (it has exited; CRIU dumps only its name and exit status)"


@dataclass
class Process:
    pid: int
    ppid: int = 0
    pgid: int = 0
    sid: int = 0
    comm: str = ""
    state: str = "Alive"  # criu.constants.PROCESS_STATES: Alive, Stopped, Zombie (or "unknown (why)")
    state_code: int = TASK_ALIVE  # task_core_entry.task_state
    wait_status: int = 0  # task_core_entry.exit_code: a zombie's status as wait() reports it
    threads: list[Thread] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    cmdline: list[str] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    cwd: str = ""
    root: str = ""
    exe: str = ""
    creds: Creds | None = None
    files: list[OpenFile] = field(default_factory=list)
    sockets: list[Socket] = field(default_factory=list)
    vmas: list[VMA] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # task_kobj_ids (files_id, net_ns_id, ...)
    mm: dict[str, int] = field(default_factory=dict)  # mm_arg_start ... mm_brk
    rlimits: list[tuple[str, int, int]] = field(default_factory=list)
    seccomp_mode: str = ""
    oom_score_adj: int = 0
    pages_id: int | None = None
    pages_missing: int = 0  # pages the pagemap lists as dumped that the pages image lacks (absent, cut short)
    mtype: int = 0  # core image machine type (criu.constants.ARCHITECTURES)

    @property
    def alive(self) -> bool:
        """CRIU dumped it running (alive or stopped): with memory, files and threads."""
        return self.state_code in RUNNING_STATES

    @property
    def zombie(self) -> bool:
        """An exited task its parent has not reaped: CRIU keeps only its name and wait status."""
        return self.state_code in ZOMBIE_STATES

    @property
    def exit_code(self) -> int | None:
        """The code a zombie exited with (None when a signal killed it, or it is no zombie)."""
        return (self.wait_status >> 8) & 0xFF if self.zombie and not self.wait_status & 0x7F else None

    @property
    def exit_signal(self) -> str | None:
        """The signal that killed a zombie (``SIGKILL``), None when it exited or is no zombie."""
        number = self.wait_status & 0x7F
        return SIGNALS.get(number, f"signal {number}") if self.zombie and number else None

    @property
    def exit_text(self) -> str:
        """How a zombie ended: ``exit code 1``, ``killed by SIGKILL``; "" for any other process."""
        if not self.zombie:
            return ""
        if self.exit_signal is not None:
            return f"killed by {self.exit_signal}" + (" (core dumped)" if self.wait_status & 0x80 else "")
        return f"exit code {self.exit_code}"

    @property
    def state_text(self) -> str:
        """The state in words, a zombie's end with it: ``zombie, exit code 0``, ``stopped``."""
        return f"zombie, {self.exit_text}" if self.zombie else self.state.lower() if self.state else ""

    @property
    def env_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for var in self.env:
            out[var.name if not var.malformed else var.raw] = var.value if not var.malformed else ""
        return out

    @property
    def pages_present(self) -> int:
        """Pages the pagemap says are in this dump's pages image."""
        return sum(v.pages_present for v in self.vmas)

    @property
    def pages_lazy(self) -> int:
        return sum(v.pages_lazy for v in self.vmas)

    @property
    def pages_parent(self) -> int:
        """Pages the pagemap says are in the parent (pre-dump) image set."""
        return sum(v.pages_parent for v in self.vmas)

    @property
    def pages_member(self) -> str | None:
        """``checkpoint/pages-N.img`` this process's pagemap names, None if it names none."""
        return None if self.pages_id is None else f"checkpoint/pages-{self.pages_id}.img"

    @property
    def pagemap_size(self) -> int:
        """Bytes the pagemap says this dump's pages image holds for it (present or not)."""
        return self.pages_present * PAGE_SIZE

    @property
    def memory_size(self) -> int:
        """Bytes of dumped memory: present in the pages image and readable (missing pages are not)."""
        return max(self.pages_present - self.pages_missing, 0) * PAGE_SIZE

    @property
    def title(self) -> str:
        return " ".join(self.cmdline) if self.cmdline else self.comm


@dataclass(slots=True)
class RootfsEntry:
    """One entry of rootfs-diff.tar (slots: a diff may hold 100,000 of them)."""

    path: str  # relative, no leading "/"
    type: str  # file, dir, symlink, hardlink, char, block, fifo, whiteout, other
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime: float = 0.0
    linkname: str = ""
    status: str = "changed"  # changed | deleted
    data_offset: int = -1  # where the data starts in an uncompressed rootfs-diff.tar (-1: scan for it)


@dataclass
class RootfsDiff:
    """A tree of files the checkpoint carries as a tar: the root FS diff (``rootfs-diff.tar``),
    or the whole contents of a named volume (``volumes/NAME.tar``) or of /dev/shm
    (``devshm-checkpoint.tar``), which Podman restores into the container."""

    present: bool = False
    compressed: str = ""  # "" | "gzip" (containerd CRI writes a gzip rw layer)
    entries: list[RootfsEntry] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # deleted.files and whiteouts, absolute paths
    member: str = "rootfs-diff.tar"  # the tar it is read from
    kind: str = "rootfs"  # "rootfs" | "volume" | "devshm"
    name: str = ""  # a volume's name ("t2vol")
    label: str = "root FS diff"  # "volume t2vol", "/dev/shm"
    mount: str = ""  # where a volume's contents are in the container ("/data", "/dev/shm")
    whole: bool = False  # the whole contents of a volume, not changes to an image

    @property
    def size(self) -> int:
        """Bytes of the regular files in it."""
        return sum(e.size for e in self.entries if e.type == "file")


@dataclass
class NetInterface:
    network: str = ""
    name: str = ""
    ip: str = ""
    mac: str = ""
    gateway: str = ""


@dataclass
class NetDevice:
    name: str
    type: str = ""
    ifindex: int = 0
    mtu: int = 0
    mac: str = ""
    flags: int = 0
    ns_id: int = 0


@dataclass
class Mount:
    destination: str
    type: str = ""
    source: str = ""
    options: list[str] = field(default_factory=list)
    origin: str = "spec"  # "spec" (spec.dump) | "criu" (mountpoints-N.img)
    mnt_id: int = 0
    parent_mnt_id: int = 0
    root: str = ""
    ext_key: str = ""  # CRIU's key of an external mount (the engine supplies it on restore)

    @property
    def external(self) -> bool:
        """A mount the engine brings in from outside (CRIU does not dump it)."""
        return bool(self.ext_key)

    @property
    def label(self) -> str:
        """The type with where an external mount comes from: ``"bind (external: /etc/hosts)"``."""
        if not self.ext_key:
            return self.type
        return f"{self.type or 'mount'} (external: {self.ext_key})"


@dataclass
class LogFile:
    name: str  # member name or external path
    text: str
    external: bool = False


@dataclass
class ImageInfo:
    """One CRIU image file in checkpoint/ (for the raw images browser)."""

    name: str
    size: int
    magic: str = ""  # CRIU magic name, "RAW" for raw images, "UNKNOWN"
    entries: int | None = None
    problem: str = ""
