"""The op contract (flopcount/ops/base.py): every registered op declares what the rest of the
package needs, and a new op is one new file under flopcount/ops/.

Torch-free, except the builder checks, which run where torch is installed.
"""

import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import flopcount
from flopcount.ops import ALIASES, REGISTRY
from flopcount.ops.base import REQUIRED, Cost, Op, Param, RegistrationError, register, unregister

from conftest import run

PACKAGE = os.path.dirname(os.path.abspath(flopcount.__file__))

try:
    import torch
except ImportError:  # the builder checks are skipped; the rest runs
    torch = None

# One hand-derived case (or more) per registered op: (op, attributes given, input shapes,
# expected output shape, expected per-sample Cost(macs, params, ops, buffers)).
CASES = [
    # conv 3x3/2 on 4x7x7: p auto = (3-1)//2 = 1; H_out = (7 + 2 - 3)//2 + 1 = 4
    # MACs = C_out*H*W * C_in*kh*kw = 8*4*4 * 4*3*3 = 4,608; params = 8*4*9 weights + 8 bias = 296
    ("conv", {"c": 8, "k": 3, "s": 2}, [(4, 7, 7)], (8, 4, 4), Cost(macs=8 * 16 * 36, params=8 * 36 + 8)),
    # depthwise (groups: in = 4): each output channel reads 1 input channel: 4*6*6 * 1*9 = 1,296;
    # params 4*1*9 = 36, no bias
    ("conv", {"c": 4, "groups": "in", "bias": False}, [(4, 6, 6)], (4, 6, 6), Cost(macs=4 * 36 * 9, params=36)),
    # 1x1 conv 3 -> 2 on 5x5 with fused bn + relu: MACs 2*25*3 = 150; params 2*3 + 2 bias + 2*2 (gamma,
    # beta) = 12; buffers 2*2 running stats = 4; ops bn 2/element + relu 1/element over 2*25 = 150
    (
        "conv",
        {"c": 2, "k": 1, "bn": True, "act": "relu"},
        [(3, 5, 5)],
        (2, 5, 5),
        Cost(macs=150, params=6 + 2 + 4, ops=3 * 50, buffers=4),
    ),
    # fc 16 -> 10 (input 4x2x2 flattened): MACs 16*10 = 160; params 160 + 10 bias = 170
    ("fc", {"c": 10}, [(4, 2, 2)], (10,), Cost(macs=160, params=170)),
    # bn on 4x3x3: params 2C = 8 (gamma, beta), buffers 2C = 8, ops 2 per element = 72
    ("bn", {}, [(4, 3, 3)], (4, 3, 3), Cost(params=8, ops=72, buffers=8)),
    # lrn size 3 on 4x3x3: ops (3 + 3) per element * 36 = 216
    ("lrn", {"size": 3}, [(4, 3, 3)], (4, 3, 3), Cost(ops=216)),
    # maxpool 2 (stride defaults to 2) on 4x6x6 -> 4x3x3: ops kh*kw = 4 per output, 36 * 4 = 144
    ("maxpool", {"k": 2}, [(4, 6, 6)], (4, 3, 3), Cost(ops=144)),
    # avgpool 3/2 p1 on 4x6x6: (6 + 2 - 3)//2 + 1 = 3 -> 4x3x3; ops 9 per output * 36 = 324
    ("avgpool", {"k": 3, "s": 2, "p": 1}, [(4, 6, 6)], (4, 3, 3), Cost(ops=324)),
    # gap on 4x6x6 -> 4x1x1: one add per input element = 144
    ("gap", {}, [(4, 6, 6)], (4, 1, 1), Cost(ops=144)),
    # every activation: 1 op per output element, 4*3*3 = 36
    *[
        (act, {}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36))
        for act in ("relu", "relu6", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "gelu")
    ],
    # softmax over 10 features: 3 ops per element = 30
    ("softmax", {}, [(10,)], (10,), Cost(ops=30)),
    # flatten 4x3x3 -> 36, free
    ("flatten", {}, [(4, 3, 3)], (36,), Cost()),
    # dropout and identity: same shape, free
    ("dropout", {"rate": 0.2}, [(4, 3, 3)], (4, 3, 3), Cost()),
    ("identity", {}, [(4, 3, 3)], (4, 3, 3), Cost()),
    # issue 14 (L1): reshape to a traced shape keeps the 36 elements and is free; opaque takes
    # its shape as given and costs nothing by construction (the importer lists it as not costed)
    ("reshape", {"shape": "9x4"}, [(4, 3, 3)], (9, 4), Cost()),
    ("opaque", {"shape": "2x5x5", "what": "custom"}, [(4, 3, 3)], (2, 5, 5), Cost()),
    # issue 14 (H1): a tensor the file holds, 1x3x3 whatever it reads: 9 params when learnable, free
    ("tensor", {"shape": "1x3x3"}, [(4, 3, 3)], (1, 3, 3), Cost(params=9)),
    # concat 4 + 2 channels at 3x3 -> 6x3x3, free (a copy)
    ("concat", {}, [(4, 3, 3), (2, 3, 3)], (6, 3, 3), Cost()),
    # add of two 4x3x3: (2 - 1) ops per output element = 36
    ("add", {}, [(4, 3, 3), (4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    # multiply 4x3x3 by 4x1x1 (squeeze-excitation broadcast): (2 - 1) * 36 = 36
    ("multiply", {}, [(4, 3, 3), (4, 1, 1)], (4, 3, 3), Cost(ops=36)),
    # -- issue 13's ops (more cases, and FlopCounterMode per op, in tests/test_ops_modern.py) --
    # layernorm over the 4 channels of 4x3x3: params 2C = 8; ops (5 + 2 affine) * 36 elements = 252
    ("layernorm", {}, [(4, 3, 3)], (4, 3, 3), Cost(params=8, ops=252)),
    # layernorm over the D = 8 features of 5 tokens: params 16; ops 7 * 40 = 280
    ("layernorm", {"eps": 1e-6}, [(5, 8)], (5, 8), Cost(params=16, ops=280)),
    # without affine, a vector of 6: no params; ops 5 * 6 = 30
    ("layernorm", {"affine": False}, [(6,)], (6,), Cost(ops=30)),
    # groupnorm, 2 groups of 4x3x3: params 2C = 8; ops 7 * 36 = 252
    ("groupnorm", {"groups": 2}, [(4, 3, 3)], (4, 3, 3), Cost(params=8, ops=252)),
    # linear 8 -> 6 on 5 tokens: MACs 5 * 8 * 6 = 240; params 8*6 + 6 = 54
    ("linear", {"c": 6}, [(5, 8)], (5, 6), Cost(macs=240, params=54)),
    # linear over the 4 channels of a 4x3x3 map, at 9 pixels: MACs 9 * 4 * 6 = 216; params 24 + 6 = 30
    ("linear", {"c": 6}, [(4, 3, 3)], (6, 3, 3), Cost(macs=216, params=30)),
    # linear on a vector of 8 -> 3, no bias, fused gelu: MACs 24, params 24, ops 1 per output = 3
    ("linear", {"c": 3, "bias": False, "act": "gelu"}, [(8,)], (3,), Cost(macs=24, params=24, ops=3)),
    # layer scale: one factor per channel (4), one multiply per element (36)
    ("scale", {}, [(4, 3, 3)], (4, 3, 3), Cost(params=4, ops=36)),
    # position embedding on 5 tokens of 8: params N * D = 40, one add per element = 40
    ("pos_embed", {}, [(5, 8)], (5, 8), Cost(params=40, ops=40)),
    # class token: [5, 8] -> [6, 8], params D = 8
    ("cls_token", {}, [(5, 8)], (6, 8), Cost(params=8)),
    # split 6 channels in 2, the second half: [3, 3, 3], free
    ("split", {"take": 1}, [(6, 3, 3)], (3, 3, 3), Cost()),
    # shuffle 4 channels in 2 groups: same shape, free (a copy)
    ("shuffle", {"groups": 2}, [(4, 3, 3)], (4, 3, 3), Cost()),
    # pixel shuffle x2 of 8x3x3: 8 / (2 * 2) = 2 channels of 6x6, free (a copy); unshuffle x2
    # of 2x4x6: 2 * 2 * 2 = 8 channels of 2x3
    ("pixel_shuffle", {"r": 2}, [(8, 3, 3)], (2, 6, 6), Cost()),
    ("pixel_unshuffle", {"r": 2, "order": "dcr"}, [(2, 4, 6)], (8, 2, 3), Cost()),
    # nearest x2: 2x3x3 -> 2x6x6, 1 op per output element = 72
    ("upsample", {"scale": 2}, [(2, 3, 3)], (2, 6, 6), Cost(ops=72)),
    # bilinear to 5x7: 4 ops per output element, 2*5*7 = 70 outputs -> 280
    ("upsample", {"size": [5, 7], "mode": "bilinear", "align_corners": True}, [(2, 3, 3)], (2, 5, 7), Cost(ops=280)),
    # convtranspose 2x2 (stride defaults to 2): H = (3 - 1)*2 - 0 + 1*(2 - 1) + 0 + 1 = 6;
    # MACs = C_in*H_in*W_in * C_out*kh*kw = 4*9 * 3*4 = 432; params 4*3*4 + 3 bias = 51
    ("convtranspose", {"c": 3, "k": 2}, [(4, 3, 3)], (3, 6, 6), Cost(macs=432, params=51)),
    # convtranspose 3/2 p1 op1, 2 groups: H = 2*2 - 2 + 2 + 1 + 1 = 6; MACs 4*9 * (4/2)*9 = 648;
    # params 4 * (4/2) * 9 + 4 = 76
    (
        "convtranspose",
        {"c": 4, "k": 3, "s": 2, "p": 1, "output_padding": 1, "groups": 2},
        [(4, 3, 3)],
        (4, 6, 6),
        Cost(macs=648, params=76),
    ),
    # centre crop 4x5x5 to 2x3: free
    ("crop", {"size": [2, 3]}, [(4, 5, 5)], (4, 2, 3), Cost()),
    # patchify 4x3x2 -> 6 tokens of 4; to_map back (h 2 -> w 3); select the first token
    ("patchify", {}, [(4, 3, 2)], (6, 4), Cost()),
    ("to_map", {"h": 2}, [(6, 4)], (4, 2, 3), Cost()),
    ("select", {}, [(5, 8)], (8,), Cost()),
    # roll by -1: same shape, free (a copy)
    ("roll", {"shift": -1}, [(4, 3, 3)], (4, 3, 3), Cost()),
    # patch merging of 4x5x6: ceil -> 3x3 positions, 4C = 16 -> 2C = 8: MACs 9*16*8 = 1,152;
    # params 16*8 (no bias) + 2*16 (norm) = 160; ops 7 per element of 16x3x3 = 1,008
    ("patchmerge", {}, [(4, 5, 6)], (8, 3, 3), Cost(macs=1152, params=160, ops=1008)),
    # attention, 2 heads, N = 5, D = 8: MACs 5*8*24 (qkv) + 25*8 (QK^T) + 25*8 (AV) + 5*8*8 (proj)
    # = 960 + 200 + 200 + 320 = 1,680; params 3*64 + 24 + 64 + 8 = 288; ops 4 * 2 heads * 25 = 200
    ("attention", {"heads": 2}, [(5, 8)], (5, 8), Cost(macs=1680, params=288, ops=200)),
    # window attention, window 2 on 4x4x4, 2 heads: 4 windows of T = 4 tokens, per window
    # 4*4*12 + 2*16*4 + 4*4*4 = 192 + 128 + 64 = 384 -> 1,536 MACs; params 4*16 + 4*4 = 80 plus the
    # bias table (2*2 - 1)^2 * 2 = 18 -> 98; ops (4 + 1 bias) * 4 windows * 2 heads * 16 = 640
    ("window_attention", {"heads": 2, "window": 2}, [(4, 4, 4)], (4, 4, 4), Cost(macs=1536, params=98, ops=640)),
    # Swin V2 patch merging (norm after the linear) of 4x5x6: MACs as above 1,152; params 16*8 +
    # 2*8 (norm over the 8 outputs) = 144; ops 7 per element of 8x3x3 = 504
    ("patchmerge", {"norm": "after"}, [(4, 5, 6)], (8, 3, 3), Cost(macs=1152, params=144, ops=504)),
    # Swin V2 window attention, window 2 on 4x4x4, 2 heads, bias MLP width 8: windows as above 1,536
    # MACs, plus the MLP over (2*2 - 1)^2 = 9 offsets: 9 * (2*8 + 8*2) = 288 -> 1,824; params 80 (qkv,
    # proj) + 2 (logit scale) + 3*8 (Linear(2, 8) with bias) + 8*2 (Linear(8, 2)) = 122; ops 640 (scores,
    # as above) + 3 * 2 (q, k) * 4 windows * 4 tokens * 4 = 384 (normalise) + 9 * (8 + 2*2) = 108 -> 1,132
    (
        "window_attention_v2",
        {"heads": 2, "window": 2, "hidden": 8},
        [(4, 4, 4)],
        (4, 4, 4),
        Cost(macs=1824, params=122, ops=1132),
    ),
    # MaxViT partition attention, size 2 on 4x4x4, 2 heads, MLP ratio 4: N = 16 tokens, T = 4, C = 4,
    # rC = 16: MACs 16*4*12 (qkv) + 2*16*4*4 (Q K^T, A V) + 16*4*4 (merge) + 2*16*4*16 (MLP)
    # = 768 + 512 + 256 + 2,048 = 3,584; params 3*16 + 12 + 16 + 4 + 9*2 (bias table) + 2*8 (norms)
    # + 4*16 + 16 + 16*4 + 4 (MLP) = 262; ops (4 + 1) * 2 * 16 * 4 = 640 (scores) + 2 * 7 * 64 = 896
    # (norms) + 16 * 16 = 256 (gelu) + 2 * 64 = 128 (residual adds) -> 1,920
    ("partition_attention", {"heads": 2, "size": 2}, [(4, 4, 4)], (4, 4, 4), Cost(macs=3584, params=262, ops=1920)),
    # Q K^T of 5 tokens of 4: MACs 5 * 5 * 4 = 100
    ("matmul", {"transpose_b": True}, [(5, 4), (5, 4)], (5, 5), Cost(macs=100)),
    # -- issue 14's timm coverage ops (H5) --
    # leaky_relu on 4x3x3: 1 op per element = 36, no params (the slope is a constant)
    ("leaky_relu", {"slope": 0.1}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    # prelu on 4x3x3: a slope per channel, 4 params; one op per element = 36; shared: 1 param
    ("prelu", {}, [(4, 3, 3)], (4, 3, 3), Cost(params=4, ops=36)),
    # mish, elu, softplus, hardtanh on 4x3x3: one op per element (as every activation) = 36
    ("mish", {}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    ("elu", {"alpha": 0.5}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    ("softplus", {"beta": 2}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    ("hardtanh", {"min": -2, "max": 2}, [(4, 3, 3)], (4, 3, 3), Cost(ops=36)),
    ("prelu", {"shared": True}, [(4, 3, 3)], (4, 3, 3), Cost(params=1, ops=36)),
    # subtract 4x3x3 - 4x1x1 (broadcast): 1 op per output element = 36
    ("subtract", {}, [(4, 3, 3), (4, 1, 1)], (4, 3, 3), Cost(ops=36)),
    # divide 4x1x1 / 1x1x1: output 4x1x1, 1 op per element = 4
    ("divide", {}, [(4, 1, 1), (1, 1, 1)], (4, 1, 1), Cost(ops=4)),
    # slice channels 1:3 of 4x3x3 -> 2x3x3, free; x[:, 2] of 3x5x8 drops the axis -> 5x8, free
    ("slice", {"start": 1, "stop": 3}, [(4, 3, 3)], (2, 3, 3), Cost()),
    ("slice", {"start": 2, "squeeze": True}, [(3, 5, 8)], (5, 8), Cost()),
    # cat of tokens [1, 8] and [5, 8] along dim 1 -> [6, 8], free (a copy)
    ("cat", {"dim": 1}, [(1, 8), (5, 8)], (6, 8), Cost()),
    # pad one zero token before 5 tokens of 8 -> 6 x 8, free
    ("pad", {"dim": 1, "before": 1}, [(5, 8)], (6, 8), Cost()),
    # sum over dim 1 of 2x4x3x3 -> 4x3x3: one add per input element = 72
    ("reduce", {}, [(2, 4, 3, 3)], (4, 3, 3), Cost(ops=72)),
    # mean over dim 2 (the features) of 5 tokens of 8, kept: 5x1; ops 5 * 8 = 40
    ("reduce", {"mode": "mean", "dim": 2, "keepdim": True}, [(5, 8)], (5, 1), Cost(ops=40)),
    # conv1d 1 -> 1, k 3, p 1 on [1, 16] (ECA): L_out = 16 + 2 - 3 + 1 = 16; MACs 1*16 * 1*3 = 48;
    # params 1*1*3 = 3, no bias
    ("conv1d", {"c": 1, "k": 3, "p": 1, "bias": False}, [(1, 16)], (1, 16), Cost(macs=48, params=3)),
    # conv1d 4 -> 6, k 3, stride 2, 2 groups on [4, 9]: L_out = (9 - 3)//2 + 1 = 4; MACs 6*4 * 2*3 = 144;
    # params 6*2*3 + 6 bias = 42
    ("conv1d", {"c": 6, "k": 3, "s": 2, "groups": 2}, [(4, 9)], (6, 4), Cost(macs=144, params=42)),
    # grn on 4x3x3: params 2C = 8; ops 6 per element * 36 + 3 per channel * 4 = 228
    ("grn", {}, [(4, 3, 3)], (4, 3, 3), Cost(params=8, ops=228)),
    # affine on 5 tokens of 8: params 2 * 8 = 16; ops 2 per element * 40 = 80
    ("affine", {}, [(5, 8)], (5, 8), Cost(params=16, ops=80)),
    # a bias table of 6 values added to 2 heads' 3x3 scores: params 6 (the table), 1 add per element = 18
    ("bias_table", {"size": 6}, [(2, 3, 3)], (2, 3, 3), Cost(params=6, ops=18)),
    # every second row and column of a 7x7x4 grid (LeViT's x[:, ::2, ::2]): ceil(7 / 2) = 4 -> 4x7x4 after
    # the first axis, free
    ("slice", {"dim": 1, "step": 2}, [(7, 7, 4)], (4, 7, 4), Cost()),
    # token_bn over the D = 8 features of 5 tokens: params 2D = 16, buffers 2D = 16, ops 2 * 40 = 80
    ("token_bn", {}, [(5, 8)], (5, 8), Cost(params=16, ops=80, buffers=16)),
]


def _attrs(op, given):
    a = {k: p.default for k, p in op.params.items() if p.default is not REQUIRED}
    for key, value in given.items():
        checked, problem = op.params[key].check(key, value)
        assert problem is None, problem
        a[key] = checked
    return a


def _run_case(name, given, xs):
    op = REGISTRY[name]
    a = _attrs(op, given)
    before = copy.deepcopy(a)
    n = op.normalize(a, xs)
    assert a == before, "normalize must return a new dict, not change the attributes"
    normalised = copy.deepcopy(n)
    y = op.infer(n, xs)
    cost = op.cost(n, xs, y)
    assert n == normalised, "infer and cost read the normalised attributes, never change them"
    assert op.infer(n, xs) == y and op.cost(n, xs, y) == cost, "infer and cost are pure"
    return op, n, y, cost


@pytest.mark.parametrize("name, given, xs, shape, cost", CASES, ids=[c[0] for c in CASES])
def test_hand_derived_case(name, given, xs, shape, cost):
    _, _, y, got = _run_case(name, given, xs)
    assert y == shape
    assert got == cost


def test_every_op_has_a_case_docs_and_a_cost_rule_shown_by_flopcount_ops():
    assert {c[0] for c in CASES} == set(REGISTRY)
    listing = run("flopcount ops")
    assert listing.code == 0
    for name, op in REGISTRY.items():
        assert op.doc.strip() and op.cost_rule.strip(), name
        assert f"{name}" in listing.out and op.doc in listing.out and f"cost: {op.cost_rule}" in listing.out, name
        for key, p in op.params.items():
            assert p.doc.strip(), f"{name}.{key} has no doc"


def test_moves_is_declared_not_guessed():
    # the three views return the same memory; concat copies; everything else computes
    # (and issue 13's slices and reshapes: torch returns views of the same memory for them)
    assert {n for n, op in REGISTRY.items() if op.moves == "view"} == {
        "flatten",
        "dropout",
        "identity",
        "split",
        "crop",
        "patchify",
        "to_map",
        "select",
        "reshape",  # issue 14's imported layout change
        "slice",  # issue 14's timm coverage: x[:, a:b] and x[:, i] are views (narrow, select)
    }
    # a shuffle, a roll and a longer sequence are real copies
    # (issue 14: cat along any axis, pad into a larger tensor)
    assert {n for n, op in REGISTRY.items() if op.moves == "copy"} == {
        "concat",
        "shuffle",
        "pixel_shuffle",
        "pixel_unshuffle",
        "roll",
        "cls_token",
        "cat",
        "pad",
    }


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("name, given, xs, shape, cost", CASES, ids=[c[0] for c in CASES])
def test_builder_matches_the_spec(name, given, xs, shape, cost):
    op, n, y, c = _run_case(name, given, xs)
    module = op.build(n, xs, y).eval()
    with torch.no_grad():
        out = module(*[torch.randn(2, *x) for x in xs])
    assert tuple(out.shape) == (2, *shape)
    assert sum(p.numel() for p in module.parameters()) == c.params


# -- parameters check themselves ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, key", [(n, k) for n, op in REGISTRY.items() for k, p in op.params.items() if p.kind == "number"]
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_every_number_attribute_refuses_nan_and_inf(name, key, bad):
    value, problem = REGISTRY[name].params[key].check(key, bad)
    assert value is None and "finite" in problem[0]


def test_ranges_and_special_words():
    rate = REGISTRY["dropout"].params["rate"]
    assert rate.check("rate", 0)[1] is None and rate.check("rate", 0.999)[1] is None
    assert "outside [0, 1)" in rate.check("rate", 1)[1][0]
    dim = REGISTRY["softmax"].params["dim"]
    assert "outside [0, 3]" in dim.check("dim", 7)[1][0]
    groups = REGISTRY["conv"].params["groups"]
    assert groups.check("groups", "in") == ("in", None)
    assert "whole number or `in`" in groups.check("groups", "out")[1][0]
    # a word is special only for the Param that declares it
    assert Param("int", 1).check("groups", "in")[1] is not None


# -- registration refuses what the expander cannot use ------------------------------------------


def _op(**decl):
    body = {"name": "tmp_op", "doc": "a test op", "cost_rule": "free", "infer": lambda self, a, xs: xs[0]}
    body.update(decl)
    return type("TmpOp", (Op,), body)


@pytest.mark.parametrize(
    "decl, problem",
    [
        ({"name": "relu"}, "registered twice"),
        ({"aliases": ("M",)}, "registered twice"),
        ({"name": "seq"}, "spec language"),
        ({"arity": 2}, "arity 2 is not one the expander handles"),
        ({"arity": "pairs"}, "is not one the expander handles"),
        ({"arity": True}, "is not one the expander handles"),
        ({"cost_rule": ""}, "declares no `cost_rule`"),
        ({"doc": ""}, "declares no `doc`"),
        ({"moves": "teleport"}, "moves 'teleport'"),
        ({"arity": "n", "moves": "view"}, "a view has one input"),
        ({"params": {"paths": Param("int", 1)}}, "is not a word, or is reserved"),
        ({"params": {"k": Param("matrix", 1)}}, "must be a Param of kind"),
        ({"params": {"rate": Param("number", 2.0, max=1)}}, "fails its own check"),
        ({"short_k": "k"}, "short_k names 'k'"),
    ],
)
def test_registration_refuses(decl, problem):
    before = (dict(REGISTRY), dict(ALIASES))
    with pytest.raises(RegistrationError, match=None) as exc:
        register(_op(**decl))
    assert problem in str(exc.value)
    assert (dict(REGISTRY), dict(ALIASES)) == before


def test_walk_dispatches_on_every_declared_arity():
    from flopcount.ops.base import INPUT_FORMS
    from flopcount.spec.walk import FORMS

    assert set(FORMS) == set(INPUT_FORMS)


def test_no_op_name_outside_the_ops_folder():
    """Acceptance: no op name (or alias) is a string literal anywhere in the package but
    flopcount/ops/ (and the configs). Two unrelated uses of the same words are listed."""
    unrelated = {
        ("units.py", "M"),  # the mega suffix of figures (358M)
        ("crosscheck.py", "conv"),
        ("crosscheck.py", "linear"),
        ("crosscheck.py", "matmul"),
    }  # fvcore's operator buckets
    names = set(REGISTRY) | set(ALIASES)
    found = []
    for root, _, files in os.walk(PACKAGE):
        rel = os.path.relpath(root, PACKAGE)
        # importers/ (issue 14) translate torch and ONNX nodes into op names: that is their job
        if rel.split(os.sep)[0] in ("ops", "configs", "importers"):
            continue
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                with open(path, encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Constant)
                        and node.value in names
                        and (os.path.relpath(path, PACKAGE), node.value) not in unrelated
                    ):
                        found.append(f"{os.path.relpath(path, PACKAGE)}:{node.lineno}: {node.value!r}")
    assert found == []


# -- a new op is one new file -------------------------------------------------------------------

MAXIMUM = '''\
"""Element-wise maximum of several branches (a test op: arity "n")."""
import functools

from .base import Cost, Op, numel, register
from .merge import _broadcast


@register
class Maximum(Op):
    name = "maximum"
    doc = "Element-wise maximum of its branches, with broadcasting."
    cost_rule = "ops = (branches - 1) comparisons per output element"
    arity = "n"
    min_inputs = 2

    def infer(self, a, xs):
        return _broadcast("maximum", xs)

    def cost(self, a, xs, y):
        return Cost(ops=(len(xs) - 1) * numel(y))

    def build(self, a, xs, y):
        import torch

        from ..torch_build import Merge

        return Merge("maximum", lambda ts: functools.reduce(torch.maximum, ts))
'''

SHUFFLE = '''\
"""Channel shuffle (ShuffleNet), a test op: a `groups` attribute with its own special word."""
from .base import Op, OpError, Param, feature_map, register


@register
class PairShuffle(Op):
    name = "pair_shuffle"
    doc = "Channel shuffle: interleaves the channels of its groups."
    cost_rule = "free: no arithmetic (a real copy; the roofline counts its bytes)"
    moves = "copy"
    params = {"groups": Param("int", 2, "channel groups; `pairs` for C / 2 groups of two", special=("pairs",))}

    def normalize(self, a, xs):
        c = feature_map("pair_shuffle", xs[0])[0]
        groups = c // 2 if a["groups"] == "pairs" else a["groups"]
        if groups < 1 or c % groups:
            raise OpError(f"groups={groups} must divide the channels ({c})", "pick a divisor", attr="groups")
        return {**a, "groups": groups}

    def infer(self, a, xs):
        return xs[0]

    def build(self, a, xs, y):
        from torch import nn

        return nn.ChannelShuffle(a["groups"])
'''

SPEC = """flopcount: 1
input: [8, 4, 4]
layers:
  - conv1-8
  - op: maximum
    name: mx
    paths: [[conv1-8], [conv3-8], []]
  - {op: pair_shuffle, name: sh, groups: pairs}
  - {op: pair_shuffle, name: sh2}
  - {op: conv, name: dw, c: 8, groups: in}
"""

# what the subprocess checks beside the report: the node's normalised groups, the roofline's
# bytes for the shuffle (a copy, not a view), and with torch the built module
PROBE = """
import json, sys
from flopcount.api import load_graph
from flopcount.roofline import node_bytes
g = load_graph(sys.argv[1])
out = {"attrs": {n.name: n.attrs.get("groups") for n in g.nodes},
       "bytes": {n.name: node_bytes(n, [g.input if i < 0 else g.nodes[i].shape for i in n.inputs], 1, "fp32")
                 for n in g.nodes}}
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    from flopcount.torch_build import build_graph, count_params
    m = build_graph(g)
    y = m(torch.randn(2, *g.input))
    out["torch"] = {"shape": list(y.shape), "params": count_params(m)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def plugin_package(tmp_path_factory):
    """A copy of the package with two new files under flopcount/ops/ and nothing else changed."""
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PACKAGE, root / "flopcount", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "flopcount" / "ops" / "maximum.py").write_text(MAXIMUM)
    (root / "flopcount" / "ops" / "pair_shuffle.py").write_text(SHUFFLE)
    return root


def _flopcount(root, *argv, module="flopcount"):
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [sys.executable, "-m", module, *argv] if module else [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(root),
    )


def test_new_ops_in_one_file_each_work_end_to_end(plugin_package, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(SPEC)
    p = _flopcount(plugin_package, "report", str(spec), "--format", "json")
    assert p.returncode == 0, p.stderr
    rows = {r["name"]: r for r in json.loads(p.stdout)["layers"]}
    assert [r for r in rows] == ["conv1", "b1.conv1", "b2.conv1", "mx", "sh", "sh2", "dw"]
    # maximum of 3 branches of 8x4x4: (3 - 1) comparisons per output element = 2 * 128 = 256
    assert rows["mx"]["ops"] == 256 and rows["mx"]["output"] == [8, 4, 4]
    assert rows["sh"]["macs"] == rows["sh"]["params"] == rows["sh"]["ops"] == 0
    # conv groups: in still means C_in for conv: 8*16 * 1*9 = 1,152 MACs; 8*9 + 8 = 80 params
    assert (rows["dw"]["macs"], rows["dw"]["params"]) == (8 * 16 * 9, 80)
    shown = _flopcount(plugin_package, "ops", "maximum")
    assert "cost: ops = (branches - 1) comparisons per output element" in shown.stdout
    probe = _flopcount(plugin_package, "-c", PROBE, str(spec), module=None)
    assert probe.returncode == 0, probe.stderr
    got = json.loads(probe.stdout)
    # normalised on the node: `pairs` -> 8 // 2 = 4; the default 2; conv's `in` -> 8
    assert (got["attrs"]["sh"], got["attrs"]["sh2"], got["attrs"]["dw"]) == (4, 2, 8)
    # the shuffle copies: reads 128 floats and writes 128, at 4 bytes = 1,024 bytes (a view would be 0)
    assert got["bytes"]["sh"] == (128 + 128) * 4
    assert ("torch" in got) == (torch is not None)
    if torch is not None:
        # params: conv1 8*8+8 = 72, mx branches 72 and 8*8*9+8 = 584, dw 80: 808
        assert got["torch"] == {"shape": [2, 8, 4, 4], "params": 72 + 72 + 584 + 80}


def test_special_words_belong_to_their_op(plugin_package, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("flopcount: 1\ninput: [8, 4, 4]\nlayers: [{op: pair_shuffle, groups: in}]\n")
    p = _flopcount(plugin_package, "report", str(spec))
    assert p.returncode == 3, p.stderr
    assert "`groups` must be a whole number or `pairs`, got 'in'" in p.stderr
    spec.write_text("flopcount: 1\ninput: [8, 4, 4]\nlayers: [{op: conv, c: 8, groups: pairs}]\n")
    p = _flopcount(plugin_package, "report", str(spec))
    assert p.returncode == 3 and "`groups` must be a whole number or `in`, got 'pairs'" in p.stderr


def test_a_merge_needs_its_declared_branches(plugin_package, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("flopcount: 1\ninput: [8, 4, 4]\nlayers:\n  - {op: maximum, paths: [[conv1-8]]}\n")
    p = _flopcount(plugin_package, "report", str(spec))
    assert p.returncode == 3 and "`maximum` needs at least two branches" in p.stderr


def test_a_duplicate_op_file_fails_at_import(plugin_package, tmp_path):
    dup = plugin_package / "flopcount" / "ops" / "zz_duplicate.py"
    dup.write_text(
        textwrap.dedent("""\
        from .base import Op, register


        @register
        class Relu2(Op):
            name = "relu"
            doc = "again"
            cost_rule = "free"
        """)
    )
    try:
        p = _flopcount(plugin_package, "-c", "import flopcount.ops", module=None)
    finally:
        dup.unlink()
    assert p.returncode != 0 and "RegistrationError" in p.stderr and "registered twice" in p.stderr


def test_unregister_leaves_the_registry_as_it_was():
    before = (dict(REGISTRY), dict(ALIASES))
    register(_op(aliases=("tmp_alias",)))
    assert REGISTRY["tmp_op"].name == "tmp_op" and ALIASES["tmp_alias"] == "tmp_op"
    unregister("tmp_op")
    assert (dict(REGISTRY), dict(ALIASES)) == before
