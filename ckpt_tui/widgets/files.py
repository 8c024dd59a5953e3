"""Files pane: the root FS diff as a tree (like dive), children added on expand.

A one-letter marker column keeps it readable without colour: ``C`` changed or
added (the diff cannot tell which without the base image), ``D`` deleted
(deleted.files and whiteouts), blank for a directory that only holds changes.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import NodeID, TreeNode

from ..model.rootfs import read_rootfs_file
from ..model.types import RootfsDiff
from . import format as fmt
from .base import ExportPayload, ExportRequest, Pane, dumps
from .fileindex import DiffFilter, FileNode, build_index
from .format import esc

__all__ = ["FileNode", "FilesPane", "FilesTree", "build_index"]  # (the index lives in fileindex)

MAX_CHILDREN = 1000
AUTO_EXPAND_LIMIT = 2000
SMALL_DIFF = 200  # a diff with at most this many entries opens fully expanded
NAME_COLUMN = 56  # the marker and size columns start here, whatever the depth


class FilesTree(Tree[FileNode]):
    """The diff tree. d: only deleted, l: only large, >: sort by name/size (``o`` opens a checkpoint)."""

    BINDING_GROUP_TITLE = "Files tree"

    COMPONENT_CLASSES = Tree.COMPONENT_CLASSES | {
        "files--deleted", "files--changed", "files--dir", "files--size", "files--marker-d", "files--marker-c",
    }

    BINDINGS = [
        Binding("d", "toggle_deleted", "Deleted", tooltip="Only deleted files (again: all)", id="files.only_deleted"),
        Binding("l", "toggle_large", "Large", tooltip="Only large files, 100 KiB and up (again: all)", id="files.only_large"),
        Binding("greater_than_sign", "toggle_sort", "Sort", tooltip="Sort by name or by size", id="files.sort"),
        Binding("enter", "open", "View", tooltip="View the file (text or hex)", id="files.view"),
    ]

    only_deleted: reactive[bool] = reactive(False, init=False)
    only_large: reactive[bool] = reactive(False, init=False)
    sort_by_size: reactive[bool] = reactive(False, init=False)

    @dataclass
    class ViewFile(Message):
        node: FileNode
        volume: RootfsDiff | None = None  # the volume it is in (None: the root FS diff)

    def __init__(self, index: FileNode, volume: RootfsDiff | None = None, **kwargs: Any) -> None:
        self.index = index
        self.volume = volume  # a volume's whole contents (not a diff: no C / D), None for the root FS diff
        self.filter_text = ""
        self._filter = DiffFilter(index)
        self._populated: set[NodeID] = set()  # directory nodes whose children are added
        super().__init__("/", data=index, **kwargs)
        self.show_root = True
        self.guide_depth = 3
        self.auto_expand = False

    def on_mount(self) -> None:
        self.rebuild()

    # -- filtering ---------------------------------------------------------
    @property
    def filtering(self) -> bool:
        return self._filter.active

    def shows_node(self, node: FileNode) -> bool:
        return self._filter.shows(node)

    def shown_totals(self, node: FileNode) -> tuple[int, int]:
        """(bytes, deleted entries) of what the current filters list below the directory ``node``."""
        return self._filter.totals(node)

    def shows(self, path: str) -> bool:
        """Whether the current filters let ``path`` (and the directories above it) be listed."""
        return self._filter.shows_path(path)

    def reveal(self, node: TreeNode[FileNode]) -> None:
        """Put the cursor on ``node`` and scroll to it, now. A node's line is only known once the
        tree has laid out its lines (-1 until then, e.g. right after a rebuild), so lay them out."""
        self._tree_lines  # noqa: B018  (builds the line cache: Tree has no public call for it)
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)

    def clear_filters(self) -> None:
        """Drop "only deleted", "only large" and the text filter (the sort order stays); one rebuild."""
        self.set_reactive(FilesTree.only_deleted, False)
        self.set_reactive(FilesTree.only_large, False)
        self.filter_text = ""
        self.rebuild()

    def _sorted_children(self, node: FileNode) -> list[FileNode]:
        children = [c for c in node.children.values() if self.shows_node(c)]
        if self.sort_by_size:
            children.sort(key=lambda c: (-c.size, fmt.natural_key(c.name)))
        else:
            children.sort(key=lambda c: (not c.is_dir, fmt.natural_key(c.name)))
        return children

    def populate(self, tree_node: TreeNode[FileNode]) -> int:
        """Add the children of ``tree_node`` (once). Returns how many were added."""
        data = tree_node.data
        if data is None or tree_node.id in self._populated:
            return 0
        self._populated.add(tree_node.id)
        tree_node.remove_children()
        children = self._sorted_children(data)
        for child in children[:MAX_CHILDREN]:
            if child.is_dir and child.children:
                tree_node.add(child.name, data=child, allow_expand=True)
            else:
                tree_node.add_leaf(child.name, data=child)
        if len(children) > MAX_CHILDREN:
            tree_node.add_leaf(f"… {fmt.count(len(children) - MAX_CHILDREN)} more (use / to narrow)", data=None)
        return len(children)

    def rebuild(self) -> None:
        self._filter = DiffFilter(self.index, only_deleted=self.only_deleted, only_large=self.only_large,
                                  text=self.filter_text)
        self.clear()
        self._populated.clear()
        root = self.root
        root.data = self.index
        self.populate(root)
        root.expand()
        small = len(self.index.children) and self._count_nodes(SMALL_DIFF + 1) <= SMALL_DIFF
        if self.filtering or small:  # show what matched: expand breadth-first up to a bound
            budget = AUTO_EXPAND_LIMIT
            queue = list(root.children)
            while queue and budget > 0:
                node = queue.pop(0)
                if node.data is not None and node.data.is_dir and node.allow_expand:
                    budget -= self.populate(node) or 1
                    node.expand()
                    queue.extend(node.children)
        if self.filtering:
            # every directory's size under the filters, in one pass now, rather than on the
            # first scroll that repaints the root line (80 ms for 100,000 entries)
            self.shown_totals(self.index)
        self.refresh_bindings()

    def _count_nodes(self, cap: int) -> int:
        count = 0
        stack = [self.index]
        while stack and count < cap:
            node = stack.pop()
            count += 1
            stack.extend(node.children.values())
        return count

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.rebuild()

    def watch_only_deleted(self) -> None:
        self.rebuild()

    def watch_only_large(self) -> None:
        self.rebuild()

    def watch_sort_by_size(self) -> None:
        self.rebuild()

    def action_toggle_deleted(self) -> None:
        self.only_deleted = not self.only_deleted

    def action_toggle_large(self) -> None:
        self.only_large = not self.only_large

    def action_toggle_sort(self) -> None:
        self.sort_by_size = not self.sort_by_size

    def action_open(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None:
            return
        if node.data.is_dir:
            node.toggle()
            return
        self.post_message(self.ViewFile(node.data, self.volume))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[FileNode]) -> None:
        event.stop()
        self.populate(event.node)

    # -- rendering ---------------------------------------------------------
    def _component_style(self, name: str) -> Style:
        """A component style, or no style before the widget has its styles (width computations)."""
        try:
            return self.get_component_rich_style(name, partial=True)
        except KeyError:
            return Style()

    def render_label(self, node: TreeNode[FileNode], base_style: Style, style: Style) -> Text:
        data = node.data
        if data is None:
            return Text.assemble(("", base_style), (str(node._label), style))
        get = self._component_style
        if data is self.index:
            summary = (f"/ {fmt.size(data.size)} in {fmt.plural(data.changed_count, 'entry', 'entries')}"
                       if self.volume is not None else
                       f"/ {fmt.size(data.size)} in {fmt.count(data.changed_count)} changed, "
                       f"{fmt.count(data.deleted_count)} deleted")
            if self.filtering:  # the line above is the whole diff; say what the filters leave
                shown_size, shown_deleted = self.shown_totals(data)
                summary += (f" · shown: {fmt.plural(shown_deleted, 'deleted entry', 'deleted entries')}"
                            if self.only_deleted else f" · shown: {fmt.size(shown_size)}")
            if self.only_deleted:
                summary += "  [only deleted]"
            if self.only_large:
                summary += "  [only large]"
            if self.filter_text:
                summary += f"  [filter: {self.filter_text}]"
            if self.sort_by_size:
                summary += "  [by size]"
            return Text(summary, style=style)
        marker = data.marker if self.volume is None else " "
        marker_style = get("files--marker-d") if marker == "D" else get("files--marker-c") if marker == "C" else Style()
        if data.status == "deleted":
            size_text = ""  # gone: the diff records no size
        elif data.is_dir and self.only_deleted:
            # what is listed below is deleted files, which have no size: count them instead
            size_text = f"{fmt.count(self.shown_totals(data)[1])} deleted"
        elif data.is_dir and self.filtering:
            size_text = fmt.size(self.shown_totals(data)[0])
        else:
            size_text = fmt.size(data.size)
        if data.status == "deleted":
            name_style = get("files--deleted")
        elif data.is_dir:
            name_style = get("files--dir")
        else:
            name_style = get("files--changed")
        name = data.name + ("/" if data.is_dir else "")
        if data.entry is not None and data.entry.type == "symlink" and data.entry.linkname:
            name += f" → {data.entry.linkname}"
        prefix = ""
        if node._allow_expand:
            prefix = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        depth = 0
        parent = node.parent
        while parent is not None:
            depth += 1
            parent = parent.parent
        if not self.show_root:
            depth -= 1
        room = max(NAME_COLUMN - depth * self.guide_depth - len(prefix), len(name) + 1)
        return Text.assemble(
            (prefix, base_style + style),
            (name, base_style + name_style + style),
            (" " * (room - len(name)), base_style + style),
            (marker, base_style + marker_style + style),
            (size_text.rjust(11), base_style + get("files--size") + style),
        )

    def copy_text(self) -> str:
        node = self.cursor_node
        if node is None or node.data is None:
            return ""
        return node.data.display_path

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            node = self.cursor_node
            return True if node is not None and node.data is not None else None
        return True


class FilesPane(Pane):
    pane_id = "files"
    title = "Files"

    def compose(self) -> ComposeResult:
        volumes = self.checkpoint.volumes
        if not volumes:
            yield from self._rootfs()
            return
        with TabbedContent(id="files-tabs"):  # the volumes' and /dev/shm's contents beside the diff
            with TabPane("Root FS diff", id="files-tab-rootfs"):
                yield from self._rootfs()
            for i, volume in enumerate(volumes):
                title = volume.label + (f" on {volume.mount}" if volume.mount and volume.mount != volume.label else "")
                with TabPane(esc(title), id=f"files-tab-{i}"):
                    files = sum(1 for e in volume.entries if e.type != "dir")
                    yield Static(f"{esc(title)}: {fmt.plural(files, 'entry', 'entries')}, {fmt.size(volume.size)}  "
                                 f"[$text-muted]{esc(volume.member)} · Enter view[/]", classes="pane-summary")
                    yield FilesTree(build_index(volume), volume=volume, id=f"files-volume-{i}")

    def _rootfs(self) -> ComposeResult:
        yield Static(id="files-summary", classes="pane-summary")
        diff = self.checkpoint.rootfs
        if diff.present or diff.entries or diff.deleted:
            index = build_index(diff)
            # the index lives as long as the pane: keep the collector from scanning it again and
            # again (one node per root-FS entry; a full collection over 100,000 took ~100 ms)
            gc.freeze()
            yield FilesTree(index, id="files-tree")
        else:
            yield Static("[$text-muted]This checkpoint has no root FS diff (it was made with "
                         "--ignore-rootfs, or the engine keeps none).[/]", id="files-empty")

    def on_mount(self) -> None:
        diff = self.checkpoint.rootfs
        changed = sum(1 for e in diff.entries if e.type not in ("dir", "whiteout"))
        total = sum(e.size for e in diff.entries if e.type not in ("dir", "whiteout"))
        deleted = len({p.strip("/") for p in diff.deleted} |
                      {e.path for e in diff.entries if e.type == "whiteout"})
        text = (f"{fmt.plural(changed, 'changed file')} ({fmt.size(total)}), {fmt.count(deleted)} deleted"
                + (f", layer {diff.compressed}" if diff.compressed else "")
                + "   [$text-muted]d only deleted · l only large · > sort · Enter view[/]")
        self.query_one("#files-summary", Static).update(text)

    @property
    def files_tree(self) -> FilesTree | None:
        """The root FS diff's tree, or None when the checkpoint has no root FS diff."""
        return next(self.query("#files-tree").results(FilesTree), None)

    def copy_text(self) -> str:
        tree = self.files_tree
        return tree.copy_text() if tree else ""

    def show_target(self, target: Any) -> None:
        """Reveal a path (``/etc/motd`` or ``etc/motd``) in the tree."""
        tree = self.files_tree
        if tree is None or not isinstance(target, str):
            return
        if not tree.shows(target):  # a filter or mode hides it: drop them, or the jump lands on nothing
            tree.clear_filters()
            self.notify(f"Filters cleared to show {target if target.startswith('/') else '/' + target}.",
                        timeout=3)
        parts = [p for p in target.strip("/").split("/") if p]
        node = tree.root
        for part in parts:
            tree.populate(node)
            node.expand()
            match = next((c for c in node.children if c.data is not None and c.data.name == part), None)
            if match is None:
                break
            node = match
        tree.reveal(node)

    def export_payload(self) -> ExportPayload:
        focused = self.screen.focused if self.is_mounted else None
        tree = focused if isinstance(focused, FilesTree) and focused in self.query(FilesTree) else self.files_tree
        if tree is None or tree.cursor_node is None or tree.cursor_node.data is None:
            return None
        data = tree.cursor_node.data
        if not data.is_dir and data.status != "deleted":
            checkpoint, volume = self.checkpoint, tree.volume
            return ExportRequest(default_name=data.name,
                                 what=f"/{data.path} from the {volume.label if volume else 'root FS diff'}",
                                 producer=lambda: read_rootfs_file(checkpoint, data.path, None, volume))

        def tree_json(node: FileNode) -> dict:
            out: dict[str, Any] = {"path": node.display_path, "status": node.status or "dir", "size": node.size}
            if node.is_dir:
                out["children"] = [tree_json(c) for c in sorted(node.children.values(), key=lambda c: c.name)]
            return out

        name = (data.path.replace("/", "_") or "rootfs") + "-diff.json"
        return name, dumps(tree_json(data))
