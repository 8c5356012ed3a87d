"""Numbers for people: parsing published figures (``358M``, ``159Ki``, ``1.8G``) and formatting.

Counts stay exact Python ints everywhere else; this module is only used to read what a
paper printed and to print.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

SCALES = {
    "": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
}
_FIGURE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?)?\s*$")


class Figure(NamedTuple):  # a NamedTuple: immutable, and cheap to define at import
    """A published number as printed: ``text``, its value and the precision it was printed to."""

    text: str
    mantissa: Decimal
    scale: int

    @property
    def value(self) -> Decimal:
        return self.mantissa * self.scale

    def compare(self, ours: int) -> str:
        """``exact`` when equal, ``rounded`` when it is ours rounded to the printed precision,
        ``differs`` otherwise."""
        if self.value == ours:
            return "exact"
        step = Decimal(1).scaleb(self.mantissa.as_tuple().exponent)  # 1, 0.1, 0.01 ...
        ours_rounded = (Decimal(ours) / self.scale).quantize(step, rounding="ROUND_HALF_UP")
        return "rounded" if ours_rounded == self.mantissa else "differs"


def parse_figure(value) -> Figure:
    """Read ``358M``, ``2.7K``, ``159Ki`` (K = 1024, as in the GoogLeNet paper) or a plain int."""
    if isinstance(value, bool):
        raise ValueError("a published figure must be a number, not true/false")
    if isinstance(value, int):
        return Figure(str(value), Decimal(value), 1)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"`{value}` is not a finite number")
        text = repr(value)
        return Figure(text, Decimal(text), 1)
    m = _FIGURE.match(str(value)) if len(str(value)) <= 60 else None
    if not m:
        raise ValueError(f"`{str(value)[:40]}` is not a figure such as 358M, 2.7K, 159Ki or 1.8G")
    try:
        mant = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"`{value}` is not a number") from None
    return Figure(str(value).strip(), mant, SCALES[m.group(2) or ""])


def human(n: int | float, digits: int = 3) -> str:
    """Short form for tables: 15.47G, 138.4M, 9.41K (decimal units)."""
    if n == 0:
        return "0"
    for suffix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{suffix}" if abs(n) / scale < 1000 else f"{n / scale:.0f}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def grouped(n: int) -> str:
    return f"{n:,}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def ratio(a: int, b: int) -> str:
    """``a / b`` as ``3.15x``; ``-`` when b is zero."""
    return f"{a / b:.2f}x" if b else "-"
