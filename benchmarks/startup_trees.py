"""Two copies of flopcount side by side: the floor and each table path, before and after.

Each command runs as a whole process, ``python -m flopcount ARGS`` from the copy's folder
(``PYTHONPATH`` set to it, so that copy's modules are the ones imported), with
``PYTHONDONTWRITEBYTECODE`` unset and two untimed warm-up runs (bytecode cached, as after any
``pip install``). The floor is ``python -c "import yaml, rich, click"``.

* CPU time and wall: ``--runs`` rounds, each running the floor, then every command from the
  ``--before`` and the ``--after`` copy in turn (interleaved: a change of machine load hits
  them alike); medians, and ratios to the floor's.
* ``--callgrind``: instructions (``valgrind --tool=callgrind``; other load does not move them),
  one run per command after the warm-up, the floor first and last.

    git worktree add /tmp/old d7759e7
    python benchmarks/startup_trees.py --before /tmp/old --after . --runs 11
    python benchmarks/startup_trees.py --before /tmp/old --after . --callgrind
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

PATHS = (
    ("report vgg-D (table)", ["report", "vgg-D"]),
    ("report resnet-50 (table)", ["report", "resnet-50"]),
    ("report efficientnet-b7 (table)", ["report", "efficientnet-b7"]),
    ("report vgg-D --format json", ["report", "vgg-D", "--format", "json"]),
)
FLOOR = [sys.executable, "-c", "import yaml, rich, click"]


def _env(tree: str | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if tree:
        env["PYTHONPATH"] = tree
    return env


def _run(cmd: list, tree: str | None) -> tuple:
    """(wall s, CPU s) of one run; raises on a failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=tree or None, env=_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} in {tree}: exit {p.returncode}: {p.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _instructions(cmd: list, tree: str | None) -> int:
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        cwd=tree or None,
        env=_env(tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    m = re.search(r"Collected : ([0-9]+)", p.stderr)
    if p.returncode or not m:
        raise SystemExit(f"callgrind of {' '.join(cmd)} failed: {p.stderr[-500:]}")
    return int(m.group(1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="folder holding the old flopcount/ (a git worktree)")
    ap.add_argument("--after", required=True, help="folder holding the new flopcount/")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--callgrind", action="store_true", help="count instructions instead of timing")
    args = ap.parse_args(argv)
    trees = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    cmds: dict = {"floor": (FLOOR, None)}
    for label, extra in PATHS:
        for side, tree in trees.items():
            cmds[(side, label)] = ([sys.executable, "-m", "flopcount", *extra], tree)
    for cmd, tree in cmds.values():  # warm-up: bytecode written, files in the page cache
        _run(cmd, tree)
        _run(cmd, tree)
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; load average {os.getloadavg()[0]:.2f}; before {trees['before']}")
    if args.callgrind:
        first = _instructions(FLOOR, None)
        counts = {k: _instructions(cmd, tree) for k, (cmd, tree) in cmds.items() if k != "floor"}
        last = _instructions(FLOOR, None)
        floor = (first + last) / 2
        print(f"floor {first / 1e6:.1f} M at the start, {last / 1e6:.1f} M at the end")
        print("| path | before | x floor | after | x floor |\n|---|---:|---:|---:|---:|")
        for label, _ in PATHS:
            b, a = counts[("before", label)], counts[("after", label)]
            print(f"| `{label}` | {b / 1e6:.1f} M | {b / floor:.2f} | {a / 1e6:.1f} M | {a / floor:.2f} |")
        return 0
    wall: dict = {k: [] for k in cmds}
    cpu: dict = {k: [] for k in cmds}
    for _ in range(args.runs):
        for k, (cmd, tree) in cmds.items():
            w, c = _run(cmd, tree)
            wall[k].append(w)
            cpu[k].append(c)
    fw, fc = statistics.median(wall["floor"]), statistics.median(cpu["floor"])
    print(f"# load average at the end {os.getloadavg()[0]:.2f}; floor {fw:.3f} s wall, {fc:.3f} s CPU")
    print("| path | before: x floor wall / CPU | after: x floor wall / CPU |\n|---|---:|---:|")
    for label, _ in PATHS:
        cells = [
            f"{statistics.median(wall[(s, label)]) / fw:.2f} / {statistics.median(cpu[(s, label)]) / fc:.2f}"
            for s in trees
        ]
        print(f"| `{label}` | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
