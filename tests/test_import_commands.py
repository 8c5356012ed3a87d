"""Imported targets on every command (issue 14), as a user types them: ``snapshot`` and
``check`` of a ``pkg.mod:fn`` (with ``--trust-code``) and of an ``.onnx`` file, the refusal of
a lock file's code without it, ``--allow-unknown`` on compare / sweep / check, ``--latency`` on
an imported target, and a typed callable found in the working folder (as ``python -m`` does).

The models are built here: a torch module written into the test's folder (no torchvision), and
ONNX graphs made with onnx.helper (no exporter, no torch). Every count is derived beside it.
The hostile lock files (a callable without --trust-code, an ONNX path out of the folder, a
malformed target, a package that is not installed) are in tests/corpus/lock/.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys

import click
import pytest

from conftest import run

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_ONNX = importlib.util.find_spec("onnx") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (pip install torch)")
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="onnx is not installed (pip install onnx)")

#: conv 3->W 3x3 pad 1 on 8x8, ReLU, global average pool, fc W->10. At W=4 (the default):
#: conv MACs 4*8*8 * 3*3*3 = 6,912, params 4*27 + 4 = 112; fc MACs 4*10 = 40, params 40 + 10 = 50;
#: totals 6,952 MACs, 162 params. At W=8: conv 13,824 MACs, 224 params; fc 80, 90.
NET = """from torch import nn


def net(width={width}):
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)
    )
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The test's folder as the working folder, not on sys.path (as for the `flopcount` console
    script: `python -m pytest` puts '' there); flags and imported test modules reset after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # the module is rewritten within a second
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("h1_"):
            del sys.modules[name]
    from flopcount.baseline.trust import TRUST_CODE
    from flopcount.importers import ALLOW_UNKNOWN

    TRUST_CODE[0] = ALLOW_UNKNOWN[0] = False


def write_net(folder, module: str, width: int = 4) -> None:
    (folder / f"{module}.py").write_text(NET.format(width=width))
    sys.modules.pop(module, None)
    importlib.invalidate_caches()


# --------------------------------------------------------------------------- ONNX graphs


def onnx_model(folder, name: str, custom: bool = False) -> str:
    """conv 3->8 3x3 pad 1 on 1x3x8x8 (+ bias), ReLU; with ``custom``, then a node of an unknown
    domain. Conv: 8*8*8 * 3*3*3 = 13,824 MACs, params 8*27 + 8 = 224; the custom node: opaque."""
    from onnx import TensorProto, helper, save

    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"] if custom else ["y"], name="/relu/Relu"),
    ]
    if custom:
        nodes.append(helper.make_node("Fancy", ["r"], ["y"], name="/fancy/Fancy", domain="com.example"))
    inits = [helper.make_tensor("w", f, [8, 3, 3, 3], [0.0] * 216), helper.make_tensor("b", f, [8], [0.0] * 8)]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", f, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", f, [1, 8, 8, 8])],
        inits,
        value_info=[helper.make_tensor_value_info("r", f, [1, 8, 8, 8])] if custom else [],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.example", 1)] if custom else [])
    path = folder / f"{name}.onnx"
    save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path.name


# --------------------------------------------------------------------------- snapshot / check


@needs_torch
def test_snapshot_and_check_of_a_callable_with_trust_code(folder):
    write_net(folder, "h1_nets")
    r = run("flopcount snapshot h1_nets:net --input 3x8x8 -o costs.lock.json")
    assert r.code == 0, r.err
    assert "runs code" in r.err and "--trust-code" in r.err  # said when the entry is written
    lock = json.loads((folder / "costs.lock.json").read_text())
    assert lock["schema"] == "flopcount.baseline/2"
    (entry,) = lock["models"]
    assert entry["target"] == "h1_nets:net" and "spec" not in entry and "builtin" not in entry
    assert entry["totals"] == {"macs": 6_952, "params": 162}  # derived at NET

    refused = run("flopcount check costs.lock.json")  # the lock file's code does not run
    assert refused.code == 3, refused.err
    assert "costs.lock.json:" in refused.err and "runs code" in refused.err and "--trust-code" in refused.err

    assert run("flopcount check costs.lock.json --trust-code").code == 0
    assert run("flopcount check costs.lock.json", env={"FLOPCOUNT_TRUST_CODE": "1"}).code == 0

    write_net(folder, "h1_nets", width=8)  # the model changed: check says what moved
    moved = run("flopcount check costs.lock.json --trust-code --format json")
    assert moved.code == 1, moved.err
    totals = {c["field"]: (c["old"], c["new"]) for c in moved.json()["changes"] if c["layer"] == "(total)"}
    assert totals == {"macs": (6_952, 13_824 + 80), "params": (162, 224 + 90)}  # W=8, derived at NET


@needs_torch
def test_a_typed_callable_is_found_in_the_working_folder(folder):
    write_net(folder, "h1_here")
    r = run("flopcount report h1_here:net --input 3x8x8 --format json")
    assert r.code == 0, r.err
    assert r.json()["totals"]["macs"] == 6_952  # derived at NET
    assert str(folder) not in sys.path  # only while the target was imported


@needs_torch
def test_report_latency_of_an_imported_target(folder):
    write_net(folder, "h1_timed")
    r = run("flopcount report h1_timed:net --input 3x8x8 --latency --device cpu --warmup 0 --repeat 2 --format json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["totals"]["macs"] == 6_952  # derived at NET; the measurement adds, it changes no count
    assert doc["latency"]["device"] == "cpu" and doc["latency"]["end_to_end_ms"]["count"] == 2  # --repeat 2
    assert all("latency_ms" in row for row in doc["layers"])


@needs_torch
def test_a_lock_files_torchvision_name_is_not_imported_from_the_working_folder(folder, monkeypatch):
    # `python -m flopcount` puts the working folder first on sys.path: a file planted there
    # (a pull request's timm.py) must not stand in for the package a `target` names
    monkeypatch.syspath_prepend(str(folder))
    (folder / "timm.py").write_text('print("PLANTED")\n')
    sys.modules.pop("timm", None)
    (folder / "costs.lock.json").write_text(
        json.dumps(
            {
                "schema": "flopcount.baseline/2",
                "counting_rules": 1,
                "models": [
                    {
                        "name": "r18",
                        "target": "timm:resnet18",
                        "input": [3, 224, 224],
                        "batch": 1,
                        "totals": {"macs": 0, "params": 0},
                        "layers": [],
                    }
                ],
            }
        )
    )
    r = run("flopcount check costs.lock.json")
    assert "PLANTED" not in r.out + r.err
    assert "timm" not in sys.modules or getattr(sys.modules["timm"], "__file__", "") != str(folder / "timm.py")


@needs_onnx
def test_snapshot_and_check_of_an_onnx_file(folder):
    name = onnx_model(folder, "h1_small")
    (folder / "models").mkdir()
    os.replace(name, folder / "models" / name)
    assert run(f"flopcount snapshot models/{name} -o costs.lock.json").code == 0
    lock = json.loads((folder / "costs.lock.json").read_text())
    (entry,) = lock["models"]
    assert entry["onnx"] == "models/h1_small.onnx"  # relative to the lock file, as `spec`
    assert entry["totals"] == {"macs": 13_824, "params": 224}  # derived at onnx_model
    assert run("flopcount check costs.lock.json").code == 0  # data: no --trust-code needed

    (folder / "ci").mkdir()  # the path is the lock file's, not the working folder's
    os.replace(folder / "costs.lock.json", folder / "ci" / "costs.lock.json")
    os.replace(folder / "models", folder / "ci" / "models")
    assert run("flopcount check ci/costs.lock.json").code == 0

    os.remove(folder / "ci" / "models" / name)  # gone: a failure that --update keeps
    r = run("flopcount check ci/costs.lock.json --update")
    assert r.code == 1 and "ONNX file models/h1_small.onnx is gone" in r.out, r.out + r.err
    assert '"onnx": "models/h1_small.onnx"' in (folder / "ci" / "costs.lock.json").read_text()


@needs_onnx
def test_snapshot_refuses_an_onnx_file_outside_the_lock_files_folder(folder):
    name = onnx_model(folder, "h1_out")
    (folder / "ci").mkdir()
    r = run(f"flopcount snapshot {name} -o ci/costs.lock.json")
    assert r.code == 2 and "outside the baseline's folder" in r.err, r.err
    assert not (folder / "ci" / "costs.lock.json").exists()


def test_snapshot_refuses_builder_arguments_that_fetch_weights(folder):
    # refused before anything is imported (no torch needed): `check` would refuse to read it back
    r = run("flopcount snapshot torchvision:resnet18 --set pretrained=true -o costs.lock.json")
    assert r.code == 2 and "`pretrained` would fetch weights or read a file" in r.err, r.err
    assert not (folder / "costs.lock.json").exists()


# --------------------------------------------------------------------------- --allow-unknown


@needs_onnx
def test_allow_unknown_on_compare_sweep_and_check(folder):
    plain, custom = onnx_model(folder, "h1_plain"), onnx_model(folder, "h1_custom", custom=True)
    # the custom node is opaque (0 by construction): both models count the conv alone, 13,824 MACs
    no = run(f"flopcount compare {plain} {custom}")
    assert no.code == 1 and "1 node not costed" in no.err and "--allow-unknown" in no.err, no.err
    yes = run(f"flopcount compare {plain} {custom} --allow-unknown --format json")
    assert yes.code == 0, yes.err
    assert [m["totals"]["macs"] for m in yes.json()["models"]] == [13_824, 13_824]

    assert run(f"flopcount sweep {custom} --set batch=1,2").code == 1
    swept = run(f"flopcount sweep {custom} --set batch=1,2 --allow-unknown --format json")
    assert swept.code == 0, swept.err
    assert [row["macs"] for row in swept.json()["rows"]] == [13_824, 2 * 13_824]  # MACs scale with batch

    assert run(f"flopcount snapshot {custom} -o costs.lock.json").code == 1
    assert run(f"flopcount snapshot {custom} -o costs.lock.json --allow-unknown").code == 0
    assert run("flopcount check costs.lock.json").code == 1  # not sticky: each run says it again
    assert run("flopcount check costs.lock.json --allow-unknown").code == 0


def test_every_command_that_takes_a_target_has_allow_unknown():
    from flopcount.cli import main

    ctx = click.Context(main)
    takes_target = {"model", "models", "target", "baseline"}
    missing, seen = [], []
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        assert cmd is not None
        if any(isinstance(p, click.Argument) and p.name in takes_target for p in cmd.params):
            seen.append(name)
            if not any("--allow-unknown" in p.opts for p in cmd.params):
                missing.append(name)
    assert missing == []
    assert {"report", "compare", "sweep", "plot", "verify", "snapshot", "check", "import"} <= set(seen)
