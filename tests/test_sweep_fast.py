"""Sweeps expand once per shape-affecting combination (issue 17) and `flopcount.cost`.

The expected numbers are the full path's: `flopcount.analyze(...).totals`, which builds a report
row per layer and sums them (flopcount/report.py), at the same input, batch and variables.
"""

import sys

import pytest

import flopcount
from flopcount import fastcost as cost_module
from flopcount.errors import EnvironmentProblem, UsageError
from flopcount.fastcost import Cost, cost
from flopcount.spec import expand as expand_module
from flopcount.sweep import parse_axes, sweep

from conftest import run


@pytest.fixture
def expansions(monkeypatch):
    """Counts every expansion: the cost path's (it imports `expand` when it needs one) and the
    catalog's (which checks the spec when the sweep reads it)."""
    from flopcount import catalog

    calls = []
    real = expand_module.expand

    def counted(*args, **kw):
        calls.append(args[2:4])
        return real(*args, **kw)

    monkeypatch.setattr(expand_module, "expand", counted)
    monkeypatch.setattr(catalog, "expand", counted)
    return calls


def test_batch_reuses_the_expansion(expansions):
    # 3 inputs x 4 batches: the first two inputs expanded (the second with the walk's log on),
    # the third replayed from it (flopcount.spec.replay, tests/test_sweep_replay.py); the batch
    # only scales MACs. Before them, the check at the spec's own input when the sweep reads it
    rows = sweep(["vgg-D"], parse_axes(["input=224,240,256", "batch=1,2,3,8"]))
    assert len(rows) == 12
    assert expansions == [(None, None), ((None, 224, 224), None), ((None, 240, 240), None)]
    for r in rows:
        full = flopcount.analyze("vgg-D", input=r["input"][1], batch=r["batch"]).totals
        assert (r["params"], r["macs"]) == (full["params"], full["macs"])


def test_variables_are_shape_affecting(expansions):
    # width changes channels: each width is its own expansion; the two batches share it
    rows = sweep(["efficientnet-b0"], parse_axes(["width=1.0,1.1", "batch=1,4"]))
    assert len(expansions) == 1 + 2  # the check when the spec is read, then one per width
    for r in rows:
        full = flopcount.analyze("efficientnet-b0", batch=r["batch"], sets={"width": r["width"]}).totals
        assert (r["params"], r["macs"]) == (full["params"], full["macs"])


def test_equal_values_of_other_types_are_not_merged():
    # width 1 (int) and 1.0 (float) are kept apart, as the expansion may tell them apart
    assert cost_module._key(1) != cost_module._key(1.0) != cost_module._key(True)


def test_spec_batch_kept_without_a_batch_axis(write_spec):
    # a spec that declares batch: 4: MACs = 4 x (8*8 outputs x 16 channels x 3*3*3 taps) = 110,592
    path = write_spec("flopcount: 1\ninput: [3, 8, 8]\nbatch: 4\nlayers:\n  - conv3-16\n")
    rows = sweep([path], parse_axes(["input=8"]))
    assert rows[0]["batch"] == 4 and rows[0]["macs"] == 4 * 8 * 8 * 16 * 3 * 3 * 3
    c = cost(path)
    assert (c.batch, c.macs, c.sample_macs) == (4, 110_592, 27_648)


@pytest.mark.parametrize(
    "target, kw",
    [
        ("resnet-50", {}),
        ("resnet-50", {"input": 320, "batch": 8}),
        ("efficientnet-b0", {"input": (240, 200), "sets": {"width": 1.2}}),
        ("efficientnet-b0", {"sets": ["depth=1.5"], "batch": 3}),
        ("vgg-D", {"batch": 2**40}),
    ],
)
def test_cost_equals_analyze(target, kw):
    c = flopcount.cost(target, **kw)
    r = flopcount.analyze(target, **kw)
    assert isinstance(c, Cost)
    assert c.counts() == r.totals
    assert (c.input, c.batch) == (list(r.input), r.batch)
    assert c.sample_macs * c.batch == c.macs


def test_cost_known_figure():
    # resnet-50 at 224: 25,557,032 params and 4,089,184,256 MACs (the README's analyze example)
    c = cost("resnet-50")
    assert (c.params, c.macs) == (25_557_032, 4_089_184_256)


def test_cost_rereads_a_changed_file(write_spec):
    path = write_spec("flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - conv3-16\n")
    assert cost(path).params == 16 * 3 * 9 + 16  # weights + bias: 448
    with open(path, "w") as f:
        f.write("flopcount: 1\ninput: [3, 8, 8]\nlayers:\n  - conv3-32\n   \n")  # a different size
    assert cost(path).params == 32 * 3 * 9 + 32  # 896


def test_cost_errors():
    with pytest.raises(UsageError, match="declares no variable"):
        cost("vgg-D", sets={"nosuch": 1})
    with pytest.raises(UsageError, match="batch"):
        cost("vgg-D", batch=0)
    with pytest.raises(UsageError, match="analyze"):
        cost({"flopcount": 1})


def test_ray_absent_is_exit_4(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    from flopcount.sweep_ray import run_ray

    with pytest.raises(EnvironmentProblem, match="pip install ray"):
        list(run_ray([("vgg-D", {})], None, 1))
    r = run("flopcount sweep vgg-D --backend ray")
    assert r.code == 4 and "pip install ray" in r.err


def test_ray_address_needs_ray_backend():
    r = run("flopcount sweep vgg-D --ray-address auto")
    assert r.code == 2 and "--backend ray" in r.err


def test_local_is_the_default():
    assert (
        run("flopcount sweep vgg-D --set batch=1,2 --backend local").out
        == run("flopcount sweep vgg-D --set batch=1,2").out
    )


@pytest.mark.parametrize("target, kw", [("resnet-50", {"batch": 8}), ("efficientnet-b0", {"input": 300})])
def test_cost_floor_equals_the_reports(target, kw):
    # the report's roofline total (report --roofline --device-profile h100 --dtype bf16)
    from flopcount.profiles import load_profile
    from flopcount.roofline import annotate

    r = flopcount.analyze(target, **kw)
    annotate(r, load_profile("h100"), "bf16")
    c = cost(target, device="h100", dtype="bf16", **kw)
    assert c.floor_ms == r.roof_total.floor_ms
    assert cost(target, **kw).floor_ms is None  # no device: no floor


def test_cost_bad_dtype():
    with pytest.raises(UsageError, match="dtype"):
        cost("vgg-D", device="h100", dtype="fp8x")
