"""Import a PyTorch module: trace it with ``torch.fx`` on the meta device and map each node to
flopcount's ops (:mod:`flopcount.importers.common`).

Why FX and not ``torch.export``: FX's symbolic trace keeps the module hierarchy (a
``call_module`` node's target is ``layer1.0.conv1``, and every node carries its
``nn_module_stack``), which the written spec uses as its layer and group names; it stops at
*leaf* modules (``nn.Conv2d``, ``nn.Linear``, ``nn.BatchNorm2d``, ``nn.LayerNorm``,
``nn.MultiheadAttention``, ...), which map one-to-one onto flopcount ops with their
attributes read off the module. ``torch.export`` decomposes everything to aten ops (a
``MultiheadAttention`` becomes a dozen views and matmuls), needs real example inputs and
takes several times longer. Shapes come from :class:`torch.fx.passes.shape_prop.ShapeProp`
run on meta tensors: no weights are initialised into real memory and nothing is computed.

A submodule whose forward cannot be traced (Python control flow on a tensor) is retried as a
leaf: it becomes one ``opaque`` layer with its traced output shape, named in the summary.
Anything else the mapper does not know (a custom function, an unsupported module) is
``opaque`` too. Never a silent zero: each one is an :class:`Unmapped` entry.

A submodule that fails only because its forward checks a size in Python (timm's VGG head,
``if x.shape[-2] < 7``) is traced a second time with torch.fx's ``MetaTracer``, which runs each
node on the meta device as it traces, so sizes are ints; that trace is kept when fewer
submodules fail in it (Conv2d subclasses stay leaves in both).

Shapes are per sample: the torch shape without its batch axis, which is axis 0 except after a
permute that moves it (attention's ``qkv.permute(2, 0, 3, 1, 4)``): ``_Ref.batch`` says where
it went, and ``unbind``, ``split``, ``qkv[i]``, ``permute`` and ``transpose`` read the axes
around it; anything else on such a tensor is refused (exit 3). A learnable tensor read through
an index (a relative-position bias table gathered by a buffer) and added to a layer is a
``bias_table`` of the parameter's size.

Scalar arithmetic on a tensor (``x * 0.5``, ``x + 3``) has no op in flopcount's vocabulary
and costs no MACs or params; it is passed through and counted in a note.
"""

from __future__ import annotations

import math
import operator
import re

from .common import Imported, ImportedLayer, ImportError_, Unmapped, clamped, given, spec_name

#: activations flopcount knows, by torch module class name / function name
_ACT_MODULES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "SiLU": "silu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Hardswish": "hardswish",
    "Hardsigmoid": "hardsigmoid",
    "GELU": "gelu",
    "Mish": "mish",  # (timm's Mish too: the same function)
    # timm's own classes (timm/layers/activations.py), the same functions as torch's; met inside
    # a norm that is a leaf (BatchNormAct2d's `act`: create_act_layer("gelu_tanh") is GELUTanh),
    # elsewhere traced through to the functions they call
    "GELUTanh": "gelu",  # F.gelu(x, approximate="tanh"): an element op as gelu is (no MACs)
    "Swish": "silu",  # x * sigmoid(x)
    "HardSwish": "hardswish",  # x * relu6(x + 3) / 6
    "HardSigmoid": "hardsigmoid",  # relu6(x + 3) / 6
}
_ACT_FUNCS = {
    "relu": "relu",
    "relu_": "relu",
    "relu6": "relu6",
    "silu": "silu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid",
    "gelu": "gelu",
}
#: torchvision modules mapped whole (traced as leaves): Swin's (V1, V2) window attention and patch
#: merging, MaxViT's partition attention layer
_TV_LEAVES = (
    "ShiftedWindowAttention",
    "PatchMerging",
    "ShiftedWindowAttentionV2",
    "PatchMergingV2",
    "PartitionAttentionLayer",
)
#: timm's weight-standardised convs (NFNet, BiT): the weights standardised (no MACs: FlopCounterMode
#: counts the conv only), then nn.Conv2d's count; ScaledStdConv2d's per-channel gain is a ``scale``
_CONV_STD = (
    "timm.layers.std_conv.StdConv2d",
    "timm.layers.std_conv.StdConv2dSame",
    "timm.layers.std_conv.ScaledStdConv2d",
    "timm.layers.std_conv.ScaledStdConv2dSame",
)
#: timm modules mapped whole (traced as leaves): its plain self-attention, and its nn.Linear
#: subclass (a forward of F.linear(x, weight, bias): nn.Linear's)
_TIMM_LEAVES = (
    "timm.layers.attention.Attention",
    "timm.layers.linear.Linear",
    "timm.models.swin_transformer.SwinTransformerBlock",
    "timm.models.swin_transformer.PatchMerging",
    "timm.layers.grn.GlobalResponseNorm",
    "timm.models.mlp_mixer.Affine",
    "timm.models.levit.LinearNorm",
    *_CONV_STD,
)
#: nn.Conv2d subclasses with a forward of their own that the mapper knows: timm's TensorFlow-style
#: SAME padding (padded by ceil(i/s) - 1) * s + span - i, half before, the rest after)
_CONV_SAME = ("timm.layers.conv2d_same.Conv2dSame",)


def _dropouts(nn) -> tuple:
    """nn.Dropout and its kin, identities at inference as it is (Dropout2d was not costed)."""
    return (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def _qualname(m) -> str:
    return f"{type(m).__module__}.{type(m).__qualname__}"


def _tf_same_padding(size: int, k: int, s: int, d: int, out: int):
    """The symmetric padding that gives a TF-SAME conv's output size ``out`` (its MACs depend on
    the output size only), or None when there is none (an odd total at stride 1)."""
    span = d * (k - 1) + 1
    total = max((out - 1) * s + span - size, 0)
    p = (total + 1) // 2
    return p if (size + 2 * p - span) // s + 1 == out else None


_VIEWS = {"reshape", "view", "permute", "transpose", "contiguous", "flatten", "squeeze", "unsqueeze", "expand"}
_PASS = {"dropout", "clone", "detach", "to", "type_as", "float", "stochastic_depth"}
#: arithmetic the mapper reads (two traced tensors: add, multiply, subtract, divide; one and a
#: constant: passed through)
_SCALAR_ARITH = {"add", "iadd", "mul", "imul", "sub", "truediv", "__add__"}
#: functions that handle a tensor whose batch axis a permute moved (_Ref.batch)
_BATCH_AWARE = {"getitem", "unbind", "split", "chunk", "permute", "transpose", "contiguous"}
#: merges a broadcast operand may feed (``expand_as`` before them is a no-op for the count)
_BROADCASTING = {"mul", "imul", "add", "iadd", "sub", "truediv", "__add__"}


def _word(target) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _broadcast_users(node) -> bool:
    return bool(node.users) and all(_word(u.target) in _BROADCASTING for u in node.users)


def _permutation(node, word, rank):
    """The axis order of a traced permute or transpose (over all ``rank`` axes, the batch
    included), None when the arguments are not plain ints; the identity for anything else."""
    if word == "permute":
        dims = (
            node.args[1:] if len(node.args) > 2 else (node.args[1] if len(node.args) > 1 else node.kwargs.get("dims"))
        )
        if not isinstance(dims, (tuple, list)) or len(dims) != rank or not all(isinstance(d, int) for d in dims):
            return None
        return [d % rank for d in dims]
    if word == "transpose":
        a = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim0")
        b = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim1")
        if not (isinstance(a, int) and isinstance(b, int)):
            return None
        perm = list(range(rank))
        perm[a % rank], perm[b % rank] = perm[b % rank], perm[a % rank]
        return perm
    return list(range(rank))


def _learnable(ref) -> int:
    """Learnable values a param or gathered-table ref stands for (0 for a buffer or a constant)."""
    if ref.kind == "table":
        return int(ref.value)
    if ref.kind == "param":
        return int(ref.value.numel())
    return 0


def _slope(v) -> dict:
    """leaky_relu's attributes: its slope when it is not torch's default 0.01."""
    return {} if float(v) == 0.01 else {"slope": float(v)}


def _conv_attrs(m, padding) -> dict:
    """A torch Conv2d's attributes as a spec writes them (defaults left out), with ``padding``
    (an int or a pair: what the module pads, or what gives its traced output size)."""
    a = {"c": m.out_channels, "k": _pair(m.kernel_size)}
    if m.stride != (1, 1):
        a["s"] = _pair(m.stride)
    a["p"] = _pair(padding)
    if m.dilation != (1, 1):
        a["d"] = _pair(m.dilation)
    if m.groups != 1:
        a["groups"] = "in" if m.groups == m.in_channels == m.out_channels else m.groups
    a["bias"] = m.bias is not None
    return a


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]) if v[0] == v[-1] and len(v) == 2 else [int(x) for x in v]
    return int(v)


def _shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


class _Ref:
    """What a traced value is to the mapper: a layer's output (``name``), the model input
    (``"input"``), a learnable tensor (``param``), a tuple of refs, or a plain value."""

    __slots__ = ("kind", "name", "shape", "items", "value", "layout", "batch", "folded")

    def __init__(self, kind, name=None, shape=None, items=None, value=None, layout="cf", batch=0):
        self.kind, self.name, self.shape, self.items, self.value, self.layout = kind, name, shape, items, value, layout
        #: where the batch axis is in the torch tensor: 0, unless a permute moved it (attention's
        #: qkv.permute(2, 0, 3, 1, 4)); ``shape`` is the torch shape without that axis
        self.batch = batch
        #: the batch is folded into the torch tensor's axis 0 with other values (a reshape to
        #: windows or patches: MaxViT's ``view(-1, w, w, C)``, MobileViT's ``reshape(B * P, N,
        #: -1)``): ``shape`` is then the whole torch shape, traced at batch 1, and torch dim d is
        #: its axis d; only ops that read the last axes (linear, layer norm, attention products,
        #: softmax, element-wise) are mapped on it, until a reshape gives the batch axis back
        self.folded = False


def _folded(ref) -> bool:
    """Whether ``ref`` (an argument of a node) is or holds a tensor whose batch is folded."""
    if ref is None:
        return False
    if ref.kind == "tuple":
        return any(_folded(r) for r in ref.items or ())
    return ref.folded


#: modules mapped on a tensor whose batch is folded into its axis 0 (_Ref.folded): they read its
#: last axis only (a feature map's ops would take its axis 0 for channels)
_FOLDED_MODULES = ("Linear", "LayerNorm", "Dropout", "Identity", "Softmax", *_ACT_MODULES)


def _index_text(index) -> str:
    def one(i):
        if isinstance(i, slice):
            return ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step)).rstrip(":") or ":"
        return str(i)

    return "[" + ", ".join(one(i) for i in (index if isinstance(index, tuple) else (index,))) + "]"


def _source(node) -> str:
    st = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', st)
    skip = ("/torch/fx/", "/torch/nn/modules/module.py", "/flopcount/importers/")
    frames = [f for f in frames if not any(k in f[0] for k in skip)] or frames
    if not frames:
        return ""
    path, line = frames[-1]
    return f"{path}:{line}"


class Mapper:
    """One traced graph -> a list of :class:`ImportedLayer` (see the module docstring)."""

    def __init__(self, gm, input_shape):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.layers: list = []
        self.unmapped: list = []
        self.notes: list = []
        self.scalar_ops = 0
        self.normalised = 0  # F.normalize: x / max(||x||, eps), element-wise (no MACs)
        self.used_names: set = set()
        self.bases: dict = {}  # layer name -> the name it was made unique from
        self.input_shape = tuple(input_shape)
        #: learned tokens put before a sequence (cls_token): param name -> (that layer, start, stop)
        self.tokens: dict = {}
        self._params_read: dict = {}  # parameter name -> its learnable `tensor` layer (_param_layer)

    # -- naming --------------------------------------------------------------------------
    def _unique(self, name: str) -> str:
        base = name = spec_name(name)  # (as the spec reads it back: no `$`, never `input`)
        n = 1
        while name in self.used_names:
            name = f"{base}_{n}"
            n += 1
        self.used_names.add(name)
        self.bases[name] = base
        return name

    def _scope(self, node) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        if not stack:
            return ""
        path = list(stack.values())[-1][0]
        return path if isinstance(path, str) else ""

    def _name(self, node, word: str) -> str:
        if node.op == "call_module":
            return self._unique(str(node.target))
        scope = self._scope(node)
        return self._unique(f"{scope}.{word}" if scope else word)

    # -- emit ----------------------------------------------------------------------------
    def _emit(self, node, word, op, attrs, inputs, shape) -> _Ref:
        name = self._name(node, word)
        names = tuple(r.name for r in inputs)
        shape, layout = self._logical(inputs, shape)
        self.layers.append(ImportedLayer(name, op, attrs, names, shape, _source(node)))
        out = _Ref("layer", name, shape, layout=layout)
        out.folded = any(r.folded for r in inputs)
        return out

    @staticmethod
    def _logical(inputs, shape) -> tuple:
        """(flopcount's shape, layout) of a traced output: a feature map read channels-last
        (Swin, ConvNeXt after their permute) stays channels-last, and its torch shape
        [H, W, C] is flopcount's [C, H, W]."""
        shape = tuple(shape)
        first = inputs[0] if inputs else None
        if first is not None and first.layout == "cl" and len(shape) == 3 and len(first.shape) == 3:
            return (shape[2], shape[0], shape[1]), "cl"
        return shape, "cf"

    def _opaque(self, node, inputs, shape, what, reason) -> _Ref:
        if shape is None:
            raise ImportError_(
                f"node {node.name} ({what}) at {_source(node) or 'an unknown place'} has no traced shape: {reason}",
                "make the model traceable with torch.fx (no data-dependent shapes), or count this part by hand",
                code=3,
            )
        ins = [r for r in inputs if r.kind == "layer" or r.kind == "input"][:1]
        src = _source(node)
        logical, _ = self._logical(ins, shape)
        ref = self._emit(node, node.name, "opaque", {"shape": _shape_text(logical), "what": what}, ins, shape)
        self.unmapped.append(Unmapped(ref.name, what, src, logical, reason))
        return ref

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> list:
        env: dict = {}
        self._env_ref = env
        outputs = []
        first = True
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":  # the input; then forward's other arguments, at their defaults
                default = node.args[0] if node.args else None
                env[node] = _Ref("layer", "input", self.input_shape) if first else _Ref("value", value=default)
                if first:
                    self._input = env[node]
                first = False
                continue
            if node.op == "output":
                outputs = self._flat(node.args[0], env)
                continue
            env[node] = self._node(node, env)
        return outputs

    def _flat(self, value, env) -> list:
        if isinstance(value, (tuple, list)):
            return [n for v in value for n in self._flat(v, env)]
        if isinstance(value, dict):
            return [n for v in value.values() for n in self._flat(v, env)]
        ref = env.get(value) if hasattr(value, "op") else None
        if ref is None:
            return []
        if ref.kind == "tuple":
            return [n for r in ref.items for n in self._flat_ref(r)]
        return self._flat_ref(ref)

    def _flat_ref(self, ref) -> list:
        if ref is None:
            return []
        if ref.kind == "tuple":
            return [n for r in ref.items for n in self._flat_ref(r)]
        return [ref.name] if ref.kind == "layer" else []

    def _out_shape(self, node):
        tm = node.meta.get("tensor_meta")
        if tm is None or not hasattr(tm, "shape"):
            return None
        return tuple(int(d) for d in tm.shape[1:])

    def _node(self, node, env) -> _Ref:
        import torch

        def ref(a):
            if not hasattr(a, "op"):
                return _Ref("value", value=a)
            r = env.get(a)
            if r is not None and r.kind == "const":  # read by a layer: a tensor of the model's own
                r = env[a] = self._constant_layer(a, r)
            return r

        tm = node.meta.get("tensor_meta")
        if node.op in ("call_function", "call_method") and hasattr(tm, "shape"):
            ins = [env.get(n) for n in node.all_input_nodes]
            if all(
                r is not None and (r.kind == "const" or r.kind == "value" and not torch.is_tensor(r.value)) for r in ins
            ):
                # computed from sizes and constants alone (EdgeNeXt's Fourier position encoding from
                # torch.arange): no layer until a layer reads it
                return _Ref("const", shape=tuple(int(d) for d in tm.shape))
        args = [ref(a) for a in node.args]
        shape = self._out_shape(node)
        if shape is not None and any(_folded(a) for a in args):  # (see _Ref.folded: the whole shape)
            shape = tuple(int(d) for d in tm.shape)
        if node.op == "get_attr":
            obj = self.gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.nn.Parameter):
                return _Ref("param", str(node.target), tuple(obj.shape), value=obj)
            return _Ref("value", value=obj)
        if tm is None and shape is None:
            if isinstance(node.meta.get("tensor_meta"), (tuple, list)) or node.op == "call_module":
                pass
            else:  # a size, an int: not a tensor
                if node.target is operator.getitem and args and args[0] is not None and args[0].kind == "tuple":
                    return args[0].items[node.args[1]] if isinstance(node.args[1], int) else _Ref("value")
                return _Ref("value")
        if node.op == "call_module":
            return self._module(node, self.modules[node.target], args, shape)
        word = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        return self._function(node, word, args, shape)

    # -- modules -------------------------------------------------------------------------
    def _module(self, node, m, args, shape, norm_act: bool = True) -> _Ref:
        from torch import nn

        x = args[0] if args else None
        cls = type(m).__name__
        # (the norms whose subclasses are leaves of the trace, Tracer.is_leaf_module)
        norms = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)
        if norm_act and isinstance(m, norms) and isinstance(getattr(m, "act", None), nn.Module):
            return self._norm_act(node, m, cls, args, shape)
        if shape is None and not isinstance(m, nn.MultiheadAttention):
            if isinstance(m, (nn.Identity, *_dropouts(nn))) and x is not None:
                return x
            return self._opaque(node, args, None, cls, "its output is not one tensor")
        if x is not None and x.kind == "param" and isinstance(m, nn.Linear) and x.name not in self.tokens:
            x = self._param_layer(node, x)  # a Linear of a learned query (timm's AttentionPoolLatent)
        if x is None or x.kind not in ("layer",):
            return self._opaque(node, args, shape, cls, "its input is not a traced tensor")
        rank = len(x.shape)
        if x.folded and _qualname(m) == "timm.layers.attention.Attention" and rank == 3:
            return self._timm_attention(node, m, x, args, shape)  # (attention within each window)
        if x.folded and rank > 2 and cls in ("Linear", "LayerNorm") and shape is not None:
            # flopcount's linear and layernorm read a rank-3 tensor as a feature map [C, H, W]: the
            # tokens of every window as one list [P * N, D], the op, and the windows back
            t = self._as_tokens(node, x)
            y = self._module(node, m, [t, *args[1:]], (t.shape[0], shape[-1]), norm_act)
            return self._emit(node, "windows", "reshape", {"shape": _shape_text(shape)}, [y], shape)
        if x.folded and not (cls in _FOLDED_MODULES and (cls != "LayerNorm" or type(m) is nn.LayerNorm)):
            return self._opaque(
                node, args, shape, cls, "it reads a tensor whose batch axis holds windows or patches too"
            )
        if x.batch and not isinstance(m, (nn.Identity, *_dropouts(nn))):
            raise ImportError_(
                f"module {node.target} ({cls}) at {_source(node) or 'an unknown place'} reads a tensor whose batch "
                f"axis a permute moved (to axis {x.batch})",
                "count this part by hand",
                code=3,
            )
        if isinstance(m, nn.Conv2d) and type(m).forward is not nn.Conv2d.forward:
            return self._conv_subclass(node, m, cls, x, args, shape)
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros" or isinstance(m.padding, str) and m.padding != "valid":
                pad = "same" if m.padding == "same" else m.padding_mode
                if pad != "same":
                    return self._opaque(node, args, shape, cls, f"padding_mode {m.padding_mode}")
            p = 0 if m.padding == "valid" else m.padding
            if m.padding == "same":
                if any(d * (k - 1) % 2 for d, k in zip(m.dilation, m.kernel_size)):
                    # (torch pads an odd total one more after than before; a spec pads both sides alike)
                    why = "padding='same' with an even kernel pads one side more: no symmetric padding gives it"
                    return self._opaque(node, args, shape, cls, why)
                p = tuple(d * (k - 1) // 2 for d, k in zip(m.dilation, m.kernel_size))
            return self._emit(node, "", "conv", _conv_attrs(m, p), [x], shape)
        if isinstance(m, nn.ConvTranspose2d):
            a = {"c": m.out_channels, "k": _pair(m.kernel_size), "s": _pair(m.stride), "p": _pair(m.padding)}
            if any(m.output_padding):
                a["output_padding"] = _pair(m.output_padding)
            if m.dilation != (1, 1):
                a["d"] = _pair(m.dilation)
            if m.groups != 1:
                a["groups"] = m.groups
            a["bias"] = m.bias is not None
            return self._emit(node, "", "convtranspose", a, [x], shape)
        if isinstance(m, nn.Linear):
            a = {"c": m.out_features, "bias": m.bias is not None}
            return self._emit(node, "", "fc" if rank == 1 else "linear", a, [x], shape)
        if isinstance(m, nn.BatchNorm2d) and rank == 3 and m.affine:
            return self._emit(node, "", "bn", {}, [x], shape)
        if isinstance(m, nn.BatchNorm1d) and rank == 1 and m.affine:  # a vector's F features (LeViT's head)
            return self._emit(node, "", "bn", {}, [x], shape)
        if isinstance(m, nn.LayerNorm):
            # over the features: tokens, a channels-last map, or (a subclass such as torchvision's
            # LayerNorm2d, traced as a leaf) the channels of a channels-first map
            over_c = rank != 3 or x.layout == "cl" or type(m) is not nn.LayerNorm or x.folded
            if tuple(m.normalized_shape) != (self._features(x),) or not over_c:
                return self._opaque(node, args, shape, cls, f"normalized_shape {list(m.normalized_shape)}")
            a = {"eps": float(m.eps)}
            if not m.elementwise_affine:
                a["affine"] = False
            return self._emit(node, "", "layernorm", a, [x], shape)
        if isinstance(m, nn.GroupNorm) and rank == 3:
            a = {"groups": m.num_groups, "eps": float(m.eps)}
            if not m.affine:
                a["affine"] = False
            return self._emit(node, "", "groupnorm", a, [x], shape)
        if cls in _ACT_MODULES:
            return self._emit(node, "", _ACT_MODULES[cls], {}, [x], shape)
        if isinstance(m, nn.LeakyReLU):
            return self._emit(node, "", "leaky_relu", _slope(m.negative_slope), [x], shape)
        if isinstance(m, nn.ELU):
            return self._emit(node, "", "elu", given("elu", alpha=m.alpha), [x], shape)
        if isinstance(m, nn.Softplus):
            return self._emit(node, "", "softplus", given("softplus", beta=m.beta, threshold=m.threshold), [x], shape)
        if type(m) is nn.Hardtanh:  # (nn.ReLU6 is a Hardtanh subclass, mapped above as relu6)
            return self._emit(node, "", "hardtanh", given("hardtanh", min=m.min_val, max=m.max_val), [x], shape)
        if isinstance(m, nn.LocalResponseNorm) and rank == 3 and x.layout == "cf":
            return self._emit(
                node, "", "lrn", given("lrn", size=m.size, alpha=m.alpha, beta=m.beta, bias=m.k), [x], shape
            )
        if isinstance(m, nn.PReLU):  # (its slopes along torch's dim 1: the channels of a map)
            if m.num_parameters == 1:
                return self._emit(node, "", "prelu", {"shared": True}, [x], shape)
            if x.layout == "cf" and m.num_parameters == x.shape[0]:
                return self._emit(node, "", "prelu", {}, [x], shape)
            return self._opaque(node, args, shape, cls, f"{m.num_parameters} slopes along an axis of another size")
        if isinstance(m, nn.InstanceNorm2d) and rank == 3 and x.layout == "cf":
            if m.track_running_stats:  # (in eval it is then a per-channel affine of fixed statistics)
                return self._opaque(node, args, shape, cls, "instance norm with running statistics")
            a = {"groups": x.shape[0], "eps": float(m.eps)}  # (one group per channel: instance norm)
            if not m.affine:
                a["affine"] = False
            return self._emit(node, "", "groupnorm", a, [x], shape)
        if isinstance(m, nn.Conv1d) and type(m).forward is nn.Conv1d.forward and rank == 2 and x.layout == "cf":
            return self._conv1d(node, m, cls, x, args, shape)
        if _qualname(m) == "timm.layers.grn.GlobalResponseNorm" and rank == 3:
            last = tuple(m.spatial_dim) == (1, 2)
            if (x.layout == "cl") == last and tuple(m.weight.shape) == (x.shape[0],) and m.bias is not None:
                return self._emit(node, "", "grn", {} if m.eps == 1e-6 else {"eps": float(m.eps)}, [x], shape)
        if _qualname(m) == "timm.models.levit.LinearNorm" and rank == 2:
            return self._linear_norm(node, m, x, args, shape)
        if _qualname(m) == "timm.models.mlp_mixer.Affine" and rank == 2:
            if tuple(m.alpha.shape) == tuple(m.beta.shape) == (1, 1, x.shape[1]):
                return self._emit(node, "", "affine", {}, [x], shape)
        if isinstance(m, (nn.Identity, *_dropouts(nn))):
            return x
        if isinstance(m, nn.Flatten):
            return self._view(node, x, shape, "flatten")
        if isinstance(m, nn.Softmax):
            return self._softmax(node, x, m.dim, shape)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) and rank == 3:
            if isinstance(m, nn.MaxPool2d) and m.dilation not in (1, (1, 1)):
                return self._opaque(node, args, shape, cls, "dilated pooling")
            s = m.stride if m.stride is not None else m.kernel_size
            a = {"k": _pair(m.kernel_size), "s": _pair(s), "p": _pair(m.padding)}
            if m.ceil_mode:
                a["ceil"] = True
            return self._emit(node, "", "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool", a, [x], shape)
        if isinstance(m, nn.AdaptiveAvgPool2d) and rank == 3:
            return self._adaptive(node, x, shape, args, cls)
        if isinstance(m, nn.Upsample) and rank == 3:
            return self._upsample(node, x, shape, m.mode, m.align_corners, args, cls)
        if isinstance(m, (nn.PixelShuffle, nn.PixelUnshuffle)) and rank == 3 and x.layout == "cf":
            up = isinstance(m, nn.PixelShuffle)
            r = m.upscale_factor if up else m.downscale_factor
            return self._emit(node, "", "pixel_shuffle" if up else "pixel_unshuffle", {"r": r}, [x], shape)
        if isinstance(m, nn.MultiheadAttention):
            return self._mha(node, m, args)
        if cls in ("ShiftedWindowAttention", "ShiftedWindowAttentionV2") and x.layout == "cl" and rank == 3:
            return self._swin_attention(node, m, cls, x, args, shape)
        if cls in ("PatchMerging", "PatchMergingV2") and x.layout == "cl" and rank == 3:
            if isinstance(m.norm, nn.LayerNorm) and m.norm.elementwise_affine:
                a = {"c": m.reduction.out_features, "eps": float(m.norm.eps)}
                if cls == "PatchMergingV2":
                    a["norm"] = "after"
                return self._emit(node, "", "patchmerge", a, [x], shape)
        if cls == "PartitionAttentionLayer" and x.layout == "cf" and rank == 3:
            return self._partition_attention(node, m, x, args, shape)
        if _qualname(m) == "timm.models.swin_transformer.SwinTransformerBlock" and x.layout == "cl" and rank == 3:
            return self._timm_swin_block(node, m, x, args, shape)
        if _qualname(m) == "timm.models.swin_transformer.PatchMerging" and x.layout == "cl" and rank == 3:
            if isinstance(m.norm, nn.LayerNorm) and m.norm.elementwise_affine and m.reduction.bias is None:
                return self._emit(node, "", "patchmerge", {"c": m.out_dim, "eps": float(m.norm.eps)}, [x], shape)
        if _qualname(m) == "timm.layers.attention.Attention" and rank == 2:
            return self._timm_attention(node, m, x, args, shape)
        return self._opaque(node, args, shape, cls, "no flopcount op for this module")

    def _swin_attention(self, node, m, cls, x, args, shape) -> _Ref:
        """torchvision's Swin window attention: V1 (relative-position bias table) and V2 (cosine
        attention, position bias from ``cpb_mlp``), square windows and shifts."""
        from torch import nn

        w, sh = list(m.window_size), list(m.shift_size)
        if w[0] != w[1] or sh[0] != sh[1]:
            return self._opaque(node, args, shape, cls, f"window {w} / shift {sh} not square")
        a = {"heads": m.num_heads, "window": w[0], "shift": sh[0]}
        if m.qkv.bias is None:
            a["qkv_bias"] = False
        if m.proj.bias is None:
            a["proj_bias"] = False
        if cls == "ShiftedWindowAttention":
            return self._emit(node, "", "window_attention", a, [x], shape)
        mlp = list(m.cpb_mlp)
        plain = (
            len(mlp) == 3
            and isinstance(mlp[0], nn.Linear)
            and isinstance(mlp[1], nn.ReLU)
            and isinstance(mlp[2], nn.Linear)
            and (mlp[0].in_features, mlp[0].bias is not None, mlp[2].bias) == (2, True, None)
            and mlp[2].out_features == m.num_heads
            and tuple(m.logit_scale.shape) == (m.num_heads, 1, 1)
        )
        if not plain:
            return self._opaque(
                node, args, shape, cls, "a position-bias MLP other than Linear(2, n), ReLU, Linear(n, heads)"
            )
        if mlp[0].out_features != 512:
            a["hidden"] = mlp[0].out_features
        return self._emit(node, "", "window_attention_v2", a, [x], shape)

    def _timm_swin_block(self, node, m, x, args, shape) -> _Ref:
        """timm's ``SwinTransformerBlock`` on a channels-last map, as the layers it runs:
        x + window_attention(norm1(x)), then + fc2(act(fc1(norm2(.)))) (drop paths: free)."""
        from torch import nn

        attn, mlp = m.attn, m.mlp
        c = x.shape[0]
        w, sh = tuple(m.window_size), tuple(m.shift_size)
        plain = (
            all(isinstance(n, nn.LayerNorm) and n.elementwise_affine for n in (m.norm1, m.norm2))
            and w[0] == w[1]
            and sh[0] == sh[1]
            and isinstance(attn.qkv, nn.Linear)
            and attn.qkv.out_features == 3 * c
            and attn.proj.in_features == c == attn.proj.out_features
            and tuple(attn.relative_position_bias_table.shape) == ((2 * w[0] - 1) ** 2, attn.num_heads)
            and isinstance(mlp.act, nn.GELU)
            and isinstance(mlp.norm, nn.Identity)
            and mlp.fc2.out_features == c
            and not getattr(m, "dynamic_mask", False)
        )
        if not plain:
            return self._opaque(node, args, shape, "SwinTransformerBlock", "a layout other than timm's Swin V1 block")
        h, wd = x.shape[1:]
        base = str(node.target)

        def emit(sub, op, attrs, inputs, channels):
            name = self._unique(f"{base}.{sub}")
            logical = (channels, h, wd)
            self.layers.append(ImportedLayer(name, op, attrs, tuple(r.name for r in inputs), logical, _source(node)))
            return _Ref("layer", name, logical, layout="cl")

        a = {"heads": attn.num_heads, "window": w[0], "shift": sh[0]}
        if attn.qkv.bias is None:
            a["qkv_bias"] = False
        if attn.proj.bias is None:
            a["proj_bias"] = False
        n1 = emit("norm1", "layernorm", {"eps": float(m.norm1.eps)}, [x], c)
        r1 = emit("add", "add", {}, [x, emit("attn", "window_attention", a, [n1], c)], c)
        n2 = emit("norm2", "layernorm", {"eps": float(m.norm2.eps)}, [r1], c)
        hidden = mlp.fc1.out_features
        f1 = emit("mlp.fc1", "linear", {"c": hidden, "bias": mlp.fc1.bias is not None}, [n2], hidden)
        f1 = emit("mlp.act", "gelu", {}, [f1], hidden)
        f2 = emit("mlp.fc2", "linear", {"c": c, "bias": mlp.fc2.bias is not None}, [f1], c)
        return emit("add_1", "add", {}, [r1, f2], c)

    def _norm_act(self, node, m, cls, args, shape) -> _Ref:
        """A norm with its activation inside (timm's ``BatchNormAct2d``, ``GroupNormAct``,
        ``LayerNormAct2d``: a leaf, as the norm it subclasses): the norm, then its ``act`` as a
        layer of its own (``NAME_act``); its ``drop`` is the identity at inference. An
        activation flopcount has no op for is opaque, named in the summary, never dropped."""
        from torch import nn

        out = self._module(node, m, args, shape, norm_act=False)
        act = m.act
        if out.kind != "layer" or isinstance(act, nn.Identity):
            return out
        name = self._unique(f"{node.target}_act")
        kind = type(act).__name__
        if kind in _ACT_MODULES:
            op, attrs = _ACT_MODULES[kind], {}
        elif isinstance(act, nn.LeakyReLU):
            op, attrs = "leaky_relu", _slope(act.negative_slope)
        else:
            op, attrs = "opaque", {"shape": _shape_text(out.shape), "what": kind}
            reason = f"the activation inside {cls} ({kind}) has no flopcount op"
            self.unmapped.append(Unmapped(name, kind, _source(node), out.shape, reason))
        self.layers.append(ImportedLayer(name, op, attrs, (out.name,), out.shape, _source(node)))
        return _Ref("layer", name, out.shape, layout=out.layout)

    def _conv_subclass(self, node, m, cls, x, args, shape) -> _Ref:
        """A Conv2d subclass with its own forward (a leaf because that forward did not trace):
        timm's SAME-padded conv maps to a conv with the padding that gives its output size;
        any other is opaque (its forward may pad, scale or standardise: not nn.Conv2d's count)."""
        q = _qualname(m)
        std = q in _CONV_STD
        dynamic = q in _CONV_SAME or std and bool(getattr(m, "same_pad", False))
        if (
            not (std or q in _CONV_SAME)
            or m.padding_mode != "zeros"
            or isinstance(m.padding, str)
            or dynamic
            and m.padding not in (0, (0, 0))
        ):
            return self._opaque(node, args, shape, cls, "a Conv2d subclass with a forward of its own")
        if dynamic:
            pads = [
                _tf_same_padding(size, k, s_, d, out)
                for size, k, s_, d, out in zip(x.shape[1:], m.kernel_size, m.stride, m.dilation, shape[1:])
            ]
            if None in pads:
                return self._opaque(node, args, shape, cls, "TF-style SAME padding with no symmetric equivalent")
            padding = tuple(pads)
        else:
            padding = m.padding
        out = self._emit(node, "", "conv", _conv_attrs(m, padding), [x], shape)
        gain = getattr(m, "gain", None)
        if not std or gain is None:
            return out
        if tuple(gain.shape) != (m.out_channels, 1, 1, 1):
            return self._opaque(node, [out], shape, cls, "a weight gain that is not one per output channel")
        # conv(x, standardise(W) * gain) = conv(x, standardise(W)) * gain: a per-channel scale after
        name = self._unique(f"{node.target}_gain")
        self.layers.append(ImportedLayer(name, "scale", {}, (out.name,), shape, _source(node)))
        return _Ref("layer", name, shape)

    def _timm_attention(self, node, m, x, args, shape) -> _Ref:
        """timm's ``Attention`` (ViT, DeiT, ...): qkv Linear(D, 3 dim), per-head softmax(q k^T) v,
        proj Linear(dim, D); without q/k norms, output norm, gate or a mask given."""
        from torch import nn

        d = x.shape[-1]
        plain = (
            all(isinstance(getattr(m, k, None), nn.Identity) for k in ("q_norm", "k_norm", "norm"))
            and getattr(m, "gate", None) is None
            and isinstance(m.qkv, nn.Linear)
            and isinstance(m.proj, nn.Linear)
            and m.qkv.in_features == d == m.proj.out_features
            and m.qkv.out_features == 3 * m.num_heads * m.head_dim == 3 * m.proj.in_features
            and all(self._constant(node.kwargs.get(k)) in (None, False) for k in ("attn_mask", "is_causal"))
            and len(node.args) == 1
        )
        if not plain:
            return self._opaque(node, args, shape, "Attention", "timm attention with norms, a gate or a mask")
        if x.folded:  # tokens [P, N, D] of P windows or patches: its steps, as its forward takes them
            return self._attention_steps(node, m, x)
        a: dict = {"heads": m.num_heads}
        if m.proj.in_features != d:
            a["dim"] = m.proj.in_features
        if m.qkv.bias is None:
            a["qkv_bias"] = False
        if m.proj.bias is None:
            a["proj_bias"] = False
        return self._emit(node, "", "attention", a, [x], shape)

    def _constant_layer(self, node, r) -> _Ref:
        """A tensor computed from sizes and constants alone (``_Ref`` kind ``const``, its whole
        traced shape), read by a layer: a ``tensor`` of data (no params, no MACs; what FlopCounterMode
        counts of its arithmetic is nothing), per sample (without its batch axis of 1, if it has one)."""
        shape = r.shape[1:] if len(r.shape) > 1 and r.shape[0] == 1 else r.shape
        if not shape:
            return _Ref("value")
        attrs = {"shape": _shape_text(shape), "learnable": False}
        return self._emit(node, "constant", "tensor", attrs, [self._input], shape)

    def _param_layer(self, node, p) -> _Ref:
        """A parameter read as the input of a layer (the latent query of timm's attention pooling,
        ``self.q(self.latent.expand(B, -1, -1))``): a learnable ``tensor`` of its shape per sample
        (a leading 1 dropped), made once however many layers read it: its elements are params."""
        made = self._params_read.get(p.name)
        if made is None:
            shape = tuple(p.shape[1:]) if len(p.shape) > 1 and p.shape[0] == 1 else tuple(p.shape)
            made = self._params_read[p.name] = self._emit(
                node, "param", "tensor", {"shape": _shape_text(shape)}, [self._input], shape
            )
        return made

    def _einsum(self, node, tensors, shape):
        """``torch.einsum("bhid,bhjd->bhij", q, k)`` of two traced tensors as the batched product
        it is: each index in both operands and the output a batch index, in one operand and the
        output a row or a column, in both operands only summed over. Both operands ``reshape``d to
        [batch, rows, sum] and [batch, sum, columns] (flopcount's shapes carry no layout), a
        ``matmul``, the output shape back: MACs = the product of every index's size, as torch
        counts it. None for any other equation (an ellipsis, a repeated or lone index, three
        operands) or an operand read off its torch layout."""
        eq = node.args[0] if node.args and isinstance(node.args[0], str) else None
        if eq is None or "..." in eq or "->" not in eq or len(node.args) != 3:
            return None
        lhs, out = eq.replace(" ", "").split("->")
        parts = lhs.split(",")
        if len(parts) != 2 or any(len(set(p)) != len(p) for p in (*parts, out)):
            return None
        fulls = []
        for arg, t in zip(node.args[1:], tensors):
            tm = arg.meta.get("tensor_meta") if hasattr(arg, "meta") else None
            if tm is None or t.layout != "cf" or t.batch:
                return None
            fulls.append(tuple(int(d) for d in tm.shape))
        (a, b), (fa, fb) = parts, fulls
        if len(a) != len(fa) or len(b) != len(fb):
            return None
        size = dict(zip(a, fa))
        for i, n in zip(b, fb):
            if size.setdefault(i, n) != n:
                return None  # (a broadcast index: not a plain product)
        kinds = {}
        for i in size:
            where = (i in a, i in b, i in out)
            if where not in ((True, True, True), (True, False, True), (False, True, True), (True, True, False)):
                return None
            kinds[i] = where
        batch = math.prod(size[i] for i, w in kinds.items() if w == (True, True, True))
        rows = math.prod(size[i] for i, w in kinds.items() if w == (True, False, True))
        cols = math.prod(size[i] for i, w in kinds.items() if w == (False, True, True))
        summed = math.prod(size[i] for i, w in kinds.items() if w == (True, True, False))
        lhs_shape, rhs_shape = (batch, rows, summed), (batch, summed, cols)
        ops = []
        for t, want, word in ((tensors[0], lhs_shape, "lhs"), (tensors[1], rhs_shape, "rhs")):
            if math.prod(t.shape) != math.prod(want):
                return None
            ops.append(
                t
                if tuple(t.shape) == want
                else self._emit(node, word, "reshape", {"shape": _shape_text(want)}, [t], want)
            )
        mm = self._emit(node, "einsum", "matmul", {}, ops, (batch, rows, cols))
        if tuple(shape) == mm.shape:
            return mm
        return self._emit(node, "out", "reshape", {"shape": _shape_text(shape)}, [mm], shape)

    def _as_tokens(self, node, x) -> _Ref:
        """A folded tensor [..., N, D] as tokens [(...) * N, D] (a ``reshape``; x itself when 2-D)."""
        if len(x.shape) == 2:
            return x
        n = math.prod(x.shape[:-1])
        return self._emit(node, "tokens", "reshape", {"shape": _shape_text((n, x.shape[-1]))}, [x], (n, x.shape[-1]))

    def _attention_steps(self, node, m, x) -> _Ref:
        """timm's plain ``Attention`` over tokens [P, N, D] whose batch is folded with P windows or
        patches (_Ref.folded; the ``attention`` op reads one [N, D]): qkv ``linear`` over the
        tokens of every window; the P * heads q, k and v (``reshape``, a ``slice`` each); ``matmul``
        q k^T, ``softmax``, ``matmul`` with v; proj ``linear``; the windows back: the MACs and
        params of its forward, in flopcount's ops."""
        p, n, d = x.shape
        heads, hd = m.num_heads, m.head_dim
        dim = heads * hd
        t = self._as_tokens(node, x)
        qkv = self._emit(node, "qkv", "linear", {"c": 3 * dim, "bias": m.qkv.bias is not None}, [t], (p * n, 3 * dim))
        per = (p * heads, n, hd)
        parts = self._emit(node, "heads", "reshape", {"shape": _shape_text((3, *per))}, [qkv], (3, *per))
        q, k, v = (
            self._emit(node, word, "slice", {"dim": 1, "start": i, "squeeze": True}, [parts], per)
            for i, word in enumerate(("q", "k", "v"))
        )
        scores = self._emit(node, "scores", "matmul", {"transpose_b": True}, [q, k], (p * heads, n, n))
        soft = self._emit(node, "softmax", "softmax", {"dim": 3}, [scores], scores.shape)
        out = self._emit(node, "attend", "matmul", {}, [soft, v], per)
        merged = self._emit(node, "merge", "reshape", {"shape": _shape_text((p * n, dim))}, [out], (p * n, dim))
        proj = self._emit(node, "proj", "linear", {"c": d, "bias": m.proj.bias is not None}, [merged], (p * n, d))
        return self._emit(node, "windows", "reshape", {"shape": _shape_text((p, n, d))}, [proj], (p, n, d))

    def _partition_attention(self, node, m, x, args, shape) -> _Ref:
        """torchvision's MaxViT ``PartitionAttentionLayer``: norm, relative-position attention,
        dropout; norm, Linear, activation, Linear, dropout; stochastic depth (free at inference)."""
        from torch import nn

        norm, attn = m.attn_layer[0], m.attn_layer[1]
        mlp = list(m.mlp_layer)
        c = x.shape[0]
        norms = (norm, mlp[0])
        ok = (
            all(isinstance(n, nn.LayerNorm) and n.elementwise_affine and n.bias is not None for n in norms)
            and norm.eps == mlp[0].eps
            and isinstance(mlp[1], nn.Linear)
            and isinstance(mlp[2], nn.GELU)
            and isinstance(mlp[3], nn.Linear)
            and mlp[1].bias is not None
            and mlp[3].bias is not None
            and mlp[1].out_features % c == 0
            and attn.to_qkv.bias is not None
            and attn.merge.bias is not None
            and attn.n_heads * attn.head_dim == c
            and attn.size * attn.size == attn.max_seq_len
        )
        if not ok:
            return self._opaque(
                node, args, shape, "PartitionAttentionLayer", "a layout other than torchvision's MaxViT"
            )
        a = {"heads": attn.n_heads, "size": attn.size, "mode": m.partition_type}
        if mlp[1].out_features != 4 * c:
            a["ratio"] = mlp[1].out_features // c
        if norm.eps != 1e-5:
            a["eps"] = float(norm.eps)
        return self._emit(node, "", "partition_attention", a, [x], shape)

    def _torch_order(self, node, t) -> _Ref:
        if t.layout != "cl" or len(t.shape) != 3:
            return t
        c, h, w = t.shape
        return self._emit(
            node, "permute", "reshape", {"shape": _shape_text((h, w, c))}, [_Ref("layer", t.name, t.shape)], (h, w, c)
        )

    def _linear_norm(self, node, m, x, args, shape) -> _Ref:
        """timm's LeViT ``LinearNorm`` on tokens: its Linear, then BatchNorm1d over the features of
        every token (the tokens flattened into the batch): ``linear`` and ``token_bn``."""
        from torch import nn

        lin, bn = m.linear, m.bn
        if not (isinstance(lin, nn.Linear) and isinstance(bn, nn.BatchNorm1d) and bn.affine):
            return self._opaque(node, args, shape, "LinearNorm", "a layout other than timm's LeViT LinearNorm")
        base = str(node.target)
        a = {"c": lin.out_features, "bias": lin.bias is not None}
        fc = self._unique(f"{base}.linear")
        self.layers.append(ImportedLayer(fc, "linear", a, (x.name,), shape, _source(node)))
        name = self._unique(f"{base}.bn")
        self.layers.append(ImportedLayer(name, "token_bn", {}, (fc,), shape, _source(node)))
        return _Ref("layer", name, shape)

    def _conv1d(self, node, m, cls, x, args, shape) -> _Ref:
        """nn.Conv1d over [C, L] (ECA's convolution across the pooled channels)."""
        if m.padding_mode != "zeros":
            return self._opaque(node, args, shape, cls, f"padding_mode {m.padding_mode}")
        k, s_, d = int(m.kernel_size[0]), int(m.stride[0]), int(m.dilation[0])
        if m.padding == "same":
            p = d * (k - 1) // 2
        else:
            p = 0 if m.padding == "valid" else int(m.padding[0])
        if (x.shape[1] + 2 * p - d * (k - 1) - 1) // s_ + 1 != shape[1]:
            return self._opaque(node, args, shape, cls, "padding that is not the same on both sides")
        a: dict = {"c": m.out_channels, "k": k}
        if s_ != 1:
            a["s"] = s_
        if p:
            a["p"] = p
        if d != 1:
            a["d"] = d
        if m.groups != 1:
            a["groups"] = m.groups
        a["bias"] = m.bias is not None
        return self._emit(node, "", "conv1d", a, [x], shape)

    def _reduce(self, node, word, x, shape):
        """x.sum(d), x.mean(d) over one axis (not the batch): ``reduce``; None if it is not that."""
        dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        if isinstance(dims, (tuple, list)) and len(dims) == 1:
            dims = dims[0]
        keep = bool(node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False))
        if not isinstance(dims, int) or x.layout != "cf" or x.batch:
            return None
        ax = self._axis(x, dims)
        if ax is None:
            return None
        a: dict = {"mode": word, "dim": ax + 1} if word == "mean" else {"dim": ax + 1}
        if keep:
            a["keepdim"] = True
        return self._emit(node, word, "reduce", a, [x], shape)

    def _pad(self, node, x, shape):
        """F.pad with zeros of one axis (CoaT's ``F.pad(x, (0, 0, 1, 0, 0, 0))``): ``pad``."""
        pads = node.args[1] if len(node.args) > 1 else node.kwargs.get("pad")
        mode = node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "constant")
        value = node.kwargs.get("value", node.args[3] if len(node.args) > 3 else None)
        if not isinstance(pads, (tuple, list)) or len(pads) % 2 or mode != "constant" or value not in (None, 0, 0.0):
            return None
        if not all(isinstance(v, int) and v >= 0 for v in pads) or len(pads) // 2 > len(x.shape):
            return None
        sides = [(k, pads[2 * k], pads[2 * k + 1]) for k in range(len(pads) // 2) if pads[2 * k] or pads[2 * k + 1]]
        if len(sides) != 1:
            return None
        k, before, after = sides[0]
        a: dict = {"dim": len(x.shape) - k}  # the k-th axis from the last
        if before:
            a["before"] = before
        if after:
            a["after"] = after
        return self._emit(node, "pad", "pad", a, [x], shape)

    def _axis(self, x, dim):
        """The per-sample axis (from 0) of torch dim ``dim`` of ``x``; None for the batch axis or a
        channels-last map (whose torch axes are not flopcount's)."""
        full = len(x.shape) + (not x.folded)
        if not isinstance(dim, int) or not -full <= dim < full or x.layout == "cl" and len(x.shape) == 3:
            return None
        dim %= full
        if x.folded:
            return dim
        if dim == x.batch:
            return None
        return dim if dim < x.batch else dim - 1

    def _features(self, x) -> int:
        """C of a feature map (its logical shape is [C, H, W] in either layout), D of tokens."""
        return x.shape[0] if len(x.shape) == 3 and not x.folded else x.shape[-1]

    def _adaptive(self, node, x, shape, args, what):
        c, h, w = x.shape
        if shape[1:] == (1, 1):
            return self._emit(node, "adaptive_avg_pool", "gap", {}, [x], shape)
        if shape == x.shape:
            return x
        oh, ow = shape[1:]
        if h % oh == 0 and w % ow == 0:
            a = {"k": _pair((h // oh, w // ow)), "s": _pair((h // oh, w // ow))}
            return self._emit(node, "adaptive_avg_pool", "avgpool", a, [x], shape)
        return self._opaque(node, args, shape, what, f"adaptive pool {h}x{w} -> {oh}x{ow} has uneven windows")

    def _upsample(self, node, x, shape, mode, align, args, what):
        if mode not in ("nearest", "bilinear"):
            return self._opaque(node, args, shape, what, f"mode {mode}")
        a = {"size": _pair(shape[1:]), "mode": mode}
        if align:
            a["align_corners"] = True
        return self._emit(node, "interpolate", "upsample", a, [x], shape)

    def _mha(self, node, m, args):
        q = args[0]
        same = len(node.args) >= 3 and node.args[0] is node.args[1] is node.args[2]
        need = node.kwargs.get("need_weights", True)
        if not (same and m.batch_first and m._qkv_same_embed_dim and q is not None and q.kind == "layer"):
            return self._opaque(
                node, args, q.shape if q else None, "MultiheadAttention", "not batch-first self-attention"
            )
        a = {"heads": m.num_heads, "qkv_bias": m.in_proj_bias is not None, "proj_bias": m.out_proj.bias is not None}
        out = self._emit(node, "", "attention", a, [q], q.shape)
        weights = _Ref("value") if not need else None
        return _Ref("tuple", items=[out, weights])

    # -- functions and methods -----------------------------------------------------------
    def _function(self, node, word, args, shape) -> _Ref:
        x = args[0] if args else None
        tensors = [a for a in args if a is not None and a.kind in ("layer", "param", "table")]
        moved = [a for a in tensors if a.batch]
        if moved and not (
            word in _BATCH_AWARE or word in _PASS or (word in _SCALAR_ARITH and len(tensors) == 1 and x is moved[0])
        ):
            raise ImportError_(
                f"node {node.name} ({word}) at {_source(node) or 'an unknown place'} reads a tensor whose batch "
                f"axis a permute moved (to axis {moved[0].batch})",
                "only getitem, unbind, split, chunk, permute, transpose and a constant factor map on such a "
                "tensor; count this part by hand",
                code=3,
            )
        if word == "getitem":
            return self._getitem(node, x, node.args[1], shape)
        if shape is None:
            if x is not None and x.kind == "tuple":
                return x
            if word in ("chunk", "split", "unbind") and x is not None and x.kind == "layer":
                return self._chunk(node, x, args)
            return self._opaque(node, tensors, None, word, "its output is not one tensor")
        if word in _ACT_FUNCS and x is not None and x.kind == "layer":
            return self._emit(node, word.rstrip("_"), _ACT_FUNCS[word], {}, [x], shape)
        if word in ("clamp", "clamp_", "clip") and x is not None and x.kind == "layer":
            clamped = self._clamp(node, word.rstrip("_"), x, shape)
            if clamped is not None:
                return clamped
        if word == "leaky_relu" and x is not None and x.kind == "layer":
            slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
            return self._emit(node, word, "leaky_relu", _slope(slope), [x], shape)
        if word in ("expand", "expand_as") and x is not None and x.kind == "layer" and _broadcast_users(node):
            return x  # y.expand_as(x) read only by x * y: the product broadcasts y itself
        if word in _PASS and x is not None and x.kind == "layer":
            return x
        if word == "normalize" and x is not None and x.kind == "layer":  # (EdgeNeXt's XCA, on q and k)
            self.normalised += 1
            return x
        if word in _SCALAR_ARITH:
            return self._arith(node, word, args, shape)
        if word in _VIEWS and x is not None and x.kind in ("param", "table"):
            return x  # class_token.expand(n, -1, -1): still the parameter
        if word in _VIEWS and x is not None and x.kind == "layer":
            return self._view(node, x, shape, word)
        if word == "cat":
            return self._cat(node, args, shape)
        if word == "linear" and x is not None and x.kind == "layer":
            return self._linear_fn(node, x, shape)
        if word in ("softmax",) and x is not None:
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
            return self._softmax(node, x, dim, shape)
        if word == "adaptive_avg_pool2d" and x is not None and len(x.shape) == 3:
            return self._adaptive(node, x, shape, args, word)
        if word in ("max_pool2d", "avg_pool2d") and x is not None and len(x.shape) == 3:
            return self._pool_fn(node, word, x, shape, args)
        if word in ("pixel_shuffle", "pixel_unshuffle") and x is not None and x.kind == "layer":
            key = "upscale_factor" if word == "pixel_shuffle" else "downscale_factor"
            r = node.args[1] if len(node.args) > 1 else node.kwargs.get(key)
            if len(x.shape) == 3 and x.layout == "cf" and not x.folded and type(r) is int:
                return self._emit(node, word, word, {"r": r}, [x], shape)
        if word == "interpolate" and x is not None and len(x.shape) == 3:
            mode = node.kwargs.get("mode", "nearest")
            return self._upsample(node, x, shape, mode, node.kwargs.get("align_corners"), args, word)
        if word == "mean" and x is not None and len(x.shape) == 3 and x.layout == "cl":
            dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            dims = tuple(d % 4 for d in dims) if isinstance(dims, (tuple, list)) else None
            if dims == (1, 2) and shape in ((1, 1, x.shape[0]), (x.shape[0],)):  # over H, W of [H, W, C]
                name = self._name(node, "mean")
                self.layers.append(ImportedLayer(name, "gap", {}, (x.name,), (x.shape[0], 1, 1), _source(node)))
                ref = _Ref("layer", name, (x.shape[0], 1, 1))  # 1 x 1: either layout is the same memory
                return ref if len(shape) == 3 else self._view(node, ref, shape, "flatten")
        if word == "mean" and x is not None and len(x.shape) == 3 and shape[1:] in ((1, 1), ()):
            ref = self._emit(node, "mean", "gap", {}, [x], (x.shape[0], 1, 1))
            return ref if shape[1:] == (1, 1) else self._view(node, ref, shape, "flatten")
        if word == "pad" and x is not None and x.kind == "layer" and not x.batch and x.layout == "cf":
            padded = self._pad(node, x, shape)
            if padded is not None:
                return padded
        if word in ("sum", "mean") and x is not None and x.kind == "layer":
            reduced = self._reduce(node, word, x, shape)
            if reduced is not None:
                return reduced
        if word in ("matmul", "bmm") and len(tensors) == 2 and all(t.kind != "table" for t in tensors):
            # a 3-D operand read channels-last (LeViT's k.permute(0, 2, 3, 1)) is a matrix in its
            # torch layout [H, W, C], not flopcount's [C, H, W]
            tensors = [self._torch_order(node, t) for t in tensors]
            return self._emit(node, "matmul", "matmul", {}, tensors, shape)
        if word == "einsum" and len(tensors) == 2 and all(t.kind == "layer" for t in tensors):
            got = self._einsum(node, tensors, shape)
            if got is not None:
                return got
            return self._opaque(node, tensors, shape, word, f"einsum {node.args[0]!r} (not a batched product)")
        if (
            word == "scaled_dot_product_attention"
            and len(tensors) >= 3
            and len(node.args) == 3
            and all(t.kind != "table" for t in tensors[:3])
        ):
            q, k, v = tensors[:3]
            scores = self._emit(node, "scores", "matmul", {"transpose_b": True}, [q, k], q.shape[:-1] + k.shape[-2:-1])
            mask = self._lookup(node.kwargs.get("attn_mask"))
            if mask is not None and mask.kind == "table":  # BEiT's relative-position bias, as the mask
                scores = self._emit(node, "bias", "bias_table", {"size": mask.value}, [scores], scores.shape)
            elif mask is not None and mask.kind == "layer":
                scores = self._emit(node, "mask", "add", {}, [scores, mask], scores.shape)
            elif mask is not None:
                return self._opaque(node, tensors, shape, word, "an attention mask the mapper cannot read")
            soft = self._emit(node, "softmax", "softmax", {"dim": len(q.shape)}, [scores], scores.shape)
            return self._emit(node, "attend", "matmul", {}, [soft, v], shape)
        return self._opaque(node, tensors, shape, word, "no flopcount op for this function")

    def _pool_fn(self, node, word, x, shape, args):
        names = ("input", "kernel_size", "stride", "padding")
        got = dict(zip(names, node.args))
        got.update(node.kwargs)
        k = got.get("kernel_size")
        s = got.get("stride") or k
        a = {"k": _pair(k), "s": _pair(s), "p": _pair(got.get("padding", 0))}
        if got.get("ceil_mode"):
            a["ceil"] = True
        return self._emit(node, word[:7], "maxpool" if word.startswith("max") else "avgpool", a, [x], shape)

    def _softmax(self, node, x, dim, shape):
        rank = len(shape) + 1
        if dim is None:
            dim = 1
        if x is not None and x.folded:  # (flopcount's dims count the batch as 0: axis d is dim d + 1)
            dim = dim % len(shape) + 1
        dim = dim % rank
        return self._emit(node, "softmax", "softmax", {"dim": dim}, [x], shape)

    def _view(self, node, x, shape, word):
        rank = len(x.shape)
        full = tuple(int(d) for d in node.meta["tensor_meta"].shape)
        if x.folded:  # (shape is the whole torch shape: see _Ref.folded)
            if word in ("view", "reshape") and full[0] == 1:  # the batch axis given back: [B, H, W, C]
                out = self._emit(node, word, "reshape", {"shape": _shape_text(full[1:])}, [x], full[1:])
                out.folded = False
                return out
            if tuple(shape) == tuple(x.shape):
                return x
            return self._emit(node, word, "reshape", {"shape": _shape_text(shape)}, [x], shape)
        if (
            word in ("view", "reshape")
            and not x.batch
            and x.layout == "cf"
            and len(x.shape) == 2
            and len(shape) == 3
            and shape[2] == x.shape[1]
            and shape[0] * shape[1] == x.shape[0]
        ):  # tokens [N, C] as a channels-last map [H, W, C] (EdgeNeXt's x.reshape(B, H, W, C))
            h, w = shape[0], shape[1]
            out = self._emit(node, word, "to_map", {} if h == w else {"h": h, "w": w}, [x], (shape[2], h, w))
            out.layout = "cl"
            return out
        if word in ("view", "reshape") and not x.batch and x.layout == "cf" and full[0] != 1:
            # the batch folded into axis 0 with windows or patches (traced at batch 1: axis 0 is 1
            # wherever it is the batch alone): per sample, the whole shape
            out = self._emit(node, word, "reshape", {"shape": _shape_text(full)}, [x], full)
            out.folded = True
            return out
        # channels-last permutes of a feature map (ConvNeXt): a layout, not a layer
        if word == "permute" and rank == 3:
            dims = tuple(a for a in node.args[1:]) if len(node.args) > 2 else tuple(node.args[1])
            if dims == (0, 2, 3, 1) and x.layout == "cf":
                return _Ref("layer", x.name, x.shape, layout="cl")
            if dims == (0, 3, 1, 2) and x.layout == "cl":
                return _Ref("layer", x.name, x.shape, layout="cf")
        if x.layout == "cf" and (x.batch or word in ("permute", "transpose")):
            perm = _permutation(node, word, len(x.shape) + 1)
            if perm is None and x.batch:
                raise ImportError_(
                    f"node {node.name} ({word}) at {_source(node) or 'an unknown place'}: a permute of a tensor "
                    "whose batch axis was moved, with arguments the mapper cannot read",
                    "count this part by hand",
                    code=3,
                )
            to = perm.index(x.batch) if perm is not None else 0
            if to or x.batch:  # the batch axis moves (qkv.permute(2, 0, 3, 1, 4)) or is put back
                full = tuple(int(d) for d in node.meta["tensor_meta"].shape)
                logical = full[:to] + full[to + 1 :]
                if logical == tuple(x.shape):
                    return _Ref("layer", x.name, x.shape, batch=to)
                out = self._emit(node, word, "reshape", {"shape": _shape_text(logical)}, [x], logical)
                out.batch = to
                return out
        if x.layout == "cf" and tuple(shape) == tuple(x.shape):
            return x
        if x.layout == "cl" and rank == 3:
            c, h, w = x.shape
            if tuple(shape) == (h, w, c):  # (its torch shape: nothing moves)
                return x
            if tuple(shape) == (h * w, c):  # its pixels as tokens (LeViT's subsampling)
                return self._emit(node, word, "patchify", {}, [x], shape)
        if x.layout == "cl":
            return self._opaque(node, [x], shape, word, "a reshape of a channels-last feature map")
        if len(shape) == 1 and rank == 3:
            return self._emit(node, "flatten", "flatten", {}, [x], shape)
        return self._emit(node, word, "reshape", {"shape": _shape_text(shape)}, [x], shape)

    def _clamp(self, node, word, x, shape):
        """``x.clamp(lo, hi)`` with constant bounds, as ONNX's Clip is mapped (common.clamped);
        None where a bound is a tensor or no op clamps so."""
        args = [*node.args[1:3]]
        act = clamped(
            node.kwargs.get("min", args[0] if args else None),
            node.kwargs.get("max", args[1] if len(args) > 1 else None),
        )
        return None if act is None else self._emit(node, word, act[0], act[1], [x], shape)

    def _getitem(self, node, x, index, shape):
        if x is None:
            return _Ref("value")
        if x.kind == "tuple":
            return x.items[index] if isinstance(index, int) and index < len(x.items) else _Ref("value")
        if x.kind in ("param", "table"):  # table[idxs]: the learnable tensor, gathered (a bias table)
            return _Ref("table", x.name, shape, value=_learnable(x))
        if x.kind == "layer" and shape is not None and (x.batch or x.folded):
            return self._slices(node, x, index) or self._opaque(
                node, [x], shape, "getitem", f"indexing {_index_text(index)}"
            )
        if x.kind == "layer" and shape is not None:
            # tokens[:, 0] -> select (ViT's class token)
            if isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None) and isinstance(index[1], int):
                if len(x.shape) == 2:
                    return self._emit(node, "select", "select", {"index": index[1] % x.shape[0]}, [x], shape)
            # x[:, :, a:a+h, b:b+w] -> crop (U-Net's skip): free; the offsets do not change a count
            if (
                isinstance(index, tuple)
                and len(index) == 4
                and all(isinstance(i, slice) for i in index)
                and index[0] == slice(None) == index[1]
                and all(i.step is None for i in index)
                and len(x.shape) == 3
                and shape[0] == x.shape[0]
            ):
                return self._emit(node, "crop", "crop", {"size": _pair(shape[1:])}, [x], shape)
            parts = index if isinstance(index, tuple) else (index,)
            if None in parts and all(i is None or i is Ellipsis or i == slice(None) for i in parts):
                return self._view(node, x, shape, "unsqueeze")  # s[:, :, None, None]: new axes of 1
            sliced = self._slices(node, x, index)
            if sliced is not None:
                return sliced
            return self._opaque(node, [x], shape, "getitem", f"indexing {_index_text(index)}")
        return _Ref("value")

    def _slices(self, node, x, index):
        """``x[:, a:b]``, ``x[:, i]``, ``qkv[0]`` (any axis but the batch, steps of 1): one ``slice``
        layer per indexed axis, the last axis first; None when the index is anything else."""
        cl = x.layout == "cl" and len(x.shape) == 3  # torch axes H, W, C of flopcount's [C, H, W]
        if cl and (x.batch or x.folded):
            return None
        idx = list(index) if isinstance(index, tuple) else [index]
        full = len(x.shape) + (not x.folded)
        at_batch = None if x.folded else x.batch  # (the torch axis of the batch alone; None: folded)
        if sum(i is Ellipsis for i in idx) > 1:
            return None
        if Ellipsis in idx:
            at = idx.index(Ellipsis)
            idx[at : at + 1] = [slice(None)] * (full - len(idx) + 1)
        if len(idx) > full or not all(isinstance(i, (int, slice)) and not isinstance(i, bool) for i in idx):
            return None
        idx += [slice(None)] * (full - len(idx))
        cuts = []  # (full axis, start, stop, squeeze)
        for f, i in enumerate(idx):
            if i == slice(None):
                continue
            if f == at_batch:
                return None
            size = x.shape[(1, 2, 0)[f - 1]] if cl else x.shape[f if at_batch is None or f < at_batch else f - 1]
            if isinstance(i, int):
                if not -size <= i < size:
                    return None
                cuts.append((f, i % size, i % size + 1, True, 1))
                continue
            if not all(v is None or isinstance(v, int) for v in (i.start, i.stop, i.step)):
                return None
            start, stop, step = i.indices(size)
            if step < 1 or stop <= start:
                return None
            if (start, stop, step) != (0, size, 1):
                cuts.append((f, start, stop, False, step))
        if not cuts:  # x[:, :C] of C channels (GhostNet's out[:, :out_chs]): x itself
            return x
        if cl and any(squeeze for _, _, _, squeeze, _ in cuts):
            return None  # (an axis of a channels-last map dropped: not a map any more)
        ref, batch = x, at_batch
        for f, start, stop, squeeze, step in reversed(cuts):
            ax = f if batch is None or f < batch else f - 1
            if cl:  # the torch shape (as _emit takes it for a channels-last map) and flopcount's axis
                c, h, w = ref.shape
                torch_shape = [h, w, c]
                torch_shape[f - 1] = -(-(stop - start) // step)
                ax = (1, 2, 0)[f - 1]
                shape = tuple(torch_shape)
            else:
                shape = ref.shape[:ax] + (() if squeeze else (-(-(stop - start) // step),)) + ref.shape[ax + 1 :]
            a: dict = {"dim": ax + 1, "start": start}
            a.update({"squeeze": True} if squeeze else {"stop": stop})
            if step != 1:
                a["step"] = step
            ref = self._emit(node, "slice", "slice", a, [ref], shape)
            if squeeze and batch is not None and f < batch:
                batch -= 1
            ref.batch = batch or 0
        return ref

    def _chunk(self, node, x, args):
        parts = node.args[1] if len(node.args) > 1 else node.kwargs.get("chunks")
        dim = node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0)
        word = node.target if isinstance(node.target, str) else node.target.__name__
        if word == "split":  # x.split(size, 1): equal parts of `size` channels (CSPNet's halves)
            size = node.args[1] if len(node.args) > 1 else node.kwargs.get("split_size")
            if size is None:
                size = node.kwargs.get("split_size_or_sections")
            ok = isinstance(size, int) and size > 0 and len(x.shape) == 3 and x.shape[0] % size == 0
            word, parts = ("chunk", x.shape[0] // size) if ok else (word, None)
        channels = dim in (1, -3) and len(x.shape) == 3 and x.layout == "cf" and not x.batch and not x.folded
        if word == "chunk" and channels and isinstance(parts, int) and x.shape[0] % parts == 0:
            items = []
            for take in range(parts):
                shape = (x.shape[0] // parts,) + x.shape[1:]
                items.append(self._emit(node, f"split{take}", "split", {"parts": parts, "take": take}, [x], shape))
            return _Ref("tuple", items=items)
        return self._split_slices(node, x, word, dim)

    def _split_slices(self, node, x, word, dim) -> _Ref:
        """``unbind(d)``, an uneven ``split(sizes, d)``, a ``chunk`` off the channels, along any axis
        but the batch (of qkv after its permute too): one ``slice`` per part."""
        word = node.target if isinstance(node.target, str) else node.target.__name__
        if word == "unbind":
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        ax = self._axis(x, dim)
        bounds = None
        if ax is not None:
            size = x.shape[ax]
            arg = node.args[1] if len(node.args) > 1 else None
            if word == "unbind":
                bounds = [(i, i + 1) for i in range(size)]
            elif word == "chunk":
                parts = arg if arg is not None else node.kwargs.get("chunks")
                if isinstance(parts, int) and parts > 0:
                    per = -(-size // parts)
                    bounds = [(a, min(a + per, size)) for a in range(0, size, per)]
            else:
                sizes = (
                    arg if arg is not None else node.kwargs.get("split_size_or_sections", node.kwargs.get("split_size"))
                )
                if isinstance(sizes, int) and sizes > 0:
                    bounds = [(a, min(a + sizes, size)) for a in range(0, size, sizes)]
                elif isinstance(sizes, (list, tuple)) and all(isinstance(n, int) and n > 0 for n in sizes):
                    if sum(sizes) == size:
                        ends = [sum(sizes[: k + 1]) for k in range(len(sizes))]
                        bounds = list(zip([0, *ends[:-1]], ends))
        if ax is None or not bounds:
            raise ImportError_(
                f"node {node.name} ({word}) at {_source(node) or 'an unknown place'}: a {word} the mapper cannot "
                "read (along the batch, of a channels-last map, or with sizes that are not plain ints)",
                "count this part by hand",
                code=3,
            )
        items = []
        full = ax if ax < x.batch else ax + 1  # the torch axis
        for k, (start, stop) in enumerate(bounds):
            squeeze = word == "unbind"
            shape = x.shape[:ax] + (() if squeeze else (stop - start,)) + x.shape[ax + 1 :]
            a: dict = {"dim": ax + 1, "start": start}
            a.update({"squeeze": True} if squeeze else {"stop": stop})
            ref = self._emit(node, f"{word}{k}", "slice", a, [x], shape)
            ref.batch = x.batch - 1 if squeeze and full < x.batch else x.batch
            items.append(ref)
        return _Ref("tuple", items=items)

    def _arith(self, node, word, args, shape):
        tensors = [a for a in args if a is not None and a.kind in ("layer", "param", "table")]
        # a learned token read again after it was put before the sequence (CaiT adds its class token
        # to the class attention's output): a slice of that sequence, its params counted once
        tensors = [self._token_slice(node, a) if a.kind == "param" and a.name in self.tokens else a for a in tensors]
        layers = [a for a in tensors if a.kind == "layer"]
        params = [a for a in tensors if a.kind == "param"]
        tables = [a for a in tensors if a.kind == "table"]
        base = word.lstrip("i") if word in ("iadd", "imul") else word
        if tables:
            if len(layers) == 1 and len(tables) == 1 and not params and base == "add" and shape == layers[0].shape:
                size = tables[0].value  # the whole table is learnable, however it is read
                return self._emit(node, "bias", "bias_table", {"size": size}, layers, shape)
            return self._opaque(node, layers, shape, word, "arithmetic with a gathered learnable tensor")
        if len(layers) == 1 and not params:  # x * 0.5, x + 3: no MACs, no params
            self.scalar_ops += 1
            return layers[0]
        if len(layers) == 1 and len(params) == 1:
            x, p = layers[0], params[0]
            n = math.prod(p.shape)
            if base == "add" and n == math.prod(x.shape):
                return self._emit(node, "pos_embed", "pos_embed", {}, [x], shape)
            if base == "mul" and n == self._features(x):
                return self._emit(node, "layer_scale", "scale", {}, [x], shape)
        if len(layers) >= 2 and not params and base in ("add", "mul"):
            return self._emit(node, base, "add" if base == "add" else "multiply", {}, layers, shape)
        if len(layers) == 2 and len(tensors) == 2 and base in ("sub", "truediv"):  # first - second, first / second
            return self._emit(node, base, "subtract" if base == "sub" else "divide", {}, layers, shape)
        return self._opaque(node, tensors, shape, word, "no flopcount op for this arithmetic")

    def _linear_fn(self, node, x, shape) -> _Ref:
        """F.linear(x, weight, bias) with a learnable weight (BEiT's qkv with its q and v biases
        concatenated): ``linear``, and a ``bias_table`` when the bias is made of learnable parts."""
        names = ("input", "weight", "bias")
        got = dict(zip(names, node.args))
        got.update(node.kwargs)
        w, b = self._lookup(got.get("weight")), self._lookup(got.get("bias"))
        if w is None or w.kind != "param" or len(w.shape) != 2 or w.shape[1] != self._features(x):
            return self._opaque(node, [x], shape, "linear", "F.linear with a weight that is not a parameter")
        a = {"c": int(w.shape[0]), "bias": b is not None and b.kind == "param"}
        if len(x.shape) == 1:
            out = self._emit(node, "linear", "fc", a, [x], shape)
        else:
            out = self._emit(node, "linear", "linear", a, [x], shape)
        if b is not None and b.kind == "table":
            return self._emit(node, "bias", "bias_table", {"size": b.value}, [out], shape)
        if b is not None and b.kind != "param" and got.get("bias") is not None:
            return self._opaque(node, [out], shape, "linear", "F.linear with a bias that is not a parameter")
        return out

    def _token_slice(self, node, p) -> _Ref:
        seq, start, stop = self.tokens[p.name]
        shape = (stop - start, *seq.shape[1:])
        if tuple(p.shape[-len(shape) :]) != shape:
            return p
        return self._emit(node, "token", "slice", {"dim": 1, "start": start, "stop": stop}, [seq], shape)

    def _cat(self, node, args, shape):
        seq = node.args[0]
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        items = [self._lookup(a) for a in seq]
        if len(items) == 1 and items[0] is not None and items[0].kind == "layer":
            return items[0]  # torch.cat([x], 1) is x (DenseNet's first layer of a block)
        lead = items[:-1]
        if (
            lead
            and all(i is not None and i.kind == "param" for i in lead)
            and items[-1] is not None
            and items[-1].kind == "layer"
            and dim == 1
            and len(shape) == 2
        ):  # [class token(s), (DeiT's distillation token), tokens]: learned tokens put first
            x = items[-1]
            tokens = sum(p.shape[-2] if len(p.shape) >= 2 else 1 for p in lead)
            out = self._emit(node, "class_token", "cls_token", {"tokens": tokens}, [x], shape)
            start = 0
            for p in lead:  # where each learned token now is: a later read of it is a slice of `out`
                n = p.shape[-2] if len(p.shape) >= 2 else 1
                self.tokens.setdefault(p.name, (out, start, start + n))
                start += n
            return out
        if all(i is not None and i.kind == "layer" for i in items) and len(shape) == 3 and dim in (1, -3):
            return self._emit(node, "cat", "concat", {}, items, shape)
        if (
            all(i is not None and (i.kind in ("param", "table") or i.kind == "value") for i in items)
            and any(i.kind in ("param", "table") for i in items)
            and shape is not None
        ):  # torch.cat((q_bias, k_bias, v_bias)): learnable parts (the buffer k_bias is not) of one tensor
            return _Ref("table", f"cat:{node.name}", shape, value=sum(_learnable(i) for i in items))
        if all(i is not None and i.kind == "layer" and not i.batch for i in items) and isinstance(dim, int):
            ax = self._axis(items[0], dim)
            if ax is not None and all(self._axis(i, dim) == ax and len(i.shape) == len(shape) for i in items):
                return self._emit(node, "cat", "cat", {"dim": ax + 1}, items, shape)
        return self._opaque(node, [i for i in items if i is not None], shape, "cat", f"cat along dim {dim}")

    def _constant(self, a):
        """A plain value, or the value a traced node stands for (forward's default arguments)."""
        ref = self._lookup(a)
        if ref is None:
            return a
        return ref.value if ref.kind == "value" else ref

    def _lookup(self, a):
        return self._env_ref.get(a) if hasattr(a, "op") else None


# -- fusion: conv + bn + act as one layer, as a person writes it -------------------------------
_FUSE_ACT = {"relu", "relu6", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "gelu"}


def fuse(layers: list, outputs: list) -> tuple:
    """``conv`` (or ``convtranspose``) followed by its only reader ``bn`` and then an activation
    become one layer (``bn: true, act: relu``) named after the conv, as ``configs/resnet.yaml``
    writes them; ``fc``/``linear`` take a following activation. Costs are unchanged: the fused
    layer counts the same bn and activation (see ``ops/conv.py``)."""
    users: dict = {}
    for lay in layers:
        for i in lay.inputs:
            users[i] = users.get(i, 0) + 1
    for o in outputs:
        users[o] = users.get(o, 0) + 1
    by_name = {lay.name: k for k, lay in enumerate(layers)}
    rename: dict = {}
    out: list = []
    skip = set()
    for k, lay in enumerate(layers):
        if k in skip:
            continue
        lay = _renamed(lay, rename)
        if lay.op in ("conv", "convtranspose", "fc", "linear"):
            attrs = dict(lay.attrs)
            last = lay.name
            nxt = _sole_reader(layers, by_name, last, users, k)
            if nxt is not None and layers[nxt].op == "bn" and lay.op in ("conv", "convtranspose"):
                attrs["bn"] = True
                skip.add(nxt)
                rename[layers[nxt].name] = lay.name
                last = layers[nxt].name
                nxt = _sole_reader(layers, by_name, last, users, nxt)
            if nxt is not None and layers[nxt].op in _FUSE_ACT:
                attrs["act"] = layers[nxt].op
                skip.add(nxt)
                rename[layers[nxt].name] = lay.name
                last = layers[nxt].name
            shape = layers[by_name[last]].shape
            lay = ImportedLayer(lay.name, lay.op, attrs, lay.inputs, shape, lay.source)
        out.append(lay)
    return out, [rename.get(o, o) for o in outputs]


def _rename_after_fusion(layers, outputs, bases) -> tuple:
    """Names made unique before fusion (``relu``, ``relu_1``, ``relu_2`` for one ReLU module
    called three times) renumbered over the layers that are left: the ReLU after the add of a
    bottleneck is ``relu`` once the two before it went into their convs."""
    taken: set = set()
    rename: dict = {}
    for lay in layers:
        base = bases.get(lay.name, lay.name)
        name, n = base, 1
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        taken.add(name)
        if name != lay.name:
            rename[lay.name] = name
    if not rename:
        return layers, outputs
    out = [
        ImportedLayer(
            rename.get(x.name, x.name), x.op, x.attrs, tuple(rename.get(i, i) for i in x.inputs), x.shape, x.source
        )
        for x in layers
    ]
    return out, [rename.get(o, o) for o in outputs]


def _sole_reader(layers, by_name, name, users, k):
    if users.get(name, 0) != 1 or k + 1 >= len(layers):
        return None
    nxt = layers[k + 1]
    return k + 1 if nxt.inputs == (name,) else None


def _renamed(lay, rename):
    if not any(i in rename for i in lay.inputs):
        return lay
    return ImportedLayer(
        lay.name, lay.op, lay.attrs, tuple(rename.get(i, i) for i in lay.inputs), lay.shape, lay.source
    )


# -- tracing ------------------------------------------------------------------------------------
def _trace(model, display: str, base, meta_args, seed=None) -> tuple:
    """(tracer, graph, leaves) of ``model`` traced by a ``base`` tracer (torch.fx.Tracer, or
    MetaTracer with ``meta_args``); a submodule whose forward fails becomes a leaf, and
    ``leaves`` says why, by its path (``seed``: leaves from the start)."""
    import torch

    leaves: dict = dict(seed or {})

    class Tracer(base):
        failed_at = None

        def is_leaf_module(self, m, qualname):
            # subclasses of the norms flopcount maps are leaves too (torchvision's LayerNorm2d)
            mapped = (
                isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d, torch.nn.GroupNorm))
                or (type(m).__name__ in _TV_LEAVES and type(m).__module__.startswith("torchvision."))
                or _qualname(m) in _TIMM_LEAVES
            )
            return qualname in leaves or mapped or super().is_leaf_module(m, qualname)

        def call_module(self, m, forward, args, kwargs):
            try:
                return super().call_module(m, forward, args, kwargs)
            except Exception:
                if self.failed_at is None:
                    self.failed_at = self.path_of_module(m)
                raise

    for _ in range(64):
        tracer = Tracer()
        tracer.record_stack_traces = True
        try:
            graph = tracer.trace(model) if meta_args is None else tracer.trace(model, meta_args)
            return tracer, graph, leaves
        except Exception as e:  # noqa: BLE001 - any failure of the user's forward
            path = tracer.failed_at
            if path and path not in leaves:
                leaves[path] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]
                continue
            raise ImportError_(
                f"{display}: torch.fx cannot trace the model's forward ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                "flopcount traces with torch.fx.symbolic_trace: avoid Python control flow on tensor values",
                code=3,
            ) from None
    raise ImportError_(f"{display}: too many untraceable submodules", None, code=3)  # pragma: no cover


def _only_what_the_output_reads(graph) -> None:
    """Erase the nodes of ``graph`` that the output does not read. MetaTracer runs each leaf's
    forward on meta tensors to learn its output, and the submodules and functions that forward
    calls are recorded too, reading those meta tensors as constants (timm's BatchNormAct2d: its
    ``drop`` and ``act``, then the next conv's ``conv2d`` and its ``_assert``s): a chain beside the
    real one, which nothing of the model's output reads. Left in, each of its nodes was reported
    as not costed (timm's mobilevit_s: 66)."""
    out = next(n for n in reversed(graph.nodes) if n.op == "output")
    keep, todo = set(), [out]
    while todo:
        n = todo.pop()
        if n not in keep:
            keep.add(n)
            todo.extend(n.all_input_nodes)
    for n in reversed(list(graph.nodes)):
        if n not in keep and n.op != "placeholder":
            graph.erase_node(n)  # (its users are erased before it: none of them is kept either)


def trace_module(model, input_shape, display: str) -> Imported:
    """Trace ``model`` (built on the meta device) at a per-sample ``input_shape`` and map it."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    tracer, graph, leaves = _trace(model, display, torch.fx.Tracer, None)
    if leaves:
        # a submodule's forward has Python control flow on a size (timm's VGG head checks the map
        # size, MobileViT unfolds by it): trace again with the sizes concrete (torch.fx's MetaTracer
        # runs each node on the meta device as it traces), and keep that trace if fewer fail
        import inspect
        import warnings

        from torch.fx.experimental.meta_tracer import MetaTracer

        first = next(iter(inspect.signature(model.forward).parameters), "x")
        meta = {first: torch.empty((1, *input_shape), device="meta")}
        # Conv2d subclasses stay leaves: the mapper reads them whole (timm's SAME conv), or names
        # them as not costed (a forward that pads or scales: not nn.Conv2d's count)
        convs = {p: why for p, why in leaves.items() if isinstance(model.get_submodule(p), torch.nn.Conv2d)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                again = _trace(model, display, MetaTracer, meta, convs)
        except ImportError_:
            again = None
        if again is not None and len(again[2]) < len(leaves):
            tracer, graph, leaves = again
            _only_what_the_output_reads(graph)
    try:
        gm = torch.fx.GraphModule(tracer.root, graph)
    except SyntaxError as e:  # torch.fx writes `self.blocks.in(x)` for a ModuleDict key `in`
        import keyword

        def unwritable(part: str) -> bool:  # (what torch.fx 2.x writes wrongly: a keyword, a quote)
            return keyword.iskeyword(part) or '"' in part or "\\" in part

        bad = [n for n, _ in model.named_modules() if any(unwritable(p) for p in n.split("."))]
        what = f" (module {', '.join(f'`{n}`' for n in bad[:3])})" if bad else ""
        raise ImportError_(
            f"{display}: torch.fx cannot compile the forward it traced: `{(e.text or '').strip()}` is not Python{what}",
            "torch.fx calls each submodule by its path, and writes a Python keyword or a quote in one "
            'wrongly: rename the submodule (a ModuleDict key such as `in`, `if` or `"q`)',
            code=3,
        ) from None
    try:
        ShapeProp(gm).propagate(torch.empty((1, *input_shape), device="meta"))
    except Exception as e:  # noqa: BLE001
        raise ImportError_(
            f"{display}: the traced model does not run at input {_shape_text(input_shape)} on the meta device "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
            "check --input (per sample, e.g. 3x224x224), or make the model's shapes independent of its data",
            code=3,
        ) from None
    mapper = Mapper(gm, input_shape)
    outputs = mapper.run()
    # leaves made because their forward failed to trace: say why in their entries
    unmapped = []
    for u in mapper.unmapped:
        path = u.node.rsplit("_", 1)[0] if u.node not in leaves else u.node
        why = leaves.get(u.node) or leaves.get(path)
        if why:
            u = Unmapped(u.node, u.target, u.source, u.shape, f"its forward cannot be traced: {why}")
        unmapped.append(u)
    layers, outputs = fuse(mapper.layers, outputs)
    layers, outputs = _rename_after_fusion(layers, outputs, mapper.bases)
    notes = []
    if mapper.normalised:
        notes.append(f"{mapper.normalised} x / ||x|| normalisation(s) (F.normalize) passed through: no MACs")
    if mapper.scalar_ops:
        notes.append(
            f"{mapper.scalar_ops} element-wise op(s) with a constant (x * c, x + c) passed through: no MACs, no params"
        )
    params = sum(p.numel() for p in model.parameters())
    calls: dict = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            calls[str(n.target)] = calls.get(str(n.target), 0) + 1
    shared = [(t, k, sum(p.numel() for p in gm.get_submodule(t).parameters())) for t, k in calls.items() if k > 1]
    shared = [(t, k, w) for t, k, w in shared if w]
    if shared:  # CoaT's shared position encodings: one module, called by every block of a stage
        extra = sum((k - 1) * w for _, k, w in shared)
        names = ", ".join(f"{t} x{k}" for t, k, _ in shared[:3]) + (", ..." if len(shared) > 3 else "")
        notes.append(
            f"{extra:,} params counted more than once: modules called more than once ({names}) share their "
            "weights, and each call is a layer of its own in the spec; torch counts them once"
        )
    called = {str(n.target) for n in gm.graph.nodes if n.op in ("call_module", "get_attr")}
    unused = [
        (name, sum(p.numel() for p in m.parameters()))
        for name, m in model.named_children()
        if not any(c == name or c.startswith(name + ".") for c in called)
    ]
    unused = [(n, k) for n, k in unused if k]
    if unused:
        total = sum(k for _, k in unused)
        notes.append(
            f"{total:,} params in modules the forward does not call at inference "
            f"({', '.join(n for n, _ in unused)}): not counted, as torch does not run them"
        )
    return Imported(
        model=display,
        input_shape=tuple(input_shape),
        layers=layers,
        outputs=outputs,
        notes=notes,
        unmapped=unmapped,
        reference={"params": int(params)},
        scopes={spec_name(name): type(m).__name__ for name, m in model.named_modules() if name},
    )
