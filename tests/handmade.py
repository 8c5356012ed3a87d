"""Latency results built by hand (no torch): what flopcount.latency would attach to a report."""

from __future__ import annotations

from flopcount.records import LatencyResult, LayerLatency, Spread


def spread(ms: float, count: int = 10) -> Spread:
    """A spread whose every percentile is ``ms`` (a perfectly steady measurement)."""
    return Spread(count, ms, ms, ms, 0.0, ms, ms)


def latency(
    report, layer_ms: dict, end_to_end_ms: float, host_ms: float = 0.001, launch_bound=(), device: str = "cpu"
) -> LatencyResult:
    """A LatencyResult for ``report``: ``layer_ms`` maps layer names to their median (ms); the
    layers named in ``launch_bound`` are flagged so."""
    layers = tuple(LayerLatency(name, spread(ms), host_ms, name in launch_bound) for name, ms in layer_ms.items())
    layer_sum = sum(layer_ms.values())
    return LatencyResult(
        device,
        "test device",
        "fp32",
        report.batch,
        2 if device == "cpu" else None,
        "perf_counter",
        "0.0-test",
        False,
        False,
        3,
        1.5,
        False,
        spread(end_to_end_ms),
        spread(layer_sum * 1.01),
        layers,
        layer_sum,
        1.01,
        layer_sum / (layer_sum * 1.01),
        False,
        None,
        (end_to_end_ms,),
        None,
    )
