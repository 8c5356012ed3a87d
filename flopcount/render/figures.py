"""Published figures, formatted once for every output: a table cell (``358M (DIFFERS)``), a
compact pair of cells, the notes under a table (ours against the paper's, with its source and
why), and the JSON object (each figure as printed, its value, ours, status and difference).
A figure is compared with the per-sample counts (``Row.per_sample()``): papers print per image,
and only when the model is the one they describe: after ``--input`` or ``--set`` (see
:func:`not_comparable`) every figure is shown as "not comparable" with the reason, never as a
difference."""

from __future__ import annotations

from ..published import Published

_MARK = {"exact": "exact", "rounded": "rounds ours", "differs": "DIFFERS"}


def not_comparable(report) -> str | None:
    """Why ``report`` is not the model its published figures describe (``input changed (...)``,
    ``--set width``), or None when it is (flopcount.catalog fills ``Graph.not_as_published``)."""
    graph = getattr(report, "graph", None)
    why = getattr(graph, "not_as_published", None) if graph is not None else None
    return "; ".join(why) if why else None


def figure_cell(figures, key: str, ours: int, why: str | None = None) -> str | None:
    fig = figures.figures.get(key) if figures else None
    if fig is None:
        return None
    return f"{fig.text} (not comparable)" if why else f"{fig.text} ({_MARK[fig.compare(ours)]})"


def figure_notes(label: str, figures, ours: dict, differs_only: bool = False, why: str | None = None) -> list:
    notes: list = []
    if not figures or (why and differs_only):
        return notes
    for key, fig in figures.figures.items():
        mine = ours.get(key)
        if mine is None:
            continue
        if why:
            notes.append(f"{label} {key}: ours {mine:,}, published {fig.text}: not comparable: {why}")
            continue
        status = fig.compare(mine)
        if differs_only and status != "differs":
            continue
        line = f"{label} {key}: ours {mine:,}, published {fig.text}"
        if status == "differs":
            diff = mine - fig.value
            line += f": DIFFERS by {diff:+,.0f} ({float(diff / fig.value) * 100:+.1f}%)" if fig.value else ": DIFFERS"
        else:
            line += f" ({_MARK[status]})"
        notes.append(line)
    if notes:
        if figures.source:
            notes[-1] += f" [{figures.source}]"
        if figures.note and not why:  # why it rounds or differs: moot for another model
            notes.append(f"  why: {figures.note}")
    return notes


def has_both(figures) -> bool:
    """True when ``figures`` publishes both params and MACs (a paper's per-row table)."""
    return bool(figures) and figures.has_both()


_SHORT = {"exact": "exact", "rounded": "rounds", "differs": "DIFFERS"}


def figure_pair(figures, params: int, macs: int, why: str | None = None) -> dict:
    """Two compact cells (``159Ki DIFFERS``, ``128M rounds``): they sit beside seven others."""
    out = {}
    for key, ours in (("params", params), ("macs", macs)):
        fig = figures.figures.get(key) if figures else None
        mark = "n/c" if why else None
        out["pub_" + key] = "" if fig is None else f"{fig.text} {mark or _SHORT[fig.compare(ours)]}"
    return out


def published_json(figures: Published | None, ours: dict, why: str | None = None) -> dict:
    """Each figure as printed and its value, with ours beside it (``ours``, ``status``, ``diff``);
    ``why`` (see :func:`not_comparable`): status ``not_comparable``, no ``diff``, and the reason."""
    out: dict = {}
    if not figures:
        return out
    for key, fig in figures.figures.items():
        mine = ours.get(key)
        entry = {"text": fig.text, "value": int(fig.value) if fig.value == int(fig.value) else float(fig.value)}
        if isinstance(mine, int):
            entry["ours"] = mine
            if why:
                entry["status"] = "not_comparable"
            else:
                entry["status"] = fig.compare(mine)
                entry["diff"] = mine - entry["value"]
        out[key] = entry
    if why and out:
        out["not_comparable"] = why
    for key in Published.TEXT:
        value = getattr(figures, key)
        if value is not None:
            out[key] = value
    return out
