"""Issue 14, wave 4: the mappings that make every torchvision classification model exact (Swin
V2's window attention and patch merging, MaxViT's partition attention) and those for timm's
building blocks (its Attention, Linear, Swin block and patch merging, TF-SAME conv, DeiT's
distillation token, forward arguments left at their defaults, a mean over H x W of a
channels-last map).

torchvision and timm are not installed here: each model below is built in this file from
stand-ins with the original's class name, module and attribute layout (what the mapper reads),
whose forward computes the original's products (flopcount's own modules from
``flopcount/torch_vit.py`` and ``torch_build.py`` where they exist). Every expected count is
derived by hand in a comment AND equal to torch's own on the same model: FlopCounterMode's
total / 2 (SDPA on the MATH backend) and ``sum(p.numel())``. The real models are checked by
``benchmarks/import_coverage.py`` (docs/import-coverage.md).
"""

from __future__ import annotations

import math
import os

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from flopcount.catalog import load_graph  # noqa: E402
from flopcount.cli import main  # noqa: E402
from flopcount.report import report_of  # noqa: E402
from flopcount.torch_build import WindowAttention  # noqa: E402
from flopcount.torch_vit import PartitionAttention, PatchMergingV2, WindowAttentionV2  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _stand_in(cls, module: str, name: str):
    cls.__module__, cls.__name__, cls.__qualname__ = module, name, name
    return cls


# -- timm stand-ins -------------------------------------------------------------------------------
class TimmAttention(nn.Module):  # timm.layers.attention.Attention, as its forward computes
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm, self.k_norm, self.norm = nn.Identity(), nn.Identity(), nn.Identity()
        self.gate = None
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, attn_mask=None, is_causal=False):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        return self.proj(self.norm(x.transpose(1, 2).reshape(b, n, c)))


class TimmLinear(nn.Linear):  # timm.layers.linear.Linear
    def forward(self, x):
        if torch.jit.is_scripting():  # pragma: no cover - timm's AMP cast, never taken here
            return F.linear(x, self.weight.to(x.dtype), self.bias)
        return F.linear(x, self.weight, self.bias)


class Conv2dSame(nn.Conv2d):  # timm.layers.conv2d_same.Conv2dSame: TF "SAME", computed per call
    def __init__(self, cin, cout, k, stride=1):
        super().__init__(cin, cout, k, stride, 0)

    def forward(self, x):
        ih, iw = x.size()[-2:]
        k, s = self.kernel_size[0], self.stride[0]
        ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)  # Python arithmetic on sizes: not traceable
        pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0)


class TimmMlp(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.fc1, self.act, self.norm, self.fc2 = nn.Linear(c, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, c)

    def forward(self, x):
        return self.fc2(self.norm(self.act(self.fc1(x))))


class SwinTransformerBlock(nn.Module):  # timm's, on [B, H, W, C]; its window attention: flopcount's
    def __init__(self, c, heads, window, shift):
        super().__init__()
        self.window_size, self.shift_size, self.dynamic_mask = (window, window), (shift, shift), False
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = WindowAttention(c, heads, window, (shift, shift), True, True)
        self.attn.num_heads = heads
        self.mlp = TimmMlp(c, 4 * c)

    def forward(self, x):
        x = x + self.attn(self.norm1(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(self.norm2(x))


class TimmPatchMerging(nn.Module):  # timm.models.swin_transformer.PatchMerging, [B, H, W, C]
    def __init__(self, c):
        super().__init__()
        self.out_dim = 2 * c
        self.norm, self.reduction = nn.LayerNorm(4 * c), nn.Linear(4 * c, 2 * c, bias=False)

    def forward(self, x):
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        return self.reduction(self.norm(x))


_stand_in(TimmAttention, "timm.layers.attention", "Attention")
_stand_in(TimmLinear, "timm.layers.linear", "Linear")
_stand_in(Conv2dSame, "timm.layers.conv2d_same", "Conv2dSame")
_stand_in(SwinTransformerBlock, "timm.models.swin_transformer", "SwinTransformerBlock")
_stand_in(TimmPatchMerging, "timm.models.swin_transformer", "PatchMerging")


class DeiTLike(nn.Module):
    """Conv patches 3x16x16 -> 16 tokens of 8, class and distillation tokens, timm Attention
    (called with forward's default mask), the class token, timm's Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, 4)
        self.cls_token, self.dist_token = nn.Parameter(torch.zeros(1, 1, 8)), nn.Parameter(torch.zeros(1, 1, 8))
        self.attn = TimmAttention(8, 2)
        self.head = TimmLinear(8, 5)

    def forward(self, x, attn_mask=None):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), self.dist_token.expand(x.shape[0], -1, -1), x], 1)
        return self.head(self.attn(x, attn_mask=attn_mask)[:, 0])


class SwinLike(nn.Module):
    """timm Swin on 3x8x8: patch conv to 8x4x4 channels-last, one block (2 heads, window 2,
    shift 1), patch merging to 16x2x2, mean over H x W, Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.block = SwinTransformerBlock(8, 2, 2, 1)
        self.merge = TimmPatchMerging(8)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        x = self.merge(self.block(self.patch(x).permute(0, 2, 3, 1)))
        return self.head(x.mean((1, 2)))


class SameNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(3, 4, 3, stride=2)

    def forward(self, x):
        return self.conv(x)


# -- torchvision stand-ins: Swin V2 and MaxViT ----------------------------------------------------
class ShiftedWindowAttentionV2(WindowAttentionV2):  # torchvision's, on [B, H, W, C]
    def __init__(self, c, heads, window, shift, hidden):
        super().__init__(c, heads, window, (shift, shift), True, True, hidden)
        self.window_size, self.shift_size, self.num_heads = [window, window], [shift, shift], heads

    def forward(self, x):
        return super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class TvPatchMergingV2(PatchMergingV2):  # torchvision's PatchMergingV2, on [B, H, W, C]
    def forward(self, x):
        return super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class _RelAttn(nn.Module):  # the attributes of RelativePositionalMultiHeadAttention the mapper reads
    def __init__(self, to_qkv, merge, heads, c, size):
        super().__init__()
        self.to_qkv, self.merge = to_qkv, merge
        self.n_heads, self.head_dim, self.size, self.max_seq_len = heads, c // heads, size, size * size


class PartitionAttentionLayer(PartitionAttention):  # torchvision's layout over flopcount's module
    def __init__(self, c, heads, size, mode):
        super().__init__(c, heads, size, mode, 4, 1e-5)
        self.partition_type = mode
        self.attn_layer = nn.Sequential(self.norm1, _RelAttn(self.qkv, self.merge, heads, c, size), nn.Dropout(0))
        self.mlp_layer = nn.Sequential(self.norm2, self.mlp[0], self.mlp[1], self.mlp[2], nn.Dropout(0))


_stand_in(ShiftedWindowAttentionV2, "torchvision.models.swin_transformer", "ShiftedWindowAttentionV2")
_stand_in(TvPatchMergingV2, "torchvision.models.swin_transformer", "PatchMergingV2")
_stand_in(PartitionAttentionLayer, "torchvision.models.maxvit", "PartitionAttentionLayer")


class ModernTv(nn.Module):
    """3x16x16: patch conv to 8x8x8, MaxViT window then grid attention (2 heads, size 2), Swin V2
    window attention on the channels-last map (2 heads, window 4, shift 2, bias MLP 16), Swin V2
    patch merging to 16x4x4, mean over H x W, Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.window = PartitionAttentionLayer(8, 2, 2, "window")
        self.grid = PartitionAttentionLayer(8, 2, 2, "grid")
        self.attn = ShiftedWindowAttentionV2(8, 2, 4, 2, 16)
        self.merge = TvPatchMergingV2(8, 16, 1e-5)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        x = self.grid(self.window(self.patch(x))).permute(0, 2, 3, 1)
        return self.head(self.merge(x + self.attn(x)).mean((1, 2)))


def deit_like():
    return DeiTLike()


def swin_like():
    return SwinLike()


class CSPLike(nn.Module):  # timm's CSP stage: x.split(C // 2, dim=1), one half convolved, concat
    def __init__(self):
        super().__init__()
        self.conv_exp = nn.Conv2d(3, 8, 1)
        self.block = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        xs, xb = self.conv_exp(x).split(4, dim=1)
        return torch.cat([xs, self.block(xb)], dim=1)


def same_net():
    return SameNet()


def csp_like():
    return CSPLike()


def modern_tv():
    return ModernTv()


def torch_counts(build, shape) -> tuple:
    """(FlopCounterMode total / 2, sum(p.numel())) at batch 1 on the meta device."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build().eval()
    # no parameter asks for gradients: FlopCounterMode's module tracker asserts on a module input
    # that is a view of one made under no_grad (a learned query's expand); the counts are the same
    model.requires_grad_(False)
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(torch.empty((1, *shape), device="meta"))
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _on_path(monkeypatch):
    monkeypatch.syspath_prepend(HERE)


CASES = [
    # DeiT-like on 3x16x16: patch conv 8 * 16 positions * 48 = 6,144 MACs, params 8*48 + 8 = 392;
    # class + distillation tokens 2*8 = 16 params; attention over N = 18 tokens of 8 (2 heads):
    # 18*8*24 (qkv) + 18*18*8 (Q K^T) + 18*18*8 (A V) + 18*8*8 (proj) = 3,456 + 2,592 + 2,592 + 1,152
    # = 9,792 MACs, params 3*64 + 24 + 64 + 8 = 288; head 8*5 = 40 MACs, 45 params.
    # Total 6,144 + 9,792 + 40 = 15,976 MACs; 392 + 16 + 288 + 45 = 741 params.
    ("deit_like", (3, 16, 16), 15976, 741),
    # Swin-like on 3x8x8: patch conv 8 * 16 * 12 = 1,536 MACs, params 104; block on 8x4x4, window 2:
    # 4 windows of T = 4: 4 * (4*8*24 + 2*16*8 + 4*64) = 4 * 1,280 = 5,120, MLP 16 * (8*32 + 32*8)
    # = 8,192 -> 13,312 MACs; params 2*16 (norms) + 216 (qkv) + 72 (proj) + 9*2 (table) + 552 (MLP)
    # = 890; patch merging 4 positions * 32 * 16 = 2,048 MACs, params 32*16 + 64 = 576; head 16*3 = 48
    # MACs, 51 params. Total 1,536 + 13,312 + 2,048 + 48 = 16,944 MACs; 104 + 890 + 576 + 51 = 1,621.
    ("swin_like", (3, 8, 8), 16944, 1621),
    # TF-SAME conv 3 -> 4, 3x3 stride 2 on 9x9: out ceil(9/2) = 5, padding 2 in all = 1 each side
    # (symmetric): MACs 4 * 25 * 27 = 2,700; params 4*27 + 4 = 112.
    ("same_net", (3, 9, 9), 2700, 112),
    # CSP-like on 3x6x6: 1x1 conv 3 -> 8: 8 * 36 * 3 = 864 MACs, 32 params; split in two halves of 4
    # (free); 3x3 conv 4 -> 4 on one: 4 * 36 * 36 = 5,184 MACs, 4*36 + 4 = 148 params; concat (free).
    # Total 864 + 5,184 = 6,048 MACs; 32 + 148 = 180 params.
    ("csp_like", (3, 6, 6), 6048, 180),
    # ModernTv on 3x16x16: patch conv 8 * 64 * 12 = 6,144 MACs, 104 params. Each partition attention
    # (C = 8, N = 64 tokens, T = 4, MLP 32): 64*8*24 + 2*64*4*8 + 64*8*8 + 2*64*8*32 = 12,288 + 4,096
    # + 4,096 + 32,768 = 53,248 MACs; params 216 (qkv) + 72 (merge) + 9*2 (table) + 32 (norms) + 552
    # (MLP) = 890; two of them: 106,496 MACs, 1,780 params. Swin V2 attention on 8x8, window 4: 4
    # windows of T = 16: 4 * (16*8*24 + 2*256*8 + 16*64) = 4 * 8,192 = 32,768, plus the bias MLP over
    # 7^2 = 49 offsets: 49 * (2*16 + 16*2) = 3,136 -> 35,904 MACs; params 288 (qkv, proj) + 2 (logit
    # scale) + 48 (Linear(2, 16)) + 32 (Linear(16, 2)) = 370. Patch merging V2: 16 positions * 32 * 16
    # = 8,192 MACs, params 512 + 2*16 = 544; head 48 MACs, 51 params.
    # Total 6,144 + 106,496 + 35,904 + 8,192 + 48 = 156,784 MACs; 104 + 1,780 + 370 + 544 + 51 = 2,849.
    ("modern_tv", (3, 16, 16), 156784, 2849),
]


@pytest.mark.parametrize("name,shape,macs,params", CASES, ids=[c[0] for c in CASES])
def test_mapping_is_exact(name, shape, macs, params):
    r = report_of(load_graph(f"test_import_modern:{name}", shape))
    assert (r.totals["macs"], r.totals["params"]) == (macs, params)
    assert torch_counts(globals()[name], shape) == (macs, params)


def test_ops_written_and_round_trip(tmp_path):
    spec = tmp_path / "m.yaml"
    res = CliRunner().invoke(main, ["import", "test_import_modern:modern_tv", "--input", "3x16x16", "-o", str(spec)])
    assert res.exit_code == 0, res.output
    text = spec.read_text()
    for word in ("partition_attention", "mode: grid", "window_attention_v2", "hidden: 16", "norm: after"):
        assert word in text, word
    written = report_of(load_graph(str(spec)))
    direct = report_of(load_graph("test_import_modern:modern_tv", (3, 16, 16)))
    assert written.totals == direct.totals
    assert [(r.name, r.macs, r.params) for r in written.rows] == [(r.name, r.macs, r.params) for r in direct.rows]


class EvenSame(nn.Module):  # a 2x2 TF-SAME conv at stride 1 pads 1 on one side only: no symmetric p
    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(3, 4, 2)

    def forward(self, x):
        return self.conv(x)


class OwnForwardConv(nn.Conv2d):  # a Conv2d subclass whose forward does more than nn.Conv2d's
    def forward(self, x):
        if x.shape[-1] > 4:  # not traceable: becomes a leaf, and must not be counted as a plain conv
            x = F.pad(x, [1, 1, 1, 1])
        return super().forward(x)


def even_same():
    return EvenSame()


def own_forward_conv():
    return nn.Sequential(OwnForwardConv(3, 4, 3))


@pytest.mark.parametrize("name,cls", [("even_same", "Conv2dSame"), ("own_forward_conv", "OwnForwardConv")])
def test_conv_forwards_it_cannot_count_are_opaque(name, cls):
    res = CliRunner().invoke(main, ["report", f"test_import_modern:{name}", "--input", "3x8x8"])
    assert res.exit_code == 1, res.output
    assert "1 node not costed" in res.output and f": {cls} at " in res.output


# -- issue 14, timm coverage (H5): qkv splits, zero-MAC nodes, ECA, GRN, Affine, weight-standardised
# convs, bias tables, a class token read twice, size checks in a forward ----------------------------
class GlobalResponseNorm(nn.Module):  # timm.layers.grn.GlobalResponseNorm, channels-first
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps, self.spatial_dim, self.channel_dim = eps, (2, 3), 1
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        g = x.norm(p=2, dim=self.spatial_dim, keepdim=True)
        n = g / (g.mean(dim=self.channel_dim, keepdim=True) + self.eps)
        return x + torch.addcmul(self.bias.view(1, -1, 1, 1), self.weight.view(1, -1, 1, 1), x * n)


class Affine(nn.Module):  # timm.models.mlp_mixer.Affine
    def __init__(self, dim):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones((1, 1, dim)))
        self.beta = nn.Parameter(torch.zeros((1, 1, dim)))

    def forward(self, x):
        return torch.addcmul(self.beta, self.alpha, x)


class ScaledStdConv2d(nn.Conv2d):  # timm.layers.std_conv.ScaledStdConv2d: standardised weights * gain
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.gain = nn.Parameter(torch.ones((self.out_channels, 1, 1, 1)))
        self.scale = 1.0

    def forward(self, x):
        w = F.batch_norm(
            self.weight.reshape(1, self.out_channels, -1),
            None,
            None,
            weight=(self.gain * self.scale).view(-1),
            training=True,
            momentum=0.0,
            eps=1e-5,
        ).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


_stand_in(GlobalResponseNorm, "timm.layers.grn", "GlobalResponseNorm")
_stand_in(Affine, "timm.models.mlp_mixer", "Affine")
_stand_in(ScaledStdConv2d, "timm.layers.std_conv", "ScaledStdConv2d")


class ZeroMacNet(nn.Module):
    """3x8x8: the zero-MAC constructs of timm CNNs (CSPNet's LeakyReLU, DPN's channel slices,
    PoolFormer's pool(x) - x, a divide, ECA's Conv1d and expand_as, ConvNeXt V2's GRN, ResNeSt's
    sum over the radix axis, NFNet's weight-standardised conv), then a mean and a Linear head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.act = nn.LeakyReLU(0.1)
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        self.grn = GlobalResponseNorm(8)
        self.std = ScaledStdConv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = self.act(self.conv(x))[:, :8]  # all 8 channels (GhostNet's out[:, :out_chs]): x itself
        x1, x2 = x[:, :4], x[:, 4:]
        x = torch.cat([self.pool(x1) - x1, x2 / (x2.sum(dim=1, keepdim=True) + 1.0)], dim=1)
        y = self.eca(x.mean((2, 3)).view(x.shape[0], 1, -1)).sigmoid().view(x.shape[0], -1, 1, 1)
        x = self.grn(x * y.expand_as(x))
        x = x.reshape(x.shape[0], 2, 4, 8, 8).sum(dim=1)
        return self.head(self.std(x).mean((2, 3)))


class QkvNet(nn.Module):
    """3x8x8 -> 16 tokens of 8, two attentions of 2 heads: BEiT's (qkv Linear without bias and
    F.linear with cat(q_bias, k_bias buffer, v_bias), permute(2, 0, 3, 1, 4).unbind(0), a
    relative-position table gathered by a buffer as SDPA's mask, a layer scale) and
    EfficientFormer's (an uneven split([2, 2, 4], dim=3) of q, k, v, attention_biases[:, idxs]
    added to the scores); mean over the tokens, Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.qkv = nn.Linear(8, 24, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(8))
        self.register_buffer("k_bias", torch.zeros(8), persistent=False)
        self.v_bias = nn.Parameter(torch.zeros(8))
        self.table = nn.Parameter(torch.zeros(10, 2))
        self.register_buffer("index", torch.arange(256) % 10, persistent=False)
        self.proj = nn.Linear(8, 8)
        self.gamma = nn.Parameter(torch.ones(8))
        self.qkv2 = nn.Linear(8, 16)
        self.biases = nn.Parameter(torch.zeros(2, 16))
        self.register_buffer("idxs", torch.arange(256).view(16, 16) % 16, persistent=False)
        self.proj2 = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        qkv = F.linear(x, self.qkv.weight, torch.cat((self.q_bias, self.k_bias, self.v_bias)))
        q, k, v = qkv.reshape(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.table[self.index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = x + self.gamma * self.proj(a.transpose(1, 2).reshape(b, n, c))
        q, k, v = self.qkv2(x).reshape(b, n, 2, -1).permute(0, 2, 1, 3).split([2, 2, 4], dim=3)
        attn = (q @ k.transpose(-2, -1)) * 0.5 + self.biases[:, self.idxs]
        x = self.proj2((attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c))
        return self.head(x.mean(dim=1))


class TokenNet(nn.Module):
    """3x8x8 -> 16 tokens of 8: ResMLP's Affine, a Linear, CaiT's class token put before the tokens
    and later added to a slice of the output, a cat of tokens, the class token to a Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.norm = Affine(8)
        self.fc = nn.Linear(8, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.fc(self.norm(self.patch(x).flatten(2).transpose(1, 2)))
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        u = self.mix(torch.cat((cls, x), dim=1))
        x = torch.cat((cls + u[:, :1], x), dim=1)
        return self.head(x[:, 0])


class SizeCheck(nn.Module):  # timm's VGG ConvMlp: Python control flow on the map size
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Conv2d(4, 2, 8)

    def forward(self, x):
        if x.shape[-2] < 8:
            x = F.adaptive_avg_pool2d(x, 8)
        return self.fc1(x)


class SizeCheckNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pre_logits = SizeCheck()

    def forward(self, x):
        return self.pre_logits(self.conv(x)).flatten(1)


class NormActLeaf(nn.BatchNorm2d):  # timm's BatchNormAct2d: a leaf (a BatchNorm2d) with submodules
    def __init__(self, c):
        super().__init__(c)
        self.drop = nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return self.act(self.drop(x))


class SizeCheckNormActNet(nn.Module):  # a size check (traced again by MetaTracer) after such a leaf
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = NormActLeaf(4)
        self.pre_logits = SizeCheck()

    def forward(self, x):
        return self.pre_logits(self.bn(self.conv(x))).flatten(1)


class PatchFoldNet(nn.Module):  # MobileViT's unfold and fold (timm mobilevit.py): patches into the batch
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = nn.LayerNorm(8)
        self.attn = TimmAttention(8, 2)
        self.fc = nn.Linear(8, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape  # 2x2 patches: 4 x 4 of them
        x = x.reshape(b * c * 4, 2, 4, 2).transpose(1, 2)  # [B * C * n_h, n_w, p_h, p_w]
        x = x.reshape(b, c, 16, 4).transpose(1, 3).reshape(b * 4, 16, -1)  # [B * P, N, C]
        x = x + self.attn(self.norm(x))
        x = x + self.fc(x)
        x = x.contiguous().view(b, 4, 16, -1)
        x = x.transpose(1, 3).reshape(b * c * 4, 4, 2, 2)
        x = x.transpose(1, 2).reshape(b, c, h, w)
        return self.head(x)


class FourierPos(nn.Module):  # EdgeNeXt's PositionalEncodingFourier: computed from sizes, then a conv
    def __init__(self, hidden, dim):
        super().__init__()
        self.hidden = hidden
        self.token_projection = nn.Conv2d(2 * hidden, dim, 1)

    def forward(self, shape):
        device = self.token_projection.weight.device
        inv = ~torch.zeros(shape).to(device=device, dtype=torch.bool)
        y, x = inv.cumsum(1, dtype=torch.float32), inv.cumsum(2, dtype=torch.float32)
        dim_t = torch.arange(self.hidden, dtype=torch.int64, device=device).to(torch.float32)
        pos_y, pos_x = y[:, :, :, None] / dim_t, x[:, :, :, None] / dim_t
        pos = torch.cat((pos_y.sin(), pos_x.cos()), dim=3).permute(0, 3, 1, 2)
        return self.token_projection(pos)


class EdgeNextLikeNet(nn.Module):  # EdgeNeXt's ways: a computed position encoding, F.normalize, tokens
    # reshaped to a channels-last map [B, H, W, C] and a scale per channel on it
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, stride=2, bias=False)
        self.pos = FourierPos(4, 8)
        self.norm_xca = nn.LayerNorm(8)
        self.lin = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 8)
        self.gamma = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = self.stem(x)
        b, c, h, w = x.shape
        t = x.reshape(b, c, h * w).permute(0, 2, 1)
        t = t + self.pos((b, h, w)).reshape(b, -1, t.shape[1]).permute(0, 2, 1)
        t = t + self.lin(F.normalize(self.norm_xca(t), dim=-1))
        m = t.reshape(b, h, w, c)
        return (self.gamma * self.fc(self.norm(m))).permute(0, 3, 1, 2)


def edgenext_like_net():
    return EdgeNextLikeNet()


class LatentPoolNet(nn.Module):  # timm's AttentionPoolLatent (SigLIP's head): a learned query's Linear
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.latent = nn.Parameter(torch.zeros(1, 1, 8))
        self.q = nn.Linear(8, 8)
        self.kv = nn.Linear(8, 16)
        self.proj = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q = self.q(self.latent.expand(b, -1, -1)).reshape(b, 1, 2, 4).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, 1, c)
        return self.head(self.proj(x)[:, 0])


def latent_pool_net():
    return LatentPoolNet()


class EinsumAttnNet(nn.Module):  # attention written with torch.einsum (MaxxViT's, timm's others)
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (torch.einsum("bhid,bhjd->bhij", q, k) * 0.5).softmax(dim=-1)
        x = torch.einsum("bhij,bhjd->bhid", attn, v).transpose(1, 2).reshape(b, n, c)
        return self.head(self.proj(x).mean(1))


def einsum_attn_net():
    return EinsumAttnNet()


class WindowConvNet(nn.Module):  # a conv over windows folded into the batch: not mapped (named)
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.per_window = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        b = x.shape[0]
        x = self.conv(x).reshape(b * 4, 8, 4, 4)
        return self.per_window(x).reshape(b, 8, 8, 8)


def window_conv_net():
    return WindowConvNet()


class MovedBatchNet(nn.Module):  # qkv permuted with the batch off axis 0, then reshaped: not mapped
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(4, 12)

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        return self.qkv(x).reshape(1, 4, 3, 2, 2).permute(2, 0, 3, 1, 4).reshape(3, -1)


def zero_mac_net():
    return ZeroMacNet()


def qkv_net():
    return QkvNet()


def token_net():
    return TokenNet()


def size_check_net():
    return SizeCheckNet()


def size_check_norm_act_net():
    return SizeCheckNormActNet()


def patch_fold_net():
    return PatchFoldNet()


def moved_batch_net():
    return MovedBatchNet()


TIMM_CASES = [
    # ZeroMacNet on 3x8x8: 1x1 conv 3 -> 8: 8*64*3 = 1,536 MACs, 8*3 + 8 = 32 params; LeakyReLU,
    # slices, pool - x, divide, concat: none. ECA Conv1d 1 -> 1, k 3 over the 8 pooled channels:
    # 8 * 3 = 24 MACs, 3 params; GRN: 2 * 8 = 16 params; the radix sum: none; the standardised 3x3 conv
    # 4 -> 4 at 8x8: 4*64 * 4*9 = 9,216 MACs, 4*36 + 4 bias + 4 gain = 152 params; head 4*3 = 12 MACs,
    # 15 params. Total 1,536 + 24 + 9,216 + 12 = 10,788 MACs; 32 + 3 + 16 + 152 + 15 = 218 params.
    ("zero_mac_net", (3, 8, 8), 10788, 218),
    # QkvNet on 3x8x8: patch conv 3 -> 8, k 2 s 2: 8*16 * 12 = 1,536 MACs, 104 params. BEiT-like:
    # qkv 16*8*24 = 3,072 MACs, 192 weights + 8 + 8 (q, v biases; k's is a buffer); Q K^T and A V:
    # 2 heads * 16*16*4 = 2,048 each; proj 16*8*8 = 1,024 MACs, 72 params; table 10*2 = 20; gamma 8.
    # EfficientFormer-like: qkv2 16*8*16 = 2,048 MACs, 144 params; Q K^T 2 * 16*16*2 = 1,024; A V
    # 2 * 16*16*4 = 2,048; biases 2*16 = 32 params; proj2 1,024 MACs, 72 params; head 24 MACs, 27 params.
    # MACs 1,536 + 3,072 + 4,096 + 1,024 + 2,048 + 1,024 + 2,048 + 1,024 + 24 = 15,896;
    # params 104 + 192 + 16 + 72 + 20 + 8 + 144 + 32 + 72 + 27 = 687.
    ("qkv_net", (3, 8, 8), 15896, 687),
    # TokenNet on 3x8x8: patch conv 1,536 MACs, 104 params; Affine 2*8 = 16 params; fc 16*8*8 = 1,024
    # MACs, 72 params; class token 8 params (counted once, though read twice); mix over 17 tokens:
    # 17*64 = 1,088 MACs, 72 params; head 8*3 = 24 MACs, 27 params.
    # Total 1,536 + 1,024 + 1,088 + 24 = 3,672 MACs; 104 + 16 + 72 + 8 + 72 + 27 = 299 params.
    ("token_net", (3, 8, 8), 3672, 299),
    # SizeCheckNet on 3x8x8: conv 3 -> 4, 3x3 p 1: 4*64*27 = 6,912 MACs, 112 params; the head's size
    # check is False at 8x8 (no pooling), its 8x8 conv 4 -> 2: 2*1*1 * 4*64 = 512 MACs, 514 params.
    # Total 7,424 MACs; 626 params.
    ("size_check_net", (3, 8, 8), 7424, 626),
    # SizeCheckNormActNet on 3x8x8: conv 3 -> 4, 3x3 p 1, no bias: 6,912 MACs, 108 params; the norm
    # with its ReLU inside: 8 params; the head as above: 512 MACs, 514 params. Total 7,424 MACs,
    # 630 params. MetaTracer (the retrace for the size check) records the leaf's `drop`, `act` and
    # the next conv's functions a second time, on meta constants: before, 2 nodes not costed
    ("size_check_norm_act_net", (3, 8, 8), 7424, 630),
    # PatchFoldNet on 3x8x8: conv 3 -> 8, 3x3 p 1, no bias: 8*64*27 = 13,824 MACs, 216 params; then
    # P = 4 patch positions x N = 16 patches of D = 8 in the batch axis (64 tokens): LayerNorm 16
    # params; attention, 2 heads of 4: qkv 64*8*24 = 12,288 MACs, 216 params; Q K^T and A V
    # 4*2 * 16*16*4 = 8,192 each; proj 64*8*8 = 4,096 MACs, 72 params; fc 4,096 MACs, 72 params;
    # folded back, head 1x1 conv 8 -> 2: 2*64*8 = 1,024 MACs, 18 params. Total 13,824 + 12,288 +
    # 2 * 8,192 + 2 * 4,096 + 1,024 = 51,712 MACs; 216 + 16 + 216 + 72 + 72 + 18 = 610 params
    ("patch_fold_net", (3, 8, 8), 51712, 610),
    # EdgeNextLikeNet on 3x8x8: stem conv 3 -> 8, k 2 s 2, no bias: 8*16*12 = 1,536 MACs, 96 params;
    # the position encoding's 1x1 conv 8 -> 8 on 4x4: 8*16*8 = 1,024 MACs, 72 params (what feeds it
    # is computed from the sizes: data, no MACs); LayerNorm 16; lin 16*8*8 = 1,024 MACs, 72 params;
    # on the 4x4 map, channels last: LayerNorm 16, fc 1,024 MACs, 72 params, gamma 8. Total 1,536 +
    # 3 * 1,024 = 4,608 MACs; 96 + 72 + 16 + 72 + 16 + 72 + 8 = 352 params
    ("edgenext_like_net", (3, 8, 8), 4608, 352),
    # LatentPoolNet on 3x8x8: patch conv 3 -> 8, k 2 s 2: 1,536 MACs, 104 params; the learned query
    # (1 of 8): 8 params; q 1*8*8 = 64 MACs, 72 params; kv 16*8*16 = 2,048 MACs, 144 params; 2 heads
    # of 4: Q K^T 2*1*16*4 = 128, A V 128; proj 64 MACs, 72 params; head 8*3 = 24 MACs, 27 params.
    # Total 1,536 + 64 + 2,048 + 256 + 64 + 24 = 3,992 MACs; 104 + 8 + 72 + 144 + 72 + 27 = 427 params
    ("latent_pool_net", (3, 8, 8), 3992, 427),
    # EinsumAttnNet on 3x8x8: patch conv 3 -> 8, k 2 s 2: 1,536 MACs, 104 params; qkv 16*8*24 = 3,072
    # MACs, 216 params; einsum bhid,bhjd->bhij: b*h*i*j*d = 2*16*16*4 = 2,048, and bhij,bhjd->bhid the
    # same; proj 16*8*8 = 1,024 MACs, 72 params; the mean, head 8*3 = 24 MACs, 27 params. Total
    # 1,536 + 3,072 + 2 * 2,048 + 1,024 + 24 = 9,752 MACs; 104 + 216 + 72 + 27 = 419 params
    ("einsum_attn_net", (3, 8, 8), 9752, 419),
]


@pytest.mark.parametrize("name,shape,macs,params", TIMM_CASES, ids=[c[0] for c in TIMM_CASES])
def test_timm_constructs_are_exact_and_costed(name, shape, macs, params, tmp_path):
    spec = tmp_path / "m.yaml"
    res = CliRunner().invoke(main, ["import", f"test_import_modern:{name}", "--input", "3x8x8", "-o", str(spec)])
    assert res.exit_code == 0, res.output  # every node costed: no "not costed" exit 1
    assert "opaque" not in spec.read_text()
    r = report_of(load_graph(str(spec)))
    assert (r.totals["macs"], r.totals["params"]) == (macs, params)
    assert torch_counts(globals()[name], shape) == (macs, params)


def test_timm_constructs_write_their_ops(tmp_path):
    words = {
        "zero_mac_net": ("leaky_relu", "slope: 0.1", "op: slice", "subtract", "divide", "conv1d", "grn", "reduce"),
        "qkv_net": ("squeeze: true", "stop: 2", "bias_table", "size: 20", "size: 32", "size: 16"),
        "token_net": ("affine", "cls_token", "op: cat"),
    }
    for name, expected in words.items():
        spec = tmp_path / f"{name}.yaml"
        res = CliRunner().invoke(main, ["import", f"test_import_modern:{name}", "--input", "3x8x8", "-o", str(spec)])
        assert res.exit_code == 0, res.output
        text = spec.read_text()
        for word in expected:
            assert word in text, (name, word)


@pytest.mark.parametrize("name", ["zero_mac_net", "qkv_net", "token_net", "levit_like", "einsum_attn_net"])
def test_timm_constructs_verify(name, tmp_path):
    pytest.importorskip("fvcore")
    spec = tmp_path / "m.yaml"
    res = CliRunner().invoke(main, ["import", f"test_import_modern:{name}", "--input", "3x8x8", "-o", str(spec)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["verify", str(spec)])
    assert res.exit_code == 0 and "verify: OK" in res.output, res.output


def test_a_conv_over_windows_folded_into_the_batch_is_named_not_costed():
    # flopcount's per-sample shapes hold the windows of a fold in their axis 0 (_Ref.folded); a
    # conv would read that axis as its channels, so it is left not costed, saying why (exit 1)
    res = CliRunner().invoke(main, ["report", "test_import_modern:window_conv_net", "--input", "3x8x8"])
    assert res.exit_code == 1, res.output
    assert "1 node not costed: per_window: Conv2d at " in res.output
    assert "it reads a tensor whose batch axis holds windows or patches too" in res.output


def test_a_moved_batch_axis_read_by_a_reshape_is_refused():
    res = CliRunner().invoke(main, ["import", "test_import_modern:moved_batch_net", "--input", "4x2x2"])
    assert res.exit_code == 3, res.output
    assert "batch axis" in res.output and "count this part by hand" in res.output


class SharedConvNet(nn.Module):  # CoaT's shared position encoding: one conv module called twice
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.shared = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = self.stem(x)
        return self.shared(self.shared(x) + x)


def shared_conv_net():
    return SharedConvNet()


def test_a_module_called_twice_is_counted_twice_and_said(tmp_path):
    spec = tmp_path / "m.yaml"
    res = CliRunner().invoke(
        main, ["import", "test_import_modern:shared_conv_net", "--input", "3x4x4", "-o", str(spec)]
    )
    assert res.exit_code == 0, res.output
    # torch: stem 4*3 + 4 = 16 and shared 4*4 + 4 = 20 params, 36; the spec has two layers of 20: 56,
    # and its header says the 20 counted twice
    assert torch_counts(shared_conv_net, (3, 4, 4))[1] == 36
    assert report_of(load_graph(str(spec))).totals["params"] == 56
    assert "# note: 20 params counted more than once: modules called more than once (shared x2)" in spec.read_text()


class LinearNorm(nn.Module):  # timm.models.levit.LinearNorm: Linear, BatchNorm1d over the tokens' features
    def __init__(self, a, b):
        super().__init__()
        self.linear = nn.Linear(a, b, bias=False)
        self.bn = nn.BatchNorm1d(b)

    def forward(self, x):
        x = self.linear(x)
        return self.bn(x.flatten(0, 1)).reshape_as(x)


_stand_in(LinearNorm, "timm.models.levit", "LinearNorm")


class LevitLike(nn.Module):
    """3x8x8 -> 16 tokens of 8: LeViT's LinearNorm qkv, split([2, 2, 4], dim=3), k permuted to
    (0, 2, 3, 1) for q @ k, its subsampling x.view(B, 4, 4, C)[:, ::2, ::2], a mean, BatchNorm1d on
    the vector and a Linear head."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 2, 2)
        self.qkv = LinearNorm(8, 16)
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 2, -1).split([2, 2, 4], dim=3)
        attn = (q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1)).softmax(dim=-1)
        x = (attn @ v.permute(0, 2, 1, 3)).transpose(1, 2).reshape(b, n, c)
        x = x.view(b, 4, 4, c)[:, ::2, ::2].reshape(b, -1, c)
        return self.head(self.bn(x.mean(1)))


def levit_like():
    return LevitLike()


def test_levit_constructs_are_exact(tmp_path):
    # patch conv 3 -> 8, k 2 s 2: 8*16 * 12 = 1,536 MACs, 104 params; LinearNorm 16*8*16 = 2,048 MACs,
    # 128 weights + 2*16 (bn) = 160 params; q @ k: 2 heads * 16*16*2 = 1,024; A V: 2 * 16*16*4 = 2,048;
    # the subsampling and the mean: none; BatchNorm1d(8): 16 params; head 8*3 = 24 MACs, 27 params.
    # Total 1,536 + 2,048 + 1,024 + 2,048 + 24 = 6,680 MACs; 104 + 160 + 16 + 27 = 307 params.
    spec = tmp_path / "m.yaml"
    res = CliRunner().invoke(main, ["import", "test_import_modern:levit_like", "--input", "3x8x8", "-o", str(spec)])
    assert res.exit_code == 0, res.output
    text = spec.read_text()
    assert "token_bn" in text and "step: 2" in text and "opaque" not in text
    r = report_of(load_graph(str(spec)))
    assert (r.totals["macs"], r.totals["params"]) == (6680, 307) == torch_counts(levit_like, (3, 8, 8))
