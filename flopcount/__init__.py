"""flopcount: exact MACs and parameters of convolutional networks, from a YAML spec.

The public API is ``__all__`` (see the README, "The Python API"):

* ``analyze(target, input=, batch=, sets=)``: one model's :class:`Report` (a built-in name, a spec
  path, a spec as a mapping, or a spec's YAML text);
* ``compare(targets, ...)``: a :class:`Comparison` (a list of reports);
* ``Report.to_dict()`` (the ``report --format json`` document), ``to_dataframe()`` (pandas),
  ``_repr_html_()`` (notebooks);
* the torch side: ``build(target, ...)`` (a ``torch.nn.Module``), ``measure(report, ...)``
  (``--latency``);
* ``cost(target, input=, batch=, sets=)``: the totals only, no rows (flopcount.fastcost: the
  fast path a search loop calls);
* ``FlopcountError`` (every error; ``exit_code`` is the CLI's) and ``SpecError`` (a spec's).

Every other module and name is internal. ``import flopcount`` stays cheap: the names load on
first use, and torch is imported only by ``build`` and ``measure``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "analyze",
    "compare",
    "cost",
    "measure",
    "build",
    "Report",
    "Comparison",
    "FlopcountError",
    "SpecError",
]

_FROM_API = ("analyze", "compare", "cost", "measure", "build", "Report", "Comparison")
_FROM_ERRORS = ("FlopcountError", "SpecError")


def __getattr__(name):  # lazy: `import flopcount` stays cheap; torch only when build/measure run
    if name in _FROM_API:
        from . import api

        return getattr(api, name)
    if name in _FROM_ERRORS:
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'flopcount' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
