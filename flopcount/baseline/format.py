"""The baseline file format (``flopcount.baseline/1``, and ``/2``): its records and its bytes.

``/2`` is ``/1`` plus entries of imported models: ``target`` (``torchvision:NAME``,
``timm:NAME`` or ``pkg.module:function``, a name, never a path) or ``onnx`` (an ONNX file,
relative to the baseline's folder, as ``spec``). A baseline is written as ``/1`` unless it
holds such an entry, so a file of built-ins and specs keeps its bytes; both are read.

:class:`Entry` is one model, :class:`Baseline` the file; :func:`dumps` gives the deterministic
text (sorted keys, models sorted by name, one layer per line, no timestamps). The limits that a
lock file read from a pull request must respect are here too, beside the format they bound.
"""

from __future__ import annotations

import os

from ..api import Report
from ..errors import SpecError

SCHEMA = "flopcount.baseline/1"
SCHEMA_IMPORTS = "flopcount.baseline/2"  # /1 plus `target` and `onnx` entries (imported models)
SCHEMAS = (SCHEMA, SCHEMA_IMPORTS)
SCOPE_ALL = "all-builtins"
FIELDS = ("params", "macs")  # what a baseline records per layer and in totals
REGENERATE = "flopcount snapshot --all -o costs.lock.json"

TOP_KEYS = ("schema", "counting_rules", "models", "scope")
MODEL_KEYS = ("name", "builtin", "spec", "variant", "pinned", "input", "batch", "budget", "totals", "layers")
MODEL_KEYS_IMPORTS = (*MODEL_KEYS, "target", "onnx")  # flopcount.baseline/2
SOURCES = ("builtin", "spec", "target", "onnx")  # where an entry's model comes from: exactly one
LAYER_KEYS = ("name", "params", "macs", "train_only")

# Limits on a lock file (it may come from a pull request). The format itself nests 5 deep
# (baseline > models > model > layers > layer); sizes and counts as the spec's own limits.
MAX_BYTES = 16 * 1024 * 1024  # as a spec file; FLOPCOUNT_MAX_LOCK_BYTES raises it
MAX_MODELS = 10_000  # FLOPCOUNT_MAX_LOCK_MODELS
MAX_LAYERS = 1_000_000  # all models together; FLOPCOUNT_MAX_LOCK_LAYERS
MAX_DEPTH = 32  # nesting of JSON arrays and objects (fixed: a baseline needs 5)
MAX_TEXT = 1024  # characters in a name, a variant, a budget figure
MAX_PATH = 4096  # characters in a spec path
MAX_DIGITS = 40  # digits of a whole number (a count of 10**40 is no model's)
MAX_SIZE = 2**62  # the largest input size or batch (the spec's limit too)


class BaselineError(SpecError):
    """A corrupt or hand-broken baseline: every problem with its file:line:col (exit 3)."""

    what = "the baseline"


class Record:
    """What ``@dataclass`` would give the records of this package, written once: equality field
    by field (records of one class only; unhashable, as a mutable dataclass) and a repr that
    names every field. Plain classes: creating a dataclass costs every `check` start-up about
    2 M instructions, and these are on its path. ``_FIELDS`` lists a class's fields in order."""

    _FIELDS: tuple = ()
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        for f in self._FIELDS:  # (as a tuple compares: the same object, or equal; the first difference ends it)
            a, b = getattr(self, f), getattr(other, f)
            if a is not b and a != b:
                return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._FIELDS)})"


class Entry(Record):
    """One model of a baseline."""

    _FIELDS: tuple = ("name", "builtin", "spec", "variant", "input", "batch", "totals", "layers")
    _FIELDS += ("pinned", "budget", "imported", "onnx")

    def __init__(
        self,
        name: str,
        builtin: str | None,  # a built-in config name, or None for a spec file
        spec: str | None,  # the spec file, relative to the baseline's folder ("/" separators)
        variant: str | None,
        input: list,
        batch: int,
        totals: dict,
        layers: list,  # dicts: name, params, macs (and train_only when true)
        pinned: dict | None = None,  # input / batch that snapshot was told ({} when None)
        budget: dict | None = None,  # as written: key -> int or figure text ({} when None)
        imported: str | None = None,  # `target`: torchvision:NAME, timm:NAME or pkg.module:function
        onnx: str | None = None,  # an ONNX file, relative to the baseline's folder ("/" separators)
    ):
        self.name = name
        self.builtin = builtin
        self.spec = spec
        self.variant = variant
        self.input = input
        self.batch = batch
        self.totals = totals
        self.layers = layers
        self.pinned: dict = {} if pinned is None else pinned
        self.budget: dict = {} if budget is None else budget
        self.imported = imported
        self.onnx = onnx

    @property
    def is_import(self) -> bool:
        """An imported model (``target`` or ``onnx``): the file is then ``flopcount.baseline/2``."""
        return self.imported is not None or self.onnx is not None

    def to_json(self) -> dict:
        out = {
            "name": self.name,
            "input": list(self.input),
            "batch": self.batch,
            "totals": dict(self.totals),
            "layers": self.layers,
        }
        if self.builtin is not None:
            out["builtin"] = self.builtin
        elif self.imported is not None:
            out["target"] = self.imported
        elif self.onnx is not None:
            out["onnx"] = self.onnx
        else:
            out["spec"] = self.spec
            out["variant"] = self.variant
        if self.pinned:
            out["pinned"] = self.pinned
        if self.budget:
            out["budget"] = self.budget
        return out

    def spec_path(self, folder: str) -> str:
        """The spec file of a spec entry (or the ONNX file of an ``onnx`` one), under ``folder``
        (the baseline's real folder)."""
        rel = self.spec if self.spec is not None else self.onnx
        assert rel is not None
        return os.path.join(folder, rel.replace("/", os.sep))

    @property
    def where(self) -> str:
        """The entry's source as the lock file writes it (a name or a relative path)."""
        return next(v for v in (self.builtin, self.imported, self.onnx, self.spec) if v is not None)

    def target(self, folder: str) -> str:
        """What `analyze` takes to recompute this model."""
        if self.builtin is not None:
            return self.builtin
        path = self.spec_path(folder)
        return f"{path}:{self.variant}" if self.variant is not None else path


class Baseline(Record):
    """A baseline file. ``path`` is the name the user gave; ``real`` the file it stands for
    once a symbolic link is followed: specs resolve against its folder (:attr:`folder`), and
    a rewrite replaces it (the link stays a link)."""

    _FIELDS = ("path", "counting_rules", "entries", "scope", "positions", "real", "text")

    def __init__(
        self,
        path: str,
        counting_rules: int,
        entries: list,
        scope: str | None = None,
        positions: dict | None = None,  # JSON path tuple -> Pos (filled lazily; {} when None)
        real: str | None = None,
        text: str | None = None,  # the text it was read from (None: not read from a file)
    ):
        self.path = path
        self.counting_rules = counting_rules
        self.entries = entries
        self.scope = scope
        self.positions: dict = {} if positions is None else positions
        self.real = real
        self.text = text

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(self.real or self.path))

    def to_json(self) -> dict:
        out = {
            "schema": SCHEMA_IMPORTS if any(e.is_import for e in self.entries) else SCHEMA,
            "counting_rules": self.counting_rules,
            "models": [e.to_json() for e in sorted(self.entries, key=lambda e: e.name)],
        }
        if self.scope:
            out["scope"] = self.scope
        return out


def entry_of(
    report: Report,
    builtin: bool,
    folder: str,
    pinned: dict | None = None,
    budget: dict | None = None,
    imported: str | None = None,
    onnx: str | None = None,
) -> Entry:
    """A baseline entry from a report: params and MACs of every layer, nothing measured. An
    imported model names its ``imported`` target, or its ``onnx`` file relative to ``folder``."""
    layers = []
    for r in [*report.rows, *report.train_rows]:
        row = {"name": r.name, "params": r.params, "macs": r.macs}
        if r.train_only:
            row["train_only"] = True
        layers.append(row)
    totals = report.totals
    return entry_from(
        report.model,
        report.spec,
        report.variant,
        report.input,
        report.batch,
        {k: totals[k] for k in FIELDS},
        layers,
        builtin,
        folder,
        pinned,
        budget,
        imported,
        onnx,
    )


def entry_from(
    model: str,
    spec_file: str,
    variant: str | None,
    input: tuple,
    batch: int,
    totals: dict,
    layers: list,
    builtin: bool,
    folder: str,
    pinned: dict | None = None,
    budget: dict | None = None,
    imported: str | None = None,
    onnx: str | None = None,
) -> Entry:
    """The entry :func:`entry_of` makes, from a report's name, spec file, variant, input and
    batch, its totals and its layers as the entry holds them (flopcount.baseline.check makes
    them from a graph's nodes, without a report)."""
    if builtin or imported is not None or onnx is not None:
        source, spec, variant = (model if builtin else None), None, None
    else:
        spec = os.path.relpath(os.path.abspath(spec_file), folder).replace(os.sep, "/")
        source = None
    return Entry(
        model,
        source,
        spec,
        variant,
        list(input),
        batch,
        totals,
        layers,
        dict(pinned or {}),
        dict(budget or {}),
        imported,
        None if onnx is None else os.path.relpath(os.path.abspath(onnx), folder).replace(os.sep, "/"),
    )


def dumps(baseline: Baseline) -> str:
    """Deterministic text: sorted keys, models sorted by name, one layer per line, no timestamps
    (objects of plain values, such as a layer or the totals, on one line). This layout is the
    file format (a diff of the lock file is the cost diff), so it has its own writer; the
    command outputs go through flopcount.render.jsonfmt."""
    return _dump(baseline.to_json(), 0) + "\n"


def _compact(value) -> str:
    import json  # (here: a check that writes no baseline never imports the json package)

    return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=True)


def _dump(value, depth: int, one_per_line: bool = False) -> str:
    import json

    pad = "  " * depth
    if isinstance(value, dict) and value and any(isinstance(v, (dict, list)) for v in value.values()):
        items = [f"{pad}  {json.dumps(k)}: {_dump(value[k], depth + 1, k == 'layers')}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and (one_per_line or any(isinstance(v, (dict, list)) for v in value)):
        dump = _compact if one_per_line else (lambda v: _dump(v, depth + 1))
        return "[\n" + ",\n".join(f"{pad}  {dump(v)}" for v in value) + f"\n{pad}]"
    return _compact(value)
