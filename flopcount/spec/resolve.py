"""From what the user typed (``vgg-D``, ``./my.yaml``, ``./my.yaml:D``) to a spec file and variant."""

from __future__ import annotations

import os
from typing import NamedTuple

from ..errors import UsageError, excerpt

SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> str:
    """The folder of built-in specs: ``flopcount/configs``, shipped inside the package."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), "configs")


class Target(NamedTuple):  # a NamedTuple: immutable, and cheap to define at import
    path: str
    variant: str | None  # None: the file's default (or a file without variants)
    display: str  # the name reports use
    builtin: bool


def builtin_files() -> list:
    folder = builtin_dir()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names if n.endswith(SUFFIXES) and not n.startswith("_")]


def looks_like_path(text: str) -> bool:
    base = text.rsplit(":", 1)[0] if ":" in text else text
    return os.sep in text or "/" in text or base.endswith(SUFFIXES) or os.path.exists(text)


def resolve(text: str) -> Target:
    """Resolve a model argument; raises UsageError (exit 2) with close matches when unknown."""
    if looks_like_path(text):
        path, variant = text, None
        if not os.path.exists(text) and ":" in text:
            path, variant = text.rsplit(":", 1)
        if not os.path.exists(path):
            if os.path.islink(path):
                raise UsageError(
                    f"{excerpt(path, 300)} is a symbolic link that leads nowhere (a loop, or its target is missing)"
                )
            raise UsageError(f"no such spec file: {excerpt(path, 300)}")
        return Target(path, variant, text, False)
    found = builtin_target(text)
    if found is not None:
        return found
    known = builtin_names()
    import difflib  # only on errors

    close = difflib.get_close_matches(text[:200], known, n=5, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}?" if close else "run `flopcount list` to see the built-in configs"
    raise UsageError(f"unknown config `{excerpt(text)}`; {hint}")


def builtin_target(text: str) -> Target | None:
    """The built-in config ``text`` names, or None (no error, no hint: nothing else is read)."""
    folder = builtin_dir()
    # `vgg-A-LRN`: try the file `vgg-A-LRN.yaml`, then `vgg-A.yaml` variant `LRN`, then `vgg.yaml` variant `A-LRN`.
    parts = text.split("-")
    for cut in range(len(parts), 0, -1):
        stem = "-".join(parts[:cut])
        variant = "-".join(parts[cut:]) or None
        for suffix in SUFFIXES:
            path = os.path.join(folder, stem + suffix)
            if os.path.isfile(path):
                return Target(path, variant, text, True)
    return None


def builtin_names() -> list:
    """Every built-in model name, cheaply: read only the `variants:` keys of each file."""
    from .document import read_spec

    names = []
    for path in builtin_files():
        spec = read_spec(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        if not spec.variants:
            names.append(stem)
            continue
        for v in spec.variant_names():
            names.append(stem if v == spec.default_variant else f"{stem}-{v}")
    return names
