"""containerd's checkpoint config blob: a protobuf ``google.protobuf.Any``.

containerd's task service stores the container's runtime spec there (type URL
``types.containerd.io/opencontainers/runtime-spec/1/Spec``, value = spec JSON);
a whole container record (``containerd.services.containers.v1.Container``) is
accepted as well. From either we synthesize ``spec.dump`` and a ``config.dump`` in
Podman's JSON shape so that the rest of ckpt-tui sees the common layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

CONTAINER_TYPE = "containerd.services.containers.v1.Container"


@dataclass
class ContainerdConfig:
    spec_json: bytes | None = None
    spec: dict[str, Any] | None = None
    record: dict[str, Any] = field(default_factory=dict)  # id, image, runtime, created, labels...
    type_url: str = ""
    problems: list[str] = field(default_factory=list)


def _timestamp(ts) -> str | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    dt = datetime.fromtimestamp(ts.seconds, tz=timezone.utc)
    frac = f".{ts.nanos:09d}".rstrip("0").rstrip(".") if ts.nanos else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def decode_config_blob(data: bytes) -> ContainerdConfig:
    out = ContainerdConfig()
    stripped = data.lstrip()
    if stripped.startswith(b"{"):  # a plain JSON spec
        out.spec_json = data
    else:
        from google.protobuf import any_pb2  # protobuf only for a config blob that is one
        from google.protobuf.message import DecodeError

        msg = any_pb2.Any()
        try:
            msg.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as exc:
            out.problems.append(f"the checkpoint config blob is not a protobuf Any: {exc}")
            return out
        out.type_url = msg.type_url
        if msg.type_url.rsplit("/", 1)[-1] == CONTAINER_TYPE:
            # imported here: the generated module pins a protobuf runtime version, and only
            # this rare shape needs it
            from .pb import containerd_container_pb2 as cpb

            rec = cpb.ContainerRecord()  # type: ignore[attr-defined]  # a generated module: its classes are made at import
            try:
                rec.ParseFromString(msg.value)
            except (DecodeError, ValueError, RuntimeError) as exc:
                out.problems.append(f"the container record in the checkpoint config is damaged: {exc}")
                return out
            out.record = {
                "id": rec.id,
                "image": rec.image,
                "runtime": rec.runtime.name,
                "snapshotter": rec.snapshotter,
                "snapshot_key": rec.snapshot_key,
                "labels": dict(rec.labels),
                "created": _timestamp(rec.created_at) if rec.HasField("created_at") else None,
                "updated": _timestamp(rec.updated_at) if rec.HasField("updated_at") else None,
            }
            if rec.HasField("spec"):
                out.spec_json = rec.spec.value
            else:
                out.problems.append("the container record in the checkpoint config has no spec")
        elif "runtime-spec" in msg.type_url or msg.value.lstrip().startswith(b"{"):
            out.spec_json = msg.value
        else:
            out.problems.append(f"the checkpoint config holds an unknown type ({msg.type_url or 'no type URL'})")
            return out
    if out.spec_json is not None:
        try:
            spec = json.loads(out.spec_json)
        except (ValueError, UnicodeDecodeError) as exc:
            out.problems.append(f"the runtime spec in the checkpoint config is not valid JSON: {exc}")
            out.spec_json = None
        else:
            if isinstance(spec, dict):
                out.spec = spec
            else:
                out.problems.append("the runtime spec in the checkpoint config is not a JSON object")
                out.spec_json = None
    return out


def _id_from_cgroups_path(spec: dict[str, Any]) -> str:
    linux = spec.get("linux")
    path = linux.get("cgroupsPath") if isinstance(linux, dict) else None
    if not isinstance(path, str) or not path:
        return ""
    last = re.split(r"[/:]", path.rstrip("/"))[-1]
    last = re.sub(r"^(cri-containerd-)(.*)\.scope$", r"\2", last)
    return last


def synthesize_config(cfg: ContainerdConfig, annotations: dict[str, str], image_ref: str = "") -> dict[str, Any]:
    """A ``config.dump`` in Podman's shape from what the containerd image tells."""
    spec = cfg.spec or {}
    raw_ann = spec.get("annotations")
    spec_ann = raw_ann if isinstance(raw_ann, dict) else {}
    rec = cfg.record
    cid = rec.get("id") or _id_from_cgroups_path(spec)
    name = spec_ann.get("io.kubernetes.cri.container-name") or cid
    image = (
        rec.get("image")
        or annotations.get("image.name")
        or spec_ann.get("io.kubernetes.cri.image-name")
        or annotations.get("org.opencontainers.image.ref.name", "")
    )
    config: dict[str, Any] = {
        "id": cid,
        "name": name,
        "rootfsImageName": image,
        "rootfsImageRef": image_ref,
        "runtime": rec.get("runtime") or annotations.get("io.containerd.checkpoint.runtime", ""),
    }
    if rec.get("created"):
        config["createdTime"] = rec["created"]
    return config
