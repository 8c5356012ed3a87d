"""Start-up of the command line (issue 17): a run builds only the command it runs and imports
only what that command needs; the output is the same as when everything is built."""

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flopcount.catalog import _builtin
from flopcount.importers import find_kind
from flopcount.spec.resolve import builtin_names

#: modules the default table of a built-in config has no use for (each measured in callgrind:
#: the importers and their kinds ~25 M instructions, fractions ~10 M, json ~5 M of ~410 M)
NOT_FOR_A_TABLE = (
    "flopcount.importers",
    "flopcount.baseline",
    "flopcount.sweep",
    "flopcount.latency",
    "flopcount.plot",
    "flopcount.notebook",
    "flopcount.crosscheck",
    "flopcount.torch_build",
    "fractions",
    "decimal",
    "json",
    "jsonschema",
    "torch",
    "flopcount.fastcost",  # flopcount.cost's (api: on first use; 0.8 M instructions)
    "flopcount.render.measured",  # only a measured report with a roofline asks where (0.4 M)
)
#: what `check` of a lock file of built-ins has no use for: the torch side, the other commands'
#: modules, the table writers (an ok check prints one line)
NOT_FOR_A_CHECK = (
    "flopcount.importers",
    "flopcount.sweep",
    "flopcount.latency",
    "flopcount.plot",
    "flopcount.notebook",
    "flopcount.crosscheck",
    "flopcount.torch_build",
    "flopcount.fastcost",
    "flopcount.records",
    "flopcount.render.views",
    "flopcount.render.text",
    "rich",
    "jsonschema",
    "torch",
    "fvcore",
    "onnx",
)
LOCK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "costs.lock.json")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=dict(os.environ))


def test_default_table_builds_one_command_and_imports_only_its_modules():
    code = (
        "import sys\nfrom flopcount.cli import main\n"
        "try:\n    main(['report', sys.argv[1]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"bad = sorted(m for m in {NOT_FOR_A_TABLE!r} if m in sys.modules)\n"
        "sys.stderr.write(repr((bad, sorted(main.commands))))\n"
        "sys.exit(bool(bad) or sorted(main.commands) != ['report'])\n"
    )
    for name in ("vgg-D", "resnet-50"):
        p = _python(code, name)
        assert p.returncode == 0, p.stderr[-2000:]
        assert p.stdout.startswith(f"{name}: ") and "total" in p.stdout, p.stdout[:300]  # the table was written


def test_check_imports_only_what_a_check_needs():
    code = (
        "import sys\nfrom flopcount.cli import main\n"
        "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"bad = sorted(m for m in {NOT_FOR_A_CHECK!r} if m in sys.modules)\n"
        "sys.stderr.write(repr((bad, sorted(main.commands))))\n"
        "sys.exit(bool(bad) or sorted(main.commands) != ['check'])\n"
    )
    p = _python(code, LOCK)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("flopcount check ok: ") and "models match" in p.stdout, p.stdout[:300]


def test_json_report_writes_without_the_json_package():
    # render.jsonfmt takes the C encoder from _json: the json package (its decoder and encoder
    # compile patterns at import, 5 M instructions) is for reading JSON
    code = (
        "import sys\nfrom flopcount.cli import main\n"
        "try:\n    main(['report', 'resnet-50', '--format', 'json'])\nexcept SystemExit as e:\n    assert not e.code\n"
        "bad = sorted(m for m in ('json', 'json.encoder', 'json.decoder', *NOT) if m in sys.modules)\n"
        "sys.stderr.write(repr(bad))\nsys.exit(bool(bad))\n"
    ).replace("*NOT", repr(NOT_FOR_A_TABLE)[1:-1])
    p = _python(code)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout)["model"] == "resnet-50"


def test_cost_is_the_api_s_on_first_use():
    p = _python(
        "import sys, flopcount, flopcount.api as api\n"
        "assert 'flopcount.fastcost' not in sys.modules\n"
        "from flopcount.api import cost\n"
        "from flopcount.fastcost import cost as fast\n"
        "assert cost is fast and flopcount.cost is fast and api.cost is fast and 'cost' in api.__all__\n"
        "try:\n    api.no_such_name\nexcept AttributeError as e:\n    assert 'no_such_name' in str(e)\n"
        "else:\n    sys.exit('no AttributeError')\n"
    )
    assert p.returncode == 0, p.stderr[-2000:]


def test_help_lists_the_same_commands_built_lazily_or_all_at_once():
    # lazily: --help builds each command to list it; at once: every builder run first
    lazy = "from flopcount.cli import main\nmain(['--help'])\n"
    eager = "from flopcount.cli import BUILDERS, main\nfor n in BUILDERS:\n    main.get_command(None, n)\nmain(['--help'])\n"
    a, b = _python(lazy), _python(eager)
    assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout
    for name in ("report", "compare", "check", "sweep", "import", "list", "ops", "plot", "snapshot", "verify"):
        assert f"  {name} " in a.stdout, name


def test_a_command_is_built_once():
    from flopcount.cli import main

    ctx = click.Context(main)
    first = main.get_command(ctx, "ops")
    assert first is not None and main.get_command(ctx, "ops") is first
    assert main.get_command(ctx, "no-such-command") is None


def test_builtin_names_are_never_imported_targets():
    # catalog._builtin takes a built-in name without asking the importers: sound only while no
    # built-in name is a target some importer kind recognises
    names = builtin_names()
    assert len(names) > 30  # every file and variant of flopcount/configs
    for name in names:
        assert find_kind(name) is None, name
        t = _builtin(name)
        assert t is not None and t.builtin, name
    for target in ("torchvision:resnet50", "timm:resnet50", "my_pkg.models:build_net", "net.onnx", "x/net.yaml"):
        assert _builtin(target) is None, target


# the pattern parse_figure used before it was written with string methods (a compiled pattern
# costs start-up time in every run); it also took `Ti`, for which SCALES has no entry (exit 5)
_OLD_FIGURE = re.compile(r"^\s*([0-9]+)(?:\.([0-9]+))?\s*([KMGT]i?)?\s*$")


def _old_parts(text: str):
    m = _OLD_FIGURE.match(text)
    if not m or m.group(3) == "Ti":
        return None
    return m.group(1), m.group(2) or "", m.group(3) or ""


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.KMGTi \t\n\u00a0\u0663xe-")), max_size=12))
def test_figure_parts_as_the_pattern_read_them(text):
    from flopcount.units import _figure_parts

    assert _figure_parts(text) == _old_parts(text)


def test_figures_parse_exactly():
    from flopcount.units import parse_figure

    assert parse_figure("358M") == ("358M", 358, 0, 10**6)
    assert parse_figure(" 2.7 K ") == ("2.7 K", 27, 1, 10**3)  # 2.7 * 10**3: digits 27, one decimal
    assert parse_figure("159Ki") == ("159Ki", 159, 0, 2**10)
    for bad in ("1Ti", "1.", ".5", "K", "1e3", "\u0663M", "2 .7M"):  # \u0663: an Arabic-Indic 3
        with pytest.raises(ValueError, match="is not a figure"):
            parse_figure(bad)


def test_only_the_program_freezes_its_objects_at_the_end():
    # `main()` as the console script calls it (arguments from sys.argv) freezes every object out of
    # the exit-time collections; `main([...])`, as a notebook or a test calls it, leaves gc alone
    program = _python(
        "import gc, sys\nfrom flopcount.cli import main\nsys.argv = ['flopcount', 'ops', 'conv']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint(gc.get_freeze_count())\n"
    )
    called = _python(
        "import gc\nfrom flopcount.cli import main\n"
        "try:\n    main(['ops', 'conv'])\nexcept SystemExit:\n    pass\nprint(gc.get_freeze_count())\n"
    )
    assert program.returncode == called.returncode == 0, (program.stderr, called.stderr)
    assert int(program.stdout.split()[-1]) > 1000 and program.stdout.startswith("conv")
    assert int(called.stdout.split()[-1]) == 0


def test_help_option_is_clicks_with_its_text_given(cli):
    r = cli("flopcount report -h")
    assert r.code == 0 and r.out.startswith("Usage: ") and "  -h, --help  " in r.out
    assert "Show this message and exit." in r.out
    r = cli("flopcount report vgg-D --bogus")
    assert r.code == 2 and re.search(r"report (-h|--help)' for help\.", r.err)  # click finds the option for its hint
    assert cli("flopcount -h").code == 0


@pytest.mark.skipif(
    tuple(int(x) for x in version("click").split(".")[:2]) < (8, 5), reason="older clicks call gettext elsewhere too"
)
def test_default_table_looks_up_no_translation():
    # the help option's text was looked up in gettext's catalogs, which imports `locale`
    code = (
        "import gettext, sys\ncalls = []\ngettext.dgettext = lambda d, m: calls.append(m) or m\n"
        "from flopcount.cli import main\n"
        "try:\n    main(['report', 'vgg-D'])\nexcept SystemExit as e:\n    assert not e.code\n"
        "sys.exit(repr(calls) if calls or 'locale' in sys.modules else 0)\n"
    )
    p = _python(code)
    assert p.returncode == 0, p.stderr[-2000:]


def test_the_program_runs_with_the_collector_off_and_a_sweep_turns_it_on():
    # flopcount.entry.run (the console script, `python -m flopcount`): the collector is off from
    # before the first import to the end, and start-up's objects are frozen; `sweep` turns it on
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('enabled', gc.isenabled(), 'frozen', gc.get_freeze_count() > 1000))\n"
        "sys.argv = ['flopcount'] + sys.argv[1:]\n"
        "from flopcount.entry import run\n"
        "run()\n"
    )
    report = _python(probe, "report", "vgg-D", "--format", "json")
    sweep = _python(probe, "sweep", "vgg-D", "--set", "input=32,64", "--format", "csv")
    assert report.returncode == sweep.returncode == 0, (report.stderr, sweep.stderr)
    assert report.stdout.rstrip().endswith("enabled False frozen True")
    assert sweep.stdout.rstrip().endswith("enabled True frozen True")
