"""Sweep speed: milliseconds of CPU per design for the 1,000-design sweeps of docs/benchmarks.md.

    python benchmarks/sweep_speed.py                  # this checkout
    python benchmarks/sweep_speed.py --src /tmp/old   # another checkout (git worktree add /tmp/old HEAD~1)

Each sweep runs in this process (``flopcount.sweep.sweep``, one job) after one warm-up sweep
of a few designs, which reads the spec and imports what the walk needs; the figure is the
median of ``--repeat`` runs of the process's CPU time (user + system, less sensitive to a busy
machine than wall time) divided by the designs. The spec is read again for each run, as a
``flopcount sweep`` process does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

CASES = [
    ("vgg-D", ["input=224:323", "batch=1:10"]),  # 100 inputs x 10 batches
    ("efficientnet-b0", ["input=224:1223"]),  # 1,000 inputs
    ("resnet-50", ["input=224:1223"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="a checkout to import flopcount from (put first on sys.path)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="run only the case of this model")
    args = ap.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    import flopcount
    from flopcount.sweep import parse_axes, sweep

    print(f"flopcount from {flopcount.__file__}")
    for target, sets in CASES:
        if args.only and target != args.only:
            continue
        axes = parse_axes(sets)
        designs = 1
        for _, values in axes:
            designs *= len(values)
        sweep([target], parse_axes([f"{k}={v[0]}" for k, v in axes]))  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            rows = sweep([target], axes)
            times.append(time.process_time() - t0)
        assert len(rows) == designs
        per = statistics.median(times) / designs * 1000
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"{target:16} {' '.join(sets):32} {designs:6,} designs  {per:7.3f} ms/design  (runs, s: {runs})")


if __name__ == "__main__":
    main()
