"""Whole-process speed of ``flopcount verify MODEL`` (issue 17: resnet-50 at least 25% faster).

Each measurement is a fresh process, ``python -m flopcount verify MODEL`` with stdout to a
pipe, timed from spawn to exit (wall) and by the child's own CPU time (user + system, from
``os.wait4``), which other load on a shared machine disturbs far less than the wall time.
With ``--before TREE`` (a source tree of an older flopcount, e.g. a ``git worktree`` at the
commit to compare with; ``--also LABEL=TREE`` adds more, such as one change alone) the runs
of every tree are interleaved, one untimed warm-up run each first (bytecode compiled, files
in the page cache), and their outputs are compared byte for byte (the script exits 1 when
they differ). The after runs use the tree this script lives in. Children run with ``PYTHONDONTWRITEBYTECODE`` unset, so each tree's modules are compiled
once, in its warm-up run.

    git worktree add /tmp/verify-before d7759e7
    python benchmarks/verify_speed.py --before /tmp/verify-before --runs 5
    python benchmarks/verify_speed.py --before /tmp/verify-before --also "one change=/tmp/one" --runs 7
    python benchmarks/verify_speed.py --model vgg-D --runs 3            # after only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_once(tree: str, model: str) -> tuple[float, float, bytes]:
    """(wall s, CPU s, stdout) of one ``verify`` process importing flopcount from ``tree``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = tree
    start = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "flopcount", "verify", model], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out = p.stdout.read() if p.stdout else b""
    err = p.stderr.read() if p.stderr else b""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise SystemExit(f"verify {model} from {tree} exited {p.returncode}:\n{err.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet-50")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", metavar="TREE", help="source tree of the flopcount to compare with")
    ap.add_argument("--also", metavar="LABEL=TREE", action="append", default=[], help="another tree to time")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = ap.parse_args(argv)
    trees = [("before", os.path.abspath(a.before))] if a.before else []
    for text in a.also:
        label, eq, tree = text.partition("=")
        if not eq:
            ap.error(f"--also {text!r}: expected LABEL=TREE")
        trees.append((label, os.path.abspath(tree)))
    trees.append(("after", HERE))
    load0 = os.getloadavg()[0]
    outputs = {}
    for label, tree in trees:  # warm-up: bytecode, page cache
        outputs[label] = run_once(tree, a.model)[2]
    times: dict = {label: [] for label, _ in trees}
    for _ in range(a.runs):
        for label, tree in trees:
            wall, cpu, out = run_once(tree, a.model)
            if out != outputs[label]:
                raise SystemExit(f"{label}: the output of verify {a.model} changed between runs")
            times[label].append((wall, cpu))
    load1 = os.getloadavg()[0]
    print(f"flopcount verify {a.model}: median of {a.runs} interleaved runs; load average {load0:.2f} -> {load1:.2f}")
    width = max(8, *(len(label) for label, _ in trees))
    print(f"{'tree':{width}s} {'wall s':>8s} {'CPU s':>8s}   (each run: wall/CPU)")
    med = {}
    for label, tree in trees:
        w = statistics.median(t[0] for t in times[label])
        c = statistics.median(t[1] for t in times[label])
        med[label] = (w, c)
        runs = " ".join(f"{t[0]:.2f}/{t[1]:.2f}" for t in times[label])
        print(f"{label:{width}s} {w:8.2f} {c:8.2f}   {runs}   ({tree})")
    same = len(set(outputs.values())) == 1
    if a.before:
        wb, cb = med["before"]
        for label, _ in trees[1:]:
            wa, ca = med[label]
            print(
                f"{label} / before: wall {wa / wb:.2f} ({1 - wa / wb:.0%} faster), CPU {ca / cb:.2f} ({1 - ca / cb:.0%} faster)"
            )
    if len(trees) > 1:
        print("outputs byte-identical" if same else "OUTPUTS DIFFER")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"model": a.model, "load": [load0, load1], "runs": times, "median": med}, f, indent=2)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
