"""Pod checkpoints: ``pod.options`` at the top, one directory per container.

CRI-O writes ``pod.options`` (``{"version": 1, "containers": {name: dir}, "annotations":
{...}}``) and, per container, a directory ``<container id>-<name>/`` holding the usual
layout (config.dump, spec.dump, checkpoint/, rootfs-diff.tar ...). Each container
becomes a Checkpoint of its own, built over a view of the same source.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..archive import Member
from .. import annotations as A
from ..errors import CkptError, Pane

if TYPE_CHECKING:  # pragma: no cover
    from ..archive import Source
    from .checkpoint import Checkpoint


class PrefixedSource:
    """The members of ``source`` under ``prefix``, with the prefix taken off (read-only view)."""

    def __init__(self, source: "Source", prefix: str, container: str = ""):
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
        self.problems = []
        self.annotations: dict[str, str] = {}
        self.synthesized: set[str] = set()
        self.workspace = source.workspace

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


def is_pod(source: "Source | PrefixedSource") -> bool:
    """``source`` is a pod checkpoint: pod.options and no top-level process tree."""
    return source.has("pod.options") and not source.has("checkpoint/pstree.img")


def container_dirs(options: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, directory) of each container pod.options lists, by name; directories as
    written (see :func:`usable_dir`)."""
    containers = options.get("containers")
    if not isinstance(containers, dict):
        return []
    return [(str(name), str(directory)) for name, directory in sorted(containers.items(), key=lambda kv: str(kv[0]))]


def usable_dir(directory: str) -> str:
    """The member prefix (no slashes around it) of a container directory, '' if unusable."""
    prefix = str(directory).strip("/")
    if not prefix or ".." in prefix.split("/"):
        return ""
    return prefix


def pod_views(source: "Source") -> list[PrefixedSource]:
    """One view per container of a pod source whose directory is in it (pod.options order
    by name); [] for anything that is not a pod or whose pod.options cannot be read."""
    import json

    if not is_pod(source):
        return []
    try:
        options = json.loads(source.read("pod.options", limit=16 << 20))
    except (CkptError, ValueError):  # unreadable or damaged: the model says why
        return []
    if not isinstance(options, dict):
        return []
    views = []
    for name, directory in container_dirs(options):
        prefix = usable_dir(directory)
        if prefix:
            view = PrefixedSource(source, prefix, name)
            if view.members:
                views.append(view)
    return views


def config_name(view: "PrefixedSource") -> str:
    """The container name its config.dump gives, '' if none (no model needed)."""
    import json

    if not view.has("config.dump"):
        return ""
    try:
        config = json.loads(view.read("config.dump", limit=16 << 20))
    except (CkptError, ValueError):
        return ""
    name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else ""


def container_names(view: "PrefixedSource | Source", display: str = "") -> list[str]:
    """Names a user may give ``--container`` for a container: its name, its pod.options name,
    its directory (``aaa111-web``; a trailing slash is taken off before comparing)."""
    names = [display, getattr(view, "container", ""), getattr(view, "prefix", "").rstrip("/")]
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def select_containers(pod: "Checkpoint", wanted: str | None) -> list["Checkpoint"]:
    """The containers of ``pod`` that ``wanted`` names (all of them for None); [] when none."""
    if wanted is None:
        return list(pod.containers)
    key = wanted.strip().rstrip("/")
    return [c for c in pod.containers if key in container_names(c.source, c.info.name)]


def build_pod(ck: "Checkpoint", options: dict[str, Any], log_files: Iterable[str | Path] = ()) -> None:
    """Fill ``ck`` (the pod) with one Checkpoint per container listed in pod.options."""
    from .loader import build_checkpoint
    from .metadata import engine_named

    ann = options.get("annotations") if isinstance(options.get("annotations"), dict) else {}
    ann = {str(k): str(v) for k, v in ann.items()}
    info = ck.info
    info.annotations.update(ann)
    info.pod_name = ann.get(A.CRIU_POD_NAME, "") or info.pod_name
    info.namespace = ann.get(A.CRIU_POD_NAMESPACE, "") or info.namespace
    info.engine = engine_named(ann.get(A.CRIU_ENGINE_NAME, "")) or info.engine
    info.name = info.name or f"pod {info.pod_name}".strip()
    info.source_kind = f"pod checkpoint ({ck.source.description or ck.source.kind})"
    containers = container_dirs(options)
    if not containers:
        ck.add_problem("pod.options", "lists no containers", Pane.OVERVIEW)
        return
    for name, directory in containers:
        prefix = usable_dir(directory)
        if not prefix:
            ck.add_problem("pod.options", f"container {name!r} has an unusable directory {directory!r}", Pane.OVERVIEW)
            continue
        view = PrefixedSource(ck.source, prefix, name)
        if not view.members:
            ck.add_problem("pod.options", f"container {name!r}: directory {prefix}/ is not in the archive", Pane.OVERVIEW)
            continue
        sub = build_checkpoint(view, log_files=log_files)  # type: ignore[arg-type]
        sub.sizes.file = None  # the file on disk is the pod's
        sub.info.name = sub.info.name or str(name)
        sub.info.pod_name = sub.info.pod_name or info.pod_name
        sub.info.namespace = sub.info.namespace or info.namespace
        for p in sub.problems:
            ck.add_problem(f"{prefix}/{p.source}" if p.source else prefix, p.message, p.pane, p.severity)
        ck.containers.append(sub)
    _pod_sizes(ck)


def _pod_sizes(ck: "Checkpoint") -> None:
    """A pod's sizes are its containers' (it has no checkpoint/ of its own); what is in
    no container (pod.options, pod.dump) counts as metadata."""
    sizes = ck.sizes
    subs = [c.sizes for c in ck.containers]
    sizes.total = sum(s.total for s in subs)
    sizes.memory_pages = sum(s.memory_pages for s in subs)
    sizes.rootfs_diff = sum(s.rootfs_diff for s in subs)
    images = sizes.total - sizes.memory_pages
    sizes.breakdown = {"memory pages": sizes.memory_pages, "root FS diff": sizes.rootfs_diff,
                       "other CRIU images": images,
                       "metadata, logs and other": max(0, sizes.archive - sizes.total - sizes.rootfs_diff)}
