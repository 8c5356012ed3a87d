"""What moved between a baseline entry and the recomputed model: :class:`Change` records,
and the tolerance that decides what counts as a move (an exact :class:`~fractions.Fraction`;
the command line parses it, bounded: flopcount.cli_options.Tolerance)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..api import Report
from ..errors import Pos
from .format import FIELDS, Entry, Record

if TYPE_CHECKING:  # (a tolerance is a Fraction, or 0: `fractions` is imported only to parse one)
    from fractions import Fraction


class Change(Record):
    """One difference between a baseline and the recomputed costs."""

    _FIELDS = ("model", "layer", "field", "old", "new", "kind", "pos", "file", "reason")

    def __init__(
        self,
        model: str,
        layer: str,  # "(total)" for the model's totals, "-" for the model itself
        field: str,  # params | macs | input | batch | spec
        old: object,
        new: object,
        kind: str,  # changed | added | removed | gone | new model
        pos: Pos | None = None,  # the spec line to point at
        file: str | None = None,  # the spec file when no line is known
        reason: str | None = None,  # why a model is gone
    ):
        self.model = model
        self.layer = layer
        self.field = field
        self.old = old
        self.new = new
        self.kind = kind
        self.pos = pos
        self.file = file
        self.reason = reason

    @property
    def delta(self):
        """new - old; an added layer counts from 0, a removed one down to 0."""
        old = 0 if self.kind == "added" else self.old
        new = 0 if self.kind == "removed" else self.new
        return new - old if is_int(old) and is_int(new) else None

    @property
    def ratio(self) -> float | None:
        d = self.delta
        return d / self.old if d is not None and is_int(self.old) and self.old else None

    def to_json(self) -> dict:
        out = {
            "model": self.model,
            "layer": self.layer,
            "field": self.field,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "change": self.delta,
            "percent": pct(self.ratio),
        }
        where = self.pos.file if self.pos else self.file
        if where:
            out["file"] = where
        if self.pos:
            out["line"] = self.pos.line
        return out


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def pct(ratio: float | None) -> float | None:
    return None if ratio is None else round(100 * ratio, 4)


def tolerance_text(tolerance: Fraction | int) -> str:
    return f"{float(tolerance * 100):g}%"


def moved(old: int, new: int, tolerance: Fraction | int) -> bool:
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


def unmoved(old: Entry, new: Entry) -> bool:
    """Nothing moved from ``old`` to ``new``, whatever the tolerance (most models of most
    checks): :func:`diff` finds nothing, and reads no report."""
    return old.layers == new.layers and old.totals == new.totals and old.input == new.input and old.batch == new.batch


def diff(old: Entry, new: Entry, report: Report | None, tolerance: Fraction | int, layers: bool = True) -> list:
    """What moved from ``old`` to ``new``: totals, input and batch, then layer by layer."""
    if unmoved(old, new):
        return []
    out = []
    for key in ("input", "batch"):
        if getattr(old, key) != getattr(new, key):
            out.append(
                Change(
                    new.name,
                    "-",
                    key,
                    getattr(old, key),
                    getattr(new, key),
                    "changed",
                    file=report.spec if report else None,
                )
            )
    for key in FIELDS:
        if moved(old.totals[key], new.totals[key], tolerance):
            out.append(
                Change(
                    new.name,
                    "(total)",
                    key,
                    old.totals[key],
                    new.totals[key],
                    "changed",
                    file=report.spec if report else None,
                )
            )
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
        out.extend(
            Change(new.name, name, k, before[name][k], row[k], "changed", pos)
            for k in FIELDS
            if moved(before[name][k], row[k], tolerance)
        )
    for name, row in before.items():
        if name not in after:
            out.extend(
                Change(new.name, name, k, row[k], None, "removed", file=report.spec if report else None) for k in FIELDS
            )
    return out
