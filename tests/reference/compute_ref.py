import json
import logging
import os
import sys
import time
import warnings

import torch
import torch.nn as nn
import torchvision
from fvcore.nn import FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode
from torchvision import models

warnings.filterwarnings("ignore")
logging.getLogger("fvcore").setLevel(logging.ERROR)
torch.manual_seed(0)
torch.set_grad_enabled(False)

MODELS = (
    [("alexnet", 224)]
    + [(f"vgg{d}", 224) for d in (11, 13, 16, 19)]
    + [("googlenet", 224)]
    + [(f"resnet{d}", 224) for d in (18, 34, 50, 101, 152)]
    + [(f"efficientnet_b{i}", r) for i, r in enumerate([224, 240, 260, 300, 380, 456, 528, 600])]
)


def build(name):
    if name == "googlenet":
        return models.googlenet(weights=None, aux_logits=False, init_weights=False)
    return getattr(models, name)(weights=None)


def run(name, res):
    t0 = time.time()
    m = build(name).eval()
    out = {
        "model": name,
        "resolution": res,
        "batch": 1,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    out["params"] = sum(p.numel() for p in m.parameters())
    bn = 0
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            bn += mod.running_mean.numel() + mod.running_var.numel()
    out["bn_running_buffers_numel"] = bn
    out["all_buffers_numel"] = sum(b.numel() for b in m.buffers())
    if name == "googlenet":
        out["params_aux_logits_true"] = sum(
            p.numel() for p in models.googlenet(weights=None, aux_logits=True, init_weights=False).parameters()
        )
    rows, hooks = [], []

    def mk(qn):
        def h(mod, inp, o):
            x = inp[0]
            if isinstance(mod, nn.Conv2d):
                N, Cin = x.shape[0], x.shape[1]
                _, Cout, Ho, Wo = o.shape
                kh, kw = mod.kernel_size
                macs = N * Cout * Ho * Wo * (Cin // mod.groups) * kh * kw
            else:
                N = x.numel() // x.shape[-1]
                macs = N * mod.in_features * mod.out_features
            rows.append(
                {
                    "name": qn,
                    "type": type(mod).__name__,
                    "weight_shape": list(mod.weight.shape),
                    "groups": getattr(mod, "groups", 1),
                    "bias": mod.bias is not None,
                    "input_shape": list(x.shape),
                    "output_shape": list(o.shape),
                    "params": sum(p.numel() for p in mod.parameters()),
                    "macs": macs,
                }
            )

        return h

    for qn, mod in m.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(mk(qn)))
    x = torch.randn(1, 3, res, res)
    fcm = FlopCounterMode(display=False)
    with fcm:
        m(x)
    for h in hooks:
        h.remove()
    out["layers"] = rows
    out["conv_linear_macs"] = sum(r["macs"] for r in rows)
    out["conv_macs"] = sum(r["macs"] for r in rows if r["type"] == "Conv2d")
    out["linear_macs"] = sum(r["macs"] for r in rows if r["type"] == "Linear")
    out["n_conv"] = sum(r["type"] == "Conv2d" for r in rows)
    out["n_linear"] = sum(r["type"] == "Linear" for r in rows)
    fl = fcm.get_total_flops()
    out["flopcounter_total_flops"] = fl
    out["flopcounter_by_op"] = {str(k): v for k, v in fcm.get_flop_counts().get("Global", {}).items()}
    out["flopcounter_half"] = fl / 2
    out["flopcounter_minus_2x_macs"] = fl - 2 * out["conv_linear_macs"]
    fa = FlopCountAnalysis(m, x)
    fa.unsupported_ops_warnings(False)
    fa.uncalled_modules_warnings(False)
    out["fvcore_total"] = fa.total()
    out["fvcore_by_operator"] = dict(fa.by_operator())
    out["fvcore_unsupported_ops"] = dict(fa.unsupported_ops())
    if name.startswith("efficientnet"):
        stages = []
        feats = m.features
        for i, st in enumerate(feats):
            if i == 0 or i == len(feats) - 1:
                conv = st[0]
                stages.append(
                    {
                        "index": i,
                        "kind": "stem" if i == 0 else "head",
                        "in": conv.in_channels,
                        "out": conv.out_channels,
                        "kernel": list(conv.kernel_size),
                        "stride": list(conv.stride),
                        "repeats": 1,
                    }
                )
            else:
                blk0 = st[0]
                convs = [c for c in blk0.modules() if isinstance(c, nn.Conv2d)]
                dw = [c for c in convs if c.groups > 1][0]
                last = convs[-1]
                first_in = convs[0].in_channels
                expand = (convs[0].out_channels // first_in) if convs[0].groups == 1 and len(convs) > 3 else 1
                stages.append(
                    {
                        "index": i,
                        "kind": "MBConv",
                        "in": first_in,
                        "out": last.out_channels,
                        "repeats": len(st),
                        "kernel": list(dw.kernel_size),
                        "stride": list(dw.stride),
                        "expand_ratio": expand,
                    }
                )
        out["efficientnet_stages"] = stages
        out["head_channels"] = feats[-1][0].out_channels
        out["classifier"] = str(m.classifier)
    out["seconds"] = round(time.time() - t0, 1)
    return out


if __name__ == "__main__":
    sel = sys.argv[1:]
    for name, res in MODELS:
        if sel and name not in sel:
            continue
        o = run(name, res)
        with open(os.path.join(os.environ.get("REF_OUT", "."), f"{name}.json"), "w") as f:
            json.dump(o, f, indent=1)
        print(
            name,
            res,
            o["params"],
            o["conv_linear_macs"],
            o["fvcore_total"],
            o["flopcounter_half"],
            o["flopcounter_minus_2x_macs"],
            o["seconds"],
            flush=True,
        )
