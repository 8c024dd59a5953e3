"""Where the secrets of memory pages images are: the parts of each ``pages-N.img`` that are one
stretch of a process's memory, and the environment values to fill whole.

A pages image holds the present runs of one process's pagemap, one after the other. A secret is
a run of bytes contiguous in memory, so each stretch that is contiguous both in memory and in the
file is searched on its own (:func:`~ckpt_tui.model.masking.redact_stream`), and bytes no pagemap
run claims (shared memory, a damaged pagemap) are searched as one more stretch each. The
environment block (``mm_env_start``..``mm_env_end``) is read through the process's memory and
every value :func:`~ckpt_tui.model.masking.should_mask` masks is filled whole, wherever its pages
sit in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from ...errors import CkptError
from ...model.masking import Redaction, env_value_spans, redact_region
from ...model.memory import PAGE_SIZE, PRESENT

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint
    from ...model.memory import MemoryReader


@dataclass
class PagesPlan:
    """One pages image: its stretches in file order and the ranges to fill regardless of the rules."""

    name: str
    pids: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # (file offset, length) of memory stretches
    extra: list[Redaction] = field(default_factory=list)  # file ranges of masked environment values

    def stretches(self, size: int) -> list[tuple[int, int]]:
        """Every byte of a ``size``-byte image in exactly one stretch, in file order: the memory
        stretches, and what lies between them."""
        out: list[tuple[int, int]] = []
        pos = 0
        for offset, length in sorted(self.spans):
            offset, end = max(offset, pos), min(size, offset + length)
            if end <= offset:
                continue
            if offset > pos:
                out.append((pos, offset - pos))
            out.append((offset, end - offset))
            pos = end
        if pos < size:
            out.append((pos, size - pos))
        return out


def _file_ranges(reader: MemoryReader, addr: int, length: int) -> Iterable[tuple[int, int]]:
    """Where [addr, addr+length) of the process's memory sits in its pages image, page by page
    (pages that are not in this dump's image are left out)."""
    end = addr + length
    while addr < end:
        nxt = min(end, addr - addr % PAGE_SIZE + PAGE_SIZE)
        run = reader.run_at(addr)
        if run is not None and run.state == PRESENT and run.offset is not None:
            yield run.offset + (addr - run.vaddr), nxt - addr
        addr = nxt


def _env_ranges(ck: Checkpoint, pid: int, reader: MemoryReader) -> list[Redaction]:
    mm = ck.processes[pid].mm
    start, end = mm.get("mm_env_start", 0), mm.get("mm_env_end", 0)
    if not start or end <= start or end - start > 1 << 20:
        return []
    block = reader.read(start, end - start)
    out: list[Redaction] = []
    for lo, hi, rule in env_value_spans(block):
        for offset, length in _file_ranges(reader, start + lo, hi - lo):
            out.append((offset, offset + length, rule))
    return out


def pages_plans(ck: Checkpoint, prefix: str = "") -> dict[str, PagesPlan]:
    """The plan of every pages image the processes of ``ck`` name (member names with ``prefix``,
    a pod container's directory)."""
    plans: dict[str, PagesPlan] = {}
    for pid in sorted(ck.processes):
        try:
            reader = ck.memory(pid)
        except CkptError:
            continue
        if reader.pages is None or not reader.pages_name:
            continue
        plan = plans.setdefault(prefix + reader.pages_name, PagesPlan(prefix + reader.pages_name))
        plan.pids.append(pid)
        plan.spans.extend((offset, length) for _vaddr, offset, length in reader.present_spans())
        plan.extra.extend(_env_ranges(ck, pid, reader))
    return plans


def redact_pages(src: BinaryIO, size: int, plan: PagesPlan | None, write: Callable[[bytes], object]) -> list[Redaction]:
    """Copy a pages image of ``size`` bytes to ``write`` with its secrets filled; the ranges filled."""
    plan = plan or PagesPlan("")
    ranges: list[Redaction] = []
    for offset, length in plan.stretches(size):
        extra = [(max(lo, offset) - offset, min(hi, offset + length) - offset, rule)
                 for lo, hi, rule in plan.extra if lo < offset + length and hi > offset]
        got, count = redact_region(src, offset, length, write, extra=extra)
        if count < length:
            raise CkptError(f"{plan.name}: the checkpoint gave {count} of {length} bytes (truncated)")
        ranges.extend((lo + offset, hi + offset, rule) for lo, hi, rule in got)
    return ranges
