"""`flopcount check` makes a model's new entry from its graph's nodes (check._entry_of_graph),
and its report only where something moved (issue 17): the entry and the sums budgets read must
be the ones ``entry_of(report_of(graph))`` and ``report.sums()`` give, and a whole check the
result the report path gives, changes, positions and budgets included.

The scratch spec NET (input 3x16x16, batch 2; convs with bias, 3x3, padding auto = 1):
  stem  conv 3->8 on 16x16:   params 3*9*8 + 8 = 224,     MACs per sample 8*16*16 * 3*9 = 55,296
  aux   (side, training-only) gap, flatten, fc 8->10: params 8*10 + 10 = 90, MACs 80
  body  conv 8->8 on 16x16:   params 8*9*8 + 8 = 584,     MACs per sample 8*16*16 * 8*9 = 147,456
  main path: params 224 + 584 = 808; MACs per sample 55,296 + 147,456 = 202,752,
  at batch 2 405,504 (the training-only rows are listed after the others, in no total)
"""

from __future__ import annotations

import importlib

import pytest

from flopcount import baseline as lock
from flopcount.api import load_graph, report_of
from flopcount.baseline.format import entry_of
from flopcount.spec.resolve import builtin_names

check_mod = importlib.import_module("flopcount.baseline.check")  # (the package's `check` is the function)

NET = """\
flopcount: 1
name: net
input: [3, 16, 16]
batch: 2
budget: {params: 800}
layers:
  - {op: conv, c: 8, name: stem}
  - op: side
    name: aux
    layers: [gap, flatten, {op: fc, c: 10, name: head}]
  - {op: conv, c: 8, name: body}
  - relu
variants:
  a: {description: the first}
  b: {description: the second}
"""


def _slow(graph, builtin, folder, pinned, budget):
    """What check did before: the report, its entry, its sums."""
    report = report_of(graph)
    sums = report.sums()
    return entry_of(report, builtin, folder, pinned, budget), sums.params, sums.sample_macs


@pytest.mark.parametrize("batch", [None, 3])
def test_every_builtin_entry_is_the_reports(batch):
    pinned, budget = {"input": [3, 224, 224]}, {"macs": "1G"}
    for name in builtin_names():
        g = load_graph(name, None, batch)
        fast = check_mod._entry_of_graph(g, True, "/tmp", pinned, budget)
        assert fast == _slow(g, True, "/tmp", pinned, budget), name


def test_a_spec_with_training_only_rows_and_a_batch(tmp_path):
    (tmp_path / "net.yaml").write_text(NET)
    for target in (f"{tmp_path / 'net.yaml'}:a", f"{tmp_path / 'net.yaml'}:b"):
        g = load_graph(target)
        new, params, sample_macs = check_mod._entry_of_graph(g, False, str(tmp_path), {}, {})
        assert (new, params, sample_macs) == _slow(g, False, str(tmp_path), {}, {})
        assert (params, sample_macs) == (808, 202_752)
        assert new.totals == {"params": 808, "macs": 405_504}
        assert [r["name"] for r in new.layers][-3:] == ["aux.gap1", "aux.flatten1", "aux.head"]
        assert new.layers[-1] == {"name": "aux.head", "params": 90, "macs": 160, "train_only": True}
        assert new.spec == "net.yaml" and new.builtin is None


def test_a_check_that_finds_changes_is_the_report_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (tmp_path / "net.yaml").write_text(NET)
    path = str(tmp_path / "costs.lock.json")
    lock.snapshot(["net.yaml:a", "net.yaml:b", "vgg-A"], path)
    (tmp_path / "net.yaml").write_text(NET.replace("c: 8, name: body", "c: 16, name: body"))
    fast = lock.check(path)
    monkeypatch.setattr(check_mod, "_entry_of_graph", _slow)
    slow = lock.check(path)
    assert fast == slow
    # body 8->16: params 8*9*16 + 16 = 1,168 (+584), MACs 16*16*16 * 8*9 = 294,912 a sample,
    # 589,824 at batch 2; totals 224 + 1,168 = 1,392 params (over the spec's budget of 800, as
    # 808 was), (55,296 + 294,912) * 2 = 700,416 MACs; the side output's fc reads stem's 8
    # channels: unchanged
    moved = {(c.model, c.layer, c.field): (c.old, c.new) for c in fast.changes}
    assert moved == {
        (model, layer, field): change
        for model in ("net-a", "net-b")
        for layer, field, change in (
            ("(total)", "params", (808, 1392)),
            ("(total)", "macs", (405_504, 700_416)),
            ("body", "params", (584, 1168)),
            ("body", "macs", (294_912, 589_824)),
        )
    }
    assert {c.pos.line for c in fast.changes if c.layer == "body"} == {11}  # (from the report's rows)
    assert [(o.model, o.field, o.actual, o.pos.line) for o in fast.overruns] == [
        ("net-a", "params", 1392, 5),
        ("net-b", "params", 1392, 5),
    ]
