"""Rich renderings of the model for the command line (no Textual)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import humanize
from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from . import text
from .model.checkpoint import Checkpoint
from .model.metadata import info_from_peek
from .model.types import Process


def when(value: datetime | None, now: datetime | None = None) -> str:
    return text.when(value, now, missing="unknown")


size = text.size
plural = text.plural


def process_label(proc: Process) -> Text:
    text = Text()
    text.append(f"[{proc.pid}", style="bold cyan")
    if proc.state not in ("Alive",):
        text.append(f" ({proc.state})", style="yellow")
    text.append("]  ", style="bold cyan")
    text.append(proc.title or proc.comm)
    if len(proc.threads) > 1:
        text.append(f"  ({plural(len(proc.threads), 'thread')})", style="dim")
    return text


def render_overview(ck: Checkpoint) -> Group:
    """The overview tree (like ``checkpointctl inspect --all``) and a table of problems; a
    pod gives its summary, then each container's overview."""
    from .model.pods import is_pod

    if ck.containers or is_pod(ck.source):
        parts: list[Any] = [_pod_tree(ck)]
        for sub in ck.containers:
            parts.append(_overview_tree(sub, title=_container_title(sub)))
    else:
        parts = [_overview_tree(ck)]
    if ck.problems:  # a pod's hold its containers' (named by directory)
        parts.append(_problems_table(ck))
    return Group(*parts)


def _container_title(sub: Checkpoint) -> Text:
    text = Text("container ", style="bold")
    text.append(sub.info.name or "(unnamed container)", style="bold cyan")
    prefix = getattr(sub.source, "prefix", "")
    if prefix:
        text.append(f"  {prefix}", style="dim")
    return text


def _pod_tree(ck: Checkpoint) -> Tree:
    info = ck.info
    root = Tree(Text(info.name or "(unnamed pod)", style="bold"))
    root.add(f"Source: {info.source_kind}  [dim]{info.source_path}[/dim]")
    root.add(f"Engine: {info.engine or '-'}")
    root.add(f"Pod: {info.pod_name or '-'}  Namespace: {info.namespace or '-'}")
    sizes = root.add(f"Checkpoint size: {size(ck.sizes.total)}")
    sizes.add(f"Memory pages size: {size(ck.sizes.memory_pages)}")
    if ck.sizes.rootfs_diff:
        root.add(f"Root FS diff size: {size(ck.sizes.rootfs_diff)}")
    node = root.add(f"Containers: {len(ck.containers)}")
    for sub in ck.containers:
        line = Text(sub.info.name or "(unnamed container)", style="bold cyan")
        prefix = getattr(sub.source, "prefix", "")
        if prefix:
            line.append(f"  {prefix}", style="dim")
        line.append(f"  {plural(len(sub.processes), 'process')}")
        if sub.info.image:
            line.append(f"  {sub.info.image}")
        node.add(line)
    return root


def _problems_table(ck: Checkpoint) -> Table:
    table = Table(title="Problems", title_style="bold red", show_lines=False)
    table.add_column("where")
    table.add_column("what")
    for p in ck.problems:
        table.add_row(p.source, Text(p.message, style="red" if p.severity == "error" else "yellow"))
    return table


def _overview_tree(ck: Checkpoint, title: Text | None = None) -> Tree:
    info = ck.info
    root = Tree(title or Text(info.name or "(unnamed container)", style="bold"))
    root.add(f"Source: {info.source_kind}  [dim]{info.source_path}[/dim]")
    root.add(f"Engine: {info.engine}")
    root.add(f"Image: {info.image or '-'}")
    if info.image_id:
        root.add(f"Image ID: {info.image_id}")
    root.add(f"ID: {info.id or '-'}")
    root.add(f"Runtime: {info.runtime or '-'}")
    root.add(f"Created: {when(info.created)}")
    if info.checkpointed:
        root.add(f"Checkpointed: {when(info.checkpointed)}")
    if info.pod_name or info.namespace:
        root.add(f"Pod: {info.pod_name}  Namespace: {info.namespace}")
    if info.hostname:
        root.add(f"Hostname: {info.hostname}")
    if info.img_version is not None:
        root.add(f"CRIU image version: {info.img_version}")
    if ck.interfaces:
        net = root.add("Network interfaces")
        for iface in ck.interfaces:
            node = net.add(f"{iface.network} ({iface.name})" if iface.network else iface.name or "interface")
            node.add(f"IP: {iface.ip}")
            if iface.mac:
                node.add(f"MAC: {iface.mac}")
            if iface.gateway:
                node.add(f"Gateway: {iface.gateway}")
    sizes = root.add(f"Checkpoint size: {size(ck.sizes.total)}")
    sizes.add(f"Memory pages size: {size(ck.sizes.memory_pages)}")
    if ck.rootfs.present:
        root.add(f"Root FS diff size: {size(ck.sizes.rootfs_diff)}")
    if ck.stats:
        st = root.add("CRIU dump statistics")
        for k, v in ck.stats.items():
            st.add(f"{k}: {humanize.intcomma(v)}{' µs' if k.endswith('_time') else ''}")
    if ck.processes:
        tree = root.add("Process tree")
        nodes: dict[int, Tree] = {}
        for depth, proc in ck.walk():
            parent = nodes.get(proc.ppid) if depth else None
            node = (parent or tree).add(process_label(proc))
            nodes[proc.pid] = node
            if not proc.alive:
                continue
            if proc.env:
                env = node.add("Environment variables")
                for var in proc.env:
                    env.add(Text(var.raw))
            if proc.files:
                files = node.add("Open files")
                for f in proc.files:
                    files.add(Text(f"[{f.type} {f.fd}]  {f.path}"))
                if proc.cwd:
                    files.add(Text(f"[cwd]  {proc.cwd}"))
                if proc.root:
                    files.add(Text(f"[root]  {proc.root}"))
            if proc.sockets:
                socks = node.add("Open sockets")
                for s in proc.sockets:
                    if s.family == "UNIX":
                        socks.add(Text(f"[UNIX ({s.type})]  {s.src or '@'}"))
                    elif s.proto in ("TCP", "UDP", "UDPLITE"):
                        line = f"[{s.proto} ({s.state})]  {s.src}:{s.src_port}"
                        if s.state != "LISTEN":
                            line += f" -> {s.dst}:{s.dst_port}"
                        socks.add(Text(line))
                    else:
                        socks.add(Text(f"[{s.proto}] {s.type}"))
    if ck.rootfs.present:
        fs = root.add(f"Root FS diff: {len([e for e in ck.rootfs.entries if e.type != 'dir'])} changed, "
                      f"{len(ck.rootfs.deleted)} deleted")
        for e in ck.rootfs.entries[:50]:
            if e.type != "dir":
                fs.add(Text(f"C  /{e.path}  ({size(e.size)})", style="green"))
        for d in ck.rootfs.deleted[:50]:
            fs.add(Text(f"D  {d}", style="red strike"))
    if ck.mounts:
        mounts = root.add("Overview of mounts")
        for m in ck.mounts:
            if m.origin == "spec":
                mounts.add(f"{m.destination}  [dim]{m.type}  {m.source}[/dim]")
    return root


def render_list(rows: list[tuple[Path, dict[str, Any]]]) -> Table:
    table = Table(title="Checkpoints")
    for col in ("checkpoint", "container", "pod / namespace", "engine", "checkpointed", "size"):
        table.add_column(col)
    for path, meta in rows:
        if "error" in meta:
            table.add_row(str(path), Text(meta["error"], style="red"), "", "", "", "")
            continue
        info = info_from_peek(meta, str(path))
        pod = f"{info.pod_name} / {info.namespace}" if info.pod_name or info.namespace else ""
        table.add_row(str(path), info.name, pod, str(info.engine), text.when(info.checkpointed, missing=""),
                      size(int(meta.get("size", 0) or 0)))
    return table
