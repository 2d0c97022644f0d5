"""Python layers used by the tests, written as pycaffe users write them (``caffe.Layer``)."""
import numpy as np

import caffe


class TimesTen(caffe.Layer):
    """Multiplies by ten; backward multiplies the diff by ten."""

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = 10 * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = 10 * top[0].diff


class FailingSetup(caffe.Layer):
    def setup(self, bottom, top):
        raise RuntimeError("this layer refuses to be set up")


class OwnParameter(caffe.Layer):
    """One parameter of its own: zero at setup, its diff set to one by backward."""

    def setup(self, bottom, top):
        self.blobs.add_blob(1)
        self.blobs[0].data[0] = 0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        pass

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[0] = 1


class PhaseOut(caffe.Layer):
    """Writes the net's phase into a scalar top."""

    def reshape(self, bottom, top):
        top[0].reshape()

    def forward(self, bottom, top):
        top[0].data[()] = self.phase


class ScaleByParamStr(caffe.Layer):
    """Multiplies by the number in param_str."""

    def setup(self, bottom, top):
        try:
            self.value = float(self.param_str)
        except ValueError:
            raise ValueError("param_str must be a number") from None

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.value * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = self.value * top[0].diff


class EuclideanLossLayer(caffe.Layer):
    """Caffe's EuclideanLoss in Python, as in Caffe's examples: sum((a - b)^2) / (2 N)."""

    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise Exception("Need two inputs to compute distance.")

    def reshape(self, bottom, top):
        if bottom[0].count != bottom[1].count:
            raise Exception("Inputs must have the same dimension.")
        self.diff = np.zeros_like(bottom[0].data, dtype=np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        self.diff[...] = bottom[0].data - bottom[1].data
        top[0].data[...] = np.sum(self.diff ** 2) / bottom[0].num / 2.

    def backward(self, top, propagate_down, bottom):
        for i in range(2):
            if not propagate_down[i]:
                continue
            sign = 1 if i == 0 else -1
            bottom[i].diff[...] = sign * self.diff / bottom[i].num


class BatchFeeder(caffe.Layer):
    """A data layer in the style of pascal_multilabel_datalayers.py: batches from param_str
    (a dict literal with batch_size, dim and seed), drawn from a seeded stream."""

    def setup(self, bottom, top):
        import ast
        params = ast.literal_eval(self.param_str)
        self.batch_size = params["batch_size"]
        self.dim = params["dim"]
        self.rng = np.random.RandomState(params["seed"])
        self.weights = np.linspace(-1, 1, self.dim).astype(np.float32)

    def reshape(self, bottom, top):
        top[0].reshape(self.batch_size, self.dim)
        top[1].reshape(self.batch_size, 1)

    def forward(self, bottom, top):
        x = self.rng.randn(self.batch_size, self.dim).astype(np.float32)
        top[0].data[...] = x
        top[1].data[...] = (x @ self.weights)[:, None] + 0.5

    def backward(self, top, propagate_down, bottom):
        pass


class GaussianData(caffe.Layer):
    """DummyData's behaviour for two tops: ``data`` refilled from a Gaussian at every
    forward, ``label`` left as it is (a constant filler is applied once, at setup)."""

    def setup(self, bottom, top):
        self.rng = np.random.RandomState(int(self.param_str or 0))

    def reshape(self, bottom, top):
        top[0].reshape(5, 2, 3, 4)
        top[1].reshape(5, 1, 1, 1)

    def forward(self, bottom, top):
        top[0].data[...] = self.rng.randn(*top[0].data.shape)
