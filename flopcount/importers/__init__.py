"""Importers: targets that name a model in another form (a torch callable, an ONNX file).

A small registry of *target kinds*: each kind says whether it recognises a target string
(``matches``) and turns it into an :class:`~flopcount.importers.common.Imported`
(``load``). :func:`flopcount.catalog.load_graph` asks :func:`find_kind` before treating a
target as a spec path or a built-in name, so every command accepts the same targets.
Kinds import their heavy dependency (torch, onnx) only inside ``load``: matching is pure
string work, and the analysis path of a plain spec never imports torch.

Registered here: ``torchvision:NAME``, ``timm:NAME``, ``pkg.mod:fn`` (torch, ``torch_fx``);
``*.onnx`` is registered by ``onnx_import``.

Where a callable's module is looked for (:func:`search_path`): a ``pkg.mod:fn`` the user typed
(command line, or the API) is imported with the working folder first on ``sys.path``, as
``python -m`` does (a console script does not put it there). A target read from a lock file is
not the user's own: :func:`lock_kind` classifies it by its text alone (no file is looked at),
a callable is refused unless the user trusts the lock's code (``check --trust-code``;
flopcount.baseline.trust), and a ``torchvision:`` / ``timm:`` name is imported with the working
folder taken *off* ``sys.path`` (``python -m flopcount`` puts it there), so a file planted in a
checked-out pull request cannot stand in for torchvision or timm.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def kind_named(name: str) -> TargetKind:
    """The registered kind ``name`` (``onnx``, ``torchvision``, ...)."""
    _load_builtin_kinds()
    return KINDS[name]


#: kinds whose target runs the user's code when loaded (a lock file's needs --trust-code)
CODE_KINDS = frozenset({"callable"})

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}"  # a torchvision/timm model name
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"  # an ASCII module path
MAX_TARGET = 256  # characters of a lock file's `target`


def lock_kind(target: str) -> TargetKind | None:
    """The kind of a lock file's ``target`` by its text alone (no file system, no import):
    ``torchvision:NAME`` / ``timm:NAME`` (NAME: letters, digits, ``_ . -``), or an ASCII
    ``pkg.module:function``; None for anything else (a path, a spec, a malformed name)."""
    if not isinstance(target, str) or len(target) > MAX_TARGET:
        return None
    _load_builtin_kinds()
    prefix, colon, rest = target.partition(":")
    if colon and prefix in ("torchvision", "timm"):
        return KINDS.get(prefix) if re.fullmatch(_NAME, rest) else None
    return KINDS.get("callable") if re.fullmatch(f"{_DOTTED}:{_DOTTED}", target) else None


#: builder keyword arguments a lock file may not give a torchvision/timm model: they fetch
#: weights from the network or read a checkpoint file (``pretrained=True``, ``weights=...``,
#: ``checkpoint_path=...``); a lock file's values are numbers or booleans only
_FETCHES = r"weight|pretrain|checkpoint|progress|file|path|url|dir|cache|hub|download"
_HARMLESS = frozenset({"init_weights"})  # torchvision's vgg/googlenet/inception: how to initialise


def unsafe_argument(sets: dict) -> str | None:
    """Why a lock file's ``pinned.set`` cannot be given to a torchvision/timm builder, or None."""
    for key, value in sets.items():
        if key not in _HARMLESS and re.search(_FETCHES, key, re.I):
            return f"`{key}` would fetch weights or read a file"
        if not isinstance(value, (int, float, bool)):
            return f"`{key}` is not a number or true/false (a lock file gives such a model no texts or lists)"
    return None


@contextmanager
def search_path(cwd_first: bool) -> Iterator[None]:
    """``sys.path`` while a target is imported: with ``cwd_first``, the working folder first (as
    ``python -m``); without, the working folder (and ``''``) taken off. Restored afterwards."""
    saved = list(sys.path)
    try:
        here = os.getcwd()
    except OSError:  # a deleted working folder: nothing to add, nothing to take off
        here = None
    if here is not None:
        if cwd_first:
            sys.path.insert(0, here)
        else:
            sys.path[:] = [p for p in sys.path if p not in ("", ".") and _real(p) != _real(here)]
    try:
        yield
    finally:
        sys.path[:] = saved


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def load_target(kind: TargetKind, target: str, input_shape=None, sets=None, typed: bool = True) -> Imported:
    """Import ``target`` with its kind; ``sets`` are the builder's keyword arguments. ``typed``:
    the user gave it (a callable's module is then looked for in the working folder first);
    else it comes from a lock file (:func:`search_path`)."""
    if typed and kind.name not in CODE_KINDS:
        return kind.load(target, input_shape, None, sets)
    with search_path(cwd_first=typed or kind.name in CODE_KINDS):
        return kind.load(target, input_shape, None, sets)


def imported_graph(kind: TargetKind, target: str, input_shape=None, batch=None, sets=None, typed: bool = True):
    """The graph of an imported target: its written spec (``importers.write``), expanded like
    any spec, so ``report TARGET`` and ``report`` of the written file give the same rows.
    ``typed``: as :func:`load_target`."""
    from .write import spec_text

    imported = load_target(kind, target, input_shape, sets, typed)
    _unknown(imported)
    paths: dict = {}
    text = spec_text(imported, paths)
    return expand_written(imported, target, text, batch, paths)


def expand_written(imported: Imported, target: str, text: str, batch=None, paths: dict | None = None):
    """The graph of a written spec. One that does not expand is the importer's fault, never the
    user's: it mapped a node to an op whose shape rule refuses what the source traced (NFNet's
    weight standardisation: a ``batch_norm`` over a conv's weights, then a ``view`` to the
    weight's shape). That is exit 3 naming the failing layer, and ``import -o`` writes nothing,
    rather than a spec that fails where the user did not write it. ``paths`` (imported layer
    name -> written name, from spec_text): each layer's shape is then held to the one the source
    traced (:func:`_shapes_hold`)."""
    from ..errors import SpecError
    from ..spec.document import read_spec
    from ..spec.expand import expand

    try:
        graph = expand(read_spec(f"<{target}>", text=text), None, None, batch, None)
    except SpecError as e:
        first = e.diagnostics[0]
        more = len(e.diagnostics) - 1
        summary = imported.summary()
        where = ""
        if first.pos is not None and 0 < first.pos.line <= text.count("\n"):
            from ..errors import excerpt

            where = f" (line {first.pos.line} of the written spec: {excerpt(text.splitlines()[first.pos.line - 1].strip())})"
        raise ImportError_(
            f"{imported.model}: the spec written from it does not expand: {first.message}{where}"
            + (f" (and {more} more error{'s' if more != 1 else ''})" if more else ""),
            "a limitation of flopcount's importer, not of the model; nothing was written"
            + (f". It also found {summary}" if summary else ""),
            code=3,
        ) from None
    if paths is not None:
        _shapes_hold(imported, graph, paths)
    return graph


def _shapes_hold(imported: Imported, graph, paths: dict) -> None:
    """Every layer of the expanded spec has the per-sample output shape the source traced for it
    (``ImportedLayer.shape``): a mapping whose op gives another shape (a conv padded another
    way) counts another model, so it is exit 3 naming the layer, never a count. (All 21,411
    layers of the 137 covered models hold: docs/import-coverage.md.)"""
    from ..render.model import shape_text

    by_name = {n.name: n for n in graph.nodes}
    for lay in imported.layers:
        node = by_name.get(paths.get(lay.name)) if lay.shape is not None else None
        if node is not None and tuple(node.shape) != tuple(lay.shape):
            summary = imported.summary()
            raise ImportError_(
                f"{imported.model}: the spec written from it gives `{node.name}` ({node.op}) the output "
                f"{shape_text(node.shape)}, where the model's is {shape_text(lay.shape)} ({lay.source or lay.name})",
                "a limitation of flopcount's importer, not of the model: its counts would be another model's; "
                "nothing was written" + (f". It also found {summary}" if summary else ""),
                code=3,
            )


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
    paths: dict = {}
    text = spec_text(imported, paths)
    expand_written(imported, target, text, None, paths)  # a spec that does not expand is never written
    if output is not None:
        from ..fileio import write_atomic, write_target

        write_atomic(write_target(output, "spec", keep_read=True), text, output)
    return imported, text
