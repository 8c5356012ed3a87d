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


def expand(spec: Spec, variant: str | None = None, input_shape=None, batch=None, sets=None, *, binding=None) -> Graph:
    """Build the costed graph of ``spec`` (variant, input, batch and variable overrides applied).
    ``binding``: what ``bind(spec, variant, input_shape, batch, sets)`` gave, when the caller
    made it (flopcount.catalog reads it again)."""
    limit = sys.getrecursionlimit()
    if limit < _RECURSION:
        sys.setrecursionlimit(_RECURSION)
    try:
        return _expand(spec, variant, input_shape, batch, sets, binding)
    finally:
        if limit < _RECURSION:
            sys.setrecursionlimit(limit)


def _expand(spec, variant, input_shape, batch, sets, b=None) -> Graph:
    data = spec.data
    if b is None:
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
    ex.torch_padding = _padding(data, errors)
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
        _outputs(data, ex, graph, ctx, (_INPUT, shape))
    ex.finish()
    if errors:
        raise SpecError(errors)
    return graph


#: `padding:` values: `same` (conv `p` defaults to `auto`, the size kept at stride 1) and
#: `torch` (conv `p` defaults to 0, as torch.nn.Conv2d's does)
PADDING = ("same", "torch")


def _padding(data, errors) -> bool:
    value = data.get("padding", "same")
    if value in PADDING:
        return value == "torch"
    errors.append(
        Diagnostic(
            data.at("padding"),
            f"`padding` must be one of {', '.join(PADDING)}, got {value!r}",
            did_you_mean(value, PADDING) or "`torch`: conv padding 0 unless a layer sets `p`; `same`: `p: auto`",
        )
    )
    return False


def _outputs(data, ex, graph, ctx, x) -> None:
    """``outputs: [p2, p3]``: the model's outputs, by name (read after the walk, at the top scope).
    ``{name: aux, when: aux}`` lists an output only where its condition holds."""
    if "outputs" not in data:
        return
    raw = data["outputs"]
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if not names:
        ex.error(
            data.at("outputs"), f"`outputs` must be a list of layer names, got {raw!r}", "write `outputs: [p3, p4]`"
        )
        return
    ipos = getattr(raw, "ipos", None)
    out: list = []
    skipped = 0
    for i, ref in enumerate(names):
        pos = ipos[i] if ipos else data.at("outputs")
        if isinstance(ref, Map) and "name" in ref and set(ref) <= {"name", "when"}:
            if "when" in ref and not ex.condition(ref["when"], ref.at("when"), ctx, x):
                skipped += 1  # off (or the condition was reported)
                continue
            ref = ref["name"]
        if not isinstance(ref, str):
            ex.error(pos, f"an output must be a layer name, got {ref!r}", "write `outputs: [p3, p4]`")
            continue
        if ref in (o[0] for o in out):
            ex.error(pos, f"`{ref}` is listed twice in `outputs`", "list each output once")
            continue
        full = ex.find(ref, "")
        if full is None:
            ex.refs.append((pos, ref, "", "outputs"))
            continue
        if ex.ambiguous(full, pos, "outputs", ref):
            continue
        idx = ex.tensors[full][0]
        if idx >= 0 and graph.nodes[idx].train_only:
            ex.error(pos, f"`{ref}` is inside a training-only side output", "name a layer of the main path")
            continue
        out.append((full, idx))
    if out and len(out) + skipped == len(names):
        graph.outputs = out
        graph.output = out[0][1]
