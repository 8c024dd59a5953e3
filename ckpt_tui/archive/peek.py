"""``peek_metadata``: a checkpoint's config.dump and spec.dump (and its kind and size) read
without opening the whole of it, for listing many checkpoints."""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path
from typing import Any

from .find import KIND_OF_FORMAT
from .index import METADATA_CAP, Context, normalise
from .passes import Declared, describe_format, open_tar_stream
from .ref import open_regular_file, read_head
from .registry.reference import is_remote
from .source import open_source
from .streams import LimitHit, Progress, RangeReader, StreamError, sniff
from .tarstream import NotTar, TarError, TarReader
from .types import ArchiveError, Limits, json_document
from .workspace import Workspace


def _parse_json(data: bytes | None, result: dict[str, Any] | None = None, name: str = "") -> dict[str, Any] | None:
    """The JSON object in ``data``; None when it is not one (why is noted in ``result["unreadable"]``
    under ``name``, when given)."""
    if data is None:
        return None
    value, why = json_document(data)
    if why and result is not None:
        result.setdefault("unreadable", {})[name] = why
    return value


def peek_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"config": dict|None, "spec": dict|None, "size": int, "kind": str}`` (and, when
    known, ``config_mtime``; ``unreadable``: {member: why} for a config.dump or spec.dump
    that is there but not a JSON object; for image sources ``description``, ``annotations``
    and ``members``) reading only what it must: a tar stream stops once both files were read. A
    ``docker://`` reference gives what its index, manifest and config say (``registry.listing``)."""
    if is_remote(path):
        from .registry.listing import list_repository

        rows = list_repository(str(path)).rows
        if not rows:
            raise ArchiveError(f"not a checkpoint image: {path} is an ordinary container image")
        meta = rows[0][1]
        if "error" in meta:
            raise ArchiveError(meta["error"])
        return meta
    p = Path(os.fspath(path))
    try:
        st = os.stat(p)
    except OSError as exc:
        raise ArchiveError(f"cannot open {p}: {exc.strerror or exc}") from None
    result: dict[str, Any] = {"config": None, "spec": None, "size": st.st_size, "kind": ""}
    if stat_mod.S_ISDIR(st.st_mode):
        is_image = (p / "index.json").is_file() and (p / "oci-layout").is_file()
        if not is_image:
            result["kind"] = "criu-directory" if (p / "inventory.img").is_file() else "directory"
            total = seen = 0
            for root, dirs, files in os.walk(p):  # (os.walk does not follow links)
                for fn in files:
                    try:
                        total += os.lstat(os.path.join(root, fn)).st_size
                    except OSError:
                        pass
                seen += len(files) + len(dirs)
                if seen > Limits().max_members:  # as far as opening it would index
                    break
            result["size"] = total
            for key, fn in (("config", "config.dump"), ("spec", "spec.dump")):
                fp = p / fn
                try:
                    fst = fp.lstat()  # a link, FIFO or device is not read (as opening does)
                    if stat_mod.S_ISREG(fst.st_mode) and fst.st_size <= METADATA_CAP:
                        result[key] = _parse_json(read_head(fp, METADATA_CAP, nofollow=True), result, fn)
                        if key == "config":
                            result["config_mtime"] = fst.st_mtime
                    elif not stat_mod.S_ISREG(fst.st_mode):
                        result.setdefault("unreadable", {})[fn] = "is not a regular file (a link, FIFO or device): not read"
                except OSError:
                    pass
            return result
        return _peek_by_opening(p, result)
    if not stat_mod.S_ISREG(st.st_mode):
        raise ArchiveError(f"not a checkpoint archive: {p} is neither a regular file nor a directory")
    f = open_regular_file(p)
    image = False
    with f, Workspace() as ws:
        head = os.pread(f.fileno(), min(512, st.st_size), 0) if st.st_size > 0 else b""
        fmt = sniff(head)
        if fmt not in KIND_OF_FORMAT:
            raise ArchiveError(f"not a checkpoint archive: {p}: {describe_format(fmt)}")
        result["kind"] = KIND_OF_FORMAT[fmt]
        ctx = Context(str(p), ws, Limits(), Progress(None, 0))
        raw = RangeReader(f, 0, st.st_size)
        fmt, stream, base, _done = open_tar_stream(ctx, raw, size=st.st_size, path=p, offset=0)
        tr = TarReader(stream, size=st.st_size if base is not None else None)
        declared = Declared(ctx.budget, stream, st.st_size)
        wanted = {"config.dump": "config", "spec.dump": "spec"}
        try:
            for entry in tr.entries():
                if tr.entries_seen > ctx.limits.max_members:
                    break
                declared.check(entry)
                name, _ = normalise(entry.name)
                if name in ("index.json", "oci-layout", "manifest.json") or (name or "").startswith("blobs/"):
                    image = True
                    break
                if name in wanted and entry.kind == "file" and entry.size <= METADATA_CAP:
                    buf = bytearray()
                    if base is not None:
                        buf += os.pread(f.fileno(), entry.size, entry.data_offset)
                    else:
                        tr.copy_data(entry, buf.extend)
                    result[wanted.pop(name)] = _parse_json(bytes(buf), result, name)
                    if name == "config.dump":
                        result["config_mtime"] = entry.mtime
                    if not wanted:
                        break
        except NotTar as exc:
            raise ArchiveError(f"not a checkpoint archive: {p}: not a tar archive ({exc.message})") from None
        except (TarError, StreamError, LimitHit):
            pass
    if image:
        return _peek_by_opening(p, result)
    return result


def _peek_by_opening(p: Path, result: dict[str, Any]) -> dict[str, Any]:
    with Workspace() as ws, open_source(p, workspace=ws) as src:
        result["kind"] = src.kind
        result["description"] = src.description
        result["annotations"] = dict(src.annotations)
        result["members"] = list(src.members)
        if "config.dump" in src.members:
            result["config_mtime"] = src.members["config.dump"].mtime
        for key, fn in (("config", "config.dump"), ("spec", "spec.dump")):
            if src.has(fn) and src.members[fn].size <= METADATA_CAP:
                try:
                    result[key] = _parse_json(src.read(fn), result, fn)
                except ArchiveError:
                    pass
    return result
