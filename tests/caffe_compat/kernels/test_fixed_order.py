"""Sums and softmaxes whose bits do not follow the thread count
(caffe_compat.kernels.fixed_order), and the training steps and losses built on them: the same
bits at 1, 2, 3 and 4 threads (4: more threads than cores, as the policy runs while
other processes hold cores)."""
import h5py
import numpy as np
import pytest
import torch

from caffe_compat import get_solver
from caffe_compat.kernels import fixed_order
from caffe_compat.kernels.fixed_order import conv_weight_grad, softmax, sum_dims
from caffe_compat.parallel import threads


@pytest.fixture
def restore_threads():
    saved = torch.get_num_threads()
    yield
    threads.set_max_threads(saved)


def test_sum_is_the_same_bits_at_any_thread_count(restore_threads):
    # one output from 262144 elements: ATen splits such a sum among its threads, and its bits
    # at 2 or 3 threads differ from 1 thread's for this tensor (measured)
    t = torch.randn(1, 1, 512, 512, generator=torch.Generator().manual_seed(0))
    serial = []
    for n in (1, 2, 3, 4):
        threads.set_max_threads(n)
        serial.append(sum_dims(t, (0, 2, 3)))
        assert torch.get_num_threads() == n and threads.max_threads() == n  # count kept
    # tolerance 0: the point of the helper is identical bits
    assert all(torch.equal(serial[0], s) for s in serial[1:])
    threads.set_max_threads(1)
    assert torch.equal(serial[0], t.sum((0, 2, 3)))          # ATen's own serial order
    g = torch.randn(8, 3, 40, 40)
    threads.set_max_threads(2)
    assert torch.equal(sum_dims(g, 0), sum_dims(g, (0,)))
    assert torch.equal(sum_dims(g), sum_dims(g, (0, 1, 2, 3)))


def test_softmax_is_the_same_bits_at_any_thread_count(restore_threads):
    # over the channels of (2, 3, 256, 256): ATen's softmax gives other bits at 3 threads than
    # at 1 (the end of each thread's share goes through its scalar exp), measured
    x = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(2))
    out = []
    for n in (1, 2, 3, 4):
        threads.set_max_threads(n)
        out.append(softmax(x, 1))
        assert torch.get_num_threads() == n
    assert all(torch.equal(out[0], o) for o in out[1:])         # tolerance 0: same bits
    threads.set_max_threads(1)
    assert torch.equal(out[0], torch.softmax(x, dim=1))



@pytest.mark.parametrize("shape,dim", [((1, 1000), 1), ((2, 1000), -1), ((1, 100000), 1),
                                       ((3, 21841), 1), ((64, 10), 1), ((1000, 7), 1),
                                       ((130, 1001), 1), ((2, 3, 17, 1001), 3),
                                       ((1, 1000, 1, 1), 1), ((8, 1000, 1, 1), 1),
                                       ((100, 21, 1), -2)])
def test_classifier_softmax_keeps_the_pass_count(restore_threads, monkeypatch, shape, dim):
    """Over the last axis, or one followed by axes of size 1, the count is not changed (a
    change costs the next parallel operator its thread team): ATen's rows are each one
    thread's, and with an inner size of 1 every output takes its scalar loop. The same bits
    at 1-4 threads for rows of 7 to 100,000 values and 1 to 1,000 rows (tolerance 0); should
    a torch release split a row among threads, this fails."""
    from caffe_compat.kernels import fixed_order
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(3)) * 5
    calls = []
    real = fixed_order._on_one_thread
    monkeypatch.setattr(fixed_order, "_on_one_thread",
                        lambda fn, *args: calls.append(fn) or real(fn, *args))
    out = []
    for n in (1, 2, 3, 4):
        threads.set_max_threads(n)
        out.append(softmax(x, dim))
    assert not calls
    assert torch.equal(out[0], torch.softmax(x, dim))
    assert all(torch.equal(out[0], o) for o in out[1:])


NET = """
layer { name: "data" type: "HDF5Data" top: "data" top: "label"
        hdf5_data_param { source: "%s" batch_size: 8 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 16 kernel_size: 5 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "conv2"
        convolution_param { num_output: 32 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "conv3" type: "Convolution" bottom: "conv2" top: "conv3"
        convolution_param { num_output: 1 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "conv3" bottom: "label" top: "loss" }
"""


def _solver(folder, tag):
    (folder / f"s{tag}.prototxt").write_text(
        'net_param { %s } base_lr: 0.0005 momentum: 0.9 lr_policy: "fixed" max_iter: 5 '
        'display: 0 random_seed: 5 solver_mode: CPU snapshot_after_train: false'
        % (NET % (folder / "train.txt")))
    return get_solver(str(folder / f"s{tag}.prototxt"))


@pytest.mark.parametrize("n, c, o, size, k, pad, group", [
    (64, 20, 50, 12, 5, 0, 1),      # LeNet's conv2
    (7, 4, 6, 9, 3, 1, 2),          # an odd batch, padding, groups
    (1, 3, 8, 10, 3, 0, 1),         # one image: one part
])
def test_conv_weight_grad_is_the_same_bits_at_any_thread_count(restore_threads, n, c, o, size,
                                                               k, pad, group):
    g = torch.Generator().manual_seed(n)
    x = torch.rand(n, c, size, size, generator=g)
    w = torch.randn(o, c // group, k, k, generator=g)
    out = size + 2 * pad - k + 1
    dy = torch.randn(n, o, out, out, generator=g)
    args = ([1, 1], [pad, pad], [1, 1], group)
    got = []
    for count in (1, 2, 3, 4):
        torch.set_num_threads(count)
        got.append(conv_weight_grad(dy, x, w, *args))
    # tolerance 0: the parts and their order do not depend on the count
    assert all(torch.equal(got[0], other) for other in got[1:])
    # the parts, each on one thread, added in order
    torch.set_num_threads(1)
    half = -(-n // 2)
    parts = [torch.ops.aten.convolution_backward(dy[a:a + half], x[a:a + half], w, None, *args[:3],
                                                 False, [0, 0], group, [False, True, False])[1]
             for a in range(0, n, half)]
    expect = parts[0]
    for p in parts[1:]:
        expect = expect + p
    assert torch.equal(got[0], expect)
    # and oneDNN's gradient of the whole batch up to float32 summation order (sums of about
    # n * out^2 * 1 products: 1e-5 of the largest)
    whole = torch.ops.aten.convolution_backward(dy, x, w, None, *args[:3], False, [0, 0], group,
                                                [False, True, False])[1]
    assert float((whole - got[0]).abs().max() / whole.abs().max()) < 1e-5


@pytest.mark.parametrize("c, o, size, k, stride, pad, group", [
    (3, 96, 227, 11, 4, 0, 1),      # CaffeNet's conv1 at one image
    (96, 256, 27, 5, 1, 2, 2),      # its conv2: two groups, one per half
    (64, 50, 30, 3, 1, 1, 1),       # an even split of an odd layer: 25 + 25 outputs
    (60, 45, 30, 3, 1, 1, 1),       # an odd output count: 23 + 22
    (384, 256, 13, 3, 1, 1, 4),     # four groups: two per half
])
def test_one_image_weight_grad_in_channel_halves(restore_threads, monkeypatch, c, o, size, k,
                                                 stride, pad, group):
    g = torch.Generator().manual_seed(o)
    x = torch.rand(1, c, size, size, generator=g)
    w = torch.randn(o, c // group, k, k, generator=g)
    out = (size + 2 * pad - k) // stride + 1
    dy = torch.randn(1, o, out, out, generator=g)
    args = ([stride, stride], [pad, pad], [1, 1], group)
    got = []
    for count in (1, 2, 3, 4):
        torch.set_num_threads(count)
        got.append(conv_weight_grad(dy, x, w, *args))
    # tolerance 0: two fixed halves, each on one thread, whatever the count
    assert all(torch.equal(got[0], other) for other in got[1:])
    # with a core held the caller computes both halves: the same bits
    monkeypatch.setattr(fixed_order, "held_cores", lambda: 1)
    torch.set_num_threads(2)
    assert torch.equal(conv_weight_grad(dy, x, w, *args), got[0])
    # the halves stacked are the layer's gradient; against float64, float32 sums of
    # out^2 * C/group * k^2 products: 1e-5 of the largest
    torch.set_num_threads(1)
    whole = torch.ops.aten.convolution_backward(dy.double(), x.double(), w.double(), None,
                                                *args[:3], False, [0, 0], group,
                                                [False, True, False])[1]
    assert float((whole - got[0].double()).abs().max() / whole.abs().max()) < 1e-5
    assert fixed_order._channel_split(w, dy, group) is not None


def test_small_or_odd_grouped_layers_are_not_split():
    w, dy = torch.zeros(8, 3, 3, 3), torch.zeros(1, 8, 10, 10)
    assert fixed_order._channel_split(w, dy, 1) is None             # 21,600 multiply-adds
    w, dy = torch.zeros(96, 32, 5, 5), torch.zeros(1, 96, 27, 27)
    assert fixed_order._channel_split(w, dy, 3) is None             # three groups


def test_training_with_a_one_output_convolution_ignores_the_thread_count(tmp_path,
                                                                         restore_threads):
    # an SR-FCN-like end (a convolution with one output channel): its bias gradient came from
    # oneDNN, which splits the batch among threads, and two runs that differed only in the
    # thread count (the policy lowers it on a busy machine) trained other weights
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["data"] = rng.random((32, 1, 28, 28), dtype=np.float32)
        f["label"] = rng.random((32, 1, 20, 20), dtype=np.float32)
    (tmp_path / "train.txt").write_text(str(tmp_path / "train.h5") + "\n")
    runs = []
    for n in (1, 2, 3, 4):
        threads.set_max_threads(n)
        solver = _solver(tmp_path, n)
        solver.step(5)
        runs.append([b.detach().clone() for blobs in solver.net.params.values() for b in blobs])
    assert all(torch.isfinite(b).all() for b in runs[0])     # trained, not diverged
    # tolerance 0: a rerun on a busier machine must give the same weights
    for other in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(runs[0], other))


@pytest.mark.parametrize("text, shapes, labels", [
    ('name: "l" type: "EuclideanLoss" bottom: "a" bottom: "b" top: "l"',
     [(4, 1, 256, 256), (4, 1, 256, 256)], False),
    ('name: "l" type: "SoftmaxWithLoss" bottom: "a" bottom: "b" top: "l"',
     [(2, 3, 256, 256), (2, 1, 256, 256)], True),
    ('name: "l" type: "SigmoidCrossEntropyLoss" bottom: "a" bottom: "b" top: "l"',
     [(4, 1, 256, 256), (4, 1, 256, 256)], False),
    ('name: "l" type: "CCCLoss" bottom: "a" bottom: "b" top: "l"',
     [(262144, 1), (262144, 1)], False),
])
def test_large_losses_are_the_same_bits_at_any_thread_count(text, shapes, labels,
                                                            restore_threads):
    # a segmentation-sized loss sums some 10^5 terms into one number: ATen's sum splits them
    # among threads; the loss (and a gradient that depends on it, CCCLoss's) must not follow
    from tests.caffe_compat.layers.helpers_struct import make_layer
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(shapes[0], generator=gen)
    b = (torch.randint(0, 3, shapes[1], generator=gen).float() if labels
         else torch.rand(shapes[1], generator=gen))
    layer = make_layer(text, *shapes, phase="TRAIN")
    values = []
    for n in (1, 2, 3, 4):
        threads.set_max_threads(n)
        x = a.clone().requires_grad_()
        loss = layer(x, b)
        loss.backward()
        values.append((loss.detach(), x.grad))
    # tolerance 0: the same bits, the loss and its gradient
    assert all(torch.equal(values[0][0], v[0]) and torch.equal(values[0][1], v[1])
               for v in values[1:])


def test_conv_weight_grad_in_a_forked_child(restore_threads):
    """A child forked after the helper thread started makes its own (the parent's is not
    there): the gradient comes back instead of waiting for ever."""
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    torch.set_num_threads(2)
    x, w, dy = torch.rand(4, 2, 6, 6), torch.randn(3, 2, 3, 3), torch.randn(4, 3, 4, 4)
    args = ([1, 1], [0, 0], [1, 1], 1)
    want = conv_weight_grad(dy, x, w, *args)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(conv_weight_grad, (dy, x, w) + args).get(timeout=60)
    assert torch.equal(got, want)


@pytest.mark.parametrize("c, o, h, w", [
    (512, 160, 6, 8),       # GoogLeNet's inception_4b/1x1 at the smallest octave: whole
    (480, 192, 23, 30),     # inception_4a/1x1 at 240 x 320: cut into halves
    (7, 5, 3, 4),           # odd counts
])
@pytest.mark.parametrize("need", [(True, True), (True, False), (False, True)])
def test_pointwise_grads_same_bits_at_any_thread_count(restore_threads, monkeypatch, c, o, h, w,
                                                       need):
    g = torch.Generator().manual_seed(c + o)
    x = torch.randn(1, c, h, w, generator=g)
    weight = torch.randn(o, c, 1, 1, generator=g)
    dy = torch.randn(1, o, h, w, generator=g)
    assert fixed_order.is_pointwise(x, weight, (1, 1), (0, 0), (1, 1), 1)
    got = []
    for count in (1, 2, 3, 4):
        torch.set_num_threads(count)
        got.append(fixed_order.pointwise_grads(dy, x, weight, *need))
    monkeypatch.setattr(fixed_order, "held_cores", lambda: 1)     # the caller does both halves
    torch.set_num_threads(2)
    got.append(fixed_order.pointwise_grads(dy, x, weight, *need))
    # tolerance 0: fixed parts, each on one thread
    for other in got[1:]:
        for a, b in zip(got[0], other):
            assert (a is None and b is None) or torch.equal(a, b)
    # against float64 oneDNN: float32 sums of C (input) or H*W (weight) products, 1e-5 of
    # the largest
    ref = torch.ops.aten.convolution_backward(dy.double(), x.double(), weight.double(), None,
                                              [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                                              [need[0], need[1], False])
    for mine, want, wanted in zip(got[0], ref[:2], need):
        if not wanted:
            assert mine is None
            continue
        assert mine.shape == want.shape
        assert float((mine.double() - want).abs().max() / want.abs().max()) < 1e-5


def test_pointwise_is_only_the_plain_one_image_1x1():
    x, w = torch.zeros(1, 4, 5, 5), torch.zeros(3, 4, 1, 1)
    assert fixed_order.is_pointwise(x, w, (1, 1), (0, 0), (1, 1), 1)
    assert not fixed_order.is_pointwise(torch.zeros(2, 4, 5, 5), w, (1, 1), (0, 0), (1, 1), 1)
    assert not fixed_order.is_pointwise(x, w, (2, 2), (0, 0), (1, 1), 1)
    assert not fixed_order.is_pointwise(x, w, (1, 1), (1, 1), (1, 1), 1)
    assert not fixed_order.is_pointwise(x, torch.zeros(4, 2, 1, 1), (1, 1), (0, 0), (1, 1), 2)
    assert not fixed_order.is_pointwise(x, torch.zeros(3, 4, 3, 3), (1, 1), (0, 0), (1, 1), 1)
