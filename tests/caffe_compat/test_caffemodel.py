"""Binary caffemodels: Caffe's files read exactly, written back byte for byte, bad files named."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_compat.errors import WeightsError
from caffe_compat.io.unknown_report import CaffemodelWarning
from caffe_compat.io.caffemodel import (array_to_blob, blob_shape,
                                        blob_to_array, caffemodel_bytes, layer_blobs,
                                        parse_caffemodel, read_caffemodel, unknown_field_paths,
                                        write_caffemodel)
from caffe_compat.io.prototxt import read_net
from caffe_compat.proto import caffe_pb2 as pb
from tests.conftest import fixture_path, public_input

ZOO = ["layerzoo_a_conv", "layerzoo_a_act", "layerzoo_a_struct", "layerzoo_a_misc",
       "layerzoo_a_loss"]


def all_reference_caffemodels():
    root = fixture_path("caffe-reference")
    paths = sorted(glob.glob(os.path.join(root, "**", "*.caffemodel"), recursive=True))
    assert paths
    return paths


def as_dict(net):
    return {f"{name}/{i}": arr for name, _, arrays in layer_blobs(net)
            for i, arr in enumerate(arrays)}


@pytest.mark.parametrize("folder", ZOO)
def test_layer_zoo_blobs_equal_caffe_params(folder):
    base = fixture_path("caffe-reference", "forward", folder)
    net = read_caffemodel(base / "init.caffemodel")
    ours = as_dict(net)
    with np.load(base / "params.npz") as ref:
        assert sorted(ours) == sorted(ref.files)
        for key in ref.files:
            assert ours[key].dtype == np.float32
            assert ours[key].shape == ref[key].shape, key
            assert np.array_equal(ours[key], ref[key]), key


@pytest.mark.parametrize("folder", ZOO)
def test_layer_zoo_round_trip(folder, tmp_path):
    path = fixture_path("caffe-reference", "forward", folder, "init.caffemodel")
    raw = read_caffemodel(path, upgrade=False)
    out = tmp_path / "copy.caffemodel"
    write_caffemodel(raw, out)
    assert out.read_bytes() == path.read_bytes()
    net = read_caffemodel(path)
    write_caffemodel(net, out)
    again = read_caffemodel(out)
    assert again == net
    for (n1, t1, a1), (n2, t2, a2) in zip(layer_blobs(net), layer_blobs(again)):
        assert (n1, t1) == (n2, t2)
        assert all(np.array_equal(x, y) for x, y in zip(a1, a2))


def test_every_reference_caffemodel_reencodes_byte_identical():
    for path in all_reference_caffemodels():
        data = open(path, "rb").read()
        raw = parse_caffemodel(data, path, upgrade=False)
        assert unknown_field_paths(raw) == [], path  # every field Caffe wrote is in our schema
        assert caffemodel_bytes(raw) == data, path
        net = parse_caffemodel(data, path)
        if not any(l.type == "BatchNorm" for l in net.layer):
            assert caffemodel_bytes(net) == data, path


def test_batchnorm_params_written_by_caffe_are_upgraded():
    # Caffe's BatchNorm adds three lr_mult 0 params to its definition when it is set up, so
    # saved models carry them; loading upgrades them as UpgradeNetBatchNorm does: lr_mult and
    # decay_mult 0 (the blobs are untouched).
    path = fixture_path("caffe-reference", "forward", "layerzoo_a_struct", "init.caffemodel")
    raw = next(l for l in read_caffemodel(path, upgrade=False).layer if l.type == "BatchNorm")
    net = next(l for l in read_caffemodel(path).layer if l.type == "BatchNorm")
    assert [p.lr_mult for p in raw.param] == [0, 0, 0] and not raw.param[0].HasField("decay_mult")
    assert [(p.lr_mult, p.decay_mult) for p in net.param] == [(0, 0)] * 3
    assert list(raw.blobs) == list(net.blobs) and len(net.blobs) == 3


def test_real_net_weights():
    net = read_caffemodel(fixture_path("caffe-reference", "forward", "deploy_cnnd",
                                      "init.caffemodel"))
    blobs = {name: [a.shape for a in arrays] for name, _, arrays in layer_blobs(net)}
    assert blobs["conv1"] == [(64, 1, 5, 5), (64,)]
    assert blobs["conv3"] == [(256, 128, 5, 5), (256,)]
    assert blobs["fc4"] == [(300, 6400), (300,)]
    assert blobs["fc5"] == [(1, 300), (1,)]
    assert blobs["relu1"] == []
    assert [name for name, _, _ in layer_blobs(net)][0] == "input"
    fc4_bias = as_dict(net)["fc4/1"]
    assert fc4_bias.shape == (300,) and fc4_bias.dtype == np.float32


def test_layer_order_is_file_order():
    net = read_caffemodel(fixture_path("caffe-reference", "train", "solvers", "init.caffemodel"))
    assert [(n, t) for n, t, _ in layer_blobs(net)] == [(l.name, l.type) for l in net.layer]


# --------------------------------------------------------------------------------------------
# Bad files

@pytest.fixture
def good_bytes():
    return fixture_path("caffe-reference", "train", "solvers", "init.caffemodel").read_bytes()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_missing_empty_and_directory(tmp_path):
    with pytest.raises(WeightsError, match=r"nope\.caffemodel: no such caffemodel file"):
        read_caffemodel(tmp_path / "nope.caffemodel")
    with pytest.raises(WeightsError, match=r"empty\.caffemodel: empty file \(0 bytes\)"):
        read_caffemodel(write(tmp_path, "empty.caffemodel", b""))
    with pytest.raises(WeightsError, match="is a directory"):
        read_caffemodel(tmp_path)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated(tmp_path, good_bytes, cut):
    """The layer cut off is named by its name (read from the bytes that remain) and number."""
    path = write(tmp_path, "cut.caffemodel", good_bytes[:int(len(good_bytes) * cut)])
    with pytest.raises(WeightsError, match=r"cut\.caffemodel: not a valid binary caffemodel: "
                                           r"layer #\d+ \('\w+'\) at byte \d+ claims \d+ bytes "
                                           r"but only \d+ remain \(file truncated\?\)"):
        read_caffemodel(path)


def test_corrupt_layer_is_named(tmp_path):
    # A layer whose own length is right but whose first blob claims 16 bytes and has 4.
    layer = b"\x0a\x05conv1" + b"\x3a\x10" + bytes(4)
    data = b"\x0a\x01n" + b"\xa2\x06" + bytes([len(layer)]) + layer
    path = write(tmp_path, "bad.caffemodel", data)
    with pytest.raises(WeightsError, match=r"bad\.caffemodel: not a valid binary caffemodel: "
                                           r"layer #0 \('conv1'\) at byte 3 is corrupt"):
        read_caffemodel(path)


def test_garbage(tmp_path):
    rng = np.random.RandomState(0)
    path = write(tmp_path, "noise.caffemodel", rng.bytes(4096))
    with pytest.raises(WeightsError, match=r"noise\.caffemodel: "):
        read_caffemodel(path)
    with pytest.raises(WeightsError, match="invalid field number 0"):
        read_caffemodel(write(tmp_path, "zeros.caffemodel", bytes(64)))


def test_text_prototxt_instead_of_binary(tmp_path):
    text = public_input("original", "deploy", "SRCNN_net.prototxt").read_bytes()
    path = write(tmp_path, "net.caffemodel", text)
    with pytest.raises(WeightsError, match=r"net\.caffemodel: a text file \(a prototxt\?\), not a "
                                           r"binary caffemodel.*read_net"):
        read_caffemodel(path)


def test_solverstate_and_hdf5_instead_of_caffemodel(tmp_path):
    state = fixture_path("caffe-reference", "train", "solvers", "adam",
                        "snapshot_iter_10.solverstate")
    with pytest.raises(WeightsError, match=r"a \.solverstate \(SolverState\), not a caffemodel"):
        read_caffemodel(state)
    path = write(tmp_path, "w.caffemodel.h5", b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(WeightsError, match="an HDF5 file"):
        read_caffemodel(path)


def test_size_guard_refuses_before_reading(tmp_path, good_bytes):
    path = write(tmp_path, "w.caffemodel", good_bytes)
    with pytest.raises(WeightsError, match=rf"{len(good_bytes)} bytes, over the limit of 100 "):
        read_caffemodel(path, max_bytes=100)
    assert read_caffemodel(path, max_bytes=len(good_bytes)).layer
    huge = tmp_path / "huge.caffemodel"
    with open(huge, "wb") as f:
        f.truncate(2**31)  # sparse: nothing is written or read
    with pytest.raises(WeightsError, match=r"2147483648 bytes, over the limit of 2147483647"):
        read_caffemodel(huge)


def test_unknown_fields_warn_and_survive(tmp_path, good_bytes):
    net = pb.NetParameter()
    net.ParseFromString(good_bytes)
    layer = pb.LayerParameter(name="fork_layer", type="ReLU")
    extra = layer.SerializeToString() + b"\xb8\x3e\x07"  # field 999, varint 7
    net_bytes = net.SerializeToString() + b"\xa2\x06" + bytes([len(extra)]) + extra
    path = write(tmp_path, "fork.caffemodel", net_bytes)
    with pytest.warns(CaffemodelWarning, match=r"fork\.caffemodel: fields unknown to Caffe 1\.0 .*"
                                         r"layer\[5\]"):
        loaded = read_caffemodel(path)
    assert loaded.layer[-1].name == "fork_layer"
    assert caffemodel_bytes(loaded) == net_bytes


def test_read_refuses_missing_required_fields():
    net = pb.NetParameter(name="n")
    net.layer.add(name="in", type="Input")
    net.layer.add(name="clip1", type="Clip").clip_param.min = 0
    with pytest.raises(WeightsError, match=r"c\.caffemodel: required field\(s\) missing: "
                                           r"layer\[1\] \('clip1'\)\.clip_param\.max"):
        parse_caffemodel(net.SerializePartialToString(), "c.caffemodel")


def test_write_refuses_missing_required_fields(tmp_path):
    net = pb.NetParameter(name="n")
    net.layer.add(name="clip", type="Clip").clip_param.min = 0
    with pytest.raises(WeightsError, match="clip_param.max"):
        write_caffemodel(net, tmp_path / "x.caffemodel")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# Legacy formats

def test_v1_caffemodel_is_upgraded(tmp_path):
    net = pb.NetParameter(name="old")
    net.input.append("data")  # old caffemodels list inputs without dims
    conv = net.layers.add(name="conv1", type=pb.V1LayerParameter.CONVOLUTION,
                          bottom=["data"], top=["conv1"], blobs_lr=[1, 2], weight_decay=[1, 0])
    conv.convolution_param.num_output = 2
    w = conv.blobs.add(num=2, channels=1, height=2, width=2)
    w.data.extend(np.arange(8, dtype=np.float32))
    b = conv.blobs.add(num=1, channels=1, height=1, width=2)
    b.data.extend([0.5, -0.5])
    net.layers.add(name="relu1", type=pb.V1LayerParameter.RELU, bottom=["conv1"], top=["conv1"])
    path = write(tmp_path, "v1.caffemodel", net.SerializeToString())

    raw = read_caffemodel(path, upgrade=False)
    assert [(n, t, len(a)) for n, t, a in layer_blobs(raw)] == [("conv1", "Convolution", 2),
                                                                 ("relu1", "ReLU", 0)]
    loaded = read_caffemodel(path)
    assert not loaded.layers and not loaded.input
    assert [(l.name, l.type) for l in loaded.layer] == [("conv1", "Convolution"),
                                                         ("relu1", "ReLU")]
    assert [(p.lr_mult, p.decay_mult) for p in loaded.layer[0].param] == [(1, 1), (2, 0)]
    arrays = layer_blobs(loaded)[0][2]
    assert arrays[0].shape == (2, 1, 2, 2)  # legacy blobs load 4-D, as Caffe reshapes them
    assert np.array_equal(arrays[0].ravel(), np.arange(8))
    assert arrays[1].shape == (1, 1, 1, 2)


# --------------------------------------------------------------------------------------------
# Blobs

def test_blob_to_array_shapes_and_types():
    blob = pb.BlobProto()
    blob.shape.dim.extend([2, 3])
    blob.data.extend(range(6))
    arr = blob_to_array(blob)
    assert arr.dtype == np.float32 and arr.shape == (2, 3) and arr[1, 2] == 5
    legacy = pb.BlobProto(num=1, channels=2, height=1, width=3, data=range(6))
    assert blob_shape(legacy) == (1, 2, 1, 3) and blob_to_array(legacy).shape == (1, 2, 1, 3)
    double = pb.BlobProto(double_data=[0.1, 0.2])
    double.shape.dim.append(2)
    out = blob_to_array(double)
    assert out.dtype == np.float64 and out[0] == 0.1
    both = pb.BlobProto(data=[9.0, 9.0], double_data=[1.0, 2.0])
    both.shape.dim.append(2)
    assert list(blob_to_array(both)) == [1.0, 2.0]  # Caffe prefers double_data
    scalar = pb.BlobProto(data=[4.5])
    assert blob_to_array(scalar).shape == () and float(blob_to_array(scalar)) == 4.5
    empty = pb.BlobProto()
    empty.shape.dim.extend([0, 5])
    assert blob_to_array(empty).shape == (0, 5)


@pytest.mark.parametrize("dims,values,needle", [
    ([2, 3], 5, r"5 data values for shape \(2, 3\), which needs 6"),
    ([2, -3], 0, r"negative dimension in shape \(2, -3\)"),
    ([65536, 65536], 0, r"shape \(65536, 65536\) claims 4294967296 values, more than Caffe"),
    ([], 0, r"0 data values for shape \(\), which needs 1"),
])
def test_blob_to_array_refuses_bad_blobs(dims, values, needle):
    blob = pb.BlobProto(data=[0.0] * values)
    blob.shape.dim.extend(dims)
    with pytest.raises(WeightsError, match=r"^w\.caffemodel: layer 'fc' blob 1: " + needle):
        blob_to_array(blob, where="w.caffemodel: layer 'fc' blob 1")


def test_legacy_partial_dims_follow_caffe():
    blob = pb.BlobProto(num=2, channels=3, data=[0.0] * 6)  # height/width 0: Caffe's count is 0
    with pytest.raises(WeightsError, match=r"shape \(2, 3, 0, 0\)"):
        blob_to_array(blob)


def test_array_to_blob():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    blob = array_to_blob(arr)
    assert list(blob.shape.dim) == [2, 3, 4] and len(blob.data) == 24
    assert not len(blob.double_data) and not blob.HasField("num")
    assert np.array_equal(blob_to_array(blob), arr)
    dbl = array_to_blob(arr.astype(np.float64) / 3, double=True)
    assert not len(dbl.data) and np.array_equal(blob_to_array(dbl), arr.astype(np.float64) / 3)
    scalar = array_to_blob(np.float32(2.5))
    assert not scalar.HasField("shape") and list(scalar.data) == [2.5]
    ints = array_to_blob(np.array([[1, 2]], dtype=np.int64))
    assert blob_to_array(ints).dtype == np.float32 and list(ints.shape.dim) == [1, 2]
    with pytest.raises(TypeError):
        array_to_blob(np.array(["a"]))


def test_array_to_blob_is_bit_exact():
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4028235e38], dtype=np.float32)
    back = blob_to_array(array_to_blob(special))
    assert np.array_equal(back.view(np.uint32), special.view(np.uint32))
    big = np.random.RandomState(1).standard_normal((64, 3, 7, 7)).astype(np.float32)
    via_extend = pb.BlobProto()
    via_extend.shape.dim.extend(big.shape)
    via_extend.data.extend(big.ravel().tolist())
    assert array_to_blob(big).SerializeToString() == via_extend.SerializeToString()


def test_layer_blobs_of_a_prototxt_net_are_empty():
    net = read_net(public_input("original", "deploy", "SRCNN_net.prototxt"))
    assert all(arrays == [] for _, _, arrays in layer_blobs(net))


def test_a_string_not_utf8_under_protobufs_pure_python_parser_is_a_weights_error():
    """protobuf's pure-Python parser raises UnicodeDecodeError (a ValueError) on a string
    field that is not UTF-8, where upb keeps the bytes: the caffemodel reader's solver-state
    check takes both, and the file is refused with the reader's own message."""
    program = ("from caffe_compat.io import caffemodel\n"
               "from caffe_compat.errors import WeightsError\n"
               "try:\n"
               "    caffemodel.parse_caffemodel(bytes([0x12, 2, 0xff, 0xfe]), 'x.caffemodel')\n"
               "except WeightsError as e:\n"
               "    print('refused:', e)\n")
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("refused: x.caffemodel: not a valid binary caffemodel")
