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


# --------------------------------------------------------------------------- the plain reading
# `load` reads a plain lock file (no escape, no invisible character) with the C decoder alone
# and vouches for it by one walk (read._plain); anything else is read as it always was, each
# check on its own (read._strict). The oracle: for every text, `load` gives what the strict
# reading gives (the same baseline, or the same error, message for message).

import glob  # noqa: E402
import os  # noqa: E402

import pytest  # noqa: E402

from conftest import HERE  # noqa: E402

_LOCK = os.path.join(os.path.dirname(HERE), "costs.lock.json")


def _outcome(path: str, recount: bool) -> str:
    try:
        b = read.load(path, recount=recount)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return f"{type(exc).__name__}: {exc}"
    return repr(
        (
            b.path,
            b.counting_rules,
            b.scope,
            b.real,
            b.text is not None,
            sorted(b.positions.items()),
            [
                (e.name, e.builtin, e.spec, e.variant, e.input, e.batch, e.totals, e.layers, e.pinned, e.budget)
                + (e.imported, e.onnx, [[type(v).__name__ for v in r.values()] for r in e.layers])
                for e in b.entries
            ],
        )
    )


def _both(path: str) -> tuple[list, list]:
    fast = [_outcome(path, r) for r in (False, True)]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(read, "_plain", lambda doc, text: None)  # the strict reading, every check on its own
        strict = [_outcome(path, r) for r in (False, True)]
    return fast, strict


def _small() -> dict:
    """Three models of the committed lock file, one with a budget and pinned sizes, one with a
    training-only layer."""
    with open(_LOCK, encoding="utf-8") as fh:
        doc = json.load(fh)
    models = [dict(m) for m in doc["models"][:3]]
    models[1].update(budget={"macs": "16G", "params": 5000000}, pinned={"batch": 2, "input": [3, 64, 64]})
    models[2]["layers"] = [dict(models[2]["layers"][0], train_only=True), *models[2]["layers"][1:]]
    return dict(doc, models=models)


def _text(doc) -> str:
    """As `flopcount snapshot` writes a lock file: one layer a line."""
    return fmt._dump(doc, 0) + "\n"


def test_the_committed_lock_file_is_read_plain():
    # the speed of `check` rests on it: all 55 layer lists found well-formed in C
    with open(_LOCK, encoding="utf-8") as fh:
        text = fh.read()
    assert not read._unsafe_chars(text)
    assert len(read._plain(json.loads(text), text)) == len(json.loads(text)["models"]) == 55


@pytest.mark.parametrize(
    "name", sorted(glob.glob(os.path.join(HERE, "corpus", "lock", "*.json"))), ids=os.path.basename
)
def test_the_corpus_reads_as_strictly(tmp_path, name):
    path = tmp_path / "lock.json"
    with open(name, "rb") as fh:
        path.write_bytes(fh.read())
    fast, strict = _both(str(path))
    assert fast == strict


def _cases() -> dict:
    """Plain texts each of which one check of the reading must refuse (or accept), and that the
    walk must not vouch for wrongly."""
    doc = _small()
    rows = doc["models"][0]["layers"]
    row = json.dumps(rows[0], sort_keys=True)
    text = _text(doc)
    cases = {"as written": text, "on one line": json.dumps(doc), "compact": json.dumps(doc, separators=(",", ":"))}

    def edit(**changes) -> str:
        r = dict(rows[0], **changes)
        return text.replace(row, json.dumps(r, sort_keys=True), 1)

    cases.update(
        {
            "a key twice in a layer": text.replace(row, row[:-1] + ', "macs": 1}', 1),
            "a key twice, a colon in a name to make up for it": edit(name="a:b").replace(
                '"a:b"', '"ab", "name": "ab"', 1
            ),
            "a key twice at the top": text.replace('"scope"', '"scope": "all-builtins", "scope"', 1),
            "a key twice in totals": text.replace('"totals": {', '"totals": {"macs": 1, ', 1),
            "a colon in a layer name": edit(name="a:b"),
            "brackets in a layer name": edit(name="[x]{y}"),
            "another key in a layer": edit(extra=1),
            "train_only false": edit(train_only=False),
            "train_only null": edit(train_only=None),
            "train_only 1": edit(train_only=1),
            "params true": edit(params=True),
            "macs false": edit(macs=False),
            "params 1.0": edit(params=1.0),
            "params -1": edit(params=-1),
            "params 2**64": edit(params=2**64),
            "params of 40 digits": edit(params=10**40 - 1),
            "params of 41 digits": edit(params=10**40),
            "a name of MAX_TEXT characters": edit(name="n" * fmt.MAX_TEXT),
            "a name of MAX_TEXT + 1 characters": edit(name="n" * (fmt.MAX_TEXT + 1)),
            "a name that is a number": edit(name=7),
            "a layer that is a list": text.replace(row, '["macs", "name", "params"]', 1),
            "a layer in a list": text.replace(row, "[" + row + "]", 1),
            "a layer nested in a layer": edit(name={"macs": 1, "name": "x", "params": 1}),
            "no name": text.replace(row, '{"macs": 1, "params": 1}', 1),
            "layers not a list": text.replace('"layers": [', '"layers": {"x": [', 1).replace("]", "]}", 1),
            "a layer-like object in pinned": text.replace('"pinned": {', '"pinned": {"set": ' + row + ", ", 1),
            "a spec path of MAX_TEXT + 1": text.replace('"builtin": "alexnet"', '"spec": "' + "p" * 1025 + '"', 1),
            "nested 32 deep": text.replace('"pinned": {', '"pinned": {"set": {"a": ' + "[" * 28 + "]" * 28 + "}, ", 1),
            "nested 33 deep": text.replace('"pinned": {', '"pinned": {"set": {"a": ' + "[" * 29 + "]" * 29 + "}, ", 1),
            "nested 33 deep, in turn": text.replace(
                '"pinned": {', '"pinned": {"set": {"a": ' + '[{"k": ' * 14 + "0" + "}]" * 14 + "}, ", 1
            ),
            "a count of 41 digits in pinned": text.replace(
                '"pinned": {', '"pinned": {"set": {"a": 1' + "0" * 40 + "}, ", 1
            ),
            "a float in pinned": text.replace('"pinned": {', '"pinned": {"set": {"a": 0.5}, ', 1),
            "a bool in pinned": text.replace('"pinned": {', '"pinned": {"set": {"a": true}, ', 1),
            "non-ASCII name": edit(name="é×2").replace("\\u00e9\\u00d72", "é×2"),
            "an invisible character in a name": edit(name="a\u202eb").replace("\\u202e", "\u202e"),
            "an escape": edit(name="a\\b"),
            "NaN": edit(macs=0).replace('"macs": 0', '"macs": NaN', 1),
            "not JSON": text[:-3],
        }
    )
    assert all(t != text for k, t in cases.items() if k != "as written")  # every edit took
    return cases


@pytest.mark.parametrize("case", sorted(_cases()))
def test_each_plain_case_reads_as_strictly(tmp_path, case):
    text = _cases()[case]
    path = tmp_path / "lock.json"
    path.write_text(text, encoding="utf-8")
    fast, strict = _both(str(path))
    assert fast == strict
    if case in ("as written", "on one line", "compact", "a colon in a layer name", "train_only false"):
        assert "BaselineError" not in fast[0] and read._plain(json.loads(text), text)  # read plain, and ok


_EDITS = st.sampled_from(["{", "}", "[", "]", '"', ":", ",", "0", "9", "-", "a", " ", "true", "null", '"x": 1, '])


@settings(max_examples=150, derandomize=True, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3), _EDITS), min_size=1, max_size=3))
def test_edited_lock_files_read_as_strictly(tmp_path_factory, edits):
    text = _text(_small())
    for at, op, s in edits:  # insert, delete, replace a character, or repeat a key/value pair
        j = at % (len(text) + 1)
        if op == 0:
            text = text[:j] + s + text[j:]
        elif op == 1:
            text = text[:j] + text[j + 1 :]
        elif op == 2:
            text = text[:j] + s + text[j + 1 :]
        else:
            k = text.find('"', j)
            e = text.find(",", k)
            if k >= 0 and e > k:
                text = text[: e + 1] + " " + text[k : e + 1] + text[e + 1 :]
    path = tmp_path_factory.mktemp("lock") / "lock.json"
    path.write_text(text, encoding="utf-8")
    fast, strict = _both(str(path))
    assert fast == strict
