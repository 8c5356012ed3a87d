"""JSON text for the CLI: indented at the top, one line per row.

``json.dumps(obj, indent=2)`` runs Python's pure-Python encoder (the C encoder only
serves compact output) and spreads each layer over a dozen lines: for a 10,000-layer report
that is a fifth of a second and 150,000 lines. Here mappings are indented, and every item of
a list of rows (a mapping inside a list, without lists of rows of its own: a layer, a block,
a sweep row) is written on one line by the C encoder. The value is the same JSON.

Streaming (issue 17): :func:`json_chunks` yields the text piece by piece, and a document may
hold :class:`Rows` in place of a list of rows: each row's mapping is made when its line is
written and dropped after it, so a 100,000-layer report never holds a mapping per row nor
its whole text (``flopcount report --format json`` writes the chunks as they come;
flopcount.cli_errors.emit). :func:`json_text` joins the same chunks: the same text.

Rows may also carry ``lines``: a writer of the rows' text straight from the items (the report's
rows: flopcount.render.jsondoc), without the mapping per row and the encoder's call per row.
It is asked for a batch of items at a time and answers each item's line, or None for an item
it does not write (an unusual value): that one is made with ``make`` and written as any row is,
so the text is the same either way. A batch of lines is one piece of :func:`json_chunks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

# the C encoder and string writer that json.encoder takes from _json, taken from _json itself:
# importing the json package compiles its decoder's and encoder's patterns (5 M instructions,
# 1.5% of a `report --format json`), none of which a report writes with
try:
    from _json import encode_basestring_ascii
    from _json import make_encoder as c_make_encoder
except ImportError:  # pragma: no cover - a Python without the accelerator: json.encoder's own
    from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined,no-redef]


def _encoder():
    """``json.JSONEncoder`` with the compact line's separators (json imported only here: a value
    the C encoder does not know, or a Python without it)."""
    import json

    return json.JSONEncoder(separators=(", ", ": "))


def _refuse(o):
    # the C encoder asks this of a value it does not know: Rows on a compact line are a list;
    # anything else, what json.dumps says of it (a TypeError naming the type)
    if isinstance(o, Rows):
        return list(o)
    return _encoder().default(o)


#: the C encoder that ``_encode`` builds on each call, built once (the same text; issue 17)
_one = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _refuse, encode_basestring_ascii, None, ": ", ", ", False, False, True)
)


def _compact(v) -> str:
    return _encoder().encode(v) if _one is None else "".join(_one(v, 0))


#: rows a ``lines`` writer is asked for at a time: a piece of about 64 KB for a report's rows
#: (about 130 characters each), the size cli_errors.emit writes at once
BATCH = 512


class Rows:
    """A list of rows made as they are written: ``make(item)`` for each of ``items``, each a
    mapping (written on one line, as a list's rows are): the text of ``[make(i) for i in items]``.

    ``lines``, when given: ``lines(batch)`` for consecutive slices of ``items`` (at most
    :data:`BATCH` long) returns a list of the same length, each entry the text this module
    writes for ``make(item)`` as a row (``json.dumps(make(item), separators=(", ", ": "))``
    for a mapping of plain values), or None: that item is then made and written as without
    ``lines``."""

    __slots__ = ("items", "make", "lines")

    def __init__(
        self,
        items: Sequence,
        make: Callable[..., dict],
        lines: Callable[[Sequence], list] | None = None,
    ):
        self.items = items
        self.make = make
        self.lines = lines

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict]:
        make = self.make
        for item in self.items:
            yield make(item)


def _is_rows(x) -> bool:
    if isinstance(x, Rows):
        return len(x) > 0
    return isinstance(x, list) and bool(x) and isinstance(x[0], (dict, list, Rows))


def _has_rows(v) -> bool:
    if not isinstance(v, dict):
        return False
    for x in v.values():
        if _is_rows(x):
            return True
    return False


def json_text(obj, indent: int = 2) -> str:
    return "".join(json_chunks(obj, indent))


def json_chunks(obj, indent: int = 2) -> Iterator[str]:
    """The text of :func:`json_text` in pieces (a piece per row at most), made as they are asked for."""
    return _write(obj, 0, False, indent)


def _write(v, level: int, in_list: bool, indent: int) -> Iterator[str]:
    if isinstance(v, dict) and v and not (in_list and not _has_rows(v)):
        pad = " " * (indent * (level + 1))
        yield "{\n"
        last = len(v) - 1
        for i, (k, x) in enumerate(v.items()):
            yield f"{pad}{_compact(str(k))}: "
            yield from _write(x, level + 1, False, indent)
            yield ",\n" if i < last else "\n"
        yield " " * (indent * level) + "}"
    elif v.__class__ is Rows and v.lines is not None and len(v.items) > 0:
        yield from _write_lines(v, level, indent)
    elif _is_rows(v):
        pad = " " * (indent * (level + 1))
        yield "[\n"
        last = len(v) - 1
        sep = ",\n" + pad
        yield pad
        for i, x in enumerate(v):
            if x.__class__ is dict and not _has_rows(x):  # a row: one line (the common case, first)
                yield _compact(x) + sep if i < last else _compact(x)
            else:
                yield from _write(x, level + 1, True, indent)
                if i < last:
                    yield sep
        yield "\n" + " " * (indent * level) + "]"
    elif isinstance(v, Rows):  # no rows: as an empty list
        yield "[]"
    else:
        yield _compact(v)


def _row_text(x, level: int, indent: int) -> str:
    """The text of ``x`` as an item of a list of rows (what ``_write`` writes for it)."""
    if x.__class__ is dict and not _has_rows(x):
        return _compact(x)
    return "".join(_write(x, level + 1, True, indent))


def _write_lines(v: Rows, level: int, indent: int) -> Iterator[str]:
    # Rows with a ``lines`` writer: a batch of rows a piece; an item it leaves (None) is made
    # and written as in _write. The same layout: "[", a row a line, "]".
    pad = " " * (indent * (level + 1))
    sep = ",\n" + pad
    items, make, lines = v.items, v.make, v.lines
    assert lines is not None
    n = len(items)
    head = "[\n" + pad
    for start in range(0, n, BATCH):
        batch = items[start : start + BATCH]
        texts = lines(batch)
        if None in texts:
            texts = [_row_text(make(x), level, indent) if t is None else t for x, t in zip(batch, texts)]
        yield head + sep.join(texts)
        head = sep
    yield "\n" + " " * (indent * level) + "]"
