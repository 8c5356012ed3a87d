"""The program: the ``flopcount`` console script and ``python -m flopcount`` both call :func:`run`.

A run makes some hundred thousand objects (click, rich, PyYAML, flopcount's own modules and
commands, then the spec and its report) and almost no reference cycles: reference counting
frees what is dropped. Python's cyclic collector would still walk them again and again while
they are made: 11 M instructions of `report efficientnet-b7`'s 431 M, with nothing to find.
So the program runs with the collector off, as the analysis always has (``api.no_gc``), and
what start-up made is frozen (``gc.freeze``: never scanned, should the collector run). A
command whose work has no bound turns it back on: ``sweep`` (one design after another, for
hours if asked). Callers of ``cli.main([...])`` (notebooks, tests) keep their collector as is.
"""

from __future__ import annotations

import gc


def run():
    gc.disable()
    from .cli import main

    gc.freeze()
    return main()
