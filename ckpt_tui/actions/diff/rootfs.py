"""Comparing the root file-system diffs: what the container's files are in each dump.

Each path is, in a dump, an entry of ``rootfs-diff.tar`` (created or changed in the
container), deleted (a whiteout or ``deleted.files``), or neither (the image's own file,
or nothing). Between A and B a path is *added* when B has it and A did not (or A had it
deleted), *removed* when A had it and B does not (B deleted it, or it is simply gone from
the diff: a file created in the container and then removed leaves no trace), *modified*
when both have it and its type, size, mode, owner, link target or content differ. The
content of regular files of the same size is compared by SHA-256, one pass over each tar.
"""

from __future__ import annotations

from ...model.checkpoint import Checkpoint
from ...model.rootfs import rootfs_digests
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
    digests = []
    for ck, side in ((ck_a, "A"), (ck_b, "B")):
        found, problem = rootfs_digests(ck, same_size)
        if problem:
            problems.append(f"{side}: {problem}; the content of the files after it was not compared")
        digests.append(found)
    da, db = digests
    for path in sorted(set(sa) | set(sb)):
        a, b = sa.get(path), sb.get(path)
        ha, hb = da.get(path), db.get(path)
        if not keep_unchanged and _same(a, b, ha, hb):
            section.unlisted += 1  # the common case, decided without building a node
            continue
        node = _file_node("/" + path, a, b, ha, hb)
        if node.status is Status.UNCHANGED and not keep_unchanged:
            section.unlisted += 1
            continue
        section.add(node)
    return section


def _same(a: RootfsEntry | str | None, b: RootfsEntry | str | None, digest_a: bytes | None,
          digest_b: bytes | None) -> bool:
    if isinstance(a, RootfsEntry) and isinstance(b, RootfsEntry):
        return (a.type, a.size, a.mode & 0o7777, a.uid, a.gid, a.linkname, digest_a) == \
            (b.type, b.size, b.mode & 0o7777, b.uid, b.gid, b.linkname, digest_b)
    return a == b


def _file_node(path: str, a: RootfsEntry | str | None, b: RootfsEntry | str | None,
               digest_a: bytes | None, digest_b: bytes | None) -> Node:
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
        if digest_a is not None and digest_b is not None:
            node.change("content (sha256)", digest_a.hex(), digest_b.hex())
            if digest_a != digest_b and not node.note:
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
