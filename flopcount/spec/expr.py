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
    return _eval(parse(text), scope)


def _eval(node, scope):
    cls = type(node)
    if cls is ast.Constant:
        return node.value
    if cls is ast.Name:
        try:
            return scope[node.id]
        except KeyError:
            import difflib  # only on errors

            close = difflib.get_close_matches(node.id, list(scope), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else \
                "declare it under `vars:` or as a block parameter"
            raise ExprError(f"unknown name `{node.id}` in expression", hint) from None
    if cls is ast.BinOp:
        left = _eval(node.left, scope)
        right = _eval(node.right, scope)
        if not (_is_num(left) and _is_num(right)):
            raise ExprError(f"arithmetic needs numbers, got {left!r} and {right!r}",
                            "check the variables used here")
        op = type(node.op)
        if op is ast.Pow:
            if isinstance(right, int) and isinstance(left, int):
                if right < 0 or right * max(1, abs(left).bit_length()) > MAX_BITS:
                    raise ExprError(f"{left} ** {right} is too large (over {MAX_BITS} bits) or negative",
                                    "use realistic sizes")
            elif abs(right) > 1024:
                raise ExprError(f"exponent {right} is too large", "use realistic sizes")
        try:
            return _check_size(_BINOPS[op](left, right))
        except ZeroDivisionError:
            raise ExprError("division by zero", "check the divisor") from None
        except OverflowError:
            raise ExprError("number too large", "use realistic sizes") from None
    if cls is ast.UnaryOp:
        v = _eval(node.operand, scope)
        if isinstance(node.op, ast.Not):
            return not v
        if not _is_num(v):
            raise ExprError(f"sign of a non-number {v!r}", "check the variables used here")
        return -v if isinstance(node.op, ast.USub) else +v
    if cls is ast.BoolOp:
        if isinstance(node.op, ast.And):
            result = True
            for value in node.values:
                result = _eval(value, scope)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, scope)
            if result:
                return result
        return result
    if cls is ast.Compare:
        left = _eval(node.left, scope)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, scope)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError:
                raise ExprError(f"cannot compare {left!r} with {right!r}", "compare numbers with numbers") from None
            left = right
        return True
    if cls is ast.IfExp:
        return _eval(node.body, scope) if _eval(node.test, scope) else _eval(node.orelse, scope)
    if cls is ast.Call:
        args = [_eval(a, scope) for a in node.args]
        for a in args:
            if not _is_num(a):
                raise ExprError(f"{node.func.id}() takes numbers, got {a!r}", "check the arguments")
        try:
            return _check_size(FUNCTIONS[node.func.id](*args))
        except ExprError:
            raise
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise ExprError(f"{node.func.id}(...) failed: {exc}", "check the arguments") from None
    raise ExprError(f"unsupported expression element {cls.__name__}", None)  # pragma: no cover
