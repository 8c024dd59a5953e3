"""The checkpoint model as one JSON-ready dict (``ckpt-tui inspect --json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..criu.constants import PAGE_SIZE
from ..text import iso_time
from .masking import mask_text, masked
from .types import Process, RootfsEntry

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint


def process_json(proc: Process, mask: bool = False) -> dict[str, Any]:
    """One process; ``mask``: secret-looking environment values and the secrets in the command
    line replaced by the mask."""
    creds = proc.creds
    return {
        "pid": proc.pid,
        "ppid": proc.ppid,
        "pgid": proc.pgid,
        "sid": proc.sid,
        "comm": proc.comm,
        "state": proc.state,
        "exit_code": proc.exit_code,  # a zombie's (None when a signal killed it, or for any other process)
        "exit_signal": proc.exit_signal,
        "threads": [t.tid for t in proc.threads],
        "cmdline": [mask_text(arg, reveal=not mask) for arg in proc.cmdline],
        "env": {k: masked(k, v, reveal=not mask) for k, v in proc.env_dict.items()},
        "cwd": proc.cwd,
        "root": proc.root,
        "exe": proc.exe,
        "uid": creds.uid if creds else None,
        "gid": creds.gid if creds else None,
        "capabilities": list(creds.cap_eff) if creds else [],
        "files": [{"fd": f.fd, "type": f.type, "path": f.path} for f in proc.files],
        "sockets": [
            {
                "fd": s.fd, "family": s.family, "proto": s.proto, "type": s.type, "state": s.state,
                "local": s.local, "remote": s.remote,
                # only IP sockets have ports: a unix socket's are null
                "src": s.src, "src_port": s.src_port if s.has_ports else None,
                "dst": s.dst, "dst_port": s.dst_port if s.has_ports else None,
                "send_buf": s.send_buf, "recv_buf": s.recv_buf, "inq_len": s.inq_len, "outq_len": s.outq_len,
            }
            for s in proc.sockets
        ],
        "memory": {
            "vmas": len(proc.vmas),
            "dumped_bytes": proc.memory_size,  # present in the pages image and readable
            "missing_bytes": proc.pages_missing * PAGE_SIZE,  # listed by the pagemap, not in the pages image
            "shared_bytes": sum(v.size for v in proc.vmas if v.shared),
        },
    }


def _entry_json(e: RootfsEntry) -> dict[str, Any]:
    return {"path": e.path, "type": e.type, "size": e.size, "mode": oct(e.mode), "linkname": e.linkname}


def container_json(sub: Checkpoint, mask: bool = False) -> dict[str, Any]:
    """One container of a pod: its name and directory, then what :func:`to_json` gives for a
    checkpoint of its own."""
    return {"name": sub.info.name, "directory": sub.directory, **to_json(sub, mask=mask)}


def to_json(ck: Checkpoint, mask: bool = False) -> dict[str, Any]:
    """The whole model; for a pod, ``containers`` holds each container's (the pod's own
    ``processes`` are empty: the processes are the containers'). ``mask``: secret-looking
    environment values and secrets in command lines (:mod:`ckpt_tui.model.masking`) replaced
    by the mask."""
    info = ck.info
    return {
        "source": {"path": info.source_path, "kind": ck.source.kind, "description": info.source_kind},
        "container": {
            "name": info.name,
            "id": info.id,
            "image": info.image,
            "image_id": info.image_id,
            "engine": info.engine,
            "runtime": info.runtime,
            "created": iso_time(info.created),
            "checkpointed": iso_time(info.checkpointed),
            "pod": info.pod_name,
            "namespace": info.namespace,
            "hostname": info.hostname,
            "criu_image_version": info.img_version,
        },
        "sizes": {
            "total": ck.sizes.total,
            "memory_pages": ck.sizes.memory_pages,
            "rootfs_diff": ck.sizes.rootfs_diff,
            "volumes": ck.sizes.volumes,
            "devshm": ck.sizes.devshm,
            "file": ck.sizes.file,
            "uncompressed": ck.sizes.uncompressed,
            "compression_ratio": ck.sizes.compression_ratio,
        },
        "stats": dict(ck.stats),
        "restore_stats": dict(ck.restore_stats),
        "annotations": dict(info.annotations),
        "image_annotations": dict(info.image_annotations),
        "processes": [process_json(p, mask) for p in ck.process_list()],
        "terminal": ck.spec_terminal,  # the spec gives the container a terminal (podman run -t)
        "terminals": [
            {"name": t.name, "type": t.type, "index": t.index, "master": t.master, "rdev": f"{t.rdev[0]}:{t.rdev[1]}",
             "sid": t.sid, "pgrp": t.pgrp, "fds": {str(pid): fds for pid, fds in sorted(t.fds.items())}}
            for t in ck.terminals
        ],
        "network": {
            "interfaces": [
                {"network": i.network, "name": i.name, "ip": i.ip, "mac": i.mac, "gateway": i.gateway}
                for i in ck.interfaces
            ],
            "devices": [{"name": d.name, "type": d.type, "mtu": d.mtu, "mac": d.mac} for d in ck.devices],
        },
        "rootfs_diff": {
            "present": ck.rootfs.present,
            "changed": [_entry_json(e) for e in ck.rootfs.entries if e.status != "deleted"],
            "deleted": list(ck.rootfs.deleted),
        },
        # the named volumes' and /dev/shm's whole contents, as Podman exported them
        "volumes": [
            {"kind": v.kind, "name": v.name, "member": v.member, "mount": v.mount, "size": v.size,
             "entries": [_entry_json(e) for e in v.entries]}
            for v in ck.volumes
        ],
        "mounts": [
            {"destination": m.destination, "type": m.type, "source": m.source, "origin": m.origin,
             "ext_key": m.ext_key}
            for m in ck.mounts
        ],
        "namespaces": dict(ck.namespaces),
        "seccomp": dict(ck.seccomp),
        "logs": [lf.name for lf in ck.logs],
        "problems": [
            {"source": p.source, "message": p.message, "pane": p.pane, "severity": p.severity} for p in ck.problems
        ],
        "containers": [container_json(c, mask) for c in ck.containers],
    }
