"""CSV: raw exact integers, fractions for shares, one header line per table.

Text cells are escaped (flopcount.render.escape): control characters shown (``\x1b``, a
newline as ``\n``: one record per line), and a cell a spreadsheet would run as a formula
(``= + - @`` first) gets a ``'`` in front.

A table with a total row gets a first column ``row``: ``layer`` (or the table's
``row_kind``) on each body row and ``total`` on the last, so the total is never read as one
more layer (``df[df.row != "total"]``); ``--no-total`` leaves the total row out."""

from __future__ import annotations

import csv
import io

from .escape import csv_cell, no_workflow_commands, visible


def csv_text(tables: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i, t in enumerate(tables):
        if i:
            buf.write("\n")
        marked = t.total is not None
        w.writerow((["row"] if marked else []) + [csv_cell(visible(c.key)) for c in t.columns])
        rows = list(t.rows) + ([t.total] if t.total else [])
        kind = csv_cell(visible(t.row_kind))
        for n, r in enumerate(rows):
            out = [("total" if n == len(t.rows) else kind)] if marked else []
            for c in t.columns:
                v = r.get(c.key)
                if v is None:
                    out.append("")
                elif c.kind in ("pct", "ratio") and isinstance(v, float):
                    out.append(f"{v:.6f}")
                elif isinstance(v, str):
                    out.append(csv_cell(visible(v)))
                else:
                    out.append(v)
            w.writerow(out)
    return no_workflow_commands(buf.getvalue())
