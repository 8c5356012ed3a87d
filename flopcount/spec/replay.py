"""Replay: one recorded expansion of a spec, re-run at other inputs without walking the spec.

A sweep over inputs (``--set input=224:1223``) and a search loop (``flopcount.cost(...,
input=...)``) count the same spec at many input sizes. What the walk decides (which layers
exist, their names, their attributes, which tensor feeds which) depends on the input only
through a few reads, so those decisions are made once per spec and variables (a
:class:`Template`) and each further input re-runs only each node's ``normalize``, ``infer`` and
``cost`` (what the op contract declares pure functions of the attributes and input shapes).

While a template's expansion runs, the walk logs (hooks in :mod:`.scopes` and :mod:`.walk`, off
otherwise):

* every read of an input-shape name (``in_c``, ``in_h``, ``in_w``, ``in_features``,
  ``block_in_*``), as the shape it read from; each is mapped back to the node (or model input)
  that made that shape;
* every ``if_shapes_match`` decision, with the tensors it compared;
* each node's attributes before ``normalize`` (they may resolve input-dependent defaults).

A replay at a new input recomputes every node's shape and cost, then checks each logged read
and decision against the new shapes: all equal means the walk would have made the very same
nodes, so the sums are the full expansion's. Anything else gives None and the caller expands
the spec fully, which is also what gives a failing input its usual error message: an op that
refuses the new shape, a read whose value changed (``size: ${block_in_h}`` in DeepLabv3's
pooling branch reads the input's size: every input of such a spec is a full expansion), a
decision that went the other way, or a read the log cannot place (then the template is not
kept at all).

The ``(op, attributes, input shapes) -> (normalised attributes, shape, cost)`` results are
the walk's own (:data:`flopcount.ops.base.RESULTS`, one table and one key for both): kept
across replays, templates and expansions, since the deep layers of a network see the same
small shapes for many inputs, and repeated blocks the same shapes within one input.
"""

from __future__ import annotations

from ..ops import base
from ..ops.base import Checked, attrs_key, checked_entry, get
from . import scopes, walk
from .binding import bind


class Record:
    """What the walk logs while a template's expansion runs (see the module docstring)."""

    __slots__ = ("choices", "raw")

    def __init__(self) -> None:
        self.raw: list = []  # per node, in order: its attributes before normalize
        self.choices: list = []  # per if_shapes_match: (tensor indices compared, shapes differed)


def recorded(expand, spec, variant, shape, sets):
    """``expand(spec, variant, shape, None, sets)`` with the walk's log on: (graph, record, reads)."""
    record, reads = Record(), []
    saved = walk.RECORD, scopes.SHAPE_READS
    walk.RECORD, scopes.SHAPE_READS = record, reads
    try:
        graph = expand(spec, variant, shape, None, sets)
    finally:
        walk.RECORD, scopes.SHAPE_READS = saved
    return graph, record, reads


class _NoTable:
    """The results "table" of a node whose attributes cannot be frozen: it keeps nothing."""

    __slots__ = ()

    def get(self, key):
        return None

    def __setitem__(self, key, value) -> None:
        pass


_NOTHING = _NoTable()


def _table(impl, raw: dict):
    """The kept results of one (op, attributes before normalize): the ``made`` of their
    Checked in flopcount.ops.base.RESULTS (the one the walk gave the node, while it is kept)."""
    key = attrs_key(impl, raw)
    if key is None:
        return _NOTHING
    if raw.__class__ is Checked and base.RESULTS.get(key) is raw:
        return raw.made
    return checked_entry(key, raw).made


def _read(shape, name: str):
    """What the walk's read of ``name`` gives on ``shape`` (:class:`.scopes.Scope`'s rule;
    ``block_in_c`` reads as ``in_c`` does)."""
    if name in scopes.BLOCK_IMPLICIT:
        name = scopes.IMPLICIT[scopes.BLOCK_IMPLICIT.index(name)]
    return scopes.Scope(None, shape)[name]  # type: ignore[arg-type]  # implicit names never read the env


class Template:
    """One expansion of a spec at one variant and set of variables, kept to be replayed at
    other inputs (:meth:`sums`). Build it with :func:`template`."""

    __slots__ = ("batch", "checks", "choices", "kept", "ops", "plan", "sets", "size", "spec", "variant")

    def __init__(self, spec, variant, sets, graph, record: Record, checks: list):
        self.spec, self.variant, self.sets = spec, variant, sets
        self.batch = graph.batch
        self.size = len(graph.nodes)
        self.ops = [n.op for n in graph.nodes]
        #: per node: (input indices, results table, op, attributes before normalize, counted)
        self.plan: list = [(n.inputs, None, None, raw, not n.train_only) for n, raw in zip(graph.nodes, record.raw)]
        self.kept = -1  # the RESULTS generation the plan's tables belong to (flopcount.ops.base._KEPT)
        self._tables()
        #: reads to hold again: (tensor index, name or dimension, value); a dimension where the
        #: name reads one (in_c: 0, block_in_h: 1, ...), a name otherwise (in_features)
        self.checks = checks
        self.choices = record.choices

    def shape_of(self, input_shape):
        """The model input the expansion would use for ``input_shape`` (the spec's channels for
        ``(None, H, W)``), or None when the binding has something to say (an error)."""
        b = bind(self.spec, self.variant, input_shape, self.batch, self.sets)
        return None if b.errors or b.shape is None else b.shape

    def sums(self, input_shape):
        """(input list, the spec's batch, params, sample MACs, sample ops, buffers) at
        ``input_shape``, as the full expansion would give them; None when the replay cannot
        vouch for that (the caller then expands fully)."""
        try:
            shape = self.shape_of(input_shape)
            if shape is None:
                return None
            return self._run(shape)
        except Exception:  # a refusal (or a fault) of the full expansion's own: it reports it
            return None

    def _tables(self) -> None:
        """Each node's op and results table, looked up again (RESULTS was emptied, or an op
        registered again, since the plan was made)."""
        plan: list = []
        for op, (inputs, _, _, raw, counted) in zip(self.ops, self.plan):
            impl = get(op)
            plan.append((inputs, _table(impl, raw), impl, raw, counted))
        self.plan = plan
        self.kept = base._KEPT[1]

    def _run(self, shape: tuple) -> tuple | None:
        if self.kept != base._KEPT[1]:
            self._tables()
        shapes: list = [None] * self.size
        shapes.append(shape)  # index -1: the model input
        p = m = o = bu = 0
        misses = 0  # (results kept: counted against RESULTS_LIMIT after the loop, as keep() counts)
        for i, (inputs, table, impl, raw, counted) in enumerate(self.plan):
            if len(inputs) == 1:
                xs_key = shapes[inputs[0]]
                got = table.get(xs_key)
            else:
                xs_key = tuple(shapes[j] for j in inputs)
                got = table.get(xs_key)
            if got is None:
                xs = [shapes[j] for j in inputs]
                a = impl.normalize(raw, xs)
                y = impl.infer(a, xs)
                c = impl.cost(a, xs, y)
                if len(y) == 3 and (y[1] < 1 or y[2] < 1):
                    _counted(misses)
                    return None
                got = (a, y, c, tuple(c))
                if table is not _NOTHING:
                    table[xs_key] = got
                    misses += 1
            shapes[i] = got[1]
            if counted:
                c = got[3]  # (the Cost as a plain tuple: macs, params, ops, buffers; a plain
                m += c[0]  # tuple's subscript is the interpreter's fast one, a Cost's is not)
                p += c[1]
                o += c[2]
                bu += c[3]
        _counted(misses)
        for idx, what, value in self.checks:
            s = shapes[idx]
            if what.__class__ is int:
                if len(s) <= what or s[what] != value:
                    return None
            elif _read(s, what) != value:
                return None
        for idxs, differed in self.choices:
            if (len({shapes[j] for j in idxs}) > 1) != differed:
                return None
        return (list(shape), self.batch, p, m, o, bu)


def _counted(kept: int) -> None:
    """Count ``kept`` new results against flopcount.ops.base.RESULTS_LIMIT (past it: all dropped)."""
    base._KEPT[0] += kept
    if base._KEPT[0] >= base.RESULTS_LIMIT:
        base.clear_results()


def template(expand, spec, variant, shape, sets) -> tuple:
    """Expand ``spec`` at ``shape`` (as ``expand(spec, variant, shape, None, sets)``, which
    raises what it raises) with the log on: (graph, a Template or None when the log cannot be
    replayed)."""
    graph, record, reads = recorded(expand, spec, variant, shape, sets)
    nodes = graph.nodes
    if len(record.raw) != len(nodes):
        return graph, None
    makers: dict = {}  # id(shape) -> the tensors that have that very shape object
    for n in nodes:
        makers.setdefault(id(n.shape), []).append(n.index)
    makers.setdefault(id(graph.input), []).append(-1)
    checks: dict = {}
    for obj, name in reads:
        found = makers.get(id(obj))
        if found is None:
            return graph, None
        value = _read(obj, name)
        what = _dimension(obj, name, value)
        for idx in found:
            checks[(idx, what)] = value
    return graph, Template(spec, variant, sets, graph, record, [(i, w, v) for (i, w), v in checks.items()])


def _dimension(shape, name: str, value):
    """The dimension of the shape that ``name`` reads (``in_c``: 0), for the quick check; the
    name itself when it reads something else (``in_features``: the product)."""
    for names in (scopes.IMPLICIT, scopes.BLOCK_IMPLICIT):
        if name in names and name != "in_features":
            dim = names.index(name)
            if dim < len(shape) and shape[dim] == value:
                return dim
    return name
