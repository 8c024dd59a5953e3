# SPDX-License-Identifier: Apache-2.0
"""The annotations a checkpoint image carries, from the container record.

The same facts go under the shared ``org.criu.checkpoint.*`` keys (containerd reads them on the
index, CRI-O on the manifest) and Podman's ``io.podman.annotations.checkpoint.*`` keys (Podman
decides "this is a checkpoint image" from those); the two name some keys differently
(``container.name`` / ``name``, ``rootfsImageUserRequested`` / ``rawImageName``). The image of a
CRI-O (kubelet) checkpoint also gets ``io.kubernetes.cri-o.annotations.checkpoint.name``: CRI-O
restores a container from an image that carries it.
"""

from __future__ import annotations

from ... import annotations as A
from ...model.checkpoint import Checkpoint
from ...model.types import Engine
from .._versions import dumped_with, version_number

__all__ = ["checkpoint_annotations"]

# (key after org.criu.checkpoint., key after io.podman.annotations.checkpoint.); None: not written
_PAIRS = {
    "engine": ("engine.name", None),
    "name": ("container.name", "name"),
    "pod_name": ("pod.name", None),
    "namespace": ("pod.namespace", None),
    "image_requested": ("rootfsImageUserRequested", "rawImageName"),
    "image": ("rootfsImageName", "rootfsImageName"),
    "image_id": ("rootfsImageID", "rootfsImageID"),
    "runtime": ("runtime.name", "runtime.name"),
    "criu_version": ("criu.version", "criu.version"),
    "host_arch": ("host.arch", "host.arch"),
    "host_kernel": ("host.kernel", "host.kernel"),
}


def _runtime(ck: Checkpoint, asked: str | None, notes: list[str]) -> str:
    """The runtime the image names: the one asked for, else the one that made the checkpoint."""
    info = ck.info
    if asked:
        if info.runtime and info.runtime_name != asked:
            notes.append(f"runtime annotation set to {asked!r} as asked, but config.dump says {info.runtime!r} "
                         "made the checkpoint")
        return asked
    if info.image_runtime and info.runtime_name and info.image_runtime != info.runtime_name:
        notes.append(
            f"the source image's runtime annotation says {info.image_runtime!r} but config.dump says "
            f"{info.runtime!r} made the checkpoint; the new image names {info.runtime_name!r}"
        )
    return info.runtime_name


def checkpoint_annotations(ck: Checkpoint, *, runtime: str | None = None) -> tuple[dict[str, str], list[str]]:
    """The checkpoint image annotations for ``ck``, sorted by key, and notes that explain choices
    (a runtime annotation that disagreed with config.dump, a fact nobody can tell).

    ``runtime`` overrides the runtime they name. What a source checkpoint image already said under
    either prefix (the Podman version, ...) is carried over; the facts of ``ck.info`` win over it.
    """
    info = ck.info
    notes: list[str] = []
    made_by = dumped_with(ck)
    arch, _how = ck.architecture
    facts = {
        # a bare CRIU directory has no engine: no engine.name (Engine.CRIU is not one)
        "engine": info.engine.value if info.engine.known else "",
        "name": info.name,
        "pod_name": info.pod_name,
        "namespace": info.namespace,
        "image_requested": info.image_requested,
        "image": info.image,
        "image_id": info.image_id,
        "runtime": _runtime(ck, runtime, notes),
        "criu_version": version_number(made_by.criu_version),
        "host_arch": arch,
        "host_kernel": made_by.kernel,
    }
    out = {k: v for k, v in info.image_annotations.items() if k.startswith(A.CHECKPOINT_PREFIXES)}
    for fact, (criu_key, podman_key) in _PAIRS.items():
        value = facts[fact].strip()
        if not value:
            continue
        out[A.CRIU_CHECKPOINT + criu_key] = value
        if podman_key is not None:
            out[A.PODMAN_CHECKPOINT + podman_key] = value
    if info.engine is Engine.CRIO and info.name:
        out[A.CRIO_CHECKPOINT_NAME] = info.name
    if not info.name:
        notes.append("the container name is unknown: containerd will not recognise the image as a checkpoint")
    if not facts["runtime"]:
        notes.append("the runtime is unknown: podman will not recognise the image as a checkpoint")
    return dict(sorted(out.items())), notes
