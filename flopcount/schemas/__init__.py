"""JSON Schemas (draft 2020-12) of every JSON document flopcount writes, shipped with the package:
``report.json`` is ``flopcount.report/1``, and so on (see ``DOCUMENTS``).

>>> from flopcount.schemas import load
>>> load("flopcount.report/1")["$id"]
'urn:flopcount:schema:report:1'

:func:`validate` checks a document against the schema its ``schema`` key names; it needs the
``jsonschema`` package (the ``test`` extra), imported only when called.
"""

from __future__ import annotations

import json
import os

#: document kind (the value of its "schema" key) -> schema file in this folder
DOCUMENTS = {
    "flopcount.report/1": "report.json",
    "flopcount.compare/1": "compare.json",
    "flopcount.list/1": "list.json",
    "flopcount.check/1": "check.json",
    "flopcount.baseline/1": "baseline.json",
    "flopcount.baseline/2": "baseline.json",  # /1 plus imported models (`target`, `onnx`)
    "flopcount.sweep/1": "sweep.json",
    "flopcount.verify/1": "verify.json",
}

_HERE = os.path.dirname(os.path.abspath(__file__))


def load(kind: str) -> dict:
    """The schema of document ``kind`` (``flopcount.report/1``)."""
    if kind not in DOCUMENTS:
        raise KeyError(f"no schema for `{kind}` (known: {', '.join(DOCUMENTS)})")
    with open(os.path.join(_HERE, DOCUMENTS[kind]), encoding="utf-8") as fh:
        return json.load(fh)


def registry():
    """A ``referencing.Registry`` holding every shipped schema by its ``$id`` (compare's
    schema refers to report's)."""
    from referencing import Registry, Resource

    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in (load(k) for k in DOCUMENTS))


def validate(doc: dict) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is valid for the schema it names."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    schema = load(doc.get("schema", ""))
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, registry=registry()).validate(doc)
