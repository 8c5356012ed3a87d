"""`-o FILE` on the commands that print a result (report, compare, list, sweep; verify in
test_torch_verify's environment): the file holds exactly what standard output would, when
piped; it is replaced whole and atomically; nothing the user had is lost on a failure."""

import json
import os

import pytest
from test_output_failure import plant

from conftest import run

LINES = [
    "flopcount report vgg-A",
    "flopcount report vgg-A --format json",
    "flopcount report resnet-50 --format csv --collapse",
    "flopcount compare vgg-A vgg-B --format markdown",
    "flopcount list",
    "flopcount sweep vgg-A --set input=224,256 --format csv",
]


@pytest.mark.parametrize("line", LINES)
def test_the_file_holds_what_standard_output_would(tmp_path, line):
    piped = run(line)
    assert piped.code == 0, piped.err
    out = tmp_path / "out.txt"
    r = run(f"{line} -o {out}")
    assert r.code == 0, r.err
    assert r.out == ""  # nothing on standard output
    assert out.read_text(encoding="utf-8") == piped.out
    lines = piped.out.count("\n")
    assert r.err == f"wrote {out}: {lines:,} line{'s' * (lines != 1)}\n"


def test_json_to_a_file_is_one_document(tmp_path):
    out = tmp_path / "r.json"
    assert run(f"flopcount report vgg-A --format json -o {out}").code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    # VGG config A (the paper's Table 2): 133M params; the sum of the rows is the total
    assert doc["totals"]["params"] == sum(row["params"] for row in doc["layers"])


def test_a_folder_is_refused_before_anything_is_counted(tmp_path):
    r = run(f"flopcount report vgg-A -o {tmp_path}")
    assert r.code == 4
    assert f"cannot write {tmp_path}: it is a folder, not a file" in r.err and "out.txt" in r.err
    assert os.listdir(tmp_path) == []


def test_a_bad_spec_leaves_the_file_as_it_was(tmp_path, write_spec):
    out = tmp_path / "table.txt"
    out.write_text("yesterday's table\n")
    bad = write_spec("flopcount: 1\ninput: [3, 8, 8]\nlayers: [{op: conv, c: 0, k: 3}]\n")
    r = run(f"flopcount report {bad} -o {out}")
    assert r.code == 3, r.err
    assert out.read_text() == "yesterday's table\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["table.txt", os.path.basename(bad)])


def test_a_bug_while_rendering_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    out.write_text("{}\n")
    plant(monkeypatch, "conv2", "writer")  # a layer of vgg-A
    r = run(f"flopcount report vgg-A --format json -o {out}")
    assert r.code == 5
    assert "planted row" in r.err and "standard output holds" not in r.err
    assert out.read_text() == "{}\n"
    assert os.listdir(tmp_path) == ["r.json"]  # no temporary file left


def test_the_spec_read_is_never_its_own_output(tmp_path, write_spec):
    """`report net.yaml -o net.yaml` (a slip of the fingers) would replace the spec with its
    report: refused before anything is written, directly or through a link to it."""
    text = "flopcount: 1\ninput: [3, 8, 8]\nlayers: [conv3-4]\n"
    path = write_spec(text, "net.yaml")
    r = run(f"flopcount report {path} -o {path}")
    assert r.code == 4
    assert f"cannot write {path}: it is the spec file this run read" in r.err and "name another file" in r.err
    link = tmp_path / "link.yaml"
    link.symlink_to(path)
    r = run(f"flopcount compare {path} vgg-A -o {link}")
    assert r.code == 4 and f"it is the spec file this run read ({path})" in r.err
    assert open(path).read() == text
    assert sorted(os.listdir(tmp_path)) == ["link.yaml", "net.yaml"]


def test_an_onnx_file_is_never_the_spec_written_from_it(tmp_path):
    pytest.importorskip("onnx", reason="the onnx package is not installed")
    from onnx import TensorProto, helper, save_model

    node = helper.make_node("Relu", ["x"], ["y"], name="/relu/Relu")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    path = tmp_path / "m.onnx"
    save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    before = path.read_bytes()
    r = run(f"flopcount import {path} -o {path}")
    assert r.code == 4 and "it is the ONNX file this run read" in r.err
    assert path.read_bytes() == before
