"""`flopcount verify`: our per-layer MACs against fvcore and torch's FlopCounterMode, and the
environment errors of the torch commands (exit 4 with the install hint)."""

import os
import subprocess
import sys

import pytest

from conftest import run

POISON = """
raise ImportError("{name} is not available")
"""


def _without(tmp_path, *names):
    """An environment where importing ``names`` fails, as if they were not installed."""
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(POISON.format(name=name))
    return dict(os.environ, PYTHONPATH=str(tmp_path))


@pytest.mark.parametrize(
    "line",
    [
        "verify head-gap",
        "report head-gap --latency --device cpu",
        "compare bottleneck-naive bottleneck-reduced --latency",
    ],
)
def test_without_torch_exit_4_with_install_hint(tmp_path, line):
    p = subprocess.run(
        [sys.executable, "-m", "flopcount", *line.split()],
        env=_without(tmp_path, "torch", "fvcore"),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 4, p.stderr
    assert "pip install torch fvcore" in p.stderr and "Traceback" not in p.stderr


def test_without_fvcore_verify_exit_4(tmp_path):
    pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test,torch]'")
    p = subprocess.run(
        [sys.executable, "-m", "flopcount", "verify", "head-gap"],
        env=_without(tmp_path, "fvcore"),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 4, p.stderr
    assert "fvcore" in p.stderr and "pip install torch fvcore" in p.stderr


def test_latency_options_need_latency():
    r = run("flopcount report vgg-D --device cuda")
    assert r.code == 2 and "--device only applies with --latency" in r.err


# ------------------------------------------------------------------ with torch and fvcore
needs_torch = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("torch", "fvcore")),
    reason="torch and fvcore are not installed: pip install -e '.[test,torch]' (.ci/run installs them)",
)

#: Above this many MACs per pass, a config is verified at a smaller input: the per-layer
#: comparison checks the same conv/fc formulas at any size, but fvcore needs a real CPU forward
#: pass (torch.jit.trace cannot trace meta tensors), and CI has 2 cores. vgg-E is verified at
#: full size below, and `flopcount verify NAME` (no --input) was run on every config at full size.
BUDGET = 1_000_000_000


def _cheap_input(name):
    from flopcount.api import analyze
    from flopcount.errors import FlopcountError

    report = analyze(name)
    if report.totals["macs"] <= BUDGET or len(report.input) != 3:
        return None
    c, h, w = report.input
    size = None  # full size unless a smaller input expands
    for div in (2, 4):
        try:
            small = analyze(name, (c, h // div, w // div))
        except FlopcountError:
            break  # too small for this network: keep the largest size that worked
        size = f"{c}x{h // div}x{w // div}"
        if small.totals["macs"] <= BUDGET:
            break
    return size


def _names():
    from flopcount.spec.resolve import builtin_names

    return builtin_names()  # every built-in config: ones added later are covered automatically


@needs_torch
@pytest.mark.parametrize("name", _names())
def test_every_builtin_verifies_clean(name):
    size = _cheap_input(name)
    r = run(f"flopcount verify {name} --format json" + (f" --input {size}" if size else ""))
    j = r.json()
    assert r.code == 0, j["mismatches"]
    assert j["ok"] and j["mismatches"] == [] and j["unattributed"] == {}
    assert {layer["name"] for layer in j["layers"]} == {
        layer["name"] for layer in run(f"flopcount report {name} --format json").json()["layers"]
    }
    # every layer's three counts are equal, and they add up to the report's MACs at that input
    assert all(lay["macs"] == lay["fvcore_macs"] == lay["flop_counter_macs"] for lay in j["layers"])
    report = run(f"flopcount report {name} --format json" + (f" --input {size}" if size else "")).json()
    assert j["totals"]["ours"] == report["totals"]["macs"]


@needs_torch
def test_vgg_e_full_size_table():
    r = run("flopcount verify vgg-E --width 160")
    assert r.code == 0, r.out
    # torchvision vgg19 at 224: 19,632,062,464 MACs (tests/test_counts.py), the three columns equal
    total = next(line for line in r.out.splitlines() if line.lstrip("│ ").startswith("total"))
    assert total.count("19,632,062,464") == 3
    # fvcore's unsupported max_pool2d is listed as counting 0, not hidden
    assert "aten::max_pool2d (x5)" in r.out and "counts 0" in r.out
    assert "verify: OK" in r.out


@needs_torch
def test_planted_builder_disagreement_fails_naming_the_layer(write_spec, monkeypatch):
    """A conv builder that silently uses 2 groups where the spec says 1: same output shape, half
    the MACs. verify must exit 1 and name the layer; the first conv (3 input channels, odd)
    keeps groups=1 so only the second one disagrees."""
    from torch import nn

    from flopcount.ops.conv import Conv

    real = Conv.build

    def planted(self, a, xs, y):
        if xs[0][0] % 2 == 0:
            return nn.Conv2d(xs[0][0], a["c"], a["k"], padding=a["p"], groups=2)
        return real(self, a, xs, y)

    monkeypatch.setattr(Conv, "build", planted)
    path = write_spec(
        "flopcount: 1\ninput: [3, 8, 8]\nlayers: [{op: conv, c: 4, k: 3, name: c1}, {op: conv, c: 4, k: 3, name: c2}]\n"
    )
    r = run(f"flopcount verify {path} --width 200")
    assert r.code == 1
    # c2: ours 4 * 8 * 8 * 4 * 9 = 9,216 MACs; the planted 2-group conv: 4 * 8 * 8 * 2 * 9 = 4,608
    assert "MISMATCH at layer c2 (conv): flopcount 9,216, fvcore 4,608, FlopCounterMode/2 4,608" in r.out
    assert "c1 (conv)" not in r.out
    j = run(f"flopcount verify {path} --format json").json()
    assert j["mismatches"] == ["c2"] and not j["ok"]


# -- issue 13: matmul and attention MACs ---------------------------------------------------------

VIT = """flopcount: 1
input: [3, 16, 16]
layers:
  - {op: conv, name: patch, c: 32, k: 4, s: 4, p: 0}
  - patchify
  - cls_token
  - pos_embed
  - op: add
    name: res1
    paths: [[], [{op: layernorm, name: ln1}, {op: attention, name: att, heads: 4}]]
  - op: add
    name: res2
    paths: [[], [{op: layernorm, name: ln2}, {op: linear, name: mlp1, c: 64, act: gelu}, {op: linear, name: mlp2, c: 32}]]
  - op: matmul
    name: scores
    transpose_b: true
    paths: [[{op: linear, name: q, c: 8}], [{op: linear, name: k, c: 8}]]
  - {op: layernorm, name: ln3}
  - select
  - fc-10
"""


@needs_torch
def test_vit_like_spec_verifies_with_attention_and_matmul_macs(write_spec):
    """The attention's Q K^T and A V, and a plain matmul, counted by FlopCounterMode (bmm) and
    fvcore (matmul) as flopcount counts them."""
    r = run(f"flopcount verify {write_spec(VIT)} --format json")
    j = r.json()
    assert r.code == 0 and j["ok"], j["mismatches"]
    names = {lay["name"]: lay for lay in j["layers"]}
    att = next(v for k, v in names.items() if k.endswith("att"))
    scores = names["scores"]
    # 16 patches + 1 class token = 17 tokens of 32: qkv 17*32*96 + proj 17*32*32 = 69,632 (addmm) and
    # Q K^T + A V 2 * 17*17*32 = 18,496 (bmm, all 4 heads together)
    assert att["macs"] == att["fvcore_macs"] == att["flop_counter_macs"] == 69632 + 18496
    # the plain matmul [17, 8] @ [17, 8]^T: 17*17*8 = 2,312
    assert scores["macs"] == scores["fvcore_macs"] == scores["flop_counter_macs"] == 2312
    assert j["flop_counter_by_op"]["aten.bmm"] == 18496 + 2312 == j["fvcore_mac_buckets"]["matmul"]
    # addmm: att 69,632 + mlp 17*32*64 * 2 = 69,632 + q, k 17*32*8 * 2 = 8,704 + fc 17*10 = 170
    # (the scores [17, 17] go on: ln3 over 17, select a row of 17, fc 17 -> 10)
    assert j["flop_counter_by_op"]["aten.addmm"] == 69632 + 69632 + 8704 + 170
    # the conv: 32 * 4*4 outputs * 3*4*4 = 24,576
    assert j["flop_counter_by_op"]["aten.convolution"] == 24576
    assert any("bmm 20,808" in note for note in j["notes"])


@needs_torch
def test_planted_wrong_attention_cost_fails_naming_the_layer(write_spec, monkeypatch):
    """An attention cost that forgets A V (a classic slip): verify exits 1 at that layer."""
    from flopcount.ops.attention import Attention

    real = Attention.cost

    def planted(self, a, xs, y):
        c = real(self, a, xs, y)
        n = xs[0][0]
        return c._replace(macs=c.macs - n * n * a["dim"])

    monkeypatch.setattr(Attention, "cost", planted)
    # no tables to empty by hand: patching an op's cost empties flopcount.ops.base.RESULTS (the
    # walk's and the replay's one memo) by itself, and monkeypatch's undo empties it again
    r = run(f"flopcount verify {write_spec(VIT)} --format json")
    j = r.json()
    assert r.code == 1 and not j["ok"]
    # only the attention disagrees: ours 88,128 - 9,248 = 78,880 against 88,128 in both counters
    assert [m.split(".")[-1] for m in j["mismatches"]] == ["att"]
    att = next(v for v in j["layers"] if v["name"].endswith("att"))
    assert (att["macs"], att["fvcore_macs"], att["flop_counter_macs"]) == (78880, 88128, 88128)


@needs_torch
def test_an_sdpa_builder_is_counted_by_flop_counter_mode_and_named_when_fvcore_skips_it(write_spec, monkeypatch):
    """A builder that calls F.scaled_dot_product_attention: FlopCounterMode counts it (verify runs
    it on the MATH backend), fvcore does not support it: the layer is a mismatch and the note
    says why."""
    import torch.nn.functional as F

    from flopcount import torch_build

    monkeypatch.setattr(torch_build, "_attend", lambda q, k, v, bias=None: F.scaled_dot_product_attention(q, k, v))
    r = run(f"flopcount verify {write_spec(VIT)} --format json")
    j = r.json()
    assert r.code == 1
    att = next(v for v in j["layers"] if v["name"].endswith("att"))
    # FlopCounterMode still sees Q K^T and A V (18,496); fvcore only the projections (69,632)
    assert (att["macs"], att["flop_counter_macs"], att["fvcore_macs"]) == (88128, 88128, 69632)
    assert "aten::scaled_dot_product_attention" in j["fvcore_unsupported"]
    assert any("scaled_dot_product_attention (x1), which holds attention's matrix products" in n for n in j["notes"])


@needs_torch
@pytest.mark.parametrize("name, ref_name", [("swin-t", "swin_t"), ("vit-b-16", "vit_b_16")])
def test_attention_models_verify_per_aten_op_as_torchvision_counts(name, ref_name):
    """At full size (swin-t 4.49 G MACs, about 15 s; vit-b-16 17.6 G, about 20 s): verify's
    FlopCounterMode MACs per aten op equal the frozen torchvision figures
    (tests/reference/torchvision-modern.json, `macs_by_op`, MATH SDPA, MHA fast path off):
    convolution (the stem), addmm (q/k/v, projections, MLPs, head), mm (Swin's bias-free
    patch-merging reductions) and bmm (Q K^T and A V). fvcore agrees here because flopcount's
    attention builds with plain matmuls (its `matmul` bucket = bmm); on torchvision's own ViT it
    is short by the bmm, as the reference records."""
    if name not in _names():
        pytest.skip(f"the {name} config is not there yet")
    import json

    with open(os.path.join(os.path.dirname(__file__), "reference", "torchvision-modern.json"), encoding="utf-8") as f:
        ref = json.load(f)["models"][ref_name]
    r = run(f"flopcount verify {name} --format json")
    j = r.json()
    assert r.code == 0 and j["ok"], j["mismatches"]
    assert j["flop_counter_by_op"] == ref["macs_by_op"]
    assert j["totals"] == {"ours": ref["macs"], "fvcore": ref["macs"], "torch_fc": ref["macs"]}
    assert j["fvcore_mac_buckets"]["matmul"] == ref["macs_by_op"]["aten.bmm"]


DEFERRED = r"""
import sys
import torch
from torch import nn
from flopcount import crosscheck

assert "torch._dynamo" not in sys.modules, "imported before the pass"


class Net(nn.Module):  # conv (convolution), batch norm (decomposed by FlopCounterMode), linear, bmm
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        t = self.fc(self.bn(self.conv(x)).flatten(2).transpose(1, 2))
        return t @ t.transpose(1, 2)


with torch.device("meta"):
    net = Net().eval()
x = torch.empty(2, 3, 6, 6, device="meta")
layers = {"conv", "bn", "fc"}
first = crosscheck.flop_counter_counts(net, x, layers)
assert "torch._dynamo" not in sys.modules, "the counting pass imported torch._dynamo"
dispatch = torch.utils.flop_counter._FlopCounterMode.__dict__["__torch_dispatch__"].__wrapped__
assert "__dynamo_disable" not in dispatch.__dict__, "the stand-in's result left cached"

try:  # a submodule of the stand-in: an ImportError naming it (flop_counter_counts then reruns)
    with crosscheck._dynamo_deferred():
        import torch._dynamo.config
except ImportError as exc:
    assert exc.name == "torch._dynamo.config", exc
assert "torch._dynamo" not in sys.modules, "the stand-in left in sys.modules"

# a torch whose pass asks the stand-in for more than disable: the pass reruns with the real module
real_pass, calls = crosscheck._flop_counter_pass, []


def asking(model, x):
    calls.append(1)
    if len(calls) == 1:
        torch._dynamo.config
    return real_pass(model, x)


crosscheck._flop_counter_pass = asking
fallback = crosscheck.flop_counter_counts(net, x, layers)
assert len(calls) == 2 and "torch._dynamo.eval_frame" in sys.modules, "no rerun with the real torch._dynamo"
crosscheck._flop_counter_pass = real_pass
real = crosscheck.flop_counter_counts(net, x, layers)  # torch._dynamo imported: nothing deferred
assert first == fallback == real, (first, fallback, real)
print(first)
"""


@needs_torch
def test_flop_counter_pass_defers_torch_dynamo_and_counts_as_with_it():
    """The FlopCounterMode pass runs with a stand-in torch._dynamo (its import is a quarter of
    `verify resnet-50`): in a fresh interpreter it imports no torch._dynamo, leaves nothing
    cached, reruns with the real module when the stand-in is not enough, and counts exactly what
    it counts with the real module imported. Per sample (batch 2): conv 8 * 4*4 outputs * 3*9 =
    3,456 MACs, fc 16 tokens * 8*8 = 1,024, the token matmul 16*16*8 = 2,048 (outside the three
    layers: unattributed), batch norm none."""
    p = subprocess.run([sys.executable, "-c", DEFERRED], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    per, stray, by_op = eval(p.stdout, {"Counter": __import__("collections").Counter})
    assert per == {"conv": 2 * 3456, "fc": 2 * 1024}
    assert stray == {"flop_counter": 2 * 2048}
    assert by_op == {"aten.bmm": 2 * 2048, "aten.convolution": 2 * 3456, "aten.mm": 2 * 1024}


@needs_torch
def test_verify_pauses_the_collector_only_while_counting(write_spec, monkeypatch):
    """The command pauses the cyclic collector for the passes and restores it after, also when
    a pass fails."""
    import gc

    from flopcount import crosscheck
    from flopcount.errors import EnvironmentProblem

    seen = []
    real = crosscheck.verify_graph

    def watched(graph, progress=None):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise EnvironmentProblem("planted: the second run fails in the passes")
        return real(graph, progress)

    monkeypatch.setattr(crosscheck, "verify_graph", watched)
    path = write_spec("flopcount: 1\ninput: [3, 8, 8]\nlayers: [conv3-4, gap, flatten, fc-2]\n")
    assert gc.isenabled()
    assert run(f"flopcount verify {path}").code == 0
    assert run(f"flopcount verify {path}").code == 4 and gc.isenabled()
    assert run(f"flopcount verify {path} --format json").code == 0
    assert seen == [False, False, False] and gc.isenabled()


LEAF_AND_SCOPE = """flopcount: 1
input: [3, 8, 8]
layers:
- {op: conv, name: a, c: 4, k: 3, p: 1}
- op: seq
  name: a
  layers:
  - {op: conv, name: b, c: 6, k: 3, p: 1}
- {op: conv, name: side, c: 5, k: 1, from: a}
- {op: conv, name: c, c: 2, k: 1, from: a.b}
"""


@needs_torch
def test_a_layer_that_is_also_a_scope_and_an_unread_layer_verify(write_spec):
    """`a` is a layer and the scope of `a.b` (imported specs name a LayerNorm and the reshapes
    around it so): torch cannot hold both at one name, so `a` is built as `a.(layer)`; `side`
    feeds nothing (fvcore's traced graph drops it, FlopCounterMode counts it).
    MACs (input 3x8x8, 'same' padding, 64 positions): a 3*9*4*64 = 6,912; a.b 4*9*6*64 = 13,824;
    side 4*1*5*64 = 1,280; c 6*1*2*64 = 768."""
    import json

    from flopcount.api import load_graph
    from flopcount.torch_build import build_graph

    path = write_spec(LEAF_AND_SCOPE)
    names = {n for n, _ in build_graph(load_graph(path), device="meta").named_modules()}
    assert {"a", "a.(layer)", "a.b", "side", "c"} <= names
    r = run(f"flopcount verify {path} --format json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    got = [(x["name"], x["macs"], x["fvcore_macs"], x["flop_counter_macs"], x["ok"]) for x in doc["layers"]]
    assert got == [
        ("a", 6912, 6912, 6912, True),
        ("a.b", 13824, 13824, 13824, True),
        ("side", 1280, 0, 1280, True),
        ("c", 768, 768, 768, True),
    ]
    assert any("no output depends on side" in n for n in doc["notes"])
    r = run(f"flopcount verify {path}")
    assert r.code == 0 and "ok (unread)" in r.out and "verify: OK" in r.out, r.out


@needs_torch
def test_verify_writes_its_table_to_a_file(write_spec, tmp_path):
    path = write_spec(LEAF_AND_SCOPE)
    piped = run(f"flopcount verify {path}")
    out = tmp_path / "verify.txt"
    r = run(f"flopcount verify {path} -o {out}")
    assert r.code == piped.code == 0 and r.out == ""
    assert out.read_text(encoding="utf-8") == piped.out
