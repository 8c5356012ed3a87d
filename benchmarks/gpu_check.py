"""GPU check for `flopcount --latency`: run it on a CUDA machine, record the table in docs/gpu.md.

    python benchmarks/gpu_check.py              # on a CUDA machine: under 5 minutes
    python benchmarks/gpu_check.py --markdown   # the same table as markdown, for docs/gpu.md
    python benchmarks/gpu_check.py --dry-run    # anywhere: the same code on the CPU, tiny configs

What it does:
1. builds every built-in config on the GPU and checks its parameter count against the report;
2. times vgg-D and resnet-50 at batch 1 and 64 in fp32 and bf16 with flopcount's own code path
   (flopcount.latency.time_module: CUDA events, one synchronise per pass, medians) and, on the
   same module and input, with torch.utils.benchmark.Timer (blocked_autorange);
3. prints one table: flopcount's end-to-end median beside Timer's, their difference, and the
   per-layer sum over end-to-end. Exit 1 when a difference exceeds --tolerance (5%) or a build
   fails (a dry run only reports).
"""
from __future__ import annotations

import argparse
import datetime
import sys
import time


def build_all(torch, device: str, names) -> list:
    """Build each config on ``device`` (meta in a dry run): (name, params ok, seconds, error)."""
    from flopcount.api import load_graph, report_of
    from flopcount.torch_build import build_graph, count_params

    out = []
    for name in names:
        t0 = time.perf_counter()
        try:
            graph = load_graph(name)
            model = build_graph(graph, device=device)
            ok = count_params(model) == report_of(graph).totals["params"]
            del model
            out.append((name, ok, time.perf_counter() - t0, ""))
        except Exception as exc:  # noqa: BLE001 - reported in the table
            out.append((name, False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"))
        if device == "cuda":
            torch.cuda.empty_cache()
    return out


def time_one(torch, name: str, batch: int, dtype: str, device: str, warmup: int, repeat: int,
             min_run_time: float) -> dict:
    """flopcount's end-to-end median and Timer's median on the same module and input (ms)."""
    from torch.utils import benchmark

    from flopcount.api import load_graph
    from flopcount.latency import Options, prepare, time_module

    graph = load_graph(name, batch=batch)
    opts = Options(device, dtype, warmup, repeat, progress=False)
    model, x = prepare(torch, graph, device, opts)
    ours = time_module(torch, model, x, device, opts)
    timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x},
                            label=name, description=f"batch {batch} {dtype}")
    with torch.inference_mode():
        model(x)  # warm the path Timer takes
        theirs = timer.blocked_autorange(min_run_time=min_run_time).median * 1e3
    del model, x
    if device == "cuda":
        torch.cuda.empty_cache()
    e2e = ours["end_to_end_ms"]["p50"]
    return {"model": name, "batch": batch, "dtype": dtype, "flopcount_ms": e2e, "timer_ms": theirs,
            "diff": e2e / theirs - 1, "layer_sum_ratio": ours["layer_sum_over_end_to_end"]}


def table(rows: list, tolerance: float, markdown: bool = False) -> str:
    """One table: a line per (model, batch, dtype); `ok` when within the tolerance."""
    head = ["model", "batch", "dtype", "flopcount p50 ms", "Timer median ms", "diff", "layer sum / e2e", "check"]
    body = [[r["model"], str(r["batch"]), r["dtype"], f"{r['flopcount_ms']:.3f}", f"{r['timer_ms']:.3f}",
             f"{r['diff'] * 100:+.1f}%", f"{r['layer_sum_ratio']:.2f}x" if r["layer_sum_ratio"] else "-",
             "ok" if abs(r["diff"]) <= tolerance else "DIFFERS"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 4 + ["---"]) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 3 or i == 7 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, small configs, few passes: checks the script itself, measures nothing meaningful")
    p.add_argument("--models", nargs="+", default=None, help="default: vgg-D resnet-50 (dry run: two tiny ones)")
    p.add_argument("--batches", nargs="+", type=int, default=None, help="default: 1 64 (dry run: 1 2)")
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--markdown", action="store_true", help="print the table as markdown (for docs/gpu.md)")
    a = p.parse_args(argv)

    import torch

    from flopcount.spec.resolve import builtin_names

    dry = a.dry_run
    if not dry and not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU (use --dry-run to exercise the script on the CPU)",
              file=sys.stderr)
        return 4
    device = "cpu" if dry else "cuda"
    models = a.models or (["bottleneck-reduced", "inception-reduced"] if dry else ["vgg-D", "resnet-50"])
    batches = a.batches or ([1, 2] if dry else [1, 64])
    warmup = a.warmup if a.warmup is not None else (1 if dry else 10)
    repeat = a.repeat if a.repeat is not None else (3 if dry else 50)
    t0 = time.perf_counter()

    built = build_all(torch, "meta" if dry else device, builtin_names())
    rows = [time_one(torch, m, b, d, device, warmup, repeat, 0.05 if dry else 1.0)
            for m in models for b in batches for d in a.dtypes]

    gpu = "dry run on the CPU" if dry else torch.cuda.get_device_name()
    print(f"flopcount GPU check, {datetime.date.today().isoformat()}, {gpu}, torch {torch.__version__}, "
          f"warmup {warmup}, repeat {repeat}, tolerance {a.tolerance:.0%}")
    bad = [b for b in built if not b[1]]
    print(f"built {len(built) - len(bad)} of {len(built)} configs on {'meta' if dry else device} with the report's "
          f"parameter count ({sum(b[2] for b in built):.1f} s)"
          + "".join(f"\n  FAILED {n}: {err or 'parameter count differs'}" for n, _, _, err in bad))
    print()
    print(table(rows, a.tolerance, a.markdown))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    differs = [r for r in rows if abs(r["diff"]) > a.tolerance]
    if dry:
        return 0 if not bad else 1
    return 1 if differs or bad else 0


if __name__ == "__main__":
    sys.exit(main())
