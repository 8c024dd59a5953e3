"""Redacting the other members: the engine's JSON files, tars of files (the root FS diff, /dev/shm,
tmpfs images) and text logs. Binary CRIU images other than pages are only looked through: what
the rules find there is reported, not changed (their framing would not survive a blind fill).

JSON (``config.dump``, ``spec.dump`` — ``process.env`` —, ``network.status`` ...) is parsed and
written again with the same layout (indentation, key order) and the same meaning: a value whose
key is secret-looking, or an environment entry ``NAME=value`` :func:`should_mask` masks, is filled
whole; in any other string the secrets the rules find are filled. A string holding a JSON document
(annotations such as kubectl's last applied configuration) is redacted inside.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from collections.abc import Callable
from typing import Any, BinaryIO

from ...model.masking import (
    FILLER,
    Redaction,
    env_entry_spans,
    redact_region,
    redact_stream,
    should_mask,
)

Write = Callable[[bytes], object]
CHUNK = 1 << 20
JSON_CAP = 64 << 20  # a JSON member larger than this is treated as text
SCAN_CAP = 256 << 20  # binary members larger than this are not looked through

#: members that are tars of files (their files are redacted in place; gzip is recompressed)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tar.gz.img", ".tgz")
TEXT_SUFFIXES = (".log", ".txt")
SECRET_KEY = "secret-name-value"  # a JSON value under a secret-looking key


def is_tar_member(name: str) -> bool:
    return name.rsplit("/", 1)[-1].endswith(TAR_SUFFIXES)


def is_text_member(name: str) -> bool:
    """Logs: free text, filled where the rules find a secret."""
    return name.rsplit("/", 1)[-1].endswith(TEXT_SUFFIXES)


# -- JSON ---------------------------------------------------------------------------------------
def _is_path(value: str) -> bool:
    """A file path (``secretsPath``, ``/run/secrets``): named like a secret, but none itself."""
    return value.startswith("/") and not any(c.isspace() for c in value)


def key_fills(value: str, key: str | None) -> list[Redaction]:
    """The whole value when its key is secret-looking (a path named like a secret is none): the
    range of its UTF-8 bytes, or nothing."""
    if key is not None and should_mask(key, value) and not _is_path(value):
        return [(0, len(value.encode("utf-8", "surrogateescape")), SECRET_KEY)]
    return []


def inner_document(value: str) -> Any | None:
    """The JSON object or list a string holds whole (an annotation's applied configuration), or None."""
    stripped = value.strip()
    if stripped[:1] in "{[" and stripped[-1:] in "}]":
        try:
            inner = json.loads(value)
        except ValueError:
            return None
        if isinstance(inner, (dict, list)):
            return inner
    return None


def text_fills(value: str) -> list[Redaction]:
    """What :func:`~ckpt_tui.model.masking.redact_env_entry` fills in a string: ranges of its UTF-8 bytes."""
    return env_entry_spans(value.encode("utf-8", "surrogateescape"))


def _filled(value: str, ranges: list[Redaction]) -> str:
    data = bytearray(value.encode("utf-8", "surrogateescape"))
    for lo, hi, _rule in ranges:
        data[lo:hi] = FILLER * (hi - lo)
    return data.decode("utf-8", "surrogateescape")


def _redact_string(value: str, key: str | None) -> tuple[str, str]:
    fills = key_fills(value, key)
    if not fills:
        inner = inner_document(value)
        if inner is not None:
            new, found = redact_document(inner)
            if found:
                return json.dumps(new, ensure_ascii=False, separators=(",", ":")), found[0][1]
            return value, ""
        fills = text_fills(value)
    return (_filled(value, fills), fills[0][2]) if fills else (value, "")


def redact_document(doc: Any) -> tuple[Any, list[tuple[str, str]]]:
    """A parsed JSON document with its secrets filled, and (path, rule id) of each value filled."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: str, key: str | None) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}" if path else str(k), str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]", None) for i, v in enumerate(node)]
        if isinstance(node, str):
            new, rule = _redact_string(node, key)
            if rule:
                found.append((path, rule))
            return new
        return node

    return walk(doc, "", None), found


def json_layout(raw: bytes) -> dict[str, Any]:
    """json.dumps arguments that write a document the way ``raw`` was written."""
    text = raw.decode("utf-8", "replace")
    indent: int | str | None = None
    lines = text.split("\n")
    if len(lines) > 1:
        second = next((ln for ln in lines[1:] if ln.strip()), "")
        lead = second[:len(second) - len(second.lstrip())]
        indent = lead if lead.strip(" ") else len(lead)
    colon = ": " if '": ' in text else ":"
    return {"indent": indent, "separators": ("," if indent is not None else (", " if '", "' in text else ","), colon),
            "ensure_ascii": False}


#: Go's encoding/json writes these as \u escapes (podman's config.dump and spec.dump): kept so
_GO_ESCAPES = {"&": "\\u0026", "<": "\\u003c", ">": "\\u003e"}


def _go_escaped(raw: bytes, out: str) -> str:
    """``out`` with & < > escaped as Go escapes them, when ``raw`` was written that way (they only
    occur inside strings, so replacing them everywhere keeps the same document)."""
    if not any(esc.encode() in raw for esc in _GO_ESCAPES.values()):
        return out
    for char, esc in _GO_ESCAPES.items():
        out = out.replace(char, esc)
    return out


def json_document(raw: bytes) -> dict | list | None:
    """``raw`` parsed when it is a JSON object or list (what is redacted as JSON), else None."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, (dict, list)) else None


def redact_json(raw: bytes, add: dict[str, str] | None = None) -> tuple[bytes, list[tuple[str, str]]] | None:
    """A JSON member redacted (None when it is no JSON object or list). ``add``: annotations to
    set on a document with an ``annotations`` object (an OCI runtime spec)."""
    doc = json_document(raw)
    if doc is None:
        return None
    new, found = redact_document(doc)
    if add and isinstance(new, dict):
        ann = new.setdefault("annotations", {})
        if isinstance(ann, dict):
            ann.update(add)
    if not found and new == doc:
        return raw, []
    return dumps_like(raw, new), found


def dumps_like(raw: bytes, doc: Any) -> bytes:
    """``doc`` written the way ``raw`` was (indentation, separators, Go's escapes, a final newline)."""
    out = _go_escaped(raw, json.dumps(doc, **json_layout(raw))).encode("utf-8", "surrogateescape")
    return out + b"\n" if raw.endswith(b"\n") else out


# -- tars of files --------------------------------------------------------------------------------
def _copy(src: BinaryIO, start: int, end: int, write: Write) -> None:
    src.seek(start)
    left = end - start
    while left > 0:
        data = src.read(min(CHUNK, left))
        if not data:
            break
        write(data)
        left -= len(data)


def redact_tar(src: BinaryIO, write: Write) -> list[tuple[str, Redaction]]:
    """Copy an uncompressed tar (seekable) to ``write`` with the secrets in its regular files
    filled: headers and layout unchanged, byte for byte. (path inside, range in the tar) of each fill."""
    src.seek(0, 2)
    total = src.tell()
    src.seek(0)
    try:
        with tarfile.open(fileobj=src, mode="r:") as tf:
            members = [(ti.name, ti.offset_data, ti.size) for ti in tf if ti.isreg() and not ti.issparse() and ti.size]
    except (tarfile.TarError, OSError, EOFError):
        members = []  # not a tar we can read: copied as it is
    found: list[tuple[str, Redaction]] = []
    pos = 0
    for name, offset, size in members:
        _copy(src, pos, offset, write)
        ranges, count = redact_region(src, offset, size, write)
        found += [(name, (offset + lo, offset + hi, rule)) for lo, hi, rule in ranges]
        pos = offset + count
    _copy(src, pos, total, write)
    return found


def copy_stream(src: BinaryIO, write: Write) -> None:
    """All of ``src`` from where it stands to ``write``, a chunk at a time."""
    while data := src.read(CHUNK):
        write(data)


def is_gzip(src: BinaryIO) -> bool:
    src.seek(0)
    head = src.read(2)
    src.seek(0)
    return head == b"\x1f\x8b"


def gunzip_to(src: BinaryIO, dst: BinaryIO) -> None:
    src.seek(0)
    with gzip.GzipFile(fileobj=src, mode="rb") as gz:
        shutil.copyfileobj(gz, dst, CHUNK)
    dst.flush()


def gzip_to(src: BinaryIO, dst: BinaryIO) -> None:
    src.seek(0)
    with gzip.GzipFile(filename="", fileobj=dst, mode="wb", mtime=0) as gz:
        shutil.copyfileobj(src, gz, CHUNK)


# -- text and binary ------------------------------------------------------------------------------
def redact_text_stream(src: BinaryIO, write: Write) -> list[Redaction]:
    src.seek(0)
    return redact_stream(src.read, write)


def look_through(src: BinaryIO, size: int) -> dict[str, int]:
    """Rule id -> count of what the rules find in a member that is not changed."""
    if size > SCAN_CAP:
        return {}
    src.seek(0)
    counts: dict[str, int] = {}
    for _lo, _hi, rule in redact_stream(src.read, lambda _data: None):  # bounded windows, nothing kept
        counts[rule] = counts.get(rule, 0) + 1
    return counts

