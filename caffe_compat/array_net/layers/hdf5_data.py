"""HDF5Data: each top is the dataset of the same name in the ``.h5`` files listed in
``hdf5_data_param.source``, ``batch_size`` rows per forward, in file order and wrapping to the
first file's first row (Caffe 1.0's HDF5DataLayer with ``shuffle`` off, which draws nothing
from Caffe's stream). The rows come from :class:`caffe_compat.data.hdf5.HDF5Source`, the reader
the torch engine's layer uses, so both engines serve the same batches and keep the same read
position. ``shuffle`` is not run here (the torch engine runs it)."""
from ...data.hdf5 import HDF5Source
from ...rules.fields import declare
from ..registry import register
from .base import NoDiffLayer, need

# shuffle draws from Caffe's stream: the torch engine's
declare("array", "HDF5Data", "HDF5DataParameter", {"source", "batch_size"}, refuses={"shuffle"})


@register("HDF5Data")
class HDF5Data(NoDiffLayer):
    is_data = True

    def __init__(self, param, bottom_shapes, phase):
        super().__init__(param, bottom_shapes, phase)
        hp = param.hdf5_data_param
        need(not bottom_shapes and len(param.top) >= 1, "HDF5Data tops")
        need(not hp.shuffle and not param.HasField("transform_param"), "HDF5Data as it is")
        source = hp.source
        need(bool(source), "HDF5Data source")
        self.source = HDF5Source(source, list(param.top), hp.batch_size, False,
                                 where=f"layer '{param.name}' (source {source})")

    def realize(self, rng):
        """Nothing to draw: Caffe's HDF5DataLayer takes no seed without ``shuffle``."""

    def top_shapes(self, bottom_shapes):
        return [(self.source.batch_size,) + tuple(s) for s in self.source.row_shapes]

    def produce(self):
        """The next ``batch_size`` rows of every top (float32 arrays)."""
        return self.source.next_batch()

    def close(self):
        self.source.close()
