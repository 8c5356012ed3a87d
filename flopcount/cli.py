"""The `flopcount` command: parse options, call the API, pick a renderer, set the exit code.

Exit codes: 0 ok, 1 a check found a difference, 2 usage error, 3 invalid spec,
4 environment problem, 5 internal error (see flopcount.errors).
"""
from __future__ import annotations

import functools
import json
import os
import sys

import click

from . import __version__
from .errors import EXIT_INTERNAL, FlopcountError, SpecError, UsageError
from .render import FORMATS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def handle_errors(fn):
    """Every command: a FlopcountError becomes its message and exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            n = len(exc.diagnostics)
            _fail("\n".join(d.format() for d in exc.diagnostics)
                  + (f"\n{n} errors in the spec" if n > 1 else ""), exc.exit_code)
        except FlopcountError as exc:
            _fail(f"error: {exc}", exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `flopcount report ... | head`
            sys.stderr.close()
            sys.exit(0)
        except RecursionError:
            _fail("error: the spec nests too deeply to analyse (RecursionError)", 3)
        except MemoryError:
            _fail("error: out of memory while analysing the spec", 3)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
            if os.environ.get("FLOPCOUNT_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc}\n"
                  "this is a bug in flopcount; set FLOPCOUNT_DEBUG=1 for the traceback and please report it",
                  EXIT_INTERNAL)

    return wrapper


def parse_input(text: str | None):
    """``224`` -> (3, 224, 224); ``224x160`` -> (3, 224, 160); ``3x224x224``; ``256x28x28``."""
    if text is None:
        return None
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--input {text!r}: expected e.g. 224, 224x224 or 3x224x224") from None
    if any(d < 1 for d in dims) or len(dims) not in (1, 2, 3):
        raise UsageError(f"--input {text!r}: expected 1 to 3 positive sizes, e.g. 224 or 3x224x224")
    if len(dims) == 1:
        dims = [None, dims[0], dims[0]]
    elif len(dims) == 2:
        dims = [None, *dims]
    return dims


def _apply_input(target: str, dims):
    """Fill the channel count of --input from the spec when only H and W were given."""
    if dims is None or dims[0] is not None:
        return tuple(dims) if dims else None
    from .api import load_graph

    graph = load_graph(target)
    if len(graph.input) != 3:
        raise UsageError(f"--input: {target} takes a vector input {list(graph.input)}; give all sizes")
    return (graph.input[0], dims[1], dims[2])


def common_options(fn):
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                      help="Output format.")(fn)
    fn = click.option("--input", "input_text", metavar="SIZE",
                      help="Override the input: 224, 224x224 or CxHxW.")(fn)
    fn = click.option("--batch", type=click.IntRange(min=1), help="Batch size (MACs scale with it).")(fn)
    fn = click.option("--unit", type=click.Choice(["macs", "flops"]), default="macs", show_default=True,
                      help="Print MACs, or FLOPs = 2 x MACs.")(fn)
    fn = click.option("--collapse", is_flag=True, help="One row per block instance (an Inception module, "
                      "a ResNet block).")(fn)
    fn = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                      help="Override a variable the spec declares (repeatable).")(fn)
    return fn


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="flopcount")
def main():
    """Exact MACs and parameters of convolutional networks, from a YAML spec.

    \b
    Examples:
      flopcount list
      flopcount report vgg-D
      flopcount compare inception-naive inception-reduced
      flopcount report my-net.yaml --format json

    Exit codes: 0 ok, 1 a check found a difference, 2 usage error,
    3 invalid spec, 4 environment problem (torch, CUDA missing), 5 internal error.
    """


@main.command(context_settings=CONTEXT)
@click.argument("model")
@common_options
@click.option("--top", type=click.IntRange(min=1), help="Show only the K costliest rows (totals stay whole).")
@click.option("--width", type=click.IntRange(min=40), help="Table width (default: the terminal's).")
@handle_errors
def report(model, fmt, input_text, batch, unit, collapse, sets, top, width):
    """Per-layer cost table of MODEL (a built-in name or a spec path).

    \b
    Examples:
      flopcount report vgg-D
      flopcount report inception-reduced --format json
      flopcount report resnet-50 --collapse --input 320 --batch 8
      flopcount report my-net.yaml:large --set classes=10
    """
    from .api import analyze, parse_sets

    r = analyze(model, _apply_input(model, parse_input(input_text)), batch, parse_sets(sets))
    if fmt == "json":
        _emit(json.dumps(r.to_json(collapse, unit), indent=2))
        return
    from .render import render
    from .render.views import report_tables

    _emit(render(report_tables(r, collapse, unit, top), fmt, width))


@main.command(context_settings=CONTEXT)
@click.argument("models", nargs=-1, required=True)
@common_options
@click.option("--width", type=click.IntRange(min=40), help="Table width (default: the terminal's).")
@handle_errors
def compare(models, fmt, input_text, batch, unit, collapse, sets, width):
    """Several models side by side: totals, ratios to the first, per-layer rows aligned by name.

    \b
    Examples:
      flopcount compare inception-naive inception-reduced
      flopcount compare vgg-D googlenet resnet-50 efficientnet-b0
      flopcount compare bottleneck-naive bottleneck-reduced --format markdown
    """
    from .api import compare as run_compare, compare_json, parse_sets

    if len(models) < 2:
        raise UsageError("compare needs at least two models")
    dims = parse_input(input_text)
    reports = [run_compare([m], _apply_input(m, dims), batch, parse_sets(sets))[0] for m in models]
    if fmt == "json":
        _emit(json.dumps(compare_json(reports, collapse, unit), indent=2))
        return
    from .render import render
    from .render.views import compare_tables

    _emit(render(compare_tables(reports, collapse, unit), fmt, width))


@main.command("list", context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@handle_errors
def list_configs(fmt):
    """The built-in configs: name, description, input, params, MACs (batch 1).

    \b
    Example:
      flopcount list --format markdown
    """
    from .api import report_of
    from .render.model import Column, Table, shape_text
    from .spec.document import read_spec
    from .spec.expand import expand
    from .spec.resolve import builtin_files

    rows = []
    for path in builtin_files():
        spec = read_spec(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        for v in spec.variant_names() or [None]:
            r = report_of(expand(spec, v))
            name = stem if v is None or v == spec.default_variant else f"{stem}-{v}"
            t = r.totals
            rows.append({"name": name, "description": r.description, "input": list(r.input),
                         "params": t["params"], "macs": t["macs"]})
    if fmt == "json":
        _emit(json.dumps({"schema": "flopcount.list/1", "configs": rows}, indent=2))
        return
    from .render import render

    table = Table("built-in configs (batch 1)", [
        Column("name", "name"), Column("description", "description"), Column("input", "input_text"),
        Column("params", "params", "int"), Column("MACs", "macs", "int")],
        [dict(r, input_text=shape_text(r["input"])) for r in rows])
    _emit(render([table], fmt))


@main.command(context_settings=CONTEXT)
@click.argument("op", required=False)
@handle_errors
def ops(op):
    """The ops a spec can use, with their attributes and cost rules.

    \b
    Examples:
      flopcount ops
      flopcount ops conv
    """
    from .ops import ALIASES, REGISTRY

    names = [op] if op else sorted(REGISTRY)
    for name in names:
        impl = REGISTRY.get(ALIASES.get(name, name))
        if impl is None:
            from .spec.document import did_you_mean

            raise UsageError(f"unknown op `{name}`; {did_you_mean(name, REGISTRY) or 'run `flopcount ops`'}")
        aliases = [a for a, target in ALIASES.items() if target == impl.name]
        click.echo(f"{impl.name}" + (f" (also: {', '.join(aliases)})" if aliases else "") + f": {impl.doc}")
        for pname, p in impl.params.items():
            default = "required" if p.default is not None and p.default.__class__ is object else repr(p.default)
            click.echo(f"    {pname}: {p.doc} [default {default}]")


if __name__ == "__main__":  # pragma: no cover
    main()
