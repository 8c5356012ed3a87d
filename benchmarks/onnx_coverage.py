"""ONNX coverage: every torchvision classification model exported to ONNX and reported by flopcount.

Run in an environment with torch, torchvision and onnx (the torchvision wheels the registry
serves are CUDA builds: a scratch venv with the matching torch), from the project root::

    PYTHONPATH=. /tmp/tvref/bin/python benchmarks/onnx_coverage.py [--json out.json] [--keep DIR] [NAME ...]

For each model (weights=None, eval mode, the input size of ``import_coverage.py``): export with
``torch.onnx.export(dynamo=False, opset_version=17)`` (the TorchScript exporter folds batch norm
into the convs in eval mode), read the file with flopcount's ONNX importer (no torch on that
path) and compare: MACs with FlopCounterMode's total / 2 on the same model (conv, linear and
matmul are what both count; folding changes no MAC), params with ``sum(p.numel())`` and, where
they differ, whether the importer said it folded batch norm (the file then holds fewer
parameters: what ``report model.onnx`` reports is what the file holds). One line of JSON per
model goes to stdout as it finishes; ``--json`` writes them all at the end; ``--keep DIR``
keeps each exported file as ``DIR/NAME.onnx`` (to rerun ``flopcount report`` on it).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import import_coverage as cov  # noqa: E402  (the same model list, input sizes and reference count)


def one(name: str, sets: dict, shape: tuple, keep: str | None = None) -> dict:
    import torch
    from torchvision import models

    from flopcount.api import load_graph
    from flopcount.report import report_of

    row: dict = {"model": name, "input": "x".join(map(str, shape))}
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
    row["imported"] = True
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


def main(argv) -> int:
    out_json = keep = None
    while argv[:1] in (["--json"], ["--keep"]):
        if argv[0] == "--json":
            out_json = argv[1]
        else:
            keep = argv[1]
            os.makedirs(keep, exist_ok=True)
        argv = argv[2:]
    rows = []
    todo, _ = cov.targets(argv)
    for kind, name, _target, sets, shape in todo:
        if kind != "classification":
            continue
        try:
            row = one(name, sets, shape, keep)
        except Exception as e:  # noqa: BLE001
            row = {"model": name, "imported": False, "why": f"export: {type(e).__name__}: {str(e)[:150]}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if out_json:
        with open(out_json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
