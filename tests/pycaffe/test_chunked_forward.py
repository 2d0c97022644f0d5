"""caffe.Net's inference forward in item chunks (the engine's ``inference_chunk``): the same
bits as one pass, every blob readable afterwards, views of blobs still aliasing them."""
import os

import numpy as np

import caffe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNND = os.path.join(REPO, "prototxt", "cnnd_deploy.prototxt")
BATCH = 20          # 8 + 8 + 4: a short last chunk


def _pair():
    caffe.set_random_seed(3)
    chunked = caffe.Net(CNND, caffe.TEST)
    caffe.set_random_seed(3)
    whole = caffe.Net(CNND, caffe.TEST)
    whole._net.inference_chunk = 0
    x = np.random.RandomState(0).rand(BATCH, 1, 96, 96).astype(np.float32)
    for n in (chunked, whole):
        n.blobs["data"].reshape(BATCH, 1, 96, 96)
        n.blobs["data"].data[...] = x
    return chunked, whole


def test_chunked_forward_is_bit_identical_and_keeps_every_blob():
    chunked, whole = _pair()
    assert chunked._store._chunking(0, len(chunked._net._nodes) - 1)[0] == 8
    out_c, out_w = chunked.forward(), whole.forward()
    # tolerance 0: the same products per item, only the rows are split into chunks
    np.testing.assert_array_equal(out_c["fc5"], out_w["fc5"])
    for name in chunked.blobs:
        np.testing.assert_array_equal(chunked.blobs[name].data, whole.blobs[name].data,
                                      err_msg=name)
        assert chunked.blobs[name].data.shape[0] == (1 if name == "label" else BATCH)


def test_views_taken_before_alias_the_chunked_results():
    chunked, whole = _pair()
    chunked.forward()
    conv2 = chunked.blobs["conv2"].data          # handed out after a forward at this batch
    out = chunked.blobs["fc5"].data
    chunked.blobs["data"].data[...] *= 0.5
    whole.blobs["data"].data[...] *= 0.5
    chunked.forward()
    whole.forward()
    np.testing.assert_array_equal(conv2, whole.blobs["conv2"].data)
    np.testing.assert_array_equal(out, whole.blobs["fc5"].data)
    # a write into an input view is what the next chunked forward reads
    chunked.blobs["data"].data[...] = 0
    whole.blobs["data"].data[...] = 0
    np.testing.assert_array_equal(chunked.forward()["fc5"], whole.forward()["fc5"])
    np.testing.assert_array_equal(conv2, whole.blobs["conv2"].data)


def test_partial_range_writes_in_place_as_caffe():
    chunked, whole = _pair()
    chunked.forward()
    whole.forward()
    # ReLU runs in place on conv1 (Caffe's deploy file): rerun from it on a changed conv1
    for n in (chunked, whole):
        n.blobs["conv1"].data[...] = -1.0
        n.forward(start="relu1")
    np.testing.assert_array_equal(chunked.blobs["conv1"].data, 0)
    np.testing.assert_array_equal(chunked.blobs["fc5"].data, whole.blobs["fc5"].data)


def test_training_net_is_not_chunked():
    caffe.set_random_seed(3)
    net = caffe.Net(CNND, caffe.TEST)
    net.blobs["data"].reshape(BATCH, 1, 96, 96)
    store = net._store
    assert store._chunking(0, len(net._net._nodes) - 1)[0] == 8
    net._net.inference_chunk = 0
    assert store._chunking(0, len(net._net._nodes) - 1) is None
    net._net.inference_chunk = 8
    net.blobs["data"].reshape(8, 1, 96, 96)           # one chunk: one pass
    assert store._chunking(0, len(net._net._nodes) - 1) is None


def test_a_net_that_keeps_graphs_runs_one_pass(net_file):
    # force_backward: every layer keeps its graph for the backward, so no chunks; the
    # gradients are those of a net whose chunking is off
    text = open(CNND).read().replace('name: "', 'force_backward: true\nname: "', 1)
    grads = []
    for chunk in (8, 0):
        caffe.set_random_seed(3)
        net = caffe.Net(net_file(text), caffe.TEST)
        net._net.inference_chunk = chunk
        net.blobs["data"].reshape(BATCH, 1, 96, 96)
        net.blobs["data"].data[...] = 0.5
        net.forward()
        net.blobs["fc5"].diff[...] = 1
        grads.append(net.backward()["data"].copy())
    assert np.abs(grads[0]).sum() > 0
    np.testing.assert_array_equal(grads[0], grads[1])


def test_weights_written_through_numpy_reach_the_fused_convolutions():
    chunked, whole = _pair()
    chunked.forward()
    for n in (chunked, whole):
        n.params["conv2"][0].data[...] = 0        # pycaffe's net surgery: numpy writes
        n.params["conv2"][1].data[...] = 0.25
    chunked.forward()
    whole.forward()
    np.testing.assert_array_equal(chunked.blobs["conv2"].data, 0.25)
    np.testing.assert_array_equal(chunked.blobs["fc5"].data, whole.blobs["fc5"].data)
