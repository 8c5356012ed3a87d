"""Replay (issue 17): a sweep or ``flopcount.cost`` records one expansion of a spec per set of
variables and re-runs only shapes and costs at each further input (flopcount/spec/replay.py).

The reference everywhere is the full path: ``expand()`` of the spec at that input, summed as
the report sums it (``fastcost.graph_sums``), or the error it raises. A replay must give the
same numbers exactly, answer whenever the full expansion succeeds on a spec whose layers do not
depend on the input size, and step aside (None: the caller expands fully) otherwise.
"""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopcount.errors import FlopcountError
from flopcount.fastcost import CostModel, cost, graph_sums
from flopcount.spec import expand as expand_module
from flopcount.spec.expand import expand
from flopcount.spec.replay import template

#: built-ins whose structure reads the input's channels (in_c, if_shapes_match) but never its
#: size: every input a full expansion accepts must be replayed. Between them: residual `when:`
#: on in_c (resnet), if_shapes_match (mobilenet), SE widths from in_c (efficientnet), concat
#: branches (googlenet), channel split/shuffle (shufflenet), patch tokens (vit), windows (swin).
REPLAYED = [
    "resnet-18",
    "efficientnet-b0",
    "mobilenet-v3-small",
    "googlenet",
    "shufflenet-v2-x0-5",
    "vit-b-32",
    "swin-t",
]
_MODELS: dict = {}


def _model(target: str) -> CostModel:
    if target not in _MODELS:
        _MODELS[target] = CostModel(target)
    return _MODELS[target]


def _full(model: CostModel, shape):
    """The full path's answer at ``shape``: the sums, or the error text."""
    try:
        g = expand(model.spec, model.variant, shape, None, None)
    except FlopcountError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (list(g.input), g.batch, *graph_sums(g))


def _template(model: CostModel, shape=(None, 224, 224)):
    """The template recorded at ``shape`` (a CostModel records one at the second input of a
    set of variables; here built directly)."""
    return template(expand, model.spec, model.variant, shape, None)[1]


_TEMPLATES: dict = {}


def _kept_template(target: str):
    if target not in _TEMPLATES:
        _TEMPLATES[target] = _template(_model(target))
    return _TEMPLATES[target]


@settings(
    max_examples=60,
    deadline=timedelta(seconds=2),
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(REPLAYED),
    h=st.integers(1, 640),
    w=st.one_of(st.none(), st.integers(1, 640)),
)
def test_replay_equals_the_full_expansion(target, h, w):
    model = _model(target)
    shape = (None, h, h if w is None else w)
    want = _full(model, shape)
    got = _kept_template(target).sums(shape)
    if want[0] == "error":
        assert got is None  # the caller expands fully, which raises the full path's own error
    else:
        assert got == want  # every count exactly, the input and the batch
    # and through the model (replay or fallback): the same numbers or the same error
    try:
        through = model.sums(shape, None)
    except FlopcountError as exc:
        through = ("error", type(exc).__name__, str(exc))
    assert through == want


def test_other_channels_replayed_or_expanded():
    # a different channel count changes in_c where a layer reads the input itself: each answer
    # is still the full expansion's (resnet-18 reads no in_c of the input: replayed)
    model = _model("resnet-18")
    for shape in [(1, 224, 224), (4, 97, 131), (3, 300, 300)]:
        assert model.sums(shape, None) == _full(model, shape)


def _spec_model(write_spec, text: str) -> CostModel:
    return CostModel(write_spec(text))


def test_input_dependent_read_falls_back(write_spec):
    # k is the input's height: conv k=h, p=0 gives 1x1; MACs = 8 out x 1 x 1 x 4 in x h x h = 32 h^2,
    # params = 8 x 4 x h x h weights + 8 biases
    model = _spec_model(
        write_spec, 'flopcount: 1\ninput: [4, 16, 16]\nlayers:\n  - {op: conv, k: "${in_h}", p: 0, c: 8}\n'
    )
    tmpl = _template(model, (None, 16, 16))
    assert tmpl is not None and tmpl.sums((None, 16, 16))[2:4] == (8 * 4 * 16 * 16 + 8, 32 * 16**2)  # 8,200 / 8,192
    assert tmpl.sums((None, 32, 32)) is None  # in_h read 16, now 32: not replayed
    for shape in [(None, 16, 16), (None, 20, 20), (None, 32, 32)]:  # the model: first, second, then third input
        model.sums(shape, None)
    assert model.sums((None, 32, 32), None)[2:4] == (8 * 4 * 32 * 32 + 8, 32 * 32**2)  # 32,776 / 32,768
    # the check is what refuses: without it the replay keeps k=16 and counts a 17x17 output,
    # 8 x 17 x 17 x 4 x 16 x 16 = 2,367,488 MACs, not 32,768
    tmpl.checks = []
    assert tmpl.sums((None, 32, 32))[3] == 8 * 17 * 17 * 4 * 16 * 16


def test_if_shapes_match_that_flips_falls_back(write_spec):
    # the add exists only where the crop to 8x8 keeps the input's shape: at 8x8 (add: ops
    # 4 x 8 x 8 = 256, one per output element), not at 16x16 (the crop alone: free, no ops)
    model = _spec_model(
        write_spec,
        "flopcount: 1\ninput: [4, 16, 16]\nlayers:\n"
        "  - {op: add, if_shapes_match: true, paths: {main: [{op: crop, size: 8}], shortcut: []}}\n",
    )
    tmpl = _template(model, (None, 16, 16))
    assert tmpl.sums((None, 16, 16))[4] == 0
    assert tmpl.choices == [((0, -1), True)]  # the crop (node 0) and the input: shapes differed
    assert tmpl.sums((None, 8, 8)) is None
    assert _full(model, (None, 8, 8))[4] == 4 * 8 * 8
    tmpl.choices = []  # without the check the replay would miss the add
    assert tmpl.sums((None, 8, 8))[4] == 0


def test_deeplab_reads_its_input_size():
    # DeepLabv3's pooling branch upsamples to `${block_in_h}`: every other input is a full
    # expansion, with the full expansion's numbers
    model = _model("deeplabv3-resnet50")
    tmpl = _template(model)
    assert tmpl is not None and tmpl.sums((None, 256, 256)) is None
    for s in (224, 240, 256):
        assert model.sums((None, s, s), None) == _full(model, (None, s, s))


def test_cost_replays(monkeypatch):
    # flopcount.cost at four inputs: the check when the spec is read, the first input, the
    # second (recorded), then replays only (no further expansion)
    from flopcount import catalog
    from flopcount import fastcost as cost_module

    calls = []
    real = expand_module.expand

    def counted(*args, **kw):
        calls.append(args[2])
        return real(*args, **kw)

    monkeypatch.setattr(expand_module, "expand", counted)
    monkeypatch.setattr(catalog, "expand", counted)
    monkeypatch.setattr(cost_module, "_MODELS", {})
    got = [cost("resnet-34", input=s, batch=2).macs for s in (224, 160, 97, 301)]
    assert calls == [None, (None, 224, 224), (None, 160, 160)]
    for s, macs in zip((224, 160, 97, 301), got):
        assert macs == 2 * _full(_model("resnet-34"), (None, s, s))[3]
    assert got[0] == 2 * 3_663_761_408  # resnet-34 at 224: the catalog's figure (torchvision resnet34)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_sweep_error_is_the_full_paths(fmt):
    # a size the model refuses: the sweep stops with the full expansion's message for it
    from conftest import run

    r = run(f"flopcount sweep alexnet --set input=224,40 --format {fmt}")
    model = _model("alexnet")
    want = _full(model, (None, 40, 40))
    assert r.code == 3 and want[0] == "error"
    assert r.err.startswith("error: alexnet at input=40:\n") and want[2].splitlines()[0] in r.err


def test_results_are_kept_per_op_attributes_and_all_inputs(write_spec):
    # two concats with the same first branch (conv1-8) but other second branches share one
    # results table: it must be keyed by every input. MACs per output pixel, 1x1 convs:
    # 3x8 + 3x4 (first concat: 12 channels) + 12x8 + 12x16 (second: 24) + 24x1 = 348
    model = _spec_model(
        write_spec,
        "flopcount: 1\ninput: [3, 8, 8]\nlayers:\n"
        "  - {op: concat, paths: [[conv1-8], [conv1-4]]}\n"
        "  - {op: concat, paths: [[conv1-8], [conv1-16]]}\n"
        "  - conv1-1\n",
    )
    tmpl = _template(model, (None, 8, 8))
    assert tmpl.sums((None, 8, 8))[3] == 348 * 8 * 8
    for h, w in [(10, 6), (10, 6), (5, 7)]:  # the second time from the kept results
        assert tmpl.sums((None, h, w))[3] == 348 * h * w
