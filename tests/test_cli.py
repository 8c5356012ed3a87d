"""The CLI as a user types it: help, version, formats, golden outputs, no torch on the analysis path."""

import csv
import io
import os

import pytest

from conftest import HERE, run, run_without

GOLDEN = os.path.join(HERE, "golden")
UPDATE = os.environ.get("FLOPCOUNT_UPDATE_GOLDEN") == "1"  # FLOPCOUNT_UPDATE_GOLDEN=1 pytest: rewrite


def golden(name: str, text: str):
    path = os.path.join(GOLDEN, name)
    if UPDATE or not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(text)
        if not UPDATE:
            pytest.fail(f"golden file {name} was missing and has been written; check it and rerun")
    with open(path) as fh:
        assert text == fh.read(), f"output differs from tests/golden/{name} (FLOPCOUNT_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize(
    "line,name",
    [
        ("flopcount report vgg-D --width 120", "vgg-D.table.txt"),
        ("flopcount report inception-reduced --width 120", "inception-reduced.table.txt"),
        ("flopcount report vgg-D --format markdown", "vgg-D.md"),
        ("flopcount report vgg-D --format csv", "vgg-D.csv"),
        ("flopcount compare inception-naive inception-reduced --width 120", "compare-inception.table.txt"),
        ("flopcount compare inception-naive inception-reduced --format markdown", "compare-inception.md"),
        ("flopcount compare bottleneck-naive bottleneck-reduced --format csv", "compare-bottleneck.csv"),
    ],
)
def test_golden(line, name):
    r = run(line)
    assert r.code == 0, r.err
    golden(name, r.out)


def test_csv_rows_add_up_to_total():
    r = run("flopcount report vgg-E --format csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    body, total = rows[:-1], rows[-1]
    assert total["name"] == "total"
    for key in ("params", "macs", "ops"):
        assert sum(int(row[key]) for row in body) == int(total[key])


def test_markdown_rows_add_up_to_total():
    r = run("flopcount report inception-naive --format markdown")
    lines = [l for l in r.out.splitlines() if l.startswith("| ") and not l.startswith("| layer")]
    macs = [int(l.split("|")[5].strip(" *").replace(",", "")) for l in lines]
    assert sum(macs[:-1]) == macs[-1] == 854_196_224


def test_table_mentions_published_and_why():
    r = run("flopcount report inception-reduced --width 200")
    assert "271,351,808" in r.out and "358M (DIFFERS)" in r.out
    assert "128 channels instead of 64" in r.out


def test_compare_shows_ratio():
    r = run("flopcount compare head-fc head-gap --width 160")
    assert "51,381,248" in r.out and "0.00x" in r.out


def test_version_and_help():
    import re
    from importlib.metadata import version

    r = run("flopcount --version")
    # the exact line, with the version pip installed (setup.cfg reads it from flopcount.__version__)
    installed = version("flopcount")
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+([ab]|rc|\.dev|\.post)?[0-9]*", installed), installed
    assert r.code == 0 and r.out == f"flopcount {installed}\n", r.out
    for cmd in ("report", "compare", "list", "ops"):
        r = run(f"flopcount {cmd} --help")
        assert r.code == 0 and "Example" in r.out, cmd


def test_list_has_every_config():
    j = run("flopcount list --format json").json()
    names = {c["name"] for c in j["configs"]}
    assert {
        "vgg-A",
        "vgg-A-LRN",
        "vgg-B",
        "vgg-C",
        "vgg-D",
        "vgg-E",
        "inception-naive",
        "inception-reduced",
        "inception-3b",
        "bottleneck-naive",
        "bottleneck-reduced",
        "head-fc",
        "head-gap",
    } <= names
    d = [c for c in j["configs"] if c["name"] == "vgg-D"][0]
    assert (d["params"], d["macs"]) == (138_357_544, 15_470_264_320)


def test_top_k_keeps_totals():
    r = run("flopcount report vgg-D --top 3 --format markdown")
    assert sum(l.startswith("| conv") for l in r.out.splitlines()) == 3 and "15,470,264,320" in r.out


def test_set_unknown_variable_is_an_error():
    r = run("flopcount report vgg-D --set clases=10")
    assert r.code == 2 and "did you mean `classes`" in r.err  # a command-line mistake: usage error


def test_set_variable():
    # classes=10: FC3 is 4096 -> 10: params 4096*10 + 10 instead of 4,097,000
    j = run("flopcount report vgg-D --set classes=10 --format json").json()
    assert j["totals"]["params"] == 138_357_544 - 4_097_000 + 40_970


def test_bad_input_option():
    r = run("flopcount report vgg-D --input 22a")
    assert r.code == 2 and "--input" in r.err


def test_spec_path_with_variant(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "flopcount: 1\nname: net\ninput: [3, 8, 8]\nvars: {w: 4}\n"
        "variants: {small: {w: 4}, big: {w: 8}}\nlayers: [conv3-$w]\n"
    )
    j = run(f"flopcount report {spec}:big --format json").json()
    assert j["totals"]["macs"] == 8 * 8 * 8 * 27  # C_out * H * W * C_in * 3 * 3
    r = run(f"flopcount report {spec}")
    assert r.code == 2 and "net.yaml:small" in r.err


@pytest.mark.parametrize("line", ["report vgg-D --format json", "report vgg-D", "compare vgg-A vgg-E", "list"])
def test_analysis_never_imports_torch_or_fvcore(tmp_path, line):
    p, tried = run_without(tmp_path, ("torch", "fvcore"), f"flopcount {line}")
    assert p.returncode == 0, p.stderr
    assert tried == []


@pytest.mark.parametrize(
    "model,extra",
    [
        ("vgg-E", ""),
        ("googlenet", "--expand"),
        ("googlenet", ""),
        ("inception-reduced", ""),
        ("resnet-50", "--device-profile h100"),
    ],
)
def test_fast_long_tables_equal_rich(model, extra, monkeypatch):
    # long tables skip rich for rows 2..n (rich costs ~2 ms a row): the text must be identical
    from rich.table import Table

    from flopcount.api import analyze
    from flopcount.cli import _apply_roofline
    from flopcount.render.text import rich_text
    from flopcount.render.views import compare_tables, report_tables

    r = analyze(model)
    if extra == "--device-profile h100":
        _apply_roofline([r], "h100", "fp32")
    tables = report_tables(r, collapse=(model == "googlenet" and extra == ""))
    tables += compare_tables([r, analyze("resnet-101")]) if model == "resnet-50" else []
    slow = rich_text(tables, width=250, fast_rows=None)
    rows_through_rich = []
    add_row = Table.add_row
    monkeypatch.setattr(Table, "add_row", lambda self, *a, **k: (rows_through_rich.append(1), add_row(self, *a, **k)))
    assert rich_text(tables, width=250, fast_rows=0) == slow
    # the fast path was taken: rich saw only the first row (and the total) of each table
    assert len(rows_through_rich) <= 2 * len(tables) < sum(len(t.rows) for t in tables)


def test_long_table_fast_path_keeps_every_row(write_spec):
    from flopcount.api import analyze
    from flopcount.render.text import rich_text
    from flopcount.render.views import report_tables

    path = write_spec("flopcount: 1\ninput: [8, 4, 4]\nlayers:\n" + "  - conv3-8\n" * 3000)
    out = rich_text(report_tables(analyze(path)), width=150)
    assert sum(line.startswith("\u2502 conv") for line in out.splitlines()) == 3000
