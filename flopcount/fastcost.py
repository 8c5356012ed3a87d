"""Totals without rows: the fast path of sweeps and of a search loop (``flopcount.cost``).

(The module is not ``flopcount/cost.py``: importing a submodule sets the package attribute of
its name, which would then hide the ``flopcount.cost`` function.)

``flopcount.cost("efficientnet-b0", input=320, sets={"width": 1.1})`` returns a :class:`Cost`:
the whole-batch ``params``, ``macs``, ``ops`` and ``buffers`` (exact ints, the same numbers as
``analyze(...).totals``), the per-sample ``sample_macs`` / ``sample_ops``, the ``input`` and
the ``batch``. No report rows are built.

Two things make repeated calls cheap:

* a :class:`CostModel` reads its spec once and keeps it (``cost`` keeps one per target: a
  built-in name for the whole process, a spec file until the file's size or modification time
  changes; files it imports are not watched);
* the batch only scales MACs and ops (costs are per sample; the report multiplies them by the
  batch), so every batch of one input and variables reuses one count;
* a model expands at most twice per combination of variables: at its first input, and at its
  second with the walk's log on (a :class:`~flopcount.spec.replay.Template`); each further
  input replays only the nodes' shapes and costs, or expands in full where the replay cannot vouch for the result (a layer
  whose attributes read the input's size, an input that fails: the full expansion gives the
  error).
"""

from __future__ import annotations

import os

from .errors import UsageError


class Cost:
    """The totals of one expansion (see the module docstring); ``counts()`` is ``analyze``'s
    ``totals`` dict (``params``, ``macs``, ``ops``, ``buffers``, in that order)."""

    __slots__ = ("params", "macs", "ops", "buffers", "sample_macs", "sample_ops", "input", "batch", "floor_ms")

    def __init__(self, params, macs, ops, buffers, sample_macs, sample_ops, input, batch, floor_ms=None):
        self.params, self.macs, self.ops, self.buffers = params, macs, ops, buffers
        self.sample_macs, self.sample_ops, self.input, self.batch = sample_macs, sample_ops, input, batch
        #: with ``device=``: the roofline floor (ms) of the whole batch, as ``report --roofline``
        #: totals it (flopcount.roofline: the sum over layers of max(FLOPs / peak, bytes / bandwidth))
        self.floor_ms = floor_ms

    def counts(self) -> dict:
        return {"params": self.params, "macs": self.macs, "ops": self.ops, "buffers": self.buffers}

    def __repr__(self) -> str:
        return (
            f"Cost(params={self.params}, macs={self.macs}, ops={self.ops}, buffers={self.buffers}, "
            f"input={list(self.input)}, batch={self.batch})"
        )


def graph_sums(graph) -> tuple:
    """(params, macs per sample, ops per sample, buffers) over the graph's nodes that a report
    counts (training-only nodes left out), as :func:`flopcount.report.report_of` sums them."""
    p = m = o = bu = 0
    for n in graph.nodes:
        if n.train_only:
            continue
        c = n.cost
        p += c.params
        m += c.macs
        o += c.ops
        bu += c.buffers
    return p, m, o, bu


def _key(value):
    """A hashable stand-in for a --set value (its type and repr: 1, 1.0 and True differ)."""
    return (type(value).__name__, repr(value))


class CostModel:
    """One model's spec, read once and checked (as ``load_graph`` does), then expanded at most
    twice per combination of variables and replayed at its further inputs; :meth:`cost` applies the batch to the
    kept sums."""

    def __init__(self, target: str):
        from .catalog import load_graph
        from .importers import find_kind, imported_spec  # L1 (issue 14): an imported target's written spec
        from .spec.document import read_spec
        from .spec.resolve import resolve

        self.target = target
        first = load_graph(target)  # checks the name, the variant and the spec itself
        self.variant = first.variant
        kind = find_kind(target)
        self.spec = imported_spec(kind, target) if kind is not None else read_spec(resolve(target).path)
        self.input = tuple(first.input)
        raw = self.spec.data.get("vars")
        self.vars = [str(k) for k in raw] if isinstance(raw, dict) else []
        #: (shape, sets) -> (input, the spec's batch, params, macs, ops, buffers)
        self._memo: dict = {}
        #: sets -> _ONCE (expanded at one input so far), or the Template replayed at each further
        #: input (None: not replayable)
        self._templates: dict = {}

    def sums(self, shape, sets: dict | None) -> tuple:
        """(input list, the spec's batch, params, sample MACs, sample ops, buffers) at ``shape``
        (None: the spec's input) and ``sets``; each combination expanded once."""
        key = (shape, tuple((k, _key(v)) for k, v in sets.items()) if sets else ())
        got = self._memo.get(key)
        if got is None:
            got = self._replayed(shape, key[1], sets)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = got
        return got

    def _replayed(self, shape, sets_key, sets) -> tuple:
        """The sums at ``shape``. The first input of ``sets`` is a plain expansion (a search
        over variables may never come back to them), the second a recorded one (a
        :class:`~flopcount.spec.replay.Template`), each further one replayed from it where the
        replay can vouch for the result, else expanded in full."""
        from .spec.expand import expand

        kept = self._templates.get(sets_key, _UNSEEN)
        if kept is _UNSEEN or kept is _ONCE:
            if len(self._templates) >= _TEMPLATE_LIMIT:
                self._templates.clear()
            if kept is _UNSEEN:
                # batch None: the spec's batch (checked by the expansion); the walk never reads it
                graph = expand(self.spec, self.variant, shape, None, sets or None)
                self._templates[sets_key] = _ONCE
            else:
                from .spec.replay import template

                graph, self._templates[sets_key] = template(expand, self.spec, self.variant, shape, sets or None)
        else:
            got = kept.sums(shape) if kept is not None else None
            if got is not None:
                return got
            graph = expand(self.spec, self.variant, shape, None, sets or None)
        return (list(graph.input), graph.batch, *graph_sums(graph))

    def cost(self, shape=None, batch: int | None = None, sets: dict | None = None, roof=None) -> Cost:
        """``roof``: None, or (profile, dtype) for the roofline floor (one more expansion: the
        floor needs each layer's shapes, which the kept sums do not hold)."""
        inp, spec_batch, p, m, o, bu = self.sums(shape, sets)
        b = spec_batch if batch is None else batch
        floor = None
        if roof is not None:
            from .spec.expand import expand

            floor = graph_floor(expand(self.spec, self.variant, shape, b, sets or None), b, *roof)
        return Cost(p, m * b, o * b, bu, m, o, inp, b, floor)


def graph_floor(graph, batch: int, profile, dtype: str) -> float:
    """The model's roofline floor in ms: the layers' floors summed in order, as
    :func:`flopcount.roofline.annotate` and ``combine`` total them over a report's rows."""
    from .roofline import node_bytes, point

    peak, bw = profile.peak(dtype), profile.bandwidth
    floors = []
    for n in graph.nodes:
        if n.train_only:
            continue
        shapes = [graph.input if i < 0 else graph.nodes[i].shape for i in n.inputs]
        floors.append(point(2 * n.cost.macs * batch, node_bytes(n, shapes, batch, dtype), peak, bw).floor_ms)
    return sum(floors)


#: expansions a model keeps (a sweep's combinations repeat only across batches)
_MEMO_LIMIT = 100_000
#: templates a model keeps (one per combination of variables)
_TEMPLATE_LIMIT = 1_000
_UNSEEN = object()
_ONCE = object()

_MODELS: dict = {}


def _stamp(target: str):
    """What must stay the same for a kept model to be reused: a spec file's size and mtime."""
    from .spec.resolve import looks_like_path

    if not looks_like_path(target):
        return None
    path = target if os.path.exists(target) or ":" not in target else target.rsplit(":", 1)[0]
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def cost(target: str, input=None, batch: int | None = None, sets=None, *, device=None, dtype: str = "fp32") -> Cost:
    """The totals of ``target`` (a built-in name or a spec path, with ``:VARIANT``) at ``input``
    (as ``analyze`` takes it), ``batch`` and ``sets`` (``{"width": 1.1}`` or ``["width=1.1"]``),
    without building rows. ``device``: a device profile (``"h100"``, a profile file) for
    ``floor_ms``, the roofline floor at ``dtype``. Errors are
    :class:`~flopcount.errors.FlopcountError` (2 usage, 3 spec)."""
    from .api import _batch, _input, _path, _sets, no_gc

    target = _path(target)
    if not isinstance(target, str):
        raise UsageError(f"cost() takes a built-in name or a spec path, not a {type(target).__name__}; use analyze()")
    batch = _batch(batch)
    stamp = _stamp(target)
    kept = _MODELS.get(target)
    with no_gc():
        if kept is None or kept[0] != stamp:
            kept = _MODELS[target] = (stamp, CostModel(target))
        model = kept[1]
        roof = None
        if device is not None:
            from .profiles import DTYPE_BYTES, load_profile

            if dtype not in DTYPE_BYTES:
                raise UsageError(f"dtype={dtype!r}: pick one of {', '.join(DTYPE_BYTES)}")
            roof = (load_profile(device), dtype)
        return model.cost(_input(input), batch, _sets(sets), roof)
