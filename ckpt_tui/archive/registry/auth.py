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
from dataclasses import dataclass
from pathlib import Path

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
    auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else {}
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
    helpers = doc.get("credHelpers") if isinstance(doc.get("credHelpers"), dict) else {}
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
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and user and isinstance(password, str):
        return Credentials(user, password, str(path))
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
