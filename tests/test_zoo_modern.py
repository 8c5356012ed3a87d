"""Issue 13's built-in configs, exact against torchvision (weights=None, eval mode, batch 1).

Every expected number comes from tests/reference/torchvision-modern.json (how it was computed:
tests/reference/README.md, section "Issue 13's models"; the script is
tests/reference/compute_ref_modern.py): `params` = sum of `p.numel()` over the model's
parameters, `buffers` = BatchNorm running mean + variance, `macs` = FlopCounterMode's total / 2
under SDPBackend.MATH with the MultiheadAttention fast path off (aten.convolution, addmm/mm
for every nn.Linear, bmm for attention's QK^T and AV and plain matmuls), and `layers`: one row
per module that ran and has parameters or MACs of its own, in module-entry order,
`[name, type, output shape, params, macs]`.

Layer by layer: our rows with parameters or MACs, in report order, against those rows. A
conv or fc with `bn: true` is one row here and two there (torchvision keeps the BatchNorm in
its own module): ours is split into the layer (params less 2C) and its BN (2C, no MACs)
before comparing. Totals go through `flopcount report NAME --format json`, as a user gets them
(test_zoo's helper).
"""

import json
import os

import pytest
from test_zoo import report

from flopcount.api import analyze

from conftest import run

REF_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "torchvision-modern.json")
with open(REF_PATH) as _f:
    TV = json.load(_f)["models"]

# our config -> torchvision model in the reference file
TWINS = {
    "mobilenet-v3-large": "mobilenet_v3_large",
    "shufflenet-v2-x1-0": "shufflenet_v2_x1_0",
    "fcn-resnet50": "fcn_resnet50",
    "deeplabv3-resnet50": "deeplabv3_resnet50",
    "convnext-tiny": "convnext_tiny",
    "vit-b-16": "vit_b_16",
    "swin-t": "swin_t",
}

# Exact totals: (params, MACs), copied from the reference file (source beside each); the test
# also checks that they still are the file's numbers.
EXACT = {
    # torchvision mobilenet_v3_large @224: params 5,483,032 (= its weights' num_params),
    # FlopCounterMode/2 216,589,760 (convolution 214,080,960 + addmm 2,508,800)
    "mobilenet-v3-large": (5_483_032, 216_589_760),
    # torchvision shufflenet_v2_x1_0 @224: 2,278,604 (= num_params); convolution 143,883,992
    # + addmm 1,024,000
    "shufflenet-v2-x1-0": (2_278_604, 144_907_992),
    # torchvision fcn_resnet50 @520, aux_loss=False: convolution only
    "fcn-resnet50": (32_957_013, 142_725_772_800),
    # torchvision deeplabv3_resnet50 @520, aux_loss=False: convolution only
    "deeplabv3-resnet50": (39_638_869, 168_731_205_888),
    # torchvision convnext_tiny @224: 28,589,128 (= num_params); convolution 292,965,120 +
    # addmm 4,162,566,144 (the pointwise MLPs are nn.Linear on channels-last maps)
    "convnext-tiny": (28_589_128, 4_455_531_264),
    # torchvision vit_b_16 @224: 86,567,656 (= num_params); convolution 115,605,504 + addmm
    # 16,732,895,232 + bmm 715,327,488 (QK^T and AV: 12 blocks x 2 x 197^2 x 768)
    "vit-b-16": (86_567_656, 17_563_828_224),
    # torchvision swin_t @224: 28,288,354 (= num_params); convolution 14,450,688 + addmm
    # 4,162,566,144 + bmm 140,141,568 (window QK^T and AV) + mm 173,408,256 (patch merging)
    "swin-t": (28_288_354, 4_490_566_656),
}

# torchvision module type per op of ours (a row of ours must face a module of its kind)
TYPES = {
    "conv": {"Conv2d"},
    "bn": {"BatchNorm2d"},
    "fc": {"Linear"},
    "linear": {"Linear"},
    "layernorm": {"LayerNorm", "LayerNorm2d"},
    "scale": {"CNBlock"},  # ConvNeXt's layer scale is a parameter of the block module
    "cls_token": {"VisionTransformer"},  # ViT's class token: a parameter of the model module
    "pos_embed": {"Encoder"},  # ViT's position embedding: a parameter of its encoder
    "attention": {"MultiheadAttention"},
    "window_attention": {"ShiftedWindowAttention"},
}


def our_rows(r):
    """(name, op, output shape, params, macs) for each row with params or MACs, a fused BN split off."""
    nodes = {n.name: n for n in r.graph.nodes}
    rows = []
    for row in r.rows:
        if not (row.params or row.macs):
            continue
        out = tuple(row.output)
        if nodes[row.name].attrs.get("bn"):
            bn = 2 * out[0]
            rows.append((row.name, row.op, out, row.params - bn, row.macs))
            rows.append((row.name + "/bn", "bn", out, bn, 0))
        elif row.op == "patchmerge":  # torchvision: a LayerNorm over 4C, then a bias-free Linear
            four_c = 4 * r.graph.nodes[nodes[row.name].inputs[0]].shape[0]
            norm = 2 * four_c  # gamma, beta
            rows.append((row.name + "/norm", "layernorm", (four_c, *out[1:]), norm, 0))
            rows.append((row.name, "linear", out, row.params - norm, row.macs))
        else:
            rows.append((row.name, row.op, out, row.params, row.macs))
    return rows


def same_shape(ours, tv):
    """torchvision's shape less the batch; a channels-last [H, W, C] map (ConvNeXt's Linear and
    LayerNorm) is our [C, H, W]. None: a row whose shape says nothing of the layer's (see
    class_token_after_patches)."""
    if tv is None:
        return True
    if isinstance(tv[0], list):  # nn.MultiheadAttention returns (output, weights=None)
        tv = tv[0]
    tv = tuple(tv[1:])
    return ours == tv or (len(tv) == 3 and ours == (tv[2], tv[0], tv[1]))


def parents_last(ref_rows):
    """A module row whose own parameters are applied after its children's (ConvNeXt's CNBlock
    owns the layer scale, applied after the MLP) moved after the last of its children: the
    reference lists modules in the order they were entered."""
    rows = list(ref_rows)
    out = []
    pending = []  # (prefix, row) of parents waiting for their children to end
    for i, row in enumerate(rows):
        while pending and not row[0].startswith(pending[-1][0]):
            out.append(pending.pop()[1])
        if i + 1 < len(rows) and rows[i + 1][0].startswith(row[0] + "."):
            pending.append((row[0] + ".", row))
        else:
            out.append(row)
    out.extend(row for _, row in reversed(pending))
    return out


def match_layers(ours, ref_rows):
    """Compare row by row; returns the first mismatch as text, or None."""
    if len(ours) != len(ref_rows):
        return f"{len(ours)} rows of ours, {len(ref_rows)} in torchvision"
    for i, (o, t) in enumerate(zip(ours, ref_rows)):
        name, op, shape, params, macs = o
        tv_name, tv_type, tv_shape, tv_params, tv_macs = t
        if (
            tv_type not in TYPES.get(op, ())
            or not same_shape(shape, tv_shape)
            or (params, macs) != (tv_params, tv_macs)
        ):
            return f"row {i}: ours {o} vs torchvision {t}"
    return None


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_totals(name):
    ref = TV[TWINS[name]]
    params, macs = EXACT[name]
    assert (ref["params"], ref["macs"]) == (params, macs)  # the table above is the reference's
    j = report(name)
    assert j["input"] == [3, ref["resolution"], ref["resolution"]]
    assert (j["totals"]["params"], j["totals"]["macs"], j["totals"]["buffers"]) == (params, macs, ref["buffers"])
    for key in ("params", "macs", "ops", "buffers"):  # the rows add up to the totals
        assert sum(layer[key] for layer in j["layers"]) == j["totals"][key], key


# configs whose every row faces one torchvision module (after splitting fused BNs)
ROW_BY_ROW = sorted(TWINS)
# where a parent module's own parameters act after its children (see parents_last)
PARENTS_LAST = {"convnext-tiny"}


def class_token_after_patches(ref_rows):
    """ViT's class token is a parameter of the model module (the reference's first row, ''),
    put before the tokens after the patch projection: its row moved after `conv_proj`. The
    row's shape is the whole model's output ([1, 1000]): not compared (None)."""
    root, conv, *rest = ref_rows
    assert (root[0], conv[0], root[2]) == ("", "conv_proj", [1, 1000])
    return [conv, [root[0], root[1], None, root[3], root[4]], *rest]


@pytest.mark.parametrize("name", ROW_BY_ROW)
def test_layers_match_torchvision(name):
    ref = TV[TWINS[name]]["layers"]
    if name in PARENTS_LAST:
        ref = parents_last(ref)
    if name == "vit-b-16":
        ref = class_token_after_patches(ref)
    problem = match_layers(our_rows(analyze(name)), ref)
    assert problem is None, problem


def test_parents_last():
    rows = [["a", "X", [1], 1, 0], ["a.b", "Y", [1], 2, 0], ["a.c", "Y", [1], 3, 0], ["d", "Y", [1], 4, 0]]
    assert [r[0] for r in parents_last(rows)] == ["a.b", "a.c", "a", "d"]
    assert [r[0] for r in parents_last(rows[:3])] == ["a.b", "a.c", "a"]


def test_the_matcher_can_fail():
    # the comparison sees a row that differs, one row too many, and a wrong kind of module
    ours = our_rows(analyze("mobilenet-v3-large"))
    ref = TV["mobilenet_v3_large"]["layers"]
    assert match_layers(ours, ref) is None
    bad = [list(row) for row in ref]
    bad[5][4] += 1
    assert match_layers(ours, bad).startswith("row 5:")
    assert "rows of ours" in match_layers(ours, ref[:-1])
    bad = [list(row) for row in ref]
    bad[0][1] = "Linear"
    assert match_layers(ours, bad).startswith("row 0:")


def test_every_new_name_is_listed():
    names = {c["name"] for c in run("flopcount list --format json").json()["configs"]}
    assert set(EXACT) <= names


# ---------------------------------------------------------------------------------------------
# Segmentation: the auxiliary head (a second output), as the published weights have it
# ---------------------------------------------------------------------------------------------
# the reference's params_aux_loss_true / macs_aux_loss_true: torchvision built with
# aux_loss=True (= the COCO_WITH_VOC_LABELS_V1 weights' num_params and _ops)
AUX = {
    "fcn-resnet50": (35_322_218, 152_716_512_000),
    "deeplabv3-resnet50": (42_004_074, 178_721_945_088),
}


@pytest.mark.parametrize("name", sorted(AUX))
def test_segmentation_aux_head(name):
    ref = TV[TWINS[name]]
    assert (ref["params_aux_loss_true"], ref["macs_aux_loss_true"]) == AUX[name]
    plain = report(name)
    assert [o["name"] for o in plain["outputs"]] == ["out"]
    for j in (report(name, "--set aux=true"), report(name + "-aux")):
        assert (j["totals"]["params"], j["totals"]["macs"]) == AUX[name]
        # torchvision's output dict: "out" and "aux", both [21, 520, 520]
        outs = [(o["name"], o["output"]) for o in j["outputs"]]
        assert outs == [(k, ref["output_shape_aux_loss_true"][k][1:]) for k in ("out", "aux")]
    # the aux head is FCNHead(1024, 21) on layer3: 3x3 conv 1024 -> 256 (+ BN), 1x1 conv 256 -> 21
    # (+ bias), at 65x65: the difference, by hand
    head_params = 256 * 1024 * 9 + 2 * 256 + 21 * 256 + 21
    head_macs = 65 * 65 * (256 * 1024 * 9 + 21 * 256)
    assert AUX[name][0] - plain["totals"]["params"] == head_params
    assert AUX[name][1] - plain["totals"]["macs"] == head_macs
    assert report(name + "-aux")["published"]["macs"]["status"] == "rounded"


def test_segmentation_relus_where_torchvision_has_them():
    # torchvision's Bottleneck applies its ReLU after bn1, bn2 and after the residual add (not
    # after bn3 or the projection): 3 per block x 16 blocks, + 1 after the stem, + 1 in the
    # FCNHead = 50 ReLUs (fused into a conv here, or a `relu` layer after the add)
    r = analyze("fcn-resnet50")
    nodes = {n.name: n for n in r.graph.nodes}
    fused = [row.name for row in r.rows if row.op == "conv" and nodes[row.name].attrs.get("act") == "relu"]
    alone = [row.name for row in r.rows if row.op == "relu"]
    assert (len(fused), len(alone)) == (1 + 2 * 16 + 1, 16)
    assert (
        nodes["layer3.0.main.conv3"].attrs["act"] == "none" and nodes["layer3.0.shortcut.proj"].attrs["act"] == "none"
    )


def test_aspp_pooling_follows_its_input():
    # torchvision's ASPPPooling upsamples to its input's size (x.shape[-2:]): at 520x480 the
    # backbone gives 65x60 (each stride-2 step (h - 1) // 2 + 1: 520 -> 260 -> 130 -> 65,
    # 480 -> 240 -> 120 -> 60), and so does the pooled branch before the concat
    rows = {row.name: row for row in analyze("deeplabv3-resnet50", (3, 520, 480)).rows}
    assert rows["aspp.pool.conv"].output == (256, 1, 1)
    assert rows["aspp.pool.up"].output == rows["aspp.d1.conv"].output == (256, 65, 60)
    assert rows["aspp.cat"].output == (5 * 256, 65, 60)


# ---------------------------------------------------------------------------------------------
# MobileNetV3
# ---------------------------------------------------------------------------------------------
def test_mobilenet_v3_blocks_by_hand():
    rows = {row.name: row for row in analyze("mobilenet-v3-large").rows}
    # bneck 4: 24 -> 40, expand 72, 5x5/2 depthwise 56 -> 28, SE to make_divisible(72 / 4, 8) = 24
    assert rows["b4.main.expand"].macs == 72 * 56 * 56 * 24
    assert rows["b4.main.dwconv"].macs == 72 * 28 * 28 * 25
    assert rows["b4.main.se.fc1"].params == 72 * 24 + 24 and rows["b4.main.se.fc2"].params == 24 * 72 + 72
    assert rows["b4.main.se.fc2"].op == "conv"
    # bneck 1 keeps 16 channels at stride 1 and has no expansion conv: a residual, no `expand`
    assert "b1.add" in rows and "b1.main.expand" not in rows
    assert "b2.add" not in rows  # stride 2
    # a residual wherever stride 1 keeps the width: 10 (the reference's fvcore run met
    # aten::add_ 10 times: fvcore_unsupported_ops)
    adds = [name for name, row in rows.items() if row.op == "add"]
    assert len(adds) == TV["mobilenet_v3_large"]["fvcore_unsupported_ops"]["aten::add_"] == 10


# ---------------------------------------------------------------------------------------------
# ShuffleNet V2: a real split and a real shuffle
# ---------------------------------------------------------------------------------------------
def test_shufflenet_split_and_shuffle():
    r = analyze("shufflenet-v2-x1-0")
    rows = {row.name: row for row in r.rows}
    nodes = {n.name: n for n in r.graph.nodes}
    # a stride-1 unit of stage 2 (116 channels): each branch takes one half of the channels
    split0, split1 = nodes["stage2.1.branch1.split"], nodes["stage2.1.branch2.split"]
    assert (split0.op, split0.attrs["take"], split1.attrs["take"]) == ("split", 0, 1)
    assert rows["stage2.1.branch1.split"].output == (58, 28, 28)
    assert rows["stage2.1.branch2.conv1"].macs == 58 * 28 * 28 * 58
    # every unit ends in a shuffle of 2 groups: 16 units, no MACs, no params
    shuffles = [row for row in r.rows if row.op == "shuffle"]
    assert len(shuffles) == 4 + 8 + 4 and all(s.macs == 0 and s.params == 0 for s in shuffles)
    assert rows["stage4.3.shuffle"].output == (464, 7, 7)


# The family's other members, the same specs with torchvision's settings: their params equal
# the torchvision docs' `num_params` for the weights named in each variant's `published.source`
# (MobileNet_V3_Small_Weights.IMAGENET1K_V1, ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1, ...,
# Swin_B_Weights.IMAGENET1K_V1), and the docs' GFLOPS (`_ops`, multiply-adds) round our MACs.
# Not in the frozen reference: these are the docs' figures, written here as printed there.
DOC_PARAMS = {
    "mobilenet-v3-small": 2_542_856,
    "shufflenet-v2-x0-5": 1_366_792,
    "shufflenet-v2-x1-5": 3_503_624,
    "shufflenet-v2-x2-0": 7_393_996,
    "convnext-small": 50_223_688,
    "convnext-base": 88_591_464,
    "convnext-large": 197_767_336,
    "vit-b-32": 88_224_232,
    "vit-l-16": 304_326_632,
    "vit-l-32": 306_535_400,
    "swin-s": 49_606_258,
    "swin-b": 87_768_224,
}


@pytest.mark.parametrize("name", sorted(DOC_PARAMS))
def test_family_members_match_torchvision_docs(name):
    j = report(name)
    assert j["totals"]["params"] == DOC_PARAMS[name]
    pub = j["published"]
    assert pub["params"]["status"] == "exact" and pub["params"]["value"] == DOC_PARAMS[name]
    assert pub["macs"]["status"] == "rounded"  # the docs' 3 decimals of GFLOPS round ours
    assert "torchvision docs" in pub["source"]


# ---------------------------------------------------------------------------------------------
# flopcount verify (torch): our per-layer MACs against FlopCounterMode and fvcore
# ---------------------------------------------------------------------------------------------
# fvcore's pass runs a real forward on the CPU: the segmentation models are checked at 128x128
# (`--set size=128`: the input and both upsamplings follow; 65x65 features become 16x16), with
# their auxiliary head on, so that the suite stays short (at 520, `flopcount verify
# deeplabv3-resnet50-aux` passes too: about 26 s on 2 cores).
VERIFY = [
    "mobilenet-v3-large",
    "shufflenet-v2-x1-0",
    "convnext-tiny",
    "vit-b-16",
    "swin-t",
    "fcn-resnet50-aux --set size=128",
    "deeplabv3-resnet50-aux --set size=128",
]


@pytest.mark.parametrize("line", VERIFY)
def test_verify(line):
    pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test,torch]'")
    pytest.importorskip("fvcore", reason="fvcore is not installed: pip install -e '.[test,torch]'")
    r = run(f"flopcount verify {line}")
    assert r.code == 0, r.out + r.err
    assert "verify: OK" in r.out
