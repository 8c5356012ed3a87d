"""What a report offers a Python user: its JSON document as a dict, a pandas DataFrame, and an
HTML table for notebooks (``Report.to_dict``, ``to_dataframe``, ``_repr_html_``; the same for a
``Comparison``). Internal: call these through the report's methods.

The dict is the document ``flopcount report --format json`` writes (``flopcount.report/1``;
a comparison: ``flopcount.compare/1``), so the schemas in flopcount/schemas describe it. The
DataFrame has one row per layer with the JSON layer keys as columns; pandas is optional and
imported only here. The HTML escapes every name, op and description.
"""

from __future__ import annotations

import html

PANDAS_MISSING = (
    "to_dataframe() needs pandas, which is not installed: pip install pandas (to_dict() gives the same data without it)"
)


def _collapse(report, collapse):
    if collapse is None:  # as `flopcount report` decides: the spec's `collapse:`
        return bool(report.graph.collapse) if report.graph is not None else False
    return bool(collapse)


def report_dict(report, collapse=None, unit="macs") -> dict:
    from .render.jsondoc import report_json

    return report_json(report, _collapse(report, collapse), unit)


def compare_dict(reports, collapse=False, unit="macs") -> dict:
    from .render.jsondoc import compare_json

    return compare_json(list(reports), bool(collapse), unit)


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(PANDAS_MISSING) from None
    return pandas


def _records(doc: dict, collapse: bool) -> list:
    rows = doc["blocks"] if collapse else doc["layers"]
    out = []
    for r in rows:
        rec = dict(r)
        rec.pop("published", None)  # a nested object: see to_dict()
        if "output" in rec:
            rec["output"] = tuple(rec["output"])
        out.append(rec)
    return out


def report_frame(report, collapse=False, unit="macs"):
    """One row per layer (per block instance with ``collapse=True``); columns: the JSON keys."""
    pd = _pandas()
    collapse = bool(collapse)
    doc = report_dict(report, collapse, unit)
    return pd.DataFrame(_records(doc, collapse))


def compare_frame(reports, collapse=False, unit="macs"):
    """Every layer of every model, with a ``model`` column first."""
    pd = _pandas()
    collapse = bool(collapse)
    rows = []
    for r in reports:
        for rec in _records(report_dict(r, collapse, unit), collapse):
            rows.append({"model": r.model, **rec})
    return pd.DataFrame(rows)


_COLUMNS = (("name", "layer"), ("op", "op"), ("output", "output"), ("params", "params"), ("macs", "MACs"))


def _cell(key: str, row) -> str:
    value = getattr(row, key)
    if key == "output":
        return html.escape("x".join(str(d) for d in value))
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def _table(report) -> str:
    t = report.sums()
    total = t.macs or 1
    head = "".join(f"<th>{label}</th>" for _, label in _COLUMNS) + "<th>share</th>"
    body = []
    for row in report.rows:
        cells = "".join(
            f'<td style="text-align:{"right" if k in ("params", "macs") else "left"}">{_cell(k, row)}</td>'
            for k, _ in _COLUMNS
        )
        body.append(f'<tr>{cells}<td style="text-align:right">{100 * row.macs / total:.1f}%</td></tr>')
    foot = (
        f'<tr><th style="text-align:left">total</th><td></td><td></td>'
        f'<th style="text-align:right">{t.params:,}</th><th style="text-align:right">{t.macs:,}</th><td></td></tr>'
    )
    title = html.escape(report.model)
    shape = html.escape("x".join(str(d) for d in report.input))
    desc = f" ({html.escape(report.description)})" if report.description else ""
    caption = (
        f"<caption style='text-align:left'><b>{title}</b>{desc}: input {shape}, batch {report.batch}; "
        f"params {t.params:,}, MACs {t.macs:,}</caption>"
    )
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody><tfoot>{foot}</tfoot></table>"


def report_html(report) -> str:
    """An HTML table of every layer and the totals; every text escaped."""
    return f"<div class='flopcount-report'>{_table(report)}</div>"


def compare_html(reports) -> str:
    reports = list(reports)
    if not reports:
        return "<div class='flopcount-compare'>no models</div>"
    base = reports[0].sums()
    rows = []
    for r in reports:
        t = r.sums()
        rp = f"{t.params / base.params:.2f}x" if base.params else ""
        rm = f"{t.macs / base.macs:.2f}x" if base.macs else ""
        rows.append(
            f"<tr><td>{html.escape(r.model)}</td><td style='text-align:right'>{t.params:,}</td>"
            f"<td style='text-align:right'>{t.macs:,}</td><td style='text-align:right'>{rp}</td>"
            f"<td style='text-align:right'>{rm}</td></tr>"
        )
    summary = (
        "<table><thead><tr><th>model</th><th>params</th><th>MACs</th><th>params ratio</th>"
        f"<th>MACs ratio</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f"<div class='flopcount-compare'>{summary}{''.join(_table(r) for r in reports)}</div>"
