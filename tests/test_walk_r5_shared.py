"""A spec's expansions share what the walk reads of its YAML once (issue 17: the layer words of
each mapping, the given attributes checked by identity, shorthand parses, the plans of `$`
attributes): the second and later expansions of a spec must find every error, at the same
place, with the same words, as a first expansion of a freshly read spec does."""

from __future__ import annotations

import pytest

from flopcount.errors import SpecError
from flopcount.spec.document import read_spec
from flopcount.spec.expand import expand

SPEC = """\
flopcount: 1
input: [3, 8, 8]
vars:
  c: 8
  k: 3
blocks:
  unit:
    params: {c: null, k: null}
    body:
      - {op: conv, name: a, k: $k, c: $c}
      - {op: conv, name: b, k: 1, c: "${c * 2}", act: relu}
variants:
  good: {c: 8}
  zero: {c: 0}
  kernel: {k: 0}
  again: {c: 4}
layers:
  - conv3-8
  - {op: unit, name: u1, c: $c, k: $k}
  - {op: unit, name: u2, c: $c, k: $k}
  - {op: conv, name: head, c: $c, groups: 1}
"""


def _messages(spec, variant):
    try:
        graph = expand(spec, variant)
    except SpecError as exc:
        return [(d.pos.line, d.pos.col, d.message, d.hint) for d in exc.diagnostics]
    return [(n.name, n.shape, tuple(n.cost)) for n in graph.nodes]


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "unit.yaml"
    p.write_text(SPEC)
    return str(p)


@pytest.mark.parametrize("variant", ["good", "zero", "kernel", "again"])
def test_each_expansion_as_a_fresh_read_gives_it(path, variant):
    fresh = _messages(read_spec(path), variant)
    shared = read_spec(path)
    for other in ("good", "zero", "kernel", "again", "good"):  # the tables filled by the others
        _messages(shared, other)
    assert _messages(shared, variant) == fresh
    assert _messages(shared, variant) == fresh  # (and once more, from its own entries)


def test_the_errors_are_found_where_they_are_written(path):
    spec = read_spec(path)
    expand(spec, "good")
    zero = _messages(spec, "zero")
    # `c: 0` reaches `a` and `head` through `$c`, and `b` as `${c * 2}` = 0: each a positive
    # size check that fails at the attribute (once per block body, counted over both instances)
    assert all("`c` must be positive, got 0" in m[2] for m in zero)
    assert [m[0] for m in zero] == [10, 11, 21]
    assert "found 2 times" in zero[0][2] and "found 2 times" in zero[1][2]
    kernel = _messages(spec, "kernel")
    assert [(m[0], m[2].split(" (")[0]) for m in kernel] == [(10, "`k` must be positive, got 0")]


def test_the_good_variant_counts_as_written(path):
    spec = read_spec(path)
    for other in ("zero", "kernel", "again"):
        _messages(spec, other)
    graph = expand(spec, "good")
    # conv3-8 on 3x8x8: 8 * 8 * 8 * 3 * 9 = 13,824 MACs; u1: `a` 3x3 8 -> 8 (8 * 64 * 8 * 9 =
    # 36,864 MACs), `b` 1x1 8 -> 16 (16 * 64 * 8 = 8,192); u2 reads u1's 16 channels: `a` 3x3
    # 16 -> 8 (8 * 64 * 16 * 9 = 73,728), `b` as u1's; head 3x3 16 -> 8 (73,728)
    assert [n.cost.macs for n in graph.nodes] == [13_824, 36_864, 8_192, 73_728, 8_192, 73_728]
