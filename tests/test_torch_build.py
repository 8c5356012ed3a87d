"""The torch builder: every built-in config builds, with the report's parameter count exactly,
submodules named as the spec's layers, and every op's module producing the spec's shapes."""

import pytest

torch = pytest.importorskip(
    "torch",
    reason="torch is not installed: pip install -e '.[test,torch]' (.ci/run installs it, so CI runs these tests)",
)

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import flopcount  # noqa: E402
from flopcount.api import analyze, load_graph, report_of  # noqa: E402
from flopcount.ops import REGISTRY  # noqa: E402
from flopcount.ops.base import Op  # noqa: E402
from flopcount.spec.resolve import builtin_names  # noqa: E402
from flopcount.torch_build import build_graph, count_buffers, count_params  # noqa: E402

# Every built-in config, read from flopcount/configs/ at collection time: new configs are covered automatically.
BUILTINS = builtin_names()


def test_builtins_found():
    assert "vgg-D" in BUILTINS and len(BUILTINS) >= 13  # the core's 13 configs, plus any added since


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_builds_with_exact_counts(name):
    """On the meta device (no memory): params and BN buffers equal the report's totals, every
    inference layer is a submodule under its spec name, and the meta forward gives the spec's
    output shape and FlopCounterMode FLOPs = 2 x the report's MACs (torch counts 2 per MAC)."""
    graph = load_graph(name)
    report = report_of(graph)
    model = build_graph(graph, device="meta")
    assert count_params(model) == report.totals["params"]
    assert count_buffers(model) == report.totals["buffers"]
    modules = dict(model.named_modules())
    missing = [r.name for r in report.rows if r.name not in modules]
    assert not missing
    x = torch.empty((graph.batch, *graph.input), device="meta")
    with FlopCounterMode(display=False) as counter:
        y = model(x)
    ys = y if isinstance(y, tuple) else (y,)  # several `outputs:`: a tuple, in their order
    assert [tuple(t.shape) for t in ys] == [(graph.batch, *graph.nodes[i].shape) for i in graph.output_nodes()]
    assert counter.get_total_flops() == 2 * report.totals["macs"]


def test_every_op_has_a_builder():
    lacking = [name for name, op in REGISTRY.items() if type(op).build is Op.build]
    assert lacking == []


def test_dotted_names_are_nested_scopes():
    model = flopcount.build("inception-reduced", device="meta")
    layer = model.get_submodule("inception.b2.conv")  # scope inception, scope b2, layer conv
    conv = layer.conv  # fused act: the layer is conv + act, its children named so
    assert isinstance(conv, nn.Conv2d)
    # the notes' 3x3 conv: 64 (the reduce) -> 192 channels
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (64, 192, (3, 3))
    assert isinstance(layer.act, nn.ReLU)


def test_build_overrides_like_the_cli(write_spec):
    path = write_spec("flopcount: 1\ninput: [3, 8, 8]\nvars: {w: 4}\nlayers: [conv3-$w, gap, flatten, fc-10]\n")
    model = flopcount.build(path, w=6, input=(3, 16, 16), device="meta")
    # conv 3 -> 6, 3x3, bias: 6*3*9 + 6 = 168; fc 6 -> 10: 60 + 10 = 70
    assert count_params(model) == 168 + 70
    assert analyze(path, (3, 16, 16), None, {"w": 6}).totals["params"] == 168 + 70


EVERY_OP = """
flopcount: 1
input: [8, 15, 15]
layers:
  - {op: conv, name: stem, c: 16, k: 3, s: 2, bn: true, act: relu6, bias: false}
  - {op: conv, name: dw, c: 16, k: 3, groups: in, bn: true, act: hardswish}
  - {op: conv, name: grouped, c: 32, k: 1, groups: 4, act: silu}
  - {op: lrn, name: norm}
  - {op: bn, name: bn}
  - {op: gelu, name: g}
  - {op: tanh, name: t}
  - {op: maxpool, name: pool, k: 3, s: 2, ceil: true}
  - {op: avgpool, name: apool, k: 3, s: 2, p: 1, ceil: true}
  - op: concat
    name: cat
    paths:
      a: [{op: conv, c: 8, k: 1, act: sigmoid, name: c}]
      b: [{op: identity, name: i}]
  - op: add
    name: res
    paths:
      main: [{op: conv, c: 40, k: 1, name: c}]
      shortcut: []
  - op: multiply
    name: se
    paths:
      scale: [{op: gap, name: squeeze}, {op: conv, c: 40, k: 1, act: hardsigmoid, name: excite}]
      x: []
  - {op: relu, name: r}
  - {op: layernorm, name: ln}
  - {op: groupnorm, name: gn, groups: 4}
  - {op: leaky_relu, name: leaky, slope: 0.1}
  - {op: prelu, name: prelu}
  - {op: mish, name: mish}
  - {op: elu, name: elu}
  - {op: softplus, name: softplus}
  - {op: hardtanh, name: hardtanh, min: -3, max: 3}
  - {op: grn, name: grn}
  - {op: affine, name: aff}
  - {op: bias_table, name: table, size: 7}
  - op: subtract
    name: diff
    paths:
      pooled: [{op: avgpool, name: p, k: 3, s: 1, p: 1}]
      x: []
  - op: divide
    name: quot
    paths:
      x: []
      by: [{op: reduce, name: total, mode: mean, dim: 1, keepdim: true}]
  - op: cat
    name: halves2
    dim: 1
    paths:
      a: [{op: slice, name: first, stop: 8}]
      b: [{op: slice, name: rest, start: 8}]
  - {op: linear, name: lin, c: 16, act: gelu}
  - {op: scale, name: ls}
  - {op: shuffle, name: shuf, groups: 2}
  - op: concat
    name: halves
    paths:
      a: [{op: split, name: s, take: 0}]
      b: [{op: split, name: s, take: 1}, {op: roll, name: roll, shift: 1}]
  - {op: upsample, name: up, scale: 2, mode: bilinear}
  - {op: convtranspose, name: upc, c: 8, k: 2}
  - {op: crop, name: crop, size: 10}
  - {op: pixel_unshuffle, name: s2d, r: 2}
  - {op: pixel_shuffle, name: d2s, r: 2, order: dcr}
  - {op: window_attention, name: wa, heads: 2, window: 4, shift: 2}
  - {op: window_attention_v2, name: wa2, heads: 2, window: 4, shift: 2, hidden: 16}
  - {op: partition_attention, name: pw, heads: 2, size: 5}
  - {op: partition_attention, name: pg, heads: 2, size: 5, mode: grid}
  - {op: patchmerge, name: pm}
  - {op: patchify, name: tok}
  - {op: to_map, name: map}
  - {op: patchify, name: tok2}
  - {op: cls_token, name: cls}
  - {op: pos_embed, name: pos}
  - {op: token_bn, name: tbn}
  - {op: slice, name: every2, dim: 1, step: 2}
  - {op: attention, name: att, heads: 2}
  - op: matmul
    name: mm
    transpose_b: true
    paths:
      q: [{op: linear, name: q, c: 4}]
      k: [{op: linear, name: k, c: 4}]
  - {op: select, name: first}
  - {op: fc, name: head, c: 12, bn: true, act: relu}
  - {op: dropout, name: drop, rate: 0.2}
  - {op: fc, name: out, c: 5}
  - {op: flatten, name: flat}
  - {op: softmax, name: prob}
  - {op: reshape, name: rs, shape: 1x5}
  - {op: conv1d, name: c1d, c: 2, k: 3, p: 1}
  - {op: pad, name: padded, dim: 2, before: 1}
  - {op: slice, name: row, squeeze: true}
  - {op: opaque, name: unknown, shape: "5", what: a node an importer could not cost}
  - {op: tensor, name: held, shape: 1x5}
"""


def test_every_op_builds_to_the_spec_shapes(write_spec):
    """A real CPU forward through one layer of every op: each layer's output shape (from a
    forward hook) equals the spec's shape rule, and the parameter count equals the report's."""
    graph = load_graph(write_spec(EVERY_OP))
    report = report_of(graph)
    model = build_graph(graph)
    used = {n.op for n in graph.nodes} | {n.attrs.get("act") for n in graph.nodes} - {None, "none"}
    assert used == set(REGISTRY)  # every registered op, as a layer or as a fused activation
    seen = {}
    for r in report.rows:
        model.get_submodule(r.name).register_forward_hook(
            lambda m, i, o, name=r.name: seen.__setitem__(name, tuple(o.shape[1:]))
        )
    with torch.no_grad():
        model(torch.randn(2, *graph.input))
    assert seen == {r.name: tuple(r.output) for r in report.rows}
    assert count_params(model) == report.totals["params"]


def test_ceil_mode_pool_matches_torch(write_spec):
    # 7 -> ceil((7 - 3) / 2) + 1 = 3 with ceil mode, and floor gives 3 too; 8 -> ceil(5/2)+1 = 4 vs floor 3
    graph = load_graph(write_spec("flopcount: 1\ninput: [1, 8, 8]\nlayers: [{op: maxpool, k: 3, s: 2, ceil: true}]\n"))
    assert graph.nodes[0].shape == (1, 4, 4)
    y = build_graph(graph)(torch.randn(1, 1, 8, 8))
    assert tuple(y.shape) == (1, 1, 4, 4)


def test_side_outputs_only_on_request(write_spec):
    path = write_spec(
        "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - conv3-4\n"
        "  - {op: side, name: aux, layers: [gap, flatten, fc-2]}\n  - conv3-8\n"
    )
    report = analyze(path)
    # inference: conv 3->4 (4*27+4 = 112) and conv 4->8 (8*36+8 = 296); aux fc 4->2: 8 + 2 = 10
    assert report.totals["params"] == 112 + 296 and report.train_totals["params"] == 10
    assert count_params(flopcount.build(path)) == 112 + 296
    full = flopcount.build(path, train_only=True)
    assert count_params(full) == 112 + 296 + 10
    main, aux = full(torch.randn(1, 3, 8, 8))
    assert tuple(main.shape) == (1, 8, 8, 8) and tuple(aux.shape) == (1, 2)


def test_zeros_on_materialises_a_meta_module_with_zeros_keeping_shapes_and_sharing():
    """verify's CPU twin: every parameter and buffer of a meta-built module replaced by zeros on
    the CPU (running variances by ones), shapes, dtypes and requires_grad kept, a parameter shared
    by two layers still one tensor, and the module runs."""
    from flopcount.torch_build import zeros_on

    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 4 * 6 * 6))
        model.append(nn.Linear(4 * 6 * 6, 4 * 6 * 6))
    model[4].weight = model[3].weight  # tied: one parameter, counted once
    before = {n: (t.shape, t.dtype) for n, t in [*model.named_parameters(), *model.named_buffers()]}
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    zeros_on(model, "cpu")
    after = dict([*model.named_parameters(), *model.named_buffers()])
    assert {n: (t.shape, t.dtype) for n, t in after.items()} == before  # named_* list a shared tensor once
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads
    assert all(t.device.type == "cpu" for t in after.values())
    assert model[4].weight is model[3].weight
    assert all(bool((t == (1 if n.endswith("running_var") else 0)).all()) for n, t in after.items())
    # conv 4*3*9 + 4, bn 4 + 4, one 144x144 weight (tied) + two biases of 144
    assert count_params(model) == 112 + 8 + 144 * 144 + 2 * 144
    assert model.eval()(torch.ones(1, 3, 8, 8)).shape == (1, 144)
