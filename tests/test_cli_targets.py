"""The options every command that takes a model has, the same way: `--import-root` (sweep too,
and its worker processes), `--allow-unknown`, `--input`/`--batch` where a command counts at one
size; and the help that names what a MODEL may be."""

import os

import pytest

from conftest import run

# 1x1 conv 3 -> 4 on HxW: C_out*H*W*C_in = 4*H*W*3 MACs, 4*3 + 4 params (weights + bias)
LIB = "flopcount: 1\nblocks:\n  b: {params: [], body: [conv1-4]}\n"
NET = "flopcount: 1\ninput: [3, 8, 8]\nimports: [../other/lib.yaml]\nlayers: [b]\n"


@pytest.fixture
def outside(tmp_path):
    """A spec whose import climbs out of its folder: proj/net.yaml imports other/lib.yaml."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "lib.yaml").write_text(LIB)
    (tmp_path / "proj" / "net.yaml").write_text(NET)
    return tmp_path / "proj" / "net.yaml", tmp_path / "other"


def test_sweep_import_root(outside):
    net, other = outside
    r = run(f"flopcount sweep {net} --set input=8,16")
    assert r.code == 3 and "climb out with `..`" in r.err and "--import-root" in r.err, r.err
    j = run(f"flopcount sweep {net} --set input=8,16 --format json --import-root {other}").json()
    assert [row["macs"] for row in j["rows"]] == [4 * 8 * 8 * 3, 4 * 16 * 16 * 3]
    assert [row["params"] for row in j["rows"]] == [4 * 3 + 4] * 2
    assert run(f"flopcount sweep {net} --set input=8,16").code == 3  # the option lasts one command


def test_sweep_import_root_with_jobs(outside):
    net, other = outside
    j = run(f"flopcount sweep {net} --set input=8:20:4 --jobs 2 --format json --import-root {other}").json()
    assert [row["macs"] for row in j["rows"]] == [4 * s * s * 3 for s in (8, 12, 16, 20)]


def test_sweep_import_root_from_the_environment(outside, monkeypatch):
    net, other = outside
    monkeypatch.setenv("FLOPCOUNT_IMPORT_ROOT", os.pathsep.join(["/nonexistent", str(other)]))
    j = run(f"flopcount sweep {net} --set input=8 --format json").json()
    assert j["rows"][0]["macs"] == 4 * 8 * 8 * 3


def test_a_worker_that_did_not_fork_reads_imports_from_the_same_folders(outside, monkeypatch):
    # a spawned pool worker or a Ray worker starts without the parent's --import-root: the task
    # carries the folders (flopcount.sweep._work), as flopcount.sweep.sweep sends them
    from flopcount import sweep
    from flopcount.spec.document import set_import_roots

    net, other = outside
    monkeypatch.setattr(sweep, "_WORKER", {})  # nothing read yet in this "worker"
    set_import_roots(())
    refused = sweep._work((str(net), {"input": 8}))
    assert refused["code"] == 3 and "climb out" in refused["error"]
    monkeypatch.setattr(sweep, "_WORKER", {})
    try:
        assert sweep._work((str(net), {"input": 8}, (str(other),)))["macs"] == 4 * 8 * 8 * 3
    finally:
        set_import_roots(())


def test_sweep_sends_the_folders_only_to_workers_that_need_them(outside, monkeypatch):
    # one process: the spec is read here, the tasks stay (model, combination) pairs
    from flopcount import sweep

    net, other = outside
    seen = []
    work = sweep._work
    monkeypatch.setattr(sweep, "_work", lambda task: (seen.append(task), work(task))[1])
    assert run(f"flopcount sweep {net} --set input=8 --import-root {other}").code == 0
    assert [len(t) for t in seen] == [2]
    # the folders go as absolute paths: a worker may run in another working folder
    from flopcount.spec.document import set_import_roots

    monkeypatch.chdir(other.parent)

    set_import_roots(["other"])
    try:
        assert sweep._import_roots()[-1] == str(other)
    finally:
        set_import_roots(())


def test_sweep_input_and_batch_hold_for_every_row():
    # bottleneck-reduced at 480x14x14 (its spec's input), batch 1: 5,268,480 MACs with its reduce of
    # 16 (README, "The source notes, checked"); a 1x1 reduce 480 -> r and a 5x5 conv r -> 48:
    # MACs = 14*14*(480*r + 25*r*48) = 329,280 r, so reduce=8 is half of that
    j = run("flopcount sweep bottleneck-reduced --set reduce=8,16 --batch 8 --format json").json()
    assert [(row["reduce"], row["batch"], row["macs"]) for row in j["rows"]] == [
        (8, 8, 8 * 14 * 14 * (480 * 8 + 25 * 8 * 48)),
        (16, 8, 8 * 5_268_480),
    ]
    assert j["axes"] == {"reduce": [8, 16]}  # what was swept; the fixed batch is in each row
    j = run("flopcount sweep bottleneck-reduced --input 28 --format json").json()
    assert [(row["input"], row["macs"]) for row in j["rows"]] == [([480, 28, 28], 4 * 5_268_480)]
    # the same as --set with one value, every row and byte of the table
    assert (
        run("flopcount sweep vgg-A --batch 2 --input 64 --set classes=10,100 --format csv").out
        == run("flopcount sweep vgg-A --set classes=10,100 --set batch=2 --set input=64 --format csv").out
    )


@pytest.mark.parametrize(
    "line, message",
    [
        ("--input 28 --set input=14,28", "--input and --set input=... both give the input"),
        ("--batch 2 --set batch=1,8", "--batch and --set batch=... both give the batch"),
        (f"--batch {chr(0xFF18)}", "not a whole number (ASCII digits 0-9)"),  # the same Count as report's
        ("--input 3x0x1", "expected 1 to 3 positive sizes"),
    ],
)
def test_sweep_input_and_batch_errors(line, message):
    r = run(f"flopcount sweep bottleneck-reduced {line}")
    assert r.code == 2 and message in r.err, r.err


COUNTING_COMMANDS = ["report", "compare", "sweep", "plot", "verify", "snapshot"]


@pytest.mark.parametrize("command", COUNTING_COMMANDS)
def test_every_command_that_counts_a_model_has_the_same_target_options(command):
    out = run(f"flopcount {command} --help").out
    for option in ("--input SIZE", "--batch N", "--import-root DIR", "--allow-unknown", "--set KEY=VALUE"):
        assert option in out, option


@pytest.mark.parametrize("command", COUNTING_COMMANDS)
def test_input_batch_and_import_root_are_listed_in_that_order(command):
    out = run(f"flopcount {command} --help").out
    where = [out.index(name) for name in ("--input SIZE", "--batch N", "--import-root DIR")]
    assert where == sorted(where), command


def test_help_says_what_a_model_may_be():
    top = " ".join(run("flopcount --help").out.split())
    report = " ".join(run("flopcount report --help").out.split())
    for kind in ("torchvision:NAME", "timm:NAME", "pkg.module:function", "FILE.onnx"):
        assert kind in top and kind in report, kind
    assert "net.yaml:VARIANT" in report


def test_import_writes_a_spec_without_a_batch():
    # `import` wrote the same spec whatever --batch said; now it says why there is none
    r = run("flopcount import torchvision:resnet18 --batch 8")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "error: --batch: a spec has no batch size; give it when you count the spec (flopcount report SPEC.yaml --batch N)\n"
    )
    out = run("flopcount import --help").out
    assert "--batch" not in out and "--import-root" not in out  # a torch or ONNX target has no `imports:`
    assert "A keyword argument of the builder" in " ".join(out.split())


def test_set_help_says_what_it_sets_for_an_imported_model():
    text = " ".join(run("flopcount report --help").out.split())
    assert "Override a variable the spec declares; for torchvision:NAME, timm:NAME or pkg.module:function, " in text


def test_the_command_list_cuts_no_description():
    # click cuts a docstring's first sentence to fit (`Recompute every model of a baseline and
    # compare: exit 0 when...`); every command has a short help of its own instead
    out = run("flopcount --help").out
    listed = out[out.index("Commands:") :].splitlines()[1:]
    names = [line.split()[0] for line in listed if line.strip()]
    assert names == ["check", "compare", "import", "list", "ops", "plot", "report", "snapshot", "sweep", "verify"]
    assert not any(line.rstrip().endswith("...") for line in listed), out


def test_list_takes_width_as_the_other_table_commands_do():
    # report, compare, sweep, verify and check took --width; list did not (No such option)
    out = run("flopcount list --width 100").out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "15,470,264,320" in out  # vgg-D's MACs (README, The source notes), never cut
    assert run("flopcount list --width 39").code == 2  # the same Count(40, 10000) as everywhere


def test_top_help_names_every_exit_code_1():
    text = " ".join(run("flopcount --help").out.split())
    assert "1 a check found a difference (or an imported model has nodes that were not costed)" in text
