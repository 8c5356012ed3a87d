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


def rich_text(
    tables: list, width: int | None = None, color: bool | None = None, fast_rows: int | None = FAST_ROWS
) -> str:
    """Render with rich into a string (the CLI writes it; tests compare it to golden files)."""
    import io
    import shutil

    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or shutil.get_terminal_size((120, 24)).columns,
        force_terminal=bool(color),
        no_color=not color,
        highlight=False,
        soft_wrap=False,
    )
    for t in tables:
        # Text, not str: rich would read "[conv9]" as markup (an empty cell) and "[/]" as an error
        rt = RichTable(
            title=Text(visible(t.title)) if t.title else None,
            show_footer=False,
            title_justify="left",
            header_style="bold",
        )
        cells = [[visible(fmt(r.get(c.key), c.kind)) for c in t.columns] for r in t.rows]
        if t.total:
            cells.append([visible(fmt(t.total.get(c.key), c.kind)) for c in t.columns])
        widths = []
        for i, c in enumerate(t.columns):
            widest = max((len(row[i]) for row in cells), default=0)
            # numbers, names and shapes never wrap; long free text (descriptions) does
            keep = c.right or i == 0 or widest <= 24
            widths.append(max(widest, len(c.header)) if keep else None)
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
                    for cell, w, c in zip(row, widths, t.columns)
                )
                + "\u2502"
                for row in body[1:]
            ]
            buf.write("\n".join(lines[:at] + rest + lines[at:]))
        else:
            console.print(rt)
        for n in t.notes:
            console.print(visible(n), overflow="fold", markup=False)  # a note may hold "[source]"
        console.print()
    return no_workflow_commands(buf.getvalue())
