"""Annotation and label keys the engines write, named once (facts from Podman, CRI-O, containerd,
checkpointctl and the OCI image spec). Every layer reads the keys from here; which one wins
for which fact is decided in :mod:`ckpt_tui.model.metadata`."""

from __future__ import annotations

# spec.dump annotations --------------------------------------------------------------------
MANAGER = "io.container.manager"  # "libpod" (Podman), "cri-o"
MANAGER_PODMAN = "libpod"
MANAGER_CRIO = "cri-o"
PODMAN_PREFIX = "io.podman.annotations."  # io.podman.annotations.autoremove, .init, ...

# CRI-O
CRIO_PREFIX = "io.kubernetes.cri-o."
CRIO_METADATA = "io.kubernetes.cri-o.Metadata"  # JSON: {"name": ..., "attempt": ...}
CRIO_IMAGE_NAME = "io.kubernetes.cri-o.ImageName"
CRIO_CREATED = "io.kubernetes.cri-o.Created"
CRIO_IP0 = "io.kubernetes.cri-o.IP.0"
CRIO_LABELS = "io.kubernetes.cri-o.Labels"
CRIO_ANNOTATIONS = "io.kubernetes.cri-o.Annotations"
CRIO_VOLUMES = "io.kubernetes.cri-o.Volumes"
CRIO_CHECKPOINT_NAME = "io.kubernetes.cri-o.annotations.checkpoint.name"
K8S_POD_NAME = "io.kubernetes.pod.name"
K8S_POD_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_CONTAINER_NAME = "io.kubernetes.container.name"
KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# containerd's CRI plugin
CRI_PREFIX = "io.kubernetes.cri."
CRI_CONTAINER_NAME = "io.kubernetes.cri.container-name"
CRI_SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
CRI_SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
CRI_IMAGE_NAME = "io.kubernetes.cri.image-name"

# checkpoint image annotations ---------------------------------------------------------------
# Podman's `container checkpoint --create-image` writes io.podman.annotations.checkpoint.<key>,
# checkpointctl and CRI-O write org.criu.checkpoint.<key>; the keys after the prefix differ in
# places (name vs container.name, rawImageName vs rootfsImageUserRequested).
PODMAN_CHECKPOINT = "io.podman.annotations.checkpoint."
CRIU_CHECKPOINT = "org.criu.checkpoint."
CHECKPOINT_PREFIXES = (PODMAN_CHECKPOINT, CRIU_CHECKPOINT)
CRIU_ENGINE_NAME = CRIU_CHECKPOINT + "engine.name"
CRIU_POD_NAME = CRIU_CHECKPOINT + "pod.name"
CRIU_POD_NAMESPACE = CRIU_CHECKPOINT + "pod.namespace"

# containerd checkpoint index annotations
CONTAINERD_RUNTIME = "io.containerd.checkpoint.runtime"
CONTAINERD_IMAGE_NAME = "image.name"

# OCI image spec
OCI_REF_NAME = "org.opencontainers.image.ref.name"

# annotations whose values are JSON documents: shown expanded
JSON_VALUED = (CRIO_LABELS, CRIO_ANNOTATIONS, CRIO_VOLUMES, CRIO_METADATA, KUBECTL_LAST_APPLIED)


def checkpoint_annotation(annotations: dict[str, str], *keys: str) -> str:
    """The first non-empty value of ``keys`` (the part after the prefix, e.g. ``"runtime.name"``)
    under the Podman prefix, then the CRIU prefix; ``""`` when none is set."""
    for key in keys:
        for prefix in CHECKPOINT_PREFIXES:
            value = annotations.get(prefix + key, "")
            if value:
                return value
    return ""

# ckpt-tui's own ------------------------------------------------------------------------------
# set in spec.dump on a copy `ckpt-tui redact` wrote: a JSON object naming the tool, whether memory
# was kept (filled) or stripped, and the record of every fill (redacted.json beside spec.dump); on a
# containerd checkpoint image's copy it is an annotation of the checkpoint index instead (its spec.dump
# sits inside the protobuf config blob and keeps its size), and the record is a blob of that index
# with the media type below, which the reader shows as redacted.json
CKPT_TUI_REDACTED = "org.ckpt-tui.redacted"
REDACTED_RECORD = "redacted.json"
MT_REDACTED_RECORD = "application/vnd.ckpt-tui.redacted.v1+json"
