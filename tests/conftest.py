import json
import os
import shlex

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


def run(line: str, **kw) -> Result:
    """Run a CLI line as a user would type it: run("flopcount report vgg-D --format json")."""
    argv = shlex.split(line)
    assert argv[0] == "flopcount"
    r = CliRunner().invoke(main, argv[1:], catch_exceptions=True, **kw)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return Result(r)


@pytest.fixture
def cli():
    return run


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write
