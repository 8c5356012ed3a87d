"""flopcount: exact MACs and parameters of convolutional networks, from a YAML spec."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "analyze", "compare", "build"]


def __getattr__(name):  # lazy: `import flopcount` stays cheap, torch is never imported here
    if name in ("analyze", "compare", "Report"):
        from . import api

        return getattr(api, name)
    if name == "build":  # flopcount.build("vgg-D"): a torch.nn.Module (imports torch only now)
        from .torch_build import build

        return build
    raise AttributeError(f"module 'flopcount' has no attribute {name!r}")
