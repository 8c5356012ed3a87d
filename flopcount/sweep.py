"""Sweeps: one model (or several) over every combination of input size, batch and variables.

``flopcount sweep efficientnet-b0 --set input=224:600:32 --set batch=1,8`` counts the model
once per combination and gives one row each: the swept values, the input, the batch, params,
MACs and both ratios to the first row. Keys:

* ``input`` (also ``res``, ``resolution``): the input size, as ``--input`` takes it (``224``,
  ``224x160``, ``3x224x224``); a bare size keeps the spec's channel count;
* ``batch``: the batch size;
* any variable the spec declares under ``vars:`` (values read as YAML, like ``--set``).

Values: a list ``1,8,64`` or a range ``START:STOP:STEP`` (``224:600:32`` is 224, 256, ...,
576; STOP is included when a step lands on it; STEP defaults to 1). The first ``--set``
varies slowest. Several models give the product of models and combinations.

Each spec file is read once; each combination of variables is expanded at its first two
inputs (no YAML is re-read) and replayed at each further one (only shapes and costs
recomputed, where the spec's layers do not depend on the input size: flopcount.spec.replay);
every batch shares its input's count.
``jobs > 1`` spreads the combinations over that many processes, in order: never more
processes than there are rows to count or cores to run them.

The sweep's size (values of one range, combinations, rows) is limited by
``FLOPCOUNT_MAX_SWEEP`` (default 1,000,000), checked before anything is counted; a value of
that variable that is not a whole number is a usage error (exit 2) naming it.
"""

from __future__ import annotations

import itertools
import os
import re

from .errors import FlopcountError, SpecError, UsageError
from .parsing import env_count, parse_input

INPUT_KEYS = ("input", "res", "resolution")
DEFAULT_MAX_SWEEP = 1_000_000


def max_sweep() -> int:
    """The limit on a sweep's values, combinations and rows: ``FLOPCOUNT_MAX_SWEEP``, read when
    a sweep is parsed (a bad value is an error then, not at import)."""
    return env_count("FLOPCOUNT_MAX_SWEEP", DEFAULT_MAX_SWEEP)


_RANGE = re.compile(r"^\s*(-?[0-9.]+)\s*:\s*(-?[0-9.]+)\s*(?::\s*(-?[0-9.]+)\s*)?$")


def parse_range(key: str, text: str) -> list | None:
    """``224:600:32`` -> [224, 256, ..., 576]; ``0.5:1.5:0.25`` -> floats; None if not a range."""
    m = _RANGE.match(text)
    if not m:
        return None
    raw = [m.group(1), m.group(2), m.group(3) or "1"]
    try:
        if all(re.fullmatch(r"-?\d+", r) for r in raw):
            start, stop, step = (int(r) for r in raw)
            scale = 1
        else:  # decimals: count in units of the finest decimal place given, so 0.1 steps stay exact
            places = max(len(r.partition(".")[2]) for r in raw)
            scale = 10**places
            start, stop, step = (round(float(r) * scale) for r in raw)
    except ValueError:
        raise UsageError(f"--set {key}={text}: a range is START:STOP[:STEP] with numbers, e.g. 224:600:32") from None
    if step <= 0:
        raise UsageError(
            f"--set {key}={text}: the step must be positive",
        )
    if stop < start:
        raise UsageError(f"--set {key}={text}: the range is empty (STOP < START)")
    count = (stop - start) // step + 1
    limit = max_sweep()
    if count > limit:
        raise UsageError(
            f"--set {key}={text}: {count:,} values, over the limit of {limit:,} "
            "(raise FLOPCOUNT_MAX_SWEEP if this is intended)"
        )
    values = range(start, stop + 1, step)
    return list(values) if scale == 1 else [v / scale for v in values]


def parse_values(key: str, text: str) -> list:
    """The values of one ``--set KEY=VALUES``: a range or a comma list, each item read as YAML."""
    values = parse_range(key, text)
    if values is not None:
        return values
    from .spec.expand import parse_override

    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UsageError(f"--set {key}={text}: expected a value, a list `1,8,64` or a range `224:600:32`")
    if key in INPUT_KEYS:
        return items  # sizes such as 224x160: read by the input parser
    return [parse_override(t) for t in items]


def parse_axis(text: str) -> tuple:
    """``"input=224:256:32"`` -> ``("input", [224, 256])``; ``"batch=1,8"`` -> ``("batch", [1, 8])``."""
    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise UsageError(f"--set {text[:60]!r}: expected KEY=VALUES, e.g. input=224:600:32 or batch=1,8,64")
    canon = "input" if key in INPUT_KEYS else key
    values = parse_values(key, value)
    if canon == "input":
        for v in values:
            try:
                parse_input(str(v))  # refused here, before anything is counted
            except UsageError as exc:  # (said as the user wrote it: --set input=..., not --input)
                why = str(exc).split(": ", 1)[-1]  # (what parse_input says of the text, past its name)
                raise UsageError(f"--set {key}={value[:60]}: {v!r} is no input size: {why}") from None
        values = [int(v) if re.fullmatch(r"[0-9]{1,20}", str(v)) else str(v) for v in values]
    elif canon == "batch":
        if any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**62 for v in values):
            raise UsageError(f"--set batch={value[:60]}: batch sizes must be whole numbers from 1 to 2**62")
    return (canon, values)


def check_axes(axes: list) -> list:
    """Parsed axes as a whole: no key twice, and at most :func:`max_sweep` combinations."""
    seen = set()
    for key, _ in axes:
        if key in seen:
            raise UsageError(f"--set {key}: given twice; list all its values in one --set (e.g. {key}=1,8,64)")
        seen.add(key)
    total = 1
    for _, values in axes:
        total *= len(values)
    limit = max_sweep()
    if total > limit:
        raise UsageError(
            f"the sweep has {total:,} combinations, over the limit of {limit:,} "
            "(raise FLOPCOUNT_MAX_SWEEP if this is intended)"
        )
    return axes


def parse_axes(pairs) -> list:
    """``["input=224:256:32", "batch=1,8"]`` -> ``[("input", [224, 256]), ("batch", [1, 8])]``."""
    return check_axes([parse_axis(text) for text in pairs or ()])


class _Model:
    """One model of the sweep: its spec read once, then counted per combination by
    flopcount.fastcost (at most two expansions per combination of variables, replayed at its
    further inputs; the batch applied to the kept sums)."""

    def __init__(self, target: str):
        from .fastcost import CostModel

        self.costs = CostModel(target)
        self.target = target
        self.variant = self.costs.variant
        self.spec = self.costs.spec
        self.input = self.costs.input
        self.vars = self.costs.vars

    def check_keys(self, axes) -> None:
        from .spec.document import did_you_mean

        for key, _ in axes:
            if key in ("input", "batch") or key in self.vars:
                continue
            allowed = ["input", "batch", *self.vars]
            raise UsageError(
                f"--set {key}: {self.target} declares no variable `{key}`; "
                + (did_you_mean(key, allowed) or f"sweepable keys: {', '.join(allowed)}")
            )

    def count(self, combo: dict) -> dict:
        from .api import no_gc

        with no_gc():
            return self._count(combo)

    def _count(self, combo: dict) -> dict:
        shape: tuple | None = self.input
        if "input" in combo:
            shape = self.shape(combo["input"])
        sets = {k: v for k, v in combo.items() if k not in ("input", "batch")}
        c = self.costs.cost(shape, combo.get("batch"), sets)
        return {"input": c.input, "batch": c.batch, "params": c.params, "macs": c.macs}

    def shape(self, value) -> tuple | None:
        if isinstance(value, tuple):  # --input, already parsed
            return value
        return parse_input(str(value))  # (None, H, W): the expansion takes the spec's channels


def _label(combo: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in combo.items())


_WORKER: dict = {}


def _work(task):
    """Count one (model, combination); errors come back as text (exceptions do not pickle well).
    A third item, the import roots of the sweeping process (:func:`_import_roots`), is set first:
    a process that did not fork from it (a spawned pool worker, a Ray worker) reads the spec
    with the same ``--import-root`` folders."""
    target, combo, *roots = task
    try:
        if roots:
            from .spec.document import set_import_roots

            set_import_roots(roots[0])
        model = _WORKER.get(target)
        if model is None:
            model = _WORKER[target] = _Model(target)
        return model.count(combo)
    except SpecError as exc:
        return {"error": "\n".join(d.format() for d in exc.diagnostics), "code": exc.exit_code}
    except FlopcountError as exc:
        return {"error": f"error: {exc}", "code": exc.exit_code}


def _ignore_sigint() -> None:
    """In a pool worker: leave SIGINT to the parent (one "interrupted" line, exit 130, no
    traceback from each worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SweepError(FlopcountError):
    """A combination failed; the message names it."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code


def workers(jobs: int, tasks: int) -> int:
    """How many processes ``--jobs jobs`` starts for ``tasks`` rows: never more than the rows,
    nor than the cores this process may run on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(jobs, tasks, cores))


BACKENDS = ("local", "ray")


def _import_roots() -> tuple:
    """The folders besides a spec's own that its imports may read here: FLOPCOUNT_IMPORT_ROOT's,
    then --import-root's (flopcount.spec.document.import_roots), for the workers to use too."""
    from .spec import document

    env = [p for p in os.environ.get(document.IMPORT_ROOT_ENV, "").split(os.pathsep) if p.strip()]
    return tuple(os.path.abspath(p) for p in (*env, *getattr(document, "_cli_import_roots", ())))


def sweep(
    targets, axes, jobs: int = 1, backend: str = "local", ray_address: str | None = None, fixed: dict | None = None
) -> list:
    """One row per (model, combination), in order: the combination's values, the model, input,
    batch, params, macs, and ``ratio_params`` / ``ratio_macs`` to the first row. ``backend``:
    ``local`` (this process, or ``jobs`` processes) or ``ray`` (chunks of combinations sent to
    the Ray cluster at ``ray_address``, or a local one; see :mod:`flopcount.sweep_ray`).
    ``fixed``: ``input`` (a parsed size, as --input gives it) and ``batch`` for every row
    (``sweep --input 320 --batch 8``); a key that is also swept is a usage error."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend}: pick one of {', '.join(BACKENDS)}")
    fixed = {k: v for k, v in (fixed or {}).items() if v is not None}
    for key, _ in axes:
        if key in fixed:
            raise UsageError(
                f"--{key} and --set {key}=... both give the {key}: list every value in --set {key}=... "
                f"(e.g. {key}={'224,320' if key == 'input' else '1,8'})"
            )
    rows_total = len(targets)
    for _, values in axes:
        rows_total *= len(values)
    limit = max_sweep()
    if rows_total > limit:  # before any spec is read or any row counted
        raise UsageError(
            f"the sweep has {rows_total:,} rows ({len(targets)} models x combinations), over the "
            f"limit of {limit:,} (raise FLOPCOUNT_MAX_SWEEP if this is intended)"
        )
    models = {t: _Model(t) for t in dict.fromkeys(targets)}
    for m in models.values():
        m.check_keys(axes)
    keys = [k for k, _ in axes]
    combos = [{**fixed, **dict(zip(keys, values))} for values in itertools.product(*(v for _, v in axes))]
    tasks: list = [(t, c) for t in targets for c in combos]
    procs = workers(jobs, len(tasks))
    roots = _import_roots() if backend == "ray" or procs > 1 else ()
    if roots:  # workers that read the spec again read its imports from the same folders
        tasks = [(t, c, roots) for t, c in tasks]
    from .progress import bar  # a bar with an ETA on stderr when it is a terminal (flopcount.progress)

    with bar(len(tasks), "sweep") as shown:
        if backend == "ray":
            from .sweep_ray import run_ray

            results = list(shown.each(run_ray(tasks, ray_address, jobs)))
        elif procs > 1:
            import multiprocessing

            _WORKER.update(models)  # forked workers start with the specs already read
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            chunk = max(1, len(tasks) // (procs * 8))
            # Ctrl-C reaches the whole process group: the workers ignore it, the parent stops them
            with ctx.Pool(procs, initializer=_ignore_sigint) as pool:
                results = list(shown.each(pool.imap(_work, tasks, chunksize=chunk)))
        else:
            _WORKER.update(models)
            results = [_work(t) for t in shown.each(tasks)]
    rows = []
    for (target, combo, *_), res in zip(tasks, results):
        if "error" in res:
            raise SweepError(f"{target} at {_label(combo) or 'its defaults'}:\n{res['error']}", res["code"])
        row = {"model": target, **{k: _cell(v) for k, v in combo.items() if k not in ("input", "batch")}}
        row.update(res)
        rows.append(row)
    for r in rows:
        base = rows[0]
        r["ratio_params"] = r["params"] / base["params"] if base["params"] else None
        r["ratio_macs"] = r["macs"] / base["macs"] if base["macs"] else None
    return rows


def _cell(value):
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def sweep_table(rows: list, axes, unit: str = "macs"):
    """The rows as one renderer-neutral Table (see render/model.py)."""
    from .render.model import Column, Table, shape_text

    scale = 2 if unit == "flops" else 1
    cost = "FLOPs" if unit == "flops" else "MACs"
    var_keys = [k for k, _ in axes if k not in ("input", "batch")]
    cols = (
        [Column("model", "model")]
        + [Column(k, k) for k in var_keys]
        + [
            Column("input", "input"),
            Column("batch", "batch", "int"),
            Column("params", "params", "int"),
            Column(cost, unit, "int"),
            Column("params ratio", "ratio_params", "ratio"),
            Column(f"{cost} ratio", "ratio_macs", "ratio"),
        ]
    )
    shown = [dict(r, input=shape_text(r["input"]), flops=r["macs"] * scale) for r in rows]
    swept = ", ".join(k for k, _ in axes) or "nothing"
    return Table(f"sweep over {swept}: {len(rows)} rows, ratios to the first row", cols, shown)


def sweep_json(rows: list, axes, unit: str = "macs") -> dict:
    out_rows = []
    for r in rows:
        row = dict(r)
        if unit == "flops":
            row["flops"] = 2 * r["macs"]
        out_rows.append(row)
    return {"schema": "flopcount.sweep/1", "axes": {k: list(v) for k, v in axes}, "rows": out_rows}
