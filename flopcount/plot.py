"""Pictures of reports: per-layer bars, and the roofline. matplotlib is imported only here,
inside the functions that draw, so nothing else in flopcount needs it.

* :func:`layer_bars`: for each model, horizontal bars of MACs and params per layer (and the
  measured latency when rows carry ``latency_ms``). A long model is made readable: blocks
  are collapsed when the model has them, then only the ``top`` costliest rows (by MACs) are
  kept and the rest summed into one "other" bar, so every bar panel still adds up to the
  model total. Several models: one panel row per model, plus their totals side by side.
* :func:`roofline`: the device's roof (min(peak, bandwidth x intensity), log-log) and one
  point per layer at (intensity, attainable FLOP/s), marker area proportional to the layer's
  floor time; the layers with the largest floors are labelled with their share of it. With measured
  latency, the achieved point (flops / latency) is drawn below and joined to its roof point.
  Layers without FLOPs (intensity 0) cannot sit on a log axis: their count and floor time
  are stated in the picture instead.

Output: PNG or SVG by the file's extension, drawn in memory, written to a temporary file
and moved into place, so an existing file is never left half-written. A target that cannot be
written (a folder, a FIFO, a read-only place, a full disk) is a clear error, exit 4.

Every label that comes from a spec (model, layer and device names) goes through
:func:`flopcount.render.escape.plot_label`: ``$`` is escaped, so mathtext never parses a name.
"""

from __future__ import annotations

import os
import tempfile

from .errors import EnvironmentProblem, UsageError
from .render.escape import plot_label, visible
from .render.measured import report_elsewhere
from .units import human

FORMATS = (".png", ".svg")
INSTALL = "install it with: pip install matplotlib"
DEFAULT_TOP = 30  # rows per model before the rest is summed into "other"
LABELS = 8  # roofline points labelled per model


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise EnvironmentProblem(f"`flopcount plot` needs matplotlib, which is not installed; {INSTALL}") from None
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def check_output(path: str) -> str:
    """The picture's format (``.png`` / ``.svg``); refused before anything is drawn: another
    extension (exit 2), a missing folder (exit 2), a target that is a folder, a FIFO, a device
    or a socket, or a folder that cannot be written (exit 4)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"-o {visible(path)}: the picture must be a .png or .svg file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"-o {visible(path)}: the folder {visible(folder)} does not exist")
    if os.path.isdir(path):
        raise EnvironmentProblem(f"cannot write -o {visible(path)}: it is a folder; name a .png or .svg file inside it")
    if os.path.exists(path) and not os.path.isfile(path):
        raise EnvironmentProblem(f"cannot write -o {visible(path)}: it is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EnvironmentProblem(
            f"cannot write -o {visible(path)}: the folder {visible(folder)} is not writable; pick another place"
        )
    return ext


def _save(fig, path: str) -> None:
    import io

    import matplotlib

    ext = check_output(path)
    _not_read(path)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: searchable, editable
        fig.savefig(buf, format=ext[1:], dpi=110, bbox_inches="tight")
    write_bytes(path, buf.getvalue())


def _not_read(path: str) -> None:
    """Refuse (exit 4) a picture path that is a file this run read: ``plot net.svg -o net.svg``
    would replace the spec with its picture. A symbolic link is not followed: the picture
    replaces the link itself (:func:`write_bytes`), never what it points to."""
    from .fileio import refuse_read

    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return
    refuse_read(path, st)


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over the
    old file once complete; any OS error (read-only place, full disk, quota) is an
    :class:`EnvironmentProblem` (exit 4) and leaves the old file and no temporary one."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".flopcount-plot-", suffix=os.path.splitext(path)[1], dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes it private; a picture is an ordinary file
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EnvironmentProblem(f"cannot write -o {visible(path)}: {reason}; nothing was written") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def shown_rows(report, top: int | None, collapse: bool | None) -> tuple:
    """The rows a bar panel shows: ``(rows, other)`` where ``other`` is None or a dict
    ``{"count", "macs", "params", "latency_ms"}`` summing the rows left out.

    ``collapse=None`` collapses blocks only when the model has more than ``top`` rows."""
    top = DEFAULT_TOP if top is None else top
    rows = report.rows
    if collapse or (collapse is None and len(rows) > top and any(r.group for r in rows)):
        rows = report.collapsed()  # a block's time: its layers' measured times summed (Report.time_of)
    if len(rows) <= top:
        return list(rows), None
    keep = set(map(id, sorted(rows, key=lambda r: r.macs, reverse=True)[:top]))
    shown = [r for r in rows if id(r) in keep]
    rest = [r for r in rows if id(r) not in keep]
    other = {"count": len(rest), "macs": sum(r.macs for r in rest), "params": sum(r.params for r in rest)}
    lat = [_ms(report, r) for r in rest]
    if all(v is not None for v in lat):
        other["latency_ms"] = sum(lat)
    return shown, other


def _ms(report, row) -> float | None:
    """A row's measured median (ms), or None."""
    t = report.time_of(row)
    return None if t is None else t.ms


def _human_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: human(int(v)) if v >= 1 else f"{v:g}"))


#: where a label may sit relative to its point, in points (x right, y up), tried in this order:
#: right, left, above, below, then the same farther out and on the diagonals
_OFFSETS = [
    (dx * k, dy * k)
    for k in (1, 2, 3)
    for dx, dy in ((6, -3), (-6, -3), (0, 7), (0, -12), (6, 8), (-6, 8), (6, -14), (-6, -14))
]


def place_labels(points: list, sizes: list, taken: list | None = None, offsets: list = _OFFSETS) -> list:
    """Greedy label placement without overlap. ``points``: each label's anchor (x, y) in display
    units (pixels), most important first; ``sizes``: each label's (width, height) there.
    Returns, per label, ``(dx, dy, ha)``: the offset of the label's anchor corner from its point
    and its horizontal alignment, or None when every spot overlaps a label already placed (the
    label is left out). ``taken``: boxes (x0, y0, x1, y1) already used, extended here."""
    boxes = [] if taken is None else taken
    out: list = []
    for (x, y), (w, h) in zip(points, sizes):
        spot = None
        for dx, dy in offsets:
            ha = "right" if dx < 0 else "center" if dx == 0 else "left"
            x0 = x + dx - (w if ha == "right" else w / 2 if ha == "center" else 0)
            y0 = y + dy
            box = (x0, y0, x0 + w, y0 + h)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in boxes):
                spot = (dx, dy, ha)
                boxes.append(box)
                break
        out.append(spot)
    return out


def _measured(report, rows) -> bool:
    return bool(rows) and all(_ms(report, r) is not None for r in rows)


def _label_points(fig, ax, pending: list, fontsize: float = 7) -> int:
    """Label the roofline's points without overlap (:func:`place_labels`, in pixels, after the
    axes' limits are final); returns how many labels found no free spot."""
    if not pending:
        return 0
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())  # fixed now: a label's pixels must not move after placement
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72  # pixels per point
    # the points themselves and the text already on the axes are not to be covered either
    taken = [tuple(t.get_window_extent(renderer).extents) for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(tuple(legend.get_window_extent(renderer).extents))
    points = [tuple(ax.transData.transform((x, y))) for x, y, _, _ in pending]
    sizes = []
    for _, _, text, _ in pending:
        probe = ax.text(0, 0, text, fontsize=fontsize)
        box = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((box.width + 4, box.height + 2))  # a little air between labels
    offsets = [(dx * px, dy * px) for dx, dy in _OFFSETS]
    spots = place_labels(points, sizes, taken, offsets)
    for (x, y, text, colour), spot in zip(pending, spots):
        if spot is None:
            continue
        dx, dy, ha = spot
        ax.annotate(
            text,
            (x, y),
            xytext=(dx / px, dy / px),
            textcoords="offset points",
            ha=ha,
            va="bottom",
            fontsize=fontsize,
            color=colour,
            zorder=5,  # above the markers
            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.4},
        )
    return sum(spot is None for spot in spots)


def layer_bars(reports: list, path: str, top: int | None = None, collapse: bool | None = None) -> None:
    """Per-layer MACs and params (and latency when measured) of one or more models."""
    check_output(path)
    plt = _pyplot()
    fig = bars_figure(reports, top, collapse)
    _save(fig, path)
    plt.close(fig)


def bars_figure(reports: list, top: int | None = None, collapse: bool | None = None):
    """The figure of :func:`layer_bars` (not saved). Several models: each column (MACs, params,
    latency) has one x-scale for every model's panel, so equal bars mean equal costs."""
    plt = _pyplot()
    panels = [(r, *shown_rows(r, top, collapse)) for r in reports]
    timed = any(_measured(r, rows) for r, rows, _ in panels)
    ncols = 3 if timed else 2
    heights = [max(2.0, 0.22 * (len(rows) + (1 if other else 0)) + 1.0) for _, rows, other in panels]
    summary = len(reports) > 1
    if summary:
        heights.insert(0, max(1.6, 0.35 * len(reports) + 1.0))
    fig, axes = plt.subplots(
        len(heights),
        ncols,
        figsize=(4.2 * ncols + 2.5, sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if summary:
        names = [plot_label(r.model) for r in reports][::-1]
        for j, (key, label) in enumerate((("macs", "MACs"), ("params", "params"))):
            vals = [r.totals[key] for r in reports][::-1]
            ax = axes[0][j]
            ax.barh(names, vals, color=[colours[i % len(colours)] for i in range(len(reports))][::-1])
            ax.set_title(f"total {label}", fontsize=10)
            for y, v in enumerate(vals):
                ax.text(v, y, " " + human(v), va="center", fontsize=8)
            ax.margins(x=0.2)
            _human_axis(ax)
        if timed:
            vals = [r.total_ms() or 0 for r in reports][::-1]
            axes[0][2].barh(names, vals, color=colours[2])
            axes[0][2].set_title("measured latency (ms)", fontsize=10)
    for i, (report, rows, other) in enumerate(panels):
        ax_row = axes[i + 1 if summary else i]
        labels = [plot_label(r.name) + (f" ({r.count})" if r.count > 1 else "") for r in rows]
        macs = [r.macs for r in rows]
        params = [r.params for r in rows]
        lat = [_ms(report, r) for r in rows]
        if other:
            labels.append(f"other ({other['count']} rows)")
            macs.append(other["macs"])
            params.append(other["params"])
            lat.append(other.get("latency_ms"))
        ypos = list(range(len(labels)))[::-1]  # the first layer at the top
        head = (
            f"{plot_label(report.model)}: {human(report.totals['macs'])} MACs, {human(report.totals['params'])} params"
        )
        head += f" (input {'x'.join(map(str, report.input))}, batch {report.batch})"
        series = [(macs, "MACs", colours[0]), (params, "params", colours[1])]
        if timed:
            series.append(([v or 0 for v in lat], "latency (ms)", colours[2]))
        for j, (vals, label, colour) in enumerate(series):
            ax = ax_row[j]
            ax.barh(ypos, vals, color=colour, height=0.75)
            ax.set_yticks(ypos)
            ax.set_yticklabels(labels if j == 0 else [""] * len(labels), fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            ax.set_ylim(-0.6, len(labels) - 0.4)
            ax.set_title(label if j else f"{head}\n{label}", fontsize=9, loc="left" if j == 0 else "center")
            ax.grid(axis="x", alpha=0.3)
            if j < 2:  # counts: 250M, 1.5G; the latency axis keeps its plain ms ticks
                _human_axis(ax)
        if timed and not _measured(report, rows):
            ax_row[2].text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax_row[2].transAxes)
    if summary:  # compared side by side: one scale per column, from the largest bar of any model
        for j in range(ncols):
            col = [axes[i + 1][j] for i in range(len(panels))]
            right = max(ax.get_xlim()[1] for ax in col)
            for ax in col:
                ax.set_xlim(0, right)
        fig.text(0.99, 0.0, "each column: one scale for all models", fontsize=7, ha="right", va="bottom")
    fig.tight_layout()
    return fig


def roofline(reports: list, path: str, labels: int = LABELS) -> None:
    """The roofline of the reports' device (each report annotated by flopcount.roofline)."""
    check_output(path)
    if not all(r.roofline for r in reports):
        raise UsageError("--roofline needs --device-profile (the device whose roof to draw)")
    plt = _pyplot()
    fig = roofline_figure(reports, labels)
    _save(fig, path)
    plt.close(fig)


def roofline_figure(reports: list, labels: int = LABELS):
    """The figure of :func:`roofline` (not saved); its point labels never overlap each other,
    the legend or the axes' own text (:func:`place_labels`)."""
    info = [r.roofline for r in reports]
    plt = _pyplot()
    roof = info[0]
    peak, bw = roof.peak_flops, roof.bandwidth
    ridge = peak / bw
    fig, ax = plt.subplots(figsize=(10, 6.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lo_i, hi_i = ridge, ridge
    notes = []
    pending: list = []  # (x, y, text, colour) of the labels to place, every model's, costliest first
    for k, report in enumerate(reports):
        colour = colours[k % len(colours)]
        rows = [r for r in report.rows if r.macs > 0]
        flat = [r for r in report.rows if r.macs == 0]
        total_floor = report.roof_total.floor_ms or 1.0
        xs = [r.roof.intensity for r in rows]
        ys = [2 * r.macs / (r.roof.floor_ms / 1e3) for r in rows]
        biggest = max((r.roof.floor_ms for r in rows), default=0.0) or 1.0
        sizes = [10 + 250 * r.roof.floor_ms / biggest for r in rows]
        model = plot_label(report.model)
        mark = "os^Dv<>p"[k % 8]
        ax.scatter(
            xs,
            ys,
            s=sizes,
            color=colour,
            alpha=0.55,
            marker=mark,
            edgecolors="black",
            linewidths=0.4,
            label=f"{model}: {len(rows)} layers with MACs (area ~ floor time; label: % of the model's floor)",
            zorder=3,
        )
        if xs:
            lo_i, hi_i = min(lo_i, min(xs)), max(hi_i, max(xs))
        times = [(r, _ms(report, r)) for r in rows]
        measured = [(r, ms) for r, ms in times if ms is not None and ms > 0]
        if measured:
            ax_x = [r.roof.intensity for r, _ in measured]
            ax_y = [2 * r.macs / (ms / 1e3) for r, ms in measured]
            for (r, _), x, y in zip(measured, ax_x, ax_y):
                ax.plot([x, x], [y, 2 * r.macs / (r.roof.floor_ms / 1e3)], color=colour, alpha=0.3, lw=0.8)
            ax.scatter(
                ax_x,
                ax_y,
                s=18,
                color=colour,
                marker="x",
                zorder=4,
                label=f"{model}: achieved (flops / latency measured on {plot_label(report.latency.device_name)})",
            )
        ranked = sorted(zip(xs, ys, rows), key=lambda t: t[2].roof.floor_ms, reverse=True)
        for x, y, r in ranked[:labels]:
            pending.append((x, y, f"{plot_label(r.name)} ({100 * r.roof.floor_ms / total_floor:.0f}%)", colour))
        flat_ms = sum(r.roof.floor_ms for r in flat)
        bound = {b: sum(r.roof.floor_ms for r in report.rows if r.roof.bound == b) for b in ("compute", "memory")}
        notes.append(
            f"{model}: floor {report.roof_total.floor_ms:.3g} ms "
            f"({100 * bound['compute'] / total_floor:.0f}% compute-bound, "
            f"{100 * bound['memory'] / total_floor:.0f}% memory-bound); "
            f"{len(flat)} layers without MACs (not shown) add {flat_ms:.3g} ms"
        )
    lo_i, hi_i = lo_i / 4, hi_i * 4
    xs = [lo_i * (hi_i / lo_i) ** (i / 200) for i in range(201)]
    ax.plot(xs, [min(peak, bw * x) for x in xs], color="black", lw=2, zorder=2)
    ax.axvline(ridge, color="grey", ls=":", lw=1)
    ax.text(ridge, peak * 1.15, f" ridge {ridge:.0f} FLOP/B", fontsize=8, color="grey")
    ax.text(xs[0], peak * 1.15, f"peak {peak / 1e12:g} TFLOP/s ({roof.dtype})", fontsize=8)
    ax.text(xs[5], bw * xs[5] * 1.3, f"{bw / 1e9:g} GB/s", fontsize=8, rotation=20)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(top=peak * 2.5)
    ax.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    ax.set_ylabel("FLOP/s (points on the roof: attainable)")
    dev = roof.profile
    names = ", ".join(plot_label(r.model) for r in reports)
    title = f"roofline: {names} on {plot_label(dev.description or dev.name)}, {roof.dtype}, batch {reports[0].batch}"
    away = next((w for w in map(report_elsewhere, reports) if w), None)
    if away:  # the roof is the profile's; the x points were timed elsewhere: say both, claim neither
        lat = next(r.latency for r in reports if r.latency is not None)
        title = (
            f"roofline of {plot_label(dev.description or dev.name)} ({roof.dtype}): {names}, batch {reports[0].batch}"
            f"\nachieved points (x) measured on {plot_label(lat.device)} ({plot_label(lat.device_name)}), "
            "not on that device"
        )
    ax.set_title(title, fontsize=10)
    ax.grid(which="both", alpha=0.2)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()  # before the labels: they are placed in the pixels of the final layout
    left_out = _label_points(fig, ax, pending)
    if left_out:
        notes.append(f"{left_out} labels left out: they would overlap others (--top sets how many to try)")
    fig.text(0.01, -0.01, "\n".join(notes), fontsize=7, va="top")
    return fig
