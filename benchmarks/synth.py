"""Synthetic specs of any size, for the scale benchmark (and for anyone who wants a big spec).

Three shapes of network, each sized by the number of graph nodes (leaf layers and merges):

* ``chain``: N convs in a row, written out one per line (``conv3-64``, ``conv3-96``, ...):
  the spec file itself grows with N, so reading the YAML is measured too;
* ``residual``: N/3 residual blocks (conv, conv, add with an identity shortcut), one block
  definition instantiated with ``repeat:``: expansion without a big file;
* ``inception``: N/8 Inception modules (four branches: 1x1; 1x1 then 3x3; 1x1 then 5x5;
  3x3 max pool then 1x1; then the concat: 8 nodes), one line per module with its own widths
  and name: many block instances, many scoped names.

    python benchmarks/synth.py chain 10000 > chain10k.yaml
"""

from __future__ import annotations

import sys

KINDS = ("chain", "residual", "inception")
NODES_PER_UNIT = {"chain": 1, "residual": 3, "inception": 8}


def spec_text(kind: str, nodes: int) -> str:
    """The YAML text of a ``kind`` network with about ``nodes`` nodes (exactly, when divisible)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    units = max(1, nodes // NODES_PER_UNIT[kind])
    return globals()["_" + kind](units)


def _chain(n: int) -> str:
    widths = (64, 96, 128, 96)
    lines = [
        "flopcount: 1",
        f"name: chain-{n}",
        f"description: {n} 3x3 convs in a row",
        "input: [64, 16, 16]",
        "layers:",
    ]
    lines += [f"  - conv3-{widths[i % 4]}" for i in range(n)]
    return "\n".join(lines) + "\n"


def _residual(n: int) -> str:
    return f"""flopcount: 1
name: residual-{n}
description: {n} residual blocks (conv3, conv3, identity add)
input: [64, 16, 16]
defaults:
  conv: {{bias: false, bn: true}}
blocks:
  res:
    params: {{c: null}}
    body:
      - op: add
        name: add
        paths:
          main: [{{op: conv, name: conv1, c: $c, act: relu}}, {{op: conv, name: conv2, c: $c}}]
          shortcut: []
layers:
  - {{op: res, name: block, c: 64, repeat: {n}}}
"""


def _inception(n: int) -> str:
    head = f"""flopcount: 1
name: inception-{n}
description: {n} Inception modules with dimension reduction
input: [256, 14, 14]
defaults:
  conv: {{act: relu}}
blocks:
  inception:
    params: {{c1: null, c3r: null, c3: null, c5r: null, c5: null, pp: null}}
    body:
      - op: concat
        name: concat
        paths:
          b1: [{{op: conv, name: conv, k: 1, c: $c1}}]
          b2: [{{op: conv, name: reduce, k: 1, c: $c3r}}, {{op: conv, name: conv, k: 3, c: $c3}}]
          b3: [{{op: conv, name: reduce, k: 1, c: $c5r}}, {{op: conv, name: conv, k: 5, c: $c5}}]
          b4: [{{op: maxpool, name: pool, k: 3, s: 1, p: 1}}, {{op: conv, name: proj, k: 1, c: $pp}}]
layers:
"""
    # the widths cycle so that every module's output has 256 channels (64 + 128 + 32 + 32)
    rows = [
        f"  - {{op: inception, name: m{i}, c1: 64, c3r: {96 + 8 * (i % 4)}, c3: 128, "
        f"c5r: {16 + 4 * (i % 3)}, c5: 32, pp: 32}}"
        for i in range(n)
    ]
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: python {sys.argv[0]} {{{'|'.join(KINDS)}}} NODES")
    sys.stdout.write(spec_text(sys.argv[1], int(sys.argv[2])))
