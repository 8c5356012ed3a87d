"""The fused batch-norm and activation of conv, fc, linear and convtranspose (``bn:``, ``act:``)
cost what those ops cost on their own, added field by field (ops.conv.with_fused: one Cost made
per layer, issue 17)."""

import pytest

from flopcount.ops.base import Cost, get
from flopcount.ops.norm import BatchNorm


def _cost(op: str, attrs: dict, x: tuple) -> Cost:
    impl = get(op)
    a = {k: p.default for k, p in impl.params.items() if k not in attrs} | attrs
    a = impl.normalize(a, [x])
    return impl.cost(a, [x], impl.infer(a, [x]))


@pytest.mark.parametrize(
    "op,attrs,x,expected",
    [
        # 1x1 conv 3 -> 2 on 5x5, bn only: MACs 2*25*3 = 150; params 2*3 + 2 bias + 2*2 (gamma, beta)
        # = 12; buffers 2*2 (running mean, variance) = 4; ops 2 per output element, 2*50 = 100
        ("conv", {"c": 2, "k": 1, "bn": True}, (3, 5, 5), Cost(macs=150, params=12, ops=100, buffers=4)),
        # the same conv, hardswish only: 1 op per output element (50), params 2*3 + 2 = 8
        ("conv", {"c": 2, "k": 1, "act": "hardswish"}, (3, 5, 5), Cost(macs=150, params=8, ops=50)),
        # fc 3 -> 4 with bn and silu: MACs 12; params 12 + 4 bias + 2*4 = 24; buffers 2*4 = 8;
        # ops bn 2*4 + silu 1*4 = 12
        ("fc", {"c": 4, "bn": True, "act": "silu"}, (3,), Cost(macs=12, params=24, ops=12, buffers=8)),
        # nothing fused: the layer's own MACs and params only
        ("fc", {"c": 4}, (3,), Cost(macs=12, params=16)),
        # convtranspose 4 -> 3, k 2 (stride: the kernel, so 6x6 out of 3x3: (3 - 1) * 2 + (2 - 1) + 1) with
        # relu: MACs 4*9 inputs * 3*2*2 = 432; params 4*3*4 + 3 = 51; relu 1 op per output element, 3*6*6 = 108
        ("convtranspose", {"c": 3, "k": 2, "act": "relu"}, (4, 3, 3), Cost(macs=432, params=51, ops=108)),
    ],
)
def test_fused_parts_add_field_by_field(op, attrs, x, expected):
    assert _cost(op, attrs, x) == expected


def test_the_fused_part_is_the_fused_op_s_own_cost(monkeypatch):
    # one place per op: a conv's fused bn is BatchNorm.cost, whatever that says
    monkeypatch.setattr(BatchNorm, "cost", lambda self, a, xs, y: Cost(macs=1, params=2, ops=3, buffers=4))
    # 1x1 conv 3 -> 2 on 5x5: own MACs 150, params 8; the planted bn adds (1, 2, 3, 4)
    assert _cost("conv", {"c": 2, "k": 1, "bn": True}, (3, 5, 5)) == Cost(macs=151, params=10, ops=3, buffers=4)
