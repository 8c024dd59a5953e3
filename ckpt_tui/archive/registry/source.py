"""``open_source("docker://...")``: a checkpoint image in a registry as a :class:`Source`.

The image's index, manifest and config are fetched first (each checked against its digest,
each small): they give the overview (``on_metadata`` is called with what their annotations
say before any layer byte is read). They become a small OCI layout in memory whose layer
blobs are :class:`~.blob.RemoteBlob` references, and :func:`ckpt_tui.archive.oci.convert_oci`
turns it into the common layout exactly as it does for an OCI archive on disk; only the layer
reads differ (:mod:`.layer`). A multi-platform index picks the host's platform, or the one
``--platform`` names.
"""

from __future__ import annotations

import json
import platform as platform_mod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..index import Context, Index, Watch
from ..ref import Ref
from ..streams import Progress
from ..types import ArchiveError, Limits, Member
from ..workspace import Workspace
from .reference import Reference, RegistryError, parse

if TYPE_CHECKING:  # pragma: no cover
    from .auth import Credentials

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64", "i686": "386"}
MAX_DEPTH = 4


@dataclass
class Options:
    """How to reach registries (the CLI's --tls-verify, --creds, --authfile, --platform)."""

    tls_verify: bool = True
    creds: str | None = None  # "USER[:PASSWORD]"
    authfile: str | None = None
    platform: str | None = None  # "linux/amd64[/variant]"
    timeout: float = 30.0
    retries: int = 3


_defaults = Options()


def configure(**changes: Any) -> Options:
    """Set the process-wide options every ``docker://`` open uses (the CLI calls this once)."""
    global _defaults
    _defaults = Options(**{**_defaults.__dict__, **changes})
    return _defaults


def options() -> Options:
    return _defaults


def host_platform() -> str:
    machine = platform_mod.machine()
    return f"linux/{_GOARCH.get(machine, machine.lower() or 'amd64')}"


def make_client(ref: Reference, opts: Options | None = None):
    """A client for ``ref``'s registry with the user's credentials (``--creds``, else the auth file)."""
    from .auth import lookup, parse_creds
    from .client import Client

    opts = opts or _defaults
    helper = ""
    creds: Credentials | None
    if opts.creds:
        creds = parse_creds(opts.creds)
    else:
        found = lookup(ref, opts.authfile)
        creds, helper = found.creds, found.helper
    return Client(ref.registry, ref.api_host, tls_verify=opts.tls_verify, creds=creds, helper=helper,
                  timeout=opts.timeout, retries=opts.retries)


def blob_store(limits: Limits, workspace: Workspace):
    """The opt-in user cache when it is on and usable, else a store in the temp workspace."""
    from ..cache import _bound
    from ..results import cache_dir, trusted_root
    from .blobstore import BlobStore

    base = cache_dir(limits.cache_dir)
    if base is not None:
        root = trusted_root(base, create=True)
        if root is not None:
            from pathlib import Path

            return BlobStore(Path(root), shared=True, max_bytes=_bound(limits.cache_max_bytes))
    return BlobStore(workspace.mkdir("blobs"), shared=False)


# -- resolving the image -------------------------------------------------------


@dataclass
class Resolved:
    """What the index/manifest/config walk found: the JSON documents by digest and the blobs."""

    top: dict  # descriptor of what the synthesized index.json points at
    index_annotations: dict[str, str]
    documents: dict[str, bytes]  # digest -> manifest/index/config bytes
    blobs: list[dict]  # descriptors of layer (and containerd) blobs, read lazily
    manifest: dict | None  # the chosen image manifest (None for a containerd checkpoint index)
    config: dict | None
    platform: str = ""


def _platform_of(desc: dict) -> str:
    p = desc.get("platform")
    if not isinstance(p, dict):
        return ""
    s = f"{p.get('os', '')}/{p.get('architecture', '')}"
    return s + (f"/{p['variant']}" if p.get("variant") else "")


def _matches(have: str, want: str) -> bool:
    h, w = have.split("/"), want.split("/")
    if h[:2] != w[:2]:
        return False
    return len(w) < 3 or (len(h) >= 3 and h[2] == w[2])


def _choose(index: dict, want: str | None, what: str) -> dict:
    """The manifest descriptor of a multi-platform index for the platform wanted."""
    from ..oci import INDEX_TYPES, MANIFEST_TYPES

    descs = [d for d in index.get("manifests") or [] if isinstance(d, dict)
             and (d.get("mediaType") in MANIFEST_TYPES or d.get("mediaType") in INDEX_TYPES)
             and _platform_of(d) != "unknown/unknown"]  # attestation manifests
    if not descs:
        raise RegistryError(f"{what}: the image index lists no image manifests")
    target = want or host_platform()
    matching = [d for d in descs if _matches(_platform_of(d), target)]
    if matching:
        return matching[0]
    if want is None and len(descs) == 1:
        return descs[0]  # one image only: inspecting it does not need this host to run it
    if want is None and not any(_platform_of(d) for d in descs):
        return descs[0]
    have = ", ".join(sorted({_platform_of(d) or "no platform" for d in descs}))
    raise RegistryError(f"{what}: no image for platform {target} (the index has {have}); choose one with --platform")


def resolve(client: Any, ref: Reference, want_platform: str | None = None) -> Resolved:
    from ..oci import JSON_CAP, _has_criu

    documents: dict[str, bytes] = {}
    top = client.manifest(ref)
    documents[top.digest] = top.data
    desc = {"mediaType": top.media_type, "digest": top.digest, "size": len(top.data)}
    index_ann: dict[str, str] = {}
    current = top
    chosen_platform = ""
    for _depth in range(MAX_DEPTH):
        if not current.is_index:
            break
        ann = current.doc.get("annotations")
        if isinstance(ann, dict):
            index_ann.update({str(k): str(v) for k, v in ann.items()})
        if _has_criu(current.doc):  # a containerd checkpoint: its descriptors are the blobs
            blobs = [d for d in current.doc.get("manifests") or [] if isinstance(d, dict)
                     and d.get("mediaType") not in (
                         "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                         "application/vnd.docker.distribution.manifest.v2+json",
                         "application/vnd.docker.distribution.manifest.list.v2+json")]
            return Resolved(desc, index_ann, documents, blobs, None, None, _platform_of(blobs[0]) if blobs else "")
        child = _choose(current.doc, want_platform, str(ref))
        chosen_platform = _platform_of(child)
        digest = str(child.get("digest", ""))
        current = client.manifest(ref, digest)
        documents[current.digest] = current.data
        raw_ann = child.get("annotations")
        cann = raw_ann if isinstance(raw_ann, dict) else {}
        desc = {"mediaType": current.media_type, "digest": current.digest, "size": len(current.data),
                "annotations": dict(cann)}
    else:
        raise RegistryError(f"{ref}: image indexes nested more than {MAX_DEPTH} deep")
    if current.is_index:
        raise RegistryError(f"{ref}: image indexes nested more than {MAX_DEPTH} deep")
    manifest = current.doc
    if _has_criu(manifest):  # a containerd checkpoint index served with a manifest media type
        blobs = [d for d in manifest.get("manifests") or [] if isinstance(d, dict)]
        return Resolved(desc, index_ann, documents, blobs, None, None, chosen_platform)
    config = None
    cdesc = manifest.get("config")
    if isinstance(cdesc, dict) and isinstance(cdesc.get("digest"), str):
        size = cdesc.get("size")
        if isinstance(size, int) and size > JSON_CAP:
            raise RegistryError(f"{ref}: the image config is {size:,} bytes, more than the {JSON_CAP:,} accepted")
        data = client.blob_json(ref, cdesc["digest"], JSON_CAP, "image config")
        documents[cdesc["digest"]] = data
        try:
            parsed = json.loads(data)
            config = parsed if isinstance(parsed, dict) else None
        except (ValueError, UnicodeDecodeError):
            config = None
    layers = [d for d in manifest.get("layers") or [] if isinstance(d, dict)]
    if not chosen_platform and isinstance(config, dict) and config.get("architecture"):
        chosen_platform = f"{config.get('os', 'linux')}/{config['architecture']}"
    return Resolved(desc, index_ann, documents, layers, manifest, config, chosen_platform)


def _blob_name(digest: str) -> str:
    alg, _, hexd = digest.partition(":")
    return f"blobs/{alg}/{hexd}"


def early_metadata(res: Resolved) -> dict[str, Any]:
    """The overview the index, manifest and config give, in the shape ``peek_metadata`` and
    ``on_metadata`` hand out (``model.metadata.info_from_peek`` reads it): the image's
    ``annotations`` (index, manifest and config labels), its kind, and a ``config`` whose only
    key is ``checkpointedTime``, the image config's ``created`` (``ckpt-tui build`` sets it to
    the checkpoint time, podman makes the image right after the checkpoint); the real
    config.dump replaces it once the layer streams past."""
    from ..oci import CHECKPOINT_ANNOTATION_PREFIXES

    ann = dict(res.index_annotations)
    if res.manifest is not None and isinstance(res.manifest.get("annotations"), dict):
        ann.update({str(k): str(v) for k, v in res.manifest["annotations"].items()})
    inner = (res.config or {}).get("config") if isinstance(res.config, dict) else None
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if isinstance(labels, dict):
        ann.update({str(k): str(v) for k, v in labels.items() if str(k).startswith(CHECKPOINT_ANNOTATION_PREFIXES)})
    created = res.config.get("created") if isinstance(res.config, dict) else None
    config = {"checkpointedTime": created} if isinstance(created, str) and created else {}
    kind = "containerd-image" if res.manifest is None else "registry"
    return {"config": config, "spec": None, "annotations": ann, "kind": kind}


# -- opening ----------------------------------------------------------------------


def open_remote(text: str, *, workspace: Workspace | None = None, limits: Limits | None = None,
                progress: Callable[[int, int, str], object] | None = None,
                on_metadata: Callable[[dict[str, Any]], object] | None = None,
                watch: Watch | None = None, opts: Options | None = None):
    from ..oci import convert_oci
    from ..source import _STRICT, Source
    from .blob import RemoteBlob

    ref = parse(text)
    opts = opts or _defaults
    limits = limits or Limits()
    owns = workspace is None
    ws = Workspace() if workspace is None else workspace
    client = store = None
    try:
        client = make_client(ref, opts)
        store = blob_store(limits, ws)
        res = resolve(client, ref, opts.platform)
        total = sum(int(d.get("size") or 0) for d in res.blobs)
        ctx = Context(str(ref), ws, limits, Progress(progress, total))
        ctx.on_metadata = on_metadata
        ctx.watch = watch
        ctx.kind = "registry"
        early = early_metadata(res)
        ctx.metadata.update(config=early["config"], annotations=early["annotations"])
        if on_metadata is not None:
            on_metadata({**early, "size": total})
        outer = Index(ctx)
        ref_name = f"{ref.registry}/{ref.repository}" + (f":{ref.tag}" if ref.tag else "") + (
            f"@{ref.digest}" if ref.digest else "")
        top = dict(res.top)
        top["annotations"] = {**top.get("annotations", {}), "org.opencontainers.image.ref.name": ref_name}
        index_doc = {"schemaVersion": 2, "manifests": [top], "annotations": res.index_annotations}
        _add_bytes(outer, "index.json", json.dumps(index_doc).encode())
        _add_bytes(outer, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for doc_digest, data in res.documents.items():
            _add_bytes(outer, _blob_name(doc_digest), data)
        notes: list[str] = []
        for desc in res.blobs:
            digest = desc.get("digest")
            if not isinstance(digest, str) or ":" not in digest or not isinstance(desc.get("size"), int):
                continue
            blob = RemoteBlob(client, ref, desc, store, note=notes.append)
            name = _blob_name(digest)
            outer.members[name] = Member(name, blob.size, "file", mode=0o644)
            outer.refs[name] = Ref(size=blob.size, remote=blob)
        conv = convert_oci(ctx, outer, "registry")
        for note in notes:
            ctx.problem("", note, "info")
        if res.platform:
            conv.annotations.setdefault("ckpt-tui.platform", res.platform)
        ctx.finish_problems()
        ctx.progress.update(total, "", force=True)
        src = Source(path=str(ref), kind="containerd-image" if conv.kind == "containerd-image" else "registry",
                     description=conv.description, index=conv.index, problems=ctx.problems,
                     annotations=conv.annotations, synthesized=conv.synthesized, workspace=ws,
                     owns_workspace=owns, scratch=None)
        src.remote = True
        src.stopped = ctx.stopped
        # closed first: the entries this source held are then the most recently used, and can be
        # evicted like any other when they alone exceed the bound
        src._on_close += [store.close, store.evict, client.close]
        return src
    except BaseException as exc:
        for closer in (store.close if store is not None else None, client.close if client is not None else None):
            if closer is not None:
                try:
                    closer()
                except Exception:  # noqa: BLE001
                    pass
        if owns:
            ws.cleanup()
        if isinstance(exc, ArchiveError) or not isinstance(exc, Exception):
            raise
        if _STRICT:
            raise
        if isinstance(exc, OSError):
            raise ArchiveError(f"cannot read {text}: {exc.strerror or exc}") from exc
        raise ArchiveError(f"cannot read {text}: {type(exc).__name__}: {exc}") from exc


def _add_bytes(ix: Index, name: str, data: bytes) -> None:
    """A member of the outer layout (added directly: ``on_metadata`` and the watch see only the
    checkpoint's own members)."""
    ix.members[name] = Member(name, len(data), "file", mode=0o644)
    ix.refs[name] = Ref(size=len(data), data=data)
