"""CSV: raw exact integers, fractions for shares, one header line per table.

Text cells are escaped (flopcount.render.escape): control characters shown (``\x1b``, a
newline as ``\n``: one record per line), and a cell a spreadsheet would run as a formula
(``= + - @`` first) gets a ``'`` in front."""

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
        w.writerow([csv_cell(visible(c.key)) for c in t.columns])
        rows = list(t.rows) + ([t.total] if t.total else [])
        for r in rows:
            out = []
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
