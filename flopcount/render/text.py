"""Rich table for the terminal, and GitHub-flavoured markdown.

Every cell, title and note is escaped for its output (flopcount.render.escape): in the
terminal, control characters are shown (``\x1b``) and rich markup is never parsed (cells and
titles are handed to rich as ``Text``, notes printed with ``markup=False``); in markdown,
cells escape ``|``, newlines and HTML, titles and notes escape HTML.
"""

from __future__ import annotations

from .escape import markdown_cell, markdown_text, no_workflow_commands, visible
from .model import column_texts, fmt


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


#: set while an output is rendered for ``-o FILE`` (:func:`for_a_file`): not the terminal's
_FOR_FILE = False


class for_a_file:
    """While rendering an output that goes to a file (``-o FILE``): no terminal width (each
    table at its natural width, as when piped) and box drawing (the file is UTF-8)."""

    def __enter__(self):
        global _FOR_FILE
        self.before, _FOR_FILE = _FOR_FILE, True
        return self

    def __exit__(self, *exc):
        global _FOR_FILE
        _FOR_FILE = self.before
        return False


def terminal_width() -> int | None:
    """The terminal's width when standard output is one; None when it is piped or a file (the
    tables are then written at their natural width: nothing folded, dropped or cut)."""
    import sys

    if _FOR_FILE:
        return None
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

    enc = encoding or ("utf-8" if _FOR_FILE else None) or getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "\u250f\u2501\u2533\u2503\u2502\u2521\u2547\u2514\u2500\u2534\u2518".encode(enc)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def _cell_len(text: str) -> int:
    """The terminal cells ``text`` takes: its length when ASCII (the cells here are already
    :func:`visible`: no control character), else rich's count (wide and combining characters)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _span(widths) -> int:
    """A rich table's width with columns of these widths (padding 1 each side, n + 1 rules)."""
    return sum(widths) + 3 * len(widths) + 1


def _cells(t) -> list:
    """A table's cell texts, a list per column (its rows, then the total row when there is one),
    each formatted (model.fmt) and :func:`visible`."""
    rows = [*t.rows, t.total] if t.total else t.rows
    out = []
    for c in t.columns:
        key = c.key
        texts = column_texts([r.get(key) for r in rows], c.kind)
        if not "".join(texts).isprintable():  # some cell holds a control character: show it
            texts = [visible(x) for x in texts]
        out.append(texts)
    return out


class _Fit:
    """How one table fits a width: the columns kept, which of them may wrap (fold: text moves to
    the next line of its cell, nothing is cut), the columns left out, and the width to draw at.
    ``texts``: the cell texts, a list per column (:func:`_cells`)."""

    def __init__(self, columns, texts, width: int | None):
        #: every cell ASCII (one cell per character): widths are lengths (plain_table needs it too)
        self.ascii = all("".join(col).isascii() for col in texts)
        cell_len = len if self.ascii else _cell_len
        natural = []
        for c, col in zip(columns, texts):
            widest = max(map(cell_len, col), default=0)
            natural.append(max(widest, _cell_len(c.header)))
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

    if width is None:
        width = terminal_width()
    if ascii_only is None:
        ascii_only = not can_draw_boxes()
    prepared = []
    for t in tables:
        texts = _cells(t)
        prepared.append((t, texts, _Fit(t.columns, texts, width)))
    if width is None:  # piped: the widest table's natural width (notes wrap at PIPE_MIN at least)
        width = max([PIPE_MIN] + [f.full for _, _, f in prepared])
    buf = io.StringIO()
    for t, texts, fit in prepared:
        direct = None
        if fast_rows is not None and not color:  # written here, no rich import (see plain_table)
            direct = plain_table(t, texts, fit, max(width, fit.width or 0), ascii_only)
        if direct is not None:
            buf.write(direct)
            continue
        nrows = len(t.rows) + bool(t.total)
        cells = [list(row) for row in zip(*texts)] if texts else [[] for _ in range(nrows)]
        from rich import box
        from rich.console import Console
        from rich.table import Table as RichTable
        from rich.text import Text

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


# --- tables written directly, byte for byte as rich 13-15 prints them (see plain_table) -------

#: rich's box characters by line: top, header, under the header, body, section rule, bottom;
#: each as (left, fill, between columns, right); HEAVY_HEAD and ASCII2 (rich.box)
_BOXES = {
    False: (
        "\u250f\u2501\u2533\u2513",
        "\u2503 \u2503\u2503",
        "\u2521\u2501\u2547\u2529",
        "\u2502 \u2502\u2502",
        "\u251c\u2500\u253c\u2524",
        "\u2514\u2500\u2534\u2518",
    ),
    True: ("+-++", "| ||", "+-++", "| ||", "+-++", "+-++"),
}
_rx: dict = {}


def _regex(name: str, pattern: str):
    rx = _rx.get(name)
    if rx is None:
        import re

        rx = _rx[name] = re.compile(pattern)
    return rx


def wrap_like_rich(text: str, width: int) -> list:
    """The lines rich prints for an ASCII ``Text`` wrapped at ``width`` with overflow ``fold``
    (rich._wrap.divide_line, Text.divide, Text.rstrip_end, Text.truncate): words (with the
    blanks after them) move to the next line when they do not fit; a word wider than the
    line is folded; blanks past the width are dropped at a line end."""
    if len(text) <= width:  # every word fits: the line as it is
        return [text]
    breaks: list = []
    offset = 0
    for m in _regex("word", r"\s*\S+\s*").finditer(text):
        start, word = m.start(), m.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:  # fold the word: pieces of ``width`` characters
            pieces = [word[i : i + width] for i in range(0, len(word), width)]
            for k, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if k == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    edges = [0, *breaks, len(text)]
    lines = []
    for a, b in zip(edges, edges[1:]):
        line = text[a:b]
        if len(line) > width:
            blanks = _regex("end", r"\s+$").search(line)
            if blanks:
                line = line[: len(line) - min(len(blanks.group()), len(line) - width)]
            line = line[:width]
        lines.append(line)
    return lines


def plain_table(t, texts: list, fit: _Fit, console_width: int, ascii_only: bool) -> str | None:
    """One table (title, box, header, rows, total, notes, blank line) as rich would print it
    uncoloured, or None where this writer does not promise rich's bytes: a column would fold
    (the table is wider than ``console_width``), text is not ASCII (wide characters), or a
    note holds ``:word:`` (rich would read an emoji code). The common case, and a table of
    any length, costs no rich import (rich spends about 2 ms a row, and 0.1 s to import).
    ``texts``: the cell texts, a list per column (:func:`_cells`)."""
    keep = fit.keep
    widths = [fit.natural[i] for i in keep]
    span = _span(widths)
    if span > console_width:
        return None
    columns = [t.columns[i] for i in keep]
    title = visible(t.title) if t.title else ""
    notes = [visible(n) for n in t.notes]
    extra = fit.note()
    if extra:
        notes.append(visible(extra))
    words = [title, *notes, *(c.header for c in columns)]
    if not fit.ascii or not all(s.isascii() for s in words):
        return None
    if any(visible(c.header) != c.header for c in columns):  # rich measures the shown header
        return None
    if any(n.count(":") > 1 and _regex("emoji", r":\S*?:").search(n) for n in notes):
        return None
    top, head, under, mid, rule, bottom = _BOXES[bool(ascii_only)]
    right = [c.right for c in columns]

    def line(edge: str, fill: str) -> str:
        return edge[0] + edge[2].join(fill * (w + 2) for w in widths) + edge[3]

    def row(edge: str, values) -> str:
        return (
            edge[0]
            + edge[2].join(
                " " + (v.rstrip().rjust(w) if r else v.ljust(w)) + " " for v, w, r in zip(values, widths, right)
            )
            + edge[3]
        )

    # the body a column at a time (each cell padded to its column), then joined a row at a time:
    # what row(mid, ...) makes of each row, in fewer steps
    padded = [
        [v.rstrip().rjust(w) for v in texts[i]] if r else [v.ljust(w) for v in texts[i]]
        for i, w, r in zip(keep, widths, right)
    ]
    start, between, end = mid[0] + " ", " " + mid[2] + " ", " " + mid[3]
    nbody = len(t.rows)
    if padded:
        lines = [start + between.join(cells) + end for cells in zip(*padded)]
    else:
        lines = [mid[0] + mid[3]] * (nbody + bool(t.total))
    out = []
    if t.title:
        out += [ln.ljust(span) for ln in wrap_like_rich(title, span)]
    out.append(line(top, top[1]))
    out.append(row(head, [c.header for c in columns]))
    out.append(line(under, under[1]))
    out += lines[:nbody]
    if t.total:
        if nbody:
            out.append(line(rule, rule[1]))
        out.append(lines[nbody])
    out.append(line(bottom, bottom[1]))
    for n in notes:
        out += wrap_like_rich(n, console_width)
    out.append("")
    return "\n".join(out) + "\n"
