"""The report model: one row per layer (or per block instance, collapsed), the totals, and the
typed results later stages attach (``Report.latency``: a LatencyResult; ``Report.roofline``
and ``Row.roof``: the roofline). Renderers (flopcount.render) read it; nothing here prints.

Counts are exact ints for the whole batch (``macs``, ``ops``), with the per-sample values
kept beside them (``sample_macs``, ``sample_ops``): published figures are per image.
Values derived from a measurement (a layer's share of the per-layer sum, GFLOP/s, the
fraction of the roof reached) are computed here on demand, never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Graph
from .published import Published

if TYPE_CHECKING:
    from .records import LatencyResult, Roofline, RoofPoint, Unit

REPORT_SCHEMA = "flopcount.report/1"
COMPARE_SCHEMA = "flopcount.compare/1"
LIST_SCHEMA = "flopcount.list/1"

#: Stated in every JSON report, so nobody has to guess the convention.
CONVENTIONS = {
    "macs": "multiply-accumulates of conv, fc/linear and matmul (attention) layers for the whole batch; bias adds are not MACs",
    "flops": "2 x macs (derived, only with --unit flops)",
    "params": "learnable weights and biases, batch-norm gamma and beta",
    "buffers": "batch-norm running mean and variance (not params; TensorFlow-style counts include them)",
    "ops": "element operations that are not MACs (pooling, activations, batch-norm, adds, multiplies)",
}
FIELDS = ("params", "macs", "ops", "buffers")
#: Version of the counting rules (CONVENTIONS above and each op's cost/params rule), written
#: into every baseline (`flopcount snapshot`). Bump it when the same spec would count
#: differently: a convention changes (e.g. bias adds become MACs) or an existing op's cost or
#: parameter rule is corrected. Not for new ops, new configs or new output formats.
COUNTING_RULES = 1


class Row:
    """One row of a report: a leaf layer, or a block instance when collapsed (plain class, not a
    dataclass: see flopcount.graph). ``members``: a collapsed row's leaf rows (None for a leaf)."""

    __slots__ = (
        "name",
        "op",
        "output",
        "params",
        "macs",
        "ops",
        "buffers",
        "group",
        "block",
        "train_only",
        "pos",
        "published",
        "count",
        "sample_macs",
        "sample_ops",
        "roof",
        "members",
    )

    def __init__(
        self,
        name: str,
        op: str,
        output: tuple,
        params: int,
        macs: int,
        ops: int,
        buffers: int,
        group: str | None = None,
        block: str | None = None,
        train_only: bool = False,
        pos=None,
        published: Published | dict | None = None,
        count: int = 1,
        sample_macs: int | None = None,
        sample_ops: int | None = None,
        roof: RoofPoint | None = None,
        members: list | None = None,
    ):
        self.name, self.op, self.output = name, op, output
        self.params, self.macs, self.ops, self.buffers = params, macs, ops, buffers
        self.group, self.block, self.train_only, self.pos = group, block, train_only, pos
        self.published = published if published is None else Published.of(published)
        self.count = count  # leaf layers in a collapsed row
        #: per-sample costs (what a paper prints); equal to macs / ops at batch 1
        self.sample_macs = macs if sample_macs is None else sample_macs
        self.sample_ops = ops if sample_ops is None else sample_ops
        self.roof = roof  # set by flopcount.roofline.annotate
        self.members = members

    def __repr__(self) -> str:
        return f"Row({self.name!r}, {self.op!r}, params={self.params}, macs={self.macs})"

    def absorb(self, r: Row) -> None:
        """Fold leaf row ``r`` into this folded row: its sums (exact ints) and its membership."""
        self.params += r.params
        self.macs += r.macs
        self.ops += r.ops
        self.buffers += r.buffers
        self.sample_macs += r.sample_macs
        self.sample_ops += r.sample_ops
        self.output = r.output
        self.count += 1
        if self.members is None:
            self.members = []
        self.members.append(r)

    def per_sample(self) -> dict:
        """The counts a published figure is compared with: params, MACs and ops per sample."""
        return {"params": self.params, "macs": self.sample_macs, "ops": self.sample_ops}

    def to_json(self, batch: int = 1) -> dict:
        from .render.jsondoc import row_json

        return row_json(self)


class Totals:
    """Sums over a report's rows (whole batch), and MACs / ops per sample (a plain class:
    cheaper to define at import than a NamedTuple)."""

    __slots__ = ("params", "macs", "ops", "buffers", "sample_macs", "sample_ops")

    def __init__(self, params: int, macs: int, ops: int, buffers: int, sample_macs: int, sample_ops: int):
        self.params, self.macs, self.ops, self.buffers = params, macs, ops, buffers
        self.sample_macs, self.sample_ops = sample_macs, sample_ops

    def __repr__(self) -> str:
        return f"Totals(params={self.params}, macs={self.macs}, ops={self.ops}, buffers={self.buffers})"

    def counts(self) -> dict:
        """``{"params", "macs", "ops", "buffers"}``: the JSON ``totals`` keys, in that order."""
        return {"params": self.params, "macs": self.macs, "ops": self.ops, "buffers": self.buffers}

    def per_sample(self) -> dict:
        return {"params": self.params, "macs": self.sample_macs, "ops": self.sample_ops, "buffers": self.buffers}


class LayerTime:
    """A row's measured time, derived from ``Report.latency`` when rendering: ``ms`` (median; a
    collapsed row: the sum of its layers' medians), ``share`` (of the per-layer sum),
    ``gflop_per_s`` (2 x MACs / time; None without MACs), ``host_ms``, ``launch_bound``."""

    __slots__ = ("ms", "share", "gflop_per_s", "host_ms", "launch_bound")

    def __init__(self, ms: float, share: float | None, gflop_per_s: float | None, host_ms: float, launch_bound: bool):
        self.ms, self.share, self.gflop_per_s, self.host_ms, self.launch_bound = (
            ms,
            share,
            gflop_per_s,
            host_ms,
            launch_bound,
        )


def gflops(macs: int, ms: float | None) -> float | None:
    """Achieved GFLOP/s = 2 x MACs / time; None when there are no MACs or no time."""
    if not macs or not ms or ms <= 0:
        return None
    return round(2 * macs / (ms * 1e6), 3)


def sum_rows(rows) -> Totals:
    p = m = o = bu = sm = so = 0
    for r in rows:
        p += r.params
        m += r.macs
        o += r.ops
        bu += r.buffers
        sm += r.sample_macs
        so += r.sample_ops
    return Totals(p, m, o, bu, sm, so)


class Report:
    """One model's counts. Later stages attach typed results: ``latency``
    (flopcount.records.LatencyResult, from flopcount.latency) and ``roofline`` with each row's
    ``roof`` and ``roof_total`` (flopcount.roofline)."""

    def __init__(
        self,
        model: str,
        spec: str,
        variant: str | None,
        description: str,
        input: tuple,
        batch: int,
        rows: list,
        train_rows: list | None = None,
        published: Published | dict | None = None,
        graph: Graph | None = None,
    ):
        self.model, self.spec, self.variant, self.description = model, spec, variant, description
        self.input, self.batch, self.rows = input, batch, rows
        self.train_rows = [] if train_rows is None else train_rows
        self.published = Published.of(published) or Published()
        self.graph = graph
        self.latency: LatencyResult | None = None
        self.roofline: Roofline | None = None
        self.roof_total: RoofPoint | None = None
        self._times: tuple | None = None

    @property
    def totals(self) -> dict:
        return self.sums().counts()

    @property
    def train_totals(self) -> dict:
        return self.sums(self.train_rows).counts()

    def sums(self, rows=None) -> Totals:
        return sum_rows(self.rows if rows is None else rows)

    def collapsed(self, rows=None) -> list:
        """One row per outermost block instance (or named group); other rows as they are."""
        out: list = []
        index: dict = {}
        for r in self.rows if rows is None else rows:
            if r.group is None:
                out.append(r)
                continue
            g = index.get(r.group)
            if g is None:
                pub = self.graph.published.get(r.group) if self.graph else None
                g = Row(
                    r.group,
                    r.block or "group",
                    r.output,
                    0,
                    0,
                    0,
                    0,
                    r.group,
                    r.block,
                    r.train_only,
                    r.pos,
                    pub,
                    0,
                    0,
                    0,
                    members=[],
                )
                index[r.group] = g
                out.append(g)
            g.absorb(r)
        self.combine_roofs(index.values())
        return out

    def combine_roofs(self, folded) -> None:
        """Give each folded row the roofline of its members (when a roofline was drawn)."""
        if self.roofline is None:
            return
        from .roofline import combine

        for g in folded:
            g.roof = combine([m.roof for m in g.members], self.roofline)

    # -- derived from the measurement -----------------------------------------------------------
    def time_of(self, row: Row) -> LayerTime | None:
        """The measured time of a row (a leaf by name, a collapsed row as the sum of its
        layers); None without ``--latency`` or when the row was not measured."""
        lat = self.latency
        if lat is None:
            return None
        if self._times is None or self._times[0] is not lat:
            self._times = (lat, {layer.name: layer for layer in lat.layers})
        by_name = self._times[1]
        leaves = row.members if row.members is not None else [row]
        found = [by_name.get(r.name) for r in leaves]
        if not found or any(f is None for f in found):
            return None
        ms = sum(f.device.p50 for f in found)
        host = sum(f.host_ms for f in found)
        total = lat.layer_sum_ms
        return LayerTime(
            ms, ms / total if total > 0 else None, gflops(row.macs, ms), host, all(f.launch_bound for f in found)
        )

    def total_ms(self) -> float | None:
        """End-to-end median (ms), the total's time; None without ``--latency``."""
        return None if self.latency is None else self.latency.end_to_end.p50

    def efficiency(self, row: Row | None = None) -> float | None:
        """Floor over measured time (of ``row``, or of the model): the fraction of the device's
        limit reached; None unless both the roofline and a measurement are there, and None when
        the measurement was made on another device than the profile's (render.measured)."""
        point = self.roof_total if row is None else row.roof
        if point is None:
            return None
        from .render.measured import report_elsewhere

        if report_elsewhere(self) is not None:
            return None
        if row is None:
            ms = self.total_ms()
        else:
            t = self.time_of(row)
            ms = None if t is None else t.ms
        return point.floor_ms / ms if ms and ms > 0 else None

    def to_json(self, collapse: bool = False, unit: Unit = "macs") -> dict:
        import gc

        from .render.jsondoc import report_json

        # a dict per row and no reference cycles: the cyclic collector's passes over the whole
        # report would be most of the time at 100,000 rows (as in flopcount.api.no_gc)
        was = gc.isenabled()
        gc.disable()
        try:
            return report_json(self, collapse, unit)
        finally:
            if was:
                gc.enable()

    # -- the Python API (flopcount.notebook) ----------------------------------------------------
    def to_dict(self, collapse: bool | None = None, unit: Unit = "macs") -> dict:
        """The ``flopcount.report/1`` document, as ``flopcount report --format json`` writes it
        (``collapse`` None: the spec's ``collapse:``, as the command decides)."""
        from .notebook import report_dict

        return report_dict(self, collapse, unit)

    def to_dataframe(self, collapse: bool = False, unit: Unit = "macs"):
        """A pandas DataFrame, one row per layer (per block with ``collapse=True``); needs pandas."""
        from .notebook import report_frame

        return report_frame(self, collapse, unit)

    def _repr_html_(self) -> str:
        from .notebook import report_html

        return report_html(self)


def report_of(graph: Graph) -> Report:
    """The report of an expanded graph: whole-batch costs per row, per-sample costs beside."""
    b = graph.batch
    rows: list = []
    train_rows: list = []
    published = graph.published
    new = object.__new__
    of = Published.of
    for n in graph.nodes:
        c = n.cost
        # Row(n.name, n.op, n.shape, c.params, macs, ops, c.buffers, n.group, n.block,
        # n.train_only, n.pos, figures, 1, c.macs, c.ops), its fields set in place: the
        # class call is half the cost of a row (tests/test_walk_r5_rows.py holds them equal)
        row = new(Row)
        row.name = n.name
        row.op = n.op
        row.output = n.shape
        row.params = c.params
        row.sample_macs = macs = c.macs
        row.sample_ops = ops = c.ops
        row.macs = macs * b if b != 1 else macs  # (at batch 1 the per-sample ints themselves: no copy)
        row.ops = ops * b if b != 1 else ops
        row.buffers = c.buffers
        row.group = n.group
        row.block = n.block
        row.train_only = n.train_only
        row.pos = n.pos
        figures = published.get(n.name)
        row.published = figures if figures is None else of(figures)
        row.count = 1
        row.roof = None
        row.members = None
        (train_rows if n.train_only else rows).append(row)
    return Report(
        graph.name,
        graph.source,
        graph.variant,
        graph.description,
        graph.input,
        b,
        rows,
        train_rows,
        published.get("", {}),
        graph,
    )
