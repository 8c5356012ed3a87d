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


class Diagnostic(NamedTuple):  # a NamedTuple: immutable, and cheap to define at import
    pos: Pos | None
    message: str
    hint: str | None = None

    def format(self) -> str:
        where = f"{self.pos}: " if self.pos is not None else ""
        text = f"{where}error: {self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text


class FlopcountError(Exception):
    exit_code = EXIT_INTERNAL


class SpecError(FlopcountError):
    """One or more problems in a spec file; ``diagnostics`` holds all of them."""

    exit_code = EXIT_SPEC

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @classmethod
    def at(cls, pos: Pos | None, message: str, hint: str | None = None) -> "SpecError":
        return cls([Diagnostic(pos, message, hint)])


class UsageError(FlopcountError):
    """Wrong command-line use: unknown config name, bad option value."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(FlopcountError):
    """Something the command needs is not installed or not available (torch, CUDA, ...)."""

    exit_code = EXIT_ENV
