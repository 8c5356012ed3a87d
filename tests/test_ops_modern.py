"""Issue 13's ops: hand-derived costs, agreement with torch's FlopCounterMode and fvcore per op,
the frozen torchvision rows (tests/reference/torchvision-modern.json) for the layers torchvision
has, and the builders against the torch modules they stand for.

The contract cases of every op are in tests/test_op_contract.py (CASES); the cases here are more
of the same, for the rules with several branches (padding, shift, square defaults, ranks).
"""

import json
import os

import pytest
from test_op_contract import CASES, _run_case

from flopcount.ops import REGISTRY
from flopcount.ops.base import Cost

from conftest import run

try:
    import torch
except ImportError:  # the torch checks are skipped; the counting checks run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: pip install -e '.[test,torch]'")
REFERENCE = json.load(
    open(os.path.join(os.path.dirname(__file__), "reference", "torchvision-modern.json"), encoding="utf-8")
)["models"]

MORE = [
    # upsample x1.5 of 3x5: floor(4.5) = 4, floor(7.5) = 7 (PyTorch floors); nearest: 1 op per output, 2*4*7 = 56
    ("upsample", {"scale": 1.5}, [(2, 3, 5)], (2, 4, 7), Cost(ops=56)),
    # x0.5 of 5x5: floor(2.5) = 2 -> 2x2; bilinear 4 ops per output * 3*4 = 48
    ("upsample", {"scale": 0.5, "mode": "bilinear"}, [(3, 5, 5)], (3, 2, 2), Cost(ops=48)),
    # shifted windows on 3x3, window 2: padded to 4x4 (4 windows of T = 4), shift 1 stays (2 < 4).
    # MACs per window T*C*3C + 2*T*T*C + T*C*C = 4*4*12 + 2*16*4 + 4*16 = 384 -> 4 * 384 = 1,536;
    # params 4*16 + 4*4 = 80 + bias table 3^2 * 1 head = 89; ops (4 + 1 bias + 1 mask) * 4 * 1 * 16 = 384
    ("window_attention", {"heads": 1, "window": 2, "shift": 1}, [(4, 3, 3)], (4, 3, 3), Cost(1536, 89, 384)),
    # window 7 on 7x7 with shift 3: the window covers the map, so torchvision drops the shift.
    # 1 window, T = 49: 49*4*12 + 2*49*49*4 + 49*4*4 = 2,352 + 19,208 + 784 = 22,344 MACs;
    # params 80 + 13^2 = 249; ops (4 + 1) * 49 * 49 = 12,005
    ("window_attention", {"heads": 1, "window": 7, "shift": 3}, [(4, 7, 7)], (4, 7, 7), Cost(22344, 249, 12005)),
    # attention of 5 tokens of 8 through a 4-wide q/k/v, 2 heads, no qkv bias:
    # 5*8*12 (qkv) + 25*4 (QK^T) + 25*4 (AV) + 5*4*8 (proj) = 480 + 100 + 100 + 160 = 840;
    # params 3*8*4 + 4*8 + 8 = 136; ops 4 * 2 * 25 = 200
    ("attention", {"heads": 2, "dim": 4, "qkv_bias": False}, [(5, 8)], (5, 8), Cost(840, 136, 200)),
    # without the output projection: 5*8*24 + 2*25*8 = 960 + 400 = 1,360; params 3*64 + 24 = 216
    ("attention", {"heads": 4, "proj": False}, [(5, 8)], (5, 8), Cost(1360, 216, 4 * 4 * 25)),
    # a batched product [2, 3, 4] @ [2, 4, 5]: 2*3*5 outputs of 4 MACs = 120
    ("matmul", {}, [(2, 3, 4), (2, 4, 5)], (2, 3, 5), Cost(macs=120)),
    # 9 tokens as a square map 3x3 by default
    ("to_map", {}, [(9, 4)], (4, 3, 3), Cost()),
    # convtranspose 3x3 s1 p1 keeps the size: (5 - 1)*1 - 2 + 2 + 0 + 1 = 5;
    # MACs 2*25 * 3*9 = 1,350; params 2*3*9 = 54 (no bias); fused bn: params 6, buffers 6, ops 2*75
    (
        "convtranspose",
        {"c": 3, "k": 3, "s": 1, "p": 1, "bias": False, "bn": True},
        [(2, 5, 5)],
        (3, 5, 5),
        Cost(macs=1350, params=54 + 6, ops=150, buffers=6),
    ),
    # dilated: (4 - 1)*2 - 0 + 2*(3 - 1) + 1 + 1 = 12 (output_padding 1 < stride 2)
    ("convtranspose", {"c": 1, "k": 3, "s": 2, "d": 2, "output_padding": 1}, [(1, 4, 4)], (1, 12, 12), Cost(144, 10)),
    # patchmerge of an odd 3x3 map: padded to 4x4 -> 2x2; 4C = 8 -> c 3: MACs 4*8*3 = 96;
    # params 8*3 + 2*8 = 40; ops 7 * 8 * 4 = 224
    ("patchmerge", {"c": 3}, [(2, 3, 3)], (3, 2, 2), Cost(96, 40, 224)),
    # layer scale on tokens: one factor per feature (8), one multiply per element (40)
    ("scale", {}, [(5, 8)], (5, 8), Cost(params=8, ops=40)),
    # two prepended tokens (DeiT): [5, 8] -> [7, 8], params 2 * 8
    ("cls_token", {"tokens": 2}, [(5, 8)], (7, 8), Cost(params=16)),
    # split in 3 of 6 channels, the last: 2 channels
    ("split", {"parts": 3, "take": 2}, [(6, 2, 2)], (2, 2, 2), Cost()),
]
NEW_OPS = {
    "layernorm",
    "groupnorm",
    "linear",
    "scale",
    "pos_embed",
    "cls_token",
    "split",
    "shuffle",
    "upsample",
    "convtranspose",
    "crop",
    "patchify",
    "to_map",
    "select",
    "roll",
    "patchmerge",
    "attention",
    "window_attention",
    "matmul",
}
ALL = CASES + MORE


def test_every_new_op_is_registered_with_a_contract_case():
    assert NEW_OPS <= set(REGISTRY)
    assert NEW_OPS <= {c[0] for c in CASES}


@pytest.mark.parametrize("name, given, xs, shape, cost", MORE, ids=[c[0] for c in MORE])
def test_more_hand_derived_cases(name, given, xs, shape, cost):
    _, _, y, got = _run_case(name, given, xs)
    assert (y, got) == (shape, cost)


# -- against the torch modules: FlopCounterMode and fvcore, per op ------------------------------


def _flop_counter_macs(module, inputs):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops() // 2


@needs_torch
@pytest.mark.parametrize("name, given, xs, shape, cost", ALL, ids=[c[0] for c in ALL])
def test_flop_counter_mode_agrees_per_op(name, given, xs, shape, cost):
    """Every op's built module, run on a batch of 2, counts 2 x its per-sample MACs in
    FlopCounterMode (FLOPs / 2), and has its output shape and parameter count."""
    op, n, y, c = _run_case(name, given, xs)
    module = op.build(n, xs, y).eval()
    inputs = [torch.randn(2, *x) for x in xs]
    assert _flop_counter_macs(module, inputs) == 2 * c.macs
    with torch.no_grad():
        assert tuple(module(*inputs).shape) == (2, *shape)
    assert sum(p.numel() for p in module.parameters()) == c.params


MAC_OPS = [c for c in ALL if c[0] in NEW_OPS and c[4].macs]


@needs_torch
@pytest.mark.parametrize("name, given, xs, shape, cost", MAC_OPS, ids=[c[0] for c in MAC_OPS])
def test_fvcore_mac_buckets_agree_per_op(name, given, xs, shape, cost):
    fvcore = pytest.importorskip("fvcore.nn")
    op, n, y, c = _run_case(name, given, xs)
    module = op.build(n, xs, y).eval()
    fa = fvcore.FlopCountAnalysis(module, tuple(torch.randn(2, *x) for x in xs))
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    buckets = fa.by_operator()
    macs = sum(v for k, v in buckets.items() if k in ("conv", "linear", "matmul", "bmm", "addmm", "einsum"))
    assert macs == 2 * c.macs


# -- the frozen torchvision rows ----------------------------------------------------------------


def _row(model, name):
    return next(r for r in REFERENCE[model]["layers"] if r[0] == name)


def _cost(name, given, xs):
    return _run_case(name, given, xs)[3]


def test_vit_b_16_attention_and_mlp_equal_torchvision_rows():
    # encoder layer 0 of vit_b_16: nn.MultiheadAttention(768, 12) over 197 tokens, its
    # out_proj folded into it (run through F.linear): params 4*768^2 + 4*768, MACs with MATH SDPA
    att = _cost("attention", {"heads": 12}, [(197, 768)])
    _, _, params, macs = _row("vit_b_16", "encoder.layers.encoder_layer_0.self_attention")[1:]
    assert (att.params, att.macs) == (params, macs) == (2362368, 524391936)
    mlp0 = _cost("linear", {"c": 3072, "act": "gelu"}, [(197, 768)])
    assert (mlp0.params, mlp0.macs) == tuple(_row("vit_b_16", "encoder.layers.encoder_layer_0.mlp.0")[3:5])
    ln = _cost("layernorm", {"eps": 1e-6}, [(197, 768)])
    assert ln.params == _row("vit_b_16", "encoder.layers.encoder_layer_0.ln_1")[3] == 1536
    # class token (768) and position embedding (197 * 768) are the root's and the encoder's own params
    assert _cost("cls_token", {}, [(196, 768)]).params == _row("vit_b_16", "")[3] == 768
    assert _cost("pos_embed", {}, [(197, 768)]).params == _row("vit_b_16", "encoder")[3] == 197 * 768


@pytest.mark.parametrize(
    "row, shape, heads, shift",
    [
        ("features.1.0.attn", (96, 56, 56), 3, 0),
        ("features.1.1.attn", (96, 56, 56), 3, 3),
        ("features.5.1.attn", (384, 14, 14), 12, 3),
        ("features.7.1.attn", (768, 7, 7), 24, 3),  # window 7 covers 7x7: the shift is dropped
    ],
)
def test_swin_t_window_attention_equals_torchvision_rows(row, shape, heads, shift):
    c = _cost("window_attention", {"heads": heads, "window": 7, "shift": shift}, [shape])
    assert (c.params, c.macs) == tuple(_row("swin_t", row)[3:5])
    assert REFERENCE["swin_t"]["buffers"] == 0  # the relative-position index is not a counted buffer


def test_swin_t_patch_merging_equals_torchvision_rows():
    c = _cost("patchmerge", {}, [(96, 56, 56)])
    norm, reduction = _row("swin_t", "features.2.norm"), _row("swin_t", "features.2.reduction")
    assert c.params == norm[3] + reduction[3] == 768 + 73728
    assert c.macs == reduction[4] == 57802752


def test_convnext_tiny_block_equals_torchvision_rows():
    # features.1.0: CNBlock's own params are its layer scale (96); LayerNorm over channels (192);
    # the two Linear layers over the channels of a 56x56 map
    assert _cost("scale", {}, [(96, 56, 56)]).params == _row("convnext_tiny", "features.1.0")[3] == 96
    assert _cost("layernorm", {"eps": 1e-6}, [(96, 56, 56)]).params == _row("convnext_tiny", "features.0.1")[3]
    fc1 = _cost("linear", {"c": 384, "act": "gelu"}, [(96, 56, 56)])
    fc2 = _cost("linear", {"c": 96}, [(384, 56, 56)])
    assert (fc1.params, fc1.macs) == tuple(_row("convnext_tiny", "features.1.0.block.3")[3:5])
    assert (fc2.params, fc2.macs) == tuple(_row("convnext_tiny", "features.1.0.block.5")[3:5])


# -- builders against the torch modules they stand for ------------------------------------------


@needs_torch
def test_self_attention_counts_like_torch_multihead_attention():
    """nn.MultiheadAttention (fast path off, MATH SDPA: the reference's setting) and our
    builder: the same parameters and the same FlopCounterMode MACs per aten op."""
    from torch import nn
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    op, n, y, cost = _run_case("attention", {"heads": 4}, [(10, 32)])
    ours = op.build(n, [(10, 32)], y).eval()
    ref = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters()) == cost.params
    x = torch.randn(1, 10, 32)
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        counts = []
        for run_it in (lambda: ours(x), lambda: ref(x, x, x, need_weights=False)):
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc, torch.no_grad():
                run_it()
            counts.append({str(k): v // 2 for k, v in fc.get_flop_counts()["Global"].items()})
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
    # qkv 10*32*96 + proj 10*32*32 = 40,960 (addmm); QK^T + AV 2 * 4 heads * 10*10*8 = 6,400 (bmm)
    assert counts[0] == counts[1] == {"aten.addmm": 40960, "aten.bmm": 6400}
    assert cost.macs == 40960 + 6400


@needs_torch
def test_attention_values_equal_torch_multihead_attention_with_the_same_weights():
    from torch import nn

    op, n, y, _ = _run_case("attention", {"heads": 4}, [(10, 32)])
    ours = op.build(n, [(10, 32)], y).eval()
    ref = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    with torch.no_grad():
        ours.qkv.weight.copy_(ref.in_proj_weight)
        ours.qkv.bias.copy_(ref.in_proj_bias)
        ours.proj.weight.copy_(ref.out_proj.weight)
        ours.proj.bias.copy_(ref.out_proj.bias)
        x = torch.randn(2, 10, 32)
        assert torch.allclose(ours(x), ref(x, x, x, need_weights=False)[0], atol=1e-5)


@needs_torch
def test_one_window_covering_the_map_is_plain_attention_plus_the_bias():
    """window_attention with one window over the whole map and a zero bias table is self-
    attention over the H*W tokens: the partition, merge and permutes lose nothing."""
    op, n, y, _ = _run_case("window_attention", {"heads": 2, "window": 4}, [(8, 4, 4)])
    win = op.build(n, [(8, 4, 4)], y).eval()
    op2, n2, y2, _ = _run_case("attention", {"heads": 2}, [(16, 8)])
    att = op2.build(n2, [(16, 8)], y2).eval()
    with torch.no_grad():
        win.relative_position_bias_table.zero_()
        att.load_state_dict({k: v for k, v in win.state_dict().items() if k.startswith(("qkv", "proj"))})
        x = torch.randn(2, 8, 4, 4)
        tokens = x.flatten(2).transpose(1, 2)
        expected = att(tokens).transpose(1, 2).reshape(2, 8, 4, 4)
        assert torch.allclose(win(x), expected, atol=1e-5)


@needs_torch
def test_window_attention_index_is_not_a_counted_buffer():
    from flopcount.torch_build import count_buffers

    op, n, y, c = _run_case("window_attention", {"heads": 3, "window": 7, "shift": 3}, [(96, 14, 14)])
    module = op.build(n, [(96, 14, 14)], y)
    # torchvision's index has 49 * 49 = 2,401 entries (swin_t: 12 blocks -> all_buffers 28,812)
    assert module.relative_position_index.numel() == 2401 == REFERENCE["swin_t"]["all_buffers"] // 12
    assert count_buffers(module) == c.buffers == 0


@needs_torch
@pytest.mark.parametrize("scale", [0.5, 1.5, 2, 2.25, 3])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_output_size_equals_interpolate(scale, mode):
    import torch.nn.functional as F

    for h, w in ((7, 5), (13, 11)):
        _, _, y, _ = _run_case("upsample", {"scale": scale, "mode": mode}, [(2, h, w)])
        assert y == tuple(F.interpolate(torch.zeros(1, 2, h, w), scale_factor=scale, mode=mode).shape[1:])


@needs_torch
@pytest.mark.parametrize("k, s, p, op_, d", [(2, 2, 0, 0, 1), (3, 2, 1, 1, 1), (4, 2, 1, 0, 1), (3, 3, 2, 2, 2)])
def test_convtranspose_size_and_macs_equal_torch(k, s, p, op_, d):
    from torch import nn

    given = {"c": 6, "k": k, "s": s, "p": p, "output_padding": op_, "d": d}
    _, _, y, c = _run_case("convtranspose", given, [(4, 5, 7)])
    ref = nn.ConvTranspose2d(4, 6, k, s, p, op_, 1, True, d)
    x = torch.randn(1, 4, 5, 7)
    assert y == tuple(ref(x).shape[1:])
    # FlopCounterMode counts every input pixel times a kernel's worth of outputs: 4*5*7 * 6*k*k
    assert _flop_counter_macs(ref, [x]) == c.macs == 4 * 35 * 6 * k * k


@needs_torch
@pytest.mark.parametrize("order", ["crd", "dcr"])
def test_pixel_shuffle_moves_each_value_where_its_order_says(order):
    # C' = 2 channels of 2x3 from 8 at r = 2. crd (torch's PixelShuffle): output (c, h r + i,
    # w r + j) is input channel c r^2 + i r + j at (h, w); dcr (ONNX DepthToSpace's default):
    # input channel (i r + j) C' + c. Unshuffle is the inverse of each.
    r, c2 = 2, 2
    x = torch.randn(1, c2 * r * r, 2, 3)
    op, n, y, _ = _run_case("pixel_shuffle", {"r": r, "order": order}, [(8, 2, 3)])
    got = op.build(n, [(8, 2, 3)], y)(x)
    assert tuple(got.shape[1:]) == y == (2, 4, 6)
    for c in range(c2):
        for h in range(2):
            for w in range(3):
                for i in range(r):
                    for j in range(r):
                        src = c * r * r + i * r + j if order == "crd" else (i * r + j) * c2 + c
                        assert got[0, c, h * r + i, w * r + j] == x[0, src, h, w]
    back, nb, yb, _ = _run_case("pixel_unshuffle", {"r": r, "order": order}, [y])
    assert torch.equal(back.build(nb, [y], yb)(got), x)
    if order == "crd":
        assert torch.equal(got, torch.nn.PixelShuffle(r)(x))


@needs_torch
def test_shuffle_and_split_move_values_as_torch_does():
    from torch import nn

    op, n, y, _ = _run_case("shuffle", {"groups": 3}, [(6, 2, 2)])
    x = torch.randn(2, 6, 2, 2)
    assert torch.equal(op.build(n, [(6, 2, 2)], y)(x), nn.ChannelShuffle(3)(x))
    op, n, y, _ = _run_case("split", {"take": 1}, [(6, 2, 2)])
    assert torch.equal(op.build(n, [(6, 2, 2)], y)(x), x.chunk(2, 1)[1])


@needs_torch
def test_layernorm_over_channels_is_layer_norm_at_every_pixel():
    import torch.nn.functional as F

    op, n, y, _ = _run_case("layernorm", {"eps": 1e-6}, [(5, 3, 4)])
    module = op.build(n, [(5, 3, 4)], y)
    x = torch.randn(2, 5, 3, 4)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (5,), eps=1e-6).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.allclose(module(x), expected, atol=1e-6)


@needs_torch
def test_patch_merging_is_torchvisions_order():
    """torchvision's PatchMerging concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
    x[1::2, 1::2] (rows first) before the norm and the reduction."""
    op, n, y, _ = _run_case("patchmerge", {}, [(2, 4, 4)])
    module = op.build(n, [(2, 4, 4)], y)
    x = torch.randn(1, 2, 4, 4)
    h = x.permute(0, 2, 3, 1)
    cat = torch.cat([h[:, 0::2, 0::2], h[:, 1::2, 0::2], h[:, 0::2, 1::2], h[:, 1::2, 1::2]], -1)
    with torch.no_grad():
        expected = module.reduction(module.norm(cat)).permute(0, 3, 1, 2)
        assert torch.equal(module(x), expected)


# -- errors: located, with a fix, exit 3 ---------------------------------------------------------


@pytest.mark.parametrize(
    "layers, message",
    [
        ("[{op: split, parts: 4, take: 0}]", "parts=4 must divide the channels (6)"),
        ("[{op: split, take: 2}]", "take=2 is not one of the 2 slices"),
        ("[{op: attention, heads: 2}]", "attention needs tokens [N, D], got [6, 8, 8]"),
        ("[patchify, {op: attention, heads: 4}]", "4 heads must divide the width 6"),
        ("[{op: upsample, scale: 2, size: 4}]", "either `scale` or `size`, not both"),
        ("[{op: upsample, scale: 2, align_corners: true}]", "align_corners applies only to bilinear"),
        ("[{op: convtranspose, c: 4, k: 3, s: 2, output_padding: 2}]", "output_padding [2, 2] must be smaller"),
        ("[{op: crop, size: 9}]", "crop to 9x9 is larger than the input 8x8"),
        ("[{op: window_attention, heads: 2, window: 4, shift: 4}]", "shift 4 must be smaller than the window 4"),
        ("[patchify, {op: to_map, h: 5}]", "64 tokens are not 5 x 12"),
        ("[{op: cls_token}]", "turn a feature map into tokens first"),
        ("[{op: groupnorm, groups: 4}]", "groups=4 must divide the channels (6)"),
    ],
)
def test_bad_attributes_are_located_errors(write_spec, layers, message):
    path = write_spec(f"flopcount: 1\ninput: [6, 8, 8]\nlayers: {layers}\n")
    r = run(f"flopcount report {path}")
    assert r.code == 3, r.err
    assert message in r.err and "spec.yaml:3:" in r.err and "Traceback" not in r.err


def test_flopcount_ops_states_the_conventions():
    conv = run("flopcount ops conv")
    assert conv.code == 0
    assert "NOT PyTorch's 0" in conv.out and "p: 0" in conv.out
    att = run("flopcount ops attention")
    assert "Q K^T" in att.out and "A V" in att.out and "ops = 4 per score" in att.out
    fc = run("flopcount ops fc")
    assert "`linear` is the one over the feature axis that does not flatten" in fc.out
