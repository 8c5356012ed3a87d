"""What a faster walk could save `check` at most: the walk against the op rules alone.

``flopcount check costs.lock.json`` walks every model of the baseline (docs/benchmarks.md,
issue 17). This script times, in one process (garbage collector off, best of ``--runs``):

* ``walk``: expanding every model of the baseline, as ``check`` does (each spec read once);
* ``op rules``: for every node those walks made, its op's shape rule and cost on the input
  shapes the walk found, and a new ``Node``: what any design must still do per node (a plan
  replayed per variant, a compiled walk), with no attribute evaluated and no result looked up.

The difference is the most a redesign of the walk could save. Run from the repository root::

    python benchmarks/walk_floor.py [--runs 5]
"""

from __future__ import annotations

import gc
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main(argv) -> int:
    from flopcount.baseline.check import _recount, load
    from flopcount.graph import Graph, Node
    from flopcount.ops.base import REGISTRY
    from flopcount.spec.document import reading_once
    from flopcount.spec.resolve import builtin_names

    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 5
    gc.disable()
    lock = os.path.join(ROOT, "costs.lock.json")
    with reading_once():
        baseline = load(lock, recount=True, trust_code=None)
        names = set(builtin_names())
        entries = sorted(baseline.entries, key=lambda e: e.name)
        t0 = time.perf_counter()
        got = [_recount(e, baseline.folder, names, lock)[0] for e in entries]
        walk = time.perf_counter() - t0  # (the first walk of each spec: what a check does)
    graphs = [g for g in got if isinstance(g, Graph)]  # (a spec's graph; every entry here is one)
    best = float("inf")
    n = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        n = 0
        for g in graphs:
            nodes = g.nodes
            made = []
            for node in nodes:
                impl = REGISTRY[node.op]
                shapes = [nodes[i].shape if i >= 0 else tuple(g.input) for i in node.inputs]
                y = impl.infer(node.attrs, shapes)
                c = impl.cost(node.attrs, shapes, y)
                made.append(Node(node.index, node.name, node.op, node.attrs, node.inputs, y, c, node.pos))
                n += 1
        best = min(best, time.perf_counter() - t0)
    print(f"{len(graphs)} models, {n:,} nodes")
    print(f"walk (as check does it)       {walk * 1e3:8.1f} ms")
    print(f"op rules + Node per node      {best * 1e3:8.1f} ms   ({best / walk:.0%} of the walk)")
    print(f"the most a redesign could save {(walk - best) * 1e3:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
