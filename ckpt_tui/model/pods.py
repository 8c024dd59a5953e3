"""Pod checkpoints: ``pod.options`` at the top, one directory per container.

CRI-O writes ``pod.options`` (``{"version": 1, "containers": {name: dir}, "annotations":
{...}}``) and, per container, a directory ``<container id>-<name>/`` holding the usual
layout (config.dump, spec.dump, checkpoint/, rootfs-diff.tar ...). Each container
becomes a Checkpoint of its own, built over a view of the same source.
"""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..archive.types import Member
from ..archive.workspace import Workspace
from ..errors import CkptError, Problem
from .checkpoint import Checkpoint
from .types import SourceView


class PrefixedSource:
    """The members of ``source`` under ``prefix``, with the prefix taken off (read-only view)."""

    def __init__(self, source: SourceView, prefix: str, container: str = ""):
        self.base = source
        self.prefix = prefix.rstrip("/") + "/"
        self.container = container  # the container's name in pod.options
        self.path = source.path
        self.kind = source.kind
        self.description = f"{source.description}, container {self.prefix.rstrip('/')}"
        self.members: dict[str, Member] = {}
        for name, m in source.members.items():
            if name.startswith(self.prefix) and len(name) > len(self.prefix):
                short = name[len(self.prefix):]
                self.members[short] = Member(short, m.size, m.type, m.mode, m.mtime, m.linkname, m.uid, m.gid)
        self.problems: list[Problem] = []
        self.annotations: dict[str, str] = {}

    @property
    def discarded(self) -> Set[str]:
        """The members of this view that the source only streamed past (see ``Source.discarded``)."""
        return self._own(self.base.discarded)

    @property
    def synthesized(self) -> Set[str]:
        """The members of this view that the source made up (see ``Source.synthesized``)."""
        return self._own(self.base.synthesized)

    @property
    def workspace(self) -> Workspace:
        """The pod's source's workspace (scratch files go there)."""
        return self.base.workspace

    @property
    def remote(self) -> bool:
        """The pod's source is in a registry (``docker://``)."""
        return self.base.remote

    @property
    def stopped(self) -> str:
        """Why reading the pod's source stopped before its end ("" when it did not)."""
        return self.base.stopped

    def _own(self, names: Set[str]) -> set[str]:
        n = len(self.prefix)
        return {name[n:] for name in names if name.startswith(self.prefix) and len(name) > n}

    def names(self, prefix: str = "") -> list[str]:
        return [n for n in self.members if n.startswith(prefix)]

    def has(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str, limit: int | None = None) -> bytes:
        return self.base.read(self.prefix + name, limit)

    def open(self, name: str) -> BinaryIO:
        return self.base.open(self.prefix + name)

    def file_range(self, name: str) -> tuple[Path, int, int] | None:
        return self.base.file_range(self.prefix + name)

    def fetch(self, name: str) -> tuple[Path, int, int] | None:
        return self.base.fetch(self.prefix + name)

    def is_remote(self, name: str) -> bool:
        return self.base.is_remote(self.prefix + name)

    def close(self) -> None:  # the pod's Checkpoint closes the real source
        pass


def is_pod(source: SourceView) -> bool:
    """``source`` is a pod checkpoint: pod.options and no top-level process tree."""
    return source.has("pod.options") and not source.has("checkpoint/pstree.img")


#: containers of one pod that are built (pod.options may name hundreds; the rest are listed)
MAX_POD_CONTAINERS = 64


@dataclass
class PodLayout:
    """What pod.options says of the pod's containers, bounded: ``containers`` (name, member
    prefix) to build, at most :data:`MAX_POD_CONTAINERS`, each directory once; ``unusable``
    (name, directory as written: empty or climbing out with ``..``); ``shared`` (name, the
    container whose directory it names too); ``over``: containers past the bound, ``bound``."""

    containers: list[tuple[str, str]] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)
    shared: list[tuple[str, str]] = field(default_factory=list)
    over: int = 0
    bound: int = MAX_POD_CONTAINERS


def container_dirs(options: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, directory) of each container pod.options lists, by name; directories as
    written (see :func:`usable_dir`)."""
    containers = options.get("containers")
    if not isinstance(containers, dict):
        return []
    return [(str(name), str(directory)) for name, directory in sorted(containers.items(), key=lambda kv: str(kv[0]))]


def pod_layout(options: dict[str, Any]) -> PodLayout:
    """The containers of a pod as :class:`PodLayout` bounds them (pod.options order by name)."""
    layout = PodLayout(bound=MAX_POD_CONTAINERS)
    owner: dict[str, str] = {}  # member prefix -> the container it was first given to
    for name, directory in container_dirs(options):
        prefix = usable_dir(directory)
        if not prefix:
            layout.unusable.append((name, directory))
        elif prefix in owner:
            layout.shared.append((name, owner[prefix]))
        elif len(layout.containers) >= layout.bound:
            layout.over += 1
        else:
            owner[prefix] = name
            layout.containers.append((name, prefix))
    return layout


def usable_dir(directory: str) -> str:
    """The member prefix (no slashes around it) of a container directory, '' if unusable."""
    prefix = str(directory).strip("/")
    if not prefix or ".." in prefix.split("/"):
        return ""
    return prefix


def pod_views(source: SourceView) -> list[PrefixedSource]:
    """One view per container of a pod source whose directory is in it (pod.options order
    by name, as :func:`pod_layout` bounds them); [] for anything that is not a pod or whose
    pod.options cannot be read."""
    if not is_pod(source):
        return []
    try:
        options = json.loads(source.read("pod.options", limit=16 << 20))
    except (CkptError, ValueError, RecursionError):  # unreadable or damaged: the model says why
        return []
    if not isinstance(options, dict):
        return []
    views = [PrefixedSource(source, prefix, name) for name, prefix in pod_layout(options).containers]
    return [view for view in views if view.members]


def config_name(view: PrefixedSource) -> str:
    """The container name its config.dump gives, '' if none (no model needed)."""
    if not view.has("config.dump"):
        return ""
    try:
        config = json.loads(view.read("config.dump", limit=16 << 20))
    except (CkptError, ValueError, RecursionError):
        return ""
    name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else ""


def container_names(view: SourceView, display: str = "") -> list[str]:
    """Names a user may give ``--container`` for a container: its name, its pod.options name,
    its directory (``aaa111-web``; a trailing slash is taken off before comparing)."""
    names = [display]
    if isinstance(view, PrefixedSource):
        names += [view.container, view.prefix.rstrip("/")]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def select_containers(pod: Checkpoint, wanted: str | None) -> list[Checkpoint]:
    """The containers of ``pod`` that ``wanted`` names (all of them for None); [] when none."""
    if wanted is None:
        return list(pod.containers)
    key = wanted.strip().rstrip("/")
    return [c for c in pod.containers if key in container_names(c.source, c.info.name)]
