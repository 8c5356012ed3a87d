"""Pos, Diagnostic and Figure are records written out as tuple classes (issue 17: a
typing.NamedTuple costs about 0.68 M instructions to define at import, these about 0.12 M);
they behave as the NamedTuples they replace did."""

import copy
import pickle

import pytest

from flopcount.errors import Diagnostic, Pos, SpecError
from flopcount.units import Figure, parse_figure

RECORDS = [
    (Pos("net.yaml", 3, 7), ("file", "line", "col", "raw"), ("net.yaml", 3, 7, None)),  # raw defaults to None
    (Pos("net.yaml", 3, 7, "conv3-64"), ("file", "line", "col", "raw"), ("net.yaml", 3, 7, "conv3-64")),
    (Diagnostic(None, "bad"), ("pos", "message", "hint"), (None, "bad", None)),  # hint defaults to None
    (Diagnostic(Pos("a", 1, 2), "bad", "fix"), ("pos", "message", "hint"), (("a", 1, 2, None), "bad", "fix")),
    (Figure("1.8G", 18, 1, 10**9), ("text", "digits", "decimals", "scale"), ("1.8G", 18, 1, 10**9)),
]


@pytest.mark.parametrize("record,fields,values", RECORDS)
def test_a_record_is_the_tuple_of_its_fields(record, fields, values):
    assert type(record)._fields == fields
    assert record == values and hash(record) == hash(values) and isinstance(record, tuple)
    assert tuple(getattr(record, name) for name in fields) == values
    assert list(record) == list(values) and len(record) == len(fields)
    shown = ", ".join(f"{k}={v!r}" for k, v in zip(fields, record))
    assert repr(record) == f"{type(record).__name__}({shown})"  # as a NamedTuple's repr
    for again in (pickle.loads(pickle.dumps(record)), copy.copy(record), copy.deepcopy(record)):
        assert again == record and type(again) is type(record)
    with pytest.raises(AttributeError):
        record.extra = 1  # no __dict__: immutable as a NamedTuple
    with pytest.raises(AttributeError):
        setattr(record, fields[0], None)


def test_records_keep_their_methods():
    assert str(Pos("net.yaml", 3, 7)) == "net.yaml:3:7"
    d = Diagnostic(Pos("net.yaml", 3, 7), "`k` must be positive, got 0", "write a positive `k`")
    assert d.format() == "net.yaml:3:7: error: `k` must be positive, got 0\n    fix: write a positive `k`"
    assert SpecError([d]).diagnostics == [d]
    f = parse_figure("2.7K")
    assert f == Figure("2.7K", 27, 1, 10**3) and f.value == 2700  # 27 * 10**3 / 10**1
    assert f.compare(2700) == "exact" and f.compare(2749) == "rounded" and f.compare(2750) == "differs"
    with pytest.raises(TypeError):
        Pos("net.yaml", 3)  # col is required, as it was
