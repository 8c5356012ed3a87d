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

from dataclasses import dataclass
from typing import Callable

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
    text = spec_text(imported)
    spec = read_spec(f"<{target}>", text=text)
    graph = expand(spec, None, None, batch, None)
    graph.name = imported.model
    graph.imported = imported  # the CLI reads .unmapped for the "not costed" summary and exit 1
    return graph
