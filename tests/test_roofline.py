"""Roofline: bytes moved, intensity, bound and latency floor, checked by hand; device profiles.

Most checks use a made-up device with round numbers (TEST_DEVICE below) so every expected
value can be derived on paper: fp32 peak 10 TFLOP/s, fp16/bf16 peak 40 TFLOP/s, bandwidth
1000 GB/s = 1e12 bytes/s, so the ridge point is 10 FLOP/B at fp32 and 40 FLOP/B at fp16.
"""

import pytest

from flopcount.api import analyze
from flopcount.profiles import DTYPE_BYTES, builtin_profiles, load_profile
from flopcount.roofline import annotate

from conftest import run_without

TEST_DEVICE = """\
flopcount-device: 1
name: paper-gpu
description: round numbers for hand checks
peak_tflops: {fp32: 10, fp16: 40, bf16: 40}
bandwidth_gbs: 1000
sources: {peak_tflops: made up, bandwidth_gbs: made up}
"""
KEYS = ("bytes", "intensity", "bound", "floor_ms")


@pytest.fixture
def device(tmp_path):
    path = tmp_path / "paper-gpu.yaml"
    path.write_text(TEST_DEVICE)
    return str(path)


def rows_of(cli, spec, device, *extra):
    r = cli(f"flopcount report {spec} --device-profile {device} --format json " + " ".join(extra))
    assert r.code == 0, r.err
    return r.json()


def test_dense_conv_by_hand(cli, write_spec, device):
    # ResNet-style 3x3 conv, 64 -> 64 channels at 56x56, no bias, fp32, batch 1.
    # params = 64 * 64 * 3 * 3 = 36,864; MACs = 64 * 56 * 56 * 64 * 9 = 115,605,504
    # bytes = 4 * (36,864 weights + 64*56*56 = 200,704 in + 200,704 out) = 4 * 438,272 = 1,753,088
    # FLOPs = 2 * MACs = 231,211,008; intensity = 231,211,008 / 1,753,088 = 131.888...
    # compute time = 231,211,008 / 10e12 s = 23.1211008 us > memory time 1,753,088 / 1e12 s = 1.75 us
    # -> compute bound, floor = 0.0231211008 ms
    spec = write_spec("flopcount: 1\ninput: [64, 56, 56]\nlayers: [{op: conv, c: 64, k: 3, bias: false}]\n")
    j = rows_of(cli, spec, device)
    conv = j["layers"][0]
    assert conv["macs"] == 115_605_504 and conv["params"] == 36_864
    assert conv["bytes"] == 1_753_088
    assert conv["intensity"] == pytest.approx(231_211_008 / 1_753_088)
    assert conv["intensity"] == pytest.approx(131.888, abs=1e-3)
    assert conv["bound"] == "compute"
    assert conv["floor_ms"] == pytest.approx(0.0231211008)


def test_depthwise_conv_by_hand(cli, write_spec, device):
    # depthwise 3x3 on 32 channels at 56x56, no bias, fp16 (2 bytes), batch 1.
    # params = 32 * 1 * 3 * 3 = 288; MACs = 32 * 56 * 56 * 1 * 9 = 903,168
    # bytes = 2 * (288 + 100,352 in + 100,352 out) = 2 * 200,992 = 401,984
    # FLOPs = 1,806,336; intensity = 1,806,336 / 401,984 = 4.4935..., below the fp16 ridge of 40
    # -> memory bound, floor = 401,984 / 1e12 s = 0.000401984 ms (compute would take 1,806,336 / 40e12 s = 0.045 us)
    spec = write_spec("flopcount: 1\ninput: [32, 56, 56]\nlayers: [{op: conv, c: 32, k: 3, groups: in, bias: false}]\n")
    conv = rows_of(cli, spec, device, "--dtype fp16")["layers"][0]
    assert conv["macs"] == 903_168 and conv["params"] == 288
    assert conv["bytes"] == 401_984
    assert conv["intensity"] == pytest.approx(4.49355, abs=1e-5)
    assert conv["bound"] == "memory"
    assert conv["floor_ms"] == pytest.approx(0.000401984)


def test_fc_by_hand_batch_moves_it_across_the_ridge(cli, write_spec, device):
    # fc 2048 -> 1000 with bias: params = 2048 * 1000 + 1000 = 2,049,000; MACs = 2,048,000 per sample.
    # batch 1, fp32: bytes = 4 * (2,049,000 + 2,048 + 1,000) = 4 * 2,052,048 = 8,208,192;
    #   FLOPs 4,096,000; intensity 0.49901 < 10 -> memory, floor = 8,208,192 / 1e12 s = 0.008208192 ms
    spec = write_spec("flopcount: 1\ninput: [2048]\nlayers: [fc-1000]\n")
    fc = rows_of(cli, spec, device)["layers"][0]
    assert fc["bytes"] == 8_208_192
    assert fc["intensity"] == pytest.approx(4_096_000 / 8_208_192)
    assert fc["bound"] == "memory"
    assert fc["floor_ms"] == pytest.approx(0.008208192)
    # batch 256, bf16: weights still read once; bytes = 2 * (2,049,000 + 256 * (2,048 + 1,000))
    #   = 2 * 2,829,288 = 5,658,576; FLOPs = 2 * 256 * 2,048,000 = 1,048,576,000;
    #   intensity 185.30 > 40 -> compute, floor = 1,048,576,000 / 40e12 s = 0.0262144 ms
    fc = rows_of(cli, spec, device, "--batch 256 --dtype bf16")["layers"][0]
    assert fc["bytes"] == 5_658_576
    assert fc["intensity"] == pytest.approx(1_048_576_000 / 5_658_576)
    assert fc["bound"] == "compute"
    assert fc["floor_ms"] == pytest.approx(0.0262144)


def test_layers_without_macs_and_views(cli, write_spec, device):
    # relu on 64x56x56 at fp32: 0 MACs -> 0 FLOPs (element ops are not FLOPs here), intensity 0,
    # memory bound; bytes = 4 * (200,704 in + 200,704 out) = 1,605,632; floor = 0.001605632 ms.
    # flatten is a view: 0 bytes, floor 0. conv1x1 with bn: params 64*64 + 2*64 (gamma, beta) =
    # 4,224, buffers 2*64 running stats = 128, all read: bytes = 4 * (4,224 + 128 + 2 * 200,704) = 1,623,040.
    spec = write_spec(
        "flopcount: 1\ninput: [64, 56, 56]\nlayers: [relu, {op: conv, c: 64, k: 1, bias: false, bn: true}, flatten]\n"
    )
    j = rows_of(cli, spec, device)
    relu, conv, flat = j["layers"]
    assert (relu["macs"], relu["bytes"], relu["intensity"], relu["bound"]) == (0, 1_605_632, 0.0, "memory")
    assert relu["floor_ms"] == pytest.approx(0.001605632)
    assert (conv["params"], conv["buffers"], conv["bytes"]) == (4_224, 128, 1_623_040)
    assert (flat["bytes"], flat["floor_ms"]) == (0, 0.0)
    # totals: bytes and floors add up; intensity and bound from the model's totals
    # conv FLOPs = 2 * 64*56*56*64 = 25,690,112: compute 25,690,112 / 10e12 s = 2.569 us > memory
    # 1,623,040 / 1e12 s = 1.623 us -> the conv is compute bound, floor 0.0025690112 ms;
    # model: 25,690,112 FLOPs / 3,228,672 bytes = 7.957 FLOP/B < ridge 10 -> memory bound overall
    t = j["totals"]
    assert conv["bound"] == "compute" and conv["floor_ms"] == pytest.approx(0.0025690112)
    assert t["bytes"] == 1_605_632 + 1_623_040 == 3_228_672
    assert t["floor_ms"] == pytest.approx(0.001605632 + 0.0025690112)
    assert t["intensity"] == pytest.approx(25_690_112 / 3_228_672)
    assert t["bound"] == "memory"


@pytest.mark.parametrize("model", ["vgg-D", "inception-reduced", "googlenet", "resnet-50"])
def test_json_keys_on_every_layer_and_totals(cli, model):
    from flopcount.spec.resolve import builtin_names

    # every one of these is shipped: a missing one is a failure, not a skip
    assert model in builtin_names(), f"{model} is not a built-in config"
    j = cli(f"flopcount report {model} --device-profile h100 --format json").json()
    for row in j["layers"] + [j["totals"]]:
        assert all(k in row for k in KEYS), row
        assert isinstance(row["bytes"], int) and row["bound"] in ("compute", "memory")
    assert j["totals"]["bytes"] == sum(r["bytes"] for r in j["layers"])
    assert j["totals"]["floor_ms"] == pytest.approx(sum(r["floor_ms"] for r in j["layers"]))
    assert j["roofline"]["device"]["name"] == "h100" and j["roofline"]["dtype"] == "fp32"
    assert j["roofline"]["ridge"] == pytest.approx(67e12 / 3.35e12)  # datasheet: 67 TFLOP/s, 3.35 TB/s


def test_vgg_conv1_on_h100(cli):
    # VGG-16 conv1: 3 -> 64, 3x3 at 224x224, bias: params 1,792, MACs 86,704,128.
    # fp32 bytes = 4 * (1,792 + 3*224*224 + 64*224*224) = 4 * (1,792 + 150,528 + 3,211,264) = 13,454,336
    # H100 SXM fp32: 67 TFLOP/s, 3.35 TB/s (ridge 20); intensity 173,408,256 / 13,454,336 = 12.89 < 20
    # -> memory bound, floor = 13,454,336 / 3.35e12 s = 0.0040162 ms
    conv1 = cli("flopcount report vgg-D --device-profile h100 --format json").json()["layers"][0]
    assert conv1["bytes"] == 13_454_336 and conv1["bound"] == "memory"
    assert conv1["floor_ms"] == pytest.approx(13_454_336 / 3.35e12 * 1e3)


def test_efficiency_from_measured_latency(device, write_spec):
    # efficiency = floor / measured: fill latency_ms ourselves (as --latency would) and check
    spec = write_spec("flopcount: 1\ninput: [2048]\nlayers: [fc-1000, relu]\n")
    from handmade import latency

    r = analyze(spec)
    fc = r.rows[0].name
    # fc measured at twice its floor of 0.008208192 ms (see above); relu not measured
    r.latency = latency(r, {fc: 0.016416384}, 0.05, device="cuda")  # measured on the GPU of the profile
    annotate(r, load_profile(device), "fp32")
    assert r.efficiency(r.rows[0]) == pytest.approx(0.5)
    assert r.efficiency(r.rows[1]) is None  # relu was not measured
    # total floor: fc 0.008208192 + relu 4 * (1,000 + 1,000) / 1e12 s = 0.000008 ms
    assert r.efficiency() == pytest.approx((0.008208192 + 0.000008) / 0.05)
    j = r.to_json()
    assert j["layers"][0]["efficiency"] == pytest.approx(0.5) and "efficiency" not in j["layers"][1]
    assert j["totals"]["efficiency"] == pytest.approx((0.008208192 + 0.000008) / 0.05)
    from flopcount.render import render
    from flopcount.render.views import report_tables

    text = render(report_tables(r), "markdown")
    assert "% of roof" in text and "50.0%" in text


def test_table_shows_roofline_columns_and_collapsed_blocks(cli):
    r = cli("flopcount report googlenet --device-profile a100 --dtype bf16 --collapse --format csv")
    assert r.code == 0, r.err
    header, *lines = r.out.split("\n\n")[0].splitlines()
    cols = header.split(",")
    assert all(k in cols for k in KEYS)
    row3a = next(line for line in lines if line.startswith("row,3a (8),")).split(",")  # 8 layers folded
    j = cli("flopcount report googlenet --device-profile a100 --dtype bf16 --format json").json()
    members = [x for x in j["layers"] if x.get("group") == "3a"]
    assert int(row3a[cols.index("bytes")]) == sum(x["bytes"] for x in members)  # a block's bytes: its layers' sum


def test_builtin_profiles_have_every_number_sourced():
    profiles = builtin_profiles()
    for name in ("h100", "h200", "a100-80gb", "l4", "t4", "rtx4090", "cpu"):
        p = profiles[name]
        assert p.bandwidth > 0 and p.peak_flops and set(p.peak_flops) <= set(DTYPE_BYTES)
        assert p.sources.get("peak_tflops") and p.sources.get("bandwidth_gbs"), name
    for name in ("h100", "h200", "a100-80gb", "l4", "rtx4090", "cpu"):
        assert set(profiles[name].peak_flops) == set(DTYPE_BYTES), name
    assert load_profile("H100-SXM").name == "h100"  # alias, any case


def test_unknown_profile_and_missing_dtype_are_usage_errors(cli):
    r = cli("flopcount report vgg-D --device-profile h10 --format json")
    assert r.code == 2 and "unknown device profile `h10`" in r.err and "h100" in r.err
    r = cli("flopcount report vgg-D --device-profile t4 --dtype bf16")
    assert r.code == 2 and "no bf16 peak" in r.err and "fp32, fp16" in r.err


def test_bad_profile_file_located_like_spec_errors(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("flopcount-device: 1\npeak_tflops: {fp32: -3, fp8: 10}\nbandwith_gbs: 100\n")
    r = cli(f"flopcount report vgg-D --device-profile {bad}")
    assert r.code == 3
    assert f"{bad}:2:21: error: peak_tflops fp32 must be a positive number" in r.err
    assert f"{bad}:2:25: error: unknown dtype `fp8`" in r.err
    assert f"{bad}:3:1: error: unknown key `bandwith_gbs`" in r.err and "bandwidth_gbs" in r.err
    assert "needs `bandwidth_gbs:`" in r.err
    r = cli(f"flopcount report vgg-D --device-profile {tmp_path / 'none.yaml'}")
    assert r.code == 2 and "no such file" in r.err


@pytest.mark.parametrize(
    "line", ["report vgg-D --device-profile h100 --format json", "report vgg-D --device-profile cpu --dtype bf16"]
)
def test_roofline_stays_on_the_analysis_path(tmp_path, line):
    p, tried = run_without(tmp_path, ("torch", "fvcore", "matplotlib"), f"flopcount {line}")
    assert p.returncode == 0, p.stderr
    assert tried == []


def test_collapsed_json_blocks_carry_roofline_fields(cli):
    # a block's bytes and floor are its layers' sums; intensity is recomputed from the sums
    j = cli("flopcount report inception-3b --collapse --device-profile h100 --format json").json()
    (block,) = j["blocks"]
    layers = [layer for layer in j["layers"] if layer.get("group") == "3b"]
    assert block["name"] == "3b" and len(layers) == 8
    assert block["bytes"] == sum(layer["bytes"] for layer in layers)
    assert block["floor_ms"] == pytest.approx(sum(layer["floor_ms"] for layer in layers))
    assert block["intensity"] == pytest.approx(2 * block["macs"] / block["bytes"])
    assert block["bound"] in ("compute", "memory")


def test_compare_with_device_profile(cli):
    # each model's totals carry its roofline; the table adds the columns beside the MAC ratio
    j = cli("flopcount compare inception-naive inception-reduced --device-profile h100 --format json").json()
    for model in j["models"]:
        assert model["totals"]["bytes"] == sum(layer["bytes"] for layer in model["layers"])
        assert model["roofline"]["device"]["name"] == "h100"
    out = cli("flopcount compare inception-naive inception-reduced --device-profile h100 --width 220").out
    assert "floor ms" in out and "roofline on" in out
