"""Attention: multi-head self-attention over tokens, Swin's windowed attention over a
feature map (V1, and V2's cosine attention with a continuous position bias), MaxViT's
block / grid attention layer, and a plain ``matmul`` of two branches.

MAC convention: the two matrix products of attention (``Q K^T`` and ``A V``) are MACs, like
the q/k/v and output projections: ``torch.utils.flop_counter.FlopCounterMode`` counts them
(``bmm``, 2 FLOPs per MAC; ``scaled_dot_product_attention`` only under the MATH backend, and
``nn.MultiheadAttention`` only with its fast path off), fvcore counts them in its ``matmul``
bucket (not in ``conv`` + ``linear``) and skips ``aten::scaled_dot_product_attention``.
The scaling, bias adds and softmax of the scores are ``ops``, never MACs.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, feature_map, numel, register
from .layernorm import AFFINE_OPS, NORM_OPS
from .learnable import tokens

#: ops per attention score: 1 scale + 3 softmax (exp, sum, divide)
SCORE_OPS = 4


def _heads(op: str, dim: int, heads: int) -> None:
    if dim % heads:
        raise OpError(f"{op}: {heads} heads must divide the width {dim}", "pick a head count that divides it", "heads")


def _window_shift(op: str, a: dict, xs: list) -> dict:
    """``shift`` as (h, w), set to 0 on an axis the window covers (torchvision's rule)."""
    c, h, w = feature_map(op, xs[0])
    _heads(op, c, a["heads"])
    win = a["window"]
    if a["shift"] >= win:
        raise OpError(f"shift {a['shift']} must be smaller than the window {win}", "use window // 2", "shift")
    padded = [-(-size // win) * win for size in (h, w)]
    shift = tuple(0 if win >= size else a["shift"] for size in padded)
    return {**a, "shift": shift}


def _window_macs(c: int, h: int, w: int, win: int) -> tuple:
    """(windows nW, tokens per window T, MACs of qkv + Q K^T + A V + proj over all windows)."""
    n_windows = -(-h // win) * -(-w // win)
    t = win * win
    return n_windows, t, n_windows * (t * c * 3 * c + 2 * t * t * c + t * c * c)


@register
class Attention(Op):
    name = "attention"
    aliases = ("self_attention", "mhsa")
    doc = (
        "Multi-head self-attention over tokens [N, D]: q, k, v projections D -> dim, softmax(Q K^T / sqrt(d)) V "
        "per head, output projection dim -> D (torch's nn.MultiheadAttention, ViT)."
    )
    cost_rule = (
        "MACs = N*D*3dim (q, k, v) + N*N*dim (Q K^T, all heads) + N*N*dim (A V) + N*dim*D (output projection); "
        "params = 3*D*dim (+3dim bias) + dim*D (+D bias); ops = 4 per score (scale, softmax), heads*N*N scores"
    )
    params: ClassVar[dict] = {
        "heads": Param("int", doc="attention heads"),
        "dim": Param("int", None, "width of q, k, v (default: D, the input's)"),
        "qkv_bias": Param("bool", True, "biases on the q, k, v projections"),
        "proj": Param("bool", True, "an output projection dim -> D (without it, dim must equal D)"),
        "proj_bias": Param("bool", True, "a bias on the output projection"),
    }

    def normalize(self, a, xs):
        n, d = tokens("attention", xs[0])
        dim = d if a["dim"] is None else a["dim"]
        _heads("attention", dim, a["heads"])
        if not a["proj"] and dim != d:
            raise OpError(f"without `proj`, dim ({dim}) must equal the input width ({d})", "drop `dim`", "dim")
        return a if a["dim"] == dim else {**a, "dim": dim}

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        n, d = xs[0]
        dim = a["dim"]
        macs = n * d * 3 * dim + 2 * n * n * dim
        params = 3 * d * dim + (3 * dim if a["qkv_bias"] else 0)
        if a["proj"]:
            macs += n * dim * d
            params += dim * d + (d if a["proj_bias"] else 0)
        return Cost(macs=macs, params=params, ops=SCORE_OPS * a["heads"] * n * n)

    def build(self, a, xs, y):
        from ..torch_build import SelfAttention

        return SelfAttention(xs[0][1], a["dim"], a["heads"], a["qkv_bias"], a["proj"], a["proj_bias"])


@register
class WindowAttention(Op):
    name = "window_attention"
    aliases = ("swin_attention",)
    doc = (
        "Swin's (shifted) window attention on a feature map [C, H, W]: H and W padded to multiples of `window`, "
        "rolled by -shift (when the window is smaller than the map), self-attention in each w x w window with "
        "a relative-position bias, rolled back and unpadded."
    )
    cost_rule = (
        "windows nW = ceil(H/w) * ceil(W/w), T = w*w tokens each: MACs = nW * (T*C*3C + 2*T*T*C + T*C*C); "
        "params = 4C^2 + 4C (qkv, proj with biases) + (2w-1)^2 * heads (bias table; its index is a buffer "
        "torchvision does not count, nor do we); ops = nW*heads*T*T scores * (4 + 1 bias add, +1 shift mask)"
    )
    params: ClassVar[dict] = {
        "heads": Param("int", doc="attention heads"),
        "window": Param("int", 7, "window side w"),
        "shift": Param("int", 0, "shift of the windows (Swin: window // 2 in every second block)", min=0),
        "qkv_bias": Param("bool", True, "biases on the q, k, v projection"),
        "proj_bias": Param("bool", True, "a bias on the output projection"),
    }

    def normalize(self, a, xs):
        return _window_shift(self.name, a, xs)

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        c, h, w = xs[0]
        win = a["window"]
        n_windows, t, macs = _window_macs(c, h, w, win)
        params = 4 * c * c + (3 * c if a["qkv_bias"] else 0) + (c if a["proj_bias"] else 0)
        params += (2 * win - 1) ** 2 * a["heads"]
        per_score = SCORE_OPS + 1 + (1 if any(a["shift"]) else 0)
        return Cost(macs=macs, params=params, ops=per_score * n_windows * a["heads"] * t * t)

    def build(self, a, xs, y):
        from ..torch_build import WindowAttention as Module

        return Module(xs[0][0], a["heads"], a["window"], tuple(a["shift"]), a["qkv_bias"], a["proj_bias"])


@register
class WindowAttentionV2(WindowAttention):  # the same windows, shift and projections; its own bias and cost
    name = "window_attention_v2"
    aliases = ("swin_v2_attention",)
    doc = (
        "Swin V2's (shifted) window attention on a feature map [C, H, W]: windows as in `window_attention`, "
        "cosine attention (q and k normalised, scores times a learned per-head scale) and a continuous "
        "position bias: an MLP 2 -> hidden -> heads over the (2w-1)^2 relative offsets, 16 * sigmoid."
    )
    cost_rule = (
        "nW windows of T = w*w tokens: MACs = nW * (T*C*3C + 2*T*T*C + T*C*C) + (2w-1)^2 * (2*hidden + "
        "hidden*heads) (the bias MLP, counted once per sample: torch runs it once per forward, so at batch B "
        "it counts (B-1) of these fewer); params = 4C^2 + 4C (qkv, proj with biases) + heads (logit scale) "
        "+ 3*hidden + hidden*heads (the MLP; its coordinate table and index are buffers); ops = nW*heads*T*T "
        "scores * (4 + 1 bias add, +1 shift mask) + 3 per element of q and k (normalise) "
        "+ (2w-1)^2 * (hidden + 2*heads) (MLP relu, sigmoid, x16)"
    )
    params: ClassVar[dict] = {
        **WindowAttention.params,  # same keys in the same order; V2's window default and qkv_bias text
        "window": Param("int", 8, "window side w"),
        "shift": Param("int", 0, "shift of the windows (window // 2 in every second block)", min=0),
        "qkv_bias": Param("bool", True, "biases on the q, k, v projection (k's kept at zero, as torchvision)"),
        "hidden": Param("int", 512, "width of the position-bias MLP"),
    }

    def cost(self, a, xs, y):
        c, h, w = xs[0]
        win, heads, hidden = a["window"], a["heads"], a["hidden"]
        n_windows, t, macs = _window_macs(c, h, w, win)
        offsets = (2 * win - 1) ** 2
        macs += offsets * (2 * hidden + hidden * heads)
        params = 4 * c * c + (3 * c if a["qkv_bias"] else 0) + (c if a["proj_bias"] else 0)
        params += heads + 3 * hidden + hidden * heads
        per_score = SCORE_OPS + 1 + (1 if any(a["shift"]) else 0)
        ops = per_score * n_windows * heads * t * t + 3 * 2 * n_windows * t * c + offsets * (hidden + 2 * heads)
        return Cost(macs=macs, params=params, ops=ops)

    def build(self, a, xs, y):
        from ..torch_vit import WindowAttentionV2 as Module

        return Module(xs[0][0], a["heads"], a["window"], tuple(a["shift"]), a["qkv_bias"], a["proj_bias"], a["hidden"])


@register
class PartitionAttention(Op):
    name = "partition_attention"
    aliases = ("maxvit_attention",)
    doc = (
        "MaxViT's partition attention layer on a feature map [C, H, W] (H and W multiples of `size`): the map "
        "cut into size x size windows (`mode: window`) or a size x size grid of strided cells (`mode: grid`), "
        "in each group of T = size^2 tokens: x + attention(layernorm(x)) with a relative-position bias, then "
        "x + MLP(layernorm(x)) (C -> ratio*C, gelu, -> C), back to the map."
    )
    cost_rule = (
        "N = H*W tokens in groups of T = size^2: MACs = N*C*3C (qkv) + 2*N*T*C (Q K^T, A V) + N*C*C (merge) "
        "+ 2*N*C*rC (MLP, r = ratio); params = 3C^2 + 3C + C^2 + C + (2*size-1)^2 * heads (bias table; its "
        "index is a buffer) + 2*2C (two norms) + 2*C*rC + rC + C; ops = heads*N*T scores * (4 + 1 bias add) "
        "+ 2 * 7 per element (norms) + rC*N (gelu) + 2*C*N (residual adds)"
    )
    params: ClassVar[dict] = {
        "heads": Param("int", doc="attention heads"),
        "size": Param("int", 7, "partition size: the side of a window, or of the grid"),
        "mode": Param(
            "choice", "window", "window: local windows; grid: a strided grid (global)", choices=("window", "grid")
        ),
        "ratio": Param("int", 4, "MLP width over C"),
        "eps": Param("number", 1e-5, "the norms' eps", min=0),
    }

    def normalize(self, a, xs):
        c, h, w = feature_map(self.name, xs[0])
        _heads(self.name, c, a["heads"])
        size = a["size"]
        if h % size or w % size:
            raise OpError(
                f"the map {h}x{w} is not a whole number of {size}x{size} partitions",
                "pick an input whose feature map here is a multiple of `size` (MaxViT: 224 -> 7x7 at the end)",
                "size",
                spatial=True,
            )
        return a

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        c, h, w = xs[0]
        n, t, rc = h * w, a["size"] ** 2, a["ratio"] * c
        macs = n * c * 3 * c + 2 * n * t * c + n * c * c + 2 * n * c * rc
        params = 3 * c * c + 3 * c + c * c + c + (2 * a["size"] - 1) ** 2 * a["heads"]
        params += 2 * 2 * c + 2 * c * rc + rc + c
        ops = (SCORE_OPS + 1) * a["heads"] * n * t + 2 * (NORM_OPS + AFFINE_OPS) * n * c + rc * n + 2 * c * n
        return Cost(macs=macs, params=params, ops=ops)

    def build(self, a, xs, y):
        from ..torch_vit import PartitionAttention as Module

        return Module(xs[0][0], a["heads"], a["size"], a["mode"], a["ratio"], a["eps"])


@register
class MatMul(Op):
    name = "matmul"
    arity = "n"
    min_inputs = 2
    doc = "Matrix product of two branches, [..., N, K] @ [..., K, M] -> [..., N, M] (B transposed with `transpose_b`)."
    cost_rule = "MACs = (leading dims) * N * K * M; no params"
    params: ClassVar[dict] = {
        "transpose_b": Param("bool", False, "multiply by the second branch transposed (Q K^T)"),
    }

    def infer(self, a, xs):
        if len(xs) != 2:
            raise OpError(f"matmul multiplies two branches, got {len(xs)}", "give `paths:` two branches")
        x, b = xs
        if a["transpose_b"] and len(b) >= 2:
            b = (*b[:-2], b[-1], b[-2])
        if len(x) < 2 or len(b) < 2 or x[:-2] != b[:-2] or x[-1] != b[-2]:
            raise OpError(
                f"matmul cannot multiply {list(xs[0])} by {list(xs[1])}" + (" transposed" if a["transpose_b"] else ""),
                "the first's last size must equal the second's second-to-last (leading sizes equal)",
            )
        return (*x[:-1], b[-1])

    def cost(self, a, xs, y):
        return Cost(macs=numel(y) * xs[0][-1])

    def build(self, a, xs, y):
        from ..torch_build import Merge

        if a["transpose_b"]:
            return Merge("matmul", lambda ts: ts[0] @ ts[1].transpose(-1, -2))
        return Merge("matmul", lambda ts: ts[0] @ ts[1])
