"""YAML to plain Python values that remember where each value was written.

Only the parser of PyYAML's safe loader (libyaml) is used: its events are read once, in one
pass that enforces the limits and builds the values with their positions (no composed node
tree in between); nothing is ever constructed from a tag, so ``!!python/...`` cannot run code.
Scalars are typed here, by YAML 1.1's rules (which is what PyYAML implements: the safe
resolver's implicit patterns), and the traps of those rules are refused with an explanation
instead of silently read: ``010`` (octal 8), ``1:30`` (sexagesimal 90). Mappings become
:class:`Map` and sequences :class:`Seq`; both carry the position of every value they hold, so
any later error can point at file:line:col.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import yaml

from ..errors import Diagnostic, Pos, SpecError, excerpt

try:  # libyaml is much faster; positions are the same.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)


def env_limit(name: str, default: int) -> int:
    """A limit from the environment; a value that is not a positive whole number is ignored
    (with a warning), so a bad setting never turns into a traceback."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip().replace("_", ""))
        if value > 0:
            return value
    except ValueError:
        pass
    sys.stderr.write(f"warning: {name}={raw[:40]!r} is not a positive whole number; using {default}\n")
    return default


#: Limits that keep a hostile file from hanging or exhausting memory. Each can be raised
#: with the environment variable named beside it.
MAX_FILE_BYTES = env_limit("FLOPCOUNT_MAX_FILE_BYTES", 16 * 1024 * 1024)
MAX_YAML_NODES = env_limit("FLOPCOUNT_MAX_YAML_NODES", 100_000)  # counted while parsing, and after aliases
MAX_YAML_DEPTH = env_limit("FLOPCOUNT_MAX_YAML_DEPTH", 200)
#: Whatever FLOPCOUNT_MAX_YAML_DEPTH says: the values an alias repeats are checked with one
#: Python call per level (Python's recursion limit is 1000) and libyaml (PyYAML >= 6.0.4)
#: refuses 1000 levels itself.
YAML_DEPTH_CEILING = 500
MAX_YAML_TEXT = env_limit("FLOPCOUNT_MAX_YAML_TEXT", 8 * 1024 * 1024)  # characters of values, after aliases
MAX_SCALAR_CHARS = env_limit("FLOPCOUNT_MAX_SCALAR_CHARS", 10_000)  # one value (a description, a note)
MAX_NAME_CHARS = env_limit("FLOPCOUNT_MAX_NAME_CHARS", 200)  # one key or name

#: Whole numbers in a spec are at most this many bits (the expression evaluator's cap too).
MAX_INT_BITS = 256
_MAX_INT_CHARS = 300  # checked before int(): Python refuses to convert over 4300 digits

_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}
_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE = (_STD + t for t in ("str", "int", "float", "bool", "null", "merge"))


def _not_a_key(pos: Pos, tag: str | None) -> Diagnostic:
    """Why a mapping key is refused: a merge key (``<<``, or any key tagged ``!!merge``), or a
    collection or alias of one where a key must be a plain scalar."""
    if tag == _MERGE:
        return Diagnostic(
            pos, "YAML merge keys (`<<`) are not supported", "use `defaults:` or a block to share settings"
        )
    return Diagnostic(pos, "a mapping key must be a plain scalar", "write the key as a word, e.g. `name:`")


class Map(dict):
    """A mapping that knows the position of its own start, of each key and each value."""

    __slots__ = ("pos", "kpos", "vpos")
    pos: Pos  # declared for the type checker; set by the loader
    kpos: dict
    vpos: dict

    def at(self, key) -> Pos:
        return self.vpos.get(key, self.pos)


class Seq(list):
    """A sequence that knows its own position and that of each item."""

    __slots__ = ("pos", "ipos")
    pos: Pos  # declared for the type checker; set by the loader
    ipos: list

    def at(self, index: int) -> Pos:
        return self.ipos[index] if 0 <= index < len(self.ipos) else self.pos


_DEC_DIGITS = frozenset("0123456789_")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF_")
_OCT_DIGITS = frozenset("01234567_")
_BIN_DIGITS = frozenset("01_")


def _int_form(raw: str) -> str | None:
    """Which YAML 1.1 integer ``raw`` is written as: "dec", "hex", "bin", "oct" (tried in that
    order), or None (base 60). String methods for the patterns r"^[-+]?(0|[1-9][0-9_]*)$",
    r"^[-+]?0x[0-9a-fA-F_]+$", r"^[-+]?0b[0-1_]+$" and r"^[-+]?0[0-7_]+$" (``$`` also before
    one final line break), which cost every run more to compile than to match."""
    s = raw[:-1] if raw.endswith("\n") else raw
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0" or (s[:1] in _DEC_DIGITS and s[0] not in "0_" and _DEC_DIGITS.issuperset(s)):
        return "dec"
    if s[:2] == "0x" and len(s) > 2 and _HEX_DIGITS.issuperset(s[2:]):
        return "hex"
    if s[:2] == "0b" and len(s) > 2 and _BIN_DIGITS.issuperset(s[2:]):
        return "bin"
    if s[:1] == "0" and len(s) > 1 and _OCT_DIGITS.issuperset(s[1:]):
        return "oct"
    return None


def _tag_refused(pos: Pos, tag: str) -> Diagnostic:
    return Diagnostic(
        pos,
        f"the YAML tag `{excerpt(tag)}` is not allowed in a spec",
        "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only",
    )


def _bounded(value: int, raw: str, pos: Pos, errors: list) -> int:
    if value.bit_length() > MAX_INT_BITS:
        errors.append(
            Diagnostic(
                pos,
                f"`{raw[:20]}{'...' if len(raw) > 20 else ''}` is over 2**{MAX_INT_BITS}, the largest "
                "number flopcount reads",
                "write a realistic size",
            )
        )
        return 0
    return value


def _scalar(raw: str, tag: str, style: str | None, pos: Pos, errors: list) -> Any:
    """The value of a scalar written as ``raw`` whose tag is ``tag`` (resolved or explicit) in
    ``style`` ('' plain, a quote, | or >); a problem is appended to ``errors`` (and a stand-in
    value returned)."""
    if tag not in _ALLOWED_TAGS:  # before anything else: `!!python/name:os.system ''` is quoted
        errors.append(_tag_refused(pos, tag))
        return raw
    if style in ("'", '"', "|", ">"):
        return raw  # quoted: always a string, whatever it looks like
    if tag == _STR:
        return raw
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return raw.lower() in ("yes", "true", "on", "y")
    if tag == _INT:
        text = raw.replace("_", "")
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        if len(body) > _MAX_INT_CHARS:  # Python refuses int() of over 4300 digits: say so first
            errors.append(
                Diagnostic(
                    pos,
                    f"`{raw[:20]}...` is a whole number of {len(body):,} digits; flopcount reads "
                    f"numbers up to 2**{MAX_INT_BITS}",
                    "write a realistic size",
                )
            )
            return 0
        form = _int_form(raw)
        if form == "dec" or body == "0":
            return _bounded(sign * int(body), raw, pos, errors)
        if form == "hex":
            return _bounded(sign * int(body[2:], 16), raw, pos, errors)
        if form == "bin":
            return _bounded(sign * int(body[2:], 2), raw, pos, errors)
        if form == "oct":
            errors.append(
                Diagnostic(
                    pos,
                    f"`{excerpt(raw, 30)}` has a leading zero, which YAML 1.1 reads as an octal number "
                    f"({int(body, 8) * sign})",
                    f"write `{excerpt(int(body) * sign, 30)}` without the leading zero (or quote it if it is a name)",
                )
            )
            return int(body) * sign
        errors.append(
            Diagnostic(
                pos,
                f"`{excerpt(raw)}` is a base-60 number in YAML 1.1 (colons separate sexagesimal digits)",
                "quote it if it is text, or write the plain number",
            )
        )
        return raw
    if tag == _FLOAT:
        try:
            return float(
                raw.replace("_", "")
                .replace(".inf", "inf")
                .replace(".Inf", "inf")
                .replace(".INF", "inf")
                .replace(".nan", "nan")
                .replace(".NaN", "nan")
                .replace(".NAN", "nan")
            )
        except ValueError:
            return raw
    if tag == _STD + "timestamp":
        return raw
    errors.append(_tag_refused(pos, tag))
    return raw


def _resolve(value: str) -> str:
    """The tag PyYAML's resolver gives a scalar without a tag (or with ``!``) whose event says
    it may be resolved (``implicit[0]``: plain, or tagged ``!``): the first of the safe loader's
    implicit patterns (first character -> [(tag, pattern)], compiled when PyYAML is imported)
    for its first character, then those for any character, that matches; else str."""
    implicit = _Loader.yaml_implicit_resolvers
    for tag, regexp in implicit.get(value[:1], []) + implicit.get(None, []):
        if regexp.match(value):
            return tag
    return _STR


_CONTROL_NAMES = {
    0: "NUL",
    7: "BEL",
    8: "backspace",
    0x09: "tab",
    0x0A: "line feed",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x0D: "carriage return",
    0x1B: "ESC",
    0x7F: "DEL",
    0x85: "NEL",
    0x9B: "CSI",
}
#: In the file as written: C0 except tab, LF and CR (a line break), DEL, C1.
#: (Patterns as text: ``re`` compiles one when a text needs it, see :func:`_check_raw_text`.)
_RAW_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
#: its ASCII characters
_RAW_CONTROL_ASCII = tuple(chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))
#: In a string value (after YAML escapes such as "\e" or "\x00"): C0 except tab and LF, DEL, C1.
_SCALAR_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
#: In a key (a name): every C0 (tab and LF too), DEL, C1.
_KEY_CONTROL = "[\x00-\x1f\x7f-\x9f]"


def _char_name(ch: str) -> str:
    code = ord(ch)
    name = _CONTROL_NAMES.get(code, "C0 control" if code < 0x20 else "C1 control")
    return f"U+{code:04X} ({name})"


def _line_col(text: str, index: int) -> tuple:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _check_raw_text(text: str, file: str) -> None:
    """A control character written into the file itself (a NUL byte, ESC, ...), located."""
    if text.isascii() and not any(c in text for c in _RAW_CONTROL_ASCII):
        return  # (the common case, without compiling the pattern)
    m = re.search(_RAW_CONTROL, text)
    if m is None:
        return
    line, col = _line_col(text, m.start())
    what = "a NUL byte" if m.group() == "\0" else f"the control character {_char_name(m.group())}"
    raise SpecError.at(
        Pos(file, line, col),
        f"{what} is written here",
        "remove it: a spec is plain text (control characters could rewrite a terminal or a "
        "CI log when the value is printed)",
    )


def _mark_pos(file: str, mark) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


def _limit_error(file: str, mark, message: str, fix: str) -> SpecError:
    return SpecError.at(_mark_pos(file, mark), message, fix)


def _too_many(file: str, mark) -> SpecError:
    return _limit_error(
        file,
        mark,
        f"the YAML holds more than {MAX_YAML_NODES:,} values (counting each alias use "
        "as the values it stands for): an oversized spec or an alias bomb",
        "use `repeat:` or blocks instead of writing layers out (or of repeated aliases); "
        "or raise FLOPCOUNT_MAX_YAML_NODES",
    )


def _too_much_text(file: str, mark) -> SpecError:
    return _limit_error(
        file,
        mark,
        f"the YAML holds more than {MAX_YAML_TEXT:,} characters of values (counting "
        "each alias use as the text it stands for): an oversized spec or an alias bomb",
        "shorten the values (or remove the repeated aliases); or raise FLOPCOUNT_MAX_YAML_TEXT",
    )


def _too_deep(file: str, mark) -> SpecError:
    if MAX_YAML_DEPTH > YAML_DEPTH_CEILING:
        return _limit_error(
            file,
            mark,
            f"the YAML is nested more than {YAML_DEPTH_CEILING} levels deep, the most "
            "flopcount reads (whatever FLOPCOUNT_MAX_YAML_DEPTH says)",
            "flatten the spec (use blocks)",
        )
    return _limit_error(
        file,
        mark,
        f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
        "flatten the spec (use blocks); or raise FLOPCOUNT_MAX_YAML_DEPTH",
    )


def _too_long(file: str, mark, is_key: bool, length: int) -> SpecError:
    limit, env = (
        (MAX_NAME_CHARS, "FLOPCOUNT_MAX_NAME_CHARS") if is_key else (MAX_SCALAR_CHARS, "FLOPCOUNT_MAX_SCALAR_CHARS")
    )
    what = "key (a name)" if is_key else "value"
    return SpecError.at(
        _mark_pos(file, mark),  # (the value itself is not quoted)
        f"this {what} is {length:,} characters long, over the limit of {limit:,}",
        f"shorten it; or raise {env}",
    )


def _check_controls(value: str, is_key: bool, file: str, mark) -> None:
    """A control character in a string value (after YAML escapes) or a key: refused, located
    by the scalar's start and the character's place inside it (the value is not quoted)."""
    bad = re.search(_KEY_CONTROL if is_key else _SCALAR_CONTROL, value)
    if bad is None:
        return
    line, col = _line_col(value, bad.start())
    where = f" (its line {line}, column {col})" if "\n" in value else f" (its character {bad.start() + 1})"
    raise SpecError.at(
        _mark_pos(file, mark),  # (the value itself is not quoted)
        f"this {'key' if is_key else 'value'} holds the control character {_char_name(bad.group())}{where}",
        "remove it (and the YAML escape that wrote it, such as \\e or \\x1b): "
        "names, descriptions and notes are plain text",
    )


_new = tuple.__new__  # Pos(...) without the call of its generated __new__ (the same tuple)


class _Open:
    """A collection being read: the Map or Seq so far, where its next key or item goes, the
    problems its values have (the order the converter of before found them in), its anchor and
    the counters when it started (the values and text it holds after aliases, for the anchor)."""

    __slots__ = (
        "value",
        "kpos",
        "vpos",
        "ipos",
        "is_map",
        "next_is_key",
        "key",
        "key_pos",
        "skip",
        "as_key",
        "errors",
        "tag",
        "anchor",
        "nodes0",
        "chars0",
        "pos",
    )

    def __init__(self, is_map: bool, pos: Pos, as_key: bool, anchor, nodes0: int, chars0: int):
        self.pos = pos
        self.is_map = is_map
        self.next_is_key = is_map
        self.as_key = as_key
        self.anchor = anchor
        self.nodes0 = nodes0
        self.chars0 = chars0
        self.errors: list | None = None
        self.key: Any = None
        self.key_pos: Pos | None = None
        self.skip = False
        if is_map:
            m = Map()
            m.pos = pos
            self.kpos: dict = {}
            self.vpos: dict = {}
            m.kpos = self.kpos
            m.vpos = self.vpos
            self.value: Any = m
        else:
            s = Seq()
            s.pos = pos
            self.ipos: list = []
            s.ipos = self.ipos
            self.value = s

    def add(self, errors: list) -> None:
        if self.errors is None:
            self.errors = list(errors)  # (a copy: an anchor may hold the same list)
        else:
            self.errors.extend(errors)

    def put(self, value, pos: Pos, errors: list | None) -> None:
        """The next item, or the value of the key just read (dropped after a refused key)."""
        if not self.is_map:
            self.value.append(value)
            self.ipos.append(pos)
        elif self.skip:
            self.skip = False
            return
        else:
            key = self.key
            self.value[key] = value
            self.kpos[key] = self.key_pos
            self.vpos[key] = pos
        if errors:
            self.add(errors)

    def scalar_key(self, text: str, tag: str, pos: Pos, errors: list | None) -> None:
        """A scalar key (``text`` as written: `no:` is the word, `50:` the variant "50")."""
        if tag == _MERGE:
            self.refuse_key(_not_a_key(Pos(pos.file, pos.line, pos.col), tag))
            return
        if errors:
            self.add(errors)  # (a tag refused on the key, or a number it cannot be)
        first = self.kpos.get(text)
        if first is not None:
            self.refuse_key(
                Diagnostic(
                    pos,
                    f"duplicate key `{excerpt(text)}` (first written at line {first.line}, column {first.col}); "
                    "YAML would silently keep only the last one",
                    "remove or rename one of them",
                )
            )
            return
        self.key = text
        self.key_pos = pos

    def refuse_key(self, error: Diagnostic) -> None:
        if self.errors is None:
            self.errors = []
        self.errors.append(error)
        self.skip = True  # its value is not read (nor are its problems reported)


class _Read:
    """What one pass over the events found: the root value, its position, its problems, and
    what the marker check and the alias check need."""

    __slots__ = ("value", "pos", "errors", "tag", "style", "merge_keys", "aliased")

    def __init__(self) -> None:
        self.value: Any = None
        self.pos: Pos | None = None  # None: no document
        self.errors: list | None = None
        self.tag: str | None = None  # a scalar root's tag and style
        self.style: str | None = None
        self.merge_keys: list = []  # the text of the root mapping's keys refused as merge keys
        self.aliased = False  # an alias repeats a collection somewhere


#: plain scalar text -> (tag, value, text, length): resolved and converted once per process,
#: for every read (a check's spec files share most of their words and numbers). What a text
#: gives depends on nothing but the text and the safe loader's implicit resolvers (the table,
#: constant once PyYAML is imported, is watched: _read empties this one if it changes); only
#: texts read without a problem, printable, are kept, and every value is immutable (a str, an
#: int, a float, a bool or None). Emptied, before a read, once it holds more than
#: _SCALARS_LIMIT characters of text.
_SCALARS: dict = {}
_SCALARS_LIMIT = 1_000_000
#: [characters of text in _SCALARS, the resolvers' table it was made with, their count]
_SCALARS_HELD: list = [0, None, 0]


def _scalars() -> dict:
    """:data:`_SCALARS`, emptied first when it is over its limit or the resolvers changed."""
    held = _SCALARS_HELD
    implicit = _Loader.yaml_implicit_resolvers
    count = sum(map(len, implicit.values()))
    if held[0] > _SCALARS_LIMIT or held[1] is not implicit or held[2] != count:
        _SCALARS.clear()
        held[:] = [0, implicit, count]
    return _SCALARS


def _read(text: str, file: str) -> _Read:
    """One pass over libyaml's parse events that refuses at once what is too big or unsafe
    (nesting depth, the count of values and their total text *after aliases*: each alias counts
    as the values and text of what it repeats, so an alias bomb is refused without expanding it;
    one value's length, one key's length, a recursive alias ``&a [*a]``, control characters in
    any string value), in the whole stream, and builds the positioned values of its document.

    The values are those libyaml's composer and the converter of before made: a scalar's tag
    resolved as the composer resolves it, each alias the values of its anchor (the same
    objects until :func:`_settle` copies them), the composer's errors (an undefined alias, a
    duplicate anchor, a second document) raised at the end of the stream, where the composer
    (which ran after the limits pass) would have raised them."""
    max_nodes, max_text = MAX_YAML_NODES, MAX_YAML_TEXT
    max_depth = min(MAX_YAML_DEPTH, YAML_DEPTH_CEILING)
    max_name, max_scalar = MAX_NAME_CHARS, MAX_SCALAR_CHARS
    out = _Read()
    nodes = 0
    chars = 0
    stack: list = []  # the open collections
    top: Any = None  # stack[-1]
    anchors: dict = {}  # anchor -> (nodes, chars, value, pos, errors, text, tag) of what it names; text None: a collection
    first_mark: dict = {}  # anchor -> where the document wrote it first (the composer's duplicate check)
    cache = _scalars()  # plain scalar text -> (tag, value, text, length): resolved and converted once
    failure: Exception | None = None  # the first error the composer would raise
    docs = 0
    last_line = -1
    line1 = 0
    event: Any
    mark: Any
    root_mark: Any = None
    parser = _Loader(text)
    get = parser.get_event
    try:
        while True:
            if top is None:
                event = get()
            elif not top.is_map:
                # The fast loop of a sequence's items: plain, untagged scalars whose text was
                # read before (resolved, converted without a problem, printable: no control
                # character), under every limit; anything else goes to the full path below.
                append = top.value.append
                iappend = top.ipos.append
                while True:
                    event = get()
                    if event.__class__ is not ScalarEvent:
                        break
                    hit = cache.get(event.value)
                    if hit is None or event.tag is not None or event.style != "" or event.anchor is not None:
                        break
                    tag, value, raw, c = hit
                    if c > max_scalar or nodes >= max_nodes or chars + c > max_text:
                        break
                    nodes += 1
                    chars += c
                    mark = event.start_mark
                    line = mark.line
                    if line != last_line:
                        last_line = line
                        line1 = line + 1
                    append(value)
                    iappend(_new(Pos, (file, line1, mark.column + 1, raw)))
            else:
                # The fast loop of a mapping's pairs: a key and a value as above (a key not
                # written before in the mapping, not `<<`)
                m = top.value
                kp = top.kpos
                vp = top.vpos
                while True:
                    event = get()
                    if event.__class__ is not ScalarEvent or not top.next_is_key:
                        break
                    hit = cache.get(event.value)
                    if hit is None or event.tag is not None or event.style != "" or event.anchor is not None:
                        break
                    tag, value, key, c = hit
                    if c > max_name or tag == _MERGE or key in kp or nodes >= max_nodes or chars + c > max_text:
                        break
                    nodes += 1
                    chars += c
                    mark = event.start_mark
                    line = mark.line
                    if line != last_line:
                        last_line = line
                        line1 = line + 1
                    key_pos = _new(Pos, (file, line1, mark.column + 1, key))
                    top.next_is_key = False
                    top.key = key
                    top.key_pos = key_pos
                    event = get()
                    if event.__class__ is not ScalarEvent:
                        break
                    hit = cache.get(event.value)
                    if hit is None or event.tag is not None or event.style != "" or event.anchor is not None:
                        break
                    tag, value, raw, c = hit
                    if c > max_scalar or nodes >= max_nodes or chars + c > max_text:
                        break
                    nodes += 1
                    chars += c
                    mark = event.start_mark
                    line = mark.line
                    if line != last_line:
                        last_line = line
                        line1 = line + 1
                    m[key] = value
                    kp[key] = key_pos
                    vp[key] = _new(Pos, (file, line1, mark.column + 1, raw))
                    top.next_is_key = True
            cls = event.__class__
            if cls is ScalarEvent:
                raw = event.value
                if top is None or not top.is_map:
                    is_key = False
                else:
                    is_key = top.next_is_key
                    top.next_is_key = not is_key
                c = len(raw)
                if c > (max_name if is_key else max_scalar):
                    raise _too_long(file, event.start_mark, is_key, c)
                if not raw.isprintable():
                    _check_controls(raw, is_key, file, event.start_mark)
                nodes += 1
                chars += c
                if nodes > max_nodes:
                    raise _too_many(file, event.start_mark)
                if chars > max_text:
                    raise _too_much_text(file, event.start_mark)
                mark = event.start_mark
                line = mark.line
                if line != last_line:  # (one int for the positions of a line)
                    last_line = line
                    line1 = line + 1
                tag = event.tag
                style = event.style
                errors: list | None = None
                if tag is None and style == "":  # (plain and untagged: the event's implicit[0] is set)
                    hit = cache.get(raw)
                    if hit is not None:
                        tag, value, raw, _ = hit  # (one string for the same text)
                        pos = _new(Pos, (file, line1, mark.column + 1, raw))
                    else:
                        tag = _resolve(raw)
                        pos = _new(Pos, (file, line1, mark.column + 1, raw))
                        errors = []
                        value = raw if tag == _STR else _scalar(raw, tag, style, pos, errors)
                        if errors:
                            pass
                        elif raw.isprintable():  # (the fast loops skip the control check)
                            errors = None
                            cache[raw] = (tag, value, raw, c)
                            _SCALARS_HELD[0] += c
                        else:
                            errors = None
                else:
                    if tag is None or tag == "!":  # resolved as the composer does (`!`: non-specific)
                        tag = _resolve(raw) if event.implicit[0] else _STR
                    pos = _new(Pos, (file, line1, mark.column + 1, raw))
                    errors = []
                    value = _scalar(raw, tag, style, pos, errors)
                    if not errors:
                        errors = None
                anchor = event.anchor
                if anchor is not None:
                    if anchor in first_mark and failure is None:
                        failure = ComposerError(
                            "found duplicate anchor; first occurrence", first_mark[anchor], "second occurrence", mark
                        )
                    first_mark[anchor] = mark
                    anchors[anchor] = (1, c, value, pos, errors, raw, tag)
                if top is None:
                    if docs == 1:
                        out.value, out.pos, out.errors, out.tag, out.style = value, pos, errors, tag, style
                        root_mark = mark
                elif not top.is_map:
                    top.value.append(value)
                    top.ipos.append(pos)
                    if errors:
                        top.add(errors)
                elif is_key:
                    if errors is None and tag != _MERGE and raw not in top.kpos:
                        top.key = raw
                        top.key_pos = pos
                    else:
                        if tag == _MERGE and len(stack) == 1:
                            out.merge_keys.append(raw)
                        top.scalar_key(raw, tag, pos, errors)
                elif top.skip:
                    top.skip = False
                else:
                    key = top.key
                    top.value[key] = value
                    top.kpos[key] = top.key_pos
                    top.vpos[key] = pos
                    if errors:
                        top.add(errors)
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if top is None or not top.is_map:
                    is_key = False
                else:
                    is_key = top.next_is_key
                    top.next_is_key = not is_key
                mark = event.start_mark
                nodes += 1
                if nodes > max_nodes:
                    raise _too_many(file, mark)
                line = mark.line
                if line != last_line:
                    last_line = line
                    line1 = line + 1
                pos = _new(Pos, (file, line1, mark.column + 1, None))
                anchor = event.anchor
                top = _Open(cls is MappingStartEvent, pos, is_key, anchor, nodes - 1, chars)
                stack.append(top)
                if len(stack) > max_depth:
                    raise _too_deep(file, mark)
                top.tag = tag = event.tag  # (`? !!merge []`: a merge key, refused as one)
                if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
                    top.errors = [_tag_refused(pos, tag)]
                if anchor is not None:
                    if anchor in first_mark and failure is None:
                        failure = ComposerError(
                            "found duplicate anchor; first occurrence", first_mark[anchor], "second occurrence", mark
                        )
                    first_mark[anchor] = mark
                if len(stack) == 1 and docs == 1:
                    root_mark = mark
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                done = stack.pop()
                top = stack[-1] if stack else None
                if done.anchor is not None:
                    anchors[done.anchor] = (
                        nodes - done.nodes0,
                        chars - done.chars0,
                        done.value,
                        done.pos,
                        done.errors,
                        None,
                        done.tag,
                    )
                if top is None:
                    if docs == 1:
                        out.value, out.pos, out.errors = done.value, done.pos, done.errors
                elif done.as_key:
                    top.refuse_key(_not_a_key(done.pos, done.tag))
                else:
                    top.put(done.value, done.pos, done.errors)
            elif cls is AliasEvent:
                if top is None or not top.is_map:
                    is_key = False
                else:
                    is_key = top.next_is_key
                    top.next_is_key = not is_key
                name = event.anchor
                entry = anchors.get(name)
                if entry is None:
                    if any(o.anchor == name for o in stack):
                        raise SpecError.at(
                            _mark_pos(file, event.start_mark),
                            "this alias refers to a value that contains it (a recursive "
                            "&anchor / *alias), which would never end",
                            "remove the alias from inside its own anchor",
                        )
                    if failure is None:
                        failure = ComposerError(None, None, "found undefined alias", event.start_mark)
                    if is_key and top is not None:
                        top.skip = True  # (nothing is built after this error; the pairs stay in step)
                    continue
                n, c, value, pos, errors, raw, tag = entry
                nodes += n
                chars += c
                if nodes > max_nodes:
                    raise _too_many(file, event.start_mark)
                if chars > max_text:
                    raise _too_much_text(file, event.start_mark)
                if top is None:
                    continue  # (a document that is only an alias: the composer refuses it)
                if raw is None:
                    out.aliased = True
                    if is_key:
                        top.refuse_key(_not_a_key(pos, tag))
                    else:
                        top.put(value, pos, errors)
                elif is_key:
                    if tag == _MERGE and len(stack) == 1:
                        out.merge_keys.append(raw)
                    top.scalar_key(raw, tag, pos, errors)
                else:
                    top.put(value, pos, errors)
            elif cls is DocumentStartEvent:
                docs += 1
                if docs == 2 and failure is None:
                    failure = ComposerError(
                        "expected a single document in the stream",
                        root_mark,
                        "but found another document",
                        event.start_mark,
                    )
            elif cls is StreamEndEvent:
                break
    finally:
        parser.dispose()
    if failure is not None:
        raise failure
    return out


def read_text(path: str, what: str = "spec file") -> str:
    """The text of a user's YAML file, read safely (flopcount.fileio: never a FIFO or a device,
    at most FLOPCOUNT_MAX_FILE_BYTES), as UTF-8; raises SpecError located at the problem."""
    from ..fileio import UserFileError, read_user_file

    file = str(path)
    try:
        data = read_user_file(path, what, MAX_FILE_BYTES, "FLOPCOUNT_MAX_FILE_BYTES")
    except UserFileError as exc:
        raise SpecError.at(Pos(file, 1, 1), f"cannot read {file}: {exc.reason}", exc.hint) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError.at(
            Pos(file, line, col), f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})", "save the spec as UTF-8"
        ) from None


def _not_marked(read: _Read, file: str, marker: str) -> SpecError | None:
    """The refusal of a file that is not a spec (a mapping with the key ``marker``), which
    quotes none of its values: an imported ``.env`` must not be printed in an error. Decided
    before any problem of its values is reported."""
    root, p = read.value, read.pos
    assert p is not None
    pos = Pos(file, p.line, p.col)
    fix = f"start the file with `{marker}: 1`, then `input:` and `layers:`"
    if isinstance(root, Map):
        if marker in root.kpos or marker in read.merge_keys:  # (any key written so: a duplicate too)
            return None
        return SpecError.at(
            pos,
            f"this is not a flopcount spec: it has no `{marker}: 1` line",
            f"add `{marker}: 1` at the top (with `input:` and `layers:`)",
        )
    if isinstance(root, Seq):
        kind = "a list"
    elif read.tag in (_INT, _FLOAT) and not read.style:
        kind = "a single number"
    elif read.tag == _BOOL and not read.style:
        kind = "a single yes/no value"
    else:
        kind = "a single text value"
    return SpecError.at(pos, f"a spec must be a mapping, but this file holds {kind} (not shown)", fix)


def _copy(value):
    """A collection of its own with the same values and positions (one level)."""
    if isinstance(value, Map):
        m = Map(value)
        m.pos = value.pos
        m.kpos = dict(value.kpos)
        m.vpos = dict(value.vpos)
        return m
    s = Seq(value)
    s.pos = value.pos
    s.ipos = list(value.ipos)
    return s


def _settle(value, depth: int, seen: set, file: str) -> None:
    """Where an alias repeats a collection: walk the values as the converter of before walked
    libyaml's composed tree (each alias use converted again, one call per level) to refuse what
    aliases nest deeper than MAX_YAML_DEPTH (at the first value too deep, in document order),
    and give each use of an alias a copy of its own, so that no caller sees one object in two
    places. ``value`` is a Map or Seq at ``depth`` (the root is at 0)."""
    seen.add(id(value))
    inner = depth + 1
    if isinstance(value, Map):
        places: Any = value.vpos
        keys: Any = list(value)
    else:
        places = value.ipos
        keys = range(len(value))
    for k in keys:
        item = value[k]
        if inner > MAX_YAML_DEPTH:
            p = places[k]
            raise SpecError.at(
                Pos(file, p.line, p.col),
                f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                "flatten the spec; or raise FLOPCOUNT_MAX_YAML_DEPTH",
            )
        if isinstance(item, (Map, Seq)):
            if id(item) in seen:  # a second use of the same values: its own copy
                item = value[k] = _copy(item)
            _settle(item, inner, seen, file)


def _tab_at(text: str, mark) -> bool:
    """Whether the character at ``mark`` is a tab (libyaml words a tab that starts a line's
    content as "found character that cannot start any token", without naming it)."""
    index = getattr(mark, "index", None)
    return isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t"


def load_yaml(path: str, text: str | None = None, what: str = "spec file", marker: str | None = None):
    """Read ``path`` (or ``text``) and return ``(value, pos)``; raise SpecError on any problem.

    With ``marker``, a file that is not a mapping holding that key is refused before any of
    its values is checked (so no error quotes what a non-spec file holds)."""
    file = str(path)
    if text is None:
        text = read_text(path, what)
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(text) > MAX_FILE_BYTES:  # text given directly (--set)
        raise SpecError.at(
            Pos(file, 1, 1),
            f"the text is {len(text):,} characters, over the limit of {MAX_FILE_BYTES:,}",
            "shorten it; or raise FLOPCOUNT_MAX_FILE_BYTES",
        )
    _check_raw_text(text, file)
    try:
        read = _read(text, file)
    except yaml.reader.ReaderError as exc:  # a character YAML does not accept (e.g. U+FFFE)
        line, col = _line_col(text, exc.position) if isinstance(exc.position, int) else (1, 1)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise SpecError.at(
            Pos(file, line, col), f"the file holds the character U+{code:04X}, which YAML does not accept", "remove it"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _mark_pos(file, mark) if mark else Pos(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem or "nesting depth" in str(exc.context):
            # libyaml's own limit (PyYAML >= 6.0.4, 1000 levels) can fire first: its scanner reads a
            # flow collection ahead of the events
            raise _too_deep(file, mark) from None
        hint = "check indentation, colons and brackets near this point"
        if "found character '\\t'" in str(exc) or "\t" in problem or _tab_at(text, mark):
            hint = "YAML forbids tabs for indentation: use spaces"
        raise SpecError.at(pos, f"YAML syntax error: {excerpt(problem, 120)}", hint) from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Pos(file, 1, 1), f"YAML error: {excerpt(str(exc), 120)}", "check the file is YAML") from None
    except (RecursionError, MemoryError):
        raise SpecError.at(
            Pos(file, 1, 1), "the YAML is nested too deeply or too large to read", "flatten the spec"
        ) from None
    if read.pos is None:
        raise SpecError.at(
            Pos(file, 1, 1), "the file is empty", "a spec is a mapping with at least `input:` and `layers:`"
        )
    if marker is not None:
        refusal = _not_marked(read, file, marker)
        if refusal is not None:
            raise refusal
    if read.aliased:
        try:
            _settle(read.value, 0, set(), file)
        except (RecursionError, MemoryError):  # (the last line of defence)
            raise SpecError.at(
                Pos(file, 1, 1),
                "the YAML is nested too deeply or too large to read",
                "flatten the spec; or lower FLOPCOUNT_MAX_YAML_DEPTH",
            ) from None
    if read.errors:
        raise SpecError(read.errors)
    return read.value, read.pos
