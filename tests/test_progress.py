"""Long work (issue 16): a progress bar with an ETA on stderr when it is a terminal (none when
piped or in CI), Ctrl-C as one line and exit 130, and no third-party warnings in verify's output."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading

import pytest

from flopcount.progress import Bar, clock, wanted

BAR_LINE = re.compile(r"\r[^\r\n]*\x1b\[K")  # a drawn bar (or its erasure): "\r" ... "ESC[K"

ENV = {k: v for k, v in os.environ.items() if k not in ("CI", "FLOPCOUNT_PROGRESS", "GITHUB_ACTIONS")}


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_clock():
    assert [clock(s) for s in (0, 59.4, 75, 3725)] == ["0:00", "0:59", "1:15", "1:02:05"]


def test_bar_counts_and_estimates():
    t = [100.0]
    b = Bar(1000, "sweep", Tty(), enabled=True, now=lambda: t[0])
    t[0] += 10
    b.done = 250
    # 250 rows in 10 s: 750 left at 25 rows/s = 30 s
    line = b.line(100)
    assert line.startswith("sweep [##########------------------------------] ")
    assert line.endswith(" 250/1,000  25% 0:10 ETA 0:30")
    assert len(b.line(30)) <= 29 and "ETA 0:30" not in b.line(30)[:5]  # narrow: no bar, never wraps


def test_the_eta_leaves_out_a_slow_first_step():
    t = [0.0]
    b = Bar(100, "verify", Tty(), enabled=True, now=lambda: t[0])
    t[0] = 10.0  # the first layer carries torch's imports
    b.advance()
    for _ in range(9):
        t[0] += 1.0
        b.advance()
    # 9 steps in 9 s since the first: 90 left at 1 step/s = 1:30 (not 19 s / 10 * 90 = 2:51)
    assert b.line(100).endswith(" 10/100  10% 0:19 ETA 1:30")


def test_bar_draws_only_when_enabled_and_erases_its_line():
    quiet = io.StringIO()
    with Bar(3, "x", quiet) as b:  # a StringIO is not a terminal
        for _ in b.each(range(3)):
            pass
    assert quiet.getvalue() == ""
    tty = Tty()
    with Bar(3, "x", tty, enabled=True) as b:
        assert list(b.each("abc")) == ["a", "b", "c"]
    out = tty.getvalue()
    assert "3/3 100%" in out and out.endswith("\r\x1b[K")


def test_wanted(monkeypatch):
    for key in ("CI", "FLOPCOUNT_PROGRESS"):
        monkeypatch.delenv(key, raising=False)
    assert wanted(Tty()) and not wanted(io.StringIO())
    monkeypatch.setenv("CI", "true")
    assert not wanted(Tty())
    monkeypatch.setenv("CI", "false")
    assert wanted(Tty())
    monkeypatch.setenv("FLOPCOUNT_PROGRESS", "0")
    assert not wanted(Tty())
    monkeypatch.setenv("FLOPCOUNT_PROGRESS", "1")
    assert wanted(io.StringIO())


def _sweep_on_a_terminal(extra_env: dict) -> tuple:
    """``flopcount sweep`` with stderr on a pseudo-terminal, stdout piped: (stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-m", "flopcount", "sweep", "vgg-D", "--set", "input=32:96:8", "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**ENV, **extra_env},
        text=True,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    out = p.stdout.read() if p.stdout else ""
    assert p.wait(60) == 0
    os.close(master)
    return out, b"".join(chunks).decode()


def test_sweep_shows_a_bar_on_a_terminal_only():
    out, err = _sweep_on_a_terminal({})
    # input 32..96 step 8: 9 rows
    assert "sweep [" in err and "9/9 100%" in err
    assert BAR_LINE.sub("", err) == ""  # nothing but the bar, and it is erased at the end
    assert out.count("\n") == 10  # the CSV header and 9 rows: stdout is untouched
    ci_out, ci_err = _sweep_on_a_terminal({"CI": "true"})
    assert ci_err == "" and ci_out == out
    piped = subprocess.run(
        [sys.executable, "-m", "flopcount", "sweep", "vgg-D", "--set", "input=32:96:8", "--format", "csv"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout == out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_during_a_long_sweep_is_one_line_and_exit_130(jobs):
    # 1,000 rows of EfficientNet-B7 (about two minutes): interrupted once the bar shows a row done
    p = subprocess.Popen(
        [sys.executable, "-m", "flopcount", "sweep", "efficientnet-b7", "--set", "input=224:1223", "--jobs", jobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "FLOPCOUNT_PROGRESS": "1"},
        start_new_session=True,  # its own process group: SIGINT to the group, as a terminal's Ctrl-C
    )
    err = bytearray()
    started = threading.Event()

    def read():
        assert p.stderr is not None
        while True:
            b = p.stderr.read1(4096)
            if not b:
                return
            err.extend(b)
            if re.search(rb"\] [1-9][0-9,]*/1,000", bytes(err)):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), bytes(err)
    os.killpg(p.pid, signal.SIGINT)
    out = p.stdout.read() if p.stdout else b""
    code = p.wait(60)
    reader.join(10)
    assert code == 130
    assert out == b""
    assert BAR_LINE.sub("", bytes(err).decode()) == "interrupted\n"  # one line: no traceback, no worker noise


NOISY_VERIFY = """
import sys, warnings
import fvcore.nn
original = fvcore.nn.FlopCountAnalysis.by_module_and_operator

def noisy(self, *args, **kwargs):  # what fvcore does under torch 2.14
    warnings.warn("synthetic fvcore notice", FutureWarning)
    warnings.warn("synthetic torch notice", UserWarning)
    return original(self, *args, **kwargs)

fvcore.nn.FlopCountAnalysis.by_module_and_operator = noisy
from flopcount.cli import main
sys.argv = ["flopcount", "verify", sys.argv[1]]
main()
"""


def test_verify_keeps_third_party_warnings_out(tmp_path):
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu"
    )
    pytest.importorskip("fvcore", reason="fvcore is not installed: pip install fvcore")
    spec = tmp_path / "small.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 16, 16]\nlayers: [conv3-8, M, flatten, fc-10]\n")
    script = tmp_path / "noisy.py"
    script.write_text(NOISY_VERIFY)
    p = subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, p.stderr
    assert "verify: OK" in p.stdout
    for text in ("FutureWarning", "UserWarning", "synthetic"):
        assert text not in p.stdout and text not in p.stderr
    # the same run with FLOPCOUNT_DEBUG=1 lets them through: the test sees them when they are there
    loud = subprocess.run(
        [sys.executable, str(script), str(spec)], capture_output=True, text=True, env={**ENV, "FLOPCOUNT_DEBUG": "1"}
    )
    assert "FutureWarning: synthetic fvcore notice" in loud.stderr


def test_verify_progress_leaves_the_result_alone(tmp_path):
    pytest.importorskip(
        "torch", reason="torch is not installed: pip install torch --index-url https://download.pytorch.org/whl/cpu"
    )
    pytest.importorskip("fvcore", reason="fvcore is not installed: pip install fvcore")
    spec = tmp_path / "small.yaml"
    spec.write_text("flopcount: 1\ninput: [3, 16, 16]\nlayers: [conv3-8, M, flatten, fc-10]\n")
    argv = [sys.executable, "-m", "flopcount", "verify", str(spec), "--format", "json"]
    plain = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    shown = subprocess.run(argv, capture_output=True, env={**ENV, "FLOPCOUNT_PROGRESS": "1"})  # bytes: "\r" kept
    assert plain.returncode == shown.returncode == 0
    assert plain.stdout == shown.stdout.decode() and plain.stderr == ""
    bar = shown.stderr.decode()
    # conv1, maxpool1, flatten1 and fc1 are modules: 4 layers, each in both passes
    assert "8/8 100%" in bar and BAR_LINE.sub("", bar) == ""
