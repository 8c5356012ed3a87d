"""Rich table for the terminal, and GitHub-flavoured markdown.

Every cell, title and note is escaped for its output (flopcount.render.escape): in the
terminal, control characters are shown (``\x1b``) and rich markup is never parsed (cells and
titles are handed to rich as ``Text``, notes printed with ``markup=False``); in markdown,
cells escape ``|``, newlines and HTML, titles and notes escape HTML.
"""

from __future__ import annotations

from .escape import markdown_cell, markdown_text, no_workflow_commands, visible
from .model import fmt


def markdown(tables: list) -> str:
    out = []
    for t in tables:
        if t.title:
            out.append(f"### {markdown_text(t.title)}\n")
        out.append("| " + " | ".join(markdown_cell(c.header) for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if c.right else "---" for c in t.columns) + "|")
        rows = list(t.rows) + ([t.total] if t.total else [])
        for i, r in enumerate(rows):
            cells = [markdown_cell(fmt(r.get(c.key), c.kind)) for c in t.columns]
            if t.total is not None and i == len(rows) - 1:
                cells = [f"**{c}**" if c else c for c in cells]
            out.append("| " + " | ".join(cells) + " |")
        if t.notes:
            out.append("")
            out.extend(f"- {markdown_text(n)}" for n in t.notes)
        out.append("")
    return no_workflow_commands("\n".join(out))


#: tables longer than this many rows have their rows written without rich (see rich_text)
FAST_ROWS = 200
#: the narrowest a text column is folded to when a table must fit a narrow terminal
FOLD_MIN = 8
#: piped output: notes wrap at this width at least (the tables themselves keep their natural width)
PIPE_MIN = 80


def terminal_width() -> int | None:
    """The terminal's width when standard output is one; None when it is piped or a file (the
    tables are then written at their natural width: nothing folded, dropped or cut)."""
    import sys

    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return None
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def can_draw_boxes(encoding: str | None = None) -> bool:
    """Whether standard output (or ``encoding``) can encode rich's box-drawing characters; a
    cp1252 Windows console or ``PYTHONIOENCODING=ascii`` cannot: tables are then drawn in ASCII."""
    import sys

    enc = encoding or getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "\u250f\u2501\u2533\u2503\u2502\u2521\u2547\u2514\u2500\u2534\u2518".encode(enc)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def _span(widths) -> int:
    """A rich table's width with columns of these widths (padding 1 each side, n + 1 rules)."""
    return sum(widths) + 3 * len(widths) + 1


class _Fit:
    """How one table fits a width: the columns kept, which of them may wrap (fold: text moves to
    the next line of its cell, nothing is cut), the columns left out, and the width to draw at."""

    def __init__(self, columns, cells, width: int | None):
        from rich.cells import cell_len

        natural = []
        for i, c in enumerate(columns):
            widest = max((cell_len(row[i]) for row in cells), default=0)
            natural.append(max(widest, cell_len(c.header)))
        # numbers, the first column and short text never wrap; long free text (descriptions) does
        self.wrap = [not (c.right or i == 0 or n <= 24) for i, (c, n) in enumerate(zip(columns, natural))]
        self.natural = natural
        self.full = _span(natural)
        self.keep = list(range(len(columns)))
        self.dropped: list = []
        self.width = self.asked = width
        if width is None or self.full <= width or self._need() <= width:
            return
        ranked = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)
        for _, i in ranked:
            if self._need() <= width:
                break
            self.keep.remove(i)
            self.dropped.append(columns[i].header)
        if self._need() > width:  # still too wide: every text column may fold
            self.wrap = [w or not columns[i].right for i, w in enumerate(self.wrap)]
        # numbers alone wider than the terminal: drawn wider (the terminal wraps the line) rather than cut
        self.width = max(width, self._need())

    def _need(self) -> int:
        return _span([min(self.natural[i], FOLD_MIN) if self.wrap[i] else self.natural[i] for i in self.keep])

    def note(self) -> str | None:
        if not self.dropped:
            return None
        return (
            f"left out to fit {self.asked} columns: {', '.join(self.dropped)} "
            f"(--width {self.full}, a wider terminal or another --format shows every column)"
        )


def rich_text(
    tables: list,
    width: int | None = None,
    color: bool | None = None,
    fast_rows: int | None = FAST_ROWS,
    ascii_only: bool | None = None,
) -> str:
    """Render with rich into a string (the CLI writes it; tests compare it to golden files).

    ``width``: the width to fit (None: the terminal's when standard output is a terminal, else
    each table's natural width). A table wider than that first folds its long text columns,
    then leaves out its least important columns (``Column.drop``), saying which in a note under
    it; a digit is never cut. ``ascii_only`` (None: when standard output cannot encode box
    drawing, see :func:`can_draw_boxes`) draws the tables with ``+ - |``."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    if width is None:
        width = terminal_width()
    if ascii_only is None:
        ascii_only = not can_draw_boxes()
    prepared = []
    for t in tables:
        cells = [[visible(fmt(r.get(c.key), c.kind)) for c in t.columns] for r in t.rows]
        if t.total:
            cells.append([visible(fmt(t.total.get(c.key), c.kind)) for c in t.columns])
        prepared.append((t, cells, _Fit(t.columns, cells, width)))
    if width is None:  # piped: the widest table's natural width (notes wrap at PIPE_MIN at least)
        width = max([PIPE_MIN] + [f.full for _, _, f in prepared])
    buf = io.StringIO()
    for t, cells, fit in prepared:
        console = Console(
            file=buf,
            width=max(width, fit.width or 0),
            force_terminal=bool(color),
            no_color=not color,
            highlight=False,
            soft_wrap=False,
        )
        # Text, not str: rich would read "[conv9]" as markup (an empty cell) and "[/]" as an error
        rt = RichTable(
            title=Text(visible(t.title)) if t.title else None,
            show_footer=False,
            title_justify="left",
            header_style="bold",
            box=box.ASCII2 if ascii_only else box.HEAVY_HEAD,
        )
        columns = [t.columns[i] for i in fit.keep]
        cells = [[row[i] for i in fit.keep] for row in cells]
        widths = []
        for i, c in zip(fit.keep, columns):
            keep = not fit.wrap[i]
            widths.append(fit.natural[i] if keep else None)
            rt.add_column(
                Text(visible(c.header)),
                justify="right" if c.right else "left",
                no_wrap=keep,
                min_width=widths[-1],
                overflow="fold",
            )
        body = cells[: len(t.rows)]
        # rich spends about 2 ms a row; a long table whose columns all keep their natural width
        # (nothing wraps or shrinks) gets rows 2..n written here, byte for byte as rich would
        fast = (
            fast_rows is not None
            and len(body) > fast_rows
            and not color
            and not ascii_only
            and None not in widths
            and sum((w or 0) + 3 for w in widths) + 1 <= console.width
            and all(cell.isascii() for row in body for cell in row)
        )
        for row in body[:1] if fast else body:
            rt.add_row(*map(Text, row))
        if t.total:
            rt.add_section()
            rt.add_row(*map(Text, cells[-1]), style="bold")
        if fast:
            with console.capture() as cap:
                console.print(rt)
            lines = cap.get().split("\n")
            at = next(i for i, line in enumerate(lines) if line.startswith("\u2521")) + 2  # after row 1
            rest = [
                "\u2502"
                + "\u2502".join(
                    " " + (cell.rjust(w or 0) if c.right else cell.ljust(w or 0)) + " "
                    for cell, w, c in zip(row, widths, columns)
                )
                + "\u2502"
                for row in body[1:]
            ]
            buf.write("\n".join(lines[:at] + rest + lines[at:]))
        else:
            console.print(rt)
        extra = fit.note()
        for n in t.notes + ([extra] if extra else []):
            console.print(visible(n), overflow="fold", markup=False)  # a note may hold "[source]"
        console.print()
    return no_workflow_commands(buf.getvalue())
