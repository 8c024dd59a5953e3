"""The root FS diff as a directory index (sizes summed, counts below each directory), and
which of its entries the files tree lists under "only deleted", "only large" and a text filter.

No widgets here: the index is built once per pane, a :class:`DiffFilter` once per change of
the tree's filters (its memoised sizes are then those of what is listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..model.types import RootfsDiff, RootfsEntry

LARGE = 100 * 1024  # "only large": files of at least 100 KiB


@dataclass(eq=False, slots=True)
class FileNode:
    """One path of the index (slots: one per root FS entry, 100,000 and more)."""

    path: str  # relative, "" for the root
    name: str
    is_dir: bool = False
    status: str = ""  # "changed" | "deleted" | "" (a directory holding changes)
    entry: RootfsEntry | None = None
    size: int = 0  # summed for directories
    children: dict[str, FileNode] = field(default_factory=dict)
    deleted_count: int = 0
    changed_count: int = 0
    largest: int = 0  # largest file below (or itself)

    @property
    def marker(self) -> str:
        if self.status == "deleted":
            return "D"
        if self.status == "changed" and not self.is_dir:
            return "C"
        return " "

    @property
    def display_path(self) -> str:
        return "/" + self.path


def build_index(diff: RootfsDiff) -> FileNode:
    """Directory index of the diff: sizes summed, counts of deleted/changed below each dir."""
    root = FileNode("", "/", is_dir=True)

    def ensure_dir(path: str) -> FileNode:
        node = root
        if not path:
            return node
        so_far = []
        for part in path.split("/"):
            so_far.append(part)
            child = node.children.get(part)
            if child is None:
                child = FileNode("/".join(so_far), part, is_dir=True)
                node.children[part] = child
            elif not child.is_dir:
                child.is_dir = True
            node = child
        return node

    def add_leaf(path: str, status: str, entry: RootfsEntry | None) -> None:
        path = path.strip("/")
        if not path:
            return
        parent_path, _, name = path.rpartition("/")
        parent = ensure_dir(parent_path)
        existing = parent.children.get(name)
        if existing is not None:
            if status == "deleted":
                existing.status = "deleted"
            return
        parent.children[name] = FileNode(path, name, is_dir=False, status=status, entry=entry,
                                         size=entry.size if entry else 0)

    deleted = set()
    for entry in diff.entries:
        path = entry.path.strip("/")
        if entry.type == "whiteout":
            head, _, name = path.rpartition("/")
            real = name[4:] if name.startswith(".wh.") else name
            deleted.add(f"{head}/{real}".strip("/"))
            continue
        if entry.type == "dir":
            node = ensure_dir(path)
            node.entry = entry
            node.status = node.status or "changed"
            continue
        add_leaf(path, "changed", entry)
    for path in diff.deleted:
        deleted.add(path.strip("/"))
    for path in sorted(deleted):
        if path:
            add_leaf(path, "deleted", None)

    # sums, iteratively (deep trees must not hit the recursion limit)
    order: list[FileNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children.values())
    for node in reversed(order):
        if node.is_dir:
            node.size = sum(c.size for c in node.children.values() if c.status != "deleted")
            node.deleted_count = sum(c.deleted_count for c in node.children.values())
            node.changed_count = sum(c.changed_count for c in node.children.values())
            node.largest = max((c.largest for c in node.children.values()), default=0)
        else:
            node.deleted_count = 1 if node.status == "deleted" else 0
            node.changed_count = 1 if node.status == "changed" else 0
            node.largest = node.size if node.status != "deleted" else 0
    return root


class DiffFilter:
    """Which entries of ``index`` are listed; fixed settings, memoised answers."""

    def __init__(self, index: FileNode, *, only_deleted: bool = False, only_large: bool = False,
                 text: str = "") -> None:
        self.index = index
        self.only_deleted = only_deleted
        self.only_large = only_large
        self.text = text
        self._needle = text.lower()
        self._match_cache: dict[str, bool] = {}
        self._shown_cache: dict[str, tuple[int, int]] = {}

    @property
    def active(self) -> bool:
        return bool(self.only_deleted or self.only_large or self.text)

    def shows(self, node: FileNode) -> bool:
        if self.only_deleted and node.deleted_count == 0:
            return False
        if self.only_large and node.largest < LARGE:
            return False
        if self._needle:
            if self._needle in node.path.lower():
                return True
            if not node.is_dir:
                return False
            return self._dir_has_match(node)
        return True

    def _dir_has_match(self, node: FileNode) -> bool:
        cache = self._match_cache
        if node.path in cache:
            return cache[node.path]
        stack = list(node.children.values())
        found = False
        while stack and not found:
            child = stack.pop()
            if self._needle in child.path.lower():
                found = True
            elif child.is_dir:
                stack.extend(child.children.values())
        cache[node.path] = found
        return found

    def totals(self, node: FileNode) -> tuple[int, int]:
        """(bytes, deleted entries) of what is listed below the directory ``node``.

        A file is listed exactly when it passes ``shows`` (its directories then pass too), so a
        directory's size under "only deleted", "only large" or a text is of the files listed
        under it, not of the hidden ones. One iterative pass, memoised."""
        cache = self._shown_cache
        if node.path in cache:
            return cache[node.path]
        order: list[FileNode] = []
        stack = [node]
        while stack:
            current = stack.pop()
            if current.path in cache:
                continue
            order.append(current)
            stack.extend(c for c in current.children.values() if c.is_dir)
        for current in reversed(order):
            size = deleted = 0
            for child in current.children.values():
                if child.is_dir:
                    child_size, child_deleted = cache[child.path]
                    size += child_size
                    deleted += child_deleted
                    if child.status == "deleted" and self.shows(child):
                        deleted += 1  # a deleted directory is an entry of its own
                elif self.shows(child):
                    if child.status == "deleted":
                        deleted += 1
                    else:
                        size += child.size
            cache[current.path] = (size, deleted)
        return cache[node.path]

    def shows_path(self, path: str) -> bool:
        """Whether ``path`` (and the directories above it) is listed."""
        node: FileNode | None = self.index
        for part in (p for p in path.strip("/").split("/") if p):
            node = node.children.get(part) if node is not None else None
            if node is None:
                return True  # not in the diff: no filter hides it
            if not self.shows(node):
                return False
        return True
