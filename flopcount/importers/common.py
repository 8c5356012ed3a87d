"""The intermediate form every importer produces (torch FX, ONNX): a flat list of layers in
flopcount's own op vocabulary, plus what could not be mapped.

Why a flat list in flopcount's ops (and not the source graph's node types): every count then
comes from the op registry (``flopcount/ops/``) through the normal expander, so an imported
model is counted by exactly the rules a hand-written spec is, and the spec writer
(``importers/write.py``) only has to turn a list of layers into readable YAML (fold repeats,
name stages). An importer's job stops at "this module is ``conv`` with these attributes".

* :class:`ImportedLayer`: one layer. ``op`` is a registered op name, ``attrs`` its attributes
  as a spec would write them (plain ints/floats/strings/lists), ``inputs`` the names of the
  layers it reads (empty: the previous layer; several: a merge, in order), ``shape`` the
  per-sample output shape the source traced (checked against flopcount's own inference when
  the spec is expanded), ``source`` where it came from (``file.py:LINE`` or the ONNX node).
* :class:`Unmapped`: a node the importer could not cost (custom op, data-dependent shape,
  control flow). It is ALSO kept in ``layers`` as an ``opaque`` layer with its traced shape,
  so the spec still expands; the list of them feeds the "N nodes not costed" summary and exit 1.
* :class:`Imported`: the whole model: a name, the per-sample input shape, layers, the names
  of the output layers, notes for the reader (e.g. "batch norm folded into the convs"), and
  the unmapped nodes. Counts (``macs``/``params`` seen by the source, e.g. FlopCounterMode /
  ``sum(p.numel())``) may be recorded in ``reference`` for the caller to compare.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import FlopcountError
from ..spec.walk import IN_NAME, INPUT_NAME

#: the words a spec's ``from:`` uses for the model's input (``input``) and for the input of the
#: group, branch or block instance a layer is in (``in``). The walk finds a layer of that name
#: first (Expander.tensor), so an imported module or ONNX node named so (a ``ModuleDict`` key
#: ``in``, ``self.input = nn.Conv2d(...)``, a node named ``input``) would take the place of the
#: input it names.
RESERVED_WORDS = (INPUT_NAME, IN_NAME)
_PLAIN_PART = re.compile(r"[A-Za-z0-9_-]+")


def spec_name(name: str) -> str:
    """A model's module path or node name as a spec's layer path, each dotted part of it as the
    spec reads it back: a ``$`` (the spec interpolates it: ``$size`` would be named 224) and a
    character that does not print become ``_``, spaces at its ends go, an empty part is ``_``, and a part
    that is one of :data:`RESERVED_WORDS` gets a ``_`` after it (``blocks.in`` -> ``blocks.in_``).
    Both importers name every layer through it (then make the names unique)."""
    parts = name.split(".")
    if all(_PLAIN_PART.fullmatch(p) and p not in RESERVED_WORDS for p in parts):
        return name
    out = []
    for p in parts:
        p = "".join("_" if c == "$" or not c.isprintable() else c for c in p).strip() or "_"
        out.append(f"{p}_" if p in RESERVED_WORDS else p)
    return ".".join(out)


def given(op: str, **values) -> dict:
    """A layer's attributes as a spec writes them: an ``int`` param's value as an int, any other
    as a float of 7 significant digits (an ONNX attribute is a float32: 0.2 is 0.20000000298),
    left out where it is ``op``'s own default (the op's Param declares it once)."""
    from ..ops.base import REGISTRY

    params = REGISTRY[op].params
    out = {}
    for key, v in values.items():
        v = int(v) if params[key].kind == "int" else float(f"{float(v):.7g}")
        if v != params[key].default:
            out[key] = v
    return out


def clamped(lo, hi) -> tuple[str, dict] | None:
    """The activation a clamp to [lo, hi] computes (None: no bound), as (op, attributes): (0, 6)
    relu6, (0, None) relu, two finite bounds hardtanh; None where no op clamps so (one bound
    other than 0, a bound that is not a finite number). ONNX's Clip and torch's clamp both."""
    if not all(v is None or type(v) in (int, float) and math.isfinite(v) for v in (lo, hi)):
        return None
    if lo == 0 and hi == 6:
        return "relu6", {}
    if lo == 0 and hi is None:
        return "relu", {}
    if lo is not None and hi is not None and lo <= hi:
        return "hardtanh", given("hardtanh", min=lo, max=hi)
    return None


@dataclass(frozen=True)
class ImportedLayer:
    """One layer in flopcount's op vocabulary (see the module docstring)."""

    name: str
    op: str
    attrs: dict
    inputs: tuple = ()
    shape: tuple | None = None
    source: str = ""


@dataclass(frozen=True)
class Unmapped:
    """A node that could not be costed: its name, what it is (module type, function or ONNX
    op type), where it was written, its traced per-sample output shape, and why."""

    node: str
    target: str
    source: str
    shape: tuple | None
    reason: str = ""

    def describe(self) -> str:
        where = f" at {self.source}" if self.source else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.node}: {self.target}{where}{why}"


#: the "N nodes not costed" summary names every node up to SUMMARY_NODES of them; past that the
#: first SUMMARY_SHOWN, then the rest counted by kind (at most SUMMARY_KINDS kinds named)
SUMMARY_NODES = 10
SUMMARY_SHOWN = 5
SUMMARY_KINDS = 8


@dataclass
class Imported:
    """A model read from a foreign source, ready for the spec writer / the expander."""

    model: str
    input_shape: tuple
    layers: list
    outputs: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    unmapped: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)  # e.g. {"macs": ..., "params": ...} from the source
    #: module path -> class name (torch): the writer folds same-class groups into one block
    scopes: dict = field(default_factory=dict)

    def summary(self) -> str | None:
        """``"2 nodes not costed: a (...), b (...)"``, or None when every node was mapped."""
        if not self.unmapped:
            return None
        n = len(self.unmapped)
        head = f"{n} node{'s' if n != 1 else ''} not costed: "
        if n <= SUMMARY_NODES:
            return head + "; ".join(u.describe() for u in self.unmapped)
        # A long list (228 weight-standardisation nodes of an NFNet) would be one line of tens of
        # KB: name the first few, then count the rest by what they are, most frequent first.
        shown = self.unmapped[:SUMMARY_SHOWN]
        kinds: dict = {}
        for u in self.unmapped[SUMMARY_SHOWN:]:
            kinds[u.target] = kinds.get(u.target, 0) + 1
        ranked = sorted(kinds.items(), key=lambda kv: -kv[1])  # stable: first seen first among equals
        by_kind = ", ".join(f"{count} {target}" for target, count in ranked[:SUMMARY_KINDS])
        if len(ranked) > SUMMARY_KINDS:
            by_kind += f", {len(ranked) - SUMMARY_KINDS} other kinds"
        return head + "; ".join(u.describe() for u in shown) + f"; ... and {n - SUMMARY_SHOWN} more ({by_kind})"


class ImportError_(FlopcountError):
    """A target that cannot be imported; ``code`` is the exit code (2 bad target, 3 a builder
    that raises or a model that cannot be traced or read, 4 torch/onnx missing). The CLI prints
    it as ``error: MESSAGE`` and a ``fix:`` line, and exits with ``code``."""

    def __init__(self, message: str, hint: str | None = None, code: int = 2):
        super().__init__(message + (f"\n    fix: {hint}" if hint else ""))
        self.message = message
        self.hint = hint
        self.code = code
        self.exit_code = code
