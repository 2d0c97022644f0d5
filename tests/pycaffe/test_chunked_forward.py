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
    chunked._net.inference_chunk = 8      # both on torch (the array engine takes this net
    whole._net.inference_chunk = 0        # too): its chunked forward is what is tested
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
        assert chunked.blobs[name].data.shape[0] == BATCH


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


INCEPTION_LIKE = """
input: "data" input_shape { dim: 3 dim: 3 dim: 32 dim: 32 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "norm1" type: "LRN" bottom: "pool1" top: "norm1"
  lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layer { name: "a" type: "Convolution" bottom: "norm1" top: "a"
  convolution_param { num_output: 8 kernel_size: 1 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu_a" type: "ReLU" bottom: "a" top: "a" }
layer { name: "b" type: "Pooling" bottom: "norm1" top: "b"
  pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
layer { name: "fc" type: "InnerProduct" bottom: "cat" top: "fc"
  inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.1 } } }
"""


def test_one_pass_inference_runs_the_engines_forms_with_c_contiguous_blobs(tmp_path):
    """A net that is not run in chunks (InnerProduct over all axes): caffe.Net's inference pass
    runs the layers as the engine's inference forward does (fused convolution + ReLU,
    channels-last pooling, LRN and concat), and every blob read through pycaffe is a
    C-contiguous array."""
    import torch
    import caffe_compat
    path = tmp_path / "net.prototxt"
    path.write_text(INCEPTION_LIKE)
    caffe.set_random_seed(5)
    net = caffe.Net(str(path), caffe.TEST)
    engine = caffe_compat.Net(str(path), phase="test")
    engine.load_caffe_state_dict(net._net.caffe_state_dict())
    x = np.random.RandomState(1).rand(3, 3, 32, 32).astype(np.float32)
    net.blobs["data"].data[...] = x
    out = net.forward()["fc"].copy()
    with torch.no_grad():
        ref = engine.forward(data=torch.from_numpy(x))["fc"].numpy()
    # tolerance 0: the same callables on the same float32 values
    np.testing.assert_array_equal(out, ref)
    for name in net.blobs:
        assert net.blobs[name].data.flags["C_CONTIGUOUS"], name
    # against the layers' own forward (the fast path off): LRN's fast form is a few float32
    # roundings apart, 1e-5 of the output's scale
    caffe.set_random_seed(5)
    plain = caffe.Net(str(path), caffe.TEST)
    plain._net.fast_inference = False
    plain.blobs["data"].data[...] = x
    slow = plain.forward()["fc"]
    assert np.abs(out - slow).max() <= 1e-5 * np.abs(slow).max()
    for name in net.blobs:
        a, b = net.blobs[name].data, plain.blobs[name].data
        assert np.abs(a - b).max() <= 1e-5 * max(np.abs(b).max(), 1e-30), name
