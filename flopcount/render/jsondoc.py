"""The JSON documents of reports and comparisons (``flopcount.report/1``, ``flopcount.compare/1``,
``flopcount.list/1``), built from the typed report model; the one place their keys are spelled.
Text is written by :func:`flopcount.render.jsonfmt.json_text` (or streamed: ``report_doc``,
``compare_doc``, their rows made as they are written); the shipped schemas
(flopcount/schemas/*.json) describe every key.

Latency (``--latency``): rows and totals carry ``latency_ms`` (median; the total: end-to-end
median), ``latency_share`` (of the per-layer sum) and ``gflop_per_s``; rows also ``host_ms``
and ``launch_bound``. The top-level ``latency`` object holds the measurement (LatencyResult).
Roofline (``--device-profile``): rows and totals carry ``bytes``, ``intensity``, ``bound``,
``floor_ms`` and, when measured, ``efficiency``; the top-level ``roofline`` object the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..report import COMPARE_SCHEMA, CONVENTIONS, LIST_SCHEMA, REPORT_SCHEMA, Report, Row
from .figures import not_comparable, published_json
from .jsonfmt import Rows
from .jsonfmt import encode_basestring_ascii as _string

if TYPE_CHECKING:
    from ..records import Spread, Unit


def _roof_fields(point, efficiency) -> dict:
    if point is None:
        return {}
    out = {"bytes": point.bytes, "intensity": point.intensity, "bound": point.bound, "floor_ms": point.floor_ms}
    if efficiency is not None:
        out["efficiency"] = efficiency
    return out


def _time_fields(report: Report, row: Row) -> dict:
    t = report.time_of(row)
    if t is None:
        return {}
    return {
        "latency_ms": round(t.ms, 6),
        "latency_share": None if t.share is None else round(t.share, 6),
        "gflop_per_s": t.gflop_per_s,
        "host_ms": round(t.host_ms, 6),
        "launch_bound": t.launch_bound,
    }


def row_json(row: Row, report: Report | None = None, why: str | None = None) -> dict:
    """A row's JSON; ``why``: the report is not as published (render.figures.not_comparable)."""
    out = {
        "name": row.name,
        "op": row.op,
        "output": list(row.output),
        "params": row.params,
        "macs": row.macs,
        "ops": row.ops,
        "buffers": row.buffers,
    }
    if row.group is not None:
        out["group"] = row.group
    if row.published:
        # published figures are per image: compared with this row's per-sample numbers
        out["published"] = published_json(row.published, row.per_sample(), why)
    if row.pos is not None:
        out["line"] = row.pos.line
    if report is not None:
        out.update(_time_fields(report, row))
        out.update(_roof_fields(row.roof, report.efficiency(row) if row.roof is not None else None))
    elif row.roof is not None:
        out.update(_roof_fields(row.roof, None))
    return out


#: the texts :func:`row_lines` keeps per distinct cost (op, output shape, params, MACs, ops,
#: buffers) before it starts again: a few thousand strings, whatever the size of the report
_KEPT = 4096


def row_lines(flops: bool = False) -> Callable[[Sequence[Row]], list]:
    """``lines`` for :class:`~flopcount.render.jsonfmt.Rows` of :func:`row_json` rows of a report
    without latency or roofline (``flops``: with the ``flops`` key ``report_doc`` adds to a layer):
    each row's line written straight from its fields, the text jsonfmt writes for its mapping
    (issue 17: no mapping per row, no encoder call per row; tests/test_render_rowtext.py holds
    the two together). The keys and their order are row_json's. A row with a field of an
    unusual type (anything but str names, exact ints, a tuple of exact ints for the shape, a
    position with an int line), published figures or a roofline point gets None: it is
    written from row_json's mapping.

    Most rows of a network share their op, shape and costs (flopcount.spec.walk memoises
    them), so the text from ``"op"`` to ``"buffers"`` (and the row's end: ``flops``) is kept per
    distinct (op, shape object, params, macs, ops, buffers), after each was checked to be a str
    or an exact int (an equal key of another type, True for 1, never reaches the table). The
    shape is keyed by identity and kept alive by its entry, so its id is not reused while the
    entry is there. Names and groups are not checked one by one: the JSON string escaper writes
    a str subclass as json does and refuses anything else with TypeError, and the batch is
    then written row by row with those checked too.

    (Tried and dropped, as more instructions per row than this loop: writing a batch column by
    column with ``map``, ``zip`` and ``%``; keying the table by the ids of all six fields, or by
    their values checked for identity with ``map(operator.is_, ...)``. Python 3.11's specialised
    bytecode for attributes and ``type(x)`` costs less than the C calls.)"""
    kept: dict = {}
    string = _string

    def costs(key: tuple, shape) -> tuple | None:
        # (the shape, ', "op": ... "buffers": N', the row's end) of a new cost; None if unusual
        if type(shape) is not tuple:
            return None
        for n in shape:
            if type(n) is not int:
                return None
        op, _, params, macs, ops, buffers = key
        middle = (
            f', "op": {string(op)}, "output": [{", ".join(map(str, shape))}], "params": {params}, '
            f'"macs": {macs}, "ops": {ops}, "buffers": {buffers}'
        )
        known = (shape, middle, f', "flops": {2 * macs}}}' if flops else "}")
        if len(kept) >= _KEPT:
            kept.clear()
        kept[key] = known
        return known

    def quick(rows: Sequence[Row]) -> list:
        out: list = []
        add = out.append
        for r in rows:
            op, params, macs, ops, buffers = r.op, r.params, r.macs, r.ops, r.buffers
            if (
                type(op) is not str
                or type(params) is not int
                or type(macs) is not int
                or type(ops) is not int
                or type(buffers) is not int
                or r.published
                or r.roof is not None
            ):
                add(None)
                continue
            shape = r.output
            key = (op, id(shape), params, macs, ops, buffers)
            known = kept.get(key) or costs(key, shape)
            if known is None:
                add(None)
                continue
            group, pos = r.group, r.pos
            if pos is None:
                if group is None:
                    add(f'{{"name": {string(r.name)}{known[1]}{known[2]}')
                else:
                    add(f'{{"name": {string(r.name)}{known[1]}, "group": {string(group)}{known[2]}')
                continue
            line = pos.line
            if type(line) is not int:
                add(None)
            elif group is None:
                add(f'{{"name": {string(r.name)}{known[1]}, "line": {line}{known[2]}')
            else:
                add(f'{{"name": {string(r.name)}{known[1]}, "group": {string(group)}, "line": {line}{known[2]}')
        return out

    def careful(r: Row) -> str | None:
        # one row, its name and group checked too
        if type(r.name) is not str or not (r.group is None or type(r.group) is str):
            return None
        return quick((r,))[0]

    def lines(rows: Sequence[Row]) -> list:
        try:
            return quick(rows)
        except TypeError:  # a name or group that is not a str: the escaper refused it
            return [careful(r) for r in rows]

    return lines


def spread_json(s: Spread | None) -> dict | None:
    if s is None:
        return None
    return {
        "count": s.count,
        "p10": round(s.p10, 6),
        "p50": round(s.p50, 6),
        "p90": round(s.p90, 6),
        "iqr": round(s.iqr, 6),
        "min": round(s.min, 6),
        "max": round(s.max, 6),
    }


def latency_json(report: Report) -> dict:
    """The top-level ``latency`` object: the keys of before (device, timer, end_to_end_ms,
    layer_sum_ms, ...) and every field of the LatencyResult."""
    lat = report.latency
    assert lat is not None
    e2e = lat.end_to_end.p50
    out = {
        "device": lat.device,
        "device_name": lat.device_name,
        "dtype": lat.dtype,
        "batch": lat.batch,
        "warmup": lat.warmup_count,
        "repeat": lat.end_to_end.count,
        "channels_last": lat.channels_last,
        "timer": lat.timer,
        "torch": lat.torch,
        "end_to_end_ms": spread_json(lat.end_to_end),
        "layer_sum_ms": round(lat.layer_sum_ms, 6),
        "layer_sum_over_end_to_end": round(lat.layer_sum_ms / e2e, 4) if e2e > 0 else None,
        "threads": lat.threads,
        "flush_l2": lat.flush_l2,
        "warmup_ms": round(lat.warmup_ms, 6),
        "stopped_early": lat.stopped_early,
        "marked_ms": spread_json(lat.marked),
        "marks_cost": lat.marks_cost,
        "aggregation_bias": lat.aggregation_bias,
        "launch_bound": lat.launch_bound,
        "runs": [round(x, 6) for x in lat.runs],
        "run_spread": lat.run_spread,
        "layers": [
            {
                "name": ll.name,
                "device_ms": spread_json(ll.device),
                "host_ms": round(ll.host_ms, 6),
                "launch_bound": ll.launch_bound,
            }
            for ll in lat.layers
        ],
    }
    if lat.cuda_graph is not None:
        out["cuda_graph_ms"] = spread_json(lat.cuda_graph)
    return out


def roofline_json(report: Report) -> dict:
    from ..roofline import CONVENTIONS as ROOF_CONVENTIONS

    roof = report.roofline
    assert roof is not None
    return {
        "device": roof.profile.to_json(),
        "dtype": roof.dtype,
        "peak_flops": roof.peak_flops,
        "bandwidth": roof.bandwidth,
        "ridge": roof.ridge,
        "conventions": ROOF_CONVENTIONS,
    }


def totals_json(report: Report, unit: Unit = "macs") -> dict:
    out: dict = report.totals
    ms = report.total_ms()
    if ms is not None:
        out["latency_ms"] = round(ms, 6)
        out["gflop_per_s"] = _gflops(out["macs"], ms)
    if report.roof_total is not None:
        out.update(_roof_fields(report.roof_total, report.efficiency()))
    if unit == "flops":
        out["flops"] = 2 * out["macs"]
    return out


def _gflops(macs: int, ms) -> float | None:
    from ..report import gflops

    return gflops(macs, ms)


def _shape_of(graph, index: int) -> tuple:
    return tuple(graph.input) if index < 0 else graph.nodes[index].shape


def report_json(report: Report, collapse: bool = False, unit: Unit = "macs") -> dict:
    """``flopcount.report/1``."""
    return report_doc(report, collapse, unit, lazy=False)


def report_doc(report: Report, collapse: bool = False, unit: Unit = "macs", lazy: bool = True) -> dict:
    """``flopcount.report/1``; ``lazy``: its lists of rows are :class:`~flopcount.render.jsonfmt.Rows`,
    each row's mapping made as jsonfmt writes it (``flopcount report --format json``; issue 17)."""
    rep = report if (report.latency is not None or report.roofline is not None) else None
    why = not_comparable(report)

    def one(r: Row) -> dict:
        return row_json(r, rep, why)

    def layer(r: Row) -> dict:
        row = row_json(r, rep, why)
        row["flops"] = 2 * row["macs"]
        return row

    # the rows' lines written straight from their fields (row_lines), but for latency or roofline
    plain = row_lines() if rep is None else None
    with_flops = row_lines(flops=True) if rep is None and unit == "flops" else None

    def rows(items, make=one):
        if not lazy:
            return [make(r) for r in items]
        return Rows(items, make, with_flops if make is layer else plain)

    out: dict = {
        "schema": REPORT_SCHEMA,
        "model": report.model,
        "spec": report.spec,
        "variant": report.variant,
        "description": report.description,
        "input": list(report.input),
        "batch": report.batch,
        "conventions": CONVENTIONS,
        "totals": totals_json(report, unit),
        "layers": rows(report.rows, layer if unit == "flops" else one),
    }
    if report.train_rows:
        out["train_only"] = {"totals": report.train_totals, "layers": rows(report.train_rows)}
    graph = report.graph
    if graph is not None and graph.outputs:  # the spec's `outputs:` (absent: the last layer is the output)
        out["outputs"] = [{"name": name, "output": list(_shape_of(graph, i))} for name, i in graph.outputs]
        out["unreached"] = [n.name for n in graph.unreached()]
    if collapse:
        out["blocks"] = rows(report.collapsed())
    if report.published:
        out["published"] = published_json(report.published, report.sums().per_sample(), why)
    if report.latency is not None:
        out["latency"] = latency_json(report)
    if report.roofline is not None:
        out["roofline"] = roofline_json(report)
    return out


def speedups(reports: list) -> list:
    """Measured speed-up of each report over the first: first end-to-end median / this one."""
    base = reports[0].total_ms()
    out = []
    for r in reports:
        ms = r.total_ms()
        out.append(base / ms if base and ms else None)
    return out


def compare_json(reports: list, collapse: bool = False, unit: Unit = "macs") -> dict:
    """``flopcount.compare/1``: each model's report, with its ratios to the first model's
    (params, MACs and, when measured, the speed-up)."""
    return compare_doc(reports, collapse, unit, lazy=False)


def compare_doc(reports: list, collapse: bool = False, unit: Unit = "macs", lazy: bool = True) -> dict:
    """``flopcount.compare/1``; ``lazy``: as :func:`report_doc`."""
    models = [report_doc(r, collapse, unit, lazy) for r in reports]
    base = reports[0].totals
    measured = all(r.latency is not None for r in reports)
    speed = speedups(reports) if measured else None
    for i, (m, r) in enumerate(zip(models, reports)):
        t = r.totals
        m["ratio"] = {k: (t[k] / base[k] if base[k] else None) for k in ("params", "macs")}
        if speed is not None:
            m["ratio"]["speedup"] = speed[i]  # measured: first model's end-to-end median / this one's
    return {"schema": COMPARE_SCHEMA, "models": models}


def list_json(rows: list) -> dict:
    """``flopcount.list/1``: the built-in configs (flopcount.catalog)."""
    return {"schema": LIST_SCHEMA, "configs": rows}
