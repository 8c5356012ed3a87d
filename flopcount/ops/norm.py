"""Normalisation: batch-norm (inference form) and local response normalisation."""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, feature_map, numel, register


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
        return Cost(0, 2 * c, 2 * numel(y), 2 * c)  # (macs, params, ops, buffers), by position: every conv's bn

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


@register
class GlobalResponseNorm(Op):
    name = "grn"
    aliases = ("global_response_norm",)
    doc = (
        "ConvNeXt V2's global response norm of [C, H, W]: g = the 2-norm of each channel over H x W, "
        "n = g / (mean of g over C + eps), y = x + gamma * (x * n) + beta."
    )
    cost_rule = (
        "params = 2C (gamma, beta); ops = 6 per element (square and add for the norm; x * n, * gamma, "
        "+ beta, + x) + 3 per channel (square root, mean, divide); no MACs"
    )
    params: ClassVar[dict] = {"eps": Param("number", 1e-6, "added to the mean of the norms", min=0)}

    def infer(self, a, xs):
        return feature_map("grn", xs[0])

    def cost(self, a, xs, y):
        c = y[0]
        return Cost(params=2 * c, ops=6 * numel(y) + 3 * c)

    def build(self, a, xs, y):
        from ..torch_build import GlobalResponseNorm as Module

        return Module(y[0], a["eps"])


@register
class TokenBatchNorm(Op):
    name = "token_bn"
    doc = (
        "Batch normalisation (inference form) of the D features of tokens [N, D] (LeViT's LinearNorm: "
        "BatchNorm1d(D) over the tokens flattened into the batch axis)."
    )
    cost_rule = "params = 2D (gamma, beta); buffers = 2D (running mean, variance); ops = 2 per element"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        if len(xs[0]) != 2:
            raise OpError(f"token_bn needs tokens [N, D], got {list(xs[0])}", "use `bn` on a feature map or vector")
        return xs[0]

    def cost(self, a, xs, y):
        d = y[1]
        return Cost(params=2 * d, buffers=2 * d, ops=2 * numel(y))

    def build(self, a, xs, y):
        from ..torch_build import TokenBatchNorm as Module

        return Module(y[1])
