"""GPU check of `flopcount --latency`: one run that shows what is needed to accept the CUDA path.

    python benchmarks/gpu_check.py                 # CUDA: under 4 minutes on an H200
    python benchmarks/gpu_check.py --out r.json    # default: $OUT/gpu_check.json, else ./gpu_check.json
    python benchmarks/gpu_check.py --markdown      # the closing table as markdown, for docs/gpu.md

No single failure loses the others: every step (a configuration, a CLI check) runs in its own
try, and the JSON is rewritten (atomically) after each one, so a run cut short still leaves every
result before the cut. ``--budget-s`` (default 210) is enforced: a step that would start after it
is recorded as skipped, with the reason.

On CUDA, for vgg-D, resnet-50, efficientnet-b0, inception-naive and inception-reduced at batch 1
and 64 in fp32, tf32 and bf16, on one module and input each:

* flopcount's figure (``flopcount.latency.time_module``, ``--runs 3 --cuda-graph``: end-to-end
  p10/p50/p90, IQR, count, the run-to-run spread, the CUDA-graph replay, the launch-bound flag and
  launch-bound layers, marks' cost and the sum-of-medians bias);
* beside it, in the same process: ``torch.utils.benchmark.Timer.blocked_autorange``, a
  do_bench-style event loop (25 ms warm-up, 100 ms of repetitions, one event pair per repetition,
  median), and ``triton.testing.do_bench`` when triton imports;
* ``torch.profiler``'s kernel total for a pass (fp32 and bf16) beside the per-layer sum;
* channels-last at batch 64 (fp32, bf16); the CLI's exit codes: 4 for a batch of 2**62, 4 for a
  real CUDA out-of-memory (the process limited to a sliver of the GPU's memory), 4 with no GPU
  visible (``CUDA_VISIBLE_DEVICES=``).

Acceptance (issue 15): flopcount within 5% of the do_bench-style figure, run-to-run spread at
most 2%. Exit 0 when every check holds and no step failed, 1 otherwise.

Without CUDA it runs what the CPU can, briefly (inception-reduced and resnet-50 at batch 1 and 2,
fp32 and bf16, one thread, short budgets; the CLI checks; channels-last; the profiler's CPU total)
and records what it skipped and why; its numbers check the script, not a GPU.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import traceback

MODELS = ["vgg-D", "resnet-50", "efficientnet-b0", "inception-naive", "inception-reduced"]
BATCHES = [1, 64]
DTYPES = ["fp32", "bf16", "tf32"]  # in this order: a run cut short by the budget loses tf32 first
#: without CUDA: a short run (one thread; bf16 convolutions are slow on most CPUs)
CPU_CONFIGS = [
    ("inception-reduced", 1, "fp32"),
    ("inception-reduced", 2, "fp32"),
    ("inception-reduced", 1, "bf16"),
    ("resnet-50", 1, "fp32"),
]
TOLERANCE = 0.05  # flopcount vs the do_bench-style figure
RUN_SPREAD = 0.02  # run-to-run spread allowed
HUGE = str(2**62)


# ---------------------------------------------------------------------------- the record
class Record:
    """The JSON document: rewritten atomically (temp file + rename) after every step."""

    def __init__(self, path: str, meta: dict):
        self.path = path
        self.doc: dict = {"meta": meta, "steps": []}
        self.write()

    def add(self, step: dict) -> None:
        self.doc["steps"].append(step)
        self.write()

    def write(self) -> None:
        tmp = f"{self.path}.tmp"
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=1, default=str)
            f.write("\n")
        os.replace(tmp, self.path)


def step(rec: Record, name: str, fn, deadline: float, **info) -> dict:
    """Run ``fn()`` (returning a dict) as one step: ok, failed (with the error) or skipped."""
    entry = {"step": name, **info}
    left = deadline - time.perf_counter()
    if left <= 0:
        entry.update(status="skipped", reason="the run's time budget (--budget-s) was spent")
        rec.add(entry)
        return entry
    t0 = time.perf_counter()
    try:
        out = fn()
        entry.update(status=out.pop("status", "ok"), **out)
    except Exception as exc:  # noqa: BLE001 - recorded; the next step runs
        text = str(exc).strip().splitlines()
        entry.update(
            status="failed",
            error=f"{type(exc).__name__}: {text[0] if text else ''}",
            traceback=traceback.format_exc().splitlines()[-6:],
        )
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    rec.add(entry)
    return entry


def skip(rec: Record, name: str, reason: str, **info) -> None:
    rec.add({"step": name, "status": "skipped", "reason": reason, **info})


# ---------------------------------------------------------------------------- reference timers
def sync_of(torch, device: str):
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def dobench_style(torch, fn, device: str, warmup_ms: float = 25.0, rep_ms: float = 100.0) -> dict:
    """do_bench's protocol, written here: estimate from 5 calls, warm up for ``warmup_ms``, then
    time ``rep_ms`` worth of calls, one pair of time points per call (CUDA events, or the host
    clock on the CPU), and take the median."""
    sync = sync_of(torch, device)
    fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(5):
        fn()
    sync()
    estimate = max((time.perf_counter() - t0) * 1e3 / 5, 1e-3)
    for _ in range(max(1, int(warmup_ms / estimate))):
        fn()
    n = max(5, int(rep_ms / estimate))
    times = []
    if device == "cuda":
        start = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        end = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        sync()
        for i in range(n):
            start[i].record()
            fn()
            end[i].record()
        sync()
        times = [s.elapsed_time(e) for s, e in zip(start, end)]
    else:
        for _ in range(n):
            t = time.perf_counter_ns()
            fn()
            times.append((time.perf_counter_ns() - t) / 1e6)
    return {"median_ms": statistics.median(times), "count": n}


def triton_bench(fn) -> float | None:
    """``triton.testing.do_bench``'s median when triton imports (its signature moved over versions)."""
    try:
        from triton.testing import do_bench  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - not installed or not importable: reported as None
        return None
    try:
        return float(do_bench(fn, warmup=25, rep=100, return_mode="median"))
    except TypeError:
        return float(do_bench(fn, warmup=25, rep=100, quantiles=[0.5])[0])


def timer_bench(torch, fn, threads: int | None, min_run_time: float) -> dict:
    from torch.utils import benchmark

    m = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads or 1).blocked_autorange(
        min_run_time=min_run_time
    )
    return {"median_ms": m.median * 1e3, "iqr_ms": m.iqr * 1e3, "count": len(m.times)}


def profiler_total(torch, fn, device: str, passes: int = 3) -> dict:
    """torch.profiler over ``passes`` calls: the kernel (CUDA) or op (CPU) self-time total per pass."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    sync = sync_of(torch, device)
    sync()
    with profile(activities=acts) as prof:
        for _ in range(passes):
            fn()
        sync()
    events = list(prof.key_averages())
    if device != "cuda":
        return {"kind": "CPU op self-time", "per_pass_ms": sum(e.self_cpu_time_total for e in events) / 1e3 / passes}

    def device_us(e):
        return getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0) or 0

    # the kernels themselves (device-side events); without them, the device time each op launched
    # itself (each kernel counted once, under the op that launched it)
    kernels = [e for e in events if str(getattr(e, "device_type", "")).endswith("CUDA")]
    total = sum(device_us(e) for e in (kernels or events))
    return {
        "kind": "kernel self-time (CUPTI)" if kernels else "ops' self device time",
        "per_pass_ms": total / 1e3 / passes,
        "kernel_entries": len(kernels),
    }


def env_info(torch, device: str) -> dict:
    out = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": device,
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    try:
        import triton  # type: ignore[import-not-found]

        out["triton"] = triton.__version__
    except Exception:  # noqa: BLE001
        out["triton"] = None
    if device == "cuda":
        p = torch.cuda.get_device_properties(0)
        out.update(
            gpu=torch.cuda.get_device_name(),
            capability=".".join(map(str, torch.cuda.get_device_capability())),
            memory_gib=round(p.total_memory / 2**30, 1),
            l2_mib=getattr(p, "L2_cache_size", 0) / 2**20,
            cudnn=torch.backends.cudnn.version(),
        )
    else:
        out.update(cpu_threads_available=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None)
        try:
            out["loadavg"] = open("/proc/loadavg").read().split()[:3]
        except OSError:
            pass
    return out


def build_all(torch, device: str) -> dict:
    """Every built-in config builds on ``device`` (meta on the CPU) with the report's parameter count."""
    from flopcount.catalog import load_graph
    from flopcount.report import report_of
    from flopcount.spec.resolve import builtin_names
    from flopcount.torch_build import build_graph, count_params

    bad = []
    names = builtin_names()
    for name in names:
        try:
            graph = load_graph(name)
            model = build_graph(graph, device=device)
            if count_params(model) != report_of(graph).totals["params"]:
                bad.append(f"{name}: parameter count differs")
            del model
        except Exception as exc:  # noqa: BLE001 - listed
            bad.append(f"{name}: {type(exc).__name__}: {str(exc).strip()[:200]}")
        if device == "cuda":
            torch.cuda.empty_cache()
    return {
        "status": "ok" if not bad else "failed",
        "built": len(names) - len(bad),
        "of": len(names),
        "on": device,
        "failures": bad,
    }


def cli(args: list, env: dict | None = None, timeout: float = 120) -> dict:
    p = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    return {"code": p.returncode, "stderr": p.stderr.strip()[-600:], "traceback": "Traceback" in p.stderr}


def cli_check(args: list, want_code: int, want_text: str, env: dict | None = None) -> dict:
    r = cli(args, env)
    ok = r["code"] == want_code and want_text in r["stderr"] and not r["traceback"]
    return {"status": "ok" if ok else "failed", "expected": f"exit {want_code}, '{want_text}'", **r}


OOM_WRAPPER = (
    "import sys, torch; torch.cuda.set_per_process_memory_fraction(0.004); "
    "from flopcount.cli import main; sys.argv[0] = 'flopcount'; main()"
)


def time_config(
    torch, name: str, batch: int, dtype: str, device: str, cfg: dict, channels_last: bool = False, profile: bool = False
) -> dict:
    """One configuration: flopcount's figure and the reference timers on the same module and input."""
    from flopcount.catalog import load_graph
    from flopcount.latency import Options, prepare, saved_torch_state, time_module

    graph = load_graph(name, batch=batch)
    cuda = device == "cuda"
    opts = Options(
        device=device,
        dtype=dtype,
        warmup_ms=cfg["warmup_ms"],
        measure_ms=cfg["measure_ms"],
        max_ms=cfg["max_ms"],
        runs=cfg["runs"],
        threads=None if cuda else cfg["threads"],
        channels_last=channels_last,
        cuda_graph=cuda and not channels_last,
        progress=False,
    )
    with saved_torch_state(torch):
        if not cuda:
            torch.set_num_threads(cfg["threads"])
        model, x = prepare(torch, graph, device, opts)
        lat = time_module(torch, model, x, device, opts)
        with torch.inference_mode():

            def fn():
                return model(x)

            ref = dobench_style(torch, fn, device)
            tri = triton_bench(fn) if cuda else None
            tim = timer_bench(torch, fn, None if cuda else cfg["threads"], cfg["timer_s"])
            prof = profiler_total(torch, fn, device) if profile else None
    model = x = None  # free the module and input before the next configuration
    if cuda:
        torch.cuda.empty_cache()
    e2e = lat.end_to_end
    out = {
        "flopcount": {
            "p10": e2e.p10,
            "p50": e2e.p50,
            "p90": e2e.p90,
            "iqr": e2e.iqr,
            "count": e2e.count,
            "stopped_early": lat.stopped_early,
            "runs": list(lat.runs),
            "run_spread": lat.run_spread,
            "marked_p50": lat.marked.p50,
            "marks_cost": lat.marks_cost,
            "aggregation_bias": lat.aggregation_bias,
            "layer_sum_ms": lat.layer_sum_ms,
            "launch_bound": lat.launch_bound,
            "launch_bound_layers": sum(layer.launch_bound for layer in lat.layers),
            "layers": len(lat.layers),
            "threads": lat.threads,
            "cuda_graph_p50": lat.cuda_graph.p50 if lat.cuda_graph is not None else None,
        },
        "dobench_style": ref,
        "triton_do_bench_ms": tri,
        "timer": tim,
        "diff_vs_dobench": e2e.p50 / ref["median_ms"] - 1,
        "diff_vs_timer": e2e.p50 / tim["median_ms"] - 1,
    }
    if prof is not None:
        out["profiler"] = {
            **prof,
            "layer_sum_over_profiler": lat.layer_sum_ms / prof["per_pass_ms"] if prof["per_pass_ms"] > 0 else None,
        }
    ok_diff = abs(out["diff_vs_dobench"]) <= TOLERANCE
    ok_spread = lat.run_spread is not None and lat.run_spread <= RUN_SPREAD
    out["checks"] = {"within_5pct_of_dobench": ok_diff, "run_spread_at_most_2pct": ok_spread}
    if cuda and not (ok_diff and ok_spread):
        out["status"] = "differs"
    return out


# ---------------------------------------------------------------------------- the table
def row_of(entry: dict) -> dict | None:
    if "flopcount" not in entry:
        return None
    f = entry["flopcount"]
    return {
        "model": entry["model"],
        "batch": entry["batch"],
        "dtype": entry["dtype"] + (" CL" if entry.get("channels_last") else ""),
        "flopcount_ms": f["p50"],
        "dobench_ms": entry["dobench_style"]["median_ms"],
        "timer_ms": entry["timer"]["median_ms"],
        "diff": entry["diff_vs_dobench"],
        "run_spread": f["run_spread"],
        "graph_ms": f["cuda_graph_p50"],
        "launch_bound": f["launch_bound"],
        "marks_cost": f["marks_cost"],
        "bias": f["aggregation_bias"],
    }


def table(rows: list, tolerance: float = TOLERANCE, markdown: bool = False, spread: float = RUN_SPREAD) -> str:
    """One line per configuration; check: ok when within the tolerance of the do_bench-style
    figure and (when measured) the run-to-run spread is within ``spread``."""
    head = [
        "model",
        "batch",
        "dtype",
        "flopcount p50 ms",
        "do_bench-style ms",
        "diff",
        "Timer ms",
        "run spread",
        "graph ms",
        "launch-bound",
        "marks cost",
        "sum bias",
        "check",
    ]

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    body = []
    for r in rows:
        bad = abs(r["diff"]) > tolerance or (r["run_spread"] is not None and r["run_spread"] > spread)
        body.append(
            [
                r["model"],
                str(r["batch"]),
                r["dtype"],
                f"{r['flopcount_ms']:.3f}",
                f"{r['dobench_ms']:.3f}",
                f"{r['diff'] * 100:+.1f}%",
                num(r["timer_ms"], ".3f"),
                "-" if r["run_spread"] is None else f"{r['run_spread'] * 100:.1f}%",
                num(r["graph_ms"], ".3f"),
                "yes" if r["launch_bound"] else "no",
                num(r["marks_cost"], ".2f") + ("x" if r["marks_cost"] else ""),
                num(r["bias"], ".2f") + ("x" if r["bias"] else ""),
                "DIFFERS" if bad else "ok",
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 9 + ["---"]) + "|"]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    left = {0, 1, 2, 9, 12}

    def fmt(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


# ---------------------------------------------------------------------------- main
def plan(cuda: bool, a) -> dict:
    """What to run: the configurations (model, batch, dtype; dtype outermost, so that a run cut
    short by the budget has every model in fp32 first), channels-last ones, budgets."""
    if cuda or a.models or a.batches or a.dtypes:
        models, batches = (
            a.models or (MODELS if cuda else ["inception-reduced"]),
            a.batches or (BATCHES if cuda else [1]),
        )
        dtypes = a.dtypes or (DTYPES if cuda else ["fp32"])
        configs = [(m, b, d) for d, m, b in itertools.product(dtypes, models, batches)]
    else:
        configs, models, batches, dtypes = CPU_CONFIGS, sorted({c[0] for c in CPU_CONFIGS}), [1, 2], ["fp32", "bf16"]
    common = {"configs": configs, "models": models, "dtypes": dtypes}
    if cuda:
        return {
            **common,
            "warmup_ms": 25.0,
            "measure_ms": 100.0,
            "max_ms": 2000.0,
            "runs": 3,
            "threads": None,
            "timer_s": 0.2,
            "profile_dtypes": ["fp32", "bf16"],
            "cl_batch": max(batches),
            "cl_dtypes": ["fp32", "bf16"],
        }
    return {
        **common,
        "warmup_ms": 10.0,
        "measure_ms": 50.0,
        "max_ms": 1500.0,
        "runs": 2,
        "threads": 1,
        "timer_s": 0.2,
        "profile_dtypes": ["fp32"],
        "cl_batch": max(batches),
        "cl_dtypes": ["fp32"],
        "cl_models": ["inception-reduced"] if not a.models else models,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu_check.json"))
    p.add_argument("--models", nargs="+")
    p.add_argument("--batches", nargs="+", type=int)
    p.add_argument("--dtypes", nargs="+")
    p.add_argument("--budget-s", type=float, default=210.0, help="no step starts after this many seconds")
    p.add_argument("--no-cli", action="store_true", help="skip the CLI exit-code checks (subprocesses)")
    p.add_argument("--no-build", action="store_true", help="skip building every built-in config")
    p.add_argument("--markdown", action="store_true", help="print the closing table as markdown")
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    deadline = t_start + a.budget_s

    import torch

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    cfg = plan(cuda, a)
    rec = Record(
        a.out,
        {"script": "benchmarks/gpu_check.py", "plan": cfg, "tolerance": TOLERANCE, "run_spread_allowed": RUN_SPREAD},
    )
    step(rec, "env", lambda: env_info(torch, device), deadline)
    if not a.no_build:
        step(rec, "build all built-in configs", lambda: build_all(torch, device if cuda else "meta"), deadline)
    if not a.no_cli:
        flop = ["-m", "flopcount"]
        step(
            rec,
            "cli: --batch 2**62 is out of memory, exit 4",
            lambda: cli_check(
                flop + ["report", "head-gap", "--latency", "--device", device, "--batch", HUGE], 4, "out of memory"
            ),
            deadline,
        )
        step(
            rec,
            "cli: no GPU visible, --device cuda exits 4",
            lambda: cli_check(
                flop + ["report", "head-gap", "--latency", "--device", "cuda"],
                4,
                "--device cuda",
                env={"CUDA_VISIBLE_DEVICES": ""},
            ),
            deadline,
        )
        if cuda:
            step(
                rec,
                "cli: a real CUDA out of memory exits 4",
                lambda: cli_check(
                    [
                        "-c",
                        OOM_WRAPPER,
                        "report",
                        "vgg-D",
                        "--latency",
                        "--device",
                        "cuda",
                        "--batch",
                        "64",
                        "--measure-ms",
                        "10",
                    ],
                    4,
                    "out of memory",
                ),
                deadline,
            )
        else:
            skip(rec, "cli: a real CUDA out of memory exits 4", "needs CUDA")
    for model, batch, dtype in cfg["configs"]:
        if dtype == "tf32" and not cuda:
            skip(rec, f"time {model} b{batch} tf32", "tf32 is a CUDA math mode (TF32 tensor cores)")
            continue
        step(
            rec,
            f"time {model} b{batch} {dtype}",
            lambda m=model, b=batch, d=dtype: time_config(
                torch, m, b, d, device, cfg, profile=d in cfg["profile_dtypes"]
            ),
            deadline,
            model=model,
            batch=batch,
            dtype=dtype,
            channels_last=False,
        )
    for dtype in cfg["cl_dtypes"]:
        if dtype not in cfg["dtypes"]:
            continue
        for model in cfg.get("cl_models", cfg["models"]):
            step(
                rec,
                f"time {model} b{cfg['cl_batch']} {dtype} channels-last",
                lambda m=model, d=dtype: time_config(torch, m, cfg["cl_batch"], d, device, cfg, channels_last=True),
                deadline,
                model=model,
                batch=cfg["cl_batch"],
                dtype=dtype,
                channels_last=True,
            )
    if not cuda:
        for what in (
            "--cuda-graph replays",
            "--flush-l2",
            "CUDA events (the time points are perf_counter_ns here)",
            "triton.testing.do_bench",
            "tf32",
            "the 5% / 2% acceptance (it is about a GPU)",
            f"models {', '.join(m for m in MODELS if m not in cfg['models'])}, batch 64 and most bf16 "
            "(the CPU run is kept short)",
        ):
            skip(rec, what, "no CUDA device")
    steps = rec.doc["steps"]
    rows = [r for r in map(row_of, steps) if r is not None]
    failed = [s for s in steps if s["status"] == "failed"]
    differs = [s for s in steps if s["status"] == "differs"]
    rec.doc["summary"] = {
        "seconds": round(time.perf_counter() - t_start, 1),
        "failed": [s["step"] for s in failed],
        "differs": [s["step"] for s in differs],
        "skipped": [s["step"] for s in steps if s["status"] == "skipped"],
        "within_5pct": sum(bool(s.get("checks", {}).get("within_5pct_of_dobench")) for s in steps),
        "spread_at_most_2pct": sum(bool(s.get("checks", {}).get("run_spread_at_most_2pct")) for s in steps),
        "timed": len(rows),
    }
    rec.write()
    m = rec.doc["meta"]
    env: dict = next((s for s in steps if s["step"] == "env"), {})
    print(
        f"flopcount GPU check, {env.get('date', '')[:10]}, {env.get('gpu', 'CPU (no CUDA)')}, torch "
        f"{torch.__version__}; JSON: {a.out}"
    )
    print(table(rows, m["tolerance"], a.markdown, m["run_spread_allowed"]))
    s = rec.doc["summary"]
    print(
        f"\ntimed {s['timed']}: within 5% of do_bench-style {s['within_5pct']}, run-to-run spread <= 2% "
        f"{s['spread_at_most_2pct']}; failed {len(failed)}, differs {len(differs)}, skipped {len(s['skipped'])}; "
        f"{s['seconds']:.0f} s"
    )
    for f in failed:
        print(f"  FAILED {f['step']}: {f.get('error') or f.get('failures') or f.get('stderr', '')}")
    for name in s["skipped"]:
        reason = next(x.get("reason") for x in steps if x["step"] == name)
        print(f"  skipped {name}: {reason}")
    return 1 if failed or differs else 0


if __name__ == "__main__":
    sys.exit(main())
