"""`flopcount sweep`: value syntax, combination order, counts per row, formats, jobs, errors.

The expected numbers come from the bottleneck config (flopcount/configs/bottleneck.yaml): a 5x5 conv
(padding 2, stride 1, no bias) from 480 to 48 channels on an HxH input, optionally after a
1x1 reduction to 16 channels. Per image:
  naive:   MACs = H*H*48 * 5*5*480       (14x14: 112,896,000, the notes' 112.9M)
           params = 48*480*25 = 576,000  (independent of H)
  reduced: MACs = H*H*16*480 + H*H*48*25*16 = 25,280 * H*H  (14x14: 5,268,480, the notes' 5.3M)
           params = 16*480 + 48*16*25 = 26,880
"""

import csv
import io
import os
import re

import pytest

from flopcount.errors import UsageError
from flopcount.sweep import parse_axes, parse_range, sweep, workers

from conftest import run, run_without


def naive_macs(h):
    return h * h * 48 * 5 * 5 * 480


def reduced_macs(h):
    return h * h * 16 * 480 + h * h * 48 * 5 * 5 * 16


def test_naive_formula_matches_the_notes():
    # guards the helpers above against the published figures they are built from
    assert naive_macs(14) == 112_896_000
    assert reduced_macs(14) == 5_268_480


@pytest.mark.parametrize(
    "text, values",
    [
        ("224:600:32", [224 + 32 * i for i in range(12)]),  # 224 + 11*32 = 576; 608 would pass 600
        ("1:3", [1, 2, 3]),  # step 1 by default, STOP included
        ("224:288:32", [224, 256, 288]),  # STOP included when a step lands on it
        ("0.5:1.5:0.25", [0.5, 0.75, 1.0, 1.25, 1.5]),
        ("0.1:0.3:0.1", [0.1, 0.2, 0.3]),  # decimal steps do not drift (0.1 + 0.2 != 0.3)
    ],
)
def test_ranges(text, values):
    assert parse_range("k", text) == values


@pytest.mark.parametrize("text", ["5:1", "1:5:0", "1:5:-1"])
def test_bad_ranges_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_range("k", text)


@pytest.mark.parametrize(
    "text, shown",
    [("input=224:232:0.5", "224.0"), ("input=1e3:2e3", "'1e3:2e3'"), ("res=224,abc", "'abc'"), ("input=0:3", "0")],
)
def test_a_bad_input_axis_is_said_as_written(text, shown):
    # said of `--set input=...` as the user wrote it (before: "--input '224.0': expected e.g. 224")
    with pytest.raises(UsageError, match=re.escape(f"--set {text}: {shown} is no input size")):
        parse_axes([text])


def test_lists_and_axes():
    axes = parse_axes(["input=224,240x200", "batch=1,8,64", "width=0.5,1.0"])
    assert axes == [("input", [224, "240x200"]), ("batch", [1, 8, 64]), ("width", [0.5, 1.0])]
    assert parse_range("k", "1,8,64") is None


def test_rows_in_order_with_counts_and_ratios():
    j = run("flopcount sweep bottleneck-naive --set input=14,28 --set batch=1,8 --format json").json()
    assert j["schema"] == "flopcount.sweep/1"
    got = [(r["input"], r["batch"], r["params"], r["macs"]) for r in j["rows"]]
    assert got == [  # the first --set varies slowest
        ([480, 14, 14], 1, 576_000, naive_macs(14)),
        ([480, 14, 14], 8, 576_000, 8 * naive_macs(14)),
        ([480, 28, 28], 1, 576_000, naive_macs(28)),
        ([480, 28, 28], 8, 576_000, 8 * naive_macs(28)),
    ]
    assert [r["ratio_macs"] for r in j["rows"]] == [1.0, 8.0, 4.0, 32.0]  # MACs grow as batch * H^2
    assert [r["ratio_params"] for r in j["rows"]] == [1.0] * 4


def test_declared_variable_and_several_models():
    j = run("flopcount sweep bottleneck-naive bottleneck-reduced --set reduce=0,16 --format json").json()
    rows = [(r["model"], r["reduce"], r["params"], r["macs"]) for r in j["rows"]]
    assert rows == [
        ("bottleneck-naive", 0, 576_000, naive_macs(14)),
        ("bottleneck-naive", 16, 26_880, reduced_macs(14)),
        ("bottleneck-reduced", 0, 576_000, naive_macs(14)),
        ("bottleneck-reduced", 16, 26_880, reduced_macs(14)),
    ]
    assert j["rows"][1]["ratio_macs"] == reduced_macs(14) / naive_macs(14)


def test_sweep_agrees_with_report():
    # every row is the same count as `flopcount report` at that input
    j = run("flopcount sweep vgg-D --set input=224,256 --format json").json()
    for row in j["rows"]:
        rep = run(f"flopcount report vgg-D --input {row['input'][1]} --format json").json()
        assert (row["params"], row["macs"]) == (rep["totals"]["params"], rep["totals"]["macs"])


def test_formats():
    line = "flopcount sweep bottleneck-naive --set input=14,28"
    rows = list(csv.DictReader(io.StringIO(run(line + " --format csv").out)))
    assert [(r["input"], int(r["macs"])) for r in rows] == [
        ("480x14x14", naive_macs(14)),
        ("480x28x28", naive_macs(28)),
    ]
    md = run(line + " --format markdown").out
    assert "| model | input | batch | params | MACs | params ratio | MACs ratio |" in md
    assert "| bottleneck-naive | 480x28x28 | 1 | 576,000 | 451,584,000 | 1.00x | 4.00x |" in md
    table = run(line + " --width 120").out
    assert "451,584,000" in table and "4.00x" in table
    flops = run(line + " --unit flops --format json").json()
    assert flops["rows"][1]["flops"] == 2 * naive_macs(28)


def test_thousand_combinations_with_jobs():
    # 1,000 combinations, spread over two processes; each row checked against the formula
    r = run("flopcount sweep bottleneck-naive --set input=14:1013 --jobs 2 --format json")
    rows = r.json()["rows"]
    assert len(rows) == 1000
    assert all(row["macs"] == naive_macs(row["input"][1]) for row in rows)
    assert [row["input"][1] for row in rows] == list(range(14, 1014))


def test_jobs_give_the_same_rows():
    line = "flopcount sweep bottleneck-reduced --set input=8:40:4 --set batch=1,3 --set reduce=8,16 --format json"
    assert run(line + " --jobs 3").json() == run(line).json()


@pytest.mark.parametrize(
    "line, code, text",
    [
        ("sweep bottleneck-naive --set width=1,2", 2, "declares no variable `width`"),
        ("sweep bottleneck-naive --set reduc=1,2", 2, "did you mean `reduce`"),
        ("sweep bottleneck-naive --set input=40:20", 2, "range is empty"),
        ("sweep bottleneck-naive --set batch=0,1", 2, "batch sizes must be whole numbers from 1 to 2**62"),
        ("sweep bottleneck-naive --set batch=1,4611686018427387905", 2, "from 1 to 2**62"),  # 2**62 + 1
        ("sweep bottleneck-naive --set input=224,\u0662\u0662\u0664", 2, "(ASCII digits)"),  # Arabic-Indic 224
        ("sweep bottleneck-naive --set input=28 --jobs 0", 2, "must be at least 1"),
        ("sweep bottleneck-naive --set input=28 --jobs 1025", 2, "must be at most 1,024"),
        ("sweep bottleneck-naive --set input=28 --jobs \u0662", 2, "not a whole number (ASCII digits 0-9)"),
        ("sweep bottleneck-naive --set input=14 --set input=28", 2, "given twice"),
        ("sweep bottleneck-naive --set input", 2, "expected KEY=VALUES"),
        ("sweep no-such-model", 2, "unknown config"),
        ("sweep vgg-D --set input=224,16", 3, "vgg-D at input=16"),  # 16 halves to 0 before the 5th pool
    ],
)
def test_errors(line, code, text):
    r = run("flopcount " + line)
    assert r.code == code, r.err
    assert text in r.err
    assert "Traceback" not in r.err


def test_limit_on_combinations(monkeypatch):
    monkeypatch.setenv("FLOPCOUNT_MAX_SWEEP", "100")
    with pytest.raises(UsageError, match="150 combinations, over the limit of 100"):  # 50 x 3
        parse_axes(["input=1:50", "batch=1:3"])
    assert len(parse_axes(["input=1:50", "batch=1:2"])[0][1]) == 50  # 50 x 2 = 100: at the limit, allowed


def test_limit_on_rows_is_checked_before_any_spec_is_read():
    # 2 models x 60 sizes = 120 rows > 100: refused before `no-such-model` is even looked up
    r = run("flopcount sweep no-such-model bottleneck-naive --set input=1:60", env={"FLOPCOUNT_MAX_SWEEP": "100"})
    assert r.code == 2, r.err
    assert "120 rows" in r.err and "over the limit of 100" in r.err and "unknown config" not in r.err


@pytest.mark.parametrize("value", ["lots", "1e6", "-5", "0", "\u0661\u0660\u0660", "9" * 5000])
def test_bad_limit_in_the_environment_names_the_variable(value):
    r = run("flopcount sweep bottleneck-naive --set input=14,28", env={"FLOPCOUNT_MAX_SWEEP": value})
    assert r.code == 2, r.err
    assert r.err.startswith("error: FLOPCOUNT_MAX_SWEEP=") and "fix or unset the environment variable" in r.err
    assert len(r.err) < 300  # the value is shown cut short
    assert "Traceback" not in r.err


def test_limit_accepts_underscores():
    r = run("flopcount sweep bottleneck-naive --set input=14,28 --format json", env={"FLOPCOUNT_MAX_SWEEP": "1_000"})
    assert r.code == 0, r.err


def test_workers_never_exceed_the_work_or_the_cores():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    assert workers(1024, 3) == min(3, cores)
    assert workers(1024, 10**6) == cores
    assert workers(4, 1) == 1
    assert workers(1, 1000) == 1


def test_one_row_with_many_jobs_forks_nothing(monkeypatch):
    import multiprocessing

    def no_fork(*a, **kw):
        raise AssertionError("a sweep of one row started a process pool")

    monkeypatch.setattr(multiprocessing, "get_context", no_fork)
    r = run("flopcount sweep bottleneck-naive --set input=28 --jobs 1024 --format json")
    assert r.code == 0, r.err
    assert r.json()["rows"][0]["macs"] == naive_macs(28)


def test_python_api():
    rows = sweep(["bottleneck-naive"], parse_axes(["input=14,28"]))
    assert [r["macs"] for r in rows] == [naive_macs(14), naive_macs(28)]


def test_sweep_never_imports_torch(tmp_path):
    p, tried = run_without(
        tmp_path, ("torch", "fvcore"), "flopcount sweep vgg-D --set input=224,256 --jobs 2 --format json"
    )
    assert p.returncode == 0, p.stderr
    assert tried == []
