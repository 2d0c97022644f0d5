"""Caffemodel values read straight from the file's bytes (blob_wire) give exactly what the full
protobuf parse gives: the same arrays, net, warnings and errors, on Caffe's own files and on
every legacy, unusual and damaged layout."""
import os
import warnings

import numpy as np
import pytest

from caffe_compat.errors import WeightsError
from caffe_compat.io import blob_wire
from caffe_compat.io.binary_file import read_binary_file
from caffe_compat.io.unknown_report import CaffemodelWarning
from caffe_compat.io.caffemodel import (blob_to_array, packed_field,
                                        parse_caffemodel, read_caffemodel,
                                        read_caffemodel_values)
from caffe_compat.proto import caffe_pb2 as pb
from tests.caffe_compat.test_caffemodel import all_reference_caffemodels
from tests.conftest import fixture_path


def full_parse(path):
    """The reference: the whole file through protobuf and the upgrade, values included."""
    return parse_caffemodel(read_binary_file(path), str(path))


def full_arrays(net):
    return [[blob_to_array(b) for b in layer.blobs] for layer in net.layer]


def fast_arrays(net, values):
    return [[blob_to_array(b, values=v) for b, v in zip(layer.blobs, vals)]
            for layer, vals in zip(net.layer, values)]


def without_values(net):
    out = pb.NetParameter()
    out.CopyFrom(net)
    for layer in out.layer:
        for blob in layer.blobs:
            blob.ClearField("data")
            blob.ClearField("double_data")
    return out


def assert_same_as_full_parse(path, fast=True):
    """Both readers agree bit for bit; ``fast``: the file took the fast path."""
    full = full_parse(path)
    assert read_caffemodel(path) == full            # read_caffemodel's own fast path
    net, values = read_caffemodel_values(path)
    assert (values is not None) == fast
    if values is None:
        assert net == full
        return
    assert net == without_values(full)
    ours, ref = fast_arrays(net, values), full_arrays(full)
    assert len(ours) == len(ref)
    for a_layer, r_layer in zip(ours, ref):
        assert len(a_layer) == len(r_layer)
        for a, r in zip(a_layer, r_layer):
            # the same bytes reinterpreted: bit-identical, same dtype and shape
            assert a.dtype == r.dtype and a.shape == r.shape
            assert a.tobytes() == r.tobytes()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("path", all_reference_caffemodels()[::3],
                         ids=lambda p: os.path.relpath(p, fixture_path("caffe-reference")))
def test_caffe_written_files_read_the_same(path):
    assert_same_as_full_parse(path)


def v1_net():
    net = pb.NetParameter(name="old")
    net.input.append("data")
    conv = net.layers.add(name="conv1", type=pb.V1LayerParameter.CONVOLUTION,
                          bottom=["data"], top=["conv1"], blobs_lr=[1, 2], weight_decay=[1, 0])
    conv.convolution_param.num_output = 2
    conv.blobs.add(num=2, channels=1, height=2, width=2).data.extend(
        np.arange(8, dtype=np.float32) / 3)
    conv.blobs.add(num=1, channels=1, height=1, width=2).data.extend([0.5, -0.5])
    net.layers.add(name="relu1", type=pb.V1LayerParameter.RELU, bottom=["conv1"],
                   top=["conv1"])
    ip = net.layers.add(name="ip", type=pb.V1LayerParameter.INNER_PRODUCT, bottom=["conv1"],
                        top=["ip"])
    ip.blobs.add(num=1, channels=1, height=3, width=8).data.extend(
        np.linspace(-1, 1, 24, dtype=np.float32))
    return net


def test_v1_file_with_inputs_and_legacy_dims(tmp_path):
    assert_same_as_full_parse(write(tmp_path, "v1.caffemodel", v1_net().SerializeToString()))


def test_current_format_double_data_and_raw_data(tmp_path):
    net = pb.NetParameter(name="n")
    a = net.layer.add(name="a", type="InnerProduct")
    a.blobs.add().shape.dim.extend([2, 2])
    a.blobs[0].double_data.extend([1e-40, 2.5, -3.25, 1 / 3])   # float64 wins over data
    a.blobs[0].data.extend([9, 9, 9, 9])
    b = a.blobs.add()
    b.shape.dim.append(2)
    b.raw_data_type = pb.FLOAT16
    b.raw_data = np.array([1.5, -2], "<f2").tobytes()        # no data: raw_data is read
    c = net.layer.add(name="c", type="PReLU")
    c.blobs.add().data.append(0.25)                          # 0-d blob (no dims)
    net.layer.add(name="r", type="ReLU")
    assert_same_as_full_parse(write(tmp_path, "n.caffemodel", net.SerializeToString()))


def test_values_split_over_several_packed_fields(tmp_path):
    # protobuf concatenates repeated packed fields that occur more than once
    blob = pb.BlobProto()
    blob.shape.dim.append(5)
    number = pb.BlobProto.DESCRIPTOR.fields_by_name["data"].number
    raw = blob.SerializeToString() + packed_field(
        number, np.float32([1, 2]).tobytes()) + packed_field(number, np.float32([3, 4, 5]).tobytes())
    layer = pb.LayerParameter(name="s", type="Scale").SerializeToString() + packed_field(7, raw)
    data = pb.NetParameter(name="n").SerializeToString() + packed_field(100, layer)
    path = write(tmp_path, "split.caffemodel", data)
    assert_same_as_full_parse(path)
    net, values = read_caffemodel_values(path)
    assert blob_to_array(net.layer[0].blobs[0], values=values[0][0]).tolist() == [1, 2, 3, 4, 5]


def test_unpacked_values_and_v0_nets_take_the_full_parse(tmp_path):
    blob = pb.BlobProto()
    blob.shape.dim.append(2)
    unpacked = blob.SerializeToString() + b"\x2d" + np.float32(1).tobytes() + b"\x2d" + \
        np.float32(2).tobytes()                            # field 5, wire type 5, twice
    layer = pb.LayerParameter(name="u", type="Scale").SerializeToString() + packed_field(
        7, unpacked)
    path = write(tmp_path, "u.caffemodel", packed_field(100, layer))
    assert_same_as_full_parse(path, fast=False)
    v0 = pb.NetParameter(name="v0")
    conn = v0.layers.add()
    conn.layer.name, conn.layer.type = "conv1", "conv"
    conn.layer.num_output = 1
    conn.layer.blobs.add(num=1, channels=1, height=1, width=1).data.append(2.0)
    conn.bottom.append("data")
    conn.top.append("conv1")
    v0.input.append("data")
    v0.input_dim.extend([1, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_as_full_parse(write(tmp_path, "v0.caffemodel", v0.SerializeToString()),
                                  fast=False)


def error_of(reader, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader(path)
        except WeightsError as exc:
            return str(exc)
    return None


def test_damaged_files_give_the_full_parse_errors(tmp_path):
    good = fixture_path("caffe-reference", "train", "solvers", "init.caffemodel").read_bytes()
    state = fixture_path("caffe-reference", "train", "solvers", "adam",
                         "snapshot_iter_10.solverstate").read_bytes()
    layer = b"\x0a\x05conv1" + b"\x3a\x10" + bytes(4)
    cases = {"cut50": good[:len(good) // 2], "cut90": good[:len(good) * 9 // 10],
             "corrupt": b"\x0a\x01n" + b"\xa2\x06" + bytes([len(layer)]) + layer,
             "zeros": bytes(64), "state": state, "text": b"name: 'x'\nlayer {}\n",
             "empty_layers": b"\x0a\x01n"}
    for name, data in cases.items():
        path = write(tmp_path, f"{name}.caffemodel", data)
        expected = error_of(full_parse, path)
        assert expected is not None, name
        assert error_of(read_caffemodel_values, path) == expected, name
        assert error_of(read_caffemodel, path) == expected, name


def test_unknown_field_warning_is_the_same(tmp_path):
    good = fixture_path("caffe-reference", "train", "solvers", "init.caffemodel").read_bytes()
    extra = pb.LayerParameter(name="fork_layer", type="ReLU").SerializeToString() + \
        b"\xb8\x3e\x07"                                    # field 999, varint 7
    path = write(tmp_path, "fork.caffemodel", good + packed_field(100, extra))
    with pytest.warns(CaffemodelWarning) as full:
        full_parse(path)
    with pytest.warns(CaffemodelWarning) as fast:
        net, values = read_caffemodel_values(path)
    assert values is not None
    assert [str(w.message) for w in fast] == [str(w.message) for w in full]


def test_random_damage_reads_the_same_or_fails_the_same(tmp_path):
    """Seeded byte flips, cuts and insertions into a Caffe-written file and a V1 file: the
    fast reader gives the full parse's arrays or its exact error."""
    rng = np.random.default_rng(45)
    sources = [fixture_path("caffe-reference", "train", "solvers", "init.caffemodel")
               .read_bytes(), v1_net().SerializeToString()]
    for case in range(120):
        data = bytearray(sources[case % 2])
        kind = case % 3
        pos = int(rng.integers(0, len(data)))
        if kind == 0:
            data[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            del data[pos:pos + int(rng.integers(1, 9))]
        else:
            data[pos:pos] = rng.bytes(int(rng.integers(1, 5)))
        path = write(tmp_path, f"c{case}.caffemodel", bytes(data))
        expected = error_of(full_parse, path)
        if expected is not None:
            assert error_of(read_caffemodel_values, path) == expected, case
            assert error_of(read_caffemodel, path) == expected, case
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = full_parse(path)
            assert read_caffemodel(path) == full, case
            net, values = read_caffemodel_values(path)
        if values is None:
            values = [[None] * len(layer.blobs) for layer in net.layer]
        ours = [[outcome(b, v) for b, v in zip(layer.blobs, vals)]
                for layer, vals in zip(net.layer, values)]
        ref = [[outcome(b, None) for b in layer.blobs] for layer in full.layer]
        assert ours == ref, case


def outcome(blob, values):
    """The array's dtype, shape and bytes, or blob_to_array's error."""
    try:
        arr = blob_to_array(blob, values=values)
    except WeightsError as exc:
        return str(exc)
    return arr.dtype, arr.shape, arr.tobytes()


def test_net_copy_from_a_file_equals_copy_from_its_parsed_message(tmp_path):
    import caffe_compat
    proto = fixture_path("caffe-reference", "forward", "deploy_cnnd", "net.prototxt")
    weights = fixture_path("caffe-reference", "forward", "deploy_cnnd", "init.caffemodel")
    a = caffe_compat.Net(str(proto), phase="TEST")
    b = caffe_compat.Net(str(proto), phase="TEST")
    a.copy_from(str(weights))                  # fast path
    b.copy_from(full_parse(weights))           # the parsed message
    for (ka, va), (kb, vb) in zip(a.caffe_state_dict().items(), b.caffe_state_dict().items()):
        assert ka == kb
        assert va.numpy().tobytes() == vb.numpy().tobytes()


# --------------------------------------------------------------------------------------------
# Writing

SAVE_NET = """name: "saved"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 }
                      bias_filler { type: "constant" value: 0.2 } } }
layer { name: "prelu" type: "PReLU" bottom: "conv" top: "conv" prelu_param { channel_shared: true } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "bn" include { phase: TEST } }
layer { name: "scale" type: "Scale" bottom: "bn" top: "bn" scale_param { bias_term: true } }
layer { name: "ip" type: "InnerProduct" bottom: "bn" top: "ip" exclude { stage: "x" }
  inner_product_param { num_output: 5 weight_filler { type: "xavier" } } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" }
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saved_bytes_are_the_full_encodings(tmp_path, dtype):
    import torch

    import caffe_compat
    from caffe_compat.io.caffemodel import caffemodel_bytes
    net = caffe_compat.Net(SAVE_NET, phase="TEST", dtype=getattr(torch, dtype), seed=3)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel(), dtype=p.dtype).reshape(p.shape))
    spliced = net.caffemodel_bytes()
    assert spliced == caffemodel_bytes(net.to_proto(with_blobs=True))
    net.save(tmp_path / "w.caffemodel")
    assert (tmp_path / "w.caffemodel").read_bytes() == spliced
    net2 = caffe_compat.Net(SAVE_NET, phase="TEST", dtype=getattr(torch, dtype))
    net2.copy_from(str(tmp_path / "w.caffemodel"))
    for (k, a), (_, b) in zip(net.caffe_state_dict().items(), net2.caffe_state_dict().items()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), k


def test_blob_fields_encode_as_array_to_blob():
    from caffe_compat.io.caffemodel import array_to_blob
    for arr in (np.float32(2.5), np.zeros((0, 3), np.float32), np.arange(300.0).reshape(3, 100),
                np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2]):
        for double in (False, True):
            pieces = blob_wire.blob_fields(arr, double)
            raw = b"".join(bytes(p) for p in pieces)
            assert raw == array_to_blob(arr, double).SerializeToString(deterministic=True)


def test_varints_of_small_values_come_from_the_table():
    """The one-byte varints (0..127) are looked up; every value encodes as protobuf does."""
    from caffe_compat.io.fork_wire import encode_varint as _varint
    from google.protobuf.internal import encoder
    for v in list(range(-3, 300)) + [2 ** 31, 2 ** 63 - 1, -2 ** 63]:
        out = []
        encoder._EncodeSignedVarint(out.append, v)
        assert _varint(v) == b"".join(out), v


def test_array_engine_saves_its_pieces_as_the_full_encoding(tmp_path):
    """pycaffe's net.save on the array engine writes the spliced pieces one after another:
    the same bytes as joining them and as protobuf's encoding of the net with its blobs."""
    from caffe_compat.array_net.net import build_array_net
    from caffe_compat.io import prototxt as prototxt_io
    from caffe_compat.io.caffemodel import array_to_blob, caffemodel_bytes
    text = ('name: "n" layer { name: "data" type: "Input" top: "data" '
            'input_param { shape { dim: 1 dim: 3 dim: 6 dim: 6 } } } '
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" '
            'convolution_param { num_output: 4 kernel_size: 3 } } '
            'layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" } '
            'layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip" '
            'inner_product_param { num_output: 5 } }')
    net = build_array_net(prototxt_io.parse_net(text), "TEST")
    assert net is not None
    for arrays in net.params.values():
        for a in arrays:
            a[...] = np.linspace(-1, 1, a.size, dtype=np.float32).reshape(a.shape)
    pieces = net.caffemodel_pieces()
    assert isinstance(pieces, list) and any(isinstance(p, np.ndarray) for p in pieces)
    proto = net.to_proto()
    for lp, node in zip(proto.layer, net.nodes):
        for a in net.params.get(node.name, ()):
            lp.blobs.add().CopyFrom(array_to_blob(a))
    full = caffemodel_bytes(proto)
    assert net.caffemodel_bytes() == full
    net.save(tmp_path / "w.caffemodel")
    assert (tmp_path / "w.caffemodel").read_bytes() == full
