"""The command line's options and parameter types, each defined once.

Every number an option takes is parsed by a :class:`click.ParamType` here: ASCII digits only
(``int()`` would also take Unicode digits, ``_`` and spaces), bounded in length before any
conversion (no option value can make the parser slow), and bounded in value. A bad value is a
usage error (exit 2) naming the option.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable
from typing import Any

import click

from .errors import UsageError
from .parsing import MAX_SIZE, parse_input, whole
from .render import FORMATS

F = Callable[..., Any]

DTYPES = ("fp32", "tf32", "fp16", "bf16")
UNITS = ("macs", "flops")


class InputSize(click.ParamType):
    """``--input``: 224, 224x160 or 3x224x224 -> (C or None, H, W)."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, tuple):
            return value
        return parse_input(str(value))


class Count(click.ParamType):
    """A whole number in [low, high], ASCII digits only, parsed in bounded time."""

    name = "N"

    def __init__(self, low: int = 0, high: int = MAX_SIZE, high_text: str | None = None):
        self.low, self.high = low, high
        self.high_text = high_text or f"{high:,}"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            n: int | None = value
        else:
            n = whole(str(value).strip())
        if n is None:
            self.fail(f"{str(value)[:40]!r} is not a whole number (ASCII digits 0-9)", param, ctx)
        assert n is not None
        if n == -1 or n > self.high:
            self.fail(f"must be at most {self.high_text}", param, ctx)
        if n < self.low:
            self.fail(f"must be at least {self.low}", param, ctx)
        return n


#: ``--warmup-ms``, ``--measure-ms``, ``--max-ms``: ASCII digits with an optional decimal part,
#: no sign, exponent, ``_``, ``inf`` or ``nan`` (all of which ``float()`` takes)
_MILLISECONDS = r"[0-9]{1,12}(?:\.[0-9]{0,9})?|\.[0-9]{1,9}"
MAX_MS = 86_400_000  # a day
MAX_ROUNDS = 1_000_000  # --runs, --repeat, --warmup: counts of measured passes


class Milliseconds(click.ParamType):
    """A time in ms, ``0`` to :data:`MAX_MS`: ``25``, ``0.5``, ``100.``; ASCII digits only, as
    :class:`Count` (``float()`` would also take ``\u0663``, ``1_0``, ``1e3``, ``inf`` and ``nan``)."""

    name = "MS"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip()
        if not re.fullmatch(_MILLISECONDS, text):
            self.fail(f"{text[:40]!r} is not a time in ms (ASCII digits 0-9, e.g. 25 or 0.5)", param, ctx)
        ms = float(text)
        if ms > MAX_MS:
            self.fail(f"must be at most {MAX_MS:,} (a day)", param, ctx)
        return ms


_TOLERANCE = r"(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][-+]?[0-9]{1,3})?"  # compiled when used (check)
MAX_TOLERANCE = 10**6  # an int: `fractions` is imported only when a tolerance is parsed (check)


class Tolerance(click.ParamType):
    """``--tolerance``: ``0``, ``0.01``, ``1e-3`` or ``1%`` -> an exact Fraction in [0, 10**6];
    no tolerance (``0``, the default; ``0%``, ``0.0``) is the int 0, as exact and what every use
    of it reads alike (``float``, ``bool``, products with ints), without importing ``fractions``.

    The text is checked against a bounded pattern before ``Fraction`` sees it: ``1e100000000``
    would otherwise build a 100-million-digit number."""

    name = "REL"

    def convert(self, value, param, ctx):
        fractions = sys.modules.get("fractions")  # a Fraction given exists only once `fractions` is imported
        if fractions is not None and isinstance(value, fractions.Fraction):
            return value
        text = str(value).strip()
        percent = text.endswith("%")
        body = text[:-1].strip() if percent else text
        if body.isascii() and body.isdigit() and len(body) <= 30:  # `[0-9]{1,30}`: what the pattern takes first
            if int(body) == 0:
                return 0  # the default: no pattern compiled, `fractions` not imported (together ~9 M instructions)
        elif not re.fullmatch(_TOLERANCE, body):
            self.fail(
                f"{text[:40]!r}: expected a fraction such as 0.01 or 1e-3 (exponents of at most "
                "3 digits), or a percentage such as 1%",
                param,
                ctx,
            )
        from fractions import Fraction  # here, not at the top: its import is 3% of every run's start-up

        exact = Fraction(body) / (100 if percent else 1)
        if not exact:
            return 0
        if exact > MAX_TOLERANCE:
            self.fail(f"{text[:40]!r}: at most {MAX_TOLERANCE} (a relative change of a million times)", param, ctx)
        return exact


class SetPair(click.ParamType):
    """``--set KEY=VALUE`` -> (key, value), the value read as YAML as in a spec."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        key, eq, raw = str(value).partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set {str(value)[:60]!r}: expected KEY=VALUE")
        from .spec.expand import parse_override

        return (key.strip(), parse_override(raw))


class SweepAxis(click.ParamType):
    """``sweep --set KEY=VALUES`` -> (key, [values]) (see flopcount.sweep)."""

    name = "KEY=VALUES"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from .sweep import parse_axis

        return parse_axis(str(value))


def _sweep_axes(ctx, param, value):
    from .sweep import check_axes

    return check_axes(list(value or ()))


OUTPUT_KEY = "flopcount.output"  # ctx.meta: the -o target, named by the error handler on a write failure


class OutputFile(click.ParamType):
    """``-o FILE``: recorded for the error handler; an existing FIFO, device or socket is refused
    at once (writing to one would block, or fill the device)."""

    name = "FILE"

    def __init__(self, metavar: str = "FILE"):
        self.metavar = metavar

    def get_metavar(self, param, ctx=None):  # click 8.2+ passes ctx
        return self.metavar

    def convert(self, value, param, ctx):
        path = os.fspath(value)
        if ctx is not None:
            ctx.meta[OUTPUT_KEY] = path
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return path  # not there yet (or not reachable): the write reports it
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            self.fail(f"{path[:200]} is {kind}, not a file; give the path of a file to write", param, ctx)
        return path


# -- options, each written once ---------------------------------------------------------------------


def format_option(choices: tuple = FORMATS, help: str = "Output format.") -> Callable[[F], F]:
    return click.option("--format", "fmt", type=click.Choice(choices), default="table", show_default=True, help=help)


def unit_option(fn: F) -> F:
    return click.option(
        "--unit", type=click.Choice(UNITS), default="macs", show_default=True, help="Print MACs, or FLOPs = 2 x MACs."
    )(fn)


def width_option(fn: F) -> F:
    return click.option("--width", type=Count(40, 10_000), help="Table width (default: the terminal's).")(fn)


def collapse_option(help: str) -> Callable[[F], F]:
    # --no-collapse is the same as --expand (plot spelled it so before)
    return click.option("--collapse/--expand", " /--no-collapse", default=None, help=help)


def top_option(help: str) -> Callable[[F], F]:
    return click.option("--top", type=Count(1), metavar="K", help=help)


def input_option(fn: F) -> F:
    return click.option(
        "--input", "input_dims", type=InputSize(), metavar="SIZE", help="Override the input: 224, 224x224 or CxHxW."
    )(fn)


def size_options(fn: F) -> F:
    """--input and --batch, as every command that counts a model takes them (and --import-root)."""
    fn = import_root_option(fn)  # applied innermost first: --help lists --input, --batch, --import-root
    fn = click.option(
        "--batch", type=Count(1, MAX_SIZE, "2**62 (the spec's limit too)"), help="Batch size (MACs scale with it)."
    )(fn)
    return input_option(fn)


def _no_batch(ctx, param, value):
    if value is not None:
        raise UsageError(
            "--batch: a spec has no batch size; give it when you count the spec (flopcount report SPEC.yaml --batch N)"
        )


def no_batch_option(fn: F) -> F:
    """``import --batch``: refused, saying why (it was taken and ignored before); not in --help."""
    return click.option("--batch", hidden=True, expose_value=False, callback=_no_batch)(fn)


def _set_import_roots(ctx, param, value):
    from .spec.document import set_import_roots  # the loader reads it (owner: spec loader)

    set_import_roots(value)
    return value


def import_root_option(fn: F) -> F:
    """--import-root DIR: a folder besides the spec's own that `imports:` may read (repeatable)."""
    return click.option(
        "--import-root",
        "import_roots",
        multiple=True,
        metavar="DIR",
        expose_value=False,
        callback=_set_import_roots,
        help="Also let `imports:` read files under DIR (repeatable; or FLOPCOUNT_IMPORT_ROOT, "
        "os.pathsep-separated). By default imports stay in the spec's folder tree.",
    )(fn)


SET_HELP = (
    "Override a variable the spec declares; for torchvision:NAME, timm:NAME or pkg.module:function, "
    "a keyword argument of the builder (repeatable; VALUE read as YAML)."
)


def set_option(fn: F | None = None, *, help: str = SET_HELP) -> Any:
    """``--set KEY=VALUE``: ``@set_option``, or ``@set_option(help=...)`` where it means more there."""

    def apply(f: F) -> F:
        return click.option(
            "--set",
            "sets",
            type=SetPair(),
            multiple=True,
            metavar="KEY=VALUE",
            callback=lambda ctx, param, value: dict(value),
            help=help,
        )(f)

    return apply if fn is None else apply(fn)


def dtype_option(help: str) -> Callable[[F], F]:
    return click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True, help=help)


def roofline_options(fn: F) -> F:
    fn = dtype_option(
        "Data type: bytes per element (--device-profile, --columns act_bytes) and which peak of the device "
        "profile applies; with --latency also the measured module's (tf32: fp32 storage, TF32 math)."
    )(fn)
    fn = click.option(
        "--device-profile",
        "device_profile",
        metavar="NAME|PATH",
        help="Add the roofline (bytes, intensity, bound, floor_ms) for a device: "
        "h100, h200, a100-80gb, l4, t4, rtx4090, cpu, or your own profile YAML.",
    )(fn)
    return fn


def output_option(metavar: str, help: str, **kw) -> Callable[[F], F]:
    return click.option("-o", "--output", type=OutputFile(metavar), metavar=metavar, help=help, **kw)


#: ``-o FILE`` of the commands that print a result (report, compare, verify, sweep, list)
result_output_option = output_option(
    "FILE",
    "Write the output to FILE instead of standard output, as it would be piped (each table at its "
    "natural width, UTF-8); FILE is replaced whole and atomically, only once the output is complete.",
)


def _columns(ctx, param, value):
    from .render.views import EXTRA_COLUMNS

    names: list = []
    for part in value or ():
        for name in str(part).split(","):
            name = name.strip().lower().replace("-", "_")
            if not name:
                continue
            if name == "all":
                names += [n for n in EXTRA_COLUMNS if n not in names]
            elif name not in EXTRA_COLUMNS:
                from .spec.document import did_you_mean

                hint = did_you_mean(name, EXTRA_COLUMNS)
                raise UsageError(
                    f"--columns: unknown column `{name[:40]}`{f' ({hint})' if hint else ''}; the columns: "
                    f"{', '.join(EXTRA_COLUMNS)}, all"
                )
            elif name not in names:
                names.append(name)
    return tuple(names)


def columns_option(fn: F) -> F:
    """``--columns input,kernel,trainable,act_bytes`` (torchinfo's optional columns; repeatable)."""
    return click.option(
        "--columns",
        "columns",
        multiple=True,
        metavar="LIST",
        callback=_columns,
        help="Optional columns, comma-separated (or repeat the option): input (input shape), kernel "
        "(kernel, stride, groups), trainable (trainable and non-trainable params), act_bytes (output "
        "activation bytes at --dtype), or all. compare: one per model on the per-layer rows (trainable "
        "on the totals too). "
        "Tables, csv and markdown only (JSON's fields are fixed).",
    )(fn)


def depth_option(fn: F) -> F:
    """``--depth N``: fold nested blocks to N levels (1 = --collapse)."""
    return click.option(
        "--depth",
        type=Count(1, 64),
        metavar="N",
        help="Fold nested blocks to N levels: 1 is one row per outermost block instance "
        "(--collapse), 2 one row per part of it (a ResNet block's main path and "
        "shortcut), and so on. Tables, csv and markdown only.",
    )(fn)


ALLOW_UNKNOWN_HELP = (
    "An imported model (torchvision:NAME, pkg.mod:fn, .onnx) with nodes flopcount cannot cost: "
    "count the rest instead of exiting 1."
)


def _allow_unknown(ctx, param, value):
    # set on every run, given or not (a second command in one process, in tests or a notebook,
    # does not inherit the first one's flag); not imported yet, it is at its default, False
    if value or "flopcount.importers" in sys.modules:
        from .importers import ALLOW_UNKNOWN  # matching targets only: no torch import

        ALLOW_UNKNOWN[0] = bool(value)


def allow_unknown_option(fn: F | None = None, *, help: str = ALLOW_UNKNOWN_HELP) -> Any:
    """``--allow-unknown``: on every command that takes a target (or FLOPCOUNT_ALLOW_UNKNOWN=1);
    the command reads it with flopcount.importers.allowed_unknown(). ``@allow_unknown_option``,
    or ``@allow_unknown_option(help=...)`` where the command says what it means there."""

    def apply(f: F) -> F:
        return click.option("--allow-unknown", is_flag=True, callback=_allow_unknown, expose_value=False, help=help)(f)

    return apply if fn is None else apply(fn)


def _trust_code(ctx, param, value):
    if value or "flopcount.baseline.trust" in sys.modules:  # set on every run, as --allow-unknown
        from .baseline.trust import TRUST_CODE

        TRUST_CODE[0] = bool(value)


def trust_code_option(fn: F) -> F:
    """``check --trust-code``: let the lock file's ``pkg.module:function`` entries run."""
    return click.option(
        "--trust-code",
        is_flag=True,
        callback=_trust_code,
        expose_value=False,
        help="Let the baseline's `target: pkg.module:function` entries run (their module is "
        "imported, from the working folder first, and the function called); without it they are "
        "refused (exit 3), as the baseline may come from a pull request. Or FLOPCOUNT_TRUST_CODE=1.",
    )(fn)
