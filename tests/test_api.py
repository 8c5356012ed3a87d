"""The public Python API (issue 16, "The Python API"): what ``flopcount.__all__`` promises, specs
given as mappings or YAML text, the report's dict / DataFrame / HTML, and the torch side."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import flopcount
from flopcount.errors import FlopcountError, SpecError, UsageError
from flopcount.schemas import validate

from conftest import POISON, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = {
    "__version__",
    "analyze",
    "compare",
    "cost",
    "measure",
    "build",
    "Report",
    "Comparison",
    "FlopcountError",
    "SpecError",
}

# conv3-16 on 3x32x32 (padding 1 keeps 32x32): params 3*3*3*16 + 16 = 448, MACs 16*32*32*27 = 442,368;
# M: 2x2/2 max pool -> 16x16x16; fc-10 on 4,096 features: params 4096*10 + 10 = 40,970, MACs 40,960.
SMALL = {"flopcount": 1, "input": [3, 32, 32], "layers": ["conv3-16", "M", "flatten", "fc-10"]}
SMALL_TEXT = "flopcount: 1\ninput: [3, 32, 32]\nlayers: [conv3-16, M, flatten, fc-10]\n"
SMALL_PARAMS = 448 + 40_970
SMALL_MACS = 442_368 + 40_960


def test_all_lists_exactly_the_public_names_and_dir_shows_them():
    assert set(flopcount.__all__) == PUBLIC
    assert len(flopcount.__all__) == len(PUBLIC)
    shown = set(dir(flopcount))
    assert PUBLIC <= shown, PUBLIC - shown
    for name in PUBLIC:  # build imports torch only when called
        assert getattr(flopcount, name) is not None
    import flopcount.api as api

    assert set(api.__all__) == PUBLIC - {"__version__"}
    with pytest.raises(AttributeError):
        flopcount.load_graph  # noqa: B018 - internal: not on the package


def test_import_stays_cheap():
    code = "import sys, flopcount; print(sorted(m for m in ('torch', 'yaml', 'rich', 'flopcount.api') if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]"


def test_a_mapping_a_text_and_a_file_count_the_same(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_TEXT)
    for target in (SMALL, SMALL_TEXT, str(path)):
        r = flopcount.analyze(target)
        assert r.totals["params"] == SMALL_PARAMS and r.totals["macs"] == SMALL_MACS
        assert [row.name for row in r.rows] == ["conv1", "maxpool1", "flatten1", "fc1"]
    assert flopcount.analyze(SMALL).model == "<dict>" and flopcount.analyze(SMALL_TEXT).model == "<text>"
    assert flopcount.analyze({**SMALL, "name": "small"}).model == "small"
    # tuples are lists in YAML: input=(3, 32, 32) in a mapping reads as [3, 32, 32]
    assert flopcount.analyze({**SMALL, "input": (3, 32, 32)}).totals == flopcount.analyze(SMALL).totals


def test_a_mapping_spec_errors_like_a_file_at_dict():
    bad = {"flopcount": 1, "input": [3, 32, 32], "layers": ["conv3-16", "convv3-8"]}
    with pytest.raises(SpecError) as info:
        flopcount.analyze(bad)
    text = info.value.report("the spec")
    # the layers list is dumped as lines 4..6 of `yaml.safe_dump(bad, sort_keys=False)`:
    # flopcount: 1 / input: / - 3 / - 32 / - 32 / layers: / - conv3-16 / - convv3-8  -> line 8, column 3
    assert text.startswith("<dict>:8:3: error: "), text
    assert "convv3-8" in text and "AttributeError" not in text
    assert info.value.exit_code == 3
    with pytest.raises(SpecError) as info:
        flopcount.analyze({"flopcount": 1, "input": [3, 32, 32], "layers": [object()]})
    assert str(info.value.diagnostics[0].pos) == "<dict>:1:1"
    assert "spec['layers'][0] holds a Python object" in info.value.report("the spec")


def test_a_text_spec_errors_at_text_line_col():
    with pytest.raises(SpecError) as info:
        flopcount.analyze("flopcount: 1\ninput: [3, 32]\nlayers: [conv3-16]\n")
    # `input: [3, 32]` is line 2; its value starts at column 8
    assert info.value.report("the spec").startswith("<text>:2:8: error: `input` must be [C, H, W]")
    with pytest.raises(SpecError) as info:
        flopcount.analyze("flopcount: 1\ninput: [3, 32, 32\n")  # unclosed bracket: a YAML syntax error
    assert str(info.value.diagnostics[0].pos).startswith("<text>:")


def test_a_command_line_argument_is_never_read_as_a_spec():
    # YAML text is for the Python API: on the command line it is an unknown name (exit 2), even
    # when it holds a line break and reads as a valid spec
    r = run(f"flopcount report '{SMALL_TEXT}'")
    assert r.code == 2 and "unknown config" in r.err


def test_variants_of_a_mapping():
    spec = {**SMALL, "vars": {"c": 16}, "variants": {"a": {"c": 16}, "b": {"c": 32}}}
    spec["layers"] = ["conv3-$c", "M", "flatten", "fc-10"]
    with pytest.raises(UsageError, match='pick one of variant="a", variant="b"'):
        flopcount.analyze(spec)
    assert flopcount.analyze(spec, variant="a").totals["params"] == SMALL_PARAMS
    # c=32: conv 3*9*32 + 32 = 896; fc 8192*10 + 10 = 81,930
    assert flopcount.analyze(spec, variant="b").totals["params"] == 896 + 81_930
    with pytest.raises(UsageError, match="vgg-D"):
        flopcount.analyze("vgg-D", variant="E")


def test_not_a_model():
    with pytest.raises(UsageError, match="not a int"):
        flopcount.analyze(3)
    with pytest.raises(FlopcountError):
        flopcount.compare("vgg-D")  # a string is not a list of models
    # no model at all (before: an empty Comparison whose to_dict() raised IndexError)
    with pytest.raises(UsageError, match="at least one model"):
        flopcount.compare([])
    with pytest.raises(UsageError, match="empty Comparison"):
        flopcount.Comparison().to_dict()
    assert [r.totals["macs"] for r in flopcount.compare(iter(["vgg-A"]))] == [7_609_090_048]  # vgg-A (the table's)


@pytest.mark.parametrize("given", [112, "112", (112, 112), [3, 112, 112], "3x112x112"])
def test_input_forms_match_the_cli(given):
    cli = run("flopcount report vgg-D --input 112 --format json").json()
    assert flopcount.analyze("vgg-D", input=given).totals == cli["totals"]


@pytest.mark.parametrize("bad", [True, (3, 0, 0), (1, 2, 3, 4), 2.5, "big"])
def test_bad_input_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        flopcount.analyze("vgg-D", input=bad)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2", 2**62 + 1])
def test_bad_batch_is_a_usage_error_everywhere(bad):
    # as `--batch`: a whole number from 1 to 2**62. Before, analyze(batch=0) reported 0 MACs,
    # batch=2.0 float MACs and batch="2" failed with a TypeError inside the report's sums
    for call in (
        lambda: flopcount.analyze("vgg-D", batch=bad),
        lambda: flopcount.compare(["vgg-D", "vgg-A"], batch=bad),
        lambda: flopcount.cost("vgg-D", batch=bad),
        lambda: flopcount.build("vgg-A", batch=bad),  # (refused before torch is imported)
    ):
        with pytest.raises(UsageError, match="a batch is a whole number from 1 to 2"):
            call()


def test_good_batch_scales_macs_as_the_cli():
    # vgg-D at batch 1: 15,470,264,320 MACs (the cost table's total); batch 3 is 3x, exactly
    assert (
        flopcount.analyze("vgg-D", batch=3).totals["macs"]
        == 3 * 15_470_264_320
        == flopcount.cost("vgg-D", batch=3).macs
    )


def test_a_pathlib_path_is_a_spec_path():
    import pathlib

    # configs/vgg.yaml:D is vgg-D: 15,470,264,320 MACs, 138,357,544 params (the cost table's)
    path = pathlib.Path(ROOT) / "flopcount" / "configs" / "vgg.yaml"
    want = (15_470_264_320, 138_357_544)
    assert (flopcount.cost(pathlib.Path(f"{path}:D")).macs, flopcount.cost(f"{path}:D").params) == want
    r = flopcount.analyze(pathlib.Path(f"{path}:D"))
    assert (r.totals["macs"], r.totals["params"]) == want
    assert [x.totals["macs"] for x in flopcount.compare([pathlib.Path(f"{path}:D"), "vgg-D"])] == [want[0]] * 2


@pytest.mark.parametrize("bad", [5, [1], {1, 2}, b"width=1"])
def test_sets_of_another_kind_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="a mapping such as"):
        flopcount.analyze("vgg-D", sets=bad)


def test_sets_as_mapping_or_strings():
    assert flopcount.analyze("googlenet", sets={"aux": True}).train_totals == (
        flopcount.analyze("googlenet", sets=["aux=true"]).train_totals
    )
    assert flopcount.analyze("googlenet", sets="aux=true").train_rows  # the side outputs are there


@pytest.mark.parametrize("model", ["vgg-D", "googlenet"])  # googlenet: the spec's collapse: true
def test_to_dict_is_the_report_json(model):
    doc = flopcount.analyze(model).to_dict()
    validate(doc)
    assert json.loads(json.dumps(doc)) == run(f"flopcount report {model} --format json").json()


def test_comparison_to_dict_is_the_compare_json():
    c = flopcount.compare(["vgg-D", "resnet-50"], input=112)
    assert isinstance(c, list) and [r.model for r in c] == ["vgg-D", "resnet-50"]
    doc = c.to_dict()
    validate(doc)
    assert json.loads(json.dumps(doc)) == run("flopcount compare vgg-D resnet-50 --input 112 --format json").json()


def test_to_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas is not installed (optional: pip install pandas)")
    r = flopcount.analyze("resnet-50")
    df = r.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df["name"]) == [row.name for row in r.rows]
    assert int(df["macs"].sum()) == r.totals["macs"] and int(df["params"].sum()) == r.totals["params"]
    assert df["output"].iloc[0] == tuple(r.rows[0].output)
    blocks = r.to_dataframe(collapse=True)
    assert len(blocks) == len(r.collapsed()) and int(blocks["macs"].sum()) == r.totals["macs"]
    both = flopcount.compare(["vgg-D", "resnet-50"]).to_dataframe()
    assert list(both.columns[:2]) == ["model", "name"]
    assert len(both) == len(flopcount.analyze("vgg-D").rows) + len(r.rows)


def test_to_dataframe_without_pandas_says_what_to_install(tmp_path):
    code = (
        "import flopcount\n"
        "try:\n    flopcount.analyze('vgg-D').to_dataframe()\n"
        "except ImportError as e:\n    print('ImportError:', e)\n"
    )
    script = tmp_path / "frame.py"
    script.write_text(code)
    # `import pandas` fails in a fresh process (conftest's POISON), whether or not pandas is installed
    root = tmp_path / "_poison" / "pandas"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text(POISON.format(name="pandas"))
    env = dict(os.environ, PYTHONPATH=str(root.parent), FLOPCOUNT_POISON_LOG=str(tmp_path / "log"))
    p = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    assert p.stdout.startswith("ImportError: to_dataframe() needs pandas, which is not installed: pip install pandas")


def test_repr_html_escapes_and_shows_every_layer():
    spec = {
        "flopcount": 1,
        "name": "a<b>&c",
        "description": "<script>alert(1)</script>",
        "input": [3, 32, 32],
        "layers": ["conv3-16", "M", "flatten", "fc-10"],
    }
    r = flopcount.analyze(spec)
    page = r._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b&gt;&amp;c" in page
    for row in r.rows:
        assert f">{row.name}<" in page
    assert f"{SMALL_PARAMS:,}" in page and f"{SMALL_MACS:,}" in page
    both = flopcount.compare([spec, "vgg-D"])._repr_html_()
    assert "<script>" not in both and "vgg-D" in both


def test_measure_refuses_unknown_options():
    with pytest.raises(UsageError, match="unknown option warmup_seconds"):
        flopcount.measure(flopcount.analyze(SMALL), warmup_seconds=5)


@pytest.mark.parametrize(
    "option,value",
    [("runs", "3"), ("runs", 2.0), ("threads", "2"), ("warmup_ms", "5"), ("channels_last", 1), ("device", None)],
)
def test_measure_refuses_a_value_of_the_wrong_kind(option, value):
    # before, runs="3" failed with a TypeError deep in the option checks
    with pytest.raises(UsageError, match=f"{option}="):
        flopcount.measure(flopcount.analyze(SMALL), **{option: value})


def test_build_takes_a_mapping():
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu"
    )
    for spec in (SMALL, SMALL_TEXT):
        model = flopcount.build(spec)
        assert sum(p.numel() for p in model.parameters()) == SMALL_PARAMS


def test_measure_attaches_latency():
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu"
    )
    r = flopcount.analyze(SMALL)
    same = flopcount.measure(r, device="cpu", warmup_ms=1, measure_ms=1, max_ms=50)
    assert same is r and r.latency is not None
    doc = r.to_dict()
    validate(doc)
    assert doc["latency"]["device"] == "cpu" and doc["totals"]["latency_ms"] > 0
    assert [layer["name"] for layer in doc["layers"] if "latency_ms" in layer] == [row.name for row in r.rows]


def test_readme_documents_each_public_name():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = text.index("## The Python API")
    section = text[start : text.index("\n## ", start + 1)]
    for name in PUBLIC - {"__version__"}:
        assert name in section, name
    for method in ("to_dict()", "to_dataframe()", "_repr_html_", "<dict>", "<text>"):
        assert method in section, method
