"""Typed records passed between stages (measurement -> report -> renderers).

No torch here: the renderers read these on the analysis path. Times are milliseconds (floats,
measured); counts stay exact ints elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .published import Published

if TYPE_CHECKING:  # annotations only (no runtime cost): the closed sets of names, checked by mypy
    from typing import Literal

    from .profiles import Profile

    Unit = Literal["macs", "flops"]
    Format = Literal["table", "json", "csv", "markdown"]
    Dtype = Literal["fp32", "tf32", "fp16", "bf16"]
    ColumnKind = Literal["text", "int", "pct", "ratio", "num"]
    Bound = Literal["compute", "memory"]
    FigureStatus = Literal["exact", "rounded", "differs"]

__all__ = ["Spread", "LayerLatency", "LatencyResult", "RoofPoint", "Roofline", "Published"]


class Spread(NamedTuple):
    """A distribution of measured times (ms): its count, percentiles and interquartile range."""

    count: int  # type: ignore[assignment]  # shadows tuple.count, on purpose: the number of samples
    p10: float
    p50: float
    p90: float
    iqr: float  # p75 - p25
    min: float
    max: float


class LayerLatency(NamedTuple):
    """One layer's measured time: device time (CUDA events, or perf_counter on the CPU) and
    the host time spent dispatching it; ``launch_bound`` when the host time is what the device
    waited on (device time within the flag's margin of host time)."""

    name: str
    device: Spread
    host_ms: float  # median host (dispatch) time of the layer's call
    launch_bound: bool


class LatencyResult(NamedTuple):
    """Everything one ``--latency`` measurement of one model produced.

    ``end_to_end``: plain (unmarked) passes. ``marked``: the totals of the passes that carry
    per-layer marks, interleaved with the plain ones so that drift cancels. So:
    ``marks_cost = marked.p50 / end_to_end.p50`` (what the marks themselves cost) and
    ``aggregation_bias = layer_sum_ms / marked.p50`` (sum of per-layer medians against the
    median marked total).
    """

    device: str  # "cpu" | "cuda"
    device_name: str
    dtype: str
    batch: int
    threads: int | None  # CPU threads torch used while measuring (None on CUDA)
    timer: str  # e.g. "cuda-events", "perf_counter"
    torch: str  # torch version
    channels_last: bool
    flush_l2: bool
    warmup_count: int
    warmup_ms: float
    stopped_early: bool  # the spread fell under its target before the time budget ran out
    end_to_end: Spread
    marked: Spread
    layers: tuple  # of LayerLatency, in graph order
    layer_sum_ms: float
    marks_cost: float | None
    aggregation_bias: float | None
    launch_bound: bool  # the whole eager pass is launch-bound
    cuda_graph: Spread | None  # end-to-end replayed from a CUDA graph, when asked
    runs: tuple  # end-to-end p50 of each of --runs K repetitions (one item when K = 1)
    run_spread: float | None  # (max - min) / median of ``runs``; None when K = 1


# ------------------------------------------------------------------------------- the roofline
class RoofPoint(NamedTuple):
    """One layer (or block, or the whole model) on a device's roofline (flopcount.roofline).

    ``bytes`` and ``flops`` are exact ints; ``intensity`` = flops / bytes (0 without flops);
    ``bound`` is ``compute`` or ``memory``; ``floor_ms`` = max(flops / peak, bytes / bandwidth)
    (for the model: the sum of its layers' floors); ``compute_ms`` / ``memory_ms`` the two sides.
    ``efficiency`` (floor / measured time) is derived when rendering, from the report's latency:
    see :meth:`flopcount.report.Report.efficiency`."""

    bytes: int
    flops: int
    intensity: float
    bound: str  # "compute" | "memory"
    floor_ms: float
    compute_ms: float
    memory_ms: float


class Roofline(NamedTuple):
    """The device a report was put on the roofline of: its profile (flopcount.profiles.Profile),
    the dtype, the peak FLOP/s at that dtype, the bandwidth (B/s) and the ridge point (FLOP/B)."""

    profile: Profile
    dtype: str
    peak_flops: float
    bandwidth: float
    ridge: float
