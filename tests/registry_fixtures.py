"""Registries for the tests: the real CNCF distribution registry, and an in-process fake.

``registry`` / ``registry_auth`` (session fixtures, in tests/conftest.py: :func:`start_registry`) start Debian's ``docker-registry serve`` on
127.0.0.1 with a free port and storage in a temp dir -- without auth, and with htpasswd basic
auth (user ``alice``, password ``s3cret``, hashed with apache2-utils' ``htpasswd -B``). They skip
with a reason when the binaries are missing (``.ci/run`` installs them).

:class:`FakeRegistry` serves what the real registry cannot be made to do (a Bearer challenge and
token expiry, no Range support, 416, 5xx, truncated or wrong blobs, redirects to another host,
wrong media types, huge manifests): a small ``http.server`` in a thread whose behaviour each
test sets. It holds real images: :func:`layout_blobs` reads an OCI layout made by the project's
own writer (``ckpt-tui build``) or a real fixture's OCI archive.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

USER, PASSWORD = "alice", "s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RealRegistry:
    host: str  # "127.0.0.1:PORT"
    root: Path
    proc: subprocess.Popen
    auth: bool = False

    def url(self, repo: str) -> str:
        return f"docker://{self.host}/{repo}"

    def skopeo_creds(self) -> list[str]:
        return ["--creds", f"{USER}:{PASSWORD}"] if self.auth else []


def start_registry(tmp: Path, auth: bool) -> RealRegistry:
    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.skip("docker-registry (Debian package docker-registry) is not installed")
    port = free_port()
    conf = [
        "version: 0.1",
        "log: {level: error}",
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'data'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: 127.0.0.1:{port}, secret: ckpt-tui-tests}}",
    ]
    if auth:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            pytest.skip("htpasswd (Debian package apache2-utils) is not installed")
        line = subprocess.run([htpasswd, "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True).stdout
        (tmp / "htpasswd").write_text(line)
        conf.append(f"auth: {{htpasswd: {{realm: ckpt-tui-tests, path: {tmp / 'htpasswd'}}}}}")
    (tmp / "config.yml").write_text("\n".join(conf) + "\n")
    with open(tmp / "registry.log", "wb") as log:  # the registry writes to its own copy
        proc = subprocess.Popen([exe, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(tmp / 'registry.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("docker-registry did not start listening")
    return RealRegistry(f"127.0.0.1:{port}", tmp, proc, auth)


def stop_registry(reg: RealRegistry) -> None:
    reg.proc.terminate()
    try:
        reg.proc.wait(10)
    except subprocess.TimeoutExpired:
        reg.proc.kill()


def skopeo(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo is not installed")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


# -- the fake -------------------------------------------------------------------------


def layout_blobs(path: Path) -> tuple[dict, dict[str, bytes]]:
    """(index.json, {digest: bytes}) of an OCI layout directory or OCI archive tar."""
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        index = json.loads((path / "index.json").read_bytes())
        for f in (path / "blobs" / "sha256").iterdir():
            blobs["sha256:" + f.name] = f.read_bytes()
        return index, blobs
    index = {}
    with tarfile.open(path) as tf:
        for m in tf:
            if not m.isfile():
                continue
            name = m.name.lstrip("./")
            data = tf.extractfile(m).read()
            if name == "index.json":
                index = json.loads(data)
            elif name.startswith("blobs/sha256/"):
                blobs["sha256:" + name.rsplit("/", 1)[1]] = data
    return index, blobs


@dataclass
class Behaviour:
    bearer: bool = False  # answer 401 with a Bearer challenge; tokens from /token
    basic: tuple[str, str] | None = None  # require these basic credentials
    token_ttl: float = 300.0  # seconds a token is valid (expires_in says the same)
    token_lies: bool = False  # expires_in claims 300 s while the token dies after token_ttl
    no_ranges: bool = False  # ignore Range: answer 200 with the whole blob
    refuse_ranges: bool = False  # answer every Range with 416
    fail_first: int = 0  # answer this many requests with 503 first
    fail_status: int = 503
    truncate: dict[str, int] = field(default_factory=dict)  # digest -> bytes sent before hanging up
    corrupt: dict[str, int] = field(default_factory=dict)  # digest -> offset of a byte served flipped
    redirect_blobs_to: str = ""  # "http://localhost:PORT": blob GETs redirect there
    manifest_type: str = ""  # serve manifests with this Content-Type instead
    huge_manifest: int = 0  # serve a manifest this long
    no_digest_header: bool = False


class FakeRegistry:
    """A distribution API serving ``repos`` (repo -> {tag or digest: (media type, bytes)}) and
    ``blobs`` (digest -> bytes). ``log`` records (method, path, headers) of every request."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.blobs: dict[str, bytes] = {}
        self.b = Behaviour()
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.tokens: dict[str, float] = {}
        self.token_requests: list[dict[str, str]] = []
        self._served = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_a):  # quiet
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_HEAD(self):
                fake._handle(self, "HEAD")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, repo: str, tag: str = "latest") -> str:
        return f"docker://{self.host}/{repo}:{tag}"

    # -- content -------------------------------------------------------------------
    def add_layout(self, repo: str, tag: str, path: Path) -> str:
        """Serve an OCI layout / archive under ``repo:tag``; returns the digest the tag names."""
        index, blobs = layout_blobs(path)
        self.blobs.update(blobs)
        manifests = self.repos.setdefault(repo, {})
        for digest, data in blobs.items():
            try:
                doc = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and ("manifests" in doc or "layers" in doc):
                mt = doc.get("mediaType") or ("application/vnd.oci.image.index.v1+json" if "manifests" in doc
                                              else "application/vnd.oci.image.manifest.v1+json")
                manifests[digest] = (mt, data)
        # the tag names the layout's index.json, as `ckpt-tui build docker://...` pushes it
        data = json.dumps(index).encode()
        return self.add_manifest(repo, tag, "application/vnd.oci.image.index.v1+json", data)

    def add_manifest(self, repo: str, tag: str, media_type: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        m = self.repos.setdefault(repo, {})
        m[tag] = m[digest] = (media_type, data)
        return digest

    # -- serving ---------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        self.log.append((method, h.path, headers))
        b = self.b
        path = h.path.split("?", 1)[0]
        if path == "/token":
            return self._token(h)
        if self._served < b.fail_first:
            self._served += 1
            return self._send(h, b.fail_status, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
        if not self._authorised(h, headers):
            return
        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "v2":
            return self._send(h, 404, b"{}")
        kind, ref = parts[-2], parts[-1]
        repo = "/".join(parts[2:-2])
        if kind == "manifests":
            return self._manifest(h, method, repo, ref)
        if kind == "blobs":
            return self._blob(h, method, ref, headers)
        if parts[-1] == "list" and parts[-2] == "tags":
            tags = sorted(t for t in self.repos.get("/".join(parts[2:-2]), {}) if ":" not in t)
            return self._send(h, 200, json.dumps({"name": repo, "tags": tags}).encode())
        return self._send(h, 404, b"{}")

    def _send(self, h, status: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False,
              length: int | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        if not head:
            try:
                h.wfile.write(body)
                h.wfile.flush()
            except OSError:
                pass
        if length is not None and length != len(body):
            h.close_connection = True

    def _authorised(self, h, headers: dict[str, str]) -> bool:
        b = self.b
        auth = headers.get("authorization", "")
        if b.bearer:
            tok = auth[7:] if auth.startswith("Bearer ") else ""
            if tok in self.tokens and self.tokens[tok] > time.monotonic():
                return True
            realm = f"http://{self.host}/token"
            self._send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}',
                       {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:x:pull"'})
            return False
        if b.basic is not None:
            want = "Basic " + base64.b64encode(f"{b.basic[0]}:{b.basic[1]}".encode()).decode()
            if auth == want:
                return True
            self._send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        return True

    def _token(self, h) -> None:
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        q["authorization"] = h.headers.get("Authorization", "")
        self.token_requests.append(q)
        tok = f"tok-{len(self.token_requests)}"
        self.tokens[tok] = time.monotonic() + self.b.token_ttl
        ttl = 300 if self.b.token_lies else self.b.token_ttl
        self._send(h, 200, json.dumps({"token": tok, "expires_in": ttl}).encode(),
                   {"Content-Type": "application/json"})

    def _manifest(self, h, method: str, repo: str, ref: str) -> None:
        got = self.repos.get(repo, {}).get(ref)
        if got is None:
            return self._send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
        mt, data = got
        if self.b.huge_manifest:
            data = b'{"schemaVersion":2,"x":"' + b"a" * self.b.huge_manifest + b'"}'
        hdrs = {"Content-Type": self.b.manifest_type or mt}
        if not self.b.no_digest_header:
            hdrs["Docker-Content-Digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
        self._send(h, 200, data, hdrs, head=method == "HEAD")

    def _blob(self, h, method: str, digest: str, headers: dict[str, str]) -> None:
        b = self.b
        data = self.blobs.get(digest)
        if data is None:
            return self._send(h, 404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
        if b.redirect_blobs_to and "x-redirected" not in h.path:
            loc = f"{b.redirect_blobs_to}{h.path}{'&' if '?' in h.path else '?'}x-redirected=1"
            return self._send(h, 307, b"", {"Location": loc})
        if digest in b.corrupt:
            at = b.corrupt[digest] % len(data)
            data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
        rng = headers.get("range", "")
        if rng and not b.no_ranges:
            if b.refuse_ranges:
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
            lo, _, hi = rng.removeprefix("bytes=").partition("-")
            start, end = int(lo), (int(hi) + 1 if hi else len(data))
            if start >= len(data):
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
            end = min(end, len(data))
            body = data[start:end]
            cut = b.truncate.get(digest)
            length = len(body)
            if cut is not None and cut < len(body):
                body = body[:cut]
            return self._send(h, 206, body, {"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"},
                              head=method == "HEAD", length=length)
        body = data
        cut = b.truncate.get(digest)
        if cut is not None:
            body = data[:cut]
        self._send(h, 200, body, {"Content-Type": "application/octet-stream"}, head=method == "HEAD",
                   length=len(data))


def env_without_auth(tmp_path: Path) -> dict[str, str]:
    """Settings under which no auth file of the machine is found."""
    return {"XDG_RUNTIME_DIR": str(tmp_path / "run"), "HOME": str(tmp_path / "home"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "DOCKER_CONFIG": str(tmp_path / "docker"),
            "REGISTRY_AUTH_FILE": ""}


def no_auth_files(monkeypatch, tmp_path: Path) -> None:
    for k, v in env_without_auth(tmp_path).items():
        if v:
            monkeypatch.setenv(k, v)
        else:
            monkeypatch.delenv(k, raising=False)


__all__ = [
    "PASSWORD",
    "USER",
    "FakeRegistry",
    "RealRegistry",
    "env_without_auth",
    "free_port",
    "layout_blobs",
    "no_auth_files",
    "skopeo",
    "start_registry",
    "stop_registry",
]
