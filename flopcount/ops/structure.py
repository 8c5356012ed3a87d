"""Free layers that only reshape or pass values on: flatten, dropout, identity."""

from __future__ import annotations

from typing import ClassVar

from .base import Op, Param, numel, register


@register
class Flatten(Op):
    name = "flatten"
    doc = "[C, H, W] -> [C*H*W]."
    cost_rule = "free (a view of the same memory)"
    moves = "view"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return (numel(xs[0]),)

    def build(self, a, xs, y):
        from torch import nn

        return nn.Flatten()


@register
class Dropout(Op):
    name = "dropout"
    doc = "Dropout: identity at inference."
    cost_rule = "free at inference (a view)"
    moves = "view"
    params: ClassVar[dict] = {
        "rate": Param("number", 0.5, "drop probability (training only)", min=0, max=1, open_max=True)
    }

    def infer(self, a, xs):
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.Dropout(a["rate"])


@register
class Identity(Op):
    name = "identity"
    doc = "Passes its input on."
    cost_rule = "free (a view)"
    moves = "view"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.Identity()
