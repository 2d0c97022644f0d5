"""``caffe_compat.dnn.Layer``: what ``Net.getLayer`` returns, with OpenCV 4's ``cv2.dnn.Layer``
rules (checked against OpenCV 4.14):

* ``name``, ``type`` (the Caffe type; ``""`` for the input layer ``_input``);
* ``blobs``: the layer's parameters, float32, in OpenCV's shapes (:func:`opencv_blob_shape`);
  assigning a list sets the layer's weights in the net (OpenCV 4: ``net.getLayer(id).blobs =
  [...]``, as colorization programs load their cluster centres); each new blob must hold as
  many values as the one it replaces; a Convolution, Deconvolution, InnerProduct or Scale given
  its weights alone runs without its bias (OpenCV drops the bias blob; here it becomes zero);
  the shapes given are the shapes ``blobs`` reports afterwards, as in OpenCV;
* ``outputNameToIndex(name)``: the input layer answers a net input's index (-1 for a name that
  is not an input); every other layer answers 0, as OpenCV 4's base ``Layer`` does;
* ``preferableTarget``: the net's target (``DNN_TARGET_*``)."""
from __future__ import annotations

import numpy as np


def opencv_blob_shape(layer_type, index, shape):
    """The shape OpenCV gives a Caffe parameter blob (``Layer.blobs``): an InnerProduct bias
    is a row (1 x n), any other 1-D blob a column (n x 1)."""
    shape = tuple(int(d) for d in shape)
    if layer_type == "InnerProduct" and index == 1:
        return (1, int(np.prod(shape)))
    if len(shape) == 1:
        return (shape[0], 1)
    return (1, 1) if len(shape) == 0 else shape


class Layer:
    """One layer of a :class:`~caffe_compat.dnn.net.Net` (see the module docstring)."""

    def __init__(self, net, layer_id, name, type_):
        self._net = net
        self._id = layer_id
        self.name = name
        self.type = type_

    @property
    def blobs(self):
        """The layer's parameter blobs (copies), as a tuple of float32 arrays."""
        return self._net._layer_blobs(self._id)

    @blobs.setter
    def blobs(self, values):
        self._net._set_layer_blobs(self._id, list(values))

    @property
    def preferableTarget(self):
        return self._net._target

    def outputNameToIndex(self, outputName):
        """The input layer: the index of net input ``outputName`` (-1 if it is not one); any
        other layer: 0 (OpenCV 4's ``Layer::outputNameToIndex``)."""
        if self._id == 0:
            inputs = self._net.input_names()
            return inputs.index(outputName) if outputName in inputs else -1
        return 0

    def __repr__(self):
        return f"<caffe_compat.dnn.Layer {self.name!r} ({self.type})>"
