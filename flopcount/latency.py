"""Measured latency of a spec's module, per layer and end to end (``--latency``).

Method (the same on both devices, only the timer differs):

* Per layer: whole forward passes with a time point recorded before the first layer and after
  each layer (``SpecModel._mark``). On CUDA each point is a ``torch.cuda.Event(enable_timing=True)``
  recorded in the stream: no host synchronisation inside a pass, one ``synchronize`` per pass
  on its last event. On the CPU each point is ``time.perf_counter_ns()`` (CPU ops are
  synchronous). A layer's time is the median over passes of the gap between its two points.
* End to end: separate passes with only two time points (no per-layer events), median and
  p10/p50/p90 over passes. The per-layer sum over the end-to-end median is reported: above 1
  means the per-layer events themselves cost time (or break overlap).
* ``--warmup N`` passes run before each measured series and are discarded. Inputs are random
  normal, never zeros; ``torch.inference_mode``; ``cudnn.benchmark`` on.
* ``--cuda-graph``: the end-to-end passes are also replayed from a captured CUDA graph, which
  shows the kernel launch overhead.

torch is imported inside the functions: the timers and the bookkeeping (``collect``,
``summarize``) run without it, so their logic is unit-tested on the CPU with fake clocks.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from .errors import EnvironmentProblem, UsageError

DTYPES = ("fp32", "tf32", "fp16", "bf16")  # tf32: fp32 storage, TF32 tensor-core math (CUDA)


# ---------------------------------------------------------------------------- timers
class CpuTimer:
    """Time points from ``time.perf_counter_ns`` (integer nanoseconds)."""

    kind = "perf_counter_ns"

    def __init__(self, clock=time.perf_counter_ns):
        self._clock = clock
        self._points: list = []

    def start(self) -> None:
        self._points = []

    def mark(self) -> None:
        self._points.append(self._clock())

    def finish(self) -> list:
        """Milliseconds between consecutive points of the pass."""
        p = self._points
        return [(b - a) / 1e6 for a, b in zip(p, p[1:])]


class CudaEventTimer:
    """Time points as CUDA events recorded in the current stream; one synchronise per pass.

    ``marks`` events are created once and reused by every pass (a pass reads them only after
    synchronising on its last one). ``event`` makes an event; tests pass a fake.
    """

    kind = "cuda-events"

    def __init__(self, marks: int, event=None):
        if event is None:
            import torch

            def event():
                return torch.cuda.Event(enable_timing=True)
        self._events = [event() for _ in range(marks)]
        self._k = 0

    def start(self) -> None:
        self._k = 0

    def mark(self) -> None:
        self._events[self._k].record()
        self._k += 1

    def finish(self) -> list:
        used = self._events[: self._k]
        if not used:
            return []
        used[-1].synchronize()  # the only host synchronisation of the pass
        return [a.elapsed_time(b) for a, b in zip(used, used[1:])]


# ---------------------------------------------------------------------------- bookkeeping
def percentile(values, q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in [0, 100]."""
    s = sorted(values)
    if not s:
        raise ValueError("no samples")
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class Samples:
    """Raw samples: ``per_layer[i]`` holds layer i's time in every measured pass (ms)."""

    per_layer: list
    end_to_end: list
    graph: list = field(default_factory=list)  # CUDA-graph replays, when asked


def collect(run_pass, timer, e2e_timer, n_layers: int, warmup: int, repeat: int, set_mark,
            graph_replay=None, advance=lambda: None) -> Samples:
    """Drive the passes. ``run_pass()`` runs one forward pass; ``set_mark(fn|None)`` installs
    the per-layer hook. Warm-up passes precede each series and are discarded."""
    per_layer = [[] for _ in range(n_layers)]
    set_mark(timer.mark)
    try:
        for i in range(warmup + repeat):
            timer.start()
            run_pass()
            gaps = timer.finish()
            if len(gaps) != n_layers:
                raise RuntimeError(f"expected {n_layers} layer times in a pass, got {len(gaps)}")
            if i >= warmup:
                for k, g in enumerate(gaps):
                    per_layer[k].append(g)
            advance()
    finally:
        set_mark(None)
    end_to_end = _series(run_pass, e2e_timer, warmup, repeat, advance)
    graph = _series(graph_replay, e2e_timer, warmup, repeat, advance) if graph_replay is not None else []
    return Samples(per_layer, end_to_end, graph)


def _series(fn, timer, warmup, repeat, advance) -> list:
    out = []
    for i in range(warmup + repeat):
        timer.start()
        timer.mark()
        fn()
        timer.mark()
        (gap,) = timer.finish()
        if i >= warmup:
            out.append(gap)
        advance()
    return out


def _dist(values) -> dict:
    return {"p10": percentile(values, 10), "p50": percentile(values, 50), "p90": percentile(values, 90)}


def summarize(s: Samples) -> dict:
    """Medians per layer, p10/p50/p90 end to end, the per-layer sum and its ratio to end-to-end."""
    layer_ms = [statistics.median(v) for v in s.per_layer]
    e2e = _dist(s.end_to_end)
    layer_sum = sum(layer_ms)
    out = {"layer_ms": layer_ms, "end_to_end_ms": e2e, "layer_sum_ms": layer_sum,
           "layer_sum_over_end_to_end": layer_sum / e2e["p50"] if e2e["p50"] > 0 else None}
    if s.graph:
        out["cuda_graph_ms"] = _dist(s.graph)
    return out


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Options:
    device: str = "auto"
    dtype: str = "fp32"
    warmup: int = 10
    repeat: int = 50
    channels_last: bool = False
    cuda_graph: bool = False
    progress: bool = True


def resolve_device(torch, wanted: str) -> str:
    if wanted == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if wanted == "cuda" and not available:
        why = ("this torch build has no CUDA support (torch.version.cuda is None)" if torch.version.cuda is None
               else "torch.cuda.is_available() is False: no GPU is visible (driver, CUDA_VISIBLE_DEVICES?)")
        raise EnvironmentProblem(f"--device cuda: {why}; use --device cpu or --device auto")
    return "cuda" if available else "cpu"


def oom_problem(batch: int, device: str, exc) -> EnvironmentProblem:
    smaller = max(1, batch // 2)
    hint = f"try a smaller batch, e.g. --batch {smaller}" if batch > 1 else "try a smaller --input"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EnvironmentProblem(f"out of memory on {device} at batch {batch} ({first}); {hint}")


def _is_oom(torch, exc) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return (oom and isinstance(exc, oom)) or "out of memory" in str(exc).lower() \
        or "can't allocate memory" in str(exc).lower()


def _device_name(torch, device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    import platform

    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


# ---------------------------------------------------------------------------- measuring
def measure_graph(graph, opts: Options) -> dict:
    """Build the graph's module on the device and time it; returns the summary plus settings."""
    from .torch_build import torch  # EnvironmentProblem (exit 4) with the install command when missing

    device = resolve_device(torch, opts.device)
    if opts.cuda_graph and device != "cuda":
        raise UsageError("--cuda-graph needs a CUDA device (--device cuda or auto on a GPU machine)")
    batch = graph.batch
    try:
        return _measure(torch, graph, device, opts)
    except Exception as exc:  # noqa: BLE001 - only memory errors are translated, the rest re-raised
        if _is_oom(torch, exc):
            if device == "cuda":
                torch.cuda.empty_cache()
            raise oom_problem(batch, device, exc) from None
        raise


def prepare(torch, graph, device: str, opts: Options):
    """The module on ``device`` in the options' dtype and memory format, and a random input."""
    from .torch_build import build_graph

    _set_math(torch, opts.dtype)
    dtype = torch.float32 if opts.dtype == "tf32" else {"fp32": torch.float32, "fp16": torch.float16,
                                                        "bf16": torch.bfloat16}[opts.dtype]
    model = build_graph(graph, device=device).to(dtype=dtype)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn((graph.batch, *graph.input), generator=gen, device=device).to(dtype)  # never zeros
    if opts.channels_last and x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def _set_math(torch, dtype: str) -> None:
    """fp32 means fp32 math: TF32 only when asked (cuDNN convs default to TF32 otherwise)."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = dtype == "tf32"


def _measure(torch, graph, device, opts) -> dict:
    model, x = prepare(torch, graph, device, opts)
    return time_module(torch, model, x, device, opts, f"timing {graph.name} on {device}")


def time_module(torch, model, x, device: str, opts: Options, text: str = "timing") -> dict:
    """Per-layer and end-to-end times of a built SpecModel on input ``x`` (see the module doc)."""
    n = len(model._layer_names)
    if device == "cuda":
        timer, e2e = CudaEventTimer(n + 1), CudaEventTimer(2)
    else:
        timer, e2e = CpuTimer(), CpuTimer()

    def set_mark(fn):
        model._mark = fn

    passes = (opts.warmup + opts.repeat) * (3 if opts.cuda_graph else 2)
    with _progress(opts.progress, text, passes) as advance, torch.inference_mode():
        def run_pass():
            model(x)

        replay = _cuda_graph(torch, model, x) if opts.cuda_graph else None
        samples = collect(run_pass, timer, e2e, n, opts.warmup, opts.repeat, set_mark, replay, advance)
    summary = summarize(samples)
    summary.update({"names": list(model._layer_names), "device": device, "device_name": _device_name(torch, device),
                    "timer": timer.kind, "torch": torch.__version__})
    return summary


def _cuda_graph(torch, model, x):
    """Capture one forward pass into a CUDA graph; returns its replay function."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(stream)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        model(x)
    return g.replay


class _progress:
    """A rich progress bar on stderr (nothing when disabled, e.g. with --format json)."""

    def __init__(self, enabled: bool, text: str, total: int):
        self.enabled, self.text, self.total = enabled, text, total
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        task = self._bar.add_task(self.text, total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False


# ---------------------------------------------------------------------------- into the report
def attach(report, opts: Options) -> None:
    """Measure ``report``'s model and add the latency fields to its rows, totals and top level.

    Per layer: ``latency_ms`` (median), ``latency_share`` (of the per-layer sum), ``gflop_per_s``
    (2 x MACs / time; null for layers without MACs). Totals: ``latency_ms`` (end-to-end median)
    and ``gflop_per_s``. Top level: ``latency`` (device, dtype, batch, warmup, repeat,
    end-to-end p10/p50/p90, per-layer sum and its ratio).
    """
    m = measure_graph(report.graph, opts)
    by_name = dict(zip(m["names"], m["layer_ms"]))
    layer_sum = m["layer_sum_ms"]
    for row in report.rows:
        ms = by_name.get(row.name)
        if ms is None:
            continue
        row.extra["latency_ms"] = round(ms, 6)
        row.extra["latency_share"] = round(ms / layer_sum, 6) if layer_sum > 0 else None
        row.extra["gflop_per_s"] = gflops(row.macs, ms)
    e2e = m["end_to_end_ms"]["p50"]
    report.totals_extra["latency_ms"] = round(e2e, 6)
    report.totals_extra["gflop_per_s"] = gflops(report.totals["macs"], e2e)
    lat = {"device": m["device"], "device_name": m["device_name"], "dtype": opts.dtype, "batch": report.batch,
           "warmup": opts.warmup, "repeat": opts.repeat, "channels_last": opts.channels_last,
           "timer": m["timer"], "torch": m["torch"],
           "end_to_end_ms": {k: round(v, 6) for k, v in m["end_to_end_ms"].items()},
           "layer_sum_ms": round(layer_sum, 6),
           "layer_sum_over_end_to_end": round(m["layer_sum_over_end_to_end"], 4)
           if m["layer_sum_over_end_to_end"] is not None else None}
    if "cuda_graph_ms" in m:
        lat["cuda_graph_ms"] = {k: round(v, 6) for k, v in m["cuda_graph_ms"].items()}
    report.extra["latency"] = lat
    report.block_fields.append(block_latency)


def block_latency(report) -> dict:
    """A block instance's time (``--collapse``): the sum of its layers' medians, its share of
    the per-layer sum, and 2 x its MACs over that time."""
    ms: dict = {}
    macs: dict = {}
    for r in report.rows:
        if r.group is not None and "latency_ms" in r.extra:
            ms[r.group] = ms.get(r.group, 0.0) + r.extra["latency_ms"]
            macs[r.group] = macs.get(r.group, 0) + r.macs
    layer_sum = report.extra["latency"]["layer_sum_ms"]
    return {g: {"latency_ms": round(t, 6), "latency_share": round(t / layer_sum, 6) if layer_sum > 0 else None,
                "gflop_per_s": gflops(macs[g], t)} for g, t in ms.items()}


def gflops(macs: int, ms: float):
    """Achieved GFLOP/s = 2 x MACs / time; None when there are no MACs or no time."""
    if not macs or ms <= 0:
        return None
    return round(2 * macs / (ms * 1e6), 3)


def speedups(reports) -> list:
    """Measured speed-up of each report over the first: first end-to-end median / this one."""
    base = reports[0].totals_extra.get("latency_ms")
    out = []
    for r in reports:
        ms = r.totals_extra.get("latency_ms")
        out.append(base / ms if base and ms else None)
    return out
