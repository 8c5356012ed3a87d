"""Every JSON document flopcount writes validates against the schema shipped for it
(flopcount/schemas/*.json), and the JSON of two reference commands is byte-identical to its
golden file (tests/golden/*.json; absolute spec paths written as <configs>/...)."""

from __future__ import annotations

import json
import os

import pytest

jsonschema = pytest.importorskip("jsonschema")

from handmade import latency  # noqa: E402

from flopcount import schemas  # noqa: E402
from flopcount.api import analyze  # noqa: E402
from flopcount.profiles import load_profile  # noqa: E402
from flopcount.render import jsondoc  # noqa: E402
from flopcount.render.jsonfmt import json_text  # noqa: E402
from flopcount.roofline import annotate  # noqa: E402

from conftest import run  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check(doc: dict) -> dict:
    schemas.validate(doc)
    return doc


def test_every_shipped_schema_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    for kind in schemas.DOCUMENTS:
        s = schemas.load(kind)
        Draft202012Validator.check_schema(s)
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    shipped = {f for f in os.listdir(os.path.dirname(schemas.__file__)) if f.endswith(".json")}
    assert shipped == set(schemas.DOCUMENTS.values())


def test_every_schema_value_in_the_code_has_a_schema():
    # each "flopcount.<kind>/1" string spelled in the package names a shipped schema
    import re

    found = set()
    pkg = os.path.join(ROOT, "flopcount")
    for folder, _, files in os.walk(pkg):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(folder, f), encoding="utf-8") as fh:
                    found |= set(re.findall(r"flopcount\.[a-z]+/[0-9]+", fh.read()))
    assert found and found <= set(schemas.DOCUMENTS), found - set(schemas.DOCUMENTS)


@pytest.mark.parametrize("model", ["vgg-D", "googlenet", "resnet-50", "inception-reduced"])
def test_report_json_validates(model):
    r = analyze(model)
    check(jsondoc.report_json(r))
    check(jsondoc.report_json(r, collapse=True, unit="flops"))


def test_report_with_latency_and_roofline_validates():
    r = analyze("googlenet")
    ms = {row.name: 0.01 * (i + 1) for i, row in enumerate(r.rows)}
    # measured on an H100, as the profile (a CPU time against an H100 roof has no efficiency)
    r.latency = latency(r, ms, sum(ms.values()), launch_bound={r.rows[0].name})._replace(
        device="cuda", device_name="NVIDIA H100 80GB HBM3"
    )
    annotate(r, load_profile("h100"), "bf16")
    doc = check(jsondoc.report_json(r, collapse=True))
    lat = doc["latency"]
    # the keys of before, and the new fields of the LatencyResult
    assert lat["end_to_end_ms"]["p50"] == pytest.approx(sum(ms.values()))
    assert (
        lat["repeat"] == 10
        and lat["warmup"] == 3
        and lat["threads"] == 2
        and lat["runs"] == [lat["end_to_end_ms"]["p50"]]
    )
    assert {"marks_cost", "aggregation_bias", "launch_bound", "run_spread", "marked_ms", "layers"} <= set(lat)
    first = doc["layers"][0]
    assert first["latency_ms"] == 0.01 and first["launch_bound"] is True and first["host_ms"] == 0.001
    assert first["latency_share"] == round(0.01 / sum(ms.values()), 6)
    # efficiency = floor / measured, on rows and totals
    assert first["efficiency"] == pytest.approx(first["floor_ms"] / 0.01)
    assert doc["totals"]["efficiency"] == pytest.approx(doc["totals"]["floor_ms"] / sum(ms.values()))
    # a block's time: its layers' medians summed
    block = next(b for b in doc["blocks"] if b["name"] == "3a")
    assert block["latency_ms"] == pytest.approx(sum(ms[row.name] for row in r.rows if row.group == "3a"))


def test_a_missing_key_or_a_wrong_type_fails_validation():
    doc = jsondoc.report_json(analyze("vgg-D"))
    bad = dict(doc, batch="1")
    with pytest.raises(jsonschema.ValidationError):
        check(bad)
    bad = dict(doc, surprise=1)
    with pytest.raises(jsonschema.ValidationError):
        check(bad)
    bad = dict(doc, layers=[dict(doc["layers"][0], macs=-1)])
    with pytest.raises(jsonschema.ValidationError):
        check(bad)


def test_compare_json_validates_with_speedups():
    a, b = analyze("inception-naive"), analyze("inception-reduced")
    check(jsondoc.compare_json([a, b]))
    for rep, e2e in ((a, 2.0), (b, 1.0)):
        rep.latency = latency(rep, {row.name: 0.1 for row in rep.rows}, e2e)
        annotate(rep, load_profile("a100"), "fp16")
    doc = check(jsondoc.compare_json([a, b], collapse=True))
    assert doc["models"][1]["ratio"]["speedup"] == 2.0  # 2.0 ms / 1.0 ms
    with pytest.raises(jsonschema.ValidationError):
        check({"schema": "flopcount.compare/1", "models": [dict(doc["models"][0], extra=1)]})


def test_list_json_validates():
    from flopcount.catalog import builtin_configs

    check(jsondoc.list_json(builtin_configs()))


def test_baseline_file_validates():
    with open(os.path.join(ROOT, "costs.lock.json"), encoding="utf-8") as fh:
        check(json.load(fh))


def test_check_json_validates(tmp_path):
    # the schema holds whether the repository's lock is current (0) or behind the configs (1);
    # that it is current is the project's own `flopcount check` step
    r = run(f"flopcount check {os.path.join(ROOT, 'costs.lock.json')} --format json")
    assert r.code in (0, 1), r.err
    check(json.loads(r.out))


def test_check_json_with_changes_and_budgets_validates(tmp_path):
    with open(os.path.join(ROOT, "costs.lock.json"), encoding="utf-8") as fh:
        lock = json.load(fh)
    lock["models"] = [m for m in lock["models"] if m.get("builtin") == "vgg-D"]
    lock["models"][0]["layers"][0]["macs"] += 1  # one layer moved
    lock["models"][0]["totals"]["macs"] += 1
    lock["models"][0]["budget"] = {"macs": "1G"}  # vgg-D has 15.5G MACs: over budget
    path = tmp_path / "costs.lock.json"
    path.write_text(json.dumps(lock))
    r = run(f"flopcount check {path} --format json")
    assert r.code == 1, r.err
    doc = check(json.loads(r.out))
    assert doc["changes"] and doc["budgets"]


def test_sweep_json_validates():
    r = run("flopcount sweep vgg-A --set input=224,256 --set batch=1,2 --format json")
    assert r.code == 0, r.err
    doc = check(json.loads(r.out))
    assert len(doc["rows"]) == 4


def test_verify_json_validates_built_by_hand():
    from flopcount.crosscheck import LayerCheck, Verification

    v = Verification(
        "m", 1, [LayerCheck("conv1", "conv", 10, 10, 10), LayerCheck("fc", "fc", 5, 5, 4)], notes=["by hand"]
    )
    doc = check(v.to_json())
    assert doc["ok"] is False and doc["mismatches"] == ["fc"]


def _golden_text(text: str) -> str:
    configs = json.dumps(os.path.join(ROOT, "flopcount", "configs"))[1:-1]
    return text.replace(configs, "<configs>")


@pytest.mark.parametrize(
    "name, line",
    [
        ("vgg-D.json", "flopcount report vgg-D --format json"),
        ("compare-inception.json", "flopcount compare inception-naive inception-reduced --format json"),
    ],
)
def test_json_golden(name, line):
    r = run(line)
    assert r.code == 0, r.err
    check(json.loads(r.out))
    path = os.path.join(GOLDEN, name)
    if os.environ.get("FLOPCOUNT_UPDATE_GOLDEN") == "1":  # as tests/test_cli.py's golden files
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(_golden_text(r.out))
    with open(path, encoding="utf-8") as fh:
        assert _golden_text(r.out) == fh.read(), f"output differs from tests/golden/{name}"


def test_json_writer_is_the_same_json_as_the_standard_library():
    doc = jsondoc.report_json(analyze("resnet-50"), collapse=True)
    assert json.loads(json_text(doc)) == json.loads(json.dumps(doc))
