"""The Input layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

from .program import Refused, emitter


@emitter("Input")
class _Input:
    """Input blobs as they are (pycaffe's programs fill them); refused where a layer writes
    one in place, as the loop keeps each value in its own buffer."""

    def forward(self, prog, i, node, module):
        store = prog.store
        for name in node.tops:
            if any(name in n.tops for n, _, _, _ in store.nodes[i + 1:]):
                raise Refused(f"a layer writes input blob '{name}' in place")
            prog.data[name] = prog.live_ptr(lambda name=name: store.data[name])
            prog.shape[name] = tuple(store.data[name].shape)

    def backward(self, prog, i, node, module, wanted, want_params):
        pass
