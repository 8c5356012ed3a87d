"""The catalog: what a target names (a built-in config such as ``vgg-D``, or a spec path with an
optional ``:VARIANT``), loading it into a graph, and the list of built-ins (``flopcount list``)."""

from __future__ import annotations

import os

from .errors import UsageError
from .graph import Graph
from .spec.binding import bind
from .spec.document import did_you_mean, read_spec
from .spec.expand import expand
from .spec.resolve import builtin_target, looks_like_path, resolve

#: where a spec given as a Python mapping or as YAML text is "located" in errors and reports
DICT_SOURCE = "<dict>"
TEXT_SOURCE = "<text>"


class SpecText(str):
    """A spec's YAML text given to the Python API (``analyze(text)``), told apart from a name or a
    path by its type: a command-line argument is never read as a spec, whatever it holds."""


def is_yaml_text(target) -> bool:
    """Whether a string the API was given is a spec's YAML text rather than a name or a path: it
    holds a line break, or is one flow mapping (``{flopcount: 1, ...}``). No file name has either."""
    return isinstance(target, str) and ("\n" in target or target.lstrip().startswith("{"))


def _plain(value, where: str):
    """A mapping given as a spec, as plain YAML values (tuples become lists); anything else
    (an object, a set, a non-text key) is refused as a file's wrong value would be."""
    from .errors import Pos, SpecError

    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise SpecError.at(Pos(DICT_SOURCE, 1, 1), f"{where}: the key {k!r} is not text", "use text keys")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise SpecError.at(
        Pos(DICT_SOURCE, 1, 1),
        f"{where} holds a Python {type(value).__name__}, which a spec cannot hold",
        "use numbers, text, true/false, lists and mappings (what YAML writes)",
    )


def _inline_spec(target):
    """(spec, display name) of a spec given as a mapping or as YAML text. The mapping is written
    out as YAML (keys in the given order) and read exactly as a file is, so it is checked the same
    way; errors are located at ``<dict>:LINE:COL`` of that YAML (``yaml.safe_dump(spec,
    sort_keys=False)``) or ``<text>:LINE:COL`` of the text. Imports resolve from the working folder."""
    if isinstance(target, dict):
        import yaml

        text = yaml.safe_dump(_plain(target, "spec"), sort_keys=False, allow_unicode=True)
        return read_spec(DICT_SOURCE, text=text)
    return read_spec(TEXT_SOURCE, text=str(target))  # a plain str: the C YAML reader takes no subclass


def load_graph(target, input_shape=None, batch=None, sets=None, variant: str | None = None) -> Graph:
    """Expand ``target`` at the given input, batch and --set values. ``target``: a built-in name
    (``vgg-D``), a spec path with an optional ``:VARIANT``, a spec as a mapping, or a spec's YAML
    text; ``variant`` picks a variant of a mapping or text spec."""
    if isinstance(target, (dict, SpecText)):
        spec = _inline_spec(target)
        return _expand_variant(
            spec, variant, DICT_SOURCE if isinstance(target, dict) else TEXT_SOURCE, False, input_shape, batch, sets
        )
    if not isinstance(target, str):
        raise UsageError(
            f"a model is a built-in name, a spec path, a mapping or YAML text, not a {type(target).__name__}"
        )
    if variant is not None:
        raise UsageError(
            f"name the variant in the target instead: `{target}:{variant}` (a spec file) or `NAME-{variant}`"
        )
    t = _builtin(target)
    if t is None:
        from .importers import find_kind, imported_graph  # L1 (issue 14): torchvision:, pkg.mod:fn, .onnx

        kind = find_kind(target)
        if kind is not None:
            return imported_graph(kind, target, input_shape, batch, sets)
        t = resolve(target)
    spec = read_spec(t.path)
    graph = _expand_variant(spec, t.variant, t.display, t.builtin, input_shape, batch, sets)
    graph.name = t.display if t.builtin else graph.name
    return graph


def _builtin(target: str):
    """The built-in config a target names (``vgg-D``), found without importing the importers
    (flopcount.importers and its kinds: a fifth of a table's start-up); None for anything else.
    No built-in name is an imported target: every target kind's name has a colon or ends in
    ``.onnx``, and no built-in's does (tests/test_cli.py checks each against find_kind)."""
    return None if looks_like_path(target) else builtin_target(target)


def _expand_variant(spec, variant, display: str, builtin: bool, input_shape, batch, sets) -> Graph:
    inline = display in (DICT_SOURCE, TEXT_SOURCE)

    def spelled(v: str) -> str:  # how the user names a variant: vgg-D, my.yaml:D, variant="D"
        return f'variant="{v}"' if inline else f"{display}-{v}" if builtin else f"{display}:{v}"

    names = spec.variant_names()
    if variant is None and names:
        variant = spec.default_variant
        if variant is None:
            raise UsageError(f"{display} has variants: pick one of " + ", ".join(spelled(v) for v in names))
    elif variant is not None and variant not in names:
        hint = did_you_mean(variant, names)
        what = f"variants: {', '.join(names)}" if names else "it has no variants"
        raise UsageError(
            f"unknown config `{display}`: {spec.name} has no variant `{variant}` ({what})"
            + (f"; {hint}" if hint else "")
        )
    b = bind(spec, variant, input_shape, batch, sets)
    graph = expand(spec, variant, input_shape, batch, sets, binding=b)
    graph.not_as_published = _not_as_published(spec, variant, graph, input_shape, sets, b)
    return graph


def _not_as_published(spec, variant, graph: Graph, input_shape, sets, b=None) -> list:
    """What makes this expansion another model than the spec's (the one its published figures
    describe): an --input other than the spec's, a --set to another value than the declared one.
    The batch is no such change: figures are compared per sample. ``b``: the expansion's
    binding (without --set values, the spec's own variables: its input is read from them)."""
    if input_shape is None and not sets:
        return []
    if sets or b is None:
        base = bind(spec, variant, None, None, None)  # no expansion: the spec's input and variables
        raw, shape = base.env.raw, base.shape
    else:
        raw, shape = b.env.raw, b.own_shape()
    out = []
    if input_shape is not None and shape is not None and tuple(graph.input) != tuple(shape):
        from .render.model import shape_text

        out.append(f"input changed ({shape_text(graph.input)}; the figures are for {shape_text(shape)})")
    for key, value in (sets or {}).items():
        if raw.get(key, object()) != value:
            out.append(f"--set {key}={str(value)[:40]}")
    return out


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
