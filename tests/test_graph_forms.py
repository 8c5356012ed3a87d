"""Graph forms (`from:`, `outputs:`) and the language ergonomics of issue 13, on small specs whose
costs are derived by hand beside each assertion."""

import re
from pathlib import Path

import pytest

from flopcount import analyze
from flopcount.api import load_graph
from flopcount.errors import SpecError

CONFIGS = Path(__file__).resolve().parent.parent / "flopcount" / "configs"


# `spec`: the fixture in conftest.py (write a spec file, return its path)


def errors_of(path, **kw):
    with pytest.raises(SpecError) as info:
        analyze(path, **kw)
    return info.value.diagnostics


# A small feature pyramid: three stages (16x16, 8x8, 4x4), a 1x1 lateral conv on the two deeper
# ones, the top level upsampled and added to the middle one. All convs keep p: auto.
FPN = """flopcount: 1
input: [3, 16, 16]
outputs: [p2, p3]
layers:
  - {op: conv, name: c1, c: 8}
  - {op: conv, name: c2, c: 16, s: 2}
  - {op: conv, name: c3, c: 32, s: 2}
  - {op: conv, name: p3, k: 1, c: 8}
  - {op: upsample, name: up3, scale: 2}
  - {op: conv, name: lat2, from: c2, k: 1, c: 8}
  - {op: add, name: p2, from: [up3, lat2]}
"""


def test_from_reads_a_named_layer_and_rows_stay_in_order(spec):
    r = analyze(spec(FPN))
    assert [row.name for row in r.rows] == ["c1", "c2", "c3", "p3", "up3", "lat2", "p2"]
    # c1: 8*16*16 outputs * 3*9 = 55,296; c2 (s 2, p 1 -> 8x8): 16*64 * 8*9 = 73,728;
    # c3 (4x4): 32*16 * 16*9 = 73,728; p3 1x1 on c3: 8*16 * 32 = 4,096;
    # lat2 reads c2 (16x8x8), not up3: 1x1 -> 8*64 * 16 = 8,192
    assert [row.macs for row in r.rows] == [55_296, 73_728, 73_728, 4_096, 0, 8_192, 0]
    assert r.rows[5].output == (8, 8, 8) and r.rows[6].output == (8, 8, 8)
    assert r.rows[6].ops == 8 * 8 * 8  # one add per output element, (2 - 1) * 512
    g = load_graph(spec(FPN))
    by_name = {n.name: n for n in g.nodes}
    assert by_name["lat2"].inputs == (by_name["c2"].index,)
    assert by_name["p2"].inputs == (by_name["up3"].index, by_name["lat2"].index)


def test_several_outputs_listed_with_their_shapes(spec):
    from conftest import run

    path = spec(FPN)
    g = load_graph(path)
    assert [name for name, _ in g.outputs] == ["p2", "p3"]
    assert g.output == g.outputs[0][1] and g.unreached() == []
    j = run(f"flopcount report {path} --format json").json()
    assert j["outputs"] == [{"name": "p2", "output": [8, 8, 8]}, {"name": "p3", "output": [8, 4, 4]}]
    assert j["unreached"] == []
    from flopcount.schemas import validate

    validate(j)
    text = run(f"flopcount report {path}").out
    assert "2 outputs: p2 8x8x8, p3 8x4x4" in text
    # a spec without `outputs:` keeps its JSON as it was: no `outputs` key
    plain = run("flopcount report vgg-A --format json").json()
    assert "outputs" not in plain and "unreached" not in plain


def test_layers_that_reach_no_output_are_counted_and_noted(spec):
    from conftest import run

    path = spec(FPN.replace("outputs: [p2, p3]", "outputs: [p2]"))
    r = analyze(path)
    # p3 still feeds p2 through up3; nothing is dead. Now make p3 an output only of its own:
    assert load_graph(path).unreached() == []
    path = spec(FPN + "  - {op: conv, name: extra, from: c1, k: 1, c: 4}\n", "dead.yaml")
    g = load_graph(path)
    assert [n.name for n in g.unreached()] == ["extra"]
    r = analyze(path)
    # counted all the same: 4*16*16 * 8 = 8,192 MACs more than the pyramid above
    assert r.totals["macs"] == 55_296 + 2 * 73_728 + 4_096 + 8_192 + 8_192
    assert "1 layer reach no output (extra): counted, as torch runs them" in run(f"flopcount report {path}").out


def test_several_outputs_in_torch(spec):
    torch = pytest.importorskip("torch")
    from flopcount.torch_build import build_graph, count_params

    g = load_graph(spec(FPN))
    model = build_graph(g)
    p2, p3 = model(torch.zeros(1, 3, 16, 16))
    assert tuple(p2.shape) == (1, 8, 8, 8) and tuple(p3.shape) == (1, 8, 4, 4)
    assert count_params(model) == analyze(spec(FPN)).totals["params"]


def test_from_input_and_a_bare_reference(spec):
    text = (
        "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, c: 4}\n  - {op: conv, name: b, c: 4}\n"
        "  - {from: a}\n  - {op: conv, name: c, k: 1, c: 2}\n  - {op: conv, name: d, from: input, k: 1, c: 2}\n"
    )
    r = analyze(spec(text))
    # c reads a (4x8x8): 2*64 * 4 = 512 MACs; d reads the model input (3x8x8): 2*64 * 3 = 384
    assert [(row.name, row.macs) for row in r.rows][2:] == [("c", 512), ("d", 384)]
    g = load_graph(spec(text))
    assert g.nodes[2].inputs == (0,) and g.nodes[3].inputs == (-1,)


def test_from_on_a_merge_feeds_its_branches_and_side_outputs_stay_apart(spec):
    head = "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, c: 4}\n  - {op: conv, name: b, c: 6}\n"
    r = analyze(spec(head + "  - {op: concat, name: cat, from: a, paths: [[], [conv1-2]]}\n"))
    # both branches read a (4x8x8), not b: 4 + 2 channels; the 1x1 conv 2*64 * 4 = 512 MACs
    assert r.rows[-1].output == (6, 8, 8) and r.rows[-2].macs == 512
    side = head + "  - {op: side, name: aux, layers: [{op: conv, name: x, c: 2}]}\n"
    (d,) = errors_of(spec(side + "  - {op: conv, c: 2, from: aux.x}\n", "side.yaml"))
    assert "training-only" in d.message and d.pos.line == 7


def test_from_inside_a_block_reads_its_own_instance_first(spec):
    text = """flopcount: 1
input: [4, 8, 8]
blocks:
  skip:
    params: {c: null}
    body:
      - {op: conv, name: conv1, k: 1, c: $c}
      - {op: conv, name: conv2, k: 1, c: $c}
      - {op: concat, name: cat, from: [conv1, conv2]}
layers:
  - {op: skip, name: a, c: 4}
  - {op: skip, name: b, c: 2}
  - {op: concat, name: both, from: [a, b.conv1]}
"""
    g = load_graph(spec(text))
    idx = {n.name: n.index for n in g.nodes}
    assert g.nodes[idx["b.cat"]].inputs == (idx["b.conv1"], idx["b.conv2"])
    # a: 4 + 4 channels; b.conv1 2 channels: 10x8x8; a block instance's name is its output
    assert g.nodes[idx["both"]].inputs == (idx["a.cat"], idx["b.conv1"])
    assert g.nodes[idx["both"]].shape == (10, 8, 8)


def test_unknown_and_forward_names_are_located_errors(spec):
    text = (
        "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: stage2, c: 4}\n"
        "  - {op: conv, c: 4, from: stge2}\n  - {op: conv, c: 4, from: later}\n  - {op: conv, name: later, c: 4}\n"
    )
    d1, d2 = errors_of(spec(text))
    assert (d1.pos.line, d1.pos.col) == (5, 28) and "no layer, branch or block is named `stge2`" in d1.message
    assert "did you mean `stage2`" in d1.hint
    assert (d2.pos.line, d2.pos.col) == (6, 28) and "defined further down (line 7)" in d2.message


def test_from_refusals(spec):
    head = "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: a, c: 4}\n"
    for line, message in [
        ("{op: conv, c: 4, from: [a, a]}", "only a merge"),
        ("{op: concat, from: [a, a], paths: [[], []]}", "takes no `paths:`"),
        ("{from: [a, a]}", "has no `op:`"),
        ("{from: a, c: 3}", "only selects a tensor"),
        ("{op: conv, c: 4, from: 3}", "`from` must name an earlier layer"),
    ]:
        (d,) = errors_of(spec(head + f"  - {line}\n"))
        assert message in d.message and d.pos.line == 5, line


def test_outputs_refusals(spec):
    head = "flopcount: 1\ninput: [3, 8, 8]\nlayers: [{op: conv, name: a, c: 4}]\n"
    (d,) = errors_of(spec(head + "outputs: [b]\n"))
    assert "`outputs: b`" in d.message and d.pos.line == 4
    (d,) = errors_of(spec(head + "outputs: [a, a]\n"))
    assert "listed twice" in d.message


def test_a_name_held_twice_is_refused_where_it_is_read(spec):
    # a branch `main`, then a layer `main`: the name held both (the branch kept it; before this,
    # `outputs: [main]` and `from: main` read the branch, 4x8x8, silently)
    head = (
        "flopcount: 1\ninput: [4, 8, 8]\nlayers:\n"
        "  - {op: add, name: add, paths: {main: [{op: conv, name: a, c: 4}], shortcut: []}}\n"
        "  - {op: conv, name: main, c: 8, k: 1}\n"
    )
    (d,) = errors_of(spec(head + "outputs: [main]\n"))
    assert d.message.startswith("`outputs: main` is ambiguous: `main` is a merge branch") and d.pos.line == 6
    (d,) = errors_of(spec(head + "  - {op: conv, name: b, c: 8, from: main}\n"))
    assert d.message.startswith("`from: main` is ambiguous") and d.pos.line == 6
    # a group, then a layer of its name; and a block instance that makes the clash inside it
    # (an instance that made one is never kept to replay: each is walked)
    (d,) = errors_of(
        spec(
            "flopcount: 1\ninput: [4, 8, 8]\nlayers:\n"
            "  - {op: seq, name: g, layers: [{op: conv, name: a, c: 4}]}\n"
            "  - {op: conv, name: g, c: 8}\n"
            "  - {op: conv, name: b, c: 8, from: g}\n"
        )
    )
    assert "`g` is a group, a block instance or a repeated layer" in d.message
    block = (
        "flopcount: 1\ninput: [4, 8, 8]\nblocks:\n  blk:\n    body:\n"
        "      - {op: add, name: add, paths: {main: [{op: conv, name: a, c: 4}], shortcut: []}}\n"
        "      - {op: conv, name: main, c: 4, k: 1}\n"
        "      - {op: conv, name: out, c: 4, from: main}\n"
        "layers: [blk, blk, blk]\n"
    )
    (d,) = errors_of(spec(block))
    assert d.message.startswith("`from: main` is ambiguous: `blk1.main` is a merge branch") and d.pos.line == 8
    # the clash made inside an instance, read from outside: the second instance is walked too
    # (a replay of the first would leave `blk2.main` the branch's without a word)
    (d,) = errors_of(
        spec(
            block.replace("      - {op: conv, name: out, c: 4, from: main}\n", "").replace(
                "layers: [blk, blk, blk]", "layers: [blk, blk, {op: conv, c: 4, from: blk2.main}]"
            )
        )
    )
    assert d.message.startswith("`from: blk2.main` is ambiguous: `blk2.main` is a merge branch")
    # unread, the clash is no error (imported models meet it): the counts are the layers'
    # conv a 4->4 3x3 on 8x8: 4*64*36 = 9,216 MACs; conv main 4->8 1x1: 8*64*4 = 2,048
    r = analyze(spec(head))
    assert r.totals["macs"] == 9_216 + 2_048


# -- language ergonomics ---------------------------------------------------------------------


def test_torch_padding_switch_and_conv_defaults(spec):
    base = "flopcount: 1\ninput: [3, 8, 8]\n{}layers: [conv3-8, {{op: conv, c: 8, p: 1}}, maxpool2]\n"
    same = analyze(spec(base.format("")))
    # p: auto keeps 8x8: 8*64 * 3*9 = 13,824 MACs
    assert same.rows[0].output == (8, 8, 8) and same.rows[0].macs == 13_824
    torch_pad = analyze(spec(base.format("padding: torch\n"), "t.yaml"))
    # PyTorch's default p = 0: 8 - 3 + 1 = 6: 8*36 * 27 = 7,776; the layer's own p: 1 stays (6x6 kept)
    assert torch_pad.rows[0].output == (8, 6, 6) and torch_pad.rows[0].macs == 7_776
    assert torch_pad.rows[1].output == (8, 6, 6) and torch_pad.rows[2].output == (8, 3, 3)
    by_defaults = analyze(spec(base.format("defaults: {conv: {p: 0}}\n"), "d.yaml"))
    assert [r.macs for r in by_defaults.rows] == [r.macs for r in torch_pad.rows]
    (d,) = errors_of(spec(base.format("padding: pytorch\n"), "e.yaml"))
    assert d.pos.line == 3 and "did you mean `torch`" in d.hint


def _efficientnet_with(replacements: dict) -> str:
    text = (CONFIGS / "efficientnet.yaml").read_text()
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _rows(report):
    return [(r.name, r.op, r.output, r.params, r.macs, r.ops, r.buffers) for r in report.rows]


def test_if_shapes_match_and_block_in_c_rewrite_efficientnet_exactly(spec):
    # EfficientNet's MBConv as shipped: a `when:` pair (an add where s == 1 and in_c == c, a
    # seq elsewhere) and a `cin` parameter that carries the block's input channels into the
    # SE branch. The direct forms: one `add` with `if_shapes_match: true`, and `block_in_c`.
    text = _efficientnet_with(
        {
            '      - {op: add, name: add, when: "s == 1 and in_c == c", paths: {main: [$mbconv_layers], '
            "shortcut: []}}\n"
            '      - {op: seq, name: main, when: "not (s == 1 and in_c == c)", layers: [$mbconv_layers]}\n': (
                "      - {op: add, name: add, if_shapes_match: true, paths: {main: [$mbconv_layers], shortcut: []}}\n"
            ),
            "params: {e: null, k: null, s: null, c: null, cin: null}": "params: {e: null, k: null, s: null, c: null}",
            ', cin: "${in_c}"}': "}",
            'make_divisible(cin * e, 8)}", when': 'make_divisible(block_in_c * e, 8)}", when',
            "max(1, cin // 4)": "max(1, block_in_c // 4)",
            "cin if e == 1 else make_divisible(cin * e, 8)": "block_in_c if e == 1 else make_divisible(block_in_c * e, 8)",
        }
    )
    path = spec(text, "efficientnet.yaml")
    for variant in ("b0", "b3"):
        # the same rows, names included, as the built-in config (itself equal to torchvision)
        assert _rows(analyze(f"{path}:{variant}")) == _rows(analyze(f"efficientnet-{variant}"))


def test_if_shapes_match_small(spec):
    text = """flopcount: 1
input: [4, 8, 8]
blocks:
  res:
    params: {c: null, s: 1}
    body:
      - {op: add, if_shapes_match: true, paths: {main: [{op: conv, c: $c, s: $s}], shortcut: []}}
layers:
  - {op: res, name: keep, c: 4}
  - {op: res, name: grow, c: 8}
  - {op: res, name: down, c: 8, s: 2}
"""
    r = analyze(spec(text))
    # keep: 4 -> 4 at stride 1: the add is made (4*64 = 256 ops); grow (4 -> 8) and down
    # (stride 2) change the shape: the conv goes on alone, no add
    assert [row.name for row in r.rows] == ["keep.main.conv1", "keep.add1", "grow.main.conv1", "down.main.conv1"]
    assert r.rows[1].ops == 4 * 64
    (d,) = errors_of(spec(text.replace("shortcut: []", "shortcut: [conv1-4]"), "two.yaml"))
    assert "one branch with layers" in d.message
    (d,) = errors_of(spec(text.replace("if_shapes_match: true", "if_shapes_match: yes please"), "b.yaml"))
    assert "must be true or false" in d.message


def test_block_in_c_is_the_blocks_input_inside_nested_paths(spec):
    text = """flopcount: 1
input: [6, 4, 4]
blocks:
  b:
    params: []
    body:
      - {op: conv, k: 1, c: 2, name: first}
      - op: concat
        name: cat
        paths:
          x: [{op: conv, k: 1, c: "${in_c}", name: own}]
          y: [{op: conv, k: 1, c: "${block_in_c}", name: outer}]
layers: [{op: b, name: blk}]
"""
    r = analyze(spec(text))
    out = {row.name: row.output for row in r.rows}
    # inside the branch in_c is the branch's input (2, after `first`); block_in_c the block's (6)
    assert out["blk.x.own"] == (2, 4, 4) and out["blk.y.outer"] == (6, 4, 4)
    (d,) = errors_of(spec('flopcount: 1\ninput: [3, 4, 4]\nlayers: ["conv1-${block_in_c}"]\n', "top.yaml"))
    assert "outside any block" in d.message


def test_log_pow_and_regnet_widths(spec):
    from flopcount.spec.expr import evaluate

    # exact where the inputs are whole: Python's math.log(1000, 10) is 2.9999999999999996
    assert evaluate("log(1000, 10)", {}) == 3 and isinstance(evaluate("log(1000, 10)", {}), int)
    assert evaluate("log2(8)", {}) == 3 and isinstance(evaluate("log2(8)", {}), int)
    assert evaluate("pow(2, 10)", {}) == 1024 and isinstance(evaluate("pow(2, 10)", {}), int)
    assert evaluate("pow(2, -1)", {}) == 0.5 and evaluate("floor(log(999, 10))", {}) == 2
    # RegNetX-200MF (Radosavovic et al. 2020; torchvision regnet_x_200mf: w_0 24, w_a 36.44,
    # w_m 2.49, depth 13, quantised to 8): u_j = w_0 + w_a j, s_j = round(log(u_j / w_0) / log(w_m)),
    # w_j = round(w_0 * w_m ** s_j / 8) * 8 -> stage widths 24, 56, 152, 368 with depths 1, 1, 4, 7
    text = (
        "flopcount: 1\ninput: [3, 1, 1]\nvars: {w0: 24, wa: 36.44, wm: 2.49}\nlayers:\n"
        "  - {op: conv, k: 1, for: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], each: j,"
        ' c: "${int(round(w0 * pow(wm, round(log((w0 + wa * j) / w0) / log(wm))) / 8) * 8)}"}\n'
    )
    widths = [row.output[0] for row in analyze(spec(text)).rows]
    assert widths == [24, 56] + [152] * 4 + [368] * 7
    for bad in ("log(0)", "pow(2, 300)", "log(8, 1)"):
        with pytest.raises(Exception, match="failed"):
            evaluate(bad, {})


def _resnet_with_table() -> str:
    text = (CONFIGS / "resnet.yaml").read_text()
    hand = (
        "  - {op: $block, name: conv2, c: 64, repeat: $n2}\n"
        "  - {op: $block, name: conv3, c: 128, repeat: $n3, first: {s: 2}}\n"
        "  - {op: $block, name: conv4, c: 256, repeat: $n4, first: {s: 2}}\n"
        "  - {op: $block, name: conv5, c: 512, repeat: $n5, first: {s: 2}}\n"
    )
    table = (
        "  - {op: $block, for: [[64, $n2], [128, $n3], [256, $n4], [512, $n5]], each: [c, n],\n"
        '     name: "conv${i + 2}", c: $c, repeat: $n, first: {s: "${1 if i == 0 else 2}"}}\n'
    )
    assert text.count(hand) == 1
    return text.replace(hand, table)


def test_stage_table_rewrites_resnet_exactly(spec):
    path = spec(_resnet_with_table(), "resnet.yaml")
    for variant in ("18", "50", "101-paper"):
        mine = analyze(f"{path}:{variant}")
        ours = analyze(f"resnet-{variant}")
        assert _rows(mine) == _rows(ours)
        assert [r.group for r in mine.rows] == [r.group for r in ours.rows]


def test_stage_table_from_a_variable_as_in_the_readme(spec):
    text = """flopcount: 1
input: [3, 32, 32]
vars: {stages: [[8, 1], [16, 2]]}
blocks:
  blk:
    params: {c: null, s: 1}
    body: [{op: conv, c: $c, s: $s}]
layers:
  - {op: blk, for: $stages, each: [c, n], name: "conv${i + 2}", c: $c, repeat: $n,
     first: {s: "${1 if i == 0 else 2}"}}
"""
    r = analyze(spec(text))
    # conv2 (one block, stride 1): 8*32*32 * 3*9 = 221,184; conv3.0 (stride 2 -> 16x16):
    # 16*256 * 8*9 = 294,912; conv3.1: 16*256 * 16*9 = 589,824
    assert [(row.name, row.macs) for row in r.rows] == [
        ("conv2.conv1", 221_184),
        ("conv3.0.conv1", 294_912),
        ("conv3.1.conv1", 589_824),
    ]


def test_stage_table_names_rows_and_refusals(spec):
    head = "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n"
    r = analyze(spec(head + "  - {op: conv, name: c, for: [4, 8], each: w, c: $w}\n"))
    # a fixed name gets the row number; c.0: 4*64 * 27 = 6,912, c.1 reads 4 channels: 8*64 * 36 = 18,432
    assert [(row.name, row.macs) for row in r.rows] == [("c.0", 6_912), ("c.1", 18_432)]
    for line, message in [
        ("{op: conv, for: [[4, 1]], each: [w], c: $w}", "row 0 of `for` must hold 1 values"),
        ("{op: conv, for: [4], c: 4}", "`for:` needs `each:`"),
        ("{op: conv, for: 4, each: w, c: $w}", "`for` must be a list"),
        ("{op: conv, for: [4], each: [in_c], c: 4}", "may not bind `in_c`"),
    ]:
        (d,) = errors_of(spec(head + f"  - {line}\n", "bad.yaml"))
        assert message in d.message, line


def test_unnamed_merges_side_by_side_get_unique_names(spec):
    text = (
        "flopcount: 1\ninput: [4, 8, 8]\nlayers:\n"
        "  - {op: add, paths: {main: [conv3-4], shortcut: []}}\n"
        "  - {op: add, paths: {main: [conv3-4], shortcut: []}}\n"
    )
    r = analyze(spec(text))
    # (this collided before: `two layers are named main.conv1`); each conv 4*64 * 36 = 9,216 MACs
    assert [row.name for row in r.rows] == ["main.conv1", "add1", "main2.conv1", "add2"]
    assert r.totals["macs"] == 2 * 9_216


def test_a_typo_in_a_block_body_is_reported_once(spec):
    text = (
        "flopcount: 1\ninput: [4, 8, 8]\nblocks:\n  two:\n    params: {c: null}\n"
        "    body: [{op: conv, c: $c, kk: 3}]\nlayers: [{op: two, c: 4, repeat: 3}, {op: two, c: 4}]\n"
    )
    (d,) = errors_of(spec(text))
    assert "`conv` has no attribute `kk`" in d.message and "found 4 times" in d.message
    assert d.pos.line == 6 and "did you mean `k`" in d.hint


@pytest.mark.parametrize(
    "line, hint",
    [
        ("{op: conv, c: 4, repeat: 2, frist: {s: 2}}", "did you mean `first`"),
        ("{op: conv, c: 4, repeat: 2, rest_: {s: 2}}", "did you mean `rest`"),
        ("{op: blk, repeat: 2, frist: {s: 2}}", "did you mean `first`"),
        ("{op: seq, layers: [conv1-4], frm: a}", "did you mean `from`"),
    ],
)
def test_layer_words_misspelled_get_a_did_you_mean(spec, line, hint):
    text = (
        "flopcount: 1\ninput: [4, 8, 8]\nblocks:\n  blk:\n    params: {s: 1}\n    body: [conv1-4]\n"
        f"layers:\n  - {line}\n"
    )
    (d,) = errors_of(spec(text))
    assert hint in d.hint and d.pos.line == 8


def test_cli_exit_code_for_an_unknown_name(spec):
    from conftest import run

    path = spec("flopcount: 1\ninput: [3, 8, 8]\nlayers: [{op: conv, c: 4, from: nowhere}]\n")
    res = run(f"flopcount report {path}")
    assert res.code == 3
    assert re.search(r"net\.yaml:3:33: error: `from: nowhere`", res.err)


def test_every_builtin_config_without_outputs_has_no_dead_layers():
    # the default output is the last layer; a built-in config whose layers do not all reach it
    # would be a mistake in the config (side outputs are training-only and left out)
    from flopcount.spec.document import read_spec

    for stem in ("alexnet", "bottleneck", "efficientnet", "googlenet", "head", "inception", "resnet", "vgg", "unet"):
        path = CONFIGS / f"{stem}.yaml"
        for variant in read_spec(str(path)).variant_names() or [None]:
            g = load_graph(f"{path}:{variant}" if variant else str(path))
            assert g.unreached() == [], (stem, variant)
