"""The IR: a list of nodes in topological order, each with its op, attributes, inputs,
per-sample output shape, per-sample cost and the spec position it came from."""

from __future__ import annotations

from .errors import Pos
from .ops.base import Cost

# Plain classes, not dataclasses: `dataclasses` imports `inspect`, which alone costs more
# start-up time than the whole analysis of a mid-size model (see docs/benchmarks.md).


class Node:
    __slots__ = (
        "attrs",
        "block",
        "cost",
        "group",
        "index",
        "inputs",
        "name",
        "op",
        "pos",
        "shape",
        "train_only",
    )

    def __init__(
        self,
        index: int,
        name: str,
        op: str,
        attrs: dict,
        inputs: tuple,
        shape: tuple,
        cost: Cost,
        pos: Pos | None = None,
        group: str | None = None,
        block: str | None = None,
        train_only: bool = False,
    ):
        self.index = index
        self.name = name
        self.op = op
        self.attrs = attrs  # the op's normalised attributes (Op.normalize): what cost, build and views read
        self.inputs = inputs  # indices of input nodes; -1 is the model input
        self.shape = shape
        self.cost = cost
        self.pos = pos
        self.group = group  # outermost block instance or named group (for --collapse)
        self.block = block  # the block (or `seq`) the group instantiates
        self.train_only = train_only

    def __repr__(self) -> str:
        return f"Node({self.index}, {self.name!r}, {self.op!r}, shape={self.shape})"


class Graph:
    def __init__(
        self,
        name: str,
        input: tuple,
        nodes: list | None = None,
        output: int = -1,
        published: dict | None = None,
        description: str = "",
        source: str = "",
        variant: str | None = None,
        batch: int = 1,
        groups: dict | None = None,
        collapse: bool = False,
        budget: dict | None = None,
    ):
        self.name = name
        self.input = input
        self.nodes = [] if nodes is None else nodes
        self.output = output
        #: published figures: "" for the model, otherwise a node or group name -> figures
        self.published = {} if published is None else published
        self.description = description
        self.source = source  # the spec file
        self.variant = variant
        self.batch = batch
        self.groups = {} if groups is None else groups  # group name -> block name
        self.collapse = collapse  # the spec's `collapse:` display default for `report`
        #: `budget:` limits: name -> (Figure, Pos), macs per sample
        self.budget = {} if budget is None else budget
        #: the spec's `outputs:` as (name, node index) pairs; empty: the one output is the last
        #: layer's (`output`). When given, `output` is the first of them.
        self.outputs: list = []
        #: why this is not the model its published figures describe (--input, --set; set by
        #: flopcount.catalog): the figures are then shown, not compared
        self.not_as_published: list = []

    def output_nodes(self) -> list:
        """Node indices of the model's outputs (-1: the input itself)."""
        return [i for _, i in self.outputs] if self.outputs else [self.output]

    def unreached(self) -> list:
        """Nodes (not training-only) from which no output can be reached: torch runs them (they
        are counted), but nothing the model returns depends on them."""
        live = set()
        todo = [i for i in self.output_nodes() if i >= 0]
        while todo:
            i = todo.pop()
            if i in live:
                continue
            live.add(i)
            todo.extend(j for j in self.nodes[i].inputs if j >= 0 and j not in live)
        return [n for n in self.nodes if not n.train_only and n.index not in live]
