"""The spec language, feature by feature, on small specs whose costs are derived by hand."""

import pytest

from flopcount import analyze
from flopcount.errors import SpecError

HEAD = "flopcount: 1\ninput: [3, 8, 8]\n"


# `spec`: the fixture in conftest.py (write a spec file, return its path)


def totals(path, **kw):
    return analyze(path, **kw).totals


def test_shorthand_kernel_stride_repeat(spec):
    r = analyze(spec(HEAD + "layers: [conv7/2-4, conv1x3-2*2]\n"))
    # conv7/2: p auto = 3, out (8+6-7)//2+1 = 4; MACs 4*4*4*3*49 = 9,408
    # conv1x3 (p auto = [0, 1]) keeps 4x4: 2*4*4*4*3 = 384, then 2*4*4*2*3 = 192
    assert [row.macs for row in r.rows] == [4 * 4 * 4 * 3 * 49, 2 * 16 * 4 * 3, 2 * 16 * 2 * 3]
    assert [row.output for row in r.rows] == [(4, 4, 4), (2, 4, 4), (2, 4, 4)]


def test_defaults_and_long_form(spec):
    r = analyze(spec(HEAD + "defaults: {conv: {bias: false, bn: true, act: relu}}\nlayers: [{op: conv, c: 4, k: 3}]\n"))
    row = r.rows[0]
    # weights 4*3*9 = 108, no bias, BN gamma+beta 2*4 = 8; buffers 2*4 = 8 running stats
    assert (row.params, row.buffers) == (108 + 8, 8)
    # ops: BN 2/element + ReLU 1/element over 4*8*8 outputs
    assert row.ops == 3 * 4 * 64


def test_depthwise_groups_in(spec):
    r = analyze(spec("flopcount: 1\ninput: [16, 8, 8]\nlayers: [{op: conv, c: 16, groups: in, bias: false}]\n"))
    # depthwise 3x3: each output channel reads 1 input channel: 16*8*8*1*9
    assert r.rows[0].macs == 16 * 64 * 9 and r.rows[0].params == 16 * 9


def test_repeat_first_rest(spec):
    r = analyze(spec(HEAD + "layers:\n  - {op: conv, c: 4, repeat: 3, first: {s: 2}, name: c}\n"))
    assert [row.name for row in r.rows] == ["c.0", "c.1", "c.2"]
    assert [row.output for row in r.rows] == [(4, 4, 4)] * 3


def test_blocks_with_expressions_and_when(spec):
    text = (
        HEAD
        + """blocks:
  res:
    params: {c: null, s: 1}
    body:
      - op: add
        paths:
          main: [{op: conv, c: $c, s: $s}, {op: conv, c: $c}]
          short: [{op: conv, k: 1, c: $c, s: $s, when: "s != 1 or in_c != c"}]
layers:
  - {op: res, name: a, c: 3}
  - {op: res, name: b, c: 6, s: 2}
"""
    )
    r = analyze(spec(text))
    names = [row.name for row in r.rows]
    # block a keeps 3 channels at stride 1: identity shortcut, no projection conv
    assert "a.short.conv1" not in names and "b.short.conv1" in names
    assert names[-1] == "b.add1" and r.rows[-1].output == (6, 4, 4)
    proj = [row for row in r.rows if row.name == "b.short.conv1"][0]
    assert proj.macs == 6 * 4 * 4 * 3  # 1x1 conv 3 -> 6 at 4x4
    collapsed = analyze(spec(text)).collapsed()
    assert [row.name for row in collapsed] == ["a", "b"]
    assert sum(row.macs for row in collapsed) == r.totals["macs"]


def test_squeeze_excitation_multiply_broadcasts(spec):
    text = (
        "flopcount: 1\ninput: [8, 4, 4]\nlayers:\n  - op: multiply\n    paths:\n      - []\n"
        "      - [gap, {op: conv, k: 1, c: 2, act: relu}, {op: conv, k: 1, c: 8, act: sigmoid}]\n"
    )
    r = analyze(spec(text))
    assert r.rows[-1].output == (8, 4, 4)
    assert r.totals["macs"] == 8 * 2 + 2 * 8  # two 1x1 convs on a 1x1 map
    assert r.rows[-1].ops == 8 * 4 * 4  # one multiply per output element


def test_variables_variants_and_set(spec):
    path = spec(
        "flopcount: 1\nname: net\ninput: [3, 8, 8]\nvars: {w: 4, w2: '${w * 2}'}\n"
        "variants: {a: {w: 2}, b: {}}\nlayers: [conv3-$w, conv3-$w2]\n"
    )
    a = analyze(path + ":a").rows
    assert [row.output[0] for row in a] == [2, 4]
    b = analyze(path + ":b", sets={"w": 8}).rows
    assert [row.output[0] for row in b] == [8, 16]


def test_list_variable_splice(spec):
    r = analyze(spec(HEAD + "vars: {body: [conv3-4, M]}\nlayers: [$body, flatten, fc-10]\n"))
    assert [row.op for row in r.rows] == ["conv", "maxpool", "flatten", "fc"]
    assert r.rows[-1].macs == 4 * 4 * 4 * 10


def test_side_output_is_training_only(spec):
    r = analyze(
        spec(HEAD + "layers:\n  - conv3-4\n  - {op: side, name: aux, layers: [gap, flatten, fc-10]}\n  - conv3-4\n")
    )
    assert [row.name for row in r.train_rows] == ["aux.gap1", "aux.flatten1", "aux.fc1"]
    assert r.train_totals["params"] == 4 * 10 + 10
    assert r.totals["params"] == (4 * 27 + 4) + (4 * 36 + 4)  # side output not in the totals
    assert r.rows[1].output == (4, 8, 8)  # the main path continues from the side's input


def test_imports_blocks(spec):
    spec("flopcount: 1\nblocks:\n  two:\n    params: {c: null}\n    body: [conv3-$c, conv3-$c]\n", "lib.yaml")
    r = analyze(spec(HEAD + "imports: [lib.yaml]\nlayers: [{op: two, c: 4}]\n"))
    assert len(r.rows) == 2


def test_import_cycle_is_an_error(spec):
    spec("flopcount: 1\nimports: [b.yaml]\n", "a.yaml")
    spec("flopcount: 1\nimports: [a.yaml]\n", "b.yaml")
    with pytest.raises(SpecError, match="cycle"):
        analyze(spec(HEAD + "imports: [a.yaml]\nlayers: [conv3-4]\n"))


def test_recursive_block_is_an_error(spec):
    with pytest.raises(SpecError, match="instantiates itself"):
        analyze(spec(HEAD + "blocks:\n  b:\n    params: []\n    body: [{op: b}]\nlayers: [{op: b}]\n"))


def test_ceil_mode_pool(spec):
    r = analyze(spec("flopcount: 1\ninput: [1, 112, 112]\nlayers: [{op: maxpool, k: 3, s: 2, ceil: true}]\n"))
    # ceil((112 - 3) / 2) + 1 = 56 (floor mode gives 55), as in GoogLeNet's Caffe model
    assert r.rows[0].output == (1, 56, 56)


def test_published_rounding_and_binary_units(spec):
    r = analyze(
        spec(
            HEAD + "published: {macs: 0.8K, params: 1Ki, source: test}\n"
            "layers: [{op: conv, c: 4, k: 1, bias: false, p: 0}]\n"
        )
    )
    # 4*8*8*3 = 768 MACs -> "0.8K" rounds ours; 12 params vs 1Ki = 1024: differs
    assert r.published["macs"].compare(768) == "rounded"
    assert r.published["params"].compare(12) == "differs"


def test_expressions_refuse_code(spec):
    for bad in ("${__import__('os')}", "${(1).real}", "${[c for c in range(3)]}", "${9**9**9}", "${open('x')}"):
        with pytest.raises(SpecError):
            analyze(spec(HEAD + f'layers: [{{op: conv, c: "{bad}"}}]\n'))


def test_spec_collapse_default_and_expand(spec):
    from conftest import run

    path = spec(
        HEAD + "collapse: true\nblocks:\n  two:\n    params: []\n    body: [conv3-4, conv3-4]\n"
        "layers: [{op: two, name: a}, {op: two, name: b}]\n"
    )
    collapsed = run(f"flopcount report {path} --format markdown").out
    assert "| a (2) |" in collapsed and "| a.conv1 |" not in collapsed
    expanded = run(f"flopcount report {path} --expand --format markdown").out
    assert "| a.conv1 |" in expanded
    j = run(f"flopcount report {path} --format json").json()
    assert [b["name"] for b in j["blocks"]] == ["a", "b"] and len(j["layers"]) == 4


def test_googlenet_reads_like_table1_by_default():
    from conftest import run

    out = run("flopcount report googlenet --format markdown").out
    # one row per inception module, with the paper's columns beside ours
    assert "| 3a (8) | inception |" in out and "pub. MACs" in out


# -- the op contract as the walk sees it ---------------------------------------------------------


def test_nodes_hold_the_normalised_attributes(spec):
    from flopcount.api import load_graph

    g = load_graph(
        spec("flopcount: 1\ninput: [6, 8, 8]\nlayers: [{op: conv, c: 6, groups: in, k: [1, 3]}, {op: maxpool, k: 2}]\n")
    )
    conv, pool = g.nodes
    # groups: in -> C_in = 6; k [1, 3] -> (1, 3); p auto -> (d*(k-1)//2) = (0, 1); s, d as pairs
    assert (conv.attrs["groups"], conv.attrs["k"], conv.attrs["p"], conv.attrs["s"]) == (6, (1, 3), (0, 1), (1, 1))
    # the pool's stride defaults to its window: (2, 2)
    assert pool.attrs["s"] == (2, 2) and pool.shape == (6, 4, 4)


def test_5000_chained_variables_give_the_right_value(spec):
    # a0 = 1, a_i = a_(i-1) + 1: a4999 = 5000 output channels; 1x1 conv 3 -> 5000 on 8x8:
    # MACs 5000 * 64 * 3 = 960,000
    chain = "".join(f"  a{i}: ${{a{i - 1} + 1}}\n" for i in range(1, 5000))
    r = analyze(spec(HEAD + "vars:\n  a0: 1\n" + chain + "layers: [conv1-$a4999]\n"))
    assert r.rows[0].output == (5000, 8, 8) and r.rows[0].macs == 5000 * 64 * 3


def test_add_nested_60_deep_gives_the_right_value(spec):
    # 60 residual adds nested in each other, each with a 1x1 conv shortcut; each add is
    # (2 - 1) op per output element of 8x8x8 = 512
    body = "conv1-8"
    for _ in range(60):
        body = "{op: add, paths: [[" + body + "], [conv1-8]]}"
    r = analyze(spec("flopcount: 1\ninput: [8, 8, 8]\nlayers: [" + body + "]\n"))
    adds = [row for row in r.rows if row.op == "add"]
    assert len(adds) == 60 and all(row.ops == 512 for row in adds)
    # 61 1x1 convs 8 -> 8 at 8x8 (the innermost and one per shortcut): 61 * 8 * 64 * 8 MACs
    assert r.totals["macs"] == 61 * 8 * 64 * 8


def test_set_value_error_names_the_option(spec):
    from flopcount.errors import UsageError

    path = spec(HEAD + "vars: {c: 4}\nlayers: [conv1-$c]\n")
    with pytest.raises(UsageError, match=r"--set c=\$\{1 // 0\}"):
        analyze(path, sets={"c": "${1 // 0}"})
    with pytest.raises(SpecError, match=r"from `--set c=abc`"):
        analyze(spec(HEAD + "vars: {c: 4}\nlayers: [{op: conv, c: $c}]\n"), sets={"c": "abc"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("blocks:\n  b: {params: {in_c: 3}, body: [conv1-4]}\nlayers: [b]\n", "parameter named `in_c`"),
        ("blocks:\n  b: {params: {name: x}, body: [conv1-4]}\nlayers: [b]\n", "parameter named `name`"),
        ("blocks:\n  fc: {params: [], body: [conv1-4]}\nlayers: [fc]\n", "built-in op `fc`"),
        ("blocks:\n  conv2d: {params: [], body: [conv1-4]}\nlayers: [conv2d]\n", "built-in op `conv2d`"),
        ("vars: {in_w: 3}\nlayers: [conv1-4]\n", "may not be named `in_w`"),
        ("layers: [{op: conv, c: 4, name: a.b}]\n", "without dots"),
        ("layers: [{op: conv, c: 4, name: " + "x" * 201 + "}]\n", "over the limit of 200"),
    ],
)
def test_names_that_would_silently_mean_something_else(spec, text, message):
    with pytest.raises(SpecError, match=message):
        analyze(spec(HEAD + text))
