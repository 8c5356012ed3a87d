"""report_of sets each row's fields in place (no Row() call per row, issue 17): every row must be
the row Row's own constructor makes from the same node, field for field, whatever the batch,
the training-only split and the published figures."""

from __future__ import annotations

from flopcount.published import Published
from flopcount.report import Row, report_of
from flopcount.spec.document import read_spec
from flopcount.spec.expand import expand
from flopcount.spec.resolve import builtin_target

SPEC = {
    "flopcount": 1,
    "input": [3, 16, 16],
    "layers": [
        {"op": "conv", "name": "stem", "c": 8, "published": {"macs": 55296, "source": "3*3*3*8*16*16"}},
        {
            "op": "side",
            "name": "aux",
            "layers": [{"op": "gap"}, "flatten", {"op": "fc", "c": 10}],
        },
        {"op": "seq", "name": "body", "layers": ["conv3-8", "relu"]},
        "gap",
    ],
}


def _by_constructor(graph):
    """The rows as Row(...) makes them from the graph's nodes (the formula report_of states)."""
    b = graph.batch
    rows, train = [], []
    for n in graph.nodes:
        c = n.cost
        row = Row(
            n.name,
            n.op,
            n.shape,
            c.params,
            c.macs * b,
            c.ops * b,
            c.buffers,
            n.group,
            n.block,
            n.train_only,
            n.pos,
            graph.published.get(n.name),
            1,
            c.macs,
            c.ops,
        )
        (train if n.train_only else rows).append(row)
    return rows, train


def _fields(row) -> dict:
    out = {}
    for slot in Row.__slots__:
        value = getattr(row, slot)  # (AttributeError: a field report_of does not set)
        if isinstance(value, Published):  # (no __eq__: compared by what it holds)
            value = (value.figures, value.source, value.note, value.url)
        out[slot] = value
    return out


def _same(graph):
    report = report_of(graph)
    rows, train = _by_constructor(graph)
    assert [_fields(r) for r in report.rows] == [_fields(r) for r in rows]
    assert [_fields(r) for r in report.train_rows] == [_fields(r) for r in train]
    return report


def test_rows_in_place_equal_the_constructor_at_batch_1_and_4():
    from flopcount.catalog import _inline_spec

    spec = _inline_spec(SPEC)
    one = _same(expand(spec))
    four = _same(expand(spec, batch=4))
    # the stem: 3x3 conv 3 -> 8 at 16x16 (padding auto): 8 * 16 * 16 * 3 * 3 * 3 = 55,296 MACs a
    # sample; at batch 4 the row holds 4 x that and the per-sample figure beside it
    assert one.rows[0].macs == 55_296 and four.rows[0].macs == 4 * 55_296 and four.rows[0].sample_macs == 55_296
    assert one.rows[0].published is not None and one.rows[0].published.get("macs").value == 55_296
    assert [r.name for r in one.train_rows] == ["aux.gap1", "aux.flatten1", "aux.fc1"]


def test_rows_in_place_equal_the_constructor_for_built_in_models():
    for name in ("googlenet", "resnet-50", "efficientnet-b0", "swin-t"):
        t = builtin_target(name)
        _same(expand(read_spec(t.path), t.variant))


def test_nodes_made_in_place_have_every_field():
    # the walk and the replay of a block instance set a node's fields in place (no Node() call):
    # each field is set, and a node is what Node() makes of its fields
    from flopcount.graph import Node

    t = builtin_target("resnet-152")  # 259 nodes, most of them replayed instances
    graph = expand(read_spec(t.path), t.variant)
    for n in graph.nodes:
        fields = [getattr(n, slot) for slot in Node.__slots__]  # (AttributeError: a field not set)
        again = Node(**dict(zip(Node.__slots__, fields)))
        assert [getattr(again, slot) for slot in Node.__slots__] == fields
    assert [n.index for n in graph.nodes] == list(range(len(graph.nodes)))
