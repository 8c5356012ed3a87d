"""The table writer of flopcount.render.text (plain_table) against rich itself.

``rich_text(..., fast_rows=None)`` renders every table with rich (the reference: what
flopcount printed before the direct writer); the default renders each table that fits
without rich. The two must be the same bytes, for every built-in config and every option
that reaches the table writer: widths 80 / 120 / natural (piped), ``--collapse``,
``--device-profile`` columns, ``--columns``, ``--depth``, ``--top``, compare and list
tables, and the ASCII boxes drawn where standard output cannot encode box drawing.
Random tables, titles and notes (hypothesis) cover the wrapping and padding rules.
"""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount.render import text as text_mod
from flopcount.render.model import Column, Table
from flopcount.render.text import rich_text, wrap_like_rich


@functools.cache
def _catalog():
    from flopcount.catalog import builtin_configs

    return builtin_configs()


NAMES = [r["name"] for r in _catalog()]


@functools.cache
def _report(name, profile=None):
    from flopcount.api import analyze

    r = analyze(name)
    if profile:
        from flopcount.profiles import load_profile
        from flopcount.roofline import annotate

        annotate(r, load_profile(profile), "fp32")
    return r


def _same(tables, width, ascii_only=False, direct_expected=None, monkeypatch=None):
    """Render with rich and with the direct writer; the bytes must be equal. Returns how many
    tables the direct writer wrote."""
    slow = rich_text(tables, width=width, fast_rows=None, ascii_only=ascii_only)
    calls = []
    real = text_mod.plain_table

    def spy(*a, **k):
        out = real(*a, **k)
        calls.append(out is not None)
        return out

    text_mod.plain_table = spy
    try:
        fast = rich_text(tables, width=width, ascii_only=ascii_only)
    finally:
        text_mod.plain_table = real
    assert fast == slow
    if direct_expected is not None:
        assert sum(calls) == direct_expected
    return sum(calls)


def _ascii_text(tables) -> bool:
    return all(
        (t.title or "").isascii() and all(n.isascii() for n in t.notes) and all(c.header.isascii() for c in t.columns)
        for t in tables
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_default_table_equals_rich(name):
    from flopcount.render.views import report_tables

    tables = report_tables(_report(name))
    # natural width (piped output): nothing folds, so the direct writer takes every table
    # whose text is ASCII (all built-ins' are: checked here, so a non-ASCII one is noticed)
    assert _ascii_text(tables)
    _same(tables, None, direct_expected=len(tables))
    _same(tables, 120)
    _same(tables, 80)
    _same(tables, None, ascii_only=True, direct_expected=len(tables))


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_collapsed_and_profiled_equals_rich(name):
    from flopcount.render.views import report_tables

    _same(report_tables(_report(name), collapse=True), None)
    profiled = report_tables(_report(name, "h100"))
    _same(profiled, None, direct_expected=len(profiled))
    _same(profiled, 120)


@pytest.mark.parametrize("name", ["vgg-D", "resnet-50", "efficientnet-b7", "googlenet", "inception-reduced"])
@pytest.mark.parametrize("width", [None, 80, 120])
def test_more_options_equal_rich(name, width):
    from flopcount.render.views import compare_tables, report_tables

    r = _report(name)
    _same(report_tables(r, columns=("input", "kernel", "trainable", "act_bytes")), width)
    _same(report_tables(r, depth=2), width)
    _same(report_tables(r, top=5, unit="flops"), width)
    _same(report_tables(r, total_row=False), width)
    _same(report_tables(r, collapse=True), width, ascii_only=True)
    _same(compare_tables([r, _report("resnet-101")]), width)


@pytest.mark.parametrize("width", [None, 80, 120, 250])
def test_list_table_equals_rich(width):
    from flopcount.render.views import catalog_tables

    _same(catalog_tables(_catalog()), width)


def test_default_table_imports_no_rich_table():
    # the speed claim of issue 17: the default (piped) table of these models is written
    # without importing rich's console or table modules
    code = (
        "import sys\nfrom flopcount.cli import main\n"
        "try:\n    main(['report', sys.argv[1]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('rich.'))\n"
        "sys.stderr.write(repr(loaded))\nsys.exit(1 if loaded else 0)\n"
    )
    for name in ("vgg-D", "resnet-50", "efficientnet-b7"):
        p = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, env=dict(os.environ))
        assert p.returncode == 0, p.stderr[-2000:]


# --- random tables, titles and notes ------------------------------------------------------

_chars = st.sampled_from(list("ab xyz:-.,[]/019_") + ["  ", "word", "longerword"])
_text = st.lists(_chars, max_size=12).map("".join)


def _rich_print(s: str, width: int) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, highlight=False, soft_wrap=False, emoji=False).print(
        s, overflow="fold", markup=False
    )
    return buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.lists(_chars, max_size=40).map("".join), st.integers(1, 30))
def test_wrap_equals_rich_print(s, width):
    assert "\n".join(wrap_like_rich(s, width)) + "\n" == _rich_print(s, width)


@settings(max_examples=150, deadline=None)
@given(
    title=_text,
    headers=st.lists(st.tuples(_text, st.sampled_from(["text", "int", "pct"])), min_size=1, max_size=4),
    nrows=st.integers(0, 4),
    cells=st.lists(_text, min_size=16, max_size=16),
    total=st.booleans(),
    notes=st.lists(st.lists(_chars, max_size=40).map("".join), max_size=2),
    width=st.one_of(st.none(), st.integers(10, 60)),
    ascii_only=st.booleans(),
)
def test_random_tables_equal_rich(title, headers, nrows, cells, total, notes, width, ascii_only):
    cols = [Column(h or "h", f"k{i}", kind) for i, (h, kind) in enumerate(headers)]

    def value(kind, k):
        c = cells[k % len(cells)]
        return len(c) * 997 if kind == "int" else (len(c) / 7 if kind == "pct" else c)

    rows = [{c.key: value(c.kind, i * 4 + j) for j, c in enumerate(cols)} for i in range(nrows)]
    tot = {c.key: value(c.kind, 15 - j) for j, c in enumerate(cols)} if total else None
    t = Table(title, cols, rows, tot, notes)
    import re

    # piped (natural width): the direct writer takes it, unless a note holds an emoji code
    plain = width is None and not any(re.search(r":\S*?:", n) for n in notes)
    _same([t], width, ascii_only=ascii_only, direct_expected=1 if plain else None)


# --- issue 17's check item (kept here with the other speed checks of M1's part) -----------


def test_check_reads_each_spec_file_once(monkeypatch):
    # costs.lock.json has 55 entries from 16 built-in files (variants share one): `check`
    # used to read and parse a file once per entry (71 reads); now once per process
    from flopcount.baseline.check import check
    from flopcount.spec import document

    seen = []
    real = document.load_yaml

    def counting(path, *a, **k):
        seen.append(os.path.realpath(path))
        return real(path, *a, **k)

    monkeypatch.setattr(document, "load_yaml", counting)
    lock = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "costs.lock.json")
    result = check(lock)
    assert result.changes == [] and result.models >= 55
    assert len(seen) == len(set(seen)), sorted(p for p in set(seen) if seen.count(p) > 1)
    assert document._ONCE == []  # the cache lives only inside one check: nothing stale later
