"""Normalisation: batch-norm (inference form) and local response normalisation."""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, Param, feature_map, numel, register


@register
class BatchNorm(Op):
    name = "bn"
    aliases = ("batchnorm",)
    doc = "Batch normalisation, inference form y = gamma * (x - mean) / std + beta."
    cost_rule = "params = 2C (gamma, beta); buffers = 2C (running mean, variance); ops = 2 per element"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        c = y[0]
        return Cost(params=2 * c, buffers=2 * c, ops=2 * numel(y))

    def build(self, a, xs, y):
        from torch import nn

        return (nn.BatchNorm2d if len(y) == 3 else nn.BatchNorm1d)(y[0])


@register
class LRN(Op):
    name = "lrn"
    doc = "Local response normalisation across channels (AlexNet, GoogLeNet)."
    cost_rule = "no params; ops = (size + 3) per element: squares summed over the window, then scale, power, divide"
    params: ClassVar[dict] = {
        "size": Param("int", 5, "channels in the window"),
        "alpha": Param("number", 1e-4, "scale"),
        "beta": Param("number", 0.75, "exponent"),
        "bias": Param("number", 1.0, "the k of the paper"),
    }

    def infer(self, a, xs):
        return feature_map("lrn", xs[0])

    def cost(self, a, xs, y):
        return Cost(ops=(a["size"] + 3) * numel(y))

    def build(self, a, xs, y):
        from torch import nn

        return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["bias"])
