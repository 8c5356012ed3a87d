"""The walk computes each distinct layer once (flopcount.ops.base.RESULTS, the table the walk
and the replay share): the results are shared by the nodes that have them, and nothing else
changes."""

from __future__ import annotations

from typing import ClassVar

import flopcount
from flopcount.ops import base
from flopcount.ops.base import GIVEN, Cost, Op, Param, attrs_key, clear_results, register, unregister
from flopcount.spec import walk
from flopcount.spec.expand import expand
from flopcount.spec.replay import template

CHAIN = {
    "flopcount": 1,
    "input": [8, 4, 4],
    "layers": ["conv3-8", "conv3-8", {"op": "conv", "c": 8}, "conv3-8"],
}


def test_identical_layers_share_results_and_count_as_before():
    report = flopcount.analyze(CHAIN)
    # each 3x3 conv 8 -> 8 at 4x4 (padding auto = 1): MACs = 8 * 4 * 4 * 8 * 3 * 3 = 9,216;
    # params = 8 * 8 * 3 * 3 + 8 (bias) = 584; four of them
    assert [r.macs for r in report.rows] == [9_216] * 4
    assert report.totals["macs"] == 4 * 9_216 and report.totals["params"] == 4 * 584
    nodes = report.graph.nodes
    # the three `conv3-8` share one result; the mapping {op: conv, c: 8} is given other
    # attributes (no `k`: conv's default k is 3), which check to the same attributes: the
    # checked attributes are the key, so it shares that result too
    assert all(n.attrs is nodes[0].attrs and n.shape is nodes[0].shape and n.cost is nodes[0].cost for n in nodes)
    assert [n.name for n in nodes] == ["conv1", "conv2", "conv3", "conv4"]  # names stay per node


def test_the_same_values_of_other_types_are_other_layers():
    # `p: 1` and `p: auto` give the same numbers here but are different attributes; the key
    # of a memo entry holds each value's type
    spec = {"flopcount": 1, "input": [4, 4, 4], "layers": [{"op": "conv", "c": 4, "p": 1}, {"op": "conv", "c": 4}]}
    a, b = flopcount.analyze(spec).graph.nodes
    assert a.attrs is not b.attrs and a.attrs == b.attrs  # both normalise p to (1, 1)
    op = object()
    # 1, True and 1.0 are equal (and hash alike) in Python: three keys here
    keys = [attrs_key(op, {"x": v}) for v in (1, True, 1.0)]
    assert len(set(keys)) == 3 and None not in keys
    # -0.0 == 0.0, [1, 2] != (1, 2) as values of other types, [1] != [True], {"a": 1} != {"a": 1.0}
    for one, other in [(-0.0, 0.0), ([1, 2], (1, 2)), ([1], [True]), ({"a": 1}, {"a": 1.0}), (None, 0), ("1", 1)]:
        assert attrs_key(op, {"x": one}) != attrs_key(op, {"x": other}), (one, other)
    assert attrs_key(op, {"x": [1, 2]}) == attrs_key(op, {"x": [1, 2]})
    assert attrs_key(object(), {"x": 1}) != attrs_key(op, {"x": 1})  # the op object is in the key
    # given attributes (before the walk evaluates them) holding `$` have no key: their value
    # depends on the scope; after evaluation a `$` in text is just text
    for given in ({"x": "$y"}, {"x": ["$a", 1]}, {"x": {"k": "${c}"}}):
        assert attrs_key(op, given, GIVEN) is None and attrs_key(op, given) is not None
    assert attrs_key(op, {"x": object()}) is None  # a kind not known: never kept


def test_an_op_registered_again_is_not_answered_from_the_memo():
    def make(macs_per_element):
        class Probe(Op):
            name = "memo_probe"
            doc = "test op"
            cost_rule = f"macs = {macs_per_element} per element"
            params: ClassVar[dict] = {"c": Param("int", 1, "anything")}

            def infer(self, a, xs):
                return xs[0]

            def cost(self, a, xs, y):
                return Cost(macs=macs_per_element * y[0] * y[1] * y[2])

        return Probe

    spec = {"flopcount": 1, "input": [2, 3, 5], "layers": [{"op": "memo_probe"}]}
    try:
        register(make(1))
        assert flopcount.analyze(spec).totals["macs"] == 30  # 1 x (2 * 3 * 5)
        unregister("memo_probe")
        register(make(2))
        assert flopcount.analyze(spec).totals["macs"] == 60  # 2 x (2 * 3 * 5): the new op's rule
    finally:
        unregister("memo_probe")


def test_while_recording_every_node_keeps_its_own_shape_object():
    class Log:
        def __init__(self):
            self.raw, self.choices = [], []

    walk.RECORD = Log()
    try:
        nodes = flopcount.analyze(CHAIN).graph.nodes
    finally:
        walk.RECORD = None
    assert len({id(n.shape) for n in nodes}) == 4  # (flopcount.spec.replay maps shapes by identity)
    assert len({n.shape for n in nodes}) == 1


def _conv_entry():
    """The kept entry of CHAIN's checked conv attributes (the walk made it)."""
    hits = [e for k, e in base.RESULTS.items() if k[0] is base.REGISTRY["conv"] and base.GIVEN not in k]
    return [e for e in hits if e.get("c") == 8 and e.get("k") == 3]


def test_the_walk_and_the_replay_share_one_table(write_spec):
    clear_results()
    flopcount.analyze(CHAIN)
    (entry,) = _conv_entry()
    # one result per input shape: the four convs at 8x4x4
    assert list(entry.made) == [(8, 4, 4)]
    # a template of the same layers, replayed at another input, fills the same entry
    path = write_spec("flopcount: 1\ninput: [8, 4, 4]\nlayers: [conv3-8, conv3-8, {op: conv, c: 8}, conv3-8]\n")
    from flopcount.spec.document import read_spec

    spec = read_spec(str(path))
    _, tmpl = template(expand, spec, None, (None, 4, 4), None)
    assert tmpl is not None
    # 8 -> 8 3x3 convs at 6x6, pad 1: 8 * 6 * 6 * 8 * 9 = 20,736 MACs each, four of them
    assert tmpl.sums((None, 6, 6))[3] == 4 * 20_736
    (entry2,) = _conv_entry()
    assert entry2 is entry and set(entry.made) == {(8, 4, 4), (8, 6, 6)}
    # and the walk answers 6x6 from the result the replay kept: the same objects
    spec6 = dict(CHAIN, input=[8, 6, 6])
    nodes = flopcount.analyze(spec6).graph.nodes
    assert nodes[0].cost is entry.made[(8, 6, 6)][2] and nodes[0].shape is entry.made[(8, 6, 6)][1]


def test_patching_an_op_class_empties_the_table(monkeypatch):
    from flopcount.ops.conv import Conv

    assert flopcount.analyze(CHAIN).totals["macs"] == 4 * 9_216  # (first test: the derivation)
    assert base.RESULTS
    real = Conv.cost
    monkeypatch.setattr(Conv, "cost", lambda self, a, xs, y: real(self, a, xs, y)._replace(macs=1))
    assert not base.RESULTS  # emptied by the patch itself
    assert flopcount.analyze(CHAIN).totals["macs"] == 4  # the planted cost: 1 MAC per conv
    monkeypatch.undo()
    assert not base.RESULTS
    assert flopcount.analyze(CHAIN).totals["macs"] == 4 * 9_216


def test_clear_results_empties_every_entry():
    flopcount.analyze(CHAIN)
    (entry,) = _conv_entry()
    assert entry.made
    clear_results()
    assert not base.RESULTS and not entry.made
