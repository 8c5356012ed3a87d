"""Baselines: `flopcount snapshot` and `flopcount check`, run as a user types them, on scratch copies.

The scratch spec NET (input 3x32x32, convs with bias, 3x3 padding 1, 2x2/2 max pools):
  stem  conv 3->16 on 32x32:  params 3*9*16 + 16 = 448,      MACs 16*32*32 * 3*9   = 442,368
  body  conv 16->32 on 16x16: params 16*9*32 + 32 = 4,640,   MACs 32*16*16 * 16*9  = 1,179,648
  fc1   2048 (32*8*8) -> 10:  params 2048*10 + 10 = 20,490, MACs 2048*10          = 20,480
  totals: params 448 + 4,640 + 20,490 = 25,578; MACs 442,368 + 1,179,648 + 20,480 = 1,642,496
Widening `body` to 48 channels:
  body  params 16*9*48 + 48 = 6,960 (+2,320, +50.00%); MACs 48*16*16 * 16*9 = 1,769,472 (+589,824, +50.00%)
  fc1   3072 (48*8*8) -> 10: params 30,730 (+10,240, +49.976%); MACs 30,720 (+10,240, +50.00%)
  totals: params 38,138 (+12,560); MACs 2,242,560 (+600,064)
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount import baseline as lock
from flopcount.api import COUNTING_RULES
from flopcount.errors import Pos
from flopcount.render import checkview

from conftest import run, run_without

NET = """\
flopcount: 1
name: net
input: [3, 32, 32]
layers:
  - {op: conv, c: 16, k: 3, p: 1, name: stem}
  - relu
  - M
  - {op: conv, c: 32, k: 3, p: 1, name: body}
  - M
  - flatten
  - fc-10
"""
BODY_LINE = 8  # the line of `body` in NET


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch folder as the working directory, holding net.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (tmp_path / "net.yaml").write_text(NET)
    return tmp_path


def widen(folder, channels=48):
    spec = folder / "net.yaml"
    spec.write_text(spec.read_text().replace("c: 32, k: 3", f"c: {channels}, k: 3"))


def changes(result) -> dict:
    """(layer, field) -> change entry of `check --format json`."""
    return {(c["layer"], c["field"]): c for c in result.json()["changes"]}


def test_full_cycle_snapshot_edit_check_update_check(scratch):
    r = run("flopcount snapshot net.yaml -o costs.lock.json")
    assert r.code == 0, r.err
    assert "1 model, 7 layers" in r.out
    saved = json.loads((scratch / "costs.lock.json").read_text())
    model = saved["models"][0]
    assert (model["name"], model["spec"], model["input"], model["batch"]) == ("net", "net.yaml", [3, 32, 32], 1)
    assert model["totals"] == {"params": 25_578, "macs": 1_642_496}
    assert {"name": "body", "params": 4_640, "macs": 1_179_648} in model["layers"]
    assert run("flopcount check costs.lock.json").code == 0

    widen(scratch)
    r = run("flopcount check costs.lock.json --width 200")
    assert r.code == 1
    assert "FAILED" in r.out
    body = [line for line in r.out.splitlines() if " body " in line]
    assert len(body) == 2, r.out
    assert all(f"net.yaml:{BODY_LINE}" in line for line in body)
    assert any(all(s in line for s in ("params", "4,640", "6,960", "+2,320", "+50.00%")) for line in body)
    assert any(all(s in line for s in ("macs", "1,179,648", "1,769,472", "+589,824", "+50.00%")) for line in body)

    j = changes(run("flopcount check costs.lock.json --format json"))
    assert {k: (c["old"], c["new"], c["change"]) for k, c in j.items()} == {
        ("(total)", "params"): (25_578, 38_138, 12_560),
        ("(total)", "macs"): (1_642_496, 2_242_560, 600_064),
        ("body", "params"): (4_640, 6_960, 2_320),
        ("body", "macs"): (1_179_648, 1_769_472, 589_824),
        ("fc1", "params"): (20_490, 30_730, 10_240),
        ("fc1", "macs"): (20_480, 30_720, 10_240),
    }
    assert j[("body", "macs")]["line"] == BODY_LINE and j[("body", "macs")]["percent"] == 50.0

    r = run("flopcount check costs.lock.json --update")
    assert r.code == 0, r.out
    assert "updated costs.lock.json" in r.out and "6,960" in r.out  # it says what it changed
    assert run("flopcount check costs.lock.json").code == 0
    assert json.loads((scratch / "costs.lock.json").read_text())["models"][0]["totals"] == {
        "params": 38_138,
        "macs": 2_242_560,
    }
    r = run("flopcount check costs.lock.json --update")
    assert (r.code, "already up to date" in r.out) == (0, True)


def test_snapshot_bytes_are_deterministic(scratch):
    (scratch / "other.yaml").write_text(NET.replace("name: net", "name: other"))
    assert run("flopcount snapshot net.yaml other.yaml head-fc -o a.json").code == 0
    assert run("flopcount snapshot head-fc other.yaml net.yaml -o b.json").code == 0
    a, b = (scratch / "a.json").read_bytes(), (scratch / "b.json").read_bytes()
    assert a == b
    # one layer per line, keys sorted, and reading then writing again changes nothing
    assert b'        {"macs": 1179648, "name": "body", "params": 4640},\n' in a
    assert lock.dumps(lock.load("a.json")).encode() == a


def test_layer_added_and_removed(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    spec = scratch / "net.yaml"
    # `extra`, a 1x1 conv 16->16 on 32x32: params 16*16 + 16 = 272, MACs 16*32*32 * 16 = 262,144;
    # the relu (relu1, no params, no MACs) goes
    spec.write_text(spec.read_text().replace("  - relu\n", "  - {op: conv, c: 16, k: 1, name: extra}\n"))
    r = run("flopcount check costs.lock.json --format json")
    assert r.code == 1
    j = changes(r)
    assert {k: (c["kind"], c["old"], c["new"], c["change"]) for k, c in j.items()} == {
        ("(total)", "params"): ("changed", 25_578, 25_850, 272),
        ("(total)", "macs"): ("changed", 1_642_496, 1_904_640, 262_144),
        ("extra", "params"): ("added", None, 272, 272),
        ("extra", "macs"): ("added", None, 262_144, 262_144),
        ("relu1", "params"): ("removed", 0, None, 0),
        ("relu1", "macs"): ("removed", 0, None, 0),
    }
    assert j[("extra", "macs")]["line"] == 6
    out = run("flopcount check costs.lock.json --width 200").out
    assert "added" in out and "removed" in out and "relu1" in out


def test_model_whose_spec_is_gone_is_kept_by_update_unless_pruned(scratch):
    (scratch / "other.yaml").write_text(NET.replace("name: net", "name: other"))
    run("flopcount snapshot net.yaml other.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    # a hand-written budget on the model whose spec will go: --update must not lose it
    path.write_text(path.read_text().replace('"name": "other",', '"budget": {"macs": "2M"},\n      "name": "other",'))
    os.remove(scratch / "other.yaml")
    r = run("flopcount check costs.lock.json --width 200")
    assert r.code == 1
    assert "other" in r.out and "gone" in r.out and "other.yaml" in r.out
    before = json.loads(path.read_text())["models"]
    r = run("flopcount check costs.lock.json --update --width 200")
    assert r.code == 1, r.out  # a missing spec is a failure, not a silent deletion
    assert "FAILED" in r.out and "--update --prune" in r.out and "kept" in r.out
    kept = json.loads(path.read_text())["models"]
    assert kept == before  # both entries, the gone one exactly as it was (budget and all)
    assert kept[1]["name"] == "other" and kept[1]["budget"] == {"macs": "2M"}
    r = run("flopcount check costs.lock.json --update --annotations")
    assert any(line.startswith("::error file=costs.lock.json,") and "--prune" in line for line in r.out.splitlines())
    assert run("flopcount check costs.lock.json --prune").code == 2  # --prune only with --update
    r = run("flopcount check costs.lock.json --update --prune")
    assert r.code == 0, r.out
    assert "removed (--prune)" in r.out
    assert [m["name"] for m in json.loads(path.read_text())["models"]] == ["net"]
    assert run("flopcount check costs.lock.json").code == 0


def test_builtin_name_gone(scratch):
    run("flopcount snapshot head-fc -o costs.lock.json")
    text = (scratch / "costs.lock.json").read_text()
    (scratch / "costs.lock.json").write_text(text.replace('"builtin": "head-fc"', '"builtin": "head-zz"'))
    r = run("flopcount check costs.lock.json --format json")
    assert r.code == 1
    assert [(c["model"], c["kind"]) for c in r.json()["changes"]] == [("head-fc", "gone")]


@pytest.mark.parametrize(
    "tolerance,code,moved",
    [
        # body MACs and fc1 MACs move by exactly 50%, fc1 params by 10,240 / 20,490 = 49.976%,
        # body params by 50%, total params by 49.10%, total MACs by 36.53%
        ("50%", 0, set()),
        ("0.5", 0, set()),
        ("49.99%", 1, {("body", "params"), ("body", "macs"), ("fc1", "macs")}),
        (
            "0",
            1,
            {
                ("body", "params"),
                ("body", "macs"),
                ("fc1", "params"),
                ("fc1", "macs"),
                ("(total)", "params"),
                ("(total)", "macs"),
            },
        ),
    ],
)
def test_tolerance(scratch, tolerance, code, moved):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    widen(scratch)
    r = run(f"flopcount check costs.lock.json --tolerance {tolerance} --format json")
    assert r.code == code
    assert set(changes(r)) == moved


def test_bad_tolerance_is_a_usage_error(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    assert run("flopcount check costs.lock.json --tolerance lots").code == 2
    assert run("flopcount check costs.lock.json --tolerance -1%").code == 2


def test_budget_in_the_spec(scratch):
    spec = scratch / "net.yaml"
    spec.write_text(NET.replace("layers:", "budget: {params: 20K, macs: 2M}\nlayers:"))
    run("flopcount snapshot net.yaml -o costs.lock.json")
    r = run("flopcount check costs.lock.json --width 200")
    # params 25,578 > 20,000 by 5,578 (27.89%); MACs 1,642,496 <= 2,000,000
    assert r.code == 1
    assert "budget" in r.out and "5,578" in r.out and "+27.89%" in r.out and "net.yaml:4" in r.out
    j = run("flopcount check costs.lock.json --format json").json()
    assert j["changes"] == []
    assert [(b["field"], b["budget"], b["actual"], b["over"], b["line"]) for b in j["budgets"]] == [
        ("params", "20K", 25_578, 5_578, 4)
    ]
    spec.write_text(NET.replace("layers:", "budget: {params: 26K, macs: 2M}\nlayers:"))
    assert run("flopcount check costs.lock.json").code == 0


def test_variant_budget_overrides_the_spec_budget(scratch):
    spec = scratch / "fam.yaml"
    spec.write_text(
        NET.replace(
            "name: net", "name: fam\nbudget: {params: 1M, macs: 1M}\nvariants:\n  a: {budget: {macs: 2M}}\n  b: {}"
        )
    )
    run("flopcount snapshot fam.yaml:a fam.yaml:b -o costs.lock.json")
    j = run("flopcount check costs.lock.json --format json").json()
    # MACs 1,642,496: within fam-a's 2M, over fam-b's 1M (from the top level) by 642,496
    assert [(b["model"], b["field"], b["over"]) for b in j["budgets"]] == [("fam-b", "macs", 642_496)]


def test_budget_in_the_baseline_is_kept_by_update(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    path.write_text(path.read_text().replace('"name": "net",', '"budget": {"macs": "1.5M"},\n      "name": "net",'))
    j = run("flopcount check costs.lock.json --format json").json()
    # MACs 1,642,496 > 1,500,000 by 142,496
    assert [(b["field"], b["over"], b["source"]) for b in j["budgets"]] == [("macs", 142_496, "baseline")]
    widen(scratch)
    assert run("flopcount check costs.lock.json --update").code == 1  # updated, but the budget still fails
    assert json.loads(path.read_text())["models"][0]["budget"] == {"macs": "1.5M"}
    run("flopcount snapshot net.yaml -o costs.lock.json")  # a new snapshot keeps it too
    assert json.loads(path.read_text())["models"][0]["budget"] == {"macs": "1.5M"}


def test_bad_budget_in_a_spec_is_an_invalid_spec(scratch):
    (scratch / "net.yaml").write_text(NET.replace("layers:", "budget: {params: lots, flops: 1G}\nlayers:"))
    r = run("flopcount snapshot net.yaml -o costs.lock.json")
    assert r.code == 3
    assert (
        "net.yaml:4:18: error: budget params" in r.err
    )  # `lots` starts at column 18 and "unknown key `flops`" in r.err
    assert not (scratch / "costs.lock.json").exists()


def test_other_counting_rules_ask_for_a_regeneration(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    path.write_text(
        path.read_text().replace(f'"counting_rules": {COUNTING_RULES}', f'"counting_rules": {COUNTING_RULES + 1}')
    )
    widen(scratch)
    r = run("flopcount check costs.lock.json")
    assert r.code == 1
    assert "--update" in r.out and "not comparable" in r.out
    assert "body" not in r.out and len(r.out.splitlines()) == 1  # one message, not a flood of diffs
    assert run("flopcount check costs.lock.json --update").code == 0
    assert json.loads(path.read_text())["counting_rules"] == COUNTING_RULES
    assert run("flopcount check costs.lock.json").code == 0


@pytest.mark.parametrize(
    "edit,where,message",
    [
        (lambda t: t.replace('"batch": 1,', '"batch": 1'), None, "not valid JSON"),
        (lambda t: t.replace('"batch": 1,', '"batch": "one",'), '"batch"', "`batch` must be an integer"),
        (lambda t: t.replace('"params": 4640}', '"params": -1}'), '"params": -1', "layer params must be"),
        (lambda t: t.replace('"totals"', '"totls"'), '"totls"', "did you mean `totals`"),
        (lambda t: t.replace('"batch": 1,', '"batch": 1, "batch": 2,'), '"batch": 2', "`batch` appears twice"),
        (
            lambda t: t.replace('"schema": "flopcount.baseline/1"', '"schema": "something/9"'),
            '"schema"',
            "not a flopcount baseline",
        ),
    ],
)
def test_corrupt_baseline_exits_3_with_file_and_line(scratch, edit, where, message):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    text = edit(path.read_text())
    path.write_text(text)
    r = run("flopcount check costs.lock.json")
    assert r.code == 3
    assert message in r.err
    if where is None:  # the JSON decoder's position: the line after `"batch": 1` lacks its comma
        line = next(i for i, s in enumerate(text.splitlines(), 1) if s.strip() == '"batch": 1') + 1
    else:
        line = next(i for i, s in enumerate(text.splitlines(), 1) if where in s)
    assert any(e.startswith(f"costs.lock.json:{line}:") for e in r.err.splitlines()), r.err
    assert "Traceback" not in r.err
    assert path.read_text() == text  # --update would not touch it either
    assert run("flopcount check costs.lock.json --update").code == 3
    assert path.read_text() == text


def test_two_models_with_one_name(scratch):
    (scratch / "sub").mkdir()
    (scratch / "sub" / "net.yaml").write_text(NET)
    r = run("flopcount snapshot net.yaml sub/net.yaml -o costs.lock.json")
    assert r.code == 2
    assert "two models are named `net`" in r.err
    assert not (scratch / "costs.lock.json").exists()
    # the same in a baseline edited by hand
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    doc = json.loads(path.read_text())
    doc["models"].append(dict(doc["models"][0], spec="sub/net.yaml"))
    path.write_text(json.dumps(doc, indent=1))
    r = run("flopcount check costs.lock.json")
    assert r.code == 3 and "two models are named `net` (models[0] and models[1])" in r.err


@pytest.mark.parametrize("fail", ["os.replace", "os.fsync"])
def test_failed_update_leaves_the_old_baseline_intact(scratch, monkeypatch, fail):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    before = path.read_bytes()
    widen(scratch)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(fail, disk_full)
        r = run("flopcount check costs.lock.json --update")
    assert r.code == 4
    assert "No space left on device" in r.err and "unchanged" in r.err
    assert path.read_bytes() == before
    assert sorted(os.listdir(scratch)) == ["costs.lock.json", "net.yaml"]  # no temporary file left behind
    assert run("flopcount check costs.lock.json").code == 1  # still the old numbers


def test_failed_write_midway_leaves_the_old_baseline_intact(scratch, monkeypatch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    before = path.read_bytes()
    widen(scratch)
    real = os.write

    def half_then_full(fd, data):  # the disk fills up halfway through the temporary file
        if fd in (1, 2):
            return real(fd, data)
        real(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    r = run("flopcount check costs.lock.json --update")
    assert r.code == 4
    assert "cannot write costs.lock.json: No space left on device; the previous file is unchanged" in r.err
    assert path.read_bytes() == before
    assert sorted(os.listdir(scratch)) == ["costs.lock.json", "net.yaml"]
    r = run("flopcount snapshot net.yaml -o costs.lock.json")  # snapshot the same
    assert r.code == 4 and path.read_bytes() == before
    assert sorted(os.listdir(scratch)) == ["costs.lock.json", "net.yaml"]


def test_snapshot_refuses_to_overwrite_a_file_that_is_not_a_baseline(scratch):
    (scratch / "notes.json").write_text('{"mine": true}\n')
    r = run("flopcount snapshot net.yaml -o notes.json")
    assert r.code == 3 and "not a flopcount baseline" in r.err
    assert (scratch / "notes.json").read_text() == '{"mine": true}\n'


def test_missing_baseline_is_a_usage_error(scratch):
    r = run("flopcount check nothing.json")
    assert r.code == 2 and "flopcount snapshot" in r.err


def test_markdown_is_a_pull_request_comment(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    widen(scratch)
    r = run("flopcount check costs.lock.json --format markdown")
    assert r.code == 1
    assert r.out.startswith("**flopcount check FAILED: 6 changes in 1 of 1 model**")
    assert f"| net | body | macs | 1,179,648 | 1,769,472 | +589,824 | +50.00% | net.yaml:{BODY_LINE} |" in r.out


def test_github_actions_annotations_point_at_the_spec_line(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    widen(scratch)
    r = run("flopcount check costs.lock.json", env={"GITHUB_ACTIONS": "true"})
    notes = [line for line in r.out.splitlines() if line.startswith("::error ")]
    assert (
        f"::error file=net.yaml,line={BODY_LINE},title=flopcount check::net body: macs 1,179,648 -> "
        "1,769,472 (+589,824, +50.00%25)" in notes
    )
    assert len(notes) == 4  # body and fc1, params and macs; totals are not annotated
    assert "::error" not in run("flopcount check costs.lock.json").out  # off outside GitHub Actions
    r = run("flopcount check costs.lock.json --format json --annotations")
    assert r.json()["ok"] is False and "::error file=net.yaml" in r.err


def test_builtins_are_stored_by_name(scratch):
    r = run("flopcount snapshot vgg-D -o costs.lock.json")
    assert r.code == 0, r.err
    model = json.loads((scratch / "costs.lock.json").read_text())["models"][0]
    # torchvision vgg16: 138,357,544 params, 15,470,264,320 MACs (README, tests/test_counts.py)
    assert (model["builtin"], model["totals"]) == ("vgg-D", {"params": 138_357_544, "macs": 15_470_264_320})
    assert "spec" not in model
    assert run("flopcount check costs.lock.json").code == 0


def test_pinned_input_and_batch(scratch):
    run("flopcount snapshot net.yaml --input 64 --batch 2 -o costs.lock.json")
    model = json.loads((scratch / "costs.lock.json").read_text())["models"][0]
    # stem at 64x64, batch 2: 2 * 16*64*64 * 3*9 = 3,538,944 MACs
    assert (model["pinned"], model["input"], model["batch"]) == ({"input": [3, 64, 64], "batch": 2}, [3, 64, 64], 2)
    assert model["layers"][0]["macs"] == 3_538_944
    assert run("flopcount check costs.lock.json").code == 0


def test_input_change_in_the_spec_is_reported(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    spec = scratch / "net.yaml"
    spec.write_text(spec.read_text().replace("input: [3, 32, 32]", "input: [3, 64, 64]"))
    j = changes(run("flopcount check costs.lock.json --format json"))
    assert (j[("-", "input")]["old"], j[("-", "input")]["new"]) == ([3, 32, 32], [3, 64, 64])


def test_snapshot_and_check_never_import_torch(scratch):
    for line in ("snapshot net.yaml head-fc -o costs.lock.json", "check costs.lock.json --format markdown"):
        p, tried = run_without(scratch, ("torch", "fvcore"), f"flopcount {line}", cwd=scratch)
        assert p.returncode == 0, p.stderr
        assert tried == []


def test_all_builtins_baseline_reports_a_builtin_it_lacks(scratch):
    from flopcount.spec.resolve import builtin_names

    assert run("flopcount snapshot --all -o costs.lock.json").code == 0
    path = scratch / "costs.lock.json"
    doc = json.loads(path.read_text())
    assert doc["scope"] == "all-builtins"
    assert [m["builtin"] for m in doc["models"]] == sorted(builtin_names())
    doc["models"] = [m for m in doc["models"] if m["name"] != "head-gap"]
    path.write_text(json.dumps(doc))
    r = run("flopcount check costs.lock.json --format json")
    assert r.code == 1
    assert [(c["model"], c["kind"]) for c in r.json()["changes"]] == [("head-gap", "new model")]
    assert run("flopcount check costs.lock.json --update").code == 0
    assert run("flopcount check costs.lock.json").code == 0
    assert "head-gap" in {m["name"] for m in json.loads(path.read_text())["models"]}


def test_long_change_lists_are_cut_with_a_count_per_model(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    spec = scratch / "net.yaml"
    # a pure rename: the same conv under another name, totals unchanged
    spec.write_text(spec.read_text().replace("name: body", "name: middle"))
    r = run("flopcount check costs.lock.json --max-rows 1 --width 200")
    assert r.code == 1
    assert "showing 1 of 4 layer rows" in r.out  # body removed, middle added; params and macs each
    assert "net: 0 layers changed, 1 added, 1 removed; totals unchanged (layers renamed?)" in r.out
    assert len(changes(run("flopcount check costs.lock.json --format json"))) == 4
    r = run("flopcount check costs.lock.json --annotations")
    assert len([line for line in r.out.splitlines() if line.startswith("::error")]) == 4
    result = lock.check("costs.lock.json")
    notes = checkview.annotations(result, limit=3)
    assert len(notes) == 4 and notes[-1].endswith(
        "1 more changes: run `flopcount check costs.lock.json` to see them all"
    )


def test_baseline_reached_through_a_symbolic_link(scratch):
    """Specs resolve against the folder of the real file; --update writes through the link."""
    real = scratch / "real" / "sub"
    real.mkdir(parents=True)
    (real / "net.yaml").write_text(NET)
    os.remove(scratch / "net.yaml")  # nothing may resolve by accident against the working folder
    assert run("flopcount snapshot real/sub/net.yaml -o real/sub/costs.lock.json").code == 0
    (scratch / "ci").mkdir()
    link = scratch / "ci" / "costs.lock.json"
    os.symlink("../real/sub/costs.lock.json", link)
    r = run("flopcount check ci/costs.lock.json")
    assert r.code == 0, r.out  # before: "spec file net.yaml is gone", every model
    widen(real)
    r = run("flopcount check ci/costs.lock.json --update")
    assert r.code == 0 and "updated ci/costs.lock.json" in r.out, r.out
    assert os.path.islink(link) and os.readlink(link) == "../real/sub/costs.lock.json"  # still a link
    assert json.loads((real / "costs.lock.json").read_text())["models"][0]["totals"] == {
        "params": 38_138,
        "macs": 2_242_560,
    }  # NET widened (module docstring)
    assert sorted(os.listdir(real)) == ["costs.lock.json", "net.yaml"]
    assert sorted(os.listdir(scratch / "ci")) == ["costs.lock.json"]
    # snapshot through the link: written at the target, spec relative to the target's folder
    assert run("flopcount snapshot real/sub/net.yaml head-fc -o ci/costs.lock.json").code == 0
    assert os.path.islink(link)
    doc = json.loads((real / "costs.lock.json").read_text())
    assert [m.get("spec") for m in doc["models"]] == [None, "net.yaml"]
    assert run("flopcount check ci/costs.lock.json").code == 0


def test_spec_entry_outside_the_baseline_folder_is_refused(scratch, monkeypatch):
    (scratch / "sub").mkdir()
    assert run("flopcount snapshot net.yaml -o costs.lock.json").code == 0
    path = scratch / "costs.lock.json"
    moved_up = path.read_text().replace('"spec": "net.yaml"', '"spec": "../net.yaml"')
    (scratch / "sub" / "costs.lock.json").write_text(moved_up)
    r = run("flopcount check sub/costs.lock.json")
    line = next(i for i, s in enumerate(moved_up.splitlines(), 1) if '"spec"' in s)
    assert r.code == 3, r.err
    assert f"sub/costs.lock.json:{line}:15: error: spec `../net.yaml` is outside the baseline's folder" in r.err
    assert "FLOPCOUNT_IMPORT_ROOT" in r.err
    for spec in ("/etc/passwd", "/dev/zero"):
        (scratch / "sub" / "costs.lock.json").write_text(moved_up.replace("../net.yaml", spec))
        r = run("flopcount check sub/costs.lock.json")
        assert r.code == 3 and "is outside the baseline's folder" in r.err and "root:" not in r.err
    monkeypatch.setenv("FLOPCOUNT_IMPORT_ROOT", str(scratch))  # the user allows the folder above
    (scratch / "sub" / "costs.lock.json").write_text(moved_up)
    assert run("flopcount check sub/costs.lock.json").code == 0
    monkeypatch.delenv("FLOPCOUNT_IMPORT_ROOT")
    assert run("flopcount check sub/costs.lock.json").code == 3
    assert run(f"flopcount check sub/costs.lock.json --import-root {scratch}").code == 0  # the option, the same
    # snapshot refuses to write what check would refuse to read
    r = run("flopcount snapshot net.yaml -o sub/other.lock.json")
    assert r.code == 2 and "outside the baseline's folder" in r.err
    assert not (scratch / "sub" / "other.lock.json").exists()
    assert run(f"flopcount snapshot net.yaml -o sub/other.lock.json --import-root {scratch}").code == 0
    assert json.loads((scratch / "sub" / "other.lock.json").read_text())["models"][0]["spec"] == "../net.yaml"
    assert run(f"flopcount check sub/other.lock.json --import-root {scratch}").code == 0


def test_lock_file_entries_never_read_a_builtin_as_a_path(scratch):
    (scratch / ".env").write_text("PASSWORD=hunter2\n")
    run("flopcount snapshot head-fc -o costs.lock.json")
    path = scratch / "costs.lock.json"
    path.write_text(path.read_text().replace('"builtin": "head-fc"', '"builtin": ".env"'))
    r = run("flopcount check costs.lock.json --width 200")
    assert r.code == 1
    assert "no built-in config is named `.env`" in r.out
    assert "hunter2" not in r.out + r.err


SLOW_WRITE = """
import os, sys, time
marker = sys.argv[1]
def slow(fd):  # the temporary file is written; hold the process before the rename
    open(marker, "w").close()
    time.sleep(120)
os.fsync = slow
from flopcount.cli import main
sys.argv = ["flopcount", *sys.argv[2:]]
main()
"""


def _held_write(scratch, *args):
    """Start `flopcount ARGS` as a process and return it once it holds a written temporary file."""
    marker = scratch / "_ready"
    p = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITE, str(marker), *args],
        cwd=scratch,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 120
    while not marker.exists():
        assert p.poll() is None, p.communicate()
        assert time.time() < deadline, "the write never started"
        time.sleep(0.05)
    os.remove(marker)
    tmp = f".costs.lock.json.flopcount-tmp-{p.pid}"
    assert tmp in os.listdir(scratch)
    return p, tmp


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_write_leaves_no_temporary_file(scratch, sig):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    before = path.read_bytes()
    widen(scratch)
    p, tmp = _held_write(scratch, "check", "costs.lock.json", "--update")
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err  # 130 for SIGINT, 143 for SIGTERM
    assert sorted(os.listdir(scratch)) == ["costs.lock.json", "net.yaml"]
    assert path.read_bytes() == before


def test_a_temporary_file_left_by_sigkill_is_removed_by_the_next_run(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    before = path.read_bytes()
    widen(scratch)
    p, tmp = _held_write(scratch, "snapshot", "net.yaml", "-o", "costs.lock.json")
    p.kill()
    p.communicate(timeout=60)  # reaped: its pid is gone
    assert tmp in os.listdir(scratch) and path.read_bytes() == before  # SIGKILL cannot clean up
    (scratch / ".costs.lock.json.flopcount-tmp-1").write_text("pid 1 is alive: not stale")
    r = run("flopcount check costs.lock.json")
    assert r.code == 1
    assert sorted(os.listdir(scratch)) == [".costs.lock.json.flopcount-tmp-1", "costs.lock.json", "net.yaml"]


def test_output_targets_that_cannot_be_written(scratch, monkeypatch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    before = (scratch / "costs.lock.json").read_bytes()
    (scratch / "folder").mkdir()
    r = run("flopcount snapshot net.yaml -o folder")
    assert r.code == 4 and "cannot write folder: it is a folder, not a baseline" in r.err
    assert os.listdir(scratch / "folder") == []
    r = run("flopcount snapshot net.yaml -o nowhere/costs.lock.json")
    assert r.code == 4 and "does not exist" in r.err
    real_open = os.open

    def read_only(path, flags, *a):
        if ".flopcount-tmp-" in str(path):
            raise OSError(30, "Read-only file system")
        return real_open(path, flags, *a)

    with monkeypatch.context() as m:
        m.setattr(os, "open", read_only)
        widen(scratch)
        r = run("flopcount check costs.lock.json --update")
    assert r.code == 4
    assert (
        "cannot write costs.lock.json: Read-only file system (a read-only place?); the previous file is "
        "unchanged" in r.err
    )
    assert (scratch / "costs.lock.json").read_bytes() == before


def test_snapshot_from_a_deleted_working_folder(scratch, monkeypatch):
    gone = scratch / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    r = run("flopcount snapshot head-fc -o costs.lock.json")
    assert r.code == 4, r.err  # before: exit 5, FileNotFoundError
    assert "the working folder no longer exists" in r.err
    r = run("flopcount check costs.lock.json")
    assert r.code == 4 and "the working folder no longer exists" in r.err


def test_a_fifo_as_lock_file_or_output_is_refused_at_once(scratch):
    os.mkfifo(scratch / "pipe.json")
    for args in (["check", "pipe.json"], ["snapshot", "net.yaml", "-o", "pipe.json"]):
        p = subprocess.run(
            [sys.executable, "-m", "flopcount", *args], cwd=scratch, capture_output=True, text=True, timeout=60
        )
        assert p.returncode == 2, p.stderr
        assert "FIFO" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("value", ["1e100000000", "1e999", "1" * 5000, "１%", "nan", "-1%"])
def test_tolerance_is_bounded_and_parsed_fast(scratch, value):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    start = time.perf_counter()
    r = run(f"flopcount check costs.lock.json --tolerance {value}")
    assert time.perf_counter() - start < 10  # before: 1e100000000 never returned, 1e999 was exit 5
    assert r.code == 2, r.err
    assert "--tolerance" in r.err and "such as 0.01" in r.err or "at most" in r.err


def test_a_lock_file_nested_990_deep_is_a_located_error(scratch):
    run("flopcount snapshot net.yaml -o costs.lock.json")
    path = scratch / "costs.lock.json"
    text = path.read_text().replace('"batch": 1,', '"batch": 1, "deep": ' + "[" * 990 + "]" * 990 + ",")
    path.write_text(text)
    r = run("flopcount check costs.lock.json")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if '"deep"' in s)
    col = text.splitlines()[line - 1].index("[") + 1 + 32  # the 33rd bracket: arrays in models[0] in the file
    assert r.code == 3, r.err
    assert f"costs.lock.json:{line}:{col - 3}: error: the baseline nests arrays and objects deeper than 32" in r.err
    where, _ = lock._offsets("[" * 5000 + "]" * 5000)  # the position scanner is not recursive
    assert len(where) == 5000 and where[(0,) * 4999] == 4999  # 5,000 arrays, the innermost at offset 4,999


def test_arrays_and_objects_in_turn_count_one_level_each():
    # [{"k": [{"k": ...}]}]: each bracket is a level. 32 levels are allowed (format.MAX_DEPTH);
    # deeper, the error points at the 33rd opening bracket (no text here holds a bracket). Before,
    # `{[]}` was peeled in one pass, and such nesting passed up to 64 levels.
    for n in (31, 32, 33, 40, 64, 65):
        value: object = 0
        for i in range(n):
            value = [value] if i % 2 else {"k": value}
        text = json.dumps(value)
        opening = [i for i, c in enumerate(text) if c in "[{"]
        assert len(opening) == n
        assert lock.read.too_deep(text) == (opening[32] if n > 32 else None), n


def test_annotations_escape_what_the_user_wrote():
    from fractions import Fraction

    from flopcount.baseline import Change, CheckResult

    change = Change("m%1\r\n::stop-commands::x", "l,1:2", "macs", 1, 2, "changed", Pos("d,i:r/f.yaml", 3, 1))
    result = CheckResult("costs.lock.json", 1, Fraction(0), changes=[change])
    assert checkview.annotations(result) == [
        # properties escape % CR LF : , ; data escapes % CR LF (control characters first shown as \r \n)
        "::error file=d%2Ci%3Ar/f.yaml,line=3,title=flopcount check::m%251\\r\\n::stop-commands::x l,1:2: "
        "macs 1 -> 2 (+1, +100.00%25)"
    ]


def test_a_change_of_the_totals_alone_is_annotated(scratch):
    run("flopcount snapshot head-fc -o costs.lock.json")
    path = scratch / "costs.lock.json"
    # head-fc: fc 1024*7*7 -> 1000, params 50176*1000 + 1000 = 51,381,248 (the lock file's totals);
    # the totals edited by hand to 51,381,247: the layers still match, the totals do not
    totals = '"totals": {"macs": 51380224, "params": 5138124'
    path.write_text(path.read_text().replace(totals + "8}", totals + "7}"))
    r = run("flopcount check costs.lock.json --annotations")
    assert r.code == 1
    notes = [line for line in r.out.splitlines() if line.startswith("::error")]
    assert len(notes) == 1 and "head-fc (total): params 51,381,247 -> 51,381,248 (+1" in notes[0], notes


def test_no_output_line_starts_a_workflow_command(scratch):
    run("flopcount snapshot head-fc -o costs.lock.json")
    path = scratch / "costs.lock.json"
    text = path.read_text().replace('"name": "head-fc"', '"name": "::stop-commands::pwned"')
    text = text.replace('"macs": 51380224, "name": "fc"', '"macs": 5, "name": "fc"').replace(
        '{"macs": 0, "name": "flatten1"', '{"macs": 7, "name": "flatten1"'
    )
    path.write_text(text)
    for fmt in ("table", "markdown", "json"):
        r = run(f"flopcount check costs.lock.json --format {fmt} --max-rows 1 --width 200 --annotations")
        assert r.code == 1
        assert "pwned" in r.out
        for line in (r.out + r.err).splitlines():
            if line.lstrip().startswith("::"):  # only flopcount's own annotations
                assert line.startswith("::error file=") and "title=flopcount check::" in line, line
        notes = [line for line in (r.out + r.err).splitlines() if "2 layers changed" in line]
        assert fmt == "json" or notes, r.out


@settings(max_examples=200, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
        max_leaves=20,
    ),
    indent=st.sampled_from([None, 0, 2]),
)
def test_value_positions_in_any_json_text(value, indent):
    """The positions used for `file:line:col` point at the start of each value, whatever the layout."""
    text = json.dumps(value, indent=indent)
    where, repeated = lock._offsets(text)
    assert repeated == []
    for path, offset in where.items():
        expected = value
        for key in path:
            expected = expected[key]
        assert json.JSONDecoder().raw_decode(text, offset)[0] == expected
