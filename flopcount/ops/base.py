"""The op contract: what an op declares, and the registry that checks each declaration.

How to add an op (one new module in ``flopcount/ops/``, found by ``flopcount/ops/__init__.py``;
nothing else in the package names an op)::

    from typing import ClassVar

    from .base import Cost, Op, OpError, Param, numel, register

    @register
    class Maximum(Op):
        name = "maximum"                  # the spec's `op:` word; `aliases = ("max",)` for more
        doc = "Element-wise maximum of its branches."          # what it computes
        cost_rule = "ops = (branches - 1) per output element"  # shown by `flopcount ops`
        params: ClassVar[dict] = {}       # attribute name -> Param (type, range, special words)
        arity = "n"                       # 1: reads the previous layer; "n": merges `paths:`
        min_inputs = 2                    # for arity "n": the fewest branches it accepts
        moves = "compute"                 # "compute", "copy" (a real copy, e.g. a channel
                                          # shuffle) or "view" (same memory: flatten); roofline

        def infer(self, a, xs):           # output shape from (attributes, input shapes);
            if len({len(x) for x in xs}) > 1:           # a bad input: OpError(message, hint)
                raise OpError("maximum needs branches of one rank", "flatten all or none")
            return tuple(max(d) for d in zip(*xs))

        def cost(self, a, xs, y):         # Cost per sample, from (attributes, input shapes, output)
            return Cost(ops=(len(xs) - 1) * numel(y))

        def build(self, a, xs, y):        # the torch module; import torch inside, never at the top
            import functools, torch
            from ..torch_build import Merge
            return Merge("maximum", lambda ts: functools.reduce(torch.maximum, ts))

Declare, per op:

* ``name``, ``aliases``, ``doc`` and ``cost_rule`` (both non-empty), ``params``: a dict of
  :class:`~flopcount.ops.params.Param`. Each Param validates its values itself (type,
  range, finite numbers); words with a meaning of their own (``groups: in``) are listed in
  its ``special`` and resolved by the op's ``normalize``.
* ``arity`` (one of :data:`INPUT_FORMS`) and, for merges, ``min_inputs``.
* ``moves``: one of :data:`MOVES` (what the roofline counts as bytes moved).
* ``normalize(a, xs) -> a``: optional; resolves special words and defaults that depend on
  the input (``groups: in`` -> ``C_in``, ``p: auto`` -> numbers) and returns a NEW dict
  (never changes ``a``). Its result is stored on the graph node and is all that ``infer``,
  ``cost``, ``build`` and the renderers read. ``infer`` and ``cost`` are pure functions of
  (attributes, input shapes) and never change either.
* Purity (what lets one computation serve every layer that is the same layer): a Param's
  ``check``, ``normalize``, ``infer`` and ``cost`` read nothing but their arguments (no
  globals that change, no counters, no randomness), so they are functions of (op, attributes,
  input shapes). Their results are kept once per process in :data:`RESULTS` (see "Results
  kept" below) and shared by every node, expansion and replay that has the same op, the same
  attributes (type for type) and the same input shapes.
* ``short_k``, ``short_s``, ``short_arg``: optional; the params the shorthand
  ``OP[K[xK]][/S][-ARG]`` fills (``conv3/2-64``).
* A hand-derived test case in ``tests/test_op_contract.py`` (``CASES``): the registry walk
  there fails until the new op has one.

:func:`register` refuses, at import time, a duplicate name or alias, a missing doc or cost
rule, an arity or ``moves`` the expander does not handle, a Param of unknown kind, an
attribute with a reserved name (``op``, ``name``, ``paths``, ...), and a shorthand slot that
names no param.

Results kept (:data:`RESULTS`, one table, one key function :func:`attrs_key`): the walk
(flopcount.spec.walk) and the replay of a sweep (flopcount.spec.replay) both look up an op's
checked attributes and its ``(normalised attributes, output shape, Cost)`` per input shapes
here. Keys hold the op object itself and each value with its type (``1``, ``True`` and
``1.0`` are three keys; a list and a tuple two), so an op registered again is never answered
from its predecessor's entries. Changing an op class after registration (``monkeypatch.setattr
(Conv, "cost", planted)``, and monkeypatch's undo) or an op instance empties the table by
itself (:class:`OpType`); :func:`register` and :func:`unregister` too. Anything else an op's
rules read (a helper function of its module patched by a test) must be followed by
:func:`clear_results`, the one way to empty it. Only results are kept, never errors.

Counting conventions (stated once, used by every op):

* ``macs``: multiply-accumulates of convolutions, fully connected layers and matrix products
  only. Conv: ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w``; transposed conv:
  ``C_in * H_in * W_in * (C_out / groups) * k_h * k_w``; FC: ``in * out``; ``linear`` over
  the features: ``positions * in * out``; attention's ``Q K^T`` and ``A V`` and ``matmul``:
  one MAC per multiply-add of the product (what FlopCounterMode / 2 counts as ``bmm``).
  Bias adds are not MACs. Costs here are per sample; the report multiplies by the batch.
* ``params``: learnable weights: conv/FC weights and biases, batch-norm, layer-norm and
  group-norm gamma and beta, learnable tensors without MACs (layer scale, class token,
  position embedding, Swin's relative-position-bias table).
* ``buffers``: non-learnable state that some counts include: batch-norm running mean and
  variance (TensorFlow-style parameter counts include them).
* ``ops``: element operations that are not MACs (pooling, activations, batch-norm, layer
  norm, residual adds, SE multiplies, softmax, attention-score scaling, upsampling), each op
  documenting its own per-element count.
  Never mixed into ``macs``.

Shapes are per-sample tuples: ``(C, H, W)`` for feature maps, ``(N, D)`` for token
sequences (``patchify``), ``(F,)`` after flatten. The *features* of a shape are C, D or F.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar, NamedTuple, TypeVar

from .params import KINDS, MAX_INT, REQUIRED, Param  # noqa: F401  (re-exported: the op contract)

#: ``arity`` values the expander handles: 1 (the previous layer's output) and "n" (the outputs
#: of a merge's ``paths:``, each branch fed the merge's input)
INPUT_FORMS = (1, "n")
#: ``moves`` values: "compute" (reads inputs, writes a new output), "copy" (moves its inputs to
#: a new tensor without arithmetic), "view" (returns the same memory: moves nothing)
MOVES = ("compute", "copy", "view")
#: words a layer mapping uses for itself; no op may have an attribute of that name
RESERVED = frozenset(
    (
        "op",
        "name",
        "repeat",
        "first",
        "rest",
        "when",
        "published",
        "paths",
        "layers",
        "train_only",
        # graph forms and stage tables (flopcount.spec.walk)
        "from",
        "if_shapes_match",
        "for",
        "each",
    )
)


class OpError(Exception):
    """A problem with one layer's attributes or input shapes; the caller adds the position."""

    def __init__(self, message: str, hint: str | None = None, attr: str | None = None, spatial: bool = False):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.attr = attr
        self.spatial = spatial  # about H x W: the error message shows the trail of sizes


class RegistrationError(RuntimeError):
    """An op declaration the registry or the expander cannot use: a programming error, raised at import."""


# Cost is a NamedTuple, not a frozen dataclass: as immutable, ten times cheaper to define at
# import (every command pays that) and several times cheaper to create (one per layer).
class Cost(NamedTuple):
    """Per-sample cost of one layer (see the module docstring for each field)."""

    macs: int = 0
    params: int = 0
    ops: int = 0
    buffers: int = 0

    def __add__(self, other: Cost) -> Cost:  # type: ignore[override]  # field-wise, not concatenation
        # (the tuple made directly: Cost(...) would run the NamedTuple's own __new__ first)
        return _tuple_new(Cost, (self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3]))


FREE = Cost()
_tuple_new = tuple.__new__


#: words the spec language uses in an ``op:`` position for structure (groups of layers, side
#: outputs); no op may take them as its name
STRUCTURE = ("seq", "side")


class OpType(type):
    """The class of every op class: setting or deleting an attribute of an op class (a test
    planting a cost) empties the kept results (:func:`clear_results`)."""

    def __setattr__(cls, name: str, value) -> None:
        super().__setattr__(name, value)
        clear_results()

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        clear_results()


class Op(metaclass=OpType):
    """Base class of every op; subclasses are registered with :func:`register`.

    See the module docstring for what a subclass declares. Shorthand (``conv3/2-64*2``):
    the digits after the name go to ``short_k``, ``/s`` to ``short_s``, ``-arg`` to
    ``short_arg``; ``*n`` is a repeat.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple] = ()
    doc: ClassVar[str] = ""
    cost_rule: ClassVar[str] = ""
    params: ClassVar[dict] = {}
    arity: ClassVar[object] = 1
    min_inputs: ClassVar[int] = 1
    moves: ClassVar[str] = "compute"
    short_k: ClassVar[str | None] = None
    short_s: ClassVar[str | None] = None
    short_arg: ClassVar[str | None] = None

    def normalize(self, a: dict, xs: list) -> dict:
        """The attributes ``infer``, ``cost`` and ``build`` read: special words and
        input-dependent defaults resolved. Returns a new dict (or ``a`` itself when nothing
        changes); never modifies ``a``. May raise :class:`OpError`."""
        return a

    def infer(self, a: dict, xs: list) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def cost(self, a: dict, xs: list, y: tuple) -> Cost:
        return FREE

    def build(self, a: dict, xs: list, y: tuple):  # torch builder, see flopcount.torch_build
        raise NotImplementedError(f"op {self.name} has no torch builder")

    def __setattr__(self, name: str, value) -> None:  # (an op instance patched: as OpType)
        object.__setattr__(self, name, value)
        clear_results()


REGISTRY: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


def _refuse(cls: type, problem: str):
    raise RegistrationError(f"op {getattr(cls, 'name', cls.__name__)!r} ({cls.__module__}): {problem}")


def validate(cls: type[Op]) -> None:
    """Check one op declaration against the contract (the module docstring); raise
    :class:`RegistrationError` naming what is wrong."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        _refuse(cls, "`name` must be a word (letters, digits, `_`)")
    for key in (name, *cls.aliases):
        if not isinstance(key, str) or not key.isidentifier():
            _refuse(cls, f"alias {key!r} must be a word (letters, digits, `_`)")
        if key in REGISTRY or key in ALIASES:
            _refuse(cls, f"op name {key!r} registered twice")
        if key in STRUCTURE:
            _refuse(cls, f"{key!r} is a word of the spec language, not free for an op")
    for field in ("doc", "cost_rule"):
        if not isinstance(getattr(cls, field), str) or not getattr(cls, field).strip():
            _refuse(cls, f"declares no `{field}` (shown by `flopcount ops`)")
    if cls.arity not in INPUT_FORMS or cls.arity.__class__ is bool:
        _refuse(cls, f"arity {cls.arity!r} is not one the expander handles: {', '.join(map(repr, INPUT_FORMS))}")
    if cls.arity == "n" and (not isinstance(cls.min_inputs, int) or cls.min_inputs < 1):
        _refuse(cls, f"min_inputs {cls.min_inputs!r} must be a whole number >= 1")
    if cls.moves not in MOVES:
        _refuse(cls, f"moves {cls.moves!r} is not one of {', '.join(MOVES)}")
    if cls.moves == "view" and cls.arity != 1:
        _refuse(cls, "a view has one input")
    if not isinstance(cls.params, dict):
        _refuse(cls, "`params` must be a dict of attribute name -> Param")
    for key, p in cls.params.items():
        if not isinstance(key, str) or not key.isidentifier() or key in RESERVED:
            _refuse(cls, f"attribute name {key!r} is not a word, or is reserved ({', '.join(sorted(RESERVED))})")
        if not isinstance(p, Param) or p.kind not in KINDS:
            _refuse(cls, f"attribute {key!r} must be a Param of kind {', '.join(KINDS)}")
        if p.kind == "choice" and not p.choices:
            _refuse(cls, f"attribute {key!r} is a choice without `choices`")
        if any(not isinstance(w, str) for w in p.special):
            _refuse(cls, f"attribute {key!r}: special values are words")
        if p.default is not REQUIRED and p.default is not None and p.check(key, p.default)[1] is not None:
            _refuse(cls, f"attribute {key!r}: its default {p.default!r} fails its own check")
    for slot in ("short_k", "short_s", "short_arg"):
        target = getattr(cls, slot)
        if target is not None and target not in cls.params:
            _refuse(cls, f"{slot} names {target!r}, which is not one of its params")


_OpClass = TypeVar("_OpClass", bound="type[Op]")


def register(cls: _OpClass) -> _OpClass:
    """Class decorator: check the declaration (:func:`validate`), then register one instance
    of ``cls`` under its name and aliases. Raises :class:`RegistrationError` at import time."""
    validate(cls)
    inst = cls()
    REGISTRY[cls.name] = inst
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    if RESULTS:
        clear_results()
    return cls


def unregister(name: str) -> None:
    """Remove an op and its aliases (for tests that register a throw-away op)."""
    REGISTRY.pop(name, None)
    for alias in [a for a, target in ALIASES.items() if target == name]:
        del ALIASES[alias]
    clear_results()


# -- results kept (see "Results kept" in the module docstring) ------------------------------


class Checked(dict):
    """The checked attributes of one op (Param defaults filled, values checked): the one dict
    every layer with those attributes shares, and the entry of :data:`RESULTS` that holds that
    layer's results. ``made``: input shape (one input) or tuple of shapes (a merge) ->
    (normalised attributes, output shape, Cost, the Cost as a plain tuple)."""

    __slots__ = ("made",)

    def __init__(self, attrs: dict):
        super().__init__(attrs)
        self.made: dict = {}


#: attrs_key(op, checked attributes) and attrs_key(op, given attributes, GIVEN) -> Checked
RESULTS: dict = {}
#: a head for the key of attributes as a layer gives them (before Param checks and defaults)
GIVEN = "given"
#: entries (RESULTS keys and ``made`` results together) kept before all are dropped
RESULTS_LIMIT = 200_000
#: [entries kept now, times emptied]: a holder of a Checked (a replay's plan) compares the
#: second number to know whether its entries are still the table's
_KEPT = [0, 0]


def _freeze(v, given: bool = False):
    """A hashable, type-exact stand-in for one attribute value; None for a value of a kind not
    known here and, with ``given``, for text holding ``$`` (what it means depends on its scope)."""
    c = v.__class__
    if c is int or c is bool or v is None:
        return (c, v)
    if c is str:
        return None if given and "$" in v else (c, v)
    if c is float:
        return (c, v.hex())  # (-0.0 and 0.0 are equal floats, with other texts)
    if isinstance(v, (list, tuple)):
        items = []
        for item in v:
            f = _freeze(item, given)
            if f is None:
                return None
            items.append(f)
        return (c, tuple(items))
    if isinstance(v, dict):
        pairs = []
        for k, item in v.items():
            fk, fv = _freeze(k, given), _freeze(item, given)
            if fk is None or fv is None:
                return None
            pairs.append((fk, fv))
        return (c, tuple(pairs))
    return None


def attrs_key(impl, attrs: dict, *head) -> tuple | None:
    """The key of ``attrs`` of the op ``impl`` (after ``head``) in :data:`RESULTS`: the op
    object, then each name with its value's type and value (lists, tuples and dicts item by
    item, each with its type; floats by their exact text), so ``1``, ``1.0`` and ``True``, or
    ``[1, 2]`` and ``(1, 2)``, are other keys. None when a value is of a kind not known here,
    and, for given attributes (``head`` :data:`GIVEN`), when a text holds ``$`` anywhere."""
    key: list = [impl, *head]
    given = GIVEN in head
    for k, v in attrs.items():
        c = v.__class__
        if c is int or c is bool or v is None:
            key += (k, c, v)
        elif c is str:
            if given and "$" in v:
                return None
            key += (k, c, v)
        else:
            f = _freeze(v, given)
            if f is None:
                return None
            key += (k, f)
    return tuple(key)


def given_plan(impl, attrs: dict) -> tuple | None:
    """:func:`attrs_key` of given attributes (head :data:`GIVEN`) made ready for the values of
    their ``$`` texts, found later (:func:`planned_key`): (the key parts of the other values in
    order, None in the place of each text; the texts as (name, text) pairs; whether every other
    value has a key). None when no value is a text holding ``$``."""
    parts: list = []
    texts = []
    keyed = True
    for k, v in attrs.items():
        if v.__class__ is str and "$" in v:
            parts.append(None)
            texts.append((k, v))
        else:
            one = attrs_key(impl, {k: v}, GIVEN)
            if one is None:
                keyed = False
            else:
                parts.append(one[2:])
    return (tuple(parts), texts, keyed) if texts else None


def planned_key(impl, plan: tuple, values: list) -> tuple | None:
    """``attrs_key(impl, attrs, GIVEN)`` of the attributes ``plan`` (:func:`given_plan`) was made
    from, with its texts replaced by ``values`` (in the same order): the same key, the other
    values' parts not made again."""
    parts, texts, keyed = plan
    if not keyed:
        return None
    key: list = [impl, GIVEN]
    i = 0
    for part in parts:
        if part is not None:
            key += part
            continue
        k, v = texts[i][0], values[i]
        i += 1
        c = v.__class__  # (attrs_key's rule for one value)
        if c is int or c is bool or v is None:
            key += (k, c, v)
        elif c is str:
            if "$" in v:
                return None
            key += (k, c, v)
        else:
            f = _freeze(v, True)
            if f is None:
                return None
            key += (k, f)
    return tuple(key)


def checked_entry(key: tuple, attrs: dict) -> Checked:
    """The Checked kept under ``key``; a new one holding ``attrs`` when there is none."""
    hit = RESULTS.get(key)
    if hit is None:
        hit = keep(RESULTS, key, Checked(attrs))
    return hit


def keep(table: dict, key, value):
    """Keep ``value`` under ``key`` in :data:`RESULTS` or in a kept Checked's ``made``, each
    entry counted against :data:`RESULTS_LIMIT` (past it everything is dropped first, and a
    ``made`` of a Checked no longer kept is left empty); returns ``value``."""
    if _KEPT[0] >= RESULTS_LIMIT:
        clear_results()
        if table is not RESULTS:
            return value
    _KEPT[0] += 1
    table[key] = value
    return value


def clear_results() -> None:
    """Empty :data:`RESULTS` (and each kept Checked's results): the one way to make an op's
    changed rules count from now on (done by itself when an op class or instance is changed,
    registered or unregistered)."""
    for entry in RESULTS.values():
        entry.made.clear()
    RESULTS.clear()
    _KEPT[0] = 0
    _KEPT[1] += 1


def lookup(name: str) -> Op | None:
    """The op registered under ``name`` or an alias of it; None when there is none."""
    op = REGISTRY.get(name)
    if op is None and name in ALIASES:
        op = REGISTRY[ALIASES[name]]
    return op


def get(name: str) -> Op:
    """The op registered under ``name`` (or an alias); KeyError when there is none."""
    op = lookup(name)
    if op is None:
        raise KeyError(name)
    return op


def numel(shape: tuple) -> int:
    """The product of the sizes (1 for no sizes): exact ints, as ``n *= d`` from 1 gives."""
    return prod(shape)


def pair(v) -> tuple:
    return (v, v) if isinstance(v, int) else tuple(v)


def feature_map(op: str, x: tuple) -> tuple:
    if len(x) != 3:
        raise OpError(
            f"{op} needs a feature map [C, H, W], got the vector {list(x)}", "put it before `flatten` (or the first fc)"
        )
    return x


def window_out(size: int, k: int, s: int, p: int, d: int, ceil: bool, what: str, axis: str) -> int:
    """Output length of a sliding window (PyTorch's rule, including its ceil-mode clamp)."""
    span = d * (k - 1) + 1
    if size + 2 * p < span:
        raise OpError(
            f"{what} kernel {k} (span {span}) is larger than the padded input {axis}={size}+2*{p}",
            "use a smaller kernel, more padding, or a larger input",
            spatial=True,
        )
    num = size + 2 * p - span
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out
