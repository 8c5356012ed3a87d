"""A spec file, read and checked at the top level: keys, variables, variants, blocks, imports.

Top-level keys::

    flopcount: 1                # format version (required: it marks the file as a spec)
    name: vgg                   # family name; models are NAME or NAME-VARIANT
    description: ...
    input: [3, 224, 224]        # per-sample input [C, H, W] (expressions allowed)
    batch: 1
    vars: {classes: 1000}       # declared variables: overridable by variants and --set
    defaults: {conv: {act: relu}}
    blocks: {NAME: {params: {...}, body: [...]}}
    imports: [common.yaml]      # blocks from other files, relative to this one
    variants: {D: {features: [...], description: ..., input: ..., published: ...}}
    default_variant: D          # the variant that the bare NAME means
    published: {macs: 358M, source: ..., note: ...}
    budget: {params: 140M, macs: 16G}   # limits `flopcount check` enforces (macs per sample)
    layers: [...]
    outputs: [p3, p4]           # the model's outputs by layer name (default: the last layer)
    padding: torch              # conv padding defaults to 0 (PyTorch's), not `auto`
"""

from __future__ import annotations

import os

from ..errors import Diagnostic, Pos, SpecError, excerpt
from .yamlload import Map, Seq, load_yaml

FORMAT_VERSION = 1
TOP_KEYS = (
    "flopcount",
    "name",
    "description",
    "input",
    "batch",
    "vars",
    "defaults",
    "blocks",
    "imports",
    "variants",
    "default_variant",
    "published",
    "layers",
    "budget",
    "collapse",
    "outputs",
    "padding",
)
VARIANT_KEYS = ("description", "input", "batch", "published", "budget", "collapse")
#: `collapse: true`: `report` shows one row per block instance unless --expand is given
#: (GoogLeNet reads like the paper's Table 1 that way)
#: `budget: {params: 140M, macs: 16G}`: limits `flopcount check` enforces (macs per sample)
BUDGET_KEYS = ("params", "macs")
MAX_IMPORT_DEPTH = 16

#: Folders (besides the top-level spec's own folder tree) that imports may read from: the
#: environment variable FLOPCOUNT_IMPORT_ROOT (os.pathsep-separated) and --import-root DIR.
IMPORT_ROOT_ENV = "FLOPCOUNT_IMPORT_ROOT"
_cli_import_roots: tuple = ()


def set_import_roots(folders) -> None:
    """The folders given with --import-root for this command (replacing any earlier ones)."""
    global _cli_import_roots
    _cli_import_roots = tuple(str(f) for f in folders or ())


def import_roots(top_path: str) -> tuple:
    """Every folder an import of the spec ``top_path`` may lie in (real paths, links resolved):
    the top-level spec's own folder, then FLOPCOUNT_IMPORT_ROOT, then --import-root."""
    roots = [os.path.dirname(os.path.abspath(top_path))]
    roots += [p for p in os.environ.get(IMPORT_ROOT_ENV, "").split(os.pathsep) if p.strip()]
    roots += list(_cli_import_roots)
    out = []
    for r in roots:
        try:
            real = os.path.realpath(r)
        except (OSError, ValueError):
            continue
        if real not in out:
            out.append(real)
    return tuple(out)


def _inside(real: str, roots) -> bool:
    for root in roots:
        try:
            if os.path.commonpath([real, root]) == root:
                return True
        except ValueError:  # different drives
            continue
    return False


#: Suggestions computed for one spec (then none): only the first errors are shown, and
#: difflib over 40,000 unknown keys would take seconds.
MAX_SUGGESTIONS = 200
_suggested = [0]


def did_you_mean(word, options) -> str | None:
    _suggested[0] += 1
    if _suggested[0] > MAX_SUGGESTIONS:
        return None
    import difflib  # only on errors: keeps the analysis path's imports small

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=3, cutoff=0.6)
    return f"did you mean {' or '.join(f'`{excerpt(c)}`' for c in close)}?" if close else None


class BlockDef:
    __slots__ = ("name", "params", "body", "pos", "param_pos", "defaults")

    def __init__(
        self, name: str, params: dict, body: Seq, pos: Pos, param_pos: dict | None = None, defaults: Map | None = None
    ):
        self.name = name
        self.params = params  # name -> default value (REQUIRED sentinel when none)
        self.body = body
        self.pos = pos
        self.param_pos = {} if param_pos is None else param_pos
        self.defaults = defaults


REQUIRED = object()


class Spec:
    def __init__(
        self,
        path: str,
        data: Map,
        name: str,
        description: str,
        blocks: dict,
        variants: Map | None,
        default_variant: str | None,
    ):
        self.path, self.data, self.name, self.description = path, data, name, description
        self.blocks, self.variants, self.default_variant = blocks, variants, default_variant

    def variant_names(self) -> list:
        return [str(k) for k in self.variants] if self.variants else []

    def budget(self, variant: str | None = None) -> dict:
        """The spec's `budget:`, overridden key by key by the variant's: name -> (Figure, Pos)."""
        out = read_budget(self.data, [])
        v = self.variants.get(variant) if self.variants and variant is not None else None
        if isinstance(v, Map):
            out.update(read_budget(v, []))
        return out


def read_budget(m: Map, errors: list) -> dict:
    """``budget: {params: 140M, macs: 16G}`` of a spec or variant: name -> (Figure, Pos)."""
    from ..units import parse_figure

    raw = m.get("budget")
    if raw is None:
        return {}
    if not isinstance(raw, Map):
        errors.append(
            Diagnostic(
                m.at("budget"),
                "`budget` must be a mapping of limits",
                "write e.g. `budget: {params: 140M, macs: 16G}` (macs per sample)",
            )
        )
        return {}
    _check_keys(raw, BUDGET_KEYS, "`budget`", errors)
    out = {}
    for key in BUDGET_KEYS:
        if key in raw:
            try:
                out[key] = (parse_figure(raw[key]), raw.at(key))
            except ValueError as exc:
                errors.append(
                    Diagnostic(
                        raw.at(key), f"budget {key}: {excerpt(str(exc), 120)}", "write e.g. 140M, 16G or 5000000"
                    )
                )
    return out


def _check_keys(m: Map, allowed, what: str, errors: list, extra_ok=()) -> None:
    for key in m:
        if key not in allowed and key not in extra_ok:
            hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(allowed)}"
            errors.append(Diagnostic(m.kpos[key], f"unknown key `{excerpt(key)}` in {what}", hint))


def _blocks(m: Map, path: str, errors: list) -> dict:
    out: dict = {}
    blocks = m.get("blocks")
    if blocks is None:
        return out
    if not isinstance(blocks, Map):
        errors.append(
            Diagnostic(
                m.at("blocks"),
                "`blocks` must be a mapping of block name to definition",
                "write `blocks: {NAME: {params: {...}, body: [...]}}`",
            )
        )
        return out
    for bname, bdef in blocks.items():
        bpos = blocks.at(bname)
        if not isinstance(bdef, Map):
            errors.append(
                Diagnostic(
                    bpos,
                    f"block `{excerpt(bname)}` must be a mapping with `params` and `body`",
                    "write `{params: {c: null}, body: [...]}`",
                )
            )
            continue
        _check_keys(bdef, ("params", "body", "defaults", "description"), f"block `{excerpt(bname)}`", errors)
        params: dict = {}
        ppos: dict = {}
        raw = bdef.get("params", Map())
        if isinstance(raw, Seq):
            for i, p in enumerate(raw):
                if _param_name(p, raw.at(i), bname, errors):
                    params[p] = REQUIRED
                    ppos[p] = raw.at(i)
        elif isinstance(raw, Map):
            for p, default in raw.items():
                if _param_name(p, raw.kpos[p], bname, errors):
                    params[p] = REQUIRED if default is None else default
                    ppos[p] = raw.at(p)
        else:
            errors.append(
                Diagnostic(
                    bdef.at("params"),
                    f"`params` of block `{excerpt(bname)}` must be a list or mapping",
                    "write `params: {c: null, s: 1}` (null = required)",
                )
            )
        body = bdef.get("body")
        if not isinstance(body, Seq):
            errors.append(
                Diagnostic(
                    bdef.at("body") if "body" in bdef else bpos,
                    f"block `{excerpt(bname)}` needs a `body:` list of layers",
                    "write `body: [conv3-$c, ...]`",
                )
            )
            continue
        defaults = bdef.get("defaults")
        out[str(bname)] = BlockDef(
            str(bname), params, body, bpos, ppos, defaults if isinstance(defaults, Map) else None
        )
    return out


def _param_name(p, pos, bname, errors) -> bool:
    if isinstance(p, str) and p.isidentifier():
        return True
    errors.append(
        Diagnostic(
            pos,
            f"block `{excerpt(bname)}` parameter {excerpt(p)} is not a name",
            "parameters are names such as `c` or `c_out` (letters, digits, `_`)",
        )
    )
    return False


def _imports(m: Map, path: str, errors: list, stack: tuple, roots: tuple, memo: dict) -> dict:
    blocks: dict = {}
    imports = m.get("imports")
    if imports is None:
        return blocks
    if not isinstance(imports, Seq):
        errors.append(
            Diagnostic(m.at("imports"), "`imports` must be a list of file paths", "write `imports: [common.yaml]`")
        )
        return blocks
    base = os.path.dirname(os.path.abspath(path))
    for i, rel in enumerate(imports):
        pos = imports.at(i)
        if not isinstance(rel, str):
            errors.append(Diagnostic(pos, f"an import must be a file path, got {excerpt(rel)}", "quote the path"))
            continue
        shown = excerpt(rel)
        target = os.path.join(base, rel)
        try:
            # where the path leads, links resolved as far as they exist: checked before anything
            # else, so that nothing (not even whether a file exists) is learnt outside the roots
            lexical = os.path.realpath(target)
        except (OSError, ValueError):  # ValueError: a NUL byte in the path
            errors.append(
                Diagnostic(
                    pos, f"cannot import `{shown}`: not a valid path", "imports are relative to this spec's folder"
                )
            )
            continue
        if not _inside(lexical, roots):
            errors.append(
                Diagnostic(
                    pos,
                    f"cannot import `{shown}`: it lies outside {roots[0]}, the folder of the spec being "
                    "read (imports may not name an absolute path, climb out with `..`, or follow a "
                    "symbolic link out of the folder)",
                    f"copy the file into the spec's folder; or allow its folder with --import-root DIR "
                    f"or {IMPORT_ROOT_ENV}",
                )
            )
            continue
        try:
            real = os.path.realpath(target, strict=True)
        except (OSError, ValueError) as exc:
            reason = (
                "a symlink loop"
                if "loop" in str(exc).lower()
                else "not a valid path"
                if isinstance(exc, ValueError)
                else "no such file"
            )
            errors.append(
                Diagnostic(pos, f"cannot import `{shown}`: {reason}", "imports are relative to this spec's folder")
            )
            continue
        if not _inside(real, roots):  # (a link changed between the two looks)
            errors.append(
                Diagnostic(
                    pos,
                    f"cannot import `{shown}`: it lies outside {roots[0]}",
                    f"allow its folder with --import-root DIR or {IMPORT_ROOT_ENV}",
                )
            )
            continue
        if os.path.isdir(real):
            errors.append(
                Diagnostic(
                    pos,
                    f"cannot import `{shown}`: it is a folder, not a spec file",
                    "name a .yaml file (imports are relative to this spec's folder)",
                )
            )
            continue
        if real in stack:
            chain = " -> ".join(os.path.basename(s) for s in (*stack, real))
            errors.append(Diagnostic(pos, f"imports form a cycle: {chain}", "remove one of the imports"))
            continue
        if len(stack) > MAX_IMPORT_DEPTH:
            errors.append(Diagnostic(pos, f"imports nest deeper than {MAX_IMPORT_DEPTH} files", "flatten them"))
            continue
        if real in memo:  # imported before in this read (a file listed twice, a diamond of imports)
            spec = memo[real]
            if spec is None:
                continue  # its errors were reported the first time
        else:
            memo[real] = None
            try:
                spec = memo[real] = read_spec(target, stack + (real,), roots, memo)
            except SpecError as exc:
                errors.extend(exc.diagnostics)
                continue
        for name, b in spec.blocks.items():
            if name in blocks and blocks[name][0] is not b:  # (the same file reached twice is fine)
                first = blocks[name][1]
                errors.append(
                    Diagnostic(
                        pos,
                        f"`{shown}` defines the block `{excerpt(name)}`, and so does the "
                        f"import at line {first.line}, column {first.col}: one would be silently "
                        "ignored",
                        "rename one of the blocks (or import only one of the files)",
                    )
                )
                continue
            blocks.setdefault(name, (b, pos))
    return blocks


#: spec files already read, while :func:`reading_once` is active (``flopcount check``: many
#: baseline entries share a file with variants): (realpath, mtime_ns, size) -> Spec
_ONCE: list = []


class reading_once:
    """``with reading_once():`` each spec file is read and checked once (a Spec is not changed
    by expanding it); a file changed on disk meanwhile is read again. (M1, issue 17)"""

    def __enter__(self):
        _ONCE.append({})

    def __exit__(self, *exc):
        _ONCE.pop()


def read_spec(
    path: str, _stack: tuple = (), _roots: tuple = (), _memo: dict | None = None, text: str | None = None
) -> Spec:
    """Load and check the top level of a spec file (raises SpecError with every problem found).

    Imports are read only from inside the top-level spec's folder tree and the allowed roots
    (:func:`import_roots`). A file that is not a spec (an imported ``.env``, say) is refused
    before any of its values is quoted in an error."""
    if _ONCE and text is None and not _stack and not _roots and _memo is None:
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
        except (OSError, ValueError):
            pass
        else:
            stamp = (real, st.st_mtime_ns, st.st_size)
            spec = _ONCE[-1].get(stamp)
            if spec is None:
                spec = _ONCE[-1][stamp] = read_spec(path, (real,))
            else:
                from . import expr

                expr.begin()  # as a fresh read would
                _suggested[0] = 0
            return spec
    if not _stack:
        try:
            _stack = (os.path.realpath(path),)
        except (OSError, ValueError):
            _stack = (str(path),)
    if not _roots:
        _roots = import_roots(path)
        from . import expr

        expr.begin()  # FLOPCOUNT_MAX_EXPRESSIONS counts per spec read
        _suggested[0] = 0
    data, pos = load_yaml(path, text, marker="flopcount")  # text: a spec given as YAML text (api.analyze)
    errors: list = []
    version = data["flopcount"]
    if isinstance(version, bool):
        errors.append(
            Diagnostic(
                data.at("flopcount"),
                f"`flopcount:` must be the format version, but YAML "
                f"read this value as {str(version).lower()} (YAML 1.1 reads yes/no/on/off "
                "as booleans)",
                f"write `flopcount: {FORMAT_VERSION}`",
            )
        )
    elif type(version) is not int or version != FORMAT_VERSION:
        errors.append(
            Diagnostic(
                data.at("flopcount"),
                f"spec format version {excerpt(version)} is not supported",
                f"this flopcount reads `flopcount: {FORMAT_VERSION}`",
            )
        )
    _check_keys(data, TOP_KEYS, "the spec", errors)
    for key in ("input", "layers"):
        if key not in data and not _stack[1:]:
            errors.append(
                Diagnostic(
                    pos,
                    f"the spec has no `{key}:`",
                    "add `input: [3, 224, 224]`" if key == "input" else "add `layers: [...]`",
                )
            )
    name = data.get("name", os.path.splitext(os.path.basename(path))[0])
    if not isinstance(name, str):
        errors.append(Diagnostic(data.at("name"), "`name` must be text", "quote it"))
        name = str(name)
    description = data.get("description", "")
    blocks = _blocks(data, path, errors)
    for bname, (b, ipos) in _imports(data, path, errors, _stack, _roots, {} if _memo is None else _memo).items():
        if bname in blocks:
            local = blocks[bname].pos
            errors.append(
                Diagnostic(
                    ipos,
                    f"this import defines the block `{excerpt(bname)}`, which this spec "
                    f"defines too (line {local.line}): one would be silently ignored",
                    "rename one of the two blocks",
                )
            )
            continue
        blocks[bname] = b
    variants = data.get("variants")
    if variants is not None and not isinstance(variants, Map):
        errors.append(
            Diagnostic(
                data.at("variants"),
                "`variants` must be a mapping of variant name to settings",
                "write `variants: {D: {features: [...]}}`",
            )
        )
        variants = None
    if variants:
        declared = data.get("vars") if isinstance(data.get("vars"), Map) else Map()
        for vname, v in variants.items():
            if not isinstance(v, Map):
                errors.append(
                    Diagnostic(
                        variants.at(vname), f"variant `{excerpt(vname)}` must be a mapping", "write `{var: value, ...}`"
                    )
                )
                continue
            for key in v:
                if key not in VARIANT_KEYS and key not in declared:
                    hint = did_you_mean(key, list(declared) + list(VARIANT_KEYS)) or "declare it under `vars:` first"
                    errors.append(
                        Diagnostic(
                            v.kpos[key],
                            f"variant `{excerpt(vname)}` sets `{excerpt(key)}`, which is not a declared variable",
                            hint,
                        )
                    )
    read_budget(data, errors)
    for v in (variants or {}).values():
        if isinstance(v, Map):
            read_budget(v, errors)
    default_variant = data.get("default_variant")
    if default_variant is not None and not isinstance(default_variant, str):
        errors.append(
            Diagnostic(
                data.at("default_variant"),
                f"default_variant must be a variant name, got {excerpt(default_variant)}",
                "write e.g. `default_variant: D` (quote names that look like numbers)",
            )
        )
        default_variant = None
    elif default_variant is not None and (not variants or default_variant not in variants):
        errors.append(
            Diagnostic(
                data.at("default_variant"),
                f"default_variant `{excerpt(default_variant)}` is not a variant",
                did_you_mean(default_variant, variants or []) or "name one of `variants`",
            )
        )
    for key, kind, typ in (("vars", "a mapping", Map), ("defaults", "a mapping", Map), ("layers", "a list", Seq)):
        if key in data and not isinstance(data[key], typ):
            errors.append(Diagnostic(data.at(key), f"`{key}` must be {kind}", "see the spec language in the README"))
    if errors:
        raise SpecError(errors)
    return Spec(str(path), data, name, str(description), blocks, variants, default_variant)
