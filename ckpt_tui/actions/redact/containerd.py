"""A redacted copy of a containerd checkpoint image (``ctr c checkpoint``): a new OCI layout, held
as the original is (a directory, or a tar: plain, gzip or zstd), with the blobs that held a secret
written again and everything else copied byte for byte.

The members are redacted as for every other kind (:func:`~ckpt_tui.actions.redact.write_copy`),
through :class:`_Blobs`, which sends each to the blob it came from: ``checkpoint/`` to a new CRIU
image tar, ``rootfs-diff.tar`` to a new rw layer. The runtime spec (``spec.dump``) is a protobuf
field of the config blob (a ``google.protobuf.Any``, alone or in a container record): it is filled
in place, as are the record's own strings (labels, image ...), so the blob keeps its size and every
length in it stays true; the filled blob is decoded again and must give the filled spec.

Blobs are named by their digests: each rewritten one goes in under its new sha256 digest and size,
and so do the checkpoint index that names it (with the ``org.ckpt-tui.redacted`` annotation and a
descriptor of the record blob, ``redacted.json``) and every index or manifest above it, up to
``index.json``. The blobs replaced are left out of the copy; the other files are copied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...annotations import MT_REDACTED_RECORD, REDACTED_RECORD
from ...errors import CkptError
from ...model import layout as L
from ...model.masking import FILLER, Redaction
from ..build.oci import blob_name
from . import content
from .writer import DirWriter, NewMember, TarWriter, Write

if TYPE_CHECKING:  # pragma: no cover
    from ...model.checkpoint import Checkpoint
    from . import RedactResult

SPEC = "spec.dump"
_TAR_PREFIXES = {"checkpoint/": L.MT_CRIU_TAR, "pre-checkpoint/": L.MT_PREDUMP_TAR}
MAX_DEPTH = 8  # indexes above the checkpoint index that are followed (the reader's bound is lower)


def _renamed(member: Any, name: str, linkname: str | None = None) -> NewMember:
    return NewMember(name, mode=member.mode, mtime=member.mtime, uid=member.uid, gid=member.gid, type=member.type,
                     linkname=member.linkname if linkname is None else linkname)


def _sha(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(content.CHUNK):
            digest.update(data)
    return "sha256:" + digest.hexdigest(), path.stat().st_size


class _Blobs:
    """The writer ``write_copy`` writes through: each member to the blob that holds it."""

    in_place = frozenset({SPEC})
    derived = frozenset({"config.dump"})  # made by the reader from the config blob and the index

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.tars: dict[str, TarWriter] = {}  # member prefix -> the new tar of that blob
        self.files: dict[str, bytes | Path] = {}  # "rootfs-diff.tar", spec.dump, redacted.json

    def _tar(self, name: str) -> tuple[TarWriter | None, str]:
        for prefix in _TAR_PREFIXES:
            if name.startswith(prefix):
                if prefix not in self.tars:
                    self.tars[prefix] = TarWriter(self.scratch / prefix.rstrip("/"))
                return self.tars[prefix], name[len(prefix):]
        return None, name

    def add_dir(self, member: Any) -> None:
        tar, inner = self._tar(member.name.rstrip("/") + "/")
        if tar is not None and inner:
            tar.add_dir(_renamed(member, inner.rstrip("/")))

    def add_link(self, member: Any) -> None:
        tar, inner = self._tar(member.name)
        if tar is None:
            raise CkptError(f"{member.name}: a link no blob of a containerd checkpoint image holds")
        link = member.linkname
        if member.type == "hardlink":
            link = self._tar(link)[1]
        tar.add_link(_renamed(member, inner, link))

    def add_file(self, member: Any, size: int, fill: Callable[[Write], None]) -> None:
        tar, inner = self._tar(member.name)
        if tar is not None:
            tar.add_file(_renamed(member, inner), size, fill)
            return
        if member.name not in (SPEC, REDACTED_RECORD, "rootfs-diff.tar"):
            raise CkptError(f"{member.name}: no blob of a containerd checkpoint image holds it")
        if member.name == "rootfs-diff.tar":
            path = self.scratch / "layer"
            with open(path, "wb") as fh:
                fill(fh.write)
            self.files[member.name] = path
            return
        got: list[bytes] = []
        fill(got.append)
        self.files[member.name] = b"".join(got)

    def close(self) -> None:
        for tar in self.tars.values():
            tar.close()

    def abort(self) -> None:
        for tar in self.tars.values():
            tar.abort()


class _Copy:
    """The new layout: which files of the original are replaced, by what, under which names."""

    def __init__(self, layout: Any) -> None:
        self.layout = layout
        self.new: dict[str, tuple[str, Path | bytes, int]] = {}  # old file -> (new digest, data, size)
        self.added: list[tuple[str, bytes]] = []  # (digest, data) of blobs with no original
        self.dropped: set[str] = set()  # files left out (an earlier redaction's record)
        self.blobs: list[dict[str, Any]] = []  # what redacted.json says of the blobs rewritten
        self.index_file = L.containerd_index_file(layout)  # the checkpoint index: "index.json" or a blob

    def replace(self, old: str, data: Path | bytes, what: str, media_type: str) -> None:
        """``old`` by ``data`` — unless it is the same blob (filler over filler: a redacted copy again)."""
        if isinstance(data, Path):
            digest, size = _sha(data)
        else:
            digest, size = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
        if digest == self._digest_of(old):
            return
        self.new[old] = (digest, data, size)
        self.blobs.append({"holds": what, "media_type": media_type, "from": self._digest_of(old),
                           "to": digest, "size": size})

    @staticmethod
    def _digest_of(name: str) -> str:
        parts = name.split("/")
        return f"{parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else name

    def read(self, name: str) -> bytes:
        with self.layout.open(name) as fh:
            return fh.read()

    def rewrite(self, name: str, index_file: str, edit: Callable[[dict], None], depth: int = 0) -> bool:
        """Rewrite the index or manifest ``name`` when a descriptor in it names a file replaced
        (the checkpoint index is ``edit``-ed as well); True when it changed."""
        if name in self.new:
            return True
        if depth > MAX_DEPTH or not self.layout.has(name):
            return False
        raw = self.read(name)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(doc, dict):
            return False
        changed = False
        for desc in self._descriptors(doc):
            try:
                child = blob_name(str(desc.get("digest", "")))
            except ValueError:
                continue
            if child not in self.new and desc.get("mediaType", "") in (L.INDEX_TYPES | L.MANIFEST_TYPES | {""}):
                self.rewrite(child, index_file, edit, depth + 1)
            if child in self.new:
                desc["digest"], _data, desc["size"] = self.new[child]
                changed = True
        if name == index_file:
            edit(doc)
            changed = True
        if not changed:
            return False
        data = content.dumps_like(raw, doc)
        if name == "index.json":
            self.new[name] = ("", data, len(data))
        else:
            self.new[name] = (self.replace_digest(data), data, len(data))
        return True

    @staticmethod
    def replace_digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    @staticmethod
    def _descriptors(doc: dict) -> list[dict]:
        out = [d for key in ("manifests", "layers", "blobs") for d in (doc.get(key) or []) if isinstance(d, dict)]
        if isinstance(doc.get("config"), dict):
            out.append(doc["config"])
        return out

    def write(self, out: Path) -> None:
        kind = self.layout.kind
        writer: Any = DirWriter(out) if kind == "directory" else TarWriter(out, {"tar": "", "tar+gzip": "gzip",
                                                                                 "tar+zstd": "zstd"}[kind])
        try:
            self._write(writer)
            writer.close()
        except BaseException:
            writer.abort()
            raise

    def _write(self, writer: Any) -> None:
        written: set[str] = set()
        for name in self.layout.names():
            member = self.layout.members[name]
            if member.type == "dir":
                writer.add_dir(member)
            elif member.type in ("symlink", "hardlink"):
                writer.add_link(member)
            elif member.type != "file" or name in self.dropped:
                continue
            elif name in self.new:
                digest, data, _size = self.new[name]
                if name == self.index_file:
                    for added, blob in self.added:  # the record, before the index naming it
                        self._add(writer, _renamed(member, blob_name(added)), blob, written)
                target = "index.json" if name == "index.json" else blob_name(digest)
                self._add(writer, _renamed(member, target), data, written)
            elif name not in written:
                writer.add_file(member, member.size, self._copier(name))
                written.add(name)

    def _add(self, writer: Any, member: NewMember, data: Path | bytes, written: set[str]) -> None:
        if member.name in written:
            return
        written.add(member.name)
        if isinstance(data, Path):
            writer.add_file(member, data.stat().st_size, lambda write: _stream(data, write))
        else:
            writer.add_file(member, len(data), lambda write: write(data))

    def _copier(self, name: str) -> Callable[[Write], None]:
        def fill(write: Write) -> None:
            with self.layout.open(name) as src:
                content.copy_stream(src, write)

        return fill


def _stream(path: Path, write: Write) -> None:
    with open(path, "rb") as fh:
        content.copy_stream(fh, write)


def _fill_config(blob: bytes, spec: bytes | None) -> tuple[bytes, list[dict[str, Any]]]:
    """The config blob with the filled spec in place and the record's strings filled; what was filled
    outside the spec ({field, key, range, rule})."""
    out = bytearray(blob)
    found: list[dict[str, Any]] = []
    for s in L.config_blob_strings(blob):
        if s.field == "spec":
            if spec is not None:
                if len(spec) != s.size:
                    raise CkptError("the filled runtime spec changed its size: the config blob is not written")
                out[s.offset:s.offset + s.size] = spec
            continue
        value = blob[s.offset:s.offset + s.size].decode("utf-8", "surrogateescape")
        fills: list[Redaction] = content.key_fills(value, s.key or None) or content.text_fills(value)
        for lo, hi, rule in fills:
            out[s.offset + lo:s.offset + hi] = FILLER * (hi - lo)
            found.append({"field": s.field, "key": s.key, "range": [s.offset + lo, s.offset + hi], "rule": rule})
    return bytes(out), found


def redact_containerd(ck: Checkpoint, out: Path, *, strip_pages: bool,
                      on_output: Callable[[str], None] | None = None) -> RedactResult:
    from . import _annotation, record_bytes, write_copy

    if ck.source_remote:
        raise CkptError("a containerd checkpoint image read from a registry cannot be copied redacted: "
                        "copy it to an OCI layout first (skopeo copy docker://... oci-archive:FILE)")
    scratch = ck.scratch_dir("redacted")
    blobs = _Blobs(scratch)
    try:
        result = write_copy(ck, blobs, "containerd-image", strip_pages=strip_pages, on_output=on_output)
        blobs.close()
    except BaseException:
        blobs.abort()
        raise
    layout = L.open_image_layout(ck)
    try:
        copy = _Copy(layout)
        index = json.loads(copy.read(copy.index_file))
        changed = set(result.record["members"]) | set(result.stripped)
        config_found = _replace_blobs(copy, index, blobs, changed, result)
        record = result.record
        record["image"] = {"annotation": "on the checkpoint index", "blobs": copy.blobs, "config": config_found}
        record["fills"] = result.fills = result.fills + len(config_found)
        for item in config_found:
            result.by_rule[item["rule"]] = result.by_rule.get(item["rule"], 0) + 1
        record["rules"] = dict(sorted(result.by_rule.items()))
        record["notes"] = result.notes = [
            *result.notes,
            "spec.dump is the runtime spec inside the config blob: filled there in place (the blob keeps its "
            "size); the org.ckpt-tui.redacted annotation is on the checkpoint index",
            "config.dump is made by the reader from the config blob and the index: the copy's from its own"]
        data = record_bytes(record)
        copy.added.append((copy.replace_digest(data), data))
        record_desc = {"mediaType": MT_REDACTED_RECORD, "digest": copy.added[0][0], "size": len(data)}

        def edit(doc: dict) -> None:
            mans = [d for d in doc.get("manifests") or [] if not (isinstance(d, dict)
                                                                   and d.get("mediaType") == MT_REDACTED_RECORD)]
            doc["manifests"] = [*mans, record_desc]
            doc["annotations"] = {**(doc.get("annotations") or {}), **_annotation(strip_pages)}

        for d in index.get("manifests") or []:
            if isinstance(d, dict) and d.get("mediaType") == MT_REDACTED_RECORD:
                copy.dropped.add(blob_name(str(d.get("digest"))))
        copy.rewrite("index.json", copy.index_file, edit)
        copy.write(out)
    finally:
        layout.close()
    result.output = str(out)
    result.record = record
    return result


def _replace_blobs(copy: _Copy, index: dict, blobs: _Blobs, changed: set[str], result: RedactResult) -> list[dict]:
    """The checkpoint index's blobs that held a secret, each replaced by its filled copy."""
    seen: set[str] = set()
    config_found: list[dict[str, Any]] = []
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict):
            continue
        mt = str(desc.get("mediaType", ""))
        try:
            name = blob_name(str(desc.get("digest", "")))
        except ValueError:
            continue
        kind = "layer" if L.is_layer_type(mt) else mt
        if kind in seen:
            result.notes.append(f"{mt}: the index names more than one such blob; only the first is read and "
                                "redacted, the others are copied as they are")
            continue
        seen.add(kind)
        prefix = next((p for p, t in _TAR_PREFIXES.items() if t == mt), None)
        if prefix is not None and any(m.startswith(prefix) for m in changed):
            copy.replace(name, Path(blobs.tars[prefix].path), prefix, mt)
        elif kind == "layer" and "rootfs-diff.tar" in changed:
            layer = blobs.files["rootfs-diff.tar"]
            assert isinstance(layer, Path)
            copy.replace(name, layer, "rootfs-diff.tar", mt)
        elif mt == L.MT_CONFIG:
            original = copy.read(name)
            spec = blobs.files.get(SPEC)
            filled, config_found = _fill_config(original, spec if isinstance(spec, bytes) else None)
            if filled != original:
                if L.spec_of_config_blob(filled) != (spec if isinstance(spec, bytes) else L.spec_of_config_blob(original)):
                    raise CkptError("the filled config blob does not decode to the filled runtime spec: not written")
                copy.replace(name, filled, "spec.dump (the config blob)", mt)
        elif mt != MT_REDACTED_RECORD and prefix is None and kind != "layer":
            with copy.layout.open(name) as src:
                seen_rules = content.look_through(src, copy.layout.members[name].size)
            if seen_rules:
                result.not_redacted[f"{mt} blob"] = seen_rules
    return config_found
