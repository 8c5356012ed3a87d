"""Baselines of cost tables (``costs.lock.json``): write, read and validate, compare, update.

``flopcount snapshot`` writes one; ``flopcount check`` recomputes every model in it and
reports what moved. The file (``SCHEMA``), with keys sorted and one layer per line::

    {
      "counting_rules": 1,            # api.COUNTING_RULES when written
      "models": [                     # sorted by name; names are unique
        {
          "batch": 1,
          "budget": {"macs": "16G"},  # optional, written by hand; kept by --update
          "builtin": "vgg-D",         # a built-in config, by name; or instead
                                      # "spec": "nets/my.yaml" (relative to this file) + "variant"
          "input": [3, 224, 224],
          "layers": [
            {"macs": 86704128, "name": "conv1", "params": 1792},
            ...
          ],
          "name": "vgg-D",
          "pinned": {"batch": 8},     # optional: what snapshot was told (--input, --batch)
          "totals": {"macs": 15470264320, "params": 138357544}
        }
      ],
      "schema": "flopcount.baseline/1",
      "scope": "all-builtins"         # only from `snapshot --all`: new built-ins are reported
    }

Counts are exact integers: params, and MACs for the model's batch (``batch``); layers of
training-only side outputs carry ``"train_only": true`` and are not in ``totals``. Latency
never goes into a baseline. Budgets (here or as ``budget:`` in a spec) limit ``params`` and
per-sample ``macs``, written as figures (``140M``, ``16G``) or plain integers.

Nothing is lost: a baseline is written to a temporary file in the same folder, flushed to
disk and renamed over the old one, so a failed write leaves the previous file as it was;
`check --update` keeps a model whose spec is gone unless told `--prune`. A baseline reached
through a symbolic link is read and written through to its target, and its specs resolve
against the folder of that real file.

Modules, one role each: ``format`` (records, limits, bytes), ``read`` (parse and validate an
untrusted lock file), ``diff`` (what moved, tolerance), ``check`` (`flopcount check`), ``write``
(`flopcount snapshot`, the atomic rewrite). Display is flopcount.render.checkview.
"""

from __future__ import annotations

from .check import ANNOTATION_LIMIT, CHECK_SCHEMA, CheckResult, Overrun, budget_overruns, check
from .diff import Change, diff, is_int, moved, tolerance_text
from .format import FIELDS, REGENERATE, SCHEMA, SCOPE_ALL, Baseline, BaselineError, Entry, dumps, entry_of
from .read import _offsets, load
from .write import snapshot, write_baseline

_is_int = is_int  # the name checkview used

__all__ = [
    "ANNOTATION_LIMIT",
    "CHECK_SCHEMA",
    "FIELDS",
    "REGENERATE",
    "SCHEMA",
    "SCOPE_ALL",
    "Baseline",
    "BaselineError",
    "Change",
    "CheckResult",
    "Entry",
    "Overrun",
    "budget_overruns",
    "check",
    "diff",
    "dumps",
    "entry_of",
    "is_int",
    "load",
    "moved",
    "snapshot",
    "tolerance_text",
    "write_baseline",
    "_offsets",
]
