"""Build a :class:`Checkpoint` from an opened source.

Each part (metadata, process tree, files, memory, root FS diff, network, mounts,
logs) loads on its own: a missing or unreadable member becomes a Problem naming
the member and the pane it affects, and the rest still loads.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..archive import Limits, Source, TarEntry, TarError, Workspace, iter_tar, open_source
from ..criu import MAGICS, decode_image, expected_magic, find_unknown_fields
from ..criu import constants as C
from ..criu.constants import caps_from_words
from .. import annotations as A
from ..errors import Cancelled, CkptError, Pane, Problem, Severity
from .checkpoint import Checkpoint
from .metadata import Metadata, container_info
from .memory import MemoryReader, PagesData, pagemap_runs
from .types import (
    Creds,
    Engine,
    EnvVar,
    ImageInfo,
    LogFile,
    Mount,
    NetDevice,
    NetInterface,
    OpenFile,
    Process,
    RootfsDiff,
    RootfsEntry,
    Socket,
    Thread,
    VMA,
)

CKPT = "checkpoint/"
# tests set CKPT_TUI_STRICT=1 so that a bug met on odd input fails loudly instead of
# becoming a problem message
STRICT = os.environ.get("CKPT_TUI_STRICT") == "1"

NETLINK_PROTOS = {0: "ROUTE", 4: "SOCK_DIAG", 9: "AUDIT", 15: "KOBJECT_UEVENT", 16: "GENERIC"}
CLOCKS = {0: "REALTIME", 1: "MONOTONIC", 7: "BOOTTIME", 8: "REALTIME_ALARM", 9: "BOOTTIME_ALARM"}
SECCOMP_MODES = {0: "disabled", 1: "strict", 2: "filter"}
NS_KINDS = {value: name[len("CLONE_NEW"):].lower() for name, value in C.NAMESPACE_FLAGS}


def load_checkpoint(
    path: str | Path,
    *,
    workspace: Workspace | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    log_files: Iterable[str | Path] = (),
    on_metadata: Callable[[dict], object] | None = None,
    keep_pages: bool = True,
    search: Any = None,
    cancelled: Callable[[], bool] | None = None,
) -> Checkpoint:
    """Open ``path`` (any source the archive layer opens) and build its model.

    ``on_metadata``: see :func:`ckpt_tui.archive.open_source`. ``keep_pages=False`` (for
    an overview such as ``inspect``): the memory pages of a compressed archive are not
    kept; command lines and environments are taken from them as they stream past
    (:mod:`ckpt_tui.model.tap`), and reading or searching memory later raises CkptError.
    ``search`` (a ``tap.StreamSearch``, implies ``keep_pages=False``): also search the pages
    as they stream past (see :func:`ckpt_tui.model.tap.load_and_search`). ``cancelled()``
    is asked between the steps of building the model and every few processes; when it
    says True, :class:`ckpt_tui.errors.Cancelled` is raised (the source is closed)."""
    tap = None
    if not keep_pages or search is not None:
        from .tap import ArgvEnvTap

        tap = ArgvEnvTap(search)
    source = open_source(path, workspace=workspace, limits=limits, progress=progress, on_metadata=on_metadata,
                         watch=tap)
    try:
        return build_checkpoint(source, log_files=log_files, captured=tap.captured if tap is not None else None,
                                cancelled=cancelled, decoded=tap.images if tap is not None else None)
    except BaseException:
        source.close()
        raise


def build_checkpoint(source: Source, *, log_files: Iterable[str | Path] = (),
                     captured: dict[str, Any] | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     decoded: dict[str, Any] | None = None) -> Checkpoint:
    ck = Checkpoint(source=source)
    ck._captured = dict(captured or {})
    ck.problems.extend(source.problems)
    builder = _Builder(ck, cancelled)
    builder.decoded = dict(decoded or {})  # images a Watch decoded on the way: not again
    from .pods import build_pod, is_pod

    if is_pod(source):

        options = builder.json_member("pod.options") or {}
        builder.metadata()
        builder.sizes()
        build_pod(ck, options, log_files)
        ck.problems = _summarise(ck.problems)
        return ck
    for step, pane in (
        (builder.metadata, Pane.OVERVIEW),
        (builder.network, Pane.NETWORK),
        (builder.images_list, Pane.LOGS),
        (builder.inventory, Pane.OVERVIEW),
        (builder.stats, Pane.LOGS),
        (builder.processes, Pane.PROCESSES),
        (builder.rootfs, Pane.FILES),
        (builder.mounts, Pane.MOUNTS),
        (builder.namespaces, Pane.OVERVIEW),
        (builder.sizes, Pane.OVERVIEW),
    ):
        builder.check()
        try:
            step()
        except CkptError as exc:  # a whole part failed: say which, keep the rest
            ck.add_problem("", f"{step.__name__}: {exc}", pane)
        except Exception as exc:  # a bug met on odd input: never lose the rest of the checkpoint
            if STRICT:
                raise
            ck.add_problem("", f"{step.__name__} stopped on unexpected data ({type(exc).__name__}: {exc}); "
                           "the other parts are shown", pane)
    builder.logs(log_files)
    ck.problems = _summarise(ck.problems)
    return ck


def _summarise(problems: list[Problem], keep: int = 8) -> list[Problem]:
    """Fold many problems with the same message (thousands of missing images) into one."""
    groups: dict[tuple[str, str, str], list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.message, p.pane, p.severity), []).append(p)
    out: list[Problem] = []
    done: set[tuple[str, str, str]] = set()
    for p in problems:
        key = (p.message, p.pane, p.severity)
        group = groups[key]
        if len(group) <= keep:
            out.append(p)
        elif key not in done:
            done.add(key)
            names = ", ".join(g.source.rsplit("/", 1)[-1] for g in group[:keep])
            out.append(Problem(group[0].source, f"{p.message} — and so are {len(group) - 1} more: {names}, ...",
                               p.pane, p.severity))
    return out


# ---------------------------------------------------------------------------
def ip_from_words(words: Iterable[int], family: int) -> str:
    """CRIU stores addresses as u32 words holding network-order bytes (little-endian host)."""
    words = list(words)
    if not words:
        return ""
    raw = b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in words)
    try:
        if family == 2 or len(raw) == 4:
            return str(ipaddress.IPv4Address(raw[:4]))
        addr = ipaddress.IPv6Address(raw[:16])
    except ValueError:
        return raw.hex()
    mapped = addr.ipv4_mapped
    return str(mapped) if mapped is not None else str(addr)


def _escape(raw: bytes | str) -> str:
    """Text for display; bytes that are not UTF-8 are shown escaped (\\xNN).

    A proto2 string field that is not UTF-8 comes back from protobuf as bytes.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _unix_name(name: bytes) -> str:
    """A unix socket's name: abstract names (leading NUL) shown with '@', every byte of them
    kept; a path name ends at its first NUL (bind() may count a terminating NUL in the
    address length, and the image keeps it: ``/run/app.sock\\0`` is ``/run/app.sock``)."""
    return ("@" + _escape(name[1:])) if name[:1] == b"\0" else _escape(name.split(b"\0", 1)[0])


class _Builder:
    def __init__(self, ck: Checkpoint, cancelled: Callable[[], bool] | None = None):
        self.ck = ck
        self.cancelled = cancelled
        self.src = ck.source
        self._images: dict[str, Any] = {}
        self.decoded: dict[str, Any] = {}  # full name -> Image decoded while the source was indexed
        self._bad_images: set[str] = set()
        self.files: dict[int, Any] = {}  # files.img id -> file_entry
        self._runs: dict[int, tuple[Any, int]] = {}

    # -- helpers -----------------------------------------------------------
    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    def problem(self, source: str, message: str, pane: Pane = Pane.OVERVIEW, severity: Severity = "error") -> None:
        self.ck.problems.append(Problem(source, message, pane, severity))

    def json_member(self, name: str, pane: Pane = Pane.OVERVIEW, shape: type = dict) -> Any:
        if not self.src.has(name):
            return None
        try:
            raw = self.src.read(name, limit=64 << 20)
        except CkptError as exc:
            self.problem(name, f"cannot read: {exc}", pane)
            return None
        if not raw.strip():
            self.problem(name, "is empty", pane)
            return None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self.problem(name, f"is not valid JSON ({exc})", pane)
            return None
        if not isinstance(data, shape):
            self.problem(name, f"has the wrong shape: expected a JSON {shape.__name__}, found {type(data).__name__}", pane)
            return None
        return data

    def image(self, name: str, pane: Pane = Pane.PROCESSES, required: bool = False):
        """Decode checkpoint/<name> once; None (and a Problem) when absent or bad."""
        full = CKPT + name
        if full in self._images:
            return self._images[full]
        img = None
        if not self.src.has(full):
            if required:
                self.problem(full, "is missing from the checkpoint", pane)
        else:
            try:
                img = self.decoded.pop(full, None) or decode_image(self.src.read(full), name)
                for msg in img.problems:
                    self.problem(full, msg, pane, "warning")
                if img.unknown_fields:
                    fields = sorted({f for e in img.entries for f in find_unknown_fields(e.message)})
                    self.problem(full, "holds fields this version does not know (written by a newer CRIU?), "
                                 f"kept undecoded: {', '.join(fields[:8]) or '?'}", pane, "info")
            except CkptError as exc:
                self.problem(full, f"cannot be decoded: {exc}", pane)
        self._images[full] = img
        return img

    def first(self, name: str, pane: Pane = Pane.PROCESSES, required: bool = False):
        img = self.image(name, pane, required)
        if img is None or not img.entries:
            if img is not None:
                self.problem(CKPT + name, "holds no entries", pane)
            return None
        return img.entries[0].message

    # -- metadata ------------------------------------------------------------
    def metadata(self) -> None:
        ck, src = self.ck, self.src
        config = self.json_member("config.dump") or {}
        spec = self.json_member("spec.dump") or {}
        ck.config, ck.spec = config, spec
        member = src.members.get("config.dump")
        meta = Metadata(config=config, spec=spec, image_annotations=dict(src.annotations),
                        source_kind=src.kind, description=src.description, source_path=str(src.path),
                        has_member=src.has, config_mtime=member.mtime if member is not None else 0.0)
        info, problems = container_info(meta)
        ck.info = info
        ck.problems.extend(problems)
        if not config and not spec and not src.has("pod.options"):
            if info.engine is Engine.CRIU:
                self.problem("config.dump", "no engine metadata (config.dump, spec.dump): bare CRIU images",
                             Pane.OVERVIEW, "info")
            elif info.engine is Engine.UNKNOWN:
                self.problem("config.dump", "no engine metadata (config.dump, spec.dump)", Pane.OVERVIEW, "warning")
        ip = info.annotations.get(A.CRIO_IP0) if info.engine is Engine.CRIO else None
        if ip:
            ck.interfaces.append(NetInterface(network="", name="", ip=ip))

    # -- network -------------------------------------------------------------
    def network(self) -> None:
        if not self.src.has("network.status"):
            return
        data = self.json_member("network.status", Pane.NETWORK, shape=object)
        if data is None:
            return
        out: list[NetInterface] = []
        if isinstance(data, dict):  # netavark: {network: {interfaces: {ifname: {subnets, mac_address}}}}
            for net, body in data.items():
                ifaces = body.get("interfaces") if isinstance(body, dict) else None
                if not isinstance(ifaces, dict):
                    self.problem("network.status", f"network {net!r} has no interfaces map", Pane.NETWORK, "warning")
                    continue
                for ifname, iface in ifaces.items():
                    iface = iface if isinstance(iface, dict) else {}
                    subnets = iface.get("subnets") if isinstance(iface.get("subnets"), list) else []
                    if not subnets:
                        out.append(NetInterface(str(net), str(ifname), "", str(iface.get("mac_address", "")), ""))
                    for sub in subnets:
                        sub = sub if isinstance(sub, dict) else {}
                        out.append(NetInterface(str(net), str(ifname), str(sub.get("ipnet", "")),
                                                str(iface.get("mac_address", "")), str(sub.get("gateway", ""))))
        elif isinstance(data, list):  # CNI results: [{interfaces: [{name, mac}], ips: [{address, gateway, interface}]}]
            for idx, result in enumerate(data):
                if not isinstance(result, dict):
                    continue
                ifaces = result.get("interfaces") if isinstance(result.get("interfaces"), list) else []
                for ipinfo in result.get("ips") or []:
                    if not isinstance(ipinfo, dict):
                        continue
                    i = ipinfo.get("interface")
                    iface = ifaces[i] if isinstance(i, int) and 0 <= i < len(ifaces) and isinstance(ifaces[i], dict) else {}
                    out.append(NetInterface(str(result.get("name", f"network{idx}") or f"network{idx}"),
                                            str(iface.get("name", "")), str(ipinfo.get("address", "")),
                                            str(iface.get("mac", "")), str(ipinfo.get("gateway", ""))))
        else:
            self.problem("network.status", "has the wrong shape: neither a network map nor a CNI result list", Pane.NETWORK)
        self.ck.interfaces.extend(out)

    # -- images ----------------------------------------------------------------
    def images_list(self) -> None:
        for name in self.src.names(CKPT):
            m = self.src.members[name]
            if m.type != "file":
                continue
            short = name[len(CKPT):]
            kind = expected_magic(short)
            if kind is None and short.endswith(".img"):
                head = self.src.read(name, limit=8)
                words = struct.unpack("<2I", head) if len(head) == 8 else (0, 0)
                known = MAGICS.get(words[1]) or MAGICS.get(words[0])
                kind = known or "UNKNOWN"
                if known is None:
                    self.problem(name, "is an image kind this version does not know "
                                 f"(magic {words[1]:#010x}); listed, not decoded", Pane.OVERVIEW, "info")
            self.ck.images.append(ImageInfo(name=short, size=m.size, magic=kind or "OTHER"))
        if not self.ck.images:
            self.problem("checkpoint/", "the checkpoint holds no CRIU images: no processes, memory or sockets to show", Pane.PROCESSES)

    def inventory(self) -> None:
        inv = self.first("inventory.img", Pane.OVERVIEW, required=bool(self.ck.images))
        if inv is None:
            return
        from ..criu import message_to_dict

        self.ck.inventory = message_to_dict(inv)
        self.ck.info.img_version = getattr(inv, "img_version", None)
        if self.src.has(CKPT + "cpuinfo.img"):
            from .requirements import cpuinfo_from_image

            try:
                self.ck.cpuinfo = cpuinfo_from_image(self.src.read(CKPT + "cpuinfo.img"))
            except CkptError as exc:
                self.problem(CKPT + "cpuinfo.img", f"cannot be decoded: {exc}", Pane.OVERVIEW)

    def stats(self) -> None:
        for name, target in (("stats-dump", self.ck.stats), ("stats-restore", self.ck.restore_stats)):
            member = name if self.src.has(name) else CKPT + name if self.src.has(CKPT + name) else None
            if member is None:
                continue
            try:
                img = decode_image(self.src.read(member), name)
            except CkptError as exc:
                self.problem(member, f"cannot be decoded: {exc}", Pane.LOGS)
                continue
            if not img.entries:
                self.problem(member, "holds no entries", Pane.LOGS)
                continue
            msg = img.entries[0].message
            sub = msg.dump if name == "stats-dump" else msg.restore
            if not msg.HasField("dump" if name == "stats-dump" else "restore"):
                self.problem(member, "has no statistics entry", Pane.LOGS, "warning")
                continue
            for field in sub.DESCRIPTOR.fields:
                target[field.name] = getattr(sub, field.name)

    # -- processes -------------------------------------------------------------
    def processes(self) -> None:
        ck = self.ck
        pstree = self.image("pstree.img", Pane.PROCESSES, required=bool(ck.images))
        if pstree is None:
            return
        files = self.image("files.img", Pane.PROCESSES)
        if files is not None:
            for e in files.entries:
                self.files[e.message.id] = e.message
        for e in pstree.entries:
            m = e.message
            pid = m.pid
            if pid in ck.processes:
                self.problem(CKPT + "pstree.img", f"pid {pid} is listed twice; the first entry is kept", Pane.PROCESSES)
                continue
            ck.processes[pid] = Process(pid=pid, ppid=m.ppid, pgid=m.pgid, sid=m.sid,
                                        threads=[Thread(tid=t) for t in (m.threads or [pid])])
        # parent/child links; a pid whose parent is absent (or a cycle) becomes a root
        for pid, proc in ck.processes.items():
            parent = ck.processes.get(proc.ppid)
            if proc.ppid and parent is not None and proc.ppid != pid:
                parent.children.append(pid)
        for proc in ck.processes.values():
            proc.children.sort()
        roots = [p for p, proc in ck.processes.items() if not proc.ppid or proc.ppid not in ck.processes]
        reached = set()
        stack = list(roots)
        while stack:
            p = stack.pop()
            if p in reached:
                continue
            reached.add(p)
            stack.extend(ck.processes[p].children)
        cyclic = sorted(set(ck.processes) - reached)
        if cyclic:
            self.problem(CKPT + "pstree.img", f"the process tree has a cycle through pids {cyclic[:10]}; shown as roots", Pane.PROCESSES)
            for p in cyclic:
                for other in ck.processes.values():
                    if p in other.children:
                        other.children.remove(p)
            roots.extend(cyclic)
        ck.roots = sorted(roots)
        for i, proc in enumerate(ck.processes.values()):
            if i % 64 == 63:
                self.check()
            try:
                self.process(proc)
            except CkptError as exc:
                self.problem(CKPT + f"core-{proc.pid}.img", f"pid {proc.pid}: {exc}", Pane.PROCESSES)
            except Exception as exc:
                if STRICT:
                    raise
                self.problem(CKPT + f"core-{proc.pid}.img",
                             f"pid {proc.pid}: stopped on unexpected data ({type(exc).__name__}: {exc})", Pane.PROCESSES)

    def process(self, proc: Process) -> None:
        pid = proc.pid
        core = self.first(f"core-{pid}.img", Pane.PROCESSES, required=True)
        if core is None:
            proc.state, proc.state_code = "unknown (no core image)", 0
        else:
            tc = core.tc
            proc.state_code = tc.task_state
            proc.state = C.TASK_STATES.get(tc.task_state, f"unknown ({tc.task_state})")
            proc.comm = _escape(tc.comm)
            proc.mtype = core.mtype
            proc.exit_code = tc.exit_code
            proc.oom_score_adj = tc.oom_score_adj if tc.HasField("oom_score_adj") else 0
            if tc.HasField("rlimits"):
                proc.rlimits = [
                    (C.RLIMITS[i][len("RLIMIT_"):] if i < len(C.RLIMITS) else str(i), r.cur, r.max)
                    for i, r in enumerate(tc.rlimits.rlimits)
                ]
            if core.HasField("ids"):
                proc.ids = {f.name: v for f, v in core.ids.ListFields()}
        ids = self.first(f"ids-{pid}.img", Pane.PROCESSES)
        if ids is not None:
            proc.ids.update({f.name: v for f, v in ids.ListFields()})
        for thread in proc.threads:
            tcore = core if thread.tid == pid else self.first(f"core-{thread.tid}.img", Pane.PROCESSES, required=proc.alive)
            if tcore is None:
                continue
            self.thread(thread, tcore, proc)
        main = next((t for t in proc.threads if t.tid == pid), None)
        if main is not None:
            proc.creds = main.creds
            proc.seccomp_mode = main.seccomp_mode
        if not proc.alive:
            return
        fs = self.first(f"fs-{pid}.img", Pane.PROCESSES)
        if fs is not None:
            proc.cwd = self.file_path(fs.cwd_id)
            proc.root = self.file_path(fs.root_id)
        self.memory_info(proc)
        self.fds(proc)

    def thread(self, thread: Thread, core, proc: Process) -> None:
        if core.HasField("thread_core"):
            th = core.thread_core
            thread.comm = _escape(th.comm) if th.HasField("comm") else proc.comm
            thread.sched_policy = th.sched_policy
            thread.sched_nice = th.sched_nice
            thread.sched_prio = th.sched_prio
            thread.blk_sigset = th.blk_sigset
            thread.seccomp_mode = SECCOMP_MODES.get(th.seccomp_mode, str(th.seccomp_mode)) if th.HasField("seccomp_mode") else ""
            if th.HasField("creds"):
                c = th.creds
                thread.creds = Creds(
                    uid=c.uid, gid=c.gid, euid=c.euid, egid=c.egid, suid=c.suid, sgid=c.sgid,
                    fsuid=c.fsuid, fsgid=c.fsgid, groups=list(c.groups),
                    cap_eff=caps_from_words(c.cap_eff), cap_prm=caps_from_words(c.cap_prm),
                    cap_inh=caps_from_words(c.cap_inh), cap_bnd=caps_from_words(c.cap_bnd),
                    cap_amb=caps_from_words(c.cap_amb), secbits=c.secbits,
                    no_new_privs=bool(c.no_new_privs), lsm_profile=_escape(c.lsm_profile),
                )
        thread.comm = thread.comm or proc.comm
        thread.state = C.TASK_STATES.get(core.tc.task_state, "") if core.HasField("tc") else proc.state
        if core.HasField("thread_info") and core.thread_info.HasField("gpregs"):
            regs = core.thread_info.gpregs
            thread.ip, thread.sp = regs.ip, regs.sp
            if core.thread_info.fpregs.HasField("xsave"):
                xsave = core.thread_info.fpregs.xsave
                thread.xstate_bv = xsave.xstate_bv
                if xsave.HasField("cet"):
                    thread.shadow_stack = bool(xsave.cet.cet & C.ARCH_SHSTK_SHSTK)

    # -- files -----------------------------------------------------------------
    def file_path(self, file_id: int) -> str:
        entry = self.files.get(file_id)
        if entry is None:
            return f"<file {file_id} missing from files.img>"
        return self.describe(entry)[1]

    def describe(self, fe) -> tuple[str, str, dict[str, Any]]:
        """(type name, what it is, details) for a files.img entry."""
        from ..criu import message_to_dict

        tname = C.FD_TYPES.get(fe.type, str(fe.type))
        details: dict[str, Any] = {}
        if fe.HasField("reg"):
            r = fe.reg
            details = {"flags": r.flags, "pos": r.pos, "size": r.size if r.HasField("size") else None, "mode": r.mode}
            return tname, _escape(r.name), details
        if fe.HasField("pipe"):
            return tname, f"pipe[{fe.pipe.pipe_id}]", {"pipe_id": fe.pipe.pipe_id, "flags": fe.pipe.flags}
        if fe.HasField("fifo"):
            return tname, f"fifo {self.file_path(fe.fifo.regf_id)} [{fe.fifo.pipe_id}]", {"pipe_id": fe.fifo.pipe_id}
        if fe.HasField("isk"):
            s = fe.isk
            fam = "IPv4" if s.family == 2 else "IPv6"
            proto = C.IP_PROTOCOLS.get(s.proto, str(s.proto))
            state = C.TCP_STATES.get(s.state, str(s.state))
            src = ip_from_words(s.src_addr, s.family)
            dst = ip_from_words(s.dst_addr, s.family)
            text = f"{proto} {src}:{s.src_port}"
            if state == "LISTEN":
                text += " (LISTEN)"
            else:
                text += f" -> {dst}:{s.dst_port} ({state})"
            return tname, text, {"family": fam, "ino": s.ino}
        if fe.HasField("usk"):
            u = fe.usk
            shown = _unix_name(u.name)
            return tname, f"unix:[{u.ino}] {shown or '(unnamed)'}" + (f" peer {u.peer}" if u.peer else ""), {"ino": u.ino, "peer": u.peer}
        if fe.HasField("efd"):
            return tname, f"eventfd (count {fe.efd.counter})", {"counter": fe.efd.counter, "flags": fe.efd.flags}
        if fe.HasField("epfd"):
            tfds = [t.tfd for t in fe.epfd.tfd]
            return tname, f"eventpoll (watching fds {', '.join(map(str, tfds)) or 'none'})", {"targets": tfds}
        if fe.HasField("sgfd"):
            mask = fe.sgfd.sigmask
            sigs = [C.SIGNALS.get(i + 1, f"SIG{i + 1}") for i in range(64) if mask >> i & 1]
            return tname, f"signalfd ({', '.join(sigs) or 'no signals'})", {"sigmask": mask}
        if fe.HasField("tfd"):
            t = fe.tfd
            return tname, (f"timerfd {CLOCKS.get(t.clockid, t.clockid)} value {t.vsec}.{t.vnsec:09d}s "
                           f"interval {t.isec}.{t.insec:09d}s"), {"ticks": t.ticks}
        if fe.HasField("ify"):
            watches = [getattr(w, "wd", 0) for w in fe.ify.wd]
            return tname, f"inotify ({len(watches)} watches)", {}
        if fe.HasField("ffy"):
            return tname, "fanotify", {}
        if fe.HasField("memfd"):
            inode = self.memfd_inode(fe.memfd.inode_id)
            name = _escape(inode.name) if inode is not None else f"inode {fe.memfd.inode_id}"
            return tname, f"memfd:{name}", {"size": getattr(inode, "size", None)}
        if fe.HasField("tty"):
            return tname, self.tty_name(fe.tty), {}
        if fe.HasField("nsf"):
            kind = NS_KINDS.get(fe.nsf.ns_cflag, hex(fe.nsf.ns_cflag))
            return tname, f"{kind} namespace [{fe.nsf.ns_id}]", {}
        if fe.HasField("psk"):
            return tname, f"packet socket (protocol {fe.psk.protocol:#x})", {}
        if fe.HasField("nlsk"):
            return tname, f"netlink {NETLINK_PROTOS.get(fe.nlsk.protocol, fe.nlsk.protocol)}", {}
        if fe.HasField("tunf"):
            return tname, f"tun {_escape(fe.tunf.netdev)}", {}
        if fe.HasField("ext"):
            return tname, "external file", {}
        if fe.HasField("bpf"):
            return tname, "bpf map", {}
        if fe.HasField("pidfd"):
            return tname, f"pidfd (pid {fe.pidfd.nspid})", {}
        return tname, f"{tname}.{fe.id}", message_to_dict(fe)

    def memfd_inode(self, inode_id: int):
        img = self.image("memfd.img", Pane.PROCESSES)
        if img is None:
            return None
        for e in img.entries:
            if getattr(e.message, "inode_id", None) == inode_id:
                return e.message
        return None

    def tty_name(self, tty) -> str:
        img = self.image("tty-info.img", Pane.PROCESSES)
        if img is not None:
            for e in img.entries:
                info = e.message
                if info.id == tty.tty_info_id:
                    if info.HasField("pty"):
                        return f"/dev/pts/{info.pty.index}"
                    return f"tty ({C.TTY_TYPES.get(info.type, info.type)})"
        if tty.HasField("regf_id"):
            return self.file_path(tty.regf_id)
        return f"tty [{tty.tty_info_id}]"

    def fds(self, proc: Process) -> None:
        files_id = proc.ids.get("files_id")
        if files_id is None:
            return
        img = self.image(f"fdinfo-{files_id}.img", Pane.PROCESSES, required=True)
        if img is None:
            return
        for e in img.entries:
            fd = e.message
            fe = self.files.get(fd.id)
            if fe is None:
                self.problem(CKPT + "files.img", f"pid {proc.pid} fd {fd.fd}: file id {fd.id} is not in files.img", Pane.PROCESSES)
                proc.files.append(OpenFile(fd=fd.fd, type="?", path=f"<missing file {fd.id}>", file_id=fd.id))
                continue
            tname, what, details = self.describe(fe)
            proc.files.append(OpenFile(fd=fd.fd, type=tname, path=what, file_id=fd.id,
                                       flags=details.get("flags", fd.flags) or 0, pos=details.get("pos"), details=details))
            sock = self.socket(proc.pid, fd.fd, fe)
            if sock is not None:
                proc.sockets.append(sock)
        proc.files.sort(key=lambda f: f.fd)

    def socket(self, pid: int, fd: int, fe) -> Socket | None:
        if fe.HasField("isk"):
            s = fe.isk
            sock = Socket(
                pid=pid, fd=fd, family="IPv4" if s.family == 2 else "IPv6",
                proto=C.IP_PROTOCOLS.get(s.proto, str(s.proto)), type=C.SOCKET_TYPES.get(s.type, str(s.type)),
                state=C.TCP_STATES.get(s.state, str(s.state)) if s.proto == 6 else ("" if s.state == 7 else C.TCP_STATES.get(s.state, str(s.state))),
                src=ip_from_words(s.src_addr, s.family), src_port=s.src_port,
                dst=ip_from_words(s.dst_addr, s.family), dst_port=s.dst_port,
                send_buf=s.opts.so_sndbuf if s.HasField("opts") else 0,
                recv_buf=s.opts.so_rcvbuf if s.HasField("opts") else 0,
                ino=s.ino, file_id=s.id,
            )
            if s.proto == 6 and s.state not in (10, 7):
                stream = self.first(f"tcp-stream-{s.ino:x}.img", Pane.NETWORK)
                if stream is not None:
                    sock.inq_len, sock.outq_len = stream.inq_len, stream.outq_len
            return sock
        if fe.HasField("usk"):
            u = fe.usk
            shown = _unix_name(u.name)
            return Socket(pid=pid, fd=fd, family="UNIX", proto="UNIX", type=C.SOCKET_TYPES.get(u.type, str(u.type)),
                          state=C.TCP_STATES.get(u.state, str(u.state)), src=shown, ino=u.ino, peer_ino=u.peer,
                          send_buf=u.opts.so_sndbuf if u.HasField("opts") else 0,
                          recv_buf=u.opts.so_rcvbuf if u.HasField("opts") else 0, file_id=u.id)
        if fe.HasField("psk"):
            return Socket(pid=pid, fd=fd, family="PACKET", proto="PACKET", type=C.SOCKET_TYPES.get(fe.psk.type, ""), file_id=fe.id)
        if fe.HasField("nlsk"):
            return Socket(pid=pid, fd=fd, family="NETLINK", proto="NETLINK",
                          type=NETLINK_PROTOS.get(fe.nlsk.protocol, str(fe.nlsk.protocol)), file_id=fe.id)
        return None

    # -- memory ----------------------------------------------------------------
    def memory_info(self, proc: Process) -> None:
        pid = proc.pid
        mm = self.first(f"mm-{pid}.img", Pane.MEMORY, required=True)
        if mm is None:
            return
        for name in ("mm_start_code", "mm_end_code", "mm_start_data", "mm_end_data", "mm_start_stack",
                     "mm_start_brk", "mm_brk", "mm_arg_start", "mm_arg_end", "mm_env_start", "mm_env_end"):
            proc.mm[name] = getattr(mm, name)
        if mm.HasField("exe_file_id"):
            proc.exe = self.file_path(mm.exe_file_id)
        for v in mm.vmas:
            path = ""
            status = v.status
            if status & ((1 << 6) | (1 << 7) | (1 << 14)):  # file-backed private/shared, memfd
                fe = self.files.get(v.shmid)
                path = self.describe(fe)[1] if fe is not None else f"<file {v.shmid}>"
            if not path and not status & ((1 << 1) | (1 << 5)):
                if v.start <= mm.mm_start_stack < v.end:
                    status |= 1 << 1  # the main thread's stack (VMA_AREA_STACK)
                elif mm.mm_start_brk <= v.start and v.end <= max(mm.mm_brk, mm.mm_start_brk + 1) + 0xFFF and v.end > mm.mm_start_brk:
                    status |= 1 << 5  # the brk heap (VMA_AREA_HEAP)
            proc.vmas.append(VMA(start=v.start, end=v.end, prot=v.prot, flags=v.flags, status=status,
                                 pgoff=v.pgoff, shmid=v.shmid, path=path))
        runs, need = self.page_runs(pid)
        if runs is not None:
            for vma in proc.vmas:
                for run in runs:
                    lo, hi = max(vma.start, run.vaddr), min(vma.end, run.end)
                    if lo >= hi:
                        continue
                    n = (hi - lo) // 4096
                    state = run.state
                    if state == "present":
                        vma.pages_present += n
                    elif state == "lazy":
                        vma.pages_lazy += n
                    elif state == "parent":
                        vma.pages_parent += n
        try:
            reader = memory_reader_for(self.ck, pid, builder=self)
        except CkptError as exc:
            self.problem(CKPT + f"pagemap-{pid}.img", str(exc), Pane.MEMORY)
            return
        self.ck._readers[pid] = reader
        self.argv_env(proc, reader)

    def page_runs(self, pid: int):
        if pid in self._runs:
            return self._runs[pid]
        self._runs[pid] = result = self._page_runs(pid)
        return result

    def _page_runs(self, pid: int):
        img = self.image(f"pagemap-{pid}.img", Pane.MEMORY, required=True)
        if img is None or not img.entries:
            return None, 0
        pages_id, runs, need = pagemap_runs(img)
        self.ck.processes[pid].pages_id = pages_id
        # overlapping runs are a malformed image: keep them, but say so
        for a, b in zip(runs, runs[1:]):
            if b.vaddr < a.end:
                self.problem(CKPT + f"pagemap-{pid}.img", f"pagemap entries overlap at {b.vaddr:#x}", Pane.MEMORY, "warning")
                break
        return runs, need

    def argv_env(self, proc: Process, reader: MemoryReader) -> None:
        mm = proc.mm
        pm = CKPT + f"mm-{proc.pid}.img"
        for kind, start, end in (("command line", mm["mm_arg_start"], mm["mm_arg_end"]),
                                 ("environment", mm["mm_env_start"], mm["mm_env_end"])):
            if end < start:
                self.problem(pm, f"pid {proc.pid}: {kind} range {start:#x}-{end:#x} is reversed", Pane.PROCESSES)
                continue
            if end > start and (reader.vma_at(start) is None or reader.vma_at(end - 1) is None):
                self.problem(pm, f"pid {proc.pid}: {kind} range {start:#x}-{end:#x} lies outside every VMA", Pane.PROCESSES)
                continue
            states = {s for _, _, s in reader.runs_between(start, end)} if end > start else set()
            if states - {"present"}:
                self.problem(CKPT + (f"pages-{proc.pages_id}.img" if proc.pages_id is not None else f"pagemap-{proc.pid}.img"),
                             f"pid {proc.pid}: the {kind} is not in the dump ({', '.join(sorted(states - {'present'}))}); "
                             "not shown", Pane.PROCESSES)
                continue  # never invent argv/environ from fill bytes
            items, truncated = reader.read_string_list(start, end)
            if truncated:
                self.problem(pm, f"pid {proc.pid}: the {kind} is {end - start} bytes; only the first 1 MiB is shown", Pane.PROCESSES, "warning")
            if kind == "command line":
                proc.cmdline = [_escape(i) for i in items]
            else:
                for raw in items:
                    text = _escape(raw)
                    name, sep, value = text.partition("=")
                    if not sep or not name:
                        proc.env.append(EnvVar(name=text, value="", raw=text))
                    else:
                        proc.env.append(EnvVar(name=name, value=value, raw=text))

    # -- root FS diff --------------------------------------------------------------
    def rootfs(self) -> None:
        diff = self.ck.rootfs
        deleted = self.json_member("deleted.files", Pane.FILES, shape=list) if self.src.has("deleted.files") else None
        if deleted:
            diff.deleted.extend(str(p) for p in deleted if isinstance(p, (str, int)))
        if not self.src.has("rootfs-diff.tar"):
            diff.present = bool(diff.deleted)
            return
        diff.present = True
        try:
            fh = self.src.open("rootfs-diff.tar")
            size = self.src.members["rootfs-diff.tar"].size
        except CkptError as exc:
            self.problem("rootfs-diff.tar", f"cannot read: {exc}", Pane.FILES)
            return
        with fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                diff.compressed = "gzip"
                entries = iter_tar(gzip.GzipFile(fileobj=fh))
            else:
                entries = iter_tar(fh, size)  # seekable: file data is skipped, not read
            try:
                for i, (entry, _reader) in enumerate(entries):
                    if i & 4095 == 4095:
                        self.check()
                    self.rootfs_tar_entry(entry, diff)
            except (TarError, OSError, EOFError, ValueError) as exc:
                self.problem("rootfs-diff.tar", f"is damaged after {len(diff.entries)} entries ({exc}); the entries before it are shown", Pane.FILES)

    _KINDS = {"file": "file", "dir": "dir", "symlink": "symlink", "hardlink": "hardlink", "fifo": "fifo"}

    def rootfs_tar_entry(self, e: TarEntry, diff: RootfsDiff) -> None:
        name = e.name
        while name.startswith("./"):
            name = name[2:]
        name = name.lstrip("/")
        if not name or name == ".":
            return
        parts = name.split("/")
        if ".." in parts:
            self.problem("rootfs-diff.tar", f"entry {name!r} climbs out of the root; skipped", Pane.FILES)
            return
        base = parts[-1]
        if base.startswith(".wh."):
            parent = "/".join(parts[:-1])
            if base == ".wh..wh..opq":
                diff.entries.append(RootfsEntry(path=parent, type="opaque", status="deleted"))
                return
            diff.deleted.append("/" + "/".join(parts[:-1] + [base[4:]]))
            return
        kind = self._KINDS.get(e.kind)
        if kind is None:
            kind = {b"3": "char", b"4": "block"}.get(e.typeflag, "other")
        diff.entries.append(RootfsEntry(path=name.rstrip("/"), type=kind, size=e.size if kind == "file" else 0,
                                        mode=e.raw_mode, uid=e.uid, gid=e.gid, mtime=e.mtime, linkname=e.linkname,
                                        data_offset=e.data_offset if not diff.compressed and kind == "file" else -1))

    # -- mounts, namespaces ---------------------------------------------------------
    def mounts(self) -> None:
        spec_mounts = self.ck.spec.get("mounts") if isinstance(self.ck.spec, dict) else None
        if isinstance(spec_mounts, list):
            for m in spec_mounts:
                if not isinstance(m, dict):
                    continue
                opts = m.get("options") if isinstance(m.get("options"), list) else []
                self.ck.mounts.append(Mount(destination=str(m.get("destination", "")), type=str(m.get("type", "") or ""),
                                            source=str(m.get("source", "") or ""), options=[str(o) for o in opts]))
        for info in self.ck.images:
            if not info.name.startswith("mountpoints-"):
                continue
            img = self.image(info.name, Pane.MOUNTS)
            if img is None:
                continue
            for e in img.entries:
                m = e.message
                fsname = _escape(C.mount_type_name(m.fstype, m.fsname if m.HasField("fsname") else "",
                                                   external=m.HasField("ext_key") or bool(m.ext_mount), root=m.root))
                self.ck.mounts.append(Mount(destination=_escape(m.mountpoint), type=fsname, source=_escape(m.source),
                                            options=[o for o in _escape(m.options).split(",") if o], origin="criu",
                                            mnt_id=m.mnt_id, parent_mnt_id=m.parent_mnt_id, root=_escape(m.root),
                                            ext_key=_escape(m.ext_key) if m.HasField("ext_key") else ""))

    def namespaces(self) -> None:
        ns: dict[str, Any] = {}
        for info in self.ck.images:
            n = info.name
            if n.startswith("utsns-"):
                uts = self.first(n, Pane.OVERVIEW)
                if uts is not None:
                    ns["hostname"] = _escape(uts.nodename)
                    ns["domainname"] = _escape(uts.domainname)
                    self.ck.info.hostname = ns["hostname"] or self.ck.info.hostname
            elif n.startswith("netdev-"):
                img = self.image(n, Pane.NETWORK)
                for e in img.entries if img else []:
                    d = e.message
                    self.ck.devices.append(NetDevice(name=_escape(d.name), type=C.NETDEV_TYPES.get(d.type, str(d.type)),
                                                     ifindex=d.ifindex, mtu=d.mtu,
                                                     mac=":".join(f"{b:02x}" for b in d.address) if d.HasField("address") else "",
                                                     flags=d.flags, ns_id=int(n.split("-")[1].split(".")[0])))
            elif n.startswith("timens-"):
                t = self.first(n, Pane.OVERVIEW)
                if t is not None:
                    ns["timens"] = {"monotonic": t.monotonic.tv_sec, "boottime": t.boottime.tv_sec}
            elif n == "seccomp.img":
                img = self.image(n, Pane.OVERVIEW)
                if img is not None and img.entries:
                    filters = list(img.entries[0].message.seccomp_filters)
                    self.ck.seccomp = {"filters": len(filters),
                                       "instructions": sum(len(f.filter) // 8 for f in filters)}
            elif n == "cgroup.img":
                img = self.image(n, Pane.OVERVIEW)
                if img is not None and img.entries:
                    cg = img.entries[0].message
                    for s in cg.sets:
                        self.ck.cgroups.append({"id": s.id, "controllers": {c.name: c.path for c in s.ctls}})
        self.ck.namespaces = ns

    # -- sizes, logs -----------------------------------------------------------------
    def sizes(self) -> None:
        sizes = self.ck.sizes
        pages = images = other = 0
        for name, m in self.src.members.items():
            if m.type != "file":
                continue
            sizes.archive += m.size
            if name.startswith(CKPT):
                sizes.total += m.size
                if name[len(CKPT):].startswith("pages-"):
                    pages += m.size
                else:
                    images += m.size
            elif name == "rootfs-diff.tar":
                sizes.rootfs_diff = m.size
            else:
                other += m.size
        sizes.memory_pages = pages
        sizes.file = _file_size(self.src.path)
        sizes.breakdown = {"memory pages": pages, "root FS diff": sizes.rootfs_diff, "other CRIU images": images,
                           "metadata, logs and other": other}

    def logs(self, extra: Iterable[str | Path]) -> None:
        for name in self.src.names():
            base = name.rsplit("/", 1)[-1]
            if base.endswith(".log") and self.src.members[name].type == "file":
                try:
                    text = self.src.read(name, limit=32 << 20).decode("utf-8", "replace")
                except CkptError as exc:
                    self.problem(name, f"cannot read: {exc}", Pane.LOGS)
                    continue
                self.ck.logs.append(LogFile(name=name, text=text))
        for path in extra:
            p = Path(path)
            try:
                text = p.read_bytes()[: 32 << 20].decode("utf-8", "replace")
            except OSError as exc:
                self.problem(str(p), f"cannot read the log file: {exc.strerror or exc}", Pane.LOGS)
                continue
            self.ck.logs.append(LogFile(name=str(p), text=text, external=True))


def memory_reader_for(ck: Checkpoint, pid: int, builder: _Builder | None = None) -> MemoryReader:
    """A MemoryReader for pid (raises CkptError when the process has no memory images)."""
    if pid in ck._readers:
        return ck._readers[pid]
    proc = ck.processes.get(pid)
    if proc is None:
        raise CkptError(f"no process with pid {pid}")
    b = builder or _Builder(ck)
    runs, _need = b.page_runs(pid)
    if runs is None:
        raise CkptError(f"pid {pid} has no readable pagemap")
    pages = None
    pages_name = ""
    if proc.pages_id is not None:
        pages_name = CKPT + f"pages-{proc.pages_id}.img"
        if pages_name in getattr(ck.source, "discarded", ()):
            pages = ck._captured.get(pages_name)  # only argv/environ were kept (keep_pages=False)
            if pages is None:
                b.problem(pages_name, f"streamed past before a later copy of pid {pid}'s memory map or pagemap "
                          "(the archive holds them twice), so none of it was kept: open it in the app to "
                          "read this process's memory", Pane.MEMORY)
        else:
            pages = PagesData.from_source(ck.source, pages_name)
        if pages is None:
            if pages_name not in getattr(ck.source, "discarded", ()):
                b.problem(pages_name, f"is missing: the memory of pid {pid} cannot be read", Pane.MEMORY)
        elif len(pages) < _need:
            b.problem(pages_name, f"holds {len(pages)} bytes but pid {pid}'s pagemap needs {_need}", Pane.MEMORY)
    parent = _parent_reader(ck, pid, proc.vmas)
    reader = MemoryReader(pid, proc.vmas, runs, pages, parent=parent, pages_name=pages_name)
    ck._readers[pid] = reader
    return reader


def _parent_reader(ck: Checkpoint, pid: int, vmas: list[VMA], directory: str = "checkpoint",
                   depth: int = 0) -> MemoryReader | None:
    """The pre-dump this dump's PE_PARENT pages point at (``<directory>/parent`` link), if it is
    here; its own PE_PARENT pages are read from its parent in turn (at most 16 dumps deep)."""
    link = ck.source.members.get(directory + "/parent")
    if link is None or link.type != "symlink" or depth >= 16:
        return None
    target = link.linkname.strip("/")
    prefix = str(Path(directory) / target)
    parts: list[str] = []
    for part in prefix.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    prefix = "/".join(parts) + "/"
    pm = prefix + f"pagemap-{pid}.img"
    if not ck.source.has(pm):
        return None
    try:
        img = decode_image(ck.source.read(pm), f"pagemap-{pid}.img")
    except CkptError:
        return None
    if not img.entries:
        return None
    pages_id, runs, _need = pagemap_runs(img)
    name = prefix + f"pages-{pages_id}.img"
    pages = PagesData.from_source(ck.source, name)
    parent = _parent_reader(ck, pid, vmas, prefix.rstrip("/"), depth + 1)
    return MemoryReader(pid, vmas, runs, pages, parent=parent, pages_name=name)


def _file_size(path: str | Path) -> int | None:
    """The size on disk of a source that is one file (None for a directory)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None
