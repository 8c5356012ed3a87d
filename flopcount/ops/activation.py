"""Element-wise activations and softmax: no MACs, and no params but PReLU's learnable slopes.

``ops``: one per output element for every activation (a convention: silu is really a
sigmoid and a multiply; fvcore counts none of these, ptflops counts ReLU as one).
Softmax: three per element (exp, sum, divide).
"""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, numel, register

ACTIVATIONS = ("none", "relu", "relu6", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "gelu")


class _Elementwise(Op):
    ops_per_element = 1
    cost_rule = "ops = 1 per output element (a convention; see the module docstring)"
    #: the torch.nn module that computes it, built with the op's attributes in the order they
    #: are declared (nn.LeakyReLU(slope), nn.Hardtanh(min, max))
    torch_class = ""

    def build(self, a, xs, y):
        from torch import nn

        return getattr(nn, self.torch_class)(*(a[k] for k in self.params))

    def infer(self, a, xs):
        return xs[0]

    def cost(self, a, xs, y):
        return Cost(0, 0, self.ops_per_element * numel(y))  # (macs, params, ops), by position: every conv's act


def _activation(op_name: str, torch_class: str, text: str, aliases: tuple = ()) -> type:
    cls = type(
        op_name.capitalize(),
        (_Elementwise,),
        {"name": op_name, "aliases": aliases, "doc": text, "torch_class": torch_class},
    )
    return register(cls)


_activation("relu", "ReLU", "max(x, 0)")
_activation("relu6", "ReLU6", "min(max(x, 0), 6)")
_activation("silu", "SiLU", "x * sigmoid(x), also called swish", ("swish",))
_activation("sigmoid", "Sigmoid", "1 / (1 + exp(-x))")
_activation("tanh", "Tanh", "tanh(x)")
_activation("hardswish", "Hardswish", "x * relu6(x + 3) / 6")
_activation("hardsigmoid", "Hardsigmoid", "relu6(x + 3) / 6")
_activation("gelu", "GELU", "x * Phi(x)")
_activation("mish", "Mish", "x * tanh(softplus(x)) (YOLOv4's CSPDarknet)")


@register
class Softmax(_Elementwise):
    name = "softmax"
    doc = "Softmax along one dimension (default: channels)."
    cost_rule = "ops = 3 per element (exp, sum, divide)"
    ops_per_element = 3
    params: ClassVar[dict] = {
        "dim": Param("int", 1, "dimension of the [N, C, H, W] tensor, 1 = channels", min=0, max=3)
    }

    def infer(self, a, xs):
        if a["dim"] > len(xs[0]):
            raise OpError(
                f"softmax dim {a['dim']} is not a dimension of the input [N, {', '.join(map(str, xs[0]))}]",
                f"use a dim from 0 to {len(xs[0])} (1 = channels)",
                attr="dim",
            )
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.Softmax(dim=a["dim"])


@register
class LeakyReLU(_Elementwise):
    torch_class = "LeakyReLU"
    name = "leaky_relu"
    aliases = ("leakyrelu",)
    doc = "x for x >= 0, slope * x below (CSPNet's LeakyReLU); not a fused `act:` (it has a parameter)."
    params: ClassVar[dict] = {
        "slope": Param("number", 0.01, "the factor below zero (torch's negative_slope)"),
    }


@register
class ELU(_Elementwise):
    torch_class = "ELU"
    name = "elu"
    doc = "x for x > 0, alpha * (exp(x) - 1) below (torch's nn.ELU)."
    params: ClassVar[dict] = {"alpha": Param("number", 1.0, "the scale below zero")}


@register
class Softplus(_Elementwise):
    torch_class = "Softplus"
    name = "softplus"
    doc = "log(1 + exp(beta * x)) / beta, x itself above `threshold` (torch's nn.Softplus)."
    params: ClassVar[dict] = {
        "beta": Param("number", 1.0, "the sharpness"),
        "threshold": Param("number", 20.0, "beta * x above which the output is x"),
    }


@register
class Hardtanh(_Elementwise):
    torch_class = "Hardtanh"
    name = "hardtanh"
    doc = "x clamped to [min, max] (torch's nn.Hardtanh; relu6 is hardtanh(0, 6))."
    params: ClassVar[dict] = {
        "min": Param("number", -1.0, "the lower bound"),
        "max": Param("number", 1.0, "the upper bound"),
    }

    def infer(self, a, xs):
        if a["min"] > a["max"]:
            raise OpError(f"hardtanh min {a['min']} is above max {a['max']}", "swap them", attr="min")
        return xs[0]


@register
class PReLU(_Elementwise):
    name = "prelu"
    doc = (
        "x for x >= 0, a * x below, with a learnable slope a per channel (the first per-sample axis, "
        "as torch's nn.PReLU broadcasts it), or one for all (`shared`)."
    )
    cost_rule = "params = C slopes (1 when shared); ops = 1 per output element (as every activation)"
    params: ClassVar[dict] = {
        "shared": Param("bool", False, "one slope for every channel (nn.PReLU() with num_parameters=1)"),
    }

    def cost(self, a, xs, y):
        return Cost(0, 1 if a["shared"] else xs[0][0], numel(y))

    def build(self, a, xs, y):
        from torch import nn

        return nn.PReLU(1 if a["shared"] else xs[0][0])
