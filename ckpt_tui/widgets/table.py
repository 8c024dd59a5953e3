"""A DataTable that remembers its rows so ``/`` can filter them, sorts by column, and knows
what to copy.

Cells are given as plain strings (never parsed as markup), rich ``Text``, or
``(text, role)`` pairs whose role names a component class styled in app.tcss
(``table--error``, ``table--warning``, ``table--muted``, ``table--ok``,
``table--deleted``, ``table--secret``, ``table--accent``).

Sorting: a click on a column's header sorts by it (again: the other way round), ``>`` sorts
by the next column (after the last: the order the rows were given in) and ``<`` reverses.
A column sorts by its text in natural order (``d2`` before ``d10``, numbers as numbers)
unless ``setup`` gives it a key of the row's payload (sizes by bytes, say).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from ..text import natural_key

ROLES = ("error", "warning", "muted", "ok", "deleted", "secret", "accent")


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, tuple):
        return str(cell[0])
    return str(cell)


SortKey = Callable[[Any], Any]  # the row's payload -> what the column sorts by


class FilterTable(DataTable):
    """DataTable + ``set_filter`` (case-insensitive substring over all cells) + sorting + copy/export."""

    BINDING_GROUP_TITLE = "Table"

    BINDINGS = [
        Binding("greater_than_sign", "sort_next", "Sort by next column", show=False, id="table.sort"),
        Binding("less_than_sign", "sort_reverse", "Reverse the order", show=False, id="table.sort_reverse"),
    ]

    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {f"table--{role}" for role in ROLES}

    def __init__(self, *args: Any, copy_column: int = 0, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(*args, **kwargs)
        self.copy_column = copy_column
        self.filter_text = ""
        self._all_rows: list[tuple[str, Sequence[Any], Any]] = []  # (key, cells, payload)
        self.payloads: dict[str, Any] = {}
        self.columns_spec: list[str] = []
        self.copy_value: Callable[[Any, Sequence[Any]], str] | None = None
        self.sort_keys: dict[str, SortKey] = {}
        self.sort_column: int | None = None  # None: the order the rows were given in
        self.sort_reverse = False
        self.tree_column: int | None = None  # a column indented by depth: shown flat while sorted

    def setup(self, columns: Sequence[str], *, sort_keys: dict[str, SortKey] | None = None,
              tree_column: int | None = None) -> None:
        self.clear(columns=True)
        self.columns_spec = list(columns)
        self.sort_keys = dict(sort_keys or {})
        self.tree_column = tree_column
        self.sort_column = None
        self.sort_reverse = False
        for column in columns:
            self.add_column(column, key=column)

    def _cell(self, cell: Any) -> Any:
        if isinstance(cell, Text):
            return cell
        if isinstance(cell, tuple):
            text, role = cell
            style = self.get_component_rich_style(f"table--{role}", partial=True) if role else None
            return Text(str(text), style=style or "", no_wrap=True, end="")
        return Text(str(cell), no_wrap=True, end="")

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Any], Any]]) -> None:
        """rows: (key, cells, payload)."""
        self._all_rows = list(rows)
        self.payloads = {key: payload for key, _cells, payload in self._all_rows}
        self._apply()

    def _ordered(self) -> list[tuple[str, Sequence[Any], Any]]:
        rows = list(self._all_rows)
        column = self.sort_column
        if column is not None and 0 <= column < len(self.columns_spec):
            by_payload = self.sort_keys.get(self.columns_spec[column])
            if by_payload is not None:
                rows.sort(key=lambda row: by_payload(row[2]))
            else:
                rows.sort(key=lambda row: natural_key(_plain(row[1][column]).strip()) if column < len(row[1]) else ())
        if self.sort_reverse:
            rows.reverse()
        return rows

    def _apply(self) -> None:
        needle = self.filter_text.lower()
        keep = self.selected_key if self.row_count else None
        flat = self.sort_column is not None and self.tree_column is not None
        self.clear()
        for key, cells, _payload in self._ordered():
            if needle and not any(needle in _plain(c).lower() for c in cells):
                continue
            shown = [c.lstrip() if flat and i == self.tree_column and isinstance(c, str) else c
                     for i, c in enumerate(cells)]
            self.add_row(*(self._cell(c) for c in shown), key=key)
        if keep is not None:
            self.select_key(keep)

    # -- sorting -------------------------------------------------------------------
    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        """Sort by ``column`` (an index of the columns; None: the order the rows were given in)."""
        self.sort_column = column if column is None or 0 <= column < len(self.columns_spec) else None
        self.sort_reverse = reverse
        for index, name in enumerate(self.columns_spec):
            mark = ""
            if index == self.sort_column:
                mark = " ▼" if reverse else " ▲"
            self.columns[ColumnKey(name)].label = Text(name + mark)
        self._apply()
        self.refresh()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        index = event.column_index
        self.sort_by(index, reverse=not self.sort_reverse if index == self.sort_column else False)

    def action_sort_next(self) -> None:
        column = self.sort_column
        nxt = 0 if column is None else column + 1
        self.sort_by(nxt if nxt < len(self.columns_spec) else None)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)

    def update_row(self, key: str, cells: Sequence[Any], payload: Any = None) -> None:
        for i, (k, _c, p) in enumerate(self._all_rows):
            if k == key:
                self._all_rows[i] = (key, cells, p if payload is None else payload)
                break
        try:
            for column, cell in zip(self.columns_spec, cells, strict=False):
                self.update_cell(key, column, self._cell(cell))
        except CellDoesNotExist:  # the row is filtered out: it shows the new cells when it comes back
            pass

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply()

    @property
    def total_rows(self) -> int:
        return len(self._all_rows)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def payload_of(self, row_key: RowKey) -> Any:
        """The payload of the row ``row_key`` names (from a RowSelected / RowHighlighted)."""
        return self.payloads.get(row_key.value) if row_key.value is not None else None

    @property
    def selected_payload(self) -> Any:
        key = self.selected_key
        return None if key is None else self.payloads.get(key)

    def copy_text(self) -> str:
        key = self.selected_key
        if key is None:
            return ""
        cells = self.get_row(key)
        if self.copy_value is not None:
            return self.copy_value(self.payloads.get(key), cells)
        return _plain(cells[self.copy_column])

    def export_rows(self) -> list[dict[str, str]]:
        return [
            {column: _plain(cell) for column, cell in zip(self.columns_spec, cells, strict=False)}
            for _key, cells, _payload in self._all_rows
        ]

    def select_key(self, key: str) -> bool:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:  # filtered out, or gone
            return False
        self.move_cursor(row=index, animate=False)
        return True
