"""The report rows' text written straight from their fields (flopcount.render.jsondoc.row_lines,
issue 17) is the text of their mappings: ``json.dumps(row_json(row))`` (the layout of a row
line: ", " and ": ", ASCII escapes), row by row and as a whole document.

The rows are drawn by hypothesis: names and groups of any code point (control characters,
quotes, backslashes, lone surrogates, str subclasses, not str at all), huge and negative ints,
bools, None, floats (-0.0, 1e300, nan, inf) and int subclasses where ints belong, shapes that
are lists, nested, empty or hold non-ints, positions with odd lines, published figures and
roofline points. The fast writer may leave a row to the mapping (None); a line it writes must
be json.dumps's, and the document with it the document without it."""

from __future__ import annotations

import enum
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopcount.errors import Pos
from flopcount.published import Published
from flopcount.render import jsondoc
from flopcount.render.jsonfmt import BATCH, Rows, json_text
from flopcount.report import Row


class Name(str):
    pass


class Count(enum.IntEnum):
    THREE = 3


#: every code point, lone surrogates too (the escaper writes them as \udxxx, as json does)
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
control_text = st.text(st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\ud800", "é", "𝔘"]))
names = st.one_of(
    any_text,
    control_text,
    any_text.map(Name),
    st.sampled_from(["conv1", "block.1.add", ""]),
    st.sampled_from([None, 7, b"x"]),
)
plain_ints = st.one_of(st.integers(-(10**6), 10**9), st.integers(-(10**300), 10**300), st.just(2**63))
odd_numbers = st.sampled_from(
    [True, False, None, -0.0, 0.0, 1e300, -1e300, 1.5, math.nan, math.inf, -math.inf, Count.THREE]
)
ints = st.one_of(plain_ints, plain_ints, plain_ints, odd_numbers)
dims = st.one_of(st.integers(0, 4096), st.integers(-(10**40), 10**40), odd_numbers)
shapes = st.one_of(
    st.tuples(st.integers(1, 512), st.integers(1, 64), st.integers(1, 64)),
    st.lists(dims, max_size=4).map(tuple),
    st.lists(dims, max_size=3),  # a list: written as json writes it, never kept
    st.lists(st.lists(st.integers(1, 9), max_size=2).map(tuple), min_size=1, max_size=2).map(tuple),  # nested
    st.lists(st.lists(st.integers(1, 9), max_size=2), min_size=1, max_size=2).map(tuple),
)
positions = st.one_of(
    st.none(),
    st.builds(
        Pos, st.just("net.yaml"), st.one_of(st.integers(1, 10**6), st.integers(-5, 10**30), odd_numbers), st.just(3)
    ),
)
published = st.one_of(st.none(), st.none(), st.builds(Published), st.builds(Published, source=st.just("paper")))
roofs = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.builds(
        SimpleNamespace,
        bytes=st.integers(0, 10**9),
        intensity=st.floats(),
        bound=st.just("memory"),
        floor_ms=st.floats(),
    ),
)


@st.composite
def row_lists(draw):
    """Rows whose shapes and costs are often the very same objects (as the walk's memo makes
    them: the kept texts), sometimes equal values of other types (True beside 1)."""
    pool = draw(st.lists(shapes, min_size=1, max_size=4))
    costs = draw(st.lists(st.tuples(ints, ints, ints, ints), min_size=1, max_size=4))
    ops = draw(st.lists(st.one_of(st.sampled_from(["conv", "add", "maxpool"]), names), min_size=1, max_size=3))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        params, macs, n_ops, buffers = draw(st.sampled_from(costs))
        rows.append(
            Row(
                draw(names),
                draw(st.sampled_from(ops)),
                draw(st.sampled_from(pool)),
                params,
                macs,
                n_ops,
                buffers,
                group=draw(st.one_of(st.none(), names)),
                pos=draw(positions),
                published=draw(published),
                roof=draw(roofs),
            )
        )
    return rows


def make_of(flops: bool):
    """The mapping report_doc makes for a row (with --unit flops, a layer's added ``flops``)."""

    def make(r):
        out = jsondoc.row_json(r)
        if flops:
            out["flops"] = 2 * out["macs"]
        return out

    return make


def dumps_or_error(make, row):
    """json.dumps of the row's mapping, or the type of what making or writing it raised."""
    try:
        return json.dumps(make(row))
    except (TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=row_lists(), flops=st.booleans(), kept=st.sampled_from([1, 2, 4096]))
def test_a_row_line_is_json_dumps_of_the_row_mapping(rows, flops, kept):
    make = make_of(flops)
    want = [dumps_or_error(make, r) for r in rows]
    saved = jsondoc._KEPT
    jsondoc._KEPT = kept  # 1 and 2: the kept texts start again within a batch
    try:
        lines = jsondoc.row_lines(flops)
        try:
            got = lines(rows)
        except (TypeError, ValueError) as exc:  # what json.dumps raises too, for one of the rows
            assert type(exc) in want
            return
        assert len(got) == len(rows)
        for text, expected in zip(got, want):
            if text is not None:
                assert text == expected
        # the document: Rows with the fast writer, with a batch of one, and plain lists
        doc = {"layers": Rows(rows, make, lines), "n": 1}
        try:
            expected_text = json_text({"layers": [make(r) for r in rows], "n": 1})
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                json_text(doc)
            return
        assert json_text(doc) == expected_text
        assert json_text({"layers": Rows(rows, make, lambda batch: [None] * len(batch)), "n": 1}) == expected_text
    finally:
        jsondoc._KEPT = saved


def test_plain_rows_are_written_by_the_fast_writer():
    # the rows of a real report take the fast path (no None): every layer of a built-in net,
    # names with quotes, control characters and non-ASCII too
    from flopcount.api import analyze

    rep = analyze("inception-reduced")
    for flops in (False, True):
        got = jsondoc.row_lines(flops)(rep.rows)
        assert None not in got
        assert got == [json.dumps(make_of(flops)(r)) for r in rep.rows]
    odd = Row('a "b"\\\n\x01é𝔘\ud800', "conv", (3, 4), 10**300, -(2**70), 0, 5, group="g\t", pos=Pos("f", 9, 1))
    assert jsondoc.row_lines()([odd]) == [json.dumps(jsondoc.row_json(odd))]


def test_an_unusual_row_is_left_to_its_mapping():
    # each of these would be written wrongly by str() or the kept texts: the writer says None
    base = dict(name="n", op="conv", output=(1, 2), params=1, macs=2, ops=3, buffers=4)
    lines = jsondoc.row_lines()
    assert lines([Row(**base)]) == [
        '{"name": "n", "op": "conv", "output": [1, 2], "params": 1, "macs": 2, "ops": 3, "buffers": 4}'
    ]
    for field, value in [
        ("params", True),  # json: true, str: True; equal to 1 (the kept key of the row above)
        ("macs", 2.0),
        ("ops", None),
        ("buffers", Count.THREE),
        ("output", [1, 2]),
        ("output", (True, 2)),
        ("output", ((1,), 2)),
        ("op", Name("conv")),
    ]:
        row = Row(**{**base, field: value})
        assert lines([row]) == [None], field
        assert json_text({"l": Rows([row], jsondoc.row_json, lines)}) == json_text({"l": [jsondoc.row_json(row)]})
    for extra in [dict(pos=Pos("f", True, 1)), dict(pos=Pos("f", None, 1)), dict(published=Published(source="x"))]:
        assert lines([Row(**base, **extra)]) == [None], extra
    # a name or group that is not a str: the batch is written row by row, the others still fast
    batch = [Row(**base), Row(**{**base, "name": 5}), Row(**base, group=b"g")]
    got = lines(batch)
    assert got[1:] == [None, None] and got[0] == json.dumps(jsondoc.row_json(batch[0]))


def test_batches_of_a_long_list_are_one_document():
    # more rows than a batch: pieces of BATCH rows, the separators between them as within them
    rows = [Row(f"r{i}", "conv", (i % 3, 2), i, 2 * i, 0, 0, pos=Pos("f", i, 1)) for i in range(2 * BATCH + 7)]
    rows[BATCH] = Row("odd", "conv", (1,), 1.5, 0, 0, 0)  # one left to its mapping, at a batch's start
    doc = {"layers": Rows(rows, jsondoc.row_json, jsondoc.row_lines())}
    assert json_text(doc) == json_text({"layers": [jsondoc.row_json(r) for r in rows]})


def test_digits_beyond_the_int_limit_raise_as_json_does():
    # Python refuses to write an int of more than 4,300 digits (sys.set_int_max_str_digits):
    # json.dumps raises ValueError, and so does the document with the fast writer
    row = Row("big", "conv", (1,), 10**5000, 0, 0, 0)
    with pytest.raises(ValueError):
        json.dumps(jsondoc.row_json(row))
    with pytest.raises(ValueError):
        json_text({"layers": Rows([row], jsondoc.row_json, jsondoc.row_lines())})
