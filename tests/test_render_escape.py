"""Every output format escapes the user text it writes (issue 11, section 2).

The reports here are built by hand (Row, Report), so that names the loader would refuse
(control characters) still reach the renderers: the renderers must hold on their own.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from flopcount import render
from flopcount.render import escape
from flopcount.report import Report, Row

# each one is an attack on one output
MARKUP_CLOSE = "[/]"  # rich: "closing tag '[/]' has nothing to close" (exit 5 before)
MARKUP_TAG = "[conv9]"  # rich: read as a style, printed as an empty cell before
ESC = "red\x1b[31mX\x1b]0;title\x07"  # ANSI colour + OSC (terminal title)
NEWLINE = "two\nlines\r"
PIPE_HTML = "a|b<img src=x>&"
FORMULA = '=HYPERLINK("http://x")'
AT = "@SUM(A1)"
PLUS = "+cmd|' /C calc'!A0"
WORKFLOW = "::error::pwned"
STOP = "::stop-commands::tok"
MATH = "$\\frac{a}{$"
NAMES = [MARKUP_CLOSE, MARKUP_TAG, ESC, NEWLINE, PIPE_HTML, FORMULA, AT, PLUS, WORKFLOW, STOP, MATH]


def evil_report() -> Report:
    rows = [Row(name, "relu", (4, 2, 2), 0, 0, 16, 0) for name in NAMES]
    rows.insert(0, Row("conv", "conv", (4, 2, 2), 112, 432, 0, 0))
    return Report("m[/]", "evil.yaml", None, "desc [b]x[/b] \x1b[2J|<b>", (3, 2, 2), 1, rows)


def test_escape_functions_by_hand():
    assert escape.visible("a\x1bb\x00c\n\t\x7f\x9b\u202e") == "a\\x1bb\\x00c\\n\\t\\x7f\\x9b\\u202e"
    assert escape.visible("plain") == "plain"
    assert escape.markdown_cell("a|b\n<i>&") == "a\\|b\\n&lt;i&gt;&amp;"
    assert escape.csv_cell("=1+1") == "'=1+1" and escape.csv_cell("@x") == "'@x"
    assert escape.csv_cell("-x") == "'-x" and escape.csv_cell("+x") == "'+x" and escape.csv_cell("\t=x") == "'\t=x"
    # numbers (raw ints, and the signed text flopcount prints) stay numbers
    assert escape.csv_cell(-5) == -5 and escape.csv_cell("+1,234") == "+1,234" and escape.csv_cell("-0.25%") == "-0.25%"
    assert escape.csv_cell("-") == "-" and escape.csv_cell("conv1") == "conv1"
    assert escape.workflow_data("50% a\r\nb") == "50%25 a%0D%0Ab"
    assert escape.workflow_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (
        escape.no_workflow_commands("ok\n  ::error::x\n::warning::y\nkeep :: this")
        == "ok\n  \\::error::x\n\\::warning::y\nkeep :: this"
    )
    assert escape.no_workflow_commands("x ##[set-env]") == "x ##\\[set-env]"
    assert escape.plot_label("$x$") == "\\$x\\$"


def test_markup_escape_round_trips_through_rich():
    from rich.console import Console

    for text in ("[/]", "[conv9]", "a\\[b]", "end\\", "[bold]x[/bold]", "\\\\[x]"):
        buf = io.StringIO()
        Console(file=buf, width=200, no_color=True).print(escape.markup(text), end="")
        assert buf.getvalue() == text


def _all_lines(text: str) -> list:
    return text.split("\n")


def _no_command_lines(text: str) -> None:
    for line in _all_lines(text):
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line


def test_table_shows_names_as_written_and_controls_visibly():
    from flopcount.render.views import report_tables

    out = render.render(report_tables(evil_report()), "table", width=200)
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out  # no raw control character
    for shown in ("[/]", "[conv9]", "red\\x1b[31mX\\x1b]0;title\\x07", "two\\nlines\\r", PIPE_HTML, MATH):
        assert shown in out, shown
    assert "m[/]: desc [b]x[/b] \\x1b[2J|<b>" in out  # the title, as written
    _no_command_lines(out)
    assert "│ ::error::pwned" in out  # inside a cell it follows "│ ": not a line start, shown as written


def test_table_fast_path_escapes_too():
    # more than FAST_ROWS rows: rows 2..n are written without rich; the same escaping holds
    from flopcount.render.text import FAST_ROWS
    from flopcount.render.views import report_tables

    rows = [Row(f"l{i}", "relu", (1,), 0, 0, 1, 0) for i in range(FAST_ROWS + 5)]
    rows[-1] = Row(ESC, "relu", (1,), 0, 0, 1, 0)
    rows[-2] = Row(MARKUP_TAG, "relu", (1,), 0, 0, 1, 0)
    out = render.render(report_tables(Report("m", "s", None, "", (1,), 1, rows)), "table", width=200)
    assert "\x1b" not in out and "red\\x1b[31mX" in out and "[conv9]" in out


def test_markdown_cells_escape_pipe_newline_html():
    from flopcount.render.views import report_tables

    out = render.render(report_tables(evil_report()), "markdown")
    assert "\x1b" not in out and "\r" not in out
    assert "| a\\|b&lt;img src=x&gt;&amp; |" in out
    assert "| two\\nlines\\r |" in out
    body = [line for line in out.splitlines() if line.startswith("| ")]
    ncols = body[0].count(" | ")
    assert all(line.replace("\\|", "").count(" | ") == ncols for line in body)  # every row keeps its cells
    assert "<img" not in out and "<b>" not in out
    _no_command_lines(out)


def test_csv_neutralises_formulas_and_keeps_one_record_per_line():
    from flopcount.render.views import report_tables

    out = render.render(report_tables(evil_report()), "csv")
    assert "\x1b" not in out and "\r" not in out
    cells = {cell for row in csv.reader(io.StringIO(out)) for cell in row}  # names, and the `row` column
    assert "'" + FORMULA in cells and "'" + AT in cells and "'" + PLUS in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert not any(c.startswith("-") and c != "-" for c in cells)
    assert "two\\nlines\\r" in cells  # one record per line
    _no_command_lines(out)


def test_json_keeps_names_exact_and_writes_no_raw_control_characters():
    rep = evil_report()
    text = render.report(rep, "json")
    assert not any(ord(ch) < 0x20 and ch != "\n" for ch in text)  # JSON escapes them (\u001b)
    doc = json.loads(text)
    assert [r["name"] for r in doc["layers"]][1:] == NAMES  # the data itself is exact
    _no_command_lines(text)


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_compare_escapes_in_every_format(fmt):
    a, b = evil_report(), evil_report()
    b.model = WORKFLOW
    out = render.compare([a, b], fmt, width=200)
    assert "\x1b" not in out
    _no_command_lines(out)


def test_list_escapes_descriptions():
    rows = [{"name": WORKFLOW, "description": ESC + " | " + PIPE_HTML, "input": [3, 4, 4], "params": 1, "macs": 2}]
    for fmt in ("table", "markdown", "csv"):
        out = render.catalog(rows, fmt)
        assert "\x1b" not in out
        _no_command_lines(out)
    assert json.loads(render.catalog(rows, "json"))["configs"][0]["name"] == WORKFLOW


def test_plot_labels_with_mathtext_do_not_crash(tmp_path):
    pytest.importorskip("matplotlib")
    from flopcount import plot

    rep = evil_report()
    out = tmp_path / "evil.svg"
    plot.layer_bars([rep], str(out))  # `$\frac{a}{$` crashed mathtext before
    text = out.read_text()
    assert "\\frac{a}{" in text or "frac{a}" in text
    assert "\x1b" not in text


def test_stderr_messages_show_controls_and_start_no_workflow_command():
    text = escape.terminal_block("spec.yaml:3:5: bad name `a\x1b[2Jb`\n::error::x\n  fix: rename it\tnow")
    assert text == "spec.yaml:3:5: bad name `a\\x1b[2Jb`\n\\::error::x\n  fix: rename it\\tnow"
    assert escape.terminal_block("plain\ntwo lines") == "plain\ntwo lines"


def test_cli_error_on_stderr_is_escaped():
    # an unknown config named with an escape sequence and a workflow command: the error
    # handler shows the controls and lets no line start a command
    from click.testing import CliRunner

    from flopcount.cli import main

    res = CliRunner().invoke(main, ["report", "nosuch\x1b[31m\n::error::x"])
    assert res.exit_code == 2, res.output
    err = res.stderr
    assert "nosuch" in err and "\x1b" not in err
    assert not any(line.lstrip().startswith("::") for line in err.splitlines())
