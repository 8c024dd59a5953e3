"""``ckpt-tui redact``: a copy of a checkpoint with every secret the masking rules find filled.

The copy is of the same kind as the original (a tar, gzip or zstd archive, a directory, a
checkpoint image, a containerd checkpoint image: :mod:`.containerd`) and every CRIU image in it keeps its size and layout: a secret is overwritten
by :data:`~ckpt_tui.model.masking.FILLER` bytes of the same length, in the memory pages (where
command lines and environments live), the root FS diff's files, /dev/shm and tmpfs tars and the
logs. The engine's JSON files are written again with their secrets filled (same layout, same
meaning). What was filled, and where, is in ``redacted.json`` in the copy and named by the
``org.ckpt-tui.redacted`` annotation of its ``spec.dump``. With ``strip_pages`` the pages images are
left out altogether (see :data:`STRIPPED_LACKS`).

Only the model is read (``ck.member_names`` / ``ck.member`` / ``ck.open_member``, the processes'
``MemoryReader``); nothing is written outside ``OUT`` but the checkpoint's own temp dir.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...annotations import CKPT_TUI_REDACTED, REDACTED_RECORD
from ...errors import CkptError
from ...model.masking import FILLER, Redaction
from . import content
from .jsonfill import fill_json
from .memory import PagesPlan, pages_plans, redact_pages
from .writer import DirWriter, Fill, NewMember, TarWriter, Write

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint

RECORD_NAME = REDACTED_RECORD
PAGES_NAME = re.compile(r"(^|/)pages-\d+\.img$")
#: what a copy made with ``--strip-pages`` lacks
STRIPPED_LACKS = ("the memory pages (pages-*.img): no process's memory, command line or environment can be read "
                  "or searched, and the copy cannot be restored; the memory map (VMAs, pagemaps), process tree, "
                  "files, sockets, network, mounts, root FS diff and logs are all there")
_TAR_KINDS = {"tar": "", "tar+gzip": "gzip", "tar+zstd": "zstd"}
_IMAGE_KINDS = ("oci-archive", "oci-layout", "docker-archive")


@dataclass
class RedactResult:
    output: str
    kind: str  # the kind of checkpoint written (the original's)
    fills: int  # ranges filled
    by_rule: dict[str, int]  # rule id -> ranges filled
    members: list[str]  # members with something filled (spec.dump's annotation alone does not count)
    stripped: list[str] = field(default_factory=list)  # members left out (--strip-pages)
    not_redacted: dict[str, dict[str, int]] = field(default_factory=dict)  # member -> rule -> count, unchanged
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # what redacted.json says


class _Record:
    def __init__(self) -> None:
        self.members: dict[str, Any] = {}
        self.by_rule: dict[str, int] = {}
        self.not_redacted: dict[str, dict[str, int]] = {}

    def ranges(self, name: str, ranges: list[Redaction]) -> None:
        if ranges:
            self.members[name] = {"ranges": [list(r) for r in ranges]}
            for _lo, _hi, rule in ranges:
                self.by_rule[rule] = self.by_rule.get(rule, 0) + 1

    def files(self, name: str, found: list[tuple[str, Redaction]], note: str = "") -> None:
        if not found:
            return
        files: dict[str, list[list[Any]]] = {}
        for path, rng in found:
            files.setdefault(path, []).append(list(rng))
            self.by_rule[rng[2]] = self.by_rule.get(rng[2], 0) + 1
        self.members[name] = {"files": files, **({"note": note} if note else {})}

    def values(self, name: str, found: list[tuple[str, str]], annotated: bool = False) -> None:
        if found or annotated:
            self.members[name] = {"rewritten": True, "values": [{"path": p, "rule": r} for p, r in found],
                                  **({"annotation": CKPT_TUI_REDACTED} if annotated else {})}
            for _path, rule in found:
                self.by_rule[rule] = self.by_rule.get(rule, 0) + 1

    @property
    def fills(self) -> int:
        return sum(self.by_rule.values())


def _check_output(ck: Checkpoint, out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise CkptError(f"{out} exists: give a new name for the redacted copy")
    if out.resolve() == ck.source_path.resolve():
        raise CkptError("the redacted copy cannot replace the original")
    if not out.parent.is_dir():
        raise CkptError(f"{out.parent} is not a directory")


def _writer(ck: Checkpoint, out: Path) -> tuple[Any, str]:
    kind = ck.source_kind
    if kind in _TAR_KINDS:
        return TarWriter(out, _TAR_KINDS[kind]), kind
    if kind == "directory":
        return DirWriter(out), kind
    if kind == "criu-directory":
        return DirWriter(out, strip="checkpoint/"), kind
    raise CkptError(f"cannot write a redacted copy of a {kind} checkpoint")


def _prefix_of(sub: Checkpoint) -> str:
    return str(getattr(sub.source, "prefix", ""))


def _plans(ck: Checkpoint) -> dict[str, PagesPlan]:
    plans = pages_plans(ck)
    for sub in ck.containers:
        plans.update(pages_plans(sub, _prefix_of(sub)))
    return plans


def _annotation(strip_pages: bool) -> dict[str, str]:
    value = {"tool": f"ckpt-tui {__version__}", "memory": "stripped" if strip_pages else "filled",
             "record": RECORD_NAME, "filler": FILLER.decode()}
    return {CKPT_TUI_REDACTED: json.dumps(value, sort_keys=True)}


def redact_checkpoint(ck: Checkpoint, out: str | os.PathLike[str], *, strip_pages: bool = False,
                      on_output: Callable[[str], None] | None = None) -> RedactResult:
    """Write the redacted copy of ``ck`` to ``out`` (which must not exist)."""
    target = Path(out)
    _check_output(ck, target)
    if ck.source_kind in _IMAGE_KINDS:
        from .image import redact_image

        return redact_image(ck, target, strip_pages=strip_pages, on_output=on_output)
    if ck.source_kind == "containerd-image":
        from .containerd import redact_containerd

        return redact_containerd(ck, target, strip_pages=strip_pages, on_output=on_output)
    writer, kind = _writer(ck, target)
    try:
        result = write_copy(ck, writer, kind, strip_pages=strip_pages, on_output=on_output)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    result.output = str(target)
    return result


def write_copy(ck: Checkpoint, writer: Any, kind: str, *, strip_pages: bool,
               on_output: Callable[[str], None] | None = None) -> RedactResult:
    """Every member of ``ck`` through ``writer`` (redacted), then ``redacted.json``."""
    say = on_output or (lambda _text: None)
    plans = {} if strip_pages else _plans(ck)
    rec = _Record()
    notes: list[str] = []
    stripped: list[str] = []
    newest = 0.0
    for name in ck.member_names():
        member = ck.member(name)
        if member is None:
            continue
        newest = max(newest, member.mtime)
        if member.type == "dir":
            writer.add_dir(member)
        elif member.type in ("symlink", "hardlink"):
            writer.add_link(member)
        elif member.type != "file":
            notes.append(f"{name}: not a file, directory or link; left out")
        elif name in (RECORD_NAME, "checkpoint/" + RECORD_NAME):
            notes.append(f"{name}: the original's record of an earlier redaction is replaced")
        elif PAGES_NAME.search(name) and strip_pages:
            stripped.append(name)
        else:
            if name in writer.derived:
                continue  # the reader makes it again from the copy (the writer's notes say so)
            if ck.is_synthesized(name) and name not in writer.in_place:
                notes.append(f"{name} was made by the reader from the original's other form; the copy holds it as read")
            _member(ck, writer, name, member, plans, rec, strip_pages)
            if name in rec.members and _count(rec.members[name]):
                say(f"{name}: filled {_count(rec.members[name])}")
    record = {
        "redacted_by": f"ckpt-tui {__version__}",
        "source": ck.source_path.name,
        "kind": kind,
        "filler": FILLER.decode(),
        "memory": "stripped" if strip_pages else "filled",
        "fills": rec.fills,
        "rules": dict(sorted(rec.by_rule.items())),
        "members": rec.members,
        "stripped": stripped,
        "lacks": STRIPPED_LACKS if strip_pages else "",
        "not_redacted": rec.not_redacted,
        "notes": notes,
    }
    data = record_bytes(record)
    writer.add_file(NewMember(RECORD_NAME, mtime=newest), len(data), lambda write: write(data))
    return RedactResult("", kind, rec.fills, dict(rec.by_rule), sorted(n for n, e in rec.members.items() if _count(e)),
                        stripped,
                        rec.not_redacted, notes, record)


def record_bytes(record: dict[str, Any]) -> bytes:
    """What ``redacted.json`` holds."""
    return (json.dumps(record, indent=2) + "\n").encode()


def _count(entry: dict[str, Any]) -> int:
    if "ranges" in entry:
        return len(entry["ranges"])
    if "files" in entry:
        return sum(len(v) for v in entry["files"].values())
    return len(entry.get("values", ()))


def _same_size(ck: Checkpoint, name: str, size: int, fn: Callable[..., Any]) -> tuple[Fill, list[Any]]:
    """A fill that streams the member through ``fn(src, write)`` and keeps what it returns."""
    got: list[Any] = []

    def fill(write: Write) -> None:
        with ck.open_member(name) as src:
            got.append(fn(src, write))

    return fill, got


def _member(ck: Checkpoint, writer: Any, name: str, member: Any, plans: dict[str, PagesPlan], rec: _Record,
            strip_pages: bool) -> None:
    size = member.size
    if PAGES_NAME.search(name):
        plan = plans.get(name)
        fill, got = _same_size(ck, name, size, lambda src, write: redact_pages(src, size, plan, write))
        writer.add_file(member, size, fill)
        rec.ranges(name, got[0] if got else [])
        return
    if content.is_tar_member(name):
        _tar_member(ck, writer, name, member, rec)
        return
    if name in writer.in_place:  # a JSON document whose size is recorded around it: filled in place
        with ck.open_member(name) as src:
            raw = src.read()
        filled = fill_json(raw)
        if filled is not None:
            data, ranges = filled
            writer.add_file(member, len(data), lambda write: write(data))
            rec.ranges(name, ranges)
            return
    if size <= content.JSON_CAP:
        with ck.open_member(name) as src:
            head = src.read(64).lstrip()[:1]
        if head in (b"{", b"["):
            with ck.open_member(name) as src:
                raw = src.read()
            annotate = name.rsplit("/", 1)[-1] == "spec.dump"
            done = content.redact_json(raw, _annotation(strip_pages) if annotate else None)
            if done is not None:
                data, found = done
                writer.add_file(member, len(data), lambda write: write(data))
                rec.values(name, found, annotated=annotate and data != raw)
                return
    if content.is_text_member(name):
        fill, got = _same_size(ck, name, size, content.redact_text_stream)
        writer.add_file(member, size, fill)
        rec.ranges(name, got[0] if got else [])
        return
    with ck.open_member(name) as src:
        seen = content.look_through(src, size)
    if seen:
        rec.not_redacted[name] = seen
    writer.add_file(member, size, _copy_fill(ck, name))


def _copy_fill(ck: Checkpoint, name: str) -> Fill:
    def fill(write: Write) -> None:
        with ck.open_member(name) as src:
            content.copy_stream(src, write)

    return fill


def _tar_member(ck: Checkpoint, writer: Any, name: str, member: Any, rec: _Record) -> None:
    with ck.open_member(name) as src:
        gz = content.is_gzip(src)
    if not gz:
        fill, got = _same_size(ck, name, member.size, content.redact_tar)
        writer.add_file(member, member.size, fill)
        rec.files(name, got[0] if got else [])
        return
    plain, redacted, packed = (ck.scratch_file("redact-tar") for _ in range(3))
    try:
        with ck.open_member(name) as src, open(plain, "wb") as dst:
            content.gunzip_to(src, dst)
        with open(plain, "rb") as src, open(redacted, "wb") as dst:
            found = content.redact_tar(src, dst.write)
        if not found:
            writer.add_file(member, member.size, _copy_fill(ck, name))
            return
        with open(redacted, "rb") as src, open(packed, "wb") as dst:
            content.gzip_to(src, dst)
        size = packed.stat().st_size

        def fill(write: Write) -> None:
            with open(packed, "rb") as fh:
                content.copy_stream(fh, write)

        writer.add_file(member, size, fill)
        rec.files(name, found, "offsets in the uncompressed tar; the member was compressed again")
    finally:
        for path in (plain, redacted, packed):
            path.unlink(missing_ok=True)
