"""Changing H x W without a window of its own: ``upsample`` (nearest, bilinear),
``convtranspose`` (the learnable up-convolution) and ``crop`` (U-Net's crop before concat)."""

from __future__ import annotations

import math
from typing import ClassVar

from .activation import ACTIVATIONS
from .base import Cost, Op, OpError, Param, feature_map, numel, pair, register
from .conv import fused_build, with_fused

#: ops per output element, as fvcore counts them (upsample_nearest2d 1, upsample_bilinear2d 4)
UPSAMPLE_OPS = {"nearest": 1, "bilinear": 4}


@register
class Upsample(Op):
    name = "upsample"
    aliases = ("interpolate",)
    doc = "Resizes H x W by `scale` (output floor(H * scale)) or to `size` [h, w]: nearest or bilinear."
    cost_rule = "no params, no MACs; ops = 1 per output element (nearest) or 4 (bilinear), as fvcore counts them"
    params: ClassVar[dict] = {
        "scale": Param("number", None, "scale factor of H and W (output floor(H * scale))", min=0),
        "size": Param("pair", None, "output size, or [h, w] (instead of `scale`)"),
        "mode": Param("choice", "nearest", "interpolation", choices=tuple(UPSAMPLE_OPS)),
        "align_corners": Param("bool", False, "bilinear only: corner pixels aligned (PyTorch's align_corners)"),
    }

    def normalize(self, a, xs):
        _, h, w = feature_map("upsample", xs[0])
        if (a["scale"] is None) == (a["size"] is None):
            raise OpError("upsample needs either `scale` or `size`, not both or neither", "write e.g. `scale: 2`")
        if a["align_corners"] and a["mode"] == "nearest":
            raise OpError(
                "align_corners applies only to bilinear upsampling", "drop `align_corners`", attr="align_corners"
            )
        if a["size"] is not None:
            return {**a, "size": pair(a["size"])}
        if a["scale"] <= 0:
            raise OpError(f"`scale` must be positive, got {a['scale']}", "write e.g. `scale: 2`", attr="scale")
        size = (math.floor(h * a["scale"]), math.floor(w * a["scale"]))
        if min(size) < 1:
            raise OpError(f"scale {a['scale']} makes {h}x{w} empty", "use a larger scale", "scale", spatial=True)
        return {**a, "size": size}

    def infer(self, a, xs):
        return (xs[0][0], *a["size"])

    def cost(self, a, xs, y):
        return Cost(ops=UPSAMPLE_OPS[a["mode"]] * numel(y))

    def build(self, a, xs, y):
        from ..torch_build import Interpolate

        scale = None if a["scale"] is None else float(a["scale"])
        size = tuple(a["size"]) if scale is None else None
        return Interpolate(size, scale, a["mode"], a["align_corners"] if a["mode"] != "nearest" else None)


@register
class ConvTranspose(Op):
    name = "convtranspose"
    aliases = ("deconv", "upconv")
    doc = (
        "Transposed 2-D convolution (up-convolution). Padding defaults to 0 (PyTorch's), stride to the kernel: "
        "H_out = (H - 1) * s - 2p + d * (k - 1) + output_padding + 1."
    )
    cost_rule = (
        "MACs = C_in * H_in * W_in * (C_out / groups) * kh * kw (every input pixel scatters a kernel; "
        "as fvcore and FlopCounterMode count it); params = C_in * (C_out / groups) * kh * kw (+ C_out bias)"
    )
    params: ClassVar[dict] = {
        "c": Param("int", doc="output channels"),
        "k": Param("pair", 2, "kernel size, or [kh, kw]"),
        "s": Param("pair", None, "stride (default: the kernel size)"),
        "p": Param("pair", 0, "padding taken off each side of the output (PyTorch's `padding`)", min=0),
        "output_padding": Param("pair", 0, "added to one side of the output (must be < stride or dilation)", min=0),
        "d": Param("pair", 1, "dilation"),
        "groups": Param("int", 1, "channel groups"),
        "bias": Param("bool", True, "add a learnable bias (not counted in MACs)"),
        "bn": Param("bool", False, "batch-norm after it"),
        "act": Param("choice", "none", "activation after it (and batch-norm)", choices=ACTIVATIONS),
    }
    short_k, short_s, short_arg = "k", "s", "c"

    def normalize(self, a, xs):
        c_in = feature_map("convtranspose", xs[0])[0]
        if c_in % a["groups"] or a["c"] % a["groups"]:
            raise OpError(
                f"groups={a['groups']} must divide both the input channels ({c_in}) and the output channels ({a['c']})",
                "pick a group count that divides both",
                attr="groups",
            )
        k, d, op = pair(a["k"]), pair(a["d"]), pair(a["output_padding"])
        s = pair(a["s"]) if a["s"] is not None else k
        for i in (0, 1):
            if op[i] >= max(s[i], d[i]):
                raise OpError(
                    f"output_padding {list(op)} must be smaller than the stride {list(s)} or the dilation {list(d)}",
                    "use a smaller output_padding",
                    attr="output_padding",
                )
        return {**a, "k": k, "s": s, "p": pair(a["p"]), "d": d, "output_padding": op}

    def infer(self, a, xs):
        _, h, w = xs[0]
        out = [
            (size - 1) * a["s"][i] - 2 * a["p"][i] + a["d"][i] * (a["k"][i] - 1) + a["output_padding"][i] + 1
            for i, size in enumerate((h, w))
        ]
        if min(out) < 1:
            raise OpError(
                f"convtranspose output would be {out[0]}x{out[1]}", "use less padding", attr="p", spatial=True
            )
        return (a["c"], *out)

    def cost(self, a, xs, y):
        kh, kw = a["k"]
        per_input = (a["c"] // a["groups"]) * kh * kw
        weights = xs[0][0] * per_input
        return with_fused(a, y, numel(xs[0]) * per_input, weights + (a["c"] if a["bias"] else 0))

    def build(self, a, xs, y):
        from torch import nn

        core = nn.ConvTranspose2d(
            xs[0][0], a["c"], a["k"], a["s"], a["p"], a["output_padding"], a["groups"], a["bias"], a["d"]
        )
        return fused_build(a, "conv", core, y)


@register
class Crop(Op):
    name = "crop"
    aliases = ("center_crop",)
    moves = "view"
    doc = "Centre crop of H x W to `size` (U-Net's crop before concatenating a skip): offset (H - h) // 2."
    cost_rule = "free (a view: a slice of the same memory; the concat after it copies)"
    params: ClassVar[dict] = {"size": Param("pair", doc="output size, or [h, w]")}

    def normalize(self, a, xs):
        return {**a, "size": pair(a["size"])}

    def infer(self, a, xs):
        c, h, w = feature_map("crop", xs[0])
        th, tw = a["size"]
        if th > h or tw > w:
            raise OpError(f"crop to {th}x{tw} is larger than the input {h}x{w}", "crop to a smaller size", "size", True)
        return (c, th, tw)

    def build(self, a, xs, y):
        from ..torch_build import CenterCrop

        return CenterCrop(tuple(a["size"]))


#: the channel order of a depth <-> space move: torch's pixel_shuffle (``crd``: channel, then
#: the r x r block) or ONNX DepthToSpace's default and TensorFlow's depth_to_space (``dcr``:
#: the block, then the channel). The two give the same shapes and cost, other values.
ORDERS = ("crd", "dcr")


class _SpaceDepth(Op):
    """What pixel_shuffle and pixel_unshuffle share: no arithmetic, a copy, the torch module of
    the direction ``up`` (each op class's own) in the channel order the layer names."""

    up: ClassVar[bool]
    moves = "copy"
    cost_rule = "free: no arithmetic (a real copy; the roofline counts its bytes)"

    def build(self, a, xs, y):
        from ..torch_build import SpaceDepth

        return SpaceDepth(a["r"], a["order"], self.up)


def _order(source: str) -> Param:
    return Param("choice", "crd", f"channel order: torch's (crd) or {source} (dcr)", choices=ORDERS)


@register
class PixelShuffle(_SpaceDepth):
    name = "pixel_shuffle"
    aliases = ("depth_to_space",)
    up = True
    doc = (
        "Moves channels into space (ESPCN's sub-pixel convolution, torch.nn.PixelShuffle): "
        "[C * r * r, H, W] -> [C, H * r, W * r]."
    )
    params: ClassVar[dict] = {
        "r": Param("int", doc="upscale factor of H and W", min=1),
        "order": _order("ONNX DepthToSpace's default"),
    }

    def infer(self, a, xs):
        c, h, w = feature_map("pixel_shuffle", xs[0])
        r = a["r"]
        if c % (r * r):
            raise OpError(
                f"r={r} needs the channels ({c}) to be a multiple of r * r = {r * r}", "pick a smaller r", "r"
            )
        return (c // (r * r), h * r, w * r)


@register
class PixelUnshuffle(_SpaceDepth):
    name = "pixel_unshuffle"
    aliases = ("space_to_depth",)
    up = False
    doc = (
        "Moves space into channels (torch.nn.PixelUnshuffle, ONNX SpaceToDepth with `order: dcr`): "
        "[C, H, W] -> [C * r * r, H / r, W / r]."
    )
    params: ClassVar[dict] = {
        "r": Param("int", doc="downscale factor of H and W (must divide both)", min=1),
        "order": _order("ONNX SpaceToDepth's"),
    }

    def infer(self, a, xs):
        c, h, w = feature_map("pixel_unshuffle", xs[0])
        r = a["r"]
        if h % r or w % r:
            raise OpError(f"r={r} must divide the input {h}x{w}", "pick a divisor of H and W", "r", spatial=True)
        return (c * r * r, h // r, w // r)
