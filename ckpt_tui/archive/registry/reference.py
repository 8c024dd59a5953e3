"""``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`` references, spelled the way skopeo and podman do.

Only the standard library: the CLI tells a registry reference from a path before it imports
anything else. ``docker://web-ckpt`` (no registry host) means Docker Hub, as it does for skopeo:
``docker.io/library/web-ckpt:latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..types import ArchiveError

PREFIX = "docker://"
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$")


class RegistryError(ArchiveError):
    """Anything that keeps a registry source from being read: a bad reference, auth, HTTP, digests."""


def is_remote(path: object) -> bool:
    """True for a ``docker://`` reference (a str or a :class:`RemotePath`; paths on disk never
    start with it: ``pathlib`` would make it ``docker:/``)."""
    return isinstance(path, RemotePath) or (isinstance(path, str) and path.startswith(PREFIX))


@dataclass(frozen=True)
class Reference:
    registry: str  # "127.0.0.1:5000", "docker.io"
    repository: str  # "ns/web-ckpt"
    tag: str = ""
    digest: str = ""

    @property
    def api_host(self) -> str:
        """The host[:port] the distribution API is served on."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when given, else the tag."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> Reference:
        return replace(self, tag=tag, digest="")

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def repo_ref(self) -> str:
        """``HOST/REPO`` (no tag): what an auth file or a mount names."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        s = f"{PREFIX}{self.registry}/{self.repository}"
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def parse(text: str, *, need_tag: bool = False, allow_bare: bool = False) -> Reference:
    """Parse ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]``.

    Neither tag nor digest means ``latest`` unless ``allow_bare`` (a repository to list, where
    the reference keeps no tag). ``need_tag``: a digest alone is refused (a push names a tag)."""
    if not is_remote(text):
        raise RegistryError(f"not a registry reference: {text!r} (expected docker://HOST/REPO[:TAG])")
    rest = text[len(PREFIX):]
    if not rest or rest.startswith("/"):
        raise RegistryError(f"{text!r}: no registry or repository after docker://")
    digest = ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise RegistryError(f"{text!r}: {digest!r} is not a digest (ALGORITHM:HEX, e.g. sha256:...)")
    parts = rest.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, parts[1:]
        if not _HOST.match(registry):
            raise RegistryError(f"{text!r}: {registry!r} is not a registry host[:port]")
    else:
        registry, path = DOCKER_HUB, parts
    tag = ""
    if path and ":" in path[-1]:
        path[-1], tag = path[-1].rsplit(":", 1)
        if not _TAG.match(tag):
            raise RegistryError(f"{text!r}: {tag!r} is not a valid tag")
    if not path or not all(path):
        raise RegistryError(f"{text!r}: no repository name")
    for comp in path:
        if not _COMPONENT.match(comp):
            raise RegistryError(
                f"{text!r}: repository names are lower-case letters, digits and . _ - separators ({comp!r} is not)")
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and len(path) == 1:
        path = ["library", *path]
    repository = "/".join(path)
    if len(repository) > 255:
        raise RegistryError(f"{text!r}: the repository name is longer than 255 characters")
    if need_tag and digest and not tag:
        raise RegistryError(f"{text!r}: name a tag to push to (docker://HOST/REPO:TAG), not a digest")
    if not tag and not digest and not allow_bare:
        tag = "latest"
    return Reference(registry, repository, tag, digest)


def parse_registry(text: str) -> str:
    """``docker://HOST[:PORT][/]`` (a registry for ``list --catalog``) -> ``HOST[:PORT]``."""
    if not is_remote(text):
        raise RegistryError(f"not a registry reference: {text!r} (expected docker://HOST[:PORT])")
    host = text[len(PREFIX):].split("/", 1)[0]
    if not host or not _HOST.match(host):
        raise RegistryError(f"{text!r}: {host!r} is not a registry host[:port]")
    return host


class RemotePath:
    """A ``docker://`` reference where the UI keeps a :class:`pathlib.Path`: ``name`` (the last
    part, ``web:v1``), ``is_dir()`` (a repository without tag or digest: a list of its checkpoint
    tags to pick from), ``str()`` (the reference). It has no ``__fspath__``: it is no file."""

    def __init__(self, text: str) -> None:
        self.ref = parse(text, allow_bare=True)
        self.text = str(self.ref)

    @property
    def name(self) -> str:
        return self.text.rsplit("/", 1)[-1]

    def is_dir(self) -> bool:
        return not (self.ref.tag or self.ref.digest)

    def is_file(self) -> bool:
        return False

    def exists(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"RemotePath({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def as_path(value: object):
    """``RemotePath`` for a ``docker://`` reference, else ``pathlib.Path(value)``."""
    from pathlib import Path

    if isinstance(value, RemotePath):
        return value
    text = str(value)
    return RemotePath(text) if is_remote(text) else Path(value)  # type: ignore[arg-type]
