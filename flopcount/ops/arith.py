"""Element-wise arithmetic of two branches besides ``add`` and ``multiply``
(:mod:`flopcount.ops.merge`): ``subtract`` (PoolFormer's ``pool(x) - x``) and ``divide``
(ConvNeXt V2's ``x_g / mean``), with broadcasting. No MACs (flopcount's convention: only
convolutions, fully connected layers and matrix products are MACs; FlopCounterMode counts
none of these), one op per output element, as ``add`` counts.
"""

from __future__ import annotations

import operator
from typing import ClassVar

from .base import Cost, Op, OpError, numel, register
from .merge import _broadcast


class _Binary(Op):
    arity = "n"
    min_inputs = 2
    cost_rule = "ops = 1 per output element; no MACs"
    params: ClassVar[dict] = {}
    fn = staticmethod(operator.sub)

    def infer(self, a, xs):
        if len(xs) != 2:
            raise OpError(f"{self.name} takes two branches, got {len(xs)}", "give `paths:` two branches, in order")
        return _broadcast(self.name, xs)

    def cost(self, a, xs, y):
        return Cost(ops=numel(y))

    def build(self, a, xs, y):
        from ..torch_build import Merge

        fn = self.fn
        return Merge(self.name, lambda ts: fn(ts[0], ts[1]))


@register
class Subtract(_Binary):
    name = "subtract"
    aliases = ("sub",)
    doc = "Element-wise difference first - second of two branches, with broadcasting."
    fn = staticmethod(operator.sub)


@register
class Divide(_Binary):
    name = "divide"
    aliases = ("div",)
    doc = "Element-wise quotient first / second of two branches, with broadcasting."
    fn = staticmethod(operator.truediv)
