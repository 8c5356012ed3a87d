"""Ops that imported models need (``flopcount import``, ``flopcount/importers/``): ``reshape``,
a layout change to a traced shape, ``opaque``, a node the importer could not cost, and
``tensor``, a tensor the imported file holds (an ONNX graph's relative-position bias, added to
the scores with ``add``; a coordinate table fed to Swin V2's position-bias MLP).

They take the output shape as text (``"64x56x56"``, as reports print shapes): the op
contract has no list-valued attribute, and the shape is what the source traced, not
something flopcount derives. ``opaque`` is deliberately loud: it costs nothing, and the
importer that wrote it lists it in its "N nodes not costed" summary and exits 1 unless
``--allow-unknown``; in a hand-written spec it is a visible placeholder, never a silent zero
hidden in another op.
"""

from __future__ import annotations

from typing import ClassVar

from .base import REQUIRED, Cost, Op, OpError, Param, numel, register


def parse_shape(text) -> tuple:
    """``"64x56x56"`` -> (64, 56, 56); ``"10"`` -> (10,)."""
    try:
        dims = tuple(int(t) for t in str(text).split("x"))
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise OpError(f"shape {text!r} is not a shape like 64x56x56", "write positive sizes joined by x", attr="shape")
    return dims


@register
class ReshapeOp(Op):
    name = "reshape"
    doc = (
        "A layout change to a given per-sample shape (torch's reshape, view, permute, transpose, "
        "as an importer traced them); the element count must stay the same."
    )
    cost_rule = "free (a view of the same memory; a permute's copy is left to the next op)"
    moves = "view"
    params: ClassVar[dict] = {"shape": Param("str", REQUIRED, "the output shape per sample, e.g. 196x768")}

    def infer(self, a, xs):
        y = parse_shape(a["shape"])
        if numel(y) != numel(xs[0]):
            raise OpError(
                f"reshape to {a['shape']} changes the element count ({numel(xs[0])} -> {numel(y)})",
                "give a shape with as many elements as the input",
                attr="shape",
            )
        return y

    def build(self, a, xs, y):
        from torch import nn

        class _Reshape(nn.Module):
            def forward(self, t):
                return t.reshape(t.shape[0], *y)

        return _Reshape()


@register
class Opaque(Op):
    name = "opaque"
    doc = (
        "A node an importer could not cost (a custom op, a data-dependent shape): kept with its "
        "traced output shape so the rest of the model is counted, and listed as not costed."
    )
    cost_rule = "NOT COSTED: 0 MACs, 0 params, 0 ops by construction; `flopcount import` names each one"
    params: ClassVar[dict] = {
        "shape": Param("str", REQUIRED, "the traced output shape per sample, e.g. 64x56x56"),
        "what": Param("str", "", "what the source node was (module type or function) and where"),
    }

    def infer(self, a, xs):
        return parse_shape(a["shape"])

    def build(self, a, xs, y):
        from torch import nn

        class _Placeholder(nn.Module):  # zeros of the traced shape: no params, no MACs, like the count
            def forward(self, t):
                return t.new_zeros((t.shape[0], *y))

        return _Placeholder()


@register
class Tensor(Op):
    name = "tensor"
    doc = (
        "A tensor an imported file holds, as a branch of the given per-sample shape (its input is not "
        "read): a relative-position bias added to attention scores, a per-head scale, a coordinate table "
        "fed to a small MLP. `add`/`multiply` with it broadcast (sizes of 1)."
    )
    cost_rule = "params = its elements when `learnable` (a weight of the file), else 0 (data: an MLP's input); no MACs"
    params: ClassVar[dict] = {
        "shape": Param("str", REQUIRED, "its shape per sample, e.g. 1x3x49x49 (1s broadcast)"),
        "learnable": Param("bool", True, "count its elements as params (false: data the file holds, not a weight)"),
    }

    def infer(self, a, xs):
        return parse_shape(a["shape"])

    def cost(self, a, xs, y):
        return Cost(params=numel(y) if a["learnable"] else 0)

    def build(self, a, xs, y):
        import torch
        from torch import nn

        class _Tensor(nn.Module):
            def __init__(self):
                super().__init__()
                if a["learnable"]:
                    self.weight = nn.Parameter(torch.zeros(y))
                else:
                    self.register_buffer("table", torch.zeros(y))

            def forward(self, t):
                held = self.weight if a["learnable"] else self.table
                if not torch.is_grad_enabled():
                    # a view of a parameter made under no_grad requires grad but has no grad_fn:
                    # torch's ModuleTracker (FlopCounterMode's per-module counts) refuses it
                    held = held.detach()
                return held.expand(t.shape[0], *y)

        return _Tensor()
