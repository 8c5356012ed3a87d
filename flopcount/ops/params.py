"""One attribute an op accepts, and how it checks a value written in a spec.

A :class:`Param` is declared in an op's ``params`` and validates itself (:meth:`Param.check`):
its type, its range, finite numbers only (YAML's ``.nan`` and ``.inf`` are refused), and the
special words the op declares for it (``groups: in``, ``p: auto``). The expander knows no
attribute by name: it asks the op's ``Param``.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

#: the largest size or count an attribute, input dimension or batch may take
MAX_INT = 2**62
#: marks a parameter without default: the spec must give it
REQUIRED = object()
#: the kinds a Param may have (checked when an op registers)
KINDS = ("int", "pair", "bool", "number", "choice", "str")


class Param(NamedTuple):
    """One attribute an op accepts.

    ``kind``: ``int`` (a whole number >= ``min``), ``pair`` (an int or ``[h, w]``), ``bool``,
    ``str``, ``number`` (int or finite float), ``choice`` (one of ``choices``).
    ``min`` / ``max``: the inclusive range (``min`` defaults to 1 for ``int`` and ``pair``,
    unbounded for ``number``); ``open_max``: ``max`` itself is excluded (dropout's rate < 1).
    ``special``: words accepted as they are, which the op resolves in its ``normalize``
    (``groups: in`` of conv means "as many groups as input channels").
    """

    kind: str
    default: object = REQUIRED
    doc: str = ""
    min: object = None
    choices: tuple = ()
    max: object = None
    open_max: bool = False
    special: tuple = ()

    def check(self, key: str, value):
        """``(value, None)`` when ``value`` is acceptable (a ``[h, w]`` list for a pair stays a
        list; ``act: false`` reads as ``none``), else ``(None, (message, hint))``."""
        kind = self.kind
        cls = value.__class__
        if (
            cls is int
            and self.max is None
            and (kind == "int" or kind == "pair")
            and (1 if self.min is None else self.min) <= value <= MAX_INT
        ):
            return value, None  # the common case first: one test per layer attribute
        if cls is bool and kind == "bool":
            return value, None
        if cls is str and value in self.special:
            return value, None
        if kind == "int" or kind == "pair":
            if kind == "pair" and isinstance(value, list) and len(value) == 2:
                out = []
                for v in value:
                    v, problem = self._int(key, v)
                    if problem:
                        return None, problem
                    out.append(v)
                return out, None
            return self._int(key, value)
        if kind == "bool":
            if isinstance(value, bool):
                return value, None
            return None, (
                f"`{key}` must be true or false, got {_short(value)}",
                f"write `{key}: true` or `{key}: false`",
            )
        if kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return None, number_problem(key, value)
            if isinstance(value, float) and not math.isfinite(value):
                return None, (
                    f"`{key}` must be a finite number, got {value!r}",
                    f"write a number for `{key}`" + self._range_text(),
                )
            return self._in_range(key, value)
        if kind == "choice":
            if value is False and "none" in self.choices:
                return "none", None  # `act: no` / `act: false`
            if isinstance(value, str) and value in self.choices:
                return value, None
            if isinstance(value, bool):
                return None, (
                    (
                        f"`{key}` must be one of {', '.join(self.choices)}, but YAML read this value as "
                        "true (YAML 1.1 reads yes/on/true as booleans)"
                    ),
                    f"write one of {', '.join(self.choices)}",
                )
            from ..spec.document import did_you_mean

            return None, (
                f"`{key}: {_short(value)}` is not one of {', '.join(self.choices)}",
                did_you_mean(value, self.choices) or f"choose one of {', '.join(self.choices)}",
            )
        if kind == "str":
            return (str(value), None) if value is not None else (None, (f"`{key}` needs a value", None))
        raise AssertionError(f"unknown Param kind {kind!r}")  # pragma: no cover - refused at registration

    def _int(self, key, value):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and abs(value) < MAX_INT:
                return None, (
                    f"`{key}` must be a whole number, got the float {value!r}",
                    f"write `{key}: {int(value)}` (wrap expressions in int(...) or use //)",
                )
            if isinstance(value, float):
                return None, (
                    f"`{key}` must be a whole number, got {value!r}",
                    "round it, e.g. `${round(...)}` or use `//` for integer division",
                )
            if isinstance(value, str) and self.special:
                return None, (
                    f"`{key}` must be a whole number or {_words(self.special)}, got {_short(value)}",
                    f"write e.g. `{key}: {self.default if self.default is not REQUIRED else 1}`",
                )
            return None, number_problem(key, value)
        return self._in_range(key, value)

    def _in_range(self, key, value):
        lo = self.min if self.min is not None else (1 if self.kind in ("int", "pair") else None)
        if lo is not None and value < lo:
            what = "positive" if lo == 1 and self.kind != "number" else f">= {lo}"
            return None, (
                f"`{key}` must be {what}, got {value}",
                f"write a {what} `{key}`" + (self._range_text() if self.max is not None else ""),
            )
        hi = self.max
        if hi is not None and (value >= hi if self.open_max else value > hi):
            return None, (
                f"`{key}: {value}` is outside {self._range_text(bare=True)}",
                f"write a `{key}`" + self._range_text(),
            )
        if self.kind != "number" and value > MAX_INT:
            return None, (f"`{key}: {value}` is over the limit of 2**62", "use a realistic size")
        return value, None

    def _range_text(self, bare=False) -> str:
        lo = self.min if self.min is not None else (1 if self.kind in ("int", "pair") else None)
        if lo is None and self.max is None:
            return ""
        text = f"[{'-inf' if lo is None else lo}, {'inf' if self.max is None else self.max}" + (
            ")" if self.open_max else "]"
        )
        return text if bare else f" in {text}"

    def describe(self) -> str:
        """The ``flopcount ops`` line text of this parameter (its doc, range and special words)."""
        extra = []
        lo = self.min if self.min is not None else (1 if self.kind in ("int", "pair") else None)
        if self.max is not None:
            extra.append(f"range {self._range_text(bare=True)}")
        elif lo is not None and lo != 1:
            extra.append(f">= {lo}")
        words = [w for w in self.special if f"`{w}`" not in self.doc and w not in self.doc.split(":")[0]]
        if words:
            extra.append(f"or {_words(words)}")
        return self.doc + (f" ({'; '.join(extra)})" if extra else "")


def _words(words) -> str:
    return " or ".join(f"`{w}`" for w in words)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number_problem(key, value):
    """The message for a value that should be a number and is not (YAML's traps named)."""
    if isinstance(value, bool):
        return (
            (
                f"`{key}` must be a number, but YAML read this value as {str(value).lower()} "
                "(YAML 1.1 reads yes/no/on/off/true/false as booleans)"
            ),
            f"write a number for `{key}`",
        )
    if isinstance(value, str) and len(value) < 100 and re.fullmatch(r"[-+]?[0-9.]+[eE][-+]?[0-9]+", value.strip()):
        return (
            (
                f"`{key}: {value}` is a string: YAML 1.1 reads exponent numbers only with a dot "
                "(1.0e3), so `1e3` stays text"
            ),
            f"write `{key}: {_plain(value)}`",
        )
    return (f"`{key}` must be a number, got {_short(value)}", f"write a number for `{key}`")


def _plain(text):
    try:
        f = float(text)
        return str(int(f)) if f.is_integer() else str(f)
    except (ValueError, OverflowError):  # pragma: no cover
        return text


def check_int(key: str, value, minimum: int = 1):
    """A whole number in [minimum, 2**62] (input sizes, batch): ``(value, None)`` or ``(None, problem)``."""
    return Param("int", min=minimum).check(key, value)
