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
    here = os.path.dirname(os.path.abspath(__file__))
    about = "torchvision reference numbers, frozen; see README.md in this folder"
    write_frozen(os.path.join(here, "torchvision.json"), {"about": about, "versions": versions}, out)


def write_frozen(path: str, header: dict, models: dict) -> None:
    """Write a frozen reference (also compute_ref_modern.py's): the header's keys one per line,
    then each model with one layer per line, so a diff shows the layer that moved."""
    with open(path, "w") as f:
        f.write("{\n")
        f.write("".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in header.items()))
        f.write(' "models": {\n')
        for i, (name, m) in enumerate(models.items()):
            head = {k: v for k, v in m.items() if k != "layers"}
            f.write(f'  {json.dumps(name)}: {{{json.dumps(head)[1:-1]}, "layers": [\n')
            f.write(",\n".join("   " + json.dumps(r) for r in m["layers"]))
            f.write("]}" + ("," if i < len(models) - 1 else "") + "\n")
        f.write(" }\n}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python freeze.py REF_OUT  (the folder compute_ref.py wrote into)")
    main(sys.argv[1])
