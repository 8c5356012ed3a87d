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
disk and renamed over the old one, so a failed write leaves the previous file as it was.
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from json.decoder import scanstring

from .api import COUNTING_RULES, Report, analyze
from .errors import Diagnostic, EnvironmentProblem, Pos, SpecError, UsageError
from .spec.document import BUDGET_KEYS, did_you_mean
from .units import parse_figure

SCHEMA = "flopcount.baseline/1"
CHECK_SCHEMA = "flopcount.check/1"
SCOPE_ALL = "all-builtins"
FIELDS = ("params", "macs")  # what a baseline records per layer and in totals
ANNOTATION_LIMIT = 50  # GitHub shows at most 10 error annotations per step and 50 per job
REGENERATE = "flopcount snapshot --all -o costs.lock.json"

_TOP_KEYS = ("schema", "counting_rules", "models", "scope")
_MODEL_KEYS = ("name", "builtin", "spec", "variant", "pinned", "input", "batch", "budget", "totals", "layers")
_LAYER_KEYS = ("name", "params", "macs", "train_only")


class BaselineError(SpecError):
    """A corrupt or hand-broken baseline: every problem with its file:line:col (exit 3)."""

    what = "the baseline"


# --------------------------------------------------------------------------- the entries


@dataclass
class Entry:
    """One model of a baseline."""

    name: str
    builtin: str | None  # a built-in config name, or None for a spec file
    spec: str | None  # the spec file, relative to the baseline's folder ("/" separators)
    variant: str | None
    input: list
    batch: int
    totals: dict
    layers: list  # dicts: name, params, macs (and train_only when true)
    pinned: dict = field(default_factory=dict)  # input / batch that snapshot was told
    budget: dict = field(default_factory=dict)  # as written: key -> int or figure text

    def to_json(self) -> dict:
        out = {"name": self.name, "input": list(self.input), "batch": self.batch,
               "totals": dict(self.totals), "layers": self.layers}
        if self.builtin is not None:
            out["builtin"] = self.builtin
        else:
            out["spec"] = self.spec
            out["variant"] = self.variant
        if self.pinned:
            out["pinned"] = self.pinned
        if self.budget:
            out["budget"] = self.budget
        return out

    def target(self, folder: str) -> str:
        """What `analyze` takes to recompute this model."""
        if self.builtin is not None:
            return self.builtin
        path = os.path.join(folder, *self.spec.split("/"))
        return f"{path}:{self.variant}" if self.variant is not None else path


@dataclass
class Baseline:
    path: str
    counting_rules: int
    entries: list
    scope: str | None = None
    positions: dict = field(default_factory=dict)  # JSON path tuple -> Pos (filled lazily)

    @property
    def folder(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    def to_json(self) -> dict:
        out = {"schema": SCHEMA, "counting_rules": self.counting_rules,
               "models": [e.to_json() for e in sorted(self.entries, key=lambda e: e.name)]}
        if self.scope:
            out["scope"] = self.scope
        return out


def entry_of(report: Report, builtin: bool, folder: str, pinned: dict | None = None,
             budget: dict | None = None) -> Entry:
    """A baseline entry from a report: params and MACs of every layer, nothing measured."""
    layers = []
    for r in [*report.rows, *report.train_rows]:
        row = {"name": r.name, "params": r.params, "macs": r.macs}
        if r.train_only:
            row["train_only"] = True
        layers.append(row)
    totals = report.totals
    if builtin:
        source, spec, variant = report.model, None, None
    else:
        spec = os.path.relpath(os.path.abspath(report.spec), folder).replace(os.sep, "/")
        source, variant = None, report.variant
    return Entry(report.model, source, spec, variant, list(report.input), report.batch,
                 {k: totals[k] for k in FIELDS}, layers, dict(pinned or {}), dict(budget or {}))


# --------------------------------------------------------------------------- bytes


def dumps(baseline: Baseline) -> str:
    """Deterministic text: sorted keys, models sorted by name, one layer per line, no timestamps
    (objects of plain values, such as a layer or the totals, on one line)."""
    return _dump(baseline.to_json(), 0) + "\n"


def _compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=True)


def _dump(value, depth: int, one_per_line: bool = False) -> str:
    pad = "  " * depth
    if isinstance(value, dict) and value and any(isinstance(v, (dict, list)) for v in value.values()):
        items = [f"{pad}  {json.dumps(k)}: {_dump(value[k], depth + 1, k == 'layers')}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and (one_per_line or any(isinstance(v, (dict, list)) for v in value)):
        dump = _compact if one_per_line else (lambda v: _dump(v, depth + 1))
        return "[\n" + ",\n".join(f"{pad}  {dump(v)}" for v in value) + f"\n{pad}]"
    return _compact(value)


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename:
    the old file stays intact unless the new one is complete and on disk."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}; nothing was changed") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}; "
                                     "the previous file is unchanged") from None
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --------------------------------------------------------------------------- reading


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _offsets(text: str) -> tuple[dict, list]:
    """Offset of every value of a JSON text that ``json.loads`` accepted: path tuple -> offset,
    and the (path, offset) of every repeated key."""
    where: dict = {}
    repeated: list = []

    def skip(i):
        return _WS.match(text, i).end()

    def value(i, path):
        i = skip(i)
        where[path] = i
        c = text[i]
        if c in "{[":
            close, i, k = ("}" if c == "{" else "]"), skip(i + 1), 0
            seen = set()
            while text[i] != close:
                if c == "{":
                    start = skip(i)
                    key, i = scanstring(text, start + 1)
                    sub = path + (key,)
                    if key in seen:
                        repeated.append((sub, start))
                    seen.add(key)
                    i = skip(i) + 1  # the colon
                else:
                    sub, k = path + (k,), k + 1
                i = skip(value(i, sub))
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if c == '"':
            return scanstring(text, i + 1)[1]
        m = _NUMBER.match(text, i)
        if m:
            return m.end()
        for word in ("true", "false", "null"):
            if text.startswith(word, i):
                return i + len(word)
        raise ValueError(f"unexpected {c!r} at offset {i}")  # pragma: no cover - json.loads accepted it

    value(0, ())
    return where, repeated


def _pos_at(path: str, text: str, offset: int) -> Pos:
    line = text.count("\n", 0, offset) + 1
    return Pos(path, line, offset - text.rfind("\n", 0, offset))


def _no_constants(name):
    raise ValueError(f"{name} is not a count")


def load(path: str) -> Baseline:
    """Read and validate a baseline; every problem is reported with its file:line:col (exit 3)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise UsageError(f"no baseline at {path}; write one with `flopcount snapshot SPEC... -o {path}` "
                         f"(or `{REGENERATE}`)") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    hint = f"restore it from version control (`git checkout -- {path}`) or write a new one with `flopcount snapshot`"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BaselineError.at(Pos(path, line, exc.start - raw.rfind(b"\n", 0, exc.start)),
                           "the baseline is not UTF-8 text", hint) from None
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise BaselineError.at(Pos(path, exc.lineno, exc.colno), f"the baseline is not valid JSON: {exc.msg}",
                           hint) from None
    except ValueError as exc:  # NaN, Infinity
        raise BaselineError.at(Pos(path, 1, 1), f"the baseline is not valid JSON: {exc}", hint) from None
    offsets, repeated = _offsets(text)

    def pos(p) -> Pos:
        while p not in offsets:
            p = p[:-1]
        return _pos_at(path, text, offsets[p])

    problems: list = []
    for p, off in repeated:
        problems.append(Diagnostic(_pos_at(path, text, off), f"key `{p[-1]}` appears twice in one object",
                                   "keep one of them"))
    baseline = _validate(doc, path, pos, problems)
    if problems:
        raise BaselineError(sorted(problems, key=lambda d: (d.pos.line, d.pos.col)))
    baseline.positions = {p: pos(p) for p in offsets if len(p) >= 3 and p[0] == "models" and p[2] == "budget"}
    return baseline


def _validate(doc, path: str, pos, problems: list) -> Baseline | None:
    def bad(p, message, fix=None):
        problems.append(Diagnostic(pos(p), message, fix))

    def keys(obj, allowed, p, what):
        for k in obj:
            if k not in allowed:
                bad(p + (k,), f"unknown key `{k}` in {what}", did_you_mean(k, allowed) or
                    f"allowed keys: {', '.join(allowed)}")

    def count(v, p, what, minimum=0):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            bad(p, f"{what} must be an integer >= {minimum}, got {json.dumps(v)}")
            return False
        return True

    if not isinstance(doc, dict):
        bad((), "a baseline must be a JSON object with `schema`, `counting_rules` and `models`",
            "write a new one with `flopcount snapshot`")
        return None
    schema = doc.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("flopcount.baseline/"):
            bad(("schema",), f"baseline file format `{schema}` is not the one this flopcount reads ({SCHEMA})",
                f"write it anew: `rm {path}` then `flopcount snapshot ... -o {path}`")
        else:
            bad(("schema",) if "schema" in doc else (), f"this is not a flopcount baseline (schema {schema!r})",
                f"a baseline starts with \"schema\": \"{SCHEMA}\"; write one with `flopcount snapshot`")
        return None
    keys(doc, _TOP_KEYS, (), "the baseline")
    rules = doc.get("counting_rules")
    count(rules, ("counting_rules",), "`counting_rules`", 1)
    scope = doc.get("scope")
    if scope is not None and scope != SCOPE_ALL:
        bad(("scope",), f"`scope` must be \"{SCOPE_ALL}\" or absent, got {json.dumps(scope)}")
    models = doc.get("models")
    if not isinstance(models, list):
        bad(("models",) if "models" in doc else (), "`models` must be a list of models")
        return None
    entries, first = [], {}
    for i, m in enumerate(models):
        p = ("models", i)
        if not isinstance(m, dict):
            bad(p, f"models[{i}] must be an object")
            continue
        keys(m, _MODEL_KEYS, p, f"models[{i}]")
        ok = True
        name = m.get("name")
        if not isinstance(name, str) or not name:
            bad(p + ("name",), f"models[{i}] needs a `name` (text)")
            ok = False
        elif name in first:
            bad(p + ("name",), f"two models are named `{name}` (models[{first[name]}] and models[{i}])",
                "a name stands for one model: remove one entry, or give one spec another `name:` "
                "and snapshot it again")
            ok = False
        else:
            first[name] = i
        if ("builtin" in m) == ("spec" in m):
            bad(p, f"models[{i}] needs exactly one of `builtin` (a config name) and `spec` (a file path)")
            ok = False
        for k in ("builtin", "spec"):
            if k in m and (not isinstance(m[k], str) or not m[k]):
                bad(p + (k,), f"`{k}` must be text")
                ok = False
        if m.get("variant") is not None and not isinstance(m["variant"], str):
            bad(p + ("variant",), "`variant` must be text or null")
            ok = False
        shape = m.get("input", [1])
        if not isinstance(shape, list) or not shape or not all(count(d, p + ("input", j), "an input size", 1)
                                                                for j, d in enumerate(shape)):
            if not isinstance(shape, list) or not shape:
                bad(p + ("input",), "`input` must be a list of sizes such as [3, 224, 224]")
            ok = False
        ok &= count(m.get("batch", 1), p + ("batch",), "`batch`", 1)
        pinned = m.get("pinned", {})
        if not isinstance(pinned, dict):
            bad(p + ("pinned",), "`pinned` must be an object such as {\"batch\": 8}")
            ok = False
        else:
            keys(pinned, ("input", "batch"), p + ("pinned",), "`pinned`")
            if "batch" in pinned:
                ok &= count(pinned["batch"], p + ("pinned", "batch"), "`pinned.batch`", 1)
            if "input" in pinned and not (isinstance(pinned["input"], list) and pinned["input"] and all(
                    count(d, p + ("pinned", "input", j), "an input size", 1) for j, d in enumerate(pinned["input"]))):
                ok = False
        budget = m.get("budget", {})
        if not isinstance(budget, dict):
            bad(p + ("budget",), "`budget` must be an object such as {\"params\": \"140M\", \"macs\": \"16G\"}")
            ok = False
        else:
            keys(budget, BUDGET_KEYS, p + ("budget",), "`budget`")
            for k, v in budget.items():
                try:
                    if isinstance(v, float):
                        raise ValueError("write a whole number or a figure such as \"16G\"")
                    parse_figure(v)
                except ValueError as exc:
                    bad(p + ("budget", k), f"budget {k}: {exc}", "write e.g. \"140M\", \"16G\" or 5000000")
                    ok = False
        for k in ("input", "batch", "totals", "layers"):
            if k not in m:
                bad(p, f"models[{i}] (`{name}`) has no `{k}`", "write it anew with `flopcount snapshot`")
                ok = False
        totals = m.get("totals", {k: 0 for k in FIELDS})
        if not isinstance(totals, dict):
            bad(p + ("totals",), "`totals` must be an object with `params` and `macs`")
            ok = False
        else:
            keys(totals, FIELDS, p + ("totals",), "`totals`")
            for k in FIELDS:
                ok &= count(totals.get(k), p + ("totals", k) if k in totals else p + ("totals",), f"totals.{k}")
        layers = m.get("layers", [])
        if not isinstance(layers, list):
            bad(p + ("layers",), "`layers` must be a list of {name, params, macs}")
            ok = False
            layers = []
        for j, row in enumerate(layers):
            q = p + ("layers", j)
            if not isinstance(row, dict):
                bad(q, "a layer must be an object {\"name\", \"params\", \"macs\"}")
                ok = False
                continue
            keys(row, _LAYER_KEYS, q, "a layer")
            if not isinstance(row.get("name"), str):
                bad(q + ("name",) if "name" in row else q, "a layer needs a `name` (text)")
                ok = False
            for k in FIELDS:
                ok &= count(row.get(k), q + (k,) if k in row else q, f"layer {k}")
            if "train_only" in row and not isinstance(row["train_only"], bool):
                bad(q + ("train_only",), "`train_only` must be true or false")
                ok = False
        if ok:
            entries.append(Entry(name, m.get("builtin"), m.get("spec"), m.get("variant"), list(shape),
                                 m["batch"], {k: totals[k] for k in FIELDS},
                                 [dict(r) for r in layers], dict(pinned), dict(budget)))
    if problems:
        return None
    return Baseline(path, rules, entries, scope)


# --------------------------------------------------------------------------- comparing


@dataclass
class Change:
    """One difference between a baseline and the recomputed costs."""

    model: str
    layer: str  # "(total)" for the model's totals, "-" for the model itself
    field: str  # params | macs | input | batch | spec
    old: object
    new: object
    kind: str  # changed | added | removed | gone | new model
    pos: Pos | None = None  # the spec line to point at
    file: str | None = None  # the spec file when no line is known
    reason: str | None = None  # why a model is gone

    @property
    def delta(self):
        """new - old; an added layer counts from 0, a removed one down to 0."""
        old = 0 if self.kind == "added" else self.old
        new = 0 if self.kind == "removed" else self.new
        return new - old if _is_int(old) and _is_int(new) else None

    @property
    def ratio(self) -> float | None:
        d = self.delta
        return d / self.old if d is not None and _is_int(self.old) and self.old else None

    def to_json(self) -> dict:
        out = {"model": self.model, "layer": self.layer, "field": self.field, "kind": self.kind,
               "old": self.old, "new": self.new, "change": self.delta, "percent": _pct(self.ratio)}
        where = self.pos.file if self.pos else self.file
        if where:
            out["file"] = where
        if self.pos:
            out["line"] = self.pos.line
        return out


@dataclass
class Overrun:
    """A budget exceeded: ``actual`` over ``limit`` (params, or MACs per sample)."""

    model: str
    field: str
    limit: object  # a units.Figure
    actual: int
    source: str  # "spec" or "baseline"
    pos: Pos | None = None

    @property
    def over(self):
        return _number(self.actual - self.limit.value)

    def to_json(self) -> dict:
        out = {"model": self.model, "field": self.field, "budget": self.limit.text,
               "limit": _number(self.limit.value), "actual": self.actual, "over": self.over,
               "percent": _pct(float(self.over / self.limit.value)) if self.limit.value else None,
               "source": self.source}
        if self.pos:
            out.update(file=self.pos.file, line=self.pos.line)
        return out


@dataclass
class CheckResult:
    path: str
    models: int
    tolerance: Fraction
    changes: list = field(default_factory=list)
    overruns: list = field(default_factory=list)
    rules: tuple = (COUNTING_RULES, COUNTING_RULES)  # (baseline's, ours)
    updated: bool | None = None  # None: no --update; False: nothing to write; True: rewritten

    @property
    def rules_differ(self) -> bool:
        return self.rules[0] != self.rules[1]

    @property
    def ok(self) -> bool:
        """Exit 0? With --update only budgets can still fail the check."""
        if self.overruns:
            return False
        return self.updated is not None or not (self.changes or self.rules_differ)

    def to_json(self) -> dict:
        return {"schema": CHECK_SCHEMA, "baseline": self.path, "ok": self.ok, "models": self.models,
                "tolerance": float(self.tolerance), "updated": self.updated,
                "counting_rules": {"baseline": self.rules[0], "current": self.rules[1]},
                "changes": [c.to_json() for c in self.changes],
                "budgets": [o.to_json() for o in self.overruns]}


def tolerance_text(tolerance: Fraction) -> str:
    return f"{float(tolerance * 100):g}%"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v):
    return int(v) if v == int(v) else float(v)


def _pct(ratio: float | None) -> float | None:
    return None if ratio is None else round(100 * ratio, 4)


def parse_tolerance(text: str) -> Fraction:
    """``0``, ``0.01`` or ``1%``: how far (relative) a number may move and still pass."""
    t = str(text).strip()
    try:
        value = Fraction(t[:-1]) / 100 if t.endswith("%") else Fraction(t)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--tolerance {text!r}: expected a fraction such as 0.01, or a percentage such as 1%") \
            from None
    if value < 0:
        raise UsageError(f"--tolerance {text!r}: must not be negative")
    return value


def moved(old: int, new: int, tolerance: Fraction) -> bool:
    """Exact: is ``new`` further from ``old`` than ``tolerance`` (relative to ``old``)?"""
    if old == new:
        return False
    return abs(new - old) > tolerance * abs(old)


def _keyed(layers: list) -> dict:
    """Layer name -> layer; a repeated name gets ``#2``, ``#3`` (names are unique in practice)."""
    out: dict = {}
    for row in layers:
        name, n = row["name"], 1
        while name in out:
            n += 1
            name = f"{row['name']}#{n}"
        out[name] = row
    return out


def diff(old: Entry, new: Entry, report: Report | None, tolerance: Fraction, layers: bool = True) -> list:
    """What moved from ``old`` to ``new``: totals, input and batch, then layer by layer."""
    out = []
    for key in ("input", "batch"):
        if getattr(old, key) != getattr(new, key):
            out.append(Change(new.name, "-", key, getattr(old, key), getattr(new, key), "changed",
                              file=report.spec if report else None))
    for key in FIELDS:
        if moved(old.totals[key], new.totals[key], tolerance):
            out.append(Change(new.name, "(total)", key, old.totals[key], new.totals[key], "changed",
                              file=report.spec if report else None))
    if not layers:
        return out
    rows = [*report.rows, *report.train_rows] if report else []
    where = {name: r.pos for name, r in zip(_keyed([{"name": r.name} for r in rows]), rows)}
    before, after = _keyed(old.layers), _keyed(new.layers)
    for name, row in after.items():
        pos = where.get(name)
        if name not in before:
            out.extend(Change(new.name, name, k, None, row[k], "added", pos) for k in FIELDS)
            continue
        out.extend(Change(new.name, name, k, before[name][k], row[k], "changed", pos)
                   for k in FIELDS if moved(before[name][k], row[k], tolerance))
    for name, row in before.items():
        if name not in after:
            out.extend(Change(new.name, name, k, row[k], None, "removed",
                              file=report.spec if report else None) for k in FIELDS)
    return out


def budget_overruns(entry: Entry, report: Report, baseline: Baseline, index: int) -> list:
    """Budgets of the spec (``budget:``) and of the baseline entry that the model exceeds."""
    actual = {"params": report.totals["params"], "macs": report.totals["macs"] // report.batch}
    out = []
    spec_budget = report.graph.budget if report.graph is not None else {}
    for key, (fig, pos) in sorted(spec_budget.items()):
        if actual[key] > fig.value:
            out.append(Overrun(entry.name, key, fig, actual[key], "spec", pos))
    for key, text in sorted(entry.budget.items()):
        fig = parse_figure(text)
        if actual[key] > fig.value:
            out.append(Overrun(entry.name, key, fig, actual[key], "baseline",
                               baseline.positions.get(("models", index, "budget", key))))
    return out


def _recompute(entry: Entry, folder: str) -> tuple[Report | None, str | None]:
    """The model's report now, or None and why its spec is gone."""
    if entry.builtin is None:
        path = os.path.join(folder, *entry.spec.split("/"))
        if not os.path.isfile(path):
            return None, f"spec file {entry.spec} is gone"
    pinned = entry.pinned
    try:
        report = analyze(entry.target(folder), tuple(pinned["input"]) if "input" in pinned else None,
                         pinned.get("batch"))
    except UsageError as exc:  # unknown config, variant gone
        return None, str(exc)
    return report, None


def check(path: str, tolerance: Fraction = Fraction(0), update: bool = False) -> CheckResult:
    """Recompute every model of the baseline at ``path`` and compare; with ``update``, rewrite it
    (only when its bytes change) and report what was changed."""
    from .spec.resolve import builtin_names

    baseline = load(path)
    result = CheckResult(path, len(baseline.entries), tolerance, rules=(baseline.counting_rules, COUNTING_RULES))
    folder = baseline.folder
    new_entries = []
    layers = not result.rules_differ  # under other rules every number moves: totals only
    for i, entry in enumerate(sorted(baseline.entries, key=lambda e: e.name)):
        report, gone = _recompute(entry, folder)
        if report is None:
            where = entry.builtin or entry.spec
            result.changes.append(Change(entry.name, "-", "spec", where, None, "gone",
                                         file=None if entry.builtin else os.path.join(folder, entry.spec),
                                         reason=gone))
            continue
        new = entry_of(report, entry.builtin is not None, folder, entry.pinned, entry.budget)
        if entry.builtin is None:  # keep the entry's own spelling of where the spec lives
            new.spec, new.variant = entry.spec, entry.variant
        new.name = entry.name
        result.changes.extend(diff(entry, new, report, tolerance, layers))
        result.overruns.extend(budget_overruns(entry, report, baseline, baseline.entries.index(entry)))
        new_entries.append(new)
    if baseline.scope == SCOPE_ALL:
        known = {e.builtin for e in baseline.entries if e.builtin is not None}
        for name in builtin_names():
            if name not in known and name not in {e.name for e in new_entries}:
                report = analyze(name)
                new = entry_of(report, True, folder)
                result.changes.append(Change(name, "-", "model", None, name, "new model", file=report.spec))
                new_entries.append(new)
    if update:
        fresh = Baseline(path, COUNTING_RULES, new_entries, baseline.scope)
        text = dumps(fresh)
        with open(path, encoding="utf-8") as f:
            same = f.read() == text
        if not same:
            write_atomic(path, text)
        result.updated = not same
    return result


def snapshot(targets: list, path: str, all_builtins: bool = False, inputs: dict | None = None,
             batch: int | None = None) -> Baseline:
    """Measure ``targets`` (and every built-in with ``all_builtins``) and write the baseline at
    ``path``. Budgets written in an existing baseline are kept for the models it still holds."""
    from .spec.resolve import builtin_names, resolve

    budgets = {}
    if os.path.exists(path):
        try:
            budgets = {e.name: e.budget for e in load(path).entries if e.budget}
        except BaselineError as exc:
            exc.diagnostics.append(Diagnostic(None, f"{path} exists and is not a valid baseline: it was left as "
                                              "it is", "fix it, or move it away and snapshot again"))
            raise
    folder = os.path.dirname(os.path.abspath(path))
    names = list(targets) + [n for n in (builtin_names() if all_builtins else []) if n not in targets]
    entries, where = [], {}
    for target in names:
        t = resolve(target)
        shape = (inputs or {}).get(target)
        report = analyze(target, shape, batch)
        pinned = {}
        if shape is not None:
            pinned["input"] = list(report.input)
        if batch is not None:
            pinned["batch"] = batch
        entry = entry_of(report, t.builtin, folder, pinned, budgets.get(report.model))
        if entry.name in where:
            raise UsageError(f"two models are named `{entry.name}`: {where[entry.name]} and {target}; "
                             "one baseline holds each name once: give one spec another `name:` (or snapshot "
                             "them into separate files)")
        where[entry.name] = target
        entries.append(entry)
    baseline = Baseline(path, COUNTING_RULES, entries, SCOPE_ALL if all_builtins else None)
    write_atomic(path, dumps(baseline))
    return baseline
