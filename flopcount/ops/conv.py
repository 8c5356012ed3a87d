"""2-D convolution, optionally grouped or depthwise, with optional fused batch-norm and activation."""

from __future__ import annotations

from typing import ClassVar

from .activation import ACTIVATIONS
from .base import (
    Cost,
    Op,
    OpError,
    Param,
    feature_map,
    get,
    numel,
    pair,
    register,
    window_out,
)


def with_fused(a: dict, y: tuple, macs: int, params: int) -> Cost:
    """Cost of a conv or fc whose own part is ``macs`` and ``params`` (no ops, no buffers), and
    of the batch-norm and activation fused after it (``bn:``, ``act:``), each as its op costs it:
    the field-wise sum, made as one Cost (this runs for every conv a walk costs)."""
    act = a.get("act", "none")
    if act == "none":
        if not a.get("bn"):
            return Cost(macs, params)
        f = get("bn").cost({}, [y], y)
    else:
        f = get(act).cost({}, [y], y)
        if a.get("bn"):  # both: bn's and act's fields summed here, not through a Cost in between
            b = get("bn").cost({}, [y], y)
            return Cost(macs + b.macs + f.macs, params + b.params + f.params, b.ops + f.ops, b.buffers + f.buffers)
    return Cost(macs + f.macs, params + f.params, f.ops, f.buffers)


def fused_build(a: dict, core_name: str, core, y: tuple, before: tuple = ()):
    """torch module for a conv or fc with its fused batch-norm and activation: the bare core
    when nothing is fused, otherwise a Sequential whose children are named ``flatten`` (fc on a
    feature map), ``conv``/``fc``, ``bn``, ``act``, so the spec layer keeps its own name."""
    from collections import OrderedDict

    from torch import nn

    parts = list(before) + [(core_name, core)]
    if a.get("bn"):
        parts.append(("bn", get("bn").build({}, [y], y)))
    act = a.get("act", "none")
    if act != "none":
        parts.append(("act", get(act).build({}, [y], y)))
    return core if len(parts) == 1 else nn.Sequential(OrderedDict(parts))


def resolve_padding(p, k: tuple, d: tuple) -> tuple:
    """``auto`` keeps the size at stride 1 for odd kernels: ``d * (k - 1) // 2`` per axis."""
    if p == "auto":
        return (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)  # k and d are (h, w) pairs
    return pair(p)


@register
class Conv(Op):
    name = "conv"
    aliases = ("conv2d",)
    doc = (
        "2-D convolution, optionally grouped; depthwise: groups = C_in (write `groups: in`). "
        "PADDING DEFAULTS TO `auto` (same size at stride 1), NOT PyTorch's 0: port nn.Conv2d with `p: 0` "
        "(or `defaults: {conv: {p: 0}}`)."
    )
    cost_rule = (
        "MACs = C_out * H_out * W_out * (C_in / groups) * kh * kw; "
        "params = C_out * (C_in / groups) * kh * kw (+ C_out bias); fused bn and act add theirs; "
        "H_out with the default p: auto (= d * (k - 1) // 2), not PyTorch's p = 0"
    )
    params: ClassVar[dict] = {
        "c": Param("int", doc="output channels"),
        "k": Param("pair", 3, "kernel size, or [kh, kw]"),
        "s": Param("pair", 1, "stride"),
        "p": Param(
            "pair",
            "auto",
            "padding: auto (same size at stride 1; the default, unlike PyTorch's 0), an int, or [ph, pw]",
            min=0,
            special=("auto",),
        ),
        "d": Param("pair", 1, "dilation"),
        "groups": Param("int", 1, "channel groups; `in` for depthwise", special=("in",)),
        "bias": Param("bool", True, "add a learnable bias (not counted in MACs)"),
        "bn": Param("bool", False, "batch-norm after the conv"),
        "act": Param("choice", "none", "activation after the conv (and batch-norm)", choices=ACTIVATIONS),
    }
    short_k, short_s, short_arg = "k", "s", "c"

    def normalize(self, a, xs):
        """``groups: in`` -> C_in; ``k``, ``s``, ``d`` as (h, w); ``p: auto`` resolved."""
        c_in = feature_map("conv", xs[0])[0]
        groups = c_in if a["groups"] == "in" else a["groups"]
        if c_in % groups or a["c"] % groups:
            raise OpError(
                f"groups={groups} must divide both the input channels ({c_in}) and the output channels ({a['c']})",
                "pick a group count that divides both",
                attr="groups",
            )
        k, d = pair(a["k"]), pair(a["d"])
        return {**a, "groups": groups, "k": k, "s": pair(a["s"]), "d": d, "p": resolve_padding(a["p"], k, d)}

    def infer(self, a, xs):
        _, h, w = feature_map("conv", xs[0])
        k, s, p, d = a["k"], a["s"], a["p"], a["d"]
        ho = window_out(h, k[0], s[0], p[0], d[0], False, "conv", "H")
        wo = window_out(w, k[1], s[1], p[1], d[1], False, "conv", "W")
        return (a["c"], ho, wo)

    def cost(self, a, xs, y):
        c_in = xs[0][0]
        kh, kw = a["k"]
        weights = a["c"] * (c_in // a["groups"]) * kh * kw
        return with_fused(a, y, numel(y) * (c_in // a["groups"]) * kh * kw, weights + (a["c"] if a["bias"] else 0))

    def build(self, a, xs, y):
        from torch import nn

        conv = nn.Conv2d(xs[0][0], a["c"], a["k"], a["s"], a["p"], a["d"], a["groups"], a["bias"])
        return fused_build(a, "conv", conv, y)


@register
class Conv1d(Op):
    name = "conv1d"
    doc = (
        "1-D convolution over the last axis of [C, L] (torch's nn.Conv1d; ECA's convolution across the "
        "pooled channels reads them as [1, C]); padding defaults to 0, as torch's."
    )
    cost_rule = "MACs = C_out * L_out * (C_in / groups) * k; params = C_out * (C_in / groups) * k (+ C_out bias)"
    params: ClassVar[dict] = {
        "c": Param("int", doc="output channels"),
        "k": Param("int", 3, "kernel size"),
        "s": Param("int", 1, "stride"),
        "p": Param("int", 0, "zeros on each side of the axis", min=0),
        "d": Param("int", 1, "dilation"),
        "groups": Param("int", 1, "channel groups"),
        "bias": Param("bool", True, "add a learnable bias (not counted in MACs)"),
    }

    def infer(self, a, xs):
        x = xs[0]
        if len(x) != 2:
            raise OpError(f"conv1d needs [C, L], got {list(x)}", "reshape to [C, L] first (torch: x.view(B, C, -1))")
        c_in, n = x
        if c_in % a["groups"] or a["c"] % a["groups"]:
            raise OpError(
                f"groups={a['groups']} must divide both the input channels ({c_in}) and the output channels ({a['c']})",
                "pick a group count that divides both",
                attr="groups",
            )
        return (a["c"], window_out(n, a["k"], a["s"], a["p"], a["d"], False, "conv1d", "L"))

    def cost(self, a, xs, y):
        per = (xs[0][0] // a["groups"]) * a["k"]
        return Cost(macs=numel(y) * per, params=a["c"] * per + (a["c"] if a["bias"] else 0))

    def build(self, a, xs, y):
        from torch import nn

        return nn.Conv1d(xs[0][0], a["c"], a["k"], a["s"], a["p"], a["d"], a["groups"], a["bias"])
