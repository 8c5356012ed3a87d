"""Import coverage: every torchvision classification and segmentation model, detection
backbones, and a sample of timm models (:data:`TIMM`), imported with ``flopcount import`` and
checked against torch itself.

For each model: import it (build on the meta device, trace with torch.fx, map, fold, write
the spec: timed), report the written spec with flopcount, and compare with

* MACs: ``torch.utils.flop_counter.FlopCounterMode`` total / 2 on the same meta-device model
  (conv, linear, matmul; SDPA under the MATH backend, the MultiheadAttention fast path off);
* params: ``sum(p.numel() for p in model.parameters())``;
* where ``tests/reference/torchvision*.json`` froze the model's numbers, those too.

Needs torch with a matching torchvision, and timm (not flopcount's test environment:
torchvision's CUDA wheel does not import next to the CPU torch there). Run, from the
repository root::

    PYTHONPATH=. nice -n 19 /tmp/tvref/bin/python benchmarks/import_coverage.py [NAME ...]

and it writes ``docs/import-coverage.md`` (only when no names are given; its ``## ONNX: ``
sections, written by ``onnx_coverage.py --markdown``, are carried over as they were; a timm model is named
``timm:NAME``; ``--rows FILE`` writes the named models' tables to FILE instead). ``--breakdown`` prints only the ResNet-50 import time by phase and the ONNX
ResNet-50 report time (see :func:`breakdown`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
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


#: a sample of timm models: the brief's list (issue 14: resnet50, efficientnet_b0,
#: mobilenetv3_large_100, convnext_tiny, vit_base_patch16_224, swin_tiny_patch4_window7_224,
#: deit_small_patch16_224, regnety_016), then one or two models of each further architecture family
#: in timm's README model list (timm 1.0.31, `timm.list_models()`), the smallest ImageNet-1k one of
#: each; chosen before they were run, not after. Input: each model's pretrained config.
TIMM = [
    "resnet50",
    "efficientnet_b0",
    "mobilenetv3_large_100",
    "convnext_tiny",
    "vit_base_patch16_224",
    "swin_tiny_patch4_window7_224",
    "deit_small_patch16_224",
    "regnety_016",
    "resnet18",
    "resnext50_32x4d",
    "seresnet50",
    "ecaresnet50d",
    "resnest50d",
    "wide_resnet50_2",
    "densenet121",
    "dla34",
    "dpn68",
    "tf_efficientnet_b0",
    "efficientnetv2_rw_s",
    "mobilenetv2_100",
    "mobilenetv4_conv_small",
    "mnasnet_100",
    "lcnet_100",
    "ghostnet_100",
    "rexnet_100",
    "regnetx_002",
    "repvgg_a2",
    "hrnet_w18_small",
    "cspresnet50",
    "convnextv2_tiny",
    "inception_v3",
    "xception41",
    "vgg16",
    "nfnet_l0",
    "vit_small_patch16_224",
    "deit_tiny_distilled_patch16_224",
    "beit_base_patch16_224",
    "cait_xxs24_224",
    "coat_lite_tiny",
    "mixer_b16_224",
    "resmlp_12_224",
    "poolformer_s12",
    "levit_128",
    "mobilevit_s",
    "efficientformer_l1",
    "fastvit_t8",
    "edgenext_small",
    "maxvit_tiny_tf_224",
    "vit_base_patch16_siglip_224",  # SigLIP: the attention-pooling head's learned query
]

#: why a model or family does not import exactly (read off the tables' notes and the models'
#: source; kept here so the page says it). Keys: a torchvision name prefix, or timm:NAME.
WHY = {
    "timm:coat_lite_tiny": "MACs equal; the serial blocks of each stage share one `ConvPosEnc` and one "
    "`ConvRelPosEnc` (`shared_cpe`, `shared_crpe` in `coat.py`): a spec layer owns its weights, so the shared "
    "convs' params are counted at each call (31,488 too many; the written spec's header says so).",
    "timm:maxvit_tiny_tf_224": "timm's MaxxViT (a different module from torchvision's MaxViT) computes its "
    "relative-position bias with `einsum` from a parameter and a one-hot buffer (`RelPosBiasTf`: MACs "
    "FlopCounterMode counts, and no flopcount op), partitions a channels-last map into windows, and pads "
    "its pooled shortcut SAME (`F.pad` before the pool); the written spec fails at the attention.",
}


#: checks run by hand (they need fvcore, which is in flopcount's test environment, not this one)
CHECKED = (
    "Also checked by hand, 2026-12-02, in flopcount's test environment (torch 2.13 CPU, fvcore): "
    "`flopcount verify` on the written specs of maxvit_t and swin_v2_t (3x224x224), swin_v2_s and swin_v2_b "
    "(3x256x256), and timm's swin_tiny_patch4_window7_224 and deit_tiny_distilled_patch16_224 (3x224x224) "
    "prints `verify: OK, every layer agrees`; and `flopcount report torchvision:NAME --format json` equals the "
    "report of its written spec, totals and every row, for maxvit_t and swin_v2_t. "
    "Issue 14's H5 wave, 2026-12-02, the same way: the written specs of timm's ecaresnet50d, convnextv2_tiny, "
    "vgg16, nfnet_l0, beit_base_patch16_224, cait_xxs24_224, resmlp_12_224, efficientformer_l1 and levit_128 "
    "(written by `flopcount import timm:NAME -o` in the coverage environment, exit 0) each print "
    "`verify: OK, every layer agrees`."
)


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
    # no parameter needs a gradient: FlopCounterMode's module tracker otherwise asserts on a view of
    # a parameter passed to a submodule (CaiT's class token, expanded), even under no_grad
    for p in model.parameters():
        p.requires_grad_(False)
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
    for name in TIMM:
        if not names or f"timm:{name}" in names:
            out.append(("timm sample", f"timm:{name}", f"timm:{name}", {}, timm_input(name)))
    return out, ref


def timm_input(name: str) -> tuple:
    """The per-sample input of a timm model's pretrained config (3x224x224 when it has none)."""
    import timm  # type: ignore[import-not-found]  # only in the coverage environment

    try:
        return tuple(int(d) for d in timm.get_pretrained_cfg(name).input_size)
    except Exception:  # noqa: BLE001
        return (3, 224, 224)


def mark(ok) -> str:
    return "yes" if ok else "**no**"


def table(rows, timing: str) -> str:
    import timm
    import torch
    import torchvision

    lines = [
        "# Import coverage (`flopcount import`)",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        "`PYTHONPATH=. nice -n 19 /tmp/tvref/bin/python benchmarks/import_coverage.py` "
        "(see its docstring) with Python "
        f"{sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__} and timm "
        f"{timm.__version__}, weights=None / pretrained=False, batch 1. "
        "MACs equal: the imported spec's MACs equal FlopCounterMode's total / 2 on the same model "
        "(MATH SDPA backend, MultiheadAttention fast path off); params equal: `sum(p.numel())`; frozen: "
        "equal to `tests/reference/torchvision*.json` where that file has the model at that size. "
        "Seconds: import only (build on the meta device, trace, map, fold, write), on a shared 2-core machine.",
        "",
    ]

    def is_exact(r):
        return r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"]

    for label, group in (
        ("torchvision models", [r for k, r in rows if k != "timm sample"]),
        ("timm models of the sample", [r for k, r in rows if k == "timm sample"]),
    ):
        if group:
            loud = sum(1 for r in group if is_exact(r) and r["unmapped"])
            lines.append(
                f"**{sum(1 for r in group if is_exact(r))} of {len(group)} {label} exact** (MACs and params); "
                f"{sum(1 for r in group if r.get('imported'))} imported"
                + (
                    f"; {loud} of the exact ones have nodes not costed that hold no MACs or params (a LeakyReLU, "
                    "a subtraction, an index: the notes column), so their ops are short and the import exits 1 "
                    "unless `--allow-unknown`."
                    if loud
                    else "; no node is left not costed in any of them."
                )
            )
            lines.append("")
    lines += [CHECKED, ""]
    bad = [
        r["model"]
        for _, r in rows
        if not (r.get("imported") and r["macs"] == r["ref_macs"] and r["params"] == r["ref_params"])
    ]
    if bad:
        lines.append("Not exact, and why:")
        lines.append("")
        for family, why in WHY.items():
            hit = [b for b in bad if b == family or not family.startswith("timm:") and b.startswith(family)]
            if hit:
                lines.append(f"- {', '.join(hit)}: {why}")
        rest = [b for b in bad if not any(b == f or not f.startswith("timm:") and b.startswith(f) for f in WHY)]
        if rest:
            lines.append(f"- {', '.join(rest)}: see the notes column")
        lines.append("")
    lines += [timing, ""]
    lines += sections(rows)
    return "\n".join(lines) + "\n"


def sections(rows) -> list:
    """The per-kind tables (``## timm sample (N of M exact)``, one row a model) of ``rows``."""
    by_kind: dict = {}
    for kind, r in rows:
        by_kind.setdefault(kind, []).append(r)
    lines: list = []
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
    return lines


def _phases(name: str, shape: tuple) -> dict:
    """Seconds of each phase of ``flopcount import torchvision:NAME`` in this process (torch
    already imported): build on the meta device, trace (torch.fx + ShapeProp), map (+ fuse),
    fold and write the spec text."""
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    from flopcount.importers import torch_fx
    from flopcount.importers.torch_kinds import build_model
    from flopcount.importers.write import spec_text

    out = {}

    def clocks():
        return time.perf_counter(), time.process_time()

    def since(t):
        now = clocks()
        return now[0] - t[0], now[1] - t[1]

    t = clocks()
    model, _, display = build_model(f"torchvision:{name}", {})
    out["build"] = since(t)
    t = clocks()
    gm = torch.fx.symbolic_trace(model)
    ShapeProp(gm).propagate(torch.empty((1, *shape), device="meta"))
    out["trace"] = since(t)
    t = clocks()
    imported = torch_fx.trace_module(model, shape, display)  # trace + map + fuse: map = this - trace
    both = since(t)
    out["map"] = tuple(max(b - tr, 0.0) for b, tr in zip(both, out["trace"]))
    t = clocks()
    spec_text(imported)
    out["fold + write"] = since(t)
    return out


def _child(code: str, python: str) -> tuple:
    """(wall seconds, user+sys CPU seconds, stdout) of ``python -c code`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ))
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def breakdown(onnx_path: str, python: str, runs: int = 5) -> str:
    """The ResNet-50 import by phase (median of ``runs`` fresh processes for the torch import;
    the phases in this one, after a warm-up) and the ONNX ResNet-50 report (median of ``runs``
    fresh processes of ``python -m flopcount report FILE``, with a check that torch was never
    imported)."""
    load = os.getloadavg()[0]
    imports = sorted(_child("import torch, torchvision", sys.executable)[:2] for _ in range(runs))
    _phases("resnet50", (3, 224, 224))  # warm-up: first-call caches of fx and the meta kernels
    ph = [_phases("resnet50", (3, 224, 224)) for _ in range(runs)]
    med = {k: tuple(sorted(p[k][i] for p in ph)[runs // 2] for i in (0, 1)) for k in ph[0]}
    med_import = tuple(sorted(x[i] for x in imports)[runs // 2] for i in (0, 1))
    total = [med_import[i] + sum(v[i] for v in med.values()) for i in (0, 1)]
    lines = [
        "## Import time, ResNet-50",
        "",
        f"`flopcount import torchvision:resnet50` by phase, medians of {runs} (torch import: a fresh "
        "`python -c 'import torch, torchvision'` each time; the rest in one process after a warm-up), load "
        f"average {load:.2f} at the start on 2 cores shared with other jobs, so wall is inflated: CPU time "
        "(user + sys) is the figure that does not depend on the load:",
        "",
        "| phase | wall s | CPU s |",
        "|---|---:|---:|",
        f"| import torch + torchvision | {med_import[0]:.2f} | {med_import[1]:.2f} |",
    ]
    lines += [f"| {k} | {v[0]:.3f} | {v[1]:.3f} |" for k, v in med.items()]
    lines += [f"| **total** (limit 10) | **{total[0]:.2f}** | **{total[1]:.2f}** |", ""]
    if onnx_path and os.path.exists(onnx_path):
        code = (
            "import runpy, sys, atexit\n"
            f"sys.argv = ['flopcount', 'report', {onnx_path!r}]\n"
            "atexit.register(lambda: print('TORCH_IMPORTED', 'torch' in sys.modules, file=sys.stderr))\n"
            "runpy.run_module('flopcount', run_name='__main__')\n"
        )
        probe = subprocess.run([python, "-c", code], capture_output=True, text=True)
        torch_seen = "TORCH_IMPORTED True" in probe.stderr
        plain = f"import sys; sys.argv = ['flopcount', 'report', {onnx_path!r}]; import runpy; runpy.run_module('flopcount', run_name='__main__')"
        got = sorted(_child(plain, python)[:2] for _ in range(runs))
        wall, cpu = got[runs // 2]
        size = os.path.getsize(onnx_path) / 1e6
        lines += [
            "## ONNX ResNet-50 report",
            "",
            f"`flopcount report resnet50.onnx` ({size:.0f} MB, torchvision's resnet50 exported with "
            "`torch.onnx.export(dynamo=False, opset_version=17)`), a fresh process each time, median of "
            f"{runs}: **{wall:.2f} s** wall, {cpu:.2f} s CPU (user + sys) (limit 1 s); torch imported: "
            f"{'**yes**' if torch_seen else 'no'} (checked with an atexit hook on `sys.modules`), with `{python}`.",
            "",
        ]
    return "\n".join(lines)


def main(argv) -> int:
    onnx_path = os.environ.get("FLOPCOUNT_ONNX_RESNET50", "/tmp/resnet50.onnx")
    python = os.environ.get("FLOPCOUNT_NO_TORCH_PYTHON", os.path.join(ROOT, ".venv", "bin", "python"))
    if argv[:1] == ["--breakdown"]:
        print(breakdown(onnx_path, python))
        return 0
    rows_path = None
    if "--rows" in argv:  # --rows FILE: the tables of the named models written there (docs untouched)
        k = argv.index("--rows")
        rows_path, argv = argv[k + 1], argv[:k] + argv[k + 2 :]
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
    if rows_path:
        with open(rows_path, "w") as f:
            f.write("\n".join(sections(rows)) + "\n")
        print(f"wrote {rows_path}")
    if not names:
        timing = breakdown(onnx_path, python)
        try:
            with open(OUT, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = ""
        text = with_kept_sections(table(rows, timing), old)
        tmp = OUT + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, OUT)  # whole or not at all: an interrupted run leaves the old page
        print(f"wrote {OUT}")
    return 0


#: sections of docs/import-coverage.md that other scripts write (onnx_coverage.py --markdown,
#: pasted in by hand): this script carries them over as they are instead of dropping them
KEPT_PREFIX = "## ONNX: "


def sections_of(text: str) -> list:
    """``text`` cut before each ``## `` heading: [preamble, section, section, ...]."""
    parts = [""]
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            parts.append("")
        parts[-1] += line
    return parts


def _heading(section: str) -> str:
    """A section's heading without its counts: ``## classification (80 of 80 exact)`` ->
    ``## classification``."""
    return section.split("\n", 1)[0].split(" (", 1)[0]


def with_kept_sections(new: str, old: str) -> str:
    """``new`` (this script's page) with the ``## ONNX: `` sections of ``old`` (the page it
    replaces) put back as they were: before the first section of ``new`` that followed them in
    ``old`` (the torch tables), or at the end. A section ``new`` has itself is not doubled."""
    old_parts, parts = sections_of(old), sections_of(new)
    have = {_heading(s) for s in parts[1:]}
    kept = [(i, s) for i, s in enumerate(old_parts) if s.startswith(KEPT_PREFIX) and _heading(s) not in have]
    if not kept:
        return new
    after = {_heading(s) for s in old_parts[kept[-1][0] + 1 :]}
    at = next((i for i in range(1, len(parts)) if _heading(parts[i]) in after), len(parts))
    blocks = [s.rstrip("\n") + "\n\n" for _, s in kept]
    if at == len(parts):
        parts[-1] = parts[-1].rstrip("\n") + "\n\n"
        blocks[-1] = blocks[-1][:-1]
    return "".join(parts[:at] + blocks + parts[at:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
