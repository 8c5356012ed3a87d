"""CSV: raw exact integers, fractions for shares, one header line per table."""
from __future__ import annotations

import csv
import io


def csv_text(tables: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i, t in enumerate(tables):
        if i:
            buf.write("\n")
        w.writerow([c.key for c in t.columns])
        rows = list(t.rows) + ([t.total] if t.total else [])
        for r in rows:
            out = []
            for c in t.columns:
                v = r.get(c.key)
                if v is None:
                    out.append("")
                elif c.kind in ("pct", "ratio") and isinstance(v, float):
                    out.append(f"{v:.6f}")
                else:
                    out.append(v)
            w.writerow(out)
    return buf.getvalue()
