"""`flopcount verify`: our per-layer MACs against two independent counters of the built module.

* fvcore ``FlopCountAnalysis`` (``by_module_and_operator``): its "flops" are MACs. Only its
  MAC buckets are compared (``conv``, ``linear``, ``addmm``, ``matmul``, ``bmm``, ``einsum``);
  it also counts batch-norm and adaptive pooling in other buckets, which are not MACs by our
  convention, and it counts 0 for ops it does not support (max_pool2d, add, mul, silu, ...):
  they are listed, not hidden.
* ``torch.utils.flop_counter.FlopCounterMode``: FLOPs = 2 x MACs of convolutions and matrix
  products (``convolution``, ``addmm``/``mm`` of every linear layer, ``bmm`` of matmuls and of
  attention's Q K^T and A V), so FLOPs / 2 is compared. It runs with
  ``scaled_dot_product_attention`` on the MATH backend (which lowers to ``bmm``; FlopCounterMode
  has no formula for the CPU's fused kernel) and with ``nn.MultiheadAttention``'s fast path off
  (its ``_native_multi_head_attention`` is not counted at all), so a module that uses either is
  counted in full. The MACs per aten op are reported (``flop_counter_by_op``).

Attention MACs: flopcount's attention ops build with plain matmuls, which both counters see.
fvcore does not support ``aten::scaled_dot_product_attention``: where a module calls it, fvcore's
column is short by the two matmuls, and the layer is reported as a mismatch, with a note.

FlopCounterMode runs on the meta device (no memory, no arithmetic). fvcore traces the module
with ``torch.jit.trace``, which cannot run on meta tensors (the conv meta kernel rejects traced
shapes), so fvcore gets the smallest honest fallback: one real forward pass on the CPU at the
spec's input and batch, with zero weights (ones for batch-norm variances: counts depend on shapes
only), built on the meta device and materialised by ``torch_build.zeros_on``. Both passes run on one
thread; the FlopCounterMode pass does not import ``torch._dynamo`` (see ``_dynamo_deferred``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .errors import EnvironmentProblem

MAC_BUCKETS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")
#: fvcore ops it counts as 0 although they hold matrix products (MACs by flopcount's convention)
UNCOUNTED_MACS = ("aten::scaled_dot_product_attention", "aten::_native_multi_head_attention")
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
    #: no output depends on the layer (``Graph.unreached``): torch runs it and FlopCounterMode
    #: counts it, but fvcore's ``torch.jit.trace`` drops what the result does not depend on
    unread: bool = False

    @property
    def ok(self) -> bool:
        return self.ours == self.torch_fc and (self.unread or self.ours == self.fvcore)

    @property
    def check(self) -> str:
        if not self.ok:
            return "MISMATCH"
        return "ok (unread)" if self.ours != self.fvcore else "ok"


@dataclass
class Verification:
    model: str
    batch: int
    layers: list
    unsupported: dict = field(default_factory=dict)  # fvcore op -> number of calls counted as 0
    other: dict = field(default_factory=dict)  # fvcore non-MAC buckets it did count (not compared)
    unattributed: dict = field(default_factory=dict)  # counts outside any spec layer (should be none)
    notes: list = field(default_factory=list)
    by_op: dict = field(default_factory=dict)  # FlopCounterMode MACs per aten op (whole model)
    fvcore_buckets: dict = field(default_factory=dict)  # fvcore's MAC buckets (whole model)

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
            "flop_counter_by_op": self.by_op,
            "fvcore_mac_buckets": self.fvcore_buckets,
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
    buckets = {op: n for op, n in sorted(table.get("", {}).items()) if op in MAC_BUCKETS}
    paths = _paths(model, layers)
    for mod, by_op in table.items():
        layer = paths.get(mod)
        if layer is None:  # the root, scopes, and the children of a fused layer (already in it)
            continue
        for op, n in by_op.items():
            if op in MAC_BUCKETS:
                per[layer] += n
            else:
                other[op] += n
    root_macs = sum(n for op, n in table.get("", {}).items() if op in MAC_BUCKETS)
    if root_macs != sum(per.values()):
        stray["fvcore"] = root_macs - sum(per.values())
    return per, dict(sorted(fa.unsupported_ops().items())), dict(sorted(other.items())), stray, buckets


def _counted_attention():
    """SDPA on the MATH backend and MultiheadAttention's fast path off, for the counting pass;
    the previous fast-path setting restored after it."""
    import contextlib

    import torch

    stack = contextlib.ExitStack()
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        stack.enter_context(sdpa_kernel(SDPBackend.MATH))
    except ImportError:  # pragma: no cover - torch older than 2.3
        pass
    mha = getattr(torch.backends, "mha", None)
    if mha is not None and hasattr(mha, "set_fastpath_enabled"):
        before = mha.get_fastpath_enabled()
        mha.set_fastpath_enabled(False)
        stack.callback(mha.set_fastpath_enabled, before)
    return stack


class _NeedsDynamo(Exception):
    """The counting pass asked the stand-in ``torch._dynamo`` for more than ``disable``."""


def _dynamo_deferred():
    """A context for the counting pass in which ``torch._dynamo`` is not imported.

    FlopCounterMode's dispatch mode (every ``TorchDispatchMode``'s ``__torch_dispatch__``) and
    the decompositions it runs are wrapped in ``torch._disable_dynamo``, whose first call imports
    ``torch._dynamo`` (about 1 s of CPU, a quarter of ``verify resnet-50``) only to keep those
    frames out of ``torch.compile``. Nothing compiles here, and without an active compile
    ``torch._dynamo.disable(fn)`` behaves as ``fn``; so for the pass ``sys.modules`` holds a
    stand-in whose ``disable`` returns the function itself (any other attribute raises
    :class:`_NeedsDynamo`, a submodule import ``ImportError``: the caller then reruns the pass
    with the real module). Afterwards the stand-in is removed and every function it was handed
    forgets the cached result, so a later call (``torch.compile`` in the same process) imports
    the real ``torch._dynamo`` as before.
    Where ``torch._dynamo`` is already imported there is nothing to save and nothing is changed.
    """
    import contextlib
    import sys
    import types

    import torch

    stack = contextlib.ExitStack()
    if "torch._dynamo" in sys.modules:
        return stack
    handed: list = []

    def disable(fn=None, recursive=True, wrapping=True, **_):
        handed.append(fn)
        return fn

    def missing(name):
        if name.startswith("__"):  # __file__, __path__, ...: absent, as from any plain module
            raise AttributeError(name)
        raise _NeedsDynamo(name)

    stand_in = types.ModuleType("torch._dynamo", "flopcount's stand-in for the counting pass (crosscheck.py)")
    stand_in.disable = disable
    stand_in.__getattr__ = missing

    def restore():
        if sys.modules.get("torch._dynamo") is stand_in:
            del sys.modules["torch._dynamo"]
        if torch.__dict__.get("_dynamo") is stand_in:
            del torch._dynamo
        for fn in handed:
            getattr(fn, "__dict__", {}).pop("__dynamo_disable", None)

    sys.modules["torch._dynamo"] = stand_in
    stack.callback(restore)
    return stack


def flop_counter_counts(model, x, layers: set):
    """Per spec layer, FlopCounterMode FLOPs / 2 (exact: it counts 2 per multiply-accumulate);
    and the whole model's MACs per aten op."""
    try:
        with _dynamo_deferred():
            counter = _flop_counter_pass(model, x)
    except (_NeedsDynamo, ImportError) as exc:  # a torch whose pass needs more of torch._dynamo: the plain pass
        if isinstance(exc, ImportError) and not (exc.name or "").startswith("torch._dynamo."):
            raise
        counter = _flop_counter_pass(model, x)
    counts = counter.get_flop_counts()
    per_op = {str(op): n // 2 for op, n in sorted(counts.get("Global", {}).items(), key=lambda kv: str(kv[0]))}
    root = type(model).__name__
    per: Counter[str] = Counter()
    stray: Counter[str] = Counter()
    paths = _paths(model, layers)
    for mod, by_op in counts.items():
        if not mod.startswith(root + "."):
            continue
        layer = paths.get(mod[len(root) + 1 :])
        if layer is not None:
            per[layer] += sum(by_op.values())
    total = counter.get_total_flops()
    if total != sum(per.values()):
        stray["flop_counter"] = (total - sum(per.values())) // 2
    return Counter({k: v // 2 for k, v in per.items()}), stray, per_op


def _flop_counter_pass(model, x):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with _counted_attention(), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter


def verify_graph(graph, progress=None) -> Verification:
    """Build the graph's module twice (meta for FlopCounterMode, CPU for fvcore) and compare.
    ``progress``: a flopcount.progress.Bar advanced after each layer of both passes."""
    _fvcore()  # exit 4 with the install command when fvcore is missing: before any work
    from .api import report_of
    from .torch_build import build_graph, torch, zeros_on  # the same when torch is

    report = report_of(graph)
    rows = report.rows
    layers = {r.name for r in rows}
    shape = (graph.batch, *graph.input)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # counting passes: one thread, no OpenMP spinning on a busy machine
    hooks: list = []
    try:
        meta = build_graph(graph, device="meta")
        hooks += _steps(meta, layers, progress)
        fc_per, fc_stray, by_op = flop_counter_counts(meta, torch.empty(shape, device="meta"), layers)

        cpu = zeros_on(build_graph(graph, device="meta"), "cpu")
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(shape, generator=gen)
        hooks += _steps(cpu, layers, progress)
        with _counted_attention():
            fv_per, unsupported, other, fv_stray, buckets = fvcore_counts(cpu, x, layers)
    finally:
        torch.set_num_threads(threads)
        for h in hooks:
            h.remove()

    unread = {n.name for n in graph.unreached()}
    checks = [
        LayerCheck(r.name, r.op, r.macs, fv_per.get(r.name, 0), fc_per.get(r.name, 0), r.name in unread) for r in rows
    ]
    v = Verification(
        report.model,
        graph.batch,
        checks,
        unsupported,
        other,
        dict(fc_stray + fv_stray),
        by_op=by_op,
        fvcore_buckets=buckets,
    )
    v.notes.append(FVCORE_DEVICE_NOTE)
    if by_op:
        v.notes.append(
            "FlopCounterMode MACs per op: "
            + ", ".join(f"{op.removeprefix('aten.')} {n:,}" for op, n in by_op.items())
            + " (mm/addmm: linear layers; bmm: matmuls and attention's Q K^T and A V)"
        )
    skipped = {op: n for op, n in unsupported.items() if op in UNCOUNTED_MACS}
    plain = {op: n for op, n in unsupported.items() if op not in UNCOUNTED_MACS}
    if plain:
        v.notes.append(
            "fvcore counts 0 for ops it does not support: "
            + ", ".join(f"{op} (x{n})" for op, n in plain.items())
            + "; none of them is a MAC by flopcount's convention, so the comparison stands"
        )
    if skipped:
        v.notes.append(
            "fvcore counts 0 for "
            + ", ".join(f"{op} (x{n})" for op, n in skipped.items())
            + ", which holds attention's matrix products (MACs): fvcore's column is short there"
        )
    if other:
        v.notes.append(
            "fvcore also counted, outside its MAC buckets (not compared): "
            + ", ".join(f"{op} {n:,}" for op, n in other.items())
        )
    dropped = [c for c in checks if c.unread and c.fvcore != c.ours]
    if dropped:
        names = ", ".join(c.name for c in dropped[:3]) + (f", ... ({len(dropped)} in all)" if len(dropped) > 3 else "")
        v.notes.append(
            f"no output depends on {names}: torch runs them and FlopCounterMode counts them, but fvcore's "
            "traced graph drops them, so its column is not compared there (`ok (unread)`)"
        )
    if report.train_rows:
        v.notes.append(f"{len(report.train_rows)} training-only layers (side outputs) are not built or compared")
    return v


def _paths(model, layers: set) -> dict:
    """Module path -> spec layer name (the same but for a layer that is also a scope:
    ``torch_build.SpecModel.module_path``; any other module: its own name)."""
    path = getattr(model, "module_path", None)
    return {path(name) if path is not None else name: name for name in layers}


def _steps(model, layers: set, progress) -> list:
    if progress is None:
        return []
    from .progress import module_steps

    return module_steps(model, sorted(_paths(model, layers)), progress)


def verify(target, input_shape=None, batch=None, sets=None) -> Verification:
    """Verify a target; torch's and fvcore's own warnings (FutureWarning, UserWarning, ...) are
    kept out of the output (FLOPCOUNT_DEBUG=1 lets them through), and a progress bar with an ETA
    runs on stderr when it is a terminal (flopcount.progress). The cyclic garbage collector is
    paused while torch is imported and the module is built and counted twice (``api.no_gc``):
    that makes a few hundred thousand objects and almost no garbage, and the collector's passes
    over them were about a tenth of ``verify resnet-50``. (The exit-time collections are the
    program's: ``cli.LazyGroup.__call__`` freezes every object when the command returns.)"""
    import os
    import warnings

    from .api import load_graph, no_gc
    from .progress import bar

    graph = load_graph(target, input_shape, batch, sets)
    with warnings.catch_warnings(), no_gc():
        if not os.environ.get("FLOPCOUNT_DEBUG"):
            warnings.simplefilter("ignore")  # third-party noise above the table (fvcore under torch 2.14)
        with bar(2 * sum(not n.train_only for n in graph.nodes), "verify") as shown:
            return verify_graph(graph, shown)


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
            "check": c.check,
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
