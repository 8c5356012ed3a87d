"""``linear``: a fully connected layer over the feature axis, without flattening.

The feature axis is the channels of a feature map ``[C, H, W]`` (applied at every pixel:
ConvNeXt's ``Permute -> Linear -> GELU -> Linear -> Permute``, written without the permutes),
the ``D`` of each token of ``[N, D]`` (every transformer MLP), or the vector itself ``[F]``
(then it equals ``fc``). ``fc`` is the layer that flattens its whole input first.
"""

from __future__ import annotations

from typing import ClassVar

from .activation import ACTIVATIONS
from .base import Op, Param, numel, register
from .conv import fused_build, with_fused
from .layernorm import features


def _out_shape(x: tuple, c: int) -> tuple:
    return (c, *x[1:]) if len(x) != 2 else (x[0], c)


@register
class Linear(Op):
    name = "linear"
    doc = (
        "Fully connected over the feature axis, NOT flattening: the channels of [C, H, W] at each "
        "pixel (channels-last Linear), the D of each token of [N, D], or a vector. `fc` flattens first."
    )
    cost_rule = (
        "MACs = positions * in * out (positions = H*W, N tokens, or 1); params = in * out (+ out bias); "
        "fused act adds its ops"
    )
    params: ClassVar[dict] = {
        "c": Param("int", doc="output features"),
        "bias": Param("bool", True, "add a learnable bias (not counted in MACs)"),
        "act": Param("choice", "none", "activation after the layer", choices=ACTIVATIONS),
    }
    short_arg = "c"

    def infer(self, a, xs):
        features("linear", xs[0])
        return _out_shape(xs[0], a["c"])

    def cost(self, a, xs, y):
        c_in = features("linear", xs[0])
        positions = numel(xs[0]) // c_in
        return with_fused(a, y, positions * c_in * a["c"], c_in * a["c"] + (a["c"] if a["bias"] else 0))

    def build(self, a, xs, y):
        from torch import nn

        from ..torch_build import ChannelsLast

        core = nn.Linear(features("linear", xs[0]), a["c"], a["bias"])
        return fused_build(a, "fc", ChannelsLast(core) if len(y) == 3 else core, y)
