"""The Split layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from .program import Refused, emitter


@emitter("Split")
class _Split:
    """Split's tops share the bottom's value; backward the first diff, or the sum of two."""

    def forward(self, prog, i, node, module):
        if len(node.tops) > 2:
            raise Refused("Split with more than two tops")
        x_name, = node.bottoms
        for top in node.tops:
            prog.data[top] = prog.data[x_name]
            prog.shape[top] = prog.shape[x_name]

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        count = int(np.prod(prog.shape[node.bottoms[0]], dtype=np.int64))
        diffs = [prog.top_diff(t) for t in node.tops]
        out = prog.scratch(count)
        if len(diffs) == 1:
            prog.op("COPY", diffs[0], out, count)
        else:
            prog.op("ADD", diffs[0], diffs[1], out, count)
        prog.diff[node.bottoms[0]] = out
