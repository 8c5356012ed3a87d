"""Expand a spec into the costed graph: the public entry points of the expansion.

The expansion has three stages, one module each:

* :mod:`.binding`: the variables, input and batch of one variant and command line
  (``vars:``, variant values, ``--set``, ``--input``, ``--batch``).
* :mod:`.scopes`: the environments expressions are evaluated in, the interpolation of
  ``$name`` / ``${expr}`` with its text limits, and the rules for names in layer paths.
* :mod:`.walk`: the walk over layers, blocks, repeats, groups and merges, which checks each
  attribute with the op's own ``Param`` and makes one node per layer.

Attribute checking lives with the ops (:mod:`flopcount.ops.params`).
"""

from __future__ import annotations

import sys

from ..errors import Diagnostic, SpecError
from ..graph import Graph
from ..ops.base import MAX_INT, REGISTRY, RESERVED, lookup  # noqa: F401  (MAX_INT, RESERVED: public)
from .binding import bind, parse_override  # noqa: F401  (parse_override: public)
from .document import Spec, did_you_mean
from .walk import _INPUT, MAX_BLOCK_DEPTH, MAX_NODES, Ctx, Expander  # noqa: F401  (public limits)
from .yamlload import Map

#: the recursion limit while walking: the walk's own limits (MAX_NESTING lists, blocks
#: MAX_BLOCK_DEPTH deep, expression chains evaluated bottom-up) keep it well under this
_RECURSION = 20_000


def expand(spec: Spec, variant: str | None = None, input_shape=None, batch=None, sets=None) -> Graph:
    """Build the costed graph of ``spec`` (variant, input, batch and variable overrides applied)."""
    limit = sys.getrecursionlimit()
    if limit < _RECURSION:
        sys.setrecursionlimit(_RECURSION)
    try:
        return _expand(spec, variant, input_shape, batch, sets)
    finally:
        if limit < _RECURSION:
            sys.setrecursionlimit(limit)


def _expand(spec, variant, input_shape, batch, sets) -> Graph:
    data = spec.data
    b = bind(spec, variant, input_shape, batch, sets)
    errors = b.errors
    shape = b.shape
    name = spec.name if variant is None else f"{spec.name}-{variant}"
    graph = Graph(
        name=name,
        input=shape or (0,),
        description=b.description,
        source=spec.path,
        variant=variant,
        batch=b.batch,
        budget=spec.budget(variant),
        collapse=b.collapse,
    )
    ex = Expander(spec, graph, b.env, errors)
    ex.check_blocks()
    defaults = data.get("defaults") or {}
    if isinstance(defaults, Map):
        for op_name, attrs in defaults.items():
            impl = lookup(op_name)
            if impl is None:
                errors.append(
                    Diagnostic(
                        defaults.kpos[op_name],
                        f"`defaults` for unknown op `{op_name}`",
                        did_you_mean(op_name, REGISTRY) or "use an op name",
                    )
                )
            elif not isinstance(attrs, Map):
                errors.append(
                    Diagnostic(
                        defaults.at(op_name),
                        f"`defaults.{op_name}` must be a mapping",
                        "write e.g. `conv: {act: relu}`",
                    )
                )
        defaults = {impl.name: v for k, v in defaults.items() if (impl := lookup(k)) is not None and isinstance(v, Map)}
    if b.published is not None:
        ex.publish("", b.published, b.published_pos)
    ctx = Ctx("", b.env, None, None, False, defaults, ())
    layers = data.get("layers")
    if shape is not None and isinstance(layers, list):
        try:
            out = ex.seq(layers, data.at("layers"), (_INPUT, shape), ctx)
        except (RecursionError, MemoryError) as exc:  # a last resort: the limits above should act first
            what = "nests too deeply" if isinstance(exc, RecursionError) else "needs more memory than there is"
            raise SpecError(
                errors
                + [
                    Diagnostic(
                        ex.at or data.at("layers"),
                        f"the spec {what} to expand ({type(exc).__name__})",
                        "simplify the spec",
                    )
                ]
            ) from None
        graph.output = out[0]
    if errors:
        raise SpecError(errors)
    return graph
