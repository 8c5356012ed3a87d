"""Hostile and broken input, run through the CLI: the corpus in tests/corpus/ and a canary.

Each corpus file is one broken spec whose first line states what must happen:
``# expect: CODE "fragment"`` (exit code, and text the error must contain); an optional
``# args: ...`` line gives extra command-line arguments. Files starting with ``_`` are helpers
(imported by a case), not cases. Every case must end with its exit code and message, with
``file:line:col`` for a spec error (exit 3), and never with a traceback or exit 5.
"""
import json
import os
import re
import shlex
import sys

import pytest

from conftest import HERE, run

CORPUS = os.path.join(HERE, "corpus")
EXPECT = re.compile(r'^# expect: (\d) "((?:[^"\\]|\\.)*)"$')
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)


def _cases():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.startswith("_") or not name.endswith(".yaml"):
            continue
        with open(os.path.join(CORPUS, name), "rb") as fh:
            head = fh.read(2000).decode("ascii", "replace").splitlines()
        m = EXPECT.match(head[0])
        assert m, f"{name}: the first line must be `# expect: CODE \"fragment\"`"
        args = head[1][len("# args:"):].strip() if len(head) > 1 and head[1].startswith("# args:") else ""
        out.append(pytest.param(name, int(m.group(1)), m.group(2).replace('\\"', '"'), args, id=name[:-5]))
    return out


CASES = _cases()


def test_corpus_is_large_enough():
    assert len(CASES) >= 40


def check(line, code, fragment):
    r = run(line)
    text = r.out + r.err
    assert "Traceback" not in text and "internal error" not in text, text
    assert r.code == code, text
    assert fragment in r.err, r.err
    if code == 3:
        assert LOCATED.search(r.err), r.err  # file:line:col
        assert "fix:" in r.err, r.err
    return r


@pytest.mark.parametrize("name, code, fragment, args", CASES)
def test_corpus(name, code, fragment, args):
    check(f"flopcount report {shlex.quote(os.path.join(CORPUS, name))} {args}", code, fragment)


def test_error_points_at_the_line_written(tmp_path):
    # the 5,000-digit number starts on line 4, column 19 (after `  - {op: conv, c: `, 18 characters)
    spec = tmp_path / "s.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nlayers:\n  - {op: conv, c: " + "9" * 5000 + "}\n")
    r = check(f"flopcount report {spec}", 3, "digits")
    assert f"{spec}:4:19: error:" in r.err


# -- inputs that cannot be corpus files ---------------------------------------------------------

def test_folder_given_as_spec(tmp_path):
    (tmp_path / "net.yaml").mkdir()
    check(f"flopcount report {tmp_path / 'net.yaml'}", 3, "is a folder, not a spec file")


def test_symlink_loop_given_as_spec(tmp_path):
    os.symlink(tmp_path / "b.yaml", tmp_path / "a.yaml")
    os.symlink(tmp_path / "a.yaml", tmp_path / "b.yaml")
    check(f"flopcount report {tmp_path / 'a.yaml'}", 2, "symbolic link that leads nowhere")


def test_symlink_loop_imported(tmp_path):
    os.symlink(tmp_path / "b.yaml", tmp_path / "a.yaml")
    os.symlink(tmp_path / "a.yaml", tmp_path / "b.yaml")
    spec = tmp_path / "net.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nimports: [a.yaml]\nlayers: [relu]\n")
    check(f"flopcount report {spec}", 3, "cannot import `a.yaml`: a symlink loop")


def test_imports_resolve_relative_to_the_spec(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "common.yaml").write_text("flopcount: 1\nblocks:\n  b: {params: [], body: [conv1-4]}\n")
    (tmp_path / "lib" / "net.yaml").write_text("flopcount: 1\ninput: [3, 8, 8]\nimports: [common.yaml]\nlayers: [b]\n")
    monkeypatch.chdir(tmp_path)  # not the spec's folder
    j = run("flopcount report lib/net.yaml --format json").json()
    assert j["totals"]["macs"] == 4 * 8 * 8 * 3  # 1x1 conv 3 -> 4 on 8x8: C_out*H*W*C_in


def test_many_megabyte_spec_refused(tmp_path):
    # 1.8 million layers written out: 16 MB, refused while parsing (values over the limit)
    spec = tmp_path / "big.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nlayers:\n" + "  - relu\n" * 1_800_000)
    check(f"flopcount report {spec}", 3, "raise FLOPCOUNT_MAX_YAML_NODES")


def test_file_over_size_limit_refused(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nlayers: [relu]\n# " + "x" * (17 * 1024 * 1024) + "\n")
    check(f"flopcount report {spec}", 3, "raise FLOPCOUNT_MAX_FILE_BYTES")


def test_big_legal_numbers_are_exact(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 1000000000, 1000000000]\n"
                    "layers: [{op: conv, c: 1000000000000, k: 3}]\n")
    j = run(f"flopcount report {spec} --format json --batch 1000").json()
    # 3x3 conv, padding auto (1), stride 1: output 10**12 x 10**9 x 10**9;
    # MACs = C_out*H*W*C_in*3*3 = 10**12 * 10**18 * 27 per sample, times batch 1000
    assert j["totals"]["macs"] == 27 * 10**30 * 1000
    # params = C_out*C_in*3*3 weights + C_out biases = 27 * 10**12 + 10**12
    assert j["totals"]["params"] == 28 * 10**12


# -- the canary: no spec can write a file or import a module ------------------------------------

CANARY_MODULE = "flopcount_canary_mod"
ATTEMPTS = [
    "layers: !!python/object/apply:os.system ['touch CANARY']\n",
    "layers: !!python/object/apply:builtins.open ['CANARY', 'w']\n",
    "layers: !!python/object/new:flopcount_canary_mod.Boom []\n",
    "layers: !!python/module:flopcount_canary_mod ''\n",
    "layers: !!python/name:flopcount_canary_mod.boom ''\n",
    "vars: {x: !!python/object/apply:flopcount_canary_mod.boom []}\nlayers: [relu]\n",
    "layers: [{op: conv, c: \"${__import__('flopcount_canary_mod')}\"}]\n",
    "layers: [{op: conv, c: \"${open('CANARY', 'w')}\"}]\n",
    "layers: [{op: conv, c: \"${().__class__.__base__.__subclasses__()}\"}]\n",
    "layers: [{op: conv, c: \"${exec('import flopcount_canary_mod')}\"}]\n",
    "layers: [{op: conv, c: \"${eval('1')}\"}]\n",
    "layers: [{op: conv, c: \"${getattr(1, 'real')}\"}]\n",
    "layers: [{op: conv, c: \"${globals()}\"}]\n",
    "layers: [{op: conv, c: \"${max.__self__}\"}]\n",
    "layers: [{op: conv, c: \"${[open('CANARY', 'w') for _ in (1,)]}\"}]\n",
    "layers: [{op: conv, c: \"${(lambda: open('CANARY', 'w'))()}\"}]\n",
    "layers: [{op: conv, c: \"${f'{open(1)}'}\"}]\n",
    "layers: [{op: conv, c: \"${(x := 8)}\"}]\n",
    "vars: {m: \"${__import__}\"}\nlayers: [{op: conv, c: \"${m('flopcount_canary_mod')}\"}]\n",
    "imports: [\"/proc/self/environ\"]\nlayers: [relu]\n",
]


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A module that writes CANARY when imported or called, on sys.path; the cwd is tmp_path."""
    (tmp_path / f"{CANARY_MODULE}.py").write_text(
        "open('CANARY', 'w').write('imported')\n"
        "def boom(*a):\n    open('CANARY', 'w').write('called')\n"
        "class Boom:\n    def __init__(self, *a):\n        boom()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(CANARY_MODULE, None)


@pytest.mark.parametrize("body", ATTEMPTS)
def test_no_spec_can_write_a_file_or_import_a_module(canary, body):
    spec = canary / "evil.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\n" + body)
    r = run(f"flopcount report {spec}")
    assert r.code == 3, r.out + r.err
    assert "Traceback" not in r.out + r.err
    assert set(os.listdir(canary)) == {f"{CANARY_MODULE}.py", "evil.yaml"}  # nothing written
    assert CANARY_MODULE not in sys.modules


def test_no_set_value_can_write_a_file_or_import_a_module(canary):
    spec = canary / "ok.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nvars: {c: 8}\nlayers: [{op: conv, c: $c}]\n")
    for value in ("!!python/object/apply:flopcount_canary_mod.boom []", "${__import__('flopcount_canary_mod')}",
                  "${open('CANARY', 'w')}"):
        r = run(f"flopcount report {spec} --set {shlex.quote('c=' + value)}")
        assert r.code in (2, 3) and "Traceback" not in r.out + r.err, r.out + r.err
    assert set(os.listdir(canary)) == {f"{CANARY_MODULE}.py", "ok.yaml"}
    assert CANARY_MODULE not in sys.modules


def test_the_canary_would_sing(canary):
    # the sentinel works: importing the module does write the file and register the module
    import importlib

    importlib.import_module(CANARY_MODULE)
    assert (canary / "CANARY").read_text() == "imported" and CANARY_MODULE in sys.modules


# -- the limits are raisable, and a bad setting is not a traceback --------------------------------

def _subprocess(args, env):
    import subprocess

    return subprocess.run([sys.executable, "-m", "flopcount", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_limits_come_from_the_environment(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 8, 8]\nlayers: [relu*8]\n")  # 8 layers
    r = _subprocess(["report", str(spec)], {"FLOPCOUNT_MAX_NODES": "5"})
    assert r.returncode == 3 and "over the limit of 5" in r.stderr and "FLOPCOUNT_MAX_NODES" in r.stderr, r.stderr
    r = _subprocess(["report", str(spec), "--format", "json"], {"FLOPCOUNT_MAX_NODES": "lots"})
    assert r.returncode == 0 and "FLOPCOUNT_MAX_NODES='lots' is not a positive whole number" in r.stderr
    assert len(json.loads(r.stdout)["layers"]) == 8
