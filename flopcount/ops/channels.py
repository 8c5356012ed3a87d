"""Channel split and shuffle (ShuffleNet): no arithmetic.

``split`` takes one of ``parts`` equal channel slices (``torch.chunk``: a view). A
ShuffleNetV2 unit reads::

    - op: concat
      paths:
        - [{op: split, take: 0}]                     # branch 1: the first half, as it is
        - [{op: split, take: 1}, conv1-58, ...]      # branch 2: the second half, convolved
    - {op: shuffle, groups: 2}

``shuffle`` interleaves the channels of its groups: a real copy (``moves = "copy"``), 0 MACs.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Op, OpError, Param, feature_map, register


@register
class Split(Op):
    name = "split"
    aliases = ("chunk",)
    moves = "view"
    doc = "Takes one of `parts` equal slices of the channels (torch.chunk(x, parts, 1)[take]): [C/parts, H, W]."
    cost_rule = "free (a view of the same memory)"
    params: ClassVar[dict] = {
        "parts": Param("int", 2, "into how many equal channel slices"),
        "take": Param("int", doc="which slice this branch reads, from 0", min=0),
    }

    def infer(self, a, xs):
        c = feature_map("split", xs[0])[0]
        if c % a["parts"]:
            raise OpError(f"parts={a['parts']} must divide the channels ({c})", "pick a divisor of C", "parts")
        if a["take"] >= a["parts"]:
            raise OpError(
                f"take={a['take']} is not one of the {a['parts']} slices", f"use 0 to {a['parts'] - 1}", "take"
            )
        return (c // a["parts"], *xs[0][1:])

    def build(self, a, xs, y):
        from ..torch_build import ChannelSlice

        return ChannelSlice(a["parts"], a["take"])


@register
class Shuffle(Op):
    name = "shuffle"
    aliases = ("channel_shuffle",)
    moves = "copy"
    doc = "Channel shuffle: [g, C/g] channels transposed to [C/g, g] (ShuffleNet)."
    cost_rule = "free: no arithmetic (a real copy; the roofline counts its bytes)"
    params: ClassVar[dict] = {"groups": Param("int", 2, "channel groups")}

    def infer(self, a, xs):
        c = feature_map("shuffle", xs[0])[0]
        if c % a["groups"]:
            raise OpError(f"groups={a['groups']} must divide the channels ({c})", "pick a divisor of C", "groups")
        return xs[0]

    def build(self, a, xs, y):
        from ..torch_build import ChannelShuffle

        return ChannelShuffle(a["groups"])
