"""Every output path fails cleanly: a full standard output, a pipe closed early, an ``-o`` target
that cannot be written, Ctrl-C. One line on stderr and a documented exit code (see
flopcount/cli_errors.py): 4 for what cannot be written, 141 for a broken pipe, 130 for an
interrupt; never a traceback, never exit 5."""

import errno
import os
import subprocess
import sys

import pytest

from conftest import run

COMMANDS = [
    "report vgg-D",
    "report vgg-D --format json",
    "compare vgg-D vgg-E --format csv",
    "list",
    "ops",
    "check costs.lock.json",
    "sweep bottleneck-naive --set input=14:40",
    "--help",
    "report --help",
    "--version",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def flopcount(args: str, stdout) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flopcount", *args.split()], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", COMMANDS)
def test_full_stdout_is_exit_4_with_one_line(args):
    with open("/dev/full", "w") as full:
        p = flopcount(args, stdout=full)
    assert p.returncode == 4, p.stderr
    assert p.stderr == "error: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("args", COMMANDS)
def test_pipe_closed_early_is_silent_exit_141(args):
    # the reader goes away before flopcount writes a byte: every write meets EPIPE
    p = subprocess.Popen(
        [sys.executable, "-m", "flopcount", *args.split()], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    p.stdout.close()
    err = p.stderr.read()
    p.stderr.close()
    assert p.wait() == 141, err
    assert err == b""


def test_output_target_on_a_full_disk(tmp_path, monkeypatch):
    # the atomic write's last step fails as a full disk would: exit 4, naming the target and why
    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    target = tmp_path / "costs.lock.json"
    r = run(f"flopcount snapshot vgg-A -o {target}")
    assert r.code == 4, r.err
    assert str(target) in r.err and "No space left on device" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not target.exists()


def test_output_target_in_a_read_only_place(tmp_path, monkeypatch):
    # a folder without write permission: creating any file in it fails with EACCES. Tests may run
    # as root, who may write anywhere, so the refusal is simulated at os.open (only for creation)
    real_open = os.open

    def read_only(path, flags, *a, **kw):
        if flags & os.O_CREAT and os.path.dirname(os.path.abspath(path)) == str(tmp_path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", read_only)
    target = tmp_path / "costs.lock.json"
    r = run(f"flopcount snapshot vgg-A -o {target}")
    assert r.code == 4, r.err
    assert str(target) in r.err and "Permission denied" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_output_target_in_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        r = run(f"flopcount snapshot vgg-A -o {folder / 'costs.lock.json'}")
    finally:
        folder.chmod(0o755)
    assert r.code == 4, r.err
    assert str(folder / "costs.lock.json") in r.err and "Permission denied" in r.err


def test_output_target_that_is_a_folder(tmp_path):
    r = run(f"flopcount snapshot vgg-A -o {tmp_path}")
    assert r.code == 4, r.err
    assert str(tmp_path) in r.err and "folder" in r.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
@pytest.mark.parametrize("command", ["snapshot vgg-A", "plot vgg-A"])
def test_output_target_that_is_a_fifo_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    r = run(f"flopcount {command} -o {fifo}")  # opening a FIFO to write would block forever
    assert r.code == 2, r.err
    assert "is a FIFO (named pipe), not a file" in r.err


def test_plot_into_a_missing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    r = run(f"flopcount plot vgg-A -o {tmp_path / 'no' / 'x.png'}")
    assert r.code == 2, r.err
    assert "does not exist" in r.err


def test_interrupt_is_exit_130(monkeypatch):
    import flopcount.api

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(flopcount.api, "_analyze", interrupted)  # what the CLI calls
    r = run("flopcount report vgg-A")
    assert r.code == 130
    assert r.err == "interrupted\n"


def test_an_unexpected_exception_is_exit_5_without_traceback(monkeypatch):
    import flopcount.api

    def bug(*a, **kw):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(flopcount.api, "_analyze", bug)  # what the CLI calls
    monkeypatch.delenv("FLOPCOUNT_DEBUG", raising=False)
    r = run("flopcount report vgg-A")
    assert r.code == 5
    assert r.err.startswith("internal error: ZeroDivisionError: boom\n") and "Traceback" not in r.err
