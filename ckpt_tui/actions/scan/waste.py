"""Waste, like dive's efficiency score: bytes a checkpoint carries that it need not.

- zero-filled pages (a restore could leave them to the kernel's zero page);
- dumped pages of read-only file mappings that hold just the file's bytes (checked where the root
  FS diff has the file: CRIU dumps a file mapping's pages once they were written, as relocations
  do before a mapping is made read-only, so only a comparison tells);
- logs and caches in the root FS diff;
- pages whose bytes another page of the checkpoint already holds.

Each page counts once: zero first, then the file's own bytes, then repeat. Pages are compared
by a 64-bit hash of their bytes.
"""

from __future__ import annotations

import bisect
import posixpath
from collections import defaultdict

from ...model import VMA, Checkpoint
from ...model.memory import PAGE_SIZE
from ...text import size as human
from .findings import Finding, Level, Waste, WasteItem, Where
from .memory import ZERO_HASH, PageTally

ZERO_RULE = "zero-pages"
FILE_RULE = "read-only-file-pages"
REPEAT_RULE = "repeated-pages"
LOGS_RULE = "logs-and-caches"

SHOWN = 64 << 10  # waste items this large become findings
NOTABLE = 0.10  # ... of level "low" from this share of the checkpoint on

# directories whose content is logs or caches (relative to the root), and such file names
CACHE_DIRS = ("var/log", "var/cache", "var/lib/apt/lists", "root/.npm", "root/.cache", "tmp/.cache")
CACHE_PARTS = frozenset({".cache", "__pycache__", ".npm", ".yarn-cache", ".pip-cache"})


def _cache_key(path: str) -> str:
    """The directory (or file) a log or cache file is counted under; "" when it is none."""
    for d in CACHE_DIRS:
        if path.startswith(d + "/"):
            rest = path[len(d) + 1:].split("/")
            return d + ("/" + rest[0] if len(rest) > 1 and d == "var/cache" else "")
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in CACHE_PARTS:
            return "/".join(parts[:i + 1])
    base = posixpath.basename(path)
    if base.endswith((".log", ".log.1", ".log.gz", ".pyc")) or ".log." in base:
        return path
    return ""


def read_only_file(v: VMA) -> bool:
    return bool(v.path) and v.path.startswith("/") and v.perms[1] != "w"


def mapped_files(ck: Checkpoint) -> set[str]:
    """Absolute paths of files mapped read-only with pages in the dump (compared with the file
    where the root FS diff holds it)."""
    return {v.path for p in ck.process_list() for v in p.vmas if read_only_file(v) and v.pages_present}


def measure(ck: Checkpoint, tally: PageTally | None, files: dict[str, bytes] | None = None,
            container: str = "") -> Waste:
    """The waste of one checkpoint. ``tally``: its pages (None: memory not scanned); ``files``:
    bytes of files of the root FS diff by absolute path (read-only mappings are checked against
    them)."""
    files = files or {}
    waste = Waste(total=ck.sizes.total + ck.sizes.rootfs_diff, memory_scanned=tally is not None)
    counted: dict[tuple, int] = defaultdict(int)  # (rule, pid, what) -> bytes
    first: dict[int, int] = {}  # page hash -> the pid that holds it first (pid, then address order)
    spans = tally.spans if tally is not None else {}
    for pid in sorted(spans):
        proc = ck.processes.get(pid)
        vmas = sorted(proc.vmas, key=lambda v: v.start) if proc is not None else []
        repeats: dict[int, int] = defaultdict(int)  # pid first holding -> pages
        for vaddr, hashes in sorted(spans[pid], key=lambda s: s[0]):
            for vma, lo, hi in _segments(vmas, vaddr, len(hashes)):
                seg = hashes[lo:hi]
                zeros = seg.count(ZERO_HASH)
                if zeros:
                    counted[(ZERO_RULE, pid, vma.label if vma is not None else "?")] += zeros * PAGE_SIZE
                data = files.get(vma.path) if vma is not None and read_only_file(vma) else None
                if data is not None:  # compared with the file, page by page
                    for i, h in enumerate(seg, lo):
                        if h == ZERO_HASH:
                            continue
                        held = first.get(h)
                        if held is None:
                            first[h] = pid
                        off = vma.pgoff + (vaddr + i * PAGE_SIZE - vma.start)
                        page = data[off:off + PAGE_SIZE]
                        if len(page) == PAGE_SIZE and hash(page) == h:
                            counted[(FILE_RULE, pid, f"{vma.path} {vma.perms}")] += PAGE_SIZE
                        elif held is not None:
                            repeats[held] += 1
                    continue
                for h in seg:  # the hot loop: every page of memory
                    if h != ZERO_HASH:
                        held = first.get(h)
                        if held is None:
                            first[h] = pid
                        else:
                            repeats[held] += 1
        for held, n in repeats.items():
            counted[(REPEAT_RULE, pid, held)] += n * PAGE_SIZE
    for e in ck.rootfs.entries:
        if e.status == "changed" and e.type == "file" and e.size:
            key = _cache_key(e.path)
            if key:
                counted[(LOGS_RULE, None, key)] += e.size
    for (rule, pid, what), nbytes in counted.items():
        waste.wasted += nbytes
        waste.by_rule[rule] = waste.by_rule.get(rule, 0) + nbytes
        waste.items.append(WasteItem(rule, _title(rule, pid, what, nbytes), nbytes, _where(rule, pid, what, container)))
    waste.items.sort(key=lambda i: (-i.size, i.rule, i.title))
    return waste


def _segments(vmas: list[VMA], vaddr: int, pages: int):
    """(VMA or None, first page index, end page index): the pieces of ``pages`` pages at ``vaddr``
    that one VMA (or none) holds."""
    starts = [v.start for v in vmas]
    i = 0
    while i < pages:
        addr = vaddr + i * PAGE_SIZE
        j = bisect.bisect_right(starts, addr) - 1
        vma = vmas[j] if j >= 0 and vmas[j].contains(addr) else None
        if vma is not None:
            stop = min(pages, i + (vma.end - addr) // PAGE_SIZE)
        elif j + 1 < len(vmas):
            stop = min(pages, i + max(1, (vmas[j + 1].start - addr) // PAGE_SIZE))
        else:
            stop = pages
        yield vma, i, stop
        i = stop


def _title(rule: str, pid, what, nbytes: int) -> str:
    amount = human(nbytes)
    if rule == ZERO_RULE:
        return f"{amount} of zero-filled pages in pid {pid} {what}"
    if rule == REPEAT_RULE:
        return (f"{amount} of pages in pid {pid} repeat pages of its own" if what == pid
                else f"{amount} of pages in pid {pid} repeat pages of pid {what}")
    if rule == FILE_RULE:
        return f"{amount} of dumped pages of the read-only file mapping {what} in pid {pid}"
    return f"{amount} of logs and caches in the root FS diff: /{what}"


def _where(rule: str, pid, what, container: str) -> Where:
    if rule == LOGS_RULE:
        return Where(path="/" + what, container=container)
    if rule in (ZERO_RULE, FILE_RULE):
        return Where(pid=pid, name=str(what), container=container)
    return Where(pid=pid, name=f"repeats pid {what}", container=container)


def findings(waste: Waste) -> list[Finding]:
    """The waste items worth a line in the findings (at least :data:`SHOWN` bytes)."""
    out = []
    for item in waste.items:
        if item.size < SHOWN:
            continue
        level: Level = "low" if waste.total and item.size >= NOTABLE * waste.total else "info"
        out.append(Finding(item.rule, "waste", level, item.title, item.where, size=item.size))
    return out
