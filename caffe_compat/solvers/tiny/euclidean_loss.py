"""The EuclideanLoss layer in the compiled training loop
(:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from .program import Refused, emitter


@emitter("EuclideanLoss")
class _EuclideanLoss:
    """EuclideanLoss: ``sum((a - b)^2) / N / 2``; backward the chain autograd runs for that
    expression: ``g / 2 / N`` times the difference, twice (``d * d``), negated for ``b``."""

    def forward(self, prog, i, node, module):
        a_name, b_name = node.bottoms
        sa, sb = prog.shape[a_name], prog.shape[b_name]
        n = sa[0] if len(sa) else 0
        count = int(np.prod(sa, dtype=np.int64))
        if not n or count != int(np.prod(sb, dtype=np.int64)) or len(node.tops) != 1:
            raise Refused("EuclideanLoss shapes")
        d, sq, loss = prog.scratch(count), prog.scratch(count), prog.scratch(1)
        prog.op("EUCLID_FWD", prog.data[a_name], prog.data[b_name], d, sq, loss, n,
                count // n)
        prog.check("sum", (count,))
        top, = node.tops
        prog.data[top] = loss
        prog.shape[top] = ()
        prog.saved[i] = (d, n, count, sa, sb)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not any(wanted):
            return
        d, n, count, sa, sb = prog.saved[i]
        dloss = prog.top_diff(node.tops[0])
        da = prog.scratch(count) if wanted[0] else -1
        db = prog.scratch(count) if wanted[1] else -1
        prog.op("EUCLID_BWD", d, dloss, da, db, n, count // n)
        for name, buf in zip(node.bottoms, (da, db)):
            if buf >= 0:
                prog.diff[name] = buf
