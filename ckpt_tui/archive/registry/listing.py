"""Which tags of a repository (or repositories of a registry) are checkpoint images.

From manifests and configs only, never a layer byte: for each tag its index and manifest, the
image config (or a containerd checkpoint's config blob), then the annotations decide. Rows have
the shape ``peek_metadata`` gives for a checkpoint on disk (``config``, ``spec``, ``annotations``,
``size``, ``kind``; ``model.metadata.info_from_peek`` makes the container record of it) plus the
``digest`` the tag names, the ``platform`` and the ``reference``; a tag that cannot be read gives
``{"error": message}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from .client import MANIFEST_CAP
from .reference import Reference, RegistryError, parse, parse_registry
from .source import Options, early_metadata, make_client, resolve


@dataclass
class Listing:
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tags that are ordinary images
    requests: int = 0
    bytes_read: int = 0


def _describe(client, ref: Reference, platform: str | None) -> dict[str, Any] | None:
    """The tag's overview (``early_metadata``), or None for an ordinary image."""
    from ..oci import MT_CONFIG, is_checkpoint_annotations

    res = resolve(client, ref, platform)
    meta = early_metadata(res)
    size = sum(int(d.get("size") or 0) for d in res.blobs if isinstance(d.get("size"), int))
    if res.manifest is None:  # a containerd checkpoint index: its config blob names the container
        from ..containerd import decode_config_blob, synthesize_config
        from ..oci import JSON_CAP

        cdesc = next((d for d in res.blobs if d.get("mediaType") == MT_CONFIG), None)
        if cdesc is not None and isinstance(cdesc.get("digest"), str):
            blob = client.blob_json(ref, cdesc["digest"], JSON_CAP, "checkpoint config")
            cfg = decode_config_blob(blob)
            meta["config"] = {**synthesize_config(cfg, meta["annotations"], ""), **meta["config"]}
            meta["spec"] = cfg.spec
    elif not is_checkpoint_annotations(meta["annotations"]):
        return None
    return {**meta, "size": size, "digest": res.top.get("digest", ""), "platform": res.platform}


def list_repository(text: str, opts: Options | None = None, *, limit: int = 10_000, client=None) -> Listing:
    """The checkpoint images among the tags of ``docker://HOST/REPO`` (a tag given: only that one)."""
    ref = parse(text, allow_bare=True)
    own = client is None
    client = client or make_client(ref, opts)
    out = Listing()
    try:
        names = [ref.reference] if (ref.tag or ref.digest) else tags(client, ref, limit)
        for tag in names[:limit]:
            tref = ref.with_digest(tag) if ":" in tag else ref.with_tag(tag)
            try:
                meta = _describe(client, tref, (opts or Options()).platform)
            except RegistryError as exc:
                out.rows.append((str(tref), {"error": str(exc)}))
                continue
            if meta is None:
                out.skipped.append(str(tref))
                continue
            out.rows.append((str(tref), {**meta, "reference": str(tref)}))
        out.requests, out.bytes_read = client.stats.requests, client.stats.body_bytes
        return out
    finally:
        if own:
            client.close()


def list_catalog(text: str, opts: Options | None = None, *, limit: int = 10_000) -> Listing:
    """Every repository of the registry ``docker://HOST[:PORT]`` (the ``_catalog`` API), listed
    as :func:`list_repository` lists one."""
    host = parse_registry(text)
    probe = Reference(host, "catalog")
    client = make_client(probe, opts)
    out = Listing()
    try:
        repos = catalog(client, limit)
        for repo in repos:
            try:
                got = list_repository(f"docker://{host}/{repo}", opts, limit=limit, client=client)
            except RegistryError as exc:
                out.rows.append((f"docker://{host}/{repo}", {"error": str(exc)}))
                continue
            out.rows.extend(got.rows)
            out.skipped.extend(got.skipped)
        out.requests, out.bytes_read = client.stats.requests, client.stats.body_bytes
        return out
    finally:
        client.close()


# -- tags and catalog (Link pagination) ----------------------------------------------


def _paged(client, path: str, key: str, scope: str, what: str, limit: int) -> list[str]:
    out: list[str] = []
    url = path
    for _page in range(1000):
        resp = client.request("GET", url, scope=scope, what=what)
        if resp.status != 200:
            raise client.fail(resp, what)
        body = client.read_body(resp, MANIFEST_CAP, what)
        try:
            doc = json.loads(body)
            items = doc.get(key) or []
        except (ValueError, UnicodeDecodeError, AttributeError):
            raise RegistryError(f"{client.registry}: {what}: the answer is not JSON") from None
        out.extend(str(x) for x in items if isinstance(x, str))
        link = resp.headers.get("Link", "")
        if not link or 'rel="next"' not in link or len(out) >= limit:
            break
        nxt = link.split(";", 1)[0].strip().strip("<>")
        url = urljoin(client.base_url() + url if url.startswith("/") else url, nxt)
    return out[:limit]


def tags(client, ref: Reference, limit: int = 100_000) -> list[str]:
    return _paged(client, f"/v2/{ref.repository}/tags/list?n=1000", "tags", f"repository:{ref.repository}:pull",
                       f"listing the tags of docker://{ref.registry}/{ref.repository}", limit)


def catalog(client, limit: int = 100_000) -> list[str]:
    return _paged(client, "/v2/_catalog?n=1000", "repositories", "registry:catalog:*",
                       f"listing the repositories of {client.registry}", limit)
