"""The IR: a list of nodes in topological order, each with its op, attributes, inputs,
per-sample output shape, per-sample cost and the spec position it came from."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Pos
from .ops.base import Cost


@dataclass(slots=True)
class Node:
    index: int
    name: str
    op: str
    attrs: dict
    inputs: tuple  # indices of input nodes; -1 is the model input
    shape: tuple
    cost: Cost
    pos: Pos | None = None
    group: str | None = None  # outermost block instance or named group (for --collapse)
    block: str | None = None  # the block (or `seq`) the group instantiates
    train_only: bool = False


@dataclass
class Graph:
    name: str
    input: tuple
    nodes: list = field(default_factory=list)
    output: int = -1
    #: published figures: "" for the model, otherwise a node or group name -> figures
    published: dict = field(default_factory=dict)
    description: str = ""
    source: str = ""  # the spec file
    variant: str | None = None
    batch: int = 1
    groups: dict = field(default_factory=dict)  # group name -> block name
    collapse: bool = False  # the spec's `collapse:` display default for `report`
    budget: dict = field(default_factory=dict)  # `budget:` limits: name -> (Figure, Pos), macs per sample
