"""Torch modules for the ops of later vision transformers (``window_attention_v2``,
``patchmerge`` with ``norm: after``, ``partition_attention``), built by ``flopcount verify``
and ``--latency`` from a spec. Imported only by those ops' ``build`` (never at start-up).

Each follows its torchvision original in the products it computes (what FlopCounterMode and
fvcore count) and in its learnable tensors (what ``sum(p.numel())`` counts); the matrix
products are plain matmuls, which both counters see whatever the SDPA backend. One exception,
on purpose: Swin V2's position-bias MLP does not depend on the input, and torchvision runs it
once per forward, whatever the batch; flopcount's costs are per sample, so here it runs once
per sample (at batch 1, the same products as torchvision's).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .torch_build import WindowAttention, _attend, _relative_index


class PatchMergingV2(nn.Module):
    """Swin V2's patch merging on [B, C, H, W]: 2x2 neighbours concatenated (odd sizes padded),
    bias-free Linear(4C, c_out), then LayerNorm(c_out)."""

    def __init__(self, c: int, c_out: int, eps: float):
        super().__init__()
        self.reduction = nn.Linear(4 * c, c_out, bias=False)
        self.norm = nn.LayerNorm(c_out, eps=eps)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.norm(self.reduction(x)).permute(0, 3, 1, 2)


def _coords_table(w: int):
    """[1, 2w-1, 2w-1, 2]: the relative offsets of a w x w window, log-spaced to about [-1, 1]
    (torchvision's ``relative_coords_table``)."""
    r = torch.arange(-(w - 1), w, dtype=torch.float32)
    table = torch.stack(torch.meshgrid([r, r], indexing="ij")).permute(1, 2, 0).unsqueeze(0)
    table = table / max(w - 1, 1) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0


class WindowAttentionV2(WindowAttention):
    """Swin V2's window attention on [B, C, H, W] (torchvision's ``ShiftedWindowAttentionV2``):
    Swin's windows, shift and mask (:class:`~flopcount.torch_build.WindowAttention`), cosine
    attention with a learned per-head logit scale, and the bias from ``cpb_mlp`` over the
    offsets table (a non-persistent buffer, as the index)."""

    def __init__(self, c, heads, window, shift, qkv_bias, proj_bias, hidden: int):
        super().__init__(c, heads, window, shift, qkv_bias, proj_bias)
        del self.relative_position_bias_table  # V2 computes its bias
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, heads, bias=False))
        self.register_buffer("relative_coords_table", _coords_table(window), persistent=False)

    def forward(self, x):
        win, dims = self._to_windows(x)
        b, c, _, _, hp, wp = dims
        w, heads, t = self.window, self.heads, self.window * self.window
        bias_qkv = self.qkv.bias
        if bias_qkv is not None:  # k has no bias in V2 (torchvision zeroes it on every call)
            bias_qkv = torch.cat([bias_qkv[:c], torch.zeros_like(bias_qkv[c : 2 * c]), bias_qkv[2 * c :]])
        qkv = nn.functional.linear(win, self.qkv.weight, bias_qkv)
        q, k, v = qkv.reshape(-1, t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        # the bias MLP once per sample, as flopcount counts it (torchvision runs it once per forward;
        # the count is per sample, so the module that stands for the op runs it b times: all equal)
        table = self.cpb_mlp(self.relative_coords_table.expand(b, -1, -1, -1))[0].view(-1, heads)
        bias = 16 * torch.sigmoid(table[self.relative_position_index].view(t, t, heads).permute(2, 0, 1))
        attn = nn.functional.normalize(q, dim=-1) @ nn.functional.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp() + bias
        if any(self.shift):
            n_w = (hp // w) * (wp // w)
            attn = attn.view(b, n_w, heads, t, t) + self._mask(hp, wp, win.device).unsqueeze(1).unsqueeze(0)
            attn = attn.view(b * n_w, heads, t, t)
        out = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, t, c))
        return self._from_windows(out, dims)


class PartitionAttention(nn.Module):
    """MaxViT's ``PartitionAttentionLayer`` on [B, C, H, W]: partition (windows or a grid) into
    groups of size^2 tokens, x + attention(norm(x)) with a relative-position bias table, x +
    MLP(norm(x)), departition."""

    def __init__(self, c: int, heads: int, size: int, mode: str, ratio: int, eps: float):
        super().__init__()
        self.heads, self.size, self.mode = heads, size, mode
        self.norm1 = nn.LayerNorm(c, eps=eps)
        self.qkv = nn.Linear(c, 3 * c)
        self.merge = nn.Linear(c, c)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * size - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_index(size), persistent=False)
        self.norm2 = nn.LayerNorm(c, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(c, ratio * c), nn.GELU(), nn.Linear(ratio * c, c))

    def _split(self, x):
        """[B, C, H, W] -> [B, groups, size^2, C]."""
        b, c, h, w = x.shape
        s = self.size
        if self.mode == "window":  # (b, c, h/s, s, w/s, s): a group is one s x s window
            return x.reshape(b, c, h // s, s, w // s, s).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, s * s, c)
        # grid: (b, c, s, h/s, s, w/s): a group is the s x s cells at one offset inside them
        return x.reshape(b, c, s, h // s, s, w // s).permute(0, 3, 5, 2, 4, 1).reshape(b, -1, s * s, c)

    def _join(self, t, h: int, w: int):
        b, _, _, c = t.shape
        s = self.size
        if self.mode == "window":
            return t.reshape(b, h // s, w // s, s, s, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        return t.reshape(b, h // s, w // s, s, s, c).permute(0, 5, 3, 1, 4, 2).reshape(b, c, h, w)

    def forward(self, x):
        h, w = x.shape[2:]
        t = self._split(x)
        b, g, n, c = t.shape
        q, k, v = self.qkv(self.norm1(t)).reshape(b, g, n, 3, self.heads, c // self.heads).permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1).permute(2, 0, 1)
        t = t + self.merge(_attend(q, k, v, bias).transpose(2, 3).reshape(b, g, n, c))
        t = t + self.mlp(self.norm2(t))
        return self._join(t, h, w)
