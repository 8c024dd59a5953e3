"""The container record: engine, name, id, image, runtime, times, pod — each decided once.

``config.dump`` + ``spec.dump`` + a checkpoint image's annotations (+ what the source's shape
says) go in, one :class:`ContainerInfo` comes out. The builder (``model.build``), the early overview and header
(from the first members that stream past), the checkpoint list and picker, ``list``, the
renderings and the actions all read this record; none of them looks at the raw keys again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import annotations as A
from ..errors import Pane, Problem
from ..text import parse_time
from .types import ContainerInfo, Engine, short_runtime

_NAMED_ENGINES = {
    "podman": Engine.PODMAN, "libpod": Engine.PODMAN, "cri-o": Engine.CRIO, "crio": Engine.CRIO,
    "containerd": Engine.CONTAINERD,
}

# config.dump keys only Podman writes (CRI-O's and containerd's config.dump lack them)
_PODMAN_CONFIG_KEYS = ("lockID", "CreateCommand", "RawImageName")


def engine_named(name: str) -> Engine | None:
    """The engine an annotation value names (``cri-o``, ``Podman``, ``libpod``...), None if none."""
    return _NAMED_ENGINES.get(name.strip().lower())


@dataclass
class Metadata:
    """What is known of a checkpoint before its CRIU images are read."""

    config: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    image_annotations: dict[str, str] = field(default_factory=dict)
    source_kind: str = ""  # the archive layer's kind: "tar+zstd", "containerd-image", ...
    description: str = ""  # the archive layer's words for the shape: "checkpoint archive (tar+zstd)"
    source_path: str = ""
    has_member: Callable[[str], bool] = lambda _name: False
    config_mtime: float = 0.0  # of config.dump: when the engine wrote it (the checkpoint time)
    documents: frozenset[str] = frozenset()  # config.dump / spec.dump read as JSON objects (even ``{}``)
    unreadable: Mapping[str, str] = field(default_factory=dict)  # ... there, but not JSON objects: why not

    @classmethod
    def from_peek(cls, meta: Mapping[str, Any], path: str = "") -> Metadata:
        """From what :func:`ckpt_tui.archive.peek_metadata` or an ``on_metadata`` call gives."""
        members = meta.get("members")
        names = frozenset(members) if isinstance(members, (list, tuple, set, frozenset)) else frozenset()
        documents = frozenset(name for key, name in (("config", "config.dump"), ("spec", "spec.dump"))
                              if isinstance(meta.get(key), dict))
        return cls(config=_mapping(meta.get("config")), spec=_mapping(meta.get("spec")),
                   image_annotations=_strings(meta.get("annotations")), source_kind=str(meta.get("kind") or ""),
                   description=str(meta.get("description") or ""), source_path=path,
                   has_member=names.__contains__, config_mtime=_number(meta.get("config_mtime")),
                   documents=documents, unreadable=_strings(meta.get("unreadable")))


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first(*values: object) -> str:
    for value in values:
        text = _text(value)
        if text:
            return text
    return ""


def decide_engine(meta: Metadata, spec_annotations: Mapping[str, str]) -> Engine:
    """The one rule that says which engine made a checkpoint.

    1. spec.dump's ``io.container.manager`` (``libpod``: Podman, ``cri-o``: CRI-O);
    2. a checkpoint image's ``org.criu.checkpoint.engine.name``, or Podman's checkpoint annotations;
    3. containerd's own shapes: a native checkpoint image, a CRI archive's ``status`` file, or the
       CRI plugin's ``io.kubernetes.cri.*`` annotations;
    4. what only one engine writes: ``io.podman.annotations.*`` or Podman's config.dump keys;
       ``io.kubernetes.cri-o.*``;
    5. any other config.dump / spec.dump, even ``{}``: containerd (as checkpointctl decides: its
       CRI archives carry the fewest marks);
    6. config.dump / spec.dump there but not readable: unknown;
    7. no engine metadata: bare CRIU images, or unknown.
    """
    manager = spec_annotations.get(A.MANAGER, "")
    if manager == A.MANAGER_PODMAN:
        return Engine.PODMAN
    if manager == A.MANAGER_CRIO:
        return Engine.CRIO
    ia = meta.image_annotations
    named = engine_named(ia.get(A.CRIU_ENGINE_NAME, ""))
    if named is not None:
        return named
    if any(k.startswith(A.PODMAN_CHECKPOINT) for k in ia):
        return Engine.PODMAN
    if (meta.source_kind == "containerd-image" or meta.has_member("status")
            or any(k.startswith(A.CRI_PREFIX) for k in spec_annotations)):
        return Engine.CONTAINERD
    if any(k.startswith(A.PODMAN_PREFIX) for k in spec_annotations) or any(
            k in meta.config for k in _PODMAN_CONFIG_KEYS):
        return Engine.PODMAN
    if any(k.startswith(A.CRIO_PREFIX) for k in spec_annotations):
        return Engine.CRIO
    if meta.config or meta.spec or meta.documents:
        return Engine.CONTAINERD
    if meta.unreadable:
        return Engine.UNKNOWN
    if meta.has_member("checkpoint/inventory.img"):
        return Engine.CRIU
    return Engine.UNKNOWN


def container_info(meta: Metadata) -> tuple[ContainerInfo, list[Problem]]:
    """The container record of a checkpoint, and what in its metadata could not be used."""
    problems: list[Problem] = []
    config, spec, ia = meta.config, meta.spec, meta.image_annotations
    ann = _strings(spec.get("annotations"))
    engine = decide_engine(meta, ann)
    info = ContainerInfo(engine=engine, annotations=ann, image_annotations=dict(ia), source_path=meta.source_path)
    info.source_kind = describe_source(engine, meta.description or meta.source_kind)

    name = ""
    if engine is Engine.CRIO:
        raw = ann.get(A.CRIO_METADATA, "")
        try:
            parsed = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):
            parsed = {}
            problems.append(Problem("spec.dump", f"annotation {A.CRIO_METADATA} is not JSON", Pane.OVERVIEW,
                                    "warning"))
        name = _first(parsed.get("name") if isinstance(parsed, dict) else "", ann.get(A.K8S_CONTAINER_NAME))
        info.pod_name = ann.get(A.K8S_POD_NAME, "")
        info.namespace = ann.get(A.K8S_POD_NAMESPACE, "")
    elif engine is Engine.CONTAINERD:
        name = ann.get(A.CRI_CONTAINER_NAME, "")
        info.pod_name = ann.get(A.CRI_SANDBOX_NAME, "")
        info.namespace = ann.get(A.CRI_SANDBOX_NAMESPACE, "")
    info.name = _first(name, config.get("name"), A.checkpoint_annotation(ia, "name", "container.name"))
    info.pod_name = _first(info.pod_name, ia.get(A.CRIU_POD_NAME))
    info.namespace = _first(info.namespace, ia.get(A.CRIU_POD_NAMESPACE))

    info.id = _first(config.get("id")) or _id_from_cgroups(spec)
    # the image the container was created from: the resolved name first, then what was asked for
    info.image = _first(config.get("rootfsImageName"), config.get("rootfsImage"), config.get("RawImageName"),
                        ann.get(A.CRIO_IMAGE_NAME), ann.get(A.CRI_IMAGE_NAME),
                        A.checkpoint_annotation(ia, "rootfsImageName"),
                        ia.get(A.CONTAINERD_IMAGE_NAME) if meta.source_kind == "containerd-image" else "")
    info.image_id = _first(config.get("rootfsImageID"), config.get("rootfsImageRef"),
                           A.checkpoint_annotation(ia, "rootfsImageID"))
    info.image_requested = _first(config.get("rootfsImage"), config.get("RawImageName"), config.get("rawImageName"),
                                  A.checkpoint_annotation(ia, "rawImageName", "rootfsImageUserRequested"), info.image)
    info.runtime = _first(config.get("ociRuntime"), config.get("runtime"), config.get("OCIRuntime"),
                          ia.get(A.CONTAINERD_RUNTIME))
    info.image_runtime = A.checkpoint_annotation(ia, "runtime.name")
    if info.image_runtime and info.runtime and info.image_runtime != short_runtime(info.runtime):
        problems.append(Problem(
            "image annotations",
            f"the image's runtime annotation says {info.image_runtime!r} but config.dump says the checkpoint was "
            f"made with {info.runtime!r}; podman will only restore it with {info.image_runtime!r}",
            Pane.OVERVIEW, "warning"))
    info.runtime = info.runtime or info.image_runtime
    info.criu_version = A.checkpoint_annotation(ia, "criu.version")
    info.host_arch = A.checkpoint_annotation(ia, "host.arch")
    info.host_kernel = A.checkpoint_annotation(ia, "host.kernel")

    info.created = parse_time(config.get("createdTime")) or parse_time(ann.get(A.CRIO_CREATED))
    info.checkpointed = parse_time(config.get("checkpointedTime"))
    # tar keeps whole seconds: a checkpoint taken in the second the container was created (a
    # restored container checkpointed again) has an mtime up to 1 s before its creation time
    if info.checkpointed is None and meta.config_mtime and info.created is not None \
            and meta.config_mtime > info.created.timestamp() - 1:
        info.checkpointed = datetime.fromtimestamp(meta.config_mtime, tz=timezone.utc)
    info.hostname = _text(spec.get("hostname"))
    for name in sorted(meta.documents):
        if not (config if name == "config.dump" else spec):
            problems.append(Problem(name, "is an empty JSON object ({}): it records nothing of the container",
                                    Pane.OVERVIEW, "warning"))
    return info, problems



def describe_source(engine: Engine, shape: str) -> str:
    """The header's words for a source: the engine, then the archive layer's shape
    (``Podman checkpoint archive (tar+zstd)``); a shape that names no checkpoint is left alone."""
    if engine in (Engine.UNKNOWN, Engine.CRIU) or not shape:
        return shape
    if shape.startswith("checkpoint "):
        return f"{engine.value} {shape}"
    if shape.startswith("unpacked checkpoint"):
        return shape.replace("unpacked checkpoint", f"unpacked {engine.value} checkpoint", 1)
    return shape


def _id_from_cgroups(spec: Mapping[str, Any]) -> str:
    """A container id from the spec's cgroups path (``.../libpod-<id>.scope``), "" if none."""
    linux = spec.get("linux")
    path = linux.get("cgroupsPath") if isinstance(linux, dict) else None
    if not isinstance(path, str) or not path:
        return ""
    last = path.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    for prefix in ("libpod-", "crio-", "cri-containerd-", "docker-"):
        if last.startswith(prefix):
            last = last[len(prefix):]
    return last.removesuffix(".scope")


def info_from_peek(meta: Mapping[str, Any], path: str = "") -> ContainerInfo:
    """The container record from a quick look (the checkpoint list, the early header)."""
    return container_info(Metadata.from_peek(meta, path))[0]
