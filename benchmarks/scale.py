"""Analysis time and memory against the size of the network: 1,000 / 10,000 / 100,000 nodes.

For each synthetic network shape of ``synth.py`` (a chain of convs, a residual net, a net
of Inception modules) and each size, a fresh Python process writes the spec to a temporary
file, imports flopcount, and times in-process:

Times are CPU seconds of the process (``time.process_time``: steadier than wall time on a
shared machine).

* ``analyze``: read the YAML, expand, infer shapes, cost every node, build the report rows
  (``flopcount.analyze(path)``); the median of ``--repeat`` runs (one run at 100,000);
* ``json``: the report's JSON written to os.devnull as ``flopcount report --format json``
  writes it (streamed since issue 17: rows made as they are written, never the whole text);

and reports the process's peak resident memory (``ru_maxrss``; includes the interpreter and
the imports, about 25 MB) beside the time.

The read phase alone (issue 17): ``read s`` is ``read_spec(path)`` (the YAML read into positioned
values and the top-level checks), as ``analyze`` reads, with the collector paused; beside it, in
the same process, ``yaml.load(f, Loader=yaml.CSafeLoader)`` of the same file (libyaml's parser,
composer and constructor: plain values without positions), and the ratio. ``read B / node``:
the peak RSS of a separate process that only imports flopcount and reads the spec, above the RSS
after its imports, per node.

Targets (issue 7): the 100k / 10k time ratio at most 12 (linear growth is 10), and 10,000
nodes analysed in under 1 s.

Issue 17 (``--peers``, on by default at 100,000 nodes): the whole process against processes
that only read the same file with PyYAML, each run as its own process, interleaved, the median
CPU time (user + sys) of ``--runs`` runs:

* ``flopcount``: ``python -m flopcount report FILE --format json > /dev/null``;
* ``yaml.safe_load``: ``python -c "import yaml; yaml.safe_load(open(FILE))"``, what a user
  writes (PyYAML's pure-Python loader);
* ``yaml CSafeLoader``: ``yaml.load(open(FILE), Loader=yaml.CSafeLoader)``, libyaml's parser
  (the stricter peer: flopcount reads YAML with libyaml too).

Target: flopcount at most 3x the peer. Memory: peak RSS of the analysis and the JSON writing
above the RSS after the imports, per node (target at most 1 KB); with the peers, the whole
``flopcount report`` process's peak RSS (os.wait4) above the same command's on a 10-node chain. Expansion (``expand``: the time of
``analyze`` less reading the file) against a tight Python loop over the same layers (the
chain only: each conv's output shape, MACs and params computed inline and kept as a tuple).

    python benchmarks/scale.py
    python benchmarks/scale.py --sizes 1000 10000 --kinds chain
    python benchmarks/scale.py --sizes 100000 --no-peers
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from synth import KINDS, spec_text  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
RATIO_TARGET = 12.0
TEN_K_TARGET_S = 1.0


def child(kind: str, nodes: int, repeat: int) -> dict:
    """Run in a fresh process: time one size; print a JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}-{nodes}.yaml")
        with open(path, "w") as fh:
            fh.write(spec_text(kind, nodes))
        size = os.path.getsize(path)
        from flopcount.api import analyze, no_gc
        from flopcount.spec.document import read_spec

        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after the imports
        times, jtimes, rtimes = [], [], []
        for _ in range(repeat):
            t0 = time.process_time()
            report = analyze(path)
            t1 = time.process_time()
            write_json(report)
            t2 = time.process_time()
            times.append(t1 - t0)
            jtimes.append(t2 - t1)
            n = len(report.rows) + len(report.train_rows)
            del report
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ctimes = []
        for _ in range(repeat):  # reading alone (after the peak RSS was taken), as analyze reads: no gc
            with no_gc():
                t0 = time.process_time()
                read_spec(path)
                rtimes.append(time.process_time() - t0)
            with no_gc(), open(path) as fh:  # the peer: libyaml's whole load of the same file
                import yaml

                t0 = time.process_time()
                yaml.load(fh, Loader=yaml.CSafeLoader)
                ctimes.append(time.process_time() - t0)
    loop_s = None
    if kind == "chain":
        loops = []
        for _ in range(repeat):
            t0 = time.process_time()
            tight_chain(nodes)
            loops.append(time.process_time() - t0)
        loop_s = statistics.median(loops)
    return {
        "kind": kind,
        "nodes": n,
        "file_bytes": size,
        "analyze_s": statistics.median(times),
        "read_s": statistics.median(rtimes),
        "csafe_s": statistics.median(ctimes),
        "json_s": statistics.median(jtimes),
        "loop_s": loop_s,
        "peak_rss_mb": rss_kb / 1024,
        "bytes_per_node": (rss_kb - base_kb) * 1024 / n,
    }


def read_child(kind: str, nodes: int) -> dict:
    """Run in a fresh process: the peak RSS of reading the spec alone (``read_spec``), above the
    RSS after the imports; print a JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}-{nodes}.yaml")
        with open(path, "w") as fh:
            fh.write(spec_text(kind, nodes))
        from flopcount.api import no_gc
        from flopcount.spec.document import read_spec

        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with no_gc():
            read_spec(path)
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"read_bytes_per_node": (rss_kb - base_kb) * 1024 / nodes}


def write_json(report) -> None:
    """``report`` to os.devnull as ``flopcount report --format json`` writes it: streamed, rows
    made as they are written (flopcount.render.report(stream=True) through cli_errors.emit's
    batches); a tree from before streaming (``PYTHONPATH=OLD``): the whole text at once."""
    from flopcount import render

    try:
        text = render.report(report, "json", stream=True)
    except TypeError:  # before streaming: no `stream`
        text = render.report(report, "json")
    if isinstance(text, str):
        pieces: Iterable[str] = [text]
    else:
        from flopcount.cli_errors import _batches

        pieces = _batches(text)
    with open(os.devnull, "w") as fh:
        for p in pieces:
            fh.write(p)


def tight_chain(n: int) -> list:
    """The chain's layers in a tight loop: each 3x3 conv's output shape, MACs and params
    (stride 1, padding 1, with bias), as synth.py writes them; the peer of the expansion."""
    widths = (64, 96, 128, 96)
    c, h, w = 64, 16, 16
    rows = []
    for i in range(n):
        co = widths[i % 4]
        ho, wo = (h + 2 - 3) // 1 + 1, (w + 2 - 3) // 1 + 1
        rows.append((f"conv{i + 1}", (co, ho, wo), co * ho * wo * c * 9, co * c * 9 + co))
        c, h, w = co, ho, wo
    return rows


def cpu_of(argv: list, env: dict) -> tuple:
    """CPU time (user + sys) of one process, and its peak resident memory in bytes (os.wait4:
    that child's own figures)."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise subprocess.CalledProcessError(p.returncode, argv)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024


def peers(kind: str, nodes: int, runs: int, env: dict) -> dict:
    """Median CPU seconds of each whole process over the same spec file (interleaved); and
    ``rss``: the median peak RSS of the flopcount process above that of the same command on a
    10-node chain (the interpreter and the imports), per node."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{kind}-{nodes}.yaml")
        tiny = os.path.join(tmp, "tiny.yaml")
        with open(path, "w") as fh:
            fh.write(spec_text(kind, nodes))
        with open(tiny, "w") as fh:
            fh.write(spec_text("chain", 10))
        report = [sys.executable, "-m", "flopcount", "report"]
        argvs = {
            "flopcount": [*report, path, "--format", "json"],
            "tiny": [*report, tiny, "--format", "json"],
            "safe_load": [sys.executable, "-c", "import yaml, sys; yaml.safe_load(open(sys.argv[1]))", path],
            "csafe": [
                sys.executable,
                "-c",
                "import yaml, sys; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)",
                path,
            ],
        }
        got: dict = {k: [] for k in argvs}
        rss: dict = {"flopcount": [], "tiny": []}
        for _ in range(runs):
            for k, argv in argvs.items():
                cpu, peak = cpu_of(argv, env)
                got[k].append(cpu)
                if k in rss:
                    rss[k].append(peak)
    out = {k: statistics.median(v) for k, v in got.items()}
    out["rss"] = (statistics.median(rss["flopcount"]) - statistics.median(rss["tiny"])) / nodes
    out["peak_mb"] = statistics.median(rss["flopcount"]) / 2**20
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--repeat", type=int, default=3, help="runs per size below 100,000 (median)")
    ap.add_argument("--runs", type=int, default=3, help="whole-process runs per peer (median)")
    ap.add_argument("--no-peers", dest="peers", action="store_false", help="skip the whole-process comparison")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "NODES"), help=argparse.SUPPRESS)
    ap.add_argument("--read-child", nargs=2, metavar=("KIND", "NODES"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.repeat)))
        return 0
    if args.read_child:
        print(json.dumps(read_child(args.read_child[0], int(args.read_child[1]))))
        return 0
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; load average at start {load:.2f}")
    print()
    print(
        "| network | nodes | spec bytes | analyze s | us / node | read s | CSafeLoader s | read / CSafeLoader "
        "| read B / node | json s | peak RSS MB | bytes / node |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
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
            q = subprocess.run(
                [sys.executable, __file__, "--read-child", kind, str(size)], capture_output=True, text=True, env=env
            )
            if p.returncode or q.returncode:
                failed = (p if p.returncode else q).stderr.strip().splitlines()[-1:]
                print(f"| {kind} | {size:,} | failed: {failed} ||||||||||")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r.update(json.loads(q.stdout.strip().splitlines()[-1]))
            results[(kind, size)] = r
            print(
                f"| {kind} | {r['nodes']:,} | {r['file_bytes']:,} | {r['analyze_s']:.3f} | "
                f"{1e6 * r['analyze_s'] / r['nodes']:.1f} | {r['read_s']:.3f} | {r['csafe_s']:.3f} | "
                f"{r['read_s'] / r['csafe_s']:.2f} | {r['read_bytes_per_node']:,.0f} | {r['json_s']:.3f} | "
                f"{r['peak_rss_mb']:.0f} | {r['bytes_per_node']:,.0f} |",
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
    for kind in args.kinds:
        big = results.get((kind, 100_000))
        if big is None:
            continue
        ok = big["bytes_per_node"] <= 1024
        print(
            f"- {kind}: {big['bytes_per_node']:,.0f} bytes per node above the imports at 100k "
            f"(target <= 1,024: {'met' if ok else 'MISSED'})"
        )
        print(
            f"- {kind}: reading the spec {big['read_s']:.3f} s = {big['read_s'] / big['csafe_s']:.2f}x "
            f"yaml.load with CSafeLoader ({big['csafe_s']:.3f} s); its peak "
            f"{big['read_bytes_per_node']:,.0f} bytes per node"
        )
        if big["loop_s"]:
            expand_s = big["analyze_s"] - big["read_s"]
            print(
                f"- {kind}: expansion (analyze less reading) {expand_s:.3f} s = "
                f"{expand_s / big['loop_s']:.1f}x a tight Python loop over the same layers ({big['loop_s']:.3f} s)"
            )
    if args.peers and 100_000 in args.sizes:
        print()
        print(f"Whole processes at 100,000 nodes, median CPU s (user + sys) of {args.runs} interleaved runs:")
        print()
        print(
            "| network | flopcount report --format json | yaml.safe_load | x | yaml CSafeLoader | x "
            "| flopcount peak RSS MB | bytes / node |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for kind in args.kinds:
            m = peers(kind, 100_000, args.runs, env)
            print(
                f"| {kind} | {m['flopcount']:.2f} | {m['safe_load']:.2f} | {m['flopcount'] / m['safe_load']:.2f} | "
                f"{m['csafe']:.2f} | {m['flopcount'] / m['csafe']:.2f} | {m['peak_mb']:.0f} | {m['rss']:,.0f} |",
                flush=True,
            )
        print()
        print("- target: flopcount at most 3x the process that only loads the YAML")
        print(
            "- bytes / node: the flopcount process's peak RSS above the same command's on a 10-node chain "
            "(target <= 1,024)"
        )
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
