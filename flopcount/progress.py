"""A progress bar with an ETA on standard error, for long work (``sweep``, ``verify``).

Shown only when stderr is a terminal and not in CI (``CI`` set to anything but ``0``/``false``),
and never with ``FLOPCOUNT_PROGRESS=0``; ``FLOPCOUNT_PROGRESS=1`` forces it (a terminal
emulator that is not a tty). Nothing is written otherwise, so piped output, logs and tests
see no trace of it. One line, redrawn at most ten times a second with a carriage return and
erased when the work ends (or fails), so the output that follows starts on a clean line.
Plain text: no rich import, nothing at start-up.

>>> with bar(1000, "sweep") as b:
...     for task in b.each(tasks):
...         work(task)
"""

from __future__ import annotations

import os
import sys
import time

_REDRAW_S = 0.1
_FILL, _EMPTY = "#", "-"


def wanted(stream=None) -> bool:
    """Whether a bar should be drawn on ``stream`` (stderr by default)."""
    forced = os.environ.get("FLOPCOUNT_PROGRESS", "").strip().lower()
    if forced in ("0", "false", "no", "off"):
        return False
    if forced in ("1", "true", "yes", "on"):
        return True
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no stderr, or a closed one
        return False


def clock(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Bar:
    """``total`` steps of work labelled ``label``; :meth:`advance` after each. A disabled bar
    (``enabled=False``) does nothing at all."""

    def __init__(self, total: int, label: str, stream=None, enabled: bool | None = None, now=time.monotonic):
        self.total = max(0, int(total))
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self.done = 0
        self._now = now
        self._start = now()
        self._drawn = 0.0
        self._shown = False
        self._first: tuple | None = None  # (time, steps) at the first step: the rate is measured from there

    def line(self, width: int = 80) -> str:
        """The bar's text: label, bar, count, percent, elapsed and ETA, at most ``width`` wide."""
        elapsed = self._now() - self._start
        frac = self.done / self.total if self.total else 1.0
        tail = f" {self.done:,}/{self.total:,} {100 * frac:3.0f}% {clock(elapsed)}"
        if 0 < self.done < self.total:
            tail += f" ETA {clock(self.eta())}"
        room = width - len(self.label) - len(tail) - 4
        if room >= 10:
            n = min(room, 40)
            full = int(n * frac)
            return f"{self.label} [{_FILL * full}{_EMPTY * (n - full)}]{tail}"[: width - 1]
        return f"{self.label}{tail}"[: width - 1]

    def eta(self) -> float:
        """Seconds left at the rate since the first step (the first one carries the start-up:
        imports, the first forward pass), or since the start before a second step."""
        now = self._now()
        left = self.total - self.done
        if self._first is not None and self.done > self._first[1]:
            t0, n0 = self._first
            return (now - t0) / (self.done - n0) * left
        return (now - self._start) / max(1, self.done) * left

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 80
        return columns if columns >= 20 else 80  # 0: a terminal that does not say (a new pty)

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        t = self._now()
        if not force and t - self._drawn < _REDRAW_S:
            return
        self._drawn = t
        try:
            self.stream.write("\r" + self.line(self._width()) + "\x1b[K")
            self.stream.flush()
            self._shown = True
        except (OSError, ValueError):  # stderr went away: stop drawing, never fail the work
            self.enabled = False

    def advance(self, steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps) if self.total else self.done + steps
        if self._first is None:
            self._first = (self._now(), self.done)
        self.draw(force=self.done == self.total)

    def each(self, items):
        """Yield each item, advancing once the caller is done with it."""
        for item in items:
            yield item
            self.advance()

    def close(self) -> None:
        """Erase the bar's line (the command's own output follows on a clean line)."""
        if self._shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._shown = False

    def __enter__(self) -> Bar:
        self.draw(force=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bar(total: int, label: str, stream=None, enabled: bool | None = None) -> Bar:
    return Bar(total, label, stream, enabled)


def module_steps(model, names, progress: Bar) -> list:
    """Advance ``progress`` after each forward of the submodules ``names`` of a torch module
    (duck-typed: no torch import here). Returns the hook handles; ``remove()`` each after.
    Nothing is hooked when the bar is disabled."""
    if not progress.enabled:
        return []
    handles = []
    names = list(names)
    for name in names:
        try:
            sub = model.get_submodule(name)
        except AttributeError:
            continue
        handles.append(sub.register_forward_hook(lambda *_: progress.advance()))
    progress.total = max(0, progress.total - (len(names) - len(handles)))  # layers with no module of their own
    return handles
