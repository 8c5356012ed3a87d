"""`flopcount check`'s one-line verdict counts the models it checked: the baseline's, and under
`scope: all-builtins` the built-ins added since it was written (once "55 changes in 55 of 0
models" for a baseline whose `models` list was empty)."""

import json
import os

from flopcount.spec.resolve import builtin_names

from conftest import run

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = os.path.join(HERE, "..", "costs.lock.json")


def _lock_without(tmp_path, drop) -> str:
    """The committed baseline with the models named in ``drop`` taken out, as a stranger's edit."""
    with open(LOCK) as f:
        doc = json.load(f)
    doc["models"] = [m for m in doc["models"] if m["name"] not in drop]
    path = tmp_path / "costs.lock.json"
    path.write_text(json.dumps(doc, indent=1))
    return str(path)


def test_an_empty_baseline_of_all_builtins_counts_every_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _lock_without(tmp_path, set(builtin_names()))
    n = len(builtin_names())  # every built-in is a new model: one change each
    r = run("flopcount check costs.lock.json")
    assert r.code == 1
    first = r.out.splitlines()[0]
    assert first == (
        f"flopcount check FAILED: {n} changes in {n} of {n} models; {n} built-in models not in "
        "costs.lock.json: `flopcount check costs.lock.json --update` adds them"
    )


def test_one_builtin_missing_from_the_baseline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _lock_without(tmp_path, {"vgg-D"})
    n = len(builtin_names())  # n - 1 in the file, vgg-D new: n models checked
    r = run("flopcount check costs.lock.json")
    assert r.code == 1
    assert r.out.splitlines()[0] == (
        f"flopcount check FAILED: 1 change in 1 of {n} models; 1 built-in model not in "
        "costs.lock.json: `flopcount check costs.lock.json --update` adds it"
    )
    # --update adds it, and the file then checks clean
    r = run("flopcount check costs.lock.json --update")
    assert r.code == 0, r.out
    r = run("flopcount check costs.lock.json")
    assert r.code == 0 and r.out.startswith(f"flopcount check ok: {n} models match costs.lock.json exactly")
    # the JSON verdict keeps its meaning: `models` is the number of models the baseline holds
    _lock_without(tmp_path, {"vgg-D"})
    doc = run("flopcount check costs.lock.json --format json").json()
    assert doc["models"] == n - 1 and [c["kind"] for c in doc["changes"]] == ["new model"]
