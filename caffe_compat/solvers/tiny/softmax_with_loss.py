"""The SoftmaxWithLoss layer in the compiled training loop
(:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from ...layers._neuron import normalizer
from .program import Refused, emitter


@emitter("SoftmaxWithLoss")
class _SoftmaxWithLoss:
    """SoftmaxWithLoss's explicit calls where every position counts: softmax over the
    classes, ``-sum log(max(p[label], FLT_MIN)) / normalizer``; backward ``(p - onehot) *
    (dloss / normalizer)``. Labels out of range stop the loop before the iteration."""

    def forward(self, prog, i, node, module):
        x_name, label_name = node.bottoms
        shape = prog.shape[x_name]
        if module.ignore_label is not None or module.axis != 1 or len(shape) != 2 or \
                len(node.tops) != 1 or not 1 <= shape[1] < 8:
            raise Refused("SoftmaxWithLoss other than (M, C < 8) without ignore_label")
        m, c = shape
        if int(np.prod(prog.shape[label_name], dtype=np.int64)) != m:
            raise Refused("SoftmaxWithLoss label count")
        norm = normalizer(module.mode, m, 1, m)
        if float(np.float32(norm)) != norm:
            raise Refused("normalizer not a float32 value")
        prob, logs, loss = prog.scratch(m * c), prog.scratch(m), prog.scratch(1)
        prog.op("SMLOSS_FWD", prog.data[x_name], prog.data[label_name], prob, loss, logs, m,
                c, prog.const(-norm))
        prog.check("softmax", (m, c))
        prog.check("log", (m,))
        prog.check("sum", (m,))
        top, = node.tops
        prog.data[top] = loss
        prog.shape[top] = ()
        prog.saved[i] = (prob, prog.data[label_name], m, c, norm)

    def backward(self, prog, i, node, module, wanted, want_params):
        if not wanted[0]:
            return
        prob, label, m, c, norm = prog.saved[i]
        dloss = prog.top_diff(node.tops[0])
        dx = prog.scratch(m * c)
        prog.op("SMLOSS_BWD", prob, label, dloss, dx, m, c, prog.const(norm))
        prog.diff[node.bottoms[0]] = dx
