"""`--columns` on compare as on report, and what `--format json` does with the options that shape
tables (--top, --depth, --columns, --no-total): the command lines a user types, and their output."""

import csv
import io

import pytest

from conftest import run


def csv_tables(text: str) -> list:
    """The tables of a CSV output (blank-line separated) as lists of dicts."""
    return [list(csv.DictReader(io.StringIO(part))) for part in text.strip().split("\n\n")]


def by_name(rows: list, key: str = "name") -> dict:
    return {r[key]: r for r in rows}


# -- compare --columns ------------------------------------------------------------------------------


def test_compare_kernel_and_input_show_where_the_stride_is():
    # torchvision's ResNet-50 ("v1.5") strides the bottleneck's 3x3 conv, the paper's its first 1x1
    # (README, Built-in models). conv3.0 is the first block of the 28x28 stage: its main path reads
    # conv2's 256x56x56 output; with the stride on the 3x3, the 3x3 still reads 128x56x56, with it on
    # the 1x1 it reads 128x28x28.
    r = run("flopcount compare resnet-50 resnet-50-paper --columns kernel,input --format csv")
    assert r.code == 0, r.err
    totals, layers = csv_tables(r.out)
    rows = by_name(layers)
    conv1, conv2 = rows["conv3.0.main.conv1"], rows["conv3.0.main.conv2"]
    assert (conv1["kernel resnet-50"], conv1["kernel resnet-50-paper"]) == ("1x1 s1", "1x1 s2")
    assert (conv2["kernel resnet-50"], conv2["kernel resnet-50-paper"]) == ("3x3 s2", "3x3 s1")
    assert (conv1["in_shape resnet-50"], conv1["in_shape resnet-50-paper"]) == ("256x56x56", "256x56x56")
    assert (conv2["in_shape resnet-50"], conv2["in_shape resnet-50-paper"]) == ("128x56x56", "128x28x28")
    # the ratio is still there: 1x1 conv 256 -> 128 at 56x56 (v1.5) vs at 28x28 (paper): 1/4
    # (56*56*256*128 = 102,760,448 and 28*28*256*128 = 25,690,112)
    assert int(conv1["macs resnet-50"]) == 56 * 56 * 256 * 128
    assert int(conv1["macs resnet-50-paper"]) == 28 * 28 * 256 * 128
    assert "kernel" not in totals[0]  # kernels and inputs are per layer


def test_compare_trainable_on_the_totals_and_per_layer():
    # resnet-50's batch-norm running statistics: 53,120 (running_mean + running_var over the 53 BN
    # layers' channels; torchvision resnet50: sum of named_buffers() without num_batches_tracked);
    # its params 25,557,032 (torchvision docs, num_params) are all trainable
    r = run("flopcount compare resnet-50 resnet-50-paper --columns trainable --format csv")
    totals, layers = csv_tables(r.out)
    for row in totals:
        assert (int(row["trainable"]), int(row["non_trainable"])) == (25_557_032, 53_120)
    conv1 = by_name(layers)["conv1"]
    # the stem: 7x7x3 -> 64 conv without bias (9,408) + BN's weight and bias (128); BN's two
    # running statistics over 64 channels (128)
    assert int(conv1["trainable resnet-50"]) == 7 * 7 * 3 * 64 + 2 * 64
    assert int(conv1["non_trainable resnet-50"]) == 2 * 64


def test_compare_act_bytes_at_the_dtype_and_a_missing_layer():
    # bottleneck-reduced's 1x1 `reduce` (480 -> 16 at 14x14) is not in bottleneck-naive: its cells
    # there are empty; conv5's output is 48x14x14 in both: 48*14*14 elements x 2 bytes (fp16)
    r = run("flopcount compare bottleneck-naive bottleneck-reduced --columns act_bytes --dtype fp16 --format csv")
    rows = by_name(csv_tables(r.out)[1])
    assert rows["reduce"]["act_bytes bottleneck-naive"] == ""
    assert int(rows["reduce"]["act_bytes bottleneck-reduced"]) == 16 * 14 * 14 * 2
    assert int(rows["conv5"]["act_bytes bottleneck-naive"]) == 48 * 14 * 14 * 2
    assert int(rows["conv5"]["act_bytes bottleneck-reduced"]) == 48 * 14 * 14 * 2


@pytest.mark.parametrize("fmt", ["markdown", "table"])
def test_compare_columns_in_markdown_and_table(fmt):
    r = run(f"flopcount compare bottleneck-naive bottleneck-reduced --columns all --format {fmt} --width 400")
    assert r.code == 0, r.err
    for header in ("kernel A", "kernel B", "input A", "input B", "trainable B", "non-trainable A", "act bytes B"):
        assert header in r.out, header
    assert "act bytes: each row's output for the whole batch at fp32 (--dtype)" in r.out
    assert "non-trainable: batch-norm running statistics" in r.out
    # the missing model's cells read `-` as every other cell of a layer it lacks
    line = next(l for l in r.out.splitlines() if "reduce" in l and ("| reduce |" in l or "│ reduce " in l))
    assert "1x1 s1" in line and "480x14x14" in line and "-" in line


def test_compare_columns_all_equals_every_column_named():
    a = run("flopcount compare vgg-A vgg-B --columns all --format csv").out
    b = run("flopcount compare vgg-A vgg-B --columns input --columns kernel,act-bytes,TRAINABLE --format csv").out
    assert a == b  # repeatable, any order, `-` for `_`, any case: the same columns in the same order


def test_compare_without_columns_is_unchanged():
    # --columns with nothing in it adds nothing (the golden files pin the default output itself)
    assert (
        run("flopcount compare vgg-A vgg-B --format csv").out
        == run("flopcount compare vgg-A vgg-B --columns '' --format csv").out
    )


@pytest.mark.parametrize("command", ["report vgg-A", "compare vgg-A vgg-B"])
def test_columns_errors_are_the_same_for_report_and_compare(command):
    r = run(f"flopcount {command} --columns kernal")
    assert r.code == 2, r.err
    assert r.err == (
        "error: --columns: unknown column `kernal` (did you mean `kernel`?); "
        "the columns: input, kernel, trainable, act_bytes, all\n"
    )


def test_report_and_compare_have_the_same_columns_help():
    def help_of(command):
        out = run(f"flopcount {command} --help").out
        text = out[out.index("--columns LIST") :]
        return " ".join(text[: text.index("\n  --", 1)].split())  # up to the next option

    assert help_of("report") == help_of("compare")
    assert "act_bytes" in help_of("report")


def test_compare_depth_folds_the_per_layer_rows_as_report_does():
    # conv3.0's main path, folded (--depth 2): v1.5 (stride on the 3x3) is 1x1 256 -> 128 at 56x56,
    # 3x3 128 -> 128 stride 2 to 28x28, 1x1 128 -> 512 at 28x28; the paper's runs the first 1x1 at
    # stride 2, so all three are at 28x28
    v15 = 56 * 56 * 256 * 128 + 28 * 28 * 128 * 128 * 9 + 28 * 28 * 128 * 512  # 269,746,176
    paper = 28 * 28 * 256 * 128 + 28 * 28 * 128 * 128 * 9 + 28 * 28 * 128 * 512  # 192,675,840
    r = run("flopcount compare resnet-50 resnet-50-paper --depth 2 --format csv")
    assert r.code == 0, r.err
    rows = by_name(csv_tables(r.out)[1])
    main = rows["conv3.0.main"]
    assert (int(main["macs resnet-50"]), int(main["macs resnet-50-paper"])) == (v15, paper)
    assert "conv3.0.main.conv1" not in rows and "conv3.0.shortcut" in rows
    # the same rows as report --depth 2 makes for each model
    for model in ("resnet-50", "resnet-50-paper"):
        report = csv_tables(run(f"flopcount report {model} --depth 2 --format csv").out)[0]
        assert {row["name"].split(" (")[0]: int(row["macs"]) for row in report if row["row"] != "total"} == {
            name: int(row[f"macs {model}"]) for name, row in rows.items()
        }
    r = run("flopcount compare resnet-50 resnet-50-paper --depth 2 --expand")
    assert r.code == 2 and "--depth folds blocks and --expand shows every layer" in r.err


# -- --format json: every layer, whatever shapes the tables -----------------------------------------


@pytest.mark.parametrize(
    "line, named",
    [
        ("report vgg-D --top 3", "--top chooses the rows"),
        ("report resnet-50 --depth 2", "--depth chooses the rows"),
        ("report vgg-D --no-total", "--no-total chooses the rows"),
        ("report vgg-D --top 3 --depth 2", "--top, --depth choose the rows"),
        ("compare vgg-A vgg-B --top 3", "--top chooses the rows"),
        ("compare resnet-50 resnet-50-paper --depth 2", "--depth chooses the rows"),
        ("report vgg-D --columns kernel", "--columns adds columns"),
        ("compare vgg-A vgg-B --columns all", "--columns adds columns"),
    ],
)
def test_json_with_a_table_shaping_option_is_a_usage_error(line, named):
    r = run(f"flopcount {line} --format json")
    assert r.code == 2, r.err
    assert r.out == ""
    assert named in r.err and "--format json" in r.err, r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_the_other_formats_take_them(fmt):
    r = run(f"flopcount report resnet-50 --top 3 --depth 2 --columns kernel --no-total --format {fmt} --width 200")
    assert r.code == 0, r.err


def test_json_holds_every_layer_and_says_so_in_help():
    j = run("flopcount report vgg-D --format json").json()
    # the JSON's layers are the CSV's body rows, every one, in the same order; VGG-16 has 13 convs
    # and 3 fully connected layers (the paper's Table 1, column D) among them
    rows = csv_tables(run("flopcount report vgg-D --format csv").out)[0]
    assert [layer["name"] for layer in j["layers"]] == [r["name"] for r in rows if r["row"] == "layer"]
    assert sum(layer["op"] == "conv" for layer in j["layers"]) == 13
    assert sum(layer["op"] == "fc" for layer in j["layers"]) == 3
    for command, options in (
        ("report", "--top, --depth, --columns, --no-total"),
        ("compare", "--top, --depth, --columns"),
    ):
        text = " ".join(run(f"flopcount {command} --help").out.split())
        assert f"json: always every layer and the totals, so not with {options}" in text, command


def test_collapse_still_applies_to_json():
    # --collapse adds the `blocks` list (one row per block instance); the layers stay whole
    plain = run("flopcount report resnet-50 --format json").json()
    folded = run("flopcount report resnet-50 --collapse --format json").json()
    assert folded["layers"] == plain["layers"] and "blocks" not in plain
    assert sum(b["macs"] for b in folded["blocks"]) == folded["totals"]["macs"]
