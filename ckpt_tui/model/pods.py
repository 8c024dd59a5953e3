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

if TYPE_CHECKING:  # pragma: no cover
    from ..archive import Source
    from .checkpoint import Checkpoint


class PrefixedSource:
    """The members of ``source`` under ``prefix``, with the prefix taken off (read-only view)."""

    def __init__(self, source: "Source", prefix: str):
        self.base = source
        self.prefix = prefix.rstrip("/") + "/"
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

    def close(self) -> None:  # the pod's Checkpoint closes the real source
        pass


def build_pod(ck: "Checkpoint", options: dict[str, Any], log_files: Iterable[str | Path] = ()) -> None:
    """Fill ``ck`` (the pod) with one Checkpoint per container listed in pod.options."""
    from .loader import build_checkpoint

    ann = options.get("annotations") if isinstance(options.get("annotations"), dict) else {}
    ann = {str(k): str(v) for k, v in ann.items()}
    info = ck.info
    info.annotations.update(ann)
    info.pod_name = ann.get("org.criu.checkpoint.pod.name", "") or info.pod_name
    info.namespace = ann.get("org.criu.checkpoint.pod.namespace", "") or info.namespace
    engine = ann.get("org.criu.checkpoint.engine.name", "")
    info.engine = {"cri-o": "CRI-O", "libpod": "Podman", "podman": "Podman"}.get(engine.lower(), engine or info.engine)
    info.name = info.name or f"pod {info.pod_name}".strip()
    info.source_kind = f"pod checkpoint ({ck.source.description or ck.source.kind})"
    containers = options.get("containers")
    if not isinstance(containers, dict) or not containers:
        ck.add_problem("pod.options", "lists no containers", "overview")
        return
    for name, directory in sorted(containers.items()):
        prefix = str(directory).strip("/")
        if not prefix or ".." in prefix.split("/"):
            ck.add_problem("pod.options", f"container {name!r} has an unusable directory {directory!r}", "overview")
            continue
        view = PrefixedSource(ck.source, prefix)
        if not view.members:
            ck.add_problem("pod.options", f"container {name!r}: directory {prefix}/ is not in the archive", "overview")
            continue
        sub = build_checkpoint(view, log_files=log_files)  # type: ignore[arg-type]
        sub.info.name = sub.info.name or str(name)
        sub.info.pod_name = sub.info.pod_name or info.pod_name
        sub.info.namespace = sub.info.namespace or info.namespace
        for p in sub.problems:
            ck.add_problem(f"{prefix}/{p.source}" if p.source else prefix, p.message, p.pane, p.severity)
        ck.containers.append(sub)
