"""The YAML reader resolves and converts each plain scalar text once per process, for every
read (yamlload._SCALARS, issue 17): a file must read as it reads first in a fresh process,
values, types, positions and errors alike, whatever was read before it."""

from __future__ import annotations

import pytest

from flopcount.errors import SpecError
from flopcount.spec import yamlload
from flopcount.spec.resolve import builtin_files
from flopcount.spec.yamlload import Map, Seq, load_yaml


def _fresh():
    yamlload._SCALARS.clear()
    yamlload._SCALARS_HELD[:] = [0, None, 0]


def _tree(v):
    """Every value with its type and every position, nested."""
    if isinstance(v, Map):
        return ("map", v.pos, [(k, v.kpos[k], v.vpos[k], _tree(x)) for k, x in v.items()])
    if isinstance(v, Seq):
        return ("seq", v.pos, [(p, _tree(x)) for p, x in zip(v.ipos, v)])
    return (type(v), v)


def _read(path, text=None):
    try:
        value, pos = load_yaml(path, text)
    except SpecError as exc:
        return ("error", [(d.pos, d.message, d.hint) for d in exc.diagnostics])
    return (_tree(value), pos)


def test_every_builtin_reads_as_in_a_fresh_process():
    files = builtin_files()
    alone = []
    for path in files:
        _fresh()
        alone.append(_read(path))
    _fresh()
    together = [_read(path) for path in files]  # (each after all the files before it)
    again = [_read(path) for path in reversed(files)][::-1]  # (each after all of them)
    assert together == alone
    assert again == alone


SEEN = "a: 1\nb: yes\nc: 0x1F\nd: 1.5\ne: ~\nf: text\n'<<': x\ng: [1, yes, 0x1F, text, <<]\nlong: " + "x" * 300 + "\n"
AFTER = [
    "a: 1\na: 2\n",  # a key written twice (its text known)
    "<<: {a: 1}\n",  # a merge key (the text known as a value)
    "x:\n  - <<\n  - {<<: 1}\n",
    "b: yes\nf: [text, 0x1F]\nd: !!str 1.5\n",  # a tag on a known text
    "k: 'text'\nl: \"1\"\n",  # quoted: not plain
    "x" * 300 + ": 1\n",  # a key over the name limit, known as a value
    "m: &a text\nn: *a\no: *a\n",
]


@pytest.mark.parametrize("text", AFTER)
def test_a_text_known_from_an_earlier_read_gives_what_a_fresh_read_gives(text):
    _fresh()
    alone = _read("<after>", text)
    _fresh()
    _read("<seen>", SEEN)
    assert _read("<after>", text) == alone


def test_the_cache_is_emptied_past_its_limit(monkeypatch):
    _fresh()
    monkeypatch.setattr(yamlload, "_SCALARS_LIMIT", 10)
    _read("<one>", "alpha: beta\ngamma: delta\n")  # 5 + 4 + 5 + 5 = 19 characters kept
    assert "alpha" in yamlload._SCALARS and yamlload._SCALARS_HELD[0] == 19
    _read("<two>", "x: y\n")  # over 10 before it: emptied first, then x and y kept
    assert set(yamlload._SCALARS) == {"x", "y"} and yamlload._SCALARS_HELD[0] == 2


def test_the_cache_is_emptied_when_the_resolvers_change(monkeypatch):
    _fresh()
    _read("<one>", "a: 1\n")
    assert "a" in yamlload._SCALARS

    class Other(yamlload._Loader):  # (a table of its own, the same resolvers)
        yaml_implicit_resolvers = {k: list(v) for k, v in yamlload._Loader.yaml_implicit_resolvers.items()}

    monkeypatch.setattr(yamlload, "_Loader", Other)
    _read("<two>", "b: 2\n")
    assert "a" not in yamlload._SCALARS and "b" in yamlload._SCALARS
    Other.yaml_implicit_resolvers["z"] = [("tag:yaml.org,2002:int", None)]  # (one more: counted)
    yamlload._scalars()
    assert not yamlload._SCALARS
