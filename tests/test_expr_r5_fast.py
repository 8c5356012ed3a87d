"""The quick paths of the expression evaluator give what the general ones give.

* A bare name is not handed to ``ast.parse``: the tree made for it must be the parser's.
* ``_plain`` (one pass over the parsed tree) may only accept what ``_validate`` accepts, and
  whatever it does not accept is reported with ``_validate``'s own error.
* The compiled closures (constants read in place, ints and floats checked in line) give the
  values and errors of Python's arithmetic and of the documented refusals.
* Scopes: a variable read through a Scope, its parents and ROOT_READS, and literal values
  stored without interpolation, read as before.
"""

import ast
import keyword
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount.spec import expr, scopes
from flopcount.spec.expr import ExprError, evaluate
from flopcount.spec.scopes import Env, Scope, interp


def _fresh(text):
    expr._cache.pop(text, None)
    expr._compiled.pop(text, None)


def _error(text, scope):
    with pytest.raises(ExprError) as info:
        evaluate(text, scope)
    return info.value.message, info.value.hint


# -- parsing ----------------------------------------------------------------------------------

NAMES = [
    "c",
    "_",
    "__debug__",
    "in_c",
    "a1",
    "x" * 120,
    *keyword.kwlist,
    *keyword.softkwlist,  # match, case, _, type: names in an expression
]


def test_keywords_are_pythons():
    assert expr._KEYWORDS == frozenset(keyword.kwlist)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pad", ["", " ", "\t ", "\n"])
def test_bare_name_tree_is_the_parsers(name, pad):
    text = pad + name + pad
    _fresh(text)
    try:
        want = ast.dump(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError:
        with pytest.raises(ExprError, match="cannot parse expression"):
            expr.parse(text)
        return
    if name == "None":  # a constant the validator refuses
        with pytest.raises(ExprError, match="is not allowed in an expression"):
            expr.parse(text)
        return
    assert ast.dump(expr.parse(text)) == want


def test_bare_name_is_counted_once():
    expr.begin()
    text = "r5_counted_name"
    _fresh(text)
    evaluate(text, {"r5_counted_name": 7})
    evaluate(text, {"r5_counted_name": 7})
    assert expr._seen[0] == 1


# The texts of the built-in specs that are not bare names (each must take the quick pass)
BUILTIN_FORMS = [
    "reduce > 0",
    "s != 1 or in_c != c * 4",
    "not (s == 1 and in_c == c)",
    "cin if e == 1 else make_divisible(cin * e, 8)",
    "max(1, cin // 4)",
    "3 if paper else 2",
    "make_divisible(e / 4, 8)",
    "2 * block_in_h",
]


@pytest.mark.parametrize("text", BUILTIN_FORMS)
def test_builtin_forms_take_the_quick_pass(text):
    assert expr._plain(ast.parse(text, mode="eval").body)


def _nested(levels):
    return "(" * (levels - 1) + "1" + " + 1)" * (levels - 1)


@pytest.mark.parametrize("levels", [39, 40, 41, 60])
def test_depth_limit_is_validates(levels):
    # _depth counts the root as 1 and each operand one deeper (`1 + 1` is 2 levels); it stops
    # at the first level past the limit
    tree = ast.parse(_nested(levels), mode="eval").body
    assert expr._depth(tree) == min(levels, expr.MAX_DEPTH + 1)
    assert expr._plain(tree) == (levels <= expr.MAX_DEPTH)


PIECES = st.sampled_from(
    [
        "1",
        "2.5",
        "'t'",
        "True",
        "None",
        "1j",
        "b''",
        "1e400",
        str(2**300),
        "x",
        "in_c",
        "max(x, 1)",
        "make_divisible(x, 8)",
        "open(x)",
        "max(x, k=1)",
        "max(*x)",
        "x.y",
        "x[0]",
        "[x]",
        "(x, 1)",
        "{x}",
        "lambda: 1",
        "(y := 1)",
        "f'{x}'",
        "...",
    ]
)
OPS = st.sampled_from(
    [" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " @ ", " << ", " | ", " & ", " ^ ", " >> ", " == ", " < "]
    + [" >= ", " != ", " in ", " is ", " not in ", " and ", " or "]
)


@st.composite
def texts(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(PIECES)
    kind = draw(st.integers(0, 4))
    a = draw(texts(depth + 1))
    b = draw(texts(depth + 1))
    if kind == 0:
        return f"({a}{draw(OPS)}{b})"
    if kind == 1:
        return f"{draw(st.sampled_from(['-', '+', 'not ', '~']))}({a})"
    if kind == 2:
        return f"({a} if {b} else {draw(texts(depth + 1))})"
    if kind == 3:
        return f"{draw(st.sampled_from(['max', 'min', 'abs', 'round', 'nope']))}({a}, {b})"
    return f"({a} < {b} <= {draw(texts(depth + 1))})"


@settings(max_examples=400, deadline=None)
@given(texts())
def test_quick_pass_accepts_only_what_validate_accepts(text):
    if len(text) > expr.MAX_LENGTH:  # (parse refuses it by its length, before either pass)
        return
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return
    try:
        expr._validate(tree, text)
        slow = None
    except ExprError as exc:
        slow = (exc.message, exc.hint)
    if expr._plain(tree):
        assert slow is None
    _fresh(text)
    expr.begin()
    if slow is None:
        assert ast.dump(expr.parse(text)) == ast.dump(tree)
    else:
        with pytest.raises(ExprError) as info:
            expr.parse(text)
        assert (info.value.message, info.value.hint) == slow


# -- evaluation ---------------------------------------------------------------------------------

VALUES = {"a": 3, "b": 7, "f": 2.5, "g": -0.75, "z": 0}


@st.composite
def numeric(draw, depth=0):
    """An arithmetic expression whose value Python computes the same way (no bool ever
    reaches arithmetic, every number stays far below 2**256)."""
    if depth > 3 or draw(st.integers(0, 2)) == 0:
        return draw(
            st.one_of(
                st.sampled_from(sorted(VALUES)),
                st.integers(-50, 50).map(str),
                st.sampled_from(["0.5", "1.25", "3.0", "-2.5"]),
            )
        )
    kind = draw(st.integers(0, 3))
    a = draw(numeric(depth + 1))
    b = draw(numeric(depth + 1))
    if kind == 0:
        return f"({a}{draw(st.sampled_from([' + ', ' - ', ' * ', ' / ', ' // ', ' % ']))}{b})"
    if kind == 1:
        return f"{draw(st.sampled_from(['-', '+']))}{a}"
    if kind == 2:
        return f"({a} if {draw(condition(depth + 1))} else {b})"
    name = draw(st.sampled_from(["max", "min", "abs", "round", "int", "floor", "ceil"]))
    return f"{name}({a})" if name in ("abs", "round", "int", "floor", "ceil") else f"{name}({a}, {b})"


@st.composite
def condition(draw, depth):
    a, b = draw(numeric(depth + 1)), draw(numeric(depth + 1))
    op = draw(st.sampled_from([" == ", " != ", " < ", " <= ", " > ", " >= "]))
    test = f"{a}{op}{b}"
    kind = draw(st.integers(0, 2))
    if kind == 1:
        return f"not ({test})"
    if kind == 2:
        return f"({test} {draw(st.sampled_from(['and', 'or']))} {draw(numeric(depth + 1))} > 0)"
    return test


def _python(text):
    names = dict(VALUES, floor=math.floor, ceil=math.ceil)
    try:
        return eval(text, {"__builtins__": {"max": max, "min": min, "abs": abs, "round": round, "int": int}}, names)
    except ZeroDivisionError:
        return ZeroDivisionError


def _env_scope():
    # the same values, reached four ways: literals in the root, `$` references evaluated on
    # first read, and a block instance's Env above it that holds none of them
    root = Env({"a": 3, "b": "$a_7", "a_7": 7, "f": "${5 / 2}", "g": -0.75, "z": 0}, {})
    return Scope(Env({"unused": 1}, {}, root), (3, 8, 8))


@settings(max_examples=400, deadline=None)
@given(numeric())
def test_compiled_arithmetic_is_pythons(text):
    want = _python(text)
    for scope in (dict(VALUES), _env_scope()):
        if want is ZeroDivisionError:
            assert _error(text, scope) == ("division by zero", "check the divisor")
            continue
        got = evaluate(text, scope)
        assert got == want and type(got) is type(want), (text, got, want)


class Size(int):
    """An int subclass: a number to the evaluator (not answered by the in-line class test)."""


@pytest.mark.parametrize(
    "text, want",
    [
        ("-1", -1),
        ("+2.5", 2.5),
        ("-(3)", -3),
        ("--4", 4),
        ("3 if x else 2", 3),
        ("3 if not x else 2", 2),
        ("s * 2", 14),  # an int subclass is a number in arithmetic, compares, calls
        ("s == 7 and s > 6.5", True),
        ("max(s, 1)", Size(7)),  # (max gives its argument itself)
        ("abs(-s)", 7),
        ("2 ** 128 * 2 ** 127", 2**255),
        ("round(2.5)", 2),
        ("max(1, 2, 3)", 3),  # a call of three arguments
        ("1 < 2 < 3 < 4", True),
        ("1 < 3 < 2", False),
        ("'ab' == 'ab'", True),
        ("x and 0", 0),
        ("0 or x", 1),
    ],
)
def test_values(text, want):
    got = evaluate(text, {"x": 1, "s": Size(7)})
    assert got == want and type(got) is type(want)


SIZE = ("a number in this expression exceeds 256 bits", "use realistic sizes; flopcount refuses numbers this large")
ARGS = "check the arguments"
KINDS = "values of different kinds (`'50' == 50` would be silently false)"


@pytest.mark.parametrize(
    "text, want",
    [
        ("'a' * 2", ("arithmetic needs numbers, got a and 2", "check the variables used here")),
        ("True + 1", ("arithmetic needs numbers, got True and 1", "check the variables used here")),
        ("1 - t", ("arithmetic needs numbers, got 1 and True", "check the variables used here")),
        ("-True", ("sign of a non-number True", "check the variables used here")),
        ("-'a'", ("sign of a non-number a", "check the variables used here")),
        ("-t", ("sign of a non-number True", "check the variables used here")),
        (
            "'50' == 50",
            (
                f"cannot compare the text `50` with the number `50`: {KINDS}",
                "compare numbers with numbers, text with text",
            ),
        ),
        (
            "True == 1",
            (
                f"cannot compare true/false `True` with the number `1`: {KINDS}",
                "compare numbers with numbers, text with text",
            ),
        ),
        (
            "1 < 'a'",
            (
                f"cannot compare the number `1` with the text `a`: {KINDS}",
                "compare numbers with numbers, text with text",
            ),
        ),
        (
            "1 < 2 < 'a'",
            (
                f"cannot compare the number `2` with the text `a`: {KINDS}",
                "compare numbers with numbers, text with text",
            ),
        ),
        ("max(True, 1)", ("max() takes numbers, got True", ARGS)),
        ("max(1, 't')", ("max() takes numbers, got t", ARGS)),
        ("abs('a')", ("abs() takes numbers, got a", ARGS)),
        ("max(1, 2, 'x')", ("max() takes numbers, got x", ARGS)),
        ("min(1)", ("min(...) failed: 'int' object is not iterable", ARGS)),
        ("log(0)", ("log(...) failed: log needs a positive number, got 0", ARGS)),
        ("make_divisible(8, 0)", ("make_divisible(...) failed: divisor must be positive", ARGS)),
        ("2 ** 300", ("2 ** 300 is too large (over 256 bits) or negative", "use realistic sizes")),
        ("2.0 ** 2000", ("exponent 2000 is too large", "use realistic sizes")),
        ("2 ** 128 * 2 ** 128", SIZE),
        ("int(1e300)", SIZE),
        ("max(2 ** 128 * 2 ** 127, 1) * 2", SIZE),
        ("1e308 * 10", ("this expression gives an infinite or undefined number", "check the arithmetic")),
        ("(-8) ** 0.5", ("this expression gives a complex number", "check the signs under ** and roots")),
        ("1 % 0.0", ("division by zero", "check the divisor")),
        ("1 // z", ("division by zero", "check the divisor")),
        ("nope", ("unknown name `nope` in expression", "declare it under `vars:` or as a block parameter")),
        ("zz + 1", ("unknown name `zz` in expression", "did you mean z?")),
    ],
)
def test_errors(text, want):
    assert _error(text, {"t": True, "z": 0}) == want


# -- scopes ------------------------------------------------------------------------------------


def test_reads_through_parents_and_root_reads():
    root = Env({"c": 64, "d": "$c", "w": 2}, {})
    block = Env({"c": 8, "k": "${c * w}"}, {}, root)
    scope = Scope(block, (3, 4, 5))
    saved = scopes.ROOT_READS
    scopes.ROOT_READS = [root, []]
    try:
        # the block's own c; w from the root (read there, so recorded); d evaluated in the root
        assert interp("$k", scope) == 16 and interp("$c", scope) == 8
        assert interp("$d", scope) == 64 and interp("${d}", scope) == 64
        assert interp("${in_c * in_w}", scope) == 15
        assert scopes.ROOT_READS[1] == ["w", "d", "c", "d"]
        assert interp("$w", Scope(root, None)) == 2  # a done value of the root: recorded too
        assert scopes.ROOT_READS[1][-1] == "w"
    finally:
        scopes.ROOT_READS = saved
    assert block.done == {"k": 16, "c": 8} and root.done == {"w": 2, "d": 64, "c": 64}


def test_literal_values_are_stored_as_given():
    shape = [3, 3]
    env = Env({"k": shape, "n": 5, "s": "text", "t": "a$n"}, {})
    assert env.get("k") is shape and env.get("n") == 5 and env.get("s") == "text"
    assert env.get("t") == "a5"
    with pytest.raises(KeyError):
        env.get("missing")


def test_long_chains_and_cycles():
    n = 3000
    raw = {f"v{i}": f"${{v{i - 1} + 1}}" if i % 3 else f"$v{i - 1}" for i in range(1, n)}
    raw["v0"] = 1
    env = Env(raw, {})
    assert env.get(f"v{n - 1}") == 1 + sum(1 for i in range(1, n) if i % 3)
    loop = Env({"a": "$b", "b": "${a + 1}", "c": 4}, {})
    with pytest.raises(ExprError, match=r"cycle: a -> b -> a"):
        loop.get("a")


def test_shape_names():
    env = Env({"c": 4}, {})
    scope = Scope(env, (3, 8, 6))
    assert [evaluate(n, scope) for n in ("in_c", "in_h", "in_w", "in_features")] == [3, 8, 6, 3 * 8 * 6]
    assert evaluate("in_c", {"in_c": 5}) == 5  # any mapping
    flat = Scope(env, (10,))
    assert evaluate("in_c", flat) == 10
    with pytest.raises(ExprError, match=r"`in_h` is undefined after flatten"):
        evaluate("in_h", flat)
    with pytest.raises(scopes.Unknown):
        evaluate("in_w", Scope(env, None))
    saved = scopes.SHAPE_READS
    scopes.SHAPE_READS = []
    try:
        assert interp("${in_c * c + in_w}", scope) == 18 and interp("$in_h", scope) == 8
        assert scopes.SHAPE_READS == [((3, 8, 6), "in_c"), ((3, 8, 6), "in_w"), ((3, 8, 6), "in_h")]
    finally:
        scopes.SHAPE_READS = saved
