"""Numbers for people: parsing published figures (``358M``, ``159Ki``, ``1.8G``) and formatting.

Counts stay exact Python ints everywhere else; this module is only used to read what a
paper printed and to print.
"""

from __future__ import annotations

from .errors import record_args, record_fields, record_repr

_tuple_new = tuple.__new__

SCALES = {
    "": 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
}
#: the units a figure may end with, the longest first (``Ki`` before ``K``)
_UNITS = sorted((u for u in SCALES if u), key=len, reverse=True)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # ASCII 0-9 only, at least one


def _figure_parts(text: str) -> tuple | None:
    """``(whole digits, fraction digits, unit)`` of ``358M``, ``2.7 K``, ``159Ki`` or a plain
    number (blanks allowed around the unit); None for anything else. String methods, no
    regular expression: this module is imported by every run, a compiled pattern would be too."""
    s = text.strip()
    unit = next((u for u in _UNITS if s.endswith(u)), "")
    if unit:
        s = s[: -len(unit)].rstrip()
    whole, dot, frac = s.partition(".")
    if not _digits(whole) or (dot and not _digits(frac)):
        return None
    return whole, frac, unit


class Figure(tuple):
    """A published number as printed: ``text``; its digits as an int, how many of them
    follow the decimal point, and the unit's scale. ``1.8G`` is (18, 1, 10**9). Exact integer
    arithmetic throughout (no float, no decimal module: it costs start-up time). A record
    (``text, digits, decimals, scale``), as :class:`flopcount.errors.Pos`: cheap to define at import."""

    __slots__ = ()

    def __new__(cls, text: str, digits: int, decimals: int, scale: int) -> Figure:
        return _tuple_new(cls, (text, digits, decimals, scale))

    _fields = record_fields(__new__)

    @property
    def text(self) -> str:
        return self[0]

    @property
    def digits(self) -> int:
        return self[1]

    @property
    def decimals(self) -> int:
        return self[2]

    @property
    def scale(self) -> int:
        return self[3]

    __repr__ = record_repr
    __getnewargs__ = record_args

    @property
    def value(self):
        """The number printed: an int when whole, else the nearest float (2.7Ki = 2764.8)."""
        num, den = self.digits * self.scale, 10**self.decimals
        return num // den if num % den == 0 else num / den

    def compare(self, ours: int) -> str:
        """``exact`` when equal, ``rounded`` when it is ours rounded half-up to the printed
        precision, ``differs`` otherwise."""
        den = 10**self.decimals
        if ours * den == self.digits * self.scale:
            return "exact"
        # round(ours / scale, decimals) half-up, as an integer count of 10**-decimals units
        rounded = (2 * ours * den + self.scale) // (2 * self.scale)
        return "rounded" if rounded == self.digits else "differs"


def parse_figure(value) -> Figure:
    """Read ``358M``, ``2.7K``, ``159Ki`` (K = 1024, as in the GoogLeNet paper) or a plain number."""
    if isinstance(value, bool):
        raise ValueError("a published figure must be a number, not true/false")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"`{value}` is negative: a published figure is a count")
        return Figure(str(value), value, 0, 1)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"`{value}` is not a finite number")
        value = repr(value)
    parts = _figure_parts(str(value)) if len(str(value)) <= 60 else None
    if parts is None:
        raise ValueError(f"`{str(value)[:40]}` is not a figure such as 358M, 2.7K, 159Ki or 1.8G")
    whole, frac, unit = parts
    return Figure(str(value).strip(), int(whole + frac), len(frac), SCALES[unit])


def human(n: int | float, digits: int = 3) -> str:
    """Short form for tables: 15.47G, 138.4M, 9.41K (decimal units)."""
    if n == 0:
        return "0"
    for suffix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{suffix}" if abs(n) / scale < 1000 else f"{n / scale:.0f}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
