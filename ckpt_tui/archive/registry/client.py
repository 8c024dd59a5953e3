"""A small client for the OCI distribution API, on urllib3.

It speaks what reading, listing and pushing checkpoint images need: manifests (by tag or
digest, checked against their digest), blobs whole or by HTTP Range, tag lists and the
catalog (:mod:`.listing`), blob upload, cross-repository mount and manifest push (:mod:`.push`).

Auth follows the registry's ``WWW-Authenticate`` challenge (:class:`~.auth.Auth`): Bearer (a
token from the realm, fetched with the user's credentials when there are any, renewed once when
a request gets a 401 after it expired) or Basic. Redirects are followed by hand so that the Authorization
header is never sent to another host (blob downloads are often redirected to object storage).
Connection errors, 429 and 5xx answers are retried a bounded number of times. Bodies are
bounded: a manifest or an error body larger than its cap is refused.

urllib3 is imported only here, so only a ``docker://`` source pays for it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, ProtocolError, SSLError

from ... import __version__
from .auth import Auth, Credentials, parse_challenges
from .reference import Reference, RegistryError

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST)
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
MANIFEST_CAP = 4 << 20  # what containers/image accepts as well
ERROR_BODY_CAP = 64 << 10
RANGE_CAP = 64 << 20  # one ranged GET brings at most this much

_REDIRECTS = (301, 302, 303, 307, 308)
_RETRY = (429, 500, 502, 503, 504)


@dataclass
class Stats:
    requests: int = 0
    body_bytes: int = 0  # response bytes read (bodies), for the benchmark and tests
    uploaded: int = 0
    paths: list[str] = field(default_factory=list)  # "GET /v2/..." of each request, in order


class NoRanges(Exception):
    """The server answered a ranged GET with the whole blob (200): it ignores Range."""


class RangeRefused(Exception):
    """The server answered a ranged GET with 416."""


@dataclass
class Manifest:
    media_type: str
    data: bytes
    digest: str
    doc: dict

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _registry_errors(body: bytes) -> str:
    """The ``errors`` of a registry's JSON error body, as one line."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    errs = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errs, list):
        return ""
    parts = []
    for e in errs[:4]:
        if isinstance(e, dict):
            code, msg = str(e.get("code", "")), str(e.get("message", ""))
            parts.append(f"{code}: {msg}" if code and msg else code or msg)
    return "; ".join(p for p in parts if p)


class Client:
    """One registry host. Not thread-safe for token renewal; one per opened source is usual."""

    def __init__(self, registry: str, api_host: str | None = None, *, tls_verify: bool = True,
                 creds: Credentials | None = None, helper: str = "", timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.2) -> None:
        self.registry = registry
        self.host = api_host or registry
        self.tls_verify = tls_verify
        self.retries = retries
        self.backoff = backoff
        self.stats = Stats()
        # tls_verify=False: https without certificate checks first, plain http when TLS fails
        self._scheme: str | None = "https" if tls_verify else None
        kw: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if tls_verify else "CERT_NONE"}
        if not tls_verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False,
                                         timeout=urllib3.Timeout(connect=min(10.0, timeout), read=timeout), **kw)
        self.auth = Auth(registry, creds, helper)
        self._ua = f"ckpt-tui/{__version__}"

    def close(self) -> None:
        self._pool.clear()

    # -- plumbing --------------------------------------------------------------
    def base_url(self) -> str:
        return f"{self._scheme or 'https'}://{self.host}"

    def _send(self, method: str, url: str, headers: dict[str, str], body: Any, want_body: bool = True):
        """One request and its redirects; the Authorization header stays on our host."""
        ours = urlsplit(url).netloc
        for _hop in range(6):
            self.stats.requests += 1
            if len(self.stats.paths) < 10_000:  # for tests and the benchmark; bounded in a long session
                self.stats.paths.append(f"{method} {urlsplit(url).path}")
            resp = self._pool.request(method, url, headers=headers, body=body, redirect=False,
                                      preload_content=False, decode_content=False)
            loc = resp.headers.get("Location")
            if resp.status not in _REDIRECTS or not loc:
                return resp
            resp.drain_conn()
            resp.release_conn()
            url = urljoin(url, loc)
            if urlsplit(url).netloc != ours:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if resp.status == 303:
                method, body = "GET", None
        raise RegistryError(f"{self.registry}: too many redirects (last to {url})")

    def request(self, method: str, path: str, *, scope: str, headers: dict[str, str] | None = None,
                body: Any = None, replayable: bool = True, what: str = ""):
        """A request to the registry with auth, retries and redirects; the response (streaming)."""
        hdrs = {"User-Agent": self._ua, **(headers or {})}
        authed = 0
        attempt = 0
        while True:
            auth = self.auth.header(scope)
            h = dict(hdrs)
            if auth:
                h["Authorization"] = auth
            url = path if path.startswith(("http://", "https://")) else self.base_url() + path
            try:
                resp = self._send(method, url, h, body)
            except SSLError as exc:
                if self._scheme is None:  # --tls-verify=false: the registry may speak plain HTTP
                    self._scheme = "http"
                    continue
                raise RegistryError(f"TLS with {self.host} failed: {_reason(exc)} (a self-signed or plain-HTTP "
                                    f"registry needs --tls-verify=false)") from None
            except (HTTPError, OSError) as exc:
                if self._scheme is None and isinstance(exc, ProtocolError):
                    self._scheme = "http"
                    continue
                if attempt < self.retries and replayable:
                    attempt += 1
                    time.sleep(self.backoff * attempt)
                    continue
                raise RegistryError(f"cannot reach the registry {self.host}: {_reason(exc)}") from None
            if self._scheme is None:
                self._scheme = urlsplit(url).scheme
            if resp.status in _RETRY and attempt < self.retries and replayable:
                attempt += 1
                wait = self.backoff * attempt
                ra = resp.headers.get("Retry-After", "")
                if ra.isdigit():
                    wait = min(float(ra), 5.0)
                resp.drain_conn()
                resp.release_conn()
                time.sleep(wait)
                continue
            if resp.status == 401 and authed < 2 and replayable:
                challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                resp.drain_conn()
                resp.release_conn()
                had = auth is not None
                if self.auth.challenged(challenges, scope, had, self._get_token):
                    authed += 1
                    continue
                raise self.auth.denied(what or path)
            return resp

    def _get_token(self, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """GET a token from the realm (for :class:`~.auth.Auth`): (status, body)."""
        try:
            resp = self._send("GET", url, {"User-Agent": self._ua, **headers}, None)
        except (HTTPError, OSError) as exc:
            raise RegistryError(f"cannot reach the token service {urlsplit(url).netloc}: {_reason(exc)}") from None
        return resp.status, self.read_body(resp, ERROR_BODY_CAP, "token answer")

    def read_body(self, resp, cap: int, what: str) -> bytes:
        """The whole body, refused past ``cap`` bytes (the connection is then dropped)."""
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            resp.release_conn()
            raise RegistryError(f"{self.registry}: the {what} is {int(length):,} bytes, more than the "
                                f"{cap:,} accepted")
        parts: list[bytes] = []
        got = 0
        try:
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    break
                got += len(chunk)
                self.stats.body_bytes += len(chunk)
                if got > cap:
                    resp.close()
                    raise RegistryError(f"{self.registry}: the {what} is more than the {cap:,} bytes accepted")
                parts.append(chunk)
        except (HTTPError, OSError) as exc:
            raise RegistryError(f"{self.registry}: reading the {what} failed: {_reason(exc)}") from None
        finally:
            resp.release_conn()
        return b"".join(parts)

    def fail(self, resp, what: str) -> RegistryError:
        body = self.read_body(resp, ERROR_BODY_CAP, "error answer") if resp.status != 416 else b""
        detail = _registry_errors(body)
        return RegistryError(f"{self.registry}: {what}: HTTP {resp.status}{' (' + detail + ')' if detail else ''}")

    # -- manifests ---------------------------------------------------------------
    def manifest(self, ref: Reference, reference: str | None = None) -> Manifest:
        """The manifest or index ``reference`` (a tag or digest; default ``ref``'s) names."""
        which = reference or ref.reference
        what = f"docker://{ref.registry}/{ref.repository}{'@' if ':' in which else ':'}{which}"
        resp = self.request("GET", f"/v2/{ref.repository}/manifests/{quote(which, safe=':')}",
                            scope=f"repository:{ref.repository}:pull", what=what,
                            headers={"Accept": ", ".join(MANIFEST_TYPES)})
        if resp.status == 404:
            err = self.fail(resp, f"no image {what}")
            raise RegistryError(str(err).replace(": HTTP 404", ""))
        if resp.status != 200:
            raise self.fail(resp, f"reading the manifest of {what}")
        data = self.read_body(resp, MANIFEST_CAP, f"manifest of {what}")
        mt = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict):
            raise RegistryError(f"{what}: the registry's answer is not a JSON manifest (Content-Type {mt or 'none'})")
        body_mt = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else ""
        if mt in ("", "application/json", "application/octet-stream") and body_mt:
            mt = body_mt
        if mt not in MANIFEST_TYPES:
            if "v1+prettyjws" in mt or "manifest.v1+json" in mt or doc.get("schemaVersion") == 1:
                raise RegistryError(f"{what}: an old Docker schema 1 manifest ({mt or 'no type'}); "
                                    "checkpoint images are OCI or Docker schema 2")
            raise RegistryError(f"{what}: the registry answered with {mt or 'no media type'}, "
                                "not an image manifest or index")
        if body_mt and body_mt != mt:
            raise RegistryError(f"{what}: the manifest says it is {body_mt} but was served as {mt}")
        digest = sha256_digest(data)
        if ":" in which and which != digest:
            raise RegistryError(f"{what}: the manifest's bytes hash to {digest}, not the digest asked for; "
                                "nothing of it is used")
        served = resp.headers.get("Docker-Content-Digest", "")
        if served.startswith("sha256:") and served != digest:
            raise RegistryError(f"{what}: the manifest's bytes hash to {digest} but the registry says {served}; "
                                "nothing of it is used")
        return Manifest(mt, data, digest, doc)

    # -- blobs -----------------------------------------------------------------------
    def blob_json(self, ref: Reference, digest: str, cap: int, what: str) -> bytes:
        """A small blob (a config) whole, checked against its digest."""
        resp = self.blob(ref, digest, what=what)
        data = self.read_body(resp, cap, what)
        if sha256_digest(data) != digest and digest.startswith("sha256:"):
            raise RegistryError(f"{what} {digest}: the registry sent bytes that hash to {sha256_digest(data)}; "
                                "nothing of it is used")
        return data

    def blob(self, ref: Reference, digest: str, *, start: int = 0, end: int | None = None, what: str = "blob"):
        """A streaming response with the blob (``start``/``end``: a Range). 200 or 206 only."""
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        resp = self.request("GET", f"/v2/{ref.repository}/blobs/{digest}", scope=f"repository:{ref.repository}:pull",
                            headers=headers, what=f"{what} {digest}")
        if resp.status == 416:
            resp.drain_conn()
            resp.release_conn()
            raise RangeRefused(f"{self.registry}: {what} {digest}: the registry refused the byte range "
                               f"{start}-{'' if end is None else end - 1} (HTTP 416)")
        if resp.status not in (200, 206):
            what_ = "no such blob" if resp.status == 404 else "reading"
            raise self.fail(resp, f"{what_} {what} {digest}")
        return resp

    def blob_range(self, ref: Reference, digest: str, start: int, end: int, total: int) -> bytes:
        """Bytes [start, end) of a blob of ``total`` bytes. NoRanges when the server sends it all."""
        resp = self.blob(ref, digest, start=start, end=end, what="layer")
        if resp.status == 200:
            if start == 0 and end >= total:
                return self._read_exact(resp, total, digest, start)
            resp.release_conn()
            raise NoRanges(digest)
        cr = resp.headers.get("Content-Range", "")
        want = f"bytes {start}-{end - 1}/"
        if not cr.startswith(want) or cr[len(want):] not in (str(total), "*"):
            resp.release_conn()
            raise RegistryError(f"{self.registry}: layer {digest}: asked for bytes {start}-{end - 1} of {total}, "
                                f"the registry sent {cr or 'no Content-Range'}")
        return self._read_exact(resp, end - start, digest, start)

    def _read_exact(self, resp, n: int, digest: str, start: int) -> bytes:
        buf = bytearray()
        try:
            while len(buf) < n:
                chunk = resp.read(min(1 << 20, n - len(buf)))
                if not chunk:
                    break
                buf += chunk
                self.stats.body_bytes += len(chunk)
        except (HTTPError, OSError) as exc:
            raise RegistryError(f"{self.registry}: layer {digest}: the download broke off after "
                                f"{start + len(buf):,} bytes: {_reason(exc)}") from None
        finally:
            resp.release_conn()
        if len(buf) != n:
            raise RegistryError(f"{self.registry}: layer {digest}: the registry sent {len(buf):,} of the "
                                f"{n:,} bytes asked for (truncated); nothing of them is used")
        return bytes(buf)

    def iter_blob(self, resp, what: str, digest: str) -> Generator[bytes, None, None]:
        """The body of ``blob()``'s response in chunks (errors as RegistryError)."""
        got = 0
        try:
            while True:
                chunk = resp.read(1 << 18)
                if not chunk:
                    return
                got += len(chunk)
                self.stats.body_bytes += len(chunk)
                yield chunk
        except (HTTPError, OSError) as exc:
            raise RegistryError(f"{self.registry}: {what} {digest}: the download broke off after "
                                f"{got:,} bytes: {_reason(exc)}") from None
        finally:
            resp.release_conn()

def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason or exc)
    # urllib3 wraps the interesting part in a long repr
    for marker in ("Failed to establish a new connection: ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)?", "", text)
    return text.strip("')\"( ") or type(exc).__name__
