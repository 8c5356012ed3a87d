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

EXIT_OK = 0
EXIT_DIFF = 1
EXIT_USAGE = 2
EXIT_SPEC = 3
EXIT_ENV = 4
EXIT_INTERNAL = 5


# Records (Pos, Diagnostic, flopcount.units.Figure): tuples with named fields, written out as
# classes. As immutable as a NamedTuple, equal and hashed and pickled as one, with its repr; but
# typing.NamedTuple (as collections.namedtuple) compiles source text for each class it makes:
# 0.68 M instructions per class at an import every run pays, 0.12 M this way.

_tuple_new = tuple.__new__


def record_fields(new) -> tuple:
    """A record's field names: the arguments of its ``__new__`` after ``cls`` (named once)."""
    code = new.__code__
    return code.co_varnames[1 : code.co_argcount]


def record_repr(self) -> str:
    """``Pos(file='net.yaml', line=3, col=1, raw=None)``, as a NamedTuple's repr."""
    return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in zip(self._fields, self))})"


def record_args(self) -> tuple:
    """The fields, as ``__new__`` takes them again (what pickle and copy call a record with)."""
    return tuple(self)


class Pos(tuple):
    """Where a value was written: file, 1-based line and column, and its source text
    (``file, line, col, raw``: a record, see above)."""

    __slots__ = ()

    def __new__(cls, file: str, line: int, col: int, raw: str | None = None) -> Pos:
        return _tuple_new(cls, (file, line, col, raw))

    _fields = record_fields(__new__)

    @property
    def file(self) -> str:
        return self[0]

    @property
    def line(self) -> int:
        return self[1]

    @property
    def col(self) -> int:
        return self[2]

    @property
    def raw(self) -> str | None:
        return self[3]

    __repr__ = record_repr
    __getnewargs__ = record_args

    def __str__(self) -> str:
        return f"{self[0]}:{self[1]}:{self[2]}"


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


class Diagnostic(tuple):
    """One problem: where (a :class:`Pos`, or None), what, and how to fix it (``pos, message,
    hint``: a record, see :class:`Pos`)."""

    __slots__ = ()

    def __new__(cls, pos: Pos | None, message: str, hint: str | None = None) -> Diagnostic:
        return _tuple_new(cls, (pos, message, hint))

    _fields = record_fields(__new__)

    @property
    def pos(self) -> Pos | None:
        return self[0]

    @property
    def message(self) -> str:
        return self[1]

    @property
    def hint(self) -> str | None:
        return self[2]

    __repr__ = record_repr
    __getnewargs__ = record_args

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
