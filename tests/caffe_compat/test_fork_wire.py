"""Caffemodels of OpenCV's Caffe fork: the two LayerParameter numbers it shares with BVLC are
read and written by layer type, NVIDIA's raw fp16/fp32 blobs load, and fields that no schema
knows load with a warning naming the layer and the field."""
import numpy as np
import pytest

from caffe_compat import WeightsError
from caffe_compat.io.unknown_report import CaffemodelWarning
from caffe_compat.io.caffemodel import (blob_to_array, caffemodel_bytes,
                                        parse_caffemodel)
from caffe_compat.io.fork_wire import to_fork, to_schema
from caffe_compat.proto import caffe_pb2 as pb


def _field(number, payload):
    tag, out = (number << 3) | 2, bytearray()
    for value in (tag, len(payload)):
        while True:
            low = value & 0x7F
            value >>= 7
            out.append(low | 0x80 if value else low)
            if not value:
                break
    return bytes(out) + payload


def _ssd_layers():
    det = pb.DetectionOutputParameter(num_classes=21, keep_top_k=100, confidence_threshold=0.3)
    det.nms_param.nms_threshold = 0.45
    perm = pb.PermuteParameter(order=[0, 2, 3, 1])
    head = [pb.LayerParameter(name="det", type="DetectionOutput", bottom=["a", "b", "c"]),
            pb.LayerParameter(name="perm", type="Permute", bottom=["x"], top=["p"])]
    # The fork's wire format, written by hand: 147 and 148 after the fields of the head
    fork = [head[0].SerializeToString() + _field(147, det.SerializeToString()),
            head[1].SerializeToString() + _field(148, perm.SerializeToString())]
    clip = pb.LayerParameter(name="clip", type="Clip", clip_param=pb.ClipParameter(min=0, max=6))
    fork.append(clip.SerializeToString())          # BVLC's 148 in a Clip layer stays BVLC's
    data = b"".join(_field(100, layer) for layer in fork)
    return data, det, perm


def test_fork_numbers_are_read_by_layer_type():
    data, det, perm = _ssd_layers()
    net = parse_caffemodel(data, "ssd.caffemodel", upgrade=False)
    assert net.layer[0].detection_output_param == det
    assert list(net.layer[1].permute_param.order) == [0, 2, 3, 1]
    assert not net.layer[0].HasField("swish_param") and not net.layer[1].HasField("clip_param")
    assert net.layer[2].clip_param.max == 6
    # written with our numbers (BVLC's Caffe skips them; its 148 would be a ClipParameter), and
    # to_fork gives OpenCV's numbering back, byte for byte
    written = caffemodel_bytes(net)
    assert written != data and to_fork(written) == data
    bvlc_view = pb.NetParameter.FromString(written)
    assert not bvlc_view.layer[1].HasField("clip_param")


def test_translation_is_an_involution_and_leaves_other_files_alone():
    data, _, _ = _ssd_layers()
    assert to_fork(to_schema(data)) == data
    plain = _field(100, pb.LayerParameter(name="c", type="Convolution").SerializeToString())
    assert to_schema(plain) is plain
    assert to_schema(b"\xff\xff") == b"\xff\xff"     # malformed: left to the parser


def test_raw_fp16_and_fp32_blobs():
    values = np.array([[0.5, -1.25, 3.0]], np.float32)
    half = pb.BlobProto(raw_data_type=pb.FLOAT16, raw_data=values.astype("<f2").tobytes())
    half.shape.dim.extend([1, 3])
    assert np.array_equal(blob_to_array(half), values)
    single = pb.BlobProto(raw_data_type=pb.FLOAT, raw_data=values.astype("<f4").tobytes())
    single.shape.dim.extend([1, 3])
    assert np.array_equal(blob_to_array(single), values)
    half.raw_data = half.raw_data[:-2]
    with pytest.raises(WeightsError, match=r"4 bytes of raw_data for shape \(1, 3\)"):
        blob_to_array(half, where="layer 'c' blob 0")
    other = pb.BlobProto(raw_data_type=pb.DOUBLE, raw_data=b"\0" * 8)
    with pytest.raises(WeightsError, match="DOUBLE is not supported"):
        blob_to_array(other)


def test_unknown_fields_warn_with_layer_and_field():
    layer = pb.LayerParameter(name="pool1", type="Pooling")
    layer.pooling_param.kernel_size = 3
    pooling = layer.pooling_param.SerializeToString() + b"\xa0\x01\x01"   # field 20, varint 1
    raw = layer.SerializeToString().replace(
        _field(121, layer.pooling_param.SerializeToString()), _field(121, pooling))
    data = _field(100, raw) + b"\xb8\x3e\x07"                                # field 999 on top
    with pytest.warns(CaffemodelWarning) as record:
        net = parse_caffemodel(data, "fork.caffemodel", upgrade=False)
    message = str(record[0].message)
    assert "NetParameter field(s) 999" in message
    assert "layer[0] 'pool1': PoolingParameter field(s) 20" in message
    assert net.layer[0].pooling_param.kernel_size == 3
