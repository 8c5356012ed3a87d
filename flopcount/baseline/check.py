"""`flopcount check`: recompute every model of a baseline, compare, check budgets, and with
``--update`` rewrite the baseline. Nothing the user had is lost: a model whose spec (or
built-in) is gone is a failure that ``--update`` keeps, budget and all, unless ``--prune``.

Imported models (``target``, ``onnx``) are recounted through their importer, named by the
entry's key, never guessed from the text: an ONNX file is read as data; a torchvision/timm
name is looked up in its registry (a name it no longer has is "gone", as a deleted spec); a
``pkg.module:function`` runs only when the user trusts the lock's code (refused when the file
is read: flopcount.baseline.trust). torch, torchvision, timm or onnx missing: exit 4."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..api import COUNTING_RULES, Report, load_graph, no_gc, report_of
from ..api import _analyze as analyze  # a lock entry names a path or a built-in, never YAML text
from ..errors import Pos, UsageError, excerpt
from ..units import Figure, parse_figure
from .diff import Change, diff, pct, unmoved
from .format import SCOPE_ALL, Baseline, Entry, Record, dumps, entry_from, entry_of
from .read import load

if TYPE_CHECKING:  # (a tolerance is a Fraction, or 0: `fractions` is imported only to parse one)
    from fractions import Fraction

    from ..graph import Graph

CHECK_SCHEMA = "flopcount.check/1"
ANNOTATION_LIMIT = 50  # GitHub shows at most 10 error annotations per step and 50 per job


class Overrun(Record):
    """A budget exceeded: ``actual`` over ``limit`` (params, or MACs per sample)."""

    _FIELDS = ("model", "field", "limit", "actual", "source", "pos")

    def __init__(
        self,
        model: str,
        field: str,
        limit: Figure,
        actual: int,
        source: str,  # "spec" or "baseline"
        pos: Pos | None = None,
    ):
        self.model = model
        self.field = field
        self.limit = limit
        self.actual = actual
        self.source = source
        self.pos = pos

    @property
    def over(self):
        return _number(self.actual - self.limit.value)

    def to_json(self) -> dict:
        out = {
            "model": self.model,
            "field": self.field,
            "budget": self.limit.text,
            "limit": _number(self.limit.value),
            "actual": self.actual,
            "over": self.over,
            "percent": pct(float(self.over / self.limit.value)) if self.limit.value else None,
            "source": self.source,
        }
        if self.pos:
            out.update(file=self.pos.file, line=self.pos.line)
        return out


def _number(v):
    return int(v) if v == int(v) else float(v)


class CheckResult(Record):
    """What `flopcount check` found: the changes, the budgets exceeded, what was rewritten."""

    _FIELDS = ("path", "models", "tolerance", "changes", "overruns", "rules", "updated", "pruned")

    def __init__(
        self,
        path: str,
        models: int,
        tolerance: Fraction | int,
        changes: list | None = None,  # ([] when None)
        overruns: list | None = None,  # ([] when None)
        rules: tuple = (COUNTING_RULES, COUNTING_RULES),  # (baseline's, ours)
        updated: bool | None = None,  # None: no --update; False: nothing to write; True: rewritten
        pruned: bool = False,  # --prune: models that are gone were dropped (with --update)
    ):
        self.path = path
        self.models = models
        self.tolerance = tolerance
        self.changes: list = [] if changes is None else changes
        self.overruns: list = [] if overruns is None else overruns
        self.rules = rules
        self.updated = updated
        self.pruned = pruned

    @property
    def rules_differ(self) -> bool:
        return self.rules[0] != self.rules[1]

    @property
    def gone(self) -> list:
        """Names of the models whose spec or built-in is gone."""
        return [c.model for c in self.changes if c.kind == "gone"]

    @property
    def ok(self) -> bool:
        """Exit 0? With --update only budgets, and models that are gone (kept, not pruned), can
        still fail the check."""
        if self.overruns:
            return False
        if self.updated is None:
            return not (self.changes or self.rules_differ)
        return self.pruned or not self.gone

    def to_json(self) -> dict:
        return {
            "schema": CHECK_SCHEMA,
            "baseline": self.path,
            "ok": self.ok,
            "models": self.models,
            "tolerance": float(self.tolerance),
            "updated": self.updated,
            "counting_rules": {"baseline": self.rules[0], "current": self.rules[1]},
            "changes": [c.to_json() for c in self.changes],
            "budgets": [o.to_json() for o in self.overruns],
        }


def budget_overruns(entry: Entry, report: Report, baseline: Baseline, index: int) -> list:
    """Budgets of the spec (``budget:``) and of the baseline entry that the model exceeds."""
    sums = report.sums()
    spec_budget = report.graph.budget if report.graph is not None else {}
    return _overruns(entry, sums.params, sums.sample_macs, spec_budget, baseline, index)


def _overruns(entry: Entry, params: int, sample_macs: int, spec_budget: dict, baseline: Baseline, index: int) -> list:
    """:func:`budget_overruns` of a model of these params and MACs per sample (its report's
    sums) and these spec budgets (its graph's)."""
    actual = {"params": params, "macs": sample_macs}
    out = []
    for key, (fig, pos) in sorted(spec_budget.items()):
        if actual[key] > fig.value:
            out.append(Overrun(entry.name, key, fig, actual[key], "spec", pos))
    for key, text in sorted(entry.budget.items()):
        fig = parse_figure(text)
        if actual[key] > fig.value:
            out.append(
                Overrun(
                    entry.name,
                    key,
                    fig,
                    actual[key],
                    "baseline",
                    baseline.positions.get(("models", index, "budget", key)),
                )
            )
    return out


def _recount_import(entry: Entry, folder: str, lock: str) -> tuple[Report | None, str | None]:
    """An imported entry's report now, or None and why it is gone (its ONNX file deleted, a
    name its registry or module no longer has)."""
    from ..importers import ImportError_, imported_graph, kind_named, lock_kind
    from ..report import report_of

    if entry.onnx is not None:
        path = entry.spec_path(folder)
        if not os.path.isfile(path):
            return None, f"ONNX file {excerpt(entry.onnx)} is gone"
        kind, target = kind_named("onnx"), path
    else:
        named = lock_kind(str(entry.imported))
        assert named is not None  # validated when the file was read
        kind, target = named, str(entry.imported)
    pinned = entry.pinned
    try:
        graph = imported_graph(
            kind,
            target,
            tuple(pinned["input"]) if "input" in pinned else None,
            pinned.get("batch"),
            pinned.get("set"),
            typed=False,
        )
    except ImportError_ as exc:
        if exc.code == 2:  # names nothing any more (the model, the module or its function)
            return None, excerpt(exc.message, 200)
        raise ImportError_(f"{lock}: model `{excerpt(entry.name)}`: {exc.message}", exc.hint, exc.code) from None
    return report_of(graph), None


def _recount(entry: Entry, folder: str, builtins: set, lock: str = "") -> tuple[Graph | Report | None, str | None]:
    """The model now: a spec's graph (its report is made only where something moved), an
    imported model's report, or None and why it is gone. A `builtin` entry is looked up among
    the built-in names only (never read as a path)."""
    if entry.is_import:
        return _recount_import(entry, folder, lock)
    if entry.builtin is None:
        if not os.path.isfile(entry.spec_path(folder)):
            return None, f"spec file {excerpt(entry.spec)} is gone"
    elif entry.builtin not in builtins:
        return None, f"no built-in config is named `{excerpt(entry.builtin)}` any more"
    pinned = entry.pinned
    try:
        with no_gc():  # (as analyze)
            graph = load_graph(
                entry.target(folder),
                tuple(pinned["input"]) if "input" in pinned else None,
                pinned.get("batch"),
                pinned.get("set"),
            )
    except UsageError as exc:  # variant gone
        return None, excerpt(str(exc), 200)
    return graph, None


def _entry_of_graph(graph: Graph, builtin: bool, folder: str, pinned: dict, budget: dict) -> tuple[Entry, int, int]:
    """``entry_of(report_of(graph), builtin, folder, pinned, budget)``, and the params and MACs
    per sample of that report's sums (what budgets read), made from the graph's nodes as
    report_of makes its rows (the rows of the main path, then the training-only ones; MACs
    times the batch): no Row per node for a model that has not moved, most of a check (diff
    reads a report only when something moved). tests/test_check_r6_graph.py holds them equal."""
    b = graph.batch
    layers: list = []
    train: list = []
    params = macs = sample_macs = 0
    for n in graph.nodes:
        c = n.cost
        m = c.macs
        row_macs = m * b if b != 1 else m
        if n.train_only:
            train.append({"name": n.name, "params": c.params, "macs": row_macs, "train_only": True})
        else:
            layers.append({"name": n.name, "params": c.params, "macs": row_macs})
            params += c.params
            macs += row_macs
            sample_macs += m
    layers += train
    totals = {"params": params, "macs": macs}
    new = entry_from(
        graph.name, graph.source, graph.variant, graph.input, b, totals, layers, builtin, folder, pinned, budget
    )
    return new, params, sample_macs


def check(
    path: str,
    tolerance: Fraction | int = 0,
    update: bool = False,
    prune: bool = False,
    trust_code: bool | None = None,
) -> CheckResult:
    """Recompute every model of the baseline at ``path`` and compare; with ``update``, rewrite it
    (only when its bytes change) and report what was changed. A model that is gone stays in the
    rewritten baseline as it was (and fails the check) unless ``prune``. ``trust_code``: let
    ``pkg.module:function`` entries run (None: as ``--trust-code`` / FLOPCOUNT_TRUST_CODE say)."""
    from ..spec.document import reading_once

    with reading_once():  # entries that share a spec file (variants) read it once
        return _check(path, tolerance, update, prune, trust_code)


def _check(
    path: str, tolerance: Fraction | int, update: bool, prune: bool, trust_code: bool | None = None
) -> CheckResult:
    from ..spec.resolve import builtin_names
    from .write import write_baseline

    baseline = load(path, recount=True, trust_code=trust_code)
    result = CheckResult(
        path,
        len(baseline.entries),
        tolerance,
        rules=(baseline.counting_rules, COUNTING_RULES),
        pruned=bool(update and prune),
    )
    folder = baseline.folder
    # the built-in names (every built-in spec file read): only for a lock that names built-ins
    wanted = baseline.scope == SCOPE_ALL or any(e.builtin is not None for e in baseline.entries)
    names = builtin_names() if wanted else []
    builtins = set(names)
    new_entries = []
    layers = not result.rules_differ  # under other rules every number moves: totals only
    for index, entry in sorted(enumerate(baseline.entries), key=lambda p: p[1].name):
        got, gone = _recount(entry, folder, builtins, path)
        if got is None:
            where = entry.where
            result.changes.append(
                Change(
                    entry.name,
                    "-",
                    "spec",
                    where,
                    None,
                    "gone",
                    file=None if entry.builtin or entry.imported else entry.spec_path(folder),
                    reason=gone,
                )
            )
            if not prune:
                new_entries.append(entry)  # kept as it was, budget and all
            continue
        if isinstance(got, Report):  # an imported model's
            report: Report | None = got
            new = entry_of(got, entry.builtin is not None, folder, entry.pinned, entry.budget)
            sums = got.sums()
            params, sample_macs = sums.params, sums.sample_macs
            spec_budget = got.graph.budget if got.graph is not None else {}
        else:  # a spec's graph: its report made only where something moved
            report = None
            new, params, sample_macs = _entry_of_graph(
                got, entry.builtin is not None, folder, entry.pinned, entry.budget
            )
            spec_budget = got.budget
        if entry.is_import:  # the same target, the same ONNX path as written
            new.builtin, new.spec, new.variant = None, None, None
            new.imported, new.onnx = entry.imported, entry.onnx
        elif entry.builtin is None:  # keep the entry's own spelling of where the spec lives
            new.spec, new.variant = entry.spec, entry.variant
        new.name = entry.name
        if unmoved(entry, new):
            changes: list = []
        else:
            if not isinstance(got, Report):
                with no_gc():
                    report = report_of(got)
            changes = diff(entry, new, report, tolerance, layers)
        if entry.is_import:  # no spec file to point at: the ONNX file (or the lock file) instead
            for c in changes:
                c.pos, c.file = None, entry.spec_path(folder) if entry.onnx is not None else path
        result.changes.extend(changes)
        result.overruns.extend(_overruns(entry, params, sample_macs, spec_budget, baseline, index))
        new_entries.append(new)
    if baseline.scope == SCOPE_ALL:
        known = {e.builtin for e in baseline.entries if e.builtin is not None}
        for name in names:
            if name not in known and name not in {e.name for e in new_entries}:
                report = analyze(name)
                new = entry_of(report, True, folder)
                result.changes.append(Change(name, "-", "model", None, name, "new model", file=report.spec))
                new_entries.append(new)
    if update:
        fresh = Baseline(path, COUNTING_RULES, new_entries, baseline.scope, real=baseline.real)
        result.updated = write_baseline(fresh, dumps(fresh), was=baseline.text)
    return result
