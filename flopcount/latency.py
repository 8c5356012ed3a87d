"""Measured latency of a spec's module, per layer and end to end (``--latency``).

The protocol (the same on both devices, only the clock differs):

* Two kinds of forward pass, interleaved (ABBA: marked, plain, plain, marked, ...) so that a
  drift of the machine (clocks, heat, other processes) falls on both alike:
  - *marked* passes carry a time point before the first layer and after each layer
    (``SpecModel._mark``): a layer's time is the median over passes of the gap between its two
    points, and the pass's total (first point to last) is kept too;
  - *plain* passes carry only two points, around the whole call: the end-to-end time.
  So ``marks_cost = marked p50 / plain p50`` (what the marks themselves cost) and
  ``aggregation_bias = sum of the per-layer medians / marked p50`` (a sum of medians is not the
  median of sums) are two separate, honest ratios.
* Clocks: on CUDA each point is a ``torch.cuda.Event(enable_timing=True)`` recorded in the
  current stream (no host synchronisation inside a pass; one ``synchronize`` on the pass's last
  event, and ``elapsed_time`` only after it). Beside every event the host clock
  (``time.perf_counter_ns``) is read too: a layer whose host (dispatch) time reaches
  ``LAUNCH_MARGIN`` of its device time is *launch-bound* (the GPU waited for Python), and so is
  a pass whose issue time reaches that share of its device time. On the CPU the points are
  ``time.perf_counter_ns`` (CPU ops are synchronous), and nothing is launch-bound.
* Time budgets, as Triton's ``do_bench``: warm-up passes for ``warmup_ms`` (25 ms; at least one
  round of each kind, two on CUDA), then measured rounds for ``measure_ms`` (100 ms; at least
  ``MIN_PASSES`` of each kind). After the budget, the measurement stops as soon as the spread is
  small (IQR / median under ``SPREAD_TARGET`` = 10% for the plain and the marked totals, as
  ``torch.utils.benchmark``'s ``adaptive_autorange``): ``stopped_early``; otherwise it goes on
  until ``max_ms`` (10 s) and stops there (at least ``FLOOR_PASSES`` of each kind).
  Fixed counts instead (``warmup`` / ``repeat``, ``--warmup N`` / ``--repeat N``): exactly N
  warm-up rounds, exactly N measured rounds; each replaces the budgets of its phase.
* ``runs`` (``--runs K``) repeats warm-up and measurement K times; the samples are pooled and
  each run's end-to-end median is kept, with their spread ``(max - min) / median``.
* Settings: inputs random normal (never zeros), made directly in the target dtype;
  ``torch.inference_mode``; ``cudnn.benchmark`` on (so CUDA needs a warm-up: with none, the
  figures include the autotuning, and :func:`notes` says so);
  ``--dtype fp32`` turns TF32 off, ``tf32`` on. The CPU uses ``threads`` intra-op threads
  (default 1, see ``DEFAULT_THREADS``). Every global torch setting changed here (cudnn
  benchmark, TF32 flags and precisions, threads) is restored afterwards.
* ``flush_l2`` (CUDA): a 256 MiB (or twice the L2) buffer is overwritten before each timed pass,
  outside its time points, so that no pass finds the previous one's data in the L2 cache.
* ``cuda_graph``: a third kind of pass replays a captured CUDA graph of the forward pass (no
  launch overhead); capture happens before any timing, with no marks and no events.

Failures: out of memory (CUDA's OutOfMemoryError, cuBLAS/cuDNN ``*_ALLOC_FAILED``, the CPU
allocator, a tensor too large to exist, also when raised inside a graph capture) and any other
CUDA/cuDNN/cuBLAS error become :class:`EnvironmentProblem` (exit 4) with the first line of the
message and what to try; a model or input that cannot fit is refused before anything is allocated.

:func:`time_module` returns a :class:`Measurement`: the LatencyResult record, also readable as
the mapping it returned before (``m["end_to_end_ms"]["p50"]``), for scripts written against that.

torch is imported inside the functions: the protocol (``drive``), the clocks' bookkeeping and the
statistics run without it, and are tested with fake clocks and a fake CUDA runtime
(``tests/fake_cuda.py``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from .errors import EnvironmentProblem, FlopcountError, UsageError
from .records import LatencyResult, LayerLatency, Spread

DTYPES = ("fp32", "tf32", "fp16", "bf16")  # tf32: fp32 storage, TF32 tensor-core math (CUDA)
SPREAD_TARGET = 0.10  # IQR / median under which a measurement may stop (adaptive_autorange's threshold)
MIN_PASSES = 5  # measured passes of each kind before the spread is looked at
FLOOR_PASSES = 3  # measured passes of each kind even when the time cap is reached
MIN_WARMUP = {"cpu": 1, "cuda": 2}  # warm-up rounds at least (cudnn.benchmark tunes on the first)
LAUNCH_MARGIN = 0.9  # host time >= 0.9 x device time: the device waited for the host
DEFAULT_THREADS = 1  # CPU intra-op threads; see docs/gpu.md "CPU threads" for the measurements
FLUSH_BYTES = 256 * 2**20  # do_bench's L2 flush buffer; twice the L2 when that is larger

#: the host clock (integer ns); the time budgets and host times read it (tests substitute a fake)
host_clock: Callable[[], int] = time.perf_counter_ns


# ---------------------------------------------------------------------------- statistics
def percentile(values, q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``q`` in [0, 100]."""
    s = sorted(values)
    if not s:
        raise ValueError("no samples")
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def spread(values) -> Spread:
    """Count, p10/p50/p90, IQR (p75 - p25), min and max of a list of times (ms)."""
    v = list(values)
    return Spread(
        len(v),
        percentile(v, 10),
        percentile(v, 50),
        percentile(v, 90),
        percentile(v, 75) - percentile(v, 25),
        min(v),
        max(v),
    )


def relative_iqr(values) -> float:
    """IQR / median; infinite when the median is not positive."""
    med = percentile(values, 50)
    return (percentile(values, 75) - percentile(values, 25)) / med if med > 0 else math.inf


def median(values) -> float:
    return percentile(values, 50)


# ---------------------------------------------------------------------------- timers
class CpuTimer:
    """Time points from the host clock (integer nanoseconds); host time is device time.

    A pass: ``start()``, ``mark()`` at each time point, ``finish()`` -> the gaps (ms) between
    consecutive points; ``host()`` then gives the host clock's gaps of the same pass."""

    kind = "perf_counter_ns"

    def __init__(self, clock=None):
        self._clock = clock
        self._points: list = []

    def start(self) -> None:
        self._points = []

    def mark(self) -> None:
        self._points.append((self._clock or host_clock)())

    def finish(self) -> list:
        """Milliseconds between consecutive points of the pass."""
        p = self._points
        return [(b - a) / 1e6 for a, b in zip(p, p[1:])]

    def host(self) -> list:
        """The host gaps of the last pass: on the CPU, the same as its device gaps."""
        return self.finish()


class CudaEventTimer:
    """Time points as CUDA events recorded in the current stream, each with the host clock
    beside it; one synchronise per pass, on its last event, before any ``elapsed_time``.

    ``marks`` events are created once and reused by every pass (a pass reads them only after
    synchronising on its last one). ``event`` makes one event (default: ``torch.cuda.Event(
    enable_timing=True)``, looked up when the timer is made, so a fake runtime's is used)."""

    kind = "cuda-events"

    def __init__(self, marks: int, event=None, clock=None):
        if event is None:
            import torch

            def event():
                return torch.cuda.Event(enable_timing=True)

        self._events = [event() for _ in range(marks)]
        self._clock = clock
        self._host: list = []
        self._k = 0

    def start(self) -> None:
        self._k = 0
        self._host = []

    def mark(self) -> None:
        self._events[self._k].record()
        self._host.append((self._clock or host_clock)())
        self._k += 1

    def finish(self) -> list:
        """Device milliseconds between consecutive events of the pass."""
        used = self._events[: self._k]
        if not used:
            return []
        used[-1].synchronize()  # the only host synchronisation of the pass
        return [a.elapsed_time(b) for a, b in zip(used, used[1:])]

    def host(self) -> list:
        """Host milliseconds between the same points (when each event was issued)."""
        h = self._host
        return [(b - a) / 1e6 for a, b in zip(h, h[1:])]


# ---------------------------------------------------------------------------- the protocol
class Pass(NamedTuple):
    """One timed pass: its device total and host time (ms), and per layer for a marked pass."""

    total: float
    host: float
    layers: tuple = ()
    layers_host: tuple = ()


@dataclass(frozen=True)
class Plan:
    """The time budgets of one run (ms) and the minimum counts; or fixed counts.

    ``warmup_count`` (``--warmup N``) fixes the warm-up rounds, in place of ``warmup_ms`` and
    ``min_warmup``; ``measure_count`` (``--repeat N``) fixes the measured rounds, in place of
    ``measure_ms``, ``max_ms``, the minimum counts and the early stop. None: the budgets rule."""

    warmup_ms: float = 25.0
    measure_ms: float = 100.0
    max_ms: float = 10_000.0
    min_warmup: int = 1
    min_passes: int = MIN_PASSES
    floor_passes: int = FLOOR_PASSES
    target: float = SPREAD_TARGET
    warmup_count: int | None = None
    measure_count: int | None = None


class Run(NamedTuple):
    """What one run of the protocol measured: the passes of each kind, in order."""

    passes: dict  # kind -> [Pass, ...]
    warmup_count: int  # warm-up rounds (each ran every kind once)
    warmup_ms: float  # time they took
    stopped_early: bool  # the spread target was met before the cap
    measure_ms: float  # time the measured rounds took


def drive(kinds: dict, plan: Plan, advance: Callable[[], None] = lambda: None, watch=("plain", "marked")) -> Run:
    """Run the protocol over ``kinds`` (name -> a function timing one pass, returning a Pass).

    Warm-up rounds until ``warmup_ms`` has passed and at least ``min_warmup`` rounds ran; then
    measured rounds, each running every kind once, in ABBA order. After each round: stop when at
    least ``min_passes`` rounds ran, ``measure_ms`` has passed and every watched kind's
    IQR / median is under ``target`` (stopped early); or when ``max_ms`` has passed and at least
    ``floor_passes`` rounds ran (the cap). A fixed count (``warmup_count``, ``measure_count``)
    replaces the budgets of its phase: exactly that many rounds (never "stopped early")."""
    names = list(kinds)
    t0 = host_clock()
    warm = 0

    def warming() -> bool:
        if plan.warmup_count is not None:
            return warm < plan.warmup_count
        return warm < plan.min_warmup or host_clock() - t0 < plan.warmup_ms * 1e6

    while warming():
        for name in names:
            kinds[name]()
            advance()
        warm += 1
    t1 = host_clock()
    warmup_ms = (t1 - t0) / 1e6
    samples: dict = {name: [] for name in names}
    rounds = 0
    while True:
        for name in names if rounds % 2 == 0 else names[::-1]:
            samples[name].append(kinds[name]())
            advance()
        rounds += 1
        elapsed = (host_clock() - t1) / 1e6
        if plan.measure_count is not None:
            if rounds >= plan.measure_count:
                return Run(samples, warm, warmup_ms, False, elapsed)
            continue
        if (
            rounds >= plan.min_passes
            and elapsed >= plan.measure_ms
            and all(relative_iqr([p.total for p in samples[k]]) < plan.target for k in watch if k in samples)
        ):
            return Run(samples, warm, warmup_ms, True, elapsed)
        if rounds >= plan.floor_passes and elapsed >= plan.max_ms:
            return Run(samples, warm, warmup_ms, False, elapsed)


def summarize(runs: list, names: list, launch_margin: float = LAUNCH_MARGIN, async_device: bool = False) -> dict:
    """Pool the runs' samples: spreads, per-layer medians, the two ratios and launch-bound flags.

    ``async_device``: the device runs behind the host (CUDA), so host time can be compared with
    device time; on the CPU they are the same clock and nothing is launch-bound."""
    pooled: dict = {}
    for run in runs:
        for kind, passes in run.passes.items():
            pooled.setdefault(kind, []).extend(passes)
    plain, marked = pooled["plain"], pooled["marked"]
    e2e = spread([p.total for p in plain])
    mk = spread([p.total for p in marked])
    layers = []
    for k, name in enumerate(names):
        dev = spread([p.layers[k] for p in marked])
        host = median([p.layers_host[k] for p in marked])
        layers.append(LayerLatency(name, dev, host, async_device and dev.p50 > 0 and host >= launch_margin * dev.p50))
    layer_sum = sum(layer.device.p50 for layer in layers)
    host_e2e = median([p.host for p in plain])
    per_run = tuple(median([p.total for p in run.passes["plain"]]) for run in runs)
    run_med = median(per_run)
    return {
        "end_to_end": e2e,
        "marked": mk,
        "layers": tuple(layers),
        "layer_sum_ms": layer_sum,
        "marks_cost": mk.p50 / e2e.p50 if e2e.p50 > 0 else None,
        "aggregation_bias": layer_sum / mk.p50 if mk.p50 > 0 else None,
        "launch_bound": async_device and e2e.p50 > 0 and host_e2e >= launch_margin * e2e.p50,
        "host_ms": host_e2e,
        "cuda_graph": spread([p.total for p in pooled["graph"]]) if "graph" in pooled else None,
        "runs": per_run,
        "run_spread": (max(per_run) - min(per_run)) / run_med if len(per_run) > 1 and run_med > 0 else None,
        "warmup_count": sum(r.warmup_count for r in runs),
        "warmup_ms": sum(r.warmup_ms for r in runs),
        "stopped_early": all(r.stopped_early for r in runs),
    }


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Options:
    """The settings of one measurement (``--latency``'s options by their Python names).

    ``warmup`` / ``repeat`` (``--warmup N`` / ``--repeat N``): fixed counts of warm-up and
    measured rounds (a round runs each kind of pass once); when given they replace the budgets of
    their phase (``warmup_ms``; ``measure_ms``, ``max_ms`` and the early stop), so
    ``Options(device, dtype, 10, 50)`` times exactly 10 + 50 passes of each kind. None (the
    default): the time budgets rule."""

    device: str = "auto"
    dtype: str = "fp32"
    warmup: int | None = None
    repeat: int | None = None
    warmup_ms: float = 25.0
    measure_ms: float = 100.0
    max_ms: float = 10_000.0
    runs: int = 1
    threads: int | None = None  # CPU intra-op threads; None: DEFAULT_THREADS
    channels_last: bool = False
    cuda_graph: bool = False
    flush_l2: bool = False
    progress: bool = True


#: Options fields by the kind of value each takes (``measure(report, runs="3")`` is refused
#: here, not deep in a comparison): counts (None: the default), milliseconds, switches, names
_COUNTS, _MS, _SWITCHES, _NAMES = (
    ("warmup", "repeat", "runs", "threads"),
    ("warmup_ms", "measure_ms", "max_ms"),
    ("channels_last", "cuda_graph", "flush_l2", "progress"),
    ("device", "dtype"),
)


def _check_types(opts: Options) -> None:
    for name in _COUNTS:
        v = getattr(opts, name)
        if (v is not None or name == "runs") and (isinstance(v, bool) or not isinstance(v, int)):
            raise UsageError(f"{name}={v!r}: a whole number")
    for name in _MS:
        v = getattr(opts, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"{name}={v!r}: a number of milliseconds")
    for name in _SWITCHES:
        v = getattr(opts, name)
        if not isinstance(v, bool):
            raise UsageError(f"{name}={v!r}: True or False")
    for name in _NAMES:
        v = getattr(opts, name)
        if not isinstance(v, str):
            raise UsageError(f"{name}={v!r}: a name such as {'auto' if name == 'device' else 'fp32'}")


def check_options(opts: Options, device: str) -> None:
    """Usage errors (exit 2) of a combination of options on the device that will be used."""
    _check_types(opts)
    if opts.dtype not in DTYPES:
        raise UsageError(f"--dtype {opts.dtype}: expected one of {', '.join(DTYPES)}")
    if (
        opts.warmup_ms < 0
        or opts.measure_ms < 0
        or opts.max_ms < 0
        or not all(math.isfinite(v) for v in (opts.warmup_ms, opts.measure_ms, opts.max_ms))
    ):
        raise UsageError("--warmup-ms, --measure-ms and --max-ms must be finite and at least 0")
    if opts.runs < 1:
        raise UsageError("--runs must be at least 1")
    if opts.warmup is not None and (isinstance(opts.warmup, bool) or opts.warmup < 0):
        raise UsageError("--warmup must be a count of at least 0 (warm-up rounds)")
    if opts.repeat is not None and (isinstance(opts.repeat, bool) or opts.repeat < 1):
        raise UsageError("--repeat must be a count of at least 1 (measured rounds)")
    default = Options()
    if opts.warmup is not None and opts.warmup_ms != default.warmup_ms:
        raise UsageError("--warmup N (a count) and --warmup-ms (a time budget) both set the warm-up: give one")
    if opts.repeat is not None and (opts.measure_ms != default.measure_ms or opts.max_ms != default.max_ms):
        raise UsageError(
            "--repeat N (a count) and --measure-ms / --max-ms (time budgets) both set the measurement: give one"
        )
    if device == "cuda":
        # no warm-up on CUDA is measured, not refused: notes() says the figure includes autotuning
        if opts.threads is not None:
            raise UsageError("--threads sets the CPU's intra-op threads: it applies with --device cpu")
    else:
        if opts.cuda_graph:
            raise UsageError("--cuda-graph needs a CUDA device (--device cuda or auto on a GPU machine)")
        if opts.flush_l2:
            raise UsageError("--flush-l2 needs a CUDA device (--device cuda or auto on a GPU machine)")
        if opts.threads is not None and opts.threads < 1:
            raise UsageError("--threads must be at least 1")


def resolve_device(torch, wanted: str) -> str:
    if wanted == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if wanted == "cuda" and not available:
        why = (
            "this torch build has no CUDA support (torch.version.cuda is None)"
            if torch.version.cuda is None
            else "torch.cuda.is_available() is False: no GPU is visible (driver, CUDA_VISIBLE_DEVICES?)"
        )
        raise EnvironmentProblem(f"--device cuda: {why}; use --device cpu or --device auto")
    return "cuda" if available else "cpu"


def _tensor_device(device: str) -> str:
    """Where tensors for ``device`` are made (the fake CUDA runtime of the tests maps cuda to cpu)."""
    return device


def _torch_dtype(torch, dtype: str):
    return {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


# ---------------------------------------------------------------------------- failures
OOM_TEXT = (
    "out of memory",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "can't allocate memory",
    "not enough memory",
    "cudaerrormemoryallocation",
    "storage size calculation overflowed",
    "cudnn_status_not_enough_workspace",
    "overflow when unpacking long",  # a size over 2**63: no tensor can have it
)
CUDA_TEXT = (
    "cuda error",
    "cuda driver",
    "cuda runtime",
    "cudnn",
    "cublas",
    "cusolver",
    "cufft",
    "curand",
    "cusparse",
    "nvrtc",
    "cuda-capable",
    "no kernel image",
    "cuda call failed",
    "cuda initialization",
    "cudaerror",
    "nvml",
    "cuda kernel errors",
    "device-side assert",
    "cuda capability",
)


def _chain(exc):
    """``exc`` and the exceptions it was raised from or during (an error in a graph capture's
    end is raised during the error that broke the capture)."""
    seen = []
    while exc is not None and all(exc is not s for s in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def is_oom(torch, exc) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return any(
        isinstance(e, MemoryError)
        or (oom is not None and isinstance(e, oom))
        or any(t in str(e).lower() for t in OOM_TEXT)
        for e in _chain(exc)
    )


def is_cuda_error(torch, exc) -> bool:
    acc = getattr(torch, "AcceleratorError", None)
    return any(
        (acc is not None and isinstance(e, acc)) or any(t in str(e).lower() for t in CUDA_TEXT) for e in _chain(exc)
    )


def oom_problem(batch: int, device: str, exc, fits: int | None = None) -> EnvironmentProblem:
    """Out of memory: the batch, the first line of the error, and a batch to try."""
    oom = next((e for e in _chain(exc) if any(t in str(e).lower() for t in OOM_TEXT)), exc)
    if fits is not None and fits < batch:
        hint = f"try --batch {fits}" if fits >= 1 else "the model does not fit even at batch 1: try a smaller --input"
    else:
        hint = f"try a smaller batch, e.g. --batch {max(1, batch // 2)}" if batch > 1 else "try a smaller --input"
    return EnvironmentProblem(f"out of memory on {device} at batch {batch} ({first_line(oom)}); {hint}")


def cuda_problem(torch, exc) -> EnvironmentProblem:
    """A CUDA/cuDNN/cuBLAS error: the first line of the message and what to check."""
    cause = next((e for e in _chain(exc) if any(t in str(e).lower() for t in CUDA_TEXT)), exc)
    text = first_line(cause)
    low = text.lower()
    build = f"torch {getattr(torch, '__version__', '?')} (CUDA {getattr(torch.version, 'cuda', None)}"
    try:
        archs = torch.cuda.get_arch_list()
        build += f", kernels for {' '.join(archs)}" if archs else ""
    except Exception:  # noqa: BLE001 - only a detail of the message
        pass
    build += ")"
    if "no kernel image" in low or "not compatible" in low or "cuda capability" in low:
        hint = (
            f"this torch build, {build}, has no kernels for this GPU's architecture: install a torch build "
            "that supports it (https://pytorch.org/get-started/locally/)"
        )
    elif "busy or unavailable" in low:
        hint = (
            "another process holds the GPU (exclusive compute mode), or CUDA_VISIBLE_DEVICES names a GPU "
            "that is not free: pick another with CUDA_VISIBLE_DEVICES"
        )
    elif "driver" in low or "initialization" in low or "not_initialized" in low or "nvml" in low:
        hint = (
            f"CUDA could not start: check that the NVIDIA driver is installed and new enough for {build} (nvidia-smi)"
        )
    else:
        hint = f"check the GPU and the torch build, {build}, against each other (nvidia-smi)"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    hint += f"; CUDA_VISIBLE_DEVICES={visible}" if visible is not None else "; CUDA_VISIBLE_DEVICES is not set"
    hint += "; or measure on the CPU with --device cpu"
    return EnvironmentProblem(f"CUDA failed while measuring: {text}\n    fix: {hint}")


def _release(torch, device: str) -> None:
    if device == "cuda":
        try:
            torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - a broken context cannot release; the error is reported anyway
            pass


# ---------------------------------------------------------------------------- memory
def free_bytes(torch, device: str) -> int | None:
    """Memory free for this process on ``device`` (bytes), or None when unknown."""
    if device == "cuda":
        try:
            return int(torch.cuda.mem_get_info()[0])
        except Exception:  # noqa: BLE001 - unknown: the allocation itself will tell
            return None
    known = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    known.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                known.append(int(limit) - int(f.read().strip()))
    except (OSError, ValueError):
        pass
    return min(known) if known else None


def needed_bytes(graph, params: int, dtype: str) -> tuple:
    """A lower bound of what a forward pass needs (bytes): (parameters and buffers, built in fp32
    then cast; the largest layer's inputs and output at once for the whole batch), and the
    per-sample share of the second."""
    el = ELEMENT_BYTES[dtype]
    shapes = {-1: graph.input}
    per_sample = math.prod(graph.input)
    for n in graph.nodes:
        shapes[n.index] = n.shape
        if n.train_only:  # not built (SpecModel leaves training-only side outputs out)
            continue
        live = math.prod(n.shape) + sum(math.prod(shapes.get(i, ())) for i in n.inputs)
        per_sample = max(per_sample, live)
    return params * max(el, 4), per_sample * el


def check_fits(graph, params: int, dtype: str, free: int | None, device: str) -> None:
    """Refuse, before allocating anything, a model and batch that cannot fit (exit 4): on Linux
    the CPU allocator over-commits, so an oversized model would be killed, not refused."""
    if free is None:
        return
    fixed, per_sample = needed_bytes(graph, params, dtype)
    need = fixed + per_sample * graph.batch
    if need <= free:
        return
    fits = (free - fixed) // per_sample if per_sample and free > fixed else 0
    fits = 2 ** int(math.log2(fits)) if fits >= 1 else 0
    raise oom_problem(
        graph.batch,
        device,
        MemoryError(
            f"needs at least {_gib(need)} (parameters {_gib(fixed)}, the largest layer's "
            f"tensors {_gib(per_sample * graph.batch)}), {_gib(free)} free; "
            "out of memory before allocating"
        ),
        fits,
    )


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n < 2**80 else f"2**{int(math.log2(n))} bytes"


# ---------------------------------------------------------------------------- torch state
#: global torch settings the measurement changes: restored afterwards, in this order (the
#: legacy allow_tf32 flags first, then the float32 matmul precision, then the fp32_precision
#: strings: setting either of the first two rewrites them)
_FLAGS = (
    ("backends.cudnn", "benchmark"),
    ("backends.cuda.matmul", "allow_tf32"),
    ("backends.cudnn", "allow_tf32"),
    ("backends.cuda.matmul", "fp32_precision"),
    ("backends.cudnn.conv", "fp32_precision"),
    ("backends.cudnn.rnn", "fp32_precision"),
    ("backends.cudnn", "fp32_precision"),
    ("backends", "fp32_precision"),
)


def _resolve(torch, path: str):
    obj = torch
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class saved_torch_state:
    """Snapshot torch's global math flags and CPU thread count; restore them on exit."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        t = self.torch
        self.flags = []
        for path, name in _FLAGS:
            obj = _resolve(t, path)
            if obj is not None and hasattr(obj, name):
                self.flags.append((obj, name, getattr(obj, name)))
        self.matmul = t.get_float32_matmul_precision() if hasattr(t, "get_float32_matmul_precision") else None
        self.threads = t.get_num_threads()
        return self

    def __exit__(self, *exc):
        t = self.torch
        for obj, name, value in self.flags:
            if name == "fp32_precision" and self.matmul is not None:
                t.set_float32_matmul_precision(self.matmul)  # after allow_tf32, before the strings it rewrites
                self.matmul = None
            try:
                setattr(obj, name, value)
            except Exception:  # noqa: BLE001 - a flag that cannot be set back was not changed either
                pass
        if self.matmul is not None:
            t.set_float32_matmul_precision(self.matmul)
        if t.get_num_threads() != self.threads:
            t.set_num_threads(self.threads)
        return False


def set_math(torch, dtype: str) -> None:
    """fp32 means fp32 math: TF32 only when asked (cuDNN convs default to TF32 otherwise)."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = dtype == "tf32"


_set_math = set_math  # the name of before (../shared/tools/gpu-acceptance.py imports it)


def threads_for(opts: Options) -> int:
    return DEFAULT_THREADS if opts.threads is None else opts.threads


# ---------------------------------------------------------------------------- the result
class Measurement(LatencyResult):
    """What :func:`time_module` returns: a :class:`~flopcount.records.LatencyResult` (every
    field, unchanged), that can also be read as the mapping ``time_module`` returned before
    issue 15, for scripts written against it (``../shared/tools/gpu-acceptance.py``):

    ``m["names"]`` (layer names), ``m["layer_ms"]`` (per-layer medians, in order),
    ``m["end_to_end_ms"]`` (``count``, ``p10``, ``p50``, ``p90``, ``iqr``, ``min``, ``max``),
    ``m["layer_sum_ms"]``, ``m["layer_sum_over_end_to_end"]`` (= marks_cost x aggregation_bias),
    ``m["cuda_graph_ms"]`` (a spread, only with ``cuda_graph``), ``m["device"]``,
    ``m["device_name"]``, ``m["timer"]``, ``m["torch"]``; ``m.get(key)``, ``key in m`` and
    ``m.keys()`` for those names.

    The view is read-only and derived from the fields at each access (no second copy of the
    figures). Only string keys read it: integer indexing, iteration, ``len`` and ``_asdict`` are
    the record's (a tuple), so ``"cuda" in m`` asks for a key, not a value."""

    __slots__ = ()

    def legacy(self) -> Mapping:
        """The mapping view (a read-only ``MappingProxyType``)."""
        e2e = self.end_to_end.p50
        view = {
            "names": [layer.name for layer in self.layers],
            "layer_ms": [layer.device.p50 for layer in self.layers],
            "end_to_end_ms": self.end_to_end._asdict(),
            "layer_sum_ms": self.layer_sum_ms,
            "layer_sum_over_end_to_end": self.layer_sum_ms / e2e if e2e > 0 else None,
            "device": self.device,
            "device_name": self.device_name,
            "timer": self.timer,
            "torch": self.torch,
        }
        if self.cuda_graph is not None:
            view["cuda_graph_ms"] = self.cuda_graph._asdict()
        return MappingProxyType(view)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.legacy()[key]
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        if isinstance(key, str):
            return key in self.legacy()
        return super().__contains__(key)

    def get(self, key: str, default=None):
        return self.legacy().get(key, default)

    def keys(self):
        return self.legacy().keys()


def notes(lat: LatencyResult) -> list:
    """What a reader of ``lat``'s figures must be told beside them (the CLI prints each on stderr)."""
    out = []
    if lat.device == "cuda" and lat.warmup_count == 0:
        out.append(
            "no warm-up on CUDA (--warmup 0 or --warmup-ms 0): the figures include cuDNN's autotuning "
            "(cudnn.benchmark), lazy kernel loading and the allocator's first requests; give a warm-up "
            "to time the model alone"
        )
    return out


# ---------------------------------------------------------------------------- measuring
def measure_graph(graph, opts: Options) -> LatencyResult:
    """Build the graph's module on the device and time it (see the module doc)."""
    _check_types(opts)  # (a usage error is one with or without torch)
    from .torch_build import torch  # EnvironmentProblem (exit 4) with the install command when missing

    device = resolve_device(torch, opts.device)
    check_options(opts, device)
    try:
        with saved_torch_state(torch):
            if device == "cpu":
                torch.set_num_threads(threads_for(opts))
            model, x = prepare(torch, graph, device, opts)
            return time_module(torch, model, x, device, opts, f"timing {graph.name} on {device}")
    except FlopcountError:
        _release(torch, device)
        raise
    except Exception as exc:  # noqa: BLE001 - memory and CUDA errors are translated, the rest re-raised
        _release(torch, device)
        if is_oom(torch, exc):
            raise oom_problem(graph.batch, device, exc) from None
        if device == "cuda" and is_cuda_error(torch, exc):
            raise cuda_problem(torch, exc) from None
        raise


def prepare(torch, graph, device: str, opts: Options):
    """The module on ``device`` in the options' dtype and memory format, and a random input made
    directly in that dtype; refused first (exit 4) when it cannot fit in the free memory."""
    from .torch_build import build_graph

    on = _tensor_device(device)
    # parameters and buffers from the analysis (exact ints, equal to the module's: a test), so that
    # a size no tensor can have (over 2**63) is refused here too, before torch sees it
    params = sum(n.cost.params + n.cost.buffers for n in graph.nodes if not n.train_only)
    check_fits(graph, params, opts.dtype, free_bytes(torch, device), device)
    set_math(torch, opts.dtype)
    dtype = _torch_dtype(torch, opts.dtype)
    model = build_graph(graph, device=on).to(dtype=dtype)
    gen = torch.Generator(device=on).manual_seed(0)
    x = torch.randn((graph.batch, *graph.input), generator=gen, device=on, dtype=dtype)  # never zeros
    if opts.channels_last and x.dim() == 4:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def time_module(torch, model, x, device: str, opts: Options, text: str = "timing") -> Measurement:
    """Per-layer and end-to-end times of a built SpecModel on input ``x`` (see the module doc):
    a :class:`Measurement` (a LatencyResult, also readable as the mapping of before)."""
    check_options(opts, device)
    names = list(model._layer_names)
    n = len(names)
    cuda = device == "cuda"
    threads = torch.get_num_threads() if not cuda else None
    device_name = _device_name(torch, device, threads)  # first, so a device that cannot start says so
    marked_t: CpuTimer | CudaEventTimer
    plain_t: CpuTimer | CudaEventTimer
    if cuda:

        def event():
            return torch.cuda.Event(enable_timing=True)

        marked_t, plain_t = CudaEventTimer(n + 1, event), CudaEventTimer(2, event)
    else:
        marked_t, plain_t = CpuTimer(), CpuTimer()
    flush = _l2_flusher(torch) if opts.flush_l2 else None

    def marked() -> Pass:
        if flush is not None:
            flush()
        marked_t.start()
        model._mark = marked_t.mark
        try:
            model(x)
        finally:
            model._mark = None
        dev, host = marked_t.finish(), marked_t.host()
        if len(dev) != n:
            raise RuntimeError(f"expected {n} layer times in a pass, got {len(dev)}")
        return Pass(sum(dev), sum(host), tuple(dev), tuple(host))

    def plain_of(fn):
        def timed() -> Pass:
            if flush is not None:
                flush()
            plain_t.start()
            plain_t.mark()
            fn()
            plain_t.mark()
            (dev,), (host,) = plain_t.finish(), plain_t.host()
            return Pass(dev, host)

        return timed

    plan = Plan(
        opts.warmup_ms,
        opts.measure_ms,
        opts.max_ms,
        MIN_WARMUP["cuda" if cuda else "cpu"] if opts.warmup_ms > 0 else 0,
        warmup_count=opts.warmup,
        measure_count=opts.repeat,
    )
    with _progress(opts.progress, text) as advance, torch.inference_mode():
        kinds = {"marked": marked, "plain": plain_of(lambda: model(x))}
        if opts.cuda_graph:
            kinds["graph"] = plain_of(_cuda_graph(torch, model, x))
        runs = [drive(kinds, plan, advance) for _ in range(opts.runs)]
    s = summarize(runs, names, async_device=cuda)
    return Measurement(
        device=device,
        device_name=device_name,
        dtype=opts.dtype,
        batch=int(x.shape[0]),
        threads=threads,
        timer=marked_t.kind,
        torch=torch.__version__,
        channels_last=opts.channels_last,
        flush_l2=opts.flush_l2,
        warmup_count=s["warmup_count"],
        warmup_ms=s["warmup_ms"],
        stopped_early=s["stopped_early"],
        end_to_end=s["end_to_end"],
        marked=s["marked"],
        layers=s["layers"],
        layer_sum_ms=s["layer_sum_ms"],
        marks_cost=s["marks_cost"],
        aggregation_bias=s["aggregation_bias"],
        launch_bound=s["launch_bound"],
        cuda_graph=s["cuda_graph"],
        runs=s["runs"],
        run_spread=s["run_spread"],
    )


def _l2_flusher(torch):
    """A function overwriting a buffer larger than the L2 cache (do_bench's ``cache.zero_()``)."""
    size = FLUSH_BYTES
    try:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        size = max(size, 2 * int(getattr(props, "L2_cache_size", 0)))
    except Exception:  # noqa: BLE001 - the default size flushes every current GPU's L2
        pass
    buf = torch.empty(size, dtype=torch.int8, device=_tensor_device("cuda"))
    return buf.zero_


def _cuda_graph(torch, model, x):
    """Capture one forward pass into a CUDA graph (warmed up on a side stream first, as CUDA
    graphs require; no marks, no events, no synchronisation inside); returns its replay."""
    model._mark = None
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


def _device_name(torch, device: str, threads: int | None) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    name = ""
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or platform.machine()
    return f"CPU {name} ({threads} thread{'s' if threads != 1 else ''})"


class _progress:
    """A rich progress line on stderr (nothing when disabled, e.g. with --format json): the passes
    so far and the time; the protocol's length depends on the spread, so no bar."""

    def __init__(self, enabled: bool, text: str):
        self.enabled, self.text = enabled, text
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:.0f} passes"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.__enter__()
        task = self._bar.add_task(self.text, total=None)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False


# ---------------------------------------------------------------------------- into the report
def attach(report, opts: Options) -> None:
    """Measure ``report``'s model and set ``report.latency`` (a LatencyResult); the renderers,
    JSON, plot and compare derive every shown figure from it."""
    report.latency = measure_graph(report.graph, opts)


def block_latency(report) -> dict:
    """Each block instance's time (``--collapse``) from ``report.latency``: the sum of its
    layers' medians, its share of the per-layer sum, and 2 x its MACs over that time."""
    from .report import gflops

    lat = report.latency
    if lat is None:
        return {}
    by_name = {layer.name: layer.device.p50 for layer in lat.layers}
    ms: dict = {}
    macs: dict = {}
    for r in report.rows:
        if r.group is not None and r.name in by_name:
            ms[r.group] = ms.get(r.group, 0.0) + by_name[r.name]
            macs[r.group] = macs.get(r.group, 0) + r.macs
    total = lat.layer_sum_ms
    return {
        g: {"latency_ms": t, "latency_share": t / total if total > 0 else None, "gflop_per_s": gflops(macs[g], t)}
        for g, t in ms.items()
    }


def speedups(reports) -> list:
    """Measured speed-up of each report over the first: first end-to-end median / this one."""

    def ms(r):
        return None if getattr(r, "latency", None) is None else r.latency.end_to_end.p50

    base = ms(reports[0])
    return [base / m if base and m else None for m in map(ms, reports)]


def gflops(macs: int, ms: float):
    """Achieved GFLOP/s = 2 x MACs / time; None when there are no MACs or no time."""
    from .report import gflops as _gflops

    return _gflops(macs, ms)
