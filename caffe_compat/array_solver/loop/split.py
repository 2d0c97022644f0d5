"""Split in the array engine's compiled loop."""
from __future__ import annotations

from .program import emitter


@emitter("Split")
class _Split:
    """The tops are the bottom's array (nothing to run); backward the first top's diff
    copied, the others added in order."""

    def forward(self, prog, i, node, layer):
        pass

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        if not bottom_need[0]:
            return
        count = prog.count(node.bottoms[0])
        dx = prog.diff(node.bottoms[0])
        diffs = [prog.diff(t) for t in node.tops]
        prog.op("COPY", diffs[0], dx, count)
        for d in diffs[1:]:
            prog.op("ADD", dx, d, dx, count)
