"""Hostile and broken lock files, run through the CLI: the corpus in tests/corpus/lock/.

Each case is ``<class>__<case>.json`` (the lock file) beside ``<class>__<case>.expect``, whose
lines say what to run and what must happen::

    # args: check {path}                  the command line after `flopcount`; {path} is the lock file
    # expect: CODE "fragment"             exit code, and text the output (stdout + stderr) must hold
    # env: NAME=VALUE                     (any number) environment for the run
    # setup: fifo NAME                    (any number) a FIFO beside the lock file;
    # setup: fifo-lock                      the lock file itself replaced by a FIFO;
    # setup: file NAME TEXT                 a file beside it; `link NAME TARGET` a symbolic link
    # setup: hide-module NAME               the Python package NAME made unimportable for the run
                                          (a case about a package that is not installed holds
                                          on a machine that has it too)
    # absent: "text"                      (any number, JSON strings) text no output may hold
    # keeps: "text"                       (any number, JSON strings) text the lock file still holds after

Classes: ``lost`` (nothing the user had is lost), ``leak`` (nothing read outside the baseline's
folder or echoed), ``inject`` (control characters refused), ``hang`` (nothing blocks or
recurses: each case runs as its own process, with a timeout), ``limit`` (sizes and counts),
``output`` (names reach every output escaped), ``wrong`` (a broken file: located error).

Every case runs on a copy in a scratch folder, and must end with its exit code and message:
never a traceback or exit 5, within 10 seconds; a baseline error (exit 3) at ``file:line:col``
with a fix; a fragment of a value never longer than the 60-character excerpt; no output line
that a GitHub runner would read as a workflow command other than flopcount's own
``::error file=...`` annotations; and a lock file that is refused (exit 2, 3) left as it was.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from conftest import HERE, run

CORPUS = os.path.join(HERE, "corpus", "lock")
CLASSES = ("lost", "leak", "inject", "hang", "limit", "output", "wrong")
EXPECT = re.compile(r'^# expect: (\d) "((?:[^"\\]|\\.)*)"$')
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)
COMMAND = re.compile(r"^[ \t\f\v]*::")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _read_expect(name: str) -> dict:
    spec = {"args": None, "code": None, "fragment": None, "env": {}, "setup": [], "absent": [], "keeps": []}
    with open(os.path.join(CORPUS, name + ".expect"), encoding="utf-8") as fh:
        for line in fh.read().splitlines():
            if not line.strip():
                continue
            m = EXPECT.match(line)
            if m:
                spec["code"], spec["fragment"] = int(m.group(1)), _unescape(m.group(2))
                continue
            key, _, value = line.partition(": ")
            if key == "# args":
                spec["args"] = value
            elif key == "# env":
                k, _, v = value.partition("=")
                spec["env"][k] = v
            elif key == "# setup":
                spec["setup"].append(value)
            elif key in ("# absent", "# keeps"):
                spec[key[2:]].append(json.loads(value))
            else:
                raise AssertionError(f"{name}.expect: unknown line {line!r}")
    assert spec["args"] and spec["code"] is not None, f"{name}.expect needs `# args:` and `# expect:` lines"
    return spec


def _cases():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".json"):
            continue
        stem = name[:-5]
        cls, sep, _ = stem.partition("__")
        assert sep and cls in CLASSES, f"{name}: name it <class>__<case>.json, class one of {CLASSES}"
        out.append(pytest.param(stem, _read_expect(stem), id=stem))
    return out


CASES = _cases()


def test_lock_corpus_covers_every_class():
    classes = [c.id.split("__")[0] for c in CASES]
    assert len(CASES) >= 16
    assert {c: classes.count(c) for c in CLASSES if classes.count(c) < 3} == {}  # 3 cases or more per class


def _setup(folder, lock: str, steps: list, monkeypatch) -> None:
    for step in steps:
        kind, *rest = step.split(" ", 2)
        if kind == "hide-module":  # `import NAME` raises ImportError while it is None in sys.modules
            monkeypatch.setitem(sys.modules, rest[0], None)
            continue
        if kind == "fifo-lock":
            os.remove(lock)
            os.mkfifo(lock)
        elif kind == "fifo":
            os.mkfifo(os.path.join(folder, rest[0]))
        elif kind == "file":
            with open(os.path.join(folder, rest[0]), "w") as fh:
                fh.write(rest[1] + "\n")
        elif kind == "link":
            os.symlink(rest[1], os.path.join(folder, rest[0]))
        else:
            raise AssertionError(f"unknown setup step {step!r}")


@pytest.mark.parametrize("name, case", CASES)
def test_lock_corpus(name, case, tmp_path, monkeypatch):
    folder = tmp_path / "repo"
    folder.mkdir()
    lock = str(folder / (name + ".json"))
    shutil.copyfile(os.path.join(CORPUS, name + ".json"), lock)
    _setup(str(folder), lock, case["setup"], monkeypatch)
    before = None if "fifo-lock" in case["setup"] else open(lock, "rb").read()
    line = "flopcount " + case["args"].replace("{path}", shlex.quote(os.path.basename(lock)))
    monkeypatch.chdir(folder)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    start = time.perf_counter()
    if name.startswith("hang__"):  # a process of its own: a regression hangs a process, not the suite
        assert not any(s.startswith("hide-module") for s in case["setup"]), "hide-module works in-process only"
        p = subprocess.run(
            [sys.executable, "-m", "flopcount", *shlex.split(line)[1:]],
            cwd=folder,
            env={**os.environ, **case["env"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        code, out, err = p.returncode, p.stdout, p.stderr
    else:
        r = run(line, env=case["env"])
        code, out, err = r.code, r.out, r.err
    elapsed = time.perf_counter() - start
    text = out + err
    assert "Traceback" not in text and "internal error" not in text, text
    assert code == case["code"], text
    assert case["fragment"] in text, text
    assert elapsed < 10, f"{elapsed:.1f} s"
    if code == 3:
        assert LOCATED.search(err), err
        assert "fix:" in err, err
    for bad in case["absent"]:
        assert bad not in text
    for out_line in text.splitlines():
        if COMMAND.match(out_line) or "##[" in out_line:
            assert out_line.startswith("::error file=") and "title=flopcount check::" in out_line, out_line
    assert len(err) < 20_000, len(err)  # errors are capped: no value is echoed whole
    if before is not None:
        after = open(lock, "rb").read()
        if code in (2, 3):
            assert after == before  # a refused lock file is left as it was
        for kept in case["keeps"]:
            assert kept in after.decode("utf-8", "replace")
    leftovers = [f for f in os.listdir(folder) if ".flopcount-tmp-" in f]
    assert leftovers == []
