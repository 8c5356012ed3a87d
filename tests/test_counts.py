"""Every number the core issue names, exact, through `report --format json`.

Derivations are beside each number. Conv MACs = C_out*H_out*W_out * C_in*k*k (groups 1),
FC MACs = in*out; params = weights + biases.
"""

import pytest

from conftest import run


def report(name, *extra):
    r = run(f"flopcount report {name} --format json " + " ".join(extra))
    assert r.code == 0, r.err
    return r.json()


def rows_add_up(j):
    for key in ("params", "macs", "ops", "buffers"):
        assert sum(layer[key] for layer in j["layers"]) == j["totals"][key], key


# torchvision's vgg11/13/16/19 (torchvision.models.vgg, weights=None): params from
# sum(p.numel()), MACs = conv + linear MACs from forward hooks at 1x3x224x224 (torch 2.14.1,
# torchvision 0.29.1; equal to fvcore's conv + linear buckets and to FlopCounterMode / 2).
TORCHVISION_VGG = {
    "vgg-A": (132_863_336, 7_609_090_048),
    "vgg-B": (133_047_848, 11_308_466_176),
    "vgg-D": (138_357_544, 15_470_264_320),
    "vgg-E": (143_667_240, 19_632_062_464),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_VGG))
def test_vgg_equals_torchvision(name):
    j = report(name)
    assert (j["totals"]["params"], j["totals"]["macs"]) == TORCHVISION_VGG[name]
    rows_add_up(j)


# VGG paper Table 2: "Number of parameters (in millions)": A, A-LRN, B: 133; C: 134; D: 138; E: 144.
@pytest.mark.parametrize(
    "name,millions",
    [("vgg-A", 133), ("vgg-A-LRN", 133), ("vgg-B", 133), ("vgg-C", 134), ("vgg-D", 138), ("vgg-E", 144)],
)
def test_vgg_params_round_to_table2(name, millions):
    assert round(report(name)["totals"]["params"] / 1e6) == millions


def test_vgg_d_first_conv_by_hand():
    # conv1: 3 -> 64, 3x3, 224x224 out: MACs 64*224*224*3*3*3 = 86,704,128; params 64*27 + 64 = 1,792
    first = report("vgg-D")["layers"][0]
    assert (first["op"], first["output"], first["macs"], first["params"]) == (
        "conv",
        [64, 224, 224],
        64 * 224 * 224 * 27,
        64 * 27 + 64,
    )
    assert first["macs"] == 86_704_128 and first["params"] == 1_792


def test_vgg_c_has_1x1_convs():
    # C = B + one conv1-256 (56x56, 256->256) + two conv1-512 (28x28 and 14x14, 512->512)
    b, c = report("vgg-B")["totals"], report("vgg-C")["totals"]
    extra = 256 * 56 * 56 * 256 + 512 * 28 * 28 * 512 + 512 * 14 * 14 * 512
    # ... and one more conv3-256 / conv3-512 pair per stage than B: C is D with conv1 in place of the third conv3
    d = report("vgg-D")["totals"]
    conv3_256 = 256 * 56 * 56 * 256 * 9
    conv3_512 = 512 * 28 * 28 * 512 * 9 + 512 * 14 * 14 * 512 * 9
    assert c["macs"] == d["macs"] - conv3_256 - conv3_512 + extra
    assert c["macs"] > b["macs"]


def test_vgg_lrn_adds_no_macs_or_params():
    a, lrn = report("vgg-A"), report("vgg-A-LRN")
    assert a["totals"]["macs"] == lrn["totals"]["macs"] and a["totals"]["params"] == lrn["totals"]["params"]
    assert [l["op"] for l in lrn["layers"]][1] == "lrn"


def test_inception_naive():
    # notes: 28x28x128x1x1x256 + 28x28x192x3x3x256 + 28x28x96x5x5x256 = 854,196,224 ("854M")
    j = report("inception-naive")
    assert j["totals"]["macs"] == 28 * 28 * 256 * (128 + 192 * 9 + 96 * 25) == 854_196_224
    assert j["published"]["macs"]["status"] == "rounded"
    rows_add_up(j)


def test_inception_reduced_six_terms_and_true_total():
    j = report("inception-reduced")
    convs = [l["macs"] for l in j["layers"] if l["op"] == "conv"]
    # the notes' six terms, in graph order: 1x1 128 | 1x1 64, 3x3 192 | 1x1 64, 5x5 96 | pool, 1x1 64
    assert convs == [
        28 * 28 * 128 * 256,
        28 * 28 * 64 * 256,
        28 * 28 * 192 * 9 * 64,
        28 * 28 * 64 * 256,
        28 * 28 * 96 * 25 * 64,
        28 * 28 * 64 * 256,
    ]
    assert sorted(convs) == sorted([12_845_056, 12_845_056, 25_690_112, 86_704_128, 120_422_400, 12_845_056])
    assert j["totals"]["macs"] == sum(convs) == 271_351_808
    # the notes print 358M: the total if the 3x3 conv read 128 channels instead of 64. Count
    # that 3x3 conv with flopcount itself (the module with a 3x3 reduce of 128) and swap it in:
    # 271,351,808 - 28*28*192*9*64 + 28*28*192*9*128 = 358,055,936
    wide = report(
        "inception-reduced",
        "--set",
        "'module={op: inception, name: inception, c1: 128, c3r: 128, c3: 192, c5r: 64, c5: 96, pp: 64}'",
    )
    conv3_64 = next(l["macs"] for l in j["layers"] if l["name"].endswith("b2.conv"))
    conv3_128 = next(l["macs"] for l in wide["layers"] if l["name"].endswith("b2.conv"))
    assert j["totals"]["macs"] - conv3_64 + conv3_128 == 358_055_936
    from flopcount.units import parse_figure

    assert parse_figure("358M").compare(358_055_936) == "rounded"  # what the notes printed
    pub = j["published"]["macs"]
    assert (pub["text"], pub["status"], pub["diff"]) == ("358M", "differs", 271_351_808 - 358_000_000)
    assert "128 channels" in j["published"]["note"]
    rows_add_up(j)


def test_inception_3b_matches_googlenet_table1():
    # GoogLeNet Table 1, inception (3b): 304M ops; 28x28 x (256*128 + 256*128 + 9*128*192
    # + 256*32 + 25*32*96 + 256*64) = 304,267,264
    j = report("inception-3b")
    assert (
        j["totals"]["macs"]
        == 28 * 28 * (256 * 128 + 256 * 128 + 9 * 128 * 192 + 256 * 32 + 25 * 32 * 96 + 256 * 64)
        == 304_267_264
    )
    assert j["published"]["macs"]["status"] == "rounded"


def test_bottleneck_pair():
    # notes: (14x14x48)x(5x5x480) = 112.9M; (14x14x16)x(1x1x480) + (14x14x48)x(5x5x16) = 5.3M
    naive = report("bottleneck-naive")["totals"]["macs"]
    reduced = report("bottleneck-reduced")
    assert naive == 14 * 14 * 48 * 5 * 5 * 480 == 112_896_000
    assert [l["macs"] for l in reduced["layers"]] == [14 * 14 * 16 * 480, 14 * 14 * 48 * 25 * 16]
    assert [1_505_280, 3_763_200] == [l["macs"] for l in reduced["layers"]]
    assert reduced["totals"]["macs"] == 5_268_480


def test_heads():
    # notes: FC 7x7x1024 -> 1024 has 7*7*1024*1024 = 51,380,224 weights (+1,024 biases); GAP has none
    fc = report("head-fc")
    layer = [l for l in fc["layers"] if l["op"] == "fc"][0]
    assert layer["params"] == 7 * 7 * 1024 * 1024 + 1024 == 51_380_224 + 1_024
    assert layer["macs"] == 51_380_224
    gap = report("head-gap")
    assert gap["totals"]["params"] == 0 and gap["totals"]["macs"] == 0
    assert gap["totals"]["ops"] == 7 * 7 * 1024  # one add per input element


def test_batch_scales_macs_not_params():
    one, eight = report("vgg-D"), report("vgg-D", "--batch 8")
    assert eight["totals"]["macs"] == 8 * one["totals"]["macs"]
    assert eight["totals"]["params"] == one["totals"]["params"]
    assert eight["batch"] == 8


def test_input_override():
    # VGG-D convs at 112x112: every conv MAC count / 4; FC1 reads 512*3*3 instead of 512*7*7
    j = report("vgg-D", "--input 112")
    assert j["input"] == [3, 112, 112]
    full = report("vgg-D")
    conv_full = sum(l["macs"] for l in full["layers"] if l["op"] == "conv")
    conv_small = sum(l["macs"] for l in j["layers"] if l["op"] == "conv")
    assert conv_small * 4 == conv_full
    fc1 = [l for l in j["layers"] if l["op"] == "fc"][0]
    assert fc1["macs"] == 512 * 3 * 3 * 4096


def test_unit_flops_is_twice_macs():
    j = report("vgg-D", "--unit flops")
    assert j["totals"]["flops"] == 2 * j["totals"]["macs"] == 2 * 15_470_264_320


def test_compare_json_ratios():
    r = run("flopcount compare inception-naive inception-reduced --format json")
    j = r.json()
    assert j["schema"] == "flopcount.compare/1"
    a, b = j["models"]
    assert (a["totals"]["macs"], b["totals"]["macs"]) == (854_196_224, 271_351_808)
    assert b["ratio"]["macs"] == pytest.approx(271_351_808 / 854_196_224)


def test_report_schema_keys():
    j = report("vgg-D")
    assert j["schema"] == "flopcount.report/1"
    assert {"model", "input", "batch", "totals", "layers"} <= set(j)
    assert j["model"] == "vgg-D" and j["input"] == [3, 224, 224] and j["batch"] == 1
    for layer in j["layers"]:
        assert {"name", "op", "output", "params", "macs"} <= set(layer)
        assert all(isinstance(layer[k], int) for k in ("params", "macs"))


def test_collapse_groups_block_instances():
    j = report("inception-3b", "--collapse")
    assert [b["name"] for b in j["blocks"]] == ["3b"]
    assert j["blocks"][0]["macs"] == j["totals"]["macs"]
