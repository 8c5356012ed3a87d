"""`flopcount report pkg.mod:fn` / `flopcount import`: torch modules traced on the meta device
and counted exactly. Every expected count here is torch's own: FlopCounterMode's total / 2
(conv, linear, matmul; SDPA under the MATH backend, MultiheadAttention's fast path off) and
``sum(p.numel())``, computed in the test on the same module; the ResNet-50 replica is also
checked against torchvision's frozen numbers (tests/reference/torchvision.json). The modules
live in tests/import_models.py: no torchvision needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from flopcount.catalog import load_graph  # noqa: E402
from flopcount.cli import main  # noqa: E402
from flopcount.importers import ALLOW_UNKNOWN, find_kind  # noqa: E402
from flopcount.report import report_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.fixture(autouse=True)
def _models_on_path(monkeypatch):
    monkeypatch.syspath_prepend(HERE)
    monkeypatch.setenv("PYTHONPATH", HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ALLOW_UNKNOWN[0] = False
    yield
    ALLOW_UNKNOWN[0] = False


def torch_counts(name: str, shape: tuple) -> tuple:
    """(FlopCounterMode total / 2, sum(p.numel())) of import_models.NAME() at batch 1."""
    import import_models
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    torch.backends.mha.set_fastpath_enabled(False)
    with torch.device("meta"):
        model = getattr(import_models, name)().eval()
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(torch.empty((1, *shape), device="meta"))
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


MODELS = [
    ("small_resnet", (3, 32, 32)),  # bottlenecks with and without a projection
    ("vit", (3, 32, 32)),  # class token, position embedding, nn.MultiheadAttention, select
    ("sdpa_block", (3, 16, 16)),  # q/k/v projections + F.scaled_dot_product_attention
    ("unet_step", (1, 60, 60)),  # unpadded convs, up-convolution, centre crop, concat skip
    ("norm_act", (3, 8, 8)),  # timm-style BatchNormAct2d: a norm with its activation inside
    ("timm_acts", (3, 8, 8)),  # timm's own activation classes (GELUTanh, Swish, HardSwish, HardSigmoid)
    ("prelu_instance", (3, 8, 8)),  # PReLU per channel and shared, InstanceNorm2d with and without affine
    ("mish", (3, 8, 8)),  # nn.Mish (CSPDarknet)
    ("dropouts", (3, 8, 8)),  # nn.Dropout2d and nn.AlphaDropout: identities
    ("more_acts", (3, 8, 8)),  # nn.ELU, nn.Softplus, nn.Hardtanh
    ("lrn_se", (3, 8, 8)),  # nn.LocalResponseNorm; a gate given new axes by indexing (s[:, :, None, None])
    ("clamps", (3, 8, 8)),  # clamp / clip with constant bounds: relu6, relu, hardtanh
    ("sub_pixel", (3, 8, 8)),  # nn.PixelShuffle, nn.PixelUnshuffle, F.pixel_shuffle, F.pixel_unshuffle
]


@pytest.mark.parametrize("name,shape", MODELS)
def test_imported_counts_equal_torch(name, shape):
    r = report_of(load_graph(f"import_models:{name}", shape))
    macs, params = torch_counts(name, shape)
    assert (r.totals["macs"], r.totals["params"]) == (macs, params)
    assert macs > 0


def test_clamps_map_to_the_activations_they_compute():
    g = load_graph("import_models:clamps", (3, 8, 8))
    assert [(n.name, n.op, n.attrs.get("act"), n.attrs.get("min"), n.attrs.get("max")) for n in g.nodes] == [
        ("conv", "conv", "relu6", None, None),  # (fused into the conv, as an nn.ReLU6 is)
        ("clamp", "relu", None, None, None),
        ("clip", "hardtanh", None, -2.0, 2.0),
        ("conv2", "conv", "none", None, None),
    ]
    res = run("report", "import_models:clamp_one_side", "--input", "3x8x8")
    assert res.exit_code == 1  # clamp(min=1e-3): no op clamps one side at another bound than 0
    assert "1 node not costed: clamp_2: clamp at " in res.output


def test_resnet50_replica_equals_torchvision_frozen_numbers():
    with open(os.path.join(HERE, "reference", "torchvision.json")) as f:
        ref = json.load(f)["models"]["resnet50"]
    r = report_of(load_graph("import_models:resnet50", (3, 224, 224)))
    assert (r.totals["macs"], r.totals["params"]) == (ref["macs"], ref["params"]) == (4089184256, 25557032)
    assert (r.totals["macs"], r.totals["params"]) == torch_counts("resnet50", (3, 224, 224))


def test_layer_names_are_module_names():
    g = load_graph("import_models:small_resnet", (3, 32, 32))
    names = [n.name for n in g.nodes]
    assert names[:2] == ["conv1", "maxpool"]  # conv1 + bn1 + relu fused into one conv row
    assert "layer1.0.main.conv1" in names and "layer1.0.downsample.0" in names and names[-1] == "fc"


def test_a_norm_with_its_activation_inside_keeps_the_activation():
    # timm's BatchNormAct2d is a leaf (a BatchNorm2d subclass); its `act` was dropped without a
    # word. Now the norm and then its activation, fused as torchvision's conv, bn, relu are.
    g = load_graph("import_models:norm_act", (3, 8, 8))
    assert [(n.name, n.op, n.attrs["bn"], n.attrs["act"]) for n in g.nodes] == [
        ("conv1", "conv", True, "silu"),
        ("conv2", "conv", True, "none"),  # nn.Identity inside: no activation
        ("conv3", "conv", True, "relu"),
    ]
    res = run("report", "import_models:norm_act_unknown", "--input", "3x8x8")
    assert res.exit_code == 1  # an activation with no flopcount op: named, never dropped
    assert "1 node not costed: bn3_act: SELU at " in res.output
    assert "the activation inside BatchNormAct2d (SELU) has no flopcount op" in res.output


def test_timm_activation_classes_are_the_activations_they_compute():
    # GELUTanh, Swish, HardSwish and HardSigmoid are timm's classes for torch's gelu(approximate=
    # "tanh"), silu, hardswish and hardsigmoid; inside a BatchNormAct2d (timm's maxvit_tiny_tf_224
    # stem has GELUTanh there) each was a node not costed before (exit 1)
    res = run("report", "import_models:timm_acts", "--input", "3x8x8", "--format", "json")
    assert res.exit_code == 0, res.output
    g = load_graph("import_models:timm_acts", (3, 8, 8))
    assert [(n.name, n.op, n.attrs.get("act")) for n in g.nodes] == [
        ("conv1", "conv", "gelu"),
        ("conv2", "conv", "silu"),
        ("conv3", "conv", "hardswish"),
        ("conv4", "conv", "hardsigmoid"),
    ]


def test_batch_and_set_reach_the_builder():
    g = load_graph("import_models:small_resnet", (3, 32, 32), batch=4, sets={"num_classes": 7})
    r = report_of(g)
    assert g.nodes[-1].shape == (7,)
    one = report_of(load_graph("import_models:small_resnet", (3, 32, 32), sets={"num_classes": 7}))
    assert r.totals["macs"] == 4 * one.totals["macs"]


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_custom_op_is_named_and_exits_1():
    res = run("report", "import_models:custom_op", "--input", "3x8x8")
    assert res.exit_code == 1, res.output
    assert "1 node not costed: my_custom_op: my_custom_op at " in res.output
    assert "import_models.py:" in res.output  # its source line
    assert "--allow-unknown" in res.output


def test_allow_unknown_counts_the_rest(tmp_path):
    res = run("report", "import_models:custom_op", "--input", "3x8x8", "--allow-unknown", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    # conv 3->8 3x3 on 8x8: 8*64*27 = 13,824 MACs; fc 8 -> 4: 32; params 8*27+8 + 8*4+4 = 260
    assert (data["totals"]["macs"], data["totals"]["params"]) == (13824 + 32, 260)
    ops = [row["op"] for row in data["layers"]]
    assert "opaque" in ops


def test_import_writes_opaque_layer_and_exits_1(tmp_path):
    out = tmp_path / "m.yaml"
    res = run("import", "import_models:custom_op", "--input", "3x8x8", "-o", str(out))
    assert res.exit_code == 1
    text = out.read_text()
    assert "op: opaque" in text and "shape: 8x8x8" in text and "1 node not costed" in text


def test_control_flow_submodule_becomes_a_named_opaque_leaf():
    res = run("report", "import_models:control_flow", "--input", "3x8x8")
    assert res.exit_code == 1
    assert "gate: Gate" in res.output and "cannot be traced" in res.output


@pytest.mark.parametrize(
    "target,code,words",
    [
        ("no_such_module_xyz:build", 2, "no module named `no_such_module_xyz`"),
        ("import_models:nope", 2, "has no attribute `nope`"),
        ("import_models:not_callable", 2, "is not callable"),
        ("import_models:raises", 3, "building the model raised ValueError: this builder refuses to build"),
    ],
)
def test_bad_targets(target, code, words):
    res = run("report", target, "--input", "3x8x8")
    assert res.exit_code == code, res.output
    assert words in res.output and "Traceback" not in res.output


def test_a_module_named_input_does_not_stand_for_the_model_input(tmp_path):
    # InputNamedNet: out(relu(input(x)) + x). conv `input` 3->3 3x3 p1 on 8x8: 3*64*3*9 = 5,184
    # MACs, 3*27 + 3 = 84 params; conv `out` 3->8 1x1: 8*64*3 = 1,536 MACs, 24 + 8 = 32 params.
    # Before the fix the shortcut read the conv named `input` (the same shape: equal totals), so
    # the test checks the wiring: the add's second input is the model input (-1).
    g = load_graph("import_models:input_named", (3, 8, 8))
    r = report_of(g)
    assert (r.totals["macs"], r.totals["params"]) == (5_184 + 1_536, 84 + 32) == torch_counts("input_named", (3, 8, 8))
    names = [n.name for n in g.nodes]
    assert (
        names[0] == "main.input_"
    )  # (in the add's branch) the module's name, with a `_` that keeps it apart from `input`
    add = next(n for n in g.nodes if n.op == "add")
    assert sorted(add.inputs) == [-1, 0]
    out = tmp_path / "net.yaml"
    res = run("import", "import_models:input_named", "--input", "3x8x8", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "name: input," not in out.read_text() and "name: input_" in out.read_text()
    assert [n.inputs for n in load_graph(str(out)).nodes] == [n.inputs for n in g.nodes]


@pytest.mark.parametrize(
    "key,name",
    [
        ("$size", "blocks._size"),  # read back as `$size`, it was named 224 (the input size)
        ("${1+1}", "blocks._{1+1}"),  # it was `blocks.2`
        ("$nope", "blocks._nope"),  # the written spec did not expand: exit 3
        (" a ", "blocks.a"),  # a name with spaces at its ends is refused by the spec
        ("input", "blocks.input_"),
        ("a b", "blocks.a b"),  # (kept: a spec name may hold a space)
    ],
)
def test_a_module_name_is_written_as_the_spec_reads_it_back(key, name):
    # KeyedNet: conv 3->8 3x3 p1 on 8x8: 8*64*27 = 13,824 MACs, 8*27 + 8 = 224 params; head
    # 8->4 1x1: 4*64*8 = 2,048 MACs, 32 + 4 = 36 params
    res = run(
        "report", "import_models:keyed", "--set", f"key={json.dumps(key)}", "--input", "3x8x8", "--format", "json"
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [row["name"] for row in data["layers"]] == [name, "head"]
    assert (data["totals"]["macs"], data["totals"]["params"]) == (13_824 + 2_048, 224 + 36)


def test_a_module_path_with_a_python_keyword_is_exit_3():
    res = run("report", "import_models:keyword_key", "--input", "3x8x8")
    assert res.exit_code == 3, res.output
    assert "torch.fx cannot compile the forward it traced" in res.output and "`blocks.in`" in res.output
    assert "Traceback" not in res.output and "internal error" not in res.output
    res = run("report", "import_models:keyed", "--set", 'key="\\"q"', "--input", "3x8x8")  # the key `"q`
    assert res.exit_code == 3 and '(module `blocks."q`)' in res.output, res.output


def test_prelu_and_instance_norm_are_their_ops():
    # conv1 3->4 3x3 p1 on 8x8: 4*64*27 = 6,912 MACs, 108 + 4 params; PReLU(4): 4 slopes; the
    # affine InstanceNorm2d(4): 2*4 = 8; conv2 4->6 1x1: 6*64*4 = 1,536 MACs, 24 + 6; PReLU(): 1;
    # InstanceNorm2d(6) without affine: none. 8,448 MACs, 155 params (both torch's: MODELS above)
    g = load_graph("import_models:prelu_instance", (3, 8, 8))
    assert [(n.op, n.cost.params) for n in g.nodes] == [
        ("conv", 112),
        ("prelu", 4),
        ("groupnorm", 8),
        ("conv", 30),
        ("prelu", 1),
        ("groupnorm", 0),
    ]
    assert g.nodes[2].attrs["groups"] == 4 and g.nodes[5].attrs["groups"] == 6  # (a group per channel)
    r = report_of(g)
    assert (r.totals["macs"], r.totals["params"]) == (6_912 + 1_536, 155)


def test_same_padding_with_an_even_kernel_is_named_not_costed():
    # torch pads a 4x4 kernel's total of 3 as 1 before, 2 after (output 13x11 as the input); a
    # spec conv pads both sides alike, so any p gives 12x10 or 14x12: before the fix it was
    # p = 1, 8*12*10*48 = 46,080 MACs for torch's 8*13*11*48 = 54,912, without a word
    res = run("report", "import_models:same_even", "--input", "3x13x11")
    assert res.exit_code == 1, res.output
    assert "padding='same' with an even kernel pads one side more" in res.output
    # the 3x3 one is mapped (p 1): 4*13*11*72 = 41,184 MACs; the 4x4 one is opaque
    res = run("report", "import_models:same_even", "--input", "3x13x11", "--allow-unknown", "--format", "json")
    assert json.loads(res.stdout)["totals"]["macs"] == 41_184


def test_untraceable_input_size_is_exit_3():
    res = run("report", "import_models:vit", "--input", "3x40x40")  # position embedding is for 32x32
    assert res.exit_code == 3 and "does not run at input 3x40x40" in res.output


def test_torch_missing_is_exit_4(tmp_path):
    code = "import sys; sys.modules['torch'] = None; from flopcount.cli import main; main(['report', 'import_models:vit', '--input', '3x32x32'])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 4, p.stderr
    assert "needs torch" in p.stderr


def test_spec_paths_with_variants_are_not_callables():
    assert find_kind("my.yaml:D") is None and find_kind("resnet-50") is None
    assert find_kind("torchvision:resnet50").name == "torchvision"
    assert find_kind("pkg.mod:fn").name == "callable"


def test_plain_spec_report_never_imports_torch():
    code = (
        "import sys; from flopcount.catalog import load_graph; from flopcount.report import report_of; "
        "report_of(load_graph('resnet-50')); print('torch' in sys.modules)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip() == "False", p.stderr


def test_other_commands_accept_imported_targets(tmp_path):
    t = "import_models:small_resnet"
    res = run("compare", t, "resnet-18", "--input", "3x32x32", "--format", "json")
    assert res.exit_code == 0, res.output
    res = run("sweep", t, "--set", "input=32,64", "--format", "json")
    assert res.exit_code == 0, res.output
    res = run("report", t, "--input", "3x32x32", "--device-profile", "a100", "--format", "json")
    assert res.exit_code == 0, res.output
    res = run("verify", t, "--input", "3x32x32")
    assert res.exit_code == 0, res.output


def test_snapshot_and_check_through_the_written_spec(tmp_path):
    # a baseline records a spec file (check re-reads it without torch): import first
    spec, lock = tmp_path / "net.yaml", tmp_path / "lock.json"
    assert run("import", "import_models:small_resnet", "--input", "3x32x32", "-o", str(spec)).exit_code == 0
    res = run("snapshot", str(spec), "-o", str(lock))
    assert res.exit_code == 0, res.output
    assert run("check", str(lock)).exit_code == 0
    entry = json.loads(lock.read_text())["models"][0]
    assert (entry["totals"]["macs"], entry["totals"]["params"]) == torch_counts("small_resnet", (3, 32, 32))
