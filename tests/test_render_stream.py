"""``--format json`` streamed (issue 17): flopcount.render.jsonfmt.Rows make each row's mapping as
its line is written, json_chunks yields the text in pieces, cli_errors.emit writes them in
batches. The text is the one json_text writes for the same document with plain lists (the CLI
golden files, tests/golden/*.json, hold the command's bytes); these tests hold the pieces."""

from __future__ import annotations

import io
import json
import random
import sys

import pytest

from flopcount import cli_errors
from flopcount.render import jsondoc
from flopcount.render.jsonfmt import BATCH, Rows, json_chunks, json_text


def _plain(v):
    """``v`` with every Rows made a list: the document json_text writes the same text for."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, Rows)):
        return [_plain(x) for x in v]
    return v


def _some_lines(batch) -> list:
    """A ``lines`` writer (as jsondoc.row_lines is): json.dumps's text for a row of plain values,
    None (made and written by jsonfmt) for one that holds rows, and for every third row."""
    return [
        None if i % 3 == 2 or any(isinstance(v, (dict, list, Rows)) for v in x.values()) else json.dumps(x)
        for i, x in enumerate(batch)
    ]


def _value(rng: random.Random, depth: int):
    k = rng.random()
    if depth > 3 or k < 0.3:
        return rng.choice([1, -2, 3.5, "s\u00e9\n", None, True, 10**30])
    if k < 0.6:
        items = [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        if items and all(isinstance(x, dict) for x in items) and rng.random() < 0.7:
            return Rows(items, dict, _some_lines if rng.random() < 0.5 else None)
        return items
    if k < 0.7:
        return Rows([], dict)
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randrange(4))}


def test_rows_write_the_text_of_plain_lists():
    # Rows anywhere (at the top, nested in rows, empty, inside a compact line) and the same
    # document with lists: the same text, which json.loads reads back as the plain document
    rng = random.Random(17)
    for _ in range(3000):
        v = _value(rng, 0)
        p = _plain(v)
        text = json_text(v)
        assert text == json_text(p)
        assert "".join(json_chunks(v, 4)) == json_text(p, 4)
        assert json.loads(text) == json.loads(json.dumps(p))


def test_rows_with_lines_in_batches():
    # more rows than a batch, nested one level down and at the top: the same text as lists
    rows = [{"i": i, "s": "\u00e9"} for i in range(2 * BATCH + 5)]
    for doc in ({"a": Rows(rows, dict, _some_lines)}, {"a": {"b": Rows(rows, dict, _some_lines)}, "c": 1}):
        for indent in (2, 4):
            assert json_text(doc, indent) == json_text(_plain(doc), indent)
    pieces = list(json_chunks({"a": Rows(rows, dict, _some_lines)}))
    assert len(pieces) == 3 + 5  # "{" and the key; three batches; "]"; the newline and "}"


def test_the_indented_layout_with_rows():
    # written out by hand: mappings indented, each row of a list of rows on one line
    doc = {"a": 1, "layers": Rows([1, 2], lambda i: {"n": i}), "none": Rows([], dict)}
    assert json_text(doc) == '{\n  "a": 1,\n  "layers": [\n    {"n": 1},\n    {"n": 2}\n  ],\n  "none": []\n}'


def test_rows_are_made_one_at_a_time():
    made = []
    doc = {"layers": Rows(range(1000), lambda i: made.append(i) or {"i": i})}
    chunks = json_chunks(doc)
    text = ""
    while '{"i": 0}' not in text:
        text += next(chunks)
    assert made == [0]  # the first row's line is out; no other row has been made
    rest = "".join(chunks)
    assert len(made) == 1000 and json.loads(text + rest) == {"layers": [{"i": i} for i in range(1000)]}


@pytest.mark.parametrize("bad", [{1, 2}, object(), b"x"])
def test_a_value_json_cannot_encode_is_the_type_error_json_dumps_raises(bad):
    # the C encoder built once must keep json's own refusal (not "'NoneType' object is not callable")
    doc = {"layers": [{"name": "a", "x": bad}], "top": bad}
    with pytest.raises(TypeError) as got:
        json_text(doc)
    with pytest.raises(TypeError) as want:
        json.dumps(bad)
    assert str(got.value) == str(want.value)


def test_emit_writes_pieces_as_the_same_bytes(monkeypatch):
    pieces = [f"{i:05d}," * 50 for i in range(6000)]  # 1.8 MB in 6,000 pieces of 300 characters
    writes = []

    class Out(io.StringIO):
        def write(self, s):
            writes.append(len(s))
            return super().write(s)

    out = Out()
    monkeypatch.setattr(sys, "stdout", out)
    cli_errors.emit(iter(pieces))
    assert out.getvalue() == "".join(pieces) + "\n"
    # the first write when 1 MiB is ready: the piece that reaches 1,048,576 characters is the
    # 3,496th (3,495 * 300 = 1,048,500); then batches of about 64 KB, each ending with the piece
    # that reaches 65,536 characters, the 219th (219 * 300 = 65,700): 11 of them for the 2,504
    # pieces left (2,409), the last 95 pieces (28,500), then the final newline
    assert writes == [3496 * 300] + [65_700] * 11 + [95 * 300, 1]
    out2 = Out()
    monkeypatch.setattr(sys, "stdout", out2)
    cli_errors.emit("".join(pieces))
    assert out2.getvalue() == out.getvalue()


def test_streamed_report_is_report_json():
    from flopcount import render
    from flopcount.api import analyze

    rep = analyze("inception-reduced")
    for unit in ("macs", "flops"):
        for collapse in (False, True):
            streamed = "".join(render.report(rep, "json", collapse, unit, stream=True))
            assert streamed == json_text(jsondoc.report_json(rep, collapse, unit))
    both = [rep, analyze("bottleneck-reduced")]
    streamed = "".join(render.compare(both, "json", True, "flops", stream=True))
    assert streamed == json_text(jsondoc.compare_json(both, True, "flops"))
