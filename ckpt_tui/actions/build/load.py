# SPDX-License-Identifier: Apache-2.0
"""Hand a written image to an engine's store: ``podman load``, ``skopeo copy`` or ``ctr images import``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._proc import CancelCheck, OutputCallback, run_streaming, which
from .reference import ref_name_of

__all__ = ["LoadResult", "load_image"]

_LOADED = re.compile(r"Loaded image(?:\(s\))?:\s*(\S+)")


@dataclass
class LoadResult:
    ok: bool
    command: list[str]
    returncode: int | None
    tool: str  # "podman" | "skopeo" | "ctr" | ""
    image_name: str = ""
    lines: list[str] = field(default_factory=list)
    message: str = ""
    cancelled: bool = False


def _command(p: Path, engine: str, name: str) -> tuple[str, list[str]] | LoadResult:
    """(tool, command) that loads ``p`` into ``engine``'s store, or why there is none."""
    if engine == "containerd":
        if not which("ctr"):
            return LoadResult(False, [], None, "",
                              message="ctr (containerd) is not installed: apt-get install containerd")
        return "ctr", ["ctr", "images", "import", str(p)]
    # `podman load` names a layout directory after its path: prefer skopeo for directories
    if engine == "podman" and which("podman") and not (p.is_dir() and which("skopeo")):
        return "podman", ["podman", "load", "-i", str(p)]
    if which("skopeo"):
        if not name:
            return LoadResult(False, [], None, "skopeo",
                              message=f"{p} has no image name (ref.name); give one to load it with skopeo")
        transport = "oci" if p.is_dir() else "oci-archive"
        return "skopeo", ["skopeo", "copy", f"{transport}:{p}", f"containers-storage:{name}"]
    wanted = "podman nor skopeo" if engine == "podman" else "skopeo"
    return LoadResult(
        ok=False, command=[], returncode=None, tool="",
        message=f"neither {wanted} is installed: install podman (apt-get install podman) or skopeo to load the image",
    )


def load_image(
    path: str | os.PathLike[str],
    engine: str = "podman",
    *,
    image_name: str | None = None,
    on_output: OutputCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> LoadResult:
    """Load an OCI archive (or layout dir) into the engine's image store.

    engine "podman": ``podman load -i PATH`` when podman is installed, else
    ``skopeo copy oci-archive:PATH containers-storage:NAME``; "skopeo" forces
    skopeo; "containerd": ``ctr images import PATH``.
    """
    p = Path(path)
    if not p.exists():
        return LoadResult(ok=False, command=[], returncode=None, tool="", message=f"{p}: no such file or directory")
    name = image_name or ref_name_of(p)
    chosen = _command(p, (engine or "podman").lower(), name)
    if isinstance(chosen, LoadResult):
        return chosen
    tool, cmd = chosen
    res = run_streaming(cmd, on_output, cancelled)
    lines = [ln.text for ln in res.lines]
    loaded = name
    for ln in lines:
        m = _LOADED.search(ln)
        if m:
            loaded = m.group(1).split(",")[0]
    ok = res.returncode == 0 and not res.cancelled
    if res.error:
        msg = res.error
    elif ok:
        msg = f"Loaded {loaded or p} with {tool}"
    elif res.cancelled:
        msg = "Load cancelled"
    else:
        tail = next((ln for ln in reversed(lines) if ln.strip()), "")
        msg = f"{tool} failed (exit {res.returncode})" + (f": {tail}" if tail else "")
    return LoadResult(ok=ok, command=res.command, returncode=res.returncode, tool=tool, image_name=loaded or "",
                      lines=lines, message=msg, cancelled=res.cancelled)
