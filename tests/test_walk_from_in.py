"""`from: in`: the input of the group, branch or block instance a layer is in, wherever that
stands (what `flopcount import` writes where a block reads its own input again: Swin V2's ONNX
blocks fold with it). At the top it is the model's input; a layer named `in` is found first."""

from __future__ import annotations

import textwrap

from flopcount.catalog import load_graph

SPEC = """\
flopcount: 1
name: fromin
input: [8, 8, 8]
blocks:
  res:
    params: {c: null}
    body:
      - {op: conv, name: a, k: 3, c: $c}
      - {op: conv, name: b, k: 3, c: $c}
      - {op: add, name: sum, from: [b, in]}
layers:
  - {op: res, name: r, c: 8, repeat: 3}
  - op: seq
    name: g
    layers:
      - {op: conv, name: x, k: 1, c: 8}
      - {op: add, name: y, from: [x, in]}
  - op: add
    name: m
    paths:
      main: [{op: conv, name: p, k: 1, c: 8}, {op: conv, name: q, k: 1, c: 8, from: in}]
      shortcut: []
  - {op: conv, name: head, k: 1, c: 4, from: in}
"""


def inputs(tmp_path, text):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(text))
    g = load_graph(str(p))
    names = ["input", *[n.name for n in g.nodes]]
    return {n.name: tuple(names[i + 1] for i in n.inputs) for n in g.nodes}


def test_from_in_names_the_input_of_the_instance_group_or_branch(tmp_path):
    got = inputs(tmp_path, SPEC)
    # each instance's sum reads its b and the instance's own input (replayed instances too)
    assert got["r.0.sum"] == ("r.0.b", "input")
    assert got["r.1.sum"] == ("r.1.b", "r.0.sum")
    assert got["r.2.sum"] == ("r.2.b", "r.1.sum")
    assert got["g.y"] == ("g.x", "r.2.sum")  # the group's input
    assert got["main.q"] == ("g.y",)  # the branch's input: what the merge reads (named main.q)
    assert got["head"] == ("input",)  # at the top: the model's input


def test_a_layer_named_in_is_found_first(tmp_path):
    text = SPEC.replace("{op: conv, name: a, k: 3, c: $c}", "{op: conv, name: in, k: 3, c: $c}").replace(
        "{op: conv, name: b, k: 3, c: $c}", "{op: conv, name: b, k: 3, c: $c, from: in}"
    )
    got = inputs(tmp_path, text)
    assert got["r.0.b"] == ("r.0.in",)  # the layer `in` of the instance, not the instance's input
    assert got["r.0.sum"] == ("r.0.b", "r.0.in")
