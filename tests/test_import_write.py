"""The spec `flopcount import` writes: what a person would have written (module names as layer
names, blocks with repeat, stages as a table, the input as a variable), and a round trip that
reports the same rows as the target itself. Models from tests/import_models.py (no torchvision);
counts are torch's own (FlopCounterMode / 2, sum(numel)) or torchvision's frozen numbers."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("torch")

import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from flopcount.cli import main  # noqa: E402
from flopcount.importers import Imported, ImportedLayer  # noqa: E402
from flopcount.importers.write import spec_of, to_yaml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def _models_on_path(monkeypatch):
    monkeypatch.syspath_prepend(HERE)


def run(*args):
    return CliRunner().invoke(main, list(args))


def rows(target, *extra):
    res = run("report", target, "--format", "json", *extra)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    return [(r["name"], r["op"], r["output"], r["params"], r["macs"]) for r in data["layers"]], data["totals"]


@pytest.mark.parametrize(
    "name,size",
    [("resnet50", "3x224x224"), ("small_resnet", "3x32x32"), ("vit", "3x32x32"), ("unet_step", "1x60x60")],
)
def test_round_trip_gives_identical_rows(tmp_path, name, size):
    out = tmp_path / f"{name}.yaml"
    res = run("import", f"import_models:{name}", "--input", size, "-o", str(out))
    assert res.exit_code == 0, res.output
    direct = rows(f"import_models:{name}", "--input", size)
    written = rows(str(out))
    assert written == direct
    assert len(direct[0]) > 5


def test_resnet50_spec_reads_like_configs_resnet(tmp_path):
    out = tmp_path / "resnet50.yaml"
    assert run("import", "import_models:resnet50", "-o", str(out)).exit_code == 0
    text = out.read_text()
    assert len(text.splitlines()) < 80
    spec = yaml.safe_load(text)
    assert spec["input"] == [3, "$size", "$size"] and spec["vars"]["size"] == 224
    # stages as data: torchvision's resnet50 widths and depths (64, 3), (128, 4), (256, 6), (512, 3)
    assert [row[:2] for row in spec["vars"]["stages"]] == [[64, 3], [128, 4], [256, 6], [512, 3]]
    (block,) = spec["blocks"]
    assert block == "Bottleneck"
    body = spec["blocks"]["Bottleneck"]["body"]
    add = body[0]
    assert add["op"] == "add" and set(add["paths"]) == {"main", "downsample"}
    assert [c["name"] for c in add["paths"]["main"]] == ["conv1", "conv2", "conv3"]
    assert add["paths"]["main"][2]["c"] == "${c * 4}"  # the expansion, found by the writer
    stage = next(lay for lay in spec["layers"] if lay.get("op") == "Bottleneck")
    assert stage["for"] == "$stages" and stage["repeat"] == "$n"
    # torchvision's frozen resnet50: 25,557,032 params, 4,089,184,256 MACs (tests/reference/torchvision.json)
    _, totals = rows(str(out))
    assert (totals["params"], totals["macs"]) == (25557032, 4089184256)


def test_written_spec_input_is_a_variable(tmp_path):
    out = tmp_path / "r.yaml"
    assert run("import", "import_models:small_resnet", "--input", "3x32x32", "-o", str(out)).exit_code == 0
    at64 = rows(str(out), "--input", "3x64x64")[1]
    direct64 = rows("import_models:small_resnet", "--input", "3x64x64")[1]
    assert at64 == direct64


def test_import_to_stdout_and_refuses_a_spec_target():
    res = run("import", "import_models:small_resnet", "--input", "3x32x32")
    assert res.exit_code == 0 and res.stdout.startswith("# small_resnet: written by")
    res = run("import", "resnet-50")
    assert res.exit_code == 2 and "not an importable target" in res.output


def test_import_never_half_writes(tmp_path):
    out = tmp_path / "keep.yaml"
    out.write_text("mine\n")
    res = run("import", "import_models:raises", "-o", str(out))
    assert res.exit_code == 3
    assert out.read_text() == "mine\n"  # a failed import leaves the file as it was


def _imported(layers, outputs=None):
    return Imported("t", (3, 8, 8), layers, outputs or [layers[-1].name])


def test_a_merge_with_shared_branches_stays_a_from_layer():
    # c1 feeds both c2 and the concat, and c2 feeds the concat too, like DenseNet: not two
    # separate chains from one fork, so the writer keeps `from: [a, b]`
    L = ImportedLayer
    layers = [
        L("c1", "conv", {"c": 4, "k": 3, "p": 1}, ("input",)),
        L("c2", "conv", {"c": 4, "k": 3, "p": 1}, ("c1",)),
        L("c3", "conv", {"c": 4, "k": 3, "p": 1}, ("c2",)),
        L("cat", "concat", {}, ("c1", "c2", "c3")),
    ]
    spec = spec_of(_imported(layers))
    assert spec["layers"][-1] == {"op": "concat", "name": "cat", "from": ["c1", "c2", "c3"]}


def test_a_residual_becomes_branches():
    L = ImportedLayer
    layers = [
        L("stem", "conv", {"c": 4, "k": 3, "p": 1}, ("input",)),
        L("b.conv1", "conv", {"c": 4, "k": 3, "p": 1}, ("stem",)),
        L("b.conv2", "conv", {"c": 4, "k": 3, "p": 1}, ("b.conv1",)),
        L("b.add", "add", {}, ("b.conv2", "stem")),
    ]
    spec = spec_of(_imported(layers))
    group = spec["layers"][1]
    assert group["op"] == "seq" and group["name"] == "b"
    assert group["layers"][0]["paths"] == {
        "main": [
            {"op": "conv", "name": "conv1", "c": 4, "k": 3, "p": 1},
            {"op": "conv", "name": "conv2", "c": 4, "k": 3, "p": 1},
        ],
        "shortcut": [],
    }
    assert "add" in to_yaml(spec)


def test_a_branch_key_is_no_name_its_list_gives(tmp_path):
    # a residual's branch is `main` by default; here a later layer is the module `main`, and the
    # model's outputs are `main` and `head`. The branch is `main2`, so `outputs: [main]` reads
    # the 8-channel conv, not the branch (4 channels): before, `outputs` read the branch.
    L = ImportedLayer
    layers = [
        L("conv1", "conv", {"c": 4, "k": 3, "p": 1}, ("input",)),
        L("add", "add", {}, ("conv1", "input")),
        L("main", "conv", {"c": 8, "k": 1}, ("add",)),
        L("head", "conv", {"c": 2, "k": 1}, ("main",)),
    ]
    spec = spec_of(Imported("t", (4, 8, 8), layers, ["main", "head"]))
    assert set(spec["layers"][0]["paths"]) == {"main2", "shortcut"} and spec["outputs"] == ["main", "head"]
    out = tmp_path / "t.yaml"
    out.write_text(to_yaml(spec))
    res = run("report", str(out), "--format", "json")
    assert res.exit_code == 0, res.output
    assert [o["output"] for o in json.loads(res.stdout)["outputs"]] == [[8, 8, 8], [2, 8, 8]]


def test_a_layer_whose_shape_is_not_the_traced_one_is_exit_3():
    # an importer that maps a conv with the wrong padding: the source traced 4x8x8 (p 1), the
    # written conv (p 0) gives 4x6x6 and 4*36*27 = 3,888 MACs for the model's 4*64*27 = 6,912
    from flopcount.importers import ImportError_, expand_written
    from flopcount.importers.write import spec_text

    L = ImportedLayer
    layers = [
        L("c1", "conv", {"c": 4, "k": 3, "p": 0}, ("input",), (4, 8, 8), "net.py:3"),
        L("c2", "conv", {"c": 2, "k": 1}, ("c1",), (2, 8, 8)),
    ]
    imported = Imported("t", (3, 8, 8), layers, ["c2"])
    paths: dict = {}
    text = spec_text(imported, paths)
    with pytest.raises(ImportError_) as info:
        expand_written(imported, "t", text, None, paths)
    assert info.value.code == 3
    assert "gives `c1` (conv) the output 4x6x6, where the model's is 4x8x8 (net.py:3)" in str(info.value)
    # with the traced padding it expands: 6,912 + 2*64*4 = 512 MACs
    layers[0] = L("c1", "conv", {"c": 4, "k": 3, "p": 1}, ("input",), (4, 8, 8), "net.py:3")
    graph = expand_written(imported, "t", spec_text(imported, paths), None, paths)
    assert sum(n.cost.macs for n in graph.nodes) == 6_912 + 512


def test_a_written_spec_that_does_not_expand_is_exit_3_and_never_written(tmp_path, monkeypatch):
    # The importer's fault, not the user's (timm's NFNet maps to a `view` whose shape rule refuses
    # what torch traced): exit 3 naming the layer, and the file the user had is left as it was.
    import flopcount.importers as importers

    bad = _imported([ImportedLayer("stem", "conv", {"c": 0, "k": 3}, ("input",))])  # 0 output channels
    monkeypatch.setattr(importers, "load_target", lambda *a, **k: bad)
    out = tmp_path / "keep.yaml"
    out.write_text("mine\n")
    res = run("import", "import_models:small_resnet", "-o", str(out))
    assert res.exit_code == 3, res.output
    assert "t: the spec written from it does not expand: " in res.output and "stem" in res.output
    assert "nothing was written" in res.output and "Traceback" not in res.output
    assert out.read_text() == "mine\n"


def test_a_long_not_costed_list_names_five_then_counts_by_kind():
    from flopcount.importers import Unmapped

    def u(i, what):
        return Unmapped(f"n{i}", what, f"m.py:{i}", (4,))

    # 12 nodes (over the 10 named in full): n0..n4 named; the other 7 are 4 mul and 3 conv2d
    whats = ["mul", "conv2d"] * 2 + ["mul"] + ["mul"] * 3 + ["conv2d"] * 3 + ["mul"]
    m = Imported("t", (3, 8, 8), [], unmapped=[u(i, w) for i, w in enumerate(whats)])
    assert m.summary() == (
        "12 nodes not costed: n0: mul at m.py:0; n1: conv2d at m.py:1; n2: mul at m.py:2; "
        "n3: conv2d at m.py:3; n4: mul at m.py:4; ... and 7 more (4 mul, 3 conv2d)"
    )
    ten = Imported("t", (3, 8, 8), [], unmapped=[u(i, "mul") for i in range(10)])
    assert ten.summary().count("; ") == 9 and "more" not in ten.summary()  # 10: every node named


def test_blocks_alike_but_for_a_branch_fold_into_one_block_each():
    # Swin's ONNX file (no class names: every group is a "Block"): its last stage's blocks lack
    # the attention mask, so its blocks group together but do not unify, and the folder gave up
    # on all of them (swin_t.onnx was written in 1,110 lines; now 397). Here s.0 and s.1 are
    # [inner, proj] residuals, s.2 and s.3 have one layer more in the branch; every block holds
    # an `inner` group folded first, whose call leaves out `c` where it is that block's default.
    from flopcount.api import analyze

    L = ImportedLayer
    layers = [L("stem", "conv", {"c": 4, "k": 3, "p": 1}, ("input",))]
    prev = "stem"
    for b in range(4):
        p = f"s.{b}"
        layers.append(L(f"{p}.inner.a", "conv", {"c": 8 if b == 1 else 4, "k": 1}, (prev,)))
        layers.append(L(f"{p}.inner.b", "conv", {"c": 4, "k": 3, "p": 1}, (f"{p}.inner.a",)))
        layers.append(L(f"{p}.proj", "conv", {"c": 4, "k": 1}, (f"{p}.inner.b",)))
        last = f"{p}.proj"
        if b >= 2:
            layers.append(L(f"{p}.extra", "conv", {"c": 4, "k": 1}, (last,)))
            last = f"{p}.extra"
        layers.append(L(f"{p}.add", "add", {}, (last, prev)))
        prev = f"{p}.add"
    scopes = {"s": "Sequential", **{f"s.{b}": "Block" for b in range(4)}, **{f"s.{b}.inner": "Block" for b in range(4)}}
    imported = Imported("t", (3, 8, 8), layers, [prev], scopes=scopes)
    spec = spec_of(imported)
    calls = spec["layers"][1]["layers"]
    assert [c["op"] for c in calls] == ["Block_3", "Block_3", "Block_4", "Block_4"], to_yaml(spec)
    bodies = [spec["blocks"][c]["body"][0]["paths"]["main"] for c in ("Block_3", "Block_4")]
    assert [[d["name"] for d in body] for body in bodies] == [["inner", "proj"], ["inner", "proj", "extra"]]
    assert all(body[0]["op"] == "Block" for body in bodies)  # the inner group, folded first

    def shown(s):
        return [(r.name, r.op, r.output, r.params, r.macs) for r in analyze(s).rows]

    assert shown(spec) == shown(spec_of(imported, fold=False))  # the same rows as the unfolded spec


def test_a_block_that_reads_its_own_input_again_folds_with_from_in():
    # Swin V2's ONNX blocks: a chain from the file's coordinate table first (its `tensor` reads
    # `from: input`), then the block's own input again for the residual. Its full row path made
    # each block depend on where it stood, so none folded (swin_v2_t.onnx: 1,125 lines; now 583).
    # `from: in` names the input of the group it is in, wherever that group stands.
    from flopcount.api import analyze

    L = ImportedLayer
    layers = [L("stem", "conv", {"c": 4, "k": 3, "p": 1}, ("input",))]
    prev = "stem"
    for b in range(3):
        p = f"s.{b}"
        layers.append(L(f"{p}.cpb.table", "tensor", {"shape": "9x2", "learnable": False}, ("input",)))
        layers.append(L(f"{p}.cpb.fc", "linear", {"c": 4, "bias": True}, (f"{p}.cpb.table",)))
        layers.append(L(f"{p}.conv", "conv", {"c": 4, "k": 3, "p": 1}, (prev,)))
        layers.append(L(f"{p}.add", "add", {}, (f"{p}.conv", prev)))
        prev = f"{p}.add"
    scopes = {"s": "Sequential", **{f"s.{b}": "Block" for b in range(3)}}
    imported = Imported("t", (3, 8, 8), layers, [prev], scopes=scopes)
    spec = spec_of(imported)
    text = to_yaml(spec)
    assert list(spec["blocks"]) == ["Block"], text  # the three alike, one block
    body = spec["blocks"]["Block"]["body"]
    assert body[1]["op"] == "add" and body[1]["from"] == "in", text
    assert "from: input" in text  # the table: the model's input, wherever the block stands

    def shown(s):
        return [(r.name, r.op, r.output, r.params, r.macs) for r in analyze(s).rows]

    assert shown(spec) == shown(spec_of(imported, fold=False))  # the same rows as the unfolded spec
