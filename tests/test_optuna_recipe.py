"""docs/optuna.md: the recipe's first code block runs as written and its answer holds.

The block's trials are checked against the full path (`flopcount.analyze` and
`flopcount.roofline.annotate`, which build report rows): the best feasible trial's MACs, params
and floor are what the report gives at its width, depth and input, and within the budgets.
"""

import os
import re

import pytest

import flopcount
from flopcount.profiles import load_profile
from flopcount.roofline import annotate

optuna = pytest.importorskip(
    "optuna", minversion="5", reason="optuna 5 or newer is not installed (pip install optuna): the recipe is not run"
)

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "optuna.md")


def blocks() -> list:
    return re.findall(r"```python\n(.*?)```", open(DOC).read(), re.S)


def test_recipe_runs_and_its_best_trial_holds(capsys):
    scope: dict = {"N_TRIALS": 40}
    exec(compile(blocks()[0], DOC, "exec"), scope)
    study, best = scope["study"], scope["best"]
    assert len(study.trials) == 40
    assert best.user_attrs["macs"] <= scope["MAX_MACS"] and best.user_attrs["floor_ms"] <= scope["MAX_FLOOR_MS"]
    p = best.params
    r = flopcount.analyze("efficientnet-b0", input=p["input"], sets={"width": p["width"], "depth": p["depth"]})
    annotate(r, load_profile("h100"), "bf16")
    assert (best.user_attrs["macs"], best.user_attrs["params"]) == (r.totals["macs"], r.totals["params"])
    assert best.user_attrs["floor_ms"] == r.roof_total.floor_ms
    assert best.value == r.totals["params"]  # score() is params
    # the constraints bind: some trial was infeasible (wider or larger than the budgets allow)
    assert all(v <= 0 for v in best.constraints.values())
    assert any(any(v > 0 for v in t.constraints.values()) for t in study.trials)
    assert str(best.params) in capsys.readouterr().out


def test_pareto_block_runs():
    scope: dict = {}
    exec(compile(blocks()[0].split("optuna.logging")[0], DOC, "exec"), scope)  # the imports
    exec(compile(blocks()[1], DOC, "exec"), scope)
    front = scope["front"]
    assert front and all(len(t.values) == 2 for t in front)
