"""The public Python API: count a model, compare several, measure one, build it with torch.

>>> import flopcount
>>> flopcount.analyze("vgg-D").totals["macs"]
15470264320

Public (``flopcount.__all__``): :func:`analyze`, :func:`compare`, :func:`cost` (flopcount.fastcost),
:func:`measure`, :func:`build`
(flopcount.torch_build), :class:`Report` (``to_dict``, ``to_dataframe``, ``_repr_html_``),
:class:`Comparison`, ``FlopcountError`` and ``SpecError``. Everything else this module holds
(``load_graph``, ``report_of``, ``parse_sets``, ``no_gc``, ``compare_json``, the constants) is
internal: the CLI's and the other modules' entry points, which may change without notice.
The report model is flopcount.report; targets and built-ins are flopcount.catalog; output
formats are flopcount.render.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .catalog import builtin_configs, load_graph  # noqa: F401  (internal, for other modules)
from .errors import FlopcountError, SpecError, UsageError
from .parsing import MAX_SIZE
from .report import (  # noqa: F401  (all but Report internal, for other modules)
    COMPARE_SCHEMA,
    CONVENTIONS,
    COUNTING_RULES,
    FIELDS,
    REPORT_SCHEMA,
    Report,
    Row,
    Totals,
    report_of,
)
from .spec.expand import parse_override

if TYPE_CHECKING:
    from .fastcost import cost


def __getattr__(name: str):
    """``cost`` (issue 17 (M2): totals without rows, the fast path a search loop calls) is
    flopcount.fastcost's, imported on first use: a report, a compare or a check has no use for
    it (its import: 0.8 M instructions)."""
    if name == "cost":
        from .fastcost import cost

        return cost
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: the public names (the rest of this module is internal)
__all__ = ["analyze", "compare", "cost", "measure", "build", "Report", "Comparison", "FlopcountError", "SpecError"]


def parse_sets(pairs) -> dict:
    """Internal. ``["aux=true", "width=1.1"]`` -> ``{"aux": True, "width": 1.1}`` (values read as YAML)."""
    out = {}
    for text in pairs or ():
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {text!r}: expected KEY=VALUE")
        out[key.strip()] = parse_override(value)
    return out


class no_gc:
    """Internal. Pause the cyclic garbage collector for a block: an analysis makes many small objects
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


def _input(value):
    """``input=`` as the CLI's ``--input`` takes it: ``224``, ``"224x160"``, ``(224, 160)``,
    ``(3, 224, 224)``; None keeps the spec's."""
    from .parsing import parse_input

    if value is None:
        return None
    if isinstance(value, str):
        return parse_input(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_input(str(value))
    if isinstance(value, (tuple, list)) and 1 <= len(value) <= 3:
        dims = list(value)
        if all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in dims) and all(
            d is not None for d in dims[-2:]
        ):
            if dims[0] is None:  # (None, H, W): the spec's channels (what parse_input gives)
                return tuple(dims)
            return parse_input("x".join(str(d) for d in dims))
    raise UsageError(f"input={value!r}: expected a size (224), (H, W), (C, H, W) or text such as '3x224x224'")


def _batch(value):
    """``batch=`` as ``--batch`` takes it: a whole number from 1 to 2**62; None keeps the spec's."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE):
        raise UsageError(f"batch={value!r}: a batch is a whole number from 1 to 2**62")
    return value


def _sets(value):
    """``sets=``: a mapping ``{"width": 1.1}``, or ``["width=1.1"]`` as ``--set`` takes it."""
    if value is None:
        return None
    if isinstance(value, dict):
        return dict(value) or None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"sets={value!r}: a mapping such as {{'width': 1.1}}, or texts such as ['width=1.1']")
    return parse_sets(value) or None


def analyze(target, input=None, batch: int | None = None, sets=None, *, variant: str | None = None) -> Report:
    """Count one model; what ``flopcount report`` shows, as a :class:`Report`.

    ``target``: a built-in name (``"vgg-D"``), a spec path (``"my.yaml"``, ``"my.yaml:large"``, a
    ``pathlib.Path``),
    a spec as a mapping (``{"flopcount": 1, "input": [3, 32, 32], "layers": [...]}``) or a spec's
    YAML text. A mapping or text is checked exactly as a file is: a mistake raises
    :class:`SpecError` located at ``<dict>:LINE:COL`` (lines of ``yaml.safe_dump(spec,
    sort_keys=False)``) or ``<text>:LINE:COL``; ``variant=`` picks one of its variants.
    ``input``: ``224``, ``(224, 160)``, ``(3, 224, 224)`` or ``"3x224x224"``; ``batch``; ``sets``:
    ``{"width": 1.1}`` or ``["width=1.1"]``, like ``--set``. Errors are :class:`FlopcountError`
    (``exit_code`` is the CLI's: 2 usage, 3 spec)."""
    return _analyze(_target(target), _input(input), _batch(batch), _sets(sets), variant)


def _analyze(target, input_shape=None, batch=None, sets=None, variant=None) -> Report:
    """Internal (the CLI's, the baseline's): ``target`` a name, a path or a mapping, never read as
    YAML text; ``input_shape`` as ``--input`` parses it; ``sets`` a mapping."""
    with no_gc():
        return report_of(load_graph(target, input_shape, batch, sets, variant))


def _target(target):
    from .catalog import SpecText, is_yaml_text

    target = _path(target)
    return SpecText(target) if is_yaml_text(target) and not isinstance(target, SpecText) else target


def _path(target):
    """A ``pathlib.Path`` (any ``os.PathLike``) target as the spec path it names."""
    if isinstance(target, os.PathLike):
        got = os.fspath(target)
        return got if isinstance(got, str) else target  # (a bytes path: refused as not a model)
    return target


def build(target, *, input=None, batch: int | None = None, train_only: bool = False, device=None, **sets):
    """The ``torch.nn.Module`` of a model (flopcount.torch_build.build): ``target`` as
    :func:`analyze` takes it; ``input`` a ``(C, H, W)`` tuple; other keywords set variables
    (``--set``). Needs torch."""
    from .torch_build import build as build_module

    return build_module(
        _target(target), input=_input(input), batch=_batch(batch), train_only=train_only, device=device, **sets
    )


class Comparison(list):
    """The reports of :func:`compare`, in order (a list), with the comparison's ``to_dict()``
    (``flopcount.compare/1``, as ``flopcount compare --format json``), ``to_dataframe()`` (every
    layer of every model, a ``model`` column first) and an HTML view for notebooks."""

    def to_dict(self, collapse: bool = False, unit: str = "macs") -> dict:
        from .notebook import compare_dict

        if not self:
            raise UsageError("an empty Comparison has no JSON: it compares to its first model")
        return compare_dict(self, collapse, unit)

    def to_dataframe(self, collapse: bool = False, unit: str = "macs"):
        from .notebook import compare_frame

        return compare_frame(self, collapse, unit)

    def _repr_html_(self) -> str:
        from .notebook import compare_html

        return compare_html(self)


def compare(targets, input=None, batch: int | None = None, sets=None) -> Comparison:
    """Several models (each a target as :func:`analyze` takes it) at the same input, batch and
    ``sets``, as a :class:`Comparison`."""
    if isinstance(targets, (str, dict, os.PathLike)):
        raise UsageError("compare takes a list of models, e.g. compare(['vgg-D', 'resnet-50'])")
    targets = list(targets)
    if not targets:  # (its JSON compares to the first model: there must be one)
        raise UsageError("compare takes at least one model, e.g. compare(['vgg-D', 'resnet-50'])")
    return Comparison(analyze(t, input, batch, sets) for t in targets)


def _compare(targets, input_shape=None, batch=None, sets=None) -> Comparison:
    """Internal (the CLI's): as :func:`_analyze`, for several targets."""
    return Comparison(_analyze(t, input_shape, batch, sets) for t in targets)


def measure(target, *, device: str = "auto", dtype: str = "fp32", progress: bool = False, **options) -> Report:
    """Build the model with torch and time it (``--latency``): per-layer and end-to-end time in
    ``report.latency``, which ``to_dict()`` and the tables show. ``target``: a :class:`Report`
    (measured in place and returned) or anything :func:`analyze` takes. ``options``: the
    ``--latency`` settings by their Python names (``warmup_ms``, ``measure_ms``, ``max_ms``,
    ``runs``, ``threads``, ``channels_last``, ``cuda_graph``, ``flush_l2``). Needs torch
    (``EnvironmentProblem``, exit code 4, names the install command)."""
    from dataclasses import fields

    from .latency import Options, attach

    known = {f.name for f in fields(Options)} - {"device", "dtype", "progress"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"measure(): unknown option {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    report = target if isinstance(target, Report) else analyze(target)
    attach(report, Options(device=device, dtype=dtype, progress=progress, **options))
    return report


def compare_json(reports, collapse=False, unit="macs") -> dict:
    """``flopcount.compare/1`` (flopcount.render.jsondoc). Internal."""
    from .render.jsondoc import compare_json as build

    return build(reports, collapse, unit)
