"""A plain lock file is parsed by _json's C scanner alone, without the json package (issue 17):
read._loads must give what ``json.loads(text, parse_constant=_no_constants)`` gives, and raise
for every text it refuses (the reader then reads that text strictly, through json.loads, and
reports what it always reported)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount.baseline import read

LOCK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "costs.lock.json")

TEXTS = [
    '{"a": 1}',
    ' \t\n\r{"a": [1, 2.5, true, false, null, "x"]} \n',
    "[]",
    '"text"',
    "0",
    "-12.5e3",
    '{"a": {"b": {"c": []}}}\n\n',
    '{"a": 1, "a": 2}',  # (a key written twice: json.loads keeps the last)
    '{"\\u00e9": "\\n"}',
]
REFUSED = [
    "",
    "   ",
    '\ufeff{"a": 1}',  # a byte order mark
    '{"a": 1} x',  # extra data
    '{"a": 1}{"b": 2}',
    '{"a": NaN}',
    "[Infinity]",
    "[-Infinity]",
    '{"a": 1,}',
    "[1 2]",
    '{"a" 1}',
    "\x0c[]",  # form feed: not JSON whitespace
    "[]\x0c",
    '"\x01"',  # a raw control character in a text
]


def _loads(text):
    return json.loads(text, parse_constant=read._no_constants)


@pytest.mark.parametrize("text", TEXTS)
def test_what_json_loads_reads(text):
    assert read._loads(text) == _loads(text)


@pytest.mark.parametrize("text", REFUSED)
def test_what_json_loads_refuses(text):
    with pytest.raises(Exception):  # noqa: B017, PT011 - json.loads raises one of several
        _loads(text)
    with pytest.raises(Exception):  # noqa: B017, PT011
        read._loads(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=' \t\n\r{}[]",:0123456789.-+eEtruefalsnNIyi\ufeffx\\', max_size=30))
def test_any_text_reads_as_json_loads_reads_it(text):
    try:
        want = _loads(text)
    except Exception:  # noqa: BLE001
        with pytest.raises(Exception):  # noqa: B017, PT011
            read._loads(text)
    else:
        got = read._loads(text)
        assert got == want and type(got) is type(want)


def test_the_lock_file_reads_as_json_loads_reads_it():
    text = open(LOCK, encoding="utf-8").read()
    assert read._loads(text) == _loads(text)


def test_an_ok_check_imports_no_json_package():
    code = (
        "import sys\nfrom flopcount.cli import main\n"
        "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = sorted(m for m in ('json', 'json.decoder', 'json.encoder', 'json.scanner') if m in sys.modules)\n"
        "sys.stderr.write(repr(bad))\nsys.exit(bool(bad))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, LOCK], capture_output=True, text=True, env=dict(os.environ))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("flopcount check ok: "), p.stdout[:300]
