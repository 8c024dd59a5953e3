"""Each process's memory: its memory map (mm, VMAs), its pagemap runs, the reader over its
pages, and the command line and environment read from them.

Whether a process's memory can be read is decided here, while loading: a reader in
``Checkpoint.readers``, or the reason there is none in ``Checkpoint.unreadable``.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import pairwise

from ...criu import constants as C
from ...criu import decode_image
from ...errors import CkptError, Pane
from ...text import size
from ..memory import LAZY, PARENT, PRESENT, MemoryReader, PageRun, pagemap_runs
from ..pages import CapturedPages, PagesData, RemotePages
from ..types import VMA, ZOMBIE_NO_MEMORY, EnvVar, PbMessage, Process
from .context import Context, escape
from .files import FileTable
from .images import CKPT, absent

MM_FIELDS = ("mm_start_code", "mm_end_code", "mm_start_data", "mm_end_data", "mm_start_stack",
             "mm_start_brk", "mm_brk", "mm_arg_start", "mm_arg_end", "mm_env_start", "mm_env_end")
FILE_BACKED = C.VMA_FILE_PRIVATE | C.VMA_FILE_SHARED | C.VMA_AREA_MEMFD
KNOWN_AREA = C.VMA_AREA_STACK | C.VMA_AREA_HEAP
ARGV_LIMIT = 1 << 20  # bytes of a command line or an environment read


class MemoryBuilder:
    def __init__(self, ctx: Context, files: FileTable) -> None:
        self.ctx = ctx
        self.ck = ctx.ck
        self.images = ctx.images
        self.files = files
        self._runs: dict[int, tuple[list[PageRun] | None, int]] = {}

    def process(self, proc: Process) -> None:
        """The memory map, page counts, reader, argv and environment of a running process."""
        pid = proc.pid
        mm = self.images.first(f"mm-{pid}.img", Pane.MEMORY, required=True)
        if mm is None:
            return
        for name in MM_FIELDS:
            proc.mm[name] = getattr(mm, name)  # the protobuf field of that name
        if mm.HasField("exe_file_id"):
            proc.exe = self.files.path(mm.exe_file_id)
        vmas = mm.vmas[:self.ctx.take(len(mm.vmas), "VMAs")]
        proc.vmas.extend(self._vma(v, mm) for v in vmas)
        runs, _need = self.page_runs(pid)
        if runs is not None:
            _count_pages(proc.vmas, runs)
        reader = self._decide(proc)
        if reader is not None:
            self.argv_env(proc, reader)

    def settle(self) -> None:
        """Decide the memory of every process :meth:`process` did not: read from its pagemap
        when there is one (a process whose core or memory map is damaged), else why not."""
        for pid, proc in self.ck.processes.items():
            if pid in self.ck.readers or pid in self.ck.unreadable:
                continue
            if self.ctx.src.has(CKPT + f"pagemap-{pid}.img"):
                self._decide(proc)
            elif proc.alive:
                self.ck.unreadable[pid] = f"pid {pid} has no pagemap (pagemap-{pid}.img {absent(self.ctx.src)})"
            elif proc.zombie:
                self.ck.unreadable[pid] = f"pid {pid} is a zombie: {ZOMBIE_NO_MEMORY}"
            else:
                self.ck.unreadable[pid] = f"pid {pid} is not running ({proc.state}): CRIU dumps no memory for it"

    def _decide(self, proc: Process) -> MemoryReader | None:
        try:
            reader = self.reader(proc)
        except CkptError as exc:
            self.ctx.problem(CKPT + f"pagemap-{proc.pid}.img", str(exc), Pane.MEMORY)
            self.ck.unreadable[proc.pid] = str(exc)
            return None
        self.ck.readers[proc.pid] = reader
        return reader

    def _vma(self, v: PbMessage, mm: PbMessage) -> VMA:
        path = ""
        status = v.status
        if status & FILE_BACKED:
            fe = self.files.by_id.get(v.shmid)
            path = self.files.describe(fe)[1] if fe is not None else f"<file {v.shmid}>"
        if not path and not status & KNOWN_AREA:
            if v.start <= mm.mm_start_stack < v.end:
                status |= C.VMA_AREA_STACK  # the main thread's stack
            elif (mm.mm_start_brk <= v.start and v.end <= max(mm.mm_brk, mm.mm_start_brk + 1) + 0xFFF
                  and v.end > mm.mm_start_brk):
                status |= C.VMA_AREA_HEAP  # the brk heap
        return VMA(start=v.start, end=v.end, prot=v.prot, flags=v.flags, status=status, pgoff=v.pgoff,
                   shmid=v.shmid, path=path)

    # -- pagemap, pages, reader ---------------------------------------------------
    def page_runs(self, pid: int) -> tuple[list[PageRun] | None, int]:
        """(runs, bytes the pages image must hold) of pid's pagemap; (None, 0) without one."""
        if pid not in self._runs:
            self._runs[pid] = self._page_runs(pid)
        return self._runs[pid]

    def _page_runs(self, pid: int) -> tuple[list[PageRun] | None, int]:
        img = self.images.image(f"pagemap-{pid}.img", Pane.MEMORY, required=True)
        if img is None or not img.entries:
            return None, 0
        pages_id, runs, need = pagemap_runs(img, self.ctx.take(len(img.entries) - 1, "pagemap runs"))
        self.ck.processes[pid].pages_id = pages_id
        # overlapping runs are a malformed image: keep them, but say so
        for a, b in pairwise(runs):
            if b.vaddr < a.end:
                self.ctx.problem(CKPT + f"pagemap-{pid}.img", f"pagemap entries overlap at {b.vaddr:#x}", Pane.MEMORY,
                                 "warning")
                break
        return runs, need

    def reader(self, proc: Process) -> MemoryReader:
        """A MemoryReader for ``proc`` (CkptError when it has no readable pagemap)."""
        pid = proc.pid
        runs, need = self.page_runs(pid)
        if runs is None:
            raise CkptError(f"pid {pid} has no readable pagemap")
        pages: PagesData | CapturedPages | RemotePages | None = None
        pages_name = ""
        if proc.pages_id is not None:
            pages_name = CKPT + f"pages-{proc.pages_id}.img"
            pages = self._pages(pid, pages_name, need)
            if pages is not None or not self.ctx.src.has(pages_name):
                proc.pages_missing = _missing_pages(runs, len(pages) if pages is not None else 0)
        return MemoryReader(pid, proc.vmas, runs, pages, parent=self._parent_reader(pid, proc.vmas),
                            pages_name=pages_name)

    def _pages(self, pid: int, name: str, need: int) -> PagesData | CapturedPages | RemotePages | None:
        pages: PagesData | CapturedPages | RemotePages | None
        if name in self.ctx.src.discarded:
            pages = self.ck.captured.get(name)  # only argv/environ were kept (keep_pages=False)
            if pages is None:
                self.ctx.problem(name, f"streamed past before a later copy of pid {pid}'s memory map or pagemap "
                                 "(the archive holds them twice), so none of it was kept: open it in the app to "
                                 "read this process's memory", Pane.MEMORY)
                return None
        else:
            pages = PagesData.from_source(self.ctx.src, name)
            if pages is None:
                self.ctx.problem(name, f"{absent(self.ctx.src)}: pid {pid}'s {size(need)} of dumped "
                                 "memory cannot be read", Pane.MEMORY)
                return None
        if len(pages) < need:
            self.ctx.problem(name, f"holds {len(pages)} bytes but pid {pid}'s pagemap needs {need}: the pages "
                             "past its end cannot be read", Pane.MEMORY)
        return pages

    def _parent_reader(self, pid: int, vmas: list[VMA], directory: str = "checkpoint",
                       depth: int = 0) -> MemoryReader | None:
        """The pre-dump this dump's PE_PARENT pages point at (``<directory>/parent`` link), if it
        is here; its own PE_PARENT pages are read from its parent in turn (at most 16 dumps deep)."""
        src = self.ctx.src
        link = src.members.get(directory + "/parent")
        if link is None or link.type != "symlink" or depth >= 16:
            return None
        prefix = _inside(directory + "/" + link.linkname.strip("/")) + "/"
        pm = prefix + f"pagemap-{pid}.img"
        if not src.has(pm):
            return None
        try:
            img = decode_image(src.read(pm), f"pagemap-{pid}.img")
        except CkptError:
            return None  # the parent is a convenience: without it, its pages read as "parent"
        if not img.entries:
            return None
        pages_id, runs, _need = pagemap_runs(img)
        name = prefix + f"pages-{pages_id}.img"
        parent = self._parent_reader(pid, vmas, prefix.rstrip("/"), depth + 1)
        return MemoryReader(pid, vmas, runs, PagesData.from_source(src, name), parent=parent, pages_name=name)

    # -- argv, environ -----------------------------------------------------------
    def argv_env(self, proc: Process, reader: MemoryReader) -> None:
        mm = proc.mm
        pm = CKPT + f"mm-{proc.pid}.img"
        for kind, start, end in (("command line", mm["mm_arg_start"], mm["mm_arg_end"]),
                                 ("environment", mm["mm_env_start"], mm["mm_env_end"])):
            if end < start:
                self.ctx.problem(pm, f"pid {proc.pid}: {kind} range {start:#x}-{end:#x} is reversed", Pane.PROCESSES)
                continue
            if end > start and (reader.vma_at(start) is None or reader.vma_at(end - 1) is None):
                self.ctx.problem(pm, f"pid {proc.pid}: {kind} range {start:#x}-{end:#x} lies outside every VMA",
                                 Pane.PROCESSES)
                continue
            # only the first LIMIT bytes are read: only they must be in the dump
            states = {s for _, _, s in reader.runs_between(start, min(end, start + ARGV_LIMIT))} \
                if end > start else set()
            if states - {PRESENT}:
                self.ctx.problem(proc.pages_member or CKPT + f"pagemap-{proc.pid}.img",
                                 f"pid {proc.pid}: the {kind} is not in the dump "
                                 f"({', '.join(sorted(states - {PRESENT}))}); not shown", Pane.PROCESSES)
                continue  # never invent argv/environ from fill bytes
            items, truncated = reader.read_string_list(start, end, ARGV_LIMIT)
            if truncated:
                self.ctx.problem(pm, f"pid {proc.pid}: the {kind} is {end - start:,} bytes; only the first 1 MiB is "
                                 "shown", Pane.PROCESSES, "warning")
            items = items[:self.ctx.take(len(items), "argv and environment strings")]
            if kind == "command line":
                proc.cmdline = [escape(i) for i in items]
            else:
                proc.env.extend(_env_var(escape(raw)) for raw in items)


def _inside(path: str) -> str:
    """``path`` normalised without ever leaving the source's top (``..`` there is dropped)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


def _env_var(text: str) -> EnvVar:
    name, sep, value = text.partition("=")
    if not sep or not name:
        return EnvVar(name=text, value="", raw=text)
    return EnvVar(name=name, value=value, raw=text)


def _missing_pages(runs: list[PageRun], held: int) -> int:
    """Pages the pagemap puts in the pages image that a ``held``-byte image does not hold."""
    return sum(r.nr_pages - min(max((held - r.offset) // C.PAGE_SIZE, 0), r.nr_pages)
               for r in runs if r.state == PRESENT and r.offset is not None)


def _count_pages(vmas: list[VMA], runs: list[PageRun]) -> None:
    """How many of each VMA's pages are present, lazy, or in the parent checkpoint.

    Linear in the VMAs and runs (both in address order; ``layout_runs`` sorts the runs): a run
    finds its first VMA by bisection and walks only the VMAs it reaches. Where the runs of a
    malformed pagemap overlap, a page is counted for the first run that holds it."""
    ordered = sorted(vmas, key=lambda v: v.start)
    starts = [v.start for v in ordered]
    reach = 0  # where the runs so far end: a later run counts only from there
    for run in runs:
        lo, hi = max(run.vaddr, reach), run.end
        if lo >= hi:
            continue
        reach = hi
        state = run.state
        i = max(bisect_right(starts, lo) - 1, 0)
        while i < len(ordered) and ordered[i].start < hi:
            vma = ordered[i]
            i += 1
            n = (min(vma.end, hi) - max(vma.start, lo)) // C.PAGE_SIZE
            if n <= 0:
                continue
            if state == PRESENT:
                vma.pages_present += n
            elif state == LAZY:
                vma.pages_lazy += n
            elif state == PARENT:
                vma.pages_parent += n
