"""Whether a lock file may run code: its ``target: "pkg.module:function"`` entries.

A lock file may come from a stranger's pull request, and recounting such an entry imports the
module it names and calls the function: code execution. So `check` refuses every such entry
(a located error, exit 3, before anything is recounted) unless the user says, on the command
line or in the environment, that they trust the code: ``check --trust-code`` or
``FLOPCOUNT_TRUST_CODE=1``. Entries that are data are always allowed: ``builtin`` and
``torchvision:`` / ``timm:`` names (looked up only as names in their registries, with numbers
or booleans as builder arguments), ``spec`` and ``onnx`` files (read with their limits, inside
the baseline's folder tree).
"""

from __future__ import annotations

import os

TRUST_ENV = "FLOPCOUNT_TRUST_CODE"
TRUST_OPTION = "--trust-code"

#: set by ``check --trust-code``
TRUST_CODE = [False]


def code_trusted() -> bool:
    """Did the user allow a lock file's callables to run (``--trust-code`` or the variable)?"""
    return TRUST_CODE[0] or os.environ.get(TRUST_ENV, "") not in ("", "0")
