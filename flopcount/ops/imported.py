"""Ops that imported models need (``flopcount import``, ``flopcount/importers/``): ``reshape``,
a layout change to a traced shape, and ``opaque``, a node the importer could not cost.

Both take the output shape as text (``"64x56x56"``, as reports print shapes): the op
contract has no list-valued attribute, and the shape is what the source traced, not
something flopcount derives. ``opaque`` is deliberately loud: it costs nothing, and the
importer that wrote it lists it in its "N nodes not costed" summary and exits 1 unless
``--allow-unknown``; in a hand-written spec it is a visible placeholder, never a silent zero
hidden in another op.
"""

from __future__ import annotations

from typing import ClassVar

from .base import REQUIRED, Op, OpError, Param, numel, register


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
