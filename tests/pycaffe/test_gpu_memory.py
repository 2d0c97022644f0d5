"""pycaffe in GPU mode: Caffe's SyncedMemory rule (caffe_compat.net.synced_memory) through every
pycaffe entry point, on the CPU stand-in for the device (``caffe._mode.use_device_standin``: the
device copies are second CPU tensors, so the copies each way are counted and the values are
the CPU engine's, bit for bit); the same rule on a real device is in the ``cuda`` tests at the
end (benchmarks/gpu_check.sh).

Outputs of GPU mode on the stand-in equal CPU mode's exactly: the same kernels run on the same
values, only the memory they live in differs."""
import os

import numpy as np
import pytest

import caffe
from caffe import _mode
from caffe_compat.net.synced import COPIES, DEVICE, HOST, SYNCED

DEPLOY = """name: 'deploy' input: 'data' input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 4 kernel_size: 3
    weight_filler { type: 'gaussian' std: 1 } bias_filler { type: 'constant' value: 0.1 } } }
layer { type: 'ReLU' name: 'relu' bottom: 'conv' top: 'conv' }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip'
  inner_product_param { num_output: 5 weight_filler { type: 'gaussian' std: 0.1 } } }
layer { type: 'Softmax' name: 'prob' bottom: 'ip' top: 'prob' }
"""

# a Python layer between engine layers, a loss, backward everywhere
TRAIN = """name: 'train' force_backward: true
input: 'data' input_shape { dim: 2 dim: 3 dim: 6 dim: 6 }
input: 'label' input_shape { dim: 2 dim: 1 dim: 1 dim: 1 }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: 'gaussian' std: 1 } } }
layer { type: 'Python' name: 'ten' bottom: 'conv' top: 'ten'
  python_param { module: 'tests.pycaffe.test_gpu_memory' layer: 'HostTimesTen' } }
layer { type: 'InnerProduct' name: 'ip' bottom: 'ten' top: 'ip'
  inner_product_param { num_output: 4 weight_filler { type: 'gaussian' std: 0.1 } } }
layer { type: 'SoftmaxWithLoss' name: 'loss' bottom: 'ip' bottom: 'label' top: 'loss' }
"""

SOLVER = """net: '{net}' base_lr: 0.05 lr_policy: 'fixed' max_iter: 4 display: 0
snapshot_prefix: 'snap' weight_decay: 0.001 {extra}"""

SOLVER_TYPES = {
    "SGDSolver": "momentum: 0.9", "NesterovSolver": "momentum: 0.9", "AdaGradSolver": "",
    "RMSPropSolver": "rms_decay: 0.9", "AdaDeltaSolver": "momentum: 0.95 delta: 1e-6",
    "AdamSolver": "momentum: 0.9 momentum2: 0.999",
}


class HostTimesTen(caffe.Layer):
    """Multiplies by ten, checking that its blobs are host numpy arrays (Caffe's Python layers
    work on cpu_data / mutable_cpu_data)."""

    seen = []

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        data = bottom[0].data
        type(self).seen.append((type(data), data.flags.writeable))
        np.multiply(data, 10.0, out=top[0].data)

    def backward(self, top, propagate_down, bottom):
        np.multiply(top[0].diff, 10.0, out=bottom[0].diff)


@pytest.fixture
def standin(monkeypatch):
    """GPU mode on the CPU stand-in; CPU mode and the real device again after the test. CPU
    mode's nets are the torch engine's too (GPU mode's engine), so that outputs compare bit
    for bit."""
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", "0")
    _mode.use_device_standin(True)
    COPIES.reset()
    yield COPIES
    caffe.set_mode_cpu()
    _mode.use_device_standin(False)


@pytest.fixture
def deploy(net_file):
    return net_file(DEPLOY, name="deploy.prototxt")


@pytest.fixture
def train(net_file):
    return net_file(TRAIN, name="train.prototxt")


def _image(seed=0, shape=(2, 3, 8, 8)):
    return np.random.RandomState(seed).uniform(-1, 1, shape).astype(np.float32)


def _net(path, phase=caffe.TEST, seed=7, weights=None):
    caffe.set_random_seed(seed)              # the same gaussian weights in both modes
    if weights is not None:
        return caffe.Net(path, phase, weights=weights)
    return caffe.Net(path, phase)


def _memory(net):
    return net._torch_store.memory


def _cpu_outputs(path, image, **kw):
    caffe.set_mode_cpu()
    net = _net(path, **kw)
    net.blobs["data"].data[...] = image
    out = {k: v.copy() for k, v in net.forward().items()}
    return net, out


# ------------------------------------------------------------------------ the copies
def test_first_program_line_runs_and_matches_cpu(standin, deploy):
    _, want = _cpu_outputs(deploy, _image())
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()           # the line that failed before
    out = net.forward()
    np.testing.assert_array_equal(out["prob"], want["prob"])   # same kernels, same values
    assert _memory(net) is not None and net.engine == "torch"


def test_copies_only_what_is_stale(standin, deploy):
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    net.forward()                     # first forward: every parameter and the input go up
    assert sorted(w for d, w in standin.log if d == "up") == sorted(
        ["conv[0].data", "conv[1].data", "ip[0].data", "ip[1].data", "data.data"])
    assert [w for d, w in standin.log if d == "down"] == ["prob.data"]   # forward() reads it
    standin.reset()
    net.blobs["data"].data[...] = _image(1)
    net.forward()                     # the input was written: only the input goes up
    assert standin.log == [("up", "data.data"), ("down", "prob.data")]
    standin.reset()
    for _ in range(3):                # nothing stale: no copy
        net.blobs["prob"].data
    assert standin.log == []
    net.blobs["conv"].data            # an intermediate blob comes down when read, once
    net.blobs["conv"].data
    assert standin.log == [("down", "conv.data")]
    standin.reset()
    net.forward()                     # outputs and read blobs are written, not copied up
    assert standin.log == [("down", "prob.data")]


def test_heads_follow_caffe(standin, deploy):
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    net.forward()
    mem = _memory(net)
    assert mem.data["data"].head == SYNCED        # copied up for the forward, not since
    assert mem.data["prob"].head == HOST          # handed to Python by forward()
    assert mem.data["ip"].head == DEVICE          # written by the engine, never read
    p = net.params["ip"][0]
    assert p.data is not None and p._param.synced_memory.data.head == HOST


def test_net_surgery_reaches_the_next_forward(standin, deploy):
    cpu, _ = _cpu_outputs(deploy, _image())
    cpu.params["ip"][1].data[...] = 3.0
    cpu.params["conv"][0].data[0] *= -1
    want = cpu.forward()["prob"].copy()
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    net.forward()
    standin.reset()
    net.params["ip"][1].data[...] = 3.0
    net.params["conv"][0].data[0] *= -1
    np.testing.assert_array_equal(net.forward()["prob"], want)
    assert sorted(w for d, w in standin.log if d == "up") == ["conv[0].data", "ip[1].data"]


def test_forward_start_end_copies_the_range_inputs(standin, deploy):
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    net.forward()
    conv = net.blobs["conv"].data
    conv[...] = 0.5                                 # read then written: head HOST
    standin.reset()
    out = net.forward(start="ip", end="ip")
    assert ("up", "conv.data") in standin.log and ("up", "data.data") not in standin.log
    w, b = net.params["ip"][0].data, net.params["ip"][1].data
    want = np.full((2, 4 * 6 * 6), 0.5, np.float32) @ w.T + b
    # float32 sums in another order than numpy's
    np.testing.assert_allclose(out["ip"], want, rtol=1e-5, atol=1e-5)


def test_backward_start_end_and_python_layers(standin, train):
    label = np.array([1, 3], np.float32).reshape(2, 1, 1, 1)

    def run():
        net = _net(train, phase=caffe.TRAIN)
        HostTimesTen.seen = []
        net.blobs["data"].data[...] = _image(shape=(2, 3, 6, 6))
        net.blobs["label"].data[...] = label
        loss = float(net.forward()["loss"])
        grads = net.backward()
        net.blobs["ip"].diff[...] = 1.0              # then a partial backward from Python
        part = net.backward(start="ip", end="ten")      # the bottoms of 'ten'
        return (loss, grads["data"].copy(), part["conv"].copy(),
                net.params["conv"][0].diff.copy(), HostTimesTen.seen)

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    assert got[0] == want[0]
    for a, b in zip(got[1:4], want[1:4]):
        np.testing.assert_array_equal(a, b)
    assert got[4] == [(np.ndarray, True)]            # the Python layer saw host memory


@pytest.mark.cpu_mode
def test_mode_set_after_the_net_exists(standin, deploy, monkeypatch):
    monkeypatch.delenv("CAFFE_COMPAT_ARRAY_NET")
    caffe.set_mode_cpu()
    net = _net(deploy)                               # made in CPU mode (the array engine)
    assert net.engine == "array"
    held = net.blobs["data"].data
    held[...] = _image()
    want = net.forward()["prob"].copy()
    caffe.set_mode_gpu()                             # Caffe: the mode current when it runs
    # the array engine's sums against torch's: float32 in other orders (measured 0 here)
    np.testing.assert_allclose(net.forward()["prob"], want, rtol=1e-6, atol=1e-7)
    assert _memory(net) is not None
    net.blobs["data"].data[...] = _image(2)          # the arrays held stay the host copies
    assert np.shares_memory(held, net.blobs["data"].data)
    gpu_out = net.forward()["prob"].copy()
    caffe.set_mode_cpu()                             # back to one copy
    np.testing.assert_array_equal(net.forward()["prob"], gpu_out)
    assert _memory(net) is None and np.shares_memory(held, net.blobs["data"].data)


def test_both_constructor_forms_and_copy_from_save(standin, deploy, tmp_path):
    caffe.set_mode_cpu()
    cpu = _net(deploy)
    cpu.params["ip"][1].data[...] = 0.25
    weights = str(tmp_path / "w.caffemodel")
    cpu.save(weights)
    cpu.blobs["data"].data[...] = _image()
    want = cpu.forward()["prob"].copy()
    caffe.set_mode_gpu()
    with pytest.warns(DeprecationWarning):
        legacy = caffe.Net(deploy, weights, caffe.TEST)
    modern = caffe.Net(deploy, caffe.TEST, weights=weights)
    later = _net(deploy, seed=99)
    later.blobs["data"].data[...] = _image()
    later.forward()                                  # on the device, then weights loaded
    later.copy_from(weights)
    for net in (legacy, modern, later):
        net.blobs["data"].data[...] = _image()
        np.testing.assert_array_equal(net.forward()["prob"], want)
    later.params["ip"][1].data[...] = 0.5            # a host write, then save
    saved = str(tmp_path / "s.caffemodel")
    later.save(saved)
    caffe.set_mode_cpu()
    check = caffe.Net(deploy, caffe.TEST, weights=saved)
    assert (check.params["ip"][1].data == 0.5).all()


def test_forward_all_reshape_and_share_with(standin, deploy):
    images = _image(3, shape=(5, 3, 8, 8))
    caffe.set_mode_cpu()
    cpu = _net(deploy)
    want_all = cpu.forward_all(data=images)["prob"]
    cpu.blobs["data"].reshape(1, 3, 8, 8)
    cpu.reshape()
    cpu.blobs["data"].data[...] = images[:1]
    want_one = cpu.forward()["prob"].copy()
    caffe.set_mode_gpu()
    net = _net(deploy)
    np.testing.assert_array_equal(net.forward_all(data=images)["prob"], want_all)
    net.blobs["data"].reshape(1, 3, 8, 8)
    net.reshape()
    net.blobs["data"].data[...] = images[:1]
    np.testing.assert_array_equal(net.forward()["prob"], want_one)
    other = _net(deploy, seed=5)
    other.share_with(net)
    net.params["ip"][1].data[...] = 2.0              # a write through one net ...
    other.blobs["data"].reshape(1, 3, 8, 8)
    other.reshape()
    other.blobs["data"].data[...] = images[:1]
    other.forward()
    net.forward()
    np.testing.assert_array_equal(other.blobs["prob"].data, net.blobs["prob"].data)
    assert other.params["ip"][1].data[0] == 2.0      # ... is the other's parameter


def test_hdf5_weights(standin, train, tmp_path):
    data = _image(4, shape=(2, 3, 6, 6))
    label = np.array([0, 2], np.float32).reshape(2, 1, 1, 1)

    def run(h5):
        net = _net(train, phase=caffe.TRAIN)
        net.params["ip"][1].data[...] = 0.75
        net.save_hdf5(h5)
        net.params["ip"][1].data[...] = 0.0
        net.load_hdf5(h5)
        loss = net.forward(data=data, label=label)["loss"].copy()
        return loss, net.backward()["data"].copy(), net.params["ip"][1].data.copy()

    caffe.set_mode_cpu()
    want = run(str(tmp_path / "cpu.h5"))
    caffe.set_mode_gpu()
    got = run(str(tmp_path / "gpu.h5"))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert (got[2] == 0.75).all()


def test_classifier_and_detector(standin, tmp_path):
    from tests.pycaffe.test_classifier import HERE
    deploy, weights = str(HERE / "tiny.prototxt"), str(HERE / "tiny.caffemodel")
    images = [np.random.RandomState(i).uniform(0, 1, (40, 40, 3)).astype(np.float32)
              for i in range(3)]

    def run():
        clf = caffe.Classifier(deploy, weights, image_dims=(36, 36))
        det = caffe.Detector(deploy, weights)
        path = str(tmp_path / "im.png")
        import PIL.Image
        PIL.Image.fromarray((images[0] * 255).astype(np.uint8)).save(path)
        dets = det.detect_windows([(path, np.array([[0, 0, 24, 24], [5, 6, 35, 39]]))])
        return clf.predict(images), np.stack([d["prediction"] for d in dets])

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ arrays Python holds
def test_programs_holding_arrays_across_passes_match_cpu(standin, net_file, tmp_path,
                                                         monkeypatch):
    """The two CPU programs of tests/pycaffe that hold arrays across passes (test_net's
    ``test_arrays_taken_before_forward_see_its_values``, test_solver's
    ``test_training_loop_fed_through_blobs``) give CPU mode's values bit for bit in GPU mode:
    the same kernels run on the same values on the stand-in."""
    from tests.pycaffe.test_net import DEPLOY as NET_DEPLOY
    from tests.pycaffe.test_solver import FED
    monkeypatch.chdir(tmp_path)
    deploy = net_file(NET_DEPLOY, name="held.prototxt")
    solver = net_file(f"net: '{net_file(FED, name='fed.prototxt')}' base_lr: 0.1 "
                      "lr_policy: 'fixed' max_iter: 1000 display: 0 snapshot_prefix: 'fed'",
                      name="fed_solver.prototxt")

    def held_arrays():
        net = _net(deploy, seed=5)
        data, prob, conv = (net.blobs[n].data for n in ("data", "prob", "conv1"))
        data[...] = 1.0
        out = net.forward()
        assert np.shares_memory(out["prob"], prob)
        first = prob.copy(), conv.copy()
        data[...] = -1.0
        net.forward()
        return first + (prob.copy(), conv.copy())

    def training_loop():
        s = caffe.SGDSolver(solver)
        rng = np.random.RandomState(0)
        true_w = np.array([[0.5, -1.0, 2.0]], np.float32)
        x_blob, y_blob = s.net.blobs["x"].data, s.net.blobs["y"].data
        for _ in range(150):
            x = rng.randn(8, 3).astype(np.float32)
            x_blob[...] = x
            y_blob[...] = x @ true_w.T
            s.step(1)
        return (s.net.params["fc"][0].data.copy(),)

    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")     # the torch engine in both modes
    caffe.set_mode_cpu()
    want = held_arrays() + training_loop()
    caffe.set_mode_gpu()
    got = held_arrays() + training_loop()
    assert not np.array_equal(got[0], got[2])                 # the second pass changed them
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    # the loop learned the weights (the tolerance test_solver.py asks on the CPU)
    np.testing.assert_allclose(got[-1], [[0.5, -1.0, 2.0]], atol=1e-3)


def test_input_written_through_a_temporary_copies_only_the_input(standin, deploy):
    """Arrays that died cost nothing: a forward after ``blobs["data"].data[...] = x`` copies the
    input up and nothing down but what it returns, even for blobs read (and dropped) before."""
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    net.forward()                                   # the returned dict is dropped
    conv = net.blobs["conv"].data.copy()            # read through a temporary array
    assert conv.max() > 0
    standin.reset()
    net.blobs["data"].data[...] = _image(1)
    net._forward(0, len(net.layers) - 1)            # the pass alone: nothing read after it
    assert standin.log == [("up", "data.data")]
    assert net.blobs["prob"].data is not None       # read: copied down then, once
    assert standin.log == [("up", "data.data"), ("down", "prob.data")]


def test_arrays_held_across_forwards_are_refreshed_each_pass(standin, deploy):
    """An output array (and an intermediate one) held across forwards holds each pass's values:
    exactly those blobs come down after each pass; an input array held and written each pass
    goes up each pass."""
    caffe.set_mode_cpu()
    cpu = _net(deploy)
    want = []
    for seed in range(3):
        cpu.blobs["data"].data[...] = _image(seed)
        cpu.forward()
        want.append((cpu.blobs["conv"].data.copy(), cpu.blobs["prob"].data.copy()))
    caffe.set_mode_gpu()
    net = _net(deploy)
    data, conv, prob = (net.blobs[n].data for n in ("data", "conv", "prob"))
    for seed in range(3):
        standin.reset()
        data[...] = _image(seed)
        net._forward(0, len(net.layers) - 1)
        np.testing.assert_array_equal(conv, want[seed][0])
        np.testing.assert_array_equal(prob, want[seed][1])
        downs = sorted(w for d, w in standin.log if d == "down")
        ups = [w for d, w in standin.log if d == "up"]
        assert downs == ["conv.data", "prob.data"]
        assert ups == ["data.data"] if seed else "data.data" in ups   # first: the params too
    del conv, prob                                  # dropped: they cost nothing any more
    standin.reset()
    net._forward(0, len(net.layers) - 1)
    assert standin.log == [("up", "data.data")]     # ``data`` is still held
    # each .data is a new array, and an array made from one (a row) keeps it held
    assert net.blobs["prob"].data is not net.blobs["prob"].data
    row = net.blobs["prob"].data[1]
    data[...] = _image(0)
    standin.reset()
    net._forward(0, len(net.layers) - 1)
    assert standin.log == [("up", "data.data"), ("down", "prob.data")]
    np.testing.assert_array_equal(row, want[0][1][1])


def test_held_diffs_and_surgery_through_held_parameter_arrays(standin, train):
    """Diffs held across backward passes and parameter arrays held and written between passes
    (net surgery with the array kept) read and act as on the CPU."""
    label = np.array([1, 3], np.float32).reshape(2, 1, 1, 1)

    def run():
        net = _net(train, phase=caffe.TRAIN)
        bias, data_diff = net.params["ip"][1].data, net.blobs["data"].diff
        wdiff = net.params["conv"][0].diff
        net.blobs["label"].data[...] = label
        out = []
        for seed, b in ((0, 0.5), (1, -0.25)):
            bias[...] = b                           # surgery through the array held
            net.blobs["data"].data[...] = _image(seed, shape=(2, 3, 6, 6))
            net.forward()
            net.backward()
            out += [data_diff.copy(), wdiff.copy()]
        return out

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    assert not np.array_equal(got[0], got[2])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_held_parameter_arrays_see_solver_updates(standin, net_file, train, tmp_path,
                                                  monkeypatch):
    """A parameter array (and its diff) held across ``solver.step`` reads the updated values,
    as on the CPU: copied down after each update, up before each iteration (held: it may have
    been written)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")

    def run():
        caffe.set_random_seed(3)
        s = _solver(net_file, train, "SGDSolver", "momentum: 0.9")
        w, wdiff = s.net.params["ip"][0].data, s.net.params["ip"][0].diff
        before = w.copy()
        _feed(s)
        COPIES.reset()
        s.step(3)
        assert not np.array_equal(before, w)
        return w.copy(), wdiff.copy(), list(COPIES.log)

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    for a, b in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(a, b)
    log = got[2]
    assert log.count(("down", "ip[0].data")) == 3 and log.count(("up", "ip[0].data")) == 3
    assert log.count(("down", "ip[0].diff")) == 3
    assert not any(w.startswith("conv[") and d == "down" for d, w in log)   # not held


@pytest.mark.parametrize("engine",
                         ["torch", pytest.param("array", marks=pytest.mark.cpu_mode)])
def test_arrays_taken_in_cpu_mode_count_as_held(standin, deploy, monkeypatch, engine):
    """Arrays taken before the net went to the device were not recorded: the blobs they were
    taken from count as held for good, so a program that keeps using them after
    ``set_mode_gpu()`` reads and writes the net's values; the other blobs are not copied."""
    if engine == "array":
        monkeypatch.delenv("CAFFE_COMPAT_ARRAY_NET")
    caffe.set_mode_cpu()
    net = _net(deploy)
    assert net.engine == engine
    data, prob = net.blobs["data"].data, net.blobs["prob"].data
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_NET", "0")
    cpu = _net(deploy)
    caffe.set_mode_gpu()
    for seed in range(2):
        data[...] = _image(seed)
        standin.reset()
        net._forward(0, len(net.layers) - 1)
        assert sorted(standin.log) == [("down", "prob.data"), ("up", "data.data")] or seed == 0
        cpu.blobs["data"].data[...] = _image(seed)
        caffe.set_mode_cpu()
        # the array engine's sums against torch's: float32 in other orders (measured 0 here)
        np.testing.assert_allclose(prob, cpu.forward()["prob"], rtol=1e-6, atol=1e-7)
        caffe.set_mode_gpu()


BATCH_NORM = """name: 'bn' input: 'data' input_shape { dim: 4 dim: 3 dim: 2 dim: 2 }
layer { type: 'BatchNorm' name: 'bn' bottom: 'data' top: 'bn' }
layer { type: 'Python' name: 'own' bottom: 'bn' top: 'own'
  python_param { module: 'tests.pycaffe.pylayers' layer: 'OwnParameter' } }
layer { type: 'Reduction' name: 'sum' bottom: 'own' top: 'sum' loss_weight: 1 }
"""


def test_layers_writing_their_blobs_and_python_parameters(standin, net_file):
    """BatchNorm's statistics, which its TRAIN forward writes, and a Python layer's own
    parameter, whose diff its backward writes on the host, read back as on the CPU."""
    path = net_file(BATCH_NORM, name="bn.prototxt")

    def run():
        net = _net(path, phase=caffe.TRAIN)
        net.blobs["data"].data[...] = _image(shape=(4, 3, 2, 2))
        net.forward()
        mean = net.params["bn"][0].data.copy()
        net.forward()                              # the statistics accumulate on the device
        net.backward()
        return mean, net.params["bn"][0].data.copy(), net.params["own"][0].diff.copy()

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    assert not np.array_equal(got[0], got[1])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert (got[2] == 1.0).all()


# ------------------------------------------------------------------------ solvers
def _solver(net_file, train, cls, extra=""):
    path = net_file(SOLVER.format(net=train, extra=extra), name=f"{cls}.prototxt")
    return getattr(caffe, cls)(path)


def _feed(solver):
    solver.net.blobs["data"].data[...] = _image(shape=(2, 3, 6, 6))
    solver.net.blobs["label"].data[...] = np.array([1, 3], np.float32).reshape(2, 1, 1, 1)


@pytest.mark.parametrize("cls", sorted(SOLVER_TYPES))
def test_solvers_match_cpu(standin, net_file, train, cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")     # the torch engine in both modes

    def run():
        caffe.set_random_seed(3)
        s = _solver(net_file, train, cls, SOLVER_TYPES[cls])
        before = s.net.params["ip"][0].data.copy()
        _feed(s)
        s.step(3)
        after = s.net.params["ip"][0].data               # the updates reach the host copy
        assert not np.array_equal(before, after)
        return after.copy(), s.net.params["conv"][0].diff.copy()

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_get_solver_step_snapshot_restore(standin, net_file, train, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    caffe.set_mode_gpu()
    caffe.set_random_seed(3)
    path = net_file(SOLVER.format(net=train, extra="momentum: 0.9"), name="s.prototxt")
    s = caffe.get_solver(path)
    assert type(s).__name__ == "SGDSolver" and _memory(s.net) is not None
    _feed(s)
    s.step(2)
    s.net.params["ip"][1].data[...] = 0.125          # a host write before the snapshot
    s.snapshot()
    model = tmp_path / "snap_iter_2.caffemodel"
    state = tmp_path / "snap_iter_2.solverstate"
    assert model.exists() and state.exists()
    s.step(1)
    s.restore(str(state))
    assert s.iter == 2 and (s.net.params["ip"][1].data == 0.125).all()
    test_net = caffe.Net(train, caffe.TEST, weights=str(model))
    assert (test_net.params["ip"][1].data == 0.125).all()


@pytest.mark.cpu_mode
def test_solver_follows_the_mode(standin, net_file, train, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")
    caffe.set_mode_gpu()
    s = _solver(net_file, train, "SGDSolver", "momentum: 0.9")
    _feed(s)
    s.step(1)
    caffe.set_mode_cpu()                             # pycaffe's test_solver.py does this
    s.step(1)
    assert _memory(s.net) is None and s.iter == 2
    caffe.set_mode_gpu()
    s.step(1)
    assert _memory(s.net) is not None and s.iter == 3


@pytest.mark.cpu_mode
def test_array_solver_says_it_stays_on_the_cpu(standin, tmp_path, monkeypatch):
    monkeypatch.delenv("CAFFE_COMPAT_ARRAY_NET")
    from tests.caffe_compat.array_solver.test_array_solver import IP, _tiny_files
    caffe.set_mode_cpu()
    s = caffe.SGDSolver(_tiny_files(tmp_path, IP))
    assert s.net._pinned                 # the array engine's solver
    caffe.set_mode_gpu()
    from caffe_compat.errors import SolverError
    with pytest.raises(SolverError, match="array engine, which trains on the CPU only"):
        s.step(1)


# ------------------------------------------------------------------------ the device
@pytest.mark.cpu_mode
def test_set_device_beyond_the_devices_names_the_count(deploy, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    caffe.set_mode_gpu()
    caffe.set_device(5)
    try:
        from caffe_compat.errors import CaffeCompatError
        with pytest.raises(CaffeCompatError, match=r"set_device\(5\): there are 2 CUDA "
                                                   r"devices \(ids 0\.\.1\)"):
            caffe.Net(deploy, caffe.TEST)
    finally:
        caffe.set_device(0)
        caffe.set_mode_cpu()


@pytest.mark.cpu_mode
def test_cpu_mode_has_no_second_copy(deploy):
    caffe.set_mode_cpu()
    COPIES.reset()
    net = _net(deploy)
    net._to_torch()
    net.blobs["data"].data[...] = _image()
    net.forward()
    assert _memory(net) is None and COPIES.log == []


# ------------------------------------------------------------------------ a real device
@pytest.fixture
def cuda_mode():
    import torch
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False        # float32 convolutions, as Caffe's
    torch.backends.cuda.matmul.allow_tf32 = False
    caffe.set_mode_gpu()
    caffe.set_device(0)
    COPIES.reset()
    yield COPIES
    caffe.set_mode_cpu()
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32


# float32 sums in cuDNN's / cuBLAS's order rather than oneDNN's: measured ~1e-7 on these
# probabilities; 1e-5 is the pycaffe tolerance this project uses against real Caffe
CUDA_TOL = 1e-5


@pytest.mark.cuda
def test_cuda_first_line_and_copies(cuda_mode, deploy):
    _, want = _cpu_outputs(deploy, _image())
    caffe.set_mode_gpu()
    net = _net(deploy)
    net.blobs["data"].data[...] = _image()
    out = net.forward()
    np.testing.assert_allclose(out["prob"], want["prob"], rtol=CUDA_TOL, atol=CUDA_TOL)
    assert net._torch_store.data["prob"].device.type == "cuda"
    cuda_mode.reset()
    net.blobs["data"].data[...] = _image(1)
    net.forward()
    assert cuda_mode.log == [("up", "data.data"), ("down", "prob.data")]


@pytest.mark.cuda
def test_cuda_surgery_backward_python_layer(cuda_mode, train):
    def run():
        net = _net(train, phase=caffe.TRAIN)
        net.params["ip"][1].data[...] = 0.5
        net.blobs["data"].data[...] = _image(shape=(2, 3, 6, 6))
        net.blobs["label"].data[...] = np.array([1, 3], np.float32).reshape(2, 1, 1, 1)
        loss = float(net.forward()["loss"])
        return loss, net.backward()["data"].copy(), net.params["conv"][0].diff.copy()

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    # gradients through a softmax loss and a x10 layer: float32 sums in other orders
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for a, b in zip(got[1:], want[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.parametrize("cls", sorted(SOLVER_TYPES))
def test_cuda_solvers(cuda_mode, net_file, train, cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAFFE_COMPAT_ARRAY_SOLVER", "0")

    def run():
        caffe.set_random_seed(3)
        s = _solver(net_file, train, cls, SOLVER_TYPES[cls])
        _feed(s)
        s.step(3)
        return s.net.params["ip"][0].data.copy()

    caffe.set_mode_cpu()
    want = run()
    caffe.set_mode_gpu()
    got = run()
    # three updates from gradients summed in other orders (float32)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_standin_environment_variable(deploy):
    import subprocess
    import sys
    code = ("import caffe, numpy as np\n"
            "from caffe_compat.net.synced import COPIES\n"
            "caffe.set_mode_gpu()\n"
            f"net = caffe.Net({deploy!r}, caffe.TEST)\n"
            "net.blobs['data'].data[...] = 1\n"
            "net.forward()\n"
            "print(net._torch_store.memory is not None, COPIES.down)\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=repo, CAFFE_COMPAT_DEVICE_STANDIN="1"),
                         timeout=120)
    assert res.stdout.split() == ["True", "1"], res.stderr[-2000:]
