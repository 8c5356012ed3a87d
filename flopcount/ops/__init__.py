"""Every op flopcount knows, registered once each. Adding an op = adding one module here
(what it declares: see :mod:`flopcount.ops.base`)."""

from __future__ import annotations

import importlib
import os

from .base import (  # noqa: F401
    ALIASES,
    REGISTRY,
    Cost,
    Op,
    OpError,
    Param,
    RegistrationError,
    lookup,
    register,
)

# every module of this folder (sorted, so registration order is stable); os.listdir rather
# than pkgutil, which costs more start-up time than all the ops together
for _file in sorted(os.listdir(__path__[0])):
    if _file.endswith(".py") and _file not in ("__init__.py", "base.py", "params.py"):
        importlib.import_module(f"{__name__}.{_file[:-3]}")
