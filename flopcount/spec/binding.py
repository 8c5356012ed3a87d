"""Binding: what a spec's variables, input and batch are for one variant and one command line.

The spec's ``vars:``, then the variant's values, then ``--set`` values (each remembered as
``--set NAME=VALUE``, so that an error in it names the option, not a spec position), then
``--input`` / ``--batch``. The result is a :class:`Binding`: the root :class:`~.scopes.Env`,
the input shape, the batch and the top-level display settings the walk needs.
"""

from __future__ import annotations

from ..errors import Diagnostic, SpecError, UsageError
from ..ops.params import check_int
from .document import Spec, did_you_mean
from .expr import ExprError
from .scopes import IMPLICIT, Env, Scope, Unknown, interp
from .yamlload import Map, load_yaml

_NO_INPUT_YET = (
    (
        "`input` cannot use in_c, in_h, in_w or in_features: they are a layer's input, "
        "and `input` is what the first layer receives"
    ),
    "write the sizes, or use declared `vars:`",
)


class Binding:
    """The variables, input and batch of one expansion (see the module docstring)."""

    __slots__ = (
        "batch",
        "collapse",
        "description",
        "env",
        "errors",
        "input_pos",
        "input_value",
        "published",
        "published_pos",
        "sets",
        "shape",
    )

    def __init__(self, env, shape, batch, description, published, published_pos, collapse, errors):
        self.env, self.shape, self.batch, self.description = env, shape, batch, description
        self.published, self.published_pos, self.collapse, self.errors = published, published_pos, collapse, errors
        self.input_value = self.input_pos = None  # the spec's (or its variant's) `input:`, as written
        self.sets = False  # whether --set values were bound

    def own_shape(self):
        """The input the spec itself gives this variant, as ``bind(spec, variant, None, None,
        None).shape`` is (None where it is not one): its `input:` evaluated with a fresh Env
        of the same variables, as that bind's is. Only for a binding without --set values
        (they change the variables)."""
        assert not self.sets
        return _input_shape(self.input_value, self.input_pos, Env(self.env.raw, self.env.pos), [])


def _set_text(key, value) -> str:
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, bool) else str(value).lower()
    return f"--set {key}={text[:60]}" + ("..." if len(text) > 60 else "")


def bind(spec: Spec, variant: str | None, input_shape, batch, sets) -> Binding:
    data = spec.data
    errors: list = []
    declared = data.get("vars") or Map()
    raw_vars = dict(declared)
    var_pos = {k: declared.at(k) for k in raw_vars}
    for key in raw_vars:
        if key in IMPLICIT:
            errors.append(
                Diagnostic(
                    declared.kpos[key],
                    f"a variable may not be named `{key}`: every layer's expressions read `{key}` as its input shape",
                    "rename the variable",
                )
            )
    input_value, input_pos = data.get("input"), data.at("input")
    batch_value, batch_pos = data.get("batch", 1), data.at("batch")
    description = spec.description
    published = data.get("published")
    published_pos = data.at("published")
    collapse, collapse_pos = data.get("collapse", False), data.at("collapse")
    if variant is not None:
        v = (spec.variants or Map())[variant]
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
                continue  # read by Spec.budget
            elif key == "collapse":
                collapse, collapse_pos = value, v.at(key)
            else:
                raw_vars[key] = value
                var_pos[key] = v.at(key)
    origin = {}
    for key, value in (sets or {}).items():
        if key not in raw_vars:
            hint = did_you_mean(key, raw_vars) or (
                f"its variables: {', '.join(raw_vars)}" if raw_vars else "it declares none"
            )
            raise UsageError(f"--set {key}: the spec declares no variable `{key}`; {hint}")
        raw_vars[key] = value
        origin[key] = _set_text(key, value)
    env = Env(raw_vars, var_pos, origin=origin)
    spec_shape = None
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
        b, prob = check_int("batch", batch_value, 1)
        if prob:
            errors.append(Diagnostic(batch_pos, *prob))
            b = 1
        batch = b
    if not isinstance(collapse, bool):
        errors.append(
            Diagnostic(collapse_pos, f"`collapse` must be true or false, got {collapse!r}", "write `collapse: true`")
        )
    out = Binding(env, shape, batch, description, published, published_pos, collapse is True, errors)
    out.input_value, out.input_pos, out.sets = input_value, input_pos, bool(sets)
    return out


def _input_shape(value, pos, env, errors):
    ok = True
    scope = Scope(env, None)
    if isinstance(value, str) and "$" in value:
        try:
            value = interp(value, scope)
        except ExprError as exc:
            errors.append(Diagnostic(pos, exc.message, exc.hint))
            return None
        except Unknown:
            errors.append(Diagnostic(pos, *_NO_INPUT_YET))
            return None
    if not isinstance(value, list) or len(value) not in (1, 3):
        errors.append(
            Diagnostic(pos, f"`input` must be [C, H, W] (or [F]), got {value!r}", "write `input: [3, 224, 224]`")
        )
        return None
    dims = []
    ipos = getattr(value, "ipos", None)
    for i, d in enumerate(value):
        dpos = ipos[i] if ipos else pos
        if isinstance(d, str) and "$" in d:
            try:
                d = interp(d, scope)
            except ExprError as exc:
                errors.append(Diagnostic(dpos, exc.message, exc.hint))
                ok = False
                continue
            except Unknown:
                errors.append(Diagnostic(dpos, *_NO_INPUT_YET))
                ok = False
                continue
        d, prob = check_int("input", d, 1)
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
