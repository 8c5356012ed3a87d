"""What `flopcount check costs.lock.json` must cost at least, against what it costs.

Issue 17 asks for `check` of the committed baseline at most 2x the floor (``python -c "import
yaml, rich, click"``). This script counts instructions (``valgrind --tool=callgrind``; other load
on the machine does not move them) of whole processes, the floor first and last:

* ``floor``: ``import yaml, rich, click``;
* ``read only``: ``import yaml, click, json``, then ``json.load`` of the baseline and
  ``yaml.parse`` (libyaml, every event, nothing built from them) of each built-in spec file: the
  bytes a check must read, at the speed of the C readers, without a single check or count;
* ``check``: ``flopcount check costs.lock.json`` (the console script of this environment);
* ``check, empty baseline``: the same baseline with its ``models`` list emptied, so the walk of
  every built-in still runs (``scope: all-builtins``) but no row is compared.

and prints each as a ratio to the floor, and what is left of the 2x budget for everything past
reading: the walk, the rows, the comparison, flopcount's own imports. Run from the repository
root, bytecode compiled (``python -m compileall -q flopcount``, with PYTHONDONTWRITEBYTECODE unset)::

    python benchmarks/check_floor.py
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(ROOT, "costs.lock.json")
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "flopcount", "configs", "*.yaml")))
TARGET = 2.0
FLOOR = [sys.executable, "-c", "import yaml, rich, click"]
READ_ONLY = (
    "import json, sys, yaml, click\n"
    "json.load(open(sys.argv[1], encoding='utf-8'))\n"
    "for p in sys.argv[2:]:\n"
    "    for _ in yaml.parse(open(p, encoding='utf-8').read(), Loader=yaml.CSafeLoader):\n"
    "        pass\n"
)


def instructions(cmd: list, cwd: str = ROOT) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    m = re.search(r"Collected : (\d+)", p.stderr)
    if not m:
        raise SystemExit(f"callgrind of {' '.join(cmd)} failed: {p.stderr[-500:]}")
    return int(m.group(1))


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured")
        return 2
    flopcount = shutil.which("flopcount") or os.path.join(os.path.dirname(sys.executable), "flopcount")
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "costs.lock.json")
        with open(LOCK, encoding="utf-8") as f:
            doc = json.load(f)
        n_models, n_layers = len(doc["models"]), sum(len(m["layers"]) for m in doc["models"])
        doc["models"] = []
        with open(empty, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        first = instructions(FLOOR)
        rows = [
            ("read only (json.load + libyaml events)", instructions([sys.executable, "-c", READ_ONLY, LOCK, *CONFIGS])),
            ("check costs.lock.json", instructions([flopcount, "check", "costs.lock.json"])),
            ("check, empty baseline (walks, no rows compared)", instructions([flopcount, "check", empty], cwd=tmp)),
        ]
        last = instructions(FLOOR)
    floor = (first + last) / 2
    print(f"baseline: {n_models} models, {n_layers:,} layer rows; {len(CONFIGS)} built-in spec files")
    print(f"{'floor (import yaml, rich, click)':52s} {floor / 1e6:9.1f} M   1.00x   (first {first:,}, last {last:,})")
    for label, n in rows:
        print(f"{label:52s} {n / 1e6:9.1f} M   {n / floor:4.2f}x")
    read = rows[0][1]
    budget = TARGET * floor
    left = budget - read
    print(
        f"\n{TARGET:g}x the floor is {budget / 1e6:.1f} M; reading alone takes {read / 1e6:.1f} M, which leaves "
        f"{left / 1e6:.1f} M ({left / n_layers:,.0f} instructions a layer row) for flopcount's own imports, the walk of "
        f"every model, its rows and the comparison; today they take {(rows[1][1] - read) / 1e6:.1f} M "
        f"({(rows[1][1] - read) / n_layers:,.0f} a row)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
