"""Target kinds that name a torch model: ``torchvision:NAME``, ``timm:NAME``, ``pkg.mod:fn``.

Matching is string work only (no torch import): a spec path with a variant (``my.yaml:D``)
is not a callable, nor is anything whose left side is an existing file or has a path
separator. ``--set KEY=VALUE`` values become keyword arguments of the builder (torchvision's
``num_classes=10``, your own ``width=2``); the model is built under ``torch.device("meta")``,
so no weights are allocated. Exit codes: 2 for a target that names nothing (missing module or
attribute), 3 for a builder that raises or a model that cannot be traced, 4 for torch (or
torchvision, timm) not installed.
"""

from __future__ import annotations

import importlib
import os
import re

from . import TargetKind, register_kind
from .common import ImportError_

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

#: per-sample input of torchvision models whose documented size is not 3x224x224 (a callable's
#: default: its model's ``input_shape`` attribute, else 3x224x224; timm's: 3x224x224)
_TV_INPUT = {"inception_v3": (3, 299, 299)}


def _is_callable_target(t: str) -> bool:
    if t.startswith(("torchvision:", "timm:")) or not _CALLABLE.match(t):
        return False
    base = t.rsplit(":", 1)[0]
    return not (base.endswith((".yaml", ".yml", ".onnx")) or os.path.exists(base))


def _need(module: str, what: str):
    try:
        return importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - also a wheel that fails to load (torchvision's CUDA build beside a CPU torch)
        raise ImportError_(
            f"{what} needs {module}, which is not importable here ({type(e).__name__}: {e})",
            f"pip install {module}" if module != "torch" else "pip install torch fvcore",  # K2: no index has flopcount
            code=4,
        ) from None


def _torchvision_builder(name: str):
    _need("torch", "a torchvision: target")
    tv = _need("torchvision", "a torchvision: target")
    from torchvision import models

    try:
        return models.get_model_builder(name)
    except ValueError:
        names = sorted(models.list_models())
        from ..spec.document import did_you_mean

        hint = did_you_mean(name, names)
        raise ImportError_(
            f"torchvision {tv.__version__} has no model `{name}`",
            hint or "see torchvision.models.list_models()",
            code=2,
        ) from None


def _timm_builder(name: str):
    _need("torch", "a timm: target")
    timm = _need("timm", "a timm: target")
    if name not in timm.list_models():
        raise ImportError_(f"timm has no model `{name}`", "see timm.list_models()", code=2)
    return lambda **kw: timm.create_model(name, pretrained=False, **kw)


def _callable(target: str):
    _need("torch", f"`{target}`")
    mod_name, attr = target.rsplit(":", 1)
    try:
        obj = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        raise ImportError_(
            f"`{target}`: no module named `{e.name}`",
            "give an importable module (on PYTHONPATH or installed) and a callable in it: pkg.mod:fn",
            code=2,
        ) from None
    except Exception as e:  # noqa: BLE001 - the user's module fails at import
        raise ImportError_(f"`{target}`: importing {mod_name} raised {type(e).__name__}: {e}", None, code=3) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ImportError_(
                f"`{target}`: {mod_name} has no attribute `{attr}`",
                "name a function or class that returns an nn.Module",
                code=2,
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ImportError_(f"`{target}`: `{attr}` is not callable", "name a function or class", code=2)
    return obj


class _params_on_meta:
    """Build with tensors on the CPU but every parameter and buffer moved to the meta device as
    it is registered (one empty tensor at a time; initialisers then run on meta): for builders
    that compute on tensors (``torch.arange(...).tolist()``), which the meta device refuses."""

    def __enter__(self):
        import torch

        self.torch = torch
        nn = torch.nn
        self.saved = (nn.Module.register_parameter, nn.Module.register_buffer)
        reg_p, reg_b = self.saved

        def register_parameter(mod, name, param):
            if param is not None and param.device.type != "meta":
                param = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
            return reg_p(mod, name, param)

        def register_buffer(mod, name, tensor, persistent=True):
            if tensor is not None and tensor.device.type != "meta":
                tensor = tensor.to("meta")
            return reg_b(mod, name, tensor, persistent)

        nn.Module.register_parameter = register_parameter
        nn.Module.register_buffer = register_buffer
        return self

    def __exit__(self, *exc):
        nn = self.torch.nn
        nn.Module.register_parameter, nn.Module.register_buffer = self.saved
        return False


def build_model(target: str, sets: dict | None):
    """(model on the meta device in eval mode, default per-sample input or None, display name)."""
    if target.startswith("torchvision:"):
        name = target.split(":", 1)[1]
        fn, default, display = _torchvision_builder(name), _TV_INPUT.get(name, (3, 224, 224)), name
    elif target.startswith("timm:"):
        name = target.split(":", 1)[1]
        fn, default, display = _timm_builder(name), (3, 224, 224), name
    else:
        fn, default, display = _callable(target), None, target.rsplit(":", 1)[1]
    import torch

    try:
        try:
            with torch.device("meta"):
                model = fn(**(sets or {}))
        except NotImplementedError as e:
            if "meta" not in str(e):
                raise
            with _params_on_meta():  # a builder that computes on tensors (RegNet's widths): CPU math
                model = fn(**(sets or {}))
    except Exception as e:  # noqa: BLE001 - the user's builder raised
        raise ImportError_(
            f"`{target}`: building the model raised {type(e).__name__}: {e}",
            "check the --set values (they are the builder's keyword arguments)",
            code=3,
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise ImportError_(f"`{target}` returned a {type(model).__name__}, not an nn.Module", None, code=2)
    model.eval()
    if default is None:  # a callable: the model's own `input_shape`, else an ImageNet image
        default = tuple(getattr(model, "input_shape", None) or (3, 224, 224))
    return model, default, display


def load_torch(target: str, input_shape=None, batch=None, sets=None):
    from .torch_fx import trace_module

    model, default, display = build_model(target, sets)
    shape = tuple(input_shape) if input_shape is not None else default
    if shape[0] is None:  # --input HxW: the channels of the model's default
        shape = (default[0], *shape[1:])
    imported = trace_module(model, tuple(shape), display)
    imported.reference["target"] = target
    return imported


def _matches(prefix):
    return lambda t: t.startswith(prefix) and len(t) > len(prefix)


register_kind(TargetKind("torchvision", _matches("torchvision:"), load_torch, "torchvision:NAME"))
register_kind(TargetKind("timm", _matches("timm:"), load_torch, "timm:NAME"))
register_kind(TargetKind("callable", _is_callable_target, load_torch, "pkg.mod:fn"))
