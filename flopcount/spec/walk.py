"""The walk: a spec's layers, blocks, repeats, groups and merges turned into graph nodes.

One pass: each layer item is decoded, its attributes evaluated (``$var``, ``${expr}``,
``in_c`` = channels of its input) and checked by the op's own ``Param``, normalised by the
op (``Op.normalize``), its shape inferred and its cost computed, so an error is found where
it is written. Errors are collected, not raised one by one: after a layer fails, the shapes
downstream are unknown and their shape checks are skipped (no cascade), but names, ops and
attributes are still checked.

The walk knows no op by name: it dispatches on what the op declares (``arity``, through
:data:`FORMS`); the structural words ``seq`` and ``side`` and the spec's blocks are its own.

Graph forms: every layer, merge, branch, group and block instance leaves its output under its
full name (:attr:`Expander.tensors`); ``from: NAME`` (or ``from: [A, B]`` on a merge without
``paths:``) makes a layer read such an earlier tensor instead of the previous layer's output,
and ``{from: NAME}`` alone continues from it. A name is looked up in the layer's own scope
first, then outwards (``from: conv1`` inside a block instance is that instance's ``conv1``).
A name that is unknown, or defined only further down, is reported after the walk with a
did-you-mean. ``for: ROWS`` with ``each: [NAMES]`` repeats one item over a table of stage
rows (see :meth:`Expander.rows`); ``if_shapes_match: true`` on a merge keeps it only when its
branches' shapes agree (a residual that exists only where it can).
"""

from __future__ import annotations

import weakref

from ..errors import Diagnostic, SpecError
from ..graph import Node
from ..ops.base import (
    _KEPT,
    ALIASES,
    GIVEN,
    INPUT_FORMS,
    REGISTRY,
    RESERVED,
    RESULTS,
    STRUCTURE,
    Checked,
    OpError,
    attrs_key,
    checked_entry,
    given_plan,
    keep,
    lookup,
    planned_key,
)
from ..ops.base import REQUIRED as P_REQUIRED
from ..units import parse_figure
from . import scopes, shorthand
from .document import REQUIRED, did_you_mean
from .expr import ExprError, evaluate
from .expr import _compiled as compiled_expressions
from .scopes import BLOCK_IMPLICIT, IMPLICIT, Env, Scope, Unknown, interp, name_problem
from .yamlload import Map, Seq, env_limit

#: Layer instances a spec may expand to (layers, blocks, groups; each repeat counted, empty
#: ones too). 50,000 is 50x the largest published CNNs and keeps the worst case near a second;
#: FLOPCOUNT_MAX_NODES raises it.
MAX_NODES = env_limit("FLOPCOUNT_MAX_NODES", 50_000)
MAX_BLOCK_DEPTH = 64
#: how deep lists of layers may nest, counted across merges, groups and blocks (each
#: branch, group body and block body is a list); the recursion it needs stays far below
#: the limit expand() sets
MAX_NESTING = 256

_INPUT = -1  # the model input's node index
#: keys of a layer mapping the walk reads itself (never passed to the op as attributes)
LAYER_WORDS = RESERVED
#: what `from: input` names (unless a layer is named so)
INPUT_NAME = "input"
#: what `from: in` names: the input of the group, branch or block instance the layer is in
#: (a layer named `in` there is found first, as any name)
IN_NAME = "in"
#: the variable a stage table's row number is bound to (`for:`/`each:`), unless `each` names it
ROW_INDEX = "i"
#: while flopcount.spec.replay records an expansion: its log (each node's attributes before
#: `normalize`, each `if_shapes_match` decision); None otherwise
RECORD = None


class Ctx:
    __slots__ = ("block", "counters", "defaults", "env", "group", "prefix", "stack", "train_only", "x_in")

    def __init__(self, prefix, env, group, block, train_only, defaults, stack):
        self.prefix, self.env, self.group, self.block = prefix, env, group, block
        self.train_only, self.defaults, self.stack = train_only, defaults, stack
        self.counters: dict = {}
        #: the tensor `from: in` names: what the innermost group, branch or block instance
        #: around this context reads (None at the top: the model's input)
        self.x_in = None

    def child(self, prefix, env=None, group=None, block=None, train_only=None, defaults=None, stack=None):
        c = Ctx(
            prefix,
            self.env if env is None else env,
            self.group if group is None else group,
            self.block if block is None else block,
            self.train_only if train_only is None else train_only,
            self.defaults if defaults is None else defaults,
            self.stack if stack is None else stack,
        )
        c.x_in = self.x_in
        return c

    def auto(self, kind: str) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return f"{kind}{n}"


# A tensor flowing through the expansion: (node index, shape); shape None = unknown after an error.


class Expander:
    """The walk over one spec (see the module docstring); ``expand()`` runs it."""

    # (slots: every attribute read is a slot's, however many there are; an instance dict's
    # quick reads stop at 30 names)
    __slots__ = (
        "at",
        "blocks",
        "branch_log",
        "branches",
        "depth",
        "dkeys",
        "errors",
        "given_ids",
        "graph",
        "instances",
        "layer_maps",
        "merged",
        "met_keys",
        "names",
        "nodes",
        "published_n",
        "reads",
        "refs",
        "repeats",
        "root_env",
        "scope",
        "seen",
        "shadowed",
        "shared_records",
        "short",
        "spec",
        "steps",
        "tensor_log",
        "tensor_pos",
        "tensors",
        "torch_padding",
    )

    def __init__(self, spec, graph, root_env: Env, errors: list):
        self.spec = spec
        self.graph = graph
        self.nodes = graph.nodes
        self.names: dict = {}
        self.errors = errors
        self.blocks = spec.blocks
        self.root_env = root_env
        self.steps = 0  # layer instances made so far: bounds the work even when they make no nodes
        self.depth = 0  # lists of layers open now (MAX_NESTING)
        self.at = None  # the last position reached (for a last-resort error)
        #: full name -> (node index, shape): every layer's, merge's, branch's, group's and block
        #: instance's output, for `from:` and `outputs:`
        self.tensors: dict = {}
        self.tensor_pos: dict = {}  # full name -> where it was written
        self.branches: set = set()  # full names of merge branches (a second `main` becomes `main2`)
        #: unresolved names: (pos, name, scope prefix, "from" or "outputs"), reported by finish()
        self.refs: list = []
        self.seen: dict = {}  # (pos, message) -> index in errors: one report per block-body typo
        self.repeats: dict = {}  # index in errors -> times the same error was found again
        self.torch_padding = False  # `padding: torch`: conv padding defaults to 0, not auto
        #: layer string -> (shorthand.parse's (op, attrs, repeat), RESULTS generation): parsed
        #: once per spec (what it gives depends on the text, the ops and the spec's blocks)
        self.short: dict = _of_spec(_SHORT, spec)
        #: block instances walked (see :meth:`instance`): key -> times walked, or what the
        #: walk made (an :class:`_Made`), or False (not one to replay)
        self.instances: dict = {}
        #: the records of block instances that other expansions of the spec made (_SHARED),
        #: and the keys met once so far (_MET)
        self.shared_records: dict = _of_spec(_SHARED, spec)
        self.met_keys: dict = _of_spec(_MET, spec)
        #: while an instance is walked to be kept: the full names `from:` resolved in it
        self.reads: list | None = None
        self.branch_log: list = []  # full names of merge branches, in order (self.branches)
        self.tensor_log: list = []  # the keys of self.tensors, in order
        #: id(layer mapping) -> (it, the layer words it has, its attributes, its `op`, its
        #: `name`): read once per spec (:func:`_layer_map`), shared by the spec's expansions
        self.layer_maps: dict = _of_spec(_LAYER_MAPS, spec)
        self.merged: dict = {}  # (id(defaults), block name) -> (them, the block, with its defaults)
        self.dkeys: dict = {}  # id(defaults) -> (them, defaults_key)
        #: (id(given attributes), id(their op's `defaults:`)) -> (them, the defaults, op,
        #: RESULTS generation, Checked, None): attributes without `$` checked once per spec by
        #: identity (its expansions share the table: what the two dicts and the spec's
        #: `padding:` give, whatever the variant); (..., None, the merged attributes) for
        #: attributes with `$`, merged once (their values are evaluated each time)
        self.given_ids: dict = _of_spec(_GIVEN_IDS, spec)
        self.published_n = 0  # `published:` figures kept so far
        #: full name -> position of a layer whose name an earlier branch, group, block instance
        #: or repeat holds already: a `from:` or `outputs:` that names it is refused (ambiguous)
        self.shadowed: dict = {}
        #: the Scope expressions were last evaluated in (one per environment and input shape
        #: met in a row, not one per value: a Scope is never changed)
        self.scope = Scope(root_env, None)

    def check_blocks(self) -> None:
        """Block definitions: a name that is free (not an op, alias or structural word) and
        prints safely; parameters that are not reserved words or the implicit input names
        (a parameter `in_c` would never be read: `in_c` is always the layer's input)."""
        for bname, block in self.blocks.items():
            problem = name_problem(bname, "block name")
            if problem:
                self.error(block.pos, *problem)
            elif lookup(bname) is not None or bname in STRUCTURE:
                what = "the structural word" if bname in STRUCTURE else "the built-in op"
                self.error(
                    block.pos,
                    f"block `{bname}` has the name of {what} `{bname}`, which it would hide",
                    "rename the block (e.g. `my_" + bname + "`)",
                )
            for pname in block.params:
                if pname in IMPLICIT or pname in BLOCK_IMPLICIT or pname in LAYER_WORDS:
                    why = (
                        "the layer's input shape, which every expression reads"
                        if pname in IMPLICIT
                        else "the block's input shape, which its body's expressions read"
                        if pname in BLOCK_IMPLICIT
                        else "a word a layer mapping uses for itself"
                    )
                    self.error(
                        block.param_pos.get(pname, block.pos),
                        f"block `{bname}` may not have a parameter named `{pname}`: it is {why}",
                        "rename the parameter",
                    )

    # -- diagnostics ---------------------------------------------------------------------------
    def error(self, pos, message, hint=None):
        """Record an error; the same error at the same place (a typo in a block's body, met once
        per instance) is recorded once and counted (see :meth:`finish`)."""
        key = (pos, message)
        first = self.seen.get(key)
        if first is not None:
            self.repeats[first] = self.repeats.get(first, 1) + 1
            return
        self.seen[key] = len(self.errors)
        self.errors.append(Diagnostic(pos, message, hint))

    def finish(self) -> None:
        """After the walk: the `from:` names that were not found (unknown, or defined only
        further down), and the count of each error met more than once."""
        for pos, ref, prefix, key in self.refs:
            later = self.find(ref, prefix)
            if later is not None:
                where = self.tensor_pos.get(later)
                self.error(
                    pos,
                    f"`{key}: {ref}` names `{later}`, which is defined further down"
                    + (f" (line {where.line})" if where is not None else ""),
                    "`from:` reads a layer above it; move the layer, or name an earlier one",
                )
                continue
            options = _visible(self.tensors, prefix)
            self.error(
                pos,
                f"`{key}: {ref}`: no layer, branch or block is named `{ref}`" + (" here" if prefix else ""),
                did_you_mean(ref, options)
                or ("name a layer above this one (`name:` on it), or `input`" if key == "from" else "name a layer"),
            )
        for i, n in sorted(self.repeats.items()):
            d = self.errors[i]
            self.errors[i] = Diagnostic(
                d.pos, f"{d.message} (found {n} times: once per instance of the block or repeat)", d.hint
            )
        self.repeats.clear()

    # -- named tensors -------------------------------------------------------------------------
    def keep(self, full, t, pos) -> None:
        """Leave the tensor ``t`` under the full name ``full`` (the first keeps it)."""
        if full not in self.tensors:
            self.tensors[full] = t
            self.tensor_pos[full] = pos
            self.tensor_log.append(full)

    def find(self, ref, prefix):
        """The full name ``ref`` means in the scope ``prefix`` (own scope first, then outwards)."""
        while True:
            if prefix + ref in self.tensors:
                return prefix + ref
            if not prefix:
                return None
            cut = prefix[:-1].rfind(".")
            prefix = prefix[: cut + 1]

    def ambiguous(self, full, pos, key, ref) -> bool:
        """Whether ``full``, what ``key: ref`` found, also names a later layer (reported)."""
        later = self.shadowed.get(full)
        if later is None:
            return False
        what = "a merge branch" if full in self.branches else "a group, a block instance or a repeated layer"
        self.error(
            pos,
            f"`{key}: {ref}` is ambiguous: `{full}` is {what} (at {self.tensor_pos[full]}) and a layer (at {later})",
            "rename one of them",
        )
        return True

    def tensor(self, value, pos, ctx, x):
        """The tensor a `from:` value names: (node index, shape); None when it was reported."""
        ok, ref = self._value(value, pos, ctx.env, x[1])
        if not ok:
            return None
        if not isinstance(ref, str) or not ref:
            self.error(pos, f"`from` must name an earlier layer, got {ref!r}", "write e.g. `from: stage2`")
            return None
        full = self.find(ref, ctx.prefix)
        if self.reads is not None and (full is not None or ref != IN_NAME):  # (`in`: the instance's own)
            self.reads.append(full or "")
        if full is not None:
            if self.shadowed and self.ambiguous(full, pos, "from", ref):
                return None
            t = self.tensors[full]
            if t[0] >= 0 and self.nodes[t[0]].train_only and not ctx.train_only:
                self.error(
                    pos,
                    f"`from: {ref}` reads `{full}`, which is training-only (inside a side output)",
                    "read a layer of the main path; a side output's layers exist only in training",
                )
                return None
            return t
        if ref == INPUT_NAME:
            return (_INPUT, tuple(self.graph.input))
        if ref == IN_NAME:
            return ctx.x_in if ctx.x_in is not None else (_INPUT, tuple(self.graph.input))
        self.refs.append((pos, ref, ctx.prefix, "from"))
        return None

    def _value(self, value, pos, ctx_env, shape=None):
        """Evaluate ``$``-references in ``value``; returns (ok, value)."""
        if isinstance(value, str) and "$" in value:
            scope = self.scope
            if scope.env is not ctx_env or scope.shape is not shape:
                scope = self.scope = Scope(ctx_env, shape)
            try:
                return True, interp(value, scope)
            except ExprError as exc:
                self.error(pos, exc.message + ctx_env.set_origins(value), exc.hint)
            except Unknown:
                pass  # an earlier error made the shape unknown; that error was reported
            return False, None
        return True, value

    # -- items ---------------------------------------------------------------------------------
    def seq(self, items, pos, x, ctx):
        if not isinstance(items, list):
            return self.item(items, pos, x, ctx)
        self.at = pos
        if self.depth >= MAX_NESTING:
            self.error(
                pos,
                f"layers nest more than {MAX_NESTING} lists deep (branches, groups and block bodies counted together)",
                "flatten the spec: define blocks side by side",
            )
            return (x[0], None)
        self.depth += 1
        ipos = getattr(items, "ipos", None)
        for i, item in enumerate(items):
            x = self.item(item, ipos[i] if ipos else pos, x, ctx)
        self.depth -= 1
        return x

    def item(self, v, pos, x, ctx):
        if v.__class__ is Map:  # (the usual item: a layer mapping, as isinstance(v, Map) below)
            return self.mapping(v, pos, x, ctx)
        if isinstance(v, str):
            ok, v2 = self._value(v, pos, ctx.env, x[1])
            if not ok:
                return (x[0], None)
            if isinstance(v2, (list, Map)):
                return (
                    self.seq(v2, getattr(v2, "pos", pos), x, ctx)
                    if isinstance(v2, list)
                    else self.mapping(v2, pos, x, ctx)
                )
            if not isinstance(v2, str):
                self.error(
                    pos,
                    f"`{v}` gives {v2!r}, which is not a layer",
                    "a variable used as a layer must hold a layer string, a mapping or a list of layers",
                )
                return (x[0], None)
            got = self.short.get(v2)
            if got is not None and got[1] == _KEPT[1]:
                op, attrs, repeat = got[0]
            else:
                try:
                    parsed = shorthand.parse(v2, self.blocks.__contains__)
                except OpError as exc:
                    self.error(pos, exc.message + ctx.env.set_origins(v), exc.hint)
                    return (x[0], None)
                if len(self.short) >= SHARED_LIMIT:
                    self.short.clear()
                # (its attrs are never changed: repeated() copies before updating)
                self.short[v2] = (parsed, _KEPT[1])
                op, attrs, repeat = parsed
            if repeat != 1:
                return self.repeated(op, attrs, None, repeat, None, None, pos, x, ctx, None, v2)
            self.steps += 1  # (repeated() for one instance, without its loop)
            if self.steps > MAX_NODES:
                self.too_many_steps(pos)
            x = self.one(op, attrs, None, None, pos, x, ctx, None, v2)
            if self.errors and len(self.errors) > 200:
                raise SpecError(self.errors + [Diagnostic(pos, "too many errors; stopped", None)])
            return x
        if isinstance(v, list):
            return self.seq(v, pos, x, ctx)
        if isinstance(v, Map):
            return self.mapping(v, pos, x, ctx)
        self.error(pos, f"{v!r} is not a layer", "write a layer such as `conv3-64`, or a mapping with `op:`")
        return (x[0], None)

    def mapping(self, m: Map, pos, x, ctx, row=None):
        got = self.layer_maps.get(id(m))
        if got is None or got[0] is not m:
            got = _layer_map(self.layer_maps, m)
        _, has, attrs, op, name, plain = got
        if row is None and has & _ROWS:
            return self.rows(m, pos, x, ctx)
        if has & _WHEN:
            keep = self.condition(m["when"], m.at("when"), ctx, x)
            if keep is None:
                return (x[0], None)
            if not keep:
                return x
        if plain:  # (the usual layer: `op`, `name`, `when` only, plain texts, a good name)
            sources, repeat, overrides, published = None, 1, None, None
        else:
            sources = None
            if has & _FROM:
                raw = m["from"]
                if isinstance(raw, list):
                    ipos = getattr(raw, "ipos", None)
                    sources = [self.tensor(v, ipos[i] if ipos else m.at("from"), ctx, x) for i, v in enumerate(raw)]
                    if any(t is None for t in sources):
                        return (x[0], None)
                else:
                    t = self.tensor(raw, m.at("from"), ctx, x)
                    if t is None:
                        return (x[0], None)
                    x = t
                if not has & _OP:
                    if sources is not None:
                        self.error(
                            m.at("from"),
                            "a list in `from:` is the inputs of a merge, and this item has no `op:`",
                            "write e.g. `{op: concat, from: [a, b]}`; `{from: a}` alone continues from `a`",
                        )
                        return (x[0], None)
                    for key in m:
                        if key not in ("from", "when"):
                            self.error(
                                m.kpos[key],
                                f"`{key}` on an item with `from:` and no `op:`: such an item only selects a tensor",
                                "add `op:` to make it a layer, or move the key to a layer",
                            )
                    return x
            if not has & _OP:
                self.error(m.pos, "this layer has no `op:`", "add `op: conv` (or another op or block name)")
                return (x[0], None)
            if op.__class__ is not str or "$" in op:  # (plain text, the common case: as _value gives it)
                ok, op = self._value(op, m.at("op"), ctx.env, x[1])
                if not ok:
                    return (x[0], None)
                if not isinstance(op, str):
                    self.error(m.at("op"), f"`op` must be a name, got {op!r}", "write e.g. `op: conv`")
                    return (x[0], None)
            if has & _SHAPES_MATCH:
                impl = lookup(op)
                if impl is None or impl.arity != "n":
                    self.error(
                        m.kpos["if_shapes_match"],
                        f"`if_shapes_match` is for a merge (add, concat, ...); `{op}` is not one",
                        "put it on the `add` of a residual: `{op: add, if_shapes_match: true, paths: [[...], []]}`",
                    )
                    return (x[0], None)
            repeat = 1
            if has & _REPEAT:
                ok, repeat = self._value(m["repeat"], m.at("repeat"), ctx.env, x[1])
                if not ok:
                    return (x[0], None)
                if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
                    self.error(
                        m.at("repeat"),
                        f"`repeat` must be a whole number >= 0, got {repeat!r}",
                        "write e.g. `repeat: 3`",
                    )
                    return (x[0], None)
                if repeat > MAX_NODES:
                    self.error(
                        m.at("repeat"),
                        f"`repeat: {repeat}` is over the limit of {MAX_NODES:,} layers",
                        "use a smaller repeat; or raise FLOPCOUNT_MAX_NODES",
                    )
                    return (x[0], None)
            if has & _NAME:
                if name.__class__ is not str or "$" in name:
                    ok, name = self._value(name, m.at("name"), ctx.env, x[1])
                    if not ok:
                        return (x[0], None)
                    name = str(name)
                if name not in _GOOD_NAMES:
                    problem = name_problem(name, "layer name")
                    if problem:
                        self.error(m.at("name"), *problem)
                        name = None
                    else:
                        _good_name(name)
                if name is not None and row is not None and not (isinstance(m["name"], str) and "$" in m["name"]):
                    name = f"{name}.{row}"  # a fixed name in a stage table: one per row
            overrides = None
            if has & _OVERRIDES:
                overrides = {}
                for key in ("first", "rest"):
                    if key in m:
                        if not isinstance(m[key], Map):
                            self.error(
                                m.at(key),
                                f"`{key}` must be a mapping of attributes to override",
                                f"write e.g. `{key}: {{s: 1}}`",
                            )
                        else:
                            overrides[key] = m[key]
            published = self._published_of(m, ctx, x) if has & _PUBLISHED else None
        if sources is not None:
            return self.gather(op, attrs, m, repeat, name, sources, pos, x, ctx, published)
        if repeat == 1 and not overrides:  # (repeated() for one instance, without its loop)
            self.steps += 1
            if self.steps > MAX_NODES:
                self.too_many_steps(pos)
            y = self.one(op, attrs, m, name, pos, x, ctx, published, None)
            if self.errors and len(self.errors) > 200:
                raise SpecError(self.errors + [Diagnostic(pos, "too many errors; stopped", None)])
        else:
            y = self.repeated(op, attrs, m, repeat, name, overrides, pos, x, ctx, published, None)
        if name is not None:  # a repeated layer's name: its last repeat (known even after an error)
            full = ctx.prefix + name
            if full not in self.tensors:  # (self.keep, its position looked up only when needed)
                self.tensors[full] = y
                self.tensor_pos[full] = m.at("name")
                self.tensor_log.append(full)
        return y

    def gather(self, op, attrs, m, repeat, name, sources, pos, x, ctx, published):
        """A merge whose inputs are named tensors: ``{op: concat, from: [a, b]}``."""
        impl = lookup(op) if op not in self.blocks and op not in STRUCTURE else None
        if impl is None or impl.arity != "n":
            self.error(
                m.at("from"),
                f"`from:` lists several tensors, which only a merge (concat, add, ...) reads; `{op}` reads one",
                "name one tensor (`from: a`), or use a merge",
            )
            return (x[0], None)
        if "paths" in m or repeat != 1:
            self.error(
                m.at("paths" if "paths" in m else "repeat"),
                "a merge with a list in `from:` reads those tensors: it takes no `paths:` and no `repeat:`",
                "put the branches' layers on the named layers, or name one tensor in `from:` and keep `paths:`",
            )
            return (x[0], None)
        self.steps += 1
        if len(sources) < impl.min_inputs:
            self.error(m.at("from"), f"`{impl.name}` needs at least {_count(impl.min_inputs)} inputs", None)
            return (x[0], None)
        a = self.attributes(impl, attrs, m, pos, sources[0], ctx)
        if a is None or any(t[1] is None for t in sources):
            return (x[0], None)
        return self.add_node(impl, a, sources, name, pos, ctx, published)

    def rows(self, m: Map, pos, x, ctx):
        """``for: ROWS`` with ``each: [NAMES]``: the item once per row of a stage table, each
        row's values bound to NAMES (and its number, from 0, to ``i``) for the item's own
        attributes, ``name``, ``when`` and ``repeat``."""
        if "for" not in m or "each" not in m:
            have, need = ("for", "each") if "for" in m else ("each", "for")
            self.error(
                m.kpos[have],
                f"`{have}:` needs `{need}:` beside it",
                "write e.g. `for: [[64, 3], [128, 4]]` with `each: [c, n]`",
            )
            return (x[0], None)
        ok, table = self._value(m["for"], m.at("for"), ctx.env, x[1])
        if not ok:
            return (x[0], None)
        if not isinstance(table, list):
            self.error(m.at("for"), f"`for` must be a list of rows, got {table!r}", "write `for: [[64, 3], [128, 4]]`")
            return (x[0], None)
        each = m["each"]
        names = [each] if isinstance(each, str) else list(each) if isinstance(each, list) else None
        if not names or not all(isinstance(n, str) and n.isidentifier() for n in names) or len(set(names)) < len(names):
            self.error(m.at("each"), f"`each` must name the row's values, got {each!r}", "write e.g. `each: [c, n]`")
            return (x[0], None)
        for n in names:
            if n in IMPLICIT or n in BLOCK_IMPLICIT:
                self.error(m.at("each"), f"`each` may not bind `{n}`: it is an input shape", "rename it")
                return (x[0], None)
        ipos = getattr(table, "ipos", None)
        for r, values in enumerate(table):
            rpos = ipos[r] if ipos else m.at("for")
            if isinstance(each, str):  # `each: c`: each row is the value itself
                values = [values]
            elif not isinstance(values, list) or len(values) != len(names):
                self.error(
                    rpos,
                    f"row {r} of `for` must hold {len(names)} values ({', '.join(names)}), got {values!r}",
                    f"write each row as [{', '.join(names)}]",
                )
                return (x[0], None)
            raw = dict(zip(names, values))
            raw.setdefault(ROW_INDEX, r)
            sub = ctx.child(ctx.prefix, env=Env(raw, {k: rpos for k in raw}, ctx.env))
            sub.counters = ctx.counters  # automatic names go on counting across rows
            x = self.mapping(m, pos, x, sub, row=r)
        return x

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
        if value.__class__ is str and "$" not in value:  # (what _value gives it)
            cond = value
        else:
            ok, cond = self._value(value, pos, ctx.env, x[1])
            if not ok:
                return None
        if isinstance(cond, str):
            env, shape, scope = ctx.env, x[1], self.scope
            if scope.env is not env or scope.shape is not shape:
                scope = self.scope = Scope(env, shape)
            try:
                cond = evaluate(cond, scope)
            except ExprError as exc:
                self.error(pos, exc.message, exc.hint)
                return None
            except Unknown:
                return None
        if not isinstance(cond, (bool, int)):
            self.error(
                pos, f"`when` must be true, false or a condition, got {cond!r}", 'write e.g. `when: "reduce > 0"`'
            )
            return None
        return bool(cond)

    def repeated(self, op, attrs, m, repeat, name, overrides, pos, x, ctx, published, short):
        start = len(self.nodes)
        for r in range(repeat):
            self.steps += 1
            if self.steps > MAX_NODES:
                self.too_many_steps(pos)
            # the walk never changes the attrs it is given: a copy only where overrides apply
            a = {**attrs, **overrides.get("first" if r == 0 else "rest", {})} if overrides else attrs
            rname = name if name is None or repeat == 1 else f"{name}.{r}"
            x = self.one(op, a, m, rname, pos, x, ctx, published if r == 0 else None, short)
            if r == 0 and repeat > 1:
                made = len(self.nodes) - start
                if made * repeat + start > MAX_NODES:
                    self.error(
                        pos,
                        f"this layer repeats to about {made * repeat:,} nodes, over the limit of {MAX_NODES:,}",
                        "use a smaller repeat; or raise FLOPCOUNT_MAX_NODES",
                    )
                    return (x[0], None)
            if self.errors and len(self.errors) > 200:
                raise SpecError(self.errors + [Diagnostic(pos, "too many errors; stopped", None)])
        return x

    def defaults_key(self, defaults):
        """``defaults:`` (op -> attributes) as a key: each op's attribute mapping by identity (the
        spec's own, the same in every walk of it); the walk's dicts kept alive in self.merged."""
        if not defaults:
            return None
        got = self.dkeys.get(id(defaults))
        if got is not None and got[0] is defaults:
            return got[1]
        key = tuple((op, id(v)) for op, v in defaults.items())
        self.dkeys[id(defaults)] = (defaults, key)
        return key

    def too_many_steps(self, pos):
        raise SpecError(
            self.errors
            + [
                Diagnostic(
                    pos,
                    f"the spec expands to more than {MAX_NODES:,} layer instances (layers, blocks and "
                    "groups, each repeat counted; repeats of empty bodies count too)",
                    "use smaller repeats; or raise FLOPCOUNT_MAX_NODES",
                )
            ]
        )

    def one(self, op, a, m, name, pos, x, ctx, published, short):
        if op in STRUCTURE:
            return self.group(op, a, m, name, pos, x, ctx, published)
        if op in self.blocks:
            return self.instantiate(self.blocks[op], a, m, name, pos, x, ctx, published)
        impl = REGISTRY.get(op) or lookup(op)
        if impl is None:
            options = list(REGISTRY) + list(ALIASES) + list(self.blocks) + list(STRUCTURE)
            self.error(
                m.at("op") if m is not None else pos,
                f"unknown op or block `{op}`" + (f" in `{short}`" if short else ""),
                did_you_mean(op, options) or "see `flopcount ops` for the list of ops, or define a block",
            )
            return (x[0], None)
        if impl.arity == 1:  # (self.layer, without its call)
            attrs = self.attributes(impl, a, m, pos, x, ctx)
            if attrs is None or x[1] is None:
                return (x[0], None)
            return self.add_node(impl, attrs, (x,), name, pos, ctx, published)
        return FORMS[impl.arity](self, impl, a, m, name, pos, x, ctx, published)

    def layer(self, impl, a, m, name, pos, x, ctx, published):
        """An op of arity 1: reads the previous layer's output."""
        attrs = self.attributes(impl, a, m, pos, x, ctx)
        if attrs is None or x[1] is None:
            return (x[0], None)
        return self.add_node(impl, attrs, (x,), name, pos, ctx, published)

    def attributes(self, impl, a, m, pos, x, ctx):
        """Defaults, then spec `defaults:`, then the item's own values; evaluated and type-checked."""
        d = ctx.defaults.get(impl.name) if ctx.defaults else None
        ident = (id(a), id(d))
        given_ids = self.given_ids
        got = given_ids.get(ident)
        if got is not None and got[0] is a and got[1] is d and got[2] is impl and got[3] == _KEPT[1]:
            if got[4] is not None:
                return got[4]
            given, memo, plan, checks = got[5], None, got[6], got[7]  # (values with `$`, merged before)
        else:
            given = {**d, **a} if d else a
            if self.torch_padding and "p" not in given and "p" in impl.params and impl.params["p"].default == "auto":
                given = {**given, "p": 0}  # `padding: torch`: PyTorch's default padding
            memo = attrs_key(impl, given, GIVEN)
            if memo is None:  # (kept: the next layer with these dicts skips the merge and this key)
                plan = given_plan(impl, given)
                checks = None
                if plan is not None:  # (each `$` text parsed once: what scopes.interp reads in it)
                    plan = (plan[0], [(k, v, scopes._PARSED.get(v) or scopes._parse(v)) for k, v in plan[1]], plan[2])
                    checks = _check_plan(impl, given, plan[1])
                if len(given_ids) >= SHARED_LIMIT:
                    given_ids.clear()
                given_ids[ident] = (a, d, impl, _KEPT[1], None, given, plan, checks)
        static = memo is not None  # (no `$`: the same dicts give the same Checked)
        if memo is None and plan is not None:  # (values with `$`: the key of their values, where
            values = self._evaluated(plan, ctx.env, x[1])  # they evaluate quietly)
            if values is not None:
                memo = planned_key(impl, plan, values)
                hit = RESULTS.get(memo) if memo is not None else None
                if hit is not None:
                    return hit
                if checks is not None:  # (the checks below, with the values evaluated already)
                    out = {}
                    for key, p, i, value in checks:
                        if p is not None:
                            value, problem = p.check(key, value if i is None else values[i])
                            if problem:  # (said by the checks below)
                                break
                        out[key] = value
                    else:
                        key = attrs_key(impl, out)
                        if key is None:  # pragma: no cover - a checked value has a key
                            return out
                        result = checked_entry(key, out)
                        if memo is not None:
                            keep(RESULTS, memo, result)
                        return result
        elif memo is not None:
            hit = RESULTS.get(memo)
            if hit is not None:
                if static:
                    if len(given_ids) >= SHARED_LIMIT:
                        given_ids.clear()
                    given_ids[ident] = (a, d, impl, _KEPT[1], hit, None, None, None)
                return hit
        at = m.at if m is not None else (lambda k: pos)
        out = {}
        ok_all = True
        for key in given:
            if key not in impl.params:
                self.error(
                    at(key) if key in a else pos,
                    f"`{impl.name}` has no attribute `{key}`",
                    did_you_mean(key, [*impl.params, *_LAYER_WORD_LIST])
                    or (f"its attributes: {', '.join(impl.params)}" if impl.params else f"`{impl.name}` takes none")
                    + ("; a merge takes `paths:` (and optionally `name:`)" if impl.arity == "n" else ""),
                )
                ok_all = False
        for key, p in impl.params.items():
            if key in given:
                value = given[key]
                if value.__class__ is str and "$" in value:  # the position is looked up only when needed
                    ok, value = self._value(value, at(key) if key in a else pos, ctx.env, x[1])
                    if not ok:
                        ok_all = False
                        continue
                elif isinstance(value, list) and any(v.__class__ is str and "$" in v for v in value):
                    # `k: [$kh, $kw]`, `size: ["${block_in_h}", "${block_in_w}"]`: each item evaluated
                    items = [self._value(v, at(key) if key in a else pos, ctx.env, x[1]) for v in value]
                    if not all(ok for ok, _ in items):
                        ok_all = False
                        continue
                    value = [v for _, v in items]
                value, problem = p.check(key, value)
                if problem:
                    message, hint = problem
                    self.error(at(key) if key in a else pos, message + ctx.env.set_origins(given[key]), hint)
                    ok_all = False
                    continue
                out[key] = value
            elif p.default is P_REQUIRED:
                self.error(pos, f"`{impl.name}` needs `{key}` ({p.doc})", f"add `{key}: ...`")
                ok_all = False
            else:
                out[key] = p.default
        if not ok_all:
            return None
        key = attrs_key(impl, out)  # (one shared dict per checked result, however it was given)
        if key is None:
            return out
        result = checked_entry(key, out)
        if memo is not None:
            keep(RESULTS, memo, result)
        if static:
            if len(given_ids) >= SHARED_LIMIT:
                given_ids.clear()
            given_ids[ident] = (a, d, impl, _KEPT[1], result, None, None, None)
        return result

    def _evaluated(self, plan, env, shape):
        """The values of the `$` texts of the given attributes (``plan``: flopcount.ops.base.
        given_plan's, each text with what scopes._parse reads in it), in their order, when each
        is one whole reference, already parsed, that evaluates without error (checking those
        values gives what it gave before); None otherwise, and while a replay records (it
        counts reads)."""
        if scopes.SHAPE_READS is not None or RECORD is not None:
            return None
        values = []
        scope = self.scope
        if scope.env is not env or scope.shape is not shape:
            scope = self.scope = Scope(env, shape)
        for _, _, found in plan[1]:  # (in the order of the attributes, as they are read)
            if found.__class__ is not str or found not in compiled_expressions:
                # text built around references (counted against the budget once), or an
                # expression not parsed yet (counted once, where it is parsed)
                return None
            try:
                values.append(evaluate(found, scope))
            except (ExprError, Unknown):
                return None
        return values

    def add_node(self, impl, attrs, xs, name, pos, ctx, published):
        if name is None:
            name = ctx.auto(impl.name)
        full = ctx.prefix + name
        names = self.names
        if full in names:
            first = self.nodes[names[full]].pos
            self.error(pos, f"two layers are named `{full}` (the first at {first})", "rename one of them")
            return (xs[0][0], None)
        one = len(xs) == 1
        if one:
            x = xs[0]
            inputs, xs_key = (x[0],), x[1]
        else:
            inputs, xs_key = tuple([t[0] for t in xs]), tuple([t[1] for t in xs])
        made = table = None  # the results of these checked attributes (flopcount.ops.base.RESULTS)
        if RECORD is not None:
            RECORD.raw.append(attrs)  # (recording: every node keeps shape objects of its own; spec.replay)
        elif attrs.__class__ is Checked:
            table = attrs.made
            made = table.get(xs_key)
        if made is not None:
            attrs, y, cost, _ = made
        else:
            shapes = [xs_key] if one else list(xs_key)
            try:
                attrs = impl.normalize(attrs, shapes)
                y = impl.infer(attrs, shapes)
                cost = impl.cost(attrs, shapes, y)
            except OpError as exc:
                trail = self.trail(xs[0][0], shapes[0]) if exc.spatial else ""
                self.error(pos, f"{full}: {exc.message}" + (f" (sizes so far: {trail})" if trail else ""), exc.hint)
                return (xs[0][0], None)
            if len(y) == 3 and (y[1] < 1 or y[2] < 1):  # pragma: no cover - window_out refuses first
                self.error(pos, f"{full}: the output size reaches {y[1]}x{y[2]}", "use a larger input")
                return (xs[0][0], None)
            if table is not None:
                keep(table, xs_key, (attrs, y, cost, tuple(cost)))
        nodes = self.nodes
        idx = len(nodes)
        if idx >= MAX_NODES:
            raise SpecError(
                self.errors
                + [
                    Diagnostic(
                        pos,
                        f"the model has more than {MAX_NODES:,} layers",
                        "raise FLOPCOUNT_MAX_NODES if this is intended",
                    )
                ]
            )
        # Node(idx, full, impl.name, attrs, inputs, y, cost, pos, ctx.group, ctx.block,
        # ctx.train_only), its fields set in place (as in _Made.replay)
        node = object.__new__(Node)
        node.index = idx
        node.name = full
        node.op = impl.name
        node.attrs = attrs
        node.inputs = inputs
        node.shape = y
        node.cost = cost
        node.pos = pos
        node.group = ctx.group
        node.block = ctx.block
        node.train_only = ctx.train_only
        nodes.append(node)
        names[full] = idx
        tensors = self.tensors
        if full not in tensors:
            tensors[full] = (idx, y)
            self.tensor_pos[full] = pos
            self.tensor_log.append(full)
        else:  # (an imported model's names may meet so: harmless until a name is read)
            self.shadowed[full] = pos
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
        self.published_n += 1

    # -- structure -----------------------------------------------------------------------------
    def paths(self, m, pos, ctx):
        raw = m.get("paths") if m is not None else None
        if raw is None:
            self.error(
                pos,
                "a merge needs `paths:`, a list (or mapping) of branches",
                "write `paths: [[conv1-64], [conv1-96, conv3-128]]`; `[]` is the identity",
            )
            return None
        if isinstance(raw, Map):
            return [(str(k), v, raw.at(k)) for k, v in raw.items()]
        if isinstance(raw, Seq):
            return [(None, v, raw.at(i)) for i, v in enumerate(raw)]
        self.error(m.at("paths"), "`paths` must be a list of branches", "write `paths: [[...], [...]]`")
        return None

    def merge(self, impl, a, m, name, pos, x, ctx, published):
        """An op of arity "n": each branch of ``paths:`` is fed ``x``; the op combines their outputs.
        With ``if_shapes_match: true`` the merge is made only when the branches' shapes agree;
        otherwise its one branch with layers goes on alone (the others must be ``[]``)."""
        attrs = self.attributes(impl, a, m, pos, x, ctx)
        branches = self.paths(m, pos, ctx)
        if branches is None:
            return (x[0], None)
        only_if = m.get("if_shapes_match", False) if m is not None else False
        if only_if is not False:
            if only_if is not True:
                self.error(
                    m.at("if_shapes_match"),
                    f"`if_shapes_match` must be true or false, got {only_if!r}",
                    "write `if_shapes_match: true`",
                )
                return (x[0], None)
            if sum(1 for _, body, _ in branches if not (isinstance(body, list) and not body)) != 1:
                self.error(
                    m.at("if_shapes_match"),
                    "`if_shapes_match: true` needs one branch with layers and identities (`[]`) for the others",
                    "write `paths: {main: [...], shortcut: []}`; a projection shortcut is always there: drop the key",
                )
                return (x[0], None)
        outs = []
        for bname, body, bpos in branches:
            if bname is not None and bname not in _GOOD_NAMES:
                problem = name_problem(bname, "branch name")
                if problem:
                    self.error(bpos, *problem)
                    bname = None
                else:
                    _good_name(bname)
            bname = bname or ctx.auto("b")
            if ctx.prefix + bname in self.branches:  # an earlier merge here has a branch of that name
                k = 2
                while f"{ctx.prefix}{bname}{k}" in self.tensors:
                    k += 1
                bname = f"{bname}{k}"  # `main`, then `main2`: two residual adds side by side
            bfull = ctx.prefix + bname
            self.branches.add(bfull)
            self.branch_log.append(bfull)
            if bfull in self.names:
                self.error(bpos, f"branch name `{bname}` is also a layer name", "rename one of them")
            if isinstance(body, list) and not body:  # (the identity)
                y = x
            else:
                sub = Ctx(bfull + ".", ctx.env, ctx.group, ctx.block, ctx.train_only, ctx.defaults, ctx.stack)
                sub.x_in = x
                y = self.seq(body, bpos, x, sub)
            self.keep(bfull, y, bpos)
            outs.append(y)
        need = impl.min_inputs
        if len(outs) < need:
            self.error(
                pos,
                f"`{impl.name}` needs at least {_count(need)} branch" + ("es" if need > 1 else ""),
                "add a branch (`[]` is the identity)",
            )
            return (x[0], None)
        if attrs is None or any(o[1] is None for o in outs):
            return (x[0], None)
        if only_if and RECORD is not None:
            RECORD.choices.append((tuple(o[0] for o in outs), len({o[1] for o in outs}) > 1))
        if only_if and len({o[1] for o in outs}) > 1:
            return next(o for o, (_, body, _) in zip(outs, branches) if not (isinstance(body, list) and not body))
        return self.add_node(impl, attrs, outs, name, pos, ctx, published)

    def group(self, op, a, m, name, pos, x, ctx, published):
        if m is None or not isinstance(m.get("layers"), list):
            self.error(pos, f"`{op}` needs `layers:`, a list of layers", "write `layers: [...]`")
            return (x[0], None)
        for key in a:
            self.error(
                m.at(key),
                f"`{op}` has no attribute `{key}`",
                did_you_mean(key, _LAYER_WORD_LIST) or "it takes `name`, `layers`, `train_only`",
            )
        if name is None:
            name = ctx.auto("aux" if op == "side" else "group")
        train_only = ctx.train_only
        if op == "side":
            train_only = bool(m.get("train_only", True))
        full = ctx.prefix + name
        sub = ctx.child(full + ".", group=ctx.group or full, block=ctx.block or op, train_only=train_only)
        sub.x_in = x
        if ctx.group is None:
            self.graph.groups[full] = op
        if published is not None:
            self.publish(full, published, pos)
        y = self.seq(m["layers"], m.at("layers"), x, sub)
        self.keep(full, y, pos)
        return x if op == "side" else y

    def instantiate(self, block, a, m, name, pos, x, ctx, published):
        at = m.at if m is not None else (lambda k: pos)
        if block.name in ctx.stack:
            chain = " -> ".join(ctx.stack[ctx.stack.index(block.name) :] + (block.name,))
            self.error(pos, f"block `{block.name}` instantiates itself: {chain}", "remove the recursion")
            return (x[0], None)
        if len(ctx.stack) >= MAX_BLOCK_DEPTH:
            self.error(pos, f"blocks nest deeper than {MAX_BLOCK_DEPTH}", "flatten the blocks")
            return (x[0], None)
        args = {}
        args_pos = {}
        ok_all = True
        params = block.params
        # (m.at, in place: the value's position, else the mapping's)
        vpos, mpos = (m.vpos, m.pos) if m is not None else ({}, pos)
        for key, value in a.items():
            if key not in params:
                self.error(
                    at(key),
                    f"block `{block.name}` has no parameter `{key}`",
                    did_you_mean(key, [*params, *_LAYER_WORD_LIST]) or f"its parameters: {', '.join(params) or 'none'}",
                )
                ok_all = False
                continue
            where = vpos.get(key, mpos)
            c = value.__class__
            if c is int or (c is str and "$" not in value):  # (what _value gives them)
                v = value
            else:
                ok, v = self._value(value, where, ctx.env, x[1])
                if not ok:
                    ok_all = False
                    continue
            args[key] = v
            args_pos[key] = where
        for key, default in params.items():
            if key not in args and key not in a:
                if default is REQUIRED:
                    self.error(
                        pos,
                        f"block `{block.name}` needs the parameter `{key}`",
                        f"add `{key}: ...` (declared at {block.param_pos.get(key, block.pos)})",
                    )
                    ok_all = False
                else:
                    args[key] = default  # evaluated lazily in the block's scope
        if not ok_all:
            return (x[0], None)
        if name is None:
            name = ctx.auto(block.name)
        full = ctx.prefix + name
        if ctx.group is None:
            self.graph.groups[full] = block.name
        if published is not None:
            self.publish(full, published, pos)
        y = self.instance(block, args, full, x, ctx, args_pos)
        self.keep(full, y, pos)
        return y

    def body_ctx(self, block, args, full, x, ctx, args_pos):
        """The context ``block``'s body is walked in as the instance ``full`` (made only when
        the body is walked: a replayed instance needs none)."""
        env = Env(args, args_pos, self.root_env, block_shape=x[1])
        defaults = ctx.defaults
        if block.defaults:  # (merged once per outer defaults: the same dict for every instance)
            got = self.merged.get((id(defaults), block.name))
            if got is not None and got[0] is defaults and got[1] is block:
                defaults = got[2]
            else:
                merged = {**(defaults or {}), **block.defaults}
                self.merged[(id(defaults), block.name)] = (defaults, block, merged)
                defaults = merged
        c = Ctx(  # (ctx.child, without its defaults: each of these is given)
            full + ".",
            env,
            ctx.group or full,
            ctx.block or block.name,
            ctx.train_only,
            ctx.defaults if defaults is None else defaults,
            ctx.stack + (block.name,),
        )
        c.x_in = x
        return c

    # -- block instances made once -------------------------------------------------------------
    # A block instance is a function of its block, its arguments, its input shape and what it
    # inherits (group, block, training-only, `defaults:`, the blocks around it, the nesting
    # depth): the spec's variables are the same for the whole walk and the body sees nothing of
    # its caller but its arguments. So the nodes an instance makes (names relative to it, inputs
    # relative to its first node or its input) are kept, and a later instance with the same key
    # gets them without walking the body again: the 36 equal bottlenecks of a ResNet-152 stage.
    # Kept only when the walk of the body was one of a plain spec: no error, no `from:` outside
    # the instance (or to `input`), no `published:` figures, no replay log on. What a replay
    # adds to the `$` text budget (scopes.Budget) is what the recorded walk added: a first walk
    # that built no text is kept at once (no later walk can build more); one that built text is
    # kept from the second walk (the spec's variables are evaluated, and counted, once: the
    # second walk's count is every further walk's). An instance whose name was used before is
    # always walked.

    def instance(self, block, args, full, x, ctx, args_pos):
        """The output of walking ``block``'s body as the instance ``full`` (see above; the
        context of the walk, where it is walked: :meth:`body_ctx`)."""
        if self.errors or RECORD is not None or scopes.SHAPE_READS is not None:
            return self.seq(block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, args_pos))
        if full in self.tensors or full in self.names or full in self.branches:
            return self.seq(block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, args_pos))
        key = [
            block,
            x[1],
            ctx.group,
            ctx.block,
            ctx.train_only,
            self.defaults_key(ctx.defaults),
            ctx.stack,
            self.depth,
        ]
        for k, v in args.items():
            c = v.__class__
            if c is int or c is bool or c is str or v is None:
                key += (k, c, v)
            elif c is float:
                key += (k, c, v.hex())
            else:  # a list or mapping of layers: by identity (its items carry their positions)
                key += (k, id, id(v))
        key = tuple(key)
        got = self.instances.get(key)
        if got.__class__ is _Made:
            y = got.replay(self, full, x, ctx)
            if y is not None:
                if got.shared is None:
                    got.share(self.spec, (self.torch_padding, key))
                return y
            return self.seq(block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, args_pos))
        if got is None:  # first met in this walk: made by an earlier walk of the same spec?
            root = self.root_env
            for made in self.shared_records.get((self.torch_padding, key), ()):
                if made.gen == _KEPT[1] and made.reads_hold(root):
                    y = made.replay(self, full, x, ctx)
                    if y is not None:
                        self.instances[key] = made
                        return y
        if got is False:
            return self.seq(block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, args_pos))
        # the first or second walk of this key: walked and recorded
        n0, t0, b0, s0, p0, r0, h0 = (
            len(self.nodes),
            len(self.tensor_log),
            len(self.branch_log),
            self.steps,
            self.published_n,
            len(self.refs),
            len(self.shadowed),
        )
        budget = self.root_env.budget
        text0 = budget.text
        outer, self.reads = self.reads, []
        watch = scopes.ROOT_READS
        if watch is None or watch[0] is not self.root_env:
            scopes.ROOT_READS = [self.root_env, []]
        names0 = len(scopes.ROOT_READS[1])
        try:
            y = self.seq(block.body, block.pos, x, self.body_ctx(block, args, full, x, ctx, args_pos))
        finally:
            reads, self.reads = self.reads, outer
            if outer is not None:
                outer.extend(reads)
            names = scopes.ROOT_READS[1][names0:]
            scopes.ROOT_READS = watch
        made = (
            None
            if len(self.shadowed) != h0
            else _Made.of(self, full, x, ctx, y, n0, t0, b0, s0, p0, r0, budget.text - text0, reads)
        )
        if made is not None:
            made.root_reads(self.root_env, names)
        alive = (args, ctx.defaults) if got is None else got  # (the objects whose ids the key holds)
        if made is None:
            self.instances[key] = False
            self.instances[(key, "alive")] = alive  # (False keeps nothing: the ids stay theirs)
        elif got is None and made.text:
            # a first walk that built `$` text: it may have evaluated (and counted) the spec's
            # variables that later walks find evaluated; the second walk's count is theirs
            self.instances[key] = alive
        else:
            made.alive = alive
            self.instances[key] = made
            if got is None:  # (met in an earlier walk of the spec too: offered to the next ones)
                shared = (self.torch_padding, key)
                met = self.met_keys
                if shared in met:
                    if made.fill(self):
                        made.share(self.spec, shared)
                else:
                    if len(met) >= SHARED_LIMIT:
                        met.clear()
                    met[shared] = True
        return y


_LAYER_WORD_LIST = sorted(LAYER_WORDS)
#: the layer words of a mapping the walk tests for (``_layer_map``), one bit each
_ROWS, _WHEN, _FROM, _OP, _SHAPES_MATCH, _REPEAT, _NAME, _OVERRIDES, _PUBLISHED = (1 << i for i in range(9))
_LAYER_BITS = (
    (("for", "each"), _ROWS),
    (("when",), _WHEN),
    (("from",), _FROM),
    (("op",), _OP),
    (("if_shapes_match",), _SHAPES_MATCH),
    (("repeat",), _REPEAT),
    (("name",), _NAME),
    (("first", "rest"), _OVERRIDES),
    (("published",), _PUBLISHED),
)
#: spec -> {id(layer mapping) -> _layer_map's record}: what the walk reads of a mapping before
#: its values are evaluated, read once for all the spec's expansions (a mapping is never
#: changed after it is read); weak on the spec, as _SHARED
_LAYER_MAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: spec -> the walk's Expander.given_ids and Expander.short tables, shared by its expansions
_GIVEN_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHORT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _layer_map(table: dict, m: Map) -> tuple:
    """(``m``, the bits of the layer words it has, its attributes (the other keys), its `op` and
    `name` values as written, None where absent, whether it is plain), kept in ``table`` under
    ``id(m)`` (``m`` kept alive with it: the id stays its own). Plain: no layer words but `op`,
    `name` and `when`, the op's and the name's texts without `$`, a name name_problem() finds
    nothing wrong with (it reads nothing but the name): Expander.mapping's steps for it are
    then `when`, then the layer (each of the others would find nothing to do)."""
    has = 0
    for words, bit in _LAYER_BITS:
        for w in words:
            if w in m:
                has |= bit
    if len(table) >= SHARED_LIMIT:
        table.clear()
    op, name = m.get("op"), m.get("name")
    plain = (
        not has & ~(_OP | _NAME | _WHEN)
        and has & _OP
        and op.__class__ is str
        and "$" not in op
        and (
            not has & _NAME  # (`name: null` is not plain: the walk names that layer "None")
            or (name.__class__ is str and "$" not in name and name_problem(name, "layer name") is None)
        )
    )
    got = table[id(m)] = (m, has, {k: m[k] for k in m if k not in LAYER_WORDS}, op, name, bool(plain))
    return got


#: names name_problem() found nothing wrong with (it reads nothing but the name): each layer
#: and branch name is checked once per process, not once per layer made
_GOOD_NAMES: set = set()
_GOOD_NAMES_LIMIT = 20_000


def _check_plan(impl, given: dict, texts: list) -> list | None:
    """What Expander.attributes' checks make of ``given`` once its `$` texts (``texts``, as
    given_plan lists them) have values: per param of ``impl``, in order, (name, None, None, its
    value checked already or its default) or (name, Param, index of the text, None) for a text's
    value or (name, Param, None, value) for a value checked each time (a list: each result its
    own). None where those checks find a problem (they say it), or a list holding `$`."""
    params = impl.params
    for key in given:
        if key not in params:
            return None
    index = {k: i for i, (k, _, _) in enumerate(texts)}
    out: list = []
    for key, p in params.items():
        if key in given:
            value = given[key]
            if key in index:
                out.append((key, p, index[key], None))
                continue
            if isinstance(value, list) and any(v.__class__ is str and "$" in v for v in value):
                return None
            checked, problem = p.check(key, value)
            if problem:
                return None
            c = checked.__class__
            if c is int or c is bool or c is str or c is float or checked is None:
                out.append((key, None, None, checked))
            else:
                out.append((key, p, None, value))
        elif p.default is P_REQUIRED:
            return None
        else:
            out.append((key, None, None, p.default))
    return out


def _good_name(name: str) -> None:
    if len(_GOOD_NAMES) >= _GOOD_NAMES_LIMIT:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)


class _Made:
    """What one walk of a block instance made (Expander.instance), relative to it: nodes as
    (name in the instance, op, attributes, inputs, shape, cost, pos, block, training-only), an
    input None being the instance's input and a number the node that many after its first;
    the named tensors in the order they were named; merge branches; layer instances counted;
    `$` text built; the last position reached; the output. The lists are made from the walk's
    own (nodes, tensors and branches are only ever added to) when the key is met again."""

    __slots__ = (
        "after",
        "alive",
        "at",
        "branches",
        "gen",
        "nodes",
        "out",
        "pending",
        "roots",
        "shared",
        "steps",
        "text",
        "values",
    )
    pending: tuple | None  # (where its nodes, tensors and branches are in the walk) until fill()
    roots: tuple | None
    text: int

    @staticmethod
    def of(ex, full, x, ctx, y, n0, t0, b0, s0, p0, r0, text, reads):
        """The record of the walk that just made nodes ``n0:`` (None: not one to replay)."""
        if ex.errors or len(ex.refs) != r0 or ex.published_n != p0 or y[1] is None:
            return None
        prefix = full + "."
        for r in reads:
            if not r.startswith(prefix):
                return None
        x0 = x[0]
        if y[0] != x0 and y[0] < n0:  # pragma: no cover - only `from:` reads another tensor
            return None
        made = _Made()
        made.gen, made.shared, made.roots = _KEPT[1], None, None
        made.pending = (
            n0,
            len(ex.nodes),
            t0,
            len(ex.tensor_log),
            b0,
            len(ex.branch_log),
            x0,
            prefix,
            ctx.group or full,
            x[1],
        )
        made.steps, made.text, made.at = ex.steps - s0, text, ex.at
        made.out = (None if y[0] == x0 and y[0] < n0 else y[0] - n0, y[1])
        return made

    def root_reads(self, root, names: list) -> None:
        """Note the spec's variables the walk read (each name, with its value's type and value,
        or its identity: a list of layers); None when one has no value kept (it failed)."""
        seen: dict = {}
        for name in names:
            if name not in seen:
                if name not in root.done:
                    self.roots = None
                    return
                seen[name] = _fixed(root.done[name])
        self.roots = tuple(seen.items())
        self.values = [root.done[name] for name in seen]  # (alive: the identities stay theirs)

    def reads_hold(self, root) -> bool:
        """Do the spec's variables the recorded walk read have the same values in ``root``, each
        evaluated already (so that walking would evaluate, and count, nothing more)?"""
        done = root.done
        for name, value in self.roots or ():  # (a shared record always has its reads)
            if name not in done or _fixed(done[name]) != value:
                return False
        return True

    def share(self, spec, key) -> None:
        """Offer this record to later walks of the same spec (:data:`_SHARED`) when it can be:
        it read only variables it can check and built no `$` text (a later walk would build
        the same, and count it)."""
        self.shared = False
        if self.roots is None or self.text or self.pending is not None:
            return
        table = _of_spec(_SHARED, spec)
        if len(table) >= SHARED_LIMIT:
            table.clear()
        kept = table.setdefault(key, [])
        if len(kept) < 8 and all(k.roots != self.roots for k in kept):
            kept.append(self)
            self.shared = True

    def fill(self, ex) -> bool:
        """Make the lists from the walk's nodes, tensors and branches; False where a node reads
        something that is neither the instance's input nor one of its nodes.

        Each node is kept with the named tensors the walk kept before it (``pre``: (name in the
        instance, input as the node inputs are, shape, position, what it shares: -1 the
        instance's input tuple, k node k's own tuple, None a tuple of its own)) and whether its
        own name was kept as a tensor when it was made (``own``); the tensors kept after the
        last such node are ``after``. Replayed in that order, the tensors are named in the
        order the walk named them."""
        assert self.pending is not None  # (filled once)
        n0, n1, t0, t1, b0, b1, x0, prefix, group, xshape = self.pending
        self.pending = None
        cut = len(prefix)
        made = ex.nodes[n0:n1]
        nodes = []
        for n in made:
            inputs = []
            for i in n.inputs:
                if i >= n0:
                    inputs.append(i - n0)
                elif i == x0:
                    inputs.append(None)
                else:  # pragma: no cover - only `from:` reads another tensor, and reads says so
                    return False
            if n.group != group or not n.name.startswith(prefix):  # pragma: no cover - as above
                return False
            nodes.append([n.name[cut:], n.op, n.attrs, tuple(inputs), n.shape, n.cost, n.pos, n.block, n.train_only])
        own = [False] * len(nodes)
        pending: list = []
        pos = ex.tensor_pos
        for name in ex.tensor_log[t0:t1]:
            if not name.startswith(prefix):  # pragma: no cover - every name is under the instance
                return False
            i, shape = ex.tensors[name]
            k = i - n0
            if 0 <= k < len(nodes) and made[k].name == name and pos[name] is made[k].pos and not own[k]:
                # (the node's own name, kept when it was made: add_node)
                nodes[k].append(tuple(pending) if pending else None)
                own[k] = True
                pending = []
                continue
            if i == x0 and i < n0:
                pending.append((name[cut:], None, shape, pos[name], -1 if shape == xshape else None))
            else:
                share = k if 0 <= k < len(nodes) and own[k] and shape == nodes[k][4] else None
                pending.append((name[cut:], k, shape, pos[name], share))
        self.nodes = []
        for k, n in enumerate(nodes):
            if not own[k]:
                n.append(None)
            n.append(own[k])
            self.nodes.append(tuple(n))
        self.after = pending
        self.branches = [b[cut:] for b in ex.branch_log[b0:b1]]
        return True

    def replay(self, ex, full, x, ctx):
        """Make the kept nodes again as the instance ``full`` on ``x``; its output, or None where
        a limit would be reached (the walk then goes through the body and reports it)."""
        if self.pending is not None and not self.fill(ex):  # pragma: no cover - see fill
            return None
        n0 = len(ex.nodes)
        budget = ex.root_env.budget
        if ex.steps + self.steps > MAX_NODES or n0 + len(self.nodes) > MAX_NODES:
            return None
        if budget.text + self.text > scopes.MAX_TEXT:
            return None
        prefix = full + "."
        x0 = x[0]
        group = ctx.group or full
        nodes, names = ex.nodes, ex.names
        tensors, tensor_pos, log = ex.tensors, ex.tensor_pos, ex.tensor_log
        idx = n0
        # each node's own (index, shape) tuple, shared with the names that stand for it (a
        # branch's output, a block's), as the walk shares one: 0.3 KB a node less at 100,000
        held: list = []
        new = object.__new__
        for suffix, op, attrs, inputs, shape, cost, pos, block, train_only, pre, own in self.nodes:
            if pre is not None:
                for name, i, t, where, share in pre:
                    name = prefix + name
                    if share == -1:  # (the instance's input)
                        t = x
                    elif share is not None:  # (a node's own)
                        t = held[share]
                    else:
                        t = (x0 if i is None else n0 + i, t)
                    tensors[name] = t
                    tensor_pos[name] = where
                    log.append(name)
            # Node(idx, name, op, attrs, inputs, shape, cost, pos, group, block, train_only), its
            # fields set in place: the class call is a third of a node's cost
            node = new(Node)
            node.index = idx
            node.name = name = prefix + suffix
            node.op = op
            node.attrs = attrs
            node.inputs = (
                (x0 if inputs[0] is None else n0 + inputs[0],)
                if len(inputs) == 1
                else tuple([x0 if i is None else n0 + i for i in inputs])
            )
            node.shape = shape
            node.cost = cost
            node.pos = pos
            node.group = group
            node.block = block
            node.train_only = train_only
            nodes.append(node)
            names[name] = idx
            if own:  # (add_node's tensor of the node's own name)
                tensors[name] = t = (idx, shape)
                tensor_pos[name] = pos
                log.append(name)
                held.append(t)
            else:
                held.append(None)
            idx += 1
        for name, i, t, where, share in self.after:
            name = prefix + name
            if share == -1:
                t = x
            elif share is not None:
                t = held[share]
            else:
                t = (x0 if i is None else n0 + i, t)
            tensors[name] = t
            tensor_pos[name] = where
            log.append(name)
        for b in self.branches:
            b = prefix + b
            ex.branches.add(b)
            ex.branch_log.append(b)
        ex.steps += self.steps
        budget.text += self.text
        ex.at = self.at
        watch = scopes.ROOT_READS
        if watch is not None and watch[0] is ex.root_env:  # (an instance around this one is
            # recorded: it read what this one read; "\0", no variable's name: it is not known)
            watch[1].extend([name for name, _ in self.roots] if self.roots is not None else ["\0"])
        i, shape = self.out
        return (x0 if i is None else n0 + i, shape)


#: spec -> {(`padding: torch`, instance key) -> records of walks of other expansions of the
#: spec} (_Made.share): a sweep's designs and a check's variants share their equal block
#: instances. Weak on the spec: the records (and the spec's YAML values their keys hold) go
#: when the spec does, not at the end of the process (a 100,000-node spec's values, 0.3 KB a node).
_SHARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
SHARED_LIMIT = 20_000
#: spec -> the keys of its _SHARED table met once so far (the second walk that meets one
#: records it for all)
_MET: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _of_spec(tables: weakref.WeakKeyDictionary, spec) -> dict:
    table = tables.get(spec)
    if table is None:
        table = tables[spec] = {}
    return table


def _fixed(v):
    """A value of the spec's variables as a record compares it: type and value (floats by their
    exact text), or identity for anything else (the record keeps it alive)."""
    c = v.__class__
    if c is int or c is bool or c is str or v is None:
        return (c, v)
    if c is float:
        return (c, v.hex())
    return (id, id(v))


def _visible(tensors: dict, prefix: str, limit: int = 20_000) -> list:
    """The names a `from:` written in the scope ``prefix`` can use (for a did-you-mean)."""
    scopes = [prefix]
    while prefix:
        prefix = prefix[: prefix[:-1].rfind(".") + 1]
        scopes.append(prefix)
    out = [INPUT_NAME]
    for full in tensors:
        for p in scopes:
            if full.startswith(p):
                out.append(full[len(p) :])
                break
        if len(out) > limit:
            break
    return out


def _count(n: int) -> str:
    return ("one", "two", "three", "four")[n - 1] if n <= 4 else str(n)


#: how the walk reads the inputs of each ``arity`` an op may declare
FORMS = {1: Expander.layer, "n": Expander.merge}
if set(FORMS) != set(INPUT_FORMS):  # pragma: no cover - a programming error, loud at import
    raise ImportError(
        f"the walk handles arities {sorted(map(str, FORMS))}, the op contract declares {sorted(map(str, INPUT_FORMS))}"
    )
