"""Acceptance 2 of issue 15: `flopcount report vgg-D --latency --device cpu --threads 1` against
torch.utils.benchmark.Timer on the same module, input and thread count.

    python benchmarks/latency_vs_timer.py                 # vgg-D, 3 interleaved rounds
    python benchmarks/latency_vs_timer.py --model resnet-50 --rounds 5

One module and input (flopcount.latency.prepare, as `--latency` builds them), then rounds that
alternate flopcount's measurement (flopcount.latency.time_module with the CLI's defaults and
--threads) and Timer.blocked_autorange (num_threads the same); the medians over rounds and their
ratio, each round's figures, flopcount's spread (p10/p50/p90, IQR, count), and the load average
before and after (other processes share the cores). Then the CLI itself once, as a user runs it.
Exit 1 when the ratio of the medians is more than --tolerance (10%) from 1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def threads_study(name: str) -> int:
    """The default --threads: the median of 5 passes at 1 thread and at every core, as the machine
    is, then with one core kept busy by another process (what a shared machine does to a team of
    OpenMP threads)."""
    import os

    import torch

    from flopcount.catalog import load_graph
    from flopcount.latency import Options, prepare, saved_torch_state

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def ms(threads):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            model(x)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    with saved_torch_state(torch):
        model, x = prepare(torch, load_graph(name), "cpu", Options(device="cpu"))
        print(f"{name}, {cores} cores, load average {loadavg()}")
        for label in ("as found", "one core busy"):
            busy = None
            if label == "one core busy":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            try:
                print(
                    f"{label}: 1 thread {ms(1):.0f} ms, {cores} threads {ms(cores):.0f} ms; "
                    f"again: 1 thread {ms(1):.0f} ms, {cores} threads {ms(cores):.0f} ms"
                )
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="vgg-D")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timer-s", type=float, default=3.0, help="Timer.blocked_autorange min_run_time (s)")
    p.add_argument("--tolerance", type=float, default=0.10)
    p.add_argument("--no-cli", action="store_true", help="skip the closing CLI run")
    p.add_argument(
        "--threads-study",
        action="store_true",
        help="instead: the model at 1 and at all threads, as found and with one core kept busy",
    )
    a = p.parse_args(argv)
    if a.threads_study:
        return threads_study(a.model)

    import torch
    from torch.utils import benchmark

    from flopcount.catalog import load_graph
    from flopcount.latency import Options, prepare, saved_torch_state, time_module

    print(f"{a.model}, CPU, {a.threads} thread(s), torch {torch.__version__}; load average before: {loadavg()}")
    opts = Options(device="cpu", threads=a.threads, progress=False)
    ours, theirs = [], []
    with saved_torch_state(torch):
        torch.set_num_threads(a.threads)
        model, x = prepare(torch, load_graph(a.model), "cpu", opts)
        timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x}, num_threads=a.threads)
        for i in range(a.rounds):
            t0 = time.perf_counter()
            r = time_module(torch, model, x, "cpu", opts)
            t1 = time.perf_counter()
            with torch.inference_mode():
                m = timer.blocked_autorange(min_run_time=a.timer_s)
            t2 = time.perf_counter()
            e = r.end_to_end
            ours.append(e.p50)
            theirs.append(m.median * 1e3)
            print(
                f"round {i + 1}: flopcount p50 {e.p50:.2f} ms (p10 {e.p10:.2f}, p90 {e.p90:.2f}, IQR {e.iqr:.2f}, "
                f"{e.count} passes, stopped early: {r.stopped_early}, {t1 - t0:.1f} s); Timer median "
                f"{m.median * 1e3:.2f} ms (IQR {m.iqr * 1e3:.2f}, {len(m.times)} blocks of {m.number_per_run}, "
                f"{t2 - t1:.1f} s); ratio {e.p50 / (m.median * 1e3):.3f}"
            )
    mo, mt = statistics.median(ours), statistics.median(theirs)
    ratio = mo / mt
    print(
        f"median over rounds: flopcount {mo:.2f} ms, Timer {mt:.2f} ms, ratio {ratio:.3f} "
        f"({'within' if abs(ratio - 1) <= a.tolerance else 'NOT within'} {a.tolerance:.0%}); "
        f"load average after: {loadavg()}"
    )
    if not a.no_cli:
        line = [
            "-m",
            "flopcount",
            "report",
            a.model,
            "--latency",
            "--device",
            "cpu",
            "--threads",
            str(a.threads),
            "--format",
            "json",
        ]
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, *line], capture_output=True, text=True)
        if out.returncode == 0:
            lat = json.loads(out.stdout)["latency"]
            e = lat["end_to_end_ms"]
            print(
                f"CLI `flopcount {' '.join(line[2:])}` ({time.perf_counter() - t0:.0f} s): p50 {e['p50']:.2f} ms, "
                f"p10 {e['p10']:.2f}, p90 {e['p90']:.2f}, IQR {e['iqr']:.2f}, {e['count']} passes, threads "
                f"{lat['threads']}; vs the Timer median {e['p50'] / mt:.3f}"
            )
        else:
            print(f"CLI failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
    return 0 if abs(ratio - 1) <= a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
