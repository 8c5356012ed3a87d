"""Reports and comparisons as renderer-neutral Tables (see model.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..records import Unit

from ..report import Report
from ..units import human
from .figures import figure_cell, figure_notes, figure_pair, has_both, not_comparable
from .model import Column, Table, shape_text


def _cost_name(unit: Unit) -> str:
    return "FLOPs" if unit == "flops" else "MACs"


def _published_rows(report: Report, rows: list, collapse: bool, blocks: list | None = None) -> list:
    """Rows whose published figures get notes: the shown rows, and without --collapse also the
    block instances (an Inception module's row of the paper's table; ``blocks``: the report's
    collapsed rows when the caller has them)."""
    out = [r for r in rows if r.published]
    if not collapse:
        shown = {r.name for r in out}
        out += [g for g in (report.collapsed() if blocks is None else blocks) if g.published and g.name not in shown]
    return out


def _published_blocks_table(report: Report, unit: Unit, blocks: list | None = None):
    """Without --collapse, when block instances carry published figures: every row with figures,
    ours beside the source's, so a paper's per-row table (GoogLeNet's Table 1) reads as printed
    (``blocks``: the report's collapsed rows when the caller has them)."""
    rows = [r for r in (report.collapsed() if blocks is None else blocks) if r.published]
    if not any(r.group is not None for r in rows):
        return None
    cols = [
        Column("row", "name"),
        Column("params", "params", "int"),
        Column("published params", "pub_params"),
        Column("MACs", "macs", "int"),
        Column("published MACs", "pub_macs"),
    ]
    body = [
        {
            "name": r.name,
            "params": r.params,
            "macs": r.sample_macs,
            **figure_pair(r.published, r.params, r.sample_macs, not_comparable(report)),
        }
        for r in rows
    ]
    return Table("published figures per row, beside ours (MACs per sample; --collapse shows them in place)", cols, body)


def _roof_columns(reports: list) -> list:
    cols = [
        Column("bytes", "bytes", "int", drop=3),
        Column("FLOP/B", "intensity", "num", drop=2),
        Column("bound", "bound", drop=4),
        Column("floor ms", "floor_ms", "num", drop=5),
    ]
    from .measured import report_elsewhere  # here: only a report with a roofline needs it

    if any(r.latency is not None and report_elsewhere(r) is None for r in reports):
        cols.append(Column("% of roof", "efficiency", "pct", drop=5))
    return cols


def _roof_cells(report: Report, row=None) -> dict:
    """A row's (or, without ``row``, the model's) roofline cells."""
    p = report.roof_total if row is None else row.roof
    if p is None:
        return {}
    out = {"bytes": p.bytes, "intensity": p.intensity, "bound": p.bound, "floor_ms": p.floor_ms}
    eff = report.efficiency(row)
    if eff is not None:
        out["efficiency"] = eff
    return out


def _latency_cells(report: Report, row) -> dict:
    """Measured time (``--latency``, flopcount.latency): median ms, share of time, GFLOP/s."""
    t = report.time_of(row)
    if t is None:
        return {"latency_ms": None, "latency_share": None, "gflop_per_s": None}
    return {"latency_ms": t.ms, "latency_share": t.share, "gflop_per_s": t.gflop_per_s}


def _latency_total(report: Report) -> dict:
    from ..report import gflops

    ms = report.total_ms()
    return {"latency_ms": ms, "latency_share": None, "gflop_per_s": gflops(report.totals["macs"], ms)}


def _latency_note(report: Report) -> str:
    lat = report.latency
    assert lat is not None
    e2e = lat.end_to_end
    text = (
        f"measured on {lat.device_name} ({lat.timer}), {lat.dtype}, batch {lat.batch}, "
        f"{e2e.count} passes after {lat.warmup_count} warm-up: end to end p10/p50/p90 "
        f"{e2e.p10:.3f} / {e2e.p50:.3f} / {e2e.p90:.3f} ms (the total's ms); per-layer medians add up "
        f"to {lat.layer_sum_ms:.3f} ms"
    )
    if e2e.p50 > 0:
        text += f" ({lat.layer_sum_ms / e2e.p50:.2f}x end to end)"
    if lat.cuda_graph is not None:
        text += f"; replayed from a CUDA graph: p50 {lat.cuda_graph.p50:.3f} ms"
    return text + "; % time is of the per-layer sum; GFLOP/s = 2 x MACs / time"


def _outputs_notes(report: Report) -> list:
    """The spec's `outputs:` with their shapes, and the layers that reach none of them."""
    graph = report.graph
    if graph is None:
        return []
    out = []
    if graph.outputs:
        shapes = [tuple(graph.input) if i < 0 else graph.nodes[i].shape for _, i in graph.outputs]
        out.append(
            f"{len(graph.outputs)} output{'s' if len(graph.outputs) > 1 else ''}: "
            + ", ".join(f"{name} {shape_text(s)}" for (name, _), s in zip(graph.outputs, shapes))
        )
    dead = graph.unreached()
    if dead:
        names = ", ".join(n.name for n in dead[:5]) + (f" and {len(dead) - 5} more" if len(dead) > 5 else "")
        out.append(
            f"{len(dead)} layer{'s' if len(dead) > 1 else ''} reach no output ({names}): counted, as torch runs them"
        )
    return out


#: the optional columns of ``report --columns`` (torchinfo's), in the order they are named there
EXTRA_COLUMNS = ("input", "kernel", "trainable", "act_bytes")
_DTYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


def folded(report: Report, depth: int, rows=None) -> list:
    """``--depth N``: rows folded to N levels of nesting. Level 1 is the outermost block instance
    (``--collapse``: ``conv2.0``); each further level keeps one more part of the layer's name
    inside it (``conv2.0.main``, then ``conv2.0.main.conv1``). A row that is already that
    shallow stays as it is; the sums of a folded row are its layers' (exact ints)."""
    from ..report import Row

    if depth <= 1:
        return report.collapsed(rows)
    out: list = []
    index: dict = {}
    for r in report.rows if rows is None else rows:
        group = r.group
        inner = r.name[len(group) + 1 :].split(".") if group and r.name.startswith(group + ".") else None
        if inner is None or len(inner) <= depth - 1:
            out.append(r)
            continue
        key = ".".join([group, *inner[: depth - 1]])
        g = index.get(key)
        if g is None:
            pub = report.graph.published.get(key) if report.graph else None
            g = Row(key, "part", r.output, 0, 0, 0, 0, group, r.block, r.train_only, r.pos, pub, 0, 0, 0, members=[])
            index[key] = g
            out.append(g)
        g.absorb(r)
    report.combine_roofs(index.values())
    return out


def _kernel_text(node) -> str:
    """``3x3 s2`` (and ``g32`` when grouped) for a layer with a kernel; empty otherwise."""
    a = getattr(node, "attrs", None) or {}
    k = a.get("k")
    if not isinstance(k, tuple) or len(k) != 2:
        return ""
    stride = a.get("s")
    s = stride if isinstance(stride, tuple) else (1, 1)
    text = f"{k[0]}x{k[1]} s{s[0] if s[0] == s[1] else f'{s[0]}x{s[1]}'}"
    groups = a.get("groups")
    return text + (f" g{groups}" if isinstance(groups, int) and groups > 1 else "")


def _extra_cells(report: Report, row, nodes: dict, extra: tuple, dtype: str) -> dict:
    """The ``--columns`` cells of a row (a folded row: its first layer's input, its last's output)."""
    first = row.members[0] if row.members else row
    node = nodes.get(first.name)
    out: dict = {}
    if "input" in extra:
        graph = report.graph
        if node is None or graph is None:
            out["in_shape"] = None
        else:
            shapes = [tuple(graph.input) if i < 0 else graph.nodes[i].shape for i in node.inputs]
            out["in_shape"] = " + ".join(shape_text(x) for x in shapes)
    if "kernel" in extra:
        out["kernel"] = "" if row.members or node is None else _kernel_text(node)
    if "trainable" in extra:
        out["trainable"] = row.params
        out["non_trainable"] = row.buffers
    if "act_bytes" in extra:
        n = 1
        for d in row.output:
            n *= d
        out["act_bytes"] = n * report.batch * _DTYPE_BYTES.get(dtype, 4)
    return out


def _extra_notes(columns: tuple, dtype: str) -> list:
    """What the ``--columns`` trainable and act_bytes mean (report and compare)."""
    notes = []
    if "trainable" in columns:
        notes.append(
            "trainable: learnable weights (every param of a spec); non-trainable: batch-norm running statistics "
            "(what Keras counts as non-trainable params; torch keeps them as buffers)"
        )
    if "act_bytes" in columns:
        notes.append(f"act bytes: each row's output for the whole batch at {dtype} (--dtype)")
    return notes


#: the per-layer cells of each optional column of ``compare --columns``: the --columns name ->
#: (each cell's key in :func:`_extra_cells`, header, kind), and the columns' drop rank (report's)
_COMPARE_EXTRAS: dict = {
    "kernel": ((("kernel", "kernel", "text"),), 4),
    "input": ((("in_shape", "input", "text"),), 5),
    "trainable": ((("trainable", "trainable", "int"), ("non_trainable", "non-trainable", "int")), 3),
    "act_bytes": ((("act_bytes", "act bytes", "int"),), 3),
}


def _cost_cells(r, unit: str, scale: int, totals: dict) -> dict:
    """The cells every layer row has: name, op, output, params, MACs (or FLOPs), share, ops."""
    return {
        "name": r.name,
        "op": r.op,
        "output": shape_text(r.output),
        "params": r.params,
        unit: r.macs * scale,
        "share": r.macs / totals["macs"] if totals["macs"] else None,
        "ops": r.ops,
    }


def report_tables(
    report: Report,
    collapse: bool = False,
    unit: Unit = "macs",
    top: int | None = None,
    total_row: bool = True,
    columns: tuple = (),
    depth: int | None = None,
    dtype: str = "fp32",
) -> list:
    """``columns``: optional columns (EXTRA_COLUMNS); ``depth``: fold nested blocks to that many
    levels (see :func:`folded`; 1 is ``collapse``); ``dtype``: of ``act_bytes``."""
    if depth:
        collapse = True
        rows = folded(report, depth)
    else:
        rows = report.collapsed() if collapse else report.rows
    sums = report.sums()  # once: the totals and the per-sample MACs below
    totals = sums.counts()
    scale = 2 if unit == "flops" else 1
    cost = _cost_name(unit)
    has_pub = any(r.published for r in rows) or bool(report.published)
    why = not_comparable(report)
    cols = [
        Column("layer", "name"),
        Column("op", "op", drop=6),
        *([Column("kernel", "kernel", drop=4)] if "kernel" in columns else []),
        *([Column("input", "in_shape", drop=5)] if "input" in columns else []),
        Column("output", "output", drop=7),
        *([Column("act bytes", "act_bytes", "int", drop=3)] if "act_bytes" in columns else []),
        Column("params", "params", "int"),
        *(
            [Column("trainable", "trainable", "int", drop=3), Column("non-trainable", "non_trainable", "int", drop=3)]
            if "trainable" in columns
            else []
        ),
        Column(cost, unit, "int"),
        Column(f"% {cost}", "share", "pct", drop=2),
        Column("ops", "ops", "int", drop=1),
    ]
    nodes = {n.name: n for n in report.graph.nodes} if columns and report.graph is not None else {}
    lat = report.latency is not None
    if lat:
        cols += [
            Column("ms", "latency_ms", "num"),
            Column("% time", "latency_share", "pct", drop=3),
            Column("GFLOP/s", "gflop_per_s", "num", drop=2),
        ]
    roof = report.roofline is not None
    if roof:
        cols += _roof_columns([report])
    # with --collapse, two columns (params, MACs) when a row publishes both, as GoogLeNet's Table 1
    # does; without it those rows are listed in a table of their own below
    split = collapse and any(has_both(r.published) for r in rows)
    if split:
        cols += [Column("pub. params", "pub_params", drop=8), Column("pub. MACs", "pub_macs", drop=8)]
    elif has_pub:
        cols.append(Column("published", "published", drop=8))
    shown = rows
    if top is not None and top < len(rows):
        shown = sorted(rows, key=lambda r: r.macs, reverse=True)[:top]
        order = {id(r): i for i, r in enumerate(rows)}
        shown.sort(key=lambda r: order[id(r)])
    body = []
    for r in shown:
        cell = _cost_cells(r, unit, scale, totals)
        if collapse and r.count > 1:
            cell["name"] += f" ({r.count})"
        if columns:
            cell.update(_extra_cells(report, r, nodes, columns, dtype))
        if lat:
            cell.update(_latency_cells(report, r))
        if roof:
            cell.update(_roof_cells(report, r))
        if split:
            cell.update(figure_pair(r.published, r.params, r.sample_macs, why))
        elif has_pub:
            pub = r.published
            cell["published"] = (
                (figure_cell(pub, "macs", r.sample_macs, why) or figure_cell(pub, "params", r.params, why) or "")
                if pub
                else ""  # what figure_cell gives a row without figures
            )
        body.append(cell)
    total = {
        "name": "total",
        "params": totals["params"],
        **({"trainable": totals["params"], "non_trainable": totals["buffers"]} if "trainable" in columns else {}),
        **{
            key: ""
            for key, name in (("in_shape", "input"), ("kernel", "kernel"), ("act_bytes", "act_bytes"))
            if name in columns
        },
        unit: totals["macs"] * scale,
        "share": 1.0 if totals["macs"] else None,
        "ops": totals["ops"],
        "op": "",
        "output": "",
    }
    sample_macs = sums.sample_macs
    if lat:
        total.update(_latency_total(report))
    if roof:
        total.update(_roof_cells(report))
    if split:
        total.update(figure_pair(report.published, totals["params"], sample_macs, why))
    elif has_pub and report.published:
        total["published"] = figure_cell(report.published, "macs", sample_macs, why) or figure_cell(
            report.published, "params", totals["params"], why
        )
    title = f"{report.model}: {report.description}" if report.description else report.model
    title += f"  (input {shape_text(report.input)}, batch {report.batch})"
    notes = []
    if top is not None and top < len(rows):
        notes.append(f"showing the {top} costliest of {len(rows)} rows; the total is over all rows")
    notes.append(
        f"{cost}: {'2 x ' if scale == 2 else ''}multiply-accumulates of conv, fc/linear and matmul (attention) layers for the "
        "whole batch, bias adds excluded; ops: other element operations; "
        f"total {human(totals['macs'] * scale)} {cost}, {human(totals['params'])} params"
    )
    notes += _extra_notes(columns, dtype)
    if depth and depth > 1:
        notes.append(f"rows folded to {depth} levels of nesting (--depth {depth}); (N): layers in a folded row")
    if totals["buffers"]:
        notes.append(
            f"params exclude {totals['buffers']:,} batch-norm running statistics "
            f"(with them: {totals['params'] + totals['buffers']:,})"
        )
    if lat:
        notes.append(_latency_note(report))
    if roof:
        from ..roofline import describe

        notes.append(describe(report))
    away = None
    if lat and roof:  # measured, with a roofline: where (render.measured, imported only then)
        from .measured import report_elsewhere

        away = report_elsewhere(report)
    if away:
        notes.append(f"{away}: no % of roof (it would compare two devices); the roofline columns are that device's")
    notes += _outputs_notes(report)
    per_sample = {"macs": sample_macs, "params": totals["params"], "ops": totals["ops"]}
    notes += figure_notes("model", report.published, per_sample, why=why)
    blocks = None if collapse else report.collapsed()  # once: the notes and the published table read it
    published_rows = _published_rows(report, rows, collapse, blocks)
    if why and any(r.published for r in published_rows):
        notes.append(f"published figures of layers and blocks are not comparable either: {why}")
    # per row: only the figures that differ (the published columns show the others), with the why
    for r in published_rows:
        notes += figure_notes(
            f"row {r.name}", r.published, {"macs": r.sample_macs, "params": r.params}, differs_only=True, why=why
        )
    tables = [Table(title, cols, body, total if total_row else None, notes, "row" if collapse else "layer")]
    pub_table = None if collapse else _published_blocks_table(report, unit, blocks)
    if pub_table is not None:
        tables.append(pub_table)
    if report.train_rows:
        tr = (
            folded(report, depth, report.train_rows)
            if depth
            else report.collapsed(report.train_rows)
            if collapse
            else report.train_rows
        )
        t_tot = report.train_totals
        tcols = [c for c in cols if not c.key.startswith("pub")]
        tbody = [
            {
                **_cost_cells(r, unit, scale, totals),
                **(_roof_cells(report, r) if roof else {}),
                **(_extra_cells(report, r, nodes, columns, dtype) if columns else {}),
            }
            for r in tr
        ]
        tables.append(
            Table(
                "training-only layers (not in the totals above; % of the inference total)",
                tcols,
                tbody,
                {
                    "name": "training-only total",
                    "params": t_tot["params"],
                    unit: t_tot["macs"] * scale,
                    "ops": t_tot["ops"],
                    "share": t_tot["macs"] / totals["macs"] if totals["macs"] else None,
                }
                if total_row
                else None,
                row_kind="layer",
            )
        )
    return tables


def _merge_order(lists: list) -> list:
    """Union of several name lists, keeping each list's order: a name new in a later list goes
    right after the name that precedes it there. Linear in the total length."""
    order: list = list(lists[0]) if lists else []
    for names in lists[1:]:
        known = set(order)
        after: dict = {}  # anchor (a name already in the order; None = start) -> new names after it
        anchor = None
        for name in names:
            if name in known:
                anchor = name
            else:  # a run of new names stays together, after the last name both lists have
                after.setdefault(anchor, []).append(name)
        known.update(names)
        merged = list(after.get(None, []))
        for name in order:
            merged.append(name)
            merged.extend(after.get(name, []))
        order = merged
    return order


def compare_tables(
    reports: list,
    collapse: bool = False,
    unit: Unit = "macs",
    top: int | None = None,
    columns: tuple = (),
    dtype: str = "fp32",
    depth: int | None = None,
) -> list:
    """``depth``: the per-layer rows folded to that many levels, as ``report --depth`` (see
    :func:`folded`; 1 is ``collapse``).
    ``columns``: optional columns (EXTRA_COLUMNS, as ``report --columns``): ``trainable`` adds
    each model's trainable and non-trainable params to the totals; every one adds its cells for
    each model to the per-layer rows (``kernel A``, ``kernel B``, ...; CSV: ``kernel MODEL``);
    ``dtype``: of ``act_bytes``."""
    scale = 2 if unit == "flops" else 1
    cost = _cost_name(unit)
    base = reports[0].totals
    has_pub = any("macs" in r.published.figures or "params" in r.published.figures for r in reports)
    cols = [
        Column("model", "model"),
        Column("input", "input"),
        Column("params", "params", "int"),
        *(
            [Column("trainable", "trainable", "int", drop=3), Column("non-trainable", "non_trainable", "int", drop=3)]
            if "trainable" in columns
            else []
        ),
        Column(cost, unit, "int"),
        Column(f"{cost} vs first", f"{unit}_vs_first", "ratio", drop=2),
        Column("params vs first", "params_vs_first", "ratio", drop=1),
    ]
    measured = all(r.latency is not None for r in reports)
    if measured:  # --latency: the measured time beside the MAC ratio
        from .jsondoc import speedups

        speed = speedups(reports)
        cols += [
            Column("ms", "latency_ms", "num"),
            Column("ms vs first", "ms_vs_first", "ratio"),
            Column("speed-up", "speedup", "ratio"),
        ]
    roof = all(r.roofline is not None for r in reports)
    if roof:  # --device-profile: each model's bytes, intensity, bound and latency floor
        cols += _roof_columns(reports)
    if has_pub:
        cols.append(Column("published", "published"))
    body = []
    notes = []
    for i, r in enumerate(reports):
        t = r.totals
        row = {
            "model": r.model,
            "input": shape_text(r.input),
            "params": t["params"],
            unit: t["macs"] * scale,
            f"{unit}_vs_first": t["macs"] / base["macs"] if base["macs"] else None,
            "params_vs_first": t["params"] / base["params"] if base["params"] else None,
        }
        if "trainable" in columns:
            row.update(trainable=t["params"], non_trainable=t["buffers"])
        if measured:
            row.update(latency_ms=r.total_ms(), speedup=speed[i], ms_vs_first=1 / speed[i] if speed[i] else None)
            if i and base["macs"] and t["macs"] and speed[i]:
                notes.append(
                    f"{r.model} vs {reports[0].model}: MACs predict a {base['macs'] / t['macs']:.2f}x "
                    f"speed-up; measured {speed[i]:.2f}x"
                )
        sample_macs = r.sums().sample_macs
        if roof:
            row.update(_roof_cells(r))
        if has_pub:
            row["published"] = (
                figure_cell(r.published, "macs", sample_macs, not_comparable(r))
                or figure_cell(r.published, "params", t["params"], not_comparable(r))
                or ""
            )
        body.append(row)
        notes += figure_notes(r.model, r.published, {"macs": sample_macs, "params": t["params"]}, why=not_comparable(r))
    first = reports[0].model
    notes.insert(
        0, f"ratios are each model's total over the first model's ({first}); {cost} and params as in `flopcount report`"
    )
    if measured:
        lat = reports[0].latency
        assert lat is not None
        notes.insert(
            1,
            f"ms: measured end-to-end median on {lat.device_name}, {lat.dtype}, batch "
            f"{lat.batch}, {lat.end_to_end.count} passes; speed-up = first model's ms / this model's",
        )
    if roof:
        from ..roofline import describe
        from .measured import report_elsewhere

        notes.insert(1, describe(reports[0]))
        away = next((w for w in map(report_elsewhere, reports) if w), None)
        if away:
            notes.insert(2, f"{away}: no % of roof (it would compare two devices)")
    notes += _extra_notes(tuple(c for c in columns if c == "trainable"), dtype)  # act_bytes: per layer
    tables = [Table(f"compare ({cost}, batch {reports[0].batch})", cols, body, None, notes)]
    # per-layer rows aligned by name: every row of every model, in each model's order
    per = [
        {r.name: r for r in (folded(rep, depth) if depth else rep.collapsed() if collapse else rep.rows)}
        for rep in reports
    ]
    order = _merge_order([list(rows) for rows in per])
    shared = [n for n in order if sum(n in rows for rows in per) >= 2]
    if len(reports) > 1:
        tag = [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(len(reports))]
        # CSV writes the keys: the models' names (numbered when a name comes twice), not m0, p0
        seen: dict = {}
        label = []
        for rep in reports:
            seen[rep.model] = seen.get(rep.model, 0) + 1
            label.append(rep.model if seen[rep.model] == 1 else f"{rep.model} ({seen[rep.model]})")
        mkey = [f"{unit} {m}" for m in label]
        pkey = [f"params {m}" for m in label]
        # each optional cell of each model: (its key in _extra_cells, the model's index, its column)
        ecols = {
            name: [
                (key, i, Column(f"{head} {tag[i]}", f"{key} {label[i]}", kind, drop=drop))
                for key, head, kind in cells
                for i in range(len(reports))
            ]
            for name, (cells, drop) in _COMPARE_EXTRAS.items()
            if name in columns
        }
        lcols = [Column("layer", "name")]
        for name in ("kernel", "input"):
            lcols += [c for _, _, c in ecols.get(name, ())]
        for i in range(len(reports)):
            lcols.append(Column(f"{cost} {tag[i]}", mkey[i], "int"))
        rkey = f"{unit} {label[1]} / {label[0]}" if len(reports) == 2 else ""
        if len(reports) == 2:
            lcols.append(Column("B / A", rkey, "ratio", drop=2))
        for i in range(len(reports)):
            lcols.append(Column(f"params {tag[i]}", pkey[i], "int", drop=1))
        for name in ("trainable", "act_bytes"):
            lcols += [c for _, _, c in ecols.get(name, ())]
        cells = [c for name in ecols for c in ecols[name]]
        nodes = [{n.name: n for n in rep.graph.nodes} if columns and rep.graph is not None else {} for rep in reports]
        lbody = []
        cost_of = {}
        for name in order:
            row = {"name": name}
            for i, rows in enumerate(per):
                r = rows.get(name)
                row[mkey[i]] = r.macs * scale if r else None
                row[pkey[i]] = r.params if r else None
                if cells and r is not None:
                    got = _extra_cells(reports[i], r, nodes[i], columns, dtype)
                    row.update((c.key, got.get(key)) for key, j, c in cells if j == i)
            if len(reports) == 2 and row[mkey[0]] and row[mkey[1]] is not None:
                row[rkey] = row[mkey[1]] / row[mkey[0]]
            cost_of[name] = max(rows[name].macs for rows in per if name in rows)
            lbody.append(row)
        counts = ", ".join(f"{tag[i]} {len(rows)}" for i, rows in enumerate(per))
        lnotes = _extra_notes(tuple(c for c in columns if c == "act_bytes"), dtype)
        if depth and depth > 1:
            lnotes.append(f"rows folded to {depth} levels of nesting (--depth {depth})")
        if len(shared) < len(order):
            lnotes.append(
                f"{len(order)} rows: every row of every model ({counts}); {len(shared)} names in more than one "
                "model share a row"
            )
        if top is not None and top < len(lbody):
            keep = set(sorted(order, key=lambda n: cost_of[n], reverse=True)[:top])
            lbody = [row for row in lbody if row["name"] in keep]
            lnotes.insert(0, f"showing the {top} costliest of {len(order)} rows (by the larger {cost} of the models)")
        legend = ", ".join(f"{tag[i]} = {rep.model}" for i, rep in enumerate(reports))
        tables.append(
            Table(f"per layer, aligned by name ({legend}; - = not in that model)", lcols, lbody, None, lnotes, "layer")
        )
        if not shared:
            tables[0].notes.append("the models share no layer names: each layer is on a row of its own")
    return tables


def catalog_tables(rows: list) -> list:
    """``flopcount list``: the built-in configs (flopcount.catalog.builtin_configs)."""
    table = Table(
        "built-in configs (batch 1)",
        [
            Column("name", "name"),
            Column("description", "description"),
            Column("input", "input_text"),
            Column("params", "params", "int"),
            Column("MACs", "macs", "int"),
        ],
        [dict(r, input_text=shape_text(r["input"])) for r in rows],
    )
    return [table]
