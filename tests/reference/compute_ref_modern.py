"""torchvision reference numbers for issue 13's models -> tests/reference/torchvision-modern.json.

Environment (a scratch virtual environment outside the repository, never a dependency of flopcount):
    SCRATCH=$(mktemp -d)    # any folder outside the repository
    python3.11 -m venv "$SCRATCH/tvref"
    "$SCRATCH/tvref/bin/pip" install torch==2.14.1 torchvision==0.29.1 fvcore    # fvcore 0.1.5.post20221221
Commands (CPU only, one thread; from this folder):
    REF_OUT=$SCRATCH/ref-modern nice -n 19 "$SCRATCH/tvref/bin/python" compute_ref_modern.py  # one <model>.json each
    python compute_ref_modern.py --freeze "$SCRATCH/ref-modern"   # writes torchvision-modern.json here, no torch

What is measured, per model (weights=None, eval mode, batch 1, torch.randn input, seed 0):
- params: sum(p.numel() for p in model.parameters()); buffers: BatchNorm running_mean + running_var
  numel (as in torchvision.json); all_buffers and buffers_by_name: every buffer, by its last name part.
- macs: FlopCounterMode total / 2, under sdpa_kernel(SDPBackend.MATH) and with the nn.MultiheadAttention
  fast path off (torch.backends.mha.set_fastpath_enabled(False)): with it on, eval + no_grad runs
  aten._native_multi_head_attention, which FlopCounterMode does not count. MATH lowers attention to
  bmm, so attention matmuls are counted (QK^T and AV). macs_by_op: the same per aten op, / 2.
- layers: one row per module that ran and has parameters of its own or MACs of its own, in the order
  the modules were entered, as [name, type, output shape, params, macs]. Own params: the parameters
  registered directly on the module plus those of submodules that never ran themselves (nn.MultiheadAttention's
  out_proj, Swin's qkv/proj, whose weights the parent passes to F.linear: listed in `folded`). Own
  macs: FlopCounterMode's count for the module minus that of the nearest modules below it that ran
  (a ModuleList/ModuleDict is not called, its members are). Rows add up to params and macs.
- flopcounter_default_backends: FlopCounterMode total / 2 with torch's defaults (fast path on, any SDPA
  backend), to show where the defaults lose attention MACs.
- fvcore: FlopCountAnalysis total, by_operator and unsupported ops (fvcore also counts norms,
  upsampling and pooling, and does not count aten::scaled_dot_product_attention).
- torchvision_meta: the DEFAULT weights' documented `_ops` (GFLOPS) and `num_params`, for comparison.
Input sizes: each DEFAULT weights' eval transform crop_size (224 for all but swin_v2_t 256,
efficientnet_v2_s 384, inception_v3 299); those three are also counted at 224 (macs_at_224).
Segmentation (deeplabv3_resnet50, fcn_resnet50; weights_backbone=None, aux_loss=False, 21 classes):
their eval transform is SemanticSegmentation(resize_size=520), i.e. the shorter side resized to 520 and
no crop; a square 520x520 input is used (the size torchvision's own `_ops` figure is for: with
aux_loss=True, as its weights are, macs_aux_loss_true matches `_ops` and params_aux_loss_true `num_params`).
"""

import json
import os
import sys
import time

CLASSIFICATION = [
    "convnext_tiny",
    "vit_b_16",
    "swin_t",
    "mobilenet_v3_large",
    "shufflenet_v2_x1_0",
    "swin_v2_t",
    "efficientnet_v2_s",
    "regnet_y_400mf",
    "resnext50_32x4d",
    "densenet121",
    "squeezenet1_0",
    "inception_v3",
]
SEGMENTATION = ["deeplabv3_resnet50", "fcn_resnet50"]
MODELS = CLASSIFICATION[:5] + SEGMENTATION + CLASSIFICATION[5:]


def build(models, name):
    if name in SEGMENTATION:
        return getattr(models.segmentation, name)(weights=None, weights_backbone=None, aux_loss=False)
    if name == "inception_v3":
        return models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    return getattr(models, name)(weights=None)


def resolution(models, name):
    kw = models.get_model_weights(name).DEFAULT.transforms.keywords
    return kw["crop_size"] if "crop_size" in kw else kw["resize_size"]


def shape_of(o):
    import torch

    if isinstance(o, torch.Tensor):
        return list(o.shape)
    if isinstance(o, dict):
        return {str(k): shape_of(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [shape_of(v) for v in o]
    return None


def count(m, x, math_sdpa=True):
    """FlopCounterMode over one forward; returns (counter, entry order, output shapes)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    order, shapes, hooks = [], {}, []
    for qn, mod in m.named_modules():

        def pre(mod, inp, qn=qn):
            if qn not in shapes:
                order.append(qn)
                shapes[qn] = None

        def post(mod, inp, out, qn=qn):
            shapes[qn] = shape_of(out)

        hooks += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    torch.backends.mha.set_fastpath_enabled(not math_sdpa)
    fcm = FlopCounterMode(display=False)
    try:
        if math_sdpa:
            with sdpa_kernel(SDPBackend.MATH), fcm:
                m(x)
        else:
            with fcm:
                m(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
        for h in hooks:
            h.remove()
    return fcm, order, shapes


def half(n):
    assert n % 2 == 0, n
    return n // 2


def rows_of(m, fcm, order, shapes):
    counts = fcm.get_flop_counts()
    root = type(m).__name__
    mods = dict(m.named_modules())
    called = set(order)

    def total(qn):
        return half(sum(counts.get(root + "." + qn if qn else root, {}).values()))

    def owner(qn):  # the nearest module, qn itself or an ancestor, that ran ("" always runs)
        while qn not in called:
            qn = qn.rsplit(".", 1)[0] if "." in qn else ""
        return qn

    params, child_macs, folded = dict.fromkeys(order, 0), dict.fromkeys(order, 0), {}
    for qn, mod in mods.items():
        own = sum(p.numel() for p in mod.parameters(recurse=False))
        params[owner(qn)] += own
        if own and qn not in called:
            folded[qn] = owner(qn)
        if qn and qn in called:
            child_macs[owner(qn.rsplit(".", 1)[0] if "." in qn else "")] += total(qn)
    rows = []
    for qn in order:
        macs = total(qn) - child_macs[qn]
        assert macs >= 0, (qn, macs)
        if params[qn] or macs:
            rows.append(
                {
                    "name": qn,
                    "type": type(mods[qn]).__name__,
                    "output_shape": shapes[qn],
                    "params": params[qn],
                    "macs": macs,
                }
            )
    return rows, folded


def fvcore_of(m, x):
    import logging

    import torch
    from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        fa = FlopCountAnalysis(m, x)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        return {
            "total": fa.total(),
            "by_operator": dict(fa.by_operator()),
            "unsupported_ops": dict(fa.unsupported_ops()),
        }
    except Exception as e:  # noqa: BLE001 (recorded, not hidden: the JSON says fvcore could not trace it)
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    finally:
        torch.backends.mha.set_fastpath_enabled(True)


def run(name):
    import warnings

    import torch
    import torchvision
    from torch import nn
    from torchvision import models

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    t0 = time.time()
    res = resolution(models, name)
    m = build(models, name).eval()
    meta = models.get_model_weights(name).DEFAULT.meta
    out = {
        "model": name,
        "resolution": res,
        "input_shape": [1, 3, res, res],
        "batch": 1,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torchvision_meta": {
            "weights": str(models.get_model_weights(name).DEFAULT),
            "_ops": meta.get("_ops"),
            "num_params": meta.get("num_params"),
        },
    }
    out["params"] = sum(p.numel() for p in m.parameters())
    out["buffers"] = sum(
        mod.running_mean.numel() + mod.running_var.numel()
        for mod in m.modules()
        if isinstance(mod, nn.modules.batchnorm._BatchNorm)
    )
    out["all_buffers"] = sum(b.numel() for b in m.buffers())
    by_name = {}
    for bn, b in m.named_buffers():
        by_name[bn.rsplit(".", 1)[-1]] = by_name.get(bn.rsplit(".", 1)[-1], 0) + b.numel()
    out["buffers_by_name"] = by_name
    if name == "inception_v3":
        out["params_aux_logits_true"] = sum(
            p.numel() for p in models.inception_v3(weights=None, aux_logits=True, init_weights=False).parameters()
        )
    x = torch.randn(1, 3, res, res)
    fcm, order, shapes = count(m, x)
    out["output_shape"] = shapes[""]
    out["flopcounter_total_flops"] = fcm.get_total_flops()
    out["macs"] = half(out["flopcounter_total_flops"])
    out["macs_by_op"] = {str(k): half(v) for k, v in fcm.get_flop_counts()["Global"].items()}
    rows, folded = rows_of(m, fcm, order, shapes)
    out["layers"], out["folded"] = rows, folded
    assert sum(r["params"] for r in rows) == out["params"], name
    assert sum(r["macs"] for r in rows) == out["macs"], name
    fd, _, _ = count(m, x, math_sdpa=False)
    out["flopcounter_default_backends"] = half(fd.get_total_flops())
    out["flopcounter_default_backends_by_op"] = {str(k): half(v) for k, v in fd.get_flop_counts()["Global"].items()}
    if name in SEGMENTATION:  # torchvision's weights carry the auxiliary FCNHead; its `_ops` counts it
        ma = getattr(models.segmentation, name)(weights=None, weights_backbone=None, aux_loss=True).eval()
        fa, _, sa = count(ma, x)
        out["params_aux_loss_true"] = sum(p.numel() for p in ma.parameters())
        out["macs_aux_loss_true"] = half(fa.get_total_flops())
        out["output_shape_aux_loss_true"] = sa[""]
    if res != 224 and name in CLASSIFICATION:
        f224, _, _ = count(m, torch.randn(1, 3, 224, 224))
        out["macs_at_224"] = half(f224.get_total_flops())
    out["fvcore"] = fvcore_of(m, x)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def freeze(ref):
    """Reduce the per-model files to torchvision-modern.json (one layer per line)."""
    keep = [
        "resolution",
        "input_shape",
        "output_shape",
        "params",
        "buffers",
        "all_buffers",
        "buffers_by_name",
        "macs",
        "macs_by_op",
        "flopcounter_default_backends",
        "macs_at_224",
        "params_aux_logits_true",
        "params_aux_loss_true",
        "macs_aux_loss_true",
        "output_shape_aux_loss_true",
        "fvcore_total",
        "fvcore_by_operator",
        "fvcore_unsupported_ops",
        "fvcore_error",
        "torchvision_meta",
        "folded",
    ]
    out = {}
    for name in MODELS:
        path = os.path.join(ref, name + ".json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            d = json.load(f)
        for k, v in d.pop("fvcore").items():
            d["fvcore_" + k] = v
        out[name] = {k: d[k] for k in keep if k in d}
        out[name]["layers"] = [[r["name"], r["type"], r["output_shape"], r["params"], r["macs"]] for r in d["layers"]]
        versions = {"torch": d["torch"], "torchvision": d["torchvision"], "fvcore": "0.1.5.post20221221"}
    doc_about = "torchvision reference numbers for issue 13's models, frozen; see README.md and compute_ref_modern.py"
    conv = (
        "macs = FlopCounterMode total / 2 (aten.convolution, addmm/mm (linear), bmm (attention QK^T and AV, "
        "matmul)) under SDPBackend.MATH with the MultiheadAttention fast path off; layers rows are "
        "[name, type, output shape, params, macs] in module-entry order and sum to params and macs"
    )
    from freeze import write_frozen  # this folder's other freezer: one file layout for both

    here = os.path.dirname(os.path.abspath(__file__))
    header = {"about": doc_about, "macs": conv, "versions": versions}
    write_frozen(os.path.join(here, "torchvision-modern.json"), header, out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--freeze"]:
        if len(sys.argv) != 3:
            sys.exit("usage: python compute_ref_modern.py --freeze REF_OUT  (the folder of the <model>.json files)")
        freeze(sys.argv[2])
        sys.exit(0)
    sel = sys.argv[1:]
    dest = os.environ.get("REF_OUT", ".")
    os.makedirs(dest, exist_ok=True)
    for name in MODELS:
        if sel and name not in sel:
            continue
        o = run(name)
        with open(os.path.join(dest, f"{name}.json"), "w") as f:
            json.dump(o, f, indent=1)
        print(
            name,
            o["resolution"],
            o["params"],
            o["macs"],
            o["flopcounter_default_backends"],
            o["fvcore"].get("total", o["fvcore"].get("error")),
            o["torchvision_meta"],
            o["seconds"],
            flush=True,
        )
