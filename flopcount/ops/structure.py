"""Free layers that only reshape or pass values on: flatten, dropout, identity."""
from __future__ import annotations

from .base import Op, OpError, Param, numel, register


@register
class Flatten(Op):
    name = "flatten"
    doc = "[C, H, W] -> [C*H*W]. Free."
    params = {}

    def infer(self, a, xs):
        return (numel(xs[0]),)

    def build(self, a, xs, y):
        from torch import nn

        return nn.Flatten()


@register
class Dropout(Op):
    name = "dropout"
    doc = "Dropout: identity at inference, free."
    params = {"rate": Param("number", 0.5, "drop probability (training only)")}

    def infer(self, a, xs):
        rate = a["rate"]
        if not 0 <= rate < 1:
            raise OpError(f"dropout rate {rate} is outside [0, 1)", "use a rate such as 0.5", attr="rate")
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.Dropout(a["rate"])


@register
class Identity(Op):
    name = "identity"
    doc = "Passes its input on. Free."
    params = {}

    def infer(self, a, xs):
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.Identity()
