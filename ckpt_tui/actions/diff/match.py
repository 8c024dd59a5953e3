"""Which process of dump A is which process of dump B.

A pid alone is not an identity: a pid can be reused by a new process, and a restored
container's pids may shift. A process is known by its pid, its ``comm``, its command line
and its *memory layout*: where its stack, argv and environment start (``mm-PID.img``).
Under address-space randomisation every exec gets its own layout, and CRIU restores it
exactly, so it stands in for a start time, which CRIU does not record (``task_core_entry``
keeps field 19, ``start_time``, reserved and unused).

Matching runs in stages, each over the processes not matched yet; the first stage that
pairs two processes says how (``Pair.how``):

1. ``identity``: same pid, comm, command line, and the same layout where both have one;
2. ``argv rewritten``: same pid, comm and layout, another command line (setproctitle);
3. ``pid changed``: same comm, command line and layout, another pid (a restore's shift);
4. ``re-executed``: same pid, comm and command line, another layout (a new exec).

Anything left is removed (only in A) or added (only in B).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ...model.types import Process

IDENTITY = "identity"
ARGV_REWRITTEN = "argv rewritten"
PID_CHANGED = "pid changed"
RE_EXECUTED = "re-executed"

_LAYOUT = ("mm_start_stack", "mm_arg_start", "mm_env_start", "mm_start_brk")


@dataclass
class Pair:
    a: Process | None
    b: Process | None
    how: str = ""

    @property
    def pid(self) -> int:
        return self.b.pid if self.b is not None else self.a.pid if self.a is not None else 0


def layout(proc: Process) -> tuple[int, ...] | None:
    """Where the process's stack, argv, environment and heap start; None without ``mm``
    (a zombie, an unreadable image)."""
    if not proc.mm or not any(proc.mm.get(k) for k in _LAYOUT):
        return None
    return tuple(proc.mm.get(k, 0) for k in _LAYOUT)


def _same_layout(a: Process, b: Process) -> bool:
    la, lb = layout(a), layout(b)
    return la is None or lb is None or la == lb


def match_processes(a: dict[int, Process], b: dict[int, Process]) -> list[Pair]:
    """Every process of ``a`` and ``b`` once, paired where they are the same process; in
    B's pid order for pairs and added ones, removed ones at A's pid among them."""
    left_a = dict(a)
    left_b = dict(b)
    pairs: list[Pair] = []

    def take(pa: Process, pb: Process, how: str) -> None:
        del left_a[pa.pid]
        del left_b[pb.pid]
        pairs.append(Pair(pa, pb, how))

    # stages 1, 2 and 4 pair by pid
    for how, same in ((IDENTITY, lambda x, y: x.cmdline == y.cmdline and _same_layout(x, y)),
                      (ARGV_REWRITTEN, lambda x, y: layout(x) is not None and layout(x) == layout(y))):
        for pid in sorted(left_a):
            pb = left_b.get(pid)
            pa = left_a[pid]
            if pb is not None and pa.comm == pb.comm and same(pa, pb):
                take(pa, pb, how)
    # stage 3: another pid, the same process by everything else (unique on both sides)
    _pair_by(left_a, left_b, lambda p: (p.comm, tuple(p.cmdline), layout(p)) if layout(p) else None,
             lambda pa, pb: take(pa, pb, PID_CHANGED))
    for pid in sorted(left_a):
        pb = left_b.get(pid)
        pa = left_a[pid]
        if pb is not None and pa.comm == pb.comm and pa.cmdline == pb.cmdline:
            take(pa, pb, RE_EXECUTED)
    pairs.extend(Pair(p, None) for p in left_a.values())
    pairs.extend(Pair(None, p) for p in left_b.values())
    pairs.sort(key=lambda p: (p.pid, p.b is not None))
    return pairs


def _pair_by(left_a: dict[int, Process], left_b: dict[int, Process], key: Callable[[Process], Hashable | None],
             take: Callable[[Process, Process], None]) -> None:
    """Pair the processes whose ``key`` is found exactly once on each side."""
    def index(procs: dict[int, Process]) -> dict[Hashable, list[Process]]:
        out: dict[Hashable, list[Process]] = {}
        for p in procs.values():
            k = key(p)
            if k is not None:
                out.setdefault(k, []).append(p)
        return out

    ia, ib = index(left_a), index(left_b)
    for k, found in ia.items():
        other = ib.get(k)
        if len(found) == 1 and other is not None and len(other) == 1:
            take(found[0], other[0])


def pid_map(pairs: list[Pair]) -> dict[int, int]:
    """A's pid -> B's pid for every matched process."""
    return {p.a.pid: p.b.pid for p in pairs if p.a is not None and p.b is not None}
