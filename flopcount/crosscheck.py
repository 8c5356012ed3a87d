"""`flopcount verify`: our per-layer MACs against two independent counters of the built module.

* fvcore ``FlopCountAnalysis`` (``by_module_and_operator``): its "flops" are MACs. Only its
  MAC buckets are compared (``conv``, ``linear``, ``addmm``, ``matmul``, ``bmm``, ``einsum``);
  it also counts batch-norm and adaptive pooling in other buckets, which are not MACs by our
  convention, and it counts 0 for ops it does not support (max_pool2d, add, mul, silu, ...):
  they are listed, not hidden.
* ``torch.utils.flop_counter.FlopCounterMode``: FLOPs = 2 x MACs of convolutions and matrix
  products, so FLOPs / 2 is compared.

FlopCounterMode runs on the meta device (no memory, no arithmetic). fvcore traces the module
with ``torch.jit.trace``, which cannot run on meta tensors (the conv meta kernel rejects traced
shapes), so fvcore gets the smallest honest fallback: one real forward pass on the CPU at the
spec's input and batch, with uninitialised-then-zeroed weights (counts depend on shapes only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .errors import EnvironmentProblem

MAC_BUCKETS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")
FVCORE_DEVICE_NOTE = (
    "fvcore ran one forward pass on the CPU (torch.jit.trace cannot trace meta tensors); "
    "FlopCounterMode ran on the meta device"
)


@dataclass
class LayerCheck:
    name: str
    op: str
    ours: int
    fvcore: int
    torch_fc: int  # FlopCounterMode FLOPs / 2

    @property
    def ok(self) -> bool:
        return self.ours == self.fvcore == self.torch_fc


@dataclass
class Verification:
    model: str
    batch: int
    layers: list
    unsupported: dict = field(default_factory=dict)  # fvcore op -> number of calls counted as 0
    other: dict = field(default_factory=dict)  # fvcore non-MAC buckets it did count (not compared)
    unattributed: dict = field(default_factory=dict)  # counts outside any spec layer (should be none)
    notes: list = field(default_factory=list)

    @property
    def mismatches(self) -> list:
        return [c for c in self.layers if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.unattributed

    def to_json(self) -> dict:
        return {
            "schema": "flopcount.verify/1",
            "model": self.model,
            "batch": self.batch,
            "ok": self.ok,
            "totals": {k: sum(getattr(c, k) for c in self.layers) for k in ("ours", "fvcore", "torch_fc")},
            "layers": [
                {
                    "name": c.name,
                    "op": c.op,
                    "macs": c.ours,
                    "fvcore_macs": c.fvcore,
                    "flop_counter_macs": c.torch_fc,
                    "ok": c.ok,
                }
                for c in self.layers
            ],
            "mismatches": [c.name for c in self.mismatches],
            "fvcore_unsupported": self.unsupported,
            "fvcore_other_buckets": self.other,
            "unattributed": self.unattributed,
            "notes": self.notes,
        }


def _fvcore():
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError as exc:
        from .torch_build import INSTALL

        raise EnvironmentProblem(
            f"verify needs fvcore, which is not installed ({exc}); install it with: {INSTALL}"
        ) from None
    return FlopCountAnalysis


def fvcore_counts(model, x, layers: set):
    """Per spec layer, fvcore's MAC buckets; plus its unsupported ops and other buckets.
    A layer's count includes its children (the conv/bn/act of a fused layer)."""
    FlopCountAnalysis = _fvcore()
    import logging

    logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
    fa = FlopCountAnalysis(model, x)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    fa.tracer_warnings("none")
    per: Counter[str] = Counter()
    other: Counter[str] = Counter()
    stray: Counter[str] = Counter()
    table = fa.by_module_and_operator()
    for mod, by_op in table.items():
        if mod not in layers:  # the root, scopes, and the children of a fused layer (already in it)
            continue
        for op, n in by_op.items():
            if op in MAC_BUCKETS:
                per[mod] += n
            else:
                other[op] += n
    root_macs = sum(n for op, n in table.get("", {}).items() if op in MAC_BUCKETS)
    if root_macs != sum(per.values()):
        stray["fvcore"] = root_macs - sum(per.values())
    return per, dict(sorted(fa.unsupported_ops().items())), dict(sorted(other.items())), stray


def flop_counter_counts(model, x, layers: set):
    """Per spec layer, FlopCounterMode FLOPs / 2 (exact: it counts 2 per multiply-accumulate)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    per: Counter[str] = Counter()
    stray: Counter[str] = Counter()
    for mod, by_op in counts.items():
        if not mod.startswith(root + "."):
            continue
        name = mod[len(root) + 1 :]
        if name in layers:
            per[name] += sum(by_op.values())
    total = counter.get_total_flops()
    if total != sum(per.values()):
        stray["flop_counter"] = (total - sum(per.values())) // 2
    return Counter({k: v // 2 for k, v in per.items()}), stray


def verify_graph(graph) -> Verification:
    """Build the graph's module twice (meta for FlopCounterMode, CPU for fvcore) and compare."""
    _fvcore()  # exit 4 with the install command when fvcore is missing: before any work
    from .api import report_of
    from .torch_build import build_graph, torch  # the same when torch is

    report = report_of(graph)
    rows = report.rows
    layers = {r.name for r in rows}
    shape = (graph.batch, *graph.input)

    meta = build_graph(graph, device="meta")
    fc_per, fc_stray = flop_counter_counts(meta, torch.empty(shape, device="meta"), layers)

    cpu = build_graph(graph, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        for t in [*cpu.parameters(), *cpu.buffers()]:
            t.zero_()
        for name, b in cpu.named_buffers():
            if name.endswith("running_var"):
                b.fill_(1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a counting pass: one thread, no OpenMP spinning on a busy machine
    try:
        fv_per, unsupported, other, fv_stray = fvcore_counts(cpu, x, layers)
    finally:
        torch.set_num_threads(threads)

    checks = [LayerCheck(r.name, r.op, r.macs, fv_per.get(r.name, 0), fc_per.get(r.name, 0)) for r in rows]
    v = Verification(report.model, graph.batch, checks, unsupported, other, dict(fc_stray + fv_stray))
    v.notes.append(FVCORE_DEVICE_NOTE)
    if unsupported:
        v.notes.append(
            "fvcore counts 0 for ops it does not support: "
            + ", ".join(f"{op} (x{n})" for op, n in unsupported.items())
            + "; none of them is a MAC by flopcount's convention, so the comparison stands"
        )
    if other:
        v.notes.append(
            "fvcore also counted, outside its MAC buckets (not compared): "
            + ", ".join(f"{op} {n:,}" for op, n in other.items())
        )
    if report.train_rows:
        v.notes.append(f"{len(report.train_rows)} training-only layers (side outputs) are not built or compared")
    return v


def verify(target, input_shape=None, batch=None, sets=None) -> Verification:
    from .api import load_graph

    return verify_graph(load_graph(target, input_shape, batch, sets))


def verify_tables(v: Verification) -> list:
    from .render.model import Column, Table

    cols = [
        Column("layer", "name"),
        Column("op", "op"),
        Column("flopcount MACs", "ours", "int"),
        Column("fvcore MACs", "fvcore", "int"),
        Column("FlopCounterMode / 2", "torch_fc", "int"),
        Column("check", "check"),
    ]
    body = [
        {
            "name": c.name,
            "op": c.op,
            "ours": c.ours,
            "fvcore": c.fvcore,
            "torch_fc": c.torch_fc,
            "check": "ok" if c.ok else "MISMATCH",
        }
        for c in v.layers
    ]
    total = {
        "name": "total",
        "op": "",
        "check": "ok" if v.ok else "MISMATCH",
        **{k: sum(getattr(c, k) for c in v.layers) for k in ("ours", "fvcore", "torch_fc")},
    }
    notes = [
        f"MACs for the whole batch ({v.batch}); fvcore's conv + linear (+ matmul) buckets; "
        "FlopCounterMode counts 2 FLOPs per MAC"
    ]
    notes += v.notes
    for c in v.mismatches:
        notes.append(
            f"MISMATCH at layer {c.name} ({c.op}): flopcount {c.ours:,}, fvcore {c.fvcore:,}, "
            f"FlopCounterMode/2 {c.torch_fc:,}"
        )
    for who, n in v.unattributed.items():
        notes.append(f"MISMATCH: {who} counted {n:,} MACs outside every spec layer")
    notes.append("verify: OK, every layer agrees" if v.ok else f"verify: FAILED, {len(v.mismatches)} layer(s) disagree")
    return [Table(f"{v.model}: flopcount vs fvcore vs torch FlopCounterMode", cols, body, total, notes)]
