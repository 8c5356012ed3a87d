"""A spec's graph as a ``torch.nn.Module``: one submodule per spec layer, named as the spec names it.

Each op builds its own module (``Op.build`` in ``flopcount/ops/``, next to its cost) from
the node's normalised attributes (``Op.normalize``, the same values the cost read); this
module only wires them together and names no op. Dots in spec names are scopes: ``inception.b2.conv`` is the
child ``conv`` of a container ``b2`` of a container ``inception``, so ``named_modules()``
yields exactly the spec's layer names (plus the containers, and the ``conv``/``bn``/``act``
children of a layer with a fused batch-norm or activation).

This is the only place (with the ops' ``build`` methods) that imports torch; importing it
without torch raises :class:`~flopcount.errors.EnvironmentProblem` (exit 4) with the install
command. Training-only side outputs (auxiliary classifiers) are left out unless asked for, so
the module's parameter count equals the report's ``params`` total.
"""

from __future__ import annotations

from .errors import EnvironmentProblem

#: the exit-4 hint (flopcount is not on a package index: name the packages, not an extra)
INSTALL = (
    "pip install torch fvcore   (a CPU-only torch, 190 MB instead of 2.9 GB of CUDA wheels: "
    "pip install torch --index-url https://download.pytorch.org/whl/cpu, then pip install fvcore)"
)

try:
    import torch
    from torch import nn
except ImportError as _exc:  # pragma: no cover - exercised through a subprocess test
    raise EnvironmentProblem(f"this needs torch, which is not installed ({_exc}); install it with: {INSTALL}") from None


class Scope(nn.Module):
    """A container for a dotted name's prefix (a block instance or a branch); never called."""


class Merge(nn.Module):
    """A layer with several inputs (an op of arity ``"n"``); ``fn`` combines the list of tensors."""

    def __init__(self, kind: str, fn):
        super().__init__()
        self.kind = kind
        self.fn = fn

    def forward(self, *xs):
        return self.fn(list(xs))

    def extra_repr(self) -> str:
        return self.kind


class ChannelsLast(nn.Module):
    """Runs ``inner`` (a LayerNorm or Linear over the last axis) on the channels of a
    [B, C, H, W] map: permuted to channels-last and back, as torchvision's ConvNeXt does."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _feature_shape(shape: tuple) -> tuple:
    """The shape of a per-feature tensor that broadcasts over one sample: (C, 1, 1) for a
    feature map, (D,) for tokens [N, D], (F,) for a vector."""
    if len(shape) == 3:
        return (shape[0], 1, 1)
    return (shape[-1],)


class LayerScale(nn.Module):
    """x * gamma, one learnable factor per feature (ConvNeXt's layer scale)."""

    def __init__(self, shape: tuple, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full(_feature_shape(shape), float(init)))

    def forward(self, x):
        return x * self.gamma


class AddParameter(nn.Module):
    """x + a learnable tensor of one sample's shape (ViT's position embedding)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(1, *shape))
        nn.init.normal_(self.embedding, std=0.02)

    def forward(self, x):
        return x + self.embedding


class PrependTokens(nn.Module):
    """Learnable tokens put before a [B, N, D] sequence (ViT's class token)."""

    def __init__(self, n: int, d: int):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, n, d))

    def forward(self, x):
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class ChannelSlice(nn.Module):
    """One of ``parts`` equal channel slices (a view)."""

    def __init__(self, parts: int, take: int):
        super().__init__()
        self.parts, self.take = parts, take

    def forward(self, x):
        return x.chunk(self.parts, dim=1)[self.take]


class AxisSlice(nn.Module):
    """Elements start..stop-1 of axis ``dim``, every ``step``-th (a view); ``squeeze``: the one
    element, the axis dropped."""

    def __init__(self, dim: int, start: int, stop: int, squeeze: bool, step: int = 1):
        super().__init__()
        self.dim, self.start, self.stop, self.squeeze, self.step = dim, start, stop, squeeze, step

    def forward(self, x):
        if self.squeeze:
            return x.select(self.dim, self.start)
        if self.step != 1:
            return x[(slice(None),) * self.dim + (slice(self.start, self.stop, self.step),)]
        return x.narrow(self.dim, self.start, self.stop - self.start)


class AxisPad(nn.Module):
    """Zeros before and after axis ``dim`` (F.pad of that axis only)."""

    def __init__(self, dim: int, before: int, after: int):
        super().__init__()
        self.dim, self.before, self.after = dim, before, after

    def forward(self, x):
        pad = [0, 0] * (x.dim() - 1 - self.dim) + [self.before, self.after]
        return nn.functional.pad(x, pad)


class AxisReduce(nn.Module):
    """x.sum(dim) or x.mean(dim)."""

    def __init__(self, mode: str, dim: int, keepdim: bool):
        super().__init__()
        self.mode, self.dim, self.keepdim = mode, dim, keepdim

    def forward(self, x):
        return (x.sum if self.mode == "sum" else x.mean)(self.dim, keepdim=self.keepdim)


class AddGathered(nn.Module):
    """x + table[index]: a learnable table of ``size`` values gathered into one sample's shape
    (index k % size at element k), as a relative-position bias table is read."""

    def __init__(self, size: int, shape: tuple):
        super().__init__()
        self.shape = tuple(shape)
        self.table = nn.Parameter(torch.zeros(size))

    def forward(self, x):
        n = 1
        for d in self.shape:
            n *= d
        index = torch.arange(n, device=x.device) % self.table.numel()
        return x + self.table[index].view(1, *self.shape)


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over the D features of [B, N, D] tokens (flattened into the batch: LeViT)."""

    def __init__(self, d: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x):
        return self.bn(x.flatten(0, 1)).reshape_as(x)


class Affine(nn.Module):
    """alpha * x + beta, one learnable alpha and beta per feature (ResMLP's Affine)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(_feature_shape(shape)))
        self.beta = nn.Parameter(torch.zeros(_feature_shape(shape)))

    def forward(self, x):
        return torch.addcmul(self.beta, self.alpha, x)


class GlobalResponseNorm(nn.Module):
    """ConvNeXt V2's GRN on [B, C, H, W]: x + gamma * (x * n) + beta, n = the per-channel 2-norm
    over H x W divided by its mean over C (+ eps)."""

    def __init__(self, c: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x):
        g = x.norm(p=2, dim=(2, 3), keepdim=True)
        n = g / (g.mean(dim=1, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias, self.weight, x * n)


class ChannelShuffle(nn.Module):
    """[B, g * c, H, W] read as [B, g, c, H, W], transposed to [B, c, g, H, W]: a copy."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        b, c, h, w = x.shape
        x = x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)


class SpaceDepth(nn.Module):
    """Channels into space (``up``: [B, C r r, H, W] -> [B, C, H r, W r]) or back, with the
    channels ordered as torch's pixel_shuffle (``crd``: channel major) or as ONNX DepthToSpace
    and SpaceToDepth (``dcr``: the r x r block major)."""

    def __init__(self, r: int, order: str, up: bool):
        super().__init__()
        self.r, self.order, self.up = r, order, up

    def forward(self, x):
        r = self.r
        b, c, h, w = x.shape
        if self.order == "crd":
            return nn.functional.pixel_shuffle(x, r) if self.up else nn.functional.pixel_unshuffle(x, r)
        if self.up:  # channel index (i * r + j) * C' + c' -> pixel (h r + i, w r + j) of c'
            y = x.view(b, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
            return y.reshape(b, c // (r * r), h * r, w * r)
        y = x.view(b, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4)
        return y.reshape(b, c * r * r, h // r, w // r)


class Interpolate(nn.Module):
    def __init__(self, size, scale, mode: str, align_corners):
        super().__init__()
        self.size, self.scale, self.mode, self.align_corners = size, scale, mode, align_corners

    def forward(self, x):
        return nn.functional.interpolate(
            x, size=self.size, scale_factor=self.scale, mode=self.mode, align_corners=self.align_corners
        )


class CenterCrop(nn.Module):
    def __init__(self, size: tuple):
        super().__init__()
        self.size = size

    def forward(self, x):
        (h, w), (th, tw) = x.shape[-2:], self.size
        top, left = (h - th) // 2, (w - tw) // 2
        return x[..., top : top + th, left : left + tw]


class ToTokens(nn.Module):
    """[B, C, H, W] -> [B, H*W, C] (a view)."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class ToMap(nn.Module):
    """[B, N, D] -> [B, D, h, w]."""

    def __init__(self, h: int, w: int):
        super().__init__()
        self.h, self.w = h, w

    def forward(self, x):
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], self.h, self.w)


class SelectToken(nn.Module):
    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index]


class Roll(nn.Module):
    def __init__(self, shift: tuple):
        super().__init__()
        self.shift = shift

    def forward(self, x):
        return torch.roll(x, self.shift, (2, 3))


class PatchMerging(nn.Module):
    """Swin's patch merging on a [B, C, H, W] map: 2x2 neighbours concatenated (odd sizes
    padded), LayerNorm(4C), bias-free Linear(4C, c_out), in torchvision's order."""

    def __init__(self, c: int, c_out: int, eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(4 * c, eps=eps)
        self.reduction = nn.Linear(4 * c, c_out, bias=False)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x)).permute(0, 3, 1, 2)


def _attend(q, k, v, bias=None):
    """softmax(q k^T / sqrt(d) + bias) v with plain matmuls, which FlopCounterMode (bmm) and
    fvcore (matmul) both count, whatever the SDPA backend."""
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    return attn.softmax(-1) @ v


class SelfAttention(nn.Module):
    """Multi-head self-attention over [B, N, D]: ``qkv`` Linear(D, 3 dim), per-head
    attention, ``proj`` Linear(dim, D) (absent with ``proj=False``)."""

    def __init__(self, d: int, dim: int, heads: int, qkv_bias: bool, proj: bool, proj_bias: bool):
        super().__init__()
        self.heads, self.dim = heads, dim
        self.qkv = nn.Linear(d, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, d, bias=proj_bias) if proj else nn.Identity()

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.dim // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(_attend(q, k, v).transpose(1, 2).reshape(b, n, self.dim))


def _relative_index(w: int):
    """Swin's relative-position index: for each pair of the w*w tokens of a window, the row
    of the ((2w - 1)^2, heads) bias table for their offset."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    return (rel[:, :, 0] * (2 * w - 1) + rel[:, :, 1]).flatten()


def _windows(x, w: int):
    """[B, Hp, Wp, C] -> [B * nW, w*w, C]."""
    b, hp, wp, c = x.shape
    return x.view(b, hp // w, w, wp // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


class WindowAttention(nn.Module):
    """Swin's shifted-window attention on a [B, C, H, W] map, as torchvision's
    ``shifted_window_attention``: pad to multiples of the window, roll by -shift, attention in
    each window with the relative-position bias (and the shift mask), roll back, unpad. The
    index and the mask are non-persistent buffers: state, not counted (torchvision's index is a
    buffer its counts leave out too)."""

    def __init__(self, c: int, heads: int, window: int, shift: tuple, qkv_bias: bool, proj_bias: bool):
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(c, 3 * c, bias=qkv_bias)
        self.proj = nn.Linear(c, c, bias=proj_bias)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_index(window), persistent=False)
        self._mask_size: tuple | None = None
        self.register_buffer("shift_mask", None, persistent=False)

    def _mask(self, hp: int, wp: int, device):
        """[nW, T, T]: -100 between tokens of one window that come from different regions
        after the roll (torchvision's attn_mask); built once per padded size."""
        if self._mask_size != (hp, wp):
            w, (sh, sw) = self.window, self.shift
            region = torch.zeros(hp, wp, device=device)
            label = 0
            for hs in ((0, hp - w), (hp - w, hp - sh), (hp - sh, hp)):
                for ws in ((0, wp - w), (wp - w, wp - sw), (wp - sw, wp)):
                    region[hs[0] : hs[1], ws[0] : ws[1]] = label
                    label += 1
            r = _windows(region.view(1, hp, wp, 1), w).squeeze(-1)
            diff = r.unsqueeze(1) - r.unsqueeze(2)
            self.shift_mask = torch.zeros_like(diff).masked_fill(diff != 0, -100.0)
            self._mask_size = (hp, wp)
        return self.shift_mask

    def forward(self, x):
        win, dims = self._to_windows(x)
        b, c, _, _, hp, wp = dims
        w, heads, t = self.window, self.heads, self.window * self.window
        q, k, v = self.qkv(win).reshape(-1, t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index].view(t, t, heads).permute(2, 0, 1)
        if any(self.shift):
            n_w = (hp // w) * (wp // w)
            bias = (bias.unsqueeze(0) + self._mask(hp, wp, win.device).unsqueeze(1)).repeat(b, 1, 1, 1)
            bias = bias.view(b * n_w, heads, t, t)
        out = self.proj(_attend(q, k, v, bias).transpose(1, 2).reshape(-1, t, c))
        return self._from_windows(out, dims)

    def _to_windows(self, x):
        """[B, C, H, W] -> its windows [B * nW, w*w, C] (H and W padded to multiples of w, rolled
        by -shift), and the sizes :meth:`_from_windows` needs to undo it."""
        b, c, h, w_ = x.shape
        w, (sh, sw) = self.window, self.shift
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.pad(x, (0, 0, 0, (w - w_ % w) % w, 0, (w - h % w) % w))
        hp, wp = x.shape[1:3]
        if sh or sw:
            x = torch.roll(x, (-sh, -sw), (1, 2))
        return _windows(x, w), (b, c, h, w_, hp, wp)

    def _from_windows(self, out, dims):
        """The windows [B * nW, w*w, C] back to [B, C, H, W]: rolled back, unpadded."""
        b, c, h, w_, hp, wp = dims
        w, (sh, sw) = self.window, self.shift
        out = out.view(b, hp // w, wp // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if sh or sw:
            out = torch.roll(out, (sh, sw), (1, 2))
        return out[:, :h, :w_].permute(0, 3, 1, 2)


class SpecModel(nn.Module):
    """Runs the graph's layers in order. ``_mark``, when set, is called once before the first
    layer and once after each layer (the latency timers record their time points there).
    Internal attributes start with ``_`` so they cannot clash with spec layer names."""

    def __init__(self, graph, train_only: bool = False):
        super().__init__()
        self._mark = None
        steps = []  # (name, module, inputs): modules live in the scope tree, this is the run order
        nodes = [n for n in graph.nodes if train_only or not n.train_only]
        self._paths = _module_paths([n.name for n in nodes])
        for n in nodes:
            op = _op(n.op)
            shapes = [graph.input if i == -1 else graph.nodes[i].shape for i in n.inputs]
            module = op.build(dict(n.attrs), [tuple(s) for s in shapes], tuple(n.shape))
            _place(self, self._paths.get(n.name, n.name), module)
            steps.append((n.name, module, tuple(n.inputs)))
        self._layer_names = [s[0] for s in steps]
        index = {n.index: k for k, n in enumerate(nodes)}
        last_use: dict = {}
        for k, (_, _, inputs) in enumerate(steps):
            for i in inputs:
                last_use[i] = k
        self._steps = [
            (module, inputs, [i for i in inputs if last_use.get(i) == k]) for k, (_, module, inputs) in enumerate(steps)
        ]
        self._index = [nodes[k].index for k in range(len(nodes))]
        self._output = graph.output
        self._outputs = graph.output_nodes()  # the spec's `outputs:` (several: forward returns a tuple)
        self._sides = [n.index for n in nodes if n.train_only and _is_side_end(graph, n, nodes)]
        if graph.output not in index and graph.output != -1:
            raise ValueError(f"{graph.name}: the output node {graph.output} is not built")

    def module_path(self, layer: str) -> str:
        """Where the module of the spec layer ``layer`` is in ``named_modules()``: its own name,
        except for a layer whose name is also the scope of other layers (see :func:`_module_paths`)."""
        return self._paths.get(layer, layer)

    def forward(self, x):
        values = {-1: x}
        mark = self._mark
        if mark is not None:
            mark()
        keep = {*self._outputs, *self._sides}
        for (module, inputs, done), idx in zip(self._steps, self._index):
            values[idx] = module(*[values[i] for i in inputs])
            for i in done:  # free what no later layer reads
                if i not in keep:
                    values.pop(i, None)
            if mark is not None:
                mark()
        outs = [values[i] for i in self._outputs]
        if self._sides:
            return (*outs, *[values[i] for i in self._sides])
        return outs[0] if len(outs) == 1 else tuple(outs)


def _is_side_end(graph, node, nodes) -> bool:
    """A training-only node that no other built node reads: the end of a side output."""
    return not any(node.index in m.inputs for m in nodes)


def _op(name: str):
    from .ops import lookup

    op = lookup(name)
    if op is None:  # pragma: no cover - expand() only emits registered ops
        raise ValueError(f"unknown op {name}")
    return op


#: the child name of a layer's own module inside the scope of the same name
OWN = "(layer)"


def _module_paths(names: list) -> dict:
    """Module paths for layers whose name is also the scope of other layers (``a`` beside
    ``a.b``, which a spec allows and imported specs have): a torch module cannot be a layer
    and the container of other layers at once, so the layer ``a`` gets the child ``a.(layer)``
    of the scope ``a`` (``(layer)_1``, ... where a layer already has that name). Every other
    layer is at its own name (not in the result)."""
    taken = set(names)
    scopes = {name[:i] for name in names for i, ch in enumerate(name) if ch == "."}
    paths = {}
    for name in names:
        if name in scopes:
            path, n = f"{name}.{OWN}", 1
            while path in taken:
                path = f"{name}.{OWN}_{n}"
                n += 1
            taken.add(path)
            paths[name] = path
    return paths


def _place(root: nn.Module, name: str, module: nn.Module) -> None:
    """Attach ``module`` at the dotted ``name`` under ``root``, creating Scope containers."""
    *scopes, leaf = name.split(".")
    parent = root
    for i, part in enumerate(scopes):
        child = parent._modules.get(part)
        if child is None:
            child = Scope()
            parent.add_module(part, child)
        elif not isinstance(child, Scope):
            raise ValueError(f"layer {'.'.join(scopes[: i + 1])} is also the scope of {name}")
        parent = child
    if leaf in parent._modules:
        raise ValueError(f"layer name {name} is used twice")
    try:
        parent.add_module(leaf, module)
    except KeyError as exc:  # a name torch.nn.Module already uses as an attribute
        raise ValueError(f"layer name {name} cannot be a torch submodule name: {exc}") from None


def build_graph(graph, train_only: bool = False, device=None) -> SpecModel:
    """The module of an expanded graph, in eval mode. ``device="meta"`` allocates nothing."""
    if device is not None:
        with torch.device(device):
            model = SpecModel(graph, train_only)
    else:
        model = SpecModel(graph, train_only)
    return model.eval()


def zeros_on(model: nn.Module, device="cpu") -> nn.Module:
    """``model`` (built on the meta device) with every parameter and buffer replaced, in place,
    by zeros on ``device`` (batch-norm running variances by ones): a module that runs for real
    where only shapes matter (a counting pass), without initialising weights. Faster than
    ``to_empty`` followed by ``zero_``: ``to_empty`` of a meta tensor runs torch's Python
    reference of ``empty_like`` per tensor. A tensor shared by several modules stays shared."""
    done: dict = {}
    with torch.no_grad():
        for module in model.modules():
            for table, make in ((module._parameters, _zero_parameter), (module._buffers, _zero_buffer)):
                for name, t in table.items():
                    if t is None:
                        continue
                    if id(t) not in done:
                        done[id(t)] = (t, make(t, name, device))
                    table[name] = done[id(t)][1]
    return model


def _zero_parameter(p, name: str, device):
    return nn.Parameter(torch.zeros(p.shape, dtype=p.dtype, device=device), requires_grad=p.requires_grad)


def _zero_buffer(b, name: str, device):
    fill = torch.ones if name.endswith("running_var") else torch.zeros
    return fill(b.shape, dtype=b.dtype, device=device)


def build(target, *, input=None, batch=None, train_only: bool = False, device=None, **sets) -> SpecModel:
    """``flopcount.build("vgg-D")``: a ``torch.nn.Module`` for a built-in name or a spec path.

    ``input`` (a ``(C, H, W)`` tuple) and ``batch`` override the spec's; any other keyword sets
    a variable the spec declares (like ``--set``). ``train_only=True`` also builds the
    training-only side outputs (the forward then returns ``(main, *sides)``).
    """
    from .api import load_graph

    graph = load_graph(target, tuple(input) if input is not None else None, batch, sets or None)
    return build_graph(graph, train_only, device)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_buffers(model: nn.Module) -> int:
    """Batch-norm running mean and variance (``num_batches_tracked`` is bookkeeping, not counted;
    non-persistent buffers, such as Swin's relative-position index here, are derived state)."""
    counted = 0
    for module in model.modules():
        for name, b in module._buffers.items():  # own buffers only: each counted once
            if b is not None and name != "num_batches_tracked" and name not in module._non_persistent_buffers_set:
                counted += b.numel()
    return counted
