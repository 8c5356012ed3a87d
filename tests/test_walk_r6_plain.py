"""A plain layer mapping (`op`, `name` and `when` only, plain text, a good name) is walked by
Expander.mapping's short path (issue 17): every graph, and every error, must be the one the
full path gives. The full path is forced by marking no mapping plain (walk._layer_map)."""

from __future__ import annotations

import pytest

from flopcount.catalog import load_graph
from flopcount.errors import SpecError
from flopcount.spec import walk
from flopcount.spec.resolve import builtin_names


def _graph(target):
    try:
        g = load_graph(target)
    except SpecError as exc:
        return ("error", [(d.pos, d.message, d.hint) for d in exc.diagnostics])
    nodes = [
        (n.index, n.name, n.op, n.attrs, n.inputs, n.shape, tuple(n.cost), n.pos, n.group, n.block, n.train_only)
        for n in g.nodes
    ]
    return (nodes, g.output, g.outputs, g.groups, g.published)


def _both(target, monkeypatch):
    fast = _graph(target)
    real = walk._layer_map

    def never_plain(table, m):
        got = real(table, m)
        table[id(m)] = got = (*got[:5], False)
        return got

    with monkeypatch.context() as mp:
        mp.setattr(walk, "_layer_map", never_plain)
        slow = _graph(target)
    return fast, slow


def test_every_builtin_is_walked_as_before(monkeypatch):
    for name in builtin_names():
        fast, slow = _both(name, monkeypatch)
        assert fast == slow, name


SPECS = {
    # a layer named null is named "None" (its name is str(None)): no plain mapping
    "null_name": "layers:\n  - {op: conv, c: 4, name: null}\n  - {op: relu, name: None2}\n",
    # names a plain mapping may not have: each reported as the full path reports it
    "bad_names": "layers:\n  - {op: conv, c: 4, name: a.b}\n  - {op: conv, c: 4, name: ' x'}\n"
    "  - {op: conv, c: 4, name: ''}\n  - {op: relu, name: 7}\n",
    "dollar_name": "vars: {n: body}\nlayers:\n  - {op: conv, c: 4, name: $n}\n  - {op: conv, c: 4, name: '${n}2'}\n",
    "dollar_op": "vars: {o: relu}\nlayers:\n  - {op: $o, name: act}\n  - {op: conv, c: 4}\n",
    "when": "layers:\n  - {op: conv, c: 4, name: a, when: 'in_c == 3'}\n  - {op: conv, c: 8, name: b, when: false}\n"
    "  - {op: conv, c: 8, name: c, when: 'in_c > 99'}\n  - {op: relu, when: 'nope + 1'}\n"
    "  - {op: conv, c: 4, name: a}\n",
    "unknown_after_error": "layers:\n  - {op: conv, c: 4, k: 99, name: big}\n  - {op: conv, c: 4, name: next, when: 'in_c == 4'}\n"
    "  - {op: nosuchop, name: odd}\n",
    "repeated_block_typo": "blocks:\n  b:\n    params: {}\n    body:\n      - {op: conv, c: 4, nosuch: 1, name: x}\n"
    "layers:\n  - {op: b, name: one}\n  - {op: b, name: two}\n",
    "others": "layers:\n  - {op: conv, c: 4, name: a, repeat: 2}\n  - {op: conv, c: 4, name: b, published: {macs: 1}}\n"
    "  - {op: add, name: r, paths: [[], [{op: conv, c: 4, name: in}]]}\n  - {from: a.0}\n  - {op: relu, name: z}\n",
}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_specs_at_the_edges_are_walked_as_before(case, tmp_path, monkeypatch):
    path = tmp_path / f"{case}.yaml"
    path.write_text("flopcount: 1\nname: edge\ninput: [3, 8, 8]\n" + SPECS[case])
    fast, slow = _both(str(path), monkeypatch)
    assert fast == slow


def test_what_is_plain():
    table: dict = {}
    from flopcount.spec.yamlload import load_yaml

    data, _ = load_yaml(
        "<t>",
        "layers:\n  - {op: conv, c: 4}\n  - {op: conv, name: a, when: x}\n  - {op: conv, name: null}\n"
        "  - {op: conv, name: $n}\n  - {op: $o}\n  - {op: conv, name: a.b}\n  - {op: conv, repeat: 2}\n"
        "  - {name: a}\n  - {op: conv, published: {macs: 1}}\n  - {op: 3}\n",
    )
    plain = [walk._layer_map(table, m)[5] for m in data["layers"]]
    assert plain == [True, True, False, False, False, False, False, False, False, False]
