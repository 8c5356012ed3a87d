"""Reading a baseline: bytes -> JSON -> validated :class:`~.format.Baseline`.

A lock file is untrusted (it may come from a pull request), so reading never hangs, never
recurses without bound and never echoes more than a short escaped excerpt of a value:

- the file is read by :func:`flopcount.fileio.read_user_file` (a FIFO, a device, a socket is
  refused at once; at most ``FLOPCOUNT_MAX_LOCK_BYTES``, 16 MiB);
- nesting is measured before the JSON parser runs (at most :data:`~.format.MAX_DEPTH`), and
  value positions are found by an iterative scanner (:func:`_offsets`);
- whole numbers have at most :data:`~.format.MAX_DIGITS` digits, texts at most
  :data:`~.format.MAX_TEXT` characters (a spec path :data:`~.format.MAX_PATH`) and no control
  characters; at most ``FLOPCOUNT_MAX_LOCK_MODELS`` models and ``FLOPCOUNT_MAX_LOCK_LAYERS``
  layers;
- a ``spec`` entry stays inside the baseline's folder tree (the folder of the real file, after
  symbolic links) unless a root is allowed, as for spec imports (``--import-root`` /
  ``FLOPCOUNT_IMPORT_ROOT``); it must be a regular file. So does an ``onnx`` entry (a
  ``.onnx`` file, read later with the ONNX importer's own limits);
- a ``target`` entry (``flopcount.baseline/2``) is classified by its text alone
  (flopcount.importers.lock_kind): ``torchvision:NAME`` / ``timm:NAME``, whose ``pinned.set``
  may hold only numbers and booleans, never a key that fetches weights or reads a file; or
  ``pkg.module:function``, which runs code, and is refused when the caller will recount the
  entries (``check``) unless the user trusts the lock's code (flopcount.baseline.trust).

Every problem is reported with its ``file:line:col`` (exit 3).
"""

from __future__ import annotations

import os
import re
from array import array
from operator import itemgetter

from ..errors import Diagnostic, Pos, UsageError, excerpt
from ..fileio import UserFileError, _kind, read_user_file, remove_stale_temps
from ..spec.document import BUDGET_KEYS, _inside, did_you_mean, import_roots
from ..spec.document import IMPORT_ROOT_ENV as ROOT_ENV
from ..units import parse_figure

# the C scanner and string reader that json.decoder takes from _json, taken from _json itself:
# importing the json package compiles its decoder's and encoder's patterns (5 M instructions of a
# check), which a plain lock file, read by the C scanner alone, never needs (json is imported
# where a lock is read strictly, or a value shown or written)
try:
    from _json import make_scanner as _c_make_scanner
    from _json import scanstring
except ImportError:  # pragma: no cover - a Python without the accelerator: json.decoder's own
    from json.decoder import scanstring  # type: ignore[attr-defined,no-redef]

    _c_make_scanner = None  # type: ignore[assignment,misc]
from . import format as fmt
from .format import FIELDS, SCHEMA, SCHEMA_IMPORTS, SCHEMAS, SCOPE_ALL, Baseline, BaselineError, Entry

FIX = "correct it by hand, or write the entry anew with `flopcount snapshot` (budgets are kept)"
HINT = "restore it from version control (`git checkout -- {path}`) or write a new one with `flopcount snapshot`"


def _limit(name: str, default: int) -> int:
    from ..spec.yamlload import env_limit

    return env_limit(name, default)


def allowed_roots(baseline_real: str) -> tuple:
    """The real folders a spec entry may lie in: the baseline's own folder (of the real file),
    then the roots allowed for spec imports (``FLOPCOUNT_IMPORT_ROOT``, ``--import-root``):
    one rule and one setting for both (flopcount.spec.document.import_roots)."""
    return import_roots(baseline_real)


def inside(real: str, roots) -> bool:
    """Is the real path ``real`` one of ``roots`` or below one of them?"""
    return _inside(real, roots)


def working_folder() -> str:
    """The working folder; a deleted one is a clear environment error (exit 4), not a crash."""
    from ..errors import EnvironmentProblem

    try:
        return os.getcwd()
    except FileNotFoundError:
        raise EnvironmentProblem(
            "the working folder no longer exists (it was deleted or moved); "
            "cd into an existing folder and run the command again"
        ) from None


# --------------------------------------------------------------------------- positions

#: The patterns of the reader, compiled when first used (:func:`_rx`): a well-formed lock file
#: needs none of them, and compiling them all would cost every `check` as much as reading the
#: layers of a dozen models.
_PATTERNS: dict = {
    "WS": r"[ \t\n\r]*",
    "NUMBER": r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?",
    "STRING": rb'"(?:[^"\\]|\\.)*"',
    "TOKEN": r'"(?:[^"\\]|\\.)*"|[\[\]{}]',
    # a control or invisible character: refused in any text of a lock file
    "CONTROL": "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]",
    # what could make a text unsafe: an escape (``\\n``, ``\\u001b``) or a raw invisible character
    "MAYBE_UNSAFE": "\\\\|[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]",
    "CONSTANT": r'"(?:[^"\\]|\\.)*"|NaN|-?Infinity',
}
_COMPILED: dict = {}


def _rx(name: str) -> re.Pattern:
    """The reader's pattern ``name`` (of :data:`_PATTERNS`), compiled once."""
    pattern = _COMPILED.get(name)
    if pattern is None:
        pattern = _COMPILED[name] = re.compile(_PATTERNS[name])
    return pattern


def __getattr__(name: str):  # the patterns by their former names: read._CONTROL, read._WS, ...
    if name.startswith("_") and name[1:] in _PATTERNS:
        return _rx(name[1:])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_DELETE = bytes(b for b in range(256) if b not in b'[]{}"\\')  # all bytes but brackets, quotes, backslashes


def too_deep(text: str, limit: int = fmt.MAX_DEPTH) -> int | None:
    """The offset of the first array or object nested deeper than ``limit``, or None.

    Fast, in C: the text as bytes keeps only brackets, quotes and backslashes
    (``bytes.translate``); strings are dropped (``""`` pairs, or exactly by a regular
    expression when a string holds a bracket or an escape); then innermost pairs are peeled
    off, exactly one level a pass (``bytes.replace``). Only a text still not empty after ``limit``
    passes is walked, token by token, to find the offset."""
    if text.count("[") + text.count("{") <= limit:
        return None
    kept = text.encode("utf-8", "surrogatepass").translate(None, _DELETE)
    s = kept.replace(b'""', b"")
    if b'"' in s or b"\\" in s:
        s = _rx("STRING").sub(b"", kept)
    for _ in range(limit):
        if not s:
            return None
        # (an emptied pair is marked, not dropped at once: `{[]}` is two levels, two passes)
        s = s.replace(b"[]", b".").replace(b"{}", b".").replace(b".", b"")
    if not s:
        return None
    depth = 0
    for m in _rx("TOKEN").finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None  # unbalanced: the JSON parser reports it


def _skip(text: str, i: int) -> int:
    """The offset of the first non-blank character at or after ``i``."""
    m = _rx("WS").match(text, i)
    return m.end() if m else i


def _offsets(text: str) -> tuple[dict, list]:
    """Offset of every value of a JSON text that ``json.loads`` accepted: path tuple -> offset,
    and the (path, offset) of every repeated key. Iterative: any nesting depth."""
    where: dict = {}
    repeated: list = []

    def key(i: int, frame: list) -> tuple:
        start = i
        k, i = scanstring(text, start + 1)
        sub = frame[1] + (k,)
        if k in frame[3]:
            repeated.append((sub, start))
        frame[3].add(k)
        return _skip(text, i) + 1, sub  # past the colon

    stack: list = []  # frames: [opening char, path, next index, keys seen]
    path: tuple = ()
    i = 0
    while True:
        i = _skip(text, i)
        where[path] = i
        c = text[i]
        if c in "{[":
            frame = [c, path, 0, set()]
            i = _skip(text, i + 1)
            if text[i] not in "}]":
                stack.append(frame)
                if c == "{":
                    i, path = key(i, frame)
                else:
                    path, frame[2] = path + (0,), 1
                continue
            i += 1
        elif c == '"':
            i = scanstring(text, i + 1)[1]
        else:
            m = _rx("NUMBER").match(text, i)
            if m:
                i = m.end()
            else:
                for word in ("true", "false", "null"):
                    if text.startswith(word, i):
                        i += len(word)
                        break
                else:  # pragma: no cover - json.loads accepted it
                    raise ValueError(f"unexpected {c!r} at offset {i}")
        while stack:  # after a value: the next item, or close containers
            i = _skip(text, i)
            frame = stack[-1]
            if text[i] == ",":
                i = _skip(text, i + 1)
                if frame[0] == "{":
                    i, path = key(i, frame)
                else:
                    path, frame[2] = frame[1] + (frame[2],), frame[2] + 1
                break
            stack.pop()
            i += 1
        else:
            return where, repeated


def _pos_at(path: str, text: str, offset: int) -> Pos:
    line = text.count("\n", 0, offset) + 1
    return Pos(path, line, offset - text.rfind("\n", 0, offset))


class _BigNumber(ValueError):
    def __init__(self, digits: str):
        self.digits = digits
        super().__init__(digits)


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > fmt.MAX_DIGITS:
        raise _BigNumber(digits)
    return int(digits)


def _object(pairs: list, repeated: list) -> dict:
    """A JSON object; a key written twice is noted (its position is found later)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        repeated.append(True)
    return obj


def _maybe_unsafe(text: str) -> bool:
    """Could a text of the document be unsafe or too long? (Then every text is walked.)

    Without a backslash, DEL or any character beyond ASCII (``str.isascii`` is a flag of the
    string, no scan) the pattern cannot match. A JSON text never spans lines (a raw line break
    or control character in one is refused by the parser), so no line longer than
    :data:`~.format.MAX_TEXT` means no text longer either."""
    if _unsafe_chars(text):
        return True
    return len(text) > fmt.MAX_TEXT and max(map(len, text.split("\n"))) > fmt.MAX_TEXT


def _unsafe_chars(text: str) -> bool:
    """Could a text of the document hold a control or invisible character? Only through an
    escape (a backslash) or a raw character of the pattern (DEL or beyond ASCII): a raw C0
    control character in a JSON text is refused by the parser."""
    return "\\" in text or ((not text.isascii() or "\x7f" in text) and _rx("MAYBE_UNSAFE").search(text) is not None)


_LAYER_KEYS = frozenset(fmt.LAYER_KEYS)
_BIG = 10**fmt.MAX_DIGITS  # the smallest whole number of more digits than a count may have
_NAME, _PARAMS, _MACS = itemgetter("name"), itemgetter("params"), itemgetter("macs")


def _plain(doc, text: str) -> set | None:
    """When the document that ``json.loads`` made of ``text`` (a text with no escape and no raw
    invisible character: :func:`_unsafe_chars`) is one the strict reading (:func:`_strict`) finds
    nothing wrong with, the ids of its lists of well-formed layers (:func:`_layers`); else None.

    One walk of every value (the layer lists of a model in C, a pass per field): no array or
    object deeper than :data:`~.format.MAX_DEPTH`, no whole number of more than
    :data:`~.format.MAX_DIGITS` digits, no key or text longer than :data:`~.format.MAX_TEXT`;
    and no key written twice, counted: every key/value pair of the text has exactly one colon
    outside texts, and a text with no escape holds as many as its value, so ``text.count(":")``
    is the number of pairs plus the colons of the keys and texts, while the objects hold one
    key fewer for each key written twice (a dict keeps one). A layer is counted with the keys
    it must have (name, params, macs; train_only where it has one), so the same count proves
    that no layer has another key."""
    keys = colons = 0  # keys of the objects; colons inside keys and texts
    rows_ok: set = set()
    bools = "true" in text or "false" in text  # (else no value is a bool)
    train = '"train_only"' in text  # (else no object has the key)
    stack: list = [(doc, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        v, depth = pop()
        t = type(v)
        if t is dict:
            if depth > fmt.MAX_DEPTH:
                return None
            keys += len(v)
            for k, x in v.items():
                if len(k) > fmt.MAX_TEXT:
                    return None
                colons += k.count(":")
                if k == "layers" and type(x) is list and depth + 2 <= fmt.MAX_DEPTH:
                    counted = _layers(x, bools, train)
                    if counted is not None:
                        keys += counted[0]
                        colons += counted[1]
                        rows_ok.add(id(x))
                        continue
                push((x, depth + 1))
        elif t is list:
            if depth > fmt.MAX_DEPTH:
                return None
            for x in v:
                push((x, depth + 1))
        elif t is str:
            if len(v) > fmt.MAX_TEXT:
                return None
            colons += v.count(":")
        elif t is int and not -_BIG < v < _BIG:
            return None
    return rows_ok if text.count(":") == keys + colons else None


def _layers(rows: list, bools: bool = True, train: bool = True) -> tuple[int, int] | None:
    """For a list of layers of the kind ``_validate`` accepts (objects of a `name`, a text of at
    most MAX_TEXT characters; `params` and `macs`, whole numbers >= 0 below 2**64; a
    `train_only` of true or false where present): the keys they must hold and the colons of
    their names, which :func:`_plain` counts against the text (so a layer with another key, or
    a key written twice, is found there). None when a layer is not of that kind, or may not be.
    A pass in C per field, no loop per layer: a name that is not a text fails ``str.join``, a
    count that is not a whole number in range fails ``array("Q")`` (true and false pass it:
    their type is checked when the text holds either, ``bools``); ``train``: the text may
    hold a ``train_only`` key."""
    if not rows:
        return 0, 0
    try:
        names = list(map(_NAME, rows))  # KeyError, TypeError: a layer without a name, not an object
        joined = "".join(names)  # TypeError: a name that is not a text
        params, macs = list(map(_PARAMS, rows)), list(map(_MACS, rows))
        array("Q", params), array("Q", macs)  # TypeError, OverflowError: not a count of 64 bits
    except (KeyError, TypeError, OverflowError):
        return None
    if bools and (bool in set(map(type, params)) or bool in set(map(type, macs))):
        return None
    if max(map(len, names)) > fmt.MAX_TEXT:
        return None
    keys = 3 * len(rows)
    if train:
        flags = [r["train_only"] for r in rows if "train_only" in r]
        if flags and set(map(type, flags)) != {bool}:
            return None
        keys += len(flags)
    return keys, joined.count(":")


#: bytes -> b"0" for a digit, b" " for anything else (:func:`_long_digits`)
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))


def _long_digits(raw: bytes) -> bool:
    """Do the bytes ``raw`` hold a run of digits longer than a count may have (MAX_DIGITS)? In
    C: each byte made a digit or a blank (``bytes.translate``), then a run of zeros searched for."""
    return b"0" * (fmt.MAX_DIGITS + 1) in raw.translate(_DIGITS)


class _Constant(ValueError):
    pass


def _no_constants(name):
    raise _Constant(f"{name} is not a count")


class _Plain:
    """The settings of ``json.loads(text, parse_constant=_no_constants)``, as the C scanner
    reads them from its decoder (json.decoder.JSONDecoder's attributes of those names)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _no_constants  # (read from the class: the function itself)


def _loads(text: str):
    """``json.loads(text, parse_constant=_no_constants)`` by the C scanner alone, as that call
    runs it (JSONDecoder.decode: the value between leading and trailing JSON whitespace); any
    text it refuses raises (not its error: the caller reads such a text again strictly)."""
    if _c_make_scanner is None:  # pragma: no cover - a Python without the accelerator
        import json

        return json.loads(text, parse_constant=_no_constants)
    start = len(text) - len(text.lstrip(" \t\n\r"))
    # (the scanner reads its settings by name, from any object; StopIteration: no value there)
    doc, end = _c_make_scanner(_Plain)(text, start)  # type: ignore[arg-type]
    if end != len(text.rstrip(" \t\n\r")):
        raise ValueError("Extra data")
    return doc


def _constant_at(text: str) -> int:
    """The offset of the first NaN / Infinity outside a string (0 if none is found)."""
    return next((m.start() for m in _rx("CONSTANT").finditer(text) if m.group()[0] != '"'), 0)


def shown(v) -> str:
    """A JSON value as an error shows it: short and escaped."""
    import json

    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, str):
        return f'"{excerpt(v)}"'
    if isinstance(v, (int, float)):
        return excerpt(json.dumps(v))
    return "a list" if isinstance(v, list) else "an object"


# --------------------------------------------------------------------------- reading


def load(path: str, recount: bool = False, trust_code: bool | None = None) -> Baseline:
    """Read and validate a baseline; every problem is reported with its file:line:col (exit 3).
    ``recount``: the caller will recount every entry (``check``): an entry that runs code is
    then refused unless the user trusts it (``trust_code``; None: flopcount.baseline.trust)."""
    if not os.path.isabs(path):
        working_folder()
    hint = HINT.format(path=path)
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = path
    if not os.path.lexists(path):
        raise UsageError(
            f"no baseline at {path}; write one with `flopcount snapshot SPEC... -o {path}` (or `{fmt.REGENERATE}`)"
        )
    remove_stale_temps(real)  # left by a write that was killed (SIGKILL)
    limit = _limit("FLOPCOUNT_MAX_LOCK_BYTES", fmt.MAX_BYTES)
    try:
        raw = read_user_file(path, "lock file", limit, "FLOPCOUNT_MAX_LOCK_BYTES")
    except UserFileError as exc:
        raise UsageError(
            f"cannot read the baseline {path}: {exc.reason}" + (f"; {exc.hint}" if exc.hint else "")
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BaselineError.at(
            Pos(path, line, exc.start - raw.rfind(b"\n", 0, exc.start)), "the baseline is not UTF-8 text", hint
        ) from None
    scanned: list = []  # positions are found only when needed: an error, or a budget to point at

    def scan() -> tuple:
        if not scanned:
            scanned.append(_offsets(text))
        return scanned[0]

    def pos(p) -> Pos:
        offsets = scan()[0]
        while p not in offsets:
            p = p[:-1]
        return _pos_at(path, text, offsets[p])

    problems: list = []
    verified = None  # the layer lists found well-formed (ids), when the document is plain
    if not _unsafe_chars(text):
        try:  # the C decoder alone, no call per object or number
            doc = _loads(text)
        except Exception:  # noqa: BLE001 - the strict reading below reports it, as it always has
            pass
        else:
            verified = _plain(doc, text)
    if verified is None:  # anything out of the ordinary: read again, every check on its own
        doc = _strict(path, text, raw, hint, scan, pos, problems)
    if recount and trust_code is None:
        from .trust import code_trusted

        trust_code = code_trusted()
    refuse_code = recount and not trust_code
    baseline = None if problems else _validate(doc, path, pos, problems, real, refuse_code, verified or ())
    if problems or baseline is None:
        raise BaselineError(sorted(problems, key=lambda d: (d.pos.line, d.pos.col) if d.pos else (0, 0)))
    baseline.real, baseline.text = real, text
    if any(e.budget for e in baseline.entries):
        offsets = scan()[0]
        baseline.positions = {p: pos(p) for p in offsets if len(p) >= 3 and p[0] == "models" and p[2] == "budget"}
    return baseline


def _strict(path: str, text: str, raw: bytes, hint: str, scan, pos, problems: list):
    """The document of ``text``, each check on its own: nesting before the parser runs, the
    parser with a hook per object (keys written twice) and per whole number (digits), then the
    positions of repeated keys, and every text (control characters, length) into ``problems``.
    A text that cannot be a baseline at all raises its located error here."""
    import json

    deep = too_deep(text)
    if deep is not None:
        raise BaselineError.at(
            _pos_at(path, text, deep),
            f"the baseline nests arrays and objects deeper than {fmt.MAX_DEPTH} levels (a baseline needs 5)",
            hint,
        )
    try:
        repeated_keys: list = []

        def obj(pairs: list) -> dict:  # (_object, without a second call per object)
            out = dict(pairs)
            if len(out) != len(pairs):
                repeated_keys.append(True)
            return out

        # (ints are parsed by the C decoder unless a run of digits anywhere is too long for one)
        doc = json.loads(
            text,
            parse_constant=_no_constants,
            parse_int=_parse_int if _long_digits(raw) else None,
            object_pairs_hook=obj,
        )
    except json.JSONDecodeError as exc:
        raise BaselineError.at(
            Pos(path, exc.lineno, exc.colno), f"the baseline is not valid JSON: {exc.msg}", hint
        ) from None
    except _BigNumber as exc:
        at = text.find(exc.digits)
        raise BaselineError.at(
            _pos_at(path, text, max(at, 0)),
            f"a number of {len(exc.digits):,} digits "
            f"({excerpt(exc.digits, 20)}): a count here has at most {fmt.MAX_DIGITS} digits",
            hint,
        ) from None
    except _Constant as exc:  # NaN, Infinity
        raise BaselineError.at(
            _pos_at(path, text, _constant_at(text)), f"the baseline is not valid JSON: {exc}", hint
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BaselineError.at(Pos(path, 1, 1), f"the baseline is not valid JSON: {excerpt(str(exc))}", hint) from None
    if repeated_keys:
        for p, off in scan()[1]:
            problems.append(
                Diagnostic(
                    _pos_at(path, text, off), f"key `{excerpt(p[-1])}` appears twice in one object", "keep one of them"
                )
            )
    if _maybe_unsafe(text):
        _check_texts(doc, pos, problems)
    return doc


def _check_texts(doc, pos, problems: list) -> None:
    """Every key and text of the document: not too long, no control characters."""
    stack: list = [(doc, ())]
    while stack:
        v, p = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                _text(k, p + (k,), "a key", fmt.MAX_TEXT, pos, problems)
                stack.append((x, p + (k,)))
        elif isinstance(v, list):
            stack.extend((x, p + (j,)) for j, x in enumerate(v))
        elif isinstance(v, str):
            _text(v, p, "a text", fmt.MAX_PATH if p and p[-1] in ("spec", "onnx") else fmt.MAX_TEXT, pos, problems)


def _text(v: str, p: tuple, what: str, limit: int, pos, problems: list) -> None:
    if len(v) > limit:
        problems.append(
            Diagnostic(
                pos(p),
                f'{what} of {len(v):,} characters ("{excerpt(v)}"); at most {limit:,} here',
                "a baseline holds names and paths, not documents",
            )
        )
    elif _rx("CONTROL").search(v):
        problems.append(
            Diagnostic(
                pos(p),
                f'{what} holds a control character: "{excerpt(v)}"',
                "names and paths are plain text: remove newlines, ESC, NUL and other "
                "control or invisible characters (and rename the model in its spec)",
            )
        )


def _validate(
    doc, path: str, pos, problems: list, real: str, refuse_code: bool = False, verified=()
) -> Baseline | None:
    """The baseline ``doc`` stands for, or None with every problem in ``problems``. ``verified``:
    the ids of layer lists already found well-formed (:func:`_layers`): not checked again."""
    folder = os.path.dirname(real)

    def bad(p, message, fix=None):
        problems.append(Diagnostic(pos(p), message, fix or FIX))

    def keys(obj, allowed, p, what):
        for k in obj:
            if k not in allowed:
                bad(
                    p + (k,),
                    f"unknown key `{excerpt(k)}` in {what}",
                    did_you_mean(k, allowed) or f"allowed keys: {', '.join(allowed)}",
                )

    def count(v, p, what, minimum=0, maximum=None):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or (maximum is not None and v > maximum):
            top = " and <= 2**62" if maximum == fmt.MAX_SIZE else ""
            bad(p, f"{what} must be an integer >= {minimum}{top}, got {shown(v)}")
            return False
        return True

    if not isinstance(doc, dict):
        bad(
            (),
            "a baseline must be a JSON object with `schema`, `counting_rules` and `models`",
            "write a new one with `flopcount snapshot`",
        )
        return None
    schema = doc.get("schema")
    if schema not in SCHEMAS:
        if isinstance(schema, str) and schema.startswith("flopcount.baseline/"):
            bad(
                ("schema",),
                f"baseline file format `{excerpt(schema)}` is not the one this flopcount reads ({SCHEMA})",
                f"write it anew: `rm {path}` then `flopcount snapshot ... -o {path}`",
            )
        else:
            bad(
                ("schema",) if "schema" in doc else (),
                f"this is not a flopcount baseline (schema {shown(schema)})",
                f'a baseline starts with "schema": "{SCHEMA}"; write one with `flopcount snapshot`',
            )
        return None
    imports = schema == SCHEMA_IMPORTS  # `target` and `onnx` entries allowed
    keys(doc, fmt.TOP_KEYS, (), "the baseline")
    rules = doc.get("counting_rules")
    count(rules, ("counting_rules",), "`counting_rules`", 1)
    scope = doc.get("scope")
    if scope is not None and scope != SCOPE_ALL:
        bad(("scope",), f'`scope` must be "{SCOPE_ALL}" or absent, got {shown(scope)}')
    models = doc.get("models")
    if not isinstance(models, list):
        bad(("models",) if "models" in doc else (), "`models` must be a list of models")
        return None
    max_models = _limit("FLOPCOUNT_MAX_LOCK_MODELS", fmt.MAX_MODELS)
    if len(models) > max_models:
        bad(
            ("models", max_models),
            f"the baseline holds {len(models):,} models, over the limit of {max_models:,}",
            "split it into several baselines, or raise FLOPCOUNT_MAX_LOCK_MODELS",
        )
        return None
    max_layers = _limit("FLOPCOUNT_MAX_LOCK_LAYERS", fmt.MAX_LAYERS)
    layer_keys = frozenset(fmt.LAYER_KEYS)
    params, macs = FIELDS
    n_layers = 0
    roots = None
    entries: list = []
    first: dict = {}
    for i, m in enumerate(models):
        p = ("models", i)
        if not isinstance(m, dict):
            bad(p, f"models[{i}] must be an object")
            continue
        keys(m, fmt.MODEL_KEYS_IMPORTS if imports else fmt.MODEL_KEYS, p, f"models[{i}]")
        ok = True
        name = m.get("name")
        if not isinstance(name, str) or not name:
            bad(p + ("name",), f"models[{i}] needs a `name` (text)")
            ok = False
        elif name in first:
            bad(
                p + ("name",),
                f"two models are named `{excerpt(name)}` (models[{first[name]}] and models[{i}])",
                "a name stands for one model: remove one entry, or give one spec another `name:` and snapshot it again",
            )
            ok = False
        else:
            first[name] = i
        if not imports and ("builtin" in m) == ("spec" in m):
            bad(p, f"models[{i}] needs exactly one of `builtin` (a config name) and `spec` (a file path)")
            ok = False
        elif imports and sum(k in m for k in fmt.SOURCES) != 1:
            bad(
                p,
                f"models[{i}] needs exactly one of `builtin` (a config name), `spec` (a file path), "
                "`target` (torchvision:NAME, timm:NAME, pkg.module:function) and `onnx` (an ONNX file path)",
            )
            ok = False
        for k in fmt.SOURCES if imports else ("builtin", "spec"):
            if k in m and (not isinstance(m[k], str) or not m[k]):
                bad(p + (k,), f"`{k}` must be text")
                ok = False
        for k in ("spec", "onnx") if imports else ("spec",):
            if ok and isinstance(m.get(k), str):
                if roots is None:
                    roots = allowed_roots(real)
                ok &= _spec_ok(m[k], folder, roots, p + (k,), bad, k)
        if ok and imports and isinstance(m.get("target"), str):
            ok &= _target_ok(m["target"], m.get("pinned"), refuse_code, p, bad)
        if ok and "onnx" in m and isinstance(m.get("pinned"), dict) and "set" in m["pinned"]:
            bad(p + ("pinned", "set"), "an ONNX model has no variables to set (its sizes are fixed)")
            ok = False
        if m.get("variant") is not None and not isinstance(m["variant"], str):
            bad(p + ("variant",), "`variant` must be text or null")
            ok = False
        shape = m.get("input", [1])
        if (
            not isinstance(shape, list)
            or not shape
            or not all(count(d, p + ("input", j), "an input size", 1, fmt.MAX_SIZE) for j, d in enumerate(shape))
        ):
            if not isinstance(shape, list) or not shape:
                bad(p + ("input",), "`input` must be a list of sizes such as [3, 224, 224]")
            ok = False
        ok &= count(m.get("batch", 1), p + ("batch",), "`batch`", 1, fmt.MAX_SIZE)
        pinned = m.get("pinned", {})
        if not isinstance(pinned, dict):
            bad(p + ("pinned",), '`pinned` must be an object such as {"batch": 8}')
            ok = False
        else:
            keys(pinned, ("input", "batch", "set"), p + ("pinned",), "`pinned`")
            if "set" in pinned and not (
                isinstance(pinned["set"], dict) and all(isinstance(k, str) and k for k in pinned["set"])
            ):
                bad(p + ("pinned", "set"), '`pinned.set` must be an object of variables, such as {"width": 0.5}')
                ok = False
            if "batch" in pinned:
                ok &= count(pinned["batch"], p + ("pinned", "batch"), "`pinned.batch`", 1, fmt.MAX_SIZE)
            if "input" in pinned and not (
                isinstance(pinned["input"], list)
                and 1 <= len(pinned["input"]) <= 3
                and all(
                    count(d, p + ("pinned", "input", j), "an input size", 1, fmt.MAX_SIZE)
                    for j, d in enumerate(pinned["input"])
                )
            ):
                if not (isinstance(pinned["input"], list) and 1 <= len(pinned["input"]) <= 3):
                    bad(p + ("pinned", "input"), "`pinned.input` must be a list of 1 to 3 sizes")
                ok = False
        budget = m.get("budget", {})
        if not isinstance(budget, dict):
            bad(p + ("budget",), '`budget` must be an object such as {"params": "140M", "macs": "16G"}')
            ok = False
        else:
            keys(budget, BUDGET_KEYS, p + ("budget",), "`budget`")
            for k, v in budget.items():
                try:
                    if isinstance(v, float):
                        raise ValueError('write a whole number or a figure such as "16G"')
                    if not isinstance(v, (int, str)):
                        raise ValueError(f"got {shown(v)}")
                    parse_figure(v)
                except ValueError as exc:
                    bad(
                        p + ("budget", k),
                        f"budget {excerpt(k)}: {excerpt(str(exc), 120)}",
                        'write e.g. "140M", "16G" or 5000000',
                    )
                    ok = False
        for k in ("input", "batch", "totals", "layers"):
            if k not in m:
                bad(p, f"models[{i}] (`{excerpt(name)}`) has no `{k}`", "write it anew with `flopcount snapshot`")
                ok = False
        totals = m.get("totals", {k: 0 for k in FIELDS})
        if not isinstance(totals, dict):
            bad(p + ("totals",), "`totals` must be an object with `params` and `macs`")
            ok = False
        else:
            keys(totals, FIELDS, p + ("totals",), "`totals`")
            for k in FIELDS:
                ok &= count(totals.get(k), p + ("totals", k) if k in totals else p + ("totals",), f"totals.{k}")
        layers = m.get("layers", [])
        if not isinstance(layers, list):
            bad(p + ("layers",), "`layers` must be a list of {name, params, macs}")
            ok = False
            layers = []
        if n_layers + len(layers) > max_layers:
            bad(
                p + ("layers", max(0, max_layers - n_layers)),
                f"the baseline holds more than {max_layers:,} layers (all models together)",
                "split it into several baselines, or raise FLOPCOUNT_MAX_LOCK_LAYERS",
            )
            return None
        n_layers += len(layers)
        for j, row in () if id(layers) in verified else enumerate(layers):
            if (  # a well-formed layer, the common case: the checks below, without a call each
                type(row) is dict
                and layer_keys.issuperset(row)
                and type(row.get("name")) is str
                and type(row.get(params)) is int
                and type(row.get(macs)) is int
                and row[params] >= 0
                and row[macs] >= 0
                and type(row.get("train_only", False)) is bool
            ):
                continue
            q = p + ("layers", j)
            if not isinstance(row, dict):
                bad(q, 'a layer must be an object {"name", "params", "macs"}')
                ok = False
                continue
            keys(row, fmt.LAYER_KEYS, q, "a layer")
            if not isinstance(row.get("name"), str):
                bad(q + ("name",) if "name" in row else q, "a layer needs a `name` (text)")
                ok = False
            for k in FIELDS:
                ok &= count(row.get(k), q + (k,) if k in row else q, f"layer {k}")
            if "train_only" in row and not isinstance(row["train_only"], bool):
                bad(q + ("train_only",), "`train_only` must be true or false")
                ok = False
        if ok:
            entries.append(
                Entry(
                    str(name),
                    m.get("builtin"),
                    m.get("spec"),
                    m.get("variant"),
                    list(shape),
                    m["batch"],
                    {k: totals[k] for k in FIELDS},
                    layers,  # the document's own list (nothing else holds it)
                    dict(pinned),
                    dict(budget),
                    m.get("target"),
                    m.get("onnx"),
                )
            )
    if problems:
        return None
    assert isinstance(rules, int)  # validated above
    return Baseline(path, rules, entries, scope)


def _target_ok(target: str, pinned, refuse_code: bool, p: tuple, bad) -> bool:
    """A `target` entry: a torchvision/timm name with safe builder arguments, or a callable
    that the user trusts when it is to be run (see the module docstring)."""
    from ..importers import CODE_KINDS, lock_kind, unsafe_argument
    from .trust import TRUST_ENV, TRUST_OPTION

    kind = lock_kind(target)
    if kind is None:
        bad(
            p + ("target",),
            f"`target` `{excerpt(target)}` is not an importable model name",
            "write torchvision:NAME, timm:NAME or pkg.module:function (ASCII names; an ONNX file "
            "goes in `onnx`, a spec file in `spec`), or snapshot the model again",
        )
        return False
    sets = pinned.get("set") if isinstance(pinned, dict) else None
    if kind.name in CODE_KINDS:
        if refuse_code:
            bad(
                p + ("target",),
                f"`target` `{excerpt(target)}` runs code: recounting it imports the module and calls "
                "the function, and this lock file may not be yours (a pull request)",
                f"read the code it names; if you trust it, rerun with `check {TRUST_OPTION}` (or "
                f"{TRUST_ENV}=1); otherwise remove the entry, or import the model to a spec "
                "(`flopcount import`) and snapshot that",
            )
            return False
    elif isinstance(sets, dict):
        why = unsafe_argument(sets)
        if why:
            bad(
                p + ("pinned", "set"),
                f"`pinned.set` of `{excerpt(target)}`: {excerpt(why, 120)}",
                "a lock file gives a torchvision or timm model only numbers and booleans (such as "
                "num_classes), never weights; remove the key",
            )
            return False
    return True


def _spec_ok(spec: str, folder: str, roots: tuple, p: tuple, bad, key: str = "spec") -> bool:
    """A `spec` (or `onnx`) entry stays inside the allowed folders and names a regular file (or
    none: a file that is gone is reported by `check`, not here)."""
    if key == "onnx" and not spec.lower().endswith(".onnx"):
        bad(p, f"onnx `{excerpt(spec)}` does not name a .onnx file", "name the model's .onnx file")
        return False
    full = Entry("", None, spec, None, [], 1, {}, []).spec_path(folder)
    try:
        real = os.path.realpath(full)
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as exc:
        bad(p, f"{key} `{excerpt(spec)}` cannot be read: {excerpt(str(exc))}")
        return False
    if not inside(real, roots):
        bad(
            p,
            f"{key} `{excerpt(spec)}` is outside the baseline's folder {folder}",
            f"a lock file names {'specs' if key == 'spec' else 'files'} inside its own folder tree; to allow "
            f"another folder, give --import-root DIR or set {ROOT_ENV}=DIR",
        )
        return False
    kind = _kind(st.st_mode) if st is not None else None
    if kind is not None:
        what = "a spec file" if key == "spec" else "an ONNX file"
        bad(
            p,
            f"{key} `{excerpt(spec)}` is {kind}, not {what}",
            f"name a regular {'YAML' if key == 'spec' else 'ONNX'} file",
        )
        return False
    return True
