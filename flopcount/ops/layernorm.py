"""Layer normalisation and group normalisation: statistics computed at inference, per sample.

``layernorm`` normalises the feature axis: the channels of a feature map ``[C, H, W]`` at
every pixel (ConvNeXt's ``LayerNorm2d``, Swin's norm on its channels-last maps), the ``D``
features of each token of ``[N, D]`` (every transformer), or a vector ``[F]``.
``groupnorm`` normalises each of ``groups`` channel groups over the group's channels and H x W.

``ops`` convention (both): 5 per element without affine (mean: 1 add; variance: 2, a
subtract and a square-add; normalise: 2, a subtract and a multiply by 1/std), plus 2 per
element with ``affine`` (multiply by gamma, add beta). FlopCounterMode counts none of it;
fvcore counts layer_norm/group_norm in buckets of their own (not MACs).
"""

from __future__ import annotations

from typing import ClassVar

from .base import Cost, Op, OpError, Param, feature_map, numel, register

NORM_OPS = 5  # per element: mean 1, variance 2, normalise 2
AFFINE_OPS = 2  # per element: gamma multiply, beta add


def features(op: str, x: tuple) -> int:
    """The feature axis of a per-sample shape: C of [C, H, W], D of [N, D], F of [F]."""
    if len(x) not in (1, 2, 3):
        raise OpError(f"{op} needs [C, H, W], tokens [N, D] or a vector [F], got {list(x)}")
    return x[0] if len(x) in (1, 3) else x[1]


def _norm_cost(a: dict, y: tuple, c: int) -> Cost:
    per = NORM_OPS + (AFFINE_OPS if a["affine"] else 0)
    return Cost(params=2 * c if a["affine"] else 0, ops=per * numel(y))


@register
class LayerNorm(Op):
    name = "layernorm"
    doc = (
        "Layer normalisation over the features: the channels of [C, H, W] at each pixel "
        "(ConvNeXt's LayerNorm2d), the D features of each token of [N, D], or a vector."
    )
    cost_rule = "params = 2 * features (gamma, beta; 0 without affine); no buffers; ops = 5 per element (+2 affine)"
    params: ClassVar[dict] = {
        "eps": Param("number", 1e-5, "added to the variance (torchvision: 1e-6 in ConvNeXt, ViT and Swin)", min=0),
        "affine": Param("bool", True, "learnable gamma and beta"),
    }

    def infer(self, a, xs):
        features("layernorm", xs[0])
        return xs[0]

    def cost(self, a, xs, y):
        return _norm_cost(a, y, features("layernorm", y))

    def build(self, a, xs, y):
        from torch import nn

        from ..torch_build import ChannelsLast

        norm = nn.LayerNorm(features("layernorm", y), eps=a["eps"], elementwise_affine=a["affine"])
        return ChannelsLast(norm) if len(y) == 3 else norm


@register
class GroupNorm(Op):
    name = "groupnorm"
    doc = "Group normalisation of a feature map: each group of C / groups channels over its channels and H x W."
    cost_rule = "params = 2C (gamma, beta; 0 without affine); no buffers; ops = 5 per element (+2 affine)"
    params: ClassVar[dict] = {
        "groups": Param("int", 32, "channel groups (1 = layer norm over C, H, W; C = instance norm)"),
        "eps": Param("number", 1e-5, "added to the variance", min=0),
        "affine": Param("bool", True, "learnable per-channel gamma and beta"),
    }

    def infer(self, a, xs):
        c = feature_map("groupnorm", xs[0])[0]
        if c % a["groups"]:
            raise OpError(
                f"groups={a['groups']} must divide the channels ({c})", "pick a group count that divides C", "groups"
            )
        return xs[0]

    def cost(self, a, xs, y):
        return _norm_cost(a, y, y[0])

    def build(self, a, xs, y):
        from torch import nn

        return nn.GroupNorm(a["groups"], y[0], eps=a["eps"], affine=a["affine"])
