"""What the CLI and Python users call: analyze one model, compare several.

>>> from flopcount import analyze
>>> analyze("vgg-D").totals["macs"]
15470264320
"""
from __future__ import annotations

from .errors import UsageError
from .graph import Graph
from .spec.document import did_you_mean, read_spec
from .spec.expand import expand, parse_override
from .spec.resolve import resolve

REPORT_SCHEMA = "flopcount.report/1"
COMPARE_SCHEMA = "flopcount.compare/1"

#: Stated in every JSON report, so nobody has to guess the convention.
CONVENTIONS = {
    "macs": "multiply-accumulates of conv and fc layers for the whole batch; bias adds are not MACs",
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
    dataclass: see flopcount.graph)."""

    __slots__ = ("name", "op", "output", "params", "macs", "ops", "buffers", "group", "block", "train_only",
                 "pos", "published", "count", "extra")

    def __init__(self, name: str, op: str, output: tuple, params: int, macs: int, ops: int, buffers: int,
                 group: str | None = None, block: str | None = None, train_only: bool = False, pos=None,
                 published: dict | None = None, count: int = 1, extra: dict | None = None):
        self.name, self.op, self.output = name, op, output
        self.params, self.macs, self.ops, self.buffers = params, macs, ops, buffers
        self.group, self.block, self.train_only, self.pos, self.published = group, block, train_only, pos, published
        self.count = count  # leaf layers in a collapsed row
        #: measured or derived per-layer values added by later stages (latency_ms, bytes, ...);
        #: merged into the JSON row as they are
        self.extra = {} if extra is None else extra

    def __repr__(self) -> str:
        return f"Row({self.name!r}, {self.op!r}, params={self.params}, macs={self.macs})"

    def to_json(self, batch: int = 1) -> dict:
        out = {"name": self.name, "op": self.op, "output": list(self.output), "params": self.params,
               "macs": self.macs, "ops": self.ops, "buffers": self.buffers}
        if self.group is not None:
            out["group"] = self.group
        if self.published:
            # published figures are per image: compare them with this row's batch-1 numbers
            out["published"] = _published_json(self.published, {"params": self.params, "macs": self.macs // batch,
                                                                "ops": self.ops // batch})
        if self.pos is not None:
            out["line"] = self.pos.line
        out.update(self.extra)
        return out


def _published_json(figures: dict, ours) -> dict:
    out = {}
    for key, fig in figures.items():
        if isinstance(fig, str):
            out[key] = fig
            continue
        mine = getattr(ours, key, None) if not isinstance(ours, dict) else ours.get(key)
        entry = {"text": fig.text, "value": int(fig.value) if fig.value == int(fig.value) else float(fig.value)}
        if isinstance(mine, int):
            entry["ours"] = mine
            entry["status"] = fig.compare(mine)
            entry["diff"] = mine - entry["value"]
        out[key] = entry
    return out


class Report:
    def __init__(self, model: str, spec: str, variant: str | None, description: str, input: tuple, batch: int,
                 rows: list, train_rows: list | None = None, published: dict | None = None,
                 graph: Graph | None = None, totals_extra: dict | None = None, extra: dict | None = None):
        self.model, self.spec, self.variant, self.description = model, spec, variant, description
        self.input, self.batch, self.rows = input, batch, rows
        self.train_rows = [] if train_rows is None else train_rows
        self.published = {} if published is None else published
        self.graph = graph
        #: values added by later stages: ``totals_extra`` is merged into JSON ``totals``
        #: (e.g. latency_ms), ``extra`` into the top level (e.g. a ``latency`` object)
        self.totals_extra = {} if totals_extra is None else totals_extra
        self.extra = {} if extra is None else extra
        #: callables ``report -> {group: fields}`` registered by the stages that add per-layer
        #: values (latency, roofline), so that a collapsed row, in a table or in JSON ``blocks``,
        #: carries its block's values too (summed or recomputed as each stage defines)
        self.block_fields: list = []

    @property
    def totals(self) -> dict:
        return _sum(self.rows)

    @property
    def train_totals(self) -> dict:
        return _sum(self.train_rows)

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
                g = Row(r.group, r.block or "group", r.output, 0, 0, 0, 0, r.group, r.block, r.train_only,
                        r.pos, pub, 0)
                index[r.group] = g
                out.append(g)
            g.params += r.params
            g.macs += r.macs
            g.ops += r.ops
            g.buffers += r.buffers
            g.output = r.output
            g.count += 1
        for fields_of in self.block_fields:
            for group, fields in fields_of(self).items():
                if group in index:
                    index[group].extra.update(fields)
        return out

    def to_json(self, collapse: bool = False, unit: str = "macs") -> dict:
        totals = self.totals
        out = {
            "schema": REPORT_SCHEMA,
            "model": self.model,
            "spec": self.spec,
            "variant": self.variant,
            "description": self.description,
            "input": list(self.input),
            "batch": self.batch,
            "conventions": CONVENTIONS,
            "totals": dict(totals, **self.totals_extra),
            "layers": [r.to_json(self.batch) for r in self.rows],
        }
        if unit == "flops":
            out["totals"]["flops"] = 2 * totals["macs"]
            for row in out["layers"]:
                row["flops"] = 2 * row["macs"]
        if self.train_rows:
            out["train_only"] = {"totals": self.train_totals, "layers": [r.to_json(self.batch) for r in self.train_rows]}
        if collapse:
            out["blocks"] = [r.to_json(self.batch) for r in self.collapsed()]
        if self.published:
            out["published"] = _published_json(self.published, _per_sample(totals, self.batch))
        out.update(self.extra)
        return out


def _per_sample(totals: dict, batch: int) -> dict:
    """Published figures are per image: compare against batch-1 numbers."""
    return {k: (v // batch if k in ("macs", "ops") else v) for k, v in totals.items()}


def _sum(rows) -> dict:
    t = dict.fromkeys(FIELDS, 0)
    for r in rows:
        t["params"] += r.params
        t["macs"] += r.macs
        t["ops"] += r.ops
        t["buffers"] += r.buffers
    return t


def parse_sets(pairs) -> dict:
    """``["aux=true", "width=1.1"]`` -> ``{"aux": True, "width": 1.1}`` (values read as YAML)."""
    out = {}
    for text in pairs or ():
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {text!r}: expected KEY=VALUE")
        out[key.strip()] = parse_override(value)
    return out


def load_graph(target: str, input_shape=None, batch=None, sets=None) -> Graph:
    t = resolve(target)
    spec = read_spec(t.path)
    variant = t.variant
    names = spec.variant_names()
    if variant is None and names:
        variant = spec.default_variant
        if variant is None:
            raise UsageError(f"{t.display} has variants: pick one of "
                             + ", ".join(f"{t.display}-{v}" if t.builtin else f"{t.display}:{v}" for v in names))
    elif variant is not None and variant not in names:
        hint = did_you_mean(variant, names)
        what = f"variants: {', '.join(names)}" if names else "it has no variants"
        raise UsageError(f"unknown config `{t.display}`: {spec.name} has no variant `{variant}` ({what})"
                         + (f"; {hint}" if hint else ""))
    graph = expand(spec, variant, input_shape, batch, sets)
    graph.name = t.display if t.builtin else graph.name
    return graph


class no_gc:
    """Pause the cyclic garbage collector for a block: an analysis makes many small objects
    and almost no reference cycles, so the collector's passes are nearly pure cost (a quarter of
    the time at 10,000 layers). Reference counting still frees everything as usual."""

    def __enter__(self):
        import gc

        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            import gc

            gc.enable()


def analyze(target: str, input_shape=None, batch=None, sets=None) -> Report:
    """Count one model: a built-in name (``vgg-D``) or a spec path (``my.yaml`` / ``my.yaml:VARIANT``)."""
    with no_gc():
        return report_of(load_graph(target, input_shape, batch, sets))


def report_of(graph: Graph) -> Report:
    b = graph.batch
    rows, train_rows = [], []
    published = graph.published
    for n in graph.nodes:
        c = n.cost
        row = Row(n.name, n.op, n.shape, c.params, c.macs * b, c.ops * b, c.buffers, n.group, n.block,
                  n.train_only, n.pos, published.get(n.name))
        (train_rows if n.train_only else rows).append(row)
    return Report(graph.name, graph.source, graph.variant, graph.description, graph.input, b, rows, train_rows,
                  published.get("", {}), graph)


def compare(targets, input_shape=None, batch=None, sets=None) -> list:
    return [analyze(t, input_shape, batch, sets) for t in targets]


def compare_json(reports, collapse=False, unit="macs") -> dict:
    models = [r.to_json(collapse, unit) for r in reports]
    base = reports[0].totals
    for m, r in zip(models, reports):
        t = r.totals
        m["ratio"] = {k: (t[k] / base[k] if base[k] else None) for k in ("params", "macs")}
    return {"schema": COMPARE_SCHEMA, "models": models}
