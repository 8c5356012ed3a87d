"""A small, safe evaluator for the expressions written in specs (``${c * 4}``).

Python's ``eval`` is never used. An expression is parsed with :mod:`ast` and only these
forms are accepted: numbers, booleans and strings; names of variables in scope;
``+ - * / // % **``; comparisons; ``and or not``; ``a if cond else b``; and calls of
the functions in :data:`flopcount.spec.mathfns.FUNCTIONS` with positional arguments.
Attribute access, subscripts, comprehensions, lambdas and every other call are refused.
Integers are capped at :data:`MAX_BITS` bits so that ``9**9**9`` fails at once.

Refused because they would silently mean something else: ``~`` (Python's bitwise not:
``~3`` is -4, read by nobody as a number), comparing text with a number (``'50' == 50`` is
simply false), a float literal that overflows to infinity (``1e400``), and any non-ASCII
letter or digit (Python folds ``ｃ`` into ``c``). Nesting is bounded (:data:`MAX_DEPTH`), and
so is the number of distinct expressions one run parses (:data:`MAX_EXPRESSIONS`).
"""

from __future__ import annotations

import ast
import math
import operator

from ..errors import excerpt
from .mathfns import FUNCTIONS  # the scaling rules, and log, log2, pow
from .yamlload import env_limit

MAX_BITS = 256
MAX_LENGTH = 500
MAX_DEPTH = 40  # levels of operators and calls in one expression
#: Distinct expression texts parsed in one run (each is parsed and compiled once);
#: FLOPCOUNT_MAX_EXPRESSIONS raises it.
MAX_EXPRESSIONS = env_limit("FLOPCOUNT_MAX_EXPRESSIONS", 20_000)


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
_seen = [0]  # distinct texts parsed since the last begin()


def begin() -> None:
    """Start counting distinct expressions afresh (once per spec read)."""
    _seen[0] = 0


def _kind(v) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "the number"
    if isinstance(v, str):
        return "the text"
    return type(v).__name__


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_size(v):
    if isinstance(v, int) and v.bit_length() > MAX_BITS:
        raise ExprError(
            f"a number in this expression exceeds {MAX_BITS} bits",
            "use realistic sizes; flopcount refuses numbers this large",
        )
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
        _seen[0] += 1
        if _seen[0] > MAX_EXPRESSIONS:
            raise ExprError(
                f"the spec holds more than {MAX_EXPRESSIONS:,} distinct expressions",
                "share values through variables or blocks; or raise FLOPCOUNT_MAX_EXPRESSIONS",
            )
        ascii_only = text.isascii()
        if not ascii_only:
            _refuse_non_ascii(text)
        stripped = text.strip()
        if ascii_only and stripped.isidentifier() and stripped not in _KEYWORDS:
            tree = ast.Name(stripped, _LOAD)  # what ast.parse gives for a bare ASCII name, found at once
        else:
            try:
                tree = ast.parse(stripped, mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                msg = getattr(exc, "msg", None) or type(exc).__name__
                raise ExprError(
                    f"cannot parse expression `{excerpt(text)}`: {excerpt(str(msg))}",
                    "write arithmetic such as `${c * 4}` or `${max(1, c // 4)}`",
                ) from None
            if not _plain(tree):
                _validate(tree, text)  # (it raises the error, or finds the tree fine after all)
        if len(_cache) >= 4 * MAX_EXPRESSIONS:  # (one process may read many specs: tests, sweeps)
            _cache.clear()
            _compiled.clear()
        _cache[text] = tree
    return tree


#: Python's keywords (keyword.kwlist): no bare name; ``True``, ``False`` and ``None`` are
#: constants, the others do not parse alone
_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except "
    "finally for from global if import in is lambda nonlocal not or pass raise return try "
    "while with yield".split()
)
_LOAD = ast.Load()


def _plain(tree: ast.AST) -> bool:
    """True when :func:`_validate` would accept ``tree``: only the allowed forms, nested at
    most :data:`MAX_DEPTH` levels (counted as :func:`_depth` counts them), no refused value.
    One quick pass over the nodes the parser makes; anything unusual answers False and
    :func:`_validate` decides, and words its error."""
    stack: list = [(tree, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, d = pop()
        if d > MAX_DEPTH:
            return False
        cls = node.__class__
        if cls is ast.Name:
            continue
        if cls is ast.Constant:
            value = node.value
            vcls = value.__class__
            if vcls is int:
                if value.bit_length() > MAX_BITS:
                    return False
            elif vcls is float:
                if not math.isfinite(value):
                    return False
            elif vcls is not str and vcls is not bool:
                return False
            continue
        d += 1
        if cls is ast.BinOp:
            if node.op.__class__ not in _BINOPS:
                return False
            push((node.left, d))
            push((node.right, d))
        elif cls is ast.Call:
            func = node.func
            if func.__class__ is not ast.Name or func.id not in FUNCTIONS or node.keywords:
                return False
            push((func, d))
            for arg in node.args:
                push((arg, d))
        elif cls is ast.Compare:
            for op in node.ops:
                if op.__class__ not in _CMPOPS:
                    return False
            push((node.left, d))
            for comp in node.comparators:
                push((comp, d))
        elif cls is ast.UnaryOp:
            if node.op.__class__ is ast.Invert:
                return False
            push((node.operand, d))
        elif cls is ast.BoolOp:
            for value in node.values:
                push((value, d))
        elif cls is ast.IfExp:
            push((node.test, d))
            push((node.body, d))
            push((node.orelse, d))
        else:
            return False
    return True


def _refuse_non_ascii(text: str) -> None:
    """Letters and digits outside ASCII: Python reads ``ｃ`` as ``c`` and refuses ``٣`` with a
    puzzling message. Inside a quoted string any character is fine."""
    import io
    import tokenize

    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text.strip()).readline) if t.type != tokenize.STRING]
    except (tokenize.TokenError, SyntaxError, ValueError):
        tokens = None
    spans = [t.string for t in tokens] if tokens is not None else [text]
    for part in spans:
        for ch in part:
            if not ch.isascii() and (ch.isalnum() or ch.isdigit()):
                kind = "digit" if ch.isdigit() or ch.isnumeric() else "letter"
                raise ExprError(
                    f"`{excerpt(text)}` holds the {kind} `{ch}` (U+{ord(ch):04X}), which is not ASCII",
                    "write digits 0-9 and ASCII names (variables are ASCII names)",
                )


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
            if d > MAX_DEPTH:
                return d
        stack.extend(
            (c, d + 1)
            for c in ast.iter_child_nodes(node)
            if not isinstance(c, (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop))
        )
    return deepest


def _validate(tree: ast.AST, text: str) -> None:
    if _depth(tree) > MAX_DEPTH:
        raise ExprError(
            f"`{excerpt(text)}` nests more than {MAX_DEPTH} levels of operators and calls", "split it into variables"
        )
    for node in ast.walk(tree):
        if isinstance(
            node,
            (
                ast.Constant,
                ast.Name,
                ast.BinOp,
                ast.UnaryOp,
                ast.BoolOp,
                ast.Compare,
                ast.IfExp,
                ast.Call,
                ast.Load,
                ast.operator,
                ast.unaryop,
                ast.boolop,
                ast.cmpop,
            ),
        ):
            if isinstance(node, ast.BinOp) and type(node.op) not in _BINOPS:
                raise ExprError(f"the operator in `{excerpt(text)}` is not allowed", "use + - * / // % ** only")
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
                raise ExprError(
                    f"`~` in `{excerpt(text)}` is Python's bitwise not (`~3` is -4), which a spec "
                    "expression may not use",
                    "write `-x` for a negative number (or `-x - 1`)",
                )
            if isinstance(node, ast.Compare) and any(type(o) not in _CMPOPS for o in node.ops):
                raise ExprError(f"`in` / `is` are not allowed in `{excerpt(text)}`", "compare with == != < <= > >=")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
                    raise ExprError(
                        f"`{excerpt(name)}(...)` is not a function a spec may call",
                        "allowed: " + ", ".join(sorted(FUNCTIONS)),
                    )
                if node.keywords:
                    raise ExprError(
                        f"keyword arguments are not allowed in `{excerpt(text)}`", "pass arguments by position"
                    )
            if isinstance(node, ast.Constant):
                value = node.value
                if not isinstance(value, (int, float, str, bool)):
                    raise ExprError(f"`{excerpt(value)}` is not allowed in an expression", "use numbers")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ExprError(
                        f"`{excerpt(text)}` holds a number too large for a float (it reads as infinity)",
                        "use realistic sizes",
                    )
                if isinstance(value, int) and value.bit_length() > MAX_BITS:
                    raise ExprError(
                        f"a number in `{excerpt(text)}` exceeds {MAX_BITS} bits",
                        "use realistic sizes; flopcount refuses numbers this large",
                    )
            continue
        kind = type(node).__name__
        raise ExprError(
            f"`{excerpt(text)}` uses {kind}, which a spec expression may not use",
            "expressions allow arithmetic, comparisons, `a if c else b` and " + ", ".join(sorted(FUNCTIONS)),
        )


def evaluate(text: str, scope) -> object:
    """Evaluate ``text`` with the variables in ``scope`` (a mapping)."""
    fn = _compiled.get(text)
    if fn is None:
        fn = _compiled[text] = _compile(parse(text))
    try:
        return fn(scope)
    except (RecursionError, MemoryError):  # (bounded by MAX_DEPTH; the last line of defence)
        raise too_deep(text) from None


def too_deep(text: str) -> ExprError:
    """The error of an expression whose evaluation ran out of stack or memory."""
    return ExprError(f"`{excerpt(text)}` is too deep or too large to evaluate", "split it into variables")


#: expression text -> its compiled form (a function of the scope), for every text parsed
_compiled: dict = {}


def _unknown(name: str, scope):
    import difflib  # only on errors

    close = difflib.get_close_matches(name, list(scope), n=3)
    hint = (
        f"did you mean {', '.join(excerpt(c) for c in close)}?"
        if close
        else "declare it under `vars:` or as a block parameter"
    )
    return ExprError(f"unknown name `{excerpt(name)}` in expression", hint)


#: the classes of the values that are numbers at once (a subclass of them is asked _is_num)
_NUMBERS = frozenset((int, float))
#: two values of one of these classes are of the same kind (see _kind)
_KINDS = frozenset((int, float, str, bool))


#: flopcount.spec.scopes.reader: how a name is read from a scope (found on the first name compiled)
_reader: list = []


def _operand(node):
    """``(None, value)`` for a constant (read in place, not called), else ``(function, None)``."""
    if node.__class__ is ast.Constant:
        return None, node.value
    return _compile(node), None


def _compile(node):
    """Turn a validated AST into nested closures: parsed and checked once, run many times.

    Each closure applies the same checks an interpreter would (numbers only in arithmetic,
    the size cap, exponent limits), so behaviour does not depend on caching. Constants are
    read in place; the common cases of each check (an int, a float) are answered in line,
    and everything else goes through the same helpers (_is_num, _kind, _check_size)."""
    make = _COMPILERS.get(type(node))
    if make is None:  # pragma: no cover  (the validator allows no other node)
        raise ExprError(f"unsupported expression element {type(node).__name__}", None)
    return make(node)


def _constant(node):
    value = node.value
    return lambda scope: value


def _name(node):
    if not _reader:
        from .scopes import reader  # (once: scopes imports this module)

        _reader.append(reader)
    return _reader[0](node.id)


def _binop(node):
    left_fn, left_value = _operand(node.left)
    right_fn, right_value = _operand(node.right)
    op = type(node.op)
    fn = _BINOPS[op]
    is_pow = op is ast.Pow

    def binop(scope):
        left = left_value if left_fn is None else left_fn(scope)
        right = right_value if right_fn is None else right_fn(scope)
        left_ok = left.__class__ in _NUMBERS or _is_num(left)
        if not (left_ok and (right.__class__ in _NUMBERS or _is_num(right))):
            raise ExprError(
                f"arithmetic needs numbers, got {excerpt(left)} and {excerpt(right)}",
                "check the variables used here",
            )
        if is_pow:
            if isinstance(right, int) and isinstance(left, int):
                if right < 0 or right * max(1, abs(left).bit_length()) > MAX_BITS:
                    raise ExprError(
                        f"{excerpt(left)} ** {excerpt(right)} is too large (over {MAX_BITS} bits) or negative",
                        "use realistic sizes",
                    )
            elif abs(right) > 1024:
                raise ExprError(f"exponent {excerpt(right)} is too large", "use realistic sizes")
        try:
            result = fn(left, right)
        except ZeroDivisionError:
            raise ExprError("division by zero", "check the divisor") from None
        except OverflowError:
            raise ExprError("number too large", "use realistic sizes") from None
        if result.__class__ is int and result.bit_length() <= MAX_BITS:
            return result
        return _check_size(result)

    return binop


def _unaryop(node):
    if isinstance(node.op, ast.Not):
        operand = _compile(node.operand)
        return lambda scope: not operand(scope)
    negate = isinstance(node.op, ast.USub)
    operand_fn, operand_value = _operand(node.operand)
    if operand_fn is None and operand_value.__class__ in _NUMBERS:  # `-1`: a number, signed once
        value = -operand_value if negate else +operand_value
        return lambda scope: value

    def unary(scope):
        v = operand_value if operand_fn is None else operand_fn(scope)
        if not (v.__class__ in _NUMBERS or _is_num(v)):
            raise ExprError(f"sign of a non-number {excerpt(v)}", "check the variables used here")
        return -v if negate else +v

    return unary


def _boolop(node):
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


def _compare(node):
    first_fn, first_value = _operand(node.left)
    steps = [(_CMPOPS[type(op)], *_operand(comp)) for op, comp in zip(node.ops, node.comparators)]

    def compare(scope):
        left = first_value if first_fn is None else first_fn(scope)
        for op, comp_fn, comp_value in steps:
            right = comp_value if comp_fn is None else comp_fn(scope)
            lcls, rcls = left.__class__, right.__class__
            same = (lcls is rcls and lcls in _KINDS) or (lcls in _NUMBERS and rcls in _NUMBERS)
            if not same and _kind(left) != _kind(right):  # `'50' == 50` would be silently false
                raise ExprError(
                    f"cannot compare {_kind(left)} `{excerpt(left)}` with {_kind(right)} "
                    f"`{excerpt(right)}`: values of different kinds (`'50' == 50` would be silently false)",
                    "compare numbers with numbers, text with text",
                )
            try:
                if not op(left, right):
                    return False
            except TypeError:
                raise ExprError(
                    f"cannot compare {excerpt(left)} with {excerpt(right)}", "compare numbers with numbers"
                ) from None
            left = right
        return True

    return compare


def _ifexp(node):
    test = _compile(node.test)
    body_fn, body_value = _operand(node.body)
    else_fn, else_value = _operand(node.orelse)

    def choose(scope):
        if test(scope):
            return body_value if body_fn is None else body_fn(scope)
        return else_value if else_fn is None else else_fn(scope)

    return choose


def _call(node):
    fname = node.func.id
    func = FUNCTIONS[fname]
    operands = [_operand(a) for a in node.args]
    if len(operands) == 1:
        return _call1(fname, func, *operands[0])
    if len(operands) == 2:
        return _call2(fname, func, *operands[0], *operands[1])
    return _call_n(fname, func, operands)


def _refuse(fname: str, args) -> None:
    """The error for the first argument that is no number (_is_num), if any."""
    for a in args:
        if not _is_num(a):
            raise ExprError(f"{fname}() takes numbers, got {excerpt(a)}", "check the arguments")


def _failed(fname: str, exc: Exception) -> ExprError:
    return ExprError(f"{fname}(...) failed: {excerpt(str(exc))}", "check the arguments")


def _call1(fname, func, fn0, value0):
    def call1(scope):
        a0 = value0 if fn0 is None else fn0(scope)
        if a0.__class__ not in _NUMBERS:
            _refuse(fname, (a0,))
        try:
            result = func(a0)
        except ExprError:
            raise
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise _failed(fname, exc) from None
        if result.__class__ is int and result.bit_length() <= MAX_BITS:
            return result
        return _check_size(result)

    return call1


def _call2(fname, func, fn0, value0, fn1, value1):
    def call2(scope):
        a0 = value0 if fn0 is None else fn0(scope)
        a1 = value1 if fn1 is None else fn1(scope)
        if a0.__class__ not in _NUMBERS or a1.__class__ not in _NUMBERS:
            _refuse(fname, (a0, a1))
        try:
            result = func(a0, a1)
        except ExprError:
            raise
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise _failed(fname, exc) from None
        if result.__class__ is int and result.bit_length() <= MAX_BITS:
            return result
        return _check_size(result)

    return call2


def _call_n(fname, func, operands):
    def call(scope):
        args = [value if fn is None else fn(scope) for fn, value in operands]
        _refuse(fname, args)
        try:
            return _check_size(func(*args))
        except ExprError:
            raise
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise _failed(fname, exc) from None

    return call


#: node class -> the function that compiles it (one closure per node, each with its own cells)
_COMPILERS = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.BinOp: _binop,
    ast.UnaryOp: _unaryop,
    ast.BoolOp: _boolop,
    ast.Compare: _compare,
    ast.IfExp: _ifexp,
    ast.Call: _call,
}
