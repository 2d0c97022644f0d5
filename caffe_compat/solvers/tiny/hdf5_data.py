"""The HDF5Data layer in the compiled training loop (:mod:`caffe_compat.solvers.tiny_solve`)."""
from __future__ import annotations

import numpy as np

from .program import Refused, emitter


@emitter("HDF5Data")
class _HDF5Data:
    """Caffe's HDF5DataLayer serving rows from a file held in memory, in file order (the fast
    branch of ``HDF5Source.next_batch``); the loop stops before a batch that would reach the
    end of the file, which Python serves (it opens the next file)."""

    def forward(self, prog, i, node, module):
        src = module.source
        if src.shuffle or src.count != 1:
            raise Refused("shuffled or sharded HDF5 data")
        slot, batch = prog.hdf5_source(src)
        for k, top in enumerate(node.tops):
            row = int(np.prod(src.row_shapes[k], dtype=np.int64))
            out = prog.scratch(batch * row)
            prog.op("DATA", prog.hdf5_rows(src, k), slot, row, out, batch)
            prog.data[top] = out
            prog.shape[top] = (batch,) + tuple(src.row_shapes[k])

    def backward(self, prog, i, node, module, wanted, want_params):
        pass
