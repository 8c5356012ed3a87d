"""Import coverage: every torchvision classification and segmentation model, and detection
backbones, imported with ``flopcount import`` and checked against torch itself.

For each model: import it (build on the meta device, trace with torch.fx, map, fold, write
the spec: timed), report the written spec with flopcount, and compare with

* MACs: ``torch.utils.flop_counter.FlopCounterMode`` total / 2 on the same meta-device model
  (conv, linear, matmul; SDPA under the MATH backend, the MultiheadAttention fast path off);
* params: ``sum(p.numel() for p in model.parameters())``;
* where ``tests/reference/torchvision*.json`` froze the model's numbers, those too.

Needs torch with a matching torchvision (not flopcount's test environment: torchvision's
CUDA wheel does not import next to the CPU torch there). Run, from the repository root::

    PYTHONPATH=. nice -n 19 /tmp/tvref/bin/python benchmarks/import_coverage.py [NAME ...]

and it writes ``docs/import-coverage.md`` (only when no names are given).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "import-coverage.md")

#: detection backbones, as callables with keyword arguments (pkg.mod:fn targets)
BACKBONES = [
    (
        "resnet50_fpn_backbone",
        "torchvision.models.detection.backbone_utils:resnet_fpn_backbone",
        {"backbone_name": "resnet50", "weights": None},
    ),
    (
        "resnet18_fpn_backbone",
        "torchvision.models.detection.backbone_utils:resnet_fpn_backbone",
        {"backbone_name": "resnet18", "weights": None},
    ),
    (
        "mobilenet_v3_large_fpn_backbone",
        "torchvision.models.detection.backbone_utils:mobilenet_backbone",
        {"backbone_name": "mobilenet_v3_large", "weights": None, "fpn": True},
    ),
]


#: why a family does not import exactly (read off the tables' notes; kept here so the page says it)
WHY = {
    "maxvit": "MaxViT's block and grid attention split q, k and v with `torch.chunk` over the last axis of "
    "a 5-D tensor; the mapper takes channel chunks only, so the import stops with exit 3 and names the node "
    "(`maxvit.py:195`).",
    "swin_v2": "Swin V2's window attention (cosine attention with a learned logit scale, and a continuous "
    "position bias from an MLP over a coordinate table) has no flopcount op (`window_attention` is Swin V1's); "
    "those nodes are `opaque`, named, and the command exits 1 - the MACs and params of the rest are counted.",
}


def frozen() -> dict:
    out = {}
    for name in ("torchvision.json", "torchvision-modern.json"):
        with open(os.path.join(ROOT, "tests", "reference", name)) as f:
            out.update(json.load(f)["models"])
    return out


def resolution(name: str, ref: dict) -> int:
    if name in ref:
        return ref[name]["resolution"]
    if name.startswith("vit_"):  # weights=None builds image_size 224 (vit_h_14's weights use 518)
        return 224
    from torchvision import models

    try:
        w = models.get_model_weights(name).DEFAULT
        crop = w.transforms.keywords.get("crop_size")
        return int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    except Exception:  # noqa: BLE001
        return 224


def reference(model, shape) -> tuple:
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    torch.backends.mha.set_fastpath_enabled(False)
    x = torch.empty((1, *shape), device="meta")
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(x)
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


def one(label: str, target: str, sets: dict, shape: tuple, ref: dict) -> dict:
    from flopcount.importers import import_to_file
    from flopcount.importers.torch_kinds import build_model
    from flopcount.report import report_of
    from flopcount.spec.document import read_spec
    from flopcount.spec.expand import expand

    row: dict = {"model": label, "input": "x".join(map(str, shape))}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.yaml")
        t0 = time.perf_counter()
        try:
            imported, text = import_to_file(target, path, shape, sets)
        except Exception as e:  # noqa: BLE001 - a row of the table, not a crash
            row.update(imported=False, why=f"{type(e).__name__}: {str(e).splitlines()[0][:150]}")
            return row
        row["seconds"] = time.perf_counter() - t0
        row["lines"] = text.count("\n")
        row["unmapped"] = [u.describe() for u in imported.unmapped]
        try:
            r = report_of(expand(read_spec(path), None))
        except Exception as e:  # noqa: BLE001
            row.update(imported=False, why=f"written spec fails: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
            return row
    row["imported"] = True
    row["macs"], row["params"] = r.totals["macs"], r.totals["params"]
    model, _, _ = build_model(target, sets)
    row["ref_macs"], row["ref_params"] = reference(model, shape)
    fz = ref.get(label)
    if fz is not None and fz.get("resolution") == shape[-1]:
        row["frozen"] = fz["macs"] == row["macs"] and fz["params"] == row["params"]
    return row


def targets(names):
    from torchvision import models

    out = []
    ref = frozen()
    for kind, mod in (("classification", models), ("segmentation", models.segmentation)):
        for name in models.list_models(module=mod):
            if names and name not in names:
                continue
            size = 520 if kind == "segmentation" else resolution(name, ref)
            sets = {"weights_backbone": None, "aux_loss": False} if kind == "segmentation" else {}
            if name in ("googlenet", "inception_v3"):  # as frozen in tests/reference: no auxiliary heads
                sets = {"aux_logits": False, "init_weights": False}
            out.append((kind, name, f"torchvision:{name}", sets, (3, size, size)))
    for label, target, sets in BACKBONES:
        if not names or label in names:
            out.append(("detection backbone", label, target, sets, (3, 224, 224)))
    return out, ref


def mark(ok) -> str:
    return "yes" if ok else "**no**"


def table(rows) -> str:
    import torch
    import torchvision

    lines = [
        "# Import coverage (`flopcount import`)",
        "",
        "Written by `benchmarks/import_coverage.py` (see its docstring for how to run it) with torch "
        f"{torch.__version__} and torchvision {torchvision.__version__}, weights=None, batch 1. "
        "MACs equal: the imported spec's MACs equal FlopCounterMode's total / 2 on the same model "
        "(MATH SDPA backend, MultiheadAttention fast path off); params equal: `sum(p.numel())`; frozen: "
        "equal to `tests/reference/torchvision*.json` where that file has the model at that size. "
        "Seconds: import only (build on the meta device, trace, map, fold, write), on a shared 2-core machine.",
        "",
    ]
    by_kind: dict = {}
    for kind, r in rows:
        by_kind.setdefault(kind, []).append(r)
    total = sum(1 for _, r in rows if r.get("imported"))
    exact = sum(
        1 for _, r in rows if r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"]
    )
    lines.append(f"**{exact} of {len(rows)} models exact** (MACs and params); {total} imported.")
    lines.append("")
    bad = [
        r["model"]
        for _, r in rows
        if not (r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"])
    ]
    if bad:
        lines.append("Not exact, and why:")
        lines.append("")
        for family, why in WHY.items():
            hit = [b for b in bad if b.startswith(family)]
            if hit:
                lines.append(f"- {', '.join(hit)}: {why}")
        rest = [b for b in bad if not any(b.startswith(f) for f in WHY)]
        if rest:
            lines.append(f"- {', '.join(rest)}: see the notes column")
        lines.append("")
    for kind, rs in by_kind.items():
        ex = sum(1 for r in rs if r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"])
        lines += [f"## {kind} ({ex} of {len(rs)} exact)", ""]
        lines.append(
            "| model | input | imported? | MACs equal? | params equal? | frozen | spec lines | seconds | notes |"
        )
        lines.append("|---|---|---|---|---|---|---:|---:|---|")
        for r in rs:
            if not r.get("imported"):
                lines.append(f"| {r['model']} | {r['input']} | **no** | | | | | | {r['why']} |")
                continue
            me, pe = r["macs"] == r["ref_macs"], r["params"] == r["ref_params"]
            note = []
            if not me:
                note.append(f"MACs {r['macs']:,} vs {r['ref_macs']:,}")
            if not pe:
                note.append(f"params {r['params']:,} vs {r['ref_params']:,}")
            if r["unmapped"]:
                note.append(f"{len(r['unmapped'])} not costed: " + "; ".join(r["unmapped"][:3]).replace("|", "/"))
            fz = {True: "yes", False: "**no**"}.get(r.get("frozen"), "")
            lines.append(
                f"| {r['model']} | {r['input']} | yes | {mark(me)} | {mark(pe)} | {fz} | {r['lines']} | "
                f"{r['seconds']:.1f} | {'; '.join(note)} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv) -> int:
    names = set(argv)
    todo, ref = targets(names)
    rows = []
    for kind, label, target, sets, shape in todo:
        try:
            r = one(label, target, sets, shape, ref)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            r = {
                "model": label,
                "input": "x".join(map(str, shape)),
                "imported": False,
                "why": f"{type(e).__name__}: {e}"[:150],
            }
        rows.append((kind, r))
        ok = r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"]
        extra = (
            ""
            if ok
            else f" {r.get('why', '')} {r.get('macs')} vs {r.get('ref_macs')}, {r.get('params')} vs {r.get('ref_params')} {r.get('unmapped', '')}"
        )
        print(
            f"{label:34s} {'exact' if ok else 'DIFF '} {r.get('seconds', 0):5.1f}s {r.get('lines', '')}{extra}"[:400],
            flush=True,
        )
    if not names:
        with open(OUT, "w") as f:
            f.write(table(rows))
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
