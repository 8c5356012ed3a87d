"""The report model and the render registry: typed results, per-sample costs, one place per format."""

from __future__ import annotations

import pytest

from flopcount import render
from flopcount.api import analyze
from flopcount.profiles import load_profile
from flopcount.published import Published
from flopcount.render import jsondoc
from flopcount.report import Report, Row
from flopcount.roofline import annotate
from flopcount.units import parse_figure


def test_per_sample_costs_live_on_the_row():
    one, four = analyze("vgg-D"), analyze("vgg-D", batch=4)
    for a, b in zip(one.rows, four.rows):
        assert b.macs == 4 * a.macs and b.ops == 4 * a.ops  # whole batch
        assert b.sample_macs == a.macs and b.sample_ops == a.ops  # per sample, as at batch 1
    assert four.sums().sample_macs == one.totals["macs"] == 15_470_264_320  # VGG-16: 15.47 GMACs
    # the published figure (per image) is compared with the per-sample count at any batch
    assert jsondoc.report_json(four)["published"] == jsondoc.report_json(one)["published"]


def test_collapsed_rows_sum_per_sample_costs_and_keep_their_members():
    rep = analyze("googlenet", batch=2)
    block = next(r for r in rep.collapsed() if r.name == "3a")
    members = [r for r in rep.rows if r.group == "3a"]
    assert block.members == members and block.count == len(members)
    assert block.sample_macs == sum(r.sample_macs for r in members) == block.macs // 2


def test_published_is_a_typed_record():
    p = Published.of({"macs": parse_figure("358M"), "source": "notes", "note": "why"})
    assert p is not None and p.source == "notes" and p.note == "why" and p.url is None
    assert p["macs"].text == "358M" and p.get("params") is None and "macs" in p and "params" not in p
    assert not p.has_both() and Published.of({}) is None and not Published()
    with pytest.raises(KeyError):
        p["params"]


def test_roofline_is_a_typed_record_on_rows_and_collapsed_rows():
    rep = analyze("googlenet")
    annotate(rep, load_profile("h100"), "bf16")
    assert rep.roofline is not None and rep.roofline.dtype == "bf16"
    assert all(r.roof is not None for r in rep.rows)
    assert rep.roof_total.bytes == sum(r.roof.bytes for r in rep.rows)
    block = next(r for r in rep.collapsed() if r.name == "3a")
    members = [r for r in rep.rows if r.group == "3a"]
    assert block.roof.bytes == sum(r.roof.bytes for r in members)
    assert block.roof.flops == 2 * block.macs
    assert block.roof.floor_ms == pytest.approx(sum(r.roof.floor_ms for r in members))
    assert block.roof.intensity == pytest.approx(block.roof.flops / block.roof.bytes)
    assert rep.efficiency(block) is None  # not measured


def test_latency_is_read_from_report_latency_by_name():
    from handmade import latency

    rep = Report("m", "s", None, "", (1,), 1, [Row("a", "fc", (1,), 1, 10, 0, 0), Row("b", "relu", (1,), 0, 0, 1, 0)])
    assert rep.time_of(rep.rows[0]) is None and rep.total_ms() is None
    rep.latency = latency(rep, {"a": 3.0, "b": 1.0}, 5.0, launch_bound={"b"})
    a, b = rep.time_of(rep.rows[0]), rep.time_of(rep.rows[1])
    assert (a.ms, a.share, b.share) == (3.0, 0.75, 0.25)  # share of the per-layer sum 3 + 1
    assert a.gflop_per_s == round(2 * 10 / (3.0 * 1e6), 3) and b.gflop_per_s is None  # no MACs: None
    assert (a.launch_bound, b.launch_bound) == (False, True)
    assert rep.total_ms() == 5.0
    doc = jsondoc.report_json(rep)
    assert doc["totals"]["latency_ms"] == 5.0 and doc["layers"][0]["latency_share"] == 0.75
    assert doc["latency"]["layer_sum_ms"] == 4.0 and doc["latency"]["layer_sum_over_end_to_end"] == 0.8


def test_one_registry_of_formats():
    assert set(render.WRITERS) == {"table", "markdown", "csv"} and set(render.FORMATS) == {*render.WRITERS, "json"}
    with pytest.raises(ValueError, match="already registered"):
        render.register("csv", lambda tables, width=None, color=None: "")
    with pytest.raises(ValueError, match="already registered"):
        render.register("json", lambda tables, width=None, color=None: "")
    with pytest.raises(ValueError, match="not a table format"):
        render.render([], "html")
    built = []
    out = render.output("json", lambda: built.append("tables") or [], lambda: {"schema": "x"})
    assert out.startswith("{") and built == []  # only the document asked for is built


def test_column_kinds_are_closed():
    from flopcount.render.model import Column

    with pytest.raises(ValueError, match="column kind"):
        Column("x", "x", "percent")
