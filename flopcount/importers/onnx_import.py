"""Import an ONNX file: read it with the ``onnx`` package (no torch), infer its shapes with
``onnx.shape_inference`` and map each node to flopcount's ops
(:mod:`flopcount.importers.common`), so the counts come from the op registry exactly as for a
hand-written spec.

What the file is trusted with: nothing. It is read as a regular file of at most
``FLOPCOUNT_MAX_ONNX_BYTES`` bytes (default 2 GiB, protobuf's own limit), never a FIFO or a
device; external data (weights in side files) is never read at all, so no ``location`` in
the file can make flopcount open another path. Only the dims of the initializers are used,
never their values, except small integer or scalar constants (a Clip's bounds, a Split's
sizes, a Slice's starts and ends, a Pad's pads).

Shapes: every tensor's per-sample shape is its inferred shape without the batch axis (the
graph input's first dimension). Sizes the graph computes from ``Shape`` ops (Swin's pads to
multiples of the window, every window partition's reshape) are folded first
(:mod:`flopcount.importers.onnx_fold`: integer arithmetic only, with caps on what it builds). A dynamic dimension of the graph input needs ``--input``
(CxHxW or HxW, per sample; the batch is set to 1); without it the import stops (exit 2)
naming the input and the dimension.

Mapping (ONNX op -> flopcount op):

* Conv -> ``conv`` (groups, dilations, strides; pads and ``auto_pad`` become the symmetric
  ``p`` that gives the same output size: the count depends only on it; a ``Pad`` of zeros
  before a Conv or pooling is folded into its padding). ConvTranspose -> ``convtranspose``.
* Gemm with a weight initializer -> ``fc`` (a flattened input) or ``linear``; MatMul with a
  weight initializer -> ``linear`` (a following Add of a bias of the output width becomes its
  bias); MatMul of two activations -> ``matmul``.
* BatchNormalization -> ``bn``; LayerNormalization -> ``layernorm``; Softmax -> ``softmax``;
  LRN of an odd size -> ``lrn`` (ONNX centres an even window one channel later than torch).
* Relu, Sigmoid, Tanh, HardSwish, HardSigmoid, Gelu, Clip(0, 6) -> their activations;
  ``Mul(x, Sigmoid(x))`` -> ``silu``; ``x * (Erf(x / sqrt 2) + 1) * 0.5`` -> ``gelu``.
* MaxPool, AveragePool, GlobalAveragePool (and ReduceMean over H, W), GlobalMaxPool.
* Add, Mul of two activations -> ``add``, ``multiply``; Concat over channels -> ``concat``;
  Split (equal parts over channels) and channel Slices -> ``split``; DepthToSpace and
  SpaceToDepth -> ``pixel_shuffle`` and ``pixel_unshuffle``; Resize/Upsample ->
  ``upsample``.
* Flatten, Reshape, Transpose, Squeeze, Unsqueeze -> ``flatten``/``reshape`` (views);
  Identity, Dropout, Cast -> nothing; Constant and shape arithmetic (every node that reads no
  activation) -> nothing.
* An element-wise op with a scalar constant (``x * 0.5``, ``x / c``) passes through (no MACs,
  no params), counted in a note; so does one with a tensor the graph computes from constants
  (Swin's shift mask) and ``x / clamp(||x||)`` (F.normalize).
* Add or Mul with a tensor of the file broadcast over the activation (a relative-position bias
  the exporter gathered from its table, Swin V2's per-head logit scale) -> ``tensor`` (its
  elements are params) and ``add``/``multiply``; a float table multiplied by a weight (Swin
  V2's position-bias MLP over its coordinate table) -> a ``tensor`` (data, no params) read by
  the ``linear``, so those MACs are counted as FlopCounterMode counts them.
* Any other Slice -> reshape, ``crop``, reshape (free); two Slices of one axis concatenated
  back in the other order (torch.roll) -> nothing, counted in a note; Concat along another axis
  -> views and ``concat``; a zero Pad no conv absorbs -> ``concat`` with a ``tensor`` of zeros;
  Einsum of two activations that is a batched product -> views and ``matmul``; Softmax and
  ReduceMean over any axis of a tensor of any rank -> views and ``softmax``/``gap``.

Anything else (a custom domain, an op with no flopcount counterpart, an attribute the mapping
does not handle) becomes an ``opaque`` layer with its inferred shape and an :class:`Unmapped`
entry: the command names it and exits 1 unless ``--allow-unknown``. Never a silent zero.

Folded batch-norm: exporters fold a BatchNormalization into the conv before it in inference
mode (torch.onnx in eval mode does). The file then holds convs with biases and no
BatchNormalization: flopcount reports what the file holds (conv biases, no bn params or bn
element ops) and says so in a note.
"""

from __future__ import annotations

import math
import os
import re

from . import TargetKind, register_kind
from .common import Imported, ImportedLayer, ImportError_, Unmapped, clamped, given, spec_name
from .onnx_fold import fold

#: the largest ONNX file read (bytes); FLOPCOUNT_MAX_ONNX_BYTES raises it
MAX_BYTES = 2 * 1024**3
MAX_ENV = "FLOPCOUNT_MAX_ONNX_BYTES"
#: initializers with more bytes than this have their data dropped before shape inference
#: (only their dims matter); small ones stay (a Reshape's shape, a Clip's bounds)
_KEEP_DATA = 4096

_ACTS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid",
    "Gelu": "gelu",
    "Mish": "mish",
}
_VIEWS = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Expand"}
_PASS = {"Identity", "Dropout", "Cast", "CastLike"}
_CONTROL = {"If", "Loop", "Scan"}
#: refs that stand for an activation: a layer, or a pattern being matched (see _Ref)
_ACTIVE = ("layer", "erf", "pad", "slice", "red")
#: ops with MACs: never dropped as arithmetic on constants (a product of constants is counted
#: from a ``tensor`` source, or named as not costed)
_PRODUCTS = {"MatMul", "Gemm", "Einsum", "Conv", "ConvTranspose"}
#: element-wise float ops that keep a parameter a parameter (``logit_scale.clamp(max=c).exp()``)
_PARAM_UNARY = {"Clip", "Exp", "Sigmoid", "Neg", "Abs", "Sqrt", "Reciprocal", "Softplus", "Tanh", "Relu"}
#: reductions of an activation, kept as a pattern (``x / ||x||``: F.normalize)
_REDUCE = {"ReduceL2", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceSumSquare"}
#: ops a reduction passes through on its way to the division (clamp, broadcast, root, eps)
_RED_PASS = {"Clip", "Expand", "Sqrt", "Max", "Cast", "Identity", "Reciprocal"}
_FUSE_ACT = {"relu", "relu6", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "gelu"}


def _shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def _pair(v):
    v = [int(x) for x in v]
    return v[0] if len(set(v)) == 1 else v


class _Ref:
    """A tensor as the mapper sees it: a layer's output (``layer``, per-sample ``shape``,
    ``bm`` = it has the batch axis), an initializer or constant (``param``, full ``dims``,
    ``value`` when small), a shape computation (``value``), or a pattern being matched
    (``erf``: Erf(x / c) (+ 1) of layer ``of``; ``pad``: zeros padded around ``of``; ``slice``:
    a Slice of ``of``, ``pads`` = (starts, ends, axes, steps); ``red``: a reduction of ``of``).
    ``k``: the index of the pattern's node; ``const``: a layer computed only from tensors the file
    holds (Swin V2's position-bias MLP over its coordinate table)."""

    __slots__ = ("kind", "name", "shape", "bm", "dims", "value", "of", "pads", "node", "k", "const")

    def __init__(
        self, kind, name=None, shape=None, bm=True, dims=None, value=None, of=None, pads=None, node=None, k=None
    ):
        self.kind, self.name, self.shape, self.bm = kind, name, shape, bm
        self.dims, self.value, self.of, self.pads, self.node = dims, value, of, pads, node
        self.k, self.const = k, False


# -- reading -----------------------------------------------------------------------------------
_PARTS: list = []


def _onnx_parts():
    """(onnx's protobuf module ``onnx_ml_pb2``, its C++ ``infer_shapes(bytes, check_type,
    strict_mode, data_prop) -> bytes``). ``import onnx`` itself takes seconds (its
    ``__init__`` loads numpy and ml_dtypes, which nothing here needs), so when onnx is not
    imported yet the two modules are loaded on their own, under a placeholder package that is
    removed again: a later ``import onnx`` runs its ``__init__`` as usual and reuses them."""
    if _PARTS:
        return _PARTS[0]
    import importlib
    import sys

    try:
        if "onnx" in sys.modules:
            raise LookupError
        import importlib.util
        import types

        spec = importlib.util.find_spec("onnx")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("No module named 'onnx'")
        stub = types.ModuleType("onnx")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["onnx"] = stub
        try:
            pb2 = importlib.import_module("onnx.onnx_ml_pb2")
            c_infer = importlib.import_module("onnx.onnx_cpp2py_export.shape_inference")
        finally:
            if sys.modules.get("onnx") is stub:
                del sys.modules["onnx"]
        _PARTS.append((pb2, c_infer.infer_shapes))
    except LookupError:
        _PARTS.append(_full_onnx())
    except ImportError as e:
        if "onnx" in str(e) and "No module named" in str(e):
            raise ImportError_(
                f"an .onnx target needs the onnx package, which is not importable here ({type(e).__name__}: {e})",
                "pip install onnx",
                code=4,
            ) from None
        _PARTS.append(_full_onnx())  # another layout of the package: the ordinary import
    return _PARTS[0]


def _full_onnx():
    try:
        import onnx
        import onnx.onnx_cpp2py_export.shape_inference as c_infer
    except ImportError as e:
        raise ImportError_(
            f"an .onnx target needs the onnx package, which is not importable here ({type(e).__name__}: {e})",
            "pip install onnx",
            code=4,
        ) from None
    return onnx.onnx_ml_pb2, c_infer.infer_shapes


def _limit() -> int:
    raw = os.environ.get(MAX_ENV, "")
    return int(raw) if raw.isdigit() else MAX_BYTES


class _NotONNX(Exception):
    pass


def _varint(buf, pos: int) -> tuple:
    shift = result = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _NotONNX("a truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf, lo: int, hi: int):
    """(field number, wire type, start of the field, start of its payload, end) over buf[lo:hi]."""
    pos = lo
    while pos < hi:
        start = pos
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, pos = _varint(buf, pos)
            body = pos
        elif wt == 1:
            body, pos = pos, pos + 8
        elif wt == 5:
            body, pos = pos, pos + 4
        elif wt == 2:
            n, body = _varint(buf, pos)
            pos = body + n
        else:
            raise _NotONNX(f"wire type {wt}")
        if pos > hi or num == 0:
            raise _NotONNX("a field past the end")
        yield num, wt, start, body, pos


def _len_field(num: int, payload: bytes) -> bytes:
    return _enc_varint(num << 3 | 2) + _enc_varint(len(payload)) + payload


#: TensorProto fields dropped when large: float_data 4, int32_data 5, string_data 6, int64_data 7,
#: raw_data 9, double_data 10, uint64_data 11; external_data 13 and data_location 14 always
_TENSOR_DATA = (4, 5, 6, 7, 9, 10, 11)


def _slim_tensor(buf, lo, hi) -> bytes:
    parts = []
    for num, _wt, start, body, end in _fields(buf, lo, hi):
        if num in (13, 14) or (num in _TENSOR_DATA and end - body > _KEEP_DATA):
            continue
        parts.append(bytes(buf[start:end]))
    return b"".join(parts)


def _slim_model(buf) -> bytes:
    """The bytes of a ModelProto without its initializers' large data and external-data
    references: only graph and initializer headers are visited (the weights' pages of a
    mapped file are never touched)."""
    out = []
    for num, wt, start, body, end in _fields(buf, 0, len(buf)):
        if num == 7 and wt == 2:  # ModelProto.graph
            g = []
            for gnum, gwt, gstart, gbody, gend in _fields(buf, body, end):
                if gnum == 5 and gwt == 2:  # GraphProto.initializer
                    g.append(_len_field(5, _slim_tensor(buf, gbody, gend)))
                else:
                    g.append(bytes(buf[gstart:gend]))
            out.append(_len_field(7, b"".join(g)))
        else:
            out.append(bytes(buf[start:end]))
    return b"".join(out)


def _map_file(path: str):
    """The regular file ``path`` mapped read-only (or read, when small or unmappable), after
    the checks :func:`flopcount.fileio.read_user_file` makes: never a FIFO or a device, never
    over the limit."""
    import mmap
    import stat

    from ..fileio import READ, UserFileError, read_user_file

    limit = _limit()
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        st = None
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size < (1 << 20) or st.st_size > limit:
        return read_user_file(path, "ONNX file", limit, MAX_ENV)  # its checks and messages
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return read_user_file(path, "ONNX file", limit, MAX_ENV)
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode) or fst.st_size > limit:  # swapped after the stat above
            raise UserFileError(path, "it changed while it was opened", "give the path of a regular ONNX file")
        READ[(fst.st_dev, fst.st_ino)] = ("ONNX file", path)  # (as read_user_file notes what it read)
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)


def read_model(path: str):
    """The ModelProto of ``path`` with large initializer data dropped (see the module
    docstring). Errors: a missing file (exit 2), an unreadable file, a FIFO or device, a file
    over the limit, a file that is not ONNX (exit 3): never a traceback."""
    from ..fileio import UserFileError

    try:
        data = _map_file(path)
    except UserFileError as e:
        raise ImportError_(str(e), None, code=2 if not os.path.exists(path) else 3) from None
    pb2, _ = _onnx_parts()
    model = pb2.ModelProto()
    try:
        model.ParseFromString(_slim_model(data))
    except Exception as e:  # noqa: BLE001 - any decode error: not ONNX
        why = f"not a protobuf message: {e}" if isinstance(e, _NotONNX) else f"{type(e).__name__}: {str(e)[:120]}"
        raise ImportError_(
            f"{path} is not an ONNX file ({why})",
            "give a model saved by torch.onnx.export or onnx.save",
            code=3,
        ) from None
    finally:
        if hasattr(data, "close"):
            data.close()
    if not model.HasField("graph") or not model.graph.node:
        raise ImportError_(
            f"{path} is not an ONNX model: it holds no graph nodes",
            "give a model saved by torch.onnx.export or onnx.save",
            code=3,
        )
    return model


def infer_shapes(model, path: str):
    """onnx's shape inference, without its data propagation (which builds Range and
    ConstantOfShape values in full: a hostile file could make it allocate terabytes); the
    computed sizes come from :func:`~flopcount.importers.onnx_fold.fold` instead."""
    pb2, c_infer = _onnx_parts()
    try:
        return pb2.ModelProto.FromString(c_infer(model.SerializeToString(), False, False, False))
    except Exception as e:  # noqa: BLE001 - onnx's inference refuses the graph
        raise ImportError_(
            f"{path}: onnx shape inference failed ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})",
            "check --input, or run onnx.checker.check_model on the file",
            code=3,
        ) from None


def _dims(value_info) -> list | None:
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out = []
    for d in t.tensor_type.shape.dim:
        out.append(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or None))
    return out


def _set_input(model, path: str, input_shape) -> tuple:
    """Fix the graph input's dims (batch 1, ``--input``'s C, H, W); returns (its name, dims)."""
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ImportError_(
            f"{path}: flopcount reads models with one input; this graph has {len(inputs)} ({names})",
            "export the model with a single input tensor",
            code=3,
        )
    inp = inputs[0]
    dims = _dims(inp)
    if dims is None or not dims:
        raise ImportError_(
            f"{path}: the graph input `{inp.name}` has no shape",
            "export it with a static shape, or give --input",
            code=3,
        )
    want = list(dims)
    if input_shape is not None:
        given = list(input_shape)
        if len(given) != len(dims) - 1:
            raise ImportError_(
                f"{path}: --input {'x'.join(str(d) for d in given if d is not None)} has {len(given)} dims; "
                f"the input `{inp.name}` has {len(dims) - 1} per sample (dims {_fmt_dims(dims)})",
                "give one number per non-batch dimension: --input " + "x".join("N" for _ in dims[1:]),
                code=2,
            )
        for k, d in enumerate(given):
            if d is not None:
                want[k + 1] = int(d)
    if not isinstance(want[0], int):
        want[0] = 1
    missing = [k for k, d in enumerate(want) if not isinstance(d, int)]
    if missing:
        raise ImportError_(
            f"{path}: the input `{inp.name}` has dynamic dimensions ({_fmt_dims(dims)}: "
            + ", ".join(f"dim {k} is `{dims[k]}`" for k in missing)
            + ") and no --input was given",
            "give the per-sample input size, e.g. --input "
            + "x".join(str(d) if isinstance(d, int) else "N" for d in want[1:]),
            code=2,
        )
    shape = inp.type.tensor_type.shape
    for d, v in zip(shape.dim, want):
        d.Clear()
        d.dim_value = v
    return inp.name, want


def _fmt_dims(dims) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in dims) + "]"


# -- the mapper --------------------------------------------------------------------------------
class Mapper:
    """One shape-inferred ONNX graph -> a list of :class:`ImportedLayer`."""

    def __init__(self, model, input_name: str, input_dims: list, path: str):
        self.g = model.graph
        self.path = path
        self.batch = input_dims[0]
        self.input_name = input_name
        self.layers: list = []
        self.unmapped: list = []
        self.notes: list = []
        self.scalar_ops = 0
        self.const_ops = 0  # element-wise ops with a tensor computed from constants (a mask)
        self.rolls = 0  # Slice + Concat pairs that rotate an axis (torch.roll)
        self.normalised = 0  # x / ||x|| (F.normalize)
        self.refused: str | None = None  # the first node the folding refused (onnx_fold caps)
        self._made: dict = {}  # id(pattern ref) -> the layer it became
        self.asym = 0  # asymmetric paddings written as a symmetric p
        self.cur_bm = True  # the node being mapped: its output has the batch axis
        self.opset = 13  # of the default domain; set by import_onnx
        self.used: set = set()
        self.bases: dict = {}
        self.by_name: dict = {}
        self.shapes: dict = {}
        for vi in list(self.g.value_info) + list(self.g.output) + list(self.g.input):
            d = _dims(vi)
            if d is not None:
                self.shapes[vi.name] = d
        self.readers: dict = {}
        for n in self.g.node:
            for i in n.input:
                if i:
                    self.readers[i] = self.readers.get(i, 0) + 1
        for o in self.g.output:
            self.readers[o.name] = self.readers.get(o.name, 0) + 1
        self.paths = [self._module_path(n) for n in self.g.node]
        self.containers = set()
        for p in self.paths:
            parts = p.split(".")
            for k in range(1, len(parts)):
                self.containers.add(".".join(parts[:k]))

    # -- naming --------------------------------------------------------------------------
    @staticmethod
    def _module_path(node) -> str:
        """torch.onnx's node names are scopes: ``/layer1/layer1.0/conv1/Conv`` ->
        ``layer1.0.conv1``; other names are kept (made safe)."""
        name = node.name or ""
        if name.startswith("/"):
            comps = [c for c in name.split("/") if c][:-1]
            path = ""
            for c in comps:
                path = c if not path or c.startswith(path + ".") else f"{path}.{c}"
            return _safe(path)
        return _safe(name)

    def _unique(self, name: str) -> str:
        base = name = spec_name(name)  # (as the spec reads it back: no `$`, never `input`)
        n = 1
        while name in self.used:
            name = f"{base}_{n}"
            n += 1
        self.used.add(name)
        self.bases[name] = base
        return name

    def _layer_name(self, k: int, node, word: str | None = None, own: bool = False) -> str:
        """The module path for a module's own node (``layer1.0.conv1``), path.word inside a
        container (``layer1.0.add``) or where one node makes several layers (``own``)."""
        path = self.paths[k]
        w = _safe(word or node.op_type.lower()) or "node"
        if not path:
            return self._unique(w)
        if path in self.containers or own:
            return self._unique(f"{path}.{w}")
        return self._unique(path)

    # -- emit ----------------------------------------------------------------------------
    def _emit(self, k, node, op, attrs, inputs, shape, word=None, own=False) -> _Ref:
        name = self._layer_name(k, node, word, own)
        names = tuple(r.name for r in inputs)
        lay = ImportedLayer(name, op, attrs, names, tuple(int(d) for d in shape), self._where(node))
        self.layers.append(lay)
        self.by_name[name] = len(self.layers) - 1
        return _Ref("layer", name, tuple(int(d) for d in shape), bm=self.cur_bm, node=node)

    def _where(self, node) -> str:
        dom = f"{node.domain}::" if node.domain and node.domain not in ("ai.onnx",) else ""
        return f"{self.path}: node {node.name or '(unnamed)'} ({dom}{node.op_type})"

    def _opaque(self, k, node, inputs, reason: str) -> _Ref:
        out = node.output[0] if node.output else ""
        full = self.shapes.get(out)
        what = f"{node.domain}::{node.op_type}" if node.domain and node.domain != "ai.onnx" else node.op_type
        if full is None or any(not isinstance(d, int) for d in full):
            raise ImportError_(
                f"{self._where(node)}: the shape of its output `{out}` cannot be inferred ({reason})"
                + (f"; the graph's shape arithmetic was not folded past {self.refused}" if self.refused else ""),
                "give --input with every dimension, or count this part by hand",
                code=3,
            )
        shape, bm = self._per_sample(full)
        if not shape:
            shape = (1,)
        ins = [r for r in inputs if r is not None and r.kind == "layer"][:1]
        attrs = {"shape": _shape_text(shape), "what": f"ONNX {what} ({node.name or 'unnamed'})"}
        ref = self._emit(k, node, "opaque", attrs, ins, shape)
        ref.bm = bm
        self.unmapped.append(Unmapped(ref.name, what, self._where(node), tuple(shape), reason))
        return ref

    def _per_sample(self, full) -> tuple:
        if full and full[0] == self.batch:
            return tuple(full[1:]), True
        return tuple(full), False

    # -- constants -----------------------------------------------------------------------
    def _const_ref(self, name, tensor) -> _Ref:
        dims = tuple(int(d) for d in tensor.dims)
        value = None
        if math.prod(dims) <= 64:
            value = _small_values(tensor)
        return _Ref("param", name, dims=dims, value=value)

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> list:
        env: dict = {}
        for init in self.g.initializer:
            env[init.name] = self._const_ref(init.name, init)
        env[self.input_name] = _Ref("layer", "input", tuple(self.shapes[self.input_name][1:]))
        self.env = env
        for k, node in enumerate(self.g.node):
            outs = self._node(k, node, env)
            if not isinstance(outs, list):
                outs = [outs]
            for name, ref in zip(node.output, outs):
                if name:
                    if ref.kind == "value" and ref.dims is None:
                        full = self.shapes.get(name)
                        ref = _Ref("value", dims=tuple(full) if full is not None else None)
                    env[name] = ref
        outputs = []
        for o in self.g.output:
            ref = self._concrete(env.get(o.name))
            if ref is not None and ref.kind == "layer" and ref.name != "input":
                outputs.append(ref.name)
        return outputs

    def _concrete(self, ref):
        """A pattern ref read by something that is not its pattern: make it a layer (once)."""
        if ref is None or ref.kind not in ("erf", "pad", "slice", "red"):
            return ref
        made = self._made.get(id(ref))
        if made is not None:
            return made
        k = ref.k if ref.k is not None else next(i for i, n in enumerate(self.g.node) if n is ref.node)
        src = self.env.get(ref.of) if isinstance(ref.of, str) else ref.of
        if ref.kind in ("slice", "pad", "red"):
            try:
                if ref.kind == "slice":
                    out = self._slice_layers(k, ref, src)
                elif ref.kind == "red":
                    if ref.node.op_type != "ReduceMean":
                        raise _NoMap("a reduction that is not the norm of an x / ||x||")
                    a = _attrs(ref.node)
                    axes = a.get("axes")
                    if axes is None and len(ref.node.input) > 1:
                        held = self.env.get(ref.node.input[1])
                        axes = held.value if held is not None else None
                    self.cur_bm = ref.bm
                    out = self._mean(k, ref.node, src, axes, ref.shape)
                else:
                    out = self._zeros_around(k, ref.node, src)
            except _NoMap as e:
                out = self._opaque(k, ref.node, [src], str(e))
        else:
            out = self._opaque(k, ref.node, [src], "no flopcount op")
        self._made[id(ref)] = out
        return out

    def _node(self, k, node, env):
        op = node.op_type
        ins = [env.get(i) if i else None for i in node.input]
        if node.domain not in ("", "ai.onnx"):
            return self._opaque(k, node, ins, f"custom op domain `{node.domain}`")
        if op == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    return self._const_ref(node.output[0], a.t)
                if a.name in ("value_float", "value_int"):
                    return _Ref("param", node.output[0], dims=(), value=[a.f if a.name == "value_float" else a.i])
            return _Ref("value")
        if op in _CONTROL:
            return self._opaque(k, node, ins, "control flow")
        acts = [r for r in ins if r is not None and r.kind in _ACTIVE]
        if op in ("Shape", "Size"):
            return _Ref("value")  # the sizes of a tensor: shape arithmetic, not a layer
        first = ins[0] if ins else None
        if not acts:  # shape arithmetic, constant folding left in the file
            if first is not None and first.kind == "param":
                if op in _PASS or op in _PARAM_UNARY:
                    return first
                if op in _VIEWS:
                    return first  # class_token.expand(...): still the parameter
            if op in _PRODUCTS:
                table = self._table(k, node, ins)  # a product of tensors the file holds: counted
                if table is None:
                    return self._opaque(k, node, ins, "a product of constants (no activation reads it)")
                ins = [table, *ins[1:]]
                acts = [table]
            else:
                return _Ref("value")
        const = all(r.const for r in acts)
        x = ins[0]
        if x is not None and x.kind == "red" and op in _RED_PASS and len(acts) == 1:
            return x  # clamp(||x||, eps), its broadcast back to x's shape
        if op in ("Add", "Mul", "Sub", "Div", "Concat"):
            pass  # _arith and _concat match the patterns and make the rest concrete
        elif x is not None and x.kind == "pad" and op in ("Conv", "MaxPool", "AveragePool"):
            ins = [x] + [self._concrete(r) for r in ins[1:]]
        else:
            ins = [self._concrete(r) for r in ins]
            x = ins[0]
        full = self.shapes.get(node.output[0]) if node.output else None
        shape = None
        self.cur_bm = True
        if full is not None and all(isinstance(d, int) for d in full):
            shape, self.cur_bm = self._per_sample(full)
        try:
            out = self._map(k, node, op, ins, x, shape)
        except _NoMap as e:
            if const and op not in _PRODUCTS:
                return _Ref("value")  # e.g. the MLP's table gathered by an index: data, no MACs
            return self._opaque(k, node, ins, str(e))
        if const:
            for r in out if isinstance(out, list) else [out]:
                r.const = True
        return out

    def _table(self, k, node, ins):
        """``MatMul(table, W)`` where the table is a float tensor of the file (Swin V2's
        relative-coordinate table before its position-bias MLP), or ``Conv(map, W)`` of a map the
        file holds: the table or map becomes a ``tensor`` layer (data: no params) that the
        product reads, so its MACs are counted; None when the product is not of that form."""
        t = ins[0] if ins else None
        w = ins[1] if len(ins) > 1 else None
        if node.op_type == "Conv" and t is not None and w is not None and w.kind == "param":
            # a conv of a map computed from constants alone, or held by the file (EdgeNeXt's
            # Fourier position encoding: Sin, Cos, Concat of constants): that map as data, the conv
            # counted
            full = self.shapes.get(node.input[0]) if node.input else None
            if full is None or len(full) != 4 or full[0] != 1 or len(w.dims) != 4:
                return None
            if not all(isinstance(d, int) and d > 0 for d in full):
                return None
            shape = tuple(int(d) for d in full[1:])
            self.cur_bm = True
            attrs = {"shape": _shape_text(shape), "learnable": False}
            ref = self._emit(k, node, "tensor", attrs, [self.env[self.input_name]], shape, word="map", own=True)
            ref.const = True
            return ref
        if node.op_type not in ("MatMul", "Gemm") or t is None or w is None:
            return None
        if t.kind != "param" or w.kind != "param" or len(w.dims) != 2 or not t.dims or len(t.dims) < 2:
            return None
        if not all(isinstance(d, int) for d in t.dims):  # (a size shape inference left symbolic)
            return None
        shape = tuple(int(d) for d in t.dims)
        self.cur_bm = False
        attrs = {"shape": _shape_text(shape), "learnable": False}
        ref = self._emit(k, node, "tensor", attrs, [self.env[self.input_name]], shape, word="table", own=True)
        ref.bm = False
        ref.const = True
        return ref

    # -- per op --------------------------------------------------------------------------
    def _map(self, k, node, op, ins, x, shape):
        a = _attrs(node)
        if op in _PASS:
            return x
        if shape is None:
            raise _NoMap("its output shape cannot be inferred")
        if op in ("Add", "Mul", "Sub", "Div", "Pow"):
            return self._arith(k, node, op, ins, shape)
        if op == "Concat":
            return self._concat(k, node, a, ins, shape)
        if x is None or x.kind not in _ACTIVE:
            if op in ("MatMul", "Gemm") and len(ins) > 1 and ins[1] is not None and ins[1].kind == "layer":
                raise _NoMap("a constant times an activation")
            raise _NoMap("its first input is not an activation")
        if op == "Einsum":
            return self._einsum(k, node, a, ins, shape)
        if op in _REDUCE and not (op == "ReduceMean" and len(x.shape) == 3 and x.bm):
            return _Ref("red", of=x, node=node, k=k, shape=shape, bm=self.cur_bm)
        if op == "Conv":
            return self._conv(k, node, a, ins, x, shape)
        if op == "ConvTranspose":
            return self._convt(k, node, a, ins, x, shape)
        if op in ("MaxPool", "AveragePool"):
            return self._pool(k, node, a, op, x, shape)
        if op in ("GlobalAveragePool", "GlobalMaxPool"):
            if len(x.shape) != 3:
                raise _NoMap("global pooling of a non-feature map")
            if op == "GlobalAveragePool":
                return self._emit(k, node, "gap", {}, [x], shape)
            h, w = x.shape[1:]
            return self._emit(k, node, "maxpool", {"k": _pair([h, w]), "s": _pair([h, w])}, [x], shape)
        if op == "ReduceMean":
            axes = a.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                axes = ins[1].value
            if len(x.shape) == 3 and axes is not None and sorted(int(v) % 4 for v in axes) == [2, 3]:
                ref = self._emit(k, node, "gap", {}, [x], (x.shape[0], 1, 1))
                if tuple(shape) != (x.shape[0], 1, 1):
                    return self._emit(k, node, "flatten", {}, [ref], shape, word="flatten", own=True)
                return ref
            return self._mean(k, node, x, axes, shape)
        if op in _ACTS:
            return self._emit(k, node, _ACTS[op], {}, [x], shape)
        if op == "Elu":  # (ONNX's default alpha is 1.0, as torch's)
            return self._emit(k, node, "elu", given("elu", alpha=a.get("alpha", 1.0)), [x], shape)
        if op == "Softplus":  # (ONNX's has no beta: torch writes another beta around it)
            return self._emit(k, node, "softplus", {}, [x], shape)
        if op == "LeakyRelu":  # (ONNX's default alpha is 0.01, as torch's negative_slope)
            return self._emit(k, node, "leaky_relu", given("leaky_relu", slope=a.get("alpha", 0.01)), [x], shape)
        if op == "LRN" and len(x.shape) == 3:
            size = int(a.get("size", 0))
            if size % 2 == 0:  # (ONNX centres an even window one channel later than torch does)
                raise _NoMap(f"LRN of even size {size}")
            a_l = given("lrn", size=size, alpha=a.get("alpha", 1e-4), beta=a.get("beta", 0.75), bias=a.get("bias", 1.0))
            return self._emit(k, node, "lrn", a_l, [x], shape)
        if op == "PRelu":
            slope = ins[1] if len(ins) > 1 else None
            dims = tuple(int(d) for d in slope.dims) if slope is not None and slope.dims is not None else None
            if dims is None:
                raise _NoMap("PRelu whose slope is not a tensor of the file")
            if math.prod(dims) == 1:
                return self._emit(k, node, "prelu", {"shared": True}, [x], shape)
            if len(x.shape) == 3 and x.bm and dims in ((x.shape[0], 1, 1), (1, x.shape[0], 1, 1)):
                return self._emit(k, node, "prelu", {}, [x], shape)  # (a slope per channel of a map)
            raise _NoMap(f"PRelu with slopes of shape {list(dims)} on {_shape_text(x.shape)}")
        if op == "InstanceNormalization":
            if len(x.shape) != 3 or not x.bm:
                raise _NoMap("instance norm of a non-feature map")
            a_n = {"groups": x.shape[0], **given("groupnorm", eps=a.get("epsilon", 1e-5))}  # (a group per channel)
            return self._emit(k, node, "groupnorm", a_n, [x], shape)
        if op == "Clip":
            lo, hi = self._clip_bounds(a, ins)
            act = clamped(lo, hi)
            if act is None:
                raise _NoMap(f"Clip({lo}, {hi})")
            return self._emit(k, node, act[0], act[1], [x], shape, word=act[0])
        if op == "Erf":
            return _Ref("erf", of=x.name, node=node, shape=x.shape)
        if op == "BatchNormalization":
            if len(x.shape) != 3:
                raise _NoMap("batch-norm of a non-feature map")
            return self._emit(k, node, "bn", {}, [x], shape)
        if op == "LayerNormalization":
            return self._layernorm(k, node, a, ins, x, shape)
        if op == "Softmax":
            axis = int(a.get("axis", -1 if _opset(node, self) >= 13 else 1))
            rank = len(x.shape) + (1 if x.bm else 0)
            axis %= rank
            dim = axis if x.bm else axis + 1
            if _opset(node, self) < 13 and axis != rank - 1:
                raise _NoMap("softmax (opset < 13) over an axis that is not the last")
            if len(x.shape) > 3:  # over rows of a view: [A, X, B] (or [A, X]), the axis in the middle
                ax = dim - 1
                rows = (math.prod(x.shape[:ax]), x.shape[ax]) + (
                    (math.prod(x.shape[ax + 1 :]),) * (ax + 1 < len(x.shape))
                )
                v = self._emit(k, node, "reshape", {"shape": _shape_text(rows)}, [x], rows, word="rows", own=True)
                sm = self._emit(k, node, "softmax", {"dim": 2}, [v], rows)
                return self._emit(
                    k, node, "reshape", {"shape": _shape_text(shape)}, [sm], shape, word="unrows", own=True
                )
            return self._emit(k, node, "softmax", {"dim": dim}, [x], shape)
        if op in ("Gemm", "MatMul"):
            return self._matmul(k, node, op, a, ins, x, shape)
        if op in ("Add", "Mul", "Sub", "Div", "Pow"):
            return self._arith(k, node, op, ins, shape)
        if op == "Concat":
            return self._concat(k, node, a, ins, shape)
        if op in _VIEWS:
            return self._view(k, node, op, x, shape)
        if op == "Split":
            return self._split(k, node, a, ins, x)
        if op == "Slice":
            return self._slice(k, node, ins, x, shape)
        if op == "Tile" and tuple(shape) == tuple(x.shape):
            return x  # tiled once
        if op == "Gather":
            idx = ins[1] if len(ins) > 1 else None
            axis = int(a.get("axis", 0))
            if idx is None or idx.value is None or idx.dims != ():
                raise _NoMap("Gather with indices that are not one constant")
            if x.bm and axis == 1 and len(x.shape) == 2:
                index = int(idx.value[0]) % x.shape[0]
                return self._emit(k, node, "select", {"index": index}, [x], shape, word="select")
            return self._take(k, node, x, axis, int(idx.value[0]), shape)
        if op == "Pad":
            return self._pad(k, node, a, ins, x)
        if op in ("DepthToSpace", "SpaceToDepth") and len(x.shape) == 3:
            mode = a.get("mode", b"DCR")  # (SpaceToDepth has one order: DCR's)
            mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).lower()
            word = "pixel_shuffle" if op == "DepthToSpace" else "pixel_unshuffle"
            attrs = {"r": int(a.get("blocksize", 0))}
            if mode != "crd":
                attrs["order"] = "dcr"
            return self._emit(k, node, word, attrs, [x], shape, word=word)
        if op in ("Resize", "Upsample"):
            mode = a.get("mode", "nearest")
            if isinstance(mode, bytes):
                mode = mode.decode()
            if len(x.shape) != 3 or mode not in ("nearest", "linear", "bilinear"):
                raise _NoMap(f"resize mode {mode}")
            attrs = {"size": _pair(shape[1:]), "mode": "nearest" if mode == "nearest" else "bilinear"}
            ctm = a.get("coordinate_transformation_mode", b"half_pixel")
            if attrs["mode"] == "bilinear" and ctm in (b"align_corners", "align_corners"):
                attrs["align_corners"] = True
            return self._emit(k, node, "upsample", attrs, [x], shape, word="interpolate")
        raise _NoMap("no flopcount op for this ONNX op")

    def _clip_bounds(self, a, ins):
        lo, hi = a.get("min"), a.get("max")
        if len(ins) > 1 and ins[1] is not None:
            lo = ins[1].value[0] if ins[1].value else None
        if len(ins) > 2 and ins[2] is not None:
            hi = ins[2].value[0] if ins[2].value else None
        if hi is not None and hi > 3.0e38:
            hi = None
        return (None if lo is None else float(lo)), (None if hi is None else float(hi))

    def _weight(self, ins, i, what):
        w = ins[i] if len(ins) > i else None
        if w is None or w.kind != "param":
            raise _NoMap(f"its {what} is not a constant in the file")
        return w

    def _spatial(self, a, x, kernel, out_hw, pre=None) -> tuple:
        """(stride, dilation, symmetric p) from ONNX pads/auto_pad that give ``out_hw``."""
        s = [int(v) for v in a.get("strides", [1, 1])]
        d = [int(v) for v in a.get("dilations", [1, 1])]
        hw = x.shape[1:]
        pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if pre is not None:
            pads = [p + q for p, q in zip(pads, pre)]
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        # (a file is untrusted: every list as long as a 2-D window needs, every size positive)
        if out_hw is None or len(out_hw) != 2 or len(hw) != 2 or len(kernel) != 2:
            raise _NoMap("a window whose input or output is not a 2-D map")
        if len(s) != 2 or len(d) != 2 or len(pads) != 4 or min(*s, *d, *kernel) < 1 or min(pads) < 0:
            raise _NoMap(f"strides {s}, dilations {d}, kernel {kernel} or pads {pads} that are not a 2-D window")
        p = []
        for i in range(2):
            ke = d[i] * (kernel[i] - 1) + 1
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                total = max((out_hw[i] - 1) * s[i] + ke - hw[i], 0)
            elif auto == "VALID":
                total = 0
            else:
                total = pads[i] + pads[i + 2]
            want = out_hw[i]
            for cand in (total // 2, (total + 1) // 2):
                if a.get("ceil_mode", 0):
                    got = -(-(hw[i] + 2 * cand - ke) // s[i]) + 1
                else:
                    got = (hw[i] + 2 * cand - ke) // s[i] + 1
                if got == want:
                    p.append(cand)
                    break
            else:
                raise _NoMap(f"padding {pads} gives no symmetric equivalent")
            if total % 2:
                self.asym += 1
        return s, d, p

    def _conv(self, k, node, a, ins, x, shape):
        pre = None
        if x.kind == "pad":
            pre, x = x.pads, x.of
        w = self._weight(ins, 1, "weight")
        if len(w.dims) != 4 or len(x.shape) != 3:
            raise _NoMap(f"a {len(w.dims) - 2}-D convolution (flopcount counts 2-D)")
        groups = int(a.get("group", 1))
        kernel = [int(v) for v in a.get("kernel_shape", w.dims[2:])]
        if shape is None or len(shape) != 3:
            raise _NoMap("its output is not a feature map [C, H, W]")
        s, d, p = self._spatial(a, x, kernel, shape[1:], pre)
        attrs: dict = {"c": int(w.dims[0]), "k": _pair(kernel)}
        if s != [1, 1]:
            attrs["s"] = _pair(s)
        attrs["p"] = _pair(p)
        if d != [1, 1]:
            attrs["d"] = _pair(d)
        if groups != 1:
            attrs["groups"] = "in" if groups == x.shape[0] == int(w.dims[0]) else groups
        attrs["bias"] = len(ins) > 2 and ins[2] is not None
        return self._emit(k, node, "conv", attrs, [x], shape)

    def _convt(self, k, node, a, ins, x, shape):
        w = self._weight(ins, 1, "weight")
        if len(w.dims) != 4 or len(x.shape) != 3:
            raise _NoMap("a transposed convolution that is not 2-D")
        groups = int(a.get("group", 1))
        kernel = [int(v) for v in a.get("kernel_shape", w.dims[2:])]
        s = [int(v) for v in a.get("strides", [1, 1])]
        d = [int(v) for v in a.get("dilations", [1, 1])]
        pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if len(kernel) != 2 or len(s) != 2 or len(d) != 2 or len(pads) != 4:
            raise _NoMap(f"strides {s}, dilations {d}, kernel {kernel} or pads {pads} that are not a 2-D window")
        if (
            pads[0] != pads[2]
            or pads[1] != pads[3]
            or "output_shape" in a
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
        ):
            raise _NoMap(f"asymmetric padding {pads} or output_shape/auto_pad")
        attrs: dict = {"c": int(w.dims[1]) * groups, "k": _pair(kernel), "s": _pair(s), "p": _pair(pads[:2])}
        op_ = [int(v) for v in a.get("output_padding", [0, 0])]
        if any(op_):
            attrs["output_padding"] = _pair(op_)
        if d != [1, 1]:
            attrs["d"] = _pair(d)
        if groups != 1:
            attrs["groups"] = groups
        attrs["bias"] = len(ins) > 2 and ins[2] is not None
        return self._emit(k, node, "convtranspose", attrs, [x], shape)

    def _pool(self, k, node, a, op, x, shape):
        pre = None
        if x.kind == "pad":
            if op == "AveragePool":
                raise _NoMap("average pooling of a padded map")
            pre, x = x.pads, x.of
        if len(x.shape) != 3 or shape is None or len(shape) != 3:
            raise _NoMap("pooling of a non-feature map")
        if "kernel_shape" not in a:
            raise _NoMap("pooling without its kernel_shape")
        kernel = [int(v) for v in a["kernel_shape"]]
        s, d, p = self._spatial(a, x, kernel, shape[1:], pre)
        if d != [1, 1]:
            raise _NoMap("dilated pooling")
        attrs = {"k": _pair(kernel), "s": _pair(s), "p": _pair(p)}
        if a.get("ceil_mode", 0):
            attrs["ceil"] = True
        return self._emit(k, node, "maxpool" if op == "MaxPool" else "avgpool", attrs, [x], shape)

    def _layernorm(self, k, node, a, ins, x, shape):
        axis = int(a.get("axis", -1))
        rank = len(x.shape) + (1 if x.bm else 0)
        if axis % rank != rank - 1 or len(x.shape) > 3:
            raise _NoMap(f"layer norm over axis {axis} of a rank-{rank} tensor (flopcount: the last axis of tokens)")
        scale = self._weight(ins, 1, "scale")
        bias = ins[2] if len(ins) > 2 else None
        if bias is None:
            raise _NoMap("layer norm without a bias (flopcount's has gamma and beta)")
        if math.prod(scale.dims) != x.shape[-1]:
            raise _NoMap("layer norm scale of another width")
        attrs = {"eps": float(a.get("epsilon", 1e-5))}
        if len(x.shape) == 3:  # channels last (ConvNeXt's permute, then LayerNorm): over the tokens' features
            flat = (math.prod(x.shape[:-1]), x.shape[-1])
            r = self._emit(k, node, "reshape", {"shape": _shape_text(flat)}, [x], flat, word="tokens", own=True)
            ln = self._emit(k, node, "layernorm", attrs, [r], flat)
            return self._emit(
                k, node, "reshape", {"shape": _shape_text(shape)}, [ln], shape, word="unflatten", own=True
            )
        return self._emit(k, node, "layernorm", attrs, [x], shape)

    def _matmul(self, k, node, op, a, ins, x, shape):
        b = ins[1] if len(ins) > 1 else None
        if b is None:
            raise _NoMap("a product without a second input")
        if b.kind == "layer":
            if op == "Gemm" and (a.get("transA") or a.get("transB")):
                raise _NoMap("Gemm of two activations with a transpose")
            return self._emit(k, node, "matmul", {}, [x, b], shape, word="matmul")
        if b.kind != "param" or len(b.dims) != 2:
            raise _NoMap("a product with a weight that is not a matrix")
        if op == "Gemm" and a.get("transA"):
            raise _NoMap("Gemm with transA")
        out = int(b.dims[0] if (op == "Gemm" and a.get("transB")) else b.dims[1])
        inner = int(b.dims[1] if (op == "Gemm" and a.get("transB")) else b.dims[0])
        bias = op == "Gemm" and len(ins) > 2 and ins[2] is not None
        if x.shape[-1] != inner:
            raise _NoMap("a weight that does not match the input's last axis")
        attrs = {"c": out, "bias": bias}
        if len(x.shape) == 1:
            return self._emit(k, node, "fc", attrs, [x], shape)
        if len(x.shape) == 2:
            return self._emit(k, node, "linear", attrs, [x], shape)
        flat = (math.prod(x.shape[:-1]), x.shape[-1])
        r = self._emit(k, node, "reshape", {"shape": _shape_text(flat)}, [x], flat, word="tokens", own=True)
        lin = self._emit(k, node, "linear", attrs, [r], (flat[0], out))
        return self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [lin], shape, word="unflatten", own=True)

    def _arith(self, k, node, op, ins, shape):
        layers = [r for r in ins if r is not None and r.kind in _ACTIVE]
        params = [r for r in ins if r is not None and r.kind in ("param", "value")]
        if any(p.dims is None for p in params):
            raise _NoMap(f"{op} with a computed value of unknown shape")
        if len(layers) == 2 and not params and op in ("Div", "Mul", "Sub", "Add"):
            u, v = ins[0], ins[1]
            if v is not None and v.kind == "red" and v.of is u and tuple(shape) == tuple(u.shape):
                self.normalised += 1  # x / clamp(||x||, eps): F.normalize, element-wise
                return u
        if len(layers) == 1 and len(params) == 1 and math.prod(params[0].dims) == 1 and op != "Pow":
            x = layers[0]
            if x.kind == "erf" and op == "Add":
                return x  # Erf(x / c) + 1
            self.scalar_ops += 1
            return x
        if len(layers) == 2 and op == "Mul":
            p, q = layers
            for u, v in ((p, q), (q, p)):
                if v.kind == "erf" and v.of == u.name:  # x * (Erf(x / c) + 1) -> gelu
                    return self._emit(k, node, "gelu", {}, [u], shape, word="gelu")
                if v.kind == "layer" and self._is_sigmoid_of(v, u):
                    self._drop_layer(v.name)
                    return self._emit(k, node, "silu", {}, [u], shape, word="silu")
        layers = [self._concrete(r) for r in layers]
        if len(layers) == 1 and len(params) == 1 and op in ("Add", "Mul"):
            x, prm = layers[0], params[0]
            n = math.prod(prm.dims)
            lay = self.layers[self.by_name[x.name]] if x.name in self.by_name else None
            if (
                op == "Add"
                and lay is not None
                and lay.op in ("linear", "fc")
                and not lay.attrs.get("bias")
                and n == lay.attrs["c"]
                and self.readers.get(x.node.output[0], 0) == 1
                and self.by_name[x.name] == len(self.layers) - 1
            ):
                # MatMul + Add(bias): one linear with a bias
                attrs = dict(lay.attrs, bias=True)
                self.layers[-1] = ImportedLayer(lay.name, lay.op, attrs, lay.inputs, tuple(shape), lay.source)
                return _Ref("layer", lay.name, tuple(shape), node=node)
            lin = self._bias_target(x, n)
            if op == "Add" and lin is not None:  # a linear over a rank-3 input: reshape, linear, reshape
                j = self.by_name[lin]
                lay = self.layers[j]
                attrs = dict(lay.attrs, bias=True)
                self.layers[j] = ImportedLayer(lay.name, lay.op, attrs, lay.inputs, lay.shape, lay.source)
                return x
            if (
                op == "Add"
                and prm.kind == "param"
                and len(x.shape) <= 2
                and n == math.prod(x.shape)
                and tuple(shape) == x.shape
            ):  # tokens [N, D] (ViT's position embedding); other shapes: a ``tensor`` added
                return self._emit(k, node, "pos_embed", {}, [x], shape, word="pos_embed")
            if (
                op == "Mul"
                and prm.kind == "param"
                and n == x.shape[-1 if len(x.shape) < 3 else 0]
                and tuple(shape) == x.shape
            ):
                return self._emit(k, node, "scale", {}, [x], shape, word="layer_scale")
            held = self._held(x, prm, shape)
            if prm.kind == "value" and held is not None:
                self.const_ops += 1  # a mask or bias the graph computes from constants: no params
                return x
            if prm.kind == "param" and held is not None:  # a tensor of the file, broadcast
                word = "bias" if op == "Add" else "factor"
                attrs = {"shape": _shape_text(held)}
                t = self._emit(k, node, "tensor", attrs, [x], held, word=word, own=True)
                return self._emit(k, node, "add" if op == "Add" else "multiply", {}, [x, t], shape, word=op.lower())
            raise _NoMap(f"{op} with a constant of {n} values")
        if len(layers) == 1 and len(params) == 1 and op in ("Sub", "Div") and params[0].kind == "value":
            x, prm = layers[0], params[0]
            if ins[0] is x and self._held(x, prm, shape) is not None:
                self.const_ops += 1
                return x
        if len(layers) == 2 and op in ("Add", "Mul") and not params:
            return self._emit(k, node, "add" if op == "Add" else "multiply", {}, layers, shape, word=op.lower())
        raise _NoMap(f"{op} of {len(layers)} activations and {len(params)} constants")

    def _einsum(self, k, node, a, ins, shape):
        """A two-operand Einsum that is a batched product (MaxViT's ``B G H I D, B G H J D ->
        B G H I J``): letters in both and the output are batch (Bt), in both only summed (K),
        in one and the output its rows (I) or columns (J). Written as the views [Bt, I, K] and
        [Bt, K, J], ``matmul`` (MACs Bt*I*J*K, as torch's bmm), and a view to the output."""
        eq = a.get("equation", b"")
        eq = (eq.decode() if isinstance(eq, bytes) else str(eq)).replace(" ", "")
        if len(ins) != 2 or "->" not in eq or "." in eq or ins[1] is None or ins[1].kind not in _ACTIVE:
            raise _NoMap(f"Einsum {eq or '?'} (flopcount maps a product of two activations)")
        lhs, out = eq.split("->")
        terms = lhs.split(",")
        fulls = [self.shapes.get(i) for i in node.input]
        if (
            len(terms) != 2
            or self.batch != 1
            or any(f is None or not all(isinstance(d, int) for d in f) for f in fulls)
        ):
            raise _NoMap(f"Einsum {eq}")
        size = {}
        for term, full in zip(terms, fulls):
            if len(term) != len(full) or len(set(term)) != len(term):
                raise _NoMap(f"Einsum {eq}")
            for c, d in zip(term, full):
                if size.setdefault(c, d) != d:
                    raise _NoMap(f"Einsum {eq}: broadcast letters")
        ta, tb = set(terms[0]), set(terms[1])
        if len(set(out)) != len(out) or not set(out) <= ta | tb or (ta ^ tb) - set(out):
            raise _NoMap(f"Einsum {eq}: a letter summed in one operand")
        bt = math.prod(size[c] for c in out if c in ta and c in tb)
        i_ = math.prod(size[c] for c in out if c in ta and c not in tb)
        j_ = math.prod(size[c] for c in out if c in tb and c not in ta)
        k_ = math.prod(size[c] for c in ta & tb if c not in out)
        x, b = self._concrete(ins[0]), self._concrete(ins[1])
        va, vb = (bt, i_, k_), (bt, k_, j_)
        xa = (
            x
            if tuple(x.shape) == va
            else self._emit(k, node, "reshape", {"shape": _shape_text(va)}, [x], va, word="lhs", own=True)
        )
        xb = (
            b
            if tuple(b.shape) == vb
            else self._emit(k, node, "reshape", {"shape": _shape_text(vb)}, [b], vb, word="rhs", own=True)
        )
        mm = self._emit(k, node, "matmul", {}, [xa, xb], (bt, i_, j_), word="matmul", own=True)
        return self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [mm], shape, word="out", own=True)

    def _held(self, x, prm, shape):
        """The per-sample shape of constant ``prm`` broadcast against activation ``x`` (its dims
        right-aligned, 1s added in front) when the result has x's shape, else None."""
        if tuple(shape) != tuple(x.shape):
            return None
        rank = len(x.shape) + (1 if x.bm else 0)
        if not all(isinstance(d, int) for d in prm.dims):  # (a size shape inference left symbolic)
            return None
        dims = tuple(int(d) for d in prm.dims)
        while len(dims) > rank and dims[0] == 1:
            dims = dims[1:]
        if len(dims) > rank:
            return None
        full = (1,) * (rank - len(dims)) + dims
        held = full[1:] if x.bm else full
        if held and x.bm and full[0] != 1:
            return None
        if len(held) != len(x.shape) or any(h not in (1, d) for h, d in zip(held, x.shape)):
            return None
        return held or (1,)

    def _bias_target(self, x, n):
        """The bias-free linear that ``x`` reshapes right after it (both the last layers), or None."""
        i = self.by_name.get(x.name)
        if i is None or i != len(self.layers) - 1 or i < 1 or self.layers[i].op != "reshape":
            return None
        lin = self.layers[i - 1]
        if self.layers[i].inputs != (lin.name,) or lin.op != "linear" or lin.attrs.get("bias") or lin.attrs["c"] != n:
            return None
        if x.node is None or self.readers.get(x.node.output[0], 0) != 1:
            return None
        return lin.name

    def _is_sigmoid_of(self, v, u) -> bool:
        i = self.by_name.get(v.name)
        if i is None:
            return False
        lay = self.layers[i]
        return lay.op == "sigmoid" and lay.inputs == (u.name,) and self.readers.get(v.node.output[0], 0) == 1

    def _drop_layer(self, name):
        i = self.by_name.pop(name)
        del self.layers[i]
        self.by_name = {lay.name: j for j, lay in enumerate(self.layers)}

    def _concat(self, k, node, a, ins, shape):
        axis = int(a.get("axis", 1))
        items = [r for r in ins if r is not None]
        src = self._roll(items, shape)
        if src is not None:  # torch.roll: the two slices of an axis put back in the other order
            self.rolls += 1
            return src
        items = [self._concrete(r) for r in items]
        if len(items) == 1 and items[0].kind == "layer":  # torch.cat([x]): x itself
            return items[0]
        if all(r.kind == "layer" for r in items) and len(shape) == 3 and all(r.bm for r in items) and axis in (1, -3):
            return self._emit(k, node, "concat", {}, items, shape, word="cat")
        if (
            len(items) == 2
            and items[0].kind == "param"
            and items[1].kind == "layer"
            and len(shape) == 2
            and axis in (1, -2)
        ):
            tokens = int(items[0].dims[-2]) if len(items[0].dims) >= 2 else 1
            return self._emit(k, node, "cls_token", {"tokens": tokens}, [items[1]], shape, word="class_token")
        if items and all(r.kind == "layer" for r in items) and len({(r.bm, len(r.shape)) for r in items}) == 1:
            # along another axis (Swin's patch merging: the 2x2 neighbours along C of [H, W, C]):
            # each part viewed as [A * X_i, B, 1], concatenated as channels, viewed back
            bm = items[0].bm
            ax = axis % (len(shape) + (1 if bm else 0)) - (1 if bm else 0)
            if ax >= 0 and len(items[0].shape) == len(shape):
                outer, inner = math.prod(shape[:ax]), math.prod(shape[ax + 1 :])
                parts = []
                for i, r in enumerate(items):
                    if r.shape[:ax] != tuple(shape[:ax]) or r.shape[ax + 1 :] != tuple(shape[ax + 1 :]):
                        raise _NoMap(f"Concat along axis {axis} of unequal shapes")
                    col = (outer * r.shape[ax], inner, 1)
                    parts.append(
                        self._emit(k, node, "reshape", {"shape": _shape_text(col)}, [r], col, word=f"part{i}", own=True)
                    )
                cat = (outer * shape[ax], inner, 1)
                c = self._emit(k, node, "concat", {}, parts, cat, word="cat", own=True)
                return self._emit(
                    k, node, "reshape", {"shape": _shape_text(shape)}, [c], shape, word="joined", own=True
                )
        raise _NoMap(f"Concat along axis {axis}")

    def _roll(self, items, shape):
        """The source of slices of one tensor along one axis that together hold each index of
        it once (``torch.roll`` exports as ``Concat(x[s:], x[:s])``), or None."""
        if len(items) < 2 or any(r.kind != "slice" for r in items):
            return None
        src = items[0].of
        if any(r.of is not src for r in items) or tuple(shape) != tuple(src.shape):
            return None
        rank = len(src.shape) + (1 if src.bm else 0)
        spans, axis = [], None
        for r in items:
            starts, ends, axes, steps = r.pads
            if len(axes) != 1 or steps != [1]:
                return None
            ax = axes[0] % rank
            if axis not in (None, ax):
                return None
            axis = ax
            size = src.shape[ax - (1 if src.bm else 0)] if ax - (1 if src.bm else 0) >= 0 else 0
            kept = range(size)[slice(starts[0], ends[0])]
            spans.append((kept.start, kept.stop) if len(kept) else (0, 0))
        spans.sort()
        at = 0
        for lo, hi in spans:
            if lo != at:
                return None
            at = hi
        return src if at == size and size else None

    def _view(self, k, node, op, x, shape):
        if tuple(shape) == tuple(x.shape):
            if x.bm != self.cur_bm:  # [64, 3, 49, 49] viewed as [1, 64, 3, 49, 49]: now with the batch axis
                same = _Ref("layer", x.name, x.shape, bm=self.cur_bm, node=x.node)
                same.const = x.const
                return same
            return x
        if math.prod(shape) != math.prod(x.shape):
            raise _NoMap("a view that changes the element count")
        if len(shape) == 1 and len(x.shape) == 3:
            return self._emit(k, node, "flatten", {}, [x], shape, word="flatten")
        return self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [x], shape, word=op.lower())

    def _take(self, k, node, x, axis, index, shape):
        """One index along a leading axis (q, k, v = qkv[0], qkv[1], qkv[2]): a view, written
        as reshape -> split (the parts of that axis) -> reshape."""
        rank = len(x.shape) + (1 if x.bm else 0)
        ax = axis % rank - (1 if x.bm else 0)
        if ax < 0 or any(d != 1 for d in x.shape[:ax]):
            raise _NoMap(f"Gather along axis {axis}")
        n = x.shape[ax]
        rest = math.prod(x.shape[ax + 1 :])
        three = (n, 1, rest)
        m = self._emit(k, node, "reshape", {"shape": _shape_text(three)}, [x], three, word="parts", own=True)
        part = self._emit(k, node, "split", {"parts": n, "take": index % n}, [m], (1, 1, rest), word="take", own=True)
        return self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [part], shape, word="item", own=True)

    def _split(self, k, node, a, ins, x):
        axis = int(a.get("axis", 0))
        outs = [self.shapes.get(o) for o in node.output]
        if any(o is None for o in outs):
            raise _NoMap("Split outputs without shapes")
        if any(not all(isinstance(d, int) for d in o) for o in outs):
            raise _NoMap("Split outputs of sizes shape inference left symbolic")
        per = [self._per_sample(o)[0] for o in outs]
        parts = len(per)
        channels = axis in (1, -3) and len(x.shape) == 3 and x.bm
        if channels and sum(p[0] for p in per) == x.shape[0] and all(p[1:] == x.shape[1:] for p in per):
            if len({p[0] for p in per}) != 1:  # unequal parts of the channels: a channel slice each
                refs, start = [], 0
                for t, p in enumerate(per):
                    a_t = {"start": start, "stop": start + p[0]} if start else {"stop": p[0]}
                    refs.append(self._emit(k, node, "slice", a_t, [x], p, word=f"split{t}", own=True))
                    start += p[0]
                return refs
        if not channels or len({p[0] for p in per}) != 1 or x.shape[0] % parts:
            return self._split_leading(k, node, x, axis, outs)
        return [
            self._emit(k, node, "split", {"parts": parts, "take": t}, [x], per[t], word=f"split{t}", own=True)
            for t in range(parts)
        ]

    def _split_leading(self, k, node, x, axis, outs):
        """Equal parts of a leading axis (every axis before it of size 1): qkv split into q, k and
        v along the axis a permute put first (MobileViT's attention over patches folded into the
        batch axis), as _take writes one index: reshape -> split -> reshape, per part."""
        if x.const:  # (a constant split stays data, as it always was)
            raise _NoMap(f"Split along axis {axis} of a constant")
        rank = len(x.shape) + (1 if x.bm else 0)
        ax = axis % rank - (1 if x.bm else 0) if -rank <= axis < rank else -1
        parts = len(outs)
        n = x.shape[ax] if 0 <= ax < len(x.shape) else 0
        if ax < 0 or any(d != 1 for d in x.shape[:ax]) or not n or n % parts:
            raise _NoMap(f"Split along axis {axis} into {parts} parts")
        rest = math.prod(x.shape[ax + 1 :])
        if any(math.prod(o) != n // parts * rest for o in outs):
            raise _NoMap(f"Split along axis {axis} into unequal parts")
        three = (n, 1, rest)
        m = self._emit(k, node, "reshape", {"shape": _shape_text(three)}, [x], three, word="parts", own=True)
        refs = []
        for t, full in enumerate(outs):
            shape, self.cur_bm = self._per_sample(full)
            one = (n // parts, 1, rest)
            part = self._emit(k, node, "split", {"parts": parts, "take": t}, [m], one, word=f"split{t}", own=True)
            attrs = {"shape": _shape_text(shape)}
            refs.append(self._emit(k, node, "reshape", attrs, [part], shape, word=f"part{t}", own=True))
        return refs

    def _slice(self, k, node, ins, x, shape):
        """A Slice with constant bounds: a pattern (a ``slice`` ref), so that torch.roll's two
        slices concatenated back (Swin's shifted windows) are nothing; read by anything else
        it becomes layers (:meth:`_slice_layers`)."""

        def val(i):
            r = ins[i] if len(ins) > i else None
            return None if r is None else r.value

        starts, ends, axes, steps = val(1), val(2), val(3), val(4)
        if starts is None or ends is None:
            raise _NoMap("a Slice whose bounds are not constants")
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise _NoMap("a Slice whose bounds do not match its axes")
        if tuple(shape) == tuple(x.shape):
            return x  # x[:, :H, :W] of an unpadded map: all of it
        info = ([int(v) for v in starts], [int(v) for v in ends], [int(v) for v in axes], [int(v) for v in steps])
        return _Ref("slice", of=x, node=node, k=k, shape=tuple(shape), bm=self.cur_bm, pads=info)

    def _slice_layers(self, k, ref, x):
        """A Slice as layers: a channel part (``split``), a centre crop (``crop``), or any other
        part as reshape -> crop -> reshape (free, like the slice; only the sizes matter)."""
        node, shape = ref.node, ref.shape
        starts, _ends, axes, steps = ref.pads
        self.cur_bm = ref.bm
        if x.bm and len(x.shape) == 3 and axes in ([1], [-3]) and steps == [1]:
            c = x.shape[0]
            lo = starts[0] % c if starts[0] < c else c
            n = shape[0]
            if n and c % n == 0 and lo % n == 0:
                return self._emit(k, node, "split", {"parts": c // n, "take": lo // n}, [x], shape, word="slice")
        if x.bm and len(x.shape) == 3 and shape[0] == x.shape[0] and steps == [1] * len(steps):
            h, w = shape[1:]
            H, W = x.shape[1:]
            offs = dict(zip([v % 4 for v in axes], starts))
            if offs.get(2, 0) == (H - h) // 2 and offs.get(3, 0) == (W - w) // 2:
                return self._emit(k, node, "crop", {"size": _pair([h, w])}, [x], shape, word="crop")
        if len(shape) != len(x.shape) or any(o > i for o, i in zip(shape, x.shape)):
            raise _NoMap(f"a Slice from {list(x.shape)} to {list(shape)}")
        n, m = math.prod(x.shape), math.prod(shape)
        if not m:
            raise _NoMap("an empty Slice")
        line = (1, n, 1)
        v = self._emit(k, node, "reshape", {"shape": _shape_text(line)}, [x], line, word="line", own=True)
        part = self._emit(k, node, "crop", {"size": [m, 1]}, [v], (1, m, 1), word="slice", own=True)
        out = self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [part], shape, word="part", own=True)
        out.bm = ref.bm
        return out

    def _pad(self, k, node, a, ins, x):
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = a.get("pads")
        if pads is None and len(ins) > 1 and ins[1] is not None:
            pads = ins[1].value
        cval = ins[2].value if len(ins) > 2 and ins[2] is not None else [0]
        if pads is not None and not any(pads) and (len(ins) < 4 or ins[3] is None or ins[3].value is not None):
            return x  # pads computed in the graph (Swin: H and W to multiples of the window) that are 0
        if mode != "constant" or pads is None or (cval and cval[0] != 0) or any(int(p) < 0 for p in pads):
            raise _NoMap(f"Pad mode {mode} pads {pads}")
        if len(pads) != 8 or any(pads[:2]) or any(pads[4:6]) or not x.bm or len(x.shape) != 3:
            return self._zeros_around(k, node, x)  # not the H, W of a feature map: zeros appended
        # [t, l, b, r] as Conv's pads: H begin, W begin, H end, W end
        return _Ref("pad", of=x, pads=[int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])], node=node, k=k)

    def _mean(self, k, node, x, axes, shape):
        """A mean over other axes (``x.mean(dim=(1, 2))`` of a channels-last map): the kept and
        the averaged elements viewed as [kept, averaged, 1], ``gap``, viewed as the output."""
        rank = len(x.shape) + (1 if x.bm else 0)
        if axes is None:
            raise _NoMap("ReduceMean over computed axes")
        off = 1 if x.bm else 0
        ax = {int(v) % rank - off for v in axes}
        if any(v < 0 for v in ax):
            raise _NoMap(f"ReduceMean over axes {axes} (the batch)")
        avg = math.prod(d for i, d in enumerate(x.shape) if i in ax)
        kept = math.prod(x.shape) // max(avg, 1)
        if math.prod(shape) != kept:
            raise _NoMap(f"ReduceMean over axes {axes}")
        view = (kept, avg, 1)
        v = self._emit(k, node, "reshape", {"shape": _shape_text(view)}, [x], view, word="rows", own=True)
        g = self._emit(k, node, "gap", {}, [v], (kept, 1, 1), word="mean", own=True)
        return self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [g], shape, word="means", own=True)

    def _zeros_around(self, k, node, x):
        """A zero Pad that no conv or pooling absorbs (Swin pads H and W of a channels-last map
        to multiples of the window): the zeros as a ``tensor`` (data, no params) concatenated
        to x, both viewed as columns [N, 1, 1] (free, like the pad; only the sizes matter)."""
        full = self.shapes.get(node.output[0])
        if full is None or not all(isinstance(d, int) for d in full):
            raise _NoMap("a Pad whose output shape is not known")
        shape, bm = self._per_sample(full)
        n, m = math.prod(x.shape), math.prod(shape)
        if m < n:
            raise _NoMap("a Pad that removes elements")
        if m == n:
            return x
        self.cur_bm = bm
        col, zc, cc = (n, 1, 1), (m - n, 1, 1), (m, 1, 1)
        v = self._emit(k, node, "reshape", {"shape": _shape_text(col)}, [x], col, word="column", own=True)
        z = self._emit(
            k, node, "tensor", {"shape": _shape_text(zc), "learnable": False}, [v], zc, word="zeros", own=True
        )
        c = self._emit(k, node, "concat", {}, [v, z], cc, word="padded", own=True)
        out = self._emit(k, node, "reshape", {"shape": _shape_text(shape)}, [c], shape, word="pad", own=True)
        out.bm = bm
        return out


class _NoMap(Exception):
    """This node does not map (the message says why): it becomes an opaque layer."""


def _attrs(node) -> dict:
    return {a.name: _attr_value(a) for a in node.attribute}


def _attr_value(a):
    """An AttributeProto's value (onnx.helper.get_attribute_value's, for the kinds read here)."""
    kind = a.type  # 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 6 FLOATS, 7 INTS, 8 STRINGS
    if kind == 1:
        return a.f
    if kind == 2:
        return a.i
    if kind == 3:
        return a.s
    if kind == 4:
        return a.t
    if kind == 6:
        return list(a.floats)
    if kind == 7:
        return list(a.ints)
    if kind == 8:
        return list(a.strings)
    return None


#: TensorProto data types read as values: struct format of raw_data, the typed field
_VALUE_TYPES = {1: ("f", "float_data"), 6: ("i", "int32_data"), 7: ("q", "int64_data"), 11: ("d", "double_data")}


def _small_values(tensor) -> list | None:
    """The values of a small float or integer tensor, or None (another type, or no data)."""
    import struct

    kind = _VALUE_TYPES.get(tensor.data_type)
    if kind is None:
        return None
    n = math.prod(tensor.dims)
    fmt, field = kind
    if tensor.raw_data:
        if len(tensor.raw_data) != n * struct.calcsize(fmt):
            return None
        return list(struct.unpack(f"<{n}{fmt}", tensor.raw_data))
    vals = list(getattr(tensor, field))
    return vals if len(vals) == n else None


def _opset(node, mapper) -> int:
    return mapper.opset


def _safe(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.]+", "_", name).strip("._")
    if s and not (s[0].isalpha() or s[0] == "_"):
        s = "n" + s
    return s[:120]


# -- the whole file ----------------------------------------------------------------------------
def import_onnx(path: str, input_shape=None) -> Imported:
    model = read_model(path)
    input_name, dims = _set_input(model, path, input_shape)
    inferred = infer_shapes(model, path)
    refused = None
    for _ in range(6):  # shape arithmetic onnx's inference leaves unknown (see onnx_fold)
        patched = _patch_expands(inferred, dims[0])
        folded, why, pending = fold(inferred, _attr_value, _small_values, _dims)
        refused = refused or why
        if not (patched or folded):
            break
        inferred = infer_shapes(inferred, path)
        if not pending:  # every size input is a constant now: nothing more to fold
            break
    mapper = Mapper(inferred, input_name, dims, path)
    mapper.refused = refused
    mapper.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    outputs = mapper.run()
    from .torch_fx import _rename_after_fusion, fuse  # plain Python: no torch import

    folded, exporter_made, bn_left = _folded_convs(mapper)
    layers, outputs = fuse(mapper.layers, outputs)
    layers, outputs = _rename_after_fusion(layers, outputs, mapper.bases)
    notes = []
    if folded:
        convs = f"{folded} conv{'s' if folded != 1 else ''}"
        if bn_left:
            notes.append(
                f"batch-norm appears folded into {convs}: their weights are tensors the exporter made "
                f"(onnx::Conv_*), not module parameters, and they have biases (the counts are the file's: no "
                f"batch-norm params or ops for them); {bn_left} BatchNormalization node(s) the exporter could not "
                "fold (not after a conv) are in the file and counted as batch-norm"
            )
        elif exporter_made:
            notes.append(
                f"batch-norm appears folded into {convs}: this file holds no BatchNormalization nodes, and the "
                f"weights of {exporter_made} of those convs are tensors the exporter made (onnx::Conv_*), not "
                "module parameters (the counts are the file's: conv biases, no batch-norm params or ops)"
            )
        else:
            notes.append(
                f"this file holds no BatchNormalization nodes and {convs} with biases: if the source model had "
                "batch-norm after them, the exporter folded it into those convs (the counts are the file's)"
            )
    if mapper.scalar_ops:
        notes.append(
            f"{mapper.scalar_ops} element-wise op(s) with a constant (x * c, x + c) passed through: no MACs, no params"
        )
    held = [lay for lay in layers if lay.op == "tensor" and lay.attrs.get("learnable", True)]
    if held:
        values = sum(math.prod(int(d) for d in lay.attrs["shape"].split("x")) for lay in held)
        notes.append(
            f"{len(held)} tensor(s) of the file added to or multiplied into activations (a relative-position bias "
            f"the exporter gathered from its table, a per-head scale) counted as params: {values:,} values"
        )
    if mapper.rolls:
        notes.append(
            f"{mapper.rolls} cyclic shift(s) (torch.roll: Slice + Concat of an axis) passed through: no arithmetic"
        )
    if mapper.const_ops:
        notes.append(
            f"{mapper.const_ops} element-wise op(s) with a tensor the graph computes from constants (an attention "
            "mask, a position bias) passed through: no MACs, no params"
        )
    if mapper.normalised:
        notes.append(f"{mapper.normalised} x / ||x|| normalisation(s) (F.normalize) passed through: no MACs")
    if mapper.asym:
        notes.append(
            f"{mapper.asym} asymmetric paddings written as the symmetric p that gives the same output size (same count)"
        )
    if dims[0] != 1:
        notes.append(f"the file's batch is {dims[0]}; counts are per sample")
    name = os.path.splitext(os.path.basename(path))[0] or "model"
    return Imported(
        model=name,
        input_shape=tuple(dims[1:]),
        layers=layers,
        outputs=outputs,
        notes=notes,
        unmapped=mapper.unmapped,
        reference={"target": path},
        scopes=_scopes(layers),
    )


def _scopes(layers) -> dict:
    """Module paths -> a class word for the spec writer's folding (ONNX keeps no class names):
    ``Sequential`` for a scope whose children are numbered (``layer1`` of ``layer1.0``, ...),
    ``Block`` for the others. The writer folds only groups of the same structure, so one word
    for every block is enough: differently built blocks become ``Block``, ``Block_2``, ..."""
    paths: set = set()
    for lay in layers:
        parts = lay.name.split(".")
        for k in range(1, len(parts)):
            paths.add(".".join(parts[:k]))
    kids: dict = {}
    for q in paths:
        if "." in q:
            parent, last = q.rsplit(".", 1)
            kids.setdefault(parent, []).append(last)
    for lay in layers:
        if "." in lay.name:
            parent, last = lay.name.rsplit(".", 1)
            kids.setdefault(parent, []).append(last)
    return {p: "Sequential" if kids.get(p) and all(k.isdigit() for k in kids[p]) else "Block" for p in paths}


def _patch_expands(model, batch: int) -> bool:
    """``class_token.expand(n, -1, -1)``: torch.onnx computes the target shape from the input's
    shape through ops onnx's data propagation does not follow (ConstantOfShape, Where), so the
    tokens' shapes are lost from there on. A learnable tensor of batch 1 expanded over the batch
    is [batch, *rest]: written into the graph as the output's type, and inference rerun."""
    g = model.graph
    known = {vi.name: vi for vi in g.value_info}
    dims = {i.name: list(i.dims) for i in g.initializer}
    patched = False
    for n in g.node:
        if n.op_type in ("Identity", "Cast") and n.input and n.input[0] in dims:
            dims[n.output[0]] = dims[n.input[0]]
        if n.op_type != "Expand" or n.input[0] not in dims:
            continue
        d = dims[n.input[0]]
        vi = known.get(n.output[0])
        now = _dims(vi) if vi is not None else None
        if len(d) >= 2 and d[0] == 1 and (now is None or any(not isinstance(v, int) for v in now)):
            if now is not None and len(now) != len(d):
                continue
            if vi is None:
                vi = g.value_info.add()
                vi.name = n.output[0]
                vi.type.tensor_type.elem_type = 1
                for v in [batch, *d[1:]]:
                    vi.type.tensor_type.shape.dim.add().dim_value = int(v)
            else:
                shape = vi.type.tensor_type.shape
                for dim, v in zip(shape.dim, [batch, *d[1:]]):
                    dim.Clear()
                    dim.dim_value = int(v)
            patched = True
    return patched


def _folded_convs(mapper) -> tuple:
    """(convs with a bias, how many of them have weights named by torch.onnx's constant folding
    ``onnx::Conv_*``, BatchNormalization nodes left in the file). Where batch-norm nodes are
    left (one before a conv, which cannot be folded: MaxViT's pre-norm), only the convs with
    weights the exporter made are counted as folded."""
    left = sum(1 for n in mapper.g.node if n.op_type == "BatchNormalization")
    convs = [n for n in mapper.g.node if n.op_type == "Conv" and len(n.input) > 2 and n.input[2]]
    made = sum(1 for n in convs if n.input[1].startswith("onnx::"))
    if left:
        return made, made, left
    return len(convs), made, 0


def load_onnx(target, input_shape=None, batch=None, sets=None) -> Imported:
    if sets:
        raise ImportError_(
            f"{target}: --set has nothing to set in an ONNX file (its sizes are fixed; use --input)", None, code=2
        )
    imported = import_onnx(target, input_shape)
    import sys

    for note in imported.notes:
        if note.startswith("batch-norm appears folded"):  # say so on every command, not only in the written spec
            sys.stderr.write(f"note: {imported.model}: {note}\n")
    return imported


def _is_onnx(t: str) -> bool:
    return t.lower().endswith(".onnx") and len(t) > 5


register_kind(TargetKind("onnx", _is_onnx, load_onnx, "FILE.onnx"))
