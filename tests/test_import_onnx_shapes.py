"""ONNX graphs whose sizes are computed inside the graph (issue 14: torchvision's Swin and MaxViT
exports): the integer shape arithmetic is folded (flopcount/importers/onnx_fold.py) so that pads,
reshapes and slices get static sizes, and what FlopCounterMode counts is counted.

* small torch modules (no torchvision) with padding and partitions computed from the input's
  shape, exported here with the CPU torch's TorchScript exporter (skipped, saying why, where it
  does not work): MACs equal FlopCounterMode's total / 2, params what the file holds;
* hand-built hostile graphs (onnx.helper): a huge Range, a ConstantOfShape of 10^12 values, a
  cyclic shape computation, values past int64: a located error (exit 3), never a hang or a
  MemoryError.
"""

from __future__ import annotations

import time

import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed (pip install onnx): no .onnx import tests")
from click.testing import CliRunner  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from flopcount.catalog import load_graph  # noqa: E402
from flopcount.cli import main  # noqa: E402
from flopcount.importers import ALLOW_UNKNOWN  # noqa: E402
from flopcount.importers.onnx_fold import MAX_ELEMENTS  # noqa: E402
from flopcount.report import report_of  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64


@pytest.fixture(autouse=True)
def _reset_allow_unknown():
    ALLOW_UNKNOWN[0] = False
    yield
    ALLOW_UNKNOWN[0] = False


def totals(path):
    r = report_of(load_graph(path))
    return r.totals["macs"], r.totals["params"]


def run(*args):
    return CliRunner().invoke(main, list(args))


# -- torch modules with sizes computed from the input's shape ------------------------------------
def _torch():
    return pytest.importorskip("torch", reason="torch is not installed: no exported-module tests")


def _export(torch, model, shape, path):
    import warnings

    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.randn(1, *shape),), path, dynamo=False, opset_version=17)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"torch.onnx.export(dynamo=False) fails here: {type(e).__name__}: {str(e)[:200]}")


def _reference(torch, model, shape):
    """FlopCounterMode's total / 2 (math SDPA backend) and sum(numel) of the module itself."""
    from torch.utils.flop_counter import FlopCounterMode

    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        model(torch.randn(1, *shape))
    return fc.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


def _swin_like(torch, dim=8, heads=2, window=4, shift=2):
    """A patch-embedding conv, then a shifted window attention as torchvision writes it: H and W
    padded to multiples of the window with amounts computed from x.shape, torch.roll, the window
    partition by view/permute, a relative-position bias gathered from its table, the shift mask
    built from the padded size, softmax, the reverse partition, roll back, crop; then a head."""
    from torch import nn
    from torch.nn import functional as fn

    class WindowAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
            c = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
            rel = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + (window - 1)
            self.register_buffer("index", (rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]).flatten())

        def forward(self, x):  # [B, H, W, C]
            b, h, w, c = x.shape
            ws, t = window, window * window
            x = fn.pad(x, (0, 0, 0, (ws - w % ws) % ws, 0, (ws - h % ws) % ws))
            _, ph, pw, _ = x.shape
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            nw = (ph // ws) * (pw // ws)
            x = x.view(b, ph // ws, ws, pw // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nw, t, c)
            qkv = self.qkv(x).reshape(x.size(0), t, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
            bias = self.table[self.index].view(t, t, heads).permute(2, 0, 1)
            attn = attn + bias.unsqueeze(0)
            mask = x.new_zeros((ph, pw))
            count = 0
            for hs in ((0, -ws), (-ws, -shift), (-shift, None)):
                for wsl in ((0, -ws), (-ws, -shift), (-shift, None)):
                    mask[hs[0] : hs[1], wsl[0] : wsl[1]] = count
                    count += 1
            mask = mask.view(ph // ws, ws, pw // ws, ws).permute(0, 2, 1, 3).reshape(nw, t)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0)
            attn = attn.view(b, nw, heads, t, t) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, t, t).softmax(-1)
            x = (attn @ v).transpose(1, 2).reshape(b * nw, t, c)
            x = self.proj(x)
            x = x.view(b, ph // ws, pw // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
            return x[:, :h, :w, :].contiguous()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, dim, 2, 2)
            self.norm = nn.LayerNorm(dim)
            self.attn = WindowAttention()
            self.head = nn.Linear(dim, 5)

        def forward(self, x):
            x = self.embed(x).permute(0, 2, 3, 1)
            x = x + self.attn(self.norm(x))
            return self.head(x.mean(dim=(1, 2)))

    return Net().eval(), heads, window * window, (2 * window - 1) ** 2 * heads


def test_swin_like_window_attention_counts_as_torch(tmp_path):
    torch = _torch()
    model, heads, t, table = _swin_like(torch)
    shape = (3, 20, 20)  # the conv's 10x10 map: padded to 12x12 for windows of 4 (pads of 2 computed in the graph)
    p = str(tmp_path / "swin_like.onnx")
    _export(torch, model, shape, p)
    macs, params = _reference(torch, model, shape)
    got = totals(p)  # an exception here if any node was not costed (exit 1) or a shape stayed unknown
    assert got[0] == macs
    # By hand: embed 8 * 10*10 * 3*2*2 = 9,600; 9 windows of T = 16 tokens over the padded 12x12:
    # qkv 144 * 8 * 24 = 27,648, Q K^T and A V 2 * 9 * 2 heads * 16*16*4 = 36,864, proj 144 * 8 * 8 =
    # 9,216; head 8 * 5 = 40: 83,368 (and FlopCounterMode says the same)
    assert macs == 9_600 + 27_648 + 36_864 + 9_216 + 40 == 83_368
    # The exporter folds table[index] (a constant gather) into the bias [1, heads, T, T] the file
    # holds: params are the module's with the (2w-1)^2 * heads = 98 table entries replaced by
    # heads * T * T = 512 values
    assert got[1] == params - table + heads * t * t
    out = run("report", p)
    assert out.exit_code == 0, out.output
    from flopcount.importers.onnx_import import import_onnx

    notes = " ".join(import_onnx(p).notes)
    # two torch.roll calls over (H, W): 4 Slice + Concat pairs; the mask is added, not counted
    assert "4 cyclic shift(s)" in notes and "attention mask" in notes, notes
    assert "tensor(s) of the file" in notes and f"{heads * t * t:,} values" in notes, notes


def _maxvit_like(torch, dim=16, heads=2, p=4):
    """MaxViT's partition attention: the map cut into p x p windows by reshape/permute with sizes
    from x.shape, layer norm, qkv as one linear chunked in three, einsum products, a learned bias
    [heads, T, T], merge, the reverse partition; then the same over a p x p grid."""
    from torch import nn

    class Partition(nn.Module):
        def __init__(self, grid):
            super().__init__()
            self.grid = grid
            self.norm = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.merge = nn.Linear(dim, dim)
            self.bias = nn.Parameter(torch.randn(heads, p * p, p * p))

        def forward(self, x):  # [B, C, H, W]
            b, c, h, w = x.shape
            gh, gw = h // p, w // p
            if self.grid:
                y = x.reshape(b, c, p, gh, p, gw).permute(0, 3, 5, 2, 4, 1).reshape(b, gh * gw, p * p, c)
            else:
                y = x.reshape(b, c, gh, p, gw, p).permute(0, 2, 4, 3, 5, 1).reshape(b, gh * gw, p * p, c)
            g, t = y.shape[1], y.shape[2]
            q, k, v = torch.chunk(self.qkv(self.norm(y)), 3, dim=-1)
            q, k, v = (z.reshape(b, g, t, heads, c // heads).transpose(2, 3) for z in (q, k, v))
            attn = torch.einsum("bghid,bghjd->bghij", q * (c // heads) ** -0.5, k) + self.bias
            out = torch.einsum("bghij,bghjd->bghid", attn.softmax(-1), v).transpose(2, 3).reshape(b, g, t, c)
            y = y + self.merge(out)
            if self.grid:
                return y.reshape(b, gh, gw, p, p, c).permute(0, 5, 3, 1, 4, 2).reshape(b, c, h, w)
            return y.reshape(b, gh, gw, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, dim, 3, 2, 1)
            self.window = Partition(False)
            self.grid = Partition(True)
            self.head = nn.Linear(dim, 4)

        def forward(self, x):
            return self.head(self.grid(self.window(self.stem(x))).mean(dim=(2, 3)))

    return Net().eval()


def test_maxvit_like_partition_counts_as_torch(tmp_path):
    torch = _torch()
    model = _maxvit_like(torch)
    shape = (3, 16, 16)  # the stem's 8x8 map: 4 windows of 4x4, then a 4x4 grid of 2x2-strided cells
    p = str(tmp_path / "maxvit_like.onnx")
    _export(torch, model, shape, p)
    macs, params = _reference(torch, model, shape)
    got = totals(p)
    # By hand: stem 16 * 8*8 * 3*9 = 27,648; each partition: qkv 64 * 16 * 48 = 49,152, two einsums
    # 2 * 4 groups * 2 heads * 16*16*8 = 32,768, merge 64 * 16 * 16 = 16,384: 98,304, twice;
    # head 16 * 4 = 64: 224,320 (FlopCounterMode's total / 2 too)
    assert got[0] == macs == 27_648 + 2 * 98_304 + 64 == 224_320
    # no batch norm, the biases are parameters the file holds as they are: the same params
    assert got[1] == params
    g = load_graph(p)
    assert "opaque" not in {n.op for n in g.nodes} and sum(n.op == "matmul" for n in g.nodes) == 4


# -- hostile files: caps on what is folded ---------------------------------------------------------
def _int(name, values, dims=None):
    return helper.make_tensor(name, I64, [len(values)] if dims is None else dims, values)


def _save(tmp_path, fname, nodes, inits, out_dims=None):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, [1, 4])],
        [helper.make_tensor_value_info("y", F, out_dims)],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    p = tmp_path / fname
    onnx.save(m, str(p))
    return str(p)


def _refused(p, *words):
    t0 = time.perf_counter()
    res = run("report", p)
    took = time.perf_counter() - t0
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output and p in res.output, res.output
    for w in words:
        assert w in res.output, (w, res.output)
    assert took < 30  # a cap, not a walk through 10^12 values (seconds, on a loaded machine)


def test_huge_range_is_refused_with_its_node(tmp_path):
    # The Reshape's target is [Range(1, 10^12, 1)[0], 4] = [1, 4] if folded; the Range would hold
    # 10^12 - 1 values, over MAX_ELEMENTS: it is not evaluated, the target stays unknown, and the
    # error names the Reshape and the Range that was refused.
    nodes = [
        helper.make_node("Range", ["one", "big", "one"], ["r"], name="/huge/Range"),
        helper.make_node("Slice", ["r", "zero", "end"], ["first"], name="/Slice"),
        helper.make_node("Concat", ["first", "four"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["v"], name="/Reshape"),
        helper.make_node("Relu", ["v"], ["y"], name="/relu/Relu"),
    ]
    inits = [helper.make_tensor("one", I64, [], [1]), helper.make_tensor("big", I64, [], [10**12])]
    inits += [_int("zero", [0]), _int("end", [1]), _int("four", [4])]
    p = _save(tmp_path, "range.onnx", nodes, inits)
    _refused(p, "/Reshape", "/huge/Range", f"{MAX_ELEMENTS:,}")


def test_constant_of_shape_of_a_trillion_is_refused(tmp_path):
    # ConstantOfShape([10^6, 10^6]) holds 10^12 int64 values (8 TB): its element [0, 0] as the
    # Reshape's first size is never computed; the error names the node that was refused.
    value = helper.make_tensor("v", I64, [1], [1])
    nodes = [
        helper.make_node("ConstantOfShape", ["dims"], ["ones"], name="/huge/ConstantOfShape", value=value),
        helper.make_node("Flatten", ["ones"], ["flat"], name="/Flatten", axis=0),
        helper.make_node("Gather", ["flat", "zero"], ["first"], name="/Gather", axis=1),
        helper.make_node("Concat", ["first", "four"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="/Reshape"),
    ]
    inits = [_int("dims", [10**6, 10**6]), _int("zero", [0]), _int("four", [4])]
    p = _save(tmp_path, "cos.onnx", nodes, inits)
    _refused(p, "/Reshape", "/huge/ConstantOfShape", "1,000,000,000,000 values")


def test_values_past_int64_are_refused(tmp_path):
    # Shape(x)[1] = 4, times 2^62 = 2^64: past int64 (a protobuf int64 field could not hold it)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/Shape"),
        helper.make_node("Slice", ["s", "one", "two"], ["w"], name="/Slice"),
        helper.make_node("Mul", ["w", "big"], ["huge"], name="/big/Mul"),
        helper.make_node("Concat", ["one", "huge"], ["target"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="/Reshape"),
    ]
    inits = [_int("one", [1]), _int("two", [2]), _int("big", [2**62])]
    p = _save(tmp_path, "i64.onnx", nodes, inits)
    _refused(p, "/Reshape", "/big/Mul", "outside int64")


def test_cyclic_shape_graph_is_a_located_error(tmp_path):
    # s1 = Shape(x) + s2 and s2 = Identity(s1): a cycle (a node reading a tensor made after it).
    # The walk is in file order, each node once: s2 is unknown where s1 reads it, nothing loops,
    # and the Reshape it sizes is named.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/Shape"),
        helper.make_node("Add", ["s", "s2"], ["s1"], name="/cycle/Add"),
        helper.make_node("Identity", ["s1"], ["s2"], name="/cycle/Identity"),
        helper.make_node("Reshape", ["x", "s1"], ["y"], name="/Reshape"),
    ]
    p = _save(tmp_path, "cycle.onnx", nodes, [])
    t0 = time.perf_counter()
    res = run("report", p)
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output and p in res.output
    assert time.perf_counter() - t0 < 30


def test_computed_pad_and_reshape_fold_by_hand(tmp_path):
    """The Swin pad chain on a channels-last [1, 5, 6, 4] map by hand: pad H and W to multiples of
    4 with amounts from Shape -> Gather -> Mod -> Sub -> Mod -> Concat -> Reshape(-1, 2) -> Slice
    (reversed) -> Transpose -> Reshape(-1) -> Pad, then a MatMul over the padded 8x8 map."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/Shape"),
        helper.make_node("Gather", ["s", "i1"], ["h"], name="/Gather", axis=0),
        helper.make_node("Gather", ["s", "i2"], ["w"], name="/Gather_1", axis=0),
        helper.make_node("Mod", ["h", "win"], ["hm"], name="/Mod"),
        helper.make_node("Sub", ["win", "hm"], ["hs"], name="/Sub"),
        helper.make_node("Mod", ["hs", "win"], ["ph"], name="/Mod_1"),
        helper.make_node("Mod", ["w", "win"], ["wm"], name="/Mod_2"),
        helper.make_node("Sub", ["win", "wm"], ["wsub"], name="/Sub_1"),
        helper.make_node("Mod", ["wsub", "win"], ["pw"], name="/Mod_3"),
        helper.make_node("Unsqueeze", ["ph", "ax0"], ["ph1"], name="/Unsqueeze"),
        helper.make_node("Unsqueeze", ["pw", "ax0"], ["pw1"], name="/Unsqueeze_1"),
        # torch's F.pad order (last axis first): (0, 0, 0, pw, 0, ph) as pairs, then reversed
        helper.make_node("Concat", ["z", "z", "z", "pw1", "z", "ph1", "z", "z"], ["flat"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["flat", "pairs"], ["pr"], name="/Reshape"),
        helper.make_node("Slice", ["pr", "m1", "lo", "z", "m1"], ["rev"], name="/Slice"),
        helper.make_node("Transpose", ["rev"], ["tr"], name="/Transpose", perm=[1, 0]),
        helper.make_node("Reshape", ["tr", "m1"], ["pads"], name="/Reshape_1"),
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="/attn/Pad", mode="constant"),
        helper.make_node("MatMul", ["padded", "wq"], ["y"], name="/attn/qkv/MatMul"),
    ]
    inits = [_int(n, [v]) for n, v in (("z", 0), ("m1", -1), ("lo", -(2**63) + 1))]
    inits += [helper.make_tensor(n, I64, [], [v]) for n, v in (("i1", 1), ("i2", 2), ("win", 4))]
    inits += [_int("ax0", [0]), _int("pairs", [-1, 2]), helper.make_tensor("wq", F, [4, 12], [0.0] * 48)]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, [1, 5, 6, 4])],
        [helper.make_tensor_value_info("y", F, None)],
        initializer=inits,
    )
    p = tmp_path / "pad.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    # pads: H 5 -> 8 (3), W 6 -> 8 (2); the linear 4 -> 12 at 8*8 = 64 positions: 64*4*12 = 3,072
    # MACs, 48 params (bias-free); the pad adds zeros: no params, no MACs
    assert totals(str(p)) == (3_072, 48)
    g2 = load_graph(str(p))
    assert g2.nodes[-1].shape == (8, 8, 12)


def _map_graph(tmp_path, fname, nodes, inits, in_dims=(1, 2, 6, 4)):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, list(in_dims))],
        [helper.make_tensor_value_info("y", F, None)],
        initializer=inits,
    )
    p = tmp_path / fname
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    return str(p)


def test_roll_as_two_slices_is_nothing_and_said(tmp_path):
    # torch.roll(x, 2, dims=2) on [1, 2, 6, 4] as torch.onnx writes it: Concat(x[:, :, 4:],
    # x[:, :, :4]), then a linear 4 -> 3 at the 2*6 positions: 12*4*3 = 144 MACs, 12 params; the
    # roll costs nothing
    nodes = [
        helper.make_node("Slice", ["x", "s4", "big", "ax1"], ["tail"], name="/Slice"),
        helper.make_node("Slice", ["x", "s0", "s4", "ax1"], ["head"], name="/Slice_1"),
        helper.make_node("Concat", ["tail", "head"], ["rolled"], name="/Concat", axis=2),
        helper.make_node("MatMul", ["rolled", "w"], ["y"], name="/fc/MatMul"),
    ]
    inits = [_int("s4", [4]), _int("s0", [0]), _int("big", [2**63 - 1]), _int("ax1", [2])]
    inits.append(helper.make_tensor("w", F, [4, 3], [0.0] * 12))
    p = _map_graph(tmp_path, "roll.onnx", nodes, inits)
    assert totals(p) == (144, 12)
    from flopcount.importers.onnx_import import import_onnx

    assert any(n.startswith("1 cyclic shift") for n in import_onnx(p).notes)


def test_einsum_that_is_not_a_product_is_named(tmp_path):
    # "bcij->bci" sums one operand over j: no flopcount op, so it is named and the command exits 1
    nodes = [helper.make_node("Einsum", ["x"], ["y"], name="/sum/Einsum", equation="bcij->bci")]
    p = _map_graph(tmp_path, "einsum.onnx", nodes, [])
    res = run("report", p)
    assert res.exit_code == 1, res.output
    assert "/sum/Einsum" in res.output and "not costed" in res.output


def test_ill_typed_shape_arithmetic_is_a_located_error(tmp_path):
    # Reshape's shape must be int64; here it is Shape(x) cast to float, and a Gather of index 7 of
    # a rank-2 shape reads past it: neither is folded (integers only, indices checked), and the
    # Reshape whose size stays unknown, or onnx's inference, gives exit 3 naming the file
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/Shape"),
        helper.make_node("Gather", ["s", "seven"], ["g"], name="/bad/Gather", axis=0),
        helper.make_node("Cast", ["s"], ["sf"], name="/bad/Cast", to=F),
        helper.make_node("Reshape", ["x", "sf"], ["y0"], name="/Reshape"),
        helper.make_node("Reshape", ["y0", "g1"], ["y"], name="/Reshape_1"),
    ]
    nodes.insert(2, helper.make_node("Unsqueeze", ["g", "ax0"], ["g1"], name="/Unsqueeze"))
    inits = [helper.make_tensor("seven", I64, [], [7]), _int("ax0", [0])]
    p = _save(tmp_path, "typed.onnx", nodes, inits)
    res = run("report", p)
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output and p in res.output, res.output
