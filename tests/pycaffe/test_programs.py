"""Programs in the style of public pycaffe scripts (net surgery, filter visualisation,
feature extraction, gradient ascent on the input, a solving loop that reads its test net),
run unchanged on this package."""
import numpy as np
import pytest

import caffe
from caffe import layers as L
from caffe import params as P


def _write(net_file, n):
    return net_file(str(n.to_proto()))


def _fc_net(net_file):
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3, 8, 8]))
    n.conv1 = L.Convolution(n.data, kernel_size=3, num_output=4,
                            weight_filler=dict(type="gaussian", std=0.3),
                            bias_filler=dict(type="constant", value=0.1))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc6 = L.InnerProduct(n.pool1, num_output=5, weight_filler=dict(type="gaussian", std=0.2))
    n.prob = L.Softmax(n.fc6)
    return _write(net_file, n)


def _conv_net(net_file):
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3, 8, 8]))
    n.conv1 = L.Convolution(n.data, kernel_size=3, num_output=4)
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n["fc6-conv"] = L.Convolution(n.pool1, kernel_size=3, num_output=5)
    n.prob = L.Softmax(n["fc6-conv"])
    return _write(net_file, n)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the scripts' older Net(file, weights, phase)
def test_net_surgery_fully_connected_to_convolution(net_file, tmp_path):
    # the net_surgery notebook: cast the InnerProduct into a convolution through .flat
    caffe.set_random_seed(1)
    net = caffe.Net(_fc_net(net_file), caffe.TEST)
    weights = str(tmp_path / "fc.caffemodel")
    net.save(weights)
    net_full_conv = caffe.Net(_conv_net(net_file), weights, caffe.TEST)
    params, params_full_conv = ["fc6"], ["fc6-conv"]
    fc_params = {pr: (net.params[pr][0].data, net.params[pr][1].data) for pr in params}
    conv_params = {pr: (net_full_conv.params[pr][0].data, net_full_conv.params[pr][1].data)
                   for pr in params_full_conv}
    assert fc_params["fc6"][0].shape == (5, 36) and conv_params["fc6-conv"][0].shape == (5, 4, 3, 3)
    for pr, pr_conv in zip(params, params_full_conv):
        conv_params[pr_conv][0].flat = fc_params[pr][0].flat
        conv_params[pr_conv][1][...] = fc_params[pr][1]
    x = np.random.RandomState(0).rand(2, 3, 8, 8).astype(np.float32)
    net.blobs["data"].data[...] = x
    net_full_conv.blobs["data"].data[...] = x
    a = net.forward()["prob"]
    b = net_full_conv.forward()["prob"]
    # float32 sums of the same 36 products in other orders
    np.testing.assert_allclose(b.reshape(2, 5), a, rtol=1e-5, atol=1e-7)
    surgery = str(tmp_path / "full_conv.caffemodel")
    net_full_conv.save(surgery)
    again = caffe.Net(_conv_net(net_file), caffe.TEST, weights=surgery)
    np.testing.assert_array_equal(again.params["fc6-conv"][0].data, conv_params["fc6-conv"][0])


def test_filter_visualisation_and_feature_extraction(net_file):
    caffe.set_random_seed(2)
    net = caffe.Net(_fc_net(net_file), caffe.TEST)
    filters = net.params["conv1"][0].data.transpose(0, 2, 3, 1)     # as vis_square takes them
    assert filters.shape == (4, 3, 3, 3)
    assert [(k, v.data.shape) for k, v in net.blobs.items()][:2] == [
        ("data", (2, 3, 8, 8)), ("conv1", (2, 4, 6, 6))]
    assert [(k, v[0].data.shape) for k, v in net.params.items()] == [
        ("conv1", (4, 3, 3, 3)), ("fc6", (5, 36))]
    images = np.random.RandomState(1).rand(5, 3, 8, 8).astype(np.float32)
    feats = net.forward_all(blobs=["pool1"], data=images)
    assert feats["pool1"].shape == (5, 4, 3, 3) and feats["prob"].shape == (5, 5)


def test_gradient_ascent_on_the_input(net_file):
    # deep-dream style: maximise a layer's activation by stepping the data blob
    text = open(_fc_net(net_file)).read()
    net = caffe.Net(net_file("force_backward: true\n" + text), caffe.TEST)
    src = net.blobs["data"]
    src.data[:] = np.random.RandomState(3).rand(*src.data.shape)
    objective = []
    for _ in range(5):
        net.forward(end="conv1")
        dst = net.blobs["conv1"]
        objective.append(float((dst.data ** 2).sum()))
        dst.diff[:] = dst.data                      # the L2 objective's gradient
        net.backward(start="conv1")
        g = src.diff[0]
        src.data[:] += 0.01 / np.abs(g).mean() * src.diff
    assert objective[-1] > objective[0]


def test_solving_loop_reading_its_test_net(net_file, tmp_path, monkeypatch):
    # the style of the LeNet and multilabel notebooks: step, then score the test net by hand.
    # The solver tests at iteration 0 (test_initialization's default), which is when Caffe's
    # Solver::Test first shares the trained layers with the test net: without a test pass the
    # test net would keep its own filler values, as in Caffe
    monkeypatch.chdir(tmp_path)
    data = ("layer { type: 'Python' name: 'data' top: 'x' top: 'y' "
            "python_param { module: 'tests.pycaffe.pylayers' layer: 'BatchFeeder' "
            "param_str: \"{'batch_size': 16, 'dim': 4, 'seed': %d}\" } include { phase: %s } }\n")
    net = net_file(data % (1, "TRAIN") + data % (2, "TEST") + """
        layer { type: 'InnerProduct' name: 'fc' bottom: 'x' top: 'fc'
          inner_product_param { num_output: 1 weight_filler { type: 'constant' } } }
        layer { type: 'EuclideanLoss' name: 'loss' bottom: 'fc' bottom: 'y' top: 'loss' }""")
    solver = caffe.SGDSolver(net_file(
        f"net: '{net}' base_lr: 0.05 momentum: 0.9 lr_policy: 'fixed' test_iter: 1 "
        "test_interval: 1000 max_iter: 1000 display: 0 "
        "snapshot_prefix: 'm'", name="solver.prototxt"))
    test_losses = []
    for it in range(30):
        solver.step(1)
        if it % 10 == 0:
            solver.test_nets[0].forward()
            test_losses.append(float(solver.test_nets[0].blobs["loss"].data))
    assert solver.iter == 30
    assert test_losses[-1] < test_losses[0]
    np.testing.assert_array_equal(solver.test_nets[0].params["fc"][0].data,
                                  solver.net.params["fc"][0].data)


@pytest.mark.parametrize("legacy", [True, False])
def test_deploy_with_input_fields_and_classify(net_file, legacy):
    head = ("input: 'data' input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n" if legacy
            else "layer { name: 'data' type: 'Input' top: 'data' "
                 "input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }\n")
    net = caffe.Net(net_file(head + """
        layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip'
          inner_product_param { num_output: 3 weight_filler { type: 'xavier' } } }
        layer { name: 'prob' type: 'Softmax' bottom: 'ip' top: 'prob' }"""), caffe.TEST)
    assert net.inputs == ["data"]
    out = net.forward(data=np.ones((1, 3, 4, 4), np.float32))
    assert out["prob"].shape == (1, 3) and abs(out["prob"].sum() - 1) < 1e-6
