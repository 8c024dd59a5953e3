"""Comparing the root file-system diffs: what the container's files are in each dump.

Each path is, in a dump, an entry of ``rootfs-diff.tar`` (created or changed in the
container), deleted (a whiteout or ``deleted.files``), or neither (the image's own file,
or nothing). Between A and B a path is *added* when B has it and A did not (or A had it
deleted), *removed* when A had it and B does not (B deleted it, or it is simply gone from
the diff: a file created in the container and then removed leaves no trace), *modified*
when both have it and its type, size, mode, owner, link target or content differ. The
content of regular files of the same size is compared byte for byte where both tars are
uncompressed (straight from them; the files that differ are hashed for the report), else by
SHA-256 in one pass over each tar.
"""

from __future__ import annotations

from hashlib import sha256

from ...errors import CkptError
from ...model.checkpoint import Checkpoint
from ...model.rootfs import RootfsData, rootfs_digests
from ...model.types import RootfsEntry
from .result import SIZE, Node, Status

DELETED = "deleted"


def _state(ck: Checkpoint) -> dict[str, RootfsEntry | str]:
    """Each path (relative, as the model keeps it: no new string per entry) -> its entry, or
    DELETED."""
    out: dict[str, RootfsEntry | str] = {}
    for path in ck.rootfs.deleted:
        out[path.strip("/")] = DELETED
    for e in ck.rootfs.entries:
        key = e.path if not e.path.startswith("/") else e.path.strip("/")
        out[key] = DELETED if e.status == "deleted" and e.type != "opaque" else e
    return out


def _label(e: RootfsEntry | str | None) -> str:
    if e is None:
        return ""
    if isinstance(e, str):
        return "deleted"
    if e.type == "opaque":
        return "opaque directory (hides the image's contents)"
    if e.type == "symlink":
        return f"symlink -> {e.linkname}"
    if e.type == "file":
        return f"file, {e.size:,} B, {e.mode & 0o7777:04o}"
    return f"{e.type}, {e.mode & 0o7777:04o}"


def files_section(ck_a: Checkpoint, ck_b: Checkpoint, *, keep_unchanged: bool, problems: list[str]) -> Node:
    section = Node("section", "files")
    sa, sb = _state(ck_a), _state(ck_b)
    same_size = {p for p, e in sb.items()
                 if isinstance(e, RootfsEntry) and e.type == "file" and e.size > 0
                 and isinstance(sa.get(p), RootfsEntry) and sa[p].type == "file" and sa[p].size == e.size}  # type: ignore[union-attr]
    content = _contents(ck_a, ck_b, same_size, problems)
    for path in sorted(set(sa) | set(sb)):
        a, b = sa.get(path), sb.get(path)
        digests = content.get(path, UNKNOWN)
        if not keep_unchanged and _same(a, b, digests):
            section.unlisted += 1  # the common case, decided without building a node
            continue
        node = _file_node("/" + path, a, b, digests)
        if node.status is Status.UNCHANGED and not keep_unchanged:
            section.unlisted += 1
            continue
        section.add(node)
    return section


# the content of a file in both, as _contents found it: the same, or the two digests (hex)
SAME_CONTENT = ("", "")
UNKNOWN: tuple[str, str] | None = None


def _contents(ck_a: Checkpoint, ck_b: Checkpoint, paths: set[str], problems: list[str]) -> dict[str, tuple[str, str]]:
    """For files of the same size on both sides: SAME_CONTENT, or (sha256 in A, sha256 in B).
    Where both tars are uncompressed the bytes are compared straight from them and only the
    files that differ are hashed; otherwise both sides are hashed in a pass over their tar."""
    out: dict[str, tuple[str, str]] = {}
    rest = set(paths)
    try:
        with RootfsData(ck_a) as ra, RootfsData(ck_b) as rb:
            theirs = rb.entries
            done = 0
            for path, ea in ra.entries.items():  # in A's tar order
                eb = theirs.get(path)
                if eb is None or path not in paths:
                    continue
                xa, xb = ra.data(ea), rb.data(eb)
                out[path] = SAME_CONTENT if xa == xb else (sha256(xa).hexdigest(), sha256(xb).hexdigest())
                done += 1
                if done % 4096 == 0:
                    ra.drop()
                    rb.drop()
            rest.difference_update(out)
    except (CkptError, OSError, EOFError, ValueError) as exc:
        problems.append(f"the root FS diffs could not be read to the end ({exc}); the content of some files "
                        "was not compared")
        return out
    if rest:
        found = []
        for ck, side in ((ck_a, "A"), (ck_b, "B")):
            digests, problem = rootfs_digests(ck, rest)
            if problem:
                problems.append(f"{side}: {problem}; the content of the files after it was not compared")
            found.append(digests)
        for path in rest:
            ha, hb = found[0].get(path), found[1].get(path)
            if ha is not None and hb is not None:
                out[path] = SAME_CONTENT if ha == hb else (ha.hex(), hb.hex())
    return out


def _same(a: RootfsEntry | str | None, b: RootfsEntry | str | None, digests: tuple[str, str] | None) -> bool:
    if isinstance(a, RootfsEntry) and isinstance(b, RootfsEntry):
        if (a.type, a.size, a.mode & 0o7777, a.uid, a.gid, a.linkname) != \
                (b.type, b.size, b.mode & 0o7777, b.uid, b.gid, b.linkname):
            return False
        return a.type != "file" or a.size == 0 or digests == SAME_CONTENT
    return a == b


def _file_node(path: str, a: RootfsEntry | str | None, b: RootfsEntry | str | None,
               digests: tuple[str, str] | None) -> Node:
    node = Node("file", path, label=_label(b if b is not None and b != DELETED else a))
    a_has = isinstance(a, RootfsEntry)
    b_has = isinstance(b, RootfsEntry)
    if a_has and b_has:
        assert isinstance(a, RootfsEntry) and isinstance(b, RootfsEntry)
        node.change("type", a.type, b.type)
        node.change("size", a.size, b.size, fmt=SIZE)
        node.change("mode", f"{a.mode & 0o7777:04o}", f"{b.mode & 0o7777:04o}")
        node.change("owner", f"{a.uid}:{a.gid}", f"{b.uid}:{b.gid}")
        node.change("link target", a.linkname, b.linkname)
        if digests is not None and digests != SAME_CONTENT:
            node.change("content (sha256)", digests[0], digests[1])
            if not node.note:
                node.note = "content changed"
        return node
    if a == b:  # deleted in both, or neither (cannot happen: the path came from one side)
        return node
    if b_has:
        node.status = Status.ADDED
        node.note = "re-created (it was deleted in A)" if a == DELETED else ""
    elif a_has:
        node.status = Status.REMOVED
        node.note = "deleted" if b == DELETED else "gone from the diff: removed, or back to the image's version"
    elif b == DELETED:
        node.status = Status.REMOVED
        node.note = "deleted: a whiteout or deleted.files"
        node.label = ""
    else:
        node.status = Status.ADDED
        node.note = "no longer deleted: the image's file is back"
        node.label = ""
    return node
