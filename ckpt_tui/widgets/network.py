"""Network pane: interfaces, devices, and every socket of every process. Mounts pane."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Label, Static

from ..model.types import NetDevice, NetInterface
from . import format as fmt
from .base import ExportPayload, Pane, dumps, to_jsonable
from .processes import SOCKET_COLUMNS, socket_row
from .table import FilterTable


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
        table.setup(SOCKET_COLUMNS)
        sockets = cp.sockets
        table.set_rows([
            (f"{s.pid}-{s.fd}-{i}", socket_row(s, cp.processes[s.pid].comm if s.pid in cp.processes else ""), s)
            for i, s in enumerate(sockets)
        ])
        established = [s for s in sockets if s.needs_tcp_established]
        listening = [s for s in sockets if s.state == "LISTEN"]
        summary = (f"{fmt.plural(len(rows), 'interface')}, {fmt.plural(len(sockets), 'socket')}, "
                   f"{len(listening)} listening")
        if established:
            verb = "needs" if len(established) == 1 else "need"
            summary += (f", [$text-warning]{fmt.plural(len(established), 'TCP connection')} {verb} "
                        f"--tcp-established to restore[/]")
        self.query_one("#network-summary", Static).update(summary)

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


class MountsPane(Pane):
    pane_id = "mounts"
    title = "Mounts"

    def compose(self) -> ComposeResult:
        yield Static(id="mounts-summary", classes="pane-summary")
        yield FilterTable(id="mounts-table")

    def on_mount(self) -> None:
        mounts = self.checkpoint.mounts
        table = self.query_one(FilterTable)
        table.setup(["Destination", "Type", "Source", "Options", "Origin", "Root", "External"])
        table.set_rows([
            (str(i), [m.destination, m.type, m.source, ",".join(m.options), m.origin, m.root, m.ext_key], m)
            for i, m in enumerate(mounts)
        ])
        by_origin: dict[str, int] = {}
        for m in mounts:
            by_origin[m.origin] = by_origin.get(m.origin, 0) + 1
        detail = ", ".join(f"{n} from {origin}" for origin, n in sorted(by_origin.items()))
        self.query_one("#mounts-summary", Static).update(
            fmt.plural(len(mounts), "mount") + (f" ({detail})" if detail else ""))

    def copy_text(self) -> str:
        return self.query_one(FilterTable).copy_text()

    def export_payload(self) -> ExportPayload:
        return "mounts.json", dumps(to_jsonable(self.checkpoint.mounts))
