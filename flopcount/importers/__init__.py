"""Importers: targets that name a model in another form (a torch callable, an ONNX file).

A small registry of *target kinds*: each kind says whether it recognises a target string
(``matches``) and turns it into an :class:`~flopcount.importers.common.Imported`
(``load``). :func:`flopcount.catalog.load_graph` asks :func:`find_kind` before treating a
target as a spec path or a built-in name, so every command accepts the same targets.
Kinds import their heavy dependency (torch, onnx) only inside ``load``: matching is pure
string work, and the analysis path of a plain spec never imports torch.

Registered here: ``torchvision:NAME``, ``timm:NAME``, ``pkg.mod:fn`` (torch, ``torch_fx``);
``*.onnx`` is registered by ``onnx_import``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import Imported, ImportedLayer, ImportError_, Unmapped  # noqa: F401


@dataclass(frozen=True)
class TargetKind:
    name: str
    matches: Callable[[str], bool]
    load: Callable  # (target, input_shape, batch, sets) -> Imported
    describe: str = ""


KINDS: dict = {}


def register_kind(kind: TargetKind) -> TargetKind:
    if kind.name in KINDS:
        raise RuntimeError(f"target kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


def find_kind(target) -> TargetKind | None:
    """The kind that recognises ``target`` (a string), or None: a spec path or built-in name."""
    if not isinstance(target, str):
        return None
    _load_builtin_kinds()
    for kind in KINDS.values():
        if kind.matches(target):
            return kind
    return None


_LOADED = False


def _load_builtin_kinds() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from . import torch_kinds  # noqa: F401  (no torch import: matching only)

    try:
        from . import onnx_import  # noqa: F401
    except ImportError:  # pragma: no cover - L2's module not there yet
        pass


def load_target(kind: TargetKind, target: str, input_shape=None, sets=None) -> Imported:
    """Import ``target`` with its kind; ``sets`` are the builder's keyword arguments."""
    return kind.load(target, input_shape, None, sets)


def imported_graph(kind: TargetKind, target: str, input_shape=None, batch=None, sets=None):
    """The graph of an imported target: its written spec (``importers.write``), expanded like
    any spec, so ``report TARGET`` and ``report`` of the written file give the same rows."""
    from ..spec.document import read_spec
    from ..spec.expand import expand
    from .write import spec_text

    imported = load_target(kind, target, input_shape, sets)
    _unknown(imported)
    text = spec_text(imported)
    spec = read_spec(f"<{target}>", text=text)
    return expand(spec, None, None, batch, None)


def imported_spec(kind: TargetKind, target: str, sets=None):
    """The written spec of ``target`` at its default input, read as a spec (``sweep`` expands
    it at other inputs: the input is a variable of the written spec)."""
    from ..spec.document import read_spec
    from .write import spec_text

    imported = load_target(kind, target, None, sets)
    _unknown(imported)
    return read_spec(f"<{target}>", text=spec_text(imported))


#: set by ``--allow-unknown`` (or FLOPCOUNT_ALLOW_UNKNOWN=1): count a model with opaque nodes
ALLOW_UNKNOWN = [False]


class UnknownNodes(ImportError_):
    """Nodes the importer could not cost: exit 1, naming each (unless --allow-unknown)."""


def allowed_unknown() -> bool:
    import os

    return ALLOW_UNKNOWN[0] or os.environ.get("FLOPCOUNT_ALLOW_UNKNOWN", "") not in ("", "0")


def _unknown(imported: Imported, raise_it: bool = True) -> None:
    """The "N nodes not costed" summary: an error (exit 1), or with --allow-unknown a warning
    on stderr and the rest of the model counted."""
    summary = imported.summary()
    if summary is None:
        return
    if allowed_unknown():
        import sys

        sys.stderr.write(f"warning: {imported.model}: {summary}; their MACs and params are not in the totals\n")
        return
    if raise_it:
        raise UnknownNodes(
            f"{imported.model}: {summary}",
            "count them by hand, or rerun with --allow-unknown (or FLOPCOUNT_ALLOW_UNKNOWN=1) to count the rest",
            code=1,
        )


def import_to_file(target: str, output: str | None, input_shape=None, sets=None) -> tuple:
    """``flopcount import``: write the spec of ``target`` to ``output`` (atomically; stdout
    when None). Returns (the Imported model, the text). The file is written even when nodes
    were not costed (they are ``opaque`` layers in it); the caller then exits 1."""
    from ..errors import UsageError
    from .write import spec_text

    kind = find_kind(target)
    if kind is None:
        raise UsageError(
            f"`{target}` is not an importable target: use torchvision:NAME, timm:NAME, pkg.module:function or FILE.onnx"
        )
    imported = load_target(kind, target, input_shape, sets)
    text = spec_text(imported)
    if output is not None:
        from ..fileio import write_atomic, write_target

        write_atomic(write_target(output, "spec"), text, output)
    return imported, text
