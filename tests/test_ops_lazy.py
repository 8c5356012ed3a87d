"""Op families load by name (flopcount.ops.FAMILIES): the index matches what each module
registers, a name of a family not yet imported is still refused as a duplicate, and a
report imports only the families its spec uses."""

from __future__ import annotations

import subprocess
import sys

import flopcount.ops as ops
from flopcount.ops import ALIASES, REGISTRY


def test_families_list_exactly_what_each_module_registers():
    # REGISTRY read from the package: every family imported (base.load_all)
    by_module: dict = {}
    for name, op in REGISTRY.items():
        by_module.setdefault(type(op).__module__, []).extend((name, *type(op).aliases))
    assert by_module == {f"flopcount.ops.{m}": list(names) for m, names in ops.FAMILIES.items()}
    assert set(ALIASES) | set(REGISTRY) == {n for names in ops.FAMILIES.values() for n in names}


def _run(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return p.stdout


def test_a_name_of_an_unloaded_family_is_refused_as_a_duplicate():
    # `patchify` is in the `tokens` family, which nothing has imported in the fresh process;
    # the message is register()'s own for a duplicate (base._refuse: "op NAME (MODULE): problem")
    out = _run(
        "import sys\n"
        "from flopcount.ops.base import Op, RegistrationError, register\n"
        "assert 'flopcount.ops.tokens' not in sys.modules\n"
        "class X(Op):\n"
        "    name = 'patchify'\n"
        "    doc = cost_rule = 'x'\n"
        "try:\n"
        "    register(X)\n"
        "except RegistrationError as e:\n"
        "    print(e)\n"
    )
    assert out == "op 'patchify' (__main__): op name 'patchify' registered twice\n"


def test_a_report_imports_only_the_families_it_uses():
    # vgg-D (flopcount/configs): conv, relu, maxpool (M), flatten, fc, dropout
    out = _run(
        "import sys\n"
        "from flopcount.api import analyze\n"
        "analyze('vgg-D')\n"
        "print(sorted(m for m in sys.modules if m.startswith('flopcount.ops.')))\n"
    )
    families = {m.rpartition(".")[2] for m in eval(out)} - {"base", "params"}
    assert families == {"conv", "activation", "pool", "structure", "linear"}
