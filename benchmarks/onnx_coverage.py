"""ONNX coverage: every torchvision classification model exported to ONNX and reported by flopcount.

Run in an environment with torch, torchvision and onnx (the torchvision wheels the registry
serves are CUDA builds: a scratch venv with the matching torch), from the project root::

    PYTHONPATH=. /tmp/tvref/bin/python benchmarks/onnx_coverage.py [--more] [--json out.json] [--keep DIR] [NAME ...]

For each model (weights=None, eval mode, the input size of ``import_coverage.py``): export with
``torch.onnx.export(dynamo=False, opset_version=17)`` (the TorchScript exporter folds batch norm
into the convs in eval mode), read the file with flopcount's ONNX importer (no torch on that
path) and compare: MACs with FlopCounterMode's total / 2 on the same model (conv, linear and
matmul are what both count; folding changes no MAC), params with ``sum(p.numel())`` and, where
they differ, whether the importer said it folded batch norm (the file then holds fewer
parameters: what ``report model.onnx`` reports is what the file holds). One line of JSON per
model goes to stdout as it finishes; ``--json`` writes them all at the end; ``--keep DIR``
keeps each exported file as ``DIR/NAME.onnx`` (to rerun ``flopcount report`` on it);
``--markdown FILE`` writes the table of ``docs/import-coverage.md``'s ONNX section (``--rows
LOG`` makes it from the JSON lines an earlier run printed, without running anything). ``--more``: the segmentation models and
detection backbones of ``import_coverage.py`` (its ``BACKBONES`` callables, built with their
keyword arguments) instead of the classification ones.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import import_coverage as cov  # noqa: E402  (the same model list, input sizes and reference count)


def one(name: str, sets: dict, shape: tuple, keep: str | None = None, target: str = "") -> dict:
    import torch
    from torchvision import models

    from flopcount.api import load_graph
    from flopcount.report import report_of

    row: dict = {"model": name, "input": "x".join(map(str, shape))}
    if target and not target.startswith("torchvision:"):  # a detection backbone: pkg.mod:fn with keywords
        import importlib

        module, _, fn = target.partition(":")
        model = getattr(importlib.import_module(module), fn)(**sets).eval()
    else:
        model = models.get_model(name, weights=None, **sets).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(keep or tmp, f"{name}.onnx")
        t0 = time.perf_counter()
        with torch.no_grad():
            torch.onnx.export(model, (torch.zeros((1, *shape)),), path, dynamo=False, opset_version=17)
        row["export_s"] = round(time.perf_counter() - t0, 1)
        row["ref_macs"], row["ref_params"] = reference(model, shape)
        t0 = time.perf_counter()
        try:
            r = report_of(load_graph(path))
        except Exception as e:  # noqa: BLE001 - a row of the table, not a crash
            row.update(imported=False, why=f"{type(e).__name__}: {str(e).splitlines()[0][:150]}")
            return row
        row["report_s"] = round(time.perf_counter() - t0, 2)
        from flopcount.importers.onnx_import import import_onnx

        notes = import_onnx(path).notes  # what the report says about the file (read once more)
    row["imported"] = True
    # the exporter folds a batch norm after a conv into it (eval mode): the file holds fewer params
    row["bn_folded"] = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    held = [re.search(r"counted as params: ([\d,]+) values", n) for n in notes]
    row["held_values"] = sum(int(m.group(1).replace(",", "")) for m in held if m)
    row["macs"], row["params"] = r.totals["macs"], r.totals["params"]
    return row


def reference(model, shape) -> tuple:
    """FlopCounterMode's total / 2 and ``sum(numel)`` of the exported module itself, on the CPU
    (a model built on the meta device in the same process can leave meta tensors in torchvision's
    module-level caches, which a later export then trips on: RegNet)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    torch.backends.mha.set_fastpath_enabled(False)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(torch.zeros((1, *shape)))
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


def table(rows) -> str:
    """The markdown table of docs/import-coverage.md's ONNX section, and its counts line."""
    rows = sorted(rows, key=lambda r: r["model"])
    ok = [r for r in rows if r.get("imported") and r.get("macs") == r.get("ref_macs")]
    same = [r for r in ok if r["params"] == r["ref_params"]]
    lines = [
        f"**{len(ok)} of {len(rows)} MACs equal**; params equal in {len(same)}, the file's in {len(ok) - len(same)}"
        f"; not imported or not equal: {len(rows) - len(ok)}",
        "",
        "| model | input | imported? | MACs equal? | params | reference params | report s | export s |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if not r.get("imported"):
            ref = f"{r['ref_params']:,}" if "ref_params" in r else ""
            lines.append(f"| {r['model']} | {r.get('input', '')} | **no** | | | {ref} | | {r.get('export_s', '')} |")
            continue
        why = []
        if r["params"] != r["ref_params"]:
            if r.get("bn_folded"):
                why.append("bn folded")
            if r.get("held_values"):
                why.append(f"{r['held_values']:,} bias values held")
        ref = f"{r['ref_params']:,}" + (f" ({'; '.join(why)})" if why else "")
        eq = "yes" if r["macs"] == r["ref_macs"] else "**no**"
        lines.append(
            f"| {r['model']} | {r['input']} | yes | {eq} | {r['params']:,} | {ref} | {r['report_s']} | {r['export_s']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv) -> int:
    out_json = keep = markdown = rows_from = None
    kinds: tuple = ("classification",)
    if argv[:1] == ["--more"]:  # the segmentation models and detection backbones instead
        kinds = ("segmentation", "detection backbone")
        argv = argv[1:]
    while argv[:1] in (["--json"], ["--keep"], ["--markdown"], ["--rows"]):
        if argv[0] == "--json":
            out_json = argv[1]
        elif argv[0] == "--markdown":
            markdown = argv[1]
        elif argv[0] == "--rows":
            rows_from = argv[1]
        else:
            keep = argv[1]
            os.makedirs(keep, exist_ok=True)
        argv = argv[2:]
    rows = []
    if rows_from:  # only the table, from the JSON lines of an earlier run
        with open(rows_from) as f:
            rows = [json.loads(line) for line in f if line.startswith("{")]
    else:
        todo, _ = cov.targets(argv)
        for kind, name, target, sets, shape in todo:
            if kind not in kinds:
                continue
            try:
                row = one(name, sets, shape, keep, target)
            except Exception as e:  # noqa: BLE001
                row = {"model": name, "imported": False, "why": f"export: {type(e).__name__}: {str(e)[:150]}"}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if out_json:
        with open(out_json, "w") as f:
            json.dump(rows, f, indent=1)
    if markdown:
        with open(markdown, "w") as f:
            f.write(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
