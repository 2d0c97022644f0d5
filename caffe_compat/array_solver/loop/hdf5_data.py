"""HDF5Data in the array engine's compiled loop."""
from __future__ import annotations

from ...rules.fields import declare
from .program import Refused, emitter

declare("array-loop", "HDF5Data", "HDF5DataParameter", {"source", "batch_size"},
        refuses={"shuffle"})


@emitter("HDF5Data")
class _HDF5Data:
    """The next rows of a file held in memory, in file order (HDF5Source.next_batch's fast
    branch), copied into the tops' arrays as ArrayNet.forward_layer copies them; the loop
    stops before a batch that would reach the end of the file, which Python serves (it opens
    the next file)."""

    def forward(self, prog, i, node, layer):
        src = layer.source
        if src.shuffle or src.count != 1:
            raise Refused("shuffled or sharded HDF5 data")
        slot, batch = prog.hdf5_source(src)
        for k, top in enumerate(node.tops):
            row = prog.count(top) // batch
            if prog.shape(top)[0] != batch or row * batch != prog.count(top):
                raise Refused("HDF5Data top shape")
            prog.op("DATA", prog.hdf5_rows(src, k), slot, row, prog.data(top), batch)

    def backward(self, prog, i, node, layer, bottom_need, param_need):
        pass
