"""Latency: the protocol with fake clocks, CUDA's rules with a fake CUDA runtime (tests/fake_cuda.py,
no GPU needed), then `--latency --device cpu` end to end on small configs. No test asserts a speed.

Each fault of issue 15 has a test here that fails on the code before it (flopcount/latency.py at
commit 9757c99); the comment `old:` in each says what the old code did."""

import importlib.util
import re

import pytest

from flopcount import latency
from flopcount.latency import Options, Pass, Plan, drive, percentile, relative_iqr, spread

from conftest import run
from fake_cuda import CAPTURING, NOT_READY, FakeClock, FakeCuda, FakeNet

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: pip install -e '.[test,torch]' (.ci/run installs it)",
)


# ------------------------------------------------------------------ statistics
def test_percentile_is_linear_interpolation():
    # numpy.percentile([1..10], q): rank (10 - 1) * q / 100 -> p10 = 1 + 0.9 = 1.9, p50 = 5.5, p90 = 9.1
    values = list(range(10, 0, -1))
    assert percentile(values, 10) == pytest.approx(1.9)
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 90) == pytest.approx(9.1)


def test_spread_fields():
    # [1..10]: p25 = 1 + 9 * 0.25 = 3.25, p75 = 1 + 9 * 0.75 = 7.75, IQR = 4.5; IQR / median = 4.5 / 5.5
    s = spread(range(1, 11))
    assert (s.count, s.min, s.max) == (10, 1, 10)
    assert (s.p10, s.p50, s.p90, s.iqr) == pytest.approx((1.9, 5.5, 9.1, 4.5))
    assert relative_iqr(range(1, 11)) == pytest.approx(4.5 / 5.5)


# ------------------------------------------------------------------ the protocol, with a fake clock
def _kinds(clock, ms):
    """Two kinds of pass (marked, plain) that each take ``ms(i)`` ms of the fake clock, i counting
    every pass of either kind."""
    count = [0]

    def one():
        t = ms(count[0])
        count[0] += 1
        clock.host(t)
        return Pass(t, t)

    return {"marked": one, "plain": one}


def test_budgets_as_do_bench(monkeypatch):
    # old: a fixed count (10 warm-up and 50 measured passes of each kind), no time budget: there was
    # no drive() or Plan to import.
    clock = FakeClock().install(monkeypatch)
    run_ = drive(_kinds(clock, lambda i: 1.0), Plan(warmup_ms=25, measure_ms=100))
    # warm-up: rounds of 2 passes x 1 ms; the 13th ends at 26 ms >= 25 (after 12: 24 ms, go on)
    assert (run_.warmup_count, run_.warmup_ms) == (13, 26.0)
    # measured: 2 ms a round; spread 0 < 10% from the start, so it stops as soon as the 100 ms
    # budget is met: after round 50
    assert [len(v) for v in run_.passes.values()] == [50, 50]
    assert run_.stopped_early and run_.measure_ms == 100.0


def test_noisy_measurement_runs_to_the_cap(monkeypatch):
    clock = FakeClock().install(monkeypatch)
    # passes alternate 1 and 3 ms, so each kind sees both: IQR / median = 2 / 2 = 100%, never
    # under 10%; a round is 1 + 3 = 4 ms, so the 300 ms cap is met after round 75
    run_ = drive(_kinds(clock, lambda i: 1.0 if i % 2 == 0 else 3.0), Plan(measure_ms=100, max_ms=300))
    assert [len(v) for v in run_.passes.values()] == [75, 75]
    assert not run_.stopped_early


def test_slow_model_keeps_minimum_counts(monkeypatch):
    clock = FakeClock().install(monkeypatch)
    # 1 s a pass: the budgets are met by the first round; the minimum counts decide: one warm-up
    # round (CPU), then MIN_PASSES = 5 measured rounds before the spread may stop it
    run_ = drive(_kinds(clock, lambda i: 1000.0), Plan(min_warmup=1))
    assert run_.warmup_count == 1 and [len(v) for v in run_.passes.values()] == [5, 5] and run_.stopped_early
    # a 2.5 s cap stops it after FLOOR_PASSES = 3 rounds (6 s), spread or not
    run_ = drive(_kinds(clock, lambda i: 1000.0), Plan(min_warmup=1, max_ms=2500))
    assert [len(v) for v in run_.passes.values()] == [3, 3] and not run_.stopped_early


def test_rounds_alternate_abba(monkeypatch):
    clock = FakeClock().install(monkeypatch)
    order = []

    def kind(name):
        def one():
            order.append(name)
            clock.host(1.0)
            return Pass(1.0, 1.0)

        return one

    drive({"marked": kind("m"), "plain": kind("p")}, Plan(warmup_ms=0, min_warmup=0, measure_ms=0, min_passes=4))
    assert "".join(order) == "mppmmppm"


# ------------------------------------------------------------------ time_module on fake devices
def _time(torch, net, device="cpu", **kw):
    opts = Options(device=device, progress=False, **kw)
    return latency.time_module(torch, net, torch.zeros(2, 1), device, opts)


@needs_torch
def test_marks_cost_and_aggregation_bias_are_separate(monkeypatch):
    # old: per-layer sum / end to end, one number read as "what the events cost"; here, with marks
    # that cost nothing, it read 0.25. Now marks_cost = 1 and the 0.25 is named aggregation bias.
    import torch

    clock = FakeClock().install(monkeypatch)
    # three layers, one of them slow (10 ms, the others 1 ms) in turn: every pass takes 12 ms, but
    # each layer is slow in only a third of the passes, so its median is 1 ms: sum of medians 3 ms
    net = FakeNet(clock, lambda i: [(0, 10.0 if k == i % 3 else 1.0) for k in range(3)])
    r = _time(torch, net)
    assert r.end_to_end.p50 == 12.0 and r.marked.p50 == 12.0
    assert r.marks_cost == 1.0
    assert r.layer_sum_ms == 3.0 and r.aggregation_bias == pytest.approx(3.0 / 12.0)


@needs_torch
def test_interleaving_cancels_drift(monkeypatch):
    # old: all marked passes, then all plain ones: with a machine slowing down 1% a pass, the plain
    # series came out ~50% slower than the marked one (50 passes later) and the ratio said so.
    import torch

    clock = FakeClock().install(monkeypatch)
    net = FakeNet(clock, lambda i: [(0, 0.5 * (1 + 0.01 * i)), (0, 0.5 * (1 + 0.01 * i))])
    r = _time(torch, net, measure_ms=100, max_ms=200)  # a drift this steep never gets under 10%: the cap
    # ABBA rounds: marked passes are 0, 3, 4, 7, 8, ... and plain ones 1, 2, 5, 6, ... (after the
    # warm-up): the two medians are at most one pass's drift (1%) apart
    assert r.end_to_end.count == r.marked.count >= 5
    assert abs(r.marks_cost - 1) <= 0.011


@needs_torch
def test_fake_cuda_enforces_cudas_rules(monkeypatch):
    """The fake must refuse what CUDA refuses, or the tests below could not fail."""
    import torch

    rt = FakeCuda(clock="fake").install(monkeypatch)
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    rt.launch(1.0)
    b.record()
    with pytest.raises(RuntimeError, match=NOT_READY):
        a.elapsed_time(b)  # recorded, not completed
    b.synchronize()
    assert a.elapsed_time(b) == 1.0
    g = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="previous error during capture") as info:
        with torch.cuda.graph(g):
            torch.cuda.Event(enable_timing=True).record()
    assert CAPTURING in str(info.value.__context__)


@needs_torch
def test_cuda_protocol_follows_the_rules(monkeypatch):
    # one synchronise per timed pass, on its last event; events on the current stream; graph
    # captured on a side stream with no event, no synchronise inside; elapsed_time only after
    # (the fake raises otherwise)
    import torch

    rt = FakeCuda(clock="fake").install(monkeypatch)
    net = FakeNet(rt, [(0.01, 1.0), (0.01, 2.0)])
    r = _time(torch, net, "cuda", cuda_graph=True)
    assert r.timer == "cuda-events" and r.threads is None and r.device_name == "Fake H200"
    assert rt.created == 3 + 2 + 0  # marked timer (3 points), plain timer (2): made once, reused
    assert not [e for e in rt.log if e[0] == "refused"]
    records = [e for e in rt.log if e[0] == "record"]
    assert {e[1] for e in records} == {"default"}
    begin = rt.log.index(next(e for e in rt.log if e[0] == "capture_begin"))
    end = rt.log.index(next(e for e in rt.log if e[0] == "capture_end"))
    assert all(e[0] == "captured" for e in rt.log[begin + 1 : end])
    # device times: each layer's kernel (GPU-bound: 1 ms after 0.01 ms of dispatch, then 2 ms queued
    # behind it); a pass 3.01 ms; the graph replays its 3 ms of captured work
    assert [layer.device.p50 for layer in r.layers] == pytest.approx([1.01, 2.0])
    assert r.end_to_end.p50 == pytest.approx(3.01) and r.cuda_graph.p50 == pytest.approx(3.0)
    # per timed pass: its records, then one sync on its last event
    passes = r.end_to_end.count + r.marked.count + r.cuda_graph.count
    syncs = [e for e in rt.log if e[0] == "sync" and len(e) == 3]
    assert len(syncs) == passes + r.warmup_count * 3


@needs_torch
def test_launch_bound_layers_and_passes(monkeypatch):
    # old: no host time, no flag: batch-1 per-layer times on a fast GPU silently measured Python
    import torch

    rt = FakeCuda(clock="fake").install(monkeypatch)
    # 20 small layers: 50 us to dispatch, 10 us of kernel: the GPU waits for the host
    small = _time(torch, FakeNet(rt, [(0.05, 0.01)] * 20), "cuda")
    # layer 1's gap also holds its kernel (0.05 + 0.01 ms: 0.05 < 0.9 x 0.06, not flagged); from
    # layer 2 on, each gap is the host's 0.05 ms: the device only waits
    assert small.launch_bound and all(layer.launch_bound for layer in small.layers[1:])
    assert small.layers[5].host_ms == pytest.approx(0.05) and small.layers[5].device.p50 == pytest.approx(0.05)
    # one 5 ms kernel after them: the host runs ahead, the device time is the kernel's
    big = _time(torch, FakeNet(rt, [(0.05, 0.01)] * 20 + [(0.05, 5.0)]), "cuda")
    assert not big.launch_bound and not big.layers[-1].launch_bound
    assert big.layers[-1].device.p50 == pytest.approx(5.0, rel=0.01)


@needs_torch
def test_runs_report_their_spread(monkeypatch):
    import torch

    clock = FakeClock().install(monkeypatch)
    state = {"ms": 2.0}

    def layers(i):
        return [(0, state["ms"])]

    net = FakeNet(clock, layers)
    orig = latency.drive

    def drive_then_slow_down(*a, **k):
        out = orig(*a, **k)
        state["ms"] = 2.2  # the second run is 10% slower
        return out

    monkeypatch.setattr(latency, "drive", drive_then_slow_down)
    r = _time(torch, net, runs=2)
    # run-to-run spread = (max - min) / median of the runs' medians = 0.2 / 2.1
    assert r.runs == pytest.approx((2.0, 2.2)) and r.run_spread == pytest.approx(0.2 / 2.1)


@needs_torch
def test_flush_l2_before_each_timed_pass_outside_its_events(monkeypatch):
    import torch

    rt = FakeCuda(clock="fake", l2_bytes=4096).install(monkeypatch)
    monkeypatch.setattr(latency, "FLUSH_BYTES", 1024)
    made = {}
    real = latency._l2_flusher

    def logged(torch_):
        flush = real(torch_)
        made["bytes"] = flush.__self__.numel()

        def f():
            rt.log.append(("flush",))
            flush()

        return f

    monkeypatch.setattr(latency, "_l2_flusher", logged)
    r = _time(torch, FakeNet(rt, [(0.01, 1.0)]), "cuda", flush_l2=True)
    assert r.flush_l2 and made["bytes"] == 2 * 4096  # twice the L2, more than the (patched) 1 KiB floor
    kinds = [e[0] for e in rt.log if e[0] in ("flush", "record", "sync")]
    # every pass: flush, then its records, then its sync; never a flush between two records of a pass
    text = "".join({"flush": "F", "record": "R", "sync": "S"}[k] for k in kinds)
    assert text.replace("FRRRS", "").replace("FRRS", "") == ""


# ------------------------------------------------------------------ faults through the CLI
@pytest.fixture
def threads_back():
    """The torch thread count of before the test, put back after it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@needs_torch
@pytest.mark.parametrize(
    "message",
    [
        "CUDA error: no kernel image is available for execution on the device",
        "CUDA error: all CUDA-capable devices are busy or unavailable",
        "CUDA driver initialization failed, you might not have a CUDA gpu.",
        "cuDNN error: CUDNN_STATUS_NOT_INITIALIZED",
        "CUDA error: an illegal memory access was encountered",
    ],
)
@pytest.mark.parametrize("where", ["forward", "synchronize", "init"])
def test_cuda_errors_exit_4_with_first_line_and_hint(monkeypatch, message, where):
    # old: every one of these was "internal error ... a bug in flopcount", exit 5
    from flopcount.torch_build import SpecModel

    rt = FakeCuda().install(monkeypatch)
    text = message + "\nCUDA kernel errors might be asynchronously reported at some other API call"
    if where == "forward":

        def broken(self, x):
            raise RuntimeError(text)

        monkeypatch.setattr(SpecModel, "forward", broken)
    else:
        rt.fail(where, text, times=10**6)  # CUDA's errors are sticky: every later call fails too
    r = run("flopcount report head-gap --latency --device cuda --measure-ms 1")
    assert r.code == 4, r.err
    assert message in r.err and "asynchronously reported" not in r.err
    assert "CUDA_VISIBLE_DEVICES" in r.err and "--device cpu" in r.err
    if "no kernel image" in message:
        assert "torch build" in r.err and "sm_90" in r.err


@needs_torch
@pytest.mark.parametrize(
    "message",
    [
        "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
    ],
)
def test_library_alloc_failures_read_as_out_of_memory(monkeypatch, message):
    # old: not recognised as out of memory: exit 5
    from flopcount.torch_build import SpecModel

    FakeCuda().install(monkeypatch)

    def broken(self, x):
        raise RuntimeError(message)

    monkeypatch.setattr(SpecModel, "forward", broken)
    r = run("flopcount report head-gap --latency --device cuda --batch 8")
    assert r.code == 4 and "out of memory on cuda at batch 8" in r.err and "--batch 4" in r.err, r.err


@needs_torch
def test_out_of_memory_during_graph_capture(monkeypatch):
    # old: the capture's end raises its own CUDA error, during the OOM; only that one was looked at,
    # so it was not memory: exit 5
    import torch

    from flopcount.torch_build import SpecModel

    rt = FakeCuda().install(monkeypatch)
    forward = SpecModel.forward

    def oom_in_capture(self, x):
        if rt.capturing is not None:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return forward(self, x)

    monkeypatch.setattr(SpecModel, "forward", oom_in_capture)
    r = run("flopcount report head-gap --latency --device cuda --cuda-graph --batch 2")
    assert r.code == 4, r.err
    assert "out of memory on cuda at batch 2 (CUDA out of memory. Tried to allocate 20.00 MiB)" in r.err


@needs_torch
def test_out_of_memory_names_the_batch(monkeypatch):
    """Simulated: the module raises CUDA's out-of-memory error on its first pass."""
    import torch

    from flopcount.torch_build import SpecModel

    def oom(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(SpecModel, "forward", oom)
    r = run("flopcount report head-gap --latency --device cpu --batch 64")
    assert r.code == 4
    assert "out of memory on cpu at batch 64" in r.err and "--batch 32" in r.err


@needs_torch
@pytest.mark.parametrize(
    "line",
    [
        "report head-gap --latency --device cpu --batch 4611686018427387904",  # 2**62
        "report head-gap --latency --device cpu --input 4611686018427387904",
        "report vgg-D --latency --device cpu --input 65536 --batch 65536",
        "report vgg-D --latency --device cpu --input 4611686018427387904",  # fc weights over 2**63: TypeError
    ],
)
def test_sizes_that_cannot_fit_exit_4_before_allocating(line):
    # old: RuntimeError "Storage size calculation overflowed" -> exit 5 (issue 11, section 4)
    r = run(f"flopcount {line}")
    assert r.code == 4, r.err
    assert "out of memory on cpu" in r.err and "before allocating" in r.err


@needs_torch
def test_model_too_large_to_allocate_exit_4(write_spec):
    # 2**20 x 2**20 fc weights = 2**40 params x 4 bytes = 4 TiB: refused before anything is allocated
    # (old: the CPU allocator over-commits: torch began to allocate and initialise 4 TiB)
    spec = write_spec(
        "flopcount: 1\nname: huge\ninput: [1048576, 1, 1]\nlayers:\n  - flatten\n  - {op: fc, name: fc, c: 1048576}\n"
    )
    r = run(f"flopcount report {spec} --latency --device cpu")
    assert r.code == 4, r.err
    assert "out of memory on cpu at batch 1" in r.err and "does not fit even at batch 1" in r.err


@needs_torch
def test_global_torch_flags_restored(monkeypatch, threads_back):
    # old: cudnn.benchmark and the TF32 flags were left as the measurement set them; threads unset
    import torch

    b = torch.backends
    monkeypatch.setattr(b.cudnn, "benchmark", False)
    torch.set_num_threads(2)

    def snap():
        return (
            b.cudnn.benchmark,
            b.cuda.matmul.allow_tf32,
            b.cudnn.allow_tf32,
            torch.get_float32_matmul_precision(),
            getattr(b.cuda.matmul, "fp32_precision", None),
            getattr(b.cudnn, "fp32_precision", None),
            torch.get_num_threads(),
        )

    before = snap()
    for dtype in ("tf32", "fp32"):
        r = run(
            f"flopcount report head-gap --latency --device cpu --dtype {dtype} --measure-ms 1 --max-ms 100 --threads 1"
        )
        assert r.code == 0, r.err
        assert snap() == before
    from flopcount.torch_build import SpecModel

    def boom(self, x):
        raise torch.OutOfMemoryError("out of memory")

    monkeypatch.setattr(SpecModel, "forward", boom)
    assert run("flopcount report head-gap --latency --device cpu --dtype tf32 --max-ms 100").code == 4
    assert snap() == before  # restored on the way out of an error too


@needs_torch
def test_inputs_made_in_the_target_dtype(monkeypatch):
    # old: torch.randn(...) in fp32, then .to(bf16): twice the input's memory at its peak
    import torch

    calls = []
    randn = torch.randn

    def spy(*a, **k):
        calls.append(k.get("dtype"))
        return randn(*a, **k)

    monkeypatch.setattr(torch, "randn", spy)
    from flopcount.catalog import load_graph

    model, x = latency.prepare(torch, load_graph("bottleneck-reduced"), "cpu", Options(dtype="bf16"))
    assert calls == [torch.bfloat16] and x.dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.bfloat16


@needs_torch
@pytest.mark.parametrize("warmup", ["--warmup-ms 0 --measure-ms 1 --max-ms 100", "--warmup 0 --repeat 1"])
def test_no_warmup_on_cuda_says_it_includes_autotuning(monkeypatch, warmup):
    # old: --warmup 0 timed cuDNN's autotuning as if it were the model, and said nothing. Issue 15
    # allows refusing it or saying so; it is measured and noted (the acceptance script's CUDA
    # out-of-memory check runs --warmup 0 --repeat 1 and must reach the out-of-memory error)
    FakeCuda().install(monkeypatch)
    r = run(f"flopcount report head-gap --latency --device cuda {warmup} --format json")
    assert r.code == 0, r.err
    assert r.json()["latency"]["warmup"] == 0
    assert "note: no warm-up on CUDA" in r.err and "autotuning" in r.err
    r = run("flopcount report head-gap --latency --device cuda --warmup 1 --repeat 1 --format json")
    assert r.code == 0 and r.err == ""  # with a warm-up: no note
    r = run(f"flopcount report head-gap --latency --device cpu {warmup}")
    assert r.code == 0 and "autotuning" not in r.err  # the CPU has no autotuning to include


# ------------------------------------------------------------------ counts beside the budgets
def test_counts_replace_the_budgets(monkeypatch):
    clock = FakeClock().install(monkeypatch)
    # the budgets alone give 13 warm-up rounds and 50 measured ones here (test_budgets_as_do_bench);
    # counts give exactly what they say, whatever the time or the spread
    run_ = drive(_kinds(clock, lambda i: 1.0), Plan(warmup_ms=25, measure_ms=100, warmup_count=3, measure_count=7))
    assert run_.warmup_count == 3 and [len(v) for v in run_.passes.values()] == [7, 7]
    assert not run_.stopped_early  # a fixed count never stops early
    # a count replaces only its own phase: warm-up by count, measurement by budget (50 rounds)
    run_ = drive(_kinds(clock, lambda i: 1.0), Plan(warmup_ms=25, measure_ms=100, warmup_count=0))
    assert run_.warmup_count == 0 and [len(v) for v in run_.passes.values()] == [50, 50] and run_.stopped_early
    # and the other way round: 13 warm-up rounds (budget), 2 measured (count, under MIN_PASSES)
    run_ = drive(_kinds(clock, lambda i: 1.0), Plan(warmup_ms=25, measure_ms=100, measure_count=2))
    assert run_.warmup_count == 13 and [len(v) for v in run_.passes.values()] == [2, 2]


@needs_torch
def test_options_take_warmup_and_repeat_counts_by_position(monkeypatch):
    # the interface of before issue 15: Options(device, dtype, warmup, repeat, ...), counts
    import torch

    FakeClock().install(monkeypatch)
    opts = Options("cpu", "fp32", 2, 4, progress=False)
    assert (opts.device, opts.dtype, opts.warmup, opts.repeat) == ("cpu", "fp32", 2, 4)
    net = FakeNet(latency.host_clock, [(0, 1.0), (0, 2.0)])
    r = latency.time_module(torch, net, torch.zeros(2, 1), "cpu", opts)
    # 2 warm-up rounds + 4 measured, each a marked and a plain pass: 12 calls of the module
    assert r.warmup_count == 2 and r.end_to_end.count == r.marked.count == 4 and net.passes == 12


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"warmup": 2, "warmup_ms": 5.0}, "--warmup N (a count) and --warmup-ms"),
        ({"repeat": 3, "measure_ms": 5.0}, "--repeat N (a count) and --measure-ms / --max-ms"),
        ({"repeat": 3, "max_ms": 50.0}, "--repeat N (a count) and --measure-ms / --max-ms"),
        ({"repeat": 0}, "--repeat must be a count of at least 1"),
        ({"warmup": -1}, "--warmup must be a count of at least 0"),
    ],
)
def test_a_count_and_a_budget_for_the_same_phase_are_refused(kw, message):
    from flopcount.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(message)):
        latency.check_options(Options(device="cpu", **kw), "cpu")


@needs_torch
def test_measurement_reads_as_the_mapping_of_before(monkeypatch):
    # ../shared/tools/gpu-acceptance.py reads time_module's result as the dict it was before issue 15
    import torch

    from flopcount.records import LatencyResult

    clock = FakeClock().install(monkeypatch)
    # the three-layer net of test_marks_cost_and_aggregation_bias_are_separate: every pass 12 ms,
    # each layer's median 1 ms: sum 3 ms, sum / end to end 3 / 12
    net = FakeNet(clock, lambda i: [(0, 10.0 if k == i % 3 else 1.0) for k in range(3)])
    m = _time(torch, net)
    assert isinstance(m, LatencyResult) and m._asdict().keys() == set(LatencyResult._fields)
    assert m[0] == "cpu" and len(m) == len(LatencyResult._fields)  # still the record (a tuple)
    assert m["names"] == ["l0", "l1", "l2"] and m["layer_ms"] == [1.0, 1.0, 1.0]
    assert m["end_to_end_ms"]["p50"] == 12.0 and m["end_to_end_ms"] == m.end_to_end._asdict()
    assert m["layer_sum_ms"] == 3.0 and m["layer_sum_over_end_to_end"] == pytest.approx(0.25)
    assert (m["device"], m["timer"], m["torch"]) == ("cpu", "perf_counter_ns", torch.__version__)
    assert "cuda_graph_ms" not in m and m.get("cuda_graph_ms") is None and "names" in m
    assert set(m.keys()) == {
        "names", "layer_ms", "end_to_end_ms", "layer_sum_ms", "layer_sum_over_end_to_end",
        "device", "device_name", "timer", "torch",
    }  # fmt: skip
    with pytest.raises(TypeError):
        m.legacy()["layer_sum_ms"] = 0.0  # read-only
    with pytest.raises(KeyError):
        m["no such key"]


@needs_torch
def test_acceptance_scripts_event_counts_on_fake_cuda(monkeypatch):
    # gpu-acceptance.py's events check, with --cuda-graph, W = 3 warm-up and R = 5 measured:
    # records = (W + R) x (n + 1) (marked passes) + 2 x (W + R) x 2 (plain and graph passes),
    # one event synchronise per pass: 3 x (W + R)
    import torch

    rt = FakeCuda(clock="fake").install(monkeypatch)
    W, R, n = 3, 5, 2
    net = FakeNet(rt, [(0.01, 1.0), (0.01, 2.0)])
    m = latency.time_module(
        torch, net, torch.zeros(2, 1), "cuda", Options("cuda", "fp32", W, R, cuda_graph=True, progress=False)
    )
    assert len([e for e in rt.log if e[0] == "record"]) == (W + R) * (n + 1) + 2 * (W + R) * 2
    assert len([e for e in rt.log if e[0] == "sync" and len(e) == 3]) == 3 * (W + R)
    assert "cuda_graph_ms" in m and m["cuda_graph_ms"]["p50"] == pytest.approx(3.0)
    assert m["timer"] == "cuda-events" and len(m["names"]) == n


@needs_torch
def test_timers_as_the_acceptance_script_uses_them(monkeypatch):
    # CudaEventTimer(marks) (the events from torch.cuda) and CpuTimer(); finish() -> the gaps
    import torch

    rt = FakeCuda(clock="fake").install(monkeypatch)
    t = latency.CudaEventTimer(3)
    t.start()
    for ms in (0.0, 1.0, 2.0):
        rt.launch(ms)
        t.mark()
    assert t.finish() == pytest.approx([1.0, 2.0]) and t.host() == [0.0, 0.0]  # the host issued at once
    assert rt.created == 3 and torch.cuda.Event is not None
    clock = FakeClock()
    c = latency.CpuTimer(clock)
    c.start()
    for ms in (0.0, 1.5, 0.5):
        clock.host(ms)
        c.mark()
    assert c.finish() == pytest.approx([1.5, 0.5]) == c.host() and sum(c.finish()) == pytest.approx(2.0)


@needs_torch
def test_cli_warmup_and_repeat_counts():
    r = run("flopcount report head-gap --latency --device cpu --warmup 2 --repeat 3 --format json")
    assert r.code == 0, r.err
    lat = r.json()["latency"]
    assert (lat["warmup"], lat["repeat"], lat["end_to_end_ms"]["count"], lat["marked_ms"]["count"]) == (2, 3, 3, 3)
    assert lat["stopped_early"] is False and lat["timer"] == "perf_counter_ns"
    r = run("flopcount report head-gap --latency --device cpu --warmup 2 --warmup-ms 5")
    assert r.code == 2 and "give one" in r.err
    r = run("flopcount report head-gap --latency --device cpu --repeat 0")
    assert r.code == 2


@needs_torch
def test_threads_set_recorded_and_restored(threads_back):
    # old: no --threads (exit 2); torch's default thread count, not recorded
    import torch

    torch.set_num_threads(2)
    r = run("flopcount report head-gap --latency --device cpu --threads 1 --measure-ms 1 --max-ms 100 --format json")
    assert r.code == 0, r.err
    assert r.json()["latency"]["threads"] == 1 and torch.get_num_threads() == 2
    r = run("flopcount report head-gap --latency --device cpu --measure-ms 1 --max-ms 100 --format json")
    assert r.json()["latency"]["threads"] == latency.DEFAULT_THREADS


@needs_torch
@pytest.mark.parametrize("opt", ["--cuda-graph", "--flush-l2"])
def test_cuda_only_options_refused_on_cpu(opt):
    r = run(f"flopcount report head-gap --latency --device cpu {opt}")
    assert r.code == 2 and f"{opt} needs a CUDA device" in r.err


@needs_torch
def test_threads_refused_on_cuda(monkeypatch):
    FakeCuda().install(monkeypatch)
    r = run("flopcount report head-gap --latency --device cuda --threads 2")
    assert r.code == 2 and "--device cpu" in r.err


@needs_torch
def test_latency_options_need_latency():
    r = run("flopcount report head-gap --runs 3")
    assert r.code == 2 and "--runs only applies with --latency" in r.err
    r = run("flopcount report head-gap --warmup 3 --repeat 5")
    assert r.code == 2 and "--warmup, --repeat only apply with --latency" in r.err


@needs_torch
def test_real_module_on_fake_cuda_end_to_end(monkeypatch):
    FakeCuda().install(monkeypatch)
    r = run(
        "flopcount report inception-reduced --latency --device cuda --cuda-graph --measure-ms 5 --max-ms 300 "
        "--format json"
    )
    assert r.code == 0, r.err
    lat = r.json()["latency"]
    assert lat["device"] == "cuda" and lat["timer"] == "cuda-events" and lat["threads"] is None
    assert lat["cuda_graph_ms"]["count"] >= latency.FLOOR_PASSES  # the 300 ms cap may stop it at the floor


# ------------------------------------------------------------------ --latency --device cpu, real
FAST = "--device cpu --measure-ms 1 --warmup-ms 1 --max-ms 300"


@needs_torch
def test_report_latency_cpu_json():
    r = run(f"flopcount report inception-reduced --latency {FAST} --format json")
    assert r.code == 0, r.err
    assert r.err == ""  # no progress line with --format json
    j = r.json()
    assert all(layer["latency_ms"] > 0 for layer in j["layers"])
    assert j["totals"]["latency_ms"] > 0
    assert sum(layer["latency_share"] for layer in j["layers"]) == pytest.approx(1.0, abs=1e-4)
    lat = j["latency"]
    assert (lat["device"], lat["dtype"], lat["batch"], lat["threads"]) == ("cpu", "fp32", 1, 1)
    assert lat["timer"] == "perf_counter_ns"
    e = lat["end_to_end_ms"]
    assert e["count"] >= latency.FLOOR_PASSES and 0 < e["p10"] <= e["p50"] <= e["p90"] and e["iqr"] >= 0
    assert lat["marks_cost"] == pytest.approx(lat["marked_ms"]["p50"] / e["p50"], rel=1e-3)
    assert lat["aggregation_bias"] == pytest.approx(lat["layer_sum_ms"] / lat["marked_ms"]["p50"], rel=1e-3)
    assert lat["launch_bound"] is False and lat["runs"] and lat["run_spread"] is None


@needs_torch
def test_report_latency_table_bf16_channels_last():
    r = run(f"flopcount report bottleneck-reduced --latency {FAST} --dtype bf16 --channels-last --width 200")
    assert r.code == 0, r.err
    header = next(line for line in r.out.splitlines() if "layer" in line and "MACs" in line)
    assert "ms" in header and "% time" in header and "GFLOP/s" in header
    assert "bf16, batch 1" in r.out.replace("\n", " ")


@needs_torch
def test_compare_latency_speedup():
    j = run(f"flopcount compare bottleneck-naive bottleneck-reduced --latency {FAST} --format json").json()
    first, second = j["models"]
    assert first["ratio"]["speedup"] == 1.0
    assert second["ratio"]["speedup"] == pytest.approx(
        first["totals"]["latency_ms"] / second["totals"]["latency_ms"], rel=1e-4
    )
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
def test_block_latency_and_speedups_read_report_latency():
    from flopcount.api import analyze

    rep = analyze("inception-reduced")
    latency.attach(rep, Options(device="cpu", measure_ms=1, warmup_ms=1, max_ms=300, progress=False))
    (block,) = latency.block_latency(rep).values()
    assert block["latency_ms"] == pytest.approx(rep.latency.layer_sum_ms)  # every layer is in the block
    assert latency.speedups([rep, rep]) == [1.0, 1.0]
