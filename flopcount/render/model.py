"""A renderer-neutral table: typed cells, so each format prints them its own way.

Cell kinds: ``text``; ``int`` (exact, grouped with commas in table/markdown, raw in csv);
``pct`` (a fraction, printed as 12.3%); ``ratio`` (printed as 3.15x); ``num`` (a measured or
derived float such as a time in ms, printed to 3 significant digits; raw in csv).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..records import ColumnKind

KINDS = ("text", "int", "pct", "ratio", "num")

# Plain classes, not dataclasses: `dataclasses` imports `inspect`, which costs start-up time on
# every `flopcount report` (see flopcount.graph).


class Column:
    """A column: its header, the row key it shows, and the kind of its cells (see above)."""

    __slots__ = ("header", "key", "kind", "drop")

    def __init__(self, header: str, key: str, kind: ColumnKind = "text", drop: int | None = None):
        if kind not in KINDS:
            raise ValueError(f"column kind `{kind}` is not one of {', '.join(KINDS)}")
        self.header, self.key, self.kind = header, key, kind
        #: on a terminal too narrow for the whole table: columns with a ``drop`` rank are left
        #: out, the lowest rank first, until the table fits (None: always shown); see text.py
        self.drop = drop

    @property
    def right(self) -> bool:
        return self.kind != "text"

    def __eq__(self, other) -> bool:
        return isinstance(other, Column) and (self.header, self.key, self.kind) == (other.header, other.key, other.kind)

    def __hash__(self) -> int:
        return hash((self.header, self.key, self.kind))

    def __repr__(self) -> str:
        return f"Column({self.header!r}, {self.key!r}, {self.kind!r})"


class Table:
    """Rows (mappings of column key -> value), an optional total row, and notes below."""

    __slots__ = ("title", "columns", "rows", "total", "notes", "row_kind")

    def __init__(
        self,
        title: str,
        columns: list,
        rows: list | None = None,
        total: dict | None = None,
        notes: list | None = None,
        row_kind: str = "row",
    ):
        self.title, self.columns = title, columns
        #: what a body row is (``layer``, ``block``, ``model``): CSV's ``row`` column beside ``total``
        self.row_kind = row_kind
        self.rows = [] if rows is None else rows
        self.total = total
        self.notes = [] if notes is None else notes

    def __repr__(self) -> str:
        return f"Table({self.title!r}, {len(self.columns)} columns, {len(self.rows)} rows)"


def fmt(value, kind: str) -> str:
    if value is None or value == "":
        return "" if value == "" else "-"
    if kind == "int":
        return f"{value:,}"
    if kind == "pct":
        return f"{100 * value:.1f}%" if isinstance(value, float) else str(value)
    if kind == "num":
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    if kind == "ratio":
        return f"{value:.2f}x" if isinstance(value, float) else str(value)
    return str(value)


def column_texts(values: list, kind: str) -> list:
    """``[fmt(v, kind) for v in values]``, with a column of plain ints or of text done in one
    pass (a table's cells are formatted a column at a time: the same strings, fewer calls)."""
    if kind == "int":
        if all(v.__class__ is int for v in values):
            return [f"{v:,}" for v in values]
    elif kind == "text":
        if all(v.__class__ is str for v in values):
            return list(values)
    return [fmt(v, kind) for v in values]


def shape_text(shape) -> str:
    return "x".join(map(str, shape))
