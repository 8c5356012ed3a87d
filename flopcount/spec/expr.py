"""A small, safe evaluator for the expressions written in specs (``${c * 4}``).

Python's ``eval`` is never used. An expression is parsed with :mod:`ast` and only these
forms are accepted: numbers, booleans and strings; names of variables in scope;
``+ - * / // % **``; comparisons; ``and or not``; ``a if cond else b``; and calls of
the functions in :data:`flopcount.spec.scaling.FUNCTIONS` with positional arguments.
Attribute access, subscripts, comprehensions, lambdas and every other call are refused.
Integers are capped at :data:`MAX_BITS` bits so that ``9**9**9`` fails at once.
"""
from __future__ import annotations

import ast
import math
import operator

from .scaling import FUNCTIONS

MAX_BITS = 256
MAX_LENGTH = 500


class ExprError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_cache: dict[str, ast.AST] = {}


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_size(v):
    if isinstance(v, int) and v.bit_length() > MAX_BITS:
        raise ExprError(f"a number in this expression exceeds {MAX_BITS} bits",
                        "use realistic sizes; flopcount refuses numbers this large")
    if isinstance(v, complex):  # (-8) ** 0.5
        raise ExprError("this expression gives a complex number", "check the signs under ** and roots")
    if isinstance(v, float) and not math.isfinite(v):
        raise ExprError("this expression gives an infinite or undefined number", "check the arithmetic")
    return v


def parse(text: str) -> ast.AST:
    tree = _cache.get(text)
    if tree is None:
        if len(text) > MAX_LENGTH:
            raise ExprError(f"expression longer than {MAX_LENGTH} characters", "split it into variables")
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
            raise ExprError(f"cannot parse expression `{text}`: {msg}",
                            "write arithmetic such as `${c * 4}` or `${max(1, c // 4)}`") from None
        _validate(tree, text)
        _cache[text] = tree
    return tree


def _validate(tree: ast.AST, text: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
                             ast.IfExp, ast.Call, ast.Load, ast.operator, ast.unaryop, ast.boolop,
                             ast.cmpop)):
            if isinstance(node, ast.BinOp) and type(node.op) not in _BINOPS:
                raise ExprError(f"the operator in `{text}` is not allowed", "use + - * / // % ** only")
            if isinstance(node, ast.Compare) and any(type(o) not in _CMPOPS for o in node.ops):
                raise ExprError(f"`in` / `is` are not allowed in `{text}`", "compare with == != < <= > >=")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                    raise ExprError(f"`{name}(...)` is not a function a spec may call",
                                    "allowed: " + ", ".join(sorted(FUNCTIONS)))
                if node.keywords:
                    raise ExprError(f"keyword arguments are not allowed in `{text}`",
                                    "pass arguments by position")
            if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
                raise ExprError(f"`{node.value!r}` is not allowed in an expression", "use numbers")
            continue
        kind = type(node).__name__
        raise ExprError(f"`{text}` uses {kind}, which a spec expression may not use",
                        "expressions allow arithmetic, comparisons, `a if c else b` and "
                        + ", ".join(sorted(FUNCTIONS)))


def evaluate(text: str, scope) -> object:
    """Evaluate ``text`` with the variables in ``scope`` (a mapping)."""
    fn = _compiled.get(text)
    if fn is None:
        fn = _compiled[text] = _compile(parse(text))
    return fn(scope)


_compiled: dict = {}


def _unknown(name: str, scope):
    import difflib  # only on errors

    close = difflib.get_close_matches(name, list(scope), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "declare it under `vars:` or as a block parameter"
    return ExprError(f"unknown name `{name}` in expression", hint)


def _compile(node):
    """Turn a validated AST into nested closures: parsed and checked once, run many times.

    Each closure applies the same checks an interpreter would (numbers only in arithmetic,
    the size cap, exponent limits), so behaviour does not depend on caching."""
    cls = type(node)
    if cls is ast.Constant:
        value = node.value
        return lambda scope: value
    if cls is ast.Name:
        name = node.id

        def lookup(scope):
            try:
                return scope[name]
            except KeyError:
                raise _unknown(name, scope) from None

        return lookup
    if cls is ast.BinOp:
        left_fn, right_fn = _compile(node.left), _compile(node.right)
        op = type(node.op)
        fn = _BINOPS[op]
        is_pow = op is ast.Pow

        def binop(scope):
            left = left_fn(scope)
            right = right_fn(scope)
            if not (_is_num(left) and _is_num(right)):
                raise ExprError(f"arithmetic needs numbers, got {left!r} and {right!r}",
                                "check the variables used here")
            if is_pow:
                if isinstance(right, int) and isinstance(left, int):
                    if right < 0 or right * max(1, abs(left).bit_length()) > MAX_BITS:
                        raise ExprError(f"{left} ** {right} is too large (over {MAX_BITS} bits) or negative",
                                        "use realistic sizes")
                elif abs(right) > 1024:
                    raise ExprError(f"exponent {right} is too large", "use realistic sizes")
            try:
                return _check_size(fn(left, right))
            except ZeroDivisionError:
                raise ExprError("division by zero", "check the divisor") from None
            except OverflowError:
                raise ExprError("number too large", "use realistic sizes") from None

        return binop
    if cls is ast.UnaryOp:
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda scope: not operand(scope)
        negate = isinstance(node.op, ast.USub)

        def unary(scope):
            v = operand(scope)
            if not _is_num(v):
                raise ExprError(f"sign of a non-number {v!r}", "check the variables used here")
            return -v if negate else +v

        return unary
    if cls is ast.BoolOp:
        parts = [_compile(v) for v in node.values]
        if isinstance(node.op, ast.And):
            def conj(scope):
                result = True
                for part in parts:
                    result = part(scope)
                    if not result:
                        return result
                return result

            return conj

        def disj(scope):
            result = False
            for part in parts:
                result = part(scope)
                if result:
                    return result
            return result

        return disj
    if cls is ast.Compare:
        first = _compile(node.left)
        steps = [(_CMPOPS[type(op)], _compile(comp)) for op, comp in zip(node.ops, node.comparators)]

        def compare(scope):
            left = first(scope)
            for op, comp in steps:
                right = comp(scope)
                try:
                    if not op(left, right):
                        return False
                except TypeError:
                    raise ExprError(f"cannot compare {left!r} with {right!r}",
                                    "compare numbers with numbers") from None
                left = right
            return True

        return compare
    if cls is ast.IfExp:
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda scope: body(scope) if test(scope) else orelse(scope)
    if cls is ast.Call:
        fname = node.func.id
        func = FUNCTIONS[fname]
        args_fn = [_compile(a) for a in node.args]

        def call(scope):
            args = [a(scope) for a in args_fn]
            for a in args:
                if not _is_num(a):
                    raise ExprError(f"{fname}() takes numbers, got {a!r}", "check the arguments")
            try:
                return _check_size(func(*args))
            except ExprError:
                raise
            except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
                raise ExprError(f"{fname}(...) failed: {exc}", "check the arguments") from None

        return call
    raise ExprError(f"unsupported expression element {cls.__name__}", None)  # pragma: no cover
