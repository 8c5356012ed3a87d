"""Ops along one axis of any per-sample shape (what imported attention code does to its
tensors): ``slice`` (``x[:, a:b]``, ``x[:, i]``, one part of an uneven ``torch.split`` or of
``unbind``), ``cat`` (``torch.cat(xs, dim)`` along any axis: a class token put back before
the tokens), ``pad`` (``F.pad`` of one axis with zeros) and ``reduce`` (``x.sum(dim)``,
``x.mean(dim)``).

``dim`` counts the axes of the torch tensor, the batch included (``dim: 1`` is the first
per-sample axis: the channels of [C, H, W], the tokens of [N, D]), as ``softmax`` does.
``slice``, ``cat`` and ``pad`` move no arithmetic (0 MACs, 0 ops); ``reduce`` is one add per
input element (``gap``'s convention), no MACs.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, numel, register

#: the highest ``dim`` written (per-sample shapes of imported models have up to 5 axes)
MAX_DIM = 8


def axis(op: str, a: dict, x: tuple) -> int:
    """The per-sample axis (from 0) that ``a["dim"]`` names in ``x``; OpError past its rank."""
    if a["dim"] > len(x):
        raise OpError(
            f"{op} dim {a['dim']} is not an axis of the input [N, {', '.join(map(str, x))}]",
            f"use a dim from 1 to {len(x)} (0 is the batch)",
            attr="dim",
        )
    return a["dim"] - 1


@register
class Slice(Op):
    name = "slice"
    aliases = ("narrow",)
    moves = "view"
    doc = (
        "Elements start..stop-1 of one axis, every `step`-th (x[:, start:stop:step] for dim 1: a channel slice "
        "of [C, H, W]); with `squeeze`, the one element start (x[:, start]) and the axis dropped."
    )
    cost_rule = "free (a view of the same memory)"
    params: ClassVar[dict] = {
        "dim": Param("int", 1, "axis of the torch tensor, 1 = the first per-sample axis", max=MAX_DIM),
        "start": Param("int", 0, "first element taken, from 0", min=0),
        "stop": Param("int", None, "one past the last element taken (default: the end of the axis)"),
        "squeeze": Param("bool", False, "take the one element `start` and drop the axis (x[:, i])"),
        "step": Param("int", 1, "take every step-th element from start (x[:, ::2]: LeViT's subsampling)"),
    }

    def normalize(self, a, xs):
        size = xs[0][axis("slice", a, xs[0])]
        stop = a["stop"]
        if a["squeeze"]:
            stop = a["start"] + 1 if stop is None else stop
        elif stop is None:
            stop = size
        return {**a, "stop": stop}

    def infer(self, a, xs):
        x = xs[0]
        i = axis("slice", a, x)
        if not a["start"] < a["stop"] <= x[i]:
            raise OpError(
                f"slice {a['start']}:{a['stop']} is not inside axis {a['dim']} of size {x[i]}",
                f"give 0 <= start < stop <= {x[i]}",
                attr="stop",
            )
        if a["squeeze"]:
            if a["stop"] != a["start"] + 1 or a["step"] != 1:
                raise OpError(
                    "a squeezed slice takes one element", "give stop = start + 1 (or leave it out), step 1", "stop"
                )
            if len(x) == 1:
                raise OpError("a squeezed slice of a vector leaves no axis", "leave `squeeze` out", "squeeze")
            return x[:i] + x[i + 1 :]
        return x[:i] + (-(-(a["stop"] - a["start"]) // a["step"]),) + x[i + 1 :]

    def build(self, a, xs, y):
        from ..torch_build import AxisSlice

        return AxisSlice(a["dim"], a["start"], a["stop"], a["squeeze"], a["step"])


@register
class Cat(Op):
    name = "cat"
    arity = "n"
    min_inputs = 2
    moves = "copy"
    doc = (
        "Concatenate branches along any axis (torch.cat(xs, dim)): tokens [N1, D] and [N2, D] at dim 1 "
        "give [N1 + N2, D]; the other axes must match. `concat` is the channel concat of feature maps."
    )
    cost_rule = "free: no arithmetic (a copy; the roofline counts the bytes it moves)"
    params: ClassVar[dict] = {
        "dim": Param("int", 1, "axis of the torch tensor, 1 = the first per-sample axis", max=MAX_DIM),
    }

    def infer(self, a, xs):
        i = axis("cat", a, xs[0])
        rest = {x[:i] + x[i + 1 :] for x in xs}
        if len({len(x) for x in xs}) > 1 or len(rest) > 1:
            raise OpError(
                f"cat along dim {a['dim']} needs the other axes equal, got {', '.join(str(list(x)) for x in xs)}",
                "concatenate branches that differ only along `dim`",
            )
        return xs[0][:i] + (sum(x[i] for x in xs),) + xs[0][i + 1 :]

    def build(self, a, xs, y):
        import torch

        from ..torch_build import Merge

        dim = a["dim"]
        return Merge("cat", lambda ts: torch.cat(ts, dim))


@register
class Pad(Op):
    name = "pad"
    moves = "copy"
    doc = "Zeros put before and after one axis (F.pad of one axis): that axis grows by before + after."
    cost_rule = "free: no arithmetic (a copy into the larger tensor)"
    params: ClassVar[dict] = {
        "dim": Param("int", 1, "axis of the torch tensor, 1 = the first per-sample axis", max=MAX_DIM),
        "before": Param("int", 0, "zeros before the first element", min=0),
        "after": Param("int", 0, "zeros after the last element", min=0),
    }

    def infer(self, a, xs):
        x = xs[0]
        i = axis("pad", a, x)
        return x[:i] + (x[i] + a["before"] + a["after"],) + x[i + 1 :]

    def build(self, a, xs, y):
        from ..torch_build import AxisPad

        return AxisPad(a["dim"], a["before"], a["after"])


@register
class Reduce(Op):
    name = "reduce"
    doc = "Sum or mean over one axis (x.sum(dim), x.mean(dim)); the axis is dropped unless `keepdim`."
    cost_rule = "no params; ops = one add per input element (gap's convention); no MACs"
    params: ClassVar[dict] = {
        "mode": Param("choice", "sum", "sum or mean", choices=("sum", "mean")),
        "dim": Param("int", 1, "axis of the torch tensor, 1 = the first per-sample axis", max=MAX_DIM),
        "keepdim": Param("bool", False, "keep the axis, of size 1"),
    }

    def infer(self, a, xs):
        x = xs[0]
        i = axis("reduce", a, x)
        if a["keepdim"]:
            return x[:i] + (1,) + x[i + 1 :]
        if len(x) == 1:
            raise OpError("reducing a vector's only axis leaves no per-sample shape", "write `keepdim: true`")
        return x[:i] + x[i + 1 :]

    def cost(self, a, xs, y):
        return Cost(ops=numel(xs[0]))

    def build(self, a, xs, y):
        from ..torch_build import AxisReduce

        return AxisReduce(a["mode"], a["dim"], a["keepdim"])
