"""Whole-process speed: flopcount against the floor and against the peers that run torch.

Every measurement is a fresh process (what a user waits for), timed from spawn to exit,
median of ``--runs`` runs (at least 5). The floor and the flopcount runs are interleaved
and follow one untimed warm-up run each (files in the page cache, bytecode compiled, as
after any ``pip install``); their CPU time (user + system) is shown beside, as a ratio that
other load on the machine disturbs far less than the wall time. The peers run after one
untimed ``import torch, torchvision``.

Rows:

* the floor: ``python -c "import yaml, rich, click"`` (flopcount's own dependencies);
* ``flopcount report MODEL --format json`` for each model the zoo has (missing ones are
  skipped with a note);
* the peers on the torchvision twin of each model, in the interpreter given by
  ``--peer-python`` (it needs torch and torchvision; each peer is skipped with a note when
  its package is not importable there): fvcore ``FlopCountAnalysis``,
  ``torch.utils.flop_counter.FlopCounterMode`` on the meta device, and ptflops
  ``get_model_complexity_info``. Each peer builds the model (as it must) and counts it at
  the same input size as the flopcount spec.

Targets (issue 7): flopcount <= 1.5x the floor, and >= 20x faster than the fastest peer.

The paths users see most (issue 17), interleaved with the same floor runs: the default table
(``flopcount report MODEL``, piped: the table at its natural width) of vgg-D and resnet-50
(target <= 1.3x the floor) and of efficientnet-b7 (<= 1.5x), and ``flopcount check`` of the
committed baseline ``costs.lock.json`` (<= 2x). The header line says how flopcount is
installed (editable or regular) and the bytecode state the runs had (the children run with
``PYTHONDONTWRITEBYTECODE`` unset, so each module is compiled once, in the warm-up run, and
read from ``__pycache__`` after; a read-only or absent cache is reported).

    python benchmarks/speed.py --peer-python PATH/TO/tvenv/bin/python   # a venv with torch + torchvision
    python benchmarks/speed.py --no-peers --runs 11
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

MODELS = ("vgg-D", "resnet-152", "efficientnet-b7", "googlenet")
#: flopcount name -> torchvision constructor of the same network
TWINS = {"vgg-D": "vgg16", "resnet-152": "resnet152", "efficientnet-b7": "efficientnet_b7", "googlenet": "googlenet"}
FLOOR_TARGET = 1.5
PEER_TARGET = 20.0
#: issue 17: (label, flopcount arguments, target x floor)
USER_PATHS = (
    ("report vgg-D (table)", ["report", "vgg-D"], 1.3),
    ("report resnet-50 (table)", ["report", "resnet-50"], 1.3),
    ("report efficientnet-b7 (table)", ["report", "efficientnet-b7"], 1.5),
    ("check costs.lock.json", ["check", "costs.lock.json"], 2.0),
)

#: Run by the peer interpreter: argv = peer, torchvision name, C, H, W. Prints the count.
PEER_CODE = r"""
import sys
peer, name, c, h, w = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
import torch, torchvision
kw = {"weights": None}
if name == "googlenet":
    kw.update(aux_logits=False, init_weights=False)
if peer == "fvcore":
    from fvcore.nn import FlopCountAnalysis
    model = getattr(torchvision.models, name)(**kw).eval()
    a = FlopCountAnalysis(model, torch.zeros(1, c, h, w))
    a.unsupported_ops_warnings(False); a.uncalled_modules_warnings(False)
    print(a.total())
elif peer == "flopcountermode":
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(**kw).eval()
        x = torch.empty(1, c, h, w)
    with FlopCounterMode(display=False) as fcm:
        model(x)
    print(fcm.get_total_flops() // 2)
elif peer == "ptflops":
    from ptflops import get_model_complexity_info
    model = getattr(torchvision.models, name)(**kw).eval()
    with torch.no_grad():
        macs, params = get_model_complexity_info(model, (c, h, w), as_strings=False,
                                                 print_per_layer_stat=False, verbose=False)
    print(int(macs))
"""
PEERS = {"fvcore": "fvcore", "flopcountermode": "torch", "ptflops": "ptflops"}
PEER_TITLES = {"fvcore": "fvcore FlopCountAnalysis", "flopcountermode": "FlopCounterMode (meta)", "ptflops": "ptflops"}


def child_env() -> dict:
    env = dict(os.environ)
    # a plain `pip install` compiles bytecode; without a cache every run would recompile
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def flopcount_cmd() -> list:
    here = os.path.join(os.path.dirname(sys.executable), "flopcount")
    if os.path.exists(here):
        return [here]
    found = shutil.which("flopcount")
    return [found] if found else [sys.executable, "-m", "flopcount"]


def timed(cmd: list, env: dict, runs: int) -> tuple:
    """(median seconds, all times, last stdout); raises CalledProcessError on failure."""
    times = []
    out = b""
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
        if p.returncode:
            raise subprocess.CalledProcessError(p.returncode, cmd, p.stdout, p.stderr)
        out = p.stdout
    return statistics.median(times), times, out


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def interleaved(cmds: dict, env: dict, runs: int) -> tuple:
    """Run each command ``runs`` times, round-robin, after one warm-up each.

    Returns ``(wall, cpu)``: seconds per run per command, as the user waits (wall) and as the
    process spends CPU (user + system; far less sensitive to other load on the machine)."""
    for cmd in cmds.values():
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall: dict = {k: [] for k in cmds}
    cpu: dict = {k: [] for k in cmds}
    for _ in range(runs):
        for key, cmd in cmds.items():
            c0 = _child_cpu()
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall[key].append(time.perf_counter() - t0)
            cpu[key].append(_child_cpu() - c0)
            if p.returncode:
                raise subprocess.CalledProcessError(p.returncode, cmd, None, p.stderr)
    return wall, cpu


def peer_available(python: str, module: str, env: dict) -> str | None:
    """None when ``module`` imports in ``python``; else the reason."""
    if not python:
        return "no --peer-python given"
    if not os.path.exists(python) and not shutil.which(python):
        return f"{python} not found"
    p = subprocess.run([python, "-c", f"import torch, torchvision, {module}"], env=env, capture_output=True, text=True)
    if p.returncode:
        return f"`import {module}` fails in {python}: {p.stderr.strip().splitlines()[-1]}"
    return None


def install_state(env: dict) -> str:
    """How flopcount is installed (editable or regular: from its dist-info's direct_url.json)
    and the bytecode state of the timed runs."""
    mode = "not installed (python -m flopcount from the working tree)"
    code = (
        "import json, importlib.metadata as m\n"
        "try:\n    d = m.distribution('flopcount')\nexcept m.PackageNotFoundError:\n    print('none')\n"
        "else:\n    u = d.read_text('direct_url.json')\n"
        "    print('editable' if u and json.loads(u).get('dir_info', {}).get('editable') else 'regular')\n"
        "import flopcount, os, sys, importlib.util as iu\n"
        "root = os.path.dirname(flopcount.__file__)\n"
        "mods = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs if f.endswith('.py')]\n"
        "fresh = sum(os.path.exists(iu.cache_from_source(p)) and os.path.getmtime(iu.cache_from_source(p)) >= "
        "os.path.getmtime(p) for p in mods)\n"
        "print(root, fresh, len(mods), os.access(os.path.join(root, '__pycache__'), os.W_OK))\n"
    )
    # run outside the working tree, as the console script sees things (no cwd on sys.path:
    # a flopcount.egg-info there would hide the installed dist-info)
    p = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=os.path.dirname(sys.executable)
    )
    lines = p.stdout.split("\n")
    if p.returncode or len(lines) < 2:
        return f"install mode unknown ({p.stderr.strip()[-200:]})"
    kind = lines[0].strip()
    root, fresh, total, writable = lines[1].split()
    if kind != "none":
        mode = f"{kind} install ({root})"
    parent = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "unset"
    return (
        f"{mode}; bytecode: PYTHONDONTWRITEBYTECODE unset for the runs (in this shell: {parent}), "
        f"{fresh} of {total} flopcount modules have a current .pyc after the warm-up runs (every module a "
        "timed command imports is compiled in its warm-up; the others only if something compiled them before), "
        f"__pycache__ {'writable' if writable == 'True' else 'NOT writable: modules recompile every run'}"
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load:.2f}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per command (median; at least 5)")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument(
        "--peer-python",
        default=os.environ.get("FLOPCOUNT_PEER_PYTHON", ""),
        help="interpreter with torch + torchvision (+ fvcore, ptflops) for the peers",
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-paths", action="store_true", help="skip the table and check rows (issue 17)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.runs < 5:
        ap.error("--runs must be at least 5")
    env = child_env()
    notes: list = []
    results: list = []
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}", flush=True)

    fc = flopcount_cmd()
    floor_cmd = [sys.executable, "-c", "import yaml, rich, click"]
    reports = {}
    for model in args.models:
        probe = subprocess.run(fc + ["report", model, "--format", "json"], env=env, capture_output=True, text=True)
        if probe.returncode:
            first = probe.stderr.strip().splitlines()[0] if probe.stderr.strip() else ""
            notes.append(f"{model} skipped: `flopcount report {model}` exits {probe.returncode}: {first}")
            continue
        reports[model] = json.loads(probe.stdout)
    # the floor and flopcount runs are interleaved, so that a change in machine load hits them alike
    cmds = {"floor": floor_cmd, **{m: fc + ["report", m, "--format", "json"] for m in reports}}
    paths = [] if args.no_paths else [p for p in USER_PATHS if p[1][0] != "check" or os.path.exists(p[1][1])]
    cmds.update({label: fc + argv for label, argv, _ in paths})
    times, cpu = interleaved(cmds, env, args.runs)
    state = install_state(env)
    print(f"# {state}", flush=True)
    floor = statistics.median(times["floor"])
    floor_cpu = statistics.median(cpu["floor"])
    results.append(
        {
            "model": "-",
            "tool": "floor: python -c 'import yaml, rich, click'",
            "median_s": floor,
            "times": times["floor"],
            "cpu_median_s": floor_cpu,
            "cpu_times": cpu["floor"],
        }
    )
    print(f"floor {floor:.3f}s", flush=True)

    peers = {}
    if not args.no_peers:
        for peer, module in PEERS.items():
            why = peer_available(args.peer_python, module, env)
            if why:
                notes.append(f"{PEER_TITLES[peer]} skipped: {why}")
            else:
                peers[peer] = args.peer_python

    rows = []
    warmed = False
    for model, report in reports.items():
        med = statistics.median(times[model])
        row = {
            "model": model,
            "input": report["input"],
            "macs": report["totals"]["macs"],
            "flopcount": med,
            "cpu_ratio": statistics.median(cpu[model]) / floor_cpu,
            "peers": {},
        }
        results.append(
            {
                "model": model,
                "tool": "flopcount",
                "median_s": med,
                "times": times[model],
                "cpu_median_s": statistics.median(cpu[model]),
                "cpu_times": cpu[model],
                "macs": row["macs"],
            }
        )
        print(f"{model}: flopcount {med:.3f}s ({med / floor:.2f}x floor)", flush=True)
        twin = TWINS.get(model)
        if twin and len(report["input"]) == 3:
            for peer, python in peers.items():
                if not warmed:  # one untimed torch import, so the first timed peer run is not the cold one
                    subprocess.run([python, "-c", "import torch, torchvision"], env=env, capture_output=True)
                    warmed = True
                pcmd = [python, "-c", PEER_CODE, peer, twin, *map(str, report["input"])]
                try:
                    pmed, ptimes, out = timed(pcmd, env, args.runs)
                except subprocess.CalledProcessError as exc:
                    err = exc.stderr.decode(errors="replace").strip().splitlines()
                    notes.append(f"{PEER_TITLES[peer]} on {twin} failed: {err[-1] if err else exc.returncode}")
                    continue
                count = out.decode().strip().splitlines()[-1]
                row["peers"][peer] = pmed
                results.append(
                    {"model": model, "tool": peer, "twin": twin, "median_s": pmed, "times": ptimes, "reported": count}
                )
                print(f"{model}: {peer} on torchvision {twin} {pmed:.3f}s (reports {count})", flush=True)
        elif peers:
            notes.append(f"{model}: no torchvision twin; peers not run")
        rows.append(row)

    print()
    print(table(rows, floor, list(peers), args.runs))
    fails = check(rows, floor)
    path_rows = []
    if paths:
        print()
        print(f"Paths users see (issue 17), interleaved with the floor above; median of {args.runs} runs")
        print()
        print("| path | s | x floor | x floor (CPU time) | target |")
        print("|---|---:|---:|---:|---:|")
        for label, argv, target in paths:
            med = statistics.median(times[label])
            ratio, cratio = med / floor, statistics.median(cpu[label]) / floor_cpu
            print(f"| `flopcount {' '.join(argv)}` | {med:.3f} | {ratio:.2f} | {cratio:.2f} | {target} |")
            path_rows.append(
                {
                    "path": label,
                    "median_s": med,
                    "times": times[label],
                    "cpu_times": cpu[label],
                    "ratio": ratio,
                    "cpu_ratio": cratio,
                    "target": target,
                }
            )
            if ratio > target:
                fails.append(f"{label}: {ratio:.2f}x the floor (target <= {target}x)")
    print()
    for n in notes:
        print(f"- note: {n}")
    for f in fails:
        print(f"- TARGET MISSED: {f}")
    if not fails and rows:
        print(
            f"- targets met: flopcount <= {FLOOR_TARGET}x the floor"
            + (f" and >= {PEER_TARGET:.0f}x faster than the fastest peer" if peers else "")
            + " on every model"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "floor_s": floor,
                    "results": results,
                    "paths": path_rows,
                    "notes": notes,
                    "failures": fails,
                    "machine": machine(),
                    "install": state,
                },
                fh,
                indent=2,
            )
    return 1 if fails else 0


def table(rows: list, floor: float, peers: list, runs: int) -> str:
    head = ["model", "input", "flopcount s", "x floor", "x floor (CPU time)"] + [f"{PEER_TITLES[p]} s" for p in peers]
    if peers:
        head += ["fastest peer / flopcount"]
    lines = [
        f'Median of {runs} whole-process runs; floor `python -c "import yaml, rich, click"` = {floor:.3f} s',
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(head) - 2),
    ]
    for r in rows:
        cells = [
            r["model"],
            "x".join(map(str, r["input"])),
            f"{r['flopcount']:.3f}",
            f"{r['flopcount'] / floor:.2f}",
            f"{r['cpu_ratio']:.2f}",
        ]
        cells += [f"{r['peers'][p]:.2f}" if p in r["peers"] else "n/a" for p in peers]
        if peers:
            fastest = min(r["peers"].values()) if r["peers"] else None
            cells.append(f"{fastest / r['flopcount']:.0f}x" if fastest else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check(rows: list, floor: float) -> list:
    fails = []
    for r in rows:
        if r["flopcount"] > FLOOR_TARGET * floor:
            fails.append(
                f"{r['model']}: flopcount {r['flopcount']:.3f}s is {r['flopcount'] / floor:.2f}x the floor "
                f"(target <= {FLOOR_TARGET}x)"
            )
        if r["peers"]:
            fastest = min(r["peers"].values())
            if fastest < PEER_TARGET * r["flopcount"]:
                fails.append(
                    f"{r['model']}: the fastest peer is only {fastest / r['flopcount']:.1f}x slower "
                    f"(target >= {PEER_TARGET:.0f}x)"
                )
    return fails


if __name__ == "__main__":
    sys.exit(main())
