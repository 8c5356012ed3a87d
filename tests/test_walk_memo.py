"""The walk computes each distinct layer once (flopcount.spec.walk: `_CHECKED`, `_MADE`): the
results are shared by the nodes that have them, and nothing else changes."""

from __future__ import annotations

from typing import ClassVar

import flopcount
from flopcount.ops.base import Cost, Op, Param, register, unregister
from flopcount.spec import walk

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
    # attributes (no `k`), so it has its own, equal one
    same = [nodes[0], nodes[1], nodes[3]]
    assert all(n.attrs is nodes[0].attrs and n.shape is nodes[0].shape and n.cost is nodes[0].cost for n in same)
    assert nodes[2].attrs is not nodes[0].attrs and nodes[2].attrs == nodes[0].attrs
    assert [n.name for n in nodes] == ["conv1", "conv2", "conv3", "conv4"]  # names stay per node


def test_the_same_values_of_other_types_are_other_layers():
    # `p: 1` and `p: auto` give the same numbers here but are different attributes; the key
    # of a memo entry holds each value's type, and a float is never memoised
    spec = {"flopcount": 1, "input": [4, 4, 4], "layers": [{"op": "conv", "c": 4, "p": 1}, {"op": "conv", "c": 4}]}
    a, b = flopcount.analyze(spec).graph.nodes
    assert a.attrs is not b.attrs and a.attrs == b.attrs  # both normalise p to (1, 1)
    assert walk.frozen(object(), {"x": 1}) != walk.frozen(object(), {"x": True})
    assert walk.frozen(object(), {"x": 1.0}) is None and walk.frozen(object(), {"x": "$y"}) is None


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
