"""A renderer-neutral table: typed cells, so each format prints them its own way.

Cell kinds: ``text``; ``int`` (exact, grouped with commas in table/markdown, raw in csv);
``pct`` (a fraction, printed as 12.3%); ``ratio`` (printed as 3.15x); ``num`` (a measured or
derived float such as a time in ms, printed to 3 significant digits; raw in csv).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..units import percent


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str = "text"  # text | int | pct | ratio | num

    @property
    def right(self) -> bool:
        return self.kind != "text"


@dataclass
class Table:
    title: str
    columns: list
    rows: list = field(default_factory=list)
    total: dict | None = None
    notes: list = field(default_factory=list)


def fmt(value, kind: str) -> str:
    if value is None or value == "":
        return "" if value == "" else "-"
    if kind == "int":
        return f"{value:,}"
    if kind == "pct":
        return percent(value, 1) if isinstance(value, float) else str(value)
    if kind == "num":
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    if kind == "ratio":
        return f"{value:.2f}x" if isinstance(value, float) else str(value)
    return str(value)


def shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)
