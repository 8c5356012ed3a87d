"""Expand a spec into the graph: variables, blocks, repeats, merges; infer shapes; cost layers.

One pass: each layer item is decoded, its attributes evaluated (``$var``, ``${expr}``,
``in_c`` = channels of its input), its shape inferred and its cost computed, so an error
is found where it is written. Errors are collected, not raised one by one: after a layer
fails, the shapes downstream are unknown and their shape checks are skipped (no cascade),
but names, ops and attributes are still checked.
"""
from __future__ import annotations

import re

from ..errors import Diagnostic, SpecError, UsageError
from ..graph import Graph, Node
from ..ops.base import REGISTRY, REQUIRED as P_REQUIRED, OpError, lookup, ALIASES
from ..units import parse_figure
from . import shorthand
from .document import REQUIRED, Spec, did_you_mean
from .expr import ExprError, evaluate
from .yamlload import Map, Seq, env_limit, load_yaml

#: Layer instances a spec may expand to (layers, blocks, groups; each repeat counted, empty
#: ones too). 50,000 is 50x the largest published CNNs and keeps the worst case near a second;
#: FLOPCOUNT_MAX_NODES raises it.
MAX_NODES = env_limit("FLOPCOUNT_MAX_NODES", 50_000)
MAX_BLOCK_DEPTH = 64
MAX_INT = 2**62
RESERVED = frozenset(("op", "name", "repeat", "first", "rest", "when", "published", "paths", "layers", "train_only"))

_REF = re.compile(r"\$(?:\{([^{}]*)\}|([A-Za-z_][A-Za-z_0-9]*))")


class _Env:
    """Variables visible to an expression: lazily evaluated, cycles detected."""

    __slots__ = ("raw", "pos", "done", "busy", "parent")

    def __init__(self, raw: dict, pos: dict, parent: "_Env | None" = None):
        self.raw, self.pos, self.done, self.busy, self.parent = raw, pos, {}, [], parent

    def get(self, name: str):
        if name in self.done:
            return self.done[name]
        if name not in self.raw:
            if self.parent is not None:
                return self.parent.get(name)
            raise KeyError(name)
        if name in self.busy:
            chain = " -> ".join(self.busy[self.busy.index(name):] + [name])
            raise ExprError(f"variables refer to each other in a cycle: {chain}", "break the cycle")
        self.busy.append(name)
        try:
            value = _interp(self.raw[name], self)
        finally:
            self.busy.pop()
        self.done[name] = value
        return value

    __getitem__ = get

    def __iter__(self):
        return iter(self.names())

    def names(self):
        out = list(self.raw)
        if self.parent is not None:
            out.extend(self.parent.names())
        return out


class _Scope:
    """Mapping view for the evaluator: variables plus the input shape (in_c, in_h, in_w)."""

    __slots__ = ("env", "shape")

    def __init__(self, env: _Env, shape):
        self.env, self.shape = env, shape

    def __getitem__(self, name):
        if name in ("in_c", "in_h", "in_w", "in_features"):
            if self.shape is None:
                raise _Unknown()
            if name == "in_features":
                n = 1
                for d in self.shape:
                    n *= d
                return n
            idx = ("in_c", "in_h", "in_w").index(name)
            if idx >= len(self.shape):
                raise ExprError(f"`{name}` is undefined after flatten", "use in_c or in_features")
            return self.shape[idx]
        return self.env.get(name)

    def __iter__(self):
        return iter(self.env.names() + ["in_c", "in_h", "in_w", "in_features"])


class _Unknown(Exception):
    """An expression needs a shape that an earlier error left unknown."""


def _interp(value, scope):
    if not isinstance(value, str) or "$" not in value:
        return value
    m = _REF.fullmatch(value.strip())
    if m:
        return evaluate(m.group(1) if m.group(1) is not None else m.group(2), scope)
    return _REF.sub(lambda mm: str(evaluate(mm.group(1) if mm.group(1) is not None else mm.group(2), scope)),
                    value)


def _as_env(env):
    return env if isinstance(env, _Scope) else _Scope(env, None)


class _Ctx:
    __slots__ = ("prefix", "env", "counters", "group", "block", "train_only", "defaults", "stack")

    def __init__(self, prefix, env, group, block, train_only, defaults, stack):
        self.prefix, self.env, self.group, self.block = prefix, env, group, block
        self.train_only, self.defaults, self.stack = train_only, defaults, stack
        self.counters: dict = {}

    def child(self, prefix, env=None, group=None, block=None, train_only=None, defaults=None, stack=None):
        return _Ctx(prefix, self.env if env is None else env, self.group if group is None else group,
                    self.block if block is None else block,
                    self.train_only if train_only is None else train_only,
                    self.defaults if defaults is None else defaults, self.stack if stack is None else stack)

    def auto(self, kind: str) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return f"{kind}{n}"


# A tensor flowing through the expansion: (node index, shape) ; shape None = unknown after an error.
_INPUT = -1


class Expander:
    def __init__(self, spec: Spec, graph: Graph):
        self.spec = spec
        self.graph = graph
        self.nodes = graph.nodes
        self.names: dict = {}
        self.errors: list = []
        self.blocks = spec.blocks
        self.steps = 0  # layer instances made so far: bounds the work even when they make no nodes

    # -- diagnostics ---------------------------------------------------------------------------
    def error(self, pos, message, hint=None):
        self.errors.append(Diagnostic(pos, message, hint))

    def _value(self, value, pos, ctx_env, shape=None):
        """Evaluate ``$``-references in ``value``; returns (ok, value)."""
        if isinstance(value, str) and "$" in value:
            try:
                return True, _interp(value, _Scope(ctx_env, shape))
            except ExprError as exc:
                self.error(pos, exc.message, exc.hint)
            except _Unknown:
                pass  # an earlier error made the shape unknown; that error was reported
            return False, None
        return True, value

    # -- items ---------------------------------------------------------------------------------
    def seq(self, items, pos, x, ctx):
        if not isinstance(items, list):
            return self.item(items, pos, x, ctx)
        ipos = getattr(items, "ipos", None)
        for i, item in enumerate(items):
            x = self.item(item, ipos[i] if ipos else pos, x, ctx)
        return x

    def item(self, v, pos, x, ctx):
        if isinstance(v, str):
            ok, v2 = self._value(v, pos, ctx.env, x[1])
            if not ok:
                return (x[0], None)
            if isinstance(v2, (list, Map)):
                return self.seq(v2, getattr(v2, "pos", pos), x, ctx) if isinstance(v2, list) \
                    else self.mapping(v2, pos, x, ctx)
            if not isinstance(v2, str):
                self.error(pos, f"`{v}` gives {v2!r}, which is not a layer", "a variable used as a layer "
                           "must hold a layer string, a mapping or a list of layers")
                return (x[0], None)
            try:
                op, attrs, repeat = shorthand.parse(v2, self.blocks.__contains__)
            except OpError as exc:
                self.error(pos, exc.message, exc.hint)
                return (x[0], None)
            return self.repeated(op, attrs, None, repeat, None, None, pos, x, ctx, None, v2)
        if isinstance(v, list):
            return self.seq(v, pos, x, ctx)
        if isinstance(v, Map):
            return self.mapping(v, pos, x, ctx)
        self.error(pos, f"{v!r} is not a layer", "write a layer such as `conv3-64`, or a mapping with `op:`")
        return (x[0], None)

    def mapping(self, m: Map, pos, x, ctx):
        if "when" in m:
            keep = self.condition(m["when"], m.at("when"), ctx, x)
            if keep is None:
                return (x[0], None)
            if not keep:
                return x
        if "op" not in m:
            self.error(m.pos, "this layer has no `op:`", "add `op: conv` (or another op or block name)")
            return (x[0], None)
        ok, op = self._value(m["op"], m.at("op"), ctx.env, x[1])
        if not ok:
            return (x[0], None)
        if not isinstance(op, str):
            self.error(m.at("op"), f"`op` must be a name, got {op!r}", "write e.g. `op: conv`")
            return (x[0], None)
        repeat = 1
        if "repeat" in m:
            ok, repeat = self._value(m["repeat"], m.at("repeat"), ctx.env, x[1])
            if not ok:
                return (x[0], None)
            if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
                self.error(m.at("repeat"), f"`repeat` must be a whole number >= 0, got {repeat!r}",
                           "write e.g. `repeat: 3`")
                return (x[0], None)
            if repeat > MAX_NODES:
                self.error(m.at("repeat"), f"`repeat: {repeat}` is over the limit of {MAX_NODES:,} layers",
                           "use a smaller repeat; or raise FLOPCOUNT_MAX_NODES")
                return (x[0], None)
        name = None
        if "name" in m:
            ok, name = self._value(m["name"], m.at("name"), ctx.env, x[1])
            if not ok:
                return (x[0], None)
            name = str(name)
            if not name or "." in name or name.strip() != name:
                self.error(m.at("name"), f"layer name {name!r} must be non-empty, without dots or spaces "
                           "at its ends", "dots separate scopes; use `_` or `-` inside names")
                name = None
        overrides = {}
        for key in ("first", "rest"):
            if key in m:
                if not isinstance(m[key], Map):
                    self.error(m.at(key), f"`{key}` must be a mapping of attributes to override",
                               f"write e.g. `{key}: {{s: 1}}`")
                else:
                    overrides[key] = m[key]
        attrs = {k: m[k] for k in m if k not in RESERVED}
        return self.repeated(op, attrs, m, repeat, name, overrides, pos, x, ctx, self._published_of(m, ctx, x), None)

    def _published_of(self, m, ctx, x):
        """A layer's ``published:`` figures. A ``when:`` among them keeps them only where it holds
        (a paper's per-row figures on the paper's variant, not on a port with other widths)."""
        figures = m.get("published")
        if not isinstance(figures, Map) or "when" not in figures:
            return figures
        return figures if self.condition(figures["when"], figures.at("when"), ctx, x) else None

    def condition(self, value, pos, ctx, x):
        """Decide a ``when:``: true, false, or a condition such as ``"s != 1 or in_c != c"``.
        None when it cannot be decided: an error was reported, or an earlier error left the
        input shape unknown."""
        ok, cond = self._value(value, pos, ctx.env, x[1])
        if not ok:
            return None
        if isinstance(cond, str):
            try:
                cond = evaluate(cond, _Scope(ctx.env, x[1]))
            except ExprError as exc:
                self.error(pos, exc.message, exc.hint)
                return None
            except _Unknown:
                return None
        if not isinstance(cond, (bool, int)):
            self.error(pos, f"`when` must be true, false or a condition, got {cond!r}",
                       "write e.g. `when: \"reduce > 0\"`")
            return None
        return bool(cond)

    def repeated(self, op, attrs, m, repeat, name, overrides, pos, x, ctx, published, short):
        start = len(self.nodes)
        for r in range(repeat):
            self.steps += 1
            if self.steps > MAX_NODES:
                raise SpecError(self.errors + [Diagnostic(
                    pos, f"the spec expands to more than {MAX_NODES:,} layer instances (layers, blocks and "
                         "groups, each repeat counted; repeats of empty bodies count too)",
                    "use smaller repeats; or raise FLOPCOUNT_MAX_NODES")])
            a = dict(attrs)
            if overrides:
                a.update(overrides.get("first" if r == 0 else "rest", {}))
            rname = name if name is None or repeat == 1 else f"{name}.{r}"
            x = self.one(op, a, m, rname, pos, x, ctx, published if r == 0 else None, short)
            if r == 0 and repeat > 1:
                made = len(self.nodes) - start
                if made * repeat + start > MAX_NODES:
                    self.error(pos, f"this layer repeats to about {made * repeat:,} nodes, over the limit of "
                               f"{MAX_NODES:,}", "use a smaller repeat; or raise FLOPCOUNT_MAX_NODES")
                    return (x[0], None)
            if self.errors and len(self.errors) > 200:
                raise SpecError(self.errors + [Diagnostic(pos, "too many errors; stopped", None)])
        return x

    def one(self, op, a, m, name, pos, x, ctx, published, short):
        at = m.at if m is not None else (lambda k: pos)
        if op in ("concat", "add", "multiply", "mul"):
            return self.merge(lookup(op).name, a, m, name, pos, x, ctx, published)
        if op in ("side", "seq"):
            return self.group(op, a, m, name, pos, x, ctx, published)
        if op in self.blocks:
            return self.instantiate(self.blocks[op], a, m, name, pos, x, ctx, published)
        impl = lookup(op)
        if impl is None:
            options = list(REGISTRY) + list(ALIASES) + list(self.blocks) + ["concat", "add", "multiply", "side", "seq"]
            self.error(at("op") if m is not None else pos, f"unknown op or block `{op}`" + (f" in `{short}`" if short else ""),
                       did_you_mean(op, options) or "see `flopcount ops` for the list of ops, or define a block")
            return (x[0], None)
        if impl.arity != 1:  # pragma: no cover - merges are handled above
            return (x[0], None)
        attrs = self.attributes(impl, a, m, pos, x, ctx)
        if attrs is None or x[1] is None:
            return (x[0], None)
        return self.add_node(impl, attrs, [x], name, pos, ctx, published)

    def attributes(self, impl, a, m, pos, x, ctx):
        """Defaults, then spec `defaults:`, then the item's own values; evaluated and type-checked."""
        at = m.at if m is not None else (lambda k: pos)
        out = {}
        ok_all = True
        given = dict(ctx.defaults.get(impl.name, {})) if ctx.defaults else {}
        given.update(a)
        for key in given:
            if key not in impl.params:
                self.error(at(key) if key in a else pos, f"`{impl.name}` has no attribute `{key}`",
                           did_you_mean(key, impl.params) or
                           (f"its attributes: {', '.join(impl.params)}" if impl.params else f"`{impl.name}` takes none"))
                ok_all = False
        for key, p in impl.params.items():
            if key in given:
                value = given[key]
                if value.__class__ is str and "$" in value:  # the position is looked up only when needed
                    ok, value = self._value(value, at(key) if key in a else pos, ctx.env, x[1])
                    if not ok:
                        ok_all = False
                        continue
                value, problem = _check(p, key, value, None)
                if problem:
                    self.error(at(key) if key in a else pos, *problem)
                    ok_all = False
                    continue
                out[key] = value
            elif p.default is P_REQUIRED:
                self.error(pos, f"`{impl.name}` needs `{key}` ({p.doc})", f"add `{key}: ...`")
                ok_all = False
            else:
                out[key] = p.default
        return out if ok_all else None

    def add_node(self, impl, attrs, xs, name, pos, ctx, published):
        shapes = [t[1] for t in xs]
        if name is None:
            name = ctx.auto(impl.name)
        full = ctx.prefix + name
        if full in self.names:
            first = self.nodes[self.names[full]].pos
            self.error(pos, f"two layers are named `{full}` (the first at {first})", "rename one of them")
            return (xs[0][0], None)
        try:
            y = impl.infer(attrs, shapes)
            cost = impl.cost(attrs, shapes, y)
        except OpError as exc:
            trail = self.trail(xs[0][0], shapes[0]) if exc.spatial else ""
            self.error(pos, f"{full}: {exc.message}" + (f" (sizes so far: {trail})" if trail else ""), exc.hint)
            return (xs[0][0], None)
        if len(y) == 3 and (y[1] < 1 or y[2] < 1):  # pragma: no cover - window_out refuses first
            self.error(pos, f"{full}: the output size reaches {y[1]}x{y[2]}", "use a larger input")
            return (xs[0][0], None)
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(self.errors + [Diagnostic(pos, f"the model has more than {MAX_NODES:,} layers",
                                                      "raise FLOPCOUNT_MAX_NODES if this is intended")])
        idx = len(self.nodes)
        self.nodes.append(Node(idx, full, impl.name, attrs, tuple(t[0] for t in xs), y, cost, pos,
                               ctx.group, ctx.block, ctx.train_only))
        self.names[full] = idx
        if published is not None:
            self.publish(full, published, pos)
        return (idx, y)

    def trail(self, idx, shape):
        sizes = []
        while idx >= 0 and len(sizes) < 8:
            node = self.nodes[idx]
            if len(node.shape) == 3 and (not sizes or sizes[-1][1] != node.shape[1:]):
                sizes.append((node.name, node.shape[1:]))
            idx = node.inputs[0] if node.inputs else -1
        sizes.append(("input", tuple(self.graph.input[1:])))
        sizes.reverse()
        sizes = [s for i, s in enumerate(sizes) if i == 0 or s[1] != sizes[i - 1][1]]
        return " -> ".join(f"{h}x{w}" for _, (h, w) in sizes) if shape is not None else ""

    def publish(self, name, figures, pos):
        if not isinstance(figures, Map):
            self.error(pos, "`published` must be a mapping such as {macs: 358M, source: ...}", None)
            return
        out = {}
        for key, value in figures.items():
            if key == "when":  # decided by _published_of
                continue
            if key in ("source", "note", "url"):
                out[key] = str(value)
                continue
            try:
                out[key] = parse_figure(value)
            except ValueError as exc:
                self.error(figures.at(key), str(exc), "write e.g. `macs: 358M` or `params: 61100840`")
        self.graph.published[name] = out

    # -- structure -----------------------------------------------------------------------------
    def paths(self, m, pos, ctx):
        raw = m.get("paths") if m is not None else None
        if raw is None:
            self.error(pos, "a merge needs `paths:`, a list (or mapping) of branches",
                       "write `paths: [[conv1-64], [conv1-96, conv3-128]]`; `[]` is the identity")
            return None
        if isinstance(raw, Map):
            return [(str(k), v, raw.at(k)) for k, v in raw.items()]
        if isinstance(raw, Seq):
            return [(None, v, raw.at(i)) for i, v in enumerate(raw)]
        self.error(m.at("paths"), "`paths` must be a list of branches", "write `paths: [[...], [...]]`")
        return None

    def merge(self, op, a, m, name, pos, x, ctx, published):
        if a:
            key = next(iter(a))
            self.error(m.at(key) if m is not None else pos, f"`{op}` has no attribute `{key}`",
                       "a merge takes `paths:` (and optionally `name:`)")
        branches = self.paths(m, pos, ctx)
        if branches is None:
            return (x[0], None)
        outs = []
        for bname, body, bpos in branches:
            bname = bname or ctx.auto("b")
            sub = ctx.child(ctx.prefix + bname + ".")
            if sub.prefix[:-1] in self.names:
                self.error(bpos, f"branch name `{bname}` is also a layer name", "rename one of them")
            y = self.seq(body, bpos, x, sub) if not (isinstance(body, list) and not body) else x
            outs.append(y)
        if len(outs) < 2 and op != "add":
            self.error(pos, f"`{op}` needs at least two branches", "add a branch (`[]` is the identity)")
        if len(outs) < 1:
            return (x[0], None)
        if any(o[1] is None for o in outs):
            return (x[0], None)
        return self.add_node(lookup(op), {}, outs, name, pos, ctx, published)

    def group(self, op, a, m, name, pos, x, ctx, published):
        if m is None or not isinstance(m.get("layers"), list):
            self.error(pos, f"`{op}` needs `layers:`, a list of layers", "write `layers: [...]`")
            return (x[0], None)
        for key in a:
            self.error(m.at(key), f"`{op}` has no attribute `{key}`", "it takes `name`, `layers`, `train_only`")
        if name is None:
            name = ctx.auto("aux" if op == "side" else "group")
        train_only = ctx.train_only
        if op == "side":
            train_only = bool(m.get("train_only", True))
        full = ctx.prefix + name
        sub = ctx.child(full + ".", group=ctx.group or full, block=ctx.block or op, train_only=train_only)
        if ctx.group is None:
            self.graph.groups[full] = op
        if published is not None:
            self.publish(full, published, pos)
        y = self.seq(m["layers"], m.at("layers"), x, sub)
        return x if op == "side" else y

    def instantiate(self, block, a, m, name, pos, x, ctx, published):
        at = m.at if m is not None else (lambda k: pos)
        if block.name in ctx.stack:
            chain = " -> ".join(ctx.stack[ctx.stack.index(block.name):] + (block.name,))
            self.error(pos, f"block `{block.name}` instantiates itself: {chain}", "remove the recursion")
            return (x[0], None)
        if len(ctx.stack) >= MAX_BLOCK_DEPTH:
            self.error(pos, f"blocks nest deeper than {MAX_BLOCK_DEPTH}", "flatten the blocks")
            return (x[0], None)
        args = {}
        args_pos = {}
        ok_all = True
        for key, value in a.items():
            if key not in block.params:
                self.error(at(key), f"block `{block.name}` has no parameter `{key}`",
                           did_you_mean(key, block.params) or f"its parameters: {', '.join(block.params) or 'none'}")
                ok_all = False
                continue
            ok, v = self._value(value, at(key), ctx.env, x[1])
            if not ok:
                ok_all = False
                continue
            args[key] = v
            args_pos[key] = at(key)
        for key, default in block.params.items():
            if key not in args and key not in a:
                if default is REQUIRED:
                    self.error(pos, f"block `{block.name}` needs the parameter `{key}`",
                               f"add `{key}: ...` (declared at {block.param_pos.get(key, block.pos)})")
                    ok_all = False
                else:
                    args[key] = default  # evaluated lazily in the block's scope
        if not ok_all:
            return (x[0], None)
        if name is None:
            name = ctx.auto(block.name)
        full = ctx.prefix + name
        env = _Env(args, args_pos, self.root_env)
        defaults = ctx.defaults
        if block.defaults:
            defaults = {**(defaults or {}), **block.defaults}
        sub = ctx.child(full + ".", env=env, group=ctx.group or full, block=ctx.block or block.name,
                        defaults=defaults, stack=ctx.stack + (block.name,))
        if ctx.group is None:
            self.graph.groups[full] = block.name
        if published is not None:
            self.publish(full, published, pos)
        return self.seq(block.body, block.pos, x, sub)


def _check(p, key, value, pos):
    """Type-check one attribute value; returns (value, None) or (None, (message, hint))."""
    kind = p.kind
    if kind in ("int", "pair"):
        if kind == "pair" and isinstance(value, list) and len(value) == 2:
            checked = [_check(p.__class__("int", min=p.min), key, v, pos) for v in value]
            for _, prob in checked:
                if prob:
                    return None, prob
            return [v for v, _ in checked], None
        if kind == "pair" and value == p.default and isinstance(value, str):
            return value, None
        if key == "groups" and value == "in":
            return value, None
        return _int(key, value, p.min)
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        return None, (f"`{key}` must be true or false, got {value!r}", f"write `{key}: true` or `{key}: false`")
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value, None
        return None, _number_problem(key, value)
    if kind == "choice":
        if value is False and "none" in p.choices:
            return "none", None  # `act: no` / `act: false`
        if isinstance(value, str) and value in p.choices:
            return value, None
        if isinstance(value, bool):
            return None, (f"`{key}` must be one of {', '.join(p.choices)}, but YAML read this value as "
                          "true (YAML 1.1 reads yes/on/true as booleans)", f"write one of {', '.join(p.choices)}")
        return None, (f"`{key}: {value}` is not one of {', '.join(p.choices)}",
                      did_you_mean(value, p.choices) or f"choose one of {', '.join(p.choices)}")
    if kind == "str":
        return (str(value), None) if value is not None else (None, (f"`{key}` needs a value", None))
    return value, None  # pragma: no cover


def _number_problem(key, value):
    if isinstance(value, bool):
        return (f"`{key}` must be a number, but YAML read this value as {str(value).lower()} "
                "(YAML 1.1 reads yes/no/on/off/true/false as booleans)",
                f"write a number for `{key}`")
    if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9.]+[eE][-+]?[0-9]+", value.strip()):
        return (f"`{key}: {value}` is a string: YAML 1.1 reads exponent numbers only with a dot "
                "(1.0e3), so `1e3` stays text", f"write `{key}: {_plain(value)}`")
    return (f"`{key}` must be a number, got {value!r}", f"write a number for `{key}`")


def _plain(text):
    try:
        f = float(text)
        return str(int(f)) if f.is_integer() else str(f)
    except ValueError:  # pragma: no cover
        return text


def _int(key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and abs(value) < MAX_INT:
            return None, (f"`{key}` must be a whole number, got the float {value!r}",
                          f"write `{key}: {int(value)}` (wrap expressions in int(...) or use //)")
        if isinstance(value, float):
            return None, (f"`{key}` must be a whole number, got {value!r}",
                          "round it, e.g. `${round(...)}` or use `//` for integer division")
        return None, _number_problem(key, value)
    if value < minimum:
        what = "positive" if minimum == 1 else f">= {minimum}"
        return None, (f"`{key}` must be {what}, got {value}", f"write a {what} `{key}`")
    if value > MAX_INT:
        return None, (f"`{key}: {value}` is over the limit of 2**62", "use a realistic size")
    return value, None


_NO_INPUT_YET = ("`input` cannot use in_c, in_h, in_w or in_features: they are a layer's input, "
                 "and `input` is what the first layer receives", "write the sizes, or use declared `vars:`")


def _input_shape(value, pos, env, errors):
    ok = True
    if isinstance(value, str) and "$" in value:
        try:
            value = _interp(value, _as_env(env))
        except ExprError as exc:
            errors.append(Diagnostic(pos, exc.message, exc.hint))
            return None
        except _Unknown:
            errors.append(Diagnostic(pos, *_NO_INPUT_YET))
            return None
    if not isinstance(value, list) or len(value) not in (1, 3):
        errors.append(Diagnostic(pos, f"`input` must be [C, H, W] (or [F]), got {value!r}",
                                 "write `input: [3, 224, 224]`"))
        return None
    dims = []
    ipos = getattr(value, "ipos", None)
    for i, d in enumerate(value):
        dpos = ipos[i] if ipos else pos
        if isinstance(d, str) and "$" in d:
            try:
                d = _interp(d, _as_env(env))
            except ExprError as exc:
                errors.append(Diagnostic(dpos, exc.message, exc.hint))
                ok = False
                continue
            except _Unknown:
                errors.append(Diagnostic(dpos, *_NO_INPUT_YET))
                ok = False
                continue
        d, prob = _int("input", d, 1)
        if prob:
            errors.append(Diagnostic(dpos, *prob))
            ok = False
        dims.append(d)
    return tuple(dims) if ok else None


def parse_override(text: str):
    """Read a --set value the way YAML reads it, with the same traps refused."""
    if not text.strip():
        raise UsageError("--set KEY=VALUE needs a value after `=`")
    try:
        value, _ = load_yaml("--set", text=text)
    except SpecError as exc:
        d = exc.diagnostics[0]
        raise UsageError(f"--set value {text[:60]!r}: {d.message}" + (f"; {d.hint}" if d.hint else "")) from None
    return value


def expand(spec: Spec, variant: str | None = None, input_shape=None, batch=None, sets=None) -> Graph:
    """Build the costed graph of ``spec`` (variant, input, batch and variable overrides applied)."""
    data = spec.data
    errors: list = []
    raw_vars = dict(data.get("vars") or {})
    var_pos = {k: data["vars"].at(k) for k in raw_vars} if raw_vars else {}
    input_value, input_pos = data.get("input"), data.at("input")
    batch_value, batch_pos = data.get("batch", 1), data.at("batch")
    description = spec.description
    published = data.get("published")
    published_pos = data.at("published")
    collapse, collapse_pos = data.get("collapse", False), data.at("collapse")
    if variant is not None:
        v = spec.variants[variant]
        for key, value in v.items():
            if key == "input":
                input_value, input_pos = value, v.at(key)
            elif key == "batch":
                batch_value, batch_pos = value, v.at(key)
            elif key == "description":
                description = str(value)
            elif key == "published":
                published, published_pos = value, v.at(key)
            elif key == "budget":
                continue  # read by Spec.budget below
            elif key == "collapse":
                collapse, collapse_pos = value, v.at(key)
            else:
                raw_vars[key] = value
                var_pos[key] = v.at(key)
    for key, value in (sets or {}).items():
        if key not in raw_vars:
            hint = did_you_mean(key, raw_vars) or \
                (f"its variables: {', '.join(raw_vars)}" if raw_vars else "it declares none")
            raise UsageError(f"--set {key}: the spec declares no variable `{key}`; {hint}")
        raw_vars[key] = value
    env = _Env(raw_vars, var_pos)
    if input_shape is None or input_shape[0] is None:  # the spec's input (its channels, at least)
        spec_shape = _input_shape(input_value, input_pos, env, errors)
    if input_shape is None:
        shape = spec_shape
    elif input_shape[0] is None:  # --input HxW: channels from the spec
        if spec_shape is not None and len(spec_shape) != 3:
            raise UsageError(f"--input: {spec.name} takes a vector input {list(spec_shape)}; give all sizes")
        shape = (spec_shape[0], *input_shape[1:]) if spec_shape is not None else None
    else:
        shape = tuple(input_shape)
    if batch is None:
        b, prob = _int("batch", batch_value, 1)
        if prob:
            errors.append(Diagnostic(batch_pos, *prob))
            b = 1
        batch = b
    name = spec.name if variant is None else f"{spec.name}-{variant}"
    graph = Graph(name=name, input=shape or (0,), description=description, source=spec.path,
                  variant=variant, batch=batch, budget=spec.budget(variant), collapse=collapse is True)
    if not isinstance(collapse, bool):
        errors.append(Diagnostic(collapse_pos, f"`collapse` must be true or false, got {collapse!r}",
                                 "write `collapse: true`"))
    ex = Expander(spec, graph)
    ex.root_env = env
    ex.errors = errors
    defaults = data.get("defaults") or {}
    if isinstance(defaults, Map):
        for op_name, attrs in defaults.items():
            impl = lookup(op_name)
            if impl is None:
                errors.append(Diagnostic(defaults.kpos[op_name], f"`defaults` for unknown op `{op_name}`",
                                         did_you_mean(op_name, REGISTRY) or "use an op name"))
            elif not isinstance(attrs, Map):
                errors.append(Diagnostic(defaults.at(op_name), f"`defaults.{op_name}` must be a mapping",
                                         "write e.g. `conv: {act: relu}`"))
        defaults = {lookup(k).name: v for k, v in defaults.items() if lookup(k) is not None and isinstance(v, Map)}
    if published is not None:
        ex.publish("", published, published_pos)
    ctx = _Ctx("", env, None, None, False, defaults, ())
    layers = data.get("layers")
    if shape is not None and isinstance(layers, list):
        out = ex.seq(layers, data.at("layers"), (_INPUT, shape), ctx)
        graph.output = out[0]
    if errors:
        raise SpecError(errors)
    return graph
