"""benchmarks/gpu_check.py without a GPU: its table, its record (a failure loses nothing), and a
short run on the CPU through to its JSON."""

import importlib.util
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "benchmarks", "gpu_check.py")
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: pip install -e '.[test,torch]' (.ci/run installs it)",
)


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(diff, spread, **kw):
    r = {
        "model": "m",
        "batch": 1,
        "dtype": "fp32",
        "flopcount_ms": 10.0 * (1 + diff),
        "dobench_ms": 10.0,
        "timer_ms": 10.1,
        "diff": diff,
        "run_spread": spread,
        "graph_ms": None,
        "launch_bound": False,
        "marks_cost": 1.01,
        "bias": 0.98,
    }
    return {**r, **kw}


def test_table_marks_differences_and_spread_beyond_the_limits():
    gc = _script()
    rows = [_row(0.04, 0.01), _row(0.06, 0.01, batch=64), _row(0.0, 0.03, dtype="bf16"), _row(0.0, None)]
    lines = gc.table(rows, 0.05, spread=0.02).splitlines()
    assert lines[2].rstrip().endswith("ok") and "+4.0%" in lines[2]  # 4% <= 5%, spread 1% <= 2%
    assert lines[3].rstrip().endswith("DIFFERS") and "+6.0%" in lines[3]  # 6% > 5%
    assert lines[4].rstrip().endswith("DIFFERS") and "3.0%" in lines[4]  # spread 3% > 2%
    assert lines[5].rstrip().endswith("ok")  # one run: no spread to judge
    md = gc.table(rows, 0.05, markdown=True).splitlines()
    assert md[0].startswith("| model | batch | dtype") and md[3].endswith("| DIFFERS |")


def test_record_is_rewritten_after_each_step_and_a_failure_loses_nothing(tmp_path):
    gc = _script()
    path = tmp_path / "out" / "r.json"
    rec = gc.Record(str(path), {"x": 1})
    far = float("inf")
    gc.step(rec, "one", lambda: {"value": 1}, far)
    assert [s["step"] for s in json.loads(path.read_text())["steps"]] == ["one"]  # on disk already

    def broken():
        raise RuntimeError("CUDA error: no kernel image is available\nsecond line")

    gc.step(rec, "two", broken, far)
    gc.step(rec, "three", lambda: {"value": 3}, far)
    gc.step(rec, "four", lambda: {"value": 4}, 0.0)  # the budget is spent
    steps = json.loads(path.read_text())["steps"]
    assert [(s["step"], s["status"]) for s in steps] == [
        ("one", "ok"),
        ("two", "failed"),
        ("three", "ok"),
        ("four", "skipped"),
    ]
    assert steps[1]["error"] == "RuntimeError: CUDA error: no kernel image is available"
    assert not list(tmp_path.glob("out/*.tmp"))  # written through a temporary file, renamed


@needs_torch
def test_cpu_run_to_the_end_with_a_broken_config(tmp_path, capsys):
    gc = _script()
    out = tmp_path / "gpu_check.json"
    code = gc.main(
        [
            "--out",
            str(out),
            "--models",
            "bottleneck-reduced",
            "no-such-model",
            "--batches",
            "1",
            "--dtypes",
            "fp32",
            "tf32",
            "--no-build",
        ]
    )
    text = capsys.readouterr().out
    doc = json.loads(out.read_text())
    by = {s["step"]: s for s in doc["steps"]}
    assert by["time bottleneck-reduced b1 fp32"]["status"] == "ok"
    assert by["time no-such-model b1 fp32"]["status"] == "failed"  # named, and the others still ran
    assert by["time bottleneck-reduced b1 tf32"]["status"] == "skipped"  # CUDA only
    assert by["time bottleneck-reduced b1 fp32 channels-last"]["status"] == "ok"
    f = by["time bottleneck-reduced b1 fp32"]["flopcount"]
    assert f["threads"] == 1 and f["count"] >= 3 and len(f["runs"]) == 2 and f["run_spread"] is not None
    # the CLI's exit codes, as a user gets them: 2**62 is out of memory (4), no GPU for --device cuda (4)
    assert by["cli: --batch 2**62 is out of memory, exit 4"]["status"] == "ok"
    assert by["cli: no GPU visible, --device cuda exits 4"]["status"] == "ok"
    assert by["cli: a real CUDA out of memory exits 4"]["status"] == "skipped"
    assert code == 1 and "FAILED time no-such-model b1 fp32" in text
    assert doc["summary"]["timed"] == 2 and "--cuda-graph replays" in doc["summary"]["skipped"]
    assert next(line for line in text.splitlines() if line.startswith("bottleneck-reduced")).split()[1:3] == [
        "1",
        "fp32",
    ]
