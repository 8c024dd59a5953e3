"""The rest of a checkpoint: the container record (metadata), the inventory, CRIU's
statistics, mounts, namespaces (uts, time), seccomp and cgroups, sizes, and the logs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ... import annotations as A
from ...criu import constants as C
from ...criu import decode_image, message_to_dict
from ...errors import CkptError, Pane
from ..metadata import Metadata, container_info
from ..requirements import cpuinfo_from_image
from ..types import Engine, LogFile, Mount, NetInterface, PbMessage
from .context import Context, escape, json_list
from .images import CKPT

LOG_LIMIT = 32 << 20


def metadata(ctx: Context) -> None:
    ck, src = ctx.ck, ctx.src
    read = {name: ctx.json_member(name) for name in ("config.dump", "spec.dump")}
    config, spec = read["config.dump"] or {}, read["spec.dump"] or {}
    ck.config, ck.spec = config, spec
    member = src.members.get("config.dump")
    meta = Metadata(config=config, spec=spec, image_annotations=dict(src.annotations), source_kind=src.kind,
                    description=src.description, source_path=str(src.path), has_member=src.has,
                    config_mtime=member.mtime if member is not None else 0.0,
                    documents=frozenset(name for name, value in read.items() if value is not None),
                    # (json_member said why each is unreadable)
                    unreadable={name: "" for name, value in read.items() if value is None and src.has(name)})
    info, problems = container_info(meta)
    ck.info = info
    ck.problems.extend(problems)
    if not any(src.has(name) for name in read) and not src.has("pod.options"):
        if info.engine is Engine.CRIU:
            ctx.problem("config.dump", "no engine metadata (config.dump, spec.dump): bare CRIU images",
                        Pane.OVERVIEW, "info")
        elif info.engine is Engine.UNKNOWN:
            ctx.problem("config.dump", "no engine metadata (config.dump, spec.dump)", Pane.OVERVIEW, "warning")
    ip = info.annotations.get(A.CRIO_IP0) if info.engine is Engine.CRIO else None
    if ip:
        ck.interfaces.append(NetInterface(network="", name="", ip=ip))


def inventory(ctx: Context) -> None:
    inv = ctx.images.first("inventory.img", Pane.OVERVIEW, required=bool(ctx.ck.images))
    if inv is None:
        return
    ctx.ck.inventory = message_to_dict(inv)
    ctx.ck.info.img_version = inv.img_version
    if ctx.src.has(CKPT + "cpuinfo.img"):  # a dump with --cpu-cap
        try:
            ctx.ck.cpuinfo = cpuinfo_from_image(ctx.src.read(CKPT + "cpuinfo.img"))
        except CkptError as exc:
            ctx.problem(CKPT + "cpuinfo.img", f"cannot be decoded: {exc}", Pane.OVERVIEW)


def stats(ctx: Context) -> None:
    """stats-dump and stats-restore (at the top, or under checkpoint/): every field."""
    for name, field, target in (("stats-dump", "dump", ctx.ck.stats),
                                ("stats-restore", "restore", ctx.ck.restore_stats)):
        member = name if ctx.src.has(name) else CKPT + name if ctx.src.has(CKPT + name) else None
        if member is None:
            continue
        try:
            img = decode_image(ctx.src.read(member), name)
        except CkptError as exc:
            ctx.problem(member, f"cannot be decoded: {exc}", Pane.LOGS)
            continue
        if not img.entries:
            ctx.problem(member, "holds no entries", Pane.LOGS)
            continue
        msg: PbMessage = img.entries[0].message  # a stats_entry
        if not msg.HasField(field):
            ctx.problem(member, "has no statistics entry", Pane.LOGS, "warning")
            continue
        sub = msg.dump if field == "dump" else msg.restore
        target.update({f.name: getattr(sub, f.name) for f in sub.DESCRIPTOR.fields})  # every field, set or not


def mounts(ctx: Context) -> None:
    """The mounts spec.dump lists, then those CRIU dumped (mountpoints-N.img)."""
    spec_mounts = ctx.ck.spec.get("mounts")
    if isinstance(spec_mounts, list):
        for m in spec_mounts:
            if not isinstance(m, dict):
                continue
            opts = json_list(m.get("options"))
            ctx.ck.mounts.append(Mount(destination=str(m.get("destination", "")), type=str(m.get("type", "") or ""),
                                       source=str(m.get("source", "") or ""), options=[str(o) for o in opts]))
    for info in ctx.ck.images:
        if not info.name.startswith("mountpoints-"):
            continue
        entries = ctx.images.entries(info.name, Pane.MOUNTS)
        for m in entries[:ctx.take(len(entries), "mounts")]:
            ext_key = escape(m.ext_key) if m.HasField("ext_key") else ""
            fsname = C.mount_type_name(m.fstype, m.fsname if m.HasField("fsname") else "",
                                       external=m.HasField("ext_key") or bool(m.ext_mount), root=m.root)
            ctx.ck.mounts.append(Mount(destination=escape(m.mountpoint), type=escape(fsname), source=escape(m.source),
                                       options=[o for o in escape(m.options).split(",") if o], origin="criu",
                                       mnt_id=m.mnt_id, parent_mnt_id=m.parent_mnt_id, root=escape(m.root),
                                       ext_key=ext_key))


def namespaces(ctx: Context) -> None:
    """uts (hostname, domain name) and time namespaces, seccomp filters, cgroup sets."""
    ck = ctx.ck
    ns: dict[str, Any] = {}
    for info in ck.images:
        n = info.name
        if n.startswith("utsns-"):
            uts = ctx.images.first(n, Pane.OVERVIEW)
            if uts is not None:
                ns["hostname"] = escape(uts.nodename)
                ns["domainname"] = escape(uts.domainname)
                ck.info.hostname = ns["hostname"] or ck.info.hostname
        elif n.startswith("timens-"):
            t = ctx.images.first(n, Pane.OVERVIEW)
            if t is not None:
                ns["timens"] = {"monotonic": t.monotonic.tv_sec, "boottime": t.boottime.tv_sec}
        elif n == "seccomp.img":
            entries = ctx.images.entries(n, Pane.OVERVIEW)
            if entries:
                filters = list(entries[0].seccomp_filters)
                ck.seccomp = {"filters": len(filters), "instructions": sum(len(f.filter) // 8 for f in filters)}
        elif n == "cgroup.img":
            entries = ctx.images.entries(n, Pane.OVERVIEW)
            if entries:
                for s in entries[0].sets:
                    ck.cgroups.append({"id": s.id, "controllers": {c.name: c.path for c in s.ctls}})
    ck.namespaces = ns


def sizes(ctx: Context) -> None:
    sizes = ctx.ck.sizes
    pages = images = other = 0
    for name, m in ctx.src.members.items():
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
        elif name.startswith("volumes/") and name.endswith(".tar"):
            sizes.volumes += m.size
        elif name == "devshm-checkpoint.tar" and any(v.member == name for v in ctx.ck.volumes):
            sizes.devshm = m.size
        else:
            other += m.size
    sizes.memory_pages = pages
    sizes.file = _file_size(ctx.src.path)
    sizes.breakdown = {"memory pages": pages, "root FS diff": sizes.rootfs_diff, "other CRIU images": images,
                       **({"volumes": sizes.volumes} if sizes.volumes else {}),
                       **({"/dev/shm": sizes.devshm} if sizes.devshm else {}),
                       "metadata, logs and other": other}


def _file_size(path: str | Path) -> int | None:
    """The size on disk of a source that is one file (None for a directory)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def logs(ctx: Context, extra: Iterable[str | Path]) -> None:
    """Every *.log member, then the log files the user named."""
    for name in ctx.src.names():
        if name.rsplit("/", 1)[-1].endswith(".log") and ctx.src.members[name].type == "file":
            try:
                text = ctx.src.read(name, limit=LOG_LIMIT).decode("utf-8", "replace")
            except CkptError as exc:
                ctx.problem(name, f"cannot read: {exc}", Pane.LOGS)
                continue
            ctx.ck.logs.append(LogFile(name=name, text=text))
    for path in extra:
        p = Path(path)
        try:
            text = p.read_bytes()[:LOG_LIMIT].decode("utf-8", "replace")
        except OSError as exc:
            ctx.problem(str(p), f"cannot read the log file: {exc.strerror or exc}", Pane.LOGS)
            continue
        ctx.ck.logs.append(LogFile(name=str(p), text=text, external=True))
