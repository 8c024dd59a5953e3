"""Rich renderings of the model for the command line (no Textual).

Every string from the checkpoint goes in through :func:`.common.data` / :func:`.common.line`:
escaped, and never read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from .. import text
from ..model.masking import mask_text, masked
from ..model.metadata import Metadata, container_info
from ..model.types import ContainerInfo, Process, RootfsDiff, Sizes, Socket
from .common import data, line, message

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint

ROOTFS_SHOWN = 50  # entries of each kind the tree lists (inspect --json has them all)
PROCESSES_SHOWN = 2_000  # processes the tree lists, and levels deep (a text tree's width grows with its depth)
TREE_DEPTH = 32
ITEMS_SHOWN = 500  # environment variables, open files and sockets listed of one process


def when(value: Any) -> str:
    return text.when(value, missing="unknown")


def process_label(proc: Process, reveal: bool = False) -> Text:
    """``[pid (state)]  command line  (N threads)``; secrets in the command line masked unless ``reveal``."""
    label = line((f"[{proc.pid}", "bold cyan"))
    if proc.state != "Alive":
        label.append_text(line((f" ({proc.state_text})", "yellow")))
    label.append_text(line(("]  ", "bold cyan"), mask_text(proc.title or proc.comm, reveal)))
    if len(proc.threads) > 1:
        label.append_text(line((f"  ({text.plural(len(proc.threads), 'thread')})", "dim")))
    return label


def process_counts(ck: Checkpoint) -> str:
    """``3 processes, 1 zombie, 1 stopped``."""
    zombies, stopped = ck.state_counts.get("Zombie", 0), ck.state_counts.get("Stopped", 0)
    return ", ".join([text.plural(len(ck.processes), "process")] + ([text.plural(zombies, "zombie")] if zombies else [])
                     + ([f"{stopped} stopped"] if stopped else []))


def render_overview(ck: Checkpoint, reveal: bool = False) -> Group:
    """The overview tree (like ``checkpointctl inspect --all``) and a table of problems; a
    pod gives its summary, then each container's overview. Secret-looking environment values
    and secrets in command lines (:mod:`ckpt_tui.model.masking`) are masked unless ``reveal``."""
    from ..model.pods import is_pod

    parts: list[RenderableType]
    if ck.containers or is_pod(ck.source):
        parts = [_pod_tree(ck)]
        parts += [_overview_tree(sub, _container_title(sub), reveal) for sub in ck.containers]
    else:
        parts = [_overview_tree(ck, None, reveal)]
    if ck.problems:  # a pod's hold its containers' (named by directory)
        parts.append(_problems_table(ck))
    return Group(*parts)


def _prefix(ck: Checkpoint) -> str:
    """The directory of a pod's container (its source is a view of the pod's)."""
    return str(getattr(ck.source, "prefix", ""))  # a PrefixedSource has one, a Source none


def _container_title(sub: Checkpoint) -> Text:
    title = line(("container ", "bold"), (sub.info.name or "(unnamed container)", "bold cyan"))
    if _prefix(sub):
        title.append_text(line((f"  {_prefix(sub)}", "dim")))
    return title


def _source_line(info: ContainerInfo) -> Text:
    return line("Source: ", info.source_kind, "  ", (info.source_path, "dim"))


def _sizes(root: Tree, sizes: Sizes, rootfs: bool) -> None:
    node = root.add(line(("Sizes", "bold")))
    if sizes.file is not None:
        node.add(line(f"File: {text.size(sizes.file)} ({text.exact_size(sizes.file)}, on disk)"))
    if sizes.uncompressed:
        node.add(line(f"Uncompressed: {text.size(sizes.uncompressed)} ({text.exact_size(sizes.uncompressed)}, "
                      "every member)"))
    if sizes.compression_ratio:
        node.add(line(f"Compression ratio: {text.ratio(sizes.compression_ratio)}"))
    images = node.add(line(f"CRIU images: {text.size(sizes.total)}"))
    images.add(line(f"Memory pages: {text.size(sizes.memory_pages)}"))
    if rootfs:
        node.add(line(f"Root FS diff: {text.size(sizes.rootfs_diff)}"))
    if sizes.volumes:
        node.add(line(f"Volumes: {text.size(sizes.volumes)}"))
    if sizes.devshm:
        node.add(line(f"/dev/shm: {text.size(sizes.devshm)}"))


def _pod_tree(ck: Checkpoint) -> Tree:
    info = ck.info
    root = Tree(line((info.name or "(unnamed pod)", "bold")))
    root.add(_source_line(info))
    root.add(line("Engine: ", str(info.engine) or "-"))
    root.add(line("Pod: ", info.pod_name or "-", "  Namespace: ", info.namespace or "-"))
    _sizes(root, ck.sizes, bool(ck.sizes.rootfs_diff))
    node = root.add(line(f"Containers: {len(ck.containers)}"))
    for sub in ck.containers:
        row = line((sub.info.name or "(unnamed container)", "bold cyan"))
        if _prefix(sub):
            row.append_text(line((f"  {_prefix(sub)}", "dim")))
        row.append_text(line(f"  {text.plural(len(sub.processes), 'process')}"))
        if sub.info.image:
            row.append_text(line("  ", sub.info.image))
        node.add(row)
    return root


def _problems_table(ck: Checkpoint) -> Table:
    table = Table(title="Problems", title_style="bold red", show_lines=False)
    table.add_column("where", overflow="fold")
    table.add_column("what", overflow="fold")
    for p in ck.problems:
        table.add_row(data(p.source), message(p.message, "red" if p.severity == "error" else "yellow"))
    return table


def _header(root: Tree, ck: Checkpoint) -> None:
    info = ck.info
    root.add(_source_line(info))
    root.add(line("Engine: ", str(info.engine)))
    root.add(line("Image: ", info.image or "-"))
    if info.image_id:
        root.add(line("Image ID: ", info.image_id))
    root.add(line("ID: ", info.id or "-"))
    root.add(line("Runtime: ", info.runtime or "-"))
    root.add(line("Created: ", when(info.created)))
    if info.checkpointed:
        root.add(line("Checkpointed: ", when(info.checkpointed)))
    if info.pod_name or info.namespace:
        root.add(line("Pod: ", info.pod_name, "  Namespace: ", info.namespace))
    if info.hostname:
        root.add(line("Hostname: ", info.hostname))
    if info.img_version is not None:
        root.add(line(f"CRIU image version: {info.img_version}"))
    if ck.interfaces:
        net = root.add(line("Network interfaces"))
        for iface in ck.interfaces:
            label = f"{iface.network} ({iface.name})" if iface.network else iface.name or "interface"
            node = net.add(line(label))
            node.add(line("IP: ", iface.ip))
            if iface.mac:
                node.add(line("MAC: ", iface.mac))
            if iface.gateway:
                node.add(line("Gateway: ", iface.gateway))


def _overview_tree(ck: Checkpoint, title: Text | None, reveal: bool) -> Tree:
    root = Tree(title or line((ck.info.name or "(unnamed container)", "bold")))
    _header(root, ck)
    _sizes(root, ck.sizes, ck.rootfs.present)
    if ck.stats:
        st = root.add(line("CRIU dump statistics"))
        for k, v in ck.stats.items():
            st.add(line(f"{k}: {text.count(v)}{' µs' if k.endswith('_time') else ''}"))
    if ck.terminals or ck.spec_terminal:
        _terminals(root, ck)
    if ck.processes:
        _process_tree(root.add(line(f"Process tree ({process_counts(ck)})")), ck, reveal)
    if ck.rootfs.present:
        _rootfs(root, ck)
    for volume in ck.volumes:
        _volume(root, volume)
    spec_mounts = [m for m in ck.mounts if m.origin == "spec"]
    if spec_mounts:
        mounts = root.add(line("Overview of mounts"))
        for m in spec_mounts:
            mounts.add(line(m.destination, ("  ", "dim"), (m.type, "dim"), ("  ", "dim"), (m.source, "dim")))
    return root


def _terminals(root: Tree, ck: Checkpoint) -> None:
    node = root.add(line("Terminal" + (" (the spec asks for one: process.terminal)" if ck.spec_terminal else "")))
    for t in ck.terminals:
        facts = ", ".join(x for x in (t.type, t.role) if x)
        node.add(line(t.name, f"  ({facts})", ("  " + t.where if t.fds else "  held by no process", "dim")))


def _process_tree(tree: Tree, ck: Checkpoint, reveal: bool) -> None:
    """The processes as a tree: at most ``PROCESSES_SHOWN`` of them, ``TREE_DEPTH`` levels deep
    (a deeper process hangs under its ancestor at that depth, its depth said), and of each at
    most ``ITEMS_SHOWN`` environment variables, open files and sockets."""
    nodes: dict[int, Tree] = {}
    shown = 0
    for depth, proc in ck.walk():
        if shown == PROCESSES_SHOWN:
            tree.add(_more(len(ck.processes) - shown, "more process", "more processes"))
            break
        shown += 1
        parent = nodes.get(proc.ppid) if depth else None
        label = process_label(proc, reveal)
        if depth > TREE_DEPTH:
            label = line((f"(depth {depth:,}) ", "dim")).append_text(label)
        node = (parent or tree).add(label)
        nodes[proc.pid] = node if depth < TREE_DEPTH else (parent or tree)
        if not proc.alive:
            continue
        if proc.env:
            env = node.add(line("Environment variables"))
            for var in proc.env[:ITEMS_SHOWN]:
                shown_var = (mask_text(var.raw, reveal) if var.malformed
                             else f"{var.name}={masked(var.name, var.value, reveal)}")
                env.add(line(shown_var))
            _rest(env, len(proc.env), "more variable", "more variables")
        if proc.files:
            files = node.add(line("Open files"))
            for f in proc.files[:ITEMS_SHOWN]:
                files.add(line(f"[{f.type} {f.fd}]  ", f.path))
            _rest(files, len(proc.files), "more open file", "more open files")
            if proc.cwd:
                files.add(line("[cwd]  ", proc.cwd))
            if proc.root:
                files.add(line("[root]  ", proc.root))
        if proc.sockets:
            socks = node.add(line("Open sockets"))
            for s in proc.sockets[:ITEMS_SHOWN]:
                socks.add(socket_line(s))
            _rest(socks, len(proc.sockets), "more socket", "more sockets")


def _more(n: int, one: str, many: str) -> Text:
    return line((f"… and {text.plural(n, one, many)} (inspect --json lists every one)", "dim"))


def _rest(node: Tree, total: int, one: str, many: str) -> None:
    if total > ITEMS_SHOWN:
        node.add(_more(total - ITEMS_SHOWN, one, many))


def socket_line(s: Socket) -> Text:
    if s.family == "UNIX":
        return line(f"[UNIX ({s.type})]  ", s.local or "(unnamed)")
    if s.proto in ("TCP", "UDP", "UDPLITE"):
        row = line(f"[{s.proto} ({s.state})]  " if s.state else f"[{s.proto}]  ", s.local or "(unbound)")
        if s.state != "LISTEN" and s.remote:
            row.append_text(line(" -> ", s.remote))
        return row
    return line(f"[{s.proto}] ", s.type)


def _rootfs(root: Tree, ck: Checkpoint) -> None:
    changed = [e for e in ck.rootfs.entries if e.type != "dir"]
    fs = root.add(line(f"Root FS diff: {len(changed)} changed, {len(ck.rootfs.deleted)} deleted"))
    for e in changed[:ROOTFS_SHOWN]:
        fs.add(line(("C  ", "green"), (f"/{e.path}", "green"), (f"  ({text.size(e.size)})", "green")))
    for d in ck.rootfs.deleted[:ROOTFS_SHOWN]:
        fs.add(line(("D  ", "red"), (d, "red strike")))
    left = max(len(changed) - ROOTFS_SHOWN, 0) + max(len(ck.rootfs.deleted) - ROOTFS_SHOWN, 0)
    if left:
        fs.add(_more(left, "more entry", "more entries"))


def _volume(root: Tree, volume: RootfsDiff) -> None:
    files = [e for e in volume.entries if e.type != "dir"]
    where = f" on {volume.mount}" if volume.mount and volume.mount != volume.label else ""
    node = root.add(line(volume.label[:1].upper() + volume.label[1:], where, f": {text.plural(len(files), 'entry', 'entries')}, "
                         f"{text.size(volume.size)}  ", (volume.member, "dim")))
    for e in files[:ROOTFS_SHOWN]:
        node.add(line(f"/{e.path}", (f"  ({text.size(e.size)})" if e.type == "file" else f"  ({e.type})", "dim")))
    if len(files) > ROOTFS_SHOWN:
        node.add(_more(len(files) - ROOTFS_SHOWN, "more entry", "more entries"))


# -- list ---------------------------------------------------------------------------------------
LIST_COLUMNS = ("checkpoint", "container", "pod / namespace", "engine", "checkpointed", "file size")


ListEntry = tuple[dict[str, Any], "ContainerInfo | None"]


def list_entries(rows: Sequence[tuple[Path, dict[str, Any]]]) -> list[ListEntry]:
    """What ``list`` says of each checkpoint: a record (``list --json``'s schema: path,
    container, id, image, engine, pod, namespace, created, checkpointed (RFC 3339), file_size,
    kind, error: None or why it could not be read, problems: what is wrong with its metadata,
    such as an empty config.dump) and the container record it came from."""
    out: list[ListEntry] = []
    for path, meta in rows:
        record: dict[str, Any] = {"path": str(path)}
        error = meta.get("error")
        if error is not None:
            record.update(dict.fromkeys(LIST_KEYS), error=str(error), problems=[])
            out.append((record, None))
            continue
        peeked = Metadata.from_peek(meta, str(path))
        info, problems = container_info(peeked)
        size = meta.get("size")
        record.update({
            "container": info.name, "id": info.id, "image": info.image, "engine": str(info.engine),
            "pod": info.pod_name, "namespace": info.namespace, "created": text.iso_time(info.created),
            "checkpointed": text.iso_time(info.checkpointed), "file_size": size if isinstance(size, int) else None,
            "kind": str(meta.get("kind") or ""), "error": None,
            "problems": [f"{name}: {why}" for name, why in sorted(peeked.unreadable.items())]
            + [f"{p.source}: {p.message}" for p in problems],
        })
        out.append((record, info))
    return out


LIST_KEYS = ("container", "id", "image", "engine", "pod", "namespace", "created", "checkpointed", "file_size", "kind")


def render_list(entries: Sequence[ListEntry]) -> Table:
    table = Table(title="Checkpoints")
    for col in LIST_COLUMNS:
        table.add_column(col, overflow="fold")
    for record, info in entries:
        if info is None:
            table.add_row(data(record["path"]), message(record["error"], "red"), *[Text()] * (len(LIST_COLUMNS) - 2))
            continue
        pod = f"{info.pod_name} / {info.namespace}" if info.pod_name or info.namespace else ""
        size = record["file_size"]
        name = data(info.name)
        if record["problems"]:  # beside the name: the row is not a healthy one
            name.append_text(message(f"{'  ' if info.name else ''}({'; '.join(record['problems'])})", "yellow"))
        table.add_row(data(record["path"]), name, data(pod), data(info.engine),
                      data(text.when(info.checkpointed, missing="")), data(text.size(size) if size is not None else "-"))
    return table
