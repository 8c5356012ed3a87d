"""From an :class:`~flopcount.importers.common.Imported` model to the spec a person would have
written (a plain mapping, ready for YAML), in three passes:

1. **Merges as branches** (:func:`_series_parallel`): a residual ``add``, a squeeze-excitation
   ``multiply`` or an Inception ``concat`` whose inputs are chains from one fork point
   becomes ``{op: add, paths: {main: [...], downsample: [...]}}``, as ``configs/resnet.yaml``
   writes it. A merge whose branches share layers with the rest of the graph (DenseNet's
   concatenations) stays a layer with ``from: [a, b]``: always correct, just less folded.
2. **Module names as layer names** (:func:`_emit`): dotted module paths become nested ``seq``
   groups, so ``layer1.0.conv1`` is the report's row name (a branch adds its key:
   ``layer1.0.main.conv1``). A layer that does not read the previous one gets ``from:`` with
   the full row path of what it reads.
3. **Repeated structure folded** (:func:`_fold`): groups of one module class with the same
   structure become one parametrised block (``Bottleneck``), the attribute values that differ
   between instances become its params (equal columns share a param; a column that is a whole
   multiple of another is written ``${c * 4}``), a branch only some instances have gets
   ``when:``; a ``Sequential`` of block instances becomes ``repeat`` with ``first:``; three or
   more such stages in a row become a stage table (``for: $stages``). Only groups without
   ``from:`` inside are folded (they do not depend on where they stand).

The expander reads the result back: the counts come from flopcount's ops, never from the
writer, and the written spec of a target is what ``report TARGET`` itself expands, so a
written file reports the same rows (``tests/test_import_write.py``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from .common import Imported

MERGES = ("add", "multiply", "concat", "matmul")


@dataclass
class _Leaf:
    name: str
    op: str
    attrs: dict
    inputs: tuple


@dataclass
class _Merge:
    name: str
    op: str
    attrs: dict
    fork: str
    branches: list = field(default_factory=list)  # [items] per input, in order


def _scope(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _series_parallel(imported: Imported) -> list:
    users: Counter = Counter()
    for lay in imported.layers:
        users.update(lay.inputs)
    users.update(imported.outputs)
    pending: dict = {}  # name -> item, in order (dicts keep insertion order)
    for lay in imported.layers:
        merged = None
        if lay.op in MERGES and len(lay.inputs) >= 2:
            merged = _collapse(lay, pending, users, set(imported.outputs))
        if merged is None:
            pending[lay.name] = _Leaf(lay.name, lay.op, dict(lay.attrs), tuple(lay.inputs))
        else:
            pending[lay.name] = merged
            # the merge reads its fork once now (its branches' first reads are inside it), so
            # an outer merge can take this one as a link of its own chain (SE inside MBConv)
            users[merged.fork] -= len(merged.branches) - 1
    return list(pending.values())


def _pred(item):
    if isinstance(item, _Merge):
        return item.fork
    return item.inputs[0] if len(item.inputs) == 1 else None


def _collapse(lay, pending, users, outputs):
    ancestors = []
    for i in lay.inputs:
        chain, c = [], i
        while c is not None:
            chain.append(c)
            if c == "input" or c not in pending:
                break
            c = _pred(pending[c])
        ancestors.append(chain)
    common = set(ancestors[0]).intersection(*map(set, ancestors[1:]))
    fork = next((c for c in ancestors[0] if c in common), None)
    if fork is None:
        return None
    scope = _scope(lay.name)
    branches = []
    for chain in ancestors:
        body = chain[: chain.index(fork)]
        for _k, name in enumerate(body):
            if name not in pending or name in outputs or users[name] != 1:
                return None
            if scope and not name.startswith(scope + "."):
                return None
        branches.append(body[::-1])
    seen = [n for b in branches for n in b]
    if len(seen) != len(set(seen)):
        return None
    out = _Merge(lay.name, lay.op, dict(lay.attrs), fork, [[pending.pop(n) for n in b] for b in branches])
    return out


# -- emission ------------------------------------------------------------------------------
class _Emitter:
    def __init__(self):
        self.paths: dict = {"input": "input"}  # full source name -> row path
        self.groups: dict = {}  # id(group dict) -> module path

    def items(self, items: list, prefix: str, row: str, implicit: str | None, x_in: str | None = None) -> tuple:
        """(yaml layers, the name that flows out) of ``items`` whose names lie under ``prefix``;
        ``row`` is the row path of this list, ``implicit`` what its first item reads, ``x_in``
        what the group or branch of this list reads (None at the top): a later item that reads
        it again says ``from: in``, which holds wherever the group stands (it folds)."""
        out: list = []
        keys_used: set = set()
        # every name this list's items give at its level: a merge's branch key is none of them
        # (a branch `main` before a layer `main`: `from: main` and `outputs:` would be ambiguous)
        here = {(it.name[len(prefix) + 1 :] if prefix else it.name).split(".", 1)[0] for it in items}
        k = 0
        while k < len(items):
            item = items[k]
            rel = item.name[len(prefix) + 1 :] if prefix else item.name
            if "." in rel:
                g = rel.split(".", 1)[0]
                run = []
                while k < len(items):
                    r2 = items[k].name[len(prefix) + 1 :] if prefix else items[k].name
                    if "." not in r2 or r2.split(".", 1)[0] != g:
                        break
                    run.append(items[k])
                    k += 1
                gname = g
                n = 1
                while gname in keys_used:
                    n += 1
                    gname = f"{g}_{n}"
                keys_used.add(gname)
                gpath = f"{prefix}.{g}" if prefix else g
                grow = f"{row}.{gname}" if row else gname
                layers, implicit = self.items(run, gpath, grow, implicit, implicit)
                group = {"op": "seq", "name": gname, "layers": layers}
                self.groups[id(group)] = gpath
                self.paths.setdefault(gpath, grow)
                out.append(group)
                continue
            k += 1
            keys_used.add(rel)
            out.append(self.item(item, rel, prefix, row, implicit, keys_used, x_in, here))
            implicit = item.name
        return out, implicit

    def item(self, item, rel, prefix, row, implicit, keys_used, x_in=None, here=frozenset()) -> dict:
        path = f"{row}.{rel}" if row else rel

        def source(name):  # (`in`: the input of this group or branch, where it stands)
            return "in" if x_in is not None and name == x_in else self.paths[name]

        d: dict = {"op": item.op, "name": rel}
        if isinstance(item, _Leaf):
            if len(item.inputs) == 1 and item.inputs[0] != implicit:
                d["from"] = source(item.inputs[0])
            elif len(item.inputs) > 1:
                d["from"] = [source(i) for i in item.inputs]
            d.update(item.attrs)
            self.paths[item.name] = path
            return d
        if item.fork != implicit:
            d["from"] = source(item.fork)
        d.update(item.attrs)
        paths: dict = {}
        for body in item.branches:
            key, bprefix = _branch_key(body, prefix)
            base, n = key, 1
            while key in keys_used or key in paths or key in here:
                n += 1
                key = f"{base}{n}"
            keys_used.add(key)
            brow = f"{row}.{key}" if row else key
            layers, _ = self.items(body, bprefix, brow, item.fork, item.fork)
            paths[key] = layers
        d["paths"] = paths
        self.paths[item.name] = path
        return d


def _branch_key(body, prefix) -> tuple:
    if not body:
        return "shortcut", prefix
    rels = [b.name[len(prefix) + 1 :] if prefix else b.name for b in body]
    heads = {r.split(".", 1)[0] for r in rels}
    if len(heads) == 1 and all("." in r for r in rels):
        head = heads.pop()
        return head, f"{prefix}.{head}" if prefix else head
    return "main", prefix


# -- folding -------------------------------------------------------------------------------
_SLOT = object()
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


class _NoFold(Exception):
    pass


def _atom(v) -> str:
    return json.dumps(v, sort_keys=True)


def _unify(xs: list, slots: list, path: tuple):
    """A template for the equal-structured values ``xs`` (one per instance): equal scalars stay,
    differing ones become slots (``slots`` gets (path, values)); raises _NoFold otherwise."""
    first = xs[0]
    if isinstance(first, dict):
        if not all(isinstance(x, dict) for x in xs):
            raise _NoFold
        if "paths" in first and all("paths" in x for x in xs):
            return _unify_merge(xs, slots, path)
        keys = list(dict.fromkeys(k for x in xs for k in x))
        if any(set(x) != set(keys) for x in xs):
            xs = [_with_defaults(x, keys) for x in xs]
        return (
            {k: (xs[0][k] if k == "name" else _unify([x[k] for x in xs], slots, path + (k,))) for k in keys}
            if all(x["name"] == first["name"] for x in xs if "name" in x)
            else _fail()
        )
    if isinstance(first, list):
        if not all(isinstance(x, list) and len(x) == len(first) for x in xs):
            raise _NoFold
        if first and all(not isinstance(v, (dict, list)) for v in first):  # a value such as k: [1, 7]
            return _scalar(xs, slots, path)
        return [_unify([x[i] for x in xs], slots, path + (i,)) for i in range(len(first))]
    return _scalar(xs, slots, path)


def _with_defaults(d: dict, keys: list) -> dict:
    """``d`` with the op's default for each key it leaves out (``s: 1`` of a conv), so that
    instances that differ only by a default unify; _NoFold when a key has no plain default."""
    from ..ops.base import lookup
    from ..ops.params import REQUIRED

    block = _FOLDED[-1].get(str(d.get("op", ""))) if _FOLDED else None
    op = None if block is not None else lookup(str(d.get("op", "")))
    out = {}
    for k in keys:
        if k in d:
            out[k] = d[k]
            continue
        if block is not None:  # a call of a block folded already: its params' defaults
            default = block["params"].get(k)
            if default is None:  # (required, or no such param)
                raise _NoFold
            out[k] = default
            continue
        p = op.params.get(k) if op is not None else None
        if p is None or p.default is REQUIRED or p.default is None:
            raise _NoFold
        out[k] = p.default
    return out


#: while _fold runs: the blocks it has made so far (a call of one, inside a group being folded,
#: leaves out the params at their defaults: _with_defaults fills them in)
_FOLDED: list = []


def _drop_defaults(layers, blocks) -> None:
    """Leave out what an op defaults to (a conv's ``s: 1``, ``d: 1``, ``groups: 1``)."""
    from ..ops.base import lookup

    for d in _all_layers(layers, blocks):
        op = lookup(str(d.get("op", "")))
        if op is None or d.get("op") not in ("conv", "convtranspose", "layernorm", "groupnorm", "linear", "fc"):
            continue
        for k in ("s", "d", "groups", "eps", "affine"):
            p = op.params.get(k)
            if p is not None and k in d and _atom(d[k]) == _atom(p.default):
                del d[k]


def _fail():
    raise _NoFold


def _scalar(xs, slots, path):
    if all(_atom(x) == _atom(xs[0]) for x in xs):
        return xs[0]
    slots.append((path, list(xs)))
    return _SLOT


def _unify_merge(xs, slots, path):
    head = {k: v for k, v in xs[0].items() if k != "paths"}
    for x in xs:
        if [k for k in x if k != "paths"] != list(head) or x.get("name") != xs[0].get("name"):
            raise _NoFold
    out = {k: (v if k == "name" else _unify([x[k] for x in xs], slots, path + (k,))) for k, v in head.items()}
    branch_lists = [list(x["paths"].items()) for x in xs]
    if any(len(b) != len(branch_lists[0]) for b in branch_lists):
        raise _NoFold
    paths = {}
    for i in range(len(branch_lists[0])):
        entries = [b[i] for b in branch_lists]
        full = [e for e in entries if e[1]]
        keys = {e[0] for e in full} or {entries[0][0]}
        if len(keys) != 1:
            raise _NoFold
        key = keys.pop()
        if not full:
            paths[key] = []
            continue
        if len(full) == len(entries):
            paths[key] = _unify([e[1] for e in entries], slots, path + ("paths", key))
            continue
        if any(e[0] != key and e[1] for e in entries):
            raise _NoFold
        # a branch some instances have and others do not: its layers get `when: has_KEY`
        sub = []
        body = _unify([e[1] for e in full], sub, path + ("paths", key))
        present = [bool(e[1]) for e in entries]
        flag = ("when", key)
        slots.append((flag, present))
        for p, vals in sub:
            it = iter(vals)
            slots.append((p, [next(it) if on else None for on in present]))
        paths[key] = [dict(layer, when=_FlagRef(key)) for layer in body]
    out["paths"] = paths
    return out


class _FlagRef:
    def __init__(self, key):
        self.key = key


def _params(slots: list) -> tuple:
    """Param names and expressions for the slots: (path -> expression, param name -> values)."""
    params: dict = {}  # name -> values
    expr: dict = {}
    for path, vals in slots:
        if path[0] == "when":
            name = _fresh(f"has_{path[1]}", params)
            params[name] = vals
            expr[path] = name
            continue
        word = next((p for p in reversed(path) if isinstance(p, str)), "v")
        found = None
        for name, pv in params.items():
            if _same(vals, pv):
                found = name
                break
        if found is not None:  # fill the instances where one of the two was absent (None)
            params[found] = [x if x is not None else y for x, y in zip(params[found], vals)]
            expr[path] = f"${found}"
            continue
        ratio = _ratio(vals, params)
        if ratio is not None:
            expr[path] = ratio
            continue
        name = _fresh(word, params)
        params[name] = vals
        expr[path] = f"${name}"
    return expr, params


def _fresh(word, params) -> str:
    word = re.sub(r"\W", "_", word)
    if word in ("in", "i", "input") or not word.isidentifier():
        word = f"{word}_"
    name, n = word, 1
    while name in params:
        n += 1
        name = f"{word}{n}"
    return name


def _same(a, b) -> bool:
    return all(x is None or y is None or _atom(x) == _atom(y) for x, y in zip(a, b)) and any(
        x is not None and y is not None for x, y in zip(a, b)
    )


def _ratio(vals, params):
    if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in vals):
        return None
    for name, pv in params.items():
        pairs = [(v, u) for v, u in zip(vals, pv) if v is not None and u is not None]
        if not pairs or not all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for _, u in pairs):
            continue
        if all(v % u == 0 for v, u in pairs):
            r = {v // u for v, u in pairs}
            if len(r) == 1 and (k := r.pop()) > 1:
                return f"${{{name} * {k}}}"
    return None


def _fill(template, expr, path=()):
    if template is _SLOT:
        return expr[path]
    if isinstance(template, _FlagRef):
        return expr[("when", template.key)]
    if isinstance(template, dict):
        return {k: _fill(v, expr, path + (k,)) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, expr, path + (i,)) for i, v in enumerate(template)]
    return template


def _walk_groups(layers, depth, out):
    for d in layers:
        if not isinstance(d, dict):
            continue
        if d.get("op") == "seq":
            _walk_groups(d["layers"], depth + 1, out)
            out.append((depth, d))
        for body in (d.get("paths") or {}).values():
            _walk_groups(body, depth + 1, out)


#: `from:` values that name the same tensor wherever a group stands: the model's input, and the
#: input of the group or branch the layer is in
_PLACELESS = ("input", "in")


def _has_from(layers) -> bool:
    """Whether a layer of ``layers`` (or of a group or branch in them) reads a tensor by a name
    that depends on where they stand."""
    for d in layers:
        got = d.get("from")
        if got is not None and any(v not in _PLACELESS for v in (got if isinstance(got, list) else [got])):
            return True
        if d.get("op") == "seq" and _has_from(d["layers"]):
            return True
        if any(_has_from(b) for b in (d.get("paths") or {}).values()):
            return True
    return False


def _size(layers) -> int:
    n = 0
    for d in layers:
        n += 1
        if d.get("op") == "seq":
            n += _size(d["layers"])
        for b in (d.get("paths") or {}).values():
            n += _size(b)
    return n


def _fold(layers: list, groups: dict, classes: dict) -> dict:
    """Fold same-class groups into blocks in place; returns the ``blocks:`` mapping."""
    found: list = []
    _walk_groups(layers, 0, found)
    by_class: dict = {}
    for depth, g in found:
        cls = classes.get(groups.get(id(g), ""), "")
        if cls and cls not in _CONTAINERS and not _has_from(g["layers"]) and _size(g["layers"]) >= 2:
            by_class.setdefault(cls, []).append((depth, g))
    blocks: dict = {}
    _FOLDED.append(blocks)
    try:
        _fold_classes(by_class, blocks)
    finally:
        _FOLDED.pop()
    _repeats(layers)
    return blocks


def _fold_classes(by_class: dict, blocks: dict) -> None:
    order = sorted(by_class.items(), key=lambda kv: -max(d for d, _ in kv[1]))
    from ..ops import base as ops_base

    for cls, members in order:
        gs = [g for _, g in members if g.get("op") == "seq"]
        by_sig: dict = {}
        for g in gs:
            by_sig.setdefault(_signature(g["layers"]), []).append(g)
        work = list(enumerate(sorted(by_sig.values(), key=len, reverse=True)))
        more = len(work)  # (the numbers of the blocks split off below, after the others')
        for n, same in work:  # (the list grows while it is walked: the split-off groups)
            if len(same) < 2:
                continue
            slots: list = []
            try:
                template = _unify([g["layers"] for g in same], slots, ())
            except _NoFold:
                # groups alike but for what their branches hold (Swin's last stage: no shift,
                # so no attention mask): split by the branches' structure too, and fold each
                deep: dict = {}
                for g in same:
                    deep.setdefault(_signature(g["layers"], branches=True), []).append(g)
                if len(deep) > 1:
                    for part in sorted(deep.values(), key=len, reverse=True):
                        work.append((more, part))
                        more += 1
                continue
            expr, params = _params(slots)
            name = cls if n == 0 else f"{cls}_{n + 1}"
            while name in blocks or ops_base.lookup(name) is not None or name in ("seq", "side"):
                name += "_"
            # a param some instances do not use (it sits in a branch they lack) needs a default
            defaults = {
                p: (_common if None in vals else _default)([v for v in vals if v is not None])
                for p, vals in params.items()
            }
            blocks[name] = {"params": defaults, "body": _fill(template, expr)}
            for k, g in enumerate(same):
                call = {"op": name, "name": g["name"]}
                for p, vals in params.items():
                    if vals[k] is not None and (defaults[p] is None or _atom(vals[k]) != _atom(defaults[p])):
                        call[p] = vals[k]
                g.clear()
                g.update(call)


def _signature(layers, branches: bool = False) -> str:
    """The structure of a group's layers (ops, names, nesting), for grouping the groups that may
    fold into one block; a merge counts its branches, and with ``branches`` what each holds
    (without, instances that lack a branch's layers still group: it becomes a ``when:``)."""

    def strip(v):
        if isinstance(v, dict):
            if "paths" in v:
                if branches:
                    return ["merge", v.get("op"), v.get("name"), [[k, strip(b)] for k, b in v["paths"].items()]]
                return ["merge", v.get("op"), v.get("name"), len(v["paths"])]
            return {k: (strip(x) if k == "layers" else x) for k, x in v.items() if k in ("op", "name", "layers")}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return None

    return _atom(strip(layers))


def _default(vals):
    """A block param's default: the value most instances have when that is at least half of
    them (``s: 1``, ``has_downsample: false``); else none (the param is required: ``c``)."""
    c = Counter(_atom(v) for v in vals)
    if isinstance(vals[0], bool) or max(c.values()) * 2 >= len(vals):
        return _common(vals)
    return None


def _common(vals):
    c = Counter(_atom(v) for v in vals)
    best = max(c.values())
    for v in reversed(vals):
        if c[_atom(v)] == best:
            return v
    return vals[0]


def _repeats(layers: list) -> None:
    """A seq group whose layers are calls of one block named 0..n-1 becomes one call with
    ``repeat: n`` (and ``first:`` for what the first instance sets differently)."""
    for d in layers:
        if d.get("op") == "seq":
            _repeats(d["layers"])
        for b in (d.get("paths") or {}).values():
            _repeats(b)
    for idx, d in enumerate(layers):
        if d.get("op") != "seq":
            continue
        inner = d["layers"]
        ops = {x.get("op") for x in inner}
        if len(ops) != 1 or len(inner) < 2 or [x.get("name") for x in inner] != [str(i) for i in range(len(inner))]:
            continue
        op = ops.pop()
        if op == "seq" or not _is_call(inner[0]):
            continue
        rest = [{k: v for k, v in x.items() if k not in ("op", "name")} for x in inner[1:]]
        if any(_atom(r) != _atom(rest[0]) for r in rest):
            continue
        first = {k: v for k, v in inner[0].items() if k not in ("op", "name")}
        call = {"op": op, "name": d["name"], "repeat": len(inner), **rest[0]}
        diff = {k: v for k, v in first.items() if _atom(rest[0].get(k)) != _atom(v)}
        for k in rest[0]:
            if k not in first:
                raise_back = True  # the first instance has this param at its default
                del raise_back
        missing = [k for k in rest[0] if k not in first]
        if missing:
            continue  # the first instance uses a default the rest override: not worth a form
        if diff:
            call["first"] = diff
        layers[idx] = call


def _is_call(d) -> bool:
    return "layers" not in d and "paths" not in d and d.get("op") not in MERGES


def _stage_table(layers: list, blocks: dict, vars_: dict) -> list:
    """Three or more consecutive repeated calls of one block named PREFIXk, k+1, ... become one
    ``for:`` row over a ``stages`` table."""
    out: list = []
    k = 0
    while k < len(layers):
        run = [layers[k]]
        m = _stage_name(layers[k])
        if m and layers[k].get("op") in blocks and "repeat" in layers[k]:
            j = k + 1
            while j < len(layers):
                m2 = _stage_name(layers[j])
                if not (
                    m2
                    and layers[j].get("op") == layers[k]["op"]
                    and "repeat" in layers[j]
                    and m2[0] == m[0]
                    and m2[1] == m[1] + (j - k)
                ):
                    break
                run.append(layers[j])
                j += 1
        if len(run) < 3 or "stages" in vars_:
            out.append(layers[k])
            k += 1
            continue
        out.append(_table(run, m, blocks[run[0]["op"]]["params"], vars_))
        k += len(run)
    return out


def _stage_name(d):
    m = re.fullmatch(r"([A-Za-z_]+)(\d+)", str(d.get("name", "")))
    return (m.group(1), int(m.group(2))) if m else None


def _table(run, m, defaults, vars_) -> dict:
    keys = [k for k in dict.fromkeys(k for d in run for k in d) if k not in ("op", "name", "first", "repeat")]
    fkeys = list(dict.fromkeys(k for d in run for k in (d.get("first") or {})))
    cols: list = []
    rows: list = [[] for _ in run]
    call = {"op": run[0]["op"], "for": "$stages"}
    prefix, start = m

    def column(word, values):
        if all(_atom(v) == _atom(values[0]) for v in values):
            return values[0]
        name = word if word not in cols else f"first_{word}"
        cols.append(name)
        for r, v in zip(rows, values):
            r.append(v)
        return f"${name}"

    call["name"] = f"{prefix}${{i + {start}}}" if start else f"{prefix}$i"
    for k in keys:
        call[k] = column(k, [d.get(k, defaults.get(k)) for d in run])
    call["repeat"] = column("n", [d["repeat"] for d in run])
    first = {}
    for k in fkeys:
        first[k] = column(k, [(d.get("first") or {}).get(k, d.get(k, defaults.get(k))) for d in run])
    if first:
        call["first"] = first
    vars_["stages"] = rows
    head = {"op": call.pop("op"), "for": call.pop("for"), "each": cols}
    return {**head, **call}


# -- the spec --------------------------------------------------------------------------------
def spec_of(imported: Imported, fold: bool = True, paths: dict | None = None) -> dict:
    """The spec mapping of an imported model (see the module docstring); ``paths``, when given,
    gets each imported layer's name -> the name the written spec gives it (its row path)."""
    items = _series_parallel(imported)
    em = _Emitter()
    layers, last = em.items(items, "", "", "input")
    if paths is not None:
        paths.update(em.paths)
    blocks = _fold(layers, em.groups, imported.scopes) if fold else {}
    vars_: dict = {}
    layers = _stage_table(layers, blocks, vars_)
    shape = list(imported.input_shape)
    spec: dict = {"flopcount": 1, "name": imported.model}
    src = imported.reference.get("target", imported.model)
    spec["description"] = f"{imported.model}, imported from {src} by flopcount import"
    if len(shape) == 3 and shape[1] == shape[2]:
        vars_ = {"size": shape[1], **vars_}
        spec["input"] = [shape[0], "$size", "$size"]
    else:
        spec["input"] = shape
    if vars_:
        spec["vars"] = vars_
    spec["padding"] = "torch"
    _drop_zero_padding(layers, blocks)
    _drop_defaults(layers, blocks)
    conv_defaults = _conv_defaults(layers, blocks)
    if conv_defaults:
        spec["defaults"] = {"conv": conv_defaults}
    if blocks:
        spec["blocks"] = blocks
    outs = [em.paths[o] for o in imported.outputs]
    if outs and (len(outs) > 1 or imported.outputs[0] != last):
        spec["outputs"] = outs
    spec["layers"] = layers
    return spec


def _each_layer(layers):
    for d in layers:
        yield d
        if d.get("op") == "seq":
            yield from _each_layer(d["layers"])
        for b in (d.get("paths") or {}).values():
            yield from _each_layer(b)


def _all_layers(layers, blocks):
    yield from _each_layer(layers)
    for b in blocks.values():
        yield from _each_layer(b["body"])


def _drop_zero_padding(layers, blocks) -> None:
    for d in _all_layers(layers, blocks):
        if d.get("op") == "conv" and d.get("p") == 0:
            del d["p"]


def _conv_defaults(layers, blocks) -> dict:
    convs = [d for d in _all_layers(layers, blocks) if d.get("op") == "conv"]
    if len(convs) < 3:
        return {}
    out = {}
    for key, base in (("bias", True), ("bn", False), ("act", "none")):
        vals = [d.get(key, base) for d in convs]
        if any(isinstance(v, str) and v.startswith("$") for v in vals):
            continue
        common = Counter(map(_atom, vals)).most_common(1)[0][0]
        value = json.loads(common)
        if value != base:
            out[key] = value
    for d in convs:
        for key, base in (("bias", True), ("bn", False), ("act", "none")):
            v = d.get(key, base)
            if key in out and v == out[key]:
                d.pop(key, None)
            elif key in out and key not in d:
                d[key] = base
            elif key not in out and v == base:
                d.pop(key, None)
    return out


def to_yaml(spec: dict, header: str = "") -> str:
    """The spec as YAML text: flow style for short layer mappings, block style above."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_dict(dumper, data):
        flow = all(not isinstance(v, (dict, list)) or _short(v) for v in data.values()) and len(_atom(data)) < 120
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)

    def represent_list(dumper, data):
        flow = all(not isinstance(v, (dict, list)) for v in data) or _short(data)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    Dumper.add_representer(dict, represent_dict)
    Dumper.add_representer(list, represent_list)
    text = yaml.dump(spec, Dumper=Dumper, sort_keys=False, width=110, allow_unicode=True, default_flow_style=False)
    return header + text


def _short(v) -> bool:
    return len(_atom(v)) < 60 and not (isinstance(v, dict) and any(isinstance(x, (dict, list)) for x in v.values()))


def spec_text(imported: Imported, paths: dict | None = None) -> str:
    """The written spec's text (a header of notes, then the YAML); ``paths`` as :func:`spec_of`."""
    lines = [f"# {imported.model}: written by `flopcount import {imported.reference.get('target', imported.model)}`"]
    for note in imported.notes:
        lines.append(f"# note: {note}")
    summary = imported.summary()
    if summary:
        lines.append(f"# {summary}")
    return to_yaml(spec_of(imported, paths=paths), "\n".join(lines) + "\n")
