"""Python layers used by the tests, written as pycaffe users write them (``caffe.Layer``)."""
import numpy as np

import caffe


class TimesTen(caffe.Layer):
    """Multiplies by ten; backward multiplies the diff by ten."""

    factor = 10.0

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        np.multiply(bottom[0].data, self.factor, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        np.multiply(top[0].diff, self.factor, out=bottom[0].diff)


class FailingSetup(caffe.Layer):
    def setup(self, bottom, top):
        raise RuntimeError("this layer refuses to be set up")


class OwnParameter(caffe.Layer):
    """One parameter of its own: zero at setup, its diff set to one by backward."""

    def setup(self, bottom, top):
        weight = self.blobs.add_blob(1) or self.blobs[0]
        weight.data[...] = 0.0

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        pass                        # the top is left as reshape made it

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] = 1.0


class ReshapedWeights(caffe.Layer):
    """A weighted sum of the bottoms whose weights are sized in setup (``add_blob(1)``, then
    ``reshape``, as a public multi-task loss layer does) and flattened in forward and
    backward (as a public bilinear layer does)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(1)
        self.blobs[0].reshape(2 * len(bottom))
        self.blobs[0].data[...] = np.arange(1, 2 * len(bottom) + 1)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        self.blobs[0].reshape(len(bottom), 2)
        w = self.blobs[0].data[:, 0]
        self.blobs[0].reshape(2 * len(bottom))
        top[0].data[...] = sum(w[i] * bottom[i].data for i in range(len(bottom)))

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].reshape(len(bottom), 2)
        for i in range(len(bottom)):
            self.blobs[0].diff[i, 0] += (top[0].diff * bottom[i].data).sum()
        self.blobs[0].reshape(2 * len(bottom))


class PhaseOut(caffe.Layer):
    """Writes the net's phase into a scalar top."""

    def reshape(self, bottom, top):
        top[0].reshape()

    def forward(self, bottom, top):
        top[0].data[()] = self.phase


class ScaleByParamStr(caffe.Layer):
    """Multiplies by the number in param_str."""

    def setup(self, bottom, top):
        text = self.param_str.strip()
        try:
            self.factor = float(text)
        except ValueError:
            raise ValueError(f"ScaleByParamStr reads a number from param_str, got {text!r}") \
                from None

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        np.multiply(bottom[0].data, self.factor, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        np.multiply(top[0].diff, self.factor, out=bottom[0].diff)


class EuclideanLossLayer(caffe.Layer):
    """Caffe's EuclideanLoss written as a Python layer, the way users port a loss:
    ``sum((a - b)^2) / (2 N)``, N the first axis."""

    def setup(self, bottom, top):
        if len(bottom) != 2:
            raise ValueError(f"EuclideanLossLayer compares two bottoms, got {len(bottom)}")

    def reshape(self, bottom, top):
        a, b = bottom
        if a.count != b.count:
            raise ValueError(f"EuclideanLossLayer: bottoms of {a.count} and {b.count} values")
        self.residual = np.zeros(a.data.shape, np.float32)
        top[0].reshape(1)

    def forward(self, bottom, top):
        np.subtract(bottom[0].data, bottom[1].data, out=self.residual)
        top[0].data[...] = np.sum(self.residual ** 2) / bottom[0].num / 2.

    def backward(self, top, propagate_down, bottom):
        for blob, wanted, sign in zip(bottom, propagate_down, (1.0, -1.0)):
            if wanted:
                blob.diff[...] = sign * self.residual / blob.num


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
