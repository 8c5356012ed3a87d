"""Every op flopcount knows, registered once each. Adding an op = adding one module here
(what it declares: see :mod:`flopcount.ops.base`).

A module listed in :data:`FAMILIES` is imported the first time one of its names is looked
up (:func:`~flopcount.ops.base.lookup`), so a run imports only the ops its specs use; a
module not listed there is imported with this package (list it to make it lazy).
``REGISTRY`` and ``ALIASES`` read from this package (``from flopcount.ops import REGISTRY``)
are complete: reading them imports every family first (:func:`~flopcount.ops.base.load_all`).
"""

from __future__ import annotations

import os

from . import base
from .base import (  # noqa: F401
    Cost,
    Op,
    OpError,
    Param,
    RegistrationError,
    load_all,
    lookup,
    register,
)

#: module of this folder -> the op names and aliases it registers (names first, in the order
#: it registers them). :func:`~flopcount.ops.base.register` refuses a name its module does not
#: list here, and :func:`~flopcount.ops.base.load_all` a listed name its module does not register.
FAMILIES: dict[str, tuple[str, ...]] = {
    "activation": ("relu", "relu6", "silu", "swish", "sigmoid", "tanh", "hardswish", "hardsigmoid", "gelu", "softmax"),
    "attention": (
        "attention",
        "self_attention",
        "mhsa",
        "window_attention",
        "swin_attention",
        "window_attention_v2",
        "swin_v2_attention",
        "partition_attention",
        "maxvit_attention",
        "matmul",
    ),
    "channels": ("split", "chunk", "shuffle", "channel_shuffle"),
    "conv": ("conv", "conv2d"),
    "imported": ("reshape", "opaque"),
    "layernorm": ("layernorm", "groupnorm"),
    "learnable": ("scale", "layer_scale", "pos_embed", "position_embedding", "cls_token", "class_token"),
    "linear": ("fc",),
    "merge": ("concat", "add", "multiply", "mul"),
    "norm": ("bn", "batchnorm", "lrn"),
    "pointwise": ("linear",),
    "pool": (
        "maxpool",
        "M",
        "max_pool",
        "pool",
        "avgpool",
        "avg_pool",
        "gap",
        "global_avgpool",
        "adaptive_avgpool",
    ),
    "resample": ("upsample", "interpolate", "convtranspose", "deconv", "upconv", "crop", "center_crop"),
    "structure": ("flatten", "dropout", "identity"),
    "tokens": ("patchify", "to_tokens", "to_map", "unpatchify", "select", "roll", "patchmerge", "patch_merging"),
}
# a module of this folder that FAMILIES does not list (an op just added, a plug-in) is imported
# now, as every module was before; os.listdir rather than pkgutil (cheaper at start-up)
_OTHERS = sorted(
    f[:-3]
    for f in os.listdir(__path__[0])
    if f.endswith(".py") and f[:-3] not in FAMILIES and f not in ("__init__.py", "base.py", "params.py")
)
base.add_families(__name__, FAMILIES, _OTHERS)


def __getattr__(name: str):
    # REGISTRY and ALIASES from the package are the complete tables (`flopcount ops`, tests
    # that walk every op); flopcount's own analysis reads them from .base, filled on demand
    if name in ("REGISTRY", "ALIASES"):
        load_all()
        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
