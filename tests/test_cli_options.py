"""Numbers in options: ASCII digits only, bounded, parsed in bounded time; a bad value is exit 2
naming the option (flopcount/cli_options.py, flopcount/parsing.py)."""

import time

import pytest

from flopcount.cli_options import MAX_TOLERANCE
from flopcount.parsing import parse_input

from conftest import run

ARABIC_224 = "\u0662\u0662\u0664"  # Arabic-Indic digits: int() reads them as 224
FULLWIDTH_8 = "\uff18"  # fullwidth 8: int() reads it as 8
ARABIC_3 = "\u0663"  # Arabic-Indic 3: int() and float() read it as 3


@pytest.mark.parametrize(
    "line, fragment",
    [
        (f"report vgg-A --input {ARABIC_224}", "(ASCII digits)"),
        (f"report vgg-A --input 3x{ARABIC_224}x224", "(ASCII digits)"),
        ("report vgg-A --input 2_24", "(ASCII digits)"),  # int() takes `_` separators
        ("report vgg-A --input +224", "(ASCII digits)"),
        ("report vgg-A --input 1x2x3x4", "1 to 3 positive sizes"),
        ("report vgg-A --input " + "1x" * 10_000 + "1", "1 to 3 positive sizes"),
        ("report vgg-A --input 4611686018427387905", "at most 2**62"),  # 2**62 + 1
        ("report vgg-A --input " + "9" * 100_000, "at most 2**62"),  # refused without converting it
        (f"report vgg-A --batch {FULLWIDTH_8}", "not a whole number (ASCII digits 0-9)"),
        ("report vgg-A --batch 1_000", "not a whole number"),
        ("report vgg-A --batch 4611686018427387905", "at most 2**62"),
        ("report vgg-A --batch " + "9" * 100_000, "at most 2**62"),
        ("report vgg-A --batch 0", "at least 1"),
        (f"report vgg-A --top {ARABIC_224}", "not a whole number"),
        ("report vgg-A --width 39", "at least 40"),
        ("report vgg-A --width 10001", "at most 10,000"),
        # the --latency settings are parsed before anything is measured (no torch needed to refuse them)
        (f"report vgg-A --runs {ARABIC_3}", "'--runs': '\u0663' is not a whole number (ASCII digits 0-9)"),
        (f"report vgg-A --threads {FULLWIDTH_8}", "'--threads': '\uff18' is not a whole number"),
        (f"compare vgg-A vgg-B --repeat {ARABIC_3}", "'--repeat'"),
        (f"plot vgg-A -o x.png --warmup {FULLWIDTH_8}", "'--warmup'"),
        ("report vgg-A --repeat 1_0", "not a whole number"),
        ("report vgg-A --warmup -1", "not a whole number"),
        ("report vgg-A --runs 0", "'--runs': must be at least 1"),
        ("report vgg-A --runs 1000001", "must be at most 1,000,000"),
        ("report vgg-A --threads 4097", "'--threads': must be at most 4,096"),
        ("report vgg-A --runs " + "9" * 100_000, "must be at most 1,000,000"),
        (f"report vgg-A --warmup-ms {ARABIC_3}", "'--warmup-ms': '\u0663' is not a time in ms (ASCII digits"),
        ("report vgg-A --measure-ms nan", "is not a time in ms"),  # float() takes nan, inf, 1e3, 1_0
        ("report vgg-A --max-ms inf", "is not a time in ms"),
        ("report vgg-A --max-ms 1e3", "is not a time in ms"),
        ("report vgg-A --max-ms 1_000", "is not a time in ms"),
        ("report vgg-A --max-ms -5", "is not a time in ms"),
        ("report vgg-A --max-ms 86400001", "'--max-ms': must be at most 86,400,000 (a day)"),
        ("report vgg-A --max-ms " + "9" * 100_000, "is not a time in ms"),
        ("check BASELINE --max-rows -1", "not a whole number"),
        ("check BASELINE --tolerance 1e100000000", "exponents of at most 3 digits"),
        ("check BASELINE --tolerance 1e999", "at most 1000000"),
        ("check BASELINE --tolerance -1%", "expected a fraction"),
        (f"check BASELINE --tolerance {FULLWIDTH_8}%", "expected a fraction"),
        ("check BASELINE --tolerance nan", "expected a fraction"),
        ("check BASELINE --tolerance inf", "expected a fraction"),
        ("check BASELINE --tolerance 1/2", "expected a fraction"),
    ],
)
def test_bad_numbers_are_exit_2_within_a_second(line, fragment, baseline):
    start = time.process_time()  # CPU time of this process: the machine's other load does not count
    r = run("flopcount " + line.replace("BASELINE", str(baseline)))
    elapsed = time.process_time() - start
    assert r.code == 2, r.err
    assert fragment in r.err, r.err
    assert "Traceback" not in r.err
    assert len(r.err) < 1000  # the value is shown cut short
    assert elapsed < 1.0, f"{elapsed:.2f} s of CPU"


@pytest.mark.parametrize(
    "text, dims",
    [
        ("224", (None, 224, 224)),
        ("224x160", (None, 224, 160)),
        ("3x224x224", (3, 224, 224)),
        ("3,32,32", (3, 32, 32)),
        (" 224X160 ", (None, 224, 160)),
        ("4611686018427387904", (None, 2**62, 2**62)),  # the limit itself is allowed
    ],
)
def test_input_sizes(text, dims):
    assert parse_input(text) == dims


def test_batch_at_the_limit_is_accepted():
    # 2**62 is allowed; vgg-A's params do not depend on the batch: 132,863,336 (as at batch 1)
    j = run("flopcount report vgg-A --batch 4611686018427387904 --format json").json()
    assert j["batch"] == 2**62
    assert j["totals"]["params"] == run("flopcount report vgg-A --format json").json()["totals"]["params"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    path = tmp_path_factory.mktemp("lock") / "costs.lock.json"
    assert run(f"flopcount snapshot vgg-A -o {path}").code == 0
    return path


@pytest.mark.parametrize("text", ["0", "0.01", "1%", "1e-3", "2.5e+2%", ".5", "1000000"])
def test_tolerances_accepted(text, baseline):
    r = run(f"flopcount check {baseline} --tolerance {text}")
    assert r.code == 0, r.err


def test_tolerance_limit():
    assert MAX_TOLERANCE == 10**6


def test_set_needs_a_key():
    r = run("flopcount report vgg-A --set =3")
    assert r.code == 2 and "expected KEY=VALUE" in r.err


def test_no_collapse_is_expand():
    a = run("flopcount report resnet-50 --no-collapse --format csv").out
    b = run("flopcount report resnet-50 --expand --format csv").out
    c = run("flopcount report resnet-50 --collapse --format csv").out
    assert a == b and len(a.splitlines()) > len(c.splitlines())


@pytest.mark.parametrize(
    "line, applies",
    [
        ("report vgg-A --runs 3 --threads 2 --repeat 5 --warmup 0", "--warmup, --repeat, --runs, --threads only apply"),
        (
            "report vgg-A --warmup-ms 0.5 --measure-ms 150. --max-ms .25",
            "--warmup-ms, --measure-ms, --max-ms only apply",
        ),
        ("report vgg-A --max-ms 86400000", "--max-ms only applies"),  # the limit itself is allowed
        ("report vgg-A --runs 1000000", "--runs only applies"),
        ("report vgg-A --measure-ms 100 --runs 1", "--measure-ms, --runs only apply"),  # the defaults, but given
    ],
)
def test_good_latency_numbers_are_read(line, applies):
    # read and accepted: the command then stops at the next check, that they need --latency
    r = run("flopcount " + line)
    assert r.code == 2 and applies in r.err, r.err


def _commands():
    from flopcount.cli import BUILDERS, main

    return [main.get_command(None, name) for name in BUILDERS]


def test_every_number_option_is_read_by_flopcounts_own_types():
    # click's INT/FLOAT (and IntRange/FloatRange) call int()/float(), which take Unicode digits, `_`,
    # `inf`, `nan`: no option of any command may use them (flopcount.cli_options: Count, Milliseconds)
    import click

    from flopcount.cli_options import Count, Milliseconds

    numbers = []
    for command in _commands():
        for p in command.params:
            assert not isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType)), (
                command.name,
                p.name,
            )
            if isinstance(p.type, (Count, Milliseconds)):
                numbers.append(p.name)
    # counted, not assumed: the latency settings (on report, compare and plot) are among them
    assert {"runs", "threads", "repeat", "warmup", "warmup_ms", "measure_ms", "max_ms"} <= set(numbers)
