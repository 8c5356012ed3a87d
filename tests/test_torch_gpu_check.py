"""benchmarks/gpu_check.py without a GPU: its table logic, and a dry run on the CPU."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "benchmarks", "gpu_check.py")


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_marks_differences_beyond_the_tolerance():
    gc = _script()
    rows = [{"model": "m", "batch": 1, "dtype": "fp32", "flopcount_ms": 10.4, "timer_ms": 10.0, "diff": 0.04,
             "layer_sum_ratio": 1.1},
            {"model": "m", "batch": 64, "dtype": "bf16", "flopcount_ms": 10.6, "timer_ms": 10.0, "diff": 0.06,
             "layer_sum_ratio": None}]
    lines = gc.table(rows, 0.05).splitlines()
    assert lines[2].rstrip().endswith("ok") and "+4.0%" in lines[2]
    assert lines[3].rstrip().endswith("DIFFERS") and "+6.0%" in lines[3]
    md = gc.table(rows, 0.05, markdown=True).splitlines()
    assert md[0].startswith("| model | batch | dtype") and md[3].endswith("| DIFFERS |")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed: pip install -e '.[test,torch]' (.ci/run installs it)")
def test_dry_run_on_cpu(capsys):
    gc = _script()
    code = gc.main(["--dry-run", "--models", "bottleneck-reduced", "--batches", "1", "--dtypes", "fp32"])
    out = capsys.readouterr().out
    assert code == 0, out  # a failed build is named in the output
    from flopcount.spec.resolve import builtin_names

    n = len(builtin_names())
    assert f"built {n} of {n} configs on meta with the report's parameter count" in out
    row = next(line for line in out.splitlines() if line.startswith("bottleneck-reduced"))
    assert row.split()[1:3] == ["1", "fp32"]
