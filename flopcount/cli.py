"""The `flopcount` command: parse options, call the API, render, set the exit code.

Options and their parameter types are defined once in :mod:`flopcount.cli_options`; every
error, whatever the command, becomes one message and a documented exit code in
:mod:`flopcount.cli_errors` (0 ok, 1 a check found a difference, 2 usage error, 3 invalid
spec, 4 environment problem, 5 internal error; 130 interrupted, 141 broken pipe).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from . import __version__
from .cli_errors import Group
from .cli_errors import emit as _emit
from .cli_options import (
    DTYPES,
    MAX_ROUNDS,
    Count,
    Milliseconds,
    SweepAxis,
    Tolerance,
    _sweep_axes,
    allow_unknown_option,
    collapse_option,
    columns_option,
    depth_option,
    format_option,
    import_root_option,
    input_option,
    no_batch_option,
    output_option,
    result_output_option,
    roofline_options,
    set_option,
    size_options,
    top_option,
    trust_code_option,
    unit_option,
    width_option,
)
from .errors import UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
COLLAPSE_HELP = (
    "One row per block instance (an Inception module, a ResNet block), or one per layer. "
    "Default: the spec's `collapse:` (report), else per layer."
)


def common_options(table_only: str) -> Callable:
    """What report and compare share: format, input and batch, unit, collapse, --set
    (``table_only``: the command's options that shape tables only, named by --format's help)."""

    def apply(fn):
        fn = set_option(fn)  # applied innermost first: --help lists them from --format down
        fn = collapse_option(COLLAPSE_HELP)(fn)
        fn = unit_option(fn)
        fn = size_options(fn)
        return format_option(
            help=f"Output format. json: always every layer and the totals, so not with {table_only} "
            "(they shape the other formats)."
        )(fn)

    return apply


def _apply_roofline(reports, device_profile, dtype) -> None:
    if not device_profile:
        return
    from .profiles import load_profile
    from .roofline import annotate

    profile = load_profile(device_profile)
    for r in reports:
        annotate(r, profile, dtype)
    from .render.measured import report_elsewhere

    away = next((w for w in map(report_elsewhere, reports) if w), None)
    if away:  # --latency --device cpu --device-profile h100: say it, do not divide one by the other
        click.echo(f"warning: {away}; % of roof is left out (give --device-profile of the measured device)", err=True)


def latency_options(fn):
    """--latency and its settings (flopcount.latency); adds --dtype unless the command has it."""
    if not any(p.name == "dtype" for p in getattr(fn, "__click_params__", [])):
        fn = click.option(
            "--dtype",
            type=click.Choice(DTYPES),
            default="fp32",
            show_default=True,
            help="Data type of the measured module and input (tf32: fp32 storage, TF32 math).",
        )(fn)
    fn = click.option(
        "--cuda-graph",
        "cuda_graph",
        is_flag=True,
        help="Also time the end-to-end pass replayed from a CUDA graph (launch overhead).",
    )(fn)
    fn = click.option("--channels-last", "channels_last", is_flag=True, help="NHWC memory format.")(fn)
    fn = click.option(
        "--flush-l2",
        "flush_l2",
        is_flag=True,
        help="CUDA: overwrite a buffer larger than the L2 cache before each timed pass.",
    )(fn)
    fn = click.option(
        "--threads",
        type=Count(1, 4096),
        default=None,
        metavar="N",
        help="CPU intra-op threads while measuring [default: 1].",
    )(fn)
    fn = click.option(
        "--runs",
        type=Count(1, MAX_ROUNDS),
        default=1,
        show_default=True,
        metavar="K",
        help="Repeat the whole measurement K times and report the run-to-run spread.",
    )(fn)
    fn = click.option(
        "--max-ms",
        "max_ms",
        type=Milliseconds(),
        default=10000.0,
        show_default=True,
        metavar="MS",
        help="Cap (ms): stop measuring here even when the spread is still above 10%.",
    )(fn)
    fn = click.option(
        "--measure-ms",
        "measure_ms",
        type=Milliseconds(),
        default=100.0,
        metavar="MS",
        show_default=True,
        help="Measure at least this long (ms), then until IQR/median < 10%.",
    )(fn)
    fn = click.option(
        "--repeat",
        type=Count(1, MAX_ROUNDS),
        default=None,
        metavar="N",
        help="Measure exactly N rounds (a count, in place of --measure-ms, --max-ms and the early stop).",
    )(fn)
    fn = click.option(
        "--warmup",
        type=Count(0, MAX_ROUNDS),
        default=None,
        metavar="N",
        help="Exactly N warm-up rounds (a count, in place of --warmup-ms).",
    )(fn)
    fn = click.option(
        "--warmup-ms",
        "warmup_ms",
        type=Milliseconds(),
        default=25.0,
        show_default=True,
        metavar="MS",
        help="Warm-up time (ms) before measuring; 0 on CUDA times cuDNN's autotuning too (noted).",
    )(fn)
    fn = click.option(
        "--device",
        type=click.Choice(["auto", "cuda", "cpu"]),
        default="auto",
        show_default=True,
        help="Where to measure (auto: CUDA when available).",
    )(fn)
    fn = click.option(
        "--latency",
        is_flag=True,
        help="Build the model with torch and measure per-layer and "
        "end-to-end time (CUDA events on a GPU). Needs torch (`pip install torch fvcore`).",
    )(fn)
    return fn


def _apply_latency(reports, lat: dict, dtype: str, fmt: str) -> None:
    """Measure each report when --latency was given (torch is imported only then)."""
    if not lat.get("latency"):
        ctx = click.get_current_context(silent=True)

        def given(key: str, default) -> bool:  # on the command line (`--measure-ms 100` too), or changed
            source = ctx.get_parameter_source(key) if ctx is not None else None
            if source is not None:
                return source.name in ("COMMANDLINE", "ENVIRONMENT")
            return lat.get(key, default) != default

        used = [
            f"--{k.replace('_', '-')}"
            for k, d in (
                ("device", "auto"),
                ("warmup_ms", 25.0),
                ("measure_ms", 100.0),
                ("max_ms", 10000.0),
                ("warmup", None),
                ("repeat", None),
                ("runs", 1),
                ("threads", None),
                ("flush_l2", False),
                ("channels_last", False),
                ("cuda_graph", False),
            )
            if given(k, d)
        ]
        if used:
            raise UsageError(f"{', '.join(used)} only {'applies' if len(used) == 1 else 'apply'} with --latency")
        return
    from .latency import Options, attach, notes

    opts = Options(
        device=lat["device"],
        dtype=dtype,
        warmup=lat["warmup"],
        repeat=lat["repeat"],
        warmup_ms=lat["warmup_ms"],
        measure_ms=lat["measure_ms"],
        max_ms=lat["max_ms"],
        runs=lat["runs"],
        threads=lat["threads"],
        channels_last=lat["channels_last"],
        cuda_graph=lat["cuda_graph"],
        flush_l2=lat["flush_l2"],
        progress=fmt != "json",
    )
    for r in reports:
        attach(r, opts)
        for note in notes(r.latency):
            click.echo(f"note: {note}", err=True)


#: what `--format json` holds, whatever chooses a table's rows or columns (README "JSON output")
JSON_ROWS = "--format json always holds every layer (`layers`; with --collapse also `blocks`) and the totals"
JSON_FIELDS = (
    "--format json has fixed layer fields (trainable params are `params`, non-trainable `buffers`; "
    "input shapes, kernels and activation bytes are not in it)"
)


def _tables_only(fmt: str, columns: tuple = (), collapse: bool | None = None, **rows) -> None:
    """Refuse --depth with --expand (``collapse`` False), and, with --format json, the options
    that choose a table's rows (--top, --depth, --no-total) or add columns to it (--columns): an
    option that changed nothing would look as if it had."""
    if rows.get("depth") is not None and collapse is False:
        raise UsageError("--depth folds blocks and --expand shows every layer: give one of them")
    if fmt != "json":
        return
    used = [f"--{name.replace('_', '-')}" for name, value in rows.items() if value]
    if used:
        one = len(used) == 1
        raise UsageError(
            f"{', '.join(used)} {'chooses' if one else 'choose'} the rows of table, csv and markdown output; "
            f"{JSON_ROWS}: leave {'it' if one else 'them'} out, or pick the rows from the JSON"
        )
    if columns:
        raise UsageError(f"--columns adds columns to table, csv and markdown output; {JSON_FIELDS}: leave it out")


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"flopcount {__version__}")
        ctx.exit()


#: every command's builder, by name. A builder makes its click command (the options and their
#: types) when the command is first asked for: a run builds the one command it runs, not all ten
#: (building them all was about 10 M instructions, 3% of a `report`'s start-up); `--help`, which
#: lists them all, builds them all. One builder per name.
BUILDERS: dict = {}


def command(name: str) -> Callable[[Callable[[], click.Command]], Callable[[], click.Command]]:
    """Register the decorated function as the builder of command ``name``."""

    def register(build: Callable[[], click.Command]) -> Callable[[], click.Command]:
        if name in BUILDERS:
            raise RuntimeError(f"command `{name}` is defined twice")
        BUILDERS[name] = build
        return build

    return register


#: click's words for `--help`, given to the option here: click looks them up in gettext's catalogs
#: on every run (it ships none), and that lookup imports `locale` (4.5 M instructions, 1.3% of a
#: `report`); a catalog that translates click's messages would not translate this one line
HELP_TEXT = "Show this message and exit."


def _show_help(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class _HelpOption:
    """The `-h/--help` option as click makes it (the names it would give, eager, not exposed,
    printing the help and exiting; click 8.5's reserved storage name where it has one), its text
    given (HELP_TEXT); made once per command."""

    _help = None

    def get_help_option(self, ctx):
        if self._help is None:
            names = self.get_help_option_names(ctx)
            if not names or not self.add_help_option:
                return None
            storage = getattr(click.core, "_HELP_OPTION_STORAGE_NAME", None)
            self._help = click.Option(
                [*names, *([storage] if storage else [])],
                is_flag=True,
                is_eager=True,
                expose_value=False,
                callback=_show_help,
                help=HELP_TEXT,
            )
        return self._help


class Command(_HelpOption, click.Command):
    """Every flopcount command (see _HelpOption)."""


class LazyGroup(_HelpOption, Group):
    """The `flopcount` group: a command is built from its builder when first asked for (to run
    it, for --help, for shell completion) and kept; listed in the order click lists built ones."""

    def list_commands(self, ctx):
        return sorted({*self.commands, *BUILDERS})

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in BUILDERS:
            self.add_command(BUILDERS[cmd_name](), cmd_name)
        return self.commands.get(cmd_name)

    def __call__(self, *args, **kwargs):
        """``main()`` as the program calls it (the console script, ``python -m flopcount``: the
        arguments from ``sys.argv``, and the process ends when it returns). Afterwards every
        object is frozen out of the cyclic garbage collector, so the interpreter's collections at
        exit do not walk all of them once more (for `report vgg-D`, 7% of the whole process's
        instructions, and nothing to find: a command's objects are freed by reference counting,
        and every file it writes is closed and renamed before this point). A caller that passes
        arguments (``main(["report", ...])``, click's test runner) is left as it is."""
        try:
            return super().__call__(*args, **kwargs)
        finally:
            if not args and not kwargs:
                import gc

                gc.freeze()


@click.group(cls=LazyGroup, context_settings=CONTEXT)
# a plain eager flag: click.version_option imports `locale` at start-up (1 ms of every run)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def main():
    """Exact MACs and parameters of convolutional networks, from a YAML spec or an imported
    model (torchvision:NAME, timm:NAME, pkg.module:function, FILE.onnx).

    \b
    Examples:
      flopcount list
      flopcount report vgg-D
      flopcount compare inception-naive inception-reduced
      flopcount report my-net.yaml --format json

    Exit codes: 0 ok, 1 a check found a difference (or an imported model has
    nodes that were not costed), 2 usage error, 3 invalid spec, 4 environment problem (torch, CUDA missing; a file that cannot be written),
    5 internal error; 130 interrupted, 141 output pipe closed early.
    """


def _out(output: str | None, make) -> None:
    """Write what ``make()`` renders: to standard output (streamed), or with ``-o FILE`` to
    that file, rendered as it would be piped and written whole and atomically
    (flopcount.fileio.write_atomic: an existing FILE is replaced only by a complete output, and
    nothing is written when rendering fails)."""
    if output is None:
        _emit(make())
        return
    from .fileio import write_atomic, write_target
    from .render.text import for_a_file

    real = write_target(output, "file", keep_read=True)  # refused before anything is rendered
    with for_a_file():
        made = make()
        text = made if isinstance(made, str) else "".join(made)
    write_atomic(real, text if text.endswith("\n") else text + "\n", output)
    lines = text.count("\n") + (not text.endswith("\n"))
    click.echo(f"wrote {output}: {lines:,} line{'s' * (lines != 1)}", err=True)


@command("report")
def _report_command() -> click.Command:
    @click.command(
        cls=Command,
        context_settings=CONTEXT,
        short_help="Per-layer cost table of a model (built-in, spec file or imported).",
    )
    @click.argument("model")
    @common_options("--top, --depth, --columns, --no-total")
    @top_option("Show only the K costliest rows (totals stay whole). Tables, csv and markdown only.")
    @click.option(
        "--total/--no-total",
        "total",
        default=True,
        help="End the table (and CSV, markdown) with the total row [default: --total]; a CSV marks it in its "
        "`row` column.",
    )
    @columns_option
    @depth_option
    @width_option
    @latency_options  # above roofline_options: it reuses that --dtype
    @roofline_options
    @allow_unknown_option
    @result_output_option
    def report(
        model,
        fmt,
        input_dims,
        batch,
        unit,
        collapse,
        sets,
        top,
        total,
        columns,
        depth,
        width,
        device_profile,
        dtype,
        output,
        **lat,
    ):
        """Per-layer cost table of MODEL: a built-in name (flopcount list), a spec file (net.yaml,
        net.yaml:VARIANT), or an imported model (torchvision:NAME, timm:NAME, pkg.module:function,
        FILE.onnx: the torch ones need torch, .onnx the onnx package).

        \b
        Examples:
          flopcount report vgg-D
          flopcount report inception-reduced --format json
          flopcount report resnet-50 --collapse --input 320 --batch 8
          flopcount report my-net.yaml:large --set classes=10
        """
        from .api import _analyze as analyze  # a command-line target is a name or a path, never YAML text

        _tables_only(fmt, columns, collapse, top=top, depth=depth, no_total=not total)
        r = analyze(model, input_dims, batch, sets)
        _apply_latency([r], lat, dtype, fmt)
        _apply_roofline([r], device_profile, dtype)  # after any measurement: efficiency needs latency_ms
        if collapse is None:
            collapse = r.graph.collapse
        from . import render

        _out(
            output, lambda: render.report(r, fmt, collapse, unit, top, width, total, columns, depth, dtype, stream=True)
        )

    return report


@command("compare")
def _compare_command() -> click.Command:
    @click.command(
        cls=Command, context_settings=CONTEXT, short_help="Several models side by side: totals, ratios, aligned layers."
    )
    @click.argument("models", nargs=-1, required=True)
    @common_options("--top, --depth, --columns")
    @top_option("Per-layer table: show only the K costliest rows (by the larger cost of the models).")
    @columns_option
    @depth_option
    @width_option
    @latency_options  # above roofline_options: it reuses that --dtype
    @roofline_options
    @allow_unknown_option
    @result_output_option
    def compare(
        models,
        fmt,
        input_dims,
        batch,
        unit,
        collapse,
        sets,
        top,
        columns,
        depth,
        width,
        device_profile,
        dtype,
        output,
        **lat,
    ):
        """Several models side by side: totals, ratios to the first, per-layer rows aligned by name.

        \b
        Examples:
          flopcount compare inception-naive inception-reduced
          flopcount compare vgg-D googlenet resnet-50 efficientnet-b0
          flopcount compare bottleneck-naive bottleneck-reduced --format markdown
          flopcount compare resnet-50 resnet-50-paper --columns kernel,input --top 8
          flopcount compare resnet-50 efficientnet-b0 --device-profile h100 --dtype bf16
        """
        from . import render
        from .api import _compare as run_compare

        if len(models) < 2:
            raise UsageError("compare needs at least two models")
        _tables_only(fmt, columns, collapse, top=top, depth=depth)
        reports = run_compare(models, input_dims, batch, sets)
        _apply_latency(reports, lat, dtype, fmt)
        _apply_roofline(reports, device_profile, dtype)  # after any measurement: efficiency needs latency_ms
        _out(
            output,
            lambda: render.compare(
                reports, fmt, collapse, unit, width, top, stream=True, columns=columns, dtype=dtype, depth=depth
            ),
        )

    return compare


@command("plot")
def _plot_command() -> click.Command:
    @click.command(
        cls=Command, context_settings=CONTEXT, short_help="Pictures: per-layer bars or the roofline (PNG, SVG)."
    )
    @click.argument("models", nargs=-1, required=True)
    @output_option("FILE.png|svg", "The picture to write.", required=True)
    @click.option(
        "--roofline",
        "roof",
        is_flag=True,
        help="Draw the device's roofline with one point per layer (needs --device-profile) instead of per-layer bars.",
    )
    @latency_options  # above roofline_options: it reuses that --dtype
    @roofline_options
    @size_options
    @set_option
    @top_option(
        "Bars: keep the K costliest rows per model, sum the rest into one bar (default 30). "
        "Roofline: label K points per model (default 8)."
    )
    @collapse_option(
        "Bars: one bar per block instance, or one per layer (default: per block only when a "
        "model has more rows than --top)."
    )
    @allow_unknown_option
    def plot(models, output, roof, device_profile, dtype, input_dims, batch, sets, top, collapse, **lat):
        """Pictures: per-layer bars of MACs and params, or the roofline; several models side by side.

        \b
        Examples:
          flopcount plot vgg-D -o vgg.png
          flopcount plot vgg-D googlenet resnet-50 efficientnet-b0 -o compare.svg
          flopcount plot resnet-50 --roofline --device-profile h100 --dtype bf16 -o roof.png
          flopcount plot resnet-50 --roofline --device-profile h100 --latency -o achieved.png

        Needs matplotlib (pip install matplotlib); without it, exits 4.
        """
        from . import plot as pictures
        from .api import _analyze as analyze  # a command-line target is a name or a path, never YAML text

        pictures.check_output(output)
        if roof and not device_profile:
            raise UsageError("--roofline needs --device-profile NAME|PATH (e.g. h100), the device whose roof to draw")
        reports = [analyze(m, input_dims, batch, sets) for m in models]
        _apply_latency(reports, lat, dtype, "table")  # measured bars and achieved roofline points
        _apply_roofline(reports, device_profile, dtype)
        if roof:
            pictures.roofline(reports, output, **({"labels": top} if top else {}))
        else:
            pictures.layer_bars(reports, output, top, collapse)
        click.echo(f"wrote {output}", err=True)

    return plot


@command("verify")
def _verify_command() -> click.Command:
    @click.command(
        cls=Command,
        context_settings=CONTEXT,
        short_help="Cross-check per-layer MACs against fvcore and FlopCounterMode.",
    )
    @click.argument("model")
    @format_option()
    @size_options
    @set_option
    @width_option
    @allow_unknown_option
    @result_output_option
    def verify(model, fmt, input_dims, batch, sets, width, output):
        """Cross-check MODEL's per-layer MACs against fvcore and torch's FlopCounterMode.

        Builds the module with torch, counts it with fvcore's FlopCountAnalysis (conv + linear
        buckets) and torch.utils.flop_counter.FlopCounterMode (FLOPs / 2), and compares every
        layer. Exit 1 on any difference, naming the layer. Needs `pip install torch fvcore`.

        \b
        Examples:
          flopcount verify vgg-E
          flopcount verify my-net.yaml --format json
        """
        from .crosscheck import verify as run_verify
        from .crosscheck import verify_tables
        from .render import output as as_format

        v = run_verify(model, input_dims, batch, sets)
        _out(output, lambda: as_format(fmt, lambda: verify_tables(v), v.to_json, width))
        if not v.ok:
            sys.exit(1)

    return verify


@command("list")
def _list_configs_command() -> click.Command:
    @click.command(
        "list", cls=Command, context_settings=CONTEXT, short_help="The built-in configs, with their params and MACs."
    )
    @format_option()
    @width_option
    @result_output_option
    def list_configs(fmt, width, output):
        """The built-in configs: name, description, input, params, MACs (batch 1).

        \b
        Example:
          flopcount list --format markdown
        """
        from . import render
        from .catalog import builtin_configs

        _out(output, lambda: render.catalog(builtin_configs(), fmt, width))

    return list_configs


@command("ops")
def _ops_command() -> click.Command:
    @click.command(cls=Command, context_settings=CONTEXT)
    @click.argument("op", required=False)
    def ops(op):
        """The ops a spec can use, with their attributes and cost rules.

        \b
        Examples:
          flopcount ops
          flopcount ops conv
        """
        from .ops import ALIASES, REGISTRY
        from .ops.base import REQUIRED

        names = [op] if op else sorted(REGISTRY)
        lines = []
        for name in names:
            impl = REGISTRY.get(ALIASES.get(name, name))
            if impl is None:
                from .spec.document import did_you_mean

                raise UsageError(f"unknown op `{name}`; {did_you_mean(name, REGISTRY) or 'run `flopcount ops`'}")
            aliases = [a for a, target in ALIASES.items() if target == impl.name]
            lines.append(f"{impl.name}" + (f" (also: {', '.join(aliases)})" if aliases else "") + f": {impl.doc}")
            lines.append(f"    cost: {impl.cost_rule}")
            for pname, p in impl.params.items():
                default = "required" if p.default is REQUIRED else repr(p.default)
                lines.append(f"    {pname}: {p.describe()} [default {default}]")
        _emit("\n".join(lines))

    return ops


@command("snapshot")
def _snapshot_command() -> click.Command:
    @click.command(
        cls=Command, context_settings=CONTEXT, short_help="Write a baseline of models' costs for `flopcount check`."
    )
    @click.argument("models", nargs=-1)
    @click.option(
        "--all",
        "all_builtins",
        is_flag=True,
        help="Every built-in config; `check` then also reports built-ins added later.",
    )
    @output_option(
        "FILE",
        "The baseline to write (replaced whole, atomically; budgets already in it are kept).",
        default="costs.lock.json",
        show_default=True,
    )
    @size_options  # pinned: recorded in the baseline and used again by `check`
    @set_option  # pinned too
    @allow_unknown_option
    def snapshot(models, all_builtins, output, input_dims, batch, sets):
        """Write a baseline: every layer's params and MACs of each MODEL, for `flopcount check`.

        \b
        Examples:
          flopcount snapshot --all -o costs.lock.json
          flopcount snapshot nets/small.yaml nets/big.yaml:wide vgg-D -o costs.lock.json
          flopcount snapshot torchvision:resnet50 model.onnx my_pkg.models:build_net -o costs.lock.json
        """
        from .baseline import snapshot as take

        if not models and not all_builtins:
            raise UsageError("name the models to snapshot (built-in names or spec files), or give --all")
        dims = input_dims
        inputs = {m: dims for m in models} if dims else {}
        if dims and all_builtins:
            raise UsageError("--input applies to the models you name, not to --all")
        if sets and all_builtins:
            raise UsageError("--set applies to the models you name, not to --all")
        written = take(list(models), output, all_builtins, inputs, batch, sets)
        layers = sum(len(e.layers) for e in written.entries)
        n = len(written.entries)
        _emit(f"wrote {output}: {n} model{'s' * (n != 1)}, {layers} layers (counting rules v{written.counting_rules})")

    return snapshot


@command("check")
def _check_command() -> click.Command:
    @click.command(
        cls=Command, context_settings=CONTEXT, short_help="Recount a baseline's models: exit 1 when anything moved."
    )
    @click.argument("baseline", default="costs.lock.json", metavar="[BASELINE]")
    @click.option(
        "--tolerance",
        type=Tolerance(),
        default="0",
        show_default=True,
        metavar="REL",
        help="How far each number may move, relative: 0.01 or 1%. 0: exact.",
    )
    @click.option("--update", is_flag=True, help="Rewrite the baseline with the current costs and report what changed.")
    @click.option(
        "--prune",
        is_flag=True,
        help="With --update: remove the models whose spec is gone (without it "
        "they are kept, budget and all, and fail the check).",
    )
    @format_option(("table", "json", "markdown"), "markdown: ready to paste as a pull-request comment.")
    @click.option(
        "--annotations/--no-annotations",
        default=None,
        help="GitHub Actions `::error file=...,line=...::` lines at the spec lines that moved "
        "(default: on when GITHUB_ACTIONS=true).",
    )
    @click.option(
        "--max-rows",
        type=Count(0),
        default=40,
        show_default=True,
        help="Layer rows to show in a table or markdown (totals always show; 0: all).",
    )
    @width_option
    @import_root_option  # also the folders a lock file's `spec` entries may name
    @trust_code_option
    @allow_unknown_option
    def check(baseline, tolerance, update, prune, fmt, annotations, max_rows, width):
        """Recompute every model of a baseline and compare: exit 0 when nothing moved, 1 when
        anything did (or a budget is exceeded, or a model's spec is gone), 3 when the baseline is
        corrupt.

        A `spec` path in the baseline is relative to the folder of the baseline file itself, after
        following symbolic links (a linked baseline is read and rewritten at its target), and must
        stay inside that folder's tree unless --import-root or FLOPCOUNT_IMPORT_ROOT allows another
        folder.

        Imported models are recounted through their importer: an `onnx` file (the same folder
        rule), a `target` of torchvision:NAME or timm:NAME (looked up by name; torch missing: exit
        4). A `target` of pkg.module:function runs code, so it is refused (exit 3) unless you give
        --trust-code or FLOPCOUNT_TRUST_CODE=1: give it only for a baseline whose code you trust.

        \b
        Examples:
          flopcount check costs.lock.json
          flopcount check costs.lock.json --tolerance 1% --format markdown
          flopcount check costs.lock.json --update
        """
        from . import baseline as lock

        if prune and not update:
            raise UsageError("--prune removes models from the baseline: give it with --update")
        result = lock.check(baseline, tolerance, update, prune)
        if annotations is None:
            annotations = os.environ.get("GITHUB_ACTIONS") == "true"
        if fmt == "json":
            from .render.jsonfmt import json_text

            _emit(json_text(result.to_json()))
        else:
            from .render import render
            from .render.checkview import summary, tables

            head = summary(result)
            body = render(tables(result, max_rows), fmt, width) if result.changes or result.overruns else ""
            _emit((f"**{head}**\n\n" if fmt == "markdown" else head + "\n\n") + body if body else head)
        if annotations:
            from .render.checkview import annotations as github_annotations

            notes = github_annotations(result)
        else:
            notes = []
        if notes:  # workflow commands: on stdout beside a table; on stderr when stdout is JSON or a comment
            click.echo("\n".join(notes), err=fmt != "table")
        if not result.ok:
            sys.exit(1)

    return check


@command("sweep")
def _sweep_command() -> click.Command:
    @click.command(
        cls=Command, context_settings=CONTEXT, short_help="Count models over input sizes, batches and variables."
    )
    @click.argument("models", nargs=-1, required=True)
    @click.option(
        "--set",
        "axes",
        type=SweepAxis(),
        multiple=True,
        callback=_sweep_axes,
        metavar="KEY=VALUES",
        help="Sweep a key over a list (1,8,64) or a range (224:600:32); keys: input, batch, "
        "or a variable the spec declares (repeatable: all combinations).",
    )
    @format_option()
    @unit_option
    @click.option(
        "--jobs",
        type=Count(1, 1024),
        default=1,
        show_default=True,
        help="Spread the combinations over N processes (at most one per combination and per core).",
    )
    @click.option(
        "--backend",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="local: this machine's processes (--jobs); ray: chunks sent to Ray tasks (pip install ray).",
    )
    @click.option(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="With --backend ray: the cluster to join (e.g. auto, ray://HOST:10001); default: a local Ray.",
    )
    @width_option
    @size_options  # one value for every row: the same as --set input=SIZE, --set batch=N
    @allow_unknown_option
    @result_output_option
    def sweep(models, axes, fmt, unit, jobs, backend, ray_address, width, input_dims, batch, output):
        """Count MODELS at every combination of input size, batch and variables.

        One row per combination: its values, params, MACs and the ratios to the first row.
        --input and --batch, as report takes them, hold for every row (to sweep them: --set
        input=..., --set batch=...).

        \b
        Examples:
          flopcount sweep efficientnet-b0 --set input=224:600:32
          flopcount sweep vgg-D --set input=224,320 --set batch=1,8,64 --format csv
          flopcount sweep efficientnet-b0 efficientnet-b1 efficientnet-b2
          flopcount sweep bottleneck-reduced --set reduce=8,16,32 --batch 8
          flopcount sweep my-net.yaml --set width=0.5:2.0:0.25 --jobs 2
          flopcount sweep resnet-50 --set input=224:1223 --backend ray --ray-address auto
        """
        import gc

        gc.enable()  # off for the rest of a run (flopcount.entry); a sweep may run for hours
        from .render import output as as_format
        from .sweep import sweep as run_sweep
        from .sweep import sweep_json, sweep_table

        if ray_address is not None and backend != "ray":
            raise UsageError("--ray-address needs --backend ray")
        rows = run_sweep(list(models), axes, jobs, backend, ray_address, {"input": input_dims, "batch": batch})
        _out(
            output,
            lambda: as_format(
                fmt, lambda: [sweep_table(rows, axes, unit)], lambda: sweep_json(rows, axes, unit), width
            ),
        )

    return sweep


@command("import")
def _import_command() -> click.Command:
    @click.command(
        "import",
        cls=Command,
        context_settings=CONTEXT,
        short_help="Write the spec of a torchvision, timm, Python or ONNX model.",
    )
    @click.argument("target")
    @output_option("SPEC.yaml", "Write the spec there (atomically); default: stdout.")
    @input_option
    @no_batch_option
    @set_option(
        help="A keyword argument of the builder (torchvision:NAME, timm:NAME, pkg.module:function; "
        "repeatable; VALUE read as YAML)."
    )
    @allow_unknown_option(
        help="Exit 0 even when some nodes could not be costed (they are `opaque` layers in the written spec)."
    )
    def import_(target, output, input_dims, sets):
        """Write the spec of an existing model: torchvision:NAME, timm:NAME, pkg.module:function
        (--set values are its keyword arguments) or FILE.onnx.

        Layer names are the model's module names; repeated structure becomes blocks with `repeat`.
        Nodes that cannot be costed are named, kept as `opaque` layers, and make the exit code 1
        unless --allow-unknown.

        \b
        Examples:
          flopcount import torchvision:resnet50 -o resnet50.yaml
          flopcount import my_pkg.models:build_net --set width=2 --input 3x64x64 -o net.yaml
        """
        from .importers import allowed_unknown, import_to_file

        allow_unknown = allowed_unknown()  # --allow-unknown or FLOPCOUNT_ALLOW_UNKNOWN=1, as every command
        imported, text = import_to_file(target, output, input_dims, sets)
        if output is None:
            _emit(text)
        else:
            click.echo(f"wrote {output}: {text.count(chr(10))} lines, {len(imported.layers)} layers", err=True)
        summary = imported.summary()
        if summary:
            click.echo(f"{'warning' if allow_unknown else 'error'}: {imported.model}: {summary}", err=True)
            if not allow_unknown:
                sys.exit(1)

    return import_


if __name__ == "__main__":  # pragma: no cover
    main()
