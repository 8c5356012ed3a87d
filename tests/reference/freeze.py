"""Reduce compute_ref.py's per-model JSON files to tests/reference/torchvision.json.

Run from this folder after compute_ref.py has written <model>.json into REF (no torch
needed here):  python freeze.py /path/to/ref
Keeps, per model: resolution, params, BN running-stat buffers, conv+linear MACs, and each
nn.Conv2d / nn.Linear in forward (hook) order as [name, out_channels, groups, params, macs].
"""

import json
import os
import sys

MODELS = (
    ["alexnet", "googlenet"] + [f"resnet{d}" for d in (18, 34, 50, 101, 152)] + [f"efficientnet_b{i}" for i in range(8)]
)


def main(ref: str) -> None:
    out = {}
    for name in MODELS:
        with open(os.path.join(ref, name + ".json")) as f:
            d = json.load(f)
        out[name] = {
            "resolution": d["resolution"],
            "params": d["params"],
            "buffers": d["bn_running_buffers_numel"],
            "macs": d["conv_linear_macs"],
            "layers": [[r["name"], r["output_shape"][1], r["groups"], r["params"], r["macs"]] for r in d["layers"]],
        }
        if "params_aux_logits_true" in d:
            out[name]["params_aux_logits_true"] = d["params_aux_logits_true"]
        versions = {"torch": d["torch"], "torchvision": d["torchvision"]}
    doc = {
        "about": "torchvision reference numbers, frozen; see README.md in this folder",
        "versions": versions,
        "models": out,
    }
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision.json"), "w") as f:
        f.write("{\n")
        f.write(f' "about": {json.dumps(doc["about"])},\n "versions": {json.dumps(versions)},\n "models": {{\n')
        for i, (name, m) in enumerate(out.items()):
            head = {k: v for k, v in m.items() if k != "layers"}
            f.write(f'  {json.dumps(name)}: {{{json.dumps(head)[1:-1]}, "layers": [\n')
            f.write(",\n".join("   " + json.dumps(r) for r in m["layers"]))
            f.write("]}" + ("," if i < len(out) - 1 else "") + "\n")
        f.write(" }\n}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python freeze.py REF_OUT  (the folder compute_ref.py wrote into)")
    main(sys.argv[1])
