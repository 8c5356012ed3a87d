"""The roofline: bytes moved, arithmetic intensity, what bounds each layer, and its latency floor.

Conventions (stated here once; the JSON report repeats them under ``roofline.conventions``):

* ``bytes``: what one layer moves to and from memory, run on its own (no fusion across
  layers, no cache reuse between them): its stored tensors read once (``params`` plus
  ``buffers``, e.g. batch-norm running statistics) + every input activation read once +
  its output activation written once; activations for the whole batch, weights once per
  batch; all at the chosen dtype (4 bytes for fp32 and tf32, 2 for fp16 and bf16). A
  layer's fused batch-norm and activation (``bn:``, ``act:`` on a conv or fc) run inside it
  and move nothing extra.
  Exception: a *view*, a single-input layer that costs nothing (no MACs, ops, params or
  buffers) and keeps the element count (``flatten``, ``dropout`` at inference,
  ``identity``), moves 0 bytes: frameworks return the same memory. ``concat`` copies its
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

from dataclasses import dataclass

from .ops.base import numel
from .profiles import DTYPE_BYTES, Profile

CONVENTIONS = {
    "bytes": "params + buffers read once, input activations read, output written, at the dtype; "
             "views (flatten, dropout, identity) move 0",
    "flops": "2 x macs of conv and fc layers; element ops are not counted, so 0-MAC layers are memory bound",
    "intensity": "flops / bytes (0 without flops)",
    "bound": "compute when flops / peak > bytes / bandwidth, else memory",
    "floor_ms": "max(flops / peak, bytes / bandwidth) in ms; the total is the sum over layers",
    "efficiency": "floor_ms / measured latency_ms (only when measured)",
}


@dataclass(frozen=True)
class Point:
    """One layer (or the model) on the roofline."""

    bytes: int
    flops: int
    compute_s: float  # flops / peak
    memory_s: float  # bytes / bandwidth

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes and self.flops else 0.0

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s > self.memory_s else "memory"

    @property
    def floor_ms(self) -> float:
        return max(self.compute_s, self.memory_s) * 1e3


def is_view(node, in_shapes: list) -> bool:
    c = node.cost
    return (len(in_shapes) == 1 and c.macs == 0 and c.ops == 0 and c.params == 0 and c.buffers == 0
            and numel(node.shape) == numel(in_shapes[0]))


def node_bytes(node, in_shapes: list, batch: int, dtype: str) -> int:
    """Bytes one layer moves (see the module docstring)."""
    if is_view(node, in_shapes):
        return 0
    elems = node.cost.params + node.cost.buffers + batch * (sum(numel(s) for s in in_shapes) + numel(node.shape))
    return elems * DTYPE_BYTES[dtype]


def point(flops: int, nbytes: int, peak: float, bandwidth: float) -> Point:
    return Point(nbytes, flops, flops / peak, nbytes / bandwidth)


def _fields(p: Point) -> dict:
    return {"bytes": p.bytes, "intensity": p.intensity, "bound": p.bound, "floor_ms": p.floor_ms}


def _efficiency(floor_ms: float, measured) -> float | None:
    if isinstance(measured, (int, float)) and not isinstance(measured, bool) and measured > 0:
        return floor_ms / measured
    return None


def annotate(report, profile: Profile, dtype: str) -> None:
    """Add ``bytes``, ``intensity``, ``bound``, ``floor_ms`` (and ``efficiency`` where a
    ``latency_ms`` was measured) to every row's ``extra`` and to ``report.totals_extra``;
    the device, dtype and conventions go to ``report.extra["roofline"]``."""
    peak = profile.peak(dtype)
    bw = profile.bandwidth
    graph = report.graph
    nodes = {n.name: n for n in graph.nodes}
    b = report.batch

    def shapes_of(node):
        return [graph.input if i < 0 else graph.nodes[i].shape for i in node.inputs]

    total_bytes = total_flops = 0
    total_floor = 0.0
    compute_s = memory_s = 0.0
    for rows, counted in ((report.rows, True), (report.train_rows, False)):
        for r in rows:
            node = nodes[r.name]
            p = point(2 * r.macs, node_bytes(node, shapes_of(node), b, dtype), peak, bw)
            r.extra.update(_fields(p))
            eff = _efficiency(p.floor_ms, r.extra.get("latency_ms"))
            if eff is not None:
                r.extra["efficiency"] = eff
            if counted:
                total_bytes += p.bytes
                total_flops += p.flops
                total_floor += p.floor_ms
                compute_s += p.compute_s
                memory_s += p.memory_s
    whole = Point(total_bytes, total_flops, compute_s, memory_s)
    totals = _fields(whole)
    totals["floor_ms"] = total_floor  # layers run one after another: the sum of their floors
    eff = _efficiency(total_floor, report.totals_extra.get("latency_ms"))
    if eff is not None:
        totals["efficiency"] = eff
    report.totals_extra.update(totals)
    report.extra["roofline"] = {"device": profile.to_json(), "dtype": dtype, "peak_flops": peak,
                                "bandwidth": bw, "ridge": peak / bw, "conventions": CONVENTIONS}
    report.block_fields.append(collapsed_fields)


def collapsed_fields(report) -> dict:
    """Roofline fields of each block instance (``--collapse``): its layers' bytes, FLOPs and
    floors summed, intensity and bound recomputed from the sums; ``efficiency`` when every
    layer of the block was measured."""
    roof = report.extra.get("roofline")
    if not roof:
        return {}
    sums: dict = {}
    for r in report.rows + report.train_rows:
        if r.group is None or "bytes" not in r.extra:
            continue
        s = sums.setdefault(r.group, {"bytes": 0, "flops": 0, "floor_ms": 0.0, "latency_ms": 0.0})
        s["bytes"] += r.extra["bytes"]
        s["flops"] += 2 * r.macs
        s["floor_ms"] += r.extra["floor_ms"]
        lat = r.extra.get("latency_ms")
        s["latency_ms"] = s["latency_ms"] + lat if s["latency_ms"] is not None and isinstance(lat, (int, float)) \
            else None
    out = {}
    for group, s in sums.items():
        fields = _fields(point(s["flops"], s["bytes"], roof["peak_flops"], roof["bandwidth"]))
        fields["floor_ms"] = s["floor_ms"]
        eff = _efficiency(s["floor_ms"], s["latency_ms"])
        if eff is not None:
            fields["efficiency"] = eff
        out[group] = fields
    return out


def describe(report) -> str:
    """One line for a table's notes: the device, dtype, roof and what the columns mean."""
    roof = report.extra["roofline"]
    dev = roof["device"]
    return (f"roofline on {dev['description'] or dev['name']} at {roof['dtype']}: peak "
            f"{roof['peak_flops'] / 1e12:g} TFLOP/s, {roof['bandwidth'] / 1e9:g} GB/s, ridge "
            f"{roof['ridge']:.3g} FLOP/B; bytes = weights + inputs + output at the dtype (views move 0); "
            "FLOP/B = 2 x MACs / bytes (element ops not counted); floor = max(FLOPs / peak, bytes / "
            "bandwidth), summed over layers in the total"
            + ("; % of roof = floor / measured latency" if "efficiency" in report.totals_extra else ""))
