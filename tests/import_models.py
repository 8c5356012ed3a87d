"""Torch modules for the import tests (tests/test_import_*.py), written here so the tests need
no torchvision: a torchvision-style ResNet (resnet50's exact layout), an attention block
(nn.MultiheadAttention and one with F.scaled_dot_product_attention), a U-Net step, a small
ViT, and models the importer must refuse or flag (a custom op, control flow, a raising
builder). Each builder is a ``pkg.mod:fn`` target: ``import_models:resnet50``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Bottleneck(nn.Module):  # torchvision.models.resnet.Bottleneck's layout (stride on the 3x3)
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), num_classes=1000, width=64):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(width, layers[0])
        self.layer2 = self._make(width * 2, layers[1], 2)
        self.layer3 = self._make(width * 4, layers[2], 2)
        self.layer4 = self._make(width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * 4, num_classes)

    def _make(self, planes, blocks, stride=1):
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(num_classes=1000):
    return ResNet((3, 4, 6, 3), num_classes)


def small_resnet(num_classes=10, width=8):
    return ResNet((2, 1, 1, 1), num_classes, width)


class EncoderBlock(nn.Module):  # torchvision's ViT EncoderBlock layout
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp, dim))

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + y
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    def __init__(self, image=32, patch=8, dim=48, depth=3, heads=4, mlp=96, num_classes=10):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, patch, patch)
        n = (image // patch) ** 2
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.layers = nn.Sequential(*[EncoderBlock(dim, heads, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.layers(x + self.pos_embedding)
        return self.head(self.ln(x)[:, 0])


def vit(depth=3):
    return ViT(depth=depth)


class SDPAttention(nn.Module):
    """Self-attention written out with separate q, k, v projections and F.scaled_dot_product_attention."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):  # x: [B, N, D]
        b, n, d = x.shape
        h = self.norm(x)

        def split(t):
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        a = F.scaled_dot_product_attention(split(self.q(h)), split(self.k(h)), split(self.v(h)))
        return x + self.proj(a.transpose(1, 2).reshape(b, n, d))


class SDPANet(nn.Module):  # an image model around SDPAttention (a spec's input is an image or a vector)
    def __init__(self, dim=32):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, 4)
        self.attn = SDPAttention(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        t = self.attn(self.embed(x).flatten(2).transpose(1, 2))
        return self.head(t[:, 0])


def sdpa_block():
    return SDPANet()


class UNetStep(nn.Module):
    """One U-Net level: two unpadded 3x3 convs, 2x2 max pool, a bottom pair, a 2x2 up-convolution,
    a centre crop of the skip, concatenation, two convs, a 1x1 head (the paper's form)."""

    def __init__(self, c=8):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(1, c, 3), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3), nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(2)
        self.bottom = nn.Sequential(
            nn.Conv2d(c, 2 * c, 3), nn.ReLU(inplace=True), nn.Conv2d(2 * c, 2 * c, 3), nn.ReLU(inplace=True)
        )
        self.up = nn.ConvTranspose2d(2 * c, c, 2, 2)
        self.decode = nn.Sequential(
            nn.Conv2d(2 * c, c, 3), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3), nn.ReLU(inplace=True)
        )
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        skip = self.down(x)
        u = self.up(self.bottom(self.pool(skip)))
        dh = (skip.shape[2] - u.shape[2]) // 2
        dw = (skip.shape[3] - u.shape[3]) // 2
        crop = skip[:, :, dh : dh + u.shape[2], dw : dw + u.shape[3]]
        return self.head(self.decode(torch.cat([crop, u], dim=1)))


def unet_step():
    return UNetStep()


@torch.fx.wrap
def my_custom_op(x):  # a custom kernel flopcount knows nothing about
    return x * 2


class WithCustomOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = my_custom_op(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def custom_op():
    return WithCustomOp()


class Gate(nn.Module):  # Python control flow on len(x), the batch size: torch.fx cannot trace it,
    # not even with the sizes concrete (MetaTracer; a check of x.shape traces that way: test_import_modern)
    def forward(self, x):
        if len(x) > 0:
            return x[:, :, ::2, ::2]
        return x


class WithControlFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = Gate()
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.gate(self.conv(x)))


def control_flow():
    return WithControlFlow()


class BatchNormAct2d(nn.BatchNorm2d):  # timm.layers.BatchNormAct2d's layout: a BatchNorm2d with its
    # own forward, a drop and an activation inside (a leaf of the trace, as the norm it subclasses)
    def __init__(self, c, act=nn.SiLU):
        super().__init__(c)
        self.drop = nn.Identity()
        self.act = act()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return self.act(self.drop(x))


class NormActNet(nn.Module):
    def __init__(self, last_act=nn.ReLU):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = BatchNormAct2d(8)  # SiLU inside
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn2 = BatchNormAct2d(8, nn.Identity)  # no activation
        self.conv3 = nn.Conv2d(8, 4, 1, bias=False)
        self.bn3 = BatchNormAct2d(4, last_act)

    def forward(self, x):
        return self.bn3(self.conv3(self.bn2(self.conv2(self.bn1(self.conv1(x))))))


def norm_act():
    return NormActNet()


def norm_act_unknown():  # an activation flopcount has no op for (SELU), inside the norm
    return NormActNet(nn.SELU)


# timm's activation classes (timm/layers/activations.py), by their names and with their forwards
# (the importer maps them by class name inside a norm, as it maps torch's)
class GELUTanh(nn.Module):
    def forward(self, x):
        return F.gelu(x, approximate="tanh")


class Swish(nn.Module):
    def forward(self, x):
        return x.mul(x.sigmoid())


class HardSwish(nn.Module):
    def forward(self, x):
        return x * F.relu6(x + 3.0) / 6.0


class HardSigmoid(nn.Module):
    def forward(self, x):
        return F.relu6(x + 3.0) / 6.0


class TimmActsNet(nn.Module):  # each inside a norm, where timm puts them (BatchNormAct2d's `act`)
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = BatchNormAct2d(8, GELUTanh)  # maxvit_tiny_tf_224's stem
        self.conv2 = nn.Conv2d(8, 8, 1, bias=False)
        self.bn2 = BatchNormAct2d(8, Swish)
        self.conv3 = nn.Conv2d(8, 8, 1, bias=False)
        self.bn3 = BatchNormAct2d(8, HardSwish)
        self.conv4 = nn.Conv2d(8, 4, 1, bias=False)
        self.bn4 = BatchNormAct2d(4, HardSigmoid)

    def forward(self, x):
        x = self.bn2(self.conv2(self.bn1(self.conv1(x))))
        return self.bn4(self.conv4(self.bn3(self.conv3(x))))


def timm_acts():
    return TimmActsNet()


def raises(**kw):
    raise ValueError("this builder refuses to build")


not_callable = 3


class InputNamedNet(nn.Module):
    """A submodule attribute named `input`, the spec's word for the model's input: the residual
    adds the model's input, not that conv's output."""

    def __init__(self):
        super().__init__()
        self.input = nn.Conv2d(3, 3, 3, padding=1)
        self.out = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return self.out(torch.relu(self.input(x)) + x)


def input_named():
    return InputNamedNet()


class KeywordKeyNet(nn.Module):
    """A ModuleDict key `in`: torch.fx writes `self.blocks.in(x)`, which is not Python."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({"in": nn.Conv2d(3, 8, 3, padding=1)})

    def forward(self, x):
        return self.blocks["in"](x)


def keyword_key():
    return KeywordKeyNet()


class KeyedNet(nn.Module):
    """A ModuleDict whose one key is ``key`` (any string torch takes: `$size`, `a b`, `input`)."""

    def __init__(self, key):
        super().__init__()
        self.key = key
        self.blocks = nn.ModuleDict({key: nn.Conv2d(3, 8, 3, padding=1)})
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.head(self.blocks[self.key](x))


def keyed(key="x"):
    return KeyedNet(key)


def same_even():
    """nn.Conv2d(padding="same") with an even kernel: torch pads 1 before and 2 after."""
    return nn.Sequential(nn.Conv2d(3, 8, 4, padding="same"), nn.Conv2d(8, 4, 3, padding="same"))


class PReLUInstanceNet(nn.Module):
    """PReLU (per channel and shared) and InstanceNorm2d (with and without affine), as style
    transfer and GAN generators use them."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.act1 = nn.PReLU(4)
        self.norm1 = nn.InstanceNorm2d(4, affine=True)
        self.conv2 = nn.Conv2d(4, 6, 1)
        self.act2 = nn.PReLU()
        self.norm2 = nn.InstanceNorm2d(6)

    def forward(self, x):
        return self.norm2(self.act2(self.conv2(self.norm1(self.act1(self.conv1(x))))))


def prelu_instance():
    return PReLUInstanceNet()


def mish():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Mish(), nn.Conv2d(4, 2, 1))


def dropouts():
    """Dropout's kin, identities at inference (Dropout2d was not costed)."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Dropout2d(0.2), nn.Conv2d(4, 2, 1), nn.AlphaDropout(0.1))


def more_acts():
    """nn.ELU, nn.Softplus and nn.Hardtanh, with values other than their defaults."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ELU(0.5), nn.Softplus(2.0), nn.Hardtanh(-2.0, 2.0), nn.Conv2d(4, 2, 1)
    )


class SubPixelNet(nn.Module):
    """ESPCN's sub-pixel upscaling (nn.PixelShuffle) after a space-to-depth stem
    (F.pixel_unshuffle, as Real-ESRGAN's x2 model), and back (nn.PixelUnshuffle, then
    F.pixel_shuffle with its factor as a keyword)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(12, 16, 3, padding=1)
        self.up = nn.PixelShuffle(2)
        self.conv2 = nn.Conv2d(4, 12, 3, padding=1)
        self.down = nn.PixelUnshuffle(2)

    def forward(self, x):
        x = self.conv1(F.pixel_unshuffle(x, 2))
        x = self.conv2(self.up(x))
        return F.pixel_shuffle(self.down(x), upscale_factor=2)


def sub_pixel():
    return SubPixelNet()


class LrnSE(nn.Module):
    """nn.LocalResponseNorm (AlexNet's, and one of an even size), then a squeeze-excite written
    with functions, its gate given new axes by indexing (``s[:, :, None, None]``, and with an
    Ellipsis)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(5, alpha=2e-4, beta=0.5, k=2.0)
        self.lrn2 = nn.LocalResponseNorm(2)
        self.f1 = nn.Linear(8, 2)
        self.f2 = nn.Linear(2, 8)

    def forward(self, x):
        x = self.lrn2(self.lrn(self.conv(x)))
        s = torch.sigmoid(self.f2(F.relu(self.f1(F.adaptive_avg_pool2d(x, 1).flatten(1)))))
        return x * s[:, :, None, None] + x * s[..., None, None]


def lrn_se():
    return LrnSE()


class Clamps(nn.Module):
    """x.clamp(0, 6) (relu6), torch.clamp(x, min=0) (relu), x.clip(-2.0, 2.0) (hardtanh), and
    with ``one_side`` x.clamp(min=1e-3), which no op computes."""

    def __init__(self, one_side: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 2, 1)
        self.one_side = one_side

    def forward(self, x):
        x = self.conv(x).clamp(0, 6)
        x = torch.clamp(x, min=0).clip(-2.0, 2.0)
        if self.one_side:
            x = x.clamp(min=1e-3)
        return self.conv2(x)


def clamps():
    return Clamps()


def clamp_one_side():
    return Clamps(one_side=True)
