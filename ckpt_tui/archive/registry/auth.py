"""Registry credentials: ``--creds``, auth files, and the ``WWW-Authenticate`` challenge.

Auth files are containers-auth.json (``{"auths": {"HOST[/REPO...]": {"auth": base64(user:pass)}}}``,
the format podman, skopeo and docker share). Without ``--authfile`` the first of these that
exists is read: ``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
``~/.config/containers/auth.json``, ``~/.docker/config.json``. Within a file the most specific
key wins (``host/ns/repo`` before ``host/ns`` before ``host``). Credential helpers
(``credHelpers``/``credsStore``) are not run: such an entry is named in the error a 401 gives.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from .reference import DOCKER_HUB, Reference, RegistryError

AUTHFILE_CAP = 4 << 20


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    origin: str = ""  # "--creds" or the auth file they came from

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_creds(text: str) -> Credentials:
    """``USER[:PASS]`` (skopeo's ``--creds``)."""
    user, sep, password = text.partition(":")
    if not user:
        raise RegistryError("--creds: the user name is empty (expected USER[:PASSWORD])")
    return Credentials(user, password if sep else "", "--creds")


def default_authfiles() -> list[Path]:
    env = os.environ
    out: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        out.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        out.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    home = Path(os.path.expanduser("~"))
    out.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "containers" / "auth.json")
    out.append(Path(env.get("DOCKER_CONFIG") or home / ".docker") / "config.json")
    return out


def _normalise_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://host:5000/`` -> ``host:5000``."""
    k = re.sub(r"^[a-z]+://", "", key.strip()).rstrip("/")
    if k.endswith("/v1") or k.endswith("/v2"):
        k = k[:-3]
    host, _, rest = k.partition("/")
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = DOCKER_HUB
    return f"{host}/{rest}" if rest else host


def _read_authfile(path: Path) -> dict:
    try:
        st = path.stat()
        if st.st_size > AUTHFILE_CAP:
            raise RegistryError(f"auth file {path} is too large ({st.st_size} bytes)")
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RegistryError(f"cannot read auth file {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"auth file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"auth file {path} is not a JSON object")
    return doc


@dataclass
class Lookup:
    creds: Credentials | None
    file: Path | None = None  # the auth file that was read
    helper: str = ""  # a credential helper the file names for this registry (not run)


def lookup(ref: Reference, authfile: str | os.PathLike[str] | None = None) -> Lookup:
    """Credentials for ``ref`` from the auth file (``authfile``, or the first default that exists)."""
    if authfile is not None:
        candidates = [Path(os.path.expanduser(os.fspath(authfile)))]
    else:
        candidates = default_authfiles()
    for path in candidates:
        try:
            doc = _read_authfile(path)
        except FileNotFoundError:
            if authfile is not None:
                raise RegistryError(f"--authfile {path}: no such file") from None
            continue
        return _from_doc(doc, path, ref)
    return Lookup(None)


def _from_doc(doc: dict, path: Path, ref: Reference) -> Lookup:
    raw = doc.get("auths")
    auths = raw if isinstance(raw, dict) else {}
    table = {_normalise_key(k): v for k, v in auths.items() if isinstance(v, dict)}
    parts = ref.repository.split("/")
    keys = [f"{ref.registry}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)] + [ref.registry]
    for key in keys:
        entry = table.get(key)
        if entry is None:
            continue
        creds = _entry_creds(entry, path, key)
        if creds is not None:
            return Lookup(creds, path)
    raw = doc.get("credHelpers")
    helpers = raw if isinstance(raw, dict) else {}
    helper = helpers.get(ref.registry) or doc.get("credsStore") or ""
    return Lookup(None, path, helper if isinstance(helper, str) else "")


def _entry_creds(entry: dict, path: Path, key: str) -> Credentials | None:
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            raw = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise RegistryError(f"auth file {path}: the entry for {key} is not base64 of USER:PASSWORD") from None
        user, sep, password = raw.partition(":")
        if not sep or not user:
            raise RegistryError(f"auth file {path}: the entry for {key} is not base64 of USER:PASSWORD")
        return Credentials(user, password, str(path))
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and name and isinstance(secret, str):
        return Credentials(name, secret, str(path))
    return None


# -- challenges ---------------------------------------------------------------

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass
class Challenge:
    scheme: str  # "bearer" | "basic" | other, lower case
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """``Bearer realm="https://auth/token",service="reg",scope="repository:x:pull"`` -> challenges."""
    out: list[Challenge] = []
    text = header or ""
    pos = 0
    while pos < len(text):
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)").match(text, pos)
        if not m or m.end() == pos:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while True:
            pm = _PARAM.match(text, pos)
            if not pm:
                break
            # a new scheme starts where a word is not followed by "="
            params[pm.group(1).lower()] = pm.group(2).replace('\\"', '"') if pm.group(2) is not None else pm.group(3)
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


class Auth:
    """What the registry asked for and what we have: the Authorization header for a request's
    scope, and acting on a 401's challenge (Bearer: a token from the realm, with the user's
    credentials when there are any; Basic: the credentials)."""

    def __init__(self, registry: str, creds: Credentials | None, helper: str = "") -> None:
        self.registry = registry
        self.creds = creds
        self.helper = helper  # a credential helper the auth file names (not run), for the message
        self.challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expires at)

    def header(self, scope: str) -> str | None:
        ch = self.challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self.creds.basic() if self.creds else None
        tok = self._tokens.get(scope)
        if tok and tok[1] > time.monotonic():
            return f"Bearer {tok[0]}"
        return None

    def challenged(self, challenges: list[Challenge], scope: str, had: bool,
                   get: Callable[[str, dict[str, str]], tuple[int, bytes]]) -> bool:
        """Act on a 401's challenges; True when the request is worth sending again. ``get(url,
        headers)`` fetches a token: (status, body)."""
        for ch in challenges:
            if ch.scheme == "bearer" and ch.params.get("realm"):
                self.challenge = ch
                self._tokens.pop(scope, None)
                self._fetch_token(ch, scope, get)
                return True
        for ch in challenges:
            if ch.scheme == "basic":
                first = self.challenge is None or self.challenge.scheme != "basic"
                self.challenge = ch
                return self.creds is not None and (first or not had)
        return False

    def denied(self, what: str) -> RegistryError:
        if self.creds is None:
            hint = "give --creds USER:PASSWORD or an --authfile"
            if self.helper:
                hint += f" (the auth file names the credential helper {self.helper!r}, which ckpt-tui does not run)"
            return RegistryError(f"{self.registry}: authentication required for {what}: {hint}")
        return RegistryError(f"{self.registry}: the credentials of {self.creds.origin or 'the user'} were refused "
                             f"for {what} (HTTP 401)")

    def _fetch_token(self, ch: Challenge, scope: str, get: Callable[[str, dict[str, str]], tuple[int, bytes]]) -> None:
        params: list[tuple[str, str]] = []
        if ch.params.get("service"):
            params.append(("service", ch.params["service"]))
        params += [("scope", s) for s in scope.split(" ") if s]
        realm = ch.params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(params)
        if not url.startswith(("http://", "https://")):
            raise RegistryError(f"{self.registry}: the token realm {realm!r} is not an http(s) URL")
        status, body = get(url, {"Authorization": self.creds.basic()} if self.creds is not None else {})
        if status in (401, 403):
            who = f"the credentials of {self.creds.origin}" if self.creds else "anonymous access"
            hint = "" if self.creds else ": give --creds USER:PASSWORD or an --authfile"
            raise RegistryError(f"{self.registry}: the token service refused {who} for {scope} (HTTP {status}){hint}")
        if status != 200:
            raise RegistryError(f"{self.registry}: the token service answered HTTP {status}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            expires = float(doc.get("expires_in") or 60)
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
            raise RegistryError(f"{self.registry}: the token service's answer is not JSON with a token") from None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.registry}: the token service's answer has no token")
        self._tokens[scope] = (token, time.monotonic() + max(1.0, expires - 5))
