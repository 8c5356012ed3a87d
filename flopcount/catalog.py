"""The catalog: what a target names (a built-in config such as ``vgg-D``, or a spec path with an
optional ``:VARIANT``), loading it into a graph, and the list of built-ins (``flopcount list``)."""

from __future__ import annotations

import os

from .errors import UsageError
from .graph import Graph
from .spec.document import did_you_mean, read_spec
from .spec.expand import expand
from .spec.resolve import resolve


def load_graph(target: str, input_shape=None, batch=None, sets=None) -> Graph:
    """Expand ``target`` (built-in name, or path[:variant]) at the given input, batch and --set values."""
    t = resolve(target)
    spec = read_spec(t.path)
    variant = t.variant
    names = spec.variant_names()
    if variant is None and names:
        variant = spec.default_variant
        if variant is None:
            raise UsageError(
                f"{t.display} has variants: pick one of "
                + ", ".join(f"{t.display}-{v}" if t.builtin else f"{t.display}:{v}" for v in names)
            )
    elif variant is not None and variant not in names:
        hint = did_you_mean(variant, names)
        what = f"variants: {', '.join(names)}" if names else "it has no variants"
        raise UsageError(
            f"unknown config `{t.display}`: {spec.name} has no variant `{variant}` ({what})"
            + (f"; {hint}" if hint else "")
        )
    graph = expand(spec, variant, input_shape, batch, sets)
    graph.name = t.display if t.builtin else graph.name
    return graph


def builtin_configs() -> list:
    """Every built-in config and variant at its default input, batch 1: name, description,
    input, params, MACs (the rows of ``flopcount list``)."""
    from .report import report_of
    from .spec.resolve import builtin_files

    rows = []
    for path in builtin_files():
        spec = read_spec(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        for v in spec.variant_names() or [None]:
            r = report_of(expand(spec, v))
            name = stem if v is None or v == spec.default_variant else f"{stem}-{v}"
            t = r.totals
            rows.append(
                {
                    "name": name,
                    "description": r.description,
                    "input": list(r.input),
                    "params": t["params"],
                    "macs": t["macs"],
                }
            )
    return rows
