"""Errors and exit codes: the contract between flopcount and its callers.

Exit codes (documented in the README):
  0  success
  1  a check found a difference (``check``, ``verify``)
  2  usage error: bad option, unknown config name
  3  invalid spec: every problem found in the file, each with file:line:col
  4  environment problem: torch, fvcore, matplotlib or CUDA missing
  5  internal error: a bug in flopcount (please report it)
"""

from __future__ import annotations

import os
from typing import NamedTuple

EXIT_OK = 0
EXIT_DIFF = 1
EXIT_USAGE = 2
EXIT_SPEC = 3
EXIT_ENV = 4
EXIT_INTERNAL = 5


class Pos(NamedTuple):
    """Where a value was written: file, 1-based line and column, and its source text."""

    file: str
    line: int
    col: int
    raw: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


#: An error quotes at most this many characters of any value the user wrote.
EXCERPT_CHARS = 60


def _max_errors() -> int:
    raw = os.environ.get("FLOPCOUNT_MAX_ERRORS", "")
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        return 20
    return value if value > 0 else 20


#: Errors shown for one failure; the rest are counted ("... and K more errors").
#: FLOPCOUNT_MAX_ERRORS raises it.
MAX_ERRORS = _max_errors()


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or code in (0x2028, 0x2029)
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
        or code == 0xFEFF
    )


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """A short, escaped excerpt of a value the user wrote, for an error message: control
    characters shown as escapes (never sent to the terminal), at most ``limit`` characters
    of the text, then ``...`` and the full length. Not a string: its repr, the same way."""
    if isinstance(value, str):
        if len(value) <= limit and value.isprintable():
            return value
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = (
            repr(value)
            if not isinstance(value, int) or value.bit_length() < 1000
            else f"<{value.bit_length()}-bit number>"
        )
    else:  # a list or mapping: never the repr of all of it
        import reprlib  # only on errors

        short = reprlib.Repr()
        short.maxstring = short.maxother = limit
        short.maxlevel = 3
        text = short.repr(value)
    head = text[:limit]
    out = "".join(_escape_char(c) if _unsafe(c) else c for c in head)
    if len(text) > limit:
        out += f"... ({len(text):,} characters)"
    return out


_MAX_MESSAGE_CHARS = 1000


def _safe(text: str) -> str:
    """The last line of defence for a message: one line, no control character, bounded."""
    text = str(text)
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + f"... ({len(text):,} characters)"
    if text.isprintable():
        return text
    return "".join(_escape_char(c) if _unsafe(c) else c for c in text)


class Diagnostic(NamedTuple):  # a NamedTuple: immutable, and cheap to define at import
    pos: Pos | None
    message: str
    hint: str | None = None

    def format(self) -> str:
        where = f"{_safe(str(self.pos))}: " if self.pos is not None else ""
        text = f"{where}error: {_safe(self.message)}"
        if self.hint:
            text += f"\n    fix: {_safe(self.hint)}"
        return text


class FlopcountError(Exception):
    exit_code = EXIT_INTERNAL


class SpecError(FlopcountError):
    """One or more problems in a spec file; ``diagnostics`` holds all of them."""

    exit_code = EXIT_SPEC

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(format_diagnostics(self.diagnostics))

    @classmethod
    def at(cls, pos: Pos | None, message: str, hint: str | None = None) -> SpecError:
        return cls([Diagnostic(pos, message, hint)])

    def report(self, what: str = "the spec") -> str:
        """The text for stderr: the first :data:`MAX_ERRORS` diagnostics, then how many more."""
        return format_diagnostics(self.diagnostics, what)


def format_diagnostics(diagnostics, what: str = "the spec", limit: int | None = None) -> str:
    """Diagnostics as text, capped: the first ``limit`` (:data:`MAX_ERRORS`), then
    ``... and K more errors``, then the total when there is more than one."""
    limit = MAX_ERRORS if limit is None else limit
    n = len(diagnostics)
    lines = [d.format() for d in diagnostics[:limit]]
    if n > limit:
        lines.append(f"... and {n - limit:,} more errors (set FLOPCOUNT_MAX_ERRORS to show more)")
    if n > 1:
        lines.append(f"{n:,} errors in {what}")
    return "\n".join(lines)


class UsageError(FlopcountError):
    """Wrong command-line use: unknown config name, bad option value."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(FlopcountError):
    """Something the command needs is not installed or not available (torch, CUDA, ...)."""

    exit_code = EXIT_ENV
