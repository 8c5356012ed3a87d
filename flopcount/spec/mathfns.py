"""The functions a spec expression may call: the scaling rules (:mod:`.scaling`) and a few of
mathematics' (``log``, ``log2``, ``pow``), for width rules such as RegNet's.

Exact where the inputs are whole numbers: ``log2(8)`` is the int 3, ``log(1000, 10)`` is the
int 3 (Python's ``math.log(1000, 10)`` is 2.9999999999999996, which ``floor`` would turn into
2), ``pow(2, 10)`` is the int 1024. Otherwise the result is a float, as Python computes it.
"""

from __future__ import annotations

import math

from .scaling import FUNCTIONS as _SCALING

#: the largest whole number ``pow`` builds (the expression evaluator's own cap)
_MAX_BITS = 256


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _exact_log(x: int, base: int):
    """``k`` when ``x == base ** k`` for a whole ``k >= 0``, else None."""
    k = 0
    while x > 1 and x % base == 0:
        x //= base
        k += 1
    return k if x == 1 else None


def log(x, base=None):
    """Natural logarithm, or the logarithm to ``base``; an int when both are whole and ``x`` is
    an exact power of ``base``."""
    if x <= 0:
        raise ValueError(f"log needs a positive number, got {x}")
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise ValueError(f"log's base must be positive and not 1, got {base}")
    if _is_int(x) and _is_int(base):
        k = _exact_log(x, base)
        if k is not None:
            return k
    return math.log(x, base)


def log2(x):
    """Logarithm to base 2; an int for an exact power of two."""
    if x <= 0:
        raise ValueError(f"log2 needs a positive number, got {x}")
    if _is_int(x) and x & (x - 1) == 0:
        return x.bit_length() - 1
    return math.log2(x)


def power(x, y):
    """``x ** y``: an int for whole ``x`` and whole ``y >= 0`` (at most 256 bits), else a float."""
    if _is_int(x) and _is_int(y) and y >= 0:
        if y * max(1, abs(x).bit_length()) > _MAX_BITS:
            raise ValueError(f"{x} ** {y} is over {_MAX_BITS} bits")
        return x**y
    if abs(y) > 1024:
        raise ValueError(f"exponent {y} is too large")
    if x < 0 and not float(y).is_integer():
        raise ValueError(f"{x} to the power {y} is not a real number")
    return float(x) ** y


#: The only functions a spec may call (names -> callables).
FUNCTIONS = {**_SCALING, "log": log, "log2": log2, "pow": power}
