"""Hostile and broken input, run through the CLI: the corpus in tests/corpus/ and a canary.

Each corpus file is one broken spec whose first line states what must happen:
``# expect: CODE "fragment"`` (exit code, and text the error must contain); optional lines
``# args: ...`` (extra command-line arguments) and ``# env: NAME=VALUE ...`` (environment)
follow it. Files starting with ``_`` are helpers (imported by a case), not cases.

New cases are named ``<class>__<case>.yaml``, the class being the kind of fault (issue 11):
``lost`` (something the user had is lost), ``leak`` (a secret or a file outside the spec's
folder shows), ``inject`` (control characters, markup or workflow commands reach an output),
``hang`` (a run that never ends or eats the machine), ``limit`` (a size limit that must hold),
``output`` (an output path that must not crash), ``wrong`` (a silently wrong value). Every
class holds at least 8 cases (lock-file cases, in tests/corpus/lock/, count too).

Each case runs as its own process, as a user would run it, and must end with its exit code
and message, with ``file:line:col`` and a fix for a spec error (exit 3); never a traceback,
never exit 5, never more than 20 KB on stderr, and within a hang detector's time budget
(2 s of work beyond the interpreter's start-up, measured generously: not a speed test).
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time

import pytest

from conftest import HERE, run

CORPUS = os.path.join(HERE, "corpus")
LOCK_CORPUS = os.path.join(CORPUS, "lock")
EXPECT = re.compile(r'^# expect: (\d) "((?:[^"\\]|\\.)*)"$')
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)
CLASSES = ("lost", "leak", "inject", "hang", "limit", "output", "wrong")
MIN_PER_CLASS = 8
MIN_CASES = 150
MAX_STDERR = 20 * 1024
WORK_SECONDS = float(os.environ.get("FLOPCOUNT_CORPUS_SECONDS", "2"))
KILL_AFTER = 60  # a case still running then is a hang, whatever the machine's load
SECRET = "CANARY-SECRET-7f3a9"  # in the corpus' _secret* files: never in any output


def _header(path):
    with open(path, "rb") as fh:
        head = fh.read(2000).decode("ascii", "replace").splitlines()
    name = os.path.basename(path)
    m = EXPECT.match(head[0]) if head else None
    assert m, f'{name}: the first line must be `# expect: CODE "fragment"`'
    args, env = "", {}
    for line in head[1:3]:
        if line.startswith("# args:"):
            args = line[len("# args:") :].strip()
        elif line.startswith("# env:"):
            env = dict(pair.split("=", 1) for pair in shlex.split(line[len("# env:") :]))
    return int(m.group(1)), m.group(2).replace('\\"', '"'), args, env


def _cases():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.startswith("_") or not name.endswith(".yaml"):
            continue
        code, fragment, args, env = _header(os.path.join(CORPUS, name))
        out.append(pytest.param(name, code, fragment, args, env, id=name[:-5]))
    return out


CASES = _cases()


def _lock_cases():
    """Lock-file cases (tests/corpus/lock/, run by the baseline's own tests): file names only."""
    if not os.path.isdir(LOCK_CORPUS):
        return []
    out = set()  # one case may be several files (NAME.json and NAME.expect): counted once
    for root, _, files in os.walk(LOCK_CORPUS):
        out |= {
            os.path.relpath(os.path.join(root, os.path.splitext(f)[0]), LOCK_CORPUS)
            for f in files
            if "__" in f and not f.startswith("_")
        }
    return sorted(os.path.basename(n) for n in out)


def test_corpus_is_large_enough():
    assert len(CASES) + len(_lock_cases()) >= MIN_CASES, (len(CASES), len(_lock_cases()))


def test_corpus_covers_every_class():
    counts = {c: 0 for c in CLASSES}
    for name in [p.values[0] for p in CASES] + _lock_cases():
        cls = name.split("__", 1)[0] if "__" in name else None
        if cls is not None:
            assert cls in counts, f"{name}: unknown class `{cls}` (one of {', '.join(CLASSES)})"
            counts[cls] += 1
    thin = {c: n for c, n in counts.items() if n < MIN_PER_CLASS}
    assert not thin, f"classes with fewer than {MIN_PER_CLASS} cases: {thin}"


@pytest.fixture(scope="module")
def startup():
    """The interpreter's start-up with flopcount imported, here and now (the best of three)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flopcount", "--version"], capture_output=True, timeout=KILL_AFTER)
        best = min(best, time.perf_counter() - t)
    return best


def run_process(argv, env=None, cwd=None):
    """``flopcount ARGV`` as its own process: (completed process, seconds). A run still going
    after KILL_AFTER seconds fails the test as a hang (the process is killed)."""
    t = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "flopcount", *argv],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            timeout=KILL_AFTER,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"flopcount {shlex.join(argv)} still ran after {KILL_AFTER} s: a hang")
    return p, time.perf_counter() - t


def check_process(argv, code, fragment, startup, env=None, cwd=None):
    p, seconds = run_process(argv, env, cwd)
    text = p.stdout + p.stderr
    assert "Traceback" not in text and "internal error" not in text, text[:4000]
    assert p.returncode != 5, text[:4000]
    assert p.returncode == code, text[:4000]
    assert fragment in p.stderr, p.stderr[:4000]
    assert len(p.stderr.encode()) < MAX_STDERR, f"{len(p.stderr.encode()):,} bytes on stderr"
    if code == 3:
        assert LOCATED.search(p.stderr), p.stderr[:4000]  # file:line:col
        assert "fix:" in p.stderr, p.stderr[:4000]
    assert SECRET not in text, "a secret from an imported file reached the output"
    budget = WORK_SECONDS + 3 * startup
    assert seconds < budget, f"{seconds:.2f} s, over {budget:.2f} s (start-up {startup:.2f} s): a hang?"
    return p


def check(line, code, fragment):
    r = run(line)
    text = r.out + r.err
    assert "Traceback" not in text and "internal error" not in text, text
    assert r.code != 5, text
    assert r.code == code, text
    assert fragment in r.err, r.err
    if code == 3:
        assert LOCATED.search(r.err), r.err  # file:line:col
        assert "fix:" in r.err, r.err
    return r


@pytest.mark.parametrize("name, code, fragment, args, env", CASES)
def test_corpus(name, code, fragment, args, env, startup):
    check_process(
        ["report", os.path.join(CORPUS, name), *shlex.split(args)], code, fragment, startup, env=env, cwd=CORPUS
    )


# -- special files: a FIFO, a device, a socket are refused at once (they cannot live in git) ----

SPEC = "flopcount: 1\ninput: [3, 8, 8]\nlayers: [relu]\n"


def test_fifo_given_as_spec(tmp_path, startup):
    os.mkfifo(tmp_path / "net.yaml")  # nobody writes to it: opening it to read would block forever
    check_process(["report", str(tmp_path / "net.yaml")], 3, "it is a FIFO (named pipe), not a spec file", startup)


def test_fifo_imported(tmp_path, startup):
    os.mkfifo(tmp_path / "lib.yaml")
    (tmp_path / "net.yaml").write_text(SPEC + "imports: [lib.yaml]\n")
    check_process(["report", str(tmp_path / "net.yaml")], 3, "it is a FIFO (named pipe)", startup)


def test_fifo_with_a_writer_that_never_stops(tmp_path, startup):
    # a FIFO that does deliver bytes, endlessly: still refused before anything is read
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(fifo)!r}, 'w')\nwhile True: f.write('x' * 65536)"],
        stderr=subprocess.DEVNULL,
    )
    try:
        check_process(["report", str(fifo)], 3, "it is a FIFO (named pipe)", startup)
    finally:
        writer.kill()
        writer.wait()


def test_dev_zero_given_as_spec(startup):
    check_process(["report", "/dev/zero"], 3, "it is a character device, not a spec file", startup)


def test_dev_zero_linked_into_the_folder(tmp_path, startup):
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    (tmp_path / "net.yaml").write_text(SPEC + "imports: [zero.yaml]\n")
    # the link leads out of the spec's folder: refused as an escape before it is opened
    check_process(["report", str(tmp_path / "net.yaml")], 3, "cannot import `zero.yaml`: it lies outside", startup)
    # and with /dev allowed, refused as a device
    check_process(
        ["report", str(tmp_path / "net.yaml"), "--import-root", "/dev"], 3, "it is a character device", startup
    )


def test_socket_given_as_spec(tmp_path, startup):
    path = tmp_path / "s.yaml"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        server.listen(1)
        check_process(["report", str(path)], 3, "it is a socket, not a spec file", startup)
    finally:
        server.close()


def test_pipe_on_stdin_given_as_spec(startup):
    # /dev/stdin as the spec while stdin is a pipe nobody closes
    reader, writer = os.pipe()
    try:
        t = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "flopcount", "report", "/dev/stdin"],
            stdin=reader,
            capture_output=True,
            text=True,
            timeout=KILL_AFTER,
        )
        assert time.perf_counter() - t < WORK_SECONDS + 3 * startup
    finally:
        os.close(reader)
        os.close(writer)
    assert p.returncode == 3 and "it is a FIFO (named pipe)" in p.stderr, p.stderr


def test_read_user_file_reads_a_regular_file_up_to_its_limit(tmp_path):
    from flopcount.fileio import UserFileError, read_user_file

    path = tmp_path / "f.yaml"
    path.write_bytes(b"x" * 100)
    assert read_user_file(path, "spec file", 100) == b"x" * 100  # exactly the limit: read
    path.write_bytes(b"x" * 101)
    with pytest.raises(UserFileError) as exc:
        read_user_file(path, "spec file", 100, "FLOPCOUNT_MAX_FILE_BYTES")
    assert "101 bytes, over the limit of 100" in exc.value.reason and "FLOPCOUNT_MAX_FILE_BYTES" in exc.value.hint
    with pytest.raises(UserFileError) as exc:
        read_user_file(tmp_path, "lock file", 100)
    assert exc.value.reason == "it is a folder, not a lock file"
    with pytest.raises(UserFileError) as exc:
        read_user_file(tmp_path / "missing", "spec file", 100)
    assert exc.value.reason == "no such file"


# -- imports stay inside the spec's folder tree ----------------------------------------------------


def _tree(tmp_path):
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "lib.yaml").write_text("flopcount: 1\nblocks:\n  b: {params: [], body: [conv1-4]}\n")
    return tmp_path / "proj"


def test_symlink_out_of_the_folder_is_an_escape(tmp_path):
    proj = _tree(tmp_path)
    os.symlink(tmp_path / "other" / "lib.yaml", proj / "lib.yaml")
    (proj / "net.yaml").write_text("flopcount: 1\ninput: [3, 8, 8]\nimports: [lib.yaml]\nlayers: [b]\n")
    r = check(f"flopcount report {proj / 'net.yaml'}", 3, "cannot import `lib.yaml`: it lies outside")
    assert "--import-root" in r.err and "FLOPCOUNT_IMPORT_ROOT" in r.err  # the fix names both ways


def test_symlinked_folder_out_of_the_tree_is_an_escape(tmp_path):
    proj = _tree(tmp_path)
    os.symlink(tmp_path / "other", proj / "sub" / "linked")
    (proj / "net.yaml").write_text("flopcount: 1\ninput: [3, 8, 8]\nimports: [sub/linked/lib.yaml]\nlayers: [b]\n")
    check(f"flopcount report {proj / 'net.yaml'}", 3, "it lies outside")


def test_import_root_allows_a_folder(tmp_path, monkeypatch):
    proj = _tree(tmp_path)
    (proj / "net.yaml").write_text("flopcount: 1\ninput: [3, 8, 8]\nimports: [../other/lib.yaml]\nlayers: [b]\n")
    check(f"flopcount report {proj / 'net.yaml'}", 3, "climb out with `..`")
    # 1x1 conv 3 -> 4 on 8x8: C_out*H*W*C_in = 4*8*8*3 MACs
    j = run(f"flopcount report {proj / 'net.yaml'} --format json --import-root {tmp_path / 'other'}").json()
    assert j["totals"]["macs"] == 4 * 8 * 8 * 3
    check(f"flopcount report {proj / 'net.yaml'}", 3, "it lies outside")  # the option lasts one command
    monkeypatch.setenv("FLOPCOUNT_IMPORT_ROOT", os.pathsep.join(["/nonexistent", str(tmp_path / "other")]))
    assert run(f"flopcount report {proj / 'net.yaml'} --format json").json()["totals"]["macs"] == 4 * 8 * 8 * 3


def test_imports_inside_the_tree_still_work(tmp_path):
    proj = _tree(tmp_path)
    (proj / "sub" / "lib.yaml").write_text("flopcount: 1\nblocks:\n  b: {params: [], body: [conv1-4]}\n")
    (proj / "sub" / "mid.yaml").write_text("flopcount: 1\nimports: [../sub/lib.yaml]\n")  # `..` that stays inside
    (proj / "net.yaml").write_text("flopcount: 1\ninput: [3, 8, 8]\nimports: [sub/mid.yaml]\nlayers: [b]\n")
    # nested: sub/mid.yaml's imports are relative to sub/, and stay inside the top spec's tree
    assert run(f"flopcount report {proj / 'net.yaml'} --format json").json()["totals"]["macs"] == 4 * 8 * 8 * 3


def test_nul_byte_is_located_where_it_is(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_bytes(b"flopcount: 1\ninput: [3, 32, 32]\nlayers: [relu]  # x\x00y\n")
    r = check(f"flopcount report {spec}", 3, "a NUL byte is written here")
    # line 3, `layers: [relu]  # x` is 19 characters: the NUL is column 20 (it was 1:1 before)
    assert f"{spec}:3:20: error:" in r.err, r.err


def test_control_character_from_an_escape_is_located_at_its_value(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text('flopcount: 1\ninput: [3, 32, 32]\nlayers:\n  - {op: relu, name: "a\\e[31m"}\n')
    r = check(f"flopcount report {spec}", 3, "holds the control character U+001B (ESC) (its character 2)")
    assert f"{spec}:4:22: error:" in r.err, r.err  # the value starts at column 22, after `  - {op: relu, name: `
    assert "\x1b" not in r.err  # never the character itself


def test_errors_are_capped(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 32, 32]\nlayers: [relu]\n" + "".join(f"k{i}: 1\n" for i in range(100)))
    r = check(f"flopcount report {spec}", 3, "... and 80 more errors")
    assert r.err.count(": error: unknown key") == 20 and "100 errors in the spec" in r.err


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
    spec.write_text("flopcount: 1\ninput: [3, 1000000000, 1000000000]\nlayers: [{op: conv, c: 1000000000000, k: 3}]\n")
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
    'layers: [{op: conv, c: "${().__class__.__base__.__subclasses__()}"}]\n',
    "layers: [{op: conv, c: \"${exec('import flopcount_canary_mod')}\"}]\n",
    "layers: [{op: conv, c: \"${eval('1')}\"}]\n",
    "layers: [{op: conv, c: \"${getattr(1, 'real')}\"}]\n",
    'layers: [{op: conv, c: "${globals()}"}]\n',
    'layers: [{op: conv, c: "${max.__self__}"}]\n',
    "layers: [{op: conv, c: \"${[open('CANARY', 'w') for _ in (1,)]}\"}]\n",
    "layers: [{op: conv, c: \"${(lambda: open('CANARY', 'w'))()}\"}]\n",
    "layers: [{op: conv, c: \"${f'{open(1)}'}\"}]\n",
    'layers: [{op: conv, c: "${(x := 8)}"}]\n',
    'vars: {m: "${__import__}"}\nlayers: [{op: conv, c: "${m(\'flopcount_canary_mod\')}"}]\n',
    'imports: ["/proc/self/environ"]\nlayers: [relu]\n',
]


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A module that writes CANARY when imported or called, on sys.path; the cwd is tmp_path."""
    (tmp_path / f"{CANARY_MODULE}.py").write_text(
        "open('CANARY', 'w').write('imported')\n"
        "def boom(*a):\n    open('CANARY', 'w').write('called')\n"
        "class Boom:\n    def __init__(self, *a):\n        boom()\n"
    )
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
    for value in (
        "!!python/object/apply:flopcount_canary_mod.boom []",
        "${__import__('flopcount_canary_mod')}",
        "${open('CANARY', 'w')}",
    ):
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

    return subprocess.run(
        [sys.executable, "-m", "flopcount", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_limits_come_from_the_environment(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 8, 8]\nlayers: [relu*8]\n")  # 8 layers
    r = _subprocess(["report", str(spec)], {"FLOPCOUNT_MAX_NODES": "5"})
    assert r.returncode == 3 and "over the limit of 5" in r.stderr and "FLOPCOUNT_MAX_NODES" in r.stderr, r.stderr
    r = _subprocess(["report", str(spec), "--format", "json"], {"FLOPCOUNT_MAX_NODES": "lots"})
    assert r.returncode == 0 and "FLOPCOUNT_MAX_NODES='lots' is not a positive whole number" in r.stderr
    assert len(json.loads(r.stdout)["layers"]) == 8
