"""caffe.Net: every behaviour of pycaffe's test_net.py, the blob views' aliasing, batches,
reshapes and weights files."""
import collections
import os

import numpy as np
import pytest

import caffe

# test_net.py's net, fed by a Python data layer with DummyData's behaviour
SIMPLE = """name: 'testnet' force_backward: true
layer { type: 'Python' name: 'data' top: 'data' top: 'label'
  python_param { module: 'tests.pycaffe.pylayers' layer: 'GaussianData' param_str: '1' } }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 11 kernel_size: 2 pad: 3
    weight_filler { type: 'gaussian' std: 1 } bias_filler { type: 'constant' value: 2 } }
  param { decay_mult: 1 } param { decay_mult: 0 } }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip_blob'
  inner_product_param { num_output: 13
    weight_filler { type: 'gaussian' std: 2.5 } bias_filler { type: 'constant' value: -3 } } }
layer { type: 'SoftmaxWithLoss' name: 'loss' bottom: 'ip_blob' bottom: 'label' top: 'loss' }
"""

# float32 products summed in another order than numpy's float64 dot (pycaffe's own check
# uses rtol 1e-3, atol 1e-5)
RTOL, ATOL = 1e-4, 1e-4


@pytest.fixture
def net(net_file):
    n = caffe.Net(net_file(SIMPLE), caffe.TRAIN)
    n.blobs["label"].data[...] = np.random.RandomState(0).randint(13, size=(5, 1, 1, 1))
    return n


def test_blobs_outlive_the_net(net):
    params = [p for ps in net.params.values() for p in ps]
    blobs = list(net.blobs.values())
    net.forward()
    arrays = [(b.data, b.diff) for b in blobs] + [(p.data, p.diff) for p in params]
    del net, blobs, params
    total = sum(float(d.sum()) + float(g.sum()) for d, g in arrays)
    assert np.isfinite(total)


def test_layer_dict(net):
    assert list(net.layer_dict) == list(net._layer_names)
    for i, name in enumerate(net._layer_names):
        assert net.layer_dict[name].type == net.layers[i].type
    assert [layer.type for layer in net.layers] == ["Python", "Convolution", "InnerProduct",
                                                   "SoftmaxWithLoss"]


def test_forward_backward(net):
    out = net.forward()
    assert list(out) == ["loss"] and out["loss"].shape == ()
    net.backward()
    assert np.abs(net.params["conv"][0].diff).max() > 0


def test_forward_start_end(net):
    conv, ip = net.blobs["conv"], net.blobs["ip_blob"]
    conv.data[:] = np.random.RandomState(1).uniform(size=conv.data.shape)
    out = net.forward(start="ip", end="ip")
    assert "ip_blob" in out
    w, b = net.params["ip"][0].data, net.params["ip"][1].data
    expected = np.array([w @ conv.data[i].ravel() + b for i in range(conv.data.shape[0])])
    np.testing.assert_allclose(ip.data, expected, rtol=RTOL, atol=ATOL)


def test_backward_start_end(net):
    conv, ip = net.blobs["conv"], net.blobs["ip_blob"]
    net.forward()
    top_diff = np.random.RandomState(2).uniform(size=ip.data.shape).astype(np.float32)
    ip.diff[:] = top_diff
    out = net.backward(start="ip", end="ip")
    assert "conv" in out
    w = net.params["ip"][0].data
    expected = np.array([w.T @ top_diff[i] for i in range(top_diff.shape[0])])
    np.testing.assert_allclose(conv.diff, expected.reshape(conv.data.shape), rtol=RTOL,
                               atol=ATOL)


def test_clear_param_diffs(net):
    net.forward()
    net.backward()
    diff = net.params["conv"][0].diff
    assert diff.max() > 0
    net.clear_param_diffs()
    assert (diff == 0).all()


def test_param_diffs_accumulate_as_in_caffe(net):
    net.forward()
    net.backward()
    once = net.params["ip"][0].diff.copy()
    net.backward()
    np.testing.assert_allclose(net.params["ip"][0].diff, 2 * once, rtol=1e-6, atol=1e-6)


def test_inputs_outputs(net):
    assert net.inputs == []
    assert net.outputs == ["loss"]


def test_top_bottom_names(net):
    assert net.top_names == collections.OrderedDict(
        [("data", ["data", "label"]), ("conv", ["conv"]), ("ip", ["ip_blob"]),
         ("loss", ["loss"])])
    assert net.bottom_names == collections.OrderedDict(
        [("data", []), ("conv", ["data"]), ("ip", ["conv"]), ("loss", ["ip_blob", "label"])])
    assert net.blob_loss_weights["loss"] == 1.0 and net.blob_loss_weights["conv"] == 0.0
    assert net._blob_names == ["data", "label", "conv", "ip_blob", "loss"]


def _same_params(a, b):
    for name in a.params:
        for i in range(len(a.params[name])):
            assert np.abs(a.params[name][i].data - b.params[name][i].data).sum() == 0


def test_save_and_read(net, net_file, tmp_path):
    path = str(tmp_path / "w.caffemodel")
    net.save(path)
    with pytest.deprecated_call():                                           # legacy form
        _same_params(net, caffe.Net(net_file(SIMPLE), path, caffe.TRAIN))
    _same_params(net, caffe.Net(net_file(SIMPLE), caffe.TRAIN, weights=path))
    other = caffe.Net(net_file(SIMPLE), caffe.TRAIN)
    other.copy_from(path)
    _same_params(net, other)


def test_constructor_forms(net, net_file, tmp_path):
    # pycaffe's Net(network_file, phase, level=0, stages=None, weights=None) by position or by
    # keyword, and the older Net(network_file, weights, phase), positional only
    path = str(tmp_path / "w.caffemodel")
    net.save(path)
    f = net_file(SIMPLE)
    for built in (caffe.Net(f, phase=caffe.TRAIN, weights=path),
                  caffe.Net(network_file=f, phase=caffe.TRAIN, weights=path),
                  caffe.Net(f, weights=path, phase=caffe.TRAIN),
                  caffe.Net(f, caffe.TRAIN, 0, [], path),
                  caffe.Net(f, caffe.TRAIN, 0, weights=path)):
        _same_params(net, built)
    assert caffe.Net(f, caffe.TEST, 0).outputs == caffe.Net(f, caffe.TEST).outputs
    with pytest.raises(TypeError, match="phase .* is missing"):
        caffe.Net(f)
    with pytest.raises(TypeError, match="multiple values for argument 'phase'"):
        caffe.Net(f, caffe.TEST, phase=caffe.TEST)
    with pytest.raises(TypeError, match=r"weights, phase\) takes exactly these three"):
        caffe.Net(f, path, phase=caffe.TEST)


def test_a_file_that_cannot_be_opened_is_a_runtime_error(net_file, tmp_path):
    # pycaffe's CheckFile throws std::runtime_error ("Could not open file ..."), a RuntimeError
    # in Python, for the net file and the weights file: programs catch it so
    from caffe_compat.errors import PrototxtError, WeightsError
    missing = str(tmp_path / "nope")
    with pytest.raises(RuntimeError, match="nope.prototxt: no such prototxt file") as info:
        caffe.Net(missing + ".prototxt", caffe.TEST)
    assert isinstance(info.value, PrototxtError)
    with pytest.raises(RuntimeError, match="nope.caffemodel: no such caffemodel file") as info:
        caffe.Net(net_file(SIMPLE), caffe.TEST, weights=missing + ".caffemodel")
    assert isinstance(info.value, WeightsError)


def test_save_and_load_hdf5(net, net_file, tmp_path):
    path = str(tmp_path / "w.h5")
    net.save_hdf5(path)
    other = caffe.Net(net_file(SIMPLE), caffe.TRAIN)
    other.load_hdf5(path)
    _same_params(net, other)


LEVELS = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } } }
layer { name: "NoLevel" type: "InnerProduct" bottom: "data" top: "NoLevel" inner_product_param { num_output: 1 } }
layer { name: "Level0Only" type: "InnerProduct" bottom: "data" top: "Level0Only" include { min_level: 0 max_level: 0 } inner_product_param { num_output: 1 } }
layer { name: "Level1Only" type: "InnerProduct" bottom: "data" top: "Level1Only" include { min_level: 1 max_level: 1 } inner_product_param { num_output: 1 } }
layer { name: "Level>=0" type: "InnerProduct" bottom: "data" top: "Level>=0" include { min_level: 0 } inner_product_param { num_output: 1 } }
layer { name: "Level>=1" type: "InnerProduct" bottom: "data" top: "Level>=1" include { min_level: 1 } inner_product_param { num_output: 1 } }
"""
STAGES = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } } }
layer { name: "A" type: "InnerProduct" bottom: "data" top: "A" include { stage: "A" } inner_product_param { num_output: 1 } }
layer { name: "B" type: "InnerProduct" bottom: "data" top: "B" include { stage: "B" } inner_product_param { num_output: 1 } }
layer { name: "AorB" type: "InnerProduct" bottom: "data" top: "AorB" include { stage: "A" } include { stage: "B" } inner_product_param { num_output: 1 } }
layer { name: "AandB" type: "InnerProduct" bottom: "data" top: "AandB" include { stage: "A" stage: "B" } inner_product_param { num_output: 1 } }
"""
ALL_IN_ONE = """
layer { name: "train_data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } shape { dim: 1 dim: 1 dim: 1 dim: 1 } }
  include { phase: TRAIN stage: "train" } }
layer { name: "val_data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } shape { dim: 1 dim: 1 dim: 1 dim: 1 } }
  include { phase: TEST stage: "val" } }
layer { name: "deploy_data" type: "Input" top: "data"
  input_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } } include { phase: TEST stage: "deploy" } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss"
  include: { phase: TRAIN stage: "train" } include: { phase: TEST stage: "val" } }
layer { name: "pred" type: "Softmax" bottom: "ip" top: "pred" include: { phase: TEST stage: "deploy" } }
"""


def _computed(net):
    return [b for b in net.blobs if "data" not in b]


@pytest.mark.parametrize("level,expected", [
    (None, ["NoLevel", "Level0Only", "Level>=0"]),
    (1, ["NoLevel", "Level1Only", "Level>=0", "Level>=1"])])
def test_levels(net_file, level, expected):
    path = net_file(LEVELS)
    net = caffe.Net(path, caffe.TEST) if level is None else caffe.Net(path, caffe.TEST,
                                                                       level=level)
    assert _computed(net) == expected


@pytest.mark.parametrize("stages,expected", [
    (["A"], ["A", "AorB"]), (["B"], ["B", "AorB"]), (["A", "B"], ["A", "B", "AorB", "AandB"])])
def test_stages(net_file, stages, expected):
    assert _computed(caffe.Net(net_file(STAGES), caffe.TEST, stages=stages)) == expected


@pytest.mark.parametrize("phase,stage,outputs", [
    (caffe.TRAIN, "train", ["loss"]), (caffe.TEST, "val", ["loss"]),
    (caffe.TEST, "deploy", ["pred"])])
def test_all_in_one(net_file, phase, stage, outputs):
    net = caffe.Net(net_file(ALL_IN_ONE), phase, stages=[stage])
    assert list(net.blobs["data"].shape) == [1, 1, 10, 10]
    assert net.outputs == outputs


# ---- the blob views alias the net's memory
DEPLOY = """name: 'deploy'
input: 'data' input_shape { dim: 4 dim: 3 dim: 6 dim: 6 }
layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1'
  convolution_param { num_output: 5 kernel_size: 3 weight_filler { type: 'gaussian' std: 0.5 }
                      bias_filler { type: 'constant' value: 0.25 } } }
layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' }
layer { name: 'ip' type: 'InnerProduct' bottom: 'conv1' top: 'ip'
  inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.3 } } }
layer { name: 'prob' type: 'Softmax' bottom: 'ip' top: 'prob' }
"""


@pytest.fixture
def deploy(net_file):
    caffe.set_random_seed(5)
    return caffe.Net(net_file(DEPLOY), caffe.TEST)


def _engine_forward(net, x):
    import torch
    with torch.no_grad():
        return net._net.forward(data=x)["prob"].numpy()


def test_written_input_is_what_forward_uses(deploy):
    x = np.random.RandomState(3).randn(4, 3, 6, 6).astype(np.float32)
    deploy.blobs["data"].data[...] = x
    out = deploy.forward()
    np.testing.assert_array_equal(out["prob"], _engine_forward(deploy, x))


def test_arrays_taken_before_forward_see_its_values(deploy):
    data, prob, conv = (deploy.blobs[n].data for n in ("data", "prob", "conv1"))
    data[...] = 1.0
    out = deploy.forward()
    assert out["prob"] is not None and np.shares_memory(out["prob"], prob)
    np.testing.assert_array_equal(prob, deploy.blobs["prob"].data)
    assert (conv >= 0).all() and conv.max() > 0          # the in-place ReLU's output
    before = prob.copy()
    data[...] = -1.0
    deploy.forward()
    assert not np.array_equal(before, prob)              # same memory, new values


def test_zeroed_weights_are_used_by_the_next_pass(deploy):
    deploy.blobs["data"].data[...] = 1.0
    deploy.params["conv1"][0].data[...] = 0
    deploy.forward()
    np.testing.assert_allclose(deploy.blobs["conv1"].data, 0.25, rtol=0, atol=0)
    w = deploy.params["ip"][0].data
    w[...] = 0
    np.testing.assert_allclose(deploy.forward()["prob"], 1.0 / 3, rtol=1e-6)


def test_reshape_gives_new_storage(deploy):
    old = deploy.blobs["data"].data
    deploy.blobs["data"].reshape(2, 3, 6, 6)
    deploy.reshape()
    assert deploy.blobs["prob"].data.shape == (2, 3)
    deploy.blobs["data"].data[...] = 0.5
    out = deploy.forward()
    assert out["prob"].shape == (2, 3) and old.shape == (4, 3, 6, 6)


def test_forward_with_inputs_and_checks(deploy):
    x = np.random.RandomState(4).randn(4, 3, 6, 6).astype(np.float32)
    out = deploy.forward(data=x, blobs=["conv1"])
    assert set(out) == {"prob", "conv1"}
    with pytest.raises(ValueError, match="do not match net inputs"):
        deploy.forward(other=x)
    with pytest.raises(ValueError, match="batch size"):
        deploy.forward(data=x[:2])


def test_forward_all_pads_and_trims(deploy):
    x = np.random.RandomState(5).randn(10, 3, 6, 6).astype(np.float32)
    out = deploy.forward_all(data=x)
    assert out["prob"].shape == (10, 3)
    expected = np.concatenate([_engine_forward(deploy, x[i:i + 4]) for i in (0, 4)]
                              + [_engine_forward(deploy, np.concatenate(
                                  [x[8:], np.zeros((2, 3, 6, 6), np.float32)]))[:2]])
    np.testing.assert_allclose(out["prob"], expected, rtol=1e-6, atol=1e-7)


def test_forward_backward_all(net_file):
    net = caffe.Net(net_file("force_backward: true\n" + DEPLOY), caffe.TEST)
    x = np.random.RandomState(6).randn(6, 3, 6, 6).astype(np.float32)
    g = np.random.RandomState(7).randn(6, 3).astype(np.float32)
    blobs, diffs = net.forward_backward_all(data=x, prob=g)
    assert blobs["prob"].shape == (6, 3) and diffs["data"].shape == (6, 3, 6, 6)
    net.forward(data=x[:4])
    first = net.backward(prob=g[:4])["data"]
    np.testing.assert_allclose(diffs["data"][:4], first, rtol=1e-5, atol=1e-7)


def test_backward_from_a_blob_diff_through_force_backward(net_file):
    # deep-dream / saliency style: set a top diff, back-propagate into the data blob
    net = caffe.Net(net_file("force_backward: true\n" + DEPLOY), caffe.TEST)
    net.blobs["data"].data[...] = np.random.RandomState(8).randn(4, 3, 6, 6)
    net.forward(end="relu1")
    net.blobs["conv1"].diff[...] = net.blobs["conv1"].data
    g = net.backward(start="relu1")["data"]
    import torch
    x = torch.tensor(net.blobs["data"].data, requires_grad=True)
    w, b = (torch.tensor(p.data) for p in net.params["conv1"])
    y = torch.relu(torch.nn.functional.conv2d(x, w, b))
    (0.5 * (y * y).sum()).backward()
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_share_with(net_file):
    a = caffe.Net(net_file(DEPLOY), caffe.TEST)
    b = caffe.Net(net_file(DEPLOY), caffe.TEST)
    b.share_with(a)
    a.params["ip"][0].data[...] = 0.125
    assert (b.params["ip"][0].data == 0.125).all()


def test_builtin_layer_view_reshape(deploy):
    conv = deploy.layer_dict["conv1"]
    conv.reshape([deploy.blobs["data"]], [deploy.blobs["conv1"]])
    assert deploy.blobs["conv1"].shape == (4, 5, 4, 4)
    assert len(conv.blobs) == 2 and conv.blobs[0].shape == (5, 3, 3, 3)


def test_set_input_arrays(net_file):
    net = caffe.Net(net_file("""layer { name: 'd' type: 'MemoryData' top: 'data' top: 'label'
      memory_data_param { batch_size: 2 channels: 1 height: 2 width: 3 } }"""), caffe.TEST)
    data = np.arange(24, dtype=np.float32).reshape(4, 1, 2, 3)
    labels = np.array([0, 1, 2, 3], dtype=np.float32)
    net.set_input_arrays(data, labels)
    net.forward()
    np.testing.assert_array_equal(net.blobs["data"].data, data[:2])
    np.testing.assert_array_equal(net.blobs["label"].data.ravel(), labels[:2])
    net.forward()
    np.testing.assert_array_equal(net.blobs["data"].data, data[2:])


def test_set_input_arrays_never_writes_the_arrays(net_file):
    # pycaffe reads the arrays at each forward and never writes them: batches wrap around in
    # order, the caller's arrays keep their values, a second set_input_arrays starts again at
    # its first batch (the views of .data taken between forwards are the net's memory)
    net = caffe.Net(net_file("""layer { name: 'd' type: 'MemoryData' top: 'data' top: 'label'
      memory_data_param { batch_size: 2 channels: 1 height: 1 width: 2 } }"""), caffe.TEST)
    data = np.arange(8, dtype=np.float32).reshape(4, 1, 1, 2)
    labels = np.arange(4, dtype=np.float32)
    kept, kept_labels = data.copy(), labels.copy()
    net.set_input_arrays(data, labels)
    for k in range(5):
        net.forward()
        rows = slice(0, 2) if k % 2 == 0 else slice(2, 4)
        np.testing.assert_array_equal(net.blobs["data"].data, kept[rows])
        np.testing.assert_array_equal(net.blobs["label"].data.ravel(), kept_labels[rows])
    np.testing.assert_array_equal(data, kept)
    np.testing.assert_array_equal(labels, kept_labels)
    net.set_input_arrays(data + 100, labels)
    net.forward()
    np.testing.assert_array_equal(net.blobs["data"].data, kept[:2] + 100)
    np.testing.assert_array_equal(data, kept)


# pycaffe's own net, with DummyData, once the engine has that layer
DUMMY = SIMPLE.replace("""layer { type: 'Python' name: 'data' top: 'data' top: 'label'
  python_param { module: 'tests.pycaffe.pylayers' layer: 'GaussianData' param_str: '1' } }""",
                       """layer { type: 'DummyData' name: 'data' top: 'data' top: 'label'
  dummy_data_param { num: 5 channels: 2 height: 3 width: 4
    num: 5 channels: 1 height: 1 width: 1
    data_filler { type: 'gaussian' std: 1 } data_filler { type: 'constant' } } }""")


def test_pycaffes_net_with_dummy_data(net_file):
    net = caffe.Net(net_file(DUMMY), caffe.TRAIN)
    labels = np.random.RandomState(0).randint(13, size=net.blobs["label"].data.shape)
    net.blobs["label"].data[...] = labels
    net.forward()
    np.testing.assert_array_equal(net.blobs["label"].data, labels)   # a constant filler: kept
    net.backward()
    assert net.inputs == [] and net.outputs == ["loss"]
    assert np.abs(net.params["conv"][0].diff).max() > 0


def test_forward_broadcasts_inputs_as_pycaffe(net_file):
    # pycaffe copies each input with numpy's broadcasting (blobs[name].data[...] = value): a
    # grey N x 1 x H x W batch feeds a colour net's three channels; what does not broadcast
    # is still the input error
    net = caffe.Net(net_file("""input: 'data' input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }
      layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c'
        convolution_param { num_output: 2 kernel_size: 3
          weight_filler { type: 'uniform' min: -1 max: 1 } } }"""), caffe.TEST)
    grey = np.random.RandomState(0).rand(2, 1, 4, 4).astype(np.float32)
    got = net.forward(data=grey)["c"].copy()
    want = net.forward(data=np.repeat(grey, 3, axis=1))["c"]
    np.testing.assert_array_equal(got, want)
    assert net.forward_all(data=np.concatenate([grey] * 2))["c"].shape == (4, 2, 2, 2)
    with pytest.raises(ValueError):
        net.forward(data=np.zeros((2, 2, 4, 4), np.float32))


HOOKED = """name: 'hooked' force_backward: true
input: 'data' input_shape { dim: 2 dim: 3 dim: 5 dim: 5 }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 4 kernel_size: 3
    weight_filler { type: 'uniform' min: -1 max: 1 } bias_filler { type: 'constant' value: 0.1 } } }
layer { type: 'ReLU' name: 'relu' bottom: 'conv' top: 'conv' }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip'
  inner_product_param { num_output: 3 weight_filler { type: 'uniform' min: -1 max: 1 } } }
"""


def test_net_hooks_run_around_each_layer(net_file, tmp_path):
    # pycaffe's before_forward / after_forward / before_backward / after_backward: callback(i)
    # around layer i of every pass (ForwardFromTo, BackwardFromTo), the blobs current inside;
    # the values are those of the same net without hooks
    f = net_file(HOOKED)
    plain = caffe.Net(f, caffe.TEST)
    plain.save(str(tmp_path / "w.caffemodel"))
    hooked = caffe.Net(f, caffe.TEST, weights=str(tmp_path / "w.caffemodel"))
    calls, seen = [], {}
    for when in ("before_forward", "after_forward", "before_backward", "after_backward"):
        getattr(hooked, when)(lambda i, when=when: calls.append((when, i)))
    hooked.after_forward(lambda i: seen.setdefault(i, hooked.blobs["conv"].data.copy()))
    x = np.random.RandomState(1).randn(2, 3, 5, 5).astype(np.float32)
    want, got = plain.forward(data=x)["ip"].copy(), hooked.forward(data=x)["ip"]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # layer 0 is the Input layer Caffe 1.0 makes of the 'input:' fields
    assert calls == [(w, i) for i in range(4) for w in ("before_forward", "after_forward")]
    assert (seen[1] < 0).any() and (seen[2] >= 0).all()      # conv, then the in-place ReLU
    calls.clear()
    top = np.random.RandomState(2).randn(2, 3).astype(np.float32)
    want = plain.backward(ip=top)["data"].copy()
    np.testing.assert_allclose(hooked.backward(ip=top)["data"], want, rtol=RTOL, atol=ATOL)
    assert calls == [(w, i) for i in (3, 2, 1, 0) for w in ("before_backward", "after_backward")]
    calls.clear()
    hooked.forward(start="relu", end="ip")
    assert calls == [(w, i) for i in (2, 3) for w in ("before_forward", "after_forward")]
    with pytest.raises(TypeError, match="takes a callable"):
        hooked.before_forward(3)


def test_dummy_data_uniform_draws_caffes_values(net_file):
    # real Caffe 1.0 after set_random_seed(17) (fixtures/dummy_data/make_dummy_data.py):
    # DummyData's uniform filler draws from Caffe's stream at each forward, after the
    # weights' fillers at set-up; boost's uniform_real on the same mt19937 outputs gives the
    # same float32 values (tolerance 0)
    from tests.pycaffe.fixtures.dummy_data.make_dummy_data import NET as DUMMY_NET
    want = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "dummy_data",
                                "dummy_data.npz"))
    caffe.set_random_seed(17)
    net = caffe.Net(net_file(DUMMY_NET), caffe.TRAIN)
    np.testing.assert_array_equal(net.params["conv"][0].data, want["weights"])
    for k in (1, 2):
        net.forward()
        np.testing.assert_array_equal(net.blobs["data"].data, want[f"data{k}"])
    np.testing.assert_array_equal(net.blobs["label"].data, want["label"])


def test_argument_errors_are_pycaffes_types(net_file):
    # pycaffe: a layer name the net lacks is list.index's ValueError; arrays that
    # set_input_arrays refuses are C++ std::runtime_error, a RuntimeError
    net = caffe.Net(net_file("""layer { name: 'd' type: 'MemoryData' top: 'data' top: 'label'
      memory_data_param { batch_size: 4 channels: 3 height: 1 width: 1 } }
      layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip'
        inner_product_param { num_output: 2 } }"""), caffe.TRAIN)
    with pytest.raises(ValueError, match="no layer 'nosuch'"):
        net.forward(start="nosuch")
    with pytest.raises(ValueError, match="no layer 'nosuch'"):
        net.backward(end="nosuch")
    x, y = np.zeros((5, 3, 1, 1), np.float32), np.zeros(5, np.float32)
    with pytest.raises(RuntimeError, match="multiple of the batch size"):
        net.set_input_arrays(x, y)
    with pytest.raises(RuntimeError, match="must be float32"):
        net.set_input_arrays(x[:4].astype(np.float64), y[:4])
