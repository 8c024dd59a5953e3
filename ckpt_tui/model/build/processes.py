"""The process tree (pstree.img) and each process: its core (state, comm, limits), ids,
threads with their credentials, cwd and root; then its memory and its open files."""

from __future__ import annotations

from ...criu import constants as C
from ...criu.constants import caps_from_words
from ...errors import CkptError, Pane
from ..types import Creds, PbMessage, Process, Thread
from .context import STRICT, Context, escape
from .files import FileTable
from .images import CKPT
from .memory import MemoryBuilder

SECCOMP_MODES = {0: "disabled", 1: "strict", 2: "filter"}
#: a process's state when its core image gives none, by why (images.Images.why_none)
CORE_STATE = {"missing": "unknown (no core image)", "not read": "unknown (core image not read)",
              "damaged": "unknown (core image damaged)", "empty": "unknown (core image empty)"}


class ProcessBuilder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ck = ctx.ck
        self.images = ctx.images
        self.files = FileTable(ctx)
        self.memory = MemoryBuilder(ctx, self.files)

    def build(self) -> None:
        """Every process of pstree.img, linked into a tree, each filled in."""
        pstree = self.images.image("pstree.img", Pane.PROCESSES, required=bool(self.ck.images))
        if pstree is None:
            return
        self.files.load()
        allowed = self.ctx.take(len(pstree.entries), "processes")
        for e in pstree.entries[:allowed]:
            m: PbMessage = e.message
            if m.pid in self.ck.processes:
                self.ctx.problem(CKPT + "pstree.img", f"pid {m.pid} is listed twice; the first entry is kept",
                                 Pane.PROCESSES)
                continue
            tids = list(m.threads) or [m.pid]
            keep = self.ctx.take(len(tids) - 1, "threads") + 1  # the main thread comes with its process
            if keep < len(tids):
                tids = tids[:keep] if m.pid in tids[:keep] else [m.pid, *tids[:keep - 1]]
            self.ck.processes[m.pid] = Process(pid=m.pid, ppid=m.ppid, pgid=m.pgid, sid=m.sid,
                                               threads=[Thread(tid=t) for t in tids])
        self.link()
        for i, proc in enumerate(self.ck.processes.values()):
            if i % 64 == 63:
                self.ctx.check()
            try:
                self.process(proc)
            except CkptError as exc:
                self.ctx.problem(CKPT + f"core-{proc.pid}.img", f"pid {proc.pid}: {exc}", Pane.PROCESSES)
            except Exception as exc:  # guards odd image data meeting a bug here: the other processes still load
                if STRICT:
                    raise
                self.ctx.problem(CKPT + f"core-{proc.pid}.img",
                                 f"pid {proc.pid}: stopped on unexpected data ({type(exc).__name__}: {exc})",
                                 Pane.PROCESSES)

    def link(self) -> None:
        """Parent/child links and the roots; a pid whose parent is absent (or a cycle) becomes a root."""
        procs = self.ck.processes
        for pid, proc in procs.items():
            parent = procs.get(proc.ppid)
            if proc.ppid and parent is not None and proc.ppid != pid:
                parent.children.append(pid)
        for proc in procs.values():
            proc.children.sort()
        roots = [p for p, proc in procs.items() if not proc.ppid or proc.ppid not in procs]
        reached: set[int] = set()
        stack = list(roots)
        while stack:
            p = stack.pop()
            if p in reached:
                continue
            reached.add(p)
            stack.extend(procs[p].children)
        cyclic = sorted(set(procs) - reached)
        if cyclic:
            self.ctx.problem(CKPT + "pstree.img", f"the process tree has a cycle through {len(cyclic):,} pids "
                             f"{cyclic[:10]}; shown as roots", Pane.PROCESSES)
            on_cycle = set(cyclic)
            # each pid of a cycle is its parent's child only: one pass over the parents on it
            for p in {procs[c].ppid for c in cyclic}:
                parent = procs.get(p)
                if parent is not None:
                    parent.children = [c for c in parent.children if c not in on_cycle]
            roots.extend(cyclic)
        self.ck.roots = sorted(roots)

    def process(self, proc: Process) -> None:
        pid = proc.pid
        core = self.images.first(f"core-{pid}.img", Pane.PROCESSES, required=True)
        if core is None:
            proc.state, proc.state_code = CORE_STATE[self.images.why_none(f"core-{pid}.img") or "missing"], 0
        else:
            self.core(proc, core)
        ids_name = f"ids-{pid}.img"
        if proc.alive and not proc.ids and not self.ctx.src.has(CKPT + ids_name):
            self.ctx.problem(CKPT + ids_name, "is missing: the process's open files and namespaces are unknown",
                             Pane.PROCESSES)
        ids = self.images.first(ids_name, Pane.PROCESSES)
        if ids is not None:
            proc.ids.update({f.name: v for f, v in ids.ListFields()})
        missing: list[int] = []
        for thread in proc.threads:
            if thread.tid == pid:
                tcore = core
            elif not self.ctx.src.has(CKPT + f"core-{thread.tid}.img"):
                missing.append(thread.tid)
                continue
            else:
                tcore = self.images.first(f"core-{thread.tid}.img", Pane.PROCESSES)
            if tcore is not None:
                self.thread(thread, tcore, proc)
        if missing and proc.alive:
            self.ctx.problem(CKPT + f"core-{missing[0]}.img",
                             f"pid {pid}: {len(missing):,} of its {len(proc.threads):,} threads have no core image "
                             f"(tids {', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''}): "
                             "their state and registers are unknown", Pane.PROCESSES)
        main = next((t for t in proc.threads if t.tid == pid), None)
        if main is not None:
            proc.creds = main.creds
            proc.seccomp_mode = main.seccomp_mode
        if not proc.alive:
            return
        fs = self.images.first(f"fs-{pid}.img", Pane.PROCESSES)
        if fs is not None:
            proc.cwd = self.files.path(fs.cwd_id)
            proc.root = self.files.path(fs.root_id)
        self.memory.process(proc)
        self.files.fds(proc)

    def core(self, proc: Process, core: PbMessage) -> None:
        tc = core.tc
        proc.state_code = tc.task_state
        proc.state = C.PROCESS_STATES.get(tc.task_state, f"unknown ({tc.task_state})")
        proc.comm = escape(tc.comm)
        proc.mtype = core.mtype
        proc.wait_status = tc.exit_code
        if proc.zombie:
            # CRIU never learns a zombie's thread id (pstree.img holds whatever was in memory):
            # its one thread is the leader, whose tid is the pid
            proc.threads = [Thread(tid=proc.pid, comm=proc.comm, state=proc.state)]
        proc.oom_score_adj = tc.oom_score_adj if tc.HasField("oom_score_adj") else 0
        if tc.HasField("rlimits"):
            proc.rlimits = [(C.RLIMITS[i][len("RLIMIT_"):] if i < len(C.RLIMITS) else str(i), r.cur, r.max)
                            for i, r in enumerate(tc.rlimits.rlimits)]
        if core.HasField("ids"):
            proc.ids = {f.name: v for f, v in core.ids.ListFields()}

    def thread(self, thread: Thread, core: PbMessage, proc: Process) -> None:
        if core.HasField("thread_core"):
            th = core.thread_core
            thread.comm = escape(th.comm) if th.HasField("comm") else proc.comm
            thread.sched_policy = th.sched_policy
            thread.sched_nice = th.sched_nice
            thread.sched_prio = th.sched_prio
            thread.blk_sigset = th.blk_sigset
            if th.HasField("seccomp_mode"):
                thread.seccomp_mode = SECCOMP_MODES.get(th.seccomp_mode, str(th.seccomp_mode))
            if th.HasField("creds"):
                thread.creds = creds(th.creds)
        thread.comm = thread.comm or proc.comm
        thread.state = C.PROCESS_STATES.get(core.tc.task_state, "") if core.HasField("tc") else proc.state
        if core.HasField("thread_info") and core.thread_info.HasField("gpregs"):
            regs = core.thread_info.gpregs
            thread.ip, thread.sp = regs.ip, regs.sp
            if core.thread_info.fpregs.HasField("xsave"):
                xsave = core.thread_info.fpregs.xsave
                thread.xstate_bv = xsave.xstate_bv
                if xsave.HasField("cet"):
                    thread.shadow_stack = bool(xsave.cet.cet & C.ARCH_SHSTK_SHSTK)


def creds(c: PbMessage) -> Creds:
    return Creds(uid=c.uid, gid=c.gid, euid=c.euid, egid=c.egid, suid=c.suid, sgid=c.sgid, fsuid=c.fsuid,
                 fsgid=c.fsgid, groups=list(c.groups), cap_eff=caps_from_words(c.cap_eff),
                 cap_prm=caps_from_words(c.cap_prm), cap_inh=caps_from_words(c.cap_inh),
                 cap_bnd=caps_from_words(c.cap_bnd), cap_amb=caps_from_words(c.cap_amb), secbits=c.secbits,
                 no_new_privs=bool(c.no_new_privs), lsm_profile=escape(c.lsm_profile))
