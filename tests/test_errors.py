"""Bad input: each case gives exit 3 (2 for an unknown name), file:line:col, a fix, no traceback."""

import re
import time

from conftest import run

LOC = re.compile(r"spec\.yaml:(\d+):(\d+): error: ")


def check(write_spec, text, line, fragment, code=3):
    path = write_spec(text)
    r = run(f"flopcount report {path}")
    assert r.code == code, (r.out, r.err)
    assert "Traceback" not in r.err + r.out
    assert fragment in r.err, r.err
    m = LOC.search(r.err)
    assert m, r.err
    if line is not None:
        assert int(m.group(1)) == line, r.err
    assert "fix:" in r.err
    return r.err


HEAD = "flopcount: 1\ninput: [3, 32, 32]\n"


def test_yaml_syntax_error(write_spec):
    check(write_spec, HEAD + "layers: [conv3-64\n", 4, "YAML syntax error")


def test_empty_file(write_spec):
    check(write_spec, "", 1, "the file is empty")


def test_non_mapping_file(write_spec):
    check(write_spec, "- conv3-64\n- M\n", 1, "must be a mapping")


def test_not_a_spec(write_spec):
    check(write_spec, "name: x\nlayers: []\n", 1, "no `flopcount: 1`")


def test_unknown_op_with_did_you_mean(write_spec):
    err = check(write_spec, HEAD + "layers:\n  - conv3-64\n  - cnv3-64\n", 5, "unknown op or block `cnv`")
    assert "did you mean `conv`" in err


def test_unknown_attribute(write_spec):
    err = check(write_spec, HEAD + "layers:\n  - {op: conv, c: 8, strde: 2}\n", 4, "has no attribute `strde`")
    # conv's stride is `s`: no attribute is close to `strde` (difflib ratio 2*1/6 < 0.6), so the hint
    # lists the attributes, `s` among them, and never suggests a `stride` that does not exist
    assert "`stride`" not in err
    assert re.search(r"its attributes: .*\bs\b", err), err


BLOCK = HEAD + "blocks:\n  b:\n    params: {c: null}\n    body: [conv3-$c]\n"


def test_unknown_block_parameter(write_spec):
    err = check(write_spec, BLOCK + "layers:\n  - {op: b, c: 8, cc: 3}\n", 8, "has no parameter `cc`")
    assert "did you mean `c`" in err


def test_missing_block_parameter(write_spec):
    check(write_spec, BLOCK + "layers:\n  - {op: b}\n", 8, "needs the parameter `c`")


def test_channel_mismatch_at_add(write_spec):
    err = check(
        write_spec,
        HEAD + "layers:\n  - conv3-64\n  - op: add\n    paths: [[conv3-128], []]\n",
        5,
        "add needs equal shapes",
    )
    assert "[128, 32, 32], [64, 32, 32]" in err  # both shapes shown


def test_spatial_mismatch_at_concat(write_spec):
    err = check(
        write_spec,
        HEAD + "layers:\n  - op: concat\n    paths: [[conv3/2-8], [conv3-8]]\n",
        4,
        "concat needs equal H x W",
    )
    assert "[8, 16, 16], [8, 32, 32]" in err


def test_spatial_size_reaches_zero(write_spec):
    err = check(write_spec, HEAD + "layers:\n  - conv3-8\n  - M*6\n", 5, "larger than the padded input")
    assert "32x32 -> 16x16 -> 8x8 -> 4x4 -> 2x2 -> 1x1" in err  # the trail of sizes


def test_impossible_stride(write_spec):
    check(write_spec, HEAD + "layers:\n  - {op: conv, c: 8, s: 0}\n", 4, "`s` must be positive")


def test_impossible_padding(write_spec):
    check(write_spec, HEAD + "layers:\n  - {op: maxpool, k: 2, p: 3}\n", 4, "more than half the window")


def test_kernel_larger_than_input(write_spec):
    check(write_spec, HEAD + "layers:\n  - {op: conv, c: 8, k: 40, p: 0}\n", 4, "larger than the padded input")


def test_groups_must_divide(write_spec):
    check(write_spec, HEAD + "layers:\n  - {op: conv, c: 8, groups: 2}\n", 4, "must divide")


def test_duplicate_key(write_spec):
    err = check(write_spec, HEAD + "input: [3, 64, 64]\nlayers: [conv3-8]\n", 3, "duplicate key `input`")
    assert "first written at line 2" in err


def test_alias_bomb_refused_fast(write_spec):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    # refused at the first alias that takes the count over 100,000 values: the anchors hold
    # a: 1+9 = 10, b: 1+9*10 = 91, c: 820, d: 7,381, e: 66,430 values; with the root mapping and the
    # keys, 74,740 values are read by the end of line 6 (`e:`), and the first `*e` on line 7
    # (`f: &f [*e`, column 8) adds 66,430 more
    check(write_spec, "flopcount: 1\n" + "\n".join(lines) + "\n", 7, "alias bomb")
    assert time.perf_counter() - start < 5  # 9**10 values if expanded; refused without expanding


def test_all_errors_reported_at_once(write_spec):
    path = write_spec(HEAD + "layers:\n  - cnv3-8\n  - {op: fc, c: 10, colour: red}\n  - {op: relu, x: 1}\n")
    r = run(f"flopcount report {path}")
    assert r.code == 3
    assert r.err.count("error:") == 3 and "3 errors in the spec" in r.err


def test_unknown_config_name_exit_2():
    r = run("flopcount report vgg-X")
    assert r.code == 2 and "no variant `X`" in r.err and "A, A-LRN, B, C, D, E" in r.err
    r = run("flopcount report vgg16")
    assert r.code == 2 and "did you mean" in r.err


def test_yaml_traps_explained(write_spec):
    err = check(write_spec, HEAD + "layers:\n  - {op: conv, c: 010}\n", 4, "octal")
    assert "write `10`" in err
    err = check(write_spec, HEAD + "layers:\n  - {op: dropout, rate: no}\n", 4, "YAML read this value as false")
    err = check(write_spec, HEAD + "layers:\n  - {op: fc, c: 1e3}\n", 4, "`1e3` stays text")


def test_python_tags_refused(write_spec):
    check(write_spec, HEAD + "layers: !!python/object/apply:os.system ['echo hi']\n", 3, "is not allowed")
