"""A Python layer with parameters of its own, for the Python layer's parity test: it runs
under real pycaffe (base class caffe.Layer) and under the engine (caffe_compat.PythonLayer).

``Affine``: ``y = k * (a * x + b)`` per channel (axis 1), ``k = float(param_str)``; ``a`` and
``b`` are its two blobs (initialised in setup); backward writes dx, da and db."""
import numpy as np

try:
    from caffe_compat import PythonLayer as _Base
except ImportError:            # real pycaffe
    import caffe
    _Base = caffe.Layer


class Affine(_Base):
    def setup(self, bottom, top):
        self.k = float(self.param_str)
        channels = bottom[0].data.shape[1]
        self.blobs.add_blob(channels)
        self.blobs.add_blob(channels)
        self.blobs[0].data[...] = np.linspace(0.5, 1.5, channels)
        self.blobs[1].data[...] = np.linspace(-0.2, 0.2, channels)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def _view(self, blob, ndim):
        return blob.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, bottom, top):
        x = bottom[0].data
        a, b = (self._view(blob.data, x.ndim) for blob in self.blobs)
        top[0].data[...] = self.k * (a * x + b)

    def backward(self, top, propagate_down, bottom):
        x, dy = bottom[0].data, top[0].diff
        axes = (0,) + tuple(range(2, x.ndim))
        self.blobs[0].diff[...] = self.k * (dy * x).sum(axis=axes)
        self.blobs[1].diff[...] = self.k * dy.sum(axis=axes)
        if propagate_down[0]:
            bottom[0].diff[...] = self.k * self._view(self.blobs[0].data, x.ndim) * dy
