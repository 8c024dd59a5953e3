"""Plain types of the archive layer: Member, Limits, ArchiveError and name display."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from typing import Any, TypedDict

from ..errors import CkptError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_MAX_TOTAL = 8 * GiB
DEFAULT_KEEP_IN_MEMORY = 1 * MiB


class ArchiveError(CkptError):
    """Fatal: the source could not be opened at all (or a member asked for is absent)."""


class CacheWriteFailed(Exception):
    """Spilling into the opt-in cache directory failed (full disk...): open again without it."""


@dataclass
class Member:
    """One entry of a source, under its normalised relative POSIX name."""

    name: str  # "config.dump", "checkpoint/pages-2.img"
    size: int
    type: str  # "file" | "dir" | "symlink" | "hardlink" | "other"
    mode: int = 0o644
    mtime: float = 0.0
    linkname: str = ""
    uid: int = 0
    gid: int = 0


class Owner(TypedDict):
    """A member's mode, time and owner as one value (``Member(name, size, type, **owner)``),
    for the indexers that read them once per entry (a directory walk, a table of contents)."""

    mode: int
    mtime: float
    uid: int
    gid: int


@dataclass
class Limits:
    """Bounds applied while a source is indexed.

    ``max_total_bytes`` bounds the uncompressed bytes produced by decompression
    (the user raises it with ``--max-size``). ``keep_in_memory``: members up to
    this size are kept in RAM, larger ones are spilled into the workspace (or,
    for plain tars and directories, read in place).

    ``max_ratio``: stop once more than ``ratio_after`` bytes were produced at an
    expansion ratio above this. ``None`` means automatic: 1000 while
    ``max_total_bytes`` has its default, off once the user raised the limit.
    ``max_memory_total`` caps the sum of the members kept in RAM (past it every
    member is spilled; small ones share one pack file), ``max_members`` caps the
    number of entries indexed. ``max_entries``: the entries the model built from the source
    may hold (``--max-entries``; None: ``model.build.context.MAX_MODEL_ENTRIES``).

    ``cache_dir``: the opt-in re-open cache (see :mod:`ckpt_tui.archive.cache`).
    ``None`` means "the environment decides" (``CKPT_TUI_CACHE_DIR``, unset: off);
    ``""`` turns it off whatever the environment says; a path turns it on there.
    ``cache_max_bytes`` bounds its size (least recently used entries go first;
    ``None``: ``CKPT_TUI_CACHE_MAX`` or 2 GiB).
    """

    max_total_bytes: int = DEFAULT_MAX_TOTAL
    keep_in_memory: int = DEFAULT_KEEP_IN_MEMORY
    max_ratio: int | None = None
    ratio_after: int = 512 * MiB
    max_memory_total: int = 32 * MiB
    max_members: int = 100_000
    max_entries: int | None = None
    cache_dir: str | os.PathLike[str] | None = None
    cache_max_bytes: int | None = None

    def effective_ratio(self) -> int:
        if self.max_ratio is not None:
            return self.max_ratio
        return 1000 if self.max_total_bytes == DEFAULT_MAX_TOTAL else 0


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB' (for messages)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def display_name(name: str) -> str:
    """A member name made safe to print: undecodable bytes (kept as surrogates)
    become ``\\xNN``, control and other non-printable characters are escaped."""
    out: list[str] = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd raw byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7F and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def json_document(data: bytes, shape: type = dict) -> tuple[Any, str]:
    """``(value, "")`` of an engine's JSON file (config.dump, spec.dump, pod.options ...) that
    is a ``shape``, else ``(None, why not)`` in words that follow its name: "is empty", "is not
    valid JSON (...)", "nests too deeply to be read", "has the wrong shape: ..."."""
    if not data.strip():
        return None, "is empty"
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"is not valid JSON ({exc})"
    except RecursionError:
        return None, "nests too deeply to be read (lists or objects inside each other thousands of times)"
    if not isinstance(value, shape):
        return None, f"has the wrong shape: expected a JSON {shape.__name__}, found {type(value).__name__}"
    return value, ""
