"""Rich table for the terminal, and GitHub-flavoured markdown."""
from __future__ import annotations

from .model import fmt


def markdown(tables: list) -> str:
    out = []
    for t in tables:
        if t.title:
            out.append(f"### {t.title}\n")
        out.append("| " + " | ".join(c.header for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if c.right else "---" for c in t.columns) + "|")
        rows = list(t.rows) + ([t.total] if t.total else [])
        for i, r in enumerate(rows):
            cells = [fmt(r.get(c.key), c.kind).replace("|", "\\|") for c in t.columns]
            if t.total is not None and i == len(rows) - 1:
                cells = [f"**{c}**" if c else c for c in cells]
            out.append("| " + " | ".join(cells) + " |")
        if t.notes:
            out.append("")
            out.extend(f"- {n}" for n in t.notes)
        out.append("")
    return "\n".join(out)


def rich_text(tables: list, width: int | None = None, color: bool | None = None) -> str:
    """Render with rich into a string (the CLI writes it; tests compare it to golden files)."""
    from rich.console import Console
    from rich.table import Table as RichTable
    import io

    import shutil

    buf = io.StringIO()
    console = Console(file=buf, width=width or shutil.get_terminal_size((120, 24)).columns, force_terminal=bool(color), no_color=not color,
                      highlight=False, soft_wrap=False)
    for t in tables:
        rt = RichTable(title=t.title or None, show_footer=False, title_justify="left", header_style="bold")
        cells = [[fmt(r.get(c.key), c.kind) for c in t.columns] for r in t.rows]
        if t.total:
            cells.append([fmt(t.total.get(c.key), c.kind) for c in t.columns])
        for i, c in enumerate(t.columns):
            widest = max((len(row[i]) for row in cells), default=0)
            # numbers, names and shapes never wrap; long free text (descriptions) does
            keep = c.right or i == 0 or widest <= 24
            rt.add_column(c.header, justify="right" if c.right else "left", no_wrap=keep,
                          min_width=max(widest, len(c.header)) if keep else None, overflow="fold")
        for row in cells[: len(t.rows)]:
            rt.add_row(*row)
        if t.total:
            rt.add_section()
            rt.add_row(*cells[-1], style="bold")
        console.print(rt)
        for n in t.notes:
            console.print(n, overflow="fold", markup=False)  # a note may hold "[source]"
        console.print()
    return buf.getvalue()
