"""The render layer: every output is a format chosen by name from one registry.

A document (a report, a comparison, the list of built-ins, a check, a verification, a sweep)
offers two things: its renderer-neutral Tables (views.py, checkview.py, ...) and its JSON
object (jsondoc.py and the documents' own builders). :func:`output` picks the format:
``json`` writes the object with the one JSON writer (jsonfmt.json_text); every other format
is a table writer registered in ``WRITERS`` (``table``: rich text; ``markdown``; ``csv``).
Each writer escapes the text it writes for its output (flopcount.render.escape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..records import Format, Unit

#: table writers by format name: ``(tables, width, color) -> str``
WRITERS: dict = {}


def register(name: str, writer: Callable) -> None:
    """Add a table writer; a name registered twice is a bug, refused."""
    if name in WRITERS or name == "json":
        raise ValueError(f"output format `{name}` is already registered")
    WRITERS[name] = writer


def _table(tables, width=None, color=None):
    from .text import rich_text

    return rich_text(tables, width, color)


def _markdown(tables, width=None, color=None):
    from .text import markdown

    return markdown(tables)


def _csv(tables, width=None, color=None):
    from .csvfmt import csv_text

    return csv_text(tables)


register("table", _table)
register("csv", _csv)
register("markdown", _markdown)

#: every format a command's --format accepts, in the order --help shows them
FORMATS = ("table", "json", "csv", "markdown")


def render(tables: list, fmt: Format, width: int | None = None, color: bool | None = None) -> str:
    """Tables as text in a table format (``table``, ``markdown``, ``csv``)."""
    writer = WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"`{fmt}` is not a table format (one of {', '.join(WRITERS)})")
    return writer(tables, width, color)


def output(fmt: Format, tables: Callable, json: Callable, width: int | None = None, color: bool | None = None) -> str:
    """One document in format ``fmt``: ``json()`` (its JSON object) for ``json``, else
    ``tables()`` (its Tables) through the registered writer. Both are called lazily: only
    the one asked for is built."""
    if fmt == "json":
        from .jsonfmt import json_text

        return json_text(json())
    return render(tables(), fmt, width, color)


def _chunks(doc: dict) -> Iterator[str]:
    # ``stream``: the JSON text in pieces, its rows made as they are written (jsonfmt.json_chunks);
    # flopcount.cli_errors.emit writes them as they come (issue 17)
    from .jsonfmt import json_chunks

    return json_chunks(doc)


def report(
    rep,
    fmt: Format,
    collapse: bool = False,
    unit: Unit = "macs",
    top: int | None = None,
    width: int | None = None,
    total: bool = True,
    columns: tuple = (),
    depth: int | None = None,
    dtype: str = "fp32",
    stream: bool = False,
) -> str | Iterator[str]:
    """``flopcount report``'s output (``total=False``: no total row in a table, CSV or markdown;
    ``columns``, ``depth``, ``dtype``: see flopcount.render.views.report_tables; ``stream``: JSON
    in pieces, written as they come)."""
    if stream and fmt == "json":
        return _chunks(_jsondoc().report_doc(rep, collapse, unit))
    return output(
        fmt,
        lambda: _views().report_tables(rep, collapse, unit, top, total, columns, depth, dtype),
        lambda: _jsondoc().report_doc(rep, collapse, unit),
        width,
    )


def compare(
    reports: list,
    fmt: Format,
    collapse: bool = False,
    unit: Unit = "macs",
    width: int | None = None,
    top: int | None = None,
    stream: bool = False,
    columns: tuple = (),
    dtype: str = "fp32",
    depth: int | None = None,
) -> str | Iterator[str]:
    """``flopcount compare``'s output (``top``: the K costliest per-layer rows; ``columns``,
    ``dtype``, ``depth``: see flopcount.render.views.compare_tables; ``stream``: JSON in pieces,
    written as they come)."""
    if stream and fmt == "json":
        return _chunks(_jsondoc().compare_doc(reports, collapse, unit))
    return output(
        fmt,
        lambda: _views().compare_tables(reports, collapse, unit, top, columns, dtype, depth),
        lambda: _jsondoc().compare_doc(reports, collapse, unit),
        width,
    )


def catalog(rows: list, fmt: Format, width: int | None = None) -> str:
    """``flopcount list``'s output (rows from flopcount.catalog.builtin_configs)."""
    return output(fmt, lambda: _views().catalog_tables(rows), lambda: _jsondoc().list_json(rows), width)


def _views():
    from . import views

    return views


def _jsondoc():
    from . import jsondoc

    return jsondoc
