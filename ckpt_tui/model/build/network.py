"""The network: the engine's network.status (netavark's map or CNI results), CRI-O's
annotated address, and the network devices CRIU dumped (netdev-N.img)."""

from __future__ import annotations

from typing import Any

from ...criu import constants as C
from ...errors import Pane
from ..types import NetDevice, NetInterface
from .context import Context, escape, json_list

STATUS = "network.status"


def network(ctx: Context) -> None:
    if not ctx.src.has(STATUS):
        return
    data = ctx.json_member(STATUS, Pane.NETWORK, shape=object)
    if data is None:
        return
    if isinstance(data, dict):  # netavark: {network: {interfaces: {ifname: {subnets, mac_address}}}}
        ctx.ck.interfaces.extend(_netavark(ctx, data))
    elif isinstance(data, list):  # CNI results: [{interfaces: [{name, mac}], ips: [{address, gateway, interface}]}]
        ctx.ck.interfaces.extend(_cni(data))
    else:
        ctx.problem(STATUS, "has the wrong shape: neither a network map nor a CNI result list", Pane.NETWORK)


def _netavark(ctx: Context, data: dict[Any, Any]) -> list[NetInterface]:
    out: list[NetInterface] = []
    for net, body in data.items():
        ifaces = body.get("interfaces") if isinstance(body, dict) else None
        if not isinstance(ifaces, dict):
            ctx.problem(STATUS, f"network {net!r} has no interfaces map", Pane.NETWORK, "warning")
            continue
        for ifname, iface in ifaces.items():
            iface = iface if isinstance(iface, dict) else {}
            subnets = json_list(iface.get("subnets"))
            mac = str(iface.get("mac_address", ""))
            if not subnets:
                out.append(NetInterface(str(net), str(ifname), "", mac, ""))
            for sub in subnets:
                sub = sub if isinstance(sub, dict) else {}
                out.append(NetInterface(str(net), str(ifname), str(sub.get("ipnet", "")), mac,
                                        str(sub.get("gateway", ""))))
    return out


def _cni(data: list[Any]) -> list[NetInterface]:
    out: list[NetInterface] = []
    for idx, result in enumerate(data):
        if not isinstance(result, dict):
            continue
        ifaces = json_list(result.get("interfaces"))
        for ipinfo in result.get("ips") or []:
            if not isinstance(ipinfo, dict):
                continue
            i = ipinfo.get("interface")
            iface = ifaces[i] if isinstance(i, int) and 0 <= i < len(ifaces) and isinstance(ifaces[i], dict) else {}
            out.append(NetInterface(str(result.get("name", f"network{idx}") or f"network{idx}"),
                                    str(iface.get("name", "")), str(ipinfo.get("address", "")),
                                    str(iface.get("mac", "")), str(ipinfo.get("gateway", ""))))
    return out


def devices(ctx: Context) -> None:
    """The network devices of every netdev-<ns id>.img."""
    for info in ctx.ck.images:
        if not info.name.startswith("netdev-"):
            continue
        for d in ctx.images.entries(info.name, Pane.NETWORK):
            ns_id = int(info.name.split("-")[1].split(".")[0])
            ctx.ck.devices.append(NetDevice(name=escape(d.name), type=C.NETDEV_TYPES.get(d.type, str(d.type)),
                                            ifindex=d.ifindex, mtu=d.mtu,
                                            mac=":".join(f"{b:02x}" for b in d.address) if d.HasField("address")
                                            else "", flags=d.flags, ns_id=ns_id))
