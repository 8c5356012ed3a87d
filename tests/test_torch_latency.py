"""Latency: the timers' bookkeeping with fake clocks and fake CUDA events (no GPU needed), then
`--latency --device cpu` end to end on small configs. No test asserts a speed."""
import importlib.util

import pytest

from conftest import run
from flopcount.latency import CpuTimer, CudaEventTimer, collect, percentile, summarize, Samples, gflops


class FakeClock:
    """Integer nanoseconds; the fake model moves it forward as its layers "run"."""

    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


class FakeEvent:
    """Stands in for torch.cuda.Event(enable_timing=True): records the fake clock."""

    log: list = []

    def __init__(self, clock):
        self.clock, self.t = clock, None
        FakeEvent.log.append(("create", self))

    def record(self):
        self.t = self.clock()
        FakeEvent.log.append(("record", self))

    def synchronize(self):
        FakeEvent.log.append(("sync", self))

    def elapsed_time(self, end):  # milliseconds, as CUDA reports
        return (end.t - self.t) / 1e6


class FakeModel:
    """Three layers taking 1, 2 and 3 ms; warm-up passes take 100 ms per layer, so a warm-up
    pass leaking into the samples would change every median."""

    def __init__(self, clock, warmup_passes):
        self.clock, self.mark, self.passes, self.warmup = clock, None, 0, warmup_passes

    def set_mark(self, fn):
        self.mark = fn

    def run(self):
        cold = self.passes < self.warmup or (self.passes >= self.warmup + REPEAT and
                                              self.passes < 2 * self.warmup + REPEAT)
        if self.mark:
            self.mark()
        for ms in (1, 2, 3):
            self.clock.now += (100 if cold else ms) * 1_000_000
            if self.mark:
                self.mark()
        self.passes += 1


REPEAT = 5


def _collect(timer, e2e, clock, warmup=2):
    model = FakeModel(clock, warmup)
    return collect(model.run, timer, e2e, 3, warmup, REPEAT, model.set_mark)


def test_cpu_timer_bookkeeping():
    clock = FakeClock()
    s = _collect(CpuTimer(clock), CpuTimer(clock), clock)
    # five measured passes of 1, 2, 3 ms per layer; warm-up (100 ms per layer) excluded
    assert s.per_layer == [[1.0] * REPEAT, [2.0] * REPEAT, [3.0] * REPEAT]
    assert s.end_to_end == [6.0] * REPEAT  # 1 + 2 + 3 ms, in separate passes
    out = summarize(s)
    assert out["layer_ms"] == [1.0, 2.0, 3.0] and out["layer_sum_ms"] == 6.0
    assert out["end_to_end_ms"] == {"p10": 6.0, "p50": 6.0, "p90": 6.0}
    assert out["layer_sum_over_end_to_end"] == 1.0


def test_cuda_event_timer_syncs_once_per_pass_and_reuses_events():
    clock = FakeClock()
    FakeEvent.log = []
    timer = CudaEventTimer(4, event=lambda: FakeEvent(clock))  # 3 layers: 4 time points
    e2e = CudaEventTimer(2, event=lambda: FakeEvent(clock))
    s = _collect(timer, e2e, clock)
    assert s.per_layer == [[1.0] * REPEAT, [2.0] * REPEAT, [3.0] * REPEAT]
    assert s.end_to_end == [6.0] * REPEAT
    created = [e for kind, e in FakeEvent.log if kind == "create"]
    assert len(created) == 4 + 2  # made once, reused by every pass
    # per pass: the records, then exactly one synchronise, on the pass's last event
    passes, current = [], []
    for kind, e in FakeEvent.log[len(created):]:
        current.append((kind, e))
        if kind == "sync":
            passes.append(current)
            current = []
    assert current == [] and len(passes) == 2 * (2 + REPEAT)  # warm-up + measured, both series
    for p in passes[: 2 + REPEAT]:
        assert [k for k, _ in p] == ["record"] * 4 + ["sync"] and p[-1][1] is p[-2][1]


def test_percentile_is_linear_interpolation():
    # numpy.percentile([1..10], q): rank (10 - 1) * q / 100 -> p10 = 1 + 0.9 = 1.9, p50 = 5.5, p90 = 9.1
    values = list(range(10, 0, -1))
    assert percentile(values, 10) == pytest.approx(1.9)
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 90) == pytest.approx(9.1)


def test_summary_medians_and_ratio():
    s = Samples(per_layer=[[1.0, 9.0, 2.0], [4.0, 4.0, 5.0]], end_to_end=[5.0, 7.0, 6.0])
    out = summarize(s)
    assert out["layer_ms"] == [2.0, 4.0]  # medians of (1, 2, 9) and (4, 4, 5)
    assert out["end_to_end_ms"]["p50"] == 6.0
    assert out["layer_sum_over_end_to_end"] == 1.0  # (2 + 4) / 6


def test_gflops():
    # 2 x 1,000,000 MACs in 1 ms = 2e6 FLOP / 1e-3 s = 2e9 FLOP/s = 2 GFLOP/s
    assert gflops(1_000_000, 1.0) == 2.0
    assert gflops(0, 1.0) is None


# ------------------------------------------------------------------ with torch
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed: pip install -e '.[test,torch]' (.ci/run installs it)")
FAST = "--device cpu --warmup 1 --repeat 3"


@needs_torch
def test_report_latency_cpu_json():
    r = run(f"flopcount report inception-reduced --latency {FAST} --format json")
    assert r.code == 0, r.err
    assert r.err == ""  # no progress bar with --format json
    j = r.json()
    assert all(layer["latency_ms"] > 0 for layer in j["layers"])
    assert j["totals"]["latency_ms"] > 0
    assert sum(layer["latency_share"] for layer in j["layers"]) == pytest.approx(1.0, abs=1e-4)
    convs = [layer for layer in j["layers"] if layer["op"] == "conv"]
    assert all(c["gflop_per_s"] == gflops(c["macs"], c["latency_ms"]) for c in convs)
    lat = j["latency"]
    assert (lat["device"], lat["dtype"], lat["batch"], lat["warmup"], lat["repeat"]) == ("cpu", "fp32", 1, 1, 3)
    assert lat["timer"] == "perf_counter_ns"
    e = lat["end_to_end_ms"]
    assert 0 < e["p10"] <= e["p50"] <= e["p90"]
    assert lat["layer_sum_over_end_to_end"] == pytest.approx(lat["layer_sum_ms"] / e["p50"], rel=1e-3)


@needs_torch
def test_collapsed_json_blocks_carry_block_latency():
    # a block instance's time is the sum of its layers' medians; its GFLOP/s is 2 x its MACs / that
    j = run(f"flopcount report inception-reduced --latency {FAST} --collapse --format json").json()
    (block,) = j["blocks"]
    layers = [layer for layer in j["layers"] if layer.get("group") == "inception"]
    assert block["latency_ms"] == pytest.approx(sum(layer["latency_ms"] for layer in layers), abs=1e-5)
    assert block["gflop_per_s"] == gflops(block["macs"], block["latency_ms"])


@needs_torch
def test_report_latency_table_bf16_channels_last():
    r = run(f"flopcount report bottleneck-reduced --latency {FAST} --dtype bf16 --channels-last --width 200")
    assert r.code == 0, r.err
    header = next(line for line in r.out.splitlines() if "layer" in line and "MACs" in line)
    assert "ms" in header and "% time" in header and "GFLOP/s" in header
    assert "bf16, batch 1, 3 passes after 1 warm-up" in r.out.replace("\n", " ")


@needs_torch
def test_compare_latency_speedup():
    j = run(f"flopcount compare bottleneck-naive bottleneck-reduced --latency {FAST} --format json").json()
    first, second = j["models"]
    assert first["ratio"]["speedup"] == 1.0
    assert second["ratio"]["speedup"] == pytest.approx(first["totals"]["latency_ms"] / second["totals"]["latency_ms"])
    table = run(f"flopcount compare bottleneck-naive bottleneck-reduced --latency {FAST} --width 200").out
    # MACs 112,896,000 / 5,268,480 = 21.43x (README); the measured figure follows it
    assert "MACs predict a 21.43x speed-up; measured" in table


@needs_torch
def test_device_cuda_without_cuda_exit_4():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    r = run("flopcount report head-gap --latency --device cuda")
    assert r.code == 4 and "--device cuda" in r.err and "--device cpu" in r.err


@needs_torch
def test_cuda_graph_needs_cuda():
    r = run("flopcount report head-gap --latency --device cpu --cuda-graph")
    assert r.code == 2 and "--cuda-graph needs a CUDA device" in r.err


@needs_torch
def test_out_of_memory_names_the_batch(monkeypatch):
    """Simulated: the module raises CUDA's out-of-memory error on its first pass."""
    import torch

    from flopcount.torch_build import SpecModel

    def oom(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(SpecModel, "forward", oom)
    r = run(f"flopcount report head-gap --latency {FAST} --batch 64")
    assert r.code == 4
    assert "out of memory on cpu at batch 64" in r.err and "--batch 32" in r.err
