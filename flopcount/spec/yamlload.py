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

import yaml

from ..errors import Diagnostic, Pos, SpecError

try:  # libyaml is much faster; positions are the same.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader

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

#: Whole numbers in a spec are at most this many bits (the expression evaluator's cap too).
MAX_INT_BITS = 256
_MAX_INT_CHARS = 300  # checked before int(): Python refuses to convert over 4300 digits

_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


class Map(dict):
    """A mapping that knows the position of its own start, of each key and each value."""

    __slots__ = ("pos", "kpos", "vpos")

    def at(self, key) -> Pos:
        return self.vpos.get(key, self.pos)


class Seq(list):
    """A sequence that knows its own position and that of each item."""

    __slots__ = ("pos", "ipos")

    def at(self, index: int) -> Pos:
        return self.ipos[index] if 0 <= index < len(self.ipos) else self.pos


def _pos(file: str, node, raw: str | None = None) -> Pos:
    m = node.start_mark
    return Pos(file, m.line + 1, m.column + 1, raw)


_INT_DEC = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_INT_OCT = re.compile(r"^[-+]?0[0-7_]+$")
_INT_HEX = re.compile(r"^[-+]?0x[0-9a-fA-F_]+$")
_INT_BIN = re.compile(r"^[-+]?0b[0-1_]+$")


class _Converter:
    def __init__(self, file: str):
        self.file = file
        self.errors: list[Diagnostic] = []

    def scalar(self, node):
        raw = node.value
        tag = node.tag
        pos = _pos(self.file, node, raw)
        if tag not in _ALLOWED_TAGS:  # before anything else: `!!python/name:os.system ''` is quoted
            self.errors.append(Diagnostic(
                pos, f"the YAML tag `{tag}` is not allowed in a spec",
                "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only"))
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
                self.errors.append(Diagnostic(
                    pos, f"`{raw[:20]}...` is a whole number of {len(body):,} digits; flopcount reads "
                         f"numbers up to 2**{MAX_INT_BITS}", "write a realistic size"))
                return 0, pos
            if _INT_DEC.match(raw) or body == "0":
                return self.bounded(sign * int(body), raw, pos), pos
            if _INT_HEX.match(raw):
                return self.bounded(sign * int(body[2:], 16), raw, pos), pos
            if _INT_BIN.match(raw):
                return self.bounded(sign * int(body[2:], 2), raw, pos), pos
            if _INT_OCT.match(raw):
                self.errors.append(Diagnostic(
                    pos, f"`{raw}` has a leading zero, which YAML 1.1 reads as an octal number "
                         f"({int(body, 8) * sign})",
                    f"write `{int(body) * sign}` without the leading zero (or quote it if it is a name)"))
                return int(body) * sign, pos
            self.errors.append(Diagnostic(
                pos, f"`{raw}` is a base-60 number in YAML 1.1 (colons separate sexagesimal digits)",
                "quote it if it is text, or write the plain number"))
            return raw, pos
        if tag == _STD + "float":
            try:
                return float(raw.replace("_", "").replace(".inf", "inf").replace(".Inf", "inf")
                             .replace(".INF", "inf").replace(".nan", "nan").replace(".NaN", "nan")
                             .replace(".NAN", "nan")), pos
            except ValueError:
                return raw, pos
        if tag == _STD + "timestamp":
            return raw, pos
        self.errors.append(Diagnostic(
            pos, f"the YAML tag `{tag}` is not allowed in a spec",
            "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only"))
        return raw, pos

    def bounded(self, value: int, raw: str, pos: Pos) -> int:
        if value.bit_length() > MAX_INT_BITS:
            self.errors.append(Diagnostic(
                pos, f"`{raw[:20]}{'...' if len(raw) > 20 else ''}` is over 2**{MAX_INT_BITS}, the largest "
                     "number flopcount reads", "write a realistic size"))
            return 0
        return value

    def convert(self, node, depth: int = 0):
        """Return (value, pos)."""
        if depth > MAX_YAML_DEPTH:
            raise SpecError.at(_pos(self.file, node),
                               f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                               "flatten the spec; or raise FLOPCOUNT_MAX_YAML_DEPTH")
        if node.tag not in _ALLOWED_TAGS and not isinstance(node, yaml.ScalarNode):
            self.errors.append(Diagnostic(
                _pos(self.file, node), f"the YAML tag `{node.tag}` is not allowed in a spec",
                "remove the tag: flopcount specs hold plain numbers, strings, lists and mappings only"))
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
                self.errors.append(Diagnostic(
                    _pos(self.file, knode), "YAML merge keys (`<<`) are not supported",
                    "use `defaults:` or a block to share settings"))
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.errors.append(Diagnostic(_pos(self.file, knode), "a mapping key must be a plain scalar",
                                              "write the key as a word, e.g. `name:`"))
                continue
            _, kpos = self.scalar(knode)  # (refuses a tag on the key)
            # a key is always the text written: `no:` is the word, `50:` the variant "50"
            key = knode.value
            if key in mapping:
                first = mapping.kpos[key]
                self.errors.append(Diagnostic(
                    kpos, f"duplicate key `{key}` (first written at line {first.line}, column {first.col}); "
                          "YAML would silently keep only the last one",
                    "remove or rename one of them"))
                continue
            value, vpos = self.convert(vnode, depth + 1)
            mapping[key] = value
            mapping.kpos[key] = kpos
            mapping.vpos[key] = vpos
        return mapping, mapping.pos


def _expanded_size(root, file: str) -> int:
    """Count nodes as they would be after aliases are expanded, without expanding them.

    Aliases make the node graph a DAG, or a cycle when an alias sits inside its own anchor
    (``&a [*a]``, which PyYAML composes): a cycle is refused here, before anything walks it.
    """
    memo: dict[int, int] = {}
    open_: set = set()  # nodes whose children are being counted: meeting one again is a cycle
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in memo:
            continue
        if not done and key in open_:
            raise SpecError.at(_pos(file, node), "this alias refers to a value that contains it "
                               "(a recursive &anchor / *alias), which would never end",
                               "remove the alias from inside its own anchor")
        if isinstance(node, yaml.ScalarNode):
            memo[key] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        if done:
            total = 1
            for c in children:
                total += memo[id(c)]
                if total > MAX_YAML_NODES:
                    return total
            memo[key] = total
            open_.discard(key)
        else:
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in memo)
    return memo[id(root)]


def _too_many(file: str, event) -> SpecError:
    m = event.start_mark
    return SpecError.at(Pos(file, m.line + 1, m.column + 1),
                        f"the YAML holds more than {MAX_YAML_NODES:,} values (counting each alias use as "
                        "the values it stands for): an oversized spec or an alias bomb",
                        "use `repeat:` or blocks instead of writing layers out (or of repeated aliases); "
                        "or raise FLOPCOUNT_MAX_YAML_NODES")


def _check_depth(text: str, file: str) -> int:
    """One pass over the parse events, before composing: nesting depth (libyaml's composer
    recurses in C, so a deep file would crash it) and the count of values (composing is far
    slower than parsing, so an oversized file is refused here, in a fraction of a second).
    Returns the number of aliases (without any, the count here is already the expanded size)."""
    depth = 0
    count = 0
    aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        cls = type(event)
        if cls is yaml.ScalarEvent or cls is yaml.AliasEvent:
            count += 1
            if count > MAX_YAML_NODES:
                raise _too_many(file, event)
            if cls is yaml.AliasEvent:
                aliases += 1
        elif cls is yaml.SequenceStartEvent or cls is yaml.MappingStartEvent:
            count += 1
            if count > MAX_YAML_NODES:
                raise _too_many(file, event)
            depth += 1
            if depth > MAX_YAML_DEPTH:
                m = event.start_mark
                raise SpecError.at(Pos(file, m.line + 1, m.column + 1),
                                   f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep",
                                   "flatten the spec (use blocks); or raise FLOPCOUNT_MAX_YAML_DEPTH")
        elif cls is yaml.SequenceEndEvent or cls is yaml.MappingEndEvent:
            depth -= 1
    return aliases


def load_yaml(path: str, text: str | None = None):
    """Read ``path`` (or ``text``) and return ``(value, pos)``; raise SpecError on any problem."""
    file = str(path)
    if text is None:
        try:
            if os.path.isdir(path):
                raise SpecError.at(Pos(file, 1, 1), f"{file} is a folder, not a spec file",
                                   "give the path of a .yaml file")
            size = os.path.getsize(path)
            if size > MAX_FILE_BYTES:
                raise SpecError.at(Pos(file, 1, 1),
                                   f"the file is {size:,} bytes, over the limit of {MAX_FILE_BYTES:,}",
                                   "split the spec with imports; or raise FLOPCOUNT_MAX_FILE_BYTES")
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise SpecError.at(Pos(file, 1, 1), f"cannot read the file: {exc.strerror or exc}",
                               "check the path and its permissions") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise SpecError.at(Pos(file, line, col), f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                               "save the spec as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        aliases = _check_depth(text, file)  # libyaml's composer recurses in C: a deep file would crash it
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = "check indentation, colons and brackets near this point"
        if "found character '\\t'" in str(exc) or "\t" in problem:
            hint = "YAML forbids tabs for indentation: use spaces"
        raise SpecError.at(pos, f"YAML syntax error: {problem}", hint) from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Pos(file, 1, 1), f"YAML error: {exc}", "check the file is YAML") from None
    except RecursionError:
        raise SpecError.at(Pos(file, 1, 1), "the YAML is nested too deeply to read",
                           "flatten the spec") from None
    if root is None:
        raise SpecError.at(Pos(file, 1, 1), "the file is empty",
                           "a spec is a mapping with at least `input:` and `layers:`")
    size = _expanded_size(root, file) if aliases else 0  # no alias: _check_depth counted it all
    if size > MAX_YAML_NODES:
        raise SpecError.at(Pos(file, 1, 1),
                           f"the YAML expands to more than {MAX_YAML_NODES:,} values once its aliases "
                           "(&anchor / *alias) are resolved: an alias bomb or an oversized spec",
                           "remove the repeated aliases (use `repeat:` or blocks); "
                           "or raise FLOPCOUNT_MAX_YAML_NODES")
    conv = _Converter(file)
    value, pos = conv.convert(root)
    if conv.errors:
        raise SpecError(conv.errors)
    return value, pos
