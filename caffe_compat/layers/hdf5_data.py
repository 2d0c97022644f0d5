"""HDF5Data: tops read from the ``.h5`` files of ``hdf5_data_param.source`` (Caffe's
HDF5DataLayer): each top is the dataset of the same name, ``batch_size`` rows per forward."""
import torch

from ..parallel import data_parallel as parallel
from ..data.hdf5 import HDF5Source
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "HDF5Data", "HDF5DataParameter", {"source", "batch_size", "shuffle"})


@register_layer("HDF5Data")
class HDF5Data(Layer):
    exact_bottoms = 0
    min_tops = 1
    is_data = True

    def __init__(self, param, bottom_shapes, phase="TEST", sources=None):
        super().__init__(param, bottom_shapes, phase)
        hp = param.hdf5_data_param
        sources = sources or {}
        source = sources.get(param.name, sources.get(hp.source, hp.source))
        if not source or param.HasField("transform_param"):     # Caffe's CHECKs
            self.fail("HDF5Data does not transform data" if source else
                      "hdf5_data_param.source is empty")
        self.source = HDF5Source(source, list(param.top), hp.batch_size, hp.shuffle,
                                 where=f"layer '{param.name}' (source {source})",
                                 shard=parallel.shard(phase))

    def top_shapes(self, bottom_shapes):
        return [(self.source.batch_size,) + s for s in self.source.row_shapes]

    def forward(self):
        tops = [torch.from_numpy(a) for a in self.source.next_batch()]
        return tops[0] if len(tops) == 1 else tuple(tops)
