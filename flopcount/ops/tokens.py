"""Between feature maps and token sequences, and Swin's spatial moves.

* ``patchify``: ``[C, H, W] -> [H*W, C]`` (after a stride-p conv: ViT's patch embedding);
* ``to_map``: ``[N, D] -> [D, h, w]`` with ``N = h * w`` (back to a feature map);
* ``select``: one token ``[N, D] -> [D]`` (ViT's class token before the head);
* ``roll``: Swin's cyclic shift of H x W (0 MACs, a copy);
* ``patchmerge``: Swin's patch merging (2x2 neighbours concatenated, layer norm over 4C,
  bias-free linear 4C -> 2C; Swin V2, ``norm: after``: the linear first, the norm over 2C).

Swin's window partition and merge are inside ``window_attention`` (see
:mod:`flopcount.ops.attention`): the windows form a batch axis, which a per-sample shape
cannot hold.
"""

from __future__ import annotations

import math
from typing import ClassVar

from .base import Cost, Op, OpError, Param, feature_map, pair, register
from .layernorm import AFFINE_OPS, NORM_OPS
from .learnable import tokens

#: the largest roll written (torch.roll takes any shift, modulo the size; a million is plenty)
SHIFT_LIMIT = 1_000_000


@register
class Patchify(Op):
    name = "patchify"
    aliases = ("to_tokens",)
    moves = "view"
    doc = "A feature map as a token sequence: [C, H, W] -> [H*W, C] (torch: flatten(2).transpose(1, 2))."
    cost_rule = "free (a view of the same memory)"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        c, h, w = feature_map("patchify", xs[0])
        return (h * w, c)

    def build(self, a, xs, y):
        from ..torch_build import ToTokens

        return ToTokens()


@register
class ToMap(Op):
    name = "to_map"
    aliases = ("unpatchify",)
    moves = "view"
    doc = "A token sequence as a feature map: [N, D] -> [D, h, w], N = h * w (default: a square)."
    cost_rule = "free (a view of the same memory)"
    params: ClassVar[dict] = {
        "h": Param("int", None, "rows (default: sqrt(N), or N / w)"),
        "w": Param("int", None, "columns (default: sqrt(N), or N / h)"),
    }

    def normalize(self, a, xs):
        n, _ = tokens("to_map", xs[0])
        h, w = a["h"], a["w"]
        if h is None and w is None:
            h = w = math.isqrt(n)
        elif h is None:
            h = n // w
        elif w is None:
            w = n // h
        if h * w != n:
            raise OpError(f"{n} tokens are not {h} x {w}", "give `h` and `w` with h * w = N")
        return {**a, "h": h, "w": w}

    def infer(self, a, xs):
        return (xs[0][1], a["h"], a["w"])

    def build(self, a, xs, y):
        from ..torch_build import ToMap as Module

        return Module(a["h"], a["w"])


@register
class Select(Op):
    name = "select"
    moves = "view"
    doc = "One token of a sequence: [N, D] -> [D] (ViT reads its class token, index 0)."
    cost_rule = "free (a view of the same memory)"
    params: ClassVar[dict] = {"index": Param("int", 0, "which token, from 0", min=0)}

    def infer(self, a, xs):
        n, d = tokens("select", xs[0])
        if a["index"] >= n:
            raise OpError(f"index {a['index']} is past the {n} tokens", f"use 0 to {n - 1}", "index")
        return (d,)

    def build(self, a, xs, y):
        from ..torch_build import SelectToken

        return SelectToken(a["index"])


@register
class Roll(Op):
    name = "roll"
    moves = "copy"
    doc = "Cyclic shift of H x W by `shift` pixels (torch.roll; Swin's shifted windows use -window // 2)."
    cost_rule = "free: no arithmetic (a real copy)"
    params: ClassVar[dict] = {
        "shift": Param(
            "pair", doc="pixels down and right, or [h, w]; negative: up, left", min=-SHIFT_LIMIT, max=SHIFT_LIMIT
        )
    }

    def normalize(self, a, xs):
        return {**a, "shift": pair(a["shift"])}

    def infer(self, a, xs):
        return feature_map("roll", xs[0])

    def build(self, a, xs, y):
        from ..torch_build import Roll as Module

        return Module(tuple(a["shift"]))


@register
class PatchMerge(Op):
    name = "patchmerge"
    aliases = ("patch_merging",)
    doc = (
        "Swin's patch merging: each 2x2 neighbourhood concatenated (4C, odd H or W padded), layer norm "
        "over 4C, bias-free linear 4C -> 2C: [C, H, W] -> [2C, ceil(H/2), ceil(W/2)]."
    )
    cost_rule = (
        "MACs = H/2 * W/2 * 4C * c; params = 4C * c (no bias) + 8C (norm); "
        "ops = layernorm's 7 per element of [4C, H/2, W/2]; with `norm: after` (Swin V2) the norm is over "
        "the c outputs: params 4C * c + 2c, ops 7 per element of [c, H/2, W/2]"
    )
    params: ClassVar[dict] = {
        "c": Param("int", None, "output channels (default 2C)"),
        "eps": Param("number", 1e-5, "the norm's eps", min=0),
        "norm": Param(
            "choice",
            "before",
            "the layer norm before the linear, over 4C (Swin), or after it, over c (Swin V2)",
            choices=("before", "after"),
        ),
    }

    def normalize(self, a, xs):
        c = feature_map("patchmerge", xs[0])[0]
        return a if a["c"] is not None else {**a, "c": 2 * c}

    def infer(self, a, xs):
        _, h, w = feature_map("patchmerge", xs[0])
        return (a["c"], -(-h // 2), -(-w // 2))

    def cost(self, a, xs, y):
        c4 = 4 * xs[0][0]
        positions = y[1] * y[2]
        normed = a["c"] if a["norm"] == "after" else c4
        return Cost(
            macs=positions * c4 * a["c"],
            params=c4 * a["c"] + 2 * normed,
            ops=(NORM_OPS + AFFINE_OPS) * positions * normed,
        )

    def build(self, a, xs, y):
        if a["norm"] == "after":
            from ..torch_vit import PatchMergingV2

            return PatchMergingV2(xs[0][0], a["c"], a["eps"])
        from ..torch_build import PatchMerging

        return PatchMerging(xs[0][0], a["c"], a["eps"])
