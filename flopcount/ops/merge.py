"""Merges of several branches: concat (Inception), add (residual), multiply (squeeze-excitation)."""

from __future__ import annotations

import functools
import operator
from typing import ClassVar

from .base import Cost, Op, OpError, numel, register


def _fmt(xs):
    return ", ".join(str(list(x)) for x in xs)


@register
class Concat(Op):
    name = "concat"
    arity = "n"
    min_inputs = 2
    moves = "copy"
    doc = "Concatenate branches along channels; their H and W must match."
    cost_rule = "free: no arithmetic (a copy; the roofline counts the bytes it moves)"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        ranks = {len(x) for x in xs}
        if ranks != {3} and ranks != {1}:
            raise OpError(f"concat needs branches of one kind, got {_fmt(xs)}", "flatten all or none")
        if len({x[1:] for x in xs}) > 1:
            raise OpError(
                f"concat needs equal H x W on every branch, got {_fmt(xs)}",
                "give each branch the same stride and padding (`p: auto` keeps the size)",
            )
        return (sum(x[0] for x in xs),) + xs[0][1:]

    def build(self, a, xs, y):
        import torch

        from ..torch_build import Merge

        return Merge("concat", lambda ts: torch.cat(ts, 1))


def _broadcast(name: str, xs: list) -> tuple:
    if len({len(x) for x in xs}) > 1:
        raise OpError(f"{name} needs branches of one rank, got {_fmt(xs)}", "flatten all branches or none")
    out = []
    for dims in zip(*xs):
        big = max(dims)
        if any(d not in (1, big) for d in dims):
            raise OpError(
                f"{name} needs equal shapes (or 1 to broadcast), got {_fmt(xs)}",
                "add a projection (1x1 conv with the right channels and stride) to the shortcut",
            )
        out.append(big)
    return tuple(out)


@register
class Add(Op):
    name = "add"
    arity = "n"
    min_inputs = 1
    doc = "Element-wise sum (residual add) of its branches, with broadcasting."
    cost_rule = "ops = (branches - 1) per output element"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return _broadcast("add", xs)

    def cost(self, a, xs, y):
        return Cost(ops=(len(xs) - 1) * numel(y))

    def build(self, a, xs, y):
        from ..torch_build import Merge

        return Merge("add", lambda ts: functools.reduce(operator.add, ts))


@register
class Multiply(Op):
    name = "multiply"
    aliases = ("mul",)
    arity = "n"
    min_inputs = 2
    doc = "Element-wise product with broadcasting (squeeze-excitation scales [C, H, W] by [C, 1, 1])."
    cost_rule = "ops = (branches - 1) per output element"
    params: ClassVar[dict] = {}

    def infer(self, a, xs):
        return _broadcast("multiply", xs)

    def cost(self, a, xs, y):
        return Cost(ops=(len(xs) - 1) * numel(y))

    def build(self, a, xs, y):
        from ..torch_build import Merge

        return Merge("multiply", lambda ts: functools.reduce(operator.mul, ts))
