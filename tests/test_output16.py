"""Issue 16, "output that never lies by omission": every number a table has is printed whole,
every layer of every compared model appears, a non-UTF-8 console gets ASCII tables, published
figures are compared only with the model as published, CSV keeps its total apart.

Each test here failed on the code before issue 16's output changes (see the K1 report)."""

import csv
import io
import os
import re
import subprocess
import sys

from flopcount.api import analyze

from conftest import run


def _numbers(text: str) -> set:
    """Every grouped integer printed in a table (3,211,264), whole tokens only."""
    return set(re.findall(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])", text))


def _grouped(n: int) -> str:
    return f"{n:,}"


# -- tables never crop a number ---------------------------------------------------------------


def test_narrow_terminal_drops_columns_and_says_which_never_cuts_a_digit():
    r = run("flopcount report vgg-D --width 80")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    table = [l for l in lines if l.startswith(("┃", "│", "┏", "└"))]
    assert table and all(len(l) <= 80 for l in table), max(map(len, table))
    rep = analyze("vgg-D")
    shown = _numbers(r.out)
    # every layer's params and MACs, and the totals, printed whole (before: rows ended in `3,211,2`)
    for row in rep.rows:
        for v in (row.params, row.macs):
            if v >= 1000:
                assert _grouped(v) in shown, (row.name, v)
    assert _grouped(rep.totals["macs"]) in shown and _grouped(rep.totals["params"]) in shown
    note = next(l for l in lines if l.startswith("left out to fit 80 columns"))
    assert "ops" in note and "--width" in note


def test_piped_output_has_the_tables_natural_width():
    # acceptance 3: `report efficientnet-b0 --device-profile h100 > r.txt`: CliRunner's stdout is not
    # a terminal, as a file is not. Before: fixed at 120 columns, `0.39G (rounds` and no roofline columns
    r = run("flopcount report efficientnet-b0 --device-profile h100")
    assert r.code == 0, r.err
    header = next(l for l in r.out.splitlines() if l.startswith("┃"))
    for col in ("params", "MACs", "% MACs", "ops", "bytes", "FLOP/B", "bound", "floor ms", "published"):
        assert f" {col} " in header, col
    assert "0.39G (rounds ours)" in r.out  # the cell, whole
    assert "left out" not in r.out
    assert all(l.endswith(("┓", "┃", "┩", "│", "┘", "┤")) for l in r.out.splitlines() if l and l[0] in "┏┃┡│└├")


def test_explicit_width_wider_than_the_table_changes_nothing():
    assert run("flopcount report vgg-D --width 200").out.count("left out") == 0


def test_the_fitting_uses_the_drop_ranks_in_order():
    from flopcount.render.model import Column, Table
    from flopcount.render.text import rich_text

    cols = [
        Column("name", "name"),
        Column("a", "a", "int", drop=2),
        Column("b", "b", "int", drop=1),
        Column("c", "c", "int"),
    ]
    t = Table("t", cols, [{"name": "x", "a": 10**9, "b": 10**9, "c": 10**9}])

    def header(text):
        return next(l for l in text.splitlines() if l.startswith("┃"))

    full = rich_text([t], width=200)
    # widths 4 + 3 x 13, plus 1 padding each side and 5 rules: 56; without b: 4 + 2 x 13 + 3 x 3 + 1 = 40
    one = rich_text([t], width=40)
    assert " b " in header(full) and " b " not in header(one) and " a " in header(one)
    assert one.count("1,000,000,000") == 2
    assert "left out to fit 40 columns: b (--width 56" in " ".join(one.split())
    # narrower than the numbers that are never left out: drawn wider (24) rather than cut
    tiny = rich_text([t], width=20)
    assert (
        " c " in header(tiny)
        and "│ 1,000,000,000 │" in tiny
        and "left out to fit 20 columns: b, a" in " ".join(tiny.split())
    )


# -- compare: every layer of every model ------------------------------------------------------


def test_compare_shows_every_layer_of_every_model():
    r = run("flopcount compare vgg-D resnet-50")
    assert r.code == 0, r.err
    per_layer = r.out.split("per layer, aligned by name")[1]
    rows = [l.split("│")[1].strip() for l in per_layer.splitlines() if l.startswith("│")]
    a, b = analyze("vgg-D"), analyze("resnet-50")
    names = [x.name for x in a.rows] + [x.name for x in b.rows if x.name not in {y.name for y in a.rows}]
    assert sorted(rows) == sorted(names) and len(rows) == 112  # 25 + 89 - 2 shared (conv1, flatten1)
    # each model's own order is kept
    for rep in (a, b):
        own = [n for n in rows if n in {x.name for x in rep.rows}]
        assert own == [x.name for x in rep.rows]
    assert "112 rows: every row of every model (A 25, B 89)" in r.out


def test_compare_top_keeps_the_costliest_per_layer_rows():
    r = run("flopcount compare vgg-D resnet-50 --top 3 --format csv")
    assert r.code == 0, r.err
    tables = r.out.split("\n\n")
    rows = list(csv.DictReader(io.StringIO(tables[1])))
    assert len(rows) == 3
    # vgg-D's 3x3 convs at 224 and 112: 1,849,688,064 MACs each, the largest of both models
    assert {row["macs vgg-D"] for row in rows} == {"1849688064"}


# -- a console that cannot draw boxes --------------------------------------------------------


def _flopcount(args, encoding):
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    return subprocess.run([sys.executable, "-m", "flopcount", *args], env=env, capture_output=True)


def test_cp1252_stdout_gets_ascii_tables():
    p = _flopcount(["report", "vgg-D", "--width", "100"], "cp1252")
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode("cp1252")
    assert out.splitlines()[1].startswith("+---") and "| conv1 " in out and "138,357,544" in out
    p = _flopcount(["compare", "vgg-D", "resnet-50"], "ascii")
    assert p.returncode == 0, p.stderr.decode()
    p.stdout.decode("ascii")  # nothing it cannot encode


# -- CSV: the total apart, real column names --------------------------------------------------


def test_csv_marks_the_total_and_no_total_leaves_it_out():
    rows = list(csv.DictReader(io.StringIO(run("flopcount report vgg-D --format csv").out)))
    assert [r["row"] for r in rows] == ["layer"] * 25 + ["total"]
    body = [r for r in rows if r["row"] != "total"]
    assert sum(int(r["macs"]) for r in body) == int(rows[-1]["macs"]) == 15_470_264_320
    rows = list(csv.DictReader(io.StringIO(run("flopcount report vgg-D --format csv --no-total").out)))
    assert len(rows) == 25 and "row" not in rows[0] and rows[-1]["name"] == "softmax1"
    assert "**total**" not in run("flopcount report vgg-D --format markdown --no-total").out


def test_compare_csv_has_real_column_names():
    out = run("flopcount compare bottleneck-naive bottleneck-reduced --format csv").out
    summary, layers = out.split("\n\n")
    assert summary.splitlines()[0] == "model,input,params,macs,macs_vs_first,params_vs_first,published"
    head = layers.splitlines()[0].split(",")
    assert "macs bottleneck-naive" in head and "params bottleneck-reduced" in head
    assert not any(re.fullmatch(r"[mp]\d+", h) for h in head)
    # the same model twice: its columns are numbered, not merged
    out = run("flopcount compare vgg-A vgg-A --format csv").out
    assert "macs vgg-A,macs vgg-A (2)" in out.split("\n\n")[1].splitlines()[0]


# -- published figures: compared only with the model as published ----------------------------


def test_published_figures_are_not_compared_after_input_or_set():
    # VGG paper, Table 2: 138M params for D at 224; at 112 the fc1 input is 512x3x3, not 512x7x7,
    # so ours is 54,471,464 (before: "DIFFERS by -83,528,536 (-60.5%)")
    r = run("flopcount report vgg-D --input 112 --width 200")
    assert r.code == 0, r.err
    assert "DIFFERS" not in r.out and "rounds ours" not in r.out
    assert "published 138M: not comparable: input changed (3x112x112; the figures are for 3x224x224)" in r.out
    assert "138M (not comparable)" in r.out  # the total's cell
    r = run("flopcount report efficientnet-b0 --set width=1.1 --width 200")
    assert "published 0.39G: not comparable: --set width=1.1" in r.out and "rounds ours" not in r.out
    # the same value as the spec's, the spec's input given explicitly, a batch: still the published model
    # (figures are per sample: 385,814,752 MACs per image at any batch)
    for line in ("--set width=1.0", "--input 224", "--batch 8"):
        out = run(f"flopcount report efficientnet-b0 {line} --width 200").out
        assert "published 0.39G (rounds ours)" in out, line
    r = run("flopcount compare vgg-D resnet-50 --input 160 --width 200")
    assert "DIFFERS" not in r.out and r.out.count("not comparable: input changed") == 3  # 1 + 2 figures
    r = run("flopcount report googlenet --input 448 --collapse --width 250")
    assert "DIFFERS" not in r.out and "n/c" in r.out


def test_not_comparable_json_validates():
    from flopcount import schemas

    doc = run("flopcount report inception-reduced --input 14 --format json").json()
    schemas.validate(doc)
    fig = doc["published"]["macs"]
    assert fig["status"] == "not_comparable" and "diff" not in fig
    assert doc["published"]["not_comparable"].startswith("input changed (256x14x14; the figures are for 256x28x28)")


def test_no_published_source_names_a_study_note_path():
    # a reader must be able to find a source: no "study notes (shared/seed), session 9"
    import glob

    import yaml

    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flopcount", "configs")
    sources = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "source" and isinstance(v, str):
                    sources.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in glob.glob(os.path.join(here, "*.yaml")):
        walk(yaml.safe_load(open(path)))
    assert len(sources) > 30
    bad = [s for s in sources if re.search(r"shared/|seed\b|session \d|study notes", s)]
    assert not bad, bad
    out = run("flopcount compare inception-naive inception-reduced bottleneck-naive head-fc --width 300").out
    assert "shared/seed" not in out and "session 9" not in out and "Going Deeper with Convolutions" in out


# -- measured on one device, roofline of another ---------------------------------------------


def _cpu_measurement(monkeypatch):
    """--latency as if measured on this machine's CPU (by hand: no torch), every layer 1 ms."""
    from handmade import latency

    import flopcount.latency

    def attach(report, opts):
        report.latency = latency(report, {r.name: 1.0 for r in report.rows}, float(len(report.rows)))

    monkeypatch.setattr(flopcount.latency, "attach", attach)


def test_cpu_latency_against_an_h100_roof_warns_and_shows_no_efficiency(monkeypatch):
    _cpu_measurement(monkeypatch)
    r = run("flopcount report vgg-A --latency --device cpu --device-profile h100 --width 250")
    assert r.code == 0, r.err
    # before: no warning, and a "% of roof" column reading 0.0% (an H100 floor over a CPU time)
    assert "warning: measured on cpu (test device), roofline of NVIDIA H100" in r.err
    header = next(line for line in r.out.splitlines() if line.startswith("┃"))
    assert " ms " in header and " floor ms " in header and "% of roof" not in header
    assert "measured on cpu (test device), roofline of NVIDIA H100 SXM5 80GB: no % of roof" in " ".join(r.out.split())
    doc = run("flopcount report vgg-A --latency --device cpu --device-profile h100 --format json").json()
    assert "efficiency" not in doc["totals"] and not any("efficiency" in x for x in doc["layers"])
    # the same measurement against the CPU profile: efficiency is there
    r = run("flopcount report vgg-A --latency --device cpu --device-profile cpu --width 250")
    assert "% of roof" in next(line for line in r.out.splitlines() if line.startswith("┃"))
    assert "warning" not in r.err


def test_elsewhere_matches_gpu_models_by_name():
    from handmade import latency

    from flopcount.profiles import load_profile
    from flopcount.records import Roofline
    from flopcount.render.measured import elsewhere

    rep = analyze("vgg-A")
    lat = latency(rep, {rep.rows[0].name: 1.0}, 1.0)

    def roof(name):
        return Roofline(load_profile(name), "fp32", 1.0, 1.0, 1.0)

    assert elsewhere(lat, roof("h100")) and elsewhere(lat, roof("cpu")) is None
    gpu = lat._replace(device="cuda", device_name="NVIDIA H100 80GB HBM3")
    assert elsewhere(gpu, roof("h100")) is None and elsewhere(gpu, roof("cpu"))
    assert "NVIDIA A100" in elsewhere(gpu, roof("a100-80gb")) and elsewhere(gpu, roof("t4"))
    t4 = gpu._replace(device_name="Tesla T4")
    assert elsewhere(t4, roof("t4")) is None


# -- the README's GitHub Actions recipe annotates each change once ---------------------------

NET = """\
flopcount: 1
name: net
input: [3, 32, 32]
layers:
  - {op: conv, c: 16, k: 3, p: 1, name: stem}
  - M
  - {op: conv, c: 32, k: 3, p: 1, name: body}
  - M
  - flatten
  - fc-10
"""


def test_readme_actions_recipe_annotates_each_change_once(tmp_path, monkeypatch):
    import shlex

    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    recipe = readme.split("**A GitHub Actions job**")[1].split("```yaml")[1].split("```")[0]
    steps = [line.split("run:", 1)[1] for line in recipe.splitlines() if "run: flopcount check" in line]
    assert len(steps) == 2, steps
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    (tmp_path / "net.yaml").write_text(NET)
    assert run("flopcount snapshot net.yaml -o costs.lock.json").code == 0
    (tmp_path / "net.yaml").write_text(NET.replace("c: 32, k: 3", "c: 48, k: 3"))  # body and fc1 move
    seen = []
    for step in steps:
        argv = shlex.split(step, comments=True)
        argv = argv[: argv.index(">>")] if ">>" in argv else argv
        r = run(shlex.join(argv))
        assert r.code == 1, (step, r.err)
        seen += [line for line in (r.out + r.err).splitlines() if line.startswith("::error")]
    assert seen and len(seen) == len(set(seen)), seen  # before: every annotation twice
    assert any("body: macs" in line for line in seen)


# -- torchinfo's columns, --depth --------------------------------------------------------------


def test_optional_columns_input_kernel_trainable_act_bytes():
    r = run("flopcount report resnet-50 --columns input,kernel,trainable,act_bytes --format csv --no-total")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(r.out.split("\n\n")[0]))}
    conv1 = rows["conv1"]
    # torchvision resnet50 conv1: Conv2d(3, 64, 7, stride 2, padding 3, bias False) + BatchNorm2d(64)
    assert conv1["in_shape"] == "3x224x224" and conv1["output"] == "64x112x112"
    assert conv1["kernel"] == "7x7 s2"
    # 64*3*7*7 = 9,408 weights + 64 gamma + 64 beta = 9,536 trainable; 64 mean + 64 var = 128 non-trainable
    assert conv1["trainable"] == "9536" and conv1["non_trainable"] == "128"
    assert conv1["act_bytes"] == str(64 * 112 * 112 * 4)  # fp32: 3,211,264
    assert rows["conv3.0.main.conv2"]["kernel"] == "3x3 s2"  # the stride on the 3x3 (torchvision v1.5)
    assert rows["conv2.0.add"]["in_shape"] == "256x56x56 + 256x56x56" and rows["conv2.0.add"]["kernel"] == ""
    r = run("flopcount report resnet-50 --columns act_bytes --dtype bf16 --batch 2 --format csv")
    assert list(csv.DictReader(io.StringIO(r.out)))[0]["act_bytes"] == str(64 * 112 * 112 * 2 * 2)
    grouped = run("flopcount report efficientnet-b0 --columns kernel --format csv").out
    assert "3x3 s1 g32" in grouped  # stage1's depthwise 3x3 on 32 channels
    r = run("flopcount report vgg-A --columns nosuch")
    assert r.code == 2 and "unknown column `nosuch`" in r.err and "act_bytes" in r.err


def test_depth_folds_nested_blocks_to_n_levels():
    rep = analyze("resnet-50")
    one = run("flopcount report resnet-50 --depth 1 --format csv").out
    assert one == run("flopcount report resnet-50 --collapse --format csv").out  # level 1 is --collapse
    for depth, expect in ((2, "conv2.0.main (3)"), (3, "conv2.0.main.conv1")):
        rows = list(csv.DictReader(io.StringIO(run(f"flopcount report resnet-50 --depth {depth} --format csv").out)))
        names = [r["name"] for r in rows]
        assert expect in names
        body = rows[:-1]
        for key in ("params", "macs", "ops"):  # folded rows still add up to the model, exactly
            assert sum(int(r[key]) for r in body) == rep.totals[key] == int(rows[-1][key])
    two = [r["name"] for r in csv.DictReader(io.StringIO(run("flopcount report resnet-50 --depth 2 --format csv").out))]
    # a bottleneck's main path folds; its shortcut (one projection conv and its bn) too; the add stays
    assert "conv2.0.shortcut (2)" in two or "conv2.0.shortcut" in two
    assert "conv2.0.add" in two and "conv2.0.main.conv1" not in two
    assert run("flopcount report resnet-50 --depth 2 --expand").code == 2


def test_snapshot_takes_set_and_check_counts_the_same_model(tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    r = run("flopcount snapshot efficientnet-b0 --set width=1.1 -o costs.lock.json")
    assert r.code == 0, r.err
    doc = json.load(open("costs.lock.json"))
    entry = doc["models"][0]
    assert entry["pinned"] == {"set": {"width": 1.1}}
    # the MACs of efficientnet-b0 --set width=1.1 (as `report` counts them), not B0's 385,814,752
    assert entry["totals"]["macs"] == analyze("efficientnet-b0", sets={"width": 1.1}).totals["macs"] == 443_010_960
    assert run("flopcount check costs.lock.json").code == 0
    assert run("flopcount check costs.lock.json --update").code == 0
    assert json.load(open("costs.lock.json"))["models"][0]["pinned"] == {"set": {"width": 1.1}}
    from flopcount import schemas

    schemas.validate(run("flopcount check costs.lock.json --format json").json())
    assert run("flopcount snapshot --all --set width=1.1 -o x.json").code == 2
