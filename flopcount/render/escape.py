"""Escaping of user text (names, descriptions, notes, sources, paths) for each output.

A spec is untrusted input (flopcount runs on pull-request branches), so every piece of text
that came from it is escaped for the output it reaches. One function per output:

- :func:`visible` (alias :func:`terminal`): terminal text and stderr. Control characters
  (C0, DEL, C1, and the Unicode line separators and bidirectional overrides that reorder or
  hide text) are shown as ``\\x1b`` / ``\\u202e``; nothing else changes.
- :func:`markup`: text handed to rich where markup would be parsed: :func:`visible`, then
  every ``[`` escaped so rich prints it as written (``[/]`` no longer crashes, ``[conv9]``
  no longer vanishes). Prefer handing rich a ``Text`` or ``markup=False``.
- :func:`markdown_cell`: a GitHub-flavoured markdown table cell or list item: ``|``,
  ``\\``-newlines (shown as ``\\n``), and HTML ``& < >`` as entities.
- :func:`csv_cell`: a CSV text cell: a leading ``= + - @`` (or tab / CR, which spreadsheets
  strip before looking) gets a ``'`` in front so a spreadsheet does not run it as a formula.
- :func:`workflow_data` / :func:`workflow_property`: the data and property escaping of a
  GitHub Actions workflow command (``%25 %0D %0A``, plus ``%3A %2C`` in properties).
- :func:`no_workflow_commands`: any line that a GitHub runner would read as a workflow
  command (``::name ...::`` after leading blanks, or a legacy ``##[``) gets a ``\\`` in
  front, so no output line can start a command flopcount did not write.
- :func:`plot_label`: a matplotlib text label: :func:`visible`, and ``$`` escaped so
  mathtext never parses a name (``$\\frac$`` in a name no longer crashes ``plot``).

Pure functions of ``str``, no imports beyond ``re``: they sit on every output path.
"""

from __future__ import annotations

import re

__all__ = [
    "visible",
    "terminal",
    "markup",
    "markdown_cell",
    "markdown_text",
    "csv_cell",
    "workflow_data",
    "workflow_property",
    "no_workflow_commands",
    "terminal_block",
    "plot_label",
]

# C0 controls (newline and tab included: in a cell or a one-line message they would break
# the layout), DEL, C1 controls, and the Unicode characters that break or reorder a line
# without showing themselves: line/paragraph separators, bidi embeddings/overrides/isolates,
# zero-width joiners and marks, the BOM.
_CONTROL_CLASS = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\ufeff]"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_compiled: dict = {}


def _re(pattern: str, flags: int = 0) -> re.Pattern:
    """Compiled on first use: these sit on every output path, and most text never needs them."""
    key = (pattern, flags)
    rx = _compiled.get(key)
    if rx is None:
        rx = _compiled[key] = re.compile(pattern, flags)
    return rx


def _show(m: re.Match) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with every control or invisible layout character shown as an escape
    (``\\x1b``, ``\\n``, ``\\u202e``). Plain text comes back unchanged (the same object)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # no control, format or separator character: nothing to show (the fast path)
        return s
    return _re(_CONTROL_CLASS).sub(_show, s)


#: terminal text and stderr messages
terminal = visible


def markup(text: object) -> str:
    """Text for a rich call that parses markup: visible, and ``[`` / ``\\`` escaped so rich
    prints the characters as given."""
    s = visible(text)
    if "[" not in s and "\\" not in s:
        return s
    # rich reads ``\[`` as a literal ``[`` and ``\\`` before a ``[`` as one backslash; doubling
    # every backslash that precedes a ``[`` and escaping each ``[`` covers both
    return _re(r"(\\*)\[").sub(lambda m: m.group(1) * 2 + "\\[", s)


_MD_CELL = str.maketrans({"|": "\\|", "&": "&amp;", "<": "&lt;", ">": "&gt;"})


def markdown_cell(text: object) -> str:
    """A markdown table cell: control characters visible (a newline would end the row),
    ``|`` escaped, HTML ``& < >`` as entities."""
    return visible(text).translate(_MD_CELL)


_MD_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def markdown_text(text: object) -> str:
    """Markdown prose (a title, a note line): control characters visible, HTML as entities."""
    return visible(text).translate(_MD_TEXT)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# signed numbers as flopcount prints them (-5, +1,234, -0.25%, 1e-05) and a lone "-" (no value)
_NUMBER = r"[+-]?[0-9][0-9,]*(\.[0-9]+)?([eE][+-]?[0-9]+)?%?|-"


def csv_cell(value):
    """A CSV cell: text that a spreadsheet would run as a formula (leading ``= + - @``, or a
    tab / CR before one) gets a ``'`` in front. Numbers pass through unchanged (``-5`` and the
    text ``+1,234`` are numbers, not formulas); so does text that starts otherwise."""
    if isinstance(value, str) and value.startswith(_FORMULA) and not _re(_NUMBER).fullmatch(value):
        return "'" + value
    return value


def workflow_data(text: object) -> str:
    """The data (message) part of a GitHub Actions workflow command."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: object) -> str:
    """A property value (``file=``, ``title=``) of a GitHub Actions workflow command."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


_COMMAND_START = r"^([ \t\f\v]*)(?=::)"  # "::" after leading blanks (v2)


def no_workflow_commands(text: str) -> str:
    """``text`` with a ``\\`` put before every line that a GitHub runner would take for a
    workflow command (and ``##[`` broken as ``##\\[``). Apply it to user text, or to a
    whole output that holds no command of flopcount's own."""
    if "::" not in text and "##[" not in text:
        return text
    text = text.replace("##[", "##\\[")
    return _re(_COMMAND_START, re.MULTILINE).sub(lambda m: m.group(1) + "\\", text)


def terminal_block(text: str) -> str:
    """A message of several lines for the terminal or stderr (an error with its diagnostics):
    each line :func:`visible` (the line breaks are flopcount's own), and no line a workflow
    command (:func:`no_workflow_commands`)."""
    if not text.replace("\n", "").isprintable():
        text = "\n".join(visible(line) for line in text.split("\n"))
    return no_workflow_commands(text)


def plot_label(text: object) -> str:
    """A matplotlib label: visible, with ``$`` escaped so mathtext is never parsed."""
    return visible(text).replace("$", "\\$")
