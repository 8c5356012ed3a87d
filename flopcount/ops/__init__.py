"""Every op flopcount knows, registered once each. Adding an op = adding one module here."""
from __future__ import annotations

import importlib
import pkgutil

from .base import ALIASES, REGISTRY, Cost, Op, OpError, Param, lookup, register  # noqa: F401

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")
