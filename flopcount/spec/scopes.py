"""Scopes: the variables an expression sees, the text interpolation builds, and the names
that make layer paths.

* :class:`Env`: the variables of one scope (the spec's ``vars:`` with variant and ``--set``
  values, or one block instance's parameters), evaluated lazily, once each, cycles
  detected; a chain of any length (``$a1 = $a0 + 1`` ... 5,000 deep) is evaluated without
  deep recursion.
* :class:`Scope`: an Env plus the layer's input shape (``in_c``, ``in_h``, ``in_w``,
  ``in_features``, the :data:`IMPLICIT` names).
* :func:`interp`: ``$name`` / ``${expr}`` in a value. What it builds is counted against
  the spec's :class:`Budget` (:data:`MAX_TEXT` characters of interpolated text): a
  string-doubling chain is refused at once. (Distinct expressions are counted where they
  are parsed, :data:`flopcount.spec.expr.MAX_EXPRESSIONS`.)
* :func:`name_problem`: what a user name (layer, branch, block) may not contain: dots (they
  separate scopes in a layer path ``inception.b2.conv``), control characters and bidi
  overrides, more than :data:`MAX_NAME` characters.
"""

from __future__ import annotations

import re

from . import expr as _expr
from .expr import ExprError, _compiled, evaluate
from .yamlload import env_limit

#: names every layer's expressions see: its input shape
IMPLICIT = ("in_c", "in_h", "in_w", "in_features")
#: names a block body's expressions see: the input shape of the block instance they are written
#: in (``in_c`` inside a nested branch is that branch's input; ``block_in_c`` stays the block's)
BLOCK_IMPLICIT = ("block_in_c", "block_in_h", "block_in_w")
#: the names a Scope answers from the input shapes, not from its Env
_SHAPE_NAMES = frozenset(IMPLICIT + BLOCK_IMPLICIT)
#: an Env that is no block instance (the spec's variables, a stage table's row)
_NO_BLOCK = object()
#: characters of text that ``$``-interpolation may build in one expansion (all strings together)
MAX_TEXT = env_limit("FLOPCOUNT_MAX_TEXT", 8_000_000)
#: the longest layer, branch or block name
MAX_NAME = 200
#: a chain of variables deeper than this is evaluated bottom-up (no deep recursion)
_SHALLOW = 24
#: while flopcount.spec.replay records an expansion: a list of (shape, name) per read of an
#: input-shape name (IMPLICIT, BLOCK_IMPLICIT); None otherwise
SHAPE_READS: list | None = None
#: while flopcount.spec.walk records a block instance: [the spec's Env, the names read from it]
ROOT_READS: list | None = None

# A reference is `$word` or `${expr}`, as the pattern r"\$(?:\{([^{}]*)\}|([A-Za-z_][A-Za-z_0-9]*))"
# would find them (:func:`refs`); the words of an expression are r"[A-Za-z_][A-Za-z_0-9]*"
# (:func:`words`). Both are scanned with string methods: compiling the patterns cost every run
# more than all the scanning of a model.
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_WORD_CHARS = _WORD_START | frozenset("0123456789")
# C0 controls, DEL, C1 controls, bidi embeddings/overrides/isolates, line/paragraph separators
# (every one of them is a character str.isprintable() refuses; compiled on first need)
_CONTROL_CLASS = "[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"


def refs(value: str) -> list:
    """The references in ``value``, left to right, not overlapping: ``(start, end, expr,
    word)`` with ``expr`` the text inside ``${...}`` (no braces in it) or ``word`` the name
    after ``$`` (the other one None)."""
    out: list[tuple] = []
    n = len(value)
    i = value.find("$")
    while i != -1:
        j = i + 1
        if j < n:
            c = value[j]
            if c == "{":
                k = value.find("}", j + 1)
                if k != -1 and value.find("{", j + 1, k) == -1:
                    out.append((i, k + 1, value[j + 1 : k], None))
                    i = value.find("$", k + 1)
                    continue
            elif c in _WORD_START:
                k = j + 1
                while k < n and value[k] in _WORD_CHARS:
                    k += 1
                out.append((i, k, None, value[j:k]))
                i = value.find("$", k)
                continue
        i = value.find("$", j)
    return out


def words(expr: str) -> list:
    """The names in ``expr`` (runs of ASCII letters, digits and ``_`` that start with no digit)."""
    out = []
    n = len(expr)
    k = 0
    while k < n:
        if expr[k] in _WORD_START:
            j = k + 1
            while j < n and expr[j] in _WORD_CHARS:
                j += 1
            out.append(expr[k:j])
            k = j
        else:
            k += 1
    return out


class Unknown(Exception):
    """An expression needs a shape that an earlier error left unknown."""


class Budget:
    """What interpolation has built so far in one expansion (see :data:`MAX_TEXT`)."""

    __slots__ = ("text",)

    def __init__(self):
        self.text = 0

    def built(self, size: int) -> None:
        self.text += size
        if self.text > MAX_TEXT:
            raise ExprError(
                f"`$` interpolation builds more than {MAX_TEXT:,} characters of text "
                "(the limit FLOPCOUNT_MAX_TEXT; variables that repeat each other grow it "
                "exponentially)",
                "interpolate short values; or raise FLOPCOUNT_MAX_TEXT",
            )


class Env:
    """Variables visible to an expression: lazily evaluated, cycles detected.

    ``origin`` names where a value came from when it was not the spec (``--set c=64``): an
    error in such a value says so."""

    __slots__ = ("block_shape", "budget", "busy", "done", "origin", "parent", "pos", "raw")

    def __init__(
        self,
        raw: dict,
        pos: dict,
        parent: Env | None = None,
        budget: Budget | None = None,
        origin: dict | None = None,
        block_shape=_NO_BLOCK,
    ):
        self.raw, self.pos, self.parent = raw, pos, parent
        #: a block instance's input shape (None: unknown after an error); see BLOCK_IMPLICIT
        self.block_shape = block_shape
        self.done: dict = {}
        self.busy: list = []
        self.budget: Budget = budget if budget is not None else parent.budget if parent is not None else Budget()
        self.origin = origin or {}

    def get(self, name: str):
        env = self
        while True:  # (up the parents: the first scope that holds the name answers)
            if ROOT_READS is not None and env is ROOT_READS[0]:
                ROOT_READS[1].append(name)
            done = env.done
            if name in done:
                return done[name]
            if name in env.raw:
                return env._evaluate(name)
            parent = env.parent
            if parent is None:
                raise KeyError(name)
            env = parent

    __getitem__ = get

    def _evaluate(self, name: str):
        """The value of this scope's own variable ``name``, evaluated now (not done yet)."""
        raw = self.raw[name]
        if (not isinstance(raw, str) or "$" not in raw) and len(self.busy) <= _SHALLOW:
            self.done[name] = raw  # (what interp gives for it: the value itself; no cycle possible)
            return raw
        if name in self.busy:
            chain = self.busy[self.busy.index(name) :] + [name]
            raise ExprError(f"variables refer to each other in a cycle: {_chain(chain)}", "break the cycle")
        if len(self.busy) > _SHALLOW:
            self._bottom_up(name)
            if name in self.done:
                return self.done[name]
        self.busy.append(name)
        try:
            value = interp(self.raw[name], Scope(self, None))
        except ExprError as exc:
            if name in self.origin:
                from ..errors import UsageError

                raise UsageError(
                    f"{self.origin[name]}: {exc.message}" + (f"; {exc.hint}" if exc.hint else "")
                ) from None
            raise
        finally:
            self.busy.pop()
        self.done[name] = value
        return value

    def _bottom_up(self, name: str) -> None:
        """Evaluate the variables ``name`` depends on (in this scope) deepest first, so that no
        evaluation recurses far. A cycle found on the way is reported with its chain."""
        order: list = []
        state: dict = {}  # 1: on the path, 2: finished
        path = [name]
        stack = [iter(self._deps(name))]
        state[name] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                stack.pop()
                finished = path.pop()
                state[finished] = 2
                order.append(finished)
                continue
            if dep in self.done or state.get(dep) == 2:
                continue
            if state.get(dep) == 1:
                chain = path[path.index(dep) :] + [dep]
                raise ExprError(f"variables refer to each other in a cycle: {_chain(chain)}", "break the cycle")
            state[dep] = 1
            path.append(dep)
            stack.append(iter(self._deps(dep)))
        saved, self.busy = self.busy, []
        try:
            for var in order:
                if var not in self.done:
                    self.get(var)
        finally:
            self.busy = saved

    def _deps(self, name: str) -> list:
        value = self.raw[name]
        if not isinstance(value, str) or "$" not in value:
            return []
        out: list = []
        for _, _, expr, word in refs(value):
            names = [word] if word is not None else words(expr)
            out.extend(w for w in names if w in self.raw and w not in self.done)
        return out

    def __iter__(self):
        return iter(self.names())

    def names(self):
        out = list(self.raw)
        if self.parent is not None:
            out.extend(self.parent.names())
        return out

    def set_origins(self, value) -> str:
        """`` (from `--set c=64`)`` when ``value`` refers to a variable set on the command line."""
        if not isinstance(value, str) or "$" not in value:
            return ""
        found: list = []
        env: Env | None = self
        while env is not None:
            for _, _, expr, word in refs(value):
                names = [word] if word is not None else words(expr)
                found.extend(env.origin[w] for w in names if w in env.origin and env.origin[w] not in found)
            env = env.parent
        return f" (from `{'`, `'.join(found)}`)" if found else ""


def _chain(names: list) -> str:
    if len(names) > 12:
        names = names[:5] + [f"... {len(names) - 10} more ..."] + names[-5:]
    return " -> ".join(names)


class Scope:
    """Mapping view for the evaluator: variables plus the input shape (in_c, in_h, in_w)."""

    __slots__ = ("env", "shape")

    def __init__(self, env: Env, shape):
        self.env, self.shape = env, shape

    def __getitem__(self, name):
        if name not in _SHAPE_NAMES:
            return self.env.get(name)
        if name in IMPLICIT:
            if SHAPE_READS is not None:
                SHAPE_READS.append((self.shape, name))
            if self.shape is None:
                raise Unknown()
            if name == "in_features":
                n = 1
                for d in self.shape:
                    n *= d
                return n
            idx = IMPLICIT.index(name)
            if idx >= len(self.shape):
                raise _flattened(name)
            return self.shape[idx]
        return block_input(self.env, name)

    def __iter__(self):
        return iter(self.env.names() + list(IMPLICIT) + list(BLOCK_IMPLICIT))


def _flattened(name: str) -> ExprError:
    return ExprError(f"`{name}` is undefined after flatten", "use in_c or in_features")


def reader(name: str):
    """The compiled form of the expression ``name`` (:func:`flopcount.spec.expr.evaluate`): its
    value in the scope, or the unknown-name error. A :class:`Scope`'s variable that its own
    Env has evaluated already is answered in place (what ``scope[name]`` gives)."""
    unknown = _expr._unknown
    if name in IMPLICIT and name != "in_features":
        idx = IMPLICIT.index(name)

        def read_dim(scope):
            if scope.__class__ is Scope:  # (Scope.__getitem__'s rule, in place)
                shape = scope.shape
                if SHAPE_READS is not None:
                    SHAPE_READS.append((shape, name))
                if shape is None:
                    raise Unknown()
                if idx < len(shape):
                    return shape[idx]
                raise _flattened(name)
            try:
                return scope[name]
            except KeyError:
                raise unknown(name, scope) from None

        return read_dim
    if name in _SHAPE_NAMES:

        def read_shape(scope):
            try:
                return scope[name]
            except KeyError:
                raise unknown(name, scope) from None

        return read_shape

    def read(scope):
        try:
            if scope.__class__ is not Scope:
                return scope[name]
            return scope.env.get(name)  # (one walk up the parents, with its ROOT_READS notes: Env.get)
        except KeyError:
            raise unknown(name, scope) from None

    return read


def block_input(env: Env | None, name: str):
    """``block_in_c`` / ``block_in_h`` / ``block_in_w``: the input shape of the innermost block
    instance whose body holds the expression."""
    while env is not None and env.block_shape is _NO_BLOCK:
        env = env.parent
    if env is None:
        raise ExprError(
            f"`{name}` is the input of the block it is written in, and this is outside any block",
            "use in_c / in_h / in_w (the layer's own input)",
        )
    shape = env.block_shape
    if SHAPE_READS is not None:
        SHAPE_READS.append((shape, name))
    if shape is None:
        raise Unknown()
    idx = BLOCK_IMPLICIT.index(name)
    if idx >= len(shape):
        raise ExprError(f"`{name}` is undefined: the block's input is the vector {list(shape)}", "use block_in_c")
    return shape[idx]


#: value -> what :func:`interp` reads in it: the expression (a str) when the whole value is
#: one reference, else its references (:func:`refs`); the same strings recur in every block instance
_PARSED: dict = {}
_PARSED_LIMIT = 20_000


def _parse(value: str):
    whole = value.strip()
    found = refs(whole) if whole[:1] == "$" else None
    if found and found[0][:2] == (0, len(whole)):
        out = found[0][2] if found[0][2] is not None else found[0][3]
    else:
        out = refs(value)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[value] = out
    return out


def interp(value, scope: Scope):
    """``value`` with its ``$name`` and ``${expr}`` references evaluated: the value itself when
    the whole string is one reference, else the text with each reference replaced."""
    if not isinstance(value, str) or "$" not in value:
        return value
    found = _PARSED.get(value)
    if found is None:
        found = _parse(value)
    if found.__class__ is str:
        fn = _compiled.get(found)  # (evaluate(found, scope), without the call)
        if fn is None:
            return evaluate(found, scope)
        try:
            return fn(scope)
        except (RecursionError, MemoryError):
            raise _expr.too_deep(found) from None
    budget = scope.env.budget
    parts = []
    size = 0
    last = 0
    for start, end, expr, word in found:
        piece = str(evaluate(expr if expr is not None else word, scope))
        size += start - last + len(piece)
        budget.built(size)  # before joining: a doubling chain stops at the limit, not past it
        size = 0
        parts.append(value[last:start])
        parts.append(piece)
        last = end
    parts.append(value[last:])
    budget.built(len(value) - last)
    return "".join(parts)


def name_problem(name: str, what: str):
    """``(message, hint)`` when ``name`` cannot be a layer, branch or block name, else None."""
    if len(name) > MAX_NAME:
        return (
            f"{what} {name[:40]!r}... is {len(name):,} characters long, over the limit of {MAX_NAME}",
            "use a shorter name",
        )
    if not name or name.strip() != name or "." in name:
        return (
            f"{what} {name!r} must be non-empty, without dots or spaces at its ends",
            "dots separate scopes in a layer path; use `_` or `-` inside names",
        )
    bad = None if name.isprintable() else re.search(_CONTROL_CLASS, name)
    if bad:
        return (
            f"{what} {name!r} contains the control character U+{ord(bad.group()):04X}",
            "names are printed in tables and logs; use letters, digits, `_` or `-`",
        )
    return None
