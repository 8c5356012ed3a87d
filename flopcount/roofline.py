"""The roofline: bytes moved, arithmetic intensity, what bounds each layer, and its latency floor.

Conventions (stated here once; the JSON report repeats them under ``roofline.conventions``):

* ``bytes``: what one layer moves to and from memory, run on its own (no fusion across
  layers, no cache reuse between them): its stored tensors read once (``params`` plus
  ``buffers``, e.g. batch-norm running statistics) + every input activation read once +
  its output activation written once; activations for the whole batch, weights once per
  batch; all at the chosen dtype (4 bytes for fp32 and tf32, 2 for fp16 and bf16). A
  layer's fused batch-norm and activation (``bn:``, ``act:`` on a conv or fc) run inside it
  and move nothing extra.
  Exception: a *view*, a layer whose op declares ``moves = "view"`` (``flatten``, ``dropout``
  at inference, ``identity``), moves 0 bytes: frameworks return the same memory. ``concat`` copies its
  inputs and is counted.
* ``flops``: 2 x ``macs``, for conv and fc layers only. The element operations counted in
  ``ops`` (pooling, activations, batch-norm, residual adds) are **not** FLOPs here: they run
  on vector units, not at the matrix peak a profile states, and are always cheap next to
  their memory traffic. A layer with 0 MACs therefore has 0 FLOPs, intensity 0 and is
  ``memory`` bound: its floor is its bytes over the bandwidth.
* ``intensity``: flops / bytes (FLOPs per byte); 0 when the layer has no FLOPs.
* ``bound``: ``compute`` when flops / peak > bytes / bandwidth (intensity above the
  device's ridge point, peak / bandwidth), else ``memory``.
* ``floor_ms``: max(flops / peak, bytes / bandwidth), in milliseconds: the fastest the
  layer could run on that device at that dtype.
* Totals: ``bytes`` and ``floor_ms`` are sums over the layers (layers run one after
  another); ``intensity`` is total flops / total bytes and ``bound`` compares the model's
  total compute time with its total memory time.
* ``efficiency`` (only with a measured ``latency_ms``): floor_ms / latency_ms, in (0, 1]
  for a sound measurement: the fraction of the device's limit the layer reaches.

Every quantity but the floor is exact: ``bytes`` is an int; ``intensity``, ``floor_ms``
and ``efficiency`` are floats (times and ratios, never counts).
"""

from __future__ import annotations

from .ops.base import lookup, numel
from .profiles import DTYPE_BYTES, Profile
from .records import Roofline, RoofPoint

CONVENTIONS = {
    "bytes": "params + buffers read once, input activations read, output written, at the dtype; "
    "views (flatten, dropout, identity) move 0",
    "flops": "2 x macs of conv and fc layers; element ops are not counted, so 0-MAC layers are memory bound",
    "intensity": "flops / bytes (0 without flops)",
    "bound": "compute when flops / peak > bytes / bandwidth, else memory",
    "floor_ms": "max(flops / peak, bytes / bandwidth) in ms; the total is the sum over layers",
    "efficiency": "floor_ms / measured latency_ms (only when measured)",
}


def _point(nbytes: int, flops: int, compute_s: float, memory_s: float, floor_ms: float | None = None) -> RoofPoint:
    intensity = flops / nbytes if nbytes and flops else 0.0
    bound = "compute" if compute_s > memory_s else "memory"
    floor = max(compute_s, memory_s) * 1e3 if floor_ms is None else floor_ms
    return RoofPoint(nbytes, flops, intensity, bound, floor, compute_s * 1e3, memory_s * 1e3)


def is_view(node, in_shapes: list) -> bool:
    """Whether the layer's op declares itself a view (``Op.moves == "view"``: same memory)."""
    op = lookup(node.op)
    return op is not None and op.moves == "view"


def node_bytes(node, in_shapes: list, batch: int, dtype: str) -> int:
    """Bytes one layer moves (see the module docstring)."""
    if is_view(node, in_shapes):
        return 0
    elems = node.cost.params + node.cost.buffers + batch * (sum(numel(s) for s in in_shapes) + numel(node.shape))
    return elems * DTYPE_BYTES[dtype]


def point(flops: int, nbytes: int, peak: float, bandwidth: float) -> RoofPoint:
    return _point(nbytes, flops, flops / peak, nbytes / bandwidth)


def combine(points: list, roof: Roofline) -> RoofPoint | None:
    """Several layers run one after another (a block instance, or the model): bytes, FLOPs,
    compute and memory times and floors summed; intensity and bound recomputed from the sums."""
    if not points or any(p is None for p in points):
        return None
    nbytes = sum(p.bytes for p in points)
    flops = sum(p.flops for p in points)
    compute_s = sum(p.compute_ms for p in points) / 1e3
    memory_s = sum(p.memory_ms for p in points) / 1e3
    return _point(nbytes, flops, compute_s, memory_s, sum(p.floor_ms for p in points))


def annotate(report, profile: Profile, dtype: str) -> None:
    """Put ``report`` on ``profile``'s roofline at ``dtype``: every row (training-only ones too)
    gets its :class:`RoofPoint` in ``row.roof``, the model its ``report.roof_total`` (over the
    inference rows) and ``report.roofline`` the device. ``efficiency`` is derived from any
    measurement when rendering (``Report.efficiency``), so the order of the stages is free."""
    peak = profile.peak(dtype)
    bw = profile.bandwidth
    graph = report.graph
    nodes = {n.name: n for n in graph.nodes}
    b = report.batch

    def shapes_of(node):
        return [graph.input if i < 0 else graph.nodes[i].shape for i in node.inputs]

    for rows in (report.rows, report.train_rows):
        for r in rows:
            node = nodes[r.name]
            r.roof = point(2 * r.macs, node_bytes(node, shapes_of(node), b, dtype), peak, bw)
    report.roofline = Roofline(profile, dtype, peak, bw, peak / bw)
    report.roof_total = (
        combine([r.roof for r in report.rows], report.roofline) if report.rows else point(0, 0, peak, bw)
    )


def describe(report) -> str:
    """One line for a table's notes: the device, dtype, roof and what the columns mean."""
    roof = report.roofline
    dev = roof.profile
    return (
        f"roofline on {dev.description or dev.name} at {roof.dtype}: peak "
        f"{roof.peak_flops / 1e12:g} TFLOP/s, {roof.bandwidth / 1e9:g} GB/s, ridge "
        f"{roof.ridge:.3g} FLOP/B; bytes = weights + inputs + output at the dtype (views move 0); "
        "FLOP/B = 2 x MACs / bytes (element ops not counted); floor = max(FLOPs / peak, bytes / "
        "bandwidth), summed over layers in the total"
        + ("; % of roof = floor / measured latency" if report.efficiency() is not None else "")
    )
