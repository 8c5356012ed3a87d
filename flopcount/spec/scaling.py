"""Scaling rules used by specs through expressions (width rounding, depth rounding).

They live apart from the spec decoder, as in timm's EfficientNet builder: the decoder
only knows that an expression may call them.
"""

from __future__ import annotations

import math


def make_divisible(value, divisor: int = 8, min_value=None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90% of it.

    This is the channel rule of MobileNet-v2, EfficientNet and torchvision
    (``torchvision.ops.misc._make_divisible``): ``max(min_value, int(v + d/2) // d * d)``,
    bumped up by ``d`` when that lost more than 10% of ``v``.
    """
    if divisor <= 0:
        raise ValueError("divisor must be positive")
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return int(new)


def scale_channels(channels, width: float, divisor: int = 8) -> int:
    """EfficientNet's width scaling: ``make_divisible(channels * width, divisor)``."""
    return make_divisible(channels * width, divisor)


def scale_repeats(repeats, depth: float) -> int:
    """EfficientNet's depth scaling: repeats are rounded up, ``ceil(repeats * depth)``."""
    return int(math.ceil(repeats * depth))


def _ceil(x) -> int:
    return int(math.ceil(x))


def _floor(x) -> int:
    return int(math.floor(x))


def _round(x, ndigits=None):
    if ndigits is not None and abs(ndigits) > 400:  # round(1, -10**9) would compute 10**(10**9)
        raise ValueError(f"round to {ndigits} digits is out of range (at most 400 either way)")
    return round(x) if ndigits is None else round(x, ndigits)


#: The only functions a spec expression may call.
FUNCTIONS = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": _round,
    "ceil": _ceil,
    "floor": _floor,
    "int": int,
    "make_divisible": make_divisible,
    "scale_channels": scale_channels,
    "scale_repeats": scale_repeats,
}
