"""A pre-dump chain shown as layers, the way dive shows an image's layers.

An incremental dump (``podman container checkpoint --with-previous``, ``criu dump
--prev-images-dir``) writes only the pages that changed since its parent and marks the
others ``PE_PARENT``; ``checkpoint/parent`` names the parent dump (``../pre-checkpoint``),
which may have a parent of its own. Each dump is a layer. For every layer, process and VMA:
the pages this layer wrote (*new*: no older layer had them; *rewritten*: an older layer
had them too), the pages it takes from its parent, and, for the whole chain, how many
pages of the final image each layer provides ("aggregated").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ...model.memory import LAZY, PAGE_SIZE, PARENT, PRESENT, MemoryReader
from ...model.types import VMA
from .result import Node, Status


@dataclass
class LayerCounts:
    new: int = 0  # written by this layer, no older layer has them
    rewritten: int = 0  # written by this layer over an older layer's copy
    from_parent: int = 0  # PE_PARENT: taken from the parent dump
    lazy: int = 0
    provides: int = 0  # pages of the final image read from this layer

    def add(self, other: LayerCounts) -> None:
        for name in ("new", "rewritten", "from_parent", "lazy", "provides"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def written(self) -> int:
        return self.new + self.rewritten

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "rewritten": self.rewritten, "from_parent": self.from_parent,
                "lazy": self.lazy, "provides": self.provides}


@dataclass
class LayerNode(Node):
    """A dump of the chain (``dump`` its directory), or a process or VMA within it."""

    dump: str = ""
    depth: int = 0  # 0: the final dump, 1 its parent, ...
    pages: LayerCounts = field(default_factory=LayerCounts)

    def extra_json(self) -> dict[str, Any]:
        return {"dump": self.dump, "depth": self.depth, "pages": self.pages.as_dict()}


def chain(reader: MemoryReader) -> list[MemoryReader]:
    out = [reader]
    while out[-1].parent is not None and len(out) < 32:
        out.append(out[-1].parent)
    return out


def dump_name(reader: MemoryReader, depth: int) -> str:
    return reader.pages_name.rsplit("/", 1)[0] if "/" in reader.pages_name else f"parent {depth}"


def _layer_vma(readers: list[MemoryReader], depth: int, vma: VMA) -> LayerCounts:
    reader = readers[depth]
    counts = LayerCounts()
    for run in reader.runs:
        lo, hi = max(run.vaddr, vma.start), min(run.end, vma.end)
        if lo >= hi:
            continue
        n = (hi - lo) // PAGE_SIZE
        state = run.state
        if state == PRESENT:
            older = reader.parent
            had = 0
            if older is not None:
                had = sum(length for _a, length, pages, _o in older.data_spans(lo, hi) if pages is not None)
            counts.rewritten += had // PAGE_SIZE
            counts.new += n - had // PAGE_SIZE
        elif state == PARENT:
            counts.from_parent += n
        elif state == LAZY:
            counts.lazy += n
    return counts


def layers_of(ck: Checkpoint, problems: list[str], side: str = "") -> Node | None:
    """The chain of ``ck`` as layer nodes (newest first), None when it is a single dump."""
    readers: dict[int, list[MemoryReader]] = {}
    for pid, proc in sorted(ck.processes.items()):
        if not proc.alive or not proc.vmas:
            continue
        try:
            readers[pid] = chain(ck.memory(pid))
        except CkptError as exc:
            problems.append(f"{side}pid {pid}: its dump chain cannot be read ({exc})")
    depth = max((len(c) for c in readers.values()), default=1)
    if depth < 2:
        return None
    root = Node("group", side.rstrip(": ") or "layers", label=f"{depth} dumps")
    for level in range(depth):
        names = {dump_name(c[level], level) for c in readers.values() if level < len(c)}
        layer = LayerNode("layer", ", ".join(sorted(names)), dump=", ".join(sorted(names)), depth=level,
                          label="the final dump" if level == 0 else f"pre-dump {depth - level} of {depth - 1}")
        for pid, rs in readers.items():
            if level >= len(rs):
                continue
            proc = ck.processes[pid]
            pnode = LayerNode("process", str(pid), label=proc.title, dump=layer.dump, depth=level)
            provided = _provided(rs, level)
            for vma in proc.vmas:
                counts = _layer_vma(rs, level, vma)
                counts.provides = provided(vma)
                vnode = LayerNode("vma", f"{vma.start:#x}-{vma.end:#x}", label=f"{vma.perms} {vma.label}",
                                  dump=layer.dump, depth=level, pages=counts)
                vnode.status = _status(counts)
                if counts.written or counts.from_parent or counts.provides:
                    pnode.children.append(vnode)
                pnode.pages.add(counts)
            pnode.status = _status(pnode.pages)
            layer.children.append(pnode)
            layer.pages.add(pnode.pages)
        layer.status = _status(layer.pages)
        layer.note = (f"wrote {layer.pages.written:,} pages ({layer.pages.new:,} new, {layer.pages.rewritten:,} "
                      f"rewritten), takes {layer.pages.from_parent:,} from its parent, provides "
                      f"{layer.pages.provides:,} of the final image")
        root.children.append(layer)
    return root


def _status(counts: LayerCounts) -> Status:
    """dive's markers for a layer: ``+`` it adds pages no older layer has, ``~`` it only
    rewrites older pages, unchanged when it writes nothing."""
    if counts.new:
        return Status.ADDED
    return Status.MODIFIED if counts.rewritten else Status.UNCHANGED


def _provided(readers: list[MemoryReader], level: int):
    """How many pages of a VMA the final image reads from layer ``level``."""
    target = readers[level].pages

    def count(vma: VMA) -> int:
        if target is None:
            return 0
        return sum(length for _a, length, pages, _o in readers[0].data_spans(vma.start, vma.end)
                   if pages is target) // PAGE_SIZE

    return count
