"""The fast checks of a lock file's text (flopcount/baseline/read.py) against their plain
definitions: `_maybe_unsafe` may say "maybe" more often than the plain rule (then every text is
checked one by one), never less; `_long_digits` finds exactly the runs of more than MAX_DIGITS
digits."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount.baseline import format as fmt
from flopcount.baseline import read

#: the plain rule of issue 16: an escape, a raw invisible character, or a run between quotes
#: longer than a text may be
_PLAIN = re.compile("\\\\|[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]")


def _plain_unsafe_text(doc) -> bool:
    """Does some key or text of the parsed document hold what the per-text check refuses?"""
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and (len(v) > fmt.MAX_TEXT or read._CONTROL.search(v)):
            return True
    return False


_chars = st.sampled_from(["a", " ", "\n", "\\", "\x7f", "\x85", "\u2028", "\u202e", "é", "0", '"'])
_names = st.one_of(st.text(_chars, max_size=8), st.builds(lambda n: "x" * n, st.integers(1000, 1100)))


@settings(max_examples=300, derandomize=True)
@given(names=st.lists(_names, max_size=4), pad=st.integers(0, 3))
def test_maybe_unsafe_never_misses_what_the_plain_rule_finds(names, pad):
    doc = {"models": [{"name": n, "layers": [{"macs": 1}] * pad} for n in names]}
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False), json.dumps(doc, indent=2)):
        plain = bool(_PLAIN.search(text)) or max(map(len, text.split('"'))) > fmt.MAX_TEXT
        if plain and _plain_unsafe_text(json.loads(text)):
            assert read._maybe_unsafe(text), text[:80]
        if _PLAIN.search(text):
            assert read._maybe_unsafe(text)  # the pattern's matches: always seen


@settings(max_examples=200, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 45), st.sampled_from([" ", ",", "-", "é", "\n", "a"])), max_size=6))
def test_long_digits_is_the_pattern(runs):
    text = "".join("7" * n + sep for n, sep in runs)  # runs of digits of 0 to 45, around 40
    want = re.search(f"[0-9]{{{fmt.MAX_DIGITS + 1}}}", text) is not None
    assert read._long_digits(text.encode()) == want


def test_the_limits_are_where_the_format_puts_them():
    # 40 digits is a count a lock may hold (flopcount.baseline.format.MAX_DIGITS), 41 is not
    assert not read._long_digits(b'{"macs": ' + b"9" * 40 + b"}")
    assert read._long_digits(b'{"macs": ' + b"9" * 41 + b"}")
    # a line no longer than MAX_TEXT holds no text longer: no check of each text; a name of
    # one character more than MAX_TEXT makes the reader check every text
    line = json.dumps({"name": "n" * (fmt.MAX_TEXT - 12)})
    assert len(line) == fmt.MAX_TEXT and not read._maybe_unsafe(line + "\n" + line)
    assert read._maybe_unsafe(json.dumps({"name": "n" * (fmt.MAX_TEXT + 1)}))
