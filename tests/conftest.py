import json
import os
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from flopcount.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(HERE, "specs")


class Result:
    def __init__(self, r):
        self.code = r.exit_code
        self.out = r.stdout
        self.err = r.stderr
        self.exception = r.exception

    def json(self):
        return json.loads(self.out)


def _runner() -> CliRunner:
    """stdout and stderr apart: the default from click 8.2, asked for before it."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2: always apart, and no such argument
        return CliRunner()


def run(line: str, **kw) -> Result:
    """Run a CLI line as a user would type it: run("flopcount report vgg-D --format json")."""
    argv = shlex.split(line)
    assert argv[0] == "flopcount"
    r = _runner().invoke(main, argv[1:], catch_exceptions=True, **kw)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return Result(r)


@pytest.fixture
def cli():
    return run


@pytest.fixture
def spec(write_spec):
    """``spec(text, name="net.yaml")``: write_spec with the language tests' default file name."""
    return lambda text, name="net.yaml": write_spec(text, name)


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


POISON = """import os
open(os.environ["FLOPCOUNT_POISON_LOG"], "a").write("{name}\\n")
raise ImportError("{name} is not available")
"""


def run_without(tmp_path, modules, line: str, cwd=None):
    """Run ``flopcount LINE`` as a whole process in which importing any of ``modules`` fails, as if
    it were not installed, and is logged. Returns (the completed process, the modules it tried)."""
    root = tmp_path / "_poison"
    root.mkdir(exist_ok=True)
    log = root / "log"
    log.write_text("")
    for name in modules:
        (root / name).mkdir(exist_ok=True)
        (root / name / "__init__.py").write_text(POISON.format(name=name))
    env = dict(os.environ, PYTHONPATH=str(root), FLOPCOUNT_POISON_LOG=str(log))
    argv = shlex.split(line)
    assert argv[0] == "flopcount"
    p = subprocess.run([sys.executable, "-m", "flopcount", *argv[1:]], env=env, capture_output=True, text=True, cwd=cwd)
    return p, log.read_text().split()
