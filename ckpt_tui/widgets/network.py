"""Network pane: interfaces, devices, and every socket of every process. Mounts pane."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Label, Static

from ..model.procinfo import OtherEnds
from ..model.types import Mount, NetDevice, NetInterface, Socket
from ..text import natural_key
from . import format as fmt
from .base import ExportPayload, Pane, dumps, to_jsonable
from .processes import SOCKET_COLUMNS, socket_row
from .table import FilterTable


def socket_sort_keys() -> dict[str, Any]:
    """How the socket columns sort where the text alone would not (the payload is a Socket)."""
    return {"Queued bytes": lambda s: (s.inq_len or 0) + (s.outq_len or 0) if isinstance(s, Socket) else 0,
            "FD": lambda s: s.fd if isinstance(s, Socket) else 0}


class NetworkPane(Pane):
    pane_id = "network"
    title = "Network"

    def compose(self) -> ComposeResult:
        yield Static(id="network-summary", classes="pane-summary")
        yield Label("Interfaces", classes="table-title")
        yield FilterTable(id="network-interfaces", copy_column=2)
        yield Label("Sockets", classes="table-title")
        yield FilterTable(id="network-sockets", copy_column=5)

    def on_mount(self) -> None:
        cp = self.checkpoint
        ifaces = self.query_one("#network-interfaces", FilterTable)
        ifaces.setup(["Interface", "Network", "Address", "MAC", "Gateway", "Type", "MTU"])
        rows: list[tuple[str, list[str], NetInterface | NetDevice]] = []
        devices = {d.name: d for d in cp.devices}
        for i, iface in enumerate(cp.interfaces):
            dev = devices.pop(iface.name, None)
            rows.append((f"if-{i}", [iface.name, iface.network, iface.ip, iface.mac, iface.gateway,
                                     dev.type if dev else "", str(dev.mtu) if dev and dev.mtu else ""], iface))
        for dev in devices.values():
            rows.append((f"dev-{dev.name}", [dev.name, "", "", dev.mac, "", dev.type,
                                             str(dev.mtu) if dev.mtu else ""], dev))
        ifaces.set_rows(rows)
        ifaces.styles.height = min(len(rows), 6) + 2

        table = self.query_one("#network-sockets", FilterTable)
        table.setup(SOCKET_COLUMNS, sort_keys=socket_sort_keys())
        sockets = cp.sockets
        ends = OtherEnds(cp.processes, sockets)
        table.set_rows([
            (f"{s.pid}-{s.fd}-{i}", socket_row(s, cp.processes[s.pid].comm if s.pid in cp.processes else "", ends), s)
            for i, s in enumerate(sockets)
        ])
        established = [s for s in sockets if s.needs_tcp_established]
        listening = [s for s in sockets if s.state == "LISTEN"]
        summary = (f"{fmt.plural(len(rows), 'interface')}, {fmt.plural(len(sockets), 'socket')}, "
                   f"{fmt.count(len(listening))} listening")
        if established:
            verb = "needs" if len(established) == 1 else "need"
            summary += (f", [$text-warning]{fmt.plural(len(established), 'TCP connection')} {verb} "
                        f"--tcp-established to restore[/]")
        self.query_one("#network-summary", Static).update(summary)

    def focus_target(self) -> FilterTable:
        return self.query_one("#network-sockets", FilterTable)

    def show_target(self, target: Any) -> None:
        table = self.query_one("#network-sockets", FilterTable)
        for key, payload in table.payloads.items():
            if payload is target:
                table.select_key(key)
                table.focus()
                return

    def copy_text(self) -> str:
        focused = self.screen.focused
        if isinstance(focused, FilterTable):
            return focused.copy_text()
        return self.query_one("#network-sockets", FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        cp = self.checkpoint
        return "network.json", dumps({"interfaces": to_jsonable(cp.interfaces), "devices": to_jsonable(cp.devices),
                                      "sockets": to_jsonable(cp.sockets)})


@dataclass
class MountRow:
    """One mount point as the table lists it: the spec's entry and CRIU's for the same
    destination are one row (the spec says what the engine sets up, CRIU what it dumped)."""

    destination: str
    spec: Mount | None = None
    criu: list[Mount] = field(default_factory=list)  # (a destination mounted over twice has two)

    @property
    def origin(self) -> str:
        if self.spec is not None and self.criu:
            return "spec + CRIU"
        return "spec" if self.spec is not None else "CRIU"

    @property
    def shown(self) -> Mount:
        """The record the Type / Source / Options columns come from: the spec's when there is one."""
        return self.spec if self.spec is not None else self.criu[0]


def merge_mounts(mounts: list[Mount]) -> list[MountRow]:
    """The spec's mounts in the spec's order, each with CRIU's record of it, then the mounts only
    CRIU recorded, by destination (natural order)."""
    rows: dict[str, MountRow] = {}
    spec_order: list[str] = []
    for m in mounts:
        if m.origin == "spec" and m.destination not in rows:
            rows[m.destination] = MountRow(m.destination, spec=m)
            spec_order.append(m.destination)
    criu_only: list[str] = []
    for m in mounts:
        if m.origin == "spec":
            continue
        row = rows.get(m.destination)
        if row is None:
            row = rows[m.destination] = MountRow(m.destination)
            criu_only.append(m.destination)
        row.criu.append(m)
    return [rows[d] for d in spec_order] + [rows[d] for d in sorted(criu_only, key=natural_key)]


class MountsPane(Pane):
    pane_id = "mounts"
    title = "Mounts"

    def compose(self) -> ComposeResult:
        yield Static(id="mounts-summary", classes="pane-summary")
        yield FilterTable(id="mounts-table")

    def on_mount(self) -> None:
        merged = merge_mounts(self.checkpoint.mounts)
        table = self.query_one(FilterTable)
        table.setup(["Destination", "From", "Type", "Source", "Options", "CRIU root", "External"])
        rows = []
        for i, row in enumerate(merged):
            m = row.shown
            criu = row.criu[0] if row.criu else None
            origin_role = "" if row.spec is not None and row.criu else "accent"
            rows.append((str(i), [
                row.destination, (row.origin, origin_role), m.type, m.source, ",".join(m.options),
                criu.root if criu else "", criu.ext_key if criu else "",
            ], row))
        table.set_rows(rows)
        both = sum(1 for r in merged if r.spec is not None and r.criu)
        spec_only = sum(1 for r in merged if r.spec is not None and not r.criu)
        criu_only = sum(1 for r in merged if r.spec is None)
        parts = [f"{fmt.count(both)} in the spec and in CRIU's mount table"] if both else []
        if spec_only:
            parts.append(f"{fmt.count(spec_only)} only in the spec")
        if criu_only:
            parts.append(f"{fmt.count(criu_only)} only in CRIU's")
        self.query_one("#mounts-summary", Static).update(
            fmt.plural(len(merged), "mount point") + (f": {', '.join(parts)}" if parts else "")
            + "   [$text-muted]From: where the row comes from (the spec's values shown when both)[/]")

    def copy_text(self) -> str:
        return self.query_one(FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        return "mounts.json", dumps(to_jsonable(self.checkpoint.mounts))
