"""Sweep speed: milliseconds of CPU per design for the sweeps of docs/benchmarks.md (Sweeps).

    python benchmarks/sweep_speed.py                  # this checkout
    python benchmarks/sweep_speed.py --src /tmp/old   # another checkout (git worktree add /tmp/old HEAD~1)
    python benchmarks/sweep_speed.py --only resnet-50 --repeat 5 --max-designs 2000

Each run is a fresh process, as a ``flopcount sweep`` is: it imports flopcount (from ``--src``
when given), runs one warm-up sweep of the first design (which reads the spec, checks it and
imports what the walk needs, as the command does before its first row), then times
``flopcount.sweep.sweep`` over all the designs, in one job, by the process's CPU time (user +
system: less sensitive to a busy machine than wall time). Nothing one run kept (the spec, the
replay's results) helps the next. The figure is the median over ``--repeat`` runs divided by
the designs. The resnet-50 sweeps are the issue's "10^6 resnet-50-sized designs within 20
CPU-minutes": their per-design time times 10^6 is printed as CPU-minutes, a linear
extrapolation (the kept results are bounded, so nothing grows with the sweep's length but the
rows); the last one changes the network's depths in every design, so each is an expansion.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASES = [
    ("vgg-D", ["input=224:323", "batch=1:10"]),  # 100 inputs x 10 batches
    ("efficientnet-b0", ["input=224:1223"]),  # 1,000 inputs
    ("resnet-50", ["input=224:1223"]),
    ("resnet-50", ["input=224:20223"]),  # 20,000 inputs: the 10^6 projection, inputs only
    ("resnet-50", ["n4=2:21", "input=224:1223"]),  # 20 depths x 1,000 inputs: with a variable
    ("resnet-50", ["n3=1:10", "n4=1:20", "n5=1:10"]),  # 2,000 depths: every design its own structure
]
PROJECTED = 10**6

_CHILD = """
import json, sys, time
src, target, sets = json.loads(sys.argv[1])
if src:
    sys.path.insert(0, src)
import flopcount
from flopcount.sweep import parse_axes, sweep
axes = parse_axes(sets)
sweep([target], parse_axes([f"{k}={v[0]}" for k, v in axes]))  # warm-up: the first design
t0 = time.process_time()
rows = sweep([target], axes)
print(json.dumps([flopcount.__file__, len(rows), time.process_time() - t0]))
"""


def _run(src, target, sets) -> tuple:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([src, target, sets])], capture_output=True, text=True, check=True
    ).stdout
    where, rows, seconds = json.loads(out)
    return where, rows, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="a checkout to import flopcount from (put first on sys.path)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="run only the cases of this model")
    ap.add_argument("--max-designs", type=int, help="skip the cases with more designs than this")
    args = ap.parse_args()
    shown = False
    for target, sets in CASES:
        if args.only and target != args.only:
            continue
        size = 1
        for text in sets:
            start, _, stop = text.partition("=")[2].partition(":")
            size *= int(stop) - int(start) + 1
        if args.max_designs is not None and size > args.max_designs:
            continue
        runs = [_run(args.src, target, sets) for _ in range(args.repeat)]
        if not shown:
            print(f"flopcount from {runs[0][0]}")
            shown = True
        designs = runs[0][1]
        times = [t for _, _, t in runs]
        per = statistics.median(times) / designs * 1000
        line = f"{target:16} {' '.join(sets):32} {designs:7,} designs  {per:7.3f} ms/design"
        if target == "resnet-50":
            line += f"  (10^6: {per * PROJECTED / 60_000:5.1f} CPU-min)"
        print(f"{line}  (runs, s: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
