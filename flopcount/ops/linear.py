"""Fully connected layer (Caffe's InnerProduct, torch's Linear after a flatten)."""

from __future__ import annotations

from typing import ClassVar

from .activation import ACTIVATIONS
from .base import Op, Param, numel, register
from .conv import fused_build, with_fused


@register
class FC(Op):
    name = "fc"
    doc = (
        "Fully connected. Reads its whole input (C*H*W values, flattened if needed); "
        "`linear` is the one over the feature axis that does not flatten."
    )
    cost_rule = "MACs = in * out; params = in * out (+ out bias); fused bn and act add theirs"
    params: ClassVar[dict] = {
        "c": Param("int", doc="output features"),
        "bias": Param("bool", True, "add a learnable bias (not counted in MACs)"),
        "bn": Param("bool", False, "batch-norm after the layer"),
        "act": Param("choice", "none", "activation after the layer", choices=ACTIVATIONS),
    }
    short_arg = "c"

    def infer(self, a, xs):
        return (a["c"],)

    def cost(self, a, xs, y):
        n_in = numel(xs[0])
        return with_fused(a, y, n_in * a["c"], n_in * a["c"] + (a["c"] if a["bias"] else 0))

    def build(self, a, xs, y):
        from torch import nn

        before = (("flatten", nn.Flatten()),) if len(xs[0]) > 1 else ()
        return fused_build(a, "fc", nn.Linear(numel(xs[0]), a["c"], a["bias"]), y, before)
