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
    assert "pip install 'flopcount[torch]'" in p.stderr and "Traceback" not in p.stderr


def test_without_fvcore_verify_exit_4(tmp_path):
    pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[test,torch]'")
    p = subprocess.run(
        [sys.executable, "-m", "flopcount", "verify", "head-gap"],
        env=_without(tmp_path, "fvcore"),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 4, p.stderr
    assert "fvcore" in p.stderr and "pip install 'flopcount[torch]'" in p.stderr


def test_latency_options_need_latency():
    r = run("flopcount report vgg-D --device cuda")
    assert r.code == 2 and "--device only apply with --latency" in r.err


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
