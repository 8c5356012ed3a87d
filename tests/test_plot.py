"""`flopcount plot`: every picture kind is rendered to a file and checked to be a valid PNG or
SVG of sensible size; without matplotlib the command exits 4 with the install command."""

import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from flopcount.api import analyze
from flopcount.profiles import load_profile
from flopcount.roofline import annotate

from conftest import run

needs_mpl = pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed (pip install matplotlib); CI installs it via the test extra",
)


def png_size(path) -> tuple:
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"  # complete, not truncated
    return struct.unpack(">II", data[16:24])


def check_png(path, min_h=300):
    w, h = png_size(path)
    # readable: at least ~6 inches wide at 110 dpi, and not absurd
    assert 700 <= w <= 6000 and min_h <= h <= 20000, (w, h)
    assert os.path.getsize(path) > 10_000
    return w, h


def check_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert os.path.getsize(path) > 10_000
    return root


@needs_mpl
def test_bars_one_model_png(tmp_path):
    out = tmp_path / "vgg.png"
    r = run(f"flopcount plot vgg-D -o {out}")
    assert r.code == 0, r.err
    w, h = check_png(out)
    assert oct(os.stat(out).st_mode & 0o777) != "0o600"  # an ordinary file, not mkstemp's private one


@needs_mpl
def test_bars_several_models_svg_and_long_model_summed(tmp_path):
    out = tmp_path / "cmp.svg"
    r = run(f"flopcount plot vgg-D googlenet inception-reduced -o {out} --top 6")
    assert r.code == 0, r.err
    root = check_svg(out)
    text = "".join(root.itertext())
    assert "googlenet" in text and "vgg-D" in text and "other (" in text


def test_long_model_bars_still_add_up():
    # the bars of a model shown with --top K: K rows plus "other" = the model's totals exactly
    from flopcount.plot import shown_rows

    rep = analyze("googlenet")
    rows, other = shown_rows(rep, 5, None)
    assert len(rows) == 5 and other["count"] > 0
    assert sum(r.macs for r in rows) + other["macs"] == rep.totals["macs"]
    assert sum(r.params for r in rows) + other["params"] == rep.totals["params"]
    assert len(rep.rows) > 30  # googlenet has more rows than the default --top: blocks are collapsed
    rows, other = shown_rows(rep, None, None)
    assert other is None and any(r.count > 1 for r in rows) and len(rows) < len(rep.rows)


def test_collapsed_bars_sum_measured_latency():
    # a folded block's latency bar is the sum of its layers' measured times (filled by hand here)
    from handmade import latency

    from flopcount.plot import shown_rows

    rep = analyze("googlenet")
    # layer i (0-based) measured at i + 1 ms: every layer non-zero, so a leaf overwritten by its
    # block's sum would show
    rep.latency = latency(rep, {r.name: float(i + 1) for i, r in enumerate(rep.rows)}, 100.0)
    rows, other = shown_rows(rep, None, True)
    block = next(r for r in rows if r.name == "3a")
    expected = sum(float(i + 1) for i, r in enumerate(rep.rows) if r.group == "3a")
    assert expected > 0 and block.count > 1
    assert rep.time_of(block).ms == expected
    first = rep.rows[0]  # conv1, not in a block: its own 1 ms, as measured
    assert first.group is None and rep.time_of(first).ms == 1.0
    assert [rep.time_of(r).ms for r in rep.rows] == [float(i + 1) for i in range(len(rep.rows))]  # leaves kept


@needs_mpl
def test_roofline_png(tmp_path):
    out = tmp_path / "roof.png"
    r = run(f"flopcount plot vgg-D googlenet --roofline --device-profile h100 --dtype bf16 -o {out}")
    assert r.code == 0, r.err
    check_png(out)


@needs_mpl
def test_measured_pictures(tmp_path):
    # latency as --latency would fill it (here by hand): the bars get a latency panel and the
    # roofline an achieved point per measured layer
    from handmade import latency

    from flopcount import plot

    rep = analyze("vgg-D")
    ms = {r.name: 0.01 * (i + 1) for i, r in enumerate(rep.rows)}
    rep.latency = latency(rep, ms, sum(ms.values()))
    annotate(rep, load_profile("a100-80gb"), "fp16")
    plot.layer_bars([rep], str(tmp_path / "timed.svg"))
    plot.roofline([rep], str(tmp_path / "achieved.png"))
    assert "latency (ms)" in "".join(check_svg(tmp_path / "timed.svg").itertext())
    check_png(tmp_path / "achieved.png")
    rep2 = analyze("vgg-D")  # the same without measurements: no latency panel
    annotate(rep2, load_profile("a100-80gb"), "fp16")
    plot.layer_bars([rep2], str(tmp_path / "plain.svg"))
    assert "latency (ms)" not in "".join(check_svg(tmp_path / "plain.svg").itertext())


def test_usage_errors(tmp_path):
    r = run(f"flopcount plot vgg-D -o {tmp_path / 'x.jpg'}")
    assert r.code == 2 and ".png or .svg" in r.err
    r = run(f"flopcount plot vgg-D --roofline -o {tmp_path / 'x.png'}")
    assert r.code == 2 and "--device-profile" in r.err
    r = run(f"flopcount plot vgg-D -o {tmp_path / 'no' / 'x.png'}")
    assert r.code == 2 and "does not exist" in r.err
    assert not os.listdir(tmp_path)


@needs_mpl
def test_unwritable_targets_exit_4(tmp_path):
    # a folder named like a picture, a FIFO, a place that cannot be written: a clear error, exit 4
    (tmp_path / "dir.png").mkdir()
    r = run(f"flopcount plot vgg-D -o {tmp_path / 'dir.png'}")
    assert r.code == 4 and "it is a folder" in r.err, r.err
    from flopcount import plot

    os.mkfifo(tmp_path / "pipe.png")  # (the CLI's -o option refuses it first, as a usage error)
    with pytest.raises(plot.EnvironmentProblem, match="not a regular file"):
        plot.check_output(str(tmp_path / "pipe.png"))
    r = run("flopcount plot vgg-D -o /proc/flopcount-test.png")  # procfs: no new files, even for root
    assert r.code == 4 and "cannot write" in r.err and "Traceback" not in r.err, r.err


@needs_mpl
def test_a_spec_named_like_a_picture_is_never_its_output(tmp_path, monkeypatch):
    # `plot net.svg -o net.svg` replaced the spec with its picture; now exit 4, the spec as it was
    monkeypatch.chdir(tmp_path)
    text = "flopcount: 1\ninput: [3, 8, 8]\nlayers: [conv3-4]\n"
    (tmp_path / "net.svg").write_text(text)
    r = run("flopcount plot ./net.svg -o net.svg")
    assert r.code == 4 and "it is the spec file this run read" in r.err, r.err
    assert (tmp_path / "net.svg").read_text() == text and os.listdir(tmp_path) == ["net.svg"]
    # a link named like a picture is replaced itself (the picture is written in its place); what
    # it points to is never touched
    os.symlink("net.svg", tmp_path / "link.svg")
    r = run("flopcount plot ./net.svg -o link.svg")
    assert r.code == 0, r.err
    assert (tmp_path / "net.svg").read_text() == text and not os.path.islink(tmp_path / "link.svg")
    check_svg(tmp_path / "link.svg")


@needs_mpl
def test_full_disk_exits_4_and_keeps_the_old_picture(tmp_path, monkeypatch):
    import errno

    from flopcount import plot

    out = tmp_path / "x.png"
    out.write_bytes(b"old picture")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, mode):
            self.fh = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plot.os, "fdopen", Full)
    with pytest.raises(plot.EnvironmentProblem, match="No space left on device"):
        plot.layer_bars([analyze("vgg-D")], str(out))
    assert out.read_bytes() == b"old picture" and os.listdir(tmp_path) == ["x.png"]  # no temporary file left


def test_without_matplotlib_exits_4_with_install_command(tmp_path):
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib is not available')\n")
    out = tmp_path / "x.png"
    out.write_bytes(b"keep me")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    p = subprocess.run(
        [sys.executable, "-m", "flopcount", "plot", "vgg-D", "-o", str(out)], env=env, capture_output=True, text=True
    )
    assert p.returncode == 4, p.stderr
    assert "pip install matplotlib" in p.stderr and "Traceback" not in p.stderr
    assert out.read_bytes() == b"keep me"  # what the user had is left alone


def test_label_placement_never_overlaps():
    from flopcount.plot import place_labels

    # ten labels 50 x 10 px on one spot, and a box already taken: each placed one overlaps no other
    taken = [(100.0, 100.0, 150.0, 110.0)]
    spots = place_labels([(100.0, 100.0)] * 10, [(50.0, 10.0)] * 10, taken)
    placed = [s for s in spots if s is not None]
    assert len(placed) >= 6 and len(taken) == 1 + len(placed)
    for i, a in enumerate(taken):
        for b in taken[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def _disjoint(boxes):
    return all(
        a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
    )


def _drawn(monkeypatch, draw):
    """The figure ``draw(path)`` makes (plot.layer_bars / plot.roofline), caught before it is saved."""
    from flopcount import plot

    figs = []
    monkeypatch.setattr(plot, "_save", lambda fig, path: figs.append(fig))
    monkeypatch.setattr(plot, "check_output", lambda path: ".png")
    draw("unused.png")
    (fig,) = figs
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # plt.close() left it a bare canvas: one that can draw again
    return fig


@needs_mpl
def test_roofline_labels_do_not_overlap(monkeypatch):
    # three models, 15 labels each: before, the labels sat at fixed offsets and piled onto each other
    from matplotlib.text import Text

    from flopcount import plot

    reports = [analyze(m) for m in ("resnet-50", "efficientnet-b0", "googlenet")]
    for r in reports:
        annotate(r, load_profile("h100"), "fp32")
    fig = _drawn(monkeypatch, lambda path: plot.roofline(reports, path, 15))
    fig.canvas.draw()  # the labels' offsets resolved to pixels
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    # the text's own box (an Annotation's extent would include its leader line)
    labels = [Text.get_window_extent(t, renderer) for t in ax.texts if "%)" in t.get_text()]
    assert _disjoint(labels + [ax.get_legend().get_window_extent(renderer)])
    assert len(labels) >= 15  # and not by leaving most out: 28 of the 45 find a free spot


@needs_mpl
def test_compared_bar_panels_share_their_scale(monkeypatch):
    from flopcount import plot

    fig = _drawn(monkeypatch, lambda path: plot.layer_bars([analyze("vgg-D"), analyze("resnet-50")], path, 10))
    axes = fig.axes  # row 0: totals; rows 1, 2: one per model; columns MACs, params
    ncols = 2
    for j in range(ncols):
        vgg, resnet = axes[ncols + j], axes[2 * ncols + j]
        assert vgg.get_xlim() == resnet.get_xlim()
        # the scale is the larger model's: VGG-D's largest layer (1,849,688,064 MACs; fc1 102,764,544 params)
        assert vgg.get_xlim()[1] >= (1_849_688_064 if j == 0 else 102_764_544)


@needs_mpl
def test_roofline_title_does_not_claim_the_profile_device_for_cpu_points(monkeypatch):
    from handmade import latency

    from flopcount import plot

    rep = analyze("vgg-A")
    rep.latency = latency(rep, {r.name: 1.0 for r in rep.rows}, 30.0)  # device cpu, "test device"
    annotate(rep, load_profile("h100"), "fp32")
    title = _drawn(monkeypatch, lambda path: plot.roofline([rep], path)).axes[0].get_title()
    assert "measured on cpu (test device), not on that device" in title
    assert not title.startswith("roofline: vgg-A on NVIDIA H100")
