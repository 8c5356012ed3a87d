"""Reports and comparisons as renderer-neutral Tables (see model.py)."""
from __future__ import annotations

from ..api import Report
from ..units import human
from .model import Column, Table, shape_text

_MARK = {"exact": "exact", "rounded": "rounds ours", "differs": "DIFFERS"}


def _cost_name(unit: str) -> str:
    return "FLOPs" if unit == "flops" else "MACs"


def _published_cell(figures: dict | None, key: str, ours: int) -> str | None:
    fig = (figures or {}).get(key)
    if fig is None or isinstance(fig, str):
        return None
    return f"{fig.text} ({_MARK[fig.compare(ours)]})"


def _published_notes(label: str, figures: dict, ours: dict) -> list:
    notes = []
    for key, fig in figures.items():
        if isinstance(fig, str):
            continue
        mine = ours.get(key)
        if mine is None:
            continue
        status = fig.compare(mine)
        line = f"{label} {key}: ours {mine:,}, published {fig.text}"
        if status == "differs":
            diff = mine - fig.value
            line += f": DIFFERS by {diff:+,.0f} ({float(diff / fig.value) * 100:+.1f}%)" if fig.value else ": DIFFERS"
        else:
            line += f" ({_MARK[status]})"
        notes.append(line)
    if notes:
        if figures.get("source"):
            notes[-1] += f" [{figures['source']}]"
        if figures.get("note"):
            notes.append(f"  why: {figures['note']}")
    return notes


def report_tables(report: Report, collapse: bool = False, unit: str = "macs", top: int | None = None) -> list:
    rows = report.collapsed() if collapse else report.rows
    totals = report.totals
    scale = 2 if unit == "flops" else 1
    cost = _cost_name(unit)
    has_pub = any(r.published for r in rows) or bool(report.published)
    cols = [Column("layer", "name"), Column("op", "op"), Column("output", "output"),
            Column("params", "params", "int"), Column(cost, unit, "int"), Column(f"% {cost}", "share", "pct"),
            Column("ops", "ops", "int")]
    if has_pub:
        cols.append(Column("published", "published"))
    shown = rows
    if top is not None and top < len(rows):
        shown = sorted(rows, key=lambda r: r.macs, reverse=True)[:top]
        order = {id(r): i for i, r in enumerate(rows)}
        shown.sort(key=lambda r: order[id(r)])
    body = []
    for r in shown:
        cell = {"name": r.name + (f" ({r.count})" if collapse and r.count > 1 else ""), "op": r.op,
                "output": shape_text(r.output), "params": r.params, unit: r.macs * scale,
                "share": r.macs / totals["macs"] if totals["macs"] else None, "ops": r.ops}
        if has_pub:
            cell["published"] = _published_cell(r.published, "macs", r.macs // report.batch) or \
                _published_cell(r.published, "params", r.params) or ""
        body.append(cell)
    total = {"name": "total", "params": totals["params"], unit: totals["macs"] * scale,
             "share": 1.0 if totals["macs"] else None, "ops": totals["ops"], "op": "", "output": ""}
    if has_pub and report.published:
        total["published"] = _published_cell(report.published, "macs", totals["macs"] // report.batch) or \
            _published_cell(report.published, "params", totals["params"])
    title = f"{report.model}: {report.description}" if report.description else report.model
    title += f"  (input {shape_text(report.input)}, batch {report.batch})"
    notes = []
    if top is not None and top < len(rows):
        notes.append(f"showing the {top} costliest of {len(rows)} rows; the total is over all rows")
    notes.append(f"{cost}: {'2 x ' if scale == 2 else ''}multiply-accumulates of conv and fc layers for the "
                 "whole batch, bias adds excluded; ops: other element operations; "
                 f"total {human(totals['macs'] * scale)} {cost}, {human(totals['params'])} params")
    if totals["buffers"]:
        notes.append(f"params exclude {totals['buffers']:,} batch-norm running statistics "
                     f"(with them: {totals['params'] + totals['buffers']:,})")
    per_sample = {"macs": totals["macs"] // report.batch, "params": totals["params"], "ops": totals["ops"]}
    notes += _published_notes("model", report.published, per_sample)
    for r in rows:
        if r.published:
            notes += _published_notes(f"row {r.name}", r.published,
                                      {"macs": r.macs // report.batch, "params": r.params})
    tables = [Table(title, cols, body, total, notes)]
    if report.train_rows:
        tr = report.collapsed(report.train_rows) if collapse else report.train_rows
        t_tot = report.train_totals
        tcols = [c for c in cols if c.key != "published"]
        tbody = [{"name": r.name, "op": r.op, "output": shape_text(r.output), "params": r.params,
                  unit: r.macs * scale, "share": r.macs / totals["macs"] if totals["macs"] else None,
                  "ops": r.ops} for r in tr]
        tables.append(Table("training-only layers (not in the totals above; % of the inference total)", tcols,
                            tbody, {"name": "training-only total", "params": t_tot["params"],
                                    unit: t_tot["macs"] * scale, "ops": t_tot["ops"],
                                    "share": t_tot["macs"] / totals["macs"] if totals["macs"] else None}))
    return tables


def _merge_order(lists: list) -> list:
    """Union of several name lists, keeping each list's order: a name new in a later list goes
    right after the name that precedes it there. Linear in the total length."""
    order: list = list(lists[0]) if lists else []
    for names in lists[1:]:
        known = set(order)
        after: dict = {}  # anchor name (None = start) -> new names that follow it
        prev = None
        for name in names:
            if name not in known:
                after.setdefault(prev, []).append(name)
                known.add(name)
            prev = name
        merged = list(after.get(None, []))
        for name in order:
            merged.append(name)
            merged.extend(after.get(name, []))
        order = merged
    return order


def compare_tables(reports: list, collapse: bool = False, unit: str = "macs") -> list:
    scale = 2 if unit == "flops" else 1
    cost = _cost_name(unit)
    base = reports[0].totals
    has_pub = any(r.published.get("macs") is not None or r.published.get("params") is not None for r in reports)
    cols = [Column("model", "model"), Column("input", "input"), Column("params", "params", "int"),
            Column(cost, unit, "int"), Column(f"{cost} vs first", "ratio", "ratio"),
            Column("params vs first", "pratio", "ratio")]
    if has_pub:
        cols.append(Column("published", "published"))
    body = []
    notes = []
    for r in reports:
        t = r.totals
        row = {"model": r.model, "input": shape_text(r.input), "params": t["params"], unit: t["macs"] * scale,
               "ratio": t["macs"] / base["macs"] if base["macs"] else None,
               "pratio": t["params"] / base["params"] if base["params"] else None}
        if has_pub:
            row["published"] = _published_cell(r.published, "macs", t["macs"] // r.batch) or \
                _published_cell(r.published, "params", t["params"]) or ""
        body.append(row)
        notes += _published_notes(r.model, r.published, {"macs": t["macs"] // r.batch, "params": t["params"]})
    first = reports[0].model
    notes.insert(0, f"ratios are each model's total over the first model's ({first}); "
                    f"{cost} and params as in `flopcount report`")
    tables = [Table(f"compare ({cost}, batch {reports[0].batch})", cols, body, None, notes)]
    # per-layer rows aligned by name
    per = [{r.name: r for r in (rep.collapsed() if collapse else rep.rows)} for rep in reports]
    order = _merge_order([list(rows) for rows in per])
    shared = [n for n in order if sum(n in rows for rows in per) >= 2]
    if shared:
        tag = [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(len(reports))]
        lcols = [Column("layer", "name")]
        for i in range(len(reports)):
            lcols.append(Column(f"{cost} {tag[i]}", f"m{i}", "int"))
        if len(reports) == 2:
            lcols.append(Column("B / A", "ratio", "ratio"))
        for i in range(len(reports)):
            lcols.append(Column(f"params {tag[i]}", f"p{i}", "int"))
        lbody = []
        for name in order:
            row = {"name": name}
            for i, rows in enumerate(per):
                r = rows.get(name)
                row[f"m{i}"] = r.macs * scale if r else None
                row[f"p{i}"] = r.params if r else None
            if len(reports) == 2 and row["m0"] and row["m1"] is not None:
                row["ratio"] = row["m1"] / row["m0"]
            lbody.append(row)
        legend = ", ".join(f"{tag[i]} = {rep.model}" for i, rep in enumerate(reports))
        tables.append(Table(f"per layer, aligned by name ({legend}; - = not in that model)", lcols, lbody))
    elif len(reports) > 1:
        tables[0].notes.append("the models share no layer names, so there is no per-layer alignment")
    return tables
