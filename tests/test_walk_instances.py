"""Block instances made once (flopcount.spec.walk: Expander.instance): a block instance with the
same block, arguments, input shape and surroundings as two before it gets the nodes the walk
made for it, renamed and renumbered; everything else is walked. The reference is the walk with
the memo off: every node field, every named tensor (in order), positions, groups and errors."""

from __future__ import annotations

import weakref

import pytest

from flopcount.errors import SpecError
from flopcount.spec import scopes, walk
from flopcount.spec.document import read_spec
from flopcount.spec.expand import expand

RESIDUAL = """flopcount: 1
input: [8, 6, 6]
defaults:
  conv: {bias: false, bn: true}
blocks:
  res:
    params: {c: null, s: 1}
    body:
      - op: add
        name: add
        if_shapes_match: true
        paths:
          main: [{op: conv, name: conv1, c: $c, s: $s, act: relu}, {op: conv, name: conv2, c: $c}]
          shortcut: []
layers:
  - {op: res, name: stage1, c: 8, repeat: 4}
  - {op: res, c: 16, s: 2, repeat: 3, rest: {s: 1}}
  - {op: seq, name: tail, layers: [{op: res, c: 16, repeat: 3}]}
"""


def _walks(monkeypatch, text, tmp_path, memo: bool):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    made: dict = {}
    real = walk.Expander.__init__

    def init(self, *a, **k):
        real(self, *a, **k)
        made["ex"] = self

    monkeypatch.setattr(walk.Expander, "__init__", init)
    if not memo:
        monkeypatch.setattr(
            walk.Expander,
            "instance",
            lambda self, block, args, full, x, ctx, where: self.seq(
                block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, where)
            ),
        )
    try:
        g = expand(read_spec(str(path)))
    except SpecError as exc:
        monkeypatch.undo()
        return ("error", str(exc)), made.get("ex")
    monkeypatch.undo()
    ex = made["ex"]
    nodes = [
        (n.index, n.name, n.op, n.attrs, n.inputs, n.shape, n.cost, n.pos, n.group, n.block, n.train_only)
        for n in g.nodes
    ]
    return (nodes, list(ex.tensors.items()), list(ex.tensor_pos.items()), ex.branches, g.groups, ex.steps), ex


def test_repeated_instances_equal_the_walk(monkeypatch, tmp_path):
    off, _ = _walks(monkeypatch, RESIDUAL, tmp_path, memo=False)
    on, ex = _walks(monkeypatch, RESIDUAL, tmp_path, memo=True)
    assert on == off
    # kept at the first walk of each key (the body builds no `$` text): stage1's instances (c 8
    # at 8x6x6: the second to fourth made from the first's record), the second stage's first
    # (s 2 at 8x6x6) and its two `rest` ones (s 1 at 16x3x3: one key), the tail's three (in the
    # group `tail`: another key)
    kept = [v for v in ex.instances.values() if v.__class__ is walk._Made]
    assert len(kept) == 4
    for k in kept:  # (a record never replayed is made into lists only when asked)
        assert k.pending is None or k.fill(ex)
    # each record: its nodes named relative to the instance; the s 2 instance has no `add` (its
    # main path gives 16x3x3, the shortcut 8x6x6: `if_shapes_match` leaves the merge out)
    three, two = ["main.conv1", "main.conv2", "add"], ["main.conv1", "main.conv2"]
    assert [[n[0] for n in k.nodes] for k in kept] == [three, two, three, three]
    names = [n[1] for n in on[0]]
    assert names[:5] == [
        "stage1.0.main.conv1",
        "stage1.0.main.conv2",
        "stage1.0.add",
        "stage1.1.main.conv1",
        "stage1.1.main.conv2",
    ]
    assert "stage1.3.add" in names and "tail.res3.add" in names


def test_a_from_outside_the_instance_is_always_walked(monkeypatch, tmp_path):
    text = """flopcount: 1
input: [4, 6, 6]
blocks:
  join:
    params: {c: null}
    body:
      - conv1-$c
      - {op: concat, from: [stem, conv1]}
layers:
  - {op: conv, name: stem, k: 1, c: 4}
  - {op: join, c: 4, repeat: 4}
"""
    off, _ = _walks(monkeypatch, text, tmp_path, memo=False)
    on, ex = _walks(monkeypatch, text, tmp_path, memo=True)
    assert on == off
    # every instance reads `stem`, outside it: none is kept
    assert not [v for v in ex.instances.values() if v.__class__ is walk._Made]
    # concat of stem (4) and the conv (4) channels: 8, 12, 16, then 20 channels out
    assert on[0][-1][5] == (8, 6, 6)


def test_errors_in_repeated_instances_are_counted_as_before(monkeypatch, tmp_path):
    text = RESIDUAL.replace("act: relu}", "act: relu, bogus: 1}")
    off, _ = _walks(monkeypatch, text, tmp_path, memo=False)
    on, _ = _walks(monkeypatch, text, tmp_path, memo=True)
    assert on == off and on[0] == "error"
    assert "has no attribute `bogus`" in on[1] and "found 10 times" in on[1]  # 4 + 3 + 3 instances


def test_the_text_budget_counts_replayed_instances(monkeypatch, tmp_path):
    # each instance builds its layer names from text (`n_${c}`): 3 characters a name, twice
    # per instance; the replayed ones (the third to fifth: a body that builds text is kept from
    # its second walk) count as the walked ones did
    text = """flopcount: 1
input: [4, 6, 6]
blocks:
  b:
    params: {c: null}
    body:
      - {op: conv, name: "n_${c}", c: $c}
      - {op: relu, name: "r_${c}"}
layers:
  - {op: b, c: 4, repeat: 5}
"""
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    for limit, fails in [(30, False), (29, True)]:
        monkeypatch.setattr(scopes, "MAX_TEXT", limit)
        # 5 instances x 2 names x 3 characters = 30 characters of text
        if fails:
            with pytest.raises(SpecError, match="interpolation builds more than 29"):
                expand(read_spec(str(path)))
        else:
            made: list = []
            real = walk._Made.replay

            def counted(self, *a, made=made, real=real):
                made.append(self)
                return real(self, *a)

            monkeypatch.setattr(walk._Made, "replay", counted)
            g = expand(read_spec(str(path)))
            assert [n.name for n in g.nodes][-2:] == ["b5.n_4", "b5.r_4"]
            assert len(made) == 3


SHARED = """flopcount: 1
input: [8, 8, 8]
vars: {n: 2, late: false}
blocks:
  b:
    params: {c: null}
    body:
      - {op: conv, name: conv1, c: $c, s: "${2 if late else 1}"}
      - {op: conv, name: conv2, c: $c, s: "${1 if late else 2}"}
layers:
  - {op: b, c: 8, repeat: $n}
"""


def test_walks_of_one_spec_share_instances_where_the_variables_they_read_agree(monkeypatch, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SHARED)
    spec = read_spec(str(path))
    monkeypatch.setattr(walk, "_SHARED", weakref.WeakKeyDictionary())
    monkeypatch.setattr(walk, "_MET", weakref.WeakKeyDictionary())
    runs = [None, {"n": 3}, {"n": 3, "late": True}, {"n": 1}, {"n": 1, "late": True}]

    def nodes(g):
        return [(n.name, n.attrs, n.inputs, n.shape, n.cost, n.pos, n.group) for n in g.nodes]

    on = [nodes(expand(spec, None, None, None, sets)) for sets in runs]
    # the first instance's key (c 8 at 8x8x8) is met in every walk: recorded once for each
    # value of the one variable it reads (`late`; a walk's first instance finds `late` not
    # evaluated yet, and is walked); the second's (at 8x4x4) too; the third (at 8x2x2) is met
    # in two walks, with `late` true in the second of them
    by_shape = {key[1][1]: [r.roots for r in records] for key, records in walk._SHARED[spec].items()}
    false, true = ("late", (bool, False)), ("late", (bool, True))
    assert by_shape == {(8, 8, 8): [(false,), (true,)], (8, 4, 4): [(false,), (true,)], (8, 2, 2): [(true,)]}
    # one more walk with n 3: its second instance (8x4x4, `late` now evaluated: false) comes
    # from the shared record; the third (8x2x2) has none with `late` false: walked
    used: list = []
    real = walk._Made.replay

    def counted(self, ex, full, x, ctx, used=used, real=real):
        used.append((full, self.shared))
        return real(self, ex, full, x, ctx)

    monkeypatch.setattr(walk._Made, "replay", counted)
    runs.append({"n": 3})
    on.append(nodes(expand(spec, None, None, None, runs[-1])))
    assert used == [("b2", True)]
    monkeypatch.setattr(
        walk.Expander,
        "instance",
        lambda self, block, args, full, x, ctx, where: self.seq(
            block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, where)
        ),
    )
    off = [nodes(expand(spec, None, None, None, sets)) for sets in runs]
    assert on == off
    # late: true strides the first conv: 8x8 -> 4x4 -> 4x4; false the second: 8x8 -> 8x8 -> 4x4
    assert on[2][0][3] == (8, 4, 4) and on[1][0][3] == (8, 8, 8)
