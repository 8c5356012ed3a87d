"""`flopcount report FILE.onnx` / `flopcount import FILE.onnx`: ONNX graphs built here with
onnx.helper (no torch needed), each expected count derived by hand beside it; and, where torch
and its legacy exporter work, the test modules of tests/import_models.py exported to ONNX and
counted equal to torch's own FlopCounterMode / 2 and to flopcount's torch import."""

from __future__ import annotations

import json
import os

import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed (pip install onnx): no .onnx import tests")
from click.testing import CliRunner  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from flopcount.catalog import load_graph  # noqa: E402
from flopcount.cli import main  # noqa: E402
from flopcount.importers import ALLOW_UNKNOWN  # noqa: E402
from flopcount.report import report_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


@pytest.fixture(autouse=True)
def _reset_allow_unknown():
    ALLOW_UNKNOWN[0] = False
    yield
    ALLOW_UNKNOWN[0] = False


def w(name, *dims):
    """An initializer of zeros: only its dims matter to flopcount."""
    n = 1
    for d in dims:
        n *= d
    return helper.make_tensor(name, F, list(dims), [0.0] * n)


def scalar(name, v):
    return helper.make_tensor(name, F, [], [v])


def save(tmp_path, fname, nodes, inits, in_dims, out_name="y", out_dims=None, value_info=(), opset=17, **kw):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, in_dims)],
        [helper.make_tensor_value_info(out_name, F, out_dims)],
        initializer=inits,
        value_info=list(value_info),
    )
    kw.setdefault("opset_imports", [helper.make_opsetid("", opset)])
    m = helper.make_model(g, **kw)
    p = tmp_path / fname
    onnx.save(m, str(p))
    return str(p)


def totals(path, input_shape=None):
    r = report_of(load_graph(path, input_shape))
    return r.totals["macs"], r.totals["params"]


def ops_of(path, input_shape=None):
    return [n.op for n in load_graph(path, input_shape).nodes]


def run(*args):
    return CliRunner().invoke(main, list(args))


# -- graphs built by hand ------------------------------------------------------------------------
def conv_bn_relu(tmp_path, dims=(1, 3, 32, 32), fname="cbr.onnx"):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="/conv1/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["b1"], name="/bn1/BatchNormalization"),
        helper.make_node("Relu", ["b1"], ["r1"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="/conv2/Conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["c2"], ["gp"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["gp"], ["fl"], name="/Flatten", axis=1),
        helper.make_node("Gemm", ["fl", "wf", "bf"], ["y"], name="/fc/Gemm", transB=1),
    ]
    inits = [w("w1", 16, 3, 3, 3), w("g", 16), w("b", 16), w("m", 16), w("v", 16)]
    inits += [w("w2", 32, 16, 3, 3), w("b2", 32), w("wf", 10, 32), w("bf", 10)]
    return save(tmp_path, fname, nodes, inits, list(dims), out_dims=[dims[0], 10])


# conv1 3->16 3x3 p1 on 32x32: 16*32*32*3*9 = 442,368 MACs; maxpool -> 16x16;
# conv2 16->32 3x3 s2 p1 -> 8x8: 32*8*8*16*9 = 294,912; fc 32->10: 320.  Sum 737,600.
# params: conv1 16*27 = 432 (no bias), bn 2*16 = 32, conv2 32*144 + 32 = 4,640, fc 320 + 10 = 330: 5,434.
CBR = (442_368 + 294_912 + 320, 432 + 32 + 4_640 + 330)


def test_conv_bn_relu_stack(tmp_path):
    p = conv_bn_relu(tmp_path)
    assert totals(p) == CBR == (737_600, 5_434)
    g = load_graph(p)
    names = [n.name for n in g.nodes]
    # conv + bn + relu fused into one row named after the module (torch.onnx's scope /conv1/Conv)
    assert names == ["conv1", "pool", "conv2", "gap", "flatten", "fc"]
    assert [n.op for n in g.nodes] == ["conv", "maxpool", "conv", "gap", "flatten", "fc"]


def test_residual_block(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="/block/conv1/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/block/relu1/Relu"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="/block/conv2/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "x"], ["s"], name="/block/Add"),
        helper.make_node("Relu", ["s"], ["y"], name="/block/relu2/Relu"),
    ]
    inits = [w("w1", 8, 8, 3, 3), w("b1", 8), w("w2", 8, 8, 3, 3), w("b2", 8)]
    p = save(tmp_path, "res.onnx", nodes, inits, [1, 8, 16, 16], out_dims=[1, 8, 16, 16])
    # each conv 8->8 3x3 p1 on 16x16: 8*256*8*9 = 147,456 MACs; params 8*72 + 8 = 584 each
    assert totals(p) == (2 * 147_456, 2 * 584)
    g = load_graph(p)
    assert "add" in [n.op for n in g.nodes]
    add = next(n for n in g.nodes if n.op == "add")
    assert add.cost.ops == 8 * 16 * 16  # one add per output element of the two branches


@pytest.mark.parametrize("word", ["input", "in"])
def test_a_node_named_as_an_input_word_does_not_take_its_place(tmp_path, word):
    # conv `word` 3->5 3x3 p1 on 8x8 then relu, conv2 5->3 3x3 p1; proj 3->3 1x1 reads the graph
    # input x; add. MACs: 5*64*27 = 8,640 + 3*64*45 = 8,640 + 3*64*3 = 576: 17,856. Params (no
    # bias): 135 + 135 + 9 = 279. Named `input`, the node took the model input's place before
    # the fix: proj read the 5-channel conv (15 params, 960 MACs: 285 and 18,240).
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name=word, pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
        helper.make_node("Conv", ["b", "w2"], ["c"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Conv", ["x", "w3"], ["d"], name="proj", kernel_shape=[1, 1]),
        helper.make_node("Add", ["c", "d"], ["y"], name="add"),
    ]
    inits = [w("w1", 5, 3, 3, 3), w("w2", 3, 5, 3, 3), w("w3", 3, 3, 1, 1)]
    p = save(tmp_path, "named.onnx", nodes, inits, [1, 3, 8, 8], out_dims=[1, 3, 8, 8])
    assert totals(p) == (8_640 + 8_640 + 576, 135 + 135 + 9)
    g = load_graph(p)
    assert [n.name for n in g.nodes] == [f"main.{word}_", "main.conv2", "main2.proj", "add"]
    proj = g.nodes[2]
    assert proj.inputs == (-1,)


def test_prelu_instance_norm_and_leaky_relu(tmp_path):
    # conv 3->4 3x3 p1 on 8x8 (bias): 4*64*27 = 6,912 MACs, 108 + 4 params; PRelu with a slope per
    # channel ([4, 1, 1]): 4 params; InstanceNormalization (scale, B): 8; LeakyRelu(0.2); PRelu with
    # one slope: 1. 6,912 MACs, 125 params
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("PRelu", ["c", "slope"], ["p"], name="/act/PRelu"),
        helper.make_node("InstanceNormalization", ["p", "s", "bb"], ["n"], name="/norm/InstanceNormalization"),
        helper.make_node("LeakyRelu", ["n"], ["l"], name="/lrelu/LeakyRelu", alpha=0.2),
        helper.make_node("PRelu", ["l", "one"], ["y"], name="/act2/PRelu"),
    ]
    inits = [w("w", 4, 3, 3, 3), w("b", 4), w("slope", 4, 1, 1), w("s", 4), w("bb", 4), w("one", 1)]
    p = save(tmp_path, "pin.onnx", nodes, inits, [1, 3, 8, 8], out_dims=[1, 4, 8, 8])
    assert totals(p) == (6_912, 112 + 4 + 8 + 1)
    g = load_graph(p)
    assert [n.op for n in g.nodes] == ["conv", "prelu", "groupnorm", "leaky_relu", "prelu"]
    assert g.nodes[3].attrs["slope"] == 0.2 and g.nodes[2].attrs["groups"] == 4


def test_elu_softplus_and_a_clip_to_a_range(tmp_path):
    # conv 3->4 3x3 p1 on 8x8 (no bias): 4*64*27 = 6,912 MACs, 108 params; Elu(0.5), Softplus,
    # Clip(-2, 2) (bounds as inputs, opset 17): one op per element each, 3 * 256 = 768 ops
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Elu", ["c"], ["e"], name="/elu/Elu", alpha=0.5),
        helper.make_node("Softplus", ["e"], ["s"], name="/sp/Softplus"),
        helper.make_node("Clip", ["s", "lo", "hi"], ["y"], name="/ht/Clip"),
    ]
    inits = [w("w", 4, 3, 3, 3), scalar("lo", -2.0), scalar("hi", 2.0)]
    p = save(tmp_path, "acts.onnx", nodes, inits, [1, 3, 8, 8], out_dims=[1, 4, 8, 8])
    assert totals(p) == (6_912, 108)
    g = load_graph(p)
    assert [(n.op, n.cost.ops) for n in g.nodes] == [("conv", 0), ("elu", 256), ("softplus", 256), ("hardtanh", 256)]
    assert g.nodes[1].attrs["alpha"] == 0.5 and (g.nodes[3].attrs["min"], g.nodes[3].attrs["max"]) == (-2.0, 2.0)


@pytest.mark.parametrize("mode", ["CRD", "DCR", None])
def test_depth_to_space_and_space_to_depth(tmp_path, mode):
    # conv 3->16 1x1 on 4x6 (no bias): 16*24*3 = 1,152 MACs, 48 params; DepthToSpace r=2 (no
    # arithmetic): 4x8x12; SpaceToDepth r=2 (DCR order, its only one): 16x4x6; conv 16->2 1x1:
    # 2*24*16 = 768 MACs, 32 params. 1,920 MACs, 80 params. DCR is ONNX's default mode.
    d2s = {"blocksize": 2} if mode is None else {"blocksize": 2, "mode": mode}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], name="/conv1/Conv", kernel_shape=[1, 1]),
        helper.make_node("DepthToSpace", ["c"], ["u"], name="/up/DepthToSpace", **d2s),
        helper.make_node("SpaceToDepth", ["u"], ["d"], name="/down/SpaceToDepth", blocksize=2),
        helper.make_node("Conv", ["d", "w2"], ["y"], name="/conv2/Conv", kernel_shape=[1, 1]),
    ]
    p = save(tmp_path, "s2d.onnx", nodes, [w("w1", 16, 3, 1, 1), w("w2", 2, 16, 1, 1)], [1, 3, 4, 6])
    assert totals(p) == (1_920, 80)
    g = load_graph(p)
    assert [(n.op, n.attrs.get("order"), n.shape) for n in g.nodes] == [
        ("conv", None, (16, 4, 6)),
        ("pixel_shuffle", "crd" if mode == "CRD" else "dcr", (4, 8, 12)),
        ("pixel_unshuffle", "dcr", (16, 4, 6)),
        ("conv", None, (2, 4, 6)),
    ]


def test_local_response_norm(tmp_path):
    # conv 3->4 3x3 p1 on 8x8 (no bias): 4*64*27 = 6,912 MACs, 108 params; LRN size 5 (Caffe's
    # AlexNet in the ONNX model zoo): (5 + 3) ops per element = 8 * 256 = 2,048, no params
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("LRN", ["c"], ["y"], name="/norm1/LRN", size=5, alpha=2e-4, beta=0.75, bias=2.0),
    ]
    p = save(tmp_path, "lrn.onnx", nodes, [w("w", 4, 3, 3, 3)], [1, 3, 8, 8], out_dims=[1, 4, 8, 8])
    assert totals(p) == (6_912, 108)
    g = load_graph(p)
    assert (g.nodes[1].op, g.nodes[1].attrs, g.nodes[1].cost.ops) == (
        "lrn",
        {"size": 5, "alpha": 2e-4, "beta": 0.75, "bias": 2.0},
        2_048,
    )
    # an even size: ONNX's window is [c - size/2 + 1, c + size/2], torch's one channel earlier
    nodes[1] = helper.make_node("LRN", ["c"], ["y"], name="/norm1/LRN", size=4)
    p = save(tmp_path, "lrn4.onnx", nodes, [w("w", 4, 3, 3, 3)], [1, 3, 8, 8], out_dims=[1, 4, 8, 8])
    res = run("report", p)
    assert res.exit_code == 1
    assert "norm1: LRN at " in res.output and "LRN of even size 4" in res.output


def test_a_split_of_the_channels_into_unequal_parts(tmp_path):
    # conv 3->8 1x1 on 8x8: 8*64*3 = 1,536 MACs; Split into 3 and 5 channels (the sizes an input,
    # opset 13); conv 3->2 1x1: 2*64*3 = 384; conv 5->2 1x1: 2*64*5 = 640; add. 2,560 MACs,
    # params (no bias) 24 + 6 + 10 = 40. Before: "Split along axis 1 into unequal parts", not costed
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[1, 1]),
        helper.make_node("Split", ["c", "sizes"], ["u", "v"], name="/Split", axis=1),
        helper.make_node("Conv", ["u", "wa"], ["a"], name="/a/Conv", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["v", "wb"], ["b"], name="/b/Conv", kernel_shape=[1, 1]),
        helper.make_node("Add", ["a", "b"], ["y"], name="/Add"),
    ]
    sizes = helper.make_tensor("sizes", TensorProto.INT64, [2], [3, 5])
    inits = [w("w", 8, 3, 1, 1), sizes, w("wa", 2, 3, 1, 1), w("wb", 2, 5, 1, 1)]
    p = save(tmp_path, "split.onnx", nodes, inits, [1, 3, 8, 8], out_dims=[1, 2, 8, 8])
    assert totals(p) == (1_536 + 384 + 640, 24 + 6 + 10)
    slices = [n for n in load_graph(p).nodes if n.op == "slice"]
    assert [(n.attrs["start"], n.attrs["stop"], n.shape) for n in slices] == [(0, 3, (3, 8, 8)), (3, 8, (5, 8, 8))]


def attention(tmp_path, fname="attn.onnx"):
    """LayerNorm, q/k/v projections (MatMul + Add bias, as torch.onnx writes nn.Linear on
    tokens), Q K^T (a Transpose then an activation-activation MatMul), scale, Softmax, A V, an
    output projection, then SiLU (Mul(x, Sigmoid(x))) and an Erf-GELU."""
    D = 32
    nodes = [  # a spec's input is an image: [32, 4, 4] -> 16 tokens of 32, as ViT's flatten(2).transpose(1, 2)
        helper.make_node("Reshape", ["x", "to_seq"], ["x0"], name="/Reshape"),
        helper.make_node("Transpose", ["x0"], ["tok"], name="/Transpose_0", perm=[0, 2, 1]),
        helper.make_node("LayerNormalization", ["tok", "lg", "lb"], ["ln"], name="/ln/LayerNormalization", axis=-1),
    ]
    for t in "qkv":
        nodes += [
            helper.make_node("MatMul", ["ln", f"w{t}"], [f"{t}0"], name=f"/{t}/MatMul"),
            helper.make_node("Add", [f"b{t}", f"{t}0"], [t], name=f"/{t}/Add"),
        ]
    nodes += [
        helper.make_node("Transpose", ["k"], ["kt"], name="/Transpose", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s0"], name="/MatMul"),
        helper.make_node("Mul", ["s0", "scale"], ["s"], name="/Mul"),
        helper.make_node("Softmax", ["s"], ["a"], name="/Softmax", axis=-1),
        helper.make_node("MatMul", ["a", "v"], ["o"], name="/MatMul_1"),
        helper.make_node("MatMul", ["o", "wo"], ["p0"], name="/proj/MatMul"),
        helper.make_node("Add", ["p0", "bo"], ["p"], name="/proj/Add"),
        helper.make_node("Sigmoid", ["p"], ["sg"], name="/act/Sigmoid"),
        helper.make_node("Mul", ["p", "sg"], ["si"], name="/act/Mul"),
        helper.make_node("Div", ["si", "sqrt2"], ["d"], name="/gelu/Div"),
        helper.make_node("Erf", ["d"], ["e"], name="/gelu/Erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name="/gelu/Add"),
        helper.make_node("Mul", ["si", "e1"], ["gm"], name="/gelu/Mul"),
        helper.make_node("Mul", ["gm", "half"], ["y"], name="/gelu/Mul_1"),
    ]
    inits = [w("lg", D), w("lb", D), helper.make_tensor("to_seq", TensorProto.INT64, [3], [1, D, 16])]
    for t in "qkvo":
        inits += [w(f"w{t}", D, D), w(f"b{t}", D)]
    inits += [scalar("scale", 0.125), scalar("sqrt2", 1.4142135), scalar("one", 1.0), scalar("half", 0.5)]
    return save(tmp_path, fname, nodes, inits, [1, D, 4, 4], out_dims=[1, 16, D])


def test_attention_block(tmp_path):
    p = attention(tmp_path)
    # tokens [16, 32]: q, k, v projections 16*32*32 = 16,384 MACs each; Q K^T 16*32*16 = 8,192;
    # A V 16*16*32 = 8,192; output projection 16,384.  Sum 3*16,384 + 2*8,192 + 16,384 = 81,920.
    # params: 4 linears 32*32 + 32 = 1,056 each, layer norm 2*32 = 64: 4,288.
    assert totals(p) == (81_920, 4 * 1_056 + 64)
    g = load_graph(p)
    ops = [n.op for n in g.nodes]
    assert ops.count("linear") == 4 and ops.count("matmul") == 2
    assert "softmax" in ops and "layernorm" in ops and "gelu" in ops
    proj = next(n for n in g.nodes if n.name == "proj")
    assert proj.attrs["act"] == "silu"  # Mul(x, Sigmoid(x)) -> silu, fused into the linear before it
    assert "opaque" not in ops and "sigmoid" not in ops  # the patterns matched, nothing left over
    soft = next(n for n in g.nodes if n.op == "softmax")
    assert soft.cost.ops == 3 * 16 * 16  # softmax's 3 per element of the 16x16 scores


def test_folded_bn_is_said(tmp_path):
    nodes = [
        helper.make_node("Conv", ["x", "onnx::Conv_5", "onnx::Conv_6"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="/relu/Relu"),
    ]
    p = save(
        tmp_path,
        "folded.onnx",
        nodes,
        [w("onnx::Conv_5", 4, 3, 3, 3), w("onnx::Conv_6", 4)],
        [1, 3, 8, 8],
        out_dims=[1, 4, 8, 8],
    )
    res = run("report", p)
    assert res.exit_code == 0, res.output
    assert "batch-norm appears folded into 1 conv" in res.output and "no BatchNormalization" in res.output
    # what the file holds: conv 3->4 3x3 p1 on 8x8: 4*64*27 = 6,912 MACs; params 4*27 + 4 bias = 112
    assert totals(p) == (6_912, 112)
    out = tmp_path / "folded.yaml"
    assert run("import", p, "-o", str(out)).exit_code == 0
    assert "# note: batch-norm appears folded" in out.read_text()


def test_folded_bn_is_said_where_an_unfoldable_batch_norm_is_left(tmp_path):
    """MaxViT's export: a batch norm before a conv (pre-norm) cannot be folded and stays in the
    file; a conv whose weights the exporter made (onnx::Conv_*) with a bias is one it folded into."""
    nodes = [
        helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"], name="/pre/BatchNormalization"),
        helper.make_node("Conv", ["n", "onnx::Conv_5", "onnx::Conv_6"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="/relu/Relu"),
    ]
    inits = [w("g", 3), w("b", 3), w("m", 3), w("v", 3), w("onnx::Conv_5", 4, 3, 3, 3), w("onnx::Conv_6", 4)]
    p = save(tmp_path, "prenorm.onnx", nodes, inits, [1, 3, 8, 8], out_dims=[1, 4, 8, 8])
    res = run("report", p)
    assert res.exit_code == 0, res.output
    assert "batch-norm appears folded into 1 conv" in res.output
    assert "1 BatchNormalization node(s) the exporter could not fold" in res.output
    # what the file holds: bn over 3 channels 2*3 = 6 params; conv 3->4 3x3 p1 on 8x8:
    # 4*64*27 = 6,912 MACs, 4*27 + 4 bias = 112 params
    assert totals(p) == (6_912, 6 + 112)


def custom(tmp_path, shape_known=True):
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("FancyNorm", ["c"], ["f"], name="/fancy/FancyNorm", domain="com.example"),
        helper.make_node("Flatten", ["f"], ["fl"], name="/Flatten"),
        helper.make_node("Gemm", ["fl", "wf", "bf"], ["y"], name="/fc/Gemm", transB=1),
    ]
    vi = [helper.make_tensor_value_info("f", F, [1, 8, 8, 8])] if shape_known else []
    inits = [w("w1", 8, 3, 3, 3), w("b1", 8), w("wf", 4, 512), w("bf", 4)]
    return save(
        tmp_path,
        "custom.onnx",
        nodes,
        inits,
        [1, 3, 8, 8],
        out_dims=[1, 4],
        value_info=vi,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )


def test_custom_op_is_named_and_exits_1(tmp_path):
    p = custom(tmp_path)
    res = run("report", p)
    assert res.exit_code == 1, res.output
    assert "1 node not costed: fancy: com.example::FancyNorm" in res.output
    assert "node /fancy/FancyNorm" in res.output and "custom op domain `com.example`" in res.output
    assert "--allow-unknown" in res.output and "Traceback" not in res.output


def test_custom_op_allowed_counts_the_rest(tmp_path):
    p = custom(tmp_path)
    res = run("report", p, "--allow-unknown", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    # conv 3->8 3x3 p1 on 8x8: 8*64*27 = 13,824 MACs, params 8*27 + 8 = 224;
    # fc 512 -> 4: 2,048 MACs, params 2,048 + 4.  The opaque node: 0 by construction.
    assert (data["totals"]["macs"], data["totals"]["params"]) == (13_824 + 2_048, 224 + 2_052)
    assert [row["op"] for row in data["layers"]].count("opaque") == 1


def test_import_keeps_the_custom_op_opaque(tmp_path):
    p = custom(tmp_path)
    out = tmp_path / "custom.yaml"
    res = run("import", p, "-o", str(out))
    assert res.exit_code == 1
    text = out.read_text()
    assert "op: opaque" in text and "shape: 8x8x8" in text and "1 node not costed" in text


def test_custom_op_of_unknown_shape_is_a_clear_error(tmp_path):
    p = custom(tmp_path, shape_known=False)
    res = run("report", p)
    assert res.exit_code == 3, res.output
    assert "node /fancy/FancyNorm (com.example::FancyNorm)" in res.output and "cannot be inferred" in res.output
    assert "Traceback" not in res.output


def test_dynamic_dims_need_input(tmp_path):
    p = conv_bn_relu(tmp_path, dims=("N", 3, "H", "W"), fname="dyn.onnx")
    res = run("report", p)
    assert res.exit_code == 2, res.output
    assert "the input `x` has dynamic dimensions" in res.output and "dim 2 is `H`" in res.output
    assert "--input" in res.output and "Traceback" not in res.output
    # with --input: the same graph as the static one (CBR, derived above); the batch is ours
    assert totals(p, (3, 32, 32)) == CBR
    assert totals(p, (None, 32, 32)) == CBR  # --input HxW keeps the file's channels
    r = report_of(load_graph(p, (3, 32, 32), batch=4))
    assert r.totals["macs"] == 4 * CBR[0]


def test_input_overrides_a_static_size(tmp_path):
    p = conv_bn_relu(tmp_path)
    # at 64x64 every conv MAC count is 4x (the output maps have 4x the pixels); fc unchanged
    assert totals(p, (3, 64, 64)) == (4 * (442_368 + 294_912) + 320, CBR[1])


@pytest.mark.parametrize(
    "content,code,words",
    [
        (b"hello, I am not a model\n", 3, "is not an ONNX file"),
        (b"", 3, "holds no graph nodes"),
    ],
)
def test_not_onnx(tmp_path, content, code, words):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    res = run("report", str(p))
    assert res.exit_code == code, res.output
    assert words in res.output and "Traceback" not in res.output


def test_missing_file_and_fifo(tmp_path):
    res = run("report", str(tmp_path / "nope.onnx"))
    assert res.exit_code == 2 and "Traceback" not in res.output
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    res = run("report", str(fifo))  # refused without blocking on the pipe
    assert res.exit_code == 3 and "FIFO" in res.output, res.output


def test_size_limit(tmp_path, monkeypatch):
    p = conv_bn_relu(tmp_path)
    monkeypatch.setenv("FLOPCOUNT_MAX_ONNX_BYTES", "100")
    res = run("report", p)
    assert res.exit_code == 3 and "over the limit of 100" in res.output and "FLOPCOUNT_MAX_ONNX_BYTES" in res.output


def test_external_data_is_never_read(tmp_path):
    """Weights in a side file, pointing outside the file's folder: flopcount reads dims only."""
    p = conv_bn_relu(tmp_path)
    m = onnx.load(p)
    for t in m.graph.initializer:
        if t.name == "w2":
            t.ClearField("raw_data")
            del t.float_data[:]
            t.data_location = TensorProto.EXTERNAL
            t.external_data.add(key="location", value="../../../../etc/shadow")
    onnx.save(m, p)
    assert totals(p) == CBR


def test_import_round_trip_gives_the_same_rows(tmp_path):
    for p in (conv_bn_relu(tmp_path), attention(tmp_path)):
        out = tmp_path / "m.yaml"
        res = run("import", p, "-o", str(out))
        assert res.exit_code == 0, res.output
        a = run("report", p, "--format", "json")
        b = run("report", str(out), "--format", "json")
        assert a.exit_code == b.exit_code == 0, a.output + b.output
        ra, rb = json.loads(a.stdout), json.loads(b.stdout)
        assert ra["totals"] == rb["totals"]
        assert [(x["name"], x["macs"], x["params"]) for x in ra["layers"]] == [
            (x["name"], x["macs"], x["params"]) for x in rb["layers"]
        ]


def test_report_never_imports_torch(tmp_path):
    from conftest import run_without

    p = conv_bn_relu(tmp_path)
    proc, tried = run_without(tmp_path, ["torch", "fvcore"], f"flopcount report {p}")
    assert proc.returncode == 0, proc.stderr
    assert tried == []


def test_onnx_missing_is_exit_4(tmp_path):
    from conftest import run_without

    p = conv_bn_relu(tmp_path)
    proc, _ = run_without(tmp_path, ["onnx"], f"flopcount report {p}")
    assert proc.returncode == 4, proc.stderr
    assert "pip install onnx" in proc.stderr and "Traceback" not in proc.stderr


# -- torch modules exported to ONNX: the same counts as torch's and flopcount's torch import --------
EXPORTED = [
    ("small_resnet", (3, 32, 32)),  # bottlenecks with batch-norm: folded by the exporter
    ("vit", (3, 32, 32)),  # class token (Expand), position embedding, nn.MultiheadAttention decomposed
    ("sdpa_block", (3, 16, 16)),  # q/k/v linears + scaled_dot_product_attention
    ("unet_step", (1, 60, 60)),  # unpadded convs, up-convolution, centre crop, concat skip
]


@pytest.mark.parametrize("name,shape", EXPORTED)
def test_exported_torch_modules_count_as_torch(tmp_path, monkeypatch, name, shape):
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(HERE)
    import import_models
    from test_import_torch import torch_counts

    model = getattr(import_models, name)().eval()
    p = str(tmp_path / f"{name}.onnx")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.randn(1, *shape), p, dynamo=False, opset_version=17)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"torch.onnx.export(dynamo=False) fails here: {type(e).__name__}: {str(e)[:200]}")
    macs, params = torch_counts(name, shape)  # FlopCounterMode / 2, sum(p.numel())
    via_torch = report_of(load_graph(f"import_models:{name}", shape)).totals
    got = totals(p)  # exits 1 (an exception here) if any node was not costed
    assert got[0] == macs == via_torch["macs"]
    # folded batch-norm: each BatchNorm2d's gamma and beta (2C) are gone, and the conv before it
    # gained a bias of C (all convs before a bn in import_models are bias-free): params - C per bn
    bn = sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert got[1] == params - bn == via_torch["params"] - bn


def test_channels_last_layernorm_and_cat_of_one(tmp_path):
    """ConvNeXt's block as torch.onnx writes it: permute to channels last, LayerNorm over C, a
    Linear (MatMul + Add), permute back; and DenseNet's torch.cat([x], 1) of one tensor."""
    nodes = [
        helper.make_node("Concat", ["x"], ["x1"], name="/Concat", axis=1),
        helper.make_node("Transpose", ["x1"], ["cl"], name="/Transpose", perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["cl", "lg", "lb"], ["ln"], name="/norm/LayerNormalization", axis=-1),
        helper.make_node("MatMul", ["ln", "w1"], ["m"], name="/pwconv/MatMul"),
        helper.make_node("Add", ["b1", "m"], ["mb"], name="/pwconv/Add"),
        helper.make_node("Transpose", ["mb"], ["y"], name="/Transpose_1", perm=[0, 3, 1, 2]),
    ]
    inits = [w("lg", 8), w("lb", 8), w("w1", 8, 16), w("b1", 16)]
    p = save(tmp_path, "cl.onnx", nodes, inits, [1, 8, 4, 4], out_dims=[1, 16, 4, 4])
    # linear 8 -> 16 at each of the 4*4 = 16 positions: 16*8*16 = 2,048 MACs;
    # params: layer norm 2*8 = 16, linear 8*16 + 16 = 144: 160
    assert totals(p) == (2_048, 160)
    g = load_graph(p)
    ops = [n.op for n in g.nodes]
    assert "concat" not in ops and "opaque" not in ops and ops.count("layernorm") == 1
    ln = next(n for n in g.nodes if n.op == "layernorm")
    assert ln.cost.ops == 7 * 16 * 8  # 5 per element + 2 affine, over the 16 x 8 values


# -- hostile files: each a located error or a named node, never an internal error (exit 5) ------
def test_a_conv_whose_output_name_is_reused_is_named_not_a_crash(tmp_path):
    # the Conv's output name is written again by the Flatten after it, so the shape the file gives
    # that name is the Flatten's [1, 512]: a Conv with no [C, H, W] output. Before: IndexError in
    # the padding arithmetic (exit 5); found by mutating an exported SqueezeNet
    p = save(
        tmp_path,
        "reused.onnx",
        [
            helper.make_node("Conv", ["x", "w1"], ["y"], name="/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
            helper.make_node("Flatten", ["y"], ["y"], name="/flatten/Flatten"),
        ],
        [w("w1", 8, 3, 3, 3)],
        [1, 3, 8, 8],
        out_dims=[1, 512],
    )
    res = run("report", p)
    assert res.exit_code in (1, 3), res.output
    assert "internal error" not in res.output


def test_a_constant_of_symbolic_dims_is_not_read_as_ints():
    # a constant whose dims shape inference left symbolic (`unk__6`: found by mutating an exported
    # ViT, whose attention scale then had such dims) broadcast against an activation: not held as a
    # tensor of known size (None: the Mul is then named not costed). Before, int("unk__6") raised
    # ValueError, an internal error (exit 5)
    from types import SimpleNamespace

    from flopcount.importers.onnx_import import Mapper

    x = SimpleNamespace(shape=(4, 8), bm=True)
    assert Mapper._held(None, x, SimpleNamespace(dims=("unk__6", 8)), (4, 8)) is None
    assert Mapper._held(None, x, SimpleNamespace(dims=(1, 8)), (4, 8)) == (1, 8)  # known dims: held


def _mutated(model, rng):
    """``model`` (an onnx ModelProto) with one to three hostile edits, as a stranger's file might
    hold them: attribute values zeroed, negative or huge, initializer dims changed or dropped, op
    types swapped, inputs and outputs renamed (to nothing, to another node's, to the input),
    nodes duplicated or removed, the input's dims made symbolic or absurd, the opset changed."""
    import copy

    m = copy.deepcopy(model)
    g = m.graph
    for _ in range(rng.randint(1, 3)):
        nodes = list(g.node)
        n = rng.choice(nodes)
        kind = rng.choice(["attr", "dims", "drop", "op", "input", "output", "dup", "del", "shape", "opset"])
        if kind == "attr" and n.attribute:
            a = rng.choice(list(n.attribute))
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice([0, -1, 10**9, 2**40])
            elif a.type == onnx.AttributeProto.INT:
                a.i = rng.choice([0, -1, 10**12])
        elif kind == "dims" and g.initializer:
            t = rng.choice(list(g.initializer))
            if t.dims:
                t.dims[rng.randrange(len(t.dims))] = rng.choice([0, -1, 10**9, 7])
        elif kind == "drop" and g.initializer:
            del g.initializer[rng.randrange(len(g.initializer))]
        elif kind == "op":
            n.op_type = rng.choice(["Conv", "Gemm", "MatMul", "Relu", "Foo", "", "Reshape", "Concat", "Split"])
        elif kind == "input" and n.input:
            n.input[rng.randrange(len(n.input))] = rng.choice(["", "nonexistent", "x"])
        elif kind == "output" and n.output:
            n.output[0] = rng.choice(["", nodes[0].output[0], "x", nodes[-1].output[0]])
        elif kind == "dup":
            g.node.append(copy.deepcopy(n))
        elif kind == "del" and len(nodes) > 1:
            del g.node[rng.randrange(len(nodes))]
        elif kind == "shape":
            d = g.input[0].type.tensor_type.shape.dim[rng.randrange(4)]
            choice = rng.choice(["N", 0, 10**8, 1])
            if isinstance(choice, str):
                d.dim_param = choice
            else:
                d.dim_value = choice
        elif kind == "opset":
            m.opset_import[0].version = rng.choice([1, 7, 30])
    return m


def test_hostile_edits_of_a_file_never_stop_report_with_an_internal_error(tmp_path):
    # 60 seeded mutations of the conv-bn-relu graph above: each run ends with a count, a named
    # node not costed, a usage or a located file error (exit 0-3), never exit 5. (Built from the
    # fuzzer that found the reused-output and symbolic-dims crashes above on exported models.)
    import random

    rng = random.Random(17)
    base = onnx.load(conv_bn_relu(tmp_path))
    codes = set()
    for i in range(60):
        p = tmp_path / f"m{i}.onnx"
        onnx.save(_mutated(base, rng), str(p))
        res = run("report", str(p), "--format", "json")
        assert res.exit_code in (0, 1, 2, 3) and "internal error" not in res.output, (i, res.output)
        codes.add(res.exit_code)
    assert len(codes) >= 2  # (the edits reach more than one outcome: the test can see a change)


def test_a_split_of_the_leading_axis_a_permute_made(tmp_path):
    # a map [1, 8, 2, 3] as tokens [1, 6, 8]; qkv [1, 6, 24] -> [1, 6, 3, 8] -> Transpose (2, 0, 1, 3) -> [3, 1, 6, 8], Split along axis 0
    # into q, k, v (as torch exports attention over windows or patches folded into the batch axis:
    # MobileViT): before, "Split along axis 0" was a node not costed. MACs: qkv 6*8*24 = 1,152;
    # Q K^T 6*6*8 = 288; A V 6*6*8 = 288: 1,728; params: the 8x24 weight, 192
    nodes = [
        helper.make_node("Reshape", ["x", "s3"], ["f"], name="/flatten/Reshape"),
        helper.make_node("Transpose", ["f"], ["tok"], name="/tokens/Transpose", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["tok", "wqkv"], ["qkv"], name="/attn/qkv/MatMul"),
        helper.make_node("Reshape", ["qkv", "s4"], ["r"], name="/attn/Reshape"),
        helper.make_node("Transpose", ["r"], ["t"], name="/attn/Transpose", perm=[2, 0, 1, 3]),
        helper.make_node("Split", ["t"], ["q1", "k1", "v1"], name="/attn/Split", axis=0, num_outputs=3),
        helper.make_node("Squeeze", ["q1", "ax0"], ["q"], name="/attn/Squeeze"),
        helper.make_node("Squeeze", ["k1", "ax0"], ["k"], name="/attn/Squeeze_1"),
        helper.make_node("Squeeze", ["v1", "ax0"], ["v"], name="/attn/Squeeze_2"),
        helper.make_node("Transpose", ["k"], ["kt"], name="/attn/Transpose_1", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["a"], name="/attn/MatMul"),
        helper.make_node("MatMul", ["a", "v"], ["y"], name="/attn/MatMul_1"),
    ]
    s3 = helper.make_tensor("s3", TensorProto.INT64, [3], [1, 8, 6])
    s4 = helper.make_tensor("s4", TensorProto.INT64, [4], [1, 6, 3, 8])
    ax0 = helper.make_tensor("ax0", TensorProto.INT64, [1], [0])
    inits = [w("wqkv", 8, 24), s3, s4, ax0]
    p = save(tmp_path, "split0.onnx", nodes, inits, [1, 8, 2, 3], out_dims=[1, 6, 8], opset=18)
    assert totals(p) == (1_152 + 288 + 288, 192)


def test_a_conv_of_a_map_computed_from_constants_is_counted(tmp_path):
    # EdgeNeXt's Fourier position encoding as torch exports it: a map computed from constants
    # (here Sin of a Constant [1, 2, 4, 4]) fed to a 1x1 conv 2 -> 4 and added to the input; the
    # map is data, the conv counted: 4*16*2 = 128 MACs, 12 params; then conv 4 -> 8, no bias:
    # 8*16*4 = 512 MACs, 32 params. Before: "a product of constants", a node not costed
    grid = helper.make_tensor("grid", F, [1, 2, 4, 4], [0.5] * 32)
    nodes = [
        helper.make_node("Constant", [], ["g"], name="/pos/Constant", value=grid),
        helper.make_node("Sin", ["g"], ["s"], name="/pos/Sin"),
        helper.make_node("Conv", ["s", "wp", "bp"], ["pos"], name="/pos/token_projection/Conv", kernel_shape=[1, 1]),
        helper.make_node("Add", ["x", "pos"], ["a"], name="/add/Add"),
        helper.make_node("Conv", ["a", "w2"], ["y"], name="/conv/Conv", kernel_shape=[1, 1]),
    ]
    p = save(
        tmp_path,
        "pos.onnx",
        nodes,
        [w("wp", 4, 2, 1, 1), w("bp", 4), w("w2", 8, 4, 1, 1)],
        [1, 4, 4, 4],
        out_dims=[1, 8, 4, 4],
    )
    assert totals(p) == (128 + 512, 12 + 32)
