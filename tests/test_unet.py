"""`unet`: the U-Net of Ronneberger, Fischer & Brox (MICCAI 2015, arXiv:1505.04597), Figure 1,
against a derivation by hand from the paper's sizes and against a torch module written here
from the paper (not from flopcount's builder)."""

import pytest

from flopcount import analyze

# -- the derivation, level by level, from Figure 1 -------------------------------------------
#
# An unpadded 3x3 conv takes S x S to (S - 2) x (S - 2):
#   MACs = C_out * (S - 2)^2 * C_in * 9,  params = C_out * C_in * 9 + C_out (bias).
# A 2x2 max pool with stride 2 halves S. A 2x2 up-convolution with stride 2 doubles S; every
# input pixel scatters a 2x2 kernel into each output channel:
#   MACs = C_in * S^2 * C_out * 4,  params = C_in * C_out * 4 + C_out.
# Crop and concat have no MACs and no params. The last 1x1 conv: 2 * 388^2 * 64 MACs.


def conv3(c_in, c_out, s):
    o = s - 2
    return o, c_out * o * o * c_in * 9, c_out * c_in * 9 + c_out


def upconv2(c_in, c_out, s):
    return 2 * s, c_in * s * s * c_out * 4, c_in * c_out * 4 + c_out


def derive():
    """(sizes after each conv, pool and up-conv; total MACs; total params)."""
    sizes, macs, params = [], 0, 0
    s, c = 572, 1  # the 572x572x1 input tile
    skips = []
    for width in (64, 128, 256, 512):  # contracting path: 572->570->568, pool 284, 282->280, ...
        for c_in in (c, width):
            s, m, p = conv3(c_in, width, s)
            sizes.append(s)
            macs, params = macs + m, params + p
        skips.append((width, s))  # the copy kept for the expansive path: 568, 280, 136, 64
        s, c = s // 2, width
        sizes.append(s)  # 284, 140, 68, 32
    for c_in in (512, 1024):  # the bottom: 32 -> 30 -> 28, 1024 channels
        s, m, p = conv3(c_in, 1024, s)
        sizes.append(s)
        macs, params = macs + m, params + p
    c = 1024
    for width in (512, 256, 128, 64):  # expansive path
        s, m, p = upconv2(c, width, s)  # 28 -> 56, 52 -> 104, 100 -> 200, 196 -> 392
        sizes.append(s)
        macs, params = macs + m, params + p
        skip_c, skip_s = skips.pop()
        assert skip_c == width and skip_s >= s  # centre crop 64->56, 136->104, 280->200, 568->392
        for c_in in (skip_c + width, width):  # after the concat: 2 x width channels
            s, m, p = conv3(c_in, width, s)
            sizes.append(s)
            macs, params = macs + m, params + p
        c = width
    macs += 2 * s * s * 64  # final 1x1 conv, 64 -> 2 classes, at 388x388
    params += 2 * 64 + 2
    return sizes, macs, s, params


PAPER_SIZES = [570, 568, 284, 282, 280, 140, 138, 136, 68, 66, 64, 32, 30, 28]
PAPER_SIZES += [56, 54, 52, 104, 102, 100, 200, 198, 196, 392, 390, 388]


def test_the_derivation_follows_figure_1():
    sizes, macs, out, params = derive()
    assert sizes == PAPER_SIZES and out == 388
    # the sums, level by level (MACs; params in brackets):
    #   64:   187,142,400 + 11,893,211,136          (640 + 36,928)
    #   128:  5,863,145,472 + 11,560,550,400        (73,856 + 147,584)
    #   256:  5,616,304,128 + 10,909,384,704        (295,168 + 590,080)
    #   512:  5,138,546,688 + 9,663,676,416         (1,180,160 + 2,359,808)
    #   1024: 4,246,732,800 + 7,398,752,256         (4,719,616 + 9,438,208)
    #   up 512: 1,644,167,168 + 13,759,414,272 + 6,379,536,384   (2,097,664 + 4,719,104 + 2,359,808)
    #   up 256: 1,417,674,752 + 12,273,057,792 + 5,898,240,000   (524,544 + 1,179,904 + 590,080)
    #   up 128: 1,310,720,000 + 11,561,730,048 + 5,664,669,696   (131,200 + 295,040 + 147,584)
    #   up 64:  1,258,815,488 + 11,214,028,800 + 5,549,654,016   (32,832 + 73,792 + 36,928)
    #   1x1:    19,269,632                                        (130)
    assert macs == 150_428_424_448 and params == 31_030_658


def test_unet_equals_the_derivation():
    r = analyze("unet")
    sizes, macs, out, params = derive()
    assert r.totals["macs"] == macs and r.totals["params"] == params and r.totals["buffers"] == 0
    shaped = [row.output[1] for row in r.rows if row.op in ("conv", "maxpool", "convtranspose")]
    assert shaped[:-1] == PAPER_SIZES  # (the last is the 1x1 head, 388 as well)
    assert r.rows[-1].output == (2, 388, 388)
    crops = [row.output for row in r.rows if row.op == "crop"]
    assert crops == [(512, 56, 56), (256, 104, 104), (128, 200, 200), (64, 392, 392)]
    concats = [row.output[0] for row in r.rows if row.op == "concat"]
    assert concats == [1024, 512, 256, 128]


# -- a torch module written from the paper ------------------------------------------------------


def _paper_unet():
    import torch
    from torch import nn

    def double(c_in, c_out):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3), nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3), nn.ReLU(inplace=True)
        )

    def crop(t, size):
        h, w = t.shape[-2:]
        top, left = (h - size) // 2, (w - size) // 2
        return t[..., top : top + size, left : left + size]

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = (64, 128, 256, 512)
            self.down = nn.ModuleList(double(c_in, c) for c_in, c in zip((1, *widths[:-1]), widths))
            self.pool = nn.MaxPool2d(2, 2)
            self.bottom = double(512, 1024)
            self.up = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, 2) for c in reversed(widths))
            self.dec = nn.ModuleList(double(2 * c, c) for c in reversed(widths))
            self.head = nn.Conv2d(64, 2, 1)

        def forward(self, x):
            skips = []
            for block in self.down:
                x = block(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottom(x)
            for up, dec in zip(self.up, self.dec):
                x = up(x)
                x = dec(torch.cat([crop(skips.pop(), x.shape[-1]), x], 1))
            return self.head(x)

    return UNet()


def test_unet_equals_a_torch_module_written_from_the_paper():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = _paper_unet()
        x = torch.empty(1, 1, 572, 572)
        counter = FlopCounterMode(display=False)
        with counter:
            y = model(x)
    assert tuple(y.shape) == (1, 2, 388, 388)
    r = analyze("unet")
    assert sum(p.numel() for p in model.parameters()) == r.totals["params"]
    assert counter.get_total_flops() // 2 == r.totals["macs"] and counter.get_total_flops() % 2 == 0


def test_flopcounts_own_build_has_the_paper_modules_shapes():
    torch = pytest.importorskip("torch")
    from flopcount.api import load_graph
    from flopcount.torch_build import build_graph, count_params

    model = build_graph(load_graph("unet"), device="meta")
    y = model(torch.empty(1, 1, 572, 572, device="meta"))
    assert tuple(y.shape) == (1, 2, 388, 388)
    assert count_params(model) == 31_030_658


def test_flopcount_verify_unet_passes():
    pytest.importorskip("torch")
    pytest.importorskip("fvcore")
    from conftest import run

    r = run("flopcount verify unet --format json")
    assert r.code == 0, r.out + r.err
    assert r.json()["ok"] is True
