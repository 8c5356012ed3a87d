"""Import battery: small torch modules imported by flopcount and counted against torch's own count.

Each module (:data:`MODELS`: padding modes, pools, norms, activations, attention, slicing,
YOLOv5's Focus stem, ...) is built on the CPU, counted by FlopCounterMode (MACs = total / 2, the
MATH backend for attention, MultiheadAttention's fast path off) and ``sum(p.numel())``, and
reported by ``flopcount report import_battery:NAME`` (torch import) or, with ``--onnx``, by
``flopcount report NAME.onnx`` after ``torch.onnx.export(dynamo=False, opset_version=17)``.
Each row says ``ok`` (MACs and params equal; ONNX: MACs, as the file may hold fewer params),
``DIFF`` (a wrong count: the exit code is then 1), ``not costed`` (exit 1 of flopcount, naming the
node) or ``refused`` (exit 3, saying why). Needs torch (and onnx for ``--onnx``)::

    PYTHONPATH=benchmarks python benchmarks/import_battery.py [--onnx] [NAME ...]
"""

# ruff: noqa: E731
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F
from torch import nn


def seq(*m):
    return nn.Sequential(*m)


class Fn(nn.Module):
    def __init__(self, f, pre=None):
        super().__init__()
        self.f = f
        self.pre = pre if pre is not None else nn.Identity()

    def forward(self, x):
        return self.f(self.pre(x))


MODELS = {
    "conv_same": lambda: seq(nn.Conv2d(3, 8, 3, padding="same")),
    "conv_same_even": lambda: seq(nn.Conv2d(3, 8, 4, padding="same")),
    "conv_same_dil": lambda: seq(nn.Conv2d(3, 8, 3, padding="same", dilation=2)),
    "conv_reflect": lambda: seq(nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")),
    "conv_circular": lambda: seq(nn.Conv2d(3, 8, 3, padding=2, padding_mode="circular")),
    "conv_asym": lambda: seq(nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2))),
    "conv_dil_group": lambda: seq(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 8, 3, dilation=2, groups=2, padding=2)),
    "convT": lambda: seq(nn.ConvTranspose2d(3, 8, 3, stride=2, padding=1, output_padding=1)),
    "convT_groups": lambda: seq(nn.Conv2d(3, 4, 1), nn.ConvTranspose2d(4, 8, 4, stride=2, groups=2)),
    "convT_dil": lambda: seq(nn.ConvTranspose2d(3, 8, 3, stride=2, dilation=2)),
    "maxpool_ceil": lambda: seq(nn.Conv2d(3, 4, 1), nn.MaxPool2d(3, 2, ceil_mode=True)),
    "maxpool_pad_dil": lambda: seq(nn.Conv2d(3, 4, 1), nn.MaxPool2d(3, 2, padding=1, dilation=2)),
    "avgpool_ceil": lambda: seq(nn.Conv2d(3, 4, 1), nn.AvgPool2d(3, 2, ceil_mode=True, count_include_pad=False)),
    "adaptive_odd": lambda: seq(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d((3, 5)), nn.Flatten(), nn.Linear(60, 7)),
    "adaptive_max": lambda: seq(nn.Conv2d(3, 4, 1), nn.AdaptiveMaxPool2d(2), nn.Flatten(), nn.Linear(16, 7)),
    "upsample_bilinear": lambda: seq(
        nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(4, 2, 3)
    ),
    "upsample_nonint": lambda: seq(
        nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=1.5, mode="nearest"), nn.Conv2d(4, 2, 3)
    ),
    "interp_size": lambda: seq(
        nn.Conv2d(3, 4, 1),
        Fn(lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=False)),
        nn.Conv2d(4, 2, 3),
    ),
    "pixelshuffle": lambda: seq(nn.Conv2d(3, 16, 1), nn.PixelShuffle(2), nn.Conv2d(4, 2, 3)),
    "pixelunshuffle": lambda: seq(nn.Conv2d(3, 4, 1), nn.PixelUnshuffle(2), nn.Conv2d(16, 2, 1)),
    "flatten_start2": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x.flatten(2).transpose(1, 2)), nn.Linear(4, 6)),
    "linear_3d": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x.permute(0, 2, 3, 1)), nn.Linear(4, 6)),
    "bn_nonaffine": lambda: seq(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, affine=False)),
    "gn": lambda: seq(nn.Conv2d(3, 4, 1), nn.GroupNorm(2, 4)),
    "instnorm": lambda: seq(nn.Conv2d(3, 4, 1), nn.InstanceNorm2d(4, affine=True)),
    "ln_cl": lambda: seq(
        nn.Conv2d(3, 4, 1),
        Fn(lambda x: x.permute(0, 2, 3, 1)),
        nn.LayerNorm(4),
        Fn(lambda x: x.permute(0, 3, 1, 2)),
        nn.Conv2d(4, 2, 1),
    ),
    "prelu": lambda: seq(nn.Conv2d(3, 4, 1), nn.PReLU(4)),
    "dropout2d": lambda: seq(nn.Conv2d(3, 4, 1), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 1)),
    "chunk_cat": lambda: seq(
        nn.Conv2d(3, 8, 1), Fn(lambda x: torch.cat(list(reversed(x.chunk(2, dim=1))), 1)), nn.Conv2d(8, 2, 1)
    ),
    "mean_keepdim": lambda: seq(nn.Conv2d(3, 8, 1), Fn(lambda x: x.mean((2, 3), keepdim=True)), nn.Conv2d(8, 2, 1)),
    "max_reduce": lambda: seq(nn.Conv2d(3, 8, 1), Fn(lambda x: x.amax((2, 3))), nn.Linear(8, 2)),
    "softmax_ch": lambda: seq(nn.Conv2d(3, 8, 1), nn.Softmax(dim=1)),
    "conv1x1_nobias_stride3": lambda: seq(nn.Conv2d(3, 8, 1, stride=3, bias=False)),
    "bilinear_ac": lambda: seq(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)),
    "zeropad": lambda: seq(nn.ZeroPad2d((1, 2, 0, 3)), nn.Conv2d(3, 4, 3)),
    "reflpad": lambda: seq(nn.ReflectionPad2d(2), nn.Conv2d(3, 4, 3)),
    "conv3x3_s2_odd": lambda: seq(nn.Conv2d(3, 8, 3, stride=2, padding=1)),
    "hardtanh_relu6_elu": lambda: seq(
        nn.Conv2d(3, 4, 1),
        nn.ReLU6(),
        nn.ELU(),
        nn.Hardtanh(),
        nn.GELU(approximate="tanh"),
        nn.Mish() if hasattr(nn, "Mish") else nn.Identity(),
    ),
    "sigmoid_mul": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x * torch.sigmoid(x))),
    "matmul_tokens": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x.flatten(2) @ x.flatten(2).transpose(1, 2))),
    "bmm_attention": lambda: seq(
        nn.Conv2d(3, 4, 1),
        Fn(lambda x: torch.softmax(x.flatten(2).transpose(1, 2) @ x.flatten(2), -1) @ x.flatten(2).transpose(1, 2)),
    ),
}


class MHA(nn.Module):
    def __init__(self, batch_first=True, kdim=None):
        super().__init__()
        self.p = nn.Conv2d(3, 8, 1)
        self.a = nn.MultiheadAttention(8, 2, batch_first=batch_first, kdim=kdim, vdim=kdim)
        self.bf = batch_first
        self.kdim = kdim
        if kdim:
            self.k = nn.Linear(8, kdim)

    def forward(self, x):
        t = self.p(x).flatten(2).transpose(1, 2)
        if not self.bf:
            t = t.transpose(0, 1)
        kv = self.k(t) if self.kdim else t
        return self.a(t, kv, kv, need_weights=False)[0]


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Conv2d(3, 8, 1)
        self.q = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x = self.p(x)
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        return self.q(x)


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Conv2d(3, 4, 1)
        self.q = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return torch.stack([self.p(x), self.q(x)], 1).sum(1)


class SplitList(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Conv2d(3, 8, 1)
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(5, 2, 1)

    def forward(self, x):
        u, v = torch.split(self.p(x), [3, 5], dim=1)
        return self.a(u) + self.b(v)


MODELS.update(
    {
        "mha_batch_first": lambda: MHA(True),
        "mha_seq_first": lambda: MHA(False),
        "mha_kdim": lambda: MHA(True, 6),
        "encoder_layer": lambda: seq(
            nn.Conv2d(3, 8, 1),
            Fn(lambda x: x.flatten(2).transpose(1, 2)),
            nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0),
        ),
        "depthwise_mult2": lambda: seq(nn.Conv2d(3, 6, 3, groups=3, padding=1)),
        "linear_nobias_4d": lambda: seq(Fn(lambda x: x.permute(0, 2, 3, 1)), nn.Linear(3, 5, bias=False)),
        "ln_chw": lambda: seq(nn.Conv2d(3, 4, 1), nn.LayerNorm([4, 13, 11])),
        "gn1": lambda: seq(nn.Conv2d(3, 4, 1), nn.GroupNorm(1, 4)),
        "lrn": lambda: seq(nn.Conv2d(3, 4, 1), nn.LocalResponseNorm(2)),
        "adaptive_none": lambda: seq(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d((None, 3))),
        "acts": lambda: seq(nn.Conv2d(3, 4, 1), nn.Hardswish(), nn.SiLU(), nn.Softplus(), nn.LeakyReLU(0.2), nn.Tanh()),
        "elementwise_fns": lambda: seq(
            nn.Conv2d(3, 4, 1), Fn(lambda x: torch.sqrt(torch.abs(x.clamp(-1, 1)).pow(2) + 1))
        ),
        "shuffle": lambda: Shuffle(),
        "stack_sum": lambda: Stack(),
        "split_list": lambda: SplitList(),
        "flip_roll": lambda: seq(
            nn.Conv2d(3, 4, 1), Fn(lambda x: torch.roll(torch.flip(x, [3]), 2, 2)), nn.Conv2d(4, 2, 1)
        ),
        "unfold": lambda: seq(
            nn.Conv2d(3, 4, 1), nn.Unfold(2, stride=2), Fn(lambda x: x.transpose(1, 2)), nn.Linear(16, 3)
        ),
        "avgpool_divisor": lambda: seq(nn.Conv2d(3, 4, 1), nn.AvgPool2d(2, divisor_override=3)),
        "bicubic": lambda: seq(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2, mode="bicubic")),
        "maxpool_indices_free": lambda: seq(nn.Conv2d(3, 4, 1), nn.MaxPool2d(2), nn.Conv2d(4, 2, 1)),
        "conv_k1_pad2": lambda: seq(nn.Conv2d(3, 4, 1, padding=2)),
        "conv_k5_s3_p1_d2": lambda: seq(nn.Conv2d(3, 4, 5, stride=3, padding=1, dilation=2)),
        "cat_neg_dim": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: torch.cat([x, x], -3)), nn.Conv2d(8, 2, 1)),
        "sum_ch": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x.sum(1, keepdim=True)), nn.Conv2d(1, 2, 1)),
        "einsum_1op": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: torch.einsum("bchw->bhwc", x)), nn.Linear(4, 2)),
    }
)


class Focus(nn.Module):  # YOLOv5's space-to-depth stem
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(12, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))


class OldHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.fc = nn.Linear(4 * 6 * 5, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x), inplace=True), 1)
        return self.fc(x.view(x.size(0), -1))


class FPNish(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.lat = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        a = self.c1(x)
        b = self.c2(a)
        return self.lat(a) + F.interpolate(b, size=a.shape[-2:], mode="nearest")


class SEfn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 1)
        self.f1 = nn.Linear(8, 2)
        self.f2 = nn.Linear(2, 8)

    def forward(self, x):
        x = self.c(x)
        s = F.adaptive_avg_pool2d(x, 1).flatten(1)
        s = torch.sigmoid(self.f2(F.relu(self.f1(s))))
        return x * s[:, :, None, None]


MODELS.update(
    {
        "focus": lambda: Focus(),
        "old_head": lambda: OldHead(),
        "fpnish": lambda: FPNish(),
        "se_fn": lambda: SEfn(),
        "torch_flatten": lambda: seq(
            nn.Conv2d(3, 4, 3, stride=2), Fn(lambda x: torch.flatten(x, 1)), nn.Linear(4 * 6 * 5, 3)
        ),
        "mean23": lambda: seq(nn.Conv2d(3, 4, 3), Fn(lambda x: x.mean([2, 3])), nn.Linear(4, 3)),
        "strided_slice": lambda: seq(nn.Conv2d(3, 4, 1), Fn(lambda x: x[:, :, ::2, 1::3]), nn.Conv2d(4, 2, 1)),
        "channel_slice": lambda: seq(nn.Conv2d(3, 8, 1), Fn(lambda x: x[:, 2:6]), nn.Conv2d(4, 2, 1)),
    }
)


#: per-sample inputs other than the default 3x13x11 (these modules need even sizes)
SHAPES = {"focus": (3, 16, 12), "pixelunshuffle": (3, 16, 12)}


def __getattr__(name: str):  # `import_battery:NAME` targets: each builder by its name
    if name in MODELS:
        return MODELS[name]
    raise AttributeError(name)


def reference(model, shape) -> tuple:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    torch.backends.mha.set_fastpath_enabled(False)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(torch.randn(1, *shape))
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


def main(argv) -> int:
    onnx = "--onnx" in argv
    names = [a for a in argv if not a.startswith("--")] or list(MODELS)
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""), FLOPCOUNT_TRUST_CODE="1")
    tally: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            shape = SHAPES.get(name, (3, 13, 11))
            torch.manual_seed(0)
            model = MODELS[name]().eval()
            ref = reference(model, shape)
            target = f"import_battery:{name}"
            if onnx:
                target = os.path.join(tmp, f"{name}.onnx")
                try:
                    torch.onnx.export(model, (torch.randn(1, *shape),), target, dynamo=False, opset_version=17)
                except Exception as e:  # noqa: BLE001 - a row of the table
                    print(f"{name:24s} not exported: {str(e).splitlines()[0][:90]}")
                    tally["not exported"] = tally.get("not exported", 0) + 1
                    continue
            cmd = [sys.executable, "-m", "flopcount", "report", target, "--format", "json"]
            if not onnx:
                cmd += ["--input", "x".join(map(str, shape))]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode == 0:
                t = json.loads(p.stdout)["totals"]
                got = (t["macs"], t["params"])
                status = "ok" if (got[0] == ref[0] if onnx else got == ref) else "DIFF"
                print(f"{name:24s} {status:10s} flopcount {got}, torch {ref}")
            else:
                status = {1: "not costed", 3: "refused"}.get(p.returncode, f"exit {p.returncode}")
                line = (p.stderr.strip().splitlines() or [""])[0]
                print(f"{name:24s} {status:10s} {line[:150]}")
            tally[status] = tally.get(status, 0) + 1
    print(", ".join(f"{k}: {v}" for k, v in sorted(tally.items())))
    return 1 if any(k == "DIFF" or k.startswith("exit") for k in tally) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
