# SPDX-License-Identifier: Apache-2.0
"""Small read-only helpers that pull facts out of a loaded Checkpoint.

They only use the model contract (``Checkpoint`` attributes, ``Source``
methods) and fall back gracefully when a piece is missing, so every action
can work on a partially readable checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CkptError

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint

PAGE_SIZE = 4096
PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4

PODMAN_PREFIX = "io.podman.annotations.checkpoint."
CRIU_PREFIX = "org.criu.checkpoint."


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Open a checkpoint with the model layer (imported late: it may be heavy)."""
    from ..model import load_checkpoint  # noqa: PLC0415

    p = Path(path)
    if not p.exists():
        raise CkptError(f"{p}: no such file or directory")
    return load_checkpoint(p)


def is_checkpoint(obj: Any) -> bool:
    return hasattr(obj, "source") and hasattr(obj, "processes")


def source_of(ckpt: Any) -> Any:
    return getattr(ckpt, "source", None)


def config_of(ckpt: Any) -> dict[str, Any]:
    cfg = getattr(ckpt, "config", None)
    if isinstance(cfg, dict) and cfg:
        return cfg
    return _json_member(ckpt, "config.dump")


def spec_of(ckpt: Any) -> dict[str, Any]:
    spec = getattr(ckpt, "spec", None)
    if isinstance(spec, dict) and spec:
        return spec
    return _json_member(ckpt, "spec.dump")


def _json_member(ckpt: Any, name: str) -> dict[str, Any]:
    src = source_of(ckpt)
    try:
        if src is not None and src.has(name):
            data = json.loads(src.read(name, limit=64 << 20))
            return data if isinstance(data, dict) else {}
    except Exception:  # noqa: BLE001 - unreadable metadata is simply unknown here
        return {}
    return {}


def annotations_of(ckpt: Any) -> dict[str, str]:
    """Checkpoint-image annotations (source index/manifest/config + model's view)."""
    out: dict[str, str] = {}
    src = source_of(ckpt)
    ann = getattr(src, "annotations", None) if src is not None else None
    if isinstance(ann, dict):
        out.update({str(k): str(v) for k, v in ann.items()})
    info = getattr(ckpt, "info", None)
    img_ann = getattr(info, "image_annotations", None) if info is not None else None
    if isinstance(img_ann, dict):
        out.update({str(k): str(v) for k, v in img_ann.items()})
    return out


def annotation(ckpt: Any, key: str) -> str:
    """Look ``key`` (e.g. "runtime.name") up under the podman and the CRIU prefixes."""
    ann = annotations_of(ckpt)
    for prefix in (PODMAN_PREFIX, CRIU_PREFIX):
        val = ann.get(prefix + key)
        if val:
            return val
    return ""


def config_runtime(ckpt: Any) -> str:
    """The runtime config.dump records (podman: ``runtime``/``ociRuntime``; CRI-O/containerd: ``runtime``)."""
    cfg = config_of(ckpt)
    for key in ("ociRuntime", "runtime", "OCIRuntime"):
        val = cfg.get(key)
        if isinstance(val, str) and val:
            return val
    info = getattr(ckpt, "info", None)
    return getattr(info, "runtime", "") or ""


def short_runtime(name: str) -> str:
    """'io.containerd.runc.v2' -> 'runc', '/usr/bin/crun' -> 'crun'."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith("io.containerd.") and base.count(".") >= 2:
        parts = base.split(".")
        return parts[2] if len(parts) > 2 else base
    return base


def source_path(ckpt: Any) -> Path | None:
    src = source_of(ckpt)
    p = getattr(src, "path", None) if src is not None else None
    if p:
        return Path(p)
    info = getattr(ckpt, "info", None)
    sp = getattr(info, "source_path", "") if info is not None else ""
    return Path(sp) if sp else None


def source_kind(ckpt: Any) -> str:
    src = source_of(ckpt)
    return str(getattr(src, "kind", "") or "")


def members(ckpt: Any) -> dict[str, Any]:
    src = source_of(ckpt)
    m = getattr(src, "members", None) if src is not None else None
    return m if isinstance(m, dict) else {}


def member_size(ckpt: Any, name: str) -> int | None:
    m = members(ckpt).get(name)
    if m is None:
        return None
    return int(getattr(m, "size", 0) or 0)


def has_member(ckpt: Any, name: str) -> bool:
    src = source_of(ckpt)
    if src is None:
        return False
    try:
        return bool(src.has(name))
    except Exception:  # noqa: BLE001
        return name in members(ckpt)


@dataclass
class PagemapFacts:
    pid: int
    pages_id: int | None
    present_pages: int
    lazy_pages: int = 0
    parent_pages: int = 0
    from_model: bool = True

    @property
    def pages_member(self) -> str | None:
        return None if self.pages_id is None else f"checkpoint/pages-{self.pages_id}.img"

    @property
    def bytes_needed(self) -> int:
        return self.present_pages * PAGE_SIZE


def pagemap_facts(ckpt: Any, pid: int) -> PagemapFacts | None:
    """Which pages-N.img a process reads and how many PE_PRESENT pages it needs.

    Prefer the model (``Process.pages_id`` and ``VMA.pages_present``); when the
    model has no pages id, decode ``pagemap-PID.img`` with the criu layer.
    """
    procs = getattr(ckpt, "processes", {}) or {}
    proc = procs.get(pid)
    if proc is not None and getattr(proc, "pages_id", None) is not None:
        vmas = getattr(proc, "vmas", []) or []
        return PagemapFacts(
            pid=pid,
            pages_id=int(proc.pages_id),
            present_pages=sum(int(getattr(v, "pages_present", 0) or 0) for v in vmas),
            lazy_pages=sum(int(getattr(v, "pages_lazy", 0) or 0) for v in vmas),
            parent_pages=sum(int(getattr(v, "pages_parent", 0) or 0) for v in vmas),
        )
    return _decode_pagemap(ckpt, pid)


def _decode_pagemap(ckpt: Any, pid: int) -> PagemapFacts | None:
    name = f"checkpoint/pagemap-{pid}.img"
    if not has_member(ckpt, name):
        return None
    try:
        from ..criu import decode_image  # noqa: PLC0415

        img = decode_image(source_of(ckpt).read(name), name.rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - undecodable: unknown
        return None
    entries = list(getattr(img, "entries", []) or [])
    if not entries:
        return PagemapFacts(pid=pid, pages_id=None, present_pages=0, from_model=False)
    head = entries[0].message
    pages_id = getattr(head, "pages_id", None)
    present = lazy = parent = 0
    for entry in entries[1:]:
        msg = entry.message
        nr = int(getattr(msg, "nr_pages", 0) or 0)
        flags = _pe_flags(msg)
        if flags & PE_PARENT:
            parent += nr
        elif flags & PE_PRESENT:
            present += nr
        elif flags & PE_LAZY:
            lazy += nr
    return PagemapFacts(
        pid=pid,
        pages_id=int(pages_id) if pages_id is not None else None,
        present_pages=present,
        lazy_pages=lazy,
        parent_pages=parent,
        from_model=False,
    )


def _pe_flags(msg: Any) -> int:
    """pagemap_entry flags with CRIU's compatibility rule for old images."""
    def has(field: str) -> bool:
        try:
            return bool(msg.HasField(field))
        except Exception:  # noqa: BLE001
            return getattr(msg, field, None) is not None

    if has("in_parent") and getattr(msg, "in_parent", False):
        return PE_PARENT
    if not has("flags"):
        return PE_PRESENT
    return int(getattr(msg, "flags", 0) or 0)


def all_pids(ckpt: Any) -> list[int]:
    procs = getattr(ckpt, "processes", {}) or {}
    return sorted(int(p) for p in procs)


def all_tids(ckpt: Any) -> list[int]:
    tids: set[int] = set()
    for proc in (getattr(ckpt, "processes", {}) or {}).values():
        tids.add(int(proc.pid))
        for th in getattr(proc, "threads", []) or []:
            tids.add(int(th.tid))
    return sorted(tids)


def container_name(ckpt: Any) -> str:
    info = getattr(ckpt, "info", None)
    name = getattr(info, "name", "") if info is not None else ""
    if name:
        return name
    cfg = config_of(ckpt)
    return str(cfg.get("name") or "") or annotation(ckpt, "name") or annotation(ckpt, "container.name")


def container_id(ckpt: Any) -> str:
    info = getattr(ckpt, "info", None)
    cid = getattr(info, "id", "") if info is not None else ""
    return cid or str(config_of(ckpt).get("id") or "")
