"""HDF5Output: writes its two bottoms to ``hdf5_output_param.file_name`` (Caffe's
HDF5OutputLayer).

Caffe's rule: set-up creates the file (truncating an existing one); a forward stores bottom 0
as dataset "data" and bottom 1 as dataset "label", each as a 4-axis (N, C, H, W) array of the
net's float type (blobs of fewer axes padded with 1s, as Caffe's legacy shape accessors do; more
than 4 axes are refused), both with the same N. Caffe creates the datasets in the open file, so
only the first forward of a net can write: a second one aborts in Caffe (the datasets exist)
and is an error naming the layer here. No tops and no backward.

Atomic writes: the file is written under a temporary name beside it and renamed, so that at any
time ``file_name`` is either the empty HDF5 file of the set-up or the complete file holding both
datasets; an interrupted write leaves the empty file and no partial one. (Caffe's file is
complete only once the net is destroyed and HDF5 flushes it.)
"""
import numpy as np

from ..io.atomic import atomic_path
from .base import Layer
from .registry import register_layer
from ..rules.fields import declare

declare("torch", "HDF5Output", "HDF5OutputParameter", {"file_name"})


@register_layer("HDF5Output")
class HDF5Output(Layer):
    exact_bottoms = 2
    exact_tops = 0

    def __init__(self, param, bottom_shapes, phase="TEST"):
        super().__init__(param, bottom_shapes, phase)
        self.file_name = param.hdf5_output_param.file_name
        if not self.file_name:
            self.fail("hdf5_output_param.file_name is empty")
        self.top_shapes(self.bottom_shapes)
        self._write({})
        self.written = False

    def _write(self, datasets):
        import h5py    # on first use (importing h5py costs ~0.2 s)
        try:
            with atomic_path(self.file_name, suffix=".h5") as tmp:
                with h5py.File(tmp, "w") as f:
                    for name, arr in datasets.items():
                        f.create_dataset(name, data=arr)
        except OSError as exc:
            self.fail(f"cannot write the HDF5 file '{self.file_name}': {exc}")

    def top_shapes(self, bottom_shapes):
        for k, shape in enumerate(bottom_shapes):
            if len(shape) > 4:
                self.fail(f"bottom {k} has {len(shape)} axes (shape {tuple(shape)}); Caffe "
                          "writes (N, C, H, W) datasets and refuses more than 4 axes")
        a, b = (tuple(s) + (1,) * (4 - len(s)) for s in bottom_shapes)
        if a[0] != b[0]:
            self.fail(f"data and label must have the same number of items, got shapes "
                      f"{tuple(bottom_shapes[0])} and {tuple(bottom_shapes[1])}")
        return []

    def forward(self, data, label):
        self.top_shapes([data.shape, label.shape])
        if self.written:
            self.fail(f"'{self.file_name}' already holds the batch of an earlier forward: "
                      "Caffe's HDF5Output writes one batch per net (its second forward aborts "
                      "because the datasets exist); build a new net, or use another file_name, "
                      "for each batch")
        arrays = [t.detach().cpu().numpy() for t in (data, label)]
        self._write({name: np.ascontiguousarray(a.reshape(a.shape + (1,) * (4 - a.ndim)))
                     for name, a in zip(("data", "label"), arrays)})
        self.written = True
        return ()
