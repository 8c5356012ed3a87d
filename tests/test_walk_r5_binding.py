"""flopcount.catalog reads a model's own input from the expansion's binding (issue 17: one bind
per expansion, not two): Binding.own_shape must be what a bind without --input gives, for every
built-in model and for an input written with `$` variables, and the figures' note must stay."""

from __future__ import annotations

import os

from flopcount.catalog import load_graph
from flopcount.spec.binding import bind
from flopcount.spec.document import read_spec
from flopcount.spec.resolve import builtin_files


def test_own_shape_is_the_shape_bind_gives_without_an_input():
    seen = 0
    for path in builtin_files():
        spec = read_spec(path)
        for v in spec.variant_names() or [None]:
            plain = bind(spec, v, None, None, None).shape
            assert bind(spec, v, (3, 64, 64), None, None).own_shape() == plain
            assert bind(spec, v, (None, 64, 64), 2, None).own_shape() == plain
            seen += 1
    assert seen >= 55  # (every built-in model: the lock file's 55)


def test_an_input_of_variables_and_the_note_it_gives(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        "flopcount: 1\nvars: {res: 32}\ninput: [3, $res, '${res // 2}']\n"
        "variants: {big: {res: 64}}\nlayers: [conv3-8]\n"
    )
    spec = read_spec(str(path))
    assert bind(spec, "big", (3, 8, 8), None, None).own_shape() == (3, 64, 32)
    assert bind(spec, None, (3, 8, 8), None, None).own_shape() == (3, 32, 16)
    target = f"{os.fspath(path)}:big"
    assert load_graph(target, (3, 64, 32)).not_as_published == []  # (the variant's own input)
    assert load_graph(target, (3, 8, 8)).not_as_published == ["input changed (3x8x8; the figures are for 3x64x32)"]
