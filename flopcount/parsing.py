"""What users type outside a spec, parsed strictly and in bounded time: input sizes, whole
numbers, limits from environment variables. Shared by the command line and the sweep."""

from __future__ import annotations

import os

from .errors import UsageError

MAX_SIZE = 2**62  # the largest input size or batch (as in specs: flopcount.spec.expand.MAX_INT)
_MAX_DIGITS = 20  # 2**62 has 19 digits: a longer value is refused without converting it


def whole(text: str) -> int | None:
    """``"224"`` -> 224; None for anything but 1 to 20 ASCII digits (a longer run: -1)."""
    if not (text.isascii() and text.isdigit()):  # ASCII 0-9 only: isdigit() alone takes any script's digits
        return None
    return -1 if len(text) > _MAX_DIGITS else int(text)


def parse_input(text: str | None) -> tuple | None:
    """``224`` -> (None, 224, 224); ``224x160`` -> (None, 224, 160); ``3x224x224`` -> (3, 224, 224).
    None channels mean the spec's own (filled in by the expansion, which reads the spec's input)."""
    if text is None:
        return None
    shown = repr(text[:40])
    parts = text.strip().lower().replace(",", "x").split("x")
    if len(parts) > 3:
        raise UsageError(f"--input {shown}: expected 1 to 3 positive sizes, e.g. 224 or 3x224x224")
    dims: list = []
    for part in parts:
        n = whole(part.strip())
        if n is None:
            raise UsageError(f"--input {shown}: expected e.g. 224, 224x224 or 3x224x224 (ASCII digits)")
        dims.append(n)
    if any(d == -1 or d > MAX_SIZE for d in dims):
        raise UsageError(f"--input {shown}: each size must be at most 2**62 (the spec's limit too)")
    if any(d < 1 for d in dims):
        raise UsageError(f"--input {shown}: expected 1 to 3 positive sizes, e.g. 224 or 3x224x224")
    if len(dims) == 1:
        return (None, dims[0], dims[0])
    if len(dims) == 2:
        return (None, *dims)
    return tuple(dims)


def env_count(name: str, default: int, low: int = 1, high: int = MAX_SIZE) -> int:
    """A whole number from the environment variable ``name`` (``_`` separators allowed); a value
    that is not one in [low, high] is a usage error naming the variable (exit 2)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    n = whole(raw.strip().replace("_", ""))
    if n is None or n == -1 or not low <= n <= high:
        raise UsageError(
            f"{name}={raw[:40]!r}: expected a whole number from {low:,} to {high:,} "
            f"(default {default:,}); fix or unset the environment variable"
        )
    return n
