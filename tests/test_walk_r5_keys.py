"""The walk's key of given attributes with `$` texts (flopcount.ops.base.given_plan and
planned_key, issue 17) is attrs_key's key of the attributes with those texts evaluated: the
same tuple, so a layer written with `$c` and one written with the number share one result."""

from __future__ import annotations

import pytest

from flopcount.ops.base import GIVEN, attrs_key, given_plan, lookup, planned_key

CONV = lookup("conv")

# (given attributes, the values their `$` texts evaluate to, in order)
CASES = [
    ({"k": "$k", "c": 64}, [3]),
    ({"c": "${c * 2}", "s": 1, "act": "relu", "bias": False}, [128]),
    ({"k": [3, 3], "c": "$c", "p": "auto", "d": None}, [16]),
    ({"c": "$c", "s": "$s", "rate": 0.5}, [8, 2]),
    ({"c": "$c", "k": "$k"}, [True, 3.0]),  # types kept: True and 3.0 are not 1 and 3
    ({"c": "$c", "k": "$k"}, [[1, 2], {"a": (1, 2)}]),  # lists, mappings and tuples item by item
    ({"c": "$c"}, ["relu"]),  # a text without `$`
    ({"c": "$c"}, ["$other"]),  # a text that still holds `$`: no key
    ({"c": "$c"}, [object()]),  # a value of a kind no key holds
    ({"k": ["$kh", 3], "c": "$c"}, [5]),  # a list holding `$` (evaluated item by item): no key
]


@pytest.mark.parametrize(("given", "values"), CASES)
def test_planned_key_is_attrs_key_of_the_evaluated_attributes(given, values):
    plan = given_plan(CONV, given)
    assert plan is not None
    assert [k for k, _ in plan[1]] == [k for k, v in given.items() if isinstance(v, str) and "$" in v]
    evaluated = dict(given)
    for (k, _), v in zip(plan[1], values):
        evaluated[k] = v
    assert planned_key(CONV, plan, values) == attrs_key(CONV, evaluated, GIVEN)


def test_no_plan_without_a_dollar_text():
    assert given_plan(CONV, {"k": 3, "c": 64}) is None
    assert given_plan(CONV, {"k": ["$kh", "$kw"]}) is None  # (only whole texts are planned)


def test_a_plan_keeps_the_order_of_the_attributes():
    # the key lists the attributes in their given order, the evaluated ones in their places
    plan = given_plan(CONV, {"s": 2, "c": "$c", "k": 3})
    assert planned_key(CONV, plan, [64]) == (CONV, GIVEN, "s", int, 2, "c", int, 64, "k", int, 3)
