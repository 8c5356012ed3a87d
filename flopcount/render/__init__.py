"""Renderers: a report or comparison becomes Tables (views.py), then text in one format."""
from __future__ import annotations

FORMATS = ("table", "json", "csv", "markdown")


def render(tables: list, fmt: str, width: int | None = None, color: bool | None = None) -> str:
    if fmt == "markdown":
        from .text import markdown

        return markdown(tables)
    if fmt == "csv":
        from .csvfmt import csv_text

        return csv_text(tables)
    from .text import rich_text

    return rich_text(tables, width, color)
