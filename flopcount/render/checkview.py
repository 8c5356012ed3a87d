"""What `flopcount check` shows: the one-line summary, the tables of changes and budget
overruns (rendered as table or markdown by flopcount.render), and GitHub Actions annotations.
The baseline itself (format, reading, diffing) is flopcount.baseline.

Every name here came from a spec or a lock file (untrusted): the summary is escaped for the
terminal and can start no workflow command; annotations escape their data and properties as
GitHub's runner reads them (flopcount.render.escape)."""

import os

from ..baseline import ANNOTATION_LIMIT, CheckResult, tolerance_text
from ..baseline import is_int as _is_int
from ..errors import Pos
from .escape import no_workflow_commands, visible, workflow_data, workflow_property
from .model import Column, Table


def _num(v) -> str:
    if v is None:
        return "-"
    if _is_int(v):
        return f"{v:,}"
    if isinstance(v, list):
        return "x".join(str(d) for d in v)
    return str(v)


def _signed(v) -> str:
    return "" if v is None else f"{v:+,}"


def _percent(ratio: float | None, kind: str = "changed") -> str:
    if kind in ("added", "removed", "gone", "new model"):
        return kind
    if ratio is None:
        return ""
    p = 100 * ratio
    return f"{p:+.2f}%" if abs(p) >= 0.01 or p == 0 else f"{'+' if p > 0 else '-'}<0.01%"


def _where(pos: Pos | None, file: str | None = None) -> str:
    target = pos.file if pos else file
    if not target:
        return ""
    rel = os.path.relpath(target) if os.path.isabs(target) else target
    return f"{rel}:{pos.line}" if pos else rel


def summary(result: CheckResult) -> str:
    """The one-line verdict (escaped: it names the baseline as the user gave it)."""
    return no_workflow_commands(visible(_summary(result)))


def _summary(result: CheckResult) -> str:
    n = result.models
    models = f"{n} model{'s' * (n != 1)}"
    if result.rules_differ and result.updated is None:
        return (
            f"{result.path} was written under counting rules v{result.rules[0]}; this flopcount counts under "
            f"v{result.rules[1]}, so its numbers are not comparable. Regenerate it: "
            f"flopcount check {result.path} --update"
        )
    parts = []
    if result.updated is not None:
        parts.append(f"updated {result.path}" if result.updated else f"{result.path} already up to date")
        if result.rules_differ:
            parts.append(f"rewritten under counting rules v{result.rules[1]} (was v{result.rules[0]})")
    moved_models = len({c.model for c in result.changes})
    # (a built-in added since the baseline, under `scope: all-builtins`, is a model of the
    # check too: "1 change in 1 of 56 models", never "55 changes in 55 of 0 models")
    added = len({c.model for c in result.changes if c.kind == "new model"})
    if result.changes:
        total = n + added
        parts.append(
            f"{len(result.changes)} change{'s' * (len(result.changes) != 1)} in {moved_models} of "
            f"{total} model{'s' * (total != 1)}"
            + (f" (tolerance {tolerance_text(result.tolerance)})" if result.tolerance else "")
        )
        if added and result.updated is None:
            parts.append(
                f"{added} built-in model{'s' * (added != 1)} not in {result.path}: "
                f"`flopcount check {result.path} --update` adds {'them' if added != 1 else 'it'}"
            )
    elif result.updated is None:
        parts.append(
            f"{models} match {result.path}"
            + (f" within tolerance {tolerance_text(result.tolerance)}" if result.tolerance else " exactly")
        )
    gone = result.gone
    if gone and result.updated is not None:
        k = len(gone)
        if result.pruned:
            parts.append(f"{k} model{'s' * (k != 1)} whose spec is gone removed (--prune)")
        else:
            parts.append(
                f"{k} model{'s' * (k != 1)} whose spec is gone kept as {'they were' if k != 1 else 'it was'}"
                f": restore the spec, or remove {'them' if k != 1 else 'it'} with "
                f"`flopcount check {result.path} --update --prune`"
            )
    if result.overruns:
        parts.append(f"{len(result.overruns)} budget{'s' * (len(result.overruns) != 1)} exceeded")
    verdict = "ok" if result.ok else "FAILED"
    return f"flopcount check {verdict}: " + "; ".join(parts)


def _layer_counts(changes: list) -> list:
    """Per model with layer changes: how many layers changed, were added, were removed."""
    models: dict = {}
    for c in changes:
        m = models.setdefault(c.model, {"changed": set(), "added": set(), "removed": set(), "totals": False})
        if c.layer == "(total)":
            m["totals"] = True
        elif c.kind in ("changed", "added", "removed") and c.layer != "-":
            m[c.kind].add(c.layer)
    notes = []
    for name, m in models.items():
        if not (m["changed"] or m["added"] or m["removed"]):
            continue
        line = f"{name}: {len(m['changed'])} layers changed, {len(m['added'])} added, {len(m['removed'])} removed"
        if not m["totals"]:
            line += "; totals unchanged" + (" (layers renamed?)" if m["added"] and m["removed"] else "")
        notes.append(line)
    return notes


def tables(result: CheckResult, max_rows: int = 40) -> list:
    """The check as renderer-neutral tables: what changed (model-level rows and totals always,
    at most ``max_rows`` layer rows; 0: all), then budgets exceeded."""

    out = []
    if result.changes and not (result.rules_differ and result.updated is None):
        layer_rows = [c for c in result.changes if c.layer not in ("-", "(total)")]
        hidden = {id(c) for c in layer_rows[max_rows:]} if max_rows else set()
        # numbers are preformatted text (signed, "-" for none); the "pct" kind right-aligns text as it is
        cols = [
            Column("model", "model"),
            Column("layer", "layer"),
            Column("field", "field"),
            Column("old", "old", "pct"),
            Column("new", "new", "pct"),
            Column("change", "change", "pct"),
            Column("percent", "percent", "pct"),
            Column("where", "where"),
        ]
        rows = [
            {
                "model": c.model,
                "layer": c.layer,
                "field": c.field,
                "old": _num(c.old),
                "new": _num(c.new),
                "change": _signed(c.delta),
                "percent": _percent(c.ratio, c.kind),
                "where": c.reason or _where(c.pos, c.file),
            }
            for c in result.changes
            if id(c) not in hidden
        ]
        notes = []
        if hidden:
            notes.append(
                f"showing {max_rows} of {len(layer_rows):,} layer rows (--max-rows 0 shows all; "
                "--format json lists all)"
            )
            notes.extend(_layer_counts(result.changes))
        title = "changed (baseline updated)" if result.updated else "changed since the baseline"
        out.append(Table(title, cols, rows, notes=notes))
    if result.overruns:
        cols = [
            Column("model", "model"),
            Column("field", "field"),
            Column("budget", "budget"),
            Column("actual", "actual", "pct"),
            Column("over by", "over", "pct"),
            Column("percent", "percent", "pct"),
            Column("set in", "where"),
        ]
        rows = [
            {
                "model": o.model,
                "field": o.field + (" per sample" if o.field == "macs" else ""),
                "budget": o.limit.text,
                "actual": f"{o.actual:,}",
                "over": f"{o.over:+,}",
                "percent": _percent(float(o.over / o.limit.value) if o.limit.value else None),
                "where": _where(o.pos) or o.source,
            }
            for o in result.overruns
        ]
        out.append(Table("budgets exceeded", cols, rows))
    return out


def annotations(result: CheckResult, limit: int = ANNOTATION_LIMIT) -> list:
    """GitHub Actions workflow commands (``::error file=...,line=...::``), one per layer change
    or budget exceeded, at most ``limit`` of them and then one that counts the rest."""
    lines = []

    def emit(message, pos=None, file=None):
        target = pos.file if pos else file
        props = []
        if target:
            props.append(f"file={workflow_property(os.path.relpath(target) if os.path.isabs(target) else target)}")
        if pos:
            props.append(f"line={pos.line}")
        props.append("title=flopcount check")
        lines.append(f"::error {','.join(props)}::{workflow_data(visible(message))}")

    if result.rules_differ and result.updated is None:
        emit(_summary(result), file=result.path)
        return lines
    # the layers that moved carry the annotations; a model whose totals alone moved (its layers
    # as in the baseline: edited by hand) is annotated by its totals
    with_layers = {c.model for c in result.changes if c.layer != "(total)"}
    for c in result.changes:
        if c.layer == "(total)" and c.model in with_layers:
            continue
        if result.updated is not None and (c.kind != "gone" or result.pruned):
            continue  # accepted by --update: only a model kept because its spec is gone still fails
        what = f"{c.model} {c.layer}: " if c.layer != "-" else f"{c.model}: "
        if c.kind == "changed":
            what += f"{c.field} {_num(c.old)} -> {_num(c.new)} ({_signed(c.delta)}, {_percent(c.ratio)})"
        elif c.kind == "gone":
            what += (
                f"spec gone ({c.reason}); restore it, or remove the model with "
                f"flopcount check {result.path} --update --prune"
            )
        else:
            what += f"{c.kind} ({c.field} {_num(c.new if c.kind != 'removed' else c.old)})"
        emit(what, c.pos, c.file if c.kind != "gone" else result.path)
    for o in result.overruns:
        emit(
            f"{o.model}: {o.field} {o.actual:,} exceeds the budget {o.limit.text} by {o.over:+,}",
            o.pos,
            result.path if o.source == "baseline" else None,
        )
    if len(lines) > limit:
        rest = len(lines) - limit
        del lines[limit:]
        emit(f"{rest:,} more changes: run `flopcount check {result.path}` to see them all", file=result.path)
    return lines
