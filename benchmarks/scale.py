"""Analysis time and memory against the size of the network: 1,000 / 10,000 / 100,000 nodes.

For each synthetic network shape of ``synth.py`` (a chain of convs, a residual net, a net
of Inception modules) and each size, a fresh Python process writes the spec to a temporary
file, imports flopcount, and times in-process:

* ``analyze``: read the YAML, expand, infer shapes, cost every node, build the report rows
  (``flopcount.analyze(path)``); the median of ``--repeat`` runs (one run at 100,000);
* ``json``: ``json.dumps`` of the report, as ``flopcount report --format json`` writes it;

and reports the process's peak resident memory (``ru_maxrss``; includes the interpreter and
the imports, about 25 MB) beside the time.

Targets (issue 7): the 100k / 10k time ratio at most 12 (linear growth is 10), and 10,000
nodes analysed in under 1 s.

    python benchmarks/scale.py
    python benchmarks/scale.py --sizes 1000 10000 --kinds chain
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from synth import KINDS, spec_text  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
RATIO_TARGET = 12.0
TEN_K_TARGET_S = 1.0


def child(kind: str, nodes: int, repeat: int) -> dict:
    """Run in a fresh process: time one size; print a JSON line."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}-{nodes}.yaml")
        with open(path, "w") as fh:
            fh.write(spec_text(kind, nodes))
        size = os.path.getsize(path)
        from flopcount.api import analyze
        from flopcount.render.jsonfmt import json_text

        times, jtimes = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            report = analyze(path)
            t1 = time.perf_counter()
            text = json_text(report.to_json())
            t2 = time.perf_counter()
            times.append(t1 - t0)
            jtimes.append(t2 - t1)
            n = len(report.rows) + len(report.train_rows)
            del report, text
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind,
        "nodes": n,
        "file_bytes": size,
        "analyze_s": statistics.median(times),
        "json_s": statistics.median(jtimes),
        "peak_rss_mb": rss_kb / 1024,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--repeat", type=int, default=3, help="runs per size below 100,000 (median)")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "NODES"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.repeat)))
        return 0
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; load average at start {load:.2f}")
    print()
    print("| network | nodes | spec bytes | analyze s | us / node | json s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # flopcount refuses specs over 50,000 layers or 100,000 YAML values by default (guards
    # against runaway repeats and oversized files); the benchmark raises both
    env["FLOPCOUNT_MAX_NODES"] = str(10 * max(args.sizes))
    env["FLOPCOUNT_MAX_YAML_NODES"] = str(100 * max(args.sizes))
    results: dict = {}
    for kind in args.kinds:
        for size in args.sizes:
            repeat = 1 if size >= 100_000 else args.repeat
            p = subprocess.run(
                [sys.executable, __file__, "--repeat", str(repeat), "--child", kind, str(size)],
                capture_output=True,
                text=True,
                env=env,
            )
            if p.returncode:
                print(f"| {kind} | {size:,} | failed: {p.stderr.strip().splitlines()[-1:]} |||||")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            results[(kind, size)] = r
            print(
                f"| {kind} | {r['nodes']:,} | {r['file_bytes']:,} | {r['analyze_s']:.3f} | "
                f"{1e6 * r['analyze_s'] / r['nodes']:.1f} | {r['json_s']:.3f} | {r['peak_rss_mb']:.0f} |",
                flush=True,
            )
    print()
    fails = []
    for kind in args.kinds:
        small, big = results.get((kind, 10_000)), results.get((kind, 100_000))
        if small:
            ok = small["analyze_s"] < TEN_K_TARGET_S
            print(
                f"- {kind}: {small['nodes']:,} nodes analysed in {small['analyze_s']:.3f} s "
                f"(target < {TEN_K_TARGET_S:.0f} s: {'met' if ok else 'MISSED'})"
            )
            if not ok:
                fails.append(kind)
        if small and big:
            ratio = big["analyze_s"] / small["analyze_s"]
            ok = ratio <= RATIO_TARGET
            print(
                f"- {kind}: 100k / 10k time ratio {ratio:.2f} (linear = {big['nodes'] / small['nodes']:.1f}; "
                f"target <= {RATIO_TARGET:.0f}: {'met' if ok else 'MISSED'}); peak RSS of the 100k run "
                f"{big['peak_rss_mb']:.0f} MB"
            )
            if not ok:
                fails.append(kind)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
