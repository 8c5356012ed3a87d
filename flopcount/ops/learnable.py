"""Learnable tensors without MACs: a per-feature scale (ConvNeXt's layer scale), a tensor
added to the input (ViT's position embedding) and tokens put before the input (ViT's class
token). Their weights are ``params``; their arithmetic, if any, is ``ops``.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, numel, register
from .layernorm import features


def tokens(op: str, x: tuple) -> tuple:
    if len(x) != 2:
        raise OpError(
            f"{op} needs tokens [N, D], got {list(x)}",
            "turn a feature map into tokens first (`patchify`: [C, H, W] -> [H*W, C])",
        )
    return x


@register
class Scale(Op):
    name = "scale"
    aliases = ("layer_scale",)
    doc = "Multiplies each feature by a learnable factor (ConvNeXt's layer scale: C of [C, H, W], D of tokens)."
    cost_rule = "params = features (one factor each); ops = 1 multiply per element; no MACs"
    params: ClassVar[dict] = {
        "init": Param("number", 1e-6, "initial value of the factors (torchvision's ConvNeXt: 1e-6)"),
    }

    def infer(self, a, xs):
        features("scale", xs[0])
        return xs[0]

    def cost(self, a, xs, y):
        return Cost(params=features("scale", y), ops=numel(y))

    def build(self, a, xs, y):
        from ..torch_build import LayerScale

        return LayerScale(y, a["init"])


@register
class PosEmbed(Op):
    name = "pos_embed"
    aliases = ("position_embedding",)
    doc = "Adds a learnable tensor of the input's own shape (ViT's position embedding, [N, D])."
    cost_rule = "params = numel(input) (N * D for tokens); ops = 1 add per element; no MACs"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        return Cost(params=numel(y), ops=numel(y))

    def build(self, a, xs, y):
        from ..torch_build import AddParameter

        return AddParameter(y)


@register
class ClassToken(Op):
    name = "cls_token"
    aliases = ("class_token",)
    moves = "copy"
    doc = "Puts learnable tokens before the sequence: [N, D] -> [N + tokens, D] (ViT's class token)."
    cost_rule = "params = tokens * D; free otherwise (a copy into the longer sequence)"
    params: ClassVar[dict] = {
        "tokens": Param("int", 1, "how many tokens (1: ViT's class token; 2: DeiT's class and distillation)"),
    }

    def infer(self, a, xs):
        n, d = tokens("cls_token", xs[0])
        return (n + a["tokens"], d)

    def cost(self, a, xs, y):
        return Cost(params=a["tokens"] * y[1])

    def build(self, a, xs, y):
        from ..torch_build import PrependTokens

        return PrependTokens(a["tokens"], y[1])


@register
class Affine(Op):
    name = "affine"
    doc = "alpha * x + beta with a learnable alpha and beta per feature (ResMLP's Affine, its `norm`)."
    cost_rule = "params = 2 * features (alpha, beta); ops = 2 per element (multiply, add); no MACs"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        features("affine", xs[0])
        return xs[0]

    def cost(self, a, xs, y):
        return Cost(params=2 * features("affine", y), ops=2 * numel(y))

    def build(self, a, xs, y):
        from ..torch_build import Affine as Module

        return Module(y)


@register
class BiasTable(Op):
    name = "bias_table"
    aliases = ("relative_position_bias",)
    doc = (
        "Adds a learnable table of `size` values, gathered by a fixed index into the input's shape "
        "(attention's relative-position bias: EfficientFormer's attention_biases[:, idxs])."
    )
    cost_rule = "params = size (the table, however often it is gathered); ops = 1 add per element; no MACs"
    params: ClassVar[dict] = {"size": Param("int", doc="values in the learnable table")}

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        return Cost(params=a["size"], ops=numel(y))

    def build(self, a, xs, y):
        from ..torch_build import AddGathered

        return AddGathered(a["size"], y)
