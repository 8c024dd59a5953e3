"""Two checkpoints compared, area by area (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import Cancelled, CkptError
from ...model.checkpoint import Checkpoint
from .layers import layers_of
from .match import match_processes, pid_map
from .memory import memory_node
from .processes import process_node
from .result import CheckpointDiff, Node, Side, Status
from .rootfs import files_section
from .system import annotations_section, metadata_section, mounts_section, network_section, sizes_section, stats_section

# what can be compared, in the order shown (``--only`` takes a comma-separated subset)
AREAS = ("metadata", "processes", "memory", "files", "mounts", "network", "annotations", "stats", "sizes", "layers")


@dataclass
class DiffOptions:
    areas: tuple[str, ...] = AREAS
    keep_unchanged: bool = False  # keep the unchanged nodes (the UI's toggles, --show-unchanged)
    pages: bool = True  # compare memory page by page (the memory area)


def parse_areas(text: str) -> tuple[str, ...]:
    """``processes,files`` -> the areas in their canonical order; CkptError on a name it
    does not know (``fds`` and ``sockets`` are part of ``processes``)."""
    wanted = [w.strip().lower() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in AREAS]
    if unknown or not wanted:
        raise CkptError(f"--only: unknown area {', '.join(unknown) or '(none given)'} "
                        f"(areas: {', '.join(AREAS)})")
    return tuple(a for a in AREAS if a in wanted)


def needs_pages(areas: tuple[str, ...]) -> bool:
    """Whether the comparison reads memory pages (the checkpoints must keep them)."""
    return "memory" in areas or "layers" in areas


def side(ck: Checkpoint, container: str = "") -> Side:
    return Side(path=str(ck.info.source_path or ck.source_path), name=ck.info.name, kind=ck.source_kind,
                container=container)


def diff_checkpoints(a: Checkpoint, b: Checkpoint, options: DiffOptions | None = None, *,
                     progress: Callable[[int, int], None] | None = None,
                     cancelled: Callable[[], bool] | None = None) -> CheckpointDiff:
    """Compare ``a`` (the older, as a rule) with ``b``. A pod is compared container by
    container, matched by name."""
    opts = options or DiffOptions()
    result = CheckpointDiff(side(a), side(b), opts.areas)
    if a.containers or b.containers:
        _diff_pods(a, b, opts, result, progress, cancelled)
    else:
        result.sections = _sections(a, b, opts, result.problems, progress, cancelled)
    return result


def _sections(a: Checkpoint, b: Checkpoint, opts: DiffOptions, problems: list[str],
              progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None) -> list[Node]:
    out: list[Node] = []
    for area in opts.areas:
        if cancelled is not None and cancelled():
            raise Cancelled()
        if area == "processes" or (area == "memory" and "processes" not in opts.areas):
            out.append(processes_section(a, b, opts, problems, progress, cancelled))
        elif area == "files":
            out.append(files_section(a, b, keep_unchanged=opts.keep_unchanged, problems=problems))
        elif area == "layers":
            out.append(layers_section(a, b, problems))
        elif area in WHOLE:
            out.append(WHOLE[area](a, b, opts.keep_unchanged))
    return out


# the areas compared from the checkpoints' records alone: (a, b, keep_unchanged) -> section
WHOLE: dict[str, Callable[[Checkpoint, Checkpoint, bool], Node]] = {
    "metadata": metadata_section, "mounts": mounts_section, "network": network_section,
    "annotations": annotations_section, "stats": stats_section, "sizes": sizes_section,
}


def processes_section(a: Checkpoint, b: Checkpoint, opts: DiffOptions, problems: list[str],
                      progress: Callable[[int, int], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> Node:
    """Every process matched (:mod:`.match`) and compared; with the memory area, each
    matched pair's VMAs and pages too. ``--only memory`` keeps just the memory."""
    section = Node("section", "processes")
    pairs = match_processes(a.processes, b.processes)
    pids = pid_map(pairs)
    with_procs = "processes" in opts.areas
    with_memory = "memory" in opts.areas
    for i, pair in enumerate(pairs):
        if cancelled is not None and cancelled():
            raise Cancelled()
        parent = (b.processes.get(pair.b.ppid) if pair.b is not None else
                  a.processes.get(pair.a.ppid) if pair.a is not None else None)
        node = process_node(pair, pids, parent)
        if not with_procs:
            node.children, node.changes, node.note = [], [], ""
            if node.status is Status.MODIFIED:
                node.status = Status.UNCHANGED
        if with_memory and all(p is None or p.alive for p in (pair.a, pair.b)):
            node.add(memory_node(a, b, pair.a, pair.b, pages=opts.pages, problems=problems))
        if not opts.keep_unchanged:
            prune(node)
        if node.status is Status.UNCHANGED and not opts.keep_unchanged:
            section.unlisted += 1
        else:
            section.add(node)
        if progress is not None:
            progress(i + 1, len(pairs))
    return section


def prune(node: Node) -> None:
    """Drop the unchanged descendants of ``node`` (counted in ``unlisted``)."""
    kept = []
    for child in node.children:
        if child.status is Status.UNCHANGED:
            node.unlisted += 1
        else:
            prune(child)
            kept.append(child)
    node.children = kept


def layers_section(a: Checkpoint, b: Checkpoint, problems: list[str]) -> Node:
    """Each side's pre-dump chain (when it has one) as layers; describes, never differs."""
    section = Node("section", "layers")
    same = a is b or (a.source_path == b.source_path and a.source_kind == b.source_kind)
    for ck, name in ((a, "A"), (b, "B"))[: 1 if same else 2]:  # `diff X X --only layers`: X's chain once
        layers = layers_of(ck, problems, f"{name}: ")
        if layers is not None:
            layers.key = name
            section.children.append(layers)
    return section


def _diff_pods(a: Checkpoint, b: Checkpoint, opts: DiffOptions, result: CheckpointDiff,
               progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None) -> None:
    """Pods: the pod's own record, then each container (matched by name) as a node whose
    children are that container's sections."""
    ca, cb = _containers(a, b), _containers(b, a)
    if "metadata" in opts.areas:
        result.sections.append(metadata_section(a, b, opts.keep_unchanged))
    section = Node("section", "containers")
    names = list(cb) + [n for n in ca if n not in cb]
    for name in names:
        x, y = ca.get(name), cb.get(name)
        node = Node("container", name, label=(y or x).info.image if (y or x) else "")  # type: ignore[union-attr]
        if x is None or y is None:
            node.status = Status.ADDED if x is None else Status.REMOVED
        else:
            problems: list[str] = []
            for child in _sections(x, y, opts, problems, progress, cancelled):
                node.add(child)
            result.problems.extend(f"container {name}: {p}" for p in problems)
        section.add(node)
    result.sections.append(section)


def _containers(ck: Checkpoint, other: Checkpoint) -> dict[str, Checkpoint]:
    """Containers by name; a checkpoint that is no pod stands for the one container of the
    other side that has its name (or for its only container)."""
    if ck.containers:
        return {c.info.name or getattr(c.source, "prefix", "?"): c for c in ck.containers}
    names = [c.info.name for c in other.containers]
    if ck.info.name in names:
        return {ck.info.name: ck}
    if len(names) == 1:
        return {names[0]: ck}
    raise CkptError(f"{ck.info.name or Path(str(ck.source_path)).name} is one container and the other side a pod "
                    f"of {len(names)} ({', '.join(names)}): compare it with a checkpoint of one of them")
