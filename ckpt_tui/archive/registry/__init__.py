"""Checkpoint images in OCI registries: ``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]``.

``archive.open_source("docker://...")`` opens one as a Source (:mod:`.source`); :mod:`.listing`
lists a repository's checkpoint images and walks a registry's catalog; :mod:`.push` pushes an
OCI layout. The HTTP client (:mod:`.client`, on urllib3) is imported only when a registry is used.
"""

from .reference import PREFIX, Reference, RegistryError, is_remote, parse

__all__ = ["PREFIX", "Reference", "RegistryError", "is_remote", "parse"]
