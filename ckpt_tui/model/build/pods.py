"""A pod checkpoint: one Checkpoint per container that pod.options lists, each built over a
view of the same source (:class:`ckpt_tui.model.pods.PrefixedSource`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ... import annotations as A
from ...errors import Pane
from ..checkpoint import Checkpoint
from ..metadata import engine_named
from ..pods import PrefixedSource, pod_layout


def build_pod(ck: Checkpoint, options: dict[str, Any], build: Callable[[PrefixedSource], Checkpoint]) -> None:
    """Fill ``ck`` (the pod) with one Checkpoint per container, each made by ``build``."""
    raw = options.get("annotations")
    ann = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    info = ck.info
    info.annotations.update(ann)
    info.pod_name = ann.get(A.CRIU_POD_NAME, "") or info.pod_name
    info.namespace = ann.get(A.CRIU_POD_NAMESPACE, "") or info.namespace
    info.engine = engine_named(ann.get(A.CRIU_ENGINE_NAME, "")) or info.engine
    info.name = info.name or f"pod {info.pod_name}".strip()
    info.source_kind = f"pod checkpoint ({ck.source.description or ck.source.kind})"
    layout = pod_layout(options)
    if not (layout.containers or layout.unusable or layout.shared):
        ck.add_problem("pod.options", "lists no containers", Pane.OVERVIEW)
        return
    _listed(ck, "containers whose directories are unusable (empty, or climbing out with ..), not read",
            [f"{name!r} ({directory!r})" for name, directory in layout.unusable])
    _listed(ck, "containers naming the directory of another container, not read again",
            [f"{name!r} (that of {other!r})" for name, other in layout.shared])
    if layout.over:
        ck.add_problem("pod.options", f"names {layout.over:,} containers more than the {layout.bound} "
                       "that are read; they are not shown", Pane.OVERVIEW)
    for name, prefix in layout.containers:
        view = PrefixedSource(ck.source, prefix, name)
        if not view.members:
            ck.add_problem("pod.options", f"container {name!r}: directory {prefix}/ is not in the archive", Pane.OVERVIEW)
            continue
        sub = build(view)
        sub.directory = prefix
        sub.sizes.file = None  # the file on disk is the pod's
        sub.info.name = sub.info.name or str(name)
        sub.info.pod_name = sub.info.pod_name or info.pod_name
        sub.info.namespace = sub.info.namespace or info.namespace
        for p in sub.problems:
            ck.add_problem(f"{prefix}/{p.source}" if p.source else prefix, p.message, p.pane, p.severity)
        ck.containers.append(sub)
    pod_sizes(ck)


def _listed(ck: Checkpoint, what: str, names: list[str], shown: int = 8) -> None:
    """One problem for every container of ``names``: "WHAT (N): a, b, ..."."""
    if names:
        more = f", and {len(names) - shown:,} more" if len(names) > shown else ""
        ck.add_problem("pod.options", f"{what} ({len(names):,}): {', '.join(names[:shown])}{more}", Pane.OVERVIEW)


def pod_sizes(ck: Checkpoint) -> None:
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
