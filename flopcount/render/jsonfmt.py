"""JSON text for the CLI: indented at the top, one line per row.

``json.dumps(obj, indent=2)`` runs Python's pure-Python encoder (the C encoder only
serves compact output) and spreads each layer over a dozen lines: for a 10,000-layer report
that is a fifth of a second and 150,000 lines. Here mappings are indented, and every item of
a list of rows (a mapping inside a list, without lists of rows of its own: a layer, a block,
a sweep row) is written on one line by the C encoder. The value is the same JSON.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

_encode = json.JSONEncoder(separators=(", ", ": ")).encode
#: the C encoder that ``_encode`` builds on each call, built once (the same text; issue 17)
_one = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, None, encode_basestring_ascii, None, ": ", ", ", False, False, True)
)


def _compact(v) -> str:
    return _encode(v) if _one is None else "".join(_one(v, 0))


def _has_rows(v) -> bool:
    if not isinstance(v, dict):
        return False
    for x in v.values():
        if isinstance(x, list) and x and isinstance(x[0], (dict, list)):
            return True
    return False


def json_text(obj, indent: int = 2) -> str:
    parts: list = []
    _write(obj, 0, False, indent, parts)
    return "".join(parts)


def _write(v, level: int, in_list: bool, indent: int, out: list) -> None:
    if isinstance(v, dict) and v and not (in_list and not _has_rows(v)):
        pad = " " * (indent * (level + 1))
        out.append("{\n")
        last = len(v) - 1
        for i, (k, x) in enumerate(v.items()):
            out.append(f"{pad}{_compact(str(k))}: ")
            _write(x, level + 1, False, indent, out)
            out.append(",\n" if i < last else "\n")
        out.append(" " * (indent * level) + "}")
    elif isinstance(v, list) and v and isinstance(v[0], (dict, list)):
        pad = " " * (indent * (level + 1))
        out.append("[\n")
        last = len(v) - 1
        for i, x in enumerate(v):
            out.append(pad)
            if x.__class__ is dict and not _has_rows(x):  # a row: one line (the common case, first)
                out.append(_compact(x))
            else:
                _write(x, level + 1, True, indent, out)
            out.append(",\n" if i < last else "\n")
        out.append(" " * (indent * level) + "]")
    else:
        out.append(_compact(v))
