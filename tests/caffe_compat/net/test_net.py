"""The net builder: the original nets, in-place blobs, the pycaffe-like API, weights, bad input.

Numbers are compared with Caffe 1.0 through the reference fixtures (tests/fixtures);
everything else is checked against hand-computed values.
"""
import collections

import h5py
import numpy as np
import pytest
import torch

import caffe_compat
from caffe_compat import CaffeCompatError, Layer, Net, NetError, PrototxtError, WeightsError
from caffe_compat.io.caffemodel import caffemodel_bytes, read_caffemodel, write_caffemodel
from caffe_compat.layers import registry
from caffe_compat.proto import caffe_pb2 as pb
from tests.caffe_compat.reference import (BACKWARD_TOL, FORWARD_TOL, run_fixture,
                                          scaled_error)
from tests.conftest import fixture_path, public_input

ZOO = ["layerzoo_a_conv", "layerzoo_a_act", "layerzoo_a_struct", "layerzoo_a_misc",
       "layerzoo_a_loss"]

# float32 against float64 on the same weights: float32 rounding (~6e-8 per operation) summed
# over a few hundred products per output stays below 1e-6 of the blob's scale; 1e-5 is margin.
F32_VS_F64_FORWARD = 1e-5
# Gradients go through one more reduction per layer; 1e-4 as for the Caffe fixtures.
F32_VS_F64_BACKWARD = 1e-4
# The same float32 computation on another device (cuDNN/cuBLAS summation order): 1e-5.
CUDA_TOL = 1e-5
# float64 against a float64 formula evaluated by numpy over a few operations: rounding only.
F64_TOL = 1e-12
# float32 gradient of a one-parameter layer: a six-term float32 sum (~1e-7 relative).
USER_LAYER_TOL = 1e-6
# A batch of 3 against three batches of 1: torch may pick other GEMM blockings for another
# batch size, which reorders float32 sums (~1e-7 relative); 1e-5 is a wide margin.
BATCH_TOL = 1e-5


def arr(t):
    return t.detach().cpu().numpy()


def input_net(inputs, body, name="t", extra="", **kwargs):
    tops = "".join(f'  top: "{n}"\n' for n in inputs)
    shapes = "".join("    shape { " + " ".join(f"dim: {d}" for d in s) + " }\n"
                     for s in inputs.values())
    text = (f'name: "{name}"\n{extra}\nlayer {{\n  name: "input"\n  type: "Input"\n{tops}'
            f"  input_param {{\n{shapes}  }}\n}}\n{body}")
    return Net(text, **kwargs)


SMALL = """
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3
          weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip"
        inner_product_param { num_output: 5
          weight_filler { type: "gaussian" std: 0.2 } bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "target" top: "loss" }
"""
SMALL_INPUTS = {"data": (2, 3, 10, 10), "target": (2, 5)}


def small_net(**kwargs):
    kwargs.setdefault("seed", 7)
    return input_net(SMALL_INPUTS, SMALL, **kwargs)


def small_feed(seed=0, batch=2):
    rng = np.random.default_rng(seed)
    return {"data": rng.normal(size=(batch, 3, 10, 10)).astype(np.float32),
            "target": rng.normal(size=(batch, 5)).astype(np.float32)}


def randomize(net, seed=0):
    """Random non-trivial parameters (fixed seed) through ``net.params``."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for blobs in net.params.values():
            for p in blobs:
                p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape))).to(p.dtype))


# ------------------------------------------------------------------------ the original nets
ORIGINAL = "original"
CNND_SOURCES = ("PATH/TO/train.txt", "PATH/TO/test.txt")
SR_SOURCES = ("PATH/TO/CAFFE_EMOTION/Pretrain/train.txt", "PATH/TO/CAFFE_EMOTION/Pretrain/test.txt")


@pytest.fixture(scope="module")
def h5_lists(tmp_path_factory):
    """Tiny HDF5 data in the layout of the original experiments: 96x96 faces with one score,
    and 32x32 -> 16x16 SR patches (two rows each; the data layer wraps around)."""
    folder = tmp_path_factory.mktemp("h5")
    rng = np.random.default_rng(3)

    def write(name, data_shape, label_shape):
        path = folder / f"{name}.h5"
        with h5py.File(path, "w") as f:
            f["data"] = rng.random((2,) + data_shape, dtype=np.float32)
            f["label"] = rng.random((2,) + label_shape, dtype=np.float32)
        lst = folder / f"{name}.txt"
        lst.write_text(f"{path}\n")
        return str(lst)

    cnnd = write("cnnd", (1, 96, 96), (1,))
    sr = write("sr", (1, 32, 32), (1, 16, 16))
    return {**{s: cnnd for s in CNND_SOURCES}, **{s: sr for s in SR_SOURCES}}


NETS = {
    "deploy/model_1F_CNN+D.prototxt": "cnnd_deploy",
    "deploy/SRCNN_net.prototxt": "sr_deploy",
    "experiments/network/model_1F_CNN+D.prototxt": "cnnd_trainval",
    "experiments/network/model_1F_CNN+D_vlqr.prototxt": "cnnd_trainval",
    "experiments/network/model_1F_CNN+D_vlqr_non_joint.prototxt": "cnnd_trainval",
    "pretrain/Pretrain_net.prototxt": "sr_pretrain",
}
CNND_SHAPES = {"conv1": (64, 92, 92), "pool1": (64, 46, 46), "conv2": (128, 42, 42),
               "pool2": (128, 21, 21), "conv3": (256, 17, 17), "pool3": (256, 5, 5),
               "fc4": (300,), "fc5": (1,)}
SR_SHAPES = {"conv1": (64, 92, 92), "conv2": (128, 88, 88), "conv3": (256, 84, 84),
             "conv4": (1, 80, 80)}
SR32_SHAPES = {"conv1": (64, 28, 28), "conv2": (128, 24, 24), "conv3": (256, 20, 20),
               "conv4": (1, 16, 16)}


@pytest.mark.parametrize("phase", ["train", "test"])
@pytest.mark.parametrize("rel", list(NETS))
def test_original_nets_build_with_caffe_shapes(rel, phase, h5_lists):
    path = public_input(ORIGINAL, *rel.split("/"))
    net = Net(path, phase=phase, data_sources=h5_lists)
    kind = NETS[rel]
    print(f"\n{rel} [{phase.upper()}]: layers {net.layer_names}")
    for name in net.blobs:
        print(f"  {name:8s} {'x'.join(map(str, net.blob_shape(name))) or 'scalar'}")
    names = net.layer_names
    if kind in ("cnnd_deploy", "sr_deploy"):
        batch = 1
        assert net.inputs == ["data", "label"] and net.blob_shape("data") == (1, 1, 96, 96)
        # Silence is TEST-only, the loss TRAIN-only
        assert ("Silence" in names) == (phase == "test") and ("loss" in names) == (phase == "train")
    else:
        batch = 128 if (phase == "train" or kind == "cnnd_trainval") else 2
        assert net.inputs == [] and names[0] == "data" and net.layer("data").is_data
        assert "loss" in names                  # the train/val losses are not phase-restricted
    shapes = {"cnnd_deploy": CNND_SHAPES, "cnnd_trainval": CNND_SHAPES, "sr_deploy": SR_SHAPES,
              "sr_pretrain": SR32_SHAPES}[kind]
    for blob, shape in shapes.items():
        assert net.blob_shape(blob) == (batch,) + shape, blob
    if kind.startswith("cnnd"):
        assert tuple(net.params["fc4"][0].shape) == (300, 6400)     # fc4 sees 256*5*5 inputs
        assert tuple(net.params["fc5"][0].shape) == (1, 300)
    if kind == "sr_pretrain":
        assert net.blob_shape("label") == (batch, 1, 16, 16)
    assert net.outputs == (["loss"] if "loss" in names else
                           ["fc5"] if kind == "cnnd_deploy" else ["conv4"])


def test_original_learning_rate_multipliers(h5_lists):
    def mults(rel):
        net = Net(public_input(ORIGINAL, *rel.split("/")), phase="train", data_sources=h5_lists)
        return {(e.layer, e.index): e.lr_mult for e in net.learnable}

    base = "experiments/network/"
    assert mults(base + "model_1F_CNN+D.prototxt")[("conv1", 1)] == 2
    vlqr = mults(base + "model_1F_CNN+D_vlqr.prototxt")
    assert vlqr[("conv3", 0)] == pytest.approx(0.1) and vlqr[("conv3", 1)] == pytest.approx(0.2)
    non_joint = mults(base + "model_1F_CNN+D_vlqr_non_joint.prototxt")
    assert non_joint[("conv2", 0)] == 0 and non_joint[("fc4", 0)] == 1
    sr = mults("pretrain/Pretrain_net.prototxt")
    assert sr[("conv4", 0)] == pytest.approx(0.1) and sr[("conv1", 1)] == pytest.approx(0.1)


def test_original_nets_run(h5_lists):
    """The deploy net at its real 96x96 size and the SR-FCN pretraining net on 32x32 patches."""
    net = Net(public_input(ORIGINAL, "deploy", "model_1F_CNN+D.prototxt"), seed=1)
    out = net.forward(data=np.random.default_rng(0).random((1, 1, 96, 96), dtype=np.float32))
    assert list(out) == ["fc5"] and tuple(out["fc5"].shape) == (1, 1)
    assert tuple(net.blobs["pool3"].data.shape) == (1, 256, 5, 5)
    sr = Net(public_input(ORIGINAL, "pretrain", "Pretrain_net.prototxt"), phase="test", seed=1,
             data_sources=h5_lists)
    out = sr.forward()
    assert tuple(sr.blobs["conv4"].data.shape) == (2, 1, 16, 16)
    assert out["loss"].shape == () and torch.isfinite(out["loss"])


# ------------------------------------------------------------------------ in-place blobs
def test_in_place_data_is_last_version_diff_is_first_producers_gradient():
    net = input_net({"x": (3, 4), "t": (3, 4)}, """
        layer { name: "pow" type: "Power" bottom: "x" top: "y" power_param { scale: 2 shift: -1 } }
        layer { name: "act" type: "TanH" bottom: "y" top: "y" }
        layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "t" top: "loss" }
    """, extra="force_backward: true", dtype=torch.float64, keep_diffs=True)
    rng = np.random.default_rng(1)
    x, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    net.forward(x=x, t=t)
    net.backward()
    pre = 2 * x - 1
    y = np.tanh(pre)
    # EuclideanLoss: sum((y - t)^2) / (2 N), N = 3; through TanH: (1 - y^2)
    want_diff = (y - t) / 3 * (1 - y * y)
    assert np.abs(arr(net.blobs["y"].data) - y).max() <= F64_TOL
    assert np.abs(arr(net.blobs["y"].diff) - want_diff).max() <= F64_TOL
    assert np.abs(arr(net.blobs["x"].diff) - 2 * want_diff).max() <= F64_TOL
    assert list(net.blobs) == ["x", "t", "y", "loss"]   # one blob for the in-place chain


def test_in_place_matches_caffe_fixture_conventions():
    act = run_fixture("layerzoo_a_act")                # Power then TanH in place on 'inplace'
    x = act.inputs["data"].astype(np.float64)
    assert scaled_error(act.blob("inplace"), np.tanh(2 * x - 1)) <= FORWARD_TOL
    assert scaled_error(act.blob("inplace"), act.ref_blobs["inplace"]) <= FORWARD_TOL
    assert scaled_error(act.diff("inplace"), act.ref_diffs["inplace"]) <= BACKWARD_TOL
    cnnd = run_fixture("cnnd_trainval_test")           # ReLU and Dropout in place
    for blob in ("conv1", "conv2", "conv3", "fc4"):
        assert cnnd.blob(blob).min() >= 0                # data = ReLU(pre-activation)
        assert scaled_error(cnnd.blob(blob), cnnd.ref_blobs[blob]) <= FORWARD_TOL
        # diff = gradient w.r.t. the pre-activation (ReLU's backward ran last in Caffe)
        err = scaled_error(cnnd.diff(blob), cnnd.ref_diffs[blob])
        print(f"\ncnnd_trainval_test {blob}: data ok, diff error {err:.2g}")
        assert err <= BACKWARD_TOL


def test_diffs_of_computed_blobs_need_keep_diffs():
    net = small_net()
    net.forward(**small_feed())
    net.backward()
    with pytest.raises(NetError, match=r"blob 'conv'.*keep_diffs=True"):
        net.blobs["conv"].diff
    assert not net.blobs["data"].diff.any()      # an input without force_backward: diff 0
    kept = small_net(keep_diffs=True)
    kept.forward(**small_feed())
    kept.backward()
    assert kept.blobs["conv"].diff.abs().sum() > 0


# ------------------------------------------------------------------------ pycaffe-like API
def test_forward_returns_outputs_sorted_by_name():
    net = input_net({"data": (2, 3)}, """
        layer { name: "z" type: "ReLU" bottom: "data" top: "zeta" }
        layer { name: "a" type: "TanH" bottom: "data" top: "alpha" }
        layer { name: "m" type: "AbsVal" bottom: "data" top: "mid" }
    """)
    out = net.forward(data=np.ones((2, 3), np.float32))
    assert isinstance(out, collections.OrderedDict)
    assert list(out) == ["alpha", "mid", "zeta"] == net.outputs
    assert list(net.blobs) == ["data", "data_input_0_split_0", "data_input_0_split_1",
                               "data_input_0_split_2", "zeta", "alpha", "mid"]


@pytest.mark.parametrize("folder", ZOO + ["deploy_cnnd", "cnnd_trainval_test", "pretrain_test"])
def test_blob_order_is_caffes(folder):
    base = fixture_path("caffe-reference", "forward", folder)
    sources = {"h5_list.txt": str(base / "h5_list.txt")}
    net = Net(base / "net.prototxt", data_sources=sources)
    with np.load(base / "blobs.npz") as ref:
        assert list(net.blobs) == list(ref.files)
        assert all(net.blob_shape(k) == ref[k].shape for k in ref.files)


def test_params_view():
    net = small_net()
    assert list(net.params) == ["conv", "ip"]                 # layers with blobs, in order
    assert [tuple(p.shape) for p in net.params["conv"]] == [(4, 3, 3, 3), (4,)]
    assert [tuple(p.shape) for p in net.params["ip"]] == [(5, 64), (5,)]
    assert net.params["conv"][0] is net.layer("conv").weight
    with pytest.raises(NetError, match="no layer 'nope'"):
        net.layer("nope")


def test_inputs_with_another_batch_size_and_numpy_or_torch():
    net = small_net()
    feed = small_feed(batch=3)
    out = net.forward(**feed)
    assert tuple(out["loss"].shape) == () and tuple(net.blobs["ip"].data.shape) == (3, 5)
    assert net.blobs["pool"].shape == (3, 4, 4, 4)            # blob shapes follow the input
    ip3 = net.blobs["ip"].data.clone()
    for i in range(3):
        net.forward(data=feed["data"][i:i + 1], target=feed["target"][i:i + 1])
        assert scaled_error(arr(net.blobs["ip"].data), arr(ip3[i:i + 1])) <= BATCH_TOL
    net.forward(**{k: torch.from_numpy(v) for k, v in feed.items()})
    assert torch.equal(net.blobs["ip"].data, ip3)             # numpy or torch: the same numbers
    net.forward(data=feed["data"].astype(np.float64), target=feed["target"].tolist())
    assert torch.equal(net.blobs["ip"].data, ip3)             # converted to the net's dtype


def test_unknown_input_name():
    net = small_net()
    with pytest.raises(NetError, match=r"\['nope'\] are not input blobs") as info:
        net.forward(nope=np.zeros(3), **small_feed())
    assert "data" in str(info.value)


def test_backward_without_loss():
    net = input_net({"data": (2, 3)}, 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    net.forward(data=np.ones((2, 3)))
    with pytest.raises(NetError, match="nothing to back-propagate"):
        net.backward()
    with pytest.raises(NetError, match="nothing to back-propagate"):
        small_net().backward()                                 # no forward yet


def test_float64_matches_float32():
    n32 = small_net(keep_diffs=True)
    n64 = small_net(dtype=torch.float64, keep_diffs=True)
    n64.copy_from(n32.to_proto())
    assert all(p.dtype == torch.float64 for ps in n64.params.values() for p in ps)
    feed = small_feed()
    for n in (n32, n64):
        n.forward(**feed)
        n.backward()
    assert n64.blobs["ip"].data.dtype == torch.float64
    fwd = max(scaled_error(arr(n32.blobs[b].data), arr(n64.blobs[b].data))
              for b in ("conv", "pool", "ip", "loss"))
    bwd = max(scaled_error(arr(n32.blobs[b].diff), arr(n64.blobs[b].diff))
              for b in ("conv", "pool", "ip"))
    bwd = max([bwd] + [scaled_error(arr(p32.grad), arr(p64.grad))
                       for l in n32.params for p32, p64 in zip(n32.params[l], n64.params[l])])
    print(f"\nfloat32 vs float64: forward {fwd:.2g}, backward {bwd:.2g}")
    assert fwd <= F32_VS_F64_FORWARD and bwd <= F32_VS_F64_BACKWARD
    # a float64 net writes double_data, which a float32 net reads back
    blob = n64.to_proto().layer[1].blobs[0]
    assert len(blob.double_data) == 4 * 3 * 3 * 3 and not len(blob.data)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    cpu, gpu = small_net(), small_net().to("cuda")
    feed = small_feed()
    want = cpu.forward(**feed)["loss"]
    got = gpu.forward(**feed)["loss"]             # numpy inputs are moved to the net's device
    assert got.device.type == "cuda"
    gpu.backward()
    assert gpu.params["conv"][0].grad.device.type == "cuda"
    assert scaled_error(arr(got), arr(want)) <= CUDA_TOL


# ------------------------------------------------------------------------ weights
def test_save_copy_from_round_trip_is_bit_exact(tmp_path):
    for dtype in (torch.float32, torch.float64):
        src = small_net(dtype=dtype)
        randomize(src, seed=5)
        src.save(tmp_path / "w.caffemodel")
        dst = small_net(dtype=dtype, seed=99)
        copied, ignored = dst.copy_from(tmp_path / "w.caffemodel")
        assert copied == ["input", "conv", "relu", "pool", "ip", "loss"] and ignored == []
        for layer in src.params:
            for a, b in zip(src.params[layer], dst.params[layer]):
                assert torch.equal(a, b)


def test_save_reencodes_to_the_same_bytes(tmp_path):
    net = small_net()
    randomize(net)
    net.save(tmp_path / "w.caffemodel")
    data = (tmp_path / "w.caffemodel").read_bytes()
    assert caffemodel_bytes(read_caffemodel(tmp_path / "w.caffemodel", upgrade=False)) == data
    assert caffemodel_bytes(net.to_proto()) == data


def test_copy_from_ignores_absent_layers_and_reports_them(tmp_path):
    src = small_net()
    randomize(src, seed=2)
    src.save(tmp_path / "w.caffemodel")
    other = input_net(SMALL_INPUTS, SMALL.replace('name: "ip"', 'name: "ip_new"'), seed=3)
    before = other.params["ip_new"][0].detach().clone()
    copied, ignored = other.copy_from(tmp_path / "w.caffemodel")
    assert "conv" in copied and ignored == ["ip"]
    assert torch.equal(other.params["conv"][0], src.params["conv"][0])
    assert torch.equal(other.params["ip_new"][0], before)     # keeps its filler values


def test_strict_copy_reports_everything_in_one_message(tmp_path):
    src = input_net({"data": (2, 3, 10, 10)}, """
        layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
                convolution_param { num_output: 6 kernel_size: 3 } }
        layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
                inner_product_param { num_output: 5 bias_term: false } }
        layer { name: "extra" type: "InnerProduct" bottom: "conv" top: "extra"
                inner_product_param { num_output: 2 } }
    """)
    src.save(tmp_path / "w.caffemodel")
    net = small_net()
    before = {k: v.clone() for k, v in net.caffe_state_dict().items()}
    with pytest.raises(WeightsError) as info:
        net.copy_from(tmp_path / "w.caffemodel", strict=True)
    message = str(info.value)
    print("\n" + message)
    assert str(tmp_path / "w.caffemodel") in message
    assert "layer 'conv' blob 0: shape mismatch, file has (6, 3, 3, 3), net expects " \
           "(4, 3, 3, 3)" in message
    assert "layer 'conv' blob 1: shape mismatch, file has (6,), net expects (4,)" in message
    assert "layer 'ip': the file has 1 blob(s), the net expects 2" in message
    assert "unexpected layer 'extra' (2 blob(s))" in message
    # every problem is in this one error; the net is left exactly as it was
    assert message.count("\n  ") == 4
    assert all(torch.equal(before[k], v) for k, v in net.caffe_state_dict().items())
    # strict also names layers of the net that the file lacks
    partial = small_net()
    partial.save(tmp_path / "p.caffemodel")
    bigger = input_net(SMALL_INPUTS, SMALL + """
        layer { name: "ip2" type: "InnerProduct" bottom: "pool" top: "ip2"
                inner_product_param { num_output: 2 } }""")
    with pytest.raises(WeightsError, match=r"missing layer 'ip2' \(2 blob\(s\)\) is not in the "
                                           r"file"):
        bigger.copy_from(tmp_path / "p.caffemodel", strict=True)
    assert bigger.copy_from(tmp_path / "p.caffemodel")[1] == []   # not strict: fine


def test_refused_copy_leaves_the_net_unchanged(tmp_path):
    src = input_net({"data": (2, 3, 10, 10), "target": (2, 6)},
                    SMALL.replace("num_output: 5", "num_output: 6"))
    randomize(src, seed=8)
    src.save(tmp_path / "w.caffemodel")       # conv fits, ip does not
    net = small_net()
    before = {k: v.clone() for k, v in net.caffe_state_dict().items()}
    with pytest.raises(WeightsError, match=r"layer 'ip' blob 0: shape mismatch"):
        net.copy_from(tmp_path / "w.caffemodel")
    assert all(torch.equal(before[k], v) for k, v in net.caffe_state_dict().items())


def _to_legacy(blob):
    dims = list(blob.shape.dim)
    blob.ClearField("shape")
    blob.num, blob.channels, blob.height, blob.width = [1] * (4 - len(dims)) + dims


def test_legacy_4d_blobs_load_into_lower_rank_params(tmp_path):
    src = small_net()
    randomize(src, seed=4)
    proto = src.to_proto()
    for layer in proto.layer:
        if layer.name == "ip":
            for blob in layer.blobs:          # weight 1x1x5x64, bias 1x1x1x5
                _to_legacy(blob)
    write_caffemodel(proto, tmp_path / "legacy.caffemodel")
    dst = small_net(seed=1)
    dst.copy_from(tmp_path / "legacy.caffemodel", strict=True)
    assert torch.equal(dst.params["ip"][0], src.params["ip"][0])
    assert torch.equal(dst.params["ip"][1], src.params["ip"][1])
    # the legacy dims must still match from the end: 1x1x64x5 is not a (5, 64) weight
    proto.layer[4].blobs[0].height, proto.layer[4].blobs[0].width = 64, 5
    write_caffemodel(proto, tmp_path / "bad.caffemodel")
    with pytest.raises(WeightsError, match=r"layer 'ip' blob 0: shape mismatch, file has "
                                           r"\(1, 1, 64, 5\), net expects \(5, 64\)"):
        dst.copy_from(tmp_path / "bad.caffemodel")


CAFFE_WRITTEN = [("forward", f, "net.prototxt", "init.caffemodel")
                 for f in ZOO + ["deploy_cnnd"]] + [
    ("train", "solvers", "net.prototxt", "adam/snapshot_iter_10.caffemodel"),
    ("train", "sr_pretrain", "net.prototxt", "snapshot_iter_10.caffemodel"),
]


@pytest.mark.parametrize("kind, folder, model, weights", CAFFE_WRITTEN)
def test_to_proto_of_caffe_written_model_gives_caffes_bytes(kind, folder, model, weights):
    """A net loaded from a Caffe caffemodel writes that caffemodel again, byte for byte: each
    layer's ``phase`` (set by Net::Init), the ``loss_weight: 1`` Caffe's LossLayer adds and
    BatchNorm's three ``lr_mult: 0`` param specs included."""
    base = fixture_path("caffe-reference", kind, folder)
    phase = "test" if kind == "forward" else "train"
    sources = {n: str(base / n) for n in ("train_h5_list.txt", "test_h5_list.txt")}
    net = Net(base / model, base / weights, phase=phase, data_sources=sources)
    ours = caffemodel_bytes(net.to_proto())
    theirs = (base / weights).read_bytes()
    if ours != theirs:      # say what differs before failing
        caffe = read_caffemodel(base / weights, upgrade=False)
        for a, b in zip(net.to_proto().layer, caffe.layer):
            assert a == b, f"layer '{a.name}' differs:\n{a}\nCaffe:\n{b}"
    assert ours == theirs
    losses = [lp for lp in net.to_proto().layer if net.layer(lp.name).is_loss]
    assert all(len(lp.loss_weight) == len(lp.top) for lp in losses)


def test_loss_layer_with_two_tops_needs_explicit_weights():
    body = """
        layer { name: "sm" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l" top: "p" %s }
    """
    inputs = {"x": (4, 3), "y": (4,)}
    with pytest.raises(NetError, match=r"layer 'sm'.*loss_weight given once per top"):
        input_net(inputs, body % "")
    net = input_net(inputs, body % "loss_weight: 1 loss_weight: 0")
    assert list(net.to_proto().layer[1].loss_weight) == [1.0, 0.0]


def test_shared_parameters():
    body = """
        layer { name: "a" type: "InnerProduct" bottom: "data" top: "a"
                param { name: "w" lr_mult: 2 } inner_product_param { num_output: 3 } }
        layer { name: "b" type: "InnerProduct" bottom: "data" top: "b"
                param { name: "w" %s } inner_product_param { num_output: 3 } }
    """
    net = input_net({"data": (2, 4)}, body % "")
    assert net.params["a"][0] is net.params["b"][0]
    assert [(e.layer, e.index, e.lr_mult) for e in net.learnable] == \
        [("a", 0, 2.0), ("a", 1, 1.0), ("b", 1, 1.0)]
    assert input_net({"data": (2, 4)}, body % "lr_mult: 2").learnable[0].lr_mult == 2
    # Caffe: "Shared param 'w' has mismatched lr_mult."
    with pytest.raises(NetError, match=r"layer 'b': shared parameter 'w'.*mismatched lr_mult"):
        input_net({"data": (2, 4)}, body % "lr_mult: 3")
    with pytest.raises(NetError, match=r"layer 'b': shared parameter 'w' has shape \(5, 4\)"):
        input_net({"data": (2, 4)}, body.replace("%s } inner_product_param { num_output: 3",
                                                 "} inner_product_param { num_output: 5"))


def test_negative_lr_mult_learns():
    net = input_net({"data": (2, 4), "t": (2, 3)}, """
        layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
                param { lr_mult: -1 } param { lr_mult: 0 } inner_product_param { num_output: 3
                weight_filler { type: "gaussian" std: 1 } } }
        layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "t" top: "loss" }""")
    w, b = net.params["ip"]
    assert w.requires_grad and not b.requires_grad     # Caffe: lr_mult != 0 needs backward
    net.forward(data=np.ones((2, 4)), t=np.zeros((2, 3)))
    net.backward()
    assert w.grad is not None and b.grad is None


# ------------------------------------------------------------------------ bad input
GOOD_PROTO = """name: "t"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 } }
"""


def _caffemodel_bytes():
    return caffemodel_bytes(Net(GOOD_PROTO).to_proto())


def _truncated(tmp_path):
    (tmp_path / "m.caffemodel").write_bytes(_caffemodel_bytes()[:-7])
    return lambda: Net(GOOD_PROTO, tmp_path / "m.caffemodel")


def _garbage(tmp_path):
    (tmp_path / "m.caffemodel").write_bytes(bytes(range(256)) * 4)
    return lambda: Net(GOOD_PROTO, tmp_path / "m.caffemodel")


def _syntax(tmp_path):
    (tmp_path / "n.prototxt").write_text(GOOD_PROTO.replace('type: "InnerProduct"',
                                                            'type "InnerProduct"'))
    return lambda: Net(tmp_path / "n.prototxt")


def _unknown_type(tmp_path):
    return lambda: Net(GOOD_PROTO.replace("InnerProduct", "InnerProdukt"))


def _shape_mismatch(tmp_path):
    Net(GOOD_PROTO.replace("num_output: 4", "num_output: 6")).save(tmp_path / "m.caffemodel")
    return lambda: Net(GOOD_PROTO, tmp_path / "m.caffemodel")


def _missing_bottom(tmp_path):
    return lambda: Net(GOOD_PROTO.replace('bottom: "data"', 'bottom: "dta"'))


def _bottom_count(tmp_path):
    return lambda: Net(GOOD_PROTO.replace('bottom: "data"', 'bottom: "data" bottom: "data"'))


def _top_count(tmp_path):
    return lambda: Net(GOOD_PROTO.replace('top: "ip"', ""))


def _solverstate(tmp_path):
    state = pb.SolverState(iter=3, learned_net="x.caffemodel")
    state.history.add().data.extend([1.0, 2.0])
    (tmp_path / "s.solverstate").write_bytes(state.SerializeToString())
    return lambda: Net(GOOD_PROTO, tmp_path / "s.solverstate")


BAD_INPUT = [
    ("truncated caffemodel", _truncated, WeightsError, ["m.caffemodel", "truncated"]),
    ("garbage caffemodel", _garbage, WeightsError, ["m.caffemodel", "not a valid binary"]),
    ("solverstate as weights", _solverstate, WeightsError, ["s.solverstate", ".solverstate"]),
    ("prototxt syntax error", _syntax, PrototxtError, ["n.prototxt:3:25", 'Expected ":"']),
    ("unknown layer type", _unknown_type, NetError, ["layer 'ip'", "'InnerProdukt'"]),
    ("blob shape mismatch", _shape_mismatch, WeightsError,
     ["m.caffemodel", "layer 'ip' blob 0", "file has (6, 3), net expects (4, 3)",
      "layer 'ip' blob 1", "file has (6,), net expects (4,)"]),
    ("missing bottom blob", _missing_bottom, NetError, ["layer 'ip'", "'dta'"]),
    ("wrong number of bottoms", _bottom_count, NetError,
     ["layer 'ip'", "InnerProduct", "exactly 1 bottom", "got 2"]),
    ("wrong number of tops", _top_count, NetError, ["layer 'ip'", "exactly 1 top", "got 0"]),
]


@pytest.mark.parametrize("what, make, kind, needles", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_gives_one_clear_error(what, make, kind, needles, tmp_path):
    with pytest.raises(CaffeCompatError) as info:
        make(tmp_path)()
    assert type(info.value) is kind, f"{what}: {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    print(f"\n{what}: {message}")
    for needle in needles:
        assert needle in message, f"{what}: {needle!r} not in {message!r}"


# ------------------------------------------------------------------------ user layer types
@pytest.fixture
def scale_by_type():
    name = "CompatTestScaleBy"
    yield name
    registry._REGISTRY.pop(name, None)


def test_user_registered_layer_type(scale_by_type, tmp_path):
    @caffe_compat.register_layer(scale_by_type)
    class ScaleBy(Layer):
        exact_bottoms = exact_tops = 1
        blob_names = ("alpha",)

        def __init__(self, param, bottom_shapes, phase="TEST"):
            super().__init__(param, bottom_shapes, phase)
            self.add_blob("alpha", (1,))

        def forward(self, x):
            return x * self.alpha

    assert scale_by_type in caffe_compat.registered_types()
    body = f"""
        layer {{ name: "s" type: "{scale_by_type}" bottom: "data" top: "s" }}
        layer {{ name: "loss" type: "EuclideanLoss" bottom: "s" bottom: "t" top: "loss" }}"""
    net = input_net({"data": (2, 3), "t": (2, 3)}, body)
    with torch.no_grad():
        net.params["s"][0].fill_(2.5)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    net.forward(data=x, t=np.zeros((2, 3)))
    assert np.array_equal(arr(net.blobs["s"].data), 2.5 * x)
    net.backward()
    # d/d alpha of sum((alpha x)^2) / (2 * 2) = alpha * sum(x^2) / 2 = 2.5 * 55 / 2
    assert net.params["s"][0].grad.item() == pytest.approx(68.75, rel=USER_LAYER_TOL)
    net.save(tmp_path / "w.caffemodel")
    again = input_net({"data": (2, 3), "t": (2, 3)}, body)
    again.copy_from(tmp_path / "w.caffemodel", strict=True)
    assert again.params["s"][0].item() == 2.5
    assert list(again.caffe_state_dict()) == ["s.alpha"]

    class Other(ScaleBy):
        pass

    with pytest.raises(ValueError, match=rf"'{scale_by_type}' is already registered"):
        caffe_compat.register_layer(scale_by_type)(Other)
    caffe_compat.register_layer(scale_by_type, replace=True)(Other)
    assert type(input_net({"data": (2, 3), "t": (2, 3)}, body).layer("s")) is Other
