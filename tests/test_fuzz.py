"""Property test: mutated built-in specs never crash, hang or lie.

Hypothesis takes a built-in spec (flopcount/configs/*.yaml) and applies one to three mutations of its
text: drop a key, change a value's type, swap a number for 0, -1, 10**12, a string or a
YAML 1.1 trap, duplicate a key, insert a hostile token, or cut the file at a random byte.
The mutated file is run through the CLI as ``report FILE:VARIANT --format json`` and must end
in one of:

* exit 0 with a report whose layer rows add up to its totals;
* exit 3 with at least one ``file:line:col: error:`` location;
* exit 2 saying that the variant asked for is gone (a mutation removed or renamed it).

Never a traceback, never exit 5, never more than 20 KB on stderr, and each example within a
second (hypothesis' deadline).
CI runs 300 examples; ``FLOPCOUNT_FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz.py``
runs a longer search.
"""

import json
import os
import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopcount.spec.document import read_spec
from flopcount.spec.resolve import builtin_files

from conftest import run

EXAMPLES = int(os.environ.get("FLOPCOUNT_FUZZ_EXAMPLES", "300"))
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)
FIELDS = ("params", "macs", "ops", "buffers")

SPECS = []  # (text, variants)
for _path in builtin_files():
    with open(_path, encoding="utf-8") as _fh:
        SPECS.append((_fh.read(), read_spec(_path).variant_names() or [None]))

NUMBER = re.compile(r"(?<![\w.$-])\d+(?![\w.])")
KEY = re.compile(r"(?P<key>[A-Za-z_][\w-]*): ")
BLOCK_KEY_LINE = re.compile(r"^ *(- )?[A-Za-z_][\w-]*:( |$)")
SWAPS = [
    "0",
    "-1",
    "1000000000000",
    "x",
    "'64'",
    "1e3",
    "010",
    "1:30",
    "yes",
    "no",
    "null",
    "1.5",
    "[]",
    "{}",
    "[3, 3]",
    "-0",
    ".inf",
    "${1/0}",
    "${9**99}",
    "${in_c * 0}",
    "$nope",
]
TOKENS = [
    "*a",
    "&a ",
    "!!python/name:os.system ",
    "!!binary ",
    "${",
    "$",
    "'",
    '"',
    "\t",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "<<: *a",
    ",",
    "#",
    "\x00",
    "\u00ff",
    "\ufeff",
    "%YAML 1.2\n",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">-\n",
    "${in_c}",
    "${__import__('os')}",
    "~",
    "&a [*a]",
    # issue 11: escapes that write control characters, Unicode digits, `~`, paths out of the folder
    '"\\e[31m"',
    '"\\x9b"',
    '"a\\nb"',
    "\x1b",
    "\x7f",
    "\u0663",
    "\uff13",
    "${~1}",
    "${ｃ}",
    "../",
    "/dev/zero",
    "[/]",
    "::error::",
]


def _spans(regex, text):
    return [m.span() for m in regex.finditer(text)]


@st.composite
def mutated(draw):
    text, variants = draw(st.sampled_from(SPECS))
    variant = draw(st.sampled_from(variants))
    data = text.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        text = data.decode("utf-8", "replace")
        kind = draw(st.sampled_from(["drop", "retype", "swap", "duplicate", "insert", "cut"]))
        if kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
            continue
        if kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "swap":
            spans = _spans(NUMBER, text)
            if spans:
                a, b = draw(st.sampled_from(spans))
                text = text[:a] + draw(st.sampled_from(SWAPS)) + text[b:]
        elif kind == "retype":  # the value after a key becomes something of another type
            spans = [m.end() for m in KEY.finditer(text)]
            if spans:
                a = draw(st.sampled_from(spans))
                b = a + len(re.match(r"[^,}\]\n]*", text[a:]).group(0))
                text = text[:a] + draw(st.sampled_from(SWAPS + ["[1, [2]]", "{op: relu}", "'text'"])) + text[b:]
        else:
            lines = text.split("\n")
            keyed = [i for i, line in enumerate(lines) if BLOCK_KEY_LINE.match(line)]
            flow = _spans(re.compile(r"[A-Za-z_][\w-]*: [^,{}\[\]\n]+"), text)
            use_flow = flow and (not keyed or draw(st.booleans()))
            if use_flow:  # `k: v` inside a flow mapping such as {op: conv, c: 64}
                a, b = draw(st.sampled_from(flow))
                pair = text[a:b]
                text = text[:a] + (pair + ", " + pair if kind == "duplicate" else "") + text[b:]
            elif keyed:
                i = draw(st.sampled_from(keyed))
                if kind == "duplicate":
                    lines.insert(i, lines[i])
                else:
                    del lines[i]
                text = "\n".join(lines)
        data = text.encode("utf-8", "surrogatepass")
    return data, variant


def _check(path, variant):
    target = path if variant is None else f"{path}:{variant}"
    r = run(f"flopcount report {target} --format json")
    text = r.out + r.err
    assert "Traceback" not in text and "internal error" not in text, text
    assert r.code != 5, text
    assert len(r.err.encode()) < 20 * 1024, f"{len(r.err.encode()):,} bytes on stderr"  # errors are capped
    if r.code == 0:
        j = json.loads(r.out)
        for f in FIELDS:
            assert sum(row[f] for row in j["layers"]) == j["totals"][f], f
            assert all(isinstance(row[f], int) and row[f] >= 0 for row in j["layers"])
    elif r.code == 3:
        assert LOCATED.search(r.err), r.err
    else:
        assert r.code == 2 and "variant" in r.err, text


@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=1),
    derandomize=EXAMPLES <= 300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=mutated())
def test_mutated_builtin_specs(tmp_path, case):
    data, variant = case
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(data)
    _check(str(path), variant)


def test_unmutated_builtins_pass_the_same_check(tmp_path):
    # the property holds on the originals too (exit 0): the check is not vacuous for valid specs
    for text, variants in SPECS:
        path = tmp_path / "orig.yaml"
        path.write_text(text)
        for v in variants:
            target = path if v is None else f"{path}:{v}"  # a spec without variants is named alone
            r = run(f"flopcount report {target} --format json")
            assert r.code == 0, r.err
            _check(str(path), v)
