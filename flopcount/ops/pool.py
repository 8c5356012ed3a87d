"""Pooling: max, average (with ceil mode) and global average."""

from __future__ import annotations

from typing import ClassVar

from .base import (
    Cost,
    Op,
    OpError,
    Param,
    feature_map,
    numel,
    pair,
    register,
    window_out,
)


class _Pool(Op):
    params: ClassVar[dict] = {
        "k": Param("pair", 2, "window size"),
        "s": Param("pair", None, "stride (default: the window size)"),
        "p": Param("pair", 0, "padding", min=0),
        "ceil": Param("bool", False, "ceil mode: round the output size up (Caffe's pooling)"),
    }
    short_k, short_s = "k", "s"

    def normalize(self, a, xs):
        """``k``, ``s``, ``p`` as (h, w); the stride defaults to the window."""
        feature_map(self.name, xs[0])
        k, p = pair(a["k"]), pair(a["p"])
        if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
            raise OpError(f"padding {list(p)} is more than half the window {list(k)}", "use padding <= k / 2", attr="p")
        return {**a, "k": k, "s": pair(a["s"]) if a["s"] is not None else k, "p": p}

    def infer(self, a, xs):
        c, h, w = feature_map(self.name, xs[0])
        k, s, p = a["k"], a["s"], a["p"]
        return (
            c,
            window_out(h, k[0], s[0], p[0], 1, a["ceil"], self.name, "H"),
            window_out(w, k[1], s[1], p[1], 1, a["ceil"], self.name, "W"),
        )

    def cost(self, a, xs, y):
        kh, kw = a["k"]
        return Cost(ops=numel(y) * kh * kw)

    def build(self, a, xs, y):
        from torch import nn

        cls = nn.MaxPool2d if self.name == "maxpool" else nn.AvgPool2d
        return cls(a["k"], a["s"], a["p"], ceil_mode=a["ceil"])


@register
class MaxPool(_Pool):
    name = "maxpool"
    aliases = ("M", "max_pool", "pool")
    doc = "Max pooling."
    cost_rule = "ops = kh * kw comparisons per output element"


@register
class AvgPool(_Pool):
    name = "avgpool"
    aliases = ("avg_pool",)
    doc = "Average pooling."
    cost_rule = "ops = kh * kw adds per output element"


@register
class GlobalAvgPool(Op):
    name = "gap"
    aliases = ("global_avgpool", "adaptive_avgpool")
    doc = "Global average pooling to [C, 1, 1]."
    cost_rule = "no params; ops = H * W per channel (one add per input element)"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        c = feature_map("gap", xs[0])[0]
        return (c, 1, 1)

    def cost(self, a, xs, y):
        return Cost(ops=numel(xs[0]))

    def build(self, a, xs, y):
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)
