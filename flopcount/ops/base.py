"""The op registry: one entry per op, each with its parameters, shape rule, cost and builder.

Counting conventions (stated once, used by every op):

* ``macs``: multiply-accumulates of convolutions and fully connected layers only.
  Conv: ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w``; FC: ``in * out``.
  Bias adds are not MACs. Costs here are per sample; the report multiplies by the batch.
* ``params``: learnable weights: conv/FC weights and biases, batch-norm gamma and beta.
* ``buffers``: non-learnable state that some counts include: batch-norm running mean and
  variance (TensorFlow-style parameter counts include them).
* ``ops``: element operations that are not MACs (pooling, activations, batch-norm,
  residual adds, SE multiplies, softmax), each op documenting its own per-element count.
  Never mixed into ``macs``.

Shapes are per-sample tuples: ``(C, H, W)`` for feature maps, ``(F,)`` after flatten.
"""
from __future__ import annotations

from typing import ClassVar, NamedTuple

REQUIRED = object()


class OpError(Exception):
    """A problem with one layer's attributes or input shapes; the caller adds the position."""

    def __init__(self, message: str, hint: str | None = None, attr: str | None = None,
                 spatial: bool = False):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.attr = attr
        self.spatial = spatial  # about H x W: the error message shows the trail of sizes


# Param and Cost are NamedTuples, not frozen dataclasses: as immutable, ten times cheaper to
# define at import (every command pays that) and several times cheaper to create (a Cost per
# layer and per fused op).
class Param(NamedTuple):
    """One attribute an op accepts.

    ``kind``: ``int`` (a positive int unless ``min`` says otherwise), ``pair`` (an int or
    ``[h, w]``), ``bool``, ``str``, ``number`` (int or float), ``choice`` (one of ``choices``).
    """

    kind: str
    default: object = REQUIRED
    doc: str = ""
    min: int = 1
    choices: tuple = ()


class Cost(NamedTuple):
    """Per-sample cost of one layer (see the module docstring for each field)."""

    macs: int = 0
    params: int = 0
    ops: int = 0
    buffers: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.macs + other.macs, self.params + other.params,
                    self.ops + other.ops, self.buffers + other.buffers)


FREE = Cost()


class Op:
    """Base class; subclasses are registered with :func:`register`.

    Subclasses set ``name``, ``doc``, ``params`` and implement ``infer`` (shape rule) and
    ``cost``. ``arity`` is 1 for layers and ``"n"`` for merges (concat, add, multiply).
    Shorthand (``conv3/2-64*2``): the digits after the name go to ``short_k``, ``/s`` to
    ``short_s``, ``-arg`` to ``short_arg``; ``*n`` is a repeat.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple] = ()
    doc: ClassVar[str] = ""
    params: ClassVar[dict] = {}
    arity: ClassVar[object] = 1
    short_k: ClassVar[str | None] = None
    short_s: ClassVar[str | None] = None
    short_arg: ClassVar[str | None] = None

    def infer(self, a: dict, xs: list) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def cost(self, a: dict, xs: list, y: tuple) -> Cost:
        return FREE

    def build(self, a: dict, xs: list, y: tuple):  # torch builder, see flopcount.torch_build
        raise NotImplementedError(f"op {self.name} has no torch builder")


REGISTRY: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


def register(cls: type) -> type:
    """Class decorator: register one instance of ``cls`` under its name and aliases.

    A name registered twice is a programming error and raises at import time.
    """
    inst = cls()
    for key in (cls.name, *cls.aliases):
        if key in REGISTRY or key in ALIASES:
            raise RuntimeError(f"op name {key!r} registered twice")
    REGISTRY[cls.name] = inst
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(name: str) -> Op | None:
    op = REGISTRY.get(name)
    if op is None and name in ALIASES:
        op = REGISTRY[ALIASES[name]]
    return op


def numel(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def pair(v) -> tuple:
    return (v, v) if isinstance(v, int) else tuple(v)


def feature_map(op: str, x: tuple) -> tuple:
    if len(x) != 3:
        raise OpError(f"{op} needs a feature map [C, H, W], got the vector {list(x)}",
                      "put it before `flatten` (or the first fc)")
    return x


def window_out(size: int, k: int, s: int, p: int, d: int, ceil: bool, what: str, axis: str) -> int:
    """Output length of a sliding window (PyTorch's rule, including its ceil-mode clamp)."""
    span = d * (k - 1) + 1
    if size + 2 * p < span:
        raise OpError(f"{what} kernel {k} (span {span}) is larger than the padded input "
                      f"{axis}={size}+2*{p}", "use a smaller kernel, more padding, or a larger input", spatial=True)
    num = size + 2 * p - span
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out

