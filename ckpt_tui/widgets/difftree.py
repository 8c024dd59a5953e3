"""One area of a checkpoint diff as a tree, with dive's markers, colours and toggles.

Reads the typed result tree of :mod:`ckpt_tui.actions.diff` and words it with its
renderer (``render.node_text`` / ``change_text``: escaped, secrets masked unless revealed).
``a`` ``r`` ``m`` ``u`` show or hide the added, removed, modified and unchanged nodes (a
hidden node still shows when something below it is shown). Large areas (a 100,000-entry
root FS diff) add their children a screenful at a time: the last row says how many more.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..actions.diff import Change, Node, Status
from ..actions.diff.render import Filter, change_line, inline_change, node_text, visible

STYLES = {Status.ADDED: "green", Status.REMOVED: "red", Status.MODIFIED: "yellow", Status.UNCHANGED: ""}
BATCH = 500  # children added at once; "... N more" loads the next batch


class More:
    """The row that stands for children not added yet."""

    def __init__(self, parent: Node, start: int) -> None:
        self.parent = parent
        self.start = start


def label(status: Status, text: str) -> Text:
    out = Text(f"{status.marker} ", style=STYLES[status] + " bold" if status is not Status.UNCHANGED else "dim")
    out.append(text, style=STYLES[status])
    return out


class DiffTree(Tree[Any]):
    """A diff section (a :class:`Node`) as a tree; the toggles are :attr:`flt`."""

    BINDING_GROUP_TITLE = "Diff"
    BINDINGS = [
        Binding("a", "toggle_status('added')", "Added", id="diff.added"),
        Binding("r", "toggle_status('removed')", "Removed", id="diff.removed"),
        Binding("m", "toggle_status('modified')", "Modified", id="diff.modified"),
        Binding("u", "toggle_status('unchanged')", "Unchanged", id="diff.unchanged"),
    ]

    class Toggled(Message):
        """The statuses shown changed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("diff", **kwargs)
        self.show_root = False
        self.guide_depth = 3
        self.section: Node | None = None
        self.flt = Filter()
        self.reveal = False

    # -- content -------------------------------------------------------------
    def show(self, section: Node | None, *, reveal: bool | None = None, everything: bool = False) -> None:
        """Show ``section`` (``everything``: every status, whatever the toggles, as for the
        layers of a dump chain, which describe rather than differ)."""
        self.section = section
        if reveal is not None:
            self.reveal = reveal
        self._everything = everything
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        if self.section is not None:
            self._fill(self.root, self.section, 0)
        self.root.expand()

    @property
    def _filter(self) -> Filter:
        return Filter.everything() if getattr(self, "_everything", False) else self.flt

    def _fill(self, into: TreeNode[Any], node: Node, start: int) -> None:
        flt = self._filter
        if start == 0 and node is not self.section:
            for change in node.changes:
                if not inline_change(node, change):
                    into.add_leaf(self._change_label(node, change), data=change)
        shown = [c for c in node.children if visible(c, flt)]
        for child in shown[start : start + BATCH]:
            kids = bool(child.changes and not _inline_all(child)) or any(visible(c, flt) for c in child.children)
            item = into.add(label(child.status, node_text(child, self.reveal)), data=child, allow_expand=kids)
            if kids and (child.status is not Status.UNCHANGED or node is self.section) and len(shown) <= 64:
                self._fill(item, child, 0)  # small trees open up; big ones fill on expand
                item.expand()
        if len(shown) > start + BATCH:
            into.add_leaf(Text(f"… {len(shown) - start - BATCH:,} more (enter to show)", style="dim italic"),
                          data=More(node, start + BATCH))

    def _change_label(self, node: Node, change: Change) -> Text:
        return label(*change_line(node, change, self.reveal))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        item = event.node
        if isinstance(item.data, Node) and not item.children:
            self._fill(item, item.data, 0)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        item = event.node
        if isinstance(item.data, More):
            parent = item.parent or self.root
            more = item.data
            item.remove()
            self._fill(parent, more.parent, more.start)
            event.stop()

    # -- toggles -------------------------------------------------------------
    def action_toggle_status(self, status: str) -> None:
        st = Status(status)
        if st in self.flt.shown:
            self.flt.shown.discard(st)
        else:
            self.flt.shown.add(st)
        self.rebuild()
        self.post_message(self.Toggled())

    def toggles_text(self) -> Text:
        """``+ added  ~ modified  - removed  [ ] unchanged`` with what is shown lit."""
        out = Text()
        for st, key in ((Status.ADDED, "a"), (Status.MODIFIED, "m"), (Status.REMOVED, "r"), (Status.UNCHANGED, "u")):
            on = st in self.flt.shown
            mark = "x" if on else " "
            out.append(f"{key} [{mark}] {st.marker if st is not Status.UNCHANGED else '='} {st.value}  ",
                       style=(STYLES[st] or "") if on else "dim")
        return out

    @property
    def selected(self) -> Node | None:
        node = self.cursor_node
        data = node.data if node is not None else None
        return data if isinstance(data, Node) else None


def _inline_all(node: Node) -> bool:
    return all(inline_change(node, c) for c in node.changes)
