"""The public façade: what the CLI and Python users call (analyze one model, compare several).
The report model is flopcount.report; targets and built-ins are flopcount.catalog; output
formats are flopcount.render.

>>> from flopcount import analyze
>>> analyze("vgg-D").totals["macs"]
15470264320
"""

from __future__ import annotations

from .catalog import builtin_configs, load_graph
from .errors import UsageError
from .report import COMPARE_SCHEMA, CONVENTIONS, COUNTING_RULES, FIELDS, REPORT_SCHEMA, Report, Row, Totals, report_of
from .spec.expand import parse_override

__all__ = [
    "analyze",
    "compare",
    "compare_json",
    "load_graph",
    "report_of",
    "parse_sets",
    "no_gc",
    "builtin_configs",
    "Report",
    "Row",
    "Totals",
    "CONVENTIONS",
    "COUNTING_RULES",
    "FIELDS",
    "REPORT_SCHEMA",
    "COMPARE_SCHEMA",
]


def parse_sets(pairs) -> dict:
    """``["aux=true", "width=1.1"]`` -> ``{"aux": True, "width": 1.1}`` (values read as YAML)."""
    out = {}
    for text in pairs or ():
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {text!r}: expected KEY=VALUE")
        out[key.strip()] = parse_override(value)
    return out


class no_gc:
    """Pause the cyclic garbage collector for a block: an analysis makes many small objects
    and almost no reference cycles, so the collector's passes are nearly pure cost (a quarter of
    the time at 10,000 layers). Reference counting still frees everything as usual."""

    def __enter__(self):
        import gc

        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            import gc

            gc.enable()


def analyze(target: str, input_shape=None, batch=None, sets=None) -> Report:
    """Count one model: a built-in name (``vgg-D``) or a spec path (``my.yaml`` / ``my.yaml:VARIANT``)."""
    with no_gc():
        return report_of(load_graph(target, input_shape, batch, sets))


def compare(targets, input_shape=None, batch=None, sets=None) -> list:
    return [analyze(t, input_shape, batch, sets) for t in targets]


def compare_json(reports, collapse=False, unit="macs") -> dict:
    """``flopcount.compare/1`` (flopcount.render.jsondoc)."""
    from .render.jsondoc import compare_json as build

    return build(reports, collapse, unit)
