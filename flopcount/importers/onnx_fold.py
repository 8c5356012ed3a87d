"""Constant folding of an ONNX graph's integer shape arithmetic (no torch, no numpy).

Exporters compute sizes inside the graph from ``Shape`` ops: torchvision's Swin pads H and W to
multiples of the window with ``Shape -> Gather -> Mod -> Sub -> Concat -> Reshape -> Slice ->
Transpose -> Cast -> Pad``, and every window partition's ``Reshape`` target is built the same
way. onnx's own data propagation follows only part of that (not ``Mod``, a 2-D ``Reshape`` or
a ``Transpose`` of the pads), so the pads, and every shape after them, stay unknown.

:func:`fold` walks the nodes once, in order, with the static shapes onnx inferred (and, where
onnx left one unknown, the shape this walk derives for the common ops, so one walk reaches
past every pad), evaluates each node whose inputs are all known small integer (or boolean)
tensors, and writes the results that feed a size input (a Reshape's shape, a Pad's pads, a
Slice's bounds, ...) into the graph as int64 initializers; onnx's inference then runs again.

Only integer arithmetic derived from static shapes and small integer initializers is folded;
float computations are never evaluated (what FlopCounterMode counts stays in the graph).

Caps (a hostile file cannot make it hang or run out of memory): every folded tensor holds at
most :data:`MAX_ELEMENTS` values, each inside int64, and the size of a result is computed
before it is built (``Range(0, 10**12)``, ``ConstantOfShape([10**6, 10**6])``, an ``Expand``
or ``Tile`` to a huge size): such a node is left unfolded and the first one is returned as a
located refusal, which the importer adds to the error it gives if a shape then stays unknown.
A node that reads a tensor defined later (a cycle) reads an unknown value: nothing loops.
"""

from __future__ import annotations

import math

#: the most values one folded integer tensor may hold (shape arithmetic needs a few dozen)
MAX_ELEMENTS = 4096
_I64 = (-(2**63), 2**63 - 1)
#: ONNX integer and boolean element types: INT8..INT64, UINT8..UINT64, BOOL
_INT_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}

#: (op type, input index) that are sizes: the inputs whose folded value is written back
SIZE_INPUTS = {
    ("Reshape", 1),
    ("Expand", 1),
    ("ConstantOfShape", 0),
    ("Tile", 1),
    ("Resize", 3),
    ("Slice", 1),
    ("Slice", 2),
    ("Slice", 3),
    ("Slice", 4),
    ("Unsqueeze", 1),
    ("Squeeze", 1),
    ("Split", 1),
    ("Pad", 1),
    ("Pad", 3),
    ("ReduceMean", 1),
    ("ReduceSum", 1),
    ("ReduceMax", 1),
    ("ReduceL2", 1),
    ("Range", 0),
    ("Range", 1),
    ("Range", 2),
    ("TopK", 1),
    ("OneHot", 1),
}


class _Refused(Exception):
    """A node whose result would break a cap: left unfolded (the message says why)."""


class _Unknown(Exception):
    """A node that is not integer shape arithmetic, or reads a value not known here."""


def _numel(dims) -> int:
    return math.prod(dims) if dims else 1


def _check(node, dims, vals=None) -> None:
    n = _numel(dims)
    if any(d < 0 for d in dims):
        raise _Unknown
    if n > MAX_ELEMENTS:
        raise _Refused(f"a {_fmt(dims)} integer tensor ({n:,} values; flopcount folds at most {MAX_ELEMENTS:,})")
    if vals is not None and any(not (_I64[0] <= v <= _I64[1]) for v in vals):
        raise _Refused("a value outside int64")


def _fmt(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


# -- small integer tensors: (dims tuple, flat list, row-major) -------------------------------
def _strides(dims) -> list:
    out, acc = [], 1
    for d in reversed(dims):
        out.append(acc)
        acc *= d
    return out[::-1]


def _broadcast(node, *ts):
    first = ts[0][0]
    if all(t[0] == first for t in ts):  # the common case (scalars, equal sizes): nothing to spread
        return tuple(first), [t[1] for t in ts]
    rank = max(len(t[0]) for t in ts)
    padded = [(1,) * (rank - len(d)) + tuple(d) for d, _ in ts]
    out = []
    for col in zip(*padded):
        big = max(col)
        if any(c not in (1, big) for c in col):
            raise _Unknown
        out.append(big if all(c != 0 for c in col) else 0)
    _check(node, out)
    n = _numel(out)
    ost = _strides(out)
    cols = []
    for (_d, v), pd in zip(ts, padded):
        st = _strides(pd)
        idx = []
        for flat in range(n):
            off = 0
            for k in range(rank):
                i = (flat // ost[k]) % out[k] if out[k] else 0
                if pd[k] != 1:
                    off += i * st[k]
            idx.append(v[off])
        cols.append(idx)
    return tuple(out), cols


def _div(p, q):
    if q == 0:
        raise _Unknown
    r = abs(p) // abs(q)
    return r if (p >= 0) == (q > 0) else -r  # integer Div truncates toward zero


def _mod(p, q, fmod):
    if q == 0:
        raise _Unknown
    if fmod:
        return p - q * _div(p, q)
    return p % q


_BINARY = {
    "Add": lambda p, q: p + q,
    "Sub": lambda p, q: p - q,
    "Mul": lambda p, q: p * q,
    "Div": _div,
    "Equal": lambda p, q: int(p == q),
    "Less": lambda p, q: int(p < q),
    "LessOrEqual": lambda p, q: int(p <= q),
    "Greater": lambda p, q: int(p > q),
    "GreaterOrEqual": lambda p, q: int(p >= q),
    "And": lambda p, q: int(bool(p) and bool(q)),
    "Or": lambda p, q: int(bool(p) or bool(q)),
    "Xor": lambda p, q: int(bool(p) != bool(q)),
    "Max": max,
    "Min": min,
}
_UNARY = {
    "Identity": lambda p: p,
    "Floor": lambda p: p,
    "Ceil": lambda p: p,
    "Round": lambda p: p,
    "Neg": lambda p: -p,
    "Abs": abs,
    "Not": lambda p: int(not p),
    "Sign": lambda p: (p > 0) - (p < 0),
}


def _axis(a, rank) -> int:
    if not -rank <= a < max(rank, 1):
        raise _Unknown
    return a % rank if rank else 0


def _gather(node, x, idx, axis):
    d, v = x
    ax = _axis(axis, len(d))
    n = d[ax]
    out = tuple(d[:ax]) + tuple(idx[0]) + tuple(d[ax + 1 :])
    _check(node, out)
    outer, inner = _numel(d[:ax]), _numel(d[ax + 1 :])
    res = []
    for o in range(outer):
        for i in idx[1]:
            if not -n <= i < n:
                raise _Unknown
            base = (o * n + i % n) * inner
            res.extend(v[base : base + inner])
    return out, res


def _transpose(x, perm):
    d, v = x
    if sorted(perm) != list(range(len(d))):
        raise _Unknown
    out = tuple(d[p] for p in perm)
    st = _strides(d)
    ost = _strides(out)
    res = []
    for flat in range(len(v)):
        off = 0
        for k, p in enumerate(perm):
            off += ((flat // ost[k]) % out[k]) * st[p]
        res.append(v[off])
    return out, res


def _slice_ranges(dims, starts, ends, axes, steps) -> list:
    """Per axis, the Python range of indices a Slice keeps."""
    rank = len(dims)
    keep = [range(d) for d in dims]
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _Unknown
    for s, e, a, st in zip(starts, ends, axes, steps):
        ax = _axis(a, rank)
        if st == 0:
            raise _Unknown
        keep[ax] = range(dims[ax])[slice(s, e, st)]
    return keep


def _slice(node, x, starts, ends, axes, steps):
    d, v = x
    keep = _slice_ranges(d, starts, ends, axes, steps)
    out = tuple(len(r) for r in keep)
    _check(node, out)
    st = _strides(d)
    res = []

    def rec(k, off):
        if k == len(d):
            res.append(v[off])
            return
        for i in keep[k]:
            rec(k + 1, off + i * st[k])

    if _numel(out):
        rec(0, 0)
    return out, res


def _reshape_dims(node, in_dims, target, allowzero=0) -> tuple:
    n = _numel(in_dims)
    out = []
    minus = -1
    for k, t in enumerate(target):
        if t == 0 and not allowzero:
            if k >= len(in_dims):
                raise _Unknown
            out.append(in_dims[k])
        elif t == -1:
            if minus >= 0:
                raise _Unknown
            minus = k
            out.append(1)
        elif t < 0:
            raise _Unknown
        else:
            out.append(t)
    if minus >= 0:
        rest = _numel(out)
        if rest == 0 or n % rest:
            raise _Unknown
        out[minus] = n // rest
    if _numel(out) != n:
        raise _Unknown
    return tuple(out)


def _squeeze_dims(dims, axes) -> tuple:
    rank = len(dims)
    if axes is None:
        return tuple(d for d in dims if d != 1)
    ax = {_axis(a, rank) for a in axes}
    if any(dims[a] != 1 for a in ax):
        raise _Unknown
    return tuple(d for k, d in enumerate(dims) if k not in ax)


def _unsqueeze_dims(dims, axes) -> tuple:
    rank = len(dims) + len(axes)
    ax = sorted({_axis(a, rank) for a in axes})
    if len(ax) != len(axes):
        raise _Unknown
    out, it = [], iter(dims)
    for k in range(rank):
        out.append(1 if k in ax else next(it))
    return tuple(out)


# -- the walk ----------------------------------------------------------------------------
class Folder:
    """One pass over a shape-inferred graph (see the module docstring)."""

    def __init__(self, model, attr_value, small_values, dims_of) -> None:
        self.g = model.graph
        self.attr_value = attr_value
        self.small_values = small_values
        self.shapes: dict = {}
        for vi in list(self.g.input) + list(self.g.value_info) + list(self.g.output):
            d = dims_of(vi)
            if d is not None and all(isinstance(x, int) and x >= 0 for x in d):
                self.shapes[vi.name] = tuple(d)
        self.vals: dict = {}
        self.inits = {t.name for t in self.g.initializer}
        for t in self.g.initializer:
            self.shapes.setdefault(t.name, tuple(int(x) for x in t.dims))
            if t.data_type in _INT_TYPES and _numel(t.dims) <= MAX_ELEMENTS:
                v = small_values(t)
                if v is not None:
                    self.vals[t.name] = (tuple(int(x) for x in t.dims), [int(x) for x in v])
        self.refused: str | None = None
        self.pending = 0  # size inputs still neither constant nor folded

    def _where(self, node) -> str:
        return f"node {node.name or '(unnamed)'} ({node.op_type})"

    def run(self) -> bool:
        replaced = False
        for node in self.g.node:
            if node.domain not in ("", "ai.onnx"):
                continue
            try:
                out = self._value(node)
            except _Refused as e:
                if self.refused is None:
                    self.refused = f"{self._where(node)} would make {e}"
                out = None
            except (_Unknown, KeyError, IndexError, ValueError, TypeError, ZeroDivisionError, StopIteration):
                out = None
            if out is not None and node.output and node.output[0]:
                self.vals[node.output[0]] = out
                self.shapes.setdefault(node.output[0], out[0])
            elif node.output and node.output[0] and node.output[0] not in self.shapes:
                try:
                    shape = self._shape(node)
                except (_Unknown, _Refused, KeyError, IndexError, ValueError, TypeError, ZeroDivisionError):
                    shape = None
                if shape is not None:
                    self.shapes[node.output[0]] = tuple(shape)
            for i, name in enumerate(node.input):
                if (node.op_type, i) in SIZE_INPUTS and name and name not in self.inits:
                    if name in self.vals:
                        node.input[i] = self._constant(name)
                        replaced = True
                    else:
                        self.pending += 1
        return replaced

    def _constant(self, name: str) -> str:
        const = f"{name}__flopcount_size"
        if const not in self.inits:
            d, v = self.vals[name]
            t = self.g.initializer.add()
            t.name = const
            t.data_type = 7
            t.dims.extend(d)
            t.int64_data.extend(v)
            self.inits.add(const)
        return const

    # -- values ----------------------------------------------------------------------
    def _in(self, node, i):
        name = node.input[i] if len(node.input) > i else ""
        if not name:
            return None
        if name not in self.vals:
            raise _Unknown
        return self.vals[name]

    def _opt_list(self, node, i, attr):
        a = self.attr_value(attr) if attr is not None else None
        if a is not None:
            return [int(x) for x in a]
        v = self._in(node, i) if len(node.input) > i and node.input[i] else None
        return None if v is None else list(v[1])

    def _attrs(self, node) -> dict:
        return {x.name: x for x in node.attribute}

    def _value(self, node):
        op = node.op_type
        at = self._attrs(node)

        def attr(name, default=None):
            return self.attr_value(at[name]) if name in at else default

        if op == "Constant":
            t = attr("value")
            if t is not None:
                if t.data_type not in _INT_TYPES or _numel(t.dims) > MAX_ELEMENTS:
                    return None  # data, not arithmetic: not folded, not a refusal
                v = self.small_values(t)
                return (tuple(int(x) for x in t.dims), [int(x) for x in v]) if v is not None else None
            if "value_ints" in at:
                v = [int(x) for x in attr("value_ints")]
                _check(node, (len(v),))
                return ((len(v),), v)
            if "value_int" in at:
                return ((), [int(attr("value_int"))])
            return None
        if op == "Shape":
            d = self.shapes[node.input[0]]
            r = len(d)
            lo, hi = int(attr("start", 0)), int(attr("end", r))
            lo = max(0, min(r, lo + r if lo < 0 else lo))
            hi = max(0, min(r, hi + r if hi < 0 else hi))
            v = list(d[lo:hi])
            return ((len(v),), v)
        if op == "Size":
            v = [_numel(self.shapes[node.input[0]])]
            _check(node, (), v)
            return ((), v)
        if op in ("Cast", "CastLike"):
            x = self._in(node, 0)
            to = int(attr("to", 7)) if op == "Cast" else 7
            if to not in _INT_TYPES:
                return None
            return (x[0], [int(bool(p)) for p in x[1]]) if to == 9 else x
        if op in _UNARY:
            d, v = self._in(node, 0)
            return (d, [_UNARY[op](p) for p in v])
        if op in _BINARY or op == "Mod":
            if len(node.input) != 2 and op not in ("Max", "Min"):
                raise _Unknown
            ts = [self._in(node, i) for i in range(len(node.input))]
            dims, cols = _broadcast(node, *ts)
            if op == "Mod":
                fm = int(attr("fmod", 0))
                res = [_mod(p, q, fm) for p, q in zip(*cols)]
            else:
                fn = _BINARY[op]
                res = list(cols[0])
                for c in cols[1:]:
                    res = [fn(p, q) for p, q in zip(res, c)]
            _check(node, dims, res)
            return dims, res
        if op == "Where":
            c, p, q = (self._in(node, i) for i in range(3))
            dims, (cc, pp, qq) = _broadcast(node, c, p, q)
            return dims, [y if b else z for b, y, z in zip(cc, pp, qq)]
        if op == "Gather":
            return _gather(node, self._in(node, 0), self._in(node, 1), int(attr("axis", 0)))
        if op in ("Unsqueeze", "Squeeze"):
            d, v = self._in(node, 0)
            axes = self._opt_list(node, 1, at.get("axes"))
            if op == "Unsqueeze":
                if axes is None:
                    raise _Unknown
                return _unsqueeze_dims(d, axes), v
            return _squeeze_dims(d, axes), v
        if op == "Reshape":
            d, v = self._in(node, 0)
            target = self._in(node, 1)[1]
            return _reshape_dims(node, d, target, int(attr("allowzero", 0))), v
        if op == "Flatten":
            d, v = self._in(node, 0)
            ax = _axis(int(attr("axis", 1)), len(d) + 1) if d else 0
            return (_numel(d[:ax]), _numel(d[ax:])), v
        if op == "Concat":
            ts = [self._in(node, i) for i in range(len(node.input)) if node.input[i]]
            rank = len(ts[0][0])
            ax = _axis(int(attr("axis", 0)), rank)
            if any(len(t[0]) != rank or t[0][:ax] != ts[0][0][:ax] or t[0][ax + 1 :] != ts[0][0][ax + 1 :] for t in ts):
                raise _Unknown
            out = ts[0][0][:ax] + (sum(t[0][ax] for t in ts),) + ts[0][0][ax + 1 :]
            _check(node, out)
            outer = _numel(out[:ax])
            res = []
            for o in range(outer):
                for d, v in ts:
                    inner = d[ax] * _numel(d[ax + 1 :])
                    res.extend(v[o * inner : (o + 1) * inner])
            return out, res
        if op == "Slice":
            x = self._in(node, 0)
            starts, ends = self._in(node, 1)[1], self._in(node, 2)[1]
            axes = self._opt_list(node, 3, None)
            steps = self._opt_list(node, 4, None)
            return _slice(node, x, starts, ends, axes, steps)
        if op == "Transpose":
            x = self._in(node, 0)
            perm = attr("perm")
            perm = [int(p) for p in perm] if perm is not None else list(range(len(x[0])))[::-1]
            return _transpose(x, perm)
        if op == "ConstantOfShape":
            dims = tuple(self._in(node, 0)[1])
            t = attr("value")
            if t is not None and t.data_type not in _INT_TYPES:
                return None
            _check(node, dims)
            fill = int((self.small_values(t) or [0])[0]) if t is not None else 0
            return dims, [fill] * _numel(dims)
        if op == "Range":
            (s,), (e,), (dl,) = (self._in(node, i)[1] for i in range(3))
            if dl == 0:
                raise _Unknown
            n = max(0, -(-(e - s) // dl))
            _check(node, (n,))
            return (n,), list(range(s, e, dl))
        if op == "Expand":
            x = self._in(node, 0)
            shape = self._in(node, 1)[1]
            _check(node, tuple(shape))
            ones = (tuple(int(d) for d in shape), [0] * _numel(shape))
            dims, (vals, _) = _broadcast(node, x, ones)
            return dims, vals
        if op == "Tile":
            d, v = self._in(node, 0)
            reps = self._in(node, 1)[1]
            if len(reps) != len(d) or any(r < 0 for r in reps):
                raise _Unknown
            out = tuple(a * r for a, r in zip(d, reps))
            _check(node, out)
            st, ost = _strides(d), _strides(out)
            res = []
            for flat in range(_numel(out)):
                off = sum(((flat // ost[k]) % out[k] % d[k]) * st[k] for k in range(len(d)))
                res.append(v[off])
            return out, res
        if op in ("ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin") and len(self._in(node, 0)[0]) == 1:
            d, v = self._in(node, 0)
            axes = self._opt_list(node, 1, at.get("axes"))
            if axes not in (None, [0], [-1]) or not v:
                raise _Unknown
            fn = {"ReduceProd": math.prod, "ReduceSum": sum, "ReduceMax": max, "ReduceMin": min}[op]
            r = [fn(v)]
            _check(node, (), r)
            return ((1,) if int(attr("keepdims", 1)) else ()), r
        return None

    # -- shapes onnx left unknown ------------------------------------------------------
    def _shape(self, node):
        """The static output shape of a common float op, from its inputs' shapes and folded
        sizes (None when this walk does not know the op)."""
        op = node.op_type
        at = self._attrs(node)
        ins = [self.shapes.get(i) if i else None for i in node.input]

        def attr(name, default=None):
            return self.attr_value(at[name]) if name in at else default

        def val(i):
            v = self._in(node, i) if len(node.input) > i and node.input[i] else None
            return None if v is None else list(v[1])

        if op in _SAME_SHAPE:
            return ins[0]
        if op in _ELEMENTWISE or op == "Where":
            if any(s is None for s in ins if s is not None) or None in ins:
                return None
            return _broadcast_dims(ins)
        if op == "ConstantOfShape":  # a float fill (Swin's attention mask): only its shape
            dims = tuple(val(0))
            return dims if all(d >= 0 for d in dims) else None
        if ins and ins[0] is None:
            return None
        x = ins[0]
        if op == "Pad":
            pads = val(1) if len(node.input) > 1 else [int(p) for p in attr("pads", [])]
            r = len(x)
            axes = val(3) if len(node.input) > 3 and node.input[3] else list(range(r))
            if pads is None or len(pads) != 2 * len(axes):
                return None
            out = list(x)
            for k, a in enumerate(axes):
                out[a % r] += pads[k] + pads[k + len(axes)]
            return tuple(out) if all(d >= 0 for d in out) else None
        if op == "Reshape":
            return _reshape_dims(node, x, val(1), int(attr("allowzero", 0)))
        if op == "Tile":
            reps = val(1)
            return tuple(d * r for d, r in zip(x, reps)) if len(reps) == len(x) else None
        if op == "Transpose":
            perm = attr("perm")
            perm = [int(p) for p in perm] if perm is not None else list(range(len(x)))[::-1]
            return tuple(x[p] for p in perm)
        if op == "Slice":
            keep = _slice_ranges(x, val(1), val(2), val(3), val(4))
            return tuple(len(r) for r in keep)
        if op == "Concat":
            if None in ins:
                return None
            ax = _axis(int(attr("axis", 0)), len(x))
            return x[:ax] + (sum(s[ax] for s in ins),) + x[ax + 1 :]
        if op == "MatMul":
            a, b = ins
            if b is None or len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
                return None
            return _broadcast_dims([a[:-2], b[:-2]]) + (a[-2], b[-1])
        if op == "Unsqueeze":
            axes = val(1) if len(node.input) > 1 else attr("axes")
            return _unsqueeze_dims(x, [int(a) for a in axes])
        if op == "Squeeze":
            axes = val(1) if len(node.input) > 1 else attr("axes")
            return _squeeze_dims(x, None if axes is None else [int(a) for a in axes])
        if op == "Expand":
            return _broadcast_dims([x, tuple(val(1))])
        if op == "Flatten":
            ax = _axis(int(attr("axis", 1)), len(x) + 1)
            return (_numel(x[:ax]), _numel(x[ax:]))
        if op == "Gather":
            idx = ins[1]
            if idx is None:
                return None
            ax = _axis(int(attr("axis", 0)), len(x))
            return x[:ax] + tuple(idx) + x[ax + 1 :]
        if op in _REDUCE:
            axes = attr("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = val(1)
            r = len(x)
            ax = {int(a) % r for a in axes} if axes is not None else set(range(r))
            keep = int(attr("keepdims", 1))
            return tuple((1 if k in ax else d) for k, d in enumerate(x) if keep or k not in ax)
        return None


_SAME_SHAPE = {
    "Identity",
    "Cast",
    "CastLike",
    "Dropout",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Erf",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Neg",
    "Abs",
    "Not",
    "Softmax",
    "LogSoftmax",
    "LayerNormalization",
    "Gelu",
    "HardSwish",
    "HardSigmoid",
    "LeakyRelu",
    "Clip",
    "ScatterND",
    "Floor",
    "Ceil",
    "Round",
}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater", "And", "Or", "Max", "Min"}
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceProd"}


def _broadcast_dims(shapes) -> tuple:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for col in zip(*padded):
        big = max(col)
        if any(c not in (1, big) for c in col):
            raise _Unknown
        out.append(big)
    return tuple(out)


def fold(model, attr_value, small_values, dims_of) -> tuple:
    """Fold ``model``'s integer shape arithmetic in place (see the module docstring): returns
    (whether any size input was replaced by a constant, the first refusal or None, how many
    size inputs are still unknown: another pass after onnx's inference may reach them)."""
    f = Folder(model, attr_value, small_values, dims_of)
    return f.run(), f.refused, f.pending
