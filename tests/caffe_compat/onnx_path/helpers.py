"""Running one net both ways: the torch-free path of caffe_compat.dnn (``caffe_compat.onnx_path``)
and caffe_compat.Net's exact forward (the reference), on the same seeded caffemodel."""
import contextlib

import numpy as np

from caffe_compat import onnx_path as lite


@contextlib.contextmanager
def lite_mode(value):
    saved = lite.MODE
    lite.MODE = value
    try:
        yield
    finally:
        lite.MODE = saved


def seeded_model(text, seed=0):
    """The caffemodel bytes of ``text`` with seeded weights (He-uniform, BatchNorm variances
    positive with factor 1, Scale near 1: tests/caffe_compat/opencv_fixtures/nets.py)."""
    from caffe_compat import Net
    from caffe_compat.io.caffemodel import caffemodel_bytes
    from tests.caffe_compat.opencv_fixtures.nets import fill_weights
    net = Net(text, phase="test", seed=seed)
    fill_weights(net, seed)
    return caffemodel_bytes(net.to_proto())


def exact(text, model, feed, blobs, tmp_path):
    """caffe_compat.Net's forward (torch, Caffe's rules): {blob: float32 array}."""
    from caffe_compat import Net
    proto, weights = tmp_path / "ref.prototxt", tmp_path / "ref.caffemodel"
    proto.write_text(text)
    weights.write_bytes(model)
    net = Net(str(proto), str(weights), phase="test")
    out = net.forward(blobs=list(blobs), **feed)
    return {b: out[b].detach().numpy().astype(np.float32) for b in blobs}


def torch_free(text, model, feed, layer_names):
    """The torch-free forward through caffe_compat.dnn: (outputs in order, the dnn Net)."""
    from caffe_compat import dnn
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model)
        for name, x in feed.items():
            net.setInput(x, name)
        got = net.forward(list(layer_names))
    assert net._torch_free is not None, "the net left the torch-free path"
    return list(got), net


def scaled_error(a, b):
    """max |a - b| / max |b| (the engines' trust measure, docs/engines.md)."""
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(a.astype(np.float64) - b).max()) / scale
