# SPDX-License-Identifier: Apache-2.0
"""Which CRIU (and kernel) wrote a checkpoint's images, and CRIU's two ways of writing a version.

A checkpoint image's annotations say it (``criu.version`` as a number, ``host.kernel``); a
checkpoint that carries its own ``dump.log`` says it in that log's first lines. Build puts the
answer into the new image's annotations, the preflight compares it with this host's CRIU.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .diagnose.logparse import LogHeader, header

if TYPE_CHECKING:  # pragma: no cover
    from ..model.checkpoint import Checkpoint

__all__ = ["dumped_with", "version_number", "version_text"]

_DOTTED = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def version_number(version: str) -> str:
    """'4.2' -> '40200', '3.17.1' -> '31701' (the annotation's form); a number stays; '' if neither."""
    version = version.strip()
    if version.isdigit():
        return version
    m = _DOTTED.match(version)
    if not m:
        return ""
    return str(int(m.group(1)) * 10000 + int(m.group(2)) * 100 + int(m.group(3) or 0))


def version_text(version: str) -> str:
    """40200 -> '4.2', 31701 -> '3.17.1' (as CRIU prints it); anything else stays as it is."""
    if not version.isdigit():
        return version
    v = int(version)
    major, minor, sub = v // 10000, (v // 100) % 100, v % 100
    return f"{major}.{minor}" + (f".{sub}" if sub else "")


def dumped_with(ck: Checkpoint) -> LogHeader:
    """The CRIU version (as CRIU prints it) and kernel that made ``ck``: its image annotations,
    else its own ``dump.log`` (never a log given from outside, nor the container's output)."""
    found = LogHeader(criu_version=version_text(ck.info.criu_version), kernel=ck.info.host_kernel)
    for log in ck.logs:
        if found.criu_version and found.kernel:
            break
        if log.external or log.name.rsplit("/", 1)[-1] != "dump.log":
            continue
        said = header(log.text[: 1 << 16].splitlines())  # the header is in its first lines
        found.criu_version = found.criu_version or said.criu_version
        found.kernel = found.kernel or said.kernel
    return found
