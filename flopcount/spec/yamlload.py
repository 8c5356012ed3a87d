"""YAML to plain Python values that remember where each value was written.

Only the composer of PyYAML's safe loader is used: nothing is ever constructed from a
tag, so ``!!python/...`` cannot run code. Scalars are typed here, by YAML 1.1's rules
(which is what PyYAML implements), and the traps of those rules are refused with an
explanation instead of silently read: ``010`` (octal 8), ``1:30`` (sexagesimal 90).
Mappings become :class:`Map` and sequences :class:`Seq`; both carry the position of
every value they hold, so any later error can point at file:line:col.
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
#: Whatever FLOPCOUNT_MAX_YAML_DEPTH says: the converter recurses once per level (Python's
#: recursion limit is 1000) and libyaml (PyYAML >= 6.0.4) refuses 1000 levels itself.
YAML_DEPTH_CEILING = 500
MAX_YAML_TEXT = env_limit("FLOPCOUNT_MAX_YAML_TEXT", 8 * 1024 * 1024)  # characters of values, after aliases
MAX_SCALAR_CHARS = env_limit("FLOPCOUNT_MAX_SCALAR_CHARS", 10_000)  # one value (a description, a note)
MAX_NAME_CHARS = env_limit("FLOPCOUNT_MAX_NAME_CHARS", 200)  # one key or name

#: Whole numbers in a spec are at most this many bits (the expression evaluator's cap too).
MAX_INT_BITS = 256
_MAX_INT_CHARS = 300  # checked before int(): Python refuses to convert over 4300 digits

_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


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


def _pos(file: str, node, raw: str | None = None) -> Pos:
    m = node.start_mark
    return Pos(file, m.line + 1, m.column + 1, raw)


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


class _Converter:
    def __init__(self, file: str):
        self.file = file
        self.errors: list[Diagnostic] = []

    def scalar(self, node):
        raw = node.value
        tag = node.tag
        pos = _pos(self.file, node, raw)
        if tag not in _ALLOWED_TAGS:  # before anything else: `!!python/name:os.system ''` is quoted
            self.errors.append(
                Diagnostic(
                    pos,
                    f"the YAML tag `{excerpt(tag)}` is not allowed in a spec",
                    "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only",
                )
            )
            return raw, pos
        if node.style in ("'", '"', "|", ">"):
            return raw, pos  # quoted: always a string, whatever it looks like
        if tag == _STD + "str":
            return raw, pos
        if tag == _STD + "null":
            return None, pos
        if tag == _STD + "bool":
            return raw.lower() in ("yes", "true", "on", "y"), pos
        if tag == _STD + "int":
            text = raw.replace("_", "")
            sign = -1 if text.startswith("-") else 1
            body = text.lstrip("+-")
            if len(body) > _MAX_INT_CHARS:  # Python refuses int() of over 4300 digits: say so first
                self.errors.append(
                    Diagnostic(
                        pos,
                        f"`{raw[:20]}...` is a whole number of {len(body):,} digits; flopcount reads "
                        f"numbers up to 2**{MAX_INT_BITS}",
                        "write a realistic size",
                    )
                )
                return 0, pos
            form = _int_form(raw)
            if form == "dec" or body == "0":
                return self.bounded(sign * int(body), raw, pos), pos
            if form == "hex":
                return self.bounded(sign * int(body[2:], 16), raw, pos), pos
            if form == "bin":
                return self.bounded(sign * int(body[2:], 2), raw, pos), pos
            if form == "oct":
                self.errors.append(
                    Diagnostic(
                        pos,
                        f"`{excerpt(raw, 30)}` has a leading zero, which YAML 1.1 reads as an octal number "
                        f"({int(body, 8) * sign})",
                        f"write `{excerpt(int(body) * sign, 30)}` without the leading zero (or quote it if it is a name)",
                    )
                )
                return int(body) * sign, pos
            self.errors.append(
                Diagnostic(
                    pos,
                    f"`{excerpt(raw)}` is a base-60 number in YAML 1.1 (colons separate sexagesimal digits)",
                    "quote it if it is text, or write the plain number",
                )
            )
            return raw, pos
        if tag == _STD + "float":
            try:
                return float(
                    raw.replace("_", "")
                    .replace(".inf", "inf")
                    .replace(".Inf", "inf")
                    .replace(".INF", "inf")
                    .replace(".nan", "nan")
                    .replace(".NaN", "nan")
                    .replace(".NAN", "nan")
                ), pos
            except ValueError:
                return raw, pos
        if tag == _STD + "timestamp":
            return raw, pos
        self.errors.append(
            Diagnostic(
                pos,
                f"the YAML tag `{excerpt(tag)}` is not allowed in a spec",
                "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only",
            )
        )
        return raw, pos

    def bounded(self, value: int, raw: str, pos: Pos) -> int:
        if value.bit_length() > MAX_INT_BITS:
            self.errors.append(
                Diagnostic(
                    pos,
                    f"`{raw[:20]}{'...' if len(raw) > 20 else ''}` is over 2**{MAX_INT_BITS}, the largest "
                    "number flopcount reads",
                    "write a realistic size",
                )
            )
            return 0
        return value

    def convert(self, node, depth: int = 0):
        """Return (value, pos)."""
        if depth > MAX_YAML_DEPTH:
            raise SpecError.at(
                _pos(self.file, node),
                f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                "flatten the spec; or raise FLOPCOUNT_MAX_YAML_DEPTH",
            )
        if node.tag not in _ALLOWED_TAGS and not isinstance(node, yaml.ScalarNode):
            self.errors.append(
                Diagnostic(
                    _pos(self.file, node),
                    f"the YAML tag `{excerpt(node.tag)}` is not allowed in a spec",
                    "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only",
                )
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            seq = Seq()
            seq.pos = _pos(self.file, node)
            seq.ipos = []
            for item in node.value:
                value, pos = self.convert(item, depth + 1)
                seq.append(value)
                seq.ipos.append(pos)
            return seq, seq.pos
        mapping = Map()
        mapping.pos = _pos(self.file, node)
        mapping.kpos = {}
        mapping.vpos = {}
        for knode, vnode in node.value:
            if knode.tag == _STD + "merge":
                self.errors.append(
                    Diagnostic(
                        _pos(self.file, knode),
                        "YAML merge keys (`<<`) are not supported",
                        "use `defaults:` or a block to share settings",
                    )
                )
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.errors.append(
                    Diagnostic(
                        _pos(self.file, knode),
                        "a mapping key must be a plain scalar",
                        "write the key as a word, e.g. `name:`",
                    )
                )
                continue
            _, kpos = self.scalar(knode)  # (refuses a tag on the key)
            # a key is always the text written: `no:` is the word, `50:` the variant "50"
            key = knode.value
            if key in mapping:
                first = mapping.kpos[key]
                self.errors.append(
                    Diagnostic(
                        kpos,
                        f"duplicate key `{excerpt(key)}` (first written at line {first.line}, column {first.col}); "
                        "YAML would silently keep only the last one",
                        "remove or rename one of them",
                    )
                )
                continue
            value, vpos = self.convert(vnode, depth + 1)
            mapping[key] = value
            mapping.kpos[key] = kpos
            mapping.vpos[key] = vpos
        return mapping, mapping.pos


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


class _Open:
    """A collection being read: what it holds so far (after aliases), and its anchor."""

    __slots__ = ("nodes", "chars", "is_map", "next_is_key", "anchor")

    def __init__(self, is_map: bool, anchor):
        self.nodes = 1
        self.chars = 0
        self.is_map = is_map
        self.next_is_key = is_map
        self.anchor = anchor


def _scan(text: str, file: str) -> None:
    """One pass over the parse events, before composing, that refuses at once what is too big
    or unsafe to compose: nesting depth (libyaml's composer recurses in C), the count of values
    and their total text *after aliases* (each alias counts as the values and text of what it
    repeats: an alias bomb is refused without expanding it), one value's length, one key's
    length, a recursive alias (``&a [*a]``), and control characters in any string value.
    Composing is far slower than parsing, so an oversized file is refused in a fraction of a second."""
    nodes = 0
    chars = 0
    stack: list = []  # the open collections
    anchors: dict = {}  # anchor -> (nodes, chars) of the value it names
    event: Any
    for event in yaml.parse(text, Loader=_Loader):
        cls = type(event)
        if cls is yaml.ScalarEvent or cls is yaml.AliasEvent:
            top = stack[-1] if stack else None
            is_key = top is not None and top.next_is_key
            if top is not None and top.is_map:
                top.next_is_key = not top.next_is_key
            if cls is yaml.AliasEvent:
                size = anchors.get(event.anchor)
                if size is None:
                    if any(o.anchor == event.anchor for o in stack):
                        raise SpecError.at(
                            _mark_pos(file, event.start_mark),
                            "this alias refers to a value that contains it (a recursive "
                            "&anchor / *alias), which would never end",
                            "remove the alias from inside its own anchor",
                        )
                    continue  # an undefined alias: the composer reports it, located
                n, c = size
            else:
                value = event.value
                n, c = 1, len(value)
                limit, env = (
                    (MAX_NAME_CHARS, "FLOPCOUNT_MAX_NAME_CHARS")
                    if is_key
                    else (MAX_SCALAR_CHARS, "FLOPCOUNT_MAX_SCALAR_CHARS")
                )
                if c > limit:
                    what = "key (a name)" if is_key else "value"
                    raise SpecError.at(
                        _mark_pos(file, event.start_mark),  # (the value itself is not quoted)
                        f"this {what} is {c:,} characters long, over the limit of {limit:,}",
                        f"shorten it; or raise {env}",
                    )
                bad = None if value.isprintable() else re.search(_KEY_CONTROL if is_key else _SCALAR_CONTROL, value)
                if bad is not None:
                    line, col = _line_col(value, bad.start())
                    where = (
                        f" (its line {line}, column {col})" if "\n" in value else f" (its character {bad.start() + 1})"
                    )
                    raise SpecError.at(
                        _mark_pos(file, event.start_mark),  # (the value itself is not quoted)
                        f"this {'key' if is_key else 'value'} holds the control character "
                        f"{_char_name(bad.group())}{where}",
                        "remove it (and the YAML escape that wrote it, such as \\e or \\x1b): "
                        "names, descriptions and notes are plain text",
                    )
                if event.anchor is not None:
                    anchors[event.anchor] = (1, c)
            if top is not None:
                top.nodes += n
                top.chars += c
            nodes += n
            chars += c
            if nodes > MAX_YAML_NODES:
                raise _too_many(file, event.start_mark)
            if chars > MAX_YAML_TEXT:
                raise _too_much_text(file, event.start_mark)
        elif cls is yaml.SequenceStartEvent or cls is yaml.MappingStartEvent:
            top = stack[-1] if stack else None
            if top is not None and top.is_map:
                top.next_is_key = not top.next_is_key
            nodes += 1
            if nodes > MAX_YAML_NODES:
                raise _too_many(file, event.start_mark)
            stack.append(_Open(cls is yaml.MappingStartEvent, event.anchor))
            if len(stack) > MAX_YAML_DEPTH or len(stack) > YAML_DEPTH_CEILING:
                raise _too_deep(file, event.start_mark)
        elif cls is yaml.SequenceEndEvent or cls is yaml.MappingEndEvent:
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = (done.nodes, done.chars)
            if stack:
                stack[-1].nodes += done.nodes
                stack[-1].chars += done.chars


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


def _not_marked(root, file: str, marker: str) -> SpecError | None:
    """The refusal of a file that is not a spec (a mapping with the key ``marker``), which
    quotes none of its values: an imported ``.env`` must not be printed in an error."""
    pos = _pos(file, root)
    fix = f"start the file with `{marker}: 1`, then `input:` and `layers:`"
    if isinstance(root, yaml.MappingNode):
        if any(isinstance(k, yaml.ScalarNode) and k.value == marker for k, _ in root.value):
            return None
        return SpecError.at(
            pos,
            f"this is not a flopcount spec: it has no `{marker}: 1` line",
            f"add `{marker}: 1` at the top (with `input:` and `layers:`)",
        )
    if isinstance(root, yaml.SequenceNode):
        kind = "a list"
    elif root.tag in (_STD + "int", _STD + "float") and not root.style:
        kind = "a single number"
    elif root.tag == _STD + "bool" and not root.style:
        kind = "a single yes/no value"
    else:
        kind = "a single text value"
    return SpecError.at(pos, f"a spec must be a mapping, but this file holds {kind} (not shown)", fix)


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
        _scan(text, file)  # limits and control characters, before composing
        root = yaml.compose(text, Loader=_Loader)
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
        if "found character '\\t'" in str(exc) or "\t" in problem:
            hint = "YAML forbids tabs for indentation: use spaces"
        raise SpecError.at(pos, f"YAML syntax error: {excerpt(problem, 120)}", hint) from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Pos(file, 1, 1), f"YAML error: {excerpt(str(exc), 120)}", "check the file is YAML") from None
    except (RecursionError, MemoryError):
        raise SpecError.at(
            Pos(file, 1, 1), "the YAML is nested too deeply or too large to read", "flatten the spec"
        ) from None
    if root is None:
        raise SpecError.at(
            Pos(file, 1, 1), "the file is empty", "a spec is a mapping with at least `input:` and `layers:`"
        )
    if marker is not None:
        refusal = _not_marked(root, file, marker)
        if refusal is not None:
            raise refusal
    conv = _Converter(file)
    try:
        value, pos = conv.convert(root)
    except (RecursionError, MemoryError):  # (the depth was checked; the last line of defence)
        raise SpecError.at(
            Pos(file, 1, 1),
            "the YAML is nested too deeply or too large to read",
            "flatten the spec; or lower FLOPCOUNT_MAX_YAML_DEPTH",
        ) from None
    if conv.errors:
        raise SpecError(conv.errors)
    return value, pos
