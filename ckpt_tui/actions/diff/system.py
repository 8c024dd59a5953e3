"""Comparing what a checkpoint says of the container as a whole: the container record,
mounts, network, annotations, dump statistics and sizes."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from ...model.checkpoint import Checkpoint
from ...model.types import Mount, NetDevice, NetInterface
from .processes import keyed
from .result import COUNT, HEX, MICROS, SET, SIZE, TIME, VALUE, Node, Status, ValueNode

# the container record (model.metadata decides each field), in the order shown
METADATA: tuple[tuple[str, str, str], ...] = (
    ("name", "name", VALUE), ("id", "id", VALUE), ("engine", "engine", VALUE), ("image", "image", VALUE),
    ("image_id", "image id", VALUE), ("image_requested", "image requested", VALUE),
    ("runtime", "runtime", VALUE), ("image_runtime", "runtime (image annotation)", VALUE),
    ("created", "created", TIME), ("checkpointed", "checkpointed", TIME),
    ("pod_name", "pod", VALUE), ("namespace", "namespace", VALUE), ("hostname", "hostname", VALUE),
    ("criu_version", "CRIU version", VALUE), ("img_version", "CRIU image version", VALUE),
    ("host_arch", "host architecture", VALUE), ("host_kernel", "host kernel", VALUE),
    ("source_kind", "source", VALUE),
)


def _values(section: str, items: Iterable[ValueNode], keep_unchanged: bool) -> Node:
    node = Node("section", section)
    for item in items:
        if item.status is Status.UNCHANGED and not keep_unchanged:
            node.unlisted += 1
        else:
            node.add(item)
    return node


def metadata_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    items = [ValueNode.of("field", title, _plain(getattr(a.info, name)), _plain(getattr(b.info, name)), fmt)
             for name, title, fmt in METADATA]
    items.append(ValueNode.of("field", "architecture", a.architecture[0], b.architecture[0]))
    items.append(ValueNode.of("field", "seccomp filters", a.seccomp.get("filters", 0), b.seccomp.get("filters", 0), COUNT))
    items.append(ValueNode.of("field", "seccomp instructions", a.seccomp.get("instructions", 0),
                              b.seccomp.get("instructions", 0), COUNT))
    items.append(ValueNode.of("field", "processes", len(a.processes), len(b.processes), COUNT))
    return _values("metadata", items, keep_unchanged)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _mapping(section: str, a: dict[str, Any], b: dict[str, Any], keep_unchanged: bool) -> Node:
    keys = list(b) + [k for k in a if k not in b]
    items = [ValueNode.of("annotation", k, a.get(k), b.get(k), present=(k in a, k in b)) for k in keys]
    return _values(section, items, keep_unchanged)


def annotations_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    node = Node("section", "annotations")
    for title, va, vb in (("container", a.info.annotations, b.info.annotations),
                          ("checkpoint image", a.info.image_annotations, b.info.image_annotations)):
        if va or vb:
            sub = _mapping(title, va, vb, keep_unchanged)
            sub.kind = "group"
            node.add(sub)
    return node


def stats_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    """Every dump (and restore) statistic side by side."""
    node = Node("section", "stats")
    for title, sa, sb in (("dump", a.stats, b.stats), ("restore", a.restore_stats, b.restore_stats)):
        if not sa and not sb:
            continue
        keys = list(sa) + [k for k in sb if k not in sa]
        items = [ValueNode.of("stat", k, sa.get(k), sb.get(k), MICROS if k.endswith("_time") else COUNT,
                              present=(k in sa, k in sb)) for k in keys]
        sub = _values(title, items, keep_unchanged)
        sub.kind = "group"
        node.add(sub)
    return node


def sizes_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    items = [ValueNode.of("size", title, getattr(a.sizes, name), getattr(b.sizes, name), SIZE)
             for name, title in (("total", "checkpoint (CRIU images)"), ("memory_pages", "memory pages"),
                                 ("rootfs_diff", "root FS diff"), ("archive", "whole archive"))]
    return _values("sizes", items, keep_unchanged)


def mounts_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    node = Node("section", "mounts")
    for x, y in keyed(a.mounts, b.mounts, key=lambda m: (m.origin, m.destination)):
        m = y or x
        assert m is not None
        item = Node("mount", m.destination, status=_presence(x, y), label=f"{m.label} {m.source}".strip(),
                    note=f"from {'spec.dump' if m.origin == 'spec' else 'the CRIU mount images'}")
        if x is not None and y is not None:
            _mount_changes(item, x, y)
        _keep(node, item, keep_unchanged)
    return node


def _mount_changes(item: Node, x: Mount, y: Mount) -> None:
    item.change("type", x.label, y.label)
    item.change("source", x.source, y.source)
    item.change("options", sorted(x.options), sorted(y.options), fmt=SET)
    item.change("root", x.root, y.root)


def _presence(a: object, b: object) -> Status:
    return Status.ADDED if a is None else Status.REMOVED if b is None else Status.UNCHANGED


def _keep(parent: Node, item: Node, keep_unchanged: bool) -> None:
    if item.status is Status.UNCHANGED and not keep_unchanged:
        parent.unlisted += 1
    else:
        parent.add(item)


def network_section(a: Checkpoint, b: Checkpoint, keep_unchanged: bool) -> Node:
    node = Node("section", "network")
    ifaces = Node("group", "interfaces")
    for x, y in keyed(a.interfaces, b.interfaces, key=lambda i: (i.network, i.name)):
        i = y or x
        assert i is not None
        item = Node("interface", f"{i.network} ({i.name})" if i.network else i.name or "interface",
                    status=_presence(x, y), label=_iface_label(i))
        if x is not None and y is not None:
            item.change("address", x.ip, y.ip)
            item.change("MAC", x.mac, y.mac)
            item.change("gateway", x.gateway, y.gateway)
        _keep(ifaces, item, keep_unchanged)
    devices = Node("group", "devices")
    for dx, dy in keyed(a.devices, b.devices, key=lambda d: (d.ns_id, d.name)):
        d = dy or dx
        assert d is not None
        item = Node("device", d.name, status=_presence(dx, dy), label=_device_label(d))
        if dx is not None and dy is not None:
            item.change("type", dx.type, dy.type)
            item.change("MTU", dx.mtu, dy.mtu, fmt=COUNT)
            item.change("MAC", dx.mac, dy.mac)
            item.change("flags", dx.flags, dy.flags, fmt=HEX)
        _keep(devices, item, keep_unchanged)
    for group in (ifaces, devices):
        if group.children or group.unlisted:
            node.add(group.settle())
    return node


def _iface_label(i: NetInterface) -> str:
    return " ".join(filter(None, (i.ip, i.mac and f"MAC {i.mac}", i.gateway and f"gateway {i.gateway}")))


def _device_label(d: NetDevice) -> str:
    return " ".join(filter(None, (d.type, d.mac, f"mtu {d.mtu}" if d.mtu else "")))
