"""Processes: the flat process table, and one process in tabs."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static, TabbedContent, TabPane

from ..errors import CkptError
from ..model.procinfo import OtherEnds, describe_ends, open_flags, rlimit_text
from . import format as fmt
from .base import ExportPayload, Pane, dumps, to_jsonable
from .format import esc
from .table import FilterTable
from .vmamap import VmaMap

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint
    from ..model.memory import MemoryReader
    from ..model.types import EnvVar, Process, Socket
    from ..ui.session import Session

STATE_ROLE = {"Zombie": "error", "Stopped": "warning"}


def state_cell(proc: Process) -> tuple[str, str]:
    return (proc.state, STATE_ROLE.get(proc.state, ""))


def socket_row(sock: Socket, comm: str = "", ends: OtherEnds | None = None) -> list[Any]:
    """One row of a sockets table; ``ends`` names the process holding a unix socket's peer."""
    queued = ""
    if sock.inq_len is not None or sock.outq_len is not None:
        queued = f"in {fmt.count(sock.inq_len or 0)} / out {fmt.count(sock.outq_len or 0)}"
    note = ("--tcp-established", "warning") if sock.needs_tcp_established else ""
    state_role = "ok" if sock.state == "LISTEN" else ("warning" if sock.needs_tcp_established else "")
    proto = sock.proto + ("6" if sock.family == "IPv6" else "")
    if sock.family == "UNIX":
        local = sock.src or f"ino {sock.ino}"
        peer = unix_peer(sock, ends)
    else:
        local, peer = sock.local, sock.remote
    return [f"{sock.pid} {comm}".strip(), str(sock.fd), proto, (sock.state, state_role), note, local, peer, queued]


def unix_peer(sock: Socket, ends: OtherEnds | None) -> str:
    """Who holds the other end of a unix socket: ``pid 7 nc fd 3``, or its inode when no process
    of the checkpoint does."""
    if not sock.peer_ino:
        return ""
    holders = ends.of_socket(sock) if ends is not None else []
    if holders:
        return describe_ends(holders)
    return f"ino {sock.peer_ino} (no process here)"


# "Needs" marks TCP connections that only restore with --tcp-established
SOCKET_COLUMNS = ["Process", "FD", "Proto", "State", "Needs", "Local", "Peer", "Queued bytes"]
PROCESS_COLUMNS = ["PID", "PPID", "Comm", "State", "Threads", "Dumped", "FDs", "Sockets", "Command"]


def process_cells(proc: Process, depth: int = 0) -> list[Any]:
    """One row of the process table (the name indented by its depth in the tree)."""
    return [
        str(proc.pid), str(proc.ppid), "  " * depth + proc.comm, state_cell(proc),
        fmt.count(max(len(proc.threads), 1)), fmt.size(proc.memory_size), fmt.count(len(proc.files)),
        fmt.count(len(proc.sockets)), fmt.truncate(proc.title.replace("\n", " ⏎ "), 80),
    ]


def _plain_cell(cell: Any) -> str:
    return cell[0] if isinstance(cell, tuple) else str(getattr(cell, "plain", cell))


class ProcessesPane(Pane):
    """All processes in one table; Enter opens the process."""

    pane_id = "processes"
    title = "Processes"

    @dataclass
    class OpenProcess(Message):
        pid: int

    def compose(self) -> ComposeResult:
        yield Static(id="processes-summary", classes="pane-summary")
        yield FilterTable(id="processes-table")

    def on_mount(self) -> None:
        cp = self.checkpoint
        table = self.query_one(FilterTable)
        # "Dumped": the short header leaves the command line room at 80 columns
        table.setup(PROCESS_COLUMNS, tree_column=2,
                    sort_keys={"Dumped": lambda pid: cp.processes[pid].memory_size if pid in cp.processes else 0})
        table.copy_value = self._copy_value
        rows = [(str(proc.pid), process_cells(proc, depth), proc.pid) for depth, proc in cp.walk()]
        listed = {r[2] for r in rows}
        rows += [(str(proc.pid), process_cells(proc), proc.pid)  # anything not reachable from the roots
                 for proc in cp.process_list() if proc.pid not in listed]
        table.set_rows(rows)
        zombies, stopped = cp.state_counts.get("Zombie", 0), cp.state_counts.get("Stopped", 0)
        threads = sum(max(len(p.threads), 1) for p in cp.processes.values())
        summary = f"{fmt.plural(len(cp.processes), 'process')}, {fmt.plural(threads, 'thread')}"
        if zombies:
            summary += f", [$text-error]{fmt.plural(zombies, 'zombie')}[/]"
        if stopped:
            summary += f", [$text-warning]{fmt.count(stopped)} stopped[/]"
        self.query_one("#processes-summary", Static).update(
            summary + "   [$text-muted]Enter opens a process · c copies its command line · click a header or > sorts[/]")

    def _copy_value(self, pid: Any, cells: Sequence[Any]) -> str:
        """``c`` on a row: the command line (shell-quoted), else the row's cells."""
        proc = self.checkpoint.processes.get(pid) if isinstance(pid, int) else None
        if proc is not None and proc.cmdline:
            return shlex.join(proc.cmdline)
        return "  ".join(_plain_cell(c).strip() for c in cells)

    def on_data_table_row_selected(self, event: FilterTable.RowSelected) -> None:
        event.stop()
        pid = self.query_one(FilterTable).payload_of(event.row_key)
        if isinstance(pid, int):
            self.post_message(self.OpenProcess(pid))

    def export_payload(self) -> ExportPayload:
        return "processes.json", dumps([to_jsonable(p) for p in self.checkpoint.process_list()])


class EnvTable(FilterTable):
    """Environment variables; values of secret-looking names are masked until revealed
    (``v`` one value, ``S`` all of them: ``session.secrets_revealed``)."""

    BINDING_GROUP_TITLE = "Environment"

    BINDINGS = [Binding("v", "reveal", "Reveal value", id="env.reveal")]

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.revealed: set[str] = set()
        self.env: list[EnvVar] = []

    def on_mount(self) -> None:
        self.watch(self.session, "secrets_revealed", self.refresh_masks, init=False)

    def load(self, env: list[EnvVar]) -> None:
        self.env = env
        self.revealed.clear()
        if not self.columns_spec:
            self.setup(["Name", "Value"])
        self._rebuild()

    def _visible(self, key: str) -> bool:
        return key in self.revealed or self.session.secrets_revealed

    def _rebuild(self) -> None:
        rows = []
        for index, var in enumerate(self.env):
            key = str(index)
            if var.malformed:
                rows.append((key, [("(malformed)", "warning"), var.raw], var))
                continue
            if fmt.should_mask(var.name, var.value) and not self._visible(key):
                value: Any = (f"{fmt.MASK}  (v reveals)", "secret")
            else:
                value = var.value
            rows.append((key, [var.name, value], var))
        self.set_rows(rows)

    def action_reveal(self) -> None:
        key = self.selected_key
        if key is None:
            return
        var = self.payloads.get(key)
        if var is None or not fmt.should_mask(var.name, var.value):
            self.notify("This value is not masked.", timeout=2)
            return
        if key in self.revealed:
            self.revealed.discard(key)
        else:
            self.revealed.add(key)
        self._rebuild()

    def refresh_masks(self) -> None:
        if not self.session.secrets_revealed:
            self.revealed.clear()
        self._rebuild()

    def copy_text(self) -> str:
        key = self.selected_key
        if key is None:
            return ""
        var = self.payloads.get(key)
        if var is None:
            return ""
        if fmt.should_mask(var.name, var.value) and not self._visible(key):
            return f"{var.name}={fmt.MASK}"
        return var.raw


class ProcessPane(Pane):
    """One process: Command, Environment, Threads, Credentials, Files, Sockets, Memory."""

    pane_id = "process"
    title = "Process"

    def __init__(self, checkpoint: Checkpoint, *, session: Session, **kwargs: Any) -> None:
        super().__init__(checkpoint, session=session, **kwargs)
        self.pid: int | None = None
        self._map_for: int | None = None
        self._ends: OtherEnds | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="process-title", classes="pane-summary")
        with TabbedContent(id="process-tabs"):
            with TabPane("Command", id="tab-command"), VerticalScroll(can_focus=True, id="command-scroll"):
                yield Static(id="process-command")
            with TabPane("Environment", id="tab-env"):
                yield EnvTable(self.session, id="process-env")
            with TabPane("Threads", id="tab-threads"):
                yield FilterTable(id="process-threads")
            with TabPane("Credentials", id="tab-creds"), VerticalScroll(can_focus=True, id="creds-scroll"):
                yield Static(id="process-creds")
            with TabPane("Files", id="tab-files"):
                yield FilterTable(id="process-files", copy_column=2)
            with TabPane("Sockets", id="tab-sockets"):
                yield FilterTable(id="process-sockets", copy_column=5)
            with TabPane("Memory", id="tab-memory"), VerticalScroll(can_focus=True, id="vmamap-scroll"):
                yield VmaMap(id="process-vmamap")

    def on_mount(self) -> None:
        self.query_one("#process-threads", FilterTable).setup(
            ["TID", "Comm", "State", "Policy", "Nice", "Prio", "IP", "SP", "Seccomp", "Blocked signals"])
        self.query_one("#process-files", FilterTable).setup(["FD", "Type", "What", "Flags", "Pos", "Other end"])
        self.query_one("#process-sockets", FilterTable).setup(SOCKET_COLUMNS)
        if self.pid is not None:
            self._fill()

    @property
    def process(self) -> Process | None:
        return self.checkpoint.processes.get(self.pid) if self.pid is not None else None

    def show_process(self, pid: int) -> None:
        self.pid = pid
        self._map_for = None
        if self.is_mounted:
            self._fill()

    def _fill(self) -> None:
        proc = self.process
        if proc is None:
            return
        threads = max(len(proc.threads), 1)
        role = STATE_ROLE.get(proc.state)
        state = esc(proc.state_text if proc.zombie else proc.state)
        state_markup = f"[$text-{role}]{state}[/]" if role else state
        memory = f"{fmt.size(proc.memory_size)} dumped"
        if proc.pages_missing:
            memory += f" [$text-error]({fmt.size(proc.pages_missing * 4096)} of pages missing)[/]"
        self.query_one("#process-title", Static).update(
            f"[b]pid {proc.pid} {esc(proc.comm)}[/]  ppid {proc.ppid}  ·  {state_markup}  ·  "
            f"{fmt.plural(threads, 'thread')}  ·  {memory}  ·  "
            f"{fmt.plural(len(proc.files), 'fd')}"
        )
        self._fill_command(proc)
        self.query_one(EnvTable).load(proc.env)
        self._fill_threads(proc)
        self._fill_creds(proc)
        self._fill_files(proc)
        sockets = self.query_one("#process-sockets", FilterTable)
        sockets.set_rows([(f"{s.fd}-{i}", socket_row(s, proc.comm, self.other_ends), s)
                          for i, s in enumerate(proc.sockets)])
        tabs = self.query_one(TabbedContent)
        if tabs.active == "tab-memory":
            self._fill_map()

    def _fill_command(self, proc: Process) -> None:
        lines = []
        if proc.cmdline:
            for i, arg in enumerate(proc.cmdline):
                parts = arg.split("\n")
                lines.append(f"[$text-muted]argv[{i}][/] {esc(parts[0])}")
                for cont in parts[1:]:
                    lines.append(f"[$text-muted]{'':7}⏎[/] {esc(cont)}")
        else:
            why = self.checkpoint.unreadable.get(proc.pid, "")
            lines.append(f"[$text-muted](no command line recorded{': ' + esc(why) if why else ''})[/]")
        facts = [
            ("exe", proc.exe), ("cwd", proc.cwd), ("root", proc.root),
            ("pgid / sid", f"{proc.pgid} / {proc.sid}"),
            ("exited", proc.exit_text),
            *(("terminal", f"{t.name} on {'fd' if len(fds) == 1 else 'fds'} {', '.join(map(str, fds))}"
               + (f" ({t.role})" if t.role else "")) for t, fds in self.checkpoint.terminals_of(proc.pid)),
            ("seccomp", proc.seccomp_mode), ("oom_score_adj", str(proc.oom_score_adj)),
        ]
        lines.append("")
        for key, value in facts:
            if value:
                lines.append(f"[$text-muted]{key:14}[/] {esc(value)}")
        if proc.rlimits:
            lines.append("")
            lines.append("[b]Resource limits[/]  [$text-muted](soft / hard)[/]")
            for name, soft, hard in proc.rlimits:
                lines.append(f"  {esc(name):18} {rlimit_text(name, soft)} / {rlimit_text(name, hard)}")
        self.query_one("#process-command", Static).update("\n".join(lines))

    def _fill_threads(self, proc: Process) -> None:
        rows = []
        for t in proc.threads:
            rows.append((str(t.tid), [
                str(t.tid), t.comm, (t.state, STATE_ROLE.get(t.state, "")), str(t.sched_policy),
                str(t.sched_nice), str(t.sched_prio),
                f"0x{t.ip:x}" if t.ip is not None else "", f"0x{t.sp:x}" if t.sp is not None else "",
                t.seccomp_mode, f"0x{t.blk_sigset:x}" if t.blk_sigset else "",
            ], t))
        self.query_one("#process-threads", FilterTable).set_rows(rows)

    def _fill_creds(self, proc: Process) -> None:
        c = proc.creds
        if c is None:
            self.query_one("#process-creds", Static).update("[$text-muted](no credentials recorded)[/]")
            return
        lines = [
            f"[$text-muted]{'':8}{'real':>8}{'effective':>11}{'saved':>8}{'fs':>8}[/]",
            f"[$text-muted]uid[/]     {c.uid:>8}{c.euid:>11}{c.suid:>8}{c.fsuid:>8}",
            f"[$text-muted]gid[/]     {c.gid:>8}{c.egid:>11}{c.sgid:>8}{c.fsgid:>8}",
            f"[$text-muted]groups[/]  {' '.join(map(str, c.groups)) or '(none)'}",
            "",
        ]
        for title, caps in (("effective", c.cap_eff), ("permitted", c.cap_prm), ("inheritable", c.cap_inh),
                            ("bounding", c.cap_bnd), ("ambient", c.cap_amb)):
            body = ", ".join(caps) if caps else "(none)"
            lines.append(f"[b]{title}[/] [$text-muted]({len(caps)})[/]")
            lines.append(f"  {esc(body)}")
        lines.append("")
        lines.append(f"[$text-muted]securebits[/] 0x{c.secbits:x}   [$text-muted]no_new_privs[/] {c.no_new_privs}")
        if c.lsm_profile:
            lines.append(f"[$text-muted]LSM profile[/] {esc(c.lsm_profile)}")
        self.query_one("#process-creds", Static).update("\n".join(lines))

    def _fill_files(self, proc: Process) -> None:
        rows = []
        ends = self.other_ends
        for i, f in enumerate(proc.files):
            fd = str(f.fd) if f.fd >= 0 else (f.details.get("kind") if isinstance(f.details, dict) else "") or "-"
            other: str | tuple[str, str] = ""
            if f.type in ("PIPE", "FIFO") or (f.type == "UNIXSK" and f.details.get("peer")):
                holders = ends.of_file(proc.pid, f)
                other = describe_ends(holders) if holders else ("no process here", "muted")
            what = f"{f.path}  (terminal)" if f.type == "TTY" else f.path
            rows.append((f"{f.fd}-{i}", [str(fd), f.type, what, open_flags(f.flags) if f.fd >= 0 else "",
                                         "" if f.pos is None else fmt.count(f.pos), other], f))
        self.query_one("#process-files", FilterTable).set_rows(rows)

    @property
    def other_ends(self) -> OtherEnds:
        """Who holds the other end of each pipe and unix socket (made once per checkpoint)."""
        if self._ends is None:
            self._ends = OtherEnds(self.checkpoint.processes, self.checkpoint.sockets)
        return self._ends

    def _fill_map(self) -> None:
        proc = self.process
        if proc is None or self._map_for == proc.pid:
            return
        reader: MemoryReader | None
        try:
            reader = self.checkpoint.memory(proc.pid)
        except CkptError:  # no readable pages: the map spreads the recorded counts instead
            reader = None
        self.query_one(VmaMap).show(proc.pid, proc.vmas, reader, proc.mm)
        self._map_for = proc.pid

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-memory":
            self._fill_map()

    def select_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "tab-memory":
            self._fill_map()

    def copy_text(self) -> str:
        proc = self.process
        if proc is None:
            return ""
        if self.query_one(TabbedContent).active == "tab-command":
            return shlex.join(proc.cmdline) if proc.cmdline else proc.comm
        return str(proc.pid)

    def export_payload(self) -> ExportPayload:
        proc = self.process
        if proc is None:
            return None
        data = to_jsonable(proc)
        reveal = self.session.secrets_revealed
        for var in data.get("env", []):
            name = var.get("name", "")
            if not reveal and fmt.should_mask(name, var.get("value", "")):  # as on screen: S reveals them
                var["value"] = fmt.MASK
                var["raw"] = f"{name}={fmt.MASK}"
        return f"process-{proc.pid}-{proc.comm or 'proc'}.json", dumps(data)
