"""Writing baselines: `flopcount snapshot`, and the one place a baseline's bytes reach the disk.

A baseline reached through a symbolic link is written through to the link's target (resolved
once, when it is read or first named; the link stays a link), through
:func:`flopcount.fileio.write_atomic`: a temporary file in the same folder, flushed and renamed
over the old one, removed on any failure, SIGINT or SIGTERM. A folder, a FIFO, a device or a
socket as the target is refused before anything is measured (exit 4).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..api import COUNTING_RULES
from ..api import _analyze as analyze  # a name or a path, never YAML text
from ..errors import Diagnostic, UsageError, excerpt
from ..fileio import WriteError, refuse_read, write_atomic, write_target
from .format import SCOPE_ALL, Baseline, BaselineError, dumps, entry_of
from .read import ROOT_ENV, allowed_roots, inside, load, working_folder

if TYPE_CHECKING:
    from ..importers import TargetKind


def write_baseline(baseline: Baseline, text: str | None = None, was: str | None = None) -> bool:
    """Write ``baseline`` to its real file; when ``was`` (the text it was read from) is given,
    only if the bytes differ from it (the file is not read again). Returns whether it wrote."""
    text = dumps(baseline) if text is None else text
    real = baseline.real or write_target(baseline.path, "baseline")
    if was is not None and was == text:
        return False
    refuse_read(real, allow=("lock file",))  # `snapshot net.yaml -o net.yaml`: never the spec it counted
    write_atomic(real, text, shown=baseline.path)
    return True


def snapshot(
    targets: list,
    path: str,
    all_builtins: bool = False,
    inputs: dict | None = None,
    batch: int | None = None,
    sets: dict | None = None,
) -> Baseline:
    """Measure ``targets`` (and every built-in with ``all_builtins``) and write the baseline at
    ``path``. Budgets written in an existing baseline are kept for the models it still holds.
    An imported target (``torchvision:NAME``, ``timm:NAME``, ``pkg.module:function``, a
    ``.onnx`` file) becomes a ``target`` or ``onnx`` entry (flopcount.baseline/2)."""
    from ..importers import find_kind
    from ..spec.resolve import builtin_names, resolve

    if not os.path.isabs(path) or any(not os.path.isabs(t) for t in targets):
        working_folder()
    real = write_target(path, "baseline")  # refused before anything is measured
    budgets = {}
    if os.path.lexists(path):
        try:
            budgets = {e.name: e.budget for e in load(path).entries if e.budget}
        except BaselineError as exc:
            exc.diagnostics.append(
                Diagnostic(
                    None,
                    f"{path} exists and is not a valid baseline: it was left as it is",
                    "fix it, or move it away and snapshot again",
                )
            )
            raise
    folder = os.path.dirname(real)
    roots = None
    names = list(targets) + [n for n in (builtin_names() if all_builtins else []) if n not in targets]
    entries: list = []
    where: dict = {}
    for target in names:
        kind = find_kind(target)
        imported = _importable(kind, target, sets) if kind is not None else None
        t = resolve(target) if kind is None else None
        shape = (inputs or {}).get(target)
        report = analyze(target, shape, batch, sets or None)
        pinned: dict = {}
        if shape is not None:
            pinned["input"] = list(report.input)
        if batch is not None:
            pinned["batch"] = batch
        if sets:  # `snapshot --set`: recorded, so `check` counts the same model again
            pinned["set"] = dict(sets)
        onnx = target if kind is not None and kind.name == "onnx" else None
        file = onnx if t is None else None if t.builtin else report.spec
        if file is not None:  # `check` would refuse a file outside the baseline's folder tree: so does snapshot
            roots = roots or allowed_roots(real)
            if not inside(os.path.realpath(file), roots):
                raise UsageError(
                    f"{excerpt(target)} is outside the baseline's folder {folder}: `check` reads "
                    f"only specs inside it; write the baseline higher up, or allow the spec's "
                    f"folder with --import-root DIR or {ROOT_ENV}=DIR"
                )
        builtin = t is not None and t.builtin
        entry = entry_of(report, builtin, folder, pinned, budgets.get(report.model), imported, onnx)
        if entry.name in where:
            raise UsageError(
                f"two models are named `{excerpt(entry.name)}`: {excerpt(where[entry.name])} and "
                f"{excerpt(target)}; one baseline holds each name once: give one spec another "
                "`name:` (or snapshot them into separate files)"
            )
        where[entry.name] = target
        entries.append(entry)
    baseline = Baseline(path, COUNTING_RULES, entries, SCOPE_ALL if all_builtins else None, real=real)
    write_baseline(baseline)
    return baseline


def _importable(kind: TargetKind, target: str, sets: dict | None) -> str | None:
    """The `target` a lock file records for an imported model (None for an ONNX file: its
    path is recorded). Refused here what `check` would refuse to read back: a target whose
    text is not a plain name, or builder arguments that fetch weights."""
    from ..importers import CODE_KINDS, lock_kind, unsafe_argument
    from .trust import TRUST_ENV, TRUST_OPTION

    if kind.name == "onnx":
        return None
    if lock_kind(target) is not kind:
        raise UsageError(
            f"`{excerpt(target)}` cannot go into a baseline: a lock file names a model as "
            "torchvision:NAME, timm:NAME or pkg.module:function with ASCII names"
        )
    if kind.name in CODE_KINDS:
        import sys

        sys.stderr.write(
            f"note: `{excerpt(target)}` runs code: `flopcount check` recounts it only with "
            f"{TRUST_OPTION} (or {TRUST_ENV}=1)\n"
        )
    elif sets and unsafe_argument(sets):
        raise UsageError(
            f"`{excerpt(target)}` with --set: {unsafe_argument(sets)}; a baseline gives a torchvision "
            "or timm model only numbers and booleans, never weights"
        )
    return target


__all__ = ["WriteError", "snapshot", "write_baseline"]
