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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

_encoder = json.JSONEncoder(separators=(", ", ": "))
_encode = _encoder.encode


def _refuse(o):
    # the C encoder asks this of a value it does not know: Rows on a compact line are a list;
    # anything else, what json.dumps says of it (a TypeError naming the type)
    if isinstance(o, Rows):
        return list(o)
    return _encoder.default(o)


#: the C encoder that ``_encode`` builds on each call, built once (the same text; issue 17)
_one = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _refuse, encode_basestring_ascii, None, ": ", ", ", False, False, True)
)


def _compact(v) -> str:
    return _encode(v) if _one is None else "".join(_one(v, 0))


class Rows:
    """A list of rows made as they are written: ``make(item)`` for each of ``items``, each a
    mapping (written on one line, as a list's rows are): the text of ``[make(i) for i in items]``."""

    __slots__ = ("items", "make")

    def __init__(self, items: Sequence, make: Callable[..., dict]):
        self.items = items
        self.make = make

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
