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


# -- where the strings sit in the blob (for a copy that fills them in place) ----------------------
@dataclass(frozen=True)
class BlobString:
    """A string field of the config blob: ``data[offset:offset + size]``; ``field`` names it
    (``spec`` for the runtime spec JSON, ``id``, ``image``, ``labels`` ...), ``key`` is a label's name."""

    offset: int
    size: int
    field: str
    key: str = ""


_WIRE_LEN = 2  # protobuf wire type of length-delimited fields (strings, bytes, messages)


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """(field number, start, end) of each length-delimited field of the message in data[lo:hi]
    (the others are stepped over)."""
    out: list[tuple[int, int, int]] = []
    pos = lo
    while pos < hi:
        tag, pos = _varint(data, pos, hi)
        wire = tag & 7
        if wire == 0:
            _, pos = _varint(data, pos, hi)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _WIRE_LEN:
            size, pos = _varint(data, pos, hi)
            if pos + size > hi:
                raise ValueError("a field runs past its message")
            out.append((tag >> 3, pos, pos + size))
            pos += size
        else:
            raise ValueError(f"wire type {wire} is not read here")
    if pos != hi:
        raise ValueError("the last field runs past its message")
    return out


def _first(fields: list[tuple[int, int, int]], number: int) -> tuple[int, int] | None:
    # protobuf: the last occurrence of a non-repeated field wins
    found = [(lo, hi) for n, lo, hi in fields if n == number]
    return found[-1] if found else None


def config_blob_strings(data: bytes) -> list[BlobString]:
    """Where the runtime spec JSON and the container record's strings (id, image, runtime name,
    snapshotter, snapshot key, sandbox, labels) sit in a checkpoint config blob, as
    :func:`decode_config_blob` reads it. Overwriting any of them with as many other bytes keeps
    every length of the blob's protobuf valid. Empty when the blob is no such thing."""
    if data.lstrip().startswith(b"{"):
        return [BlobString(0, len(data), "spec")]
    try:
        top = _fields(data, 0, len(data))
        type_url, value = _first(top, 1), _first(top, 2)
        if value is None:
            return []
        url = data[type_url[0]:type_url[1]].decode("utf-8", "replace") if type_url else ""
        if url.rsplit("/", 1)[-1] != CONTAINER_TYPE:
            if "runtime-spec" in url or data[value[0]:value[1]].lstrip().startswith(b"{"):
                return [BlobString(value[0], value[1] - value[0], "spec")]
            return []
        return _record_strings(data, *value)
    except ValueError:
        return []


def _record_strings(data: bytes, lo: int, hi: int) -> list[BlobString]:
    from .pb import containerd_container_pb2 as cpb

    record = cpb.ContainerRecord  # type: ignore[attr-defined]  # a generated module: its classes are made at import
    numbers = {f.name: f.number for f in record.DESCRIPTOR.fields}
    names = {numbers[n]: n for n in ("id", "image", "snapshotter", "snapshot_key", "sandbox")}
    out: list[BlobString] = []
    for number, start, end in _fields(data, lo, hi):
        if number in names:
            out.append(BlobString(start, end - start, names[number]))
        elif number == numbers["spec"]:
            spec = _first(_fields(data, start, end), 2)  # google.protobuf.Any: value = 2
            if spec is not None:
                out = [s for s in out if s.field != "spec"]
                out.append(BlobString(spec[0], spec[1] - spec[0], "spec"))
        elif number == numbers["runtime"]:
            name = _first(_fields(data, start, end), 1)  # Runtime.name = 1
            if name is not None:
                out.append(BlobString(name[0], name[1] - name[0], "runtime"))
        elif number == numbers["labels"]:
            entry = _fields(data, start, end)  # a map entry: key = 1, value = 2
            key, val = _first(entry, 1), _first(entry, 2)
            if val is not None:
                label = data[key[0]:key[1]].decode("utf-8", "surrogateescape") if key else ""
                out.append(BlobString(val[0], val[1] - val[0], "labels", label))
    return out
