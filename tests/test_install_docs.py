"""Install commands that work as written (issue 16, "Install"; acceptance 2).

flopcount is not on a package index, so every ``pip install`` the README, the docs or the
package itself (exit-4 hints, help texts) names must be of a form that works from the
repository: a local path (``.``, ``./flopcount``, with extras that setup.cfg defines), a git URL
(``flopcount[torch] @ git+https://...``), or a third-party package by name; never a bare
``flopcount`` or ``flopcount[extra]``. And the README's main install command, run in a fresh
virtual environment, gives a working ``flopcount report vgg-D``.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", "CONTRIBUTING.md", *sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/docs/*.md"))]
# a command: the words after `pip install` up to the end of its line, code span or string, then
# cut at a shell operator, a comment, a parenthesis or a word ending a clause with a comma
COMMAND = re.compile(r"(?=pip install ([^\n`\"]*))")
WITH_VALUE = {"-c", "--constraint", "-r", "--requirement", "-i", "--index-url", "--extra-index-url", "-e", "--editable"}


def extras() -> set:
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    return set(cfg["options.extras_require"])


def commands() -> list:
    """(where, the words after `pip install`) of every install command in the docs and package."""
    files = DOCS + sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/flopcount/**/*.py", recursive=True))
    found = []
    for rel in files:
        path = os.path.join(ROOT, rel)
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        for m in COMMAND.finditer(text):
            words = _words(m.group(1))
            if words:
                line = text.count("\n", 0, m.start()) + 1
                found.append((f"{rel}:{line}", words))
    return found


def _words(text: str) -> list:
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lex.whitespace_split = True
    lex.commenters = ""
    out = []
    try:
        for token in lex:
            if token[0] in ";&|()#":
                break
            if token.endswith(","):
                out.append(token[:-1])
                break
            out.append(token)
    except ValueError:  # an unbalanced quote further on (prose): what was read so far
        pass
    return out


def problem(words: list) -> str | None:
    """Why ``pip install WORDS`` cannot work as written from this repository (None: it can)."""
    from packaging.requirements import InvalidRequirement, Requirement

    known = extras()
    i = 0
    while i < len(words):
        w = words[i]
        value = None
        if w in WITH_VALUE:
            if i + 1 == len(words):
                return f"{w} without its value"
            value = words[i + 1]
            i += 1
        elif w.startswith("-"):
            i += 1
            continue
        i += 1
        if w in ("-c", "--constraint", "-r", "--requirement"):
            if not os.path.exists(os.path.join(ROOT, value or "")):
                return f"{w} {value}: no such file in the repository"
            continue
        if w in ("-i", "--index-url", "--extra-index-url"):
            if not (value or "").startswith("https://"):
                return f"{w} {value}: not an https URL"
            continue
        req = value if value is not None else w
        if "{" in req:  # an f-string's placeholder (`pip install {module}`): a name filled in at run time
            continue
        local = re.fullmatch(r"(\.|\./|\./flopcount/?|\.\./flopcount/?)(\[([a-z,]+)\])?", req)
        if local:
            wanted = set(filter(None, (local.group(3) or "").split(",")))
            if wanted - known:
                return f"{req}: no extra {sorted(wanted - known)} in setup.cfg (extras: {sorted(known)})"
            continue
        if value is not None:  # -e takes a path here
            return f"-e {req}: not a path to this repository"
        try:
            r = Requirement(req)
        except InvalidRequirement as exc:
            return f"{req}: not a requirement ({exc})"
        if r.name.lower() == "flopcount":
            if not r.url:
                return f"{req}: flopcount is not on a package index; install from a clone or a git URL"
            if not r.url.startswith("git+https://"):
                return f"{req}: expected a git+https:// URL"
            if set(r.extras) - known:
                return f"{req}: no extra {sorted(set(r.extras) - known)} in setup.cfg"
    return None


def test_the_checker_refuses_what_fails():
    # what the README used to say, each of which fails (flopcount is on no index)
    assert "not on a package index" in problem(["flopcount"])
    assert "not on a package index" in problem(["flopcount[torch]"])
    assert "no extra" in problem(["./flopcount[gpu]"])
    assert "no such file" in problem(["-c", "constraints-missing.txt", "-e", ".[test]"])
    assert problem(["flopcount[torch] @ git+https://github.com/OWNER/flopcount"]) is None
    assert problem(["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]) is None
    assert problem(["-e", ".[test,torch]"]) is None


def test_every_install_command_works_as_written():
    found = commands()
    assert len(found) > 10  # the README's, CONTRIBUTING's and the exit-4 hints at least
    bad = [f"{where}: pip install {' '.join(words)}: {why}" for where, words in found if (why := problem(words))]
    assert not bad, "\n".join(bad)


def test_the_exit_4_hints_name_working_commands():
    from flopcount.plot import INSTALL as PLOT
    from flopcount.torch_build import INSTALL as TORCH

    assert "pip install torch fvcore" in TORCH and "--index-url https://download.pytorch.org/whl/cpu" in TORCH
    assert PLOT.endswith("pip install matplotlib")
    assert "flopcount[" not in TORCH + PLOT


def _install_block() -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = text.index("## Install")
    section = text[start : text.index("\n## ", start + 1)]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_readme_install_commands_in_a_fresh_venv(tmp_path):
    """The README's main command, `pip install ./flopcount` from the folder above a clone, in a
    new virtual environment (no flopcount in it), then `flopcount report vgg-D` from elsewhere.
    For speed and without an index: the wheel is built from the clone by this interpreter's pip
    (--no-build-isolation), installed with --no-deps, and click, rich and PyYAML come from this
    interpreter's site-packages through a .pth file (after the venv's own)."""
    block = _install_block()
    assert "pip install ./flopcount\n" in block and "flopcount report vgg-D" in block
    clone = tmp_path / "flopcount"  # what `git clone URL` makes: the repository's tracked files
    clone.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        shutil.copy(os.path.join(ROOT, name), clone / name)
    shutil.copytree(os.path.join(ROOT, "flopcount"), clone / "flopcount", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    import click
    import rich
    import yaml

    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = {os.path.dirname(os.path.dirname(m.__file__)) for m in (click, rich, yaml)}
    with open(os.path.join(site, "_outer_deps.pth"), "w") as fh:
        fh.write("\n".join(sorted(dirs)) + "\n")  # appended after the venv's own site-packages
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # `pip install ./flopcount`, offline: the wheel pip would build from the clone (built here,
    # without an index), installed into the fresh venv without its dependencies
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(wheels), "./flopcount"],
        cwd=tmp_path, env=env, check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("flopcount-*.whl")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=tmp_path, env=env, check=True, capture_output=True,
    )  # fmt: skip
    where = tmp_path / "elsewhere"
    where.mkdir()
    shutil.rmtree(clone)  # the installed package must stand on its own (configs, schemas, profiles)
    p = subprocess.run(
        ["flopcount", "report", "vgg-D"], cwd=where, env=env, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    # VGG-16 (config D) = torchvision vgg16: 138,357,544 params, 15,470,264,320 MACs (README)
    assert "138,357,544" in p.stdout and "15.5G MACs" in p.stdout
    loc = subprocess.run(
        [str(py), "-c", "import flopcount; print(flopcount.__file__)"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
    )
    assert loc.stdout.strip().startswith(site), loc.stdout
    j = subprocess.run(
        ["flopcount", "report", "efficientnet-b0", "--format", "json"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
    )
    assert j.returncode == 0 and '"macs": 385814752' in j.stdout  # README: EfficientNet-B0 385,814,752 MACs


def test_readme_says_what_to_do_with_an_existing_model():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = text.index("## I have a model")
    section = text[start : text.index("\n## ", start + 1)]
    # the import commands (issue 14), ONNX too, and the way when a model does not import
    for needed in (
        "flopcount import",
        ".onnx",
        "pkg.models:build_net",
        "--allow-unknown",
        "flopcount verify",
    ):
        assert needed in section, needed
    from flopcount.cli import main

    assert "import" in main.list_commands(None)  # the command the section names exists (built when run)
