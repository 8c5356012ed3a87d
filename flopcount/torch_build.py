"""A spec's graph as a ``torch.nn.Module``: one submodule per spec layer, named as the spec names it.

Each op builds its own module (``Op.build`` in ``flopcount/ops/``, next to its cost) from
the node's normalised attributes (``Op.normalize``, the same values the cost read); this
module only wires them together and names no op. Dots in spec names are scopes: ``inception.b2.conv`` is the
child ``conv`` of a container ``b2`` of a container ``inception``, so ``named_modules()``
yields exactly the spec's layer names (plus the containers, and the ``conv``/``bn``/``act``
children of a layer with a fused batch-norm or activation).

This is the only place (with the ops' ``build`` methods) that imports torch; importing it
without torch raises :class:`~flopcount.errors.EnvironmentProblem` (exit 4) with the install
command. Training-only side outputs (auxiliary classifiers) are left out unless asked for, so
the module's parameter count equals the report's ``params`` total.
"""

from __future__ import annotations

from .errors import EnvironmentProblem

INSTALL = "pip install 'flopcount[torch]'   (brings torch and fvcore)"

try:
    import torch
    from torch import nn
except ImportError as _exc:  # pragma: no cover - exercised through a subprocess test
    raise EnvironmentProblem(f"this needs torch, which is not installed ({_exc}); install it with: {INSTALL}") from None


class Scope(nn.Module):
    """A container for a dotted name's prefix (a block instance or a branch); never called."""


class Merge(nn.Module):
    """A layer with several inputs (an op of arity ``"n"``); ``fn`` combines the list of tensors."""

    def __init__(self, kind: str, fn):
        super().__init__()
        self.kind = kind
        self.fn = fn

    def forward(self, *xs):
        return self.fn(list(xs))

    def extra_repr(self) -> str:
        return self.kind


class SpecModel(nn.Module):
    """Runs the graph's layers in order. ``_mark``, when set, is called once before the first
    layer and once after each layer (the latency timers record their time points there).
    Internal attributes start with ``_`` so they cannot clash with spec layer names."""

    def __init__(self, graph, train_only: bool = False):
        super().__init__()
        self._mark = None
        steps = []  # (name, module, inputs): modules live in the scope tree, this is the run order
        nodes = [n for n in graph.nodes if train_only or not n.train_only]
        for n in nodes:
            op = _op(n.op)
            shapes = [graph.input if i == -1 else graph.nodes[i].shape for i in n.inputs]
            module = op.build(dict(n.attrs), [tuple(s) for s in shapes], tuple(n.shape))
            _place(self, n.name, module)
            steps.append((n.name, module, tuple(n.inputs)))
        self._layer_names = [s[0] for s in steps]
        index = {n.index: k for k, n in enumerate(nodes)}
        last_use: dict = {}
        for k, (_, _, inputs) in enumerate(steps):
            for i in inputs:
                last_use[i] = k
        self._steps = [
            (module, inputs, [i for i in inputs if last_use.get(i) == k]) for k, (_, module, inputs) in enumerate(steps)
        ]
        self._index = [nodes[k].index for k in range(len(nodes))]
        self._output = graph.output
        self._sides = [n.index for n in nodes if n.train_only and _is_side_end(graph, n, nodes)]
        if graph.output not in index and graph.output != -1:
            raise ValueError(f"{graph.name}: the output node {graph.output} is not built")

    def forward(self, x):
        values = {-1: x}
        mark = self._mark
        if mark is not None:
            mark()
        keep = {self._output, *self._sides}
        for (module, inputs, done), idx in zip(self._steps, self._index):
            values[idx] = module(*[values[i] for i in inputs])
            for i in done:  # free what no later layer reads
                if i not in keep:
                    values.pop(i, None)
            if mark is not None:
                mark()
        out = values[self._output]
        if self._sides:
            return (out, *[values[i] for i in self._sides])
        return out


def _is_side_end(graph, node, nodes) -> bool:
    """A training-only node that no other built node reads: the end of a side output."""
    return not any(node.index in m.inputs for m in nodes)


def _op(name: str):
    from .ops import lookup

    op = lookup(name)
    if op is None:  # pragma: no cover - expand() only emits registered ops
        raise ValueError(f"unknown op {name}")
    return op


def _place(root: nn.Module, name: str, module: nn.Module) -> None:
    """Attach ``module`` at the dotted ``name`` under ``root``, creating Scope containers."""
    *scopes, leaf = name.split(".")
    parent = root
    for i, part in enumerate(scopes):
        child = parent._modules.get(part)
        if child is None:
            child = Scope()
            parent.add_module(part, child)
        elif not isinstance(child, Scope):
            raise ValueError(f"layer {'.'.join(scopes[: i + 1])} is also the scope of {name}")
        parent = child
    if leaf in parent._modules:
        raise ValueError(f"layer name {name} is used twice")
    try:
        parent.add_module(leaf, module)
    except KeyError as exc:  # a name torch.nn.Module already uses as an attribute
        raise ValueError(f"layer name {name} cannot be a torch submodule name: {exc}") from None


def build_graph(graph, train_only: bool = False, device=None) -> SpecModel:
    """The module of an expanded graph, in eval mode. ``device="meta"`` allocates nothing."""
    if device is not None:
        with torch.device(device):
            model = SpecModel(graph, train_only)
    else:
        model = SpecModel(graph, train_only)
    return model.eval()


def build(target, *, input=None, batch=None, train_only: bool = False, device=None, **sets) -> SpecModel:
    """``flopcount.build("vgg-D")``: a ``torch.nn.Module`` for a built-in name or a spec path.

    ``input`` (a ``(C, H, W)`` tuple) and ``batch`` override the spec's; any other keyword sets
    a variable the spec declares (like ``--set``). ``train_only=True`` also builds the
    training-only side outputs (the forward then returns ``(main, *sides)``).
    """
    from .api import load_graph

    graph = load_graph(target, tuple(input) if input is not None else None, batch, sets or None)
    return build_graph(graph, train_only, device)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_buffers(model: nn.Module) -> int:
    """Batch-norm running mean and variance (``num_batches_tracked`` is bookkeeping, not counted)."""
    return sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
