"""The additions of OpenCV 4's ``opencv-caffe.proto``: field numbers, types, labels and defaults
as OpenCV declares them, the three fields whose OpenCV number BVLC uses (local numbers, wire
translation for two of them), and prototxt files of SSD, Faster R-CNN and R-FCN that parse."""
import math

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from caffe_compat.io.prototxt import parse_net
from caffe_compat.proto import caffe_pb2 as pb

# LayerParameter fields of the fork -> field number in our schema
OPENCV_LAYER_PARAMS = {
    "detection_output_param": 1947,   # OpenCV 147, BVLC's swish_param
    "norm_param": 149,
    "permute_param": 1948,            # OpenCV 148, BVLC's clip_param
    "prior_box_param": 150,
    "proposal_param": 201,
    "psroi_pooling_param": 10002,
    "roi_pooling_param": 8266711,
    "interp_param": 1960,             # not in OpenCV's proto: read by OpenCV as unknown fields
    "shuffle_channel_param": 1961,    # same
}

O, R, Q = FD.LABEL_OPTIONAL, FD.LABEL_REPEATED, FD.LABEL_REQUIRED
# (message, field, number, type, label, default or None) transcribed from opencv-caffe.proto
OPENCV_FIELDS = [
    ("PermuteParameter", "order", 1, FD.TYPE_UINT32, R, None),
    ("NormalizeBBoxParameter", "across_spatial", 1, FD.TYPE_BOOL, O, True),
    ("NormalizeBBoxParameter", "scale_filler", 2, FD.TYPE_MESSAGE, O, None),
    ("NormalizeBBoxParameter", "channel_shared", 3, FD.TYPE_BOOL, O, True),
    ("NormalizeBBoxParameter", "eps", 4, FD.TYPE_FLOAT, O, 1e-10),
    ("PriorBoxParameter", "min_size", 1, FD.TYPE_FLOAT, O, None),
    ("PriorBoxParameter", "max_size", 2, FD.TYPE_FLOAT, O, None),
    ("PriorBoxParameter", "aspect_ratio", 3, FD.TYPE_FLOAT, R, None),
    ("PriorBoxParameter", "flip", 4, FD.TYPE_BOOL, O, True),
    ("PriorBoxParameter", "clip", 5, FD.TYPE_BOOL, O, True),
    ("PriorBoxParameter", "variance", 6, FD.TYPE_FLOAT, R, None),
    ("PriorBoxParameter", "img_size", 7, FD.TYPE_UINT32, O, None),
    ("PriorBoxParameter", "img_h", 8, FD.TYPE_UINT32, O, None),
    ("PriorBoxParameter", "img_w", 9, FD.TYPE_UINT32, O, None),
    ("PriorBoxParameter", "step", 10, FD.TYPE_FLOAT, O, None),
    ("PriorBoxParameter", "step_h", 11, FD.TYPE_FLOAT, O, None),
    ("PriorBoxParameter", "step_w", 12, FD.TYPE_FLOAT, O, None),
    ("PriorBoxParameter", "offset", 13, FD.TYPE_FLOAT, O, 0.5),
    ("PriorBoxParameter", "offset_h", 14, FD.TYPE_FLOAT, R, None),
    ("PriorBoxParameter", "offset_w", 15, FD.TYPE_FLOAT, R, None),
    ("PriorBoxParameter", "width", 16, FD.TYPE_FLOAT, R, None),
    ("PriorBoxParameter", "height", 17, FD.TYPE_FLOAT, R, None),
    ("DetectionOutputParameter", "num_classes", 1, FD.TYPE_UINT32, O, None),
    ("DetectionOutputParameter", "share_location", 2, FD.TYPE_BOOL, O, True),
    ("DetectionOutputParameter", "background_label_id", 3, FD.TYPE_INT32, O, 0),
    ("DetectionOutputParameter", "nms_param", 4, FD.TYPE_MESSAGE, O, None),
    ("DetectionOutputParameter", "save_output_param", 5, FD.TYPE_MESSAGE, O, None),
    ("DetectionOutputParameter", "code_type", 6, FD.TYPE_ENUM, O, 1),
    ("DetectionOutputParameter", "keep_top_k", 7, FD.TYPE_INT32, O, -1),
    ("DetectionOutputParameter", "variance_encoded_in_target", 8, FD.TYPE_BOOL, O, False),
    ("DetectionOutputParameter", "confidence_threshold", 9, FD.TYPE_FLOAT, O, None),
    ("DetectionOutputParameter", "normalized_bbox", 10, FD.TYPE_BOOL, O, True),
    ("NonMaximumSuppressionParameter", "nms_threshold", 1, FD.TYPE_FLOAT, O, 0.3),
    ("NonMaximumSuppressionParameter", "top_k", 2, FD.TYPE_INT32, O, None),
    ("NonMaximumSuppressionParameter", "eta", 3, FD.TYPE_FLOAT, O, 1.0),
    ("SaveOutputParameter", "output_directory", 1, FD.TYPE_STRING, O, None),
    ("SaveOutputParameter", "output_name_prefix", 2, FD.TYPE_STRING, O, None),
    ("SaveOutputParameter", "output_format", 3, FD.TYPE_STRING, O, None),
    ("SaveOutputParameter", "label_map_file", 4, FD.TYPE_STRING, O, None),
    ("SaveOutputParameter", "name_size_file", 5, FD.TYPE_STRING, O, None),
    ("SaveOutputParameter", "num_test_image", 6, FD.TYPE_UINT32, O, None),
    ("NormalizedBBox", "xmin", 1, FD.TYPE_FLOAT, O, None),
    ("NormalizedBBox", "ymax", 4, FD.TYPE_FLOAT, O, None),
    ("NormalizedBBox", "label", 5, FD.TYPE_INT32, O, None),
    ("NormalizedBBox", "difficult", 6, FD.TYPE_BOOL, O, None),
    ("NormalizedBBox", "score", 7, FD.TYPE_FLOAT, O, None),
    ("NormalizedBBox", "size", 8, FD.TYPE_FLOAT, O, None),
    ("ROIPoolingParameter", "pooled_h", 1, FD.TYPE_UINT32, O, 0),
    ("ROIPoolingParameter", "pooled_w", 2, FD.TYPE_UINT32, O, 0),
    ("ROIPoolingParameter", "spatial_scale", 3, FD.TYPE_FLOAT, O, 1.0),
    ("ProposalParameter", "feat_stride", 1, FD.TYPE_UINT32, O, 16),
    ("ProposalParameter", "base_size", 2, FD.TYPE_UINT32, O, 16),
    ("ProposalParameter", "min_size", 3, FD.TYPE_UINT32, O, 16),
    ("ProposalParameter", "ratio", 4, FD.TYPE_FLOAT, R, None),
    ("ProposalParameter", "scale", 5, FD.TYPE_FLOAT, R, None),
    ("ProposalParameter", "pre_nms_topn", 6, FD.TYPE_UINT32, O, 6000),
    ("ProposalParameter", "post_nms_topn", 7, FD.TYPE_UINT32, O, 300),
    ("ProposalParameter", "nms_thresh", 8, FD.TYPE_FLOAT, O, 0.7),
    ("PSROIPoolingParameter", "spatial_scale", 1, FD.TYPE_FLOAT, Q, None),
    ("PSROIPoolingParameter", "output_dim", 2, FD.TYPE_INT32, Q, None),
    ("PSROIPoolingParameter", "group_size", 3, FD.TYPE_INT32, Q, None),
    ("BlobProto", "raw_data_type", 10, FD.TYPE_ENUM, O, None),
    ("BlobProto", "raw_data", 12, FD.TYPE_BYTES, O, None),
    ("BatchNormParameter", "scale_bias", 7, FD.TYPE_BOOL, O, False),
    ("DropoutParameter", "scale_train", 2, FD.TYPE_BOOL, O, True),
    # OpenCV numbers it 13, which BVLC gives round_mode: a local number (see the proto header)
    ("PoolingParameter", "ceil_mode", 1913, FD.TYPE_BOOL, O, True),
]


@pytest.mark.parametrize("message, name, number, type_, label, default", OPENCV_FIELDS,
                         ids=[f"{m}.{n}" for m, n, *_ in OPENCV_FIELDS])
def test_opencv_field(message, name, number, type_, label, default):
    f = getattr(pb, message).DESCRIPTOR.fields_by_name[name]
    got_label = R if f.is_repeated else Q if f.is_required else O
    assert (f.number, f.type, got_label) == (number, type_, label)
    if default is not None:
        if isinstance(default, float):
            assert math.isclose(f.default_value, default, rel_tol=1e-6)
        else:
            assert f.default_value == default


def test_layer_param_numbers():
    fields = pb.LayerParameter.DESCRIPTOR.fields_by_name
    for name, number in OPENCV_LAYER_PARAMS.items():
        assert fields[name].number == number, name
    # BVLC keeps the numbers OpenCV reuses
    assert fields["swish_param"].number == 147 and fields["clip_param"].number == 148
    assert pb.PoolingParameter.DESCRIPTOR.fields_by_name["round_mode"].number == 13


def test_enums():
    assert pb.PriorBoxParameter.CodeType.Value("CORNER") == 1
    assert pb.PriorBoxParameter.CodeType.Value("CENTER_SIZE") == 2
    assert pb.PriorBoxParameter.CodeType.Value("CORNER_SIZE") == 3   # weiliu89's SSD
    assert [pb.Type.Name(i) for i in range(5)] == ["DOUBLE", "FLOAT", "FLOAT16", "INT", "UINT"]


SSD_LAYERS = '''
layer { name: "norm" type: "Normalize" bottom: "x" top: "norm"
  norm_param { across_spatial: false channel_shared: false
               scale_filler { type: "constant" value: 20 } } }
layer { name: "perm" type: "Permute" bottom: "norm" top: "perm"
  permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "prior" type: "PriorBox" bottom: "norm" bottom: "x" top: "prior"
  prior_box_param { min_size: 30.0 max_size: 60.0 aspect_ratio: 2 flip: true clip: false
    variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5 } }
layer { name: "det" type: "DetectionOutput" bottom: "a" bottom: "b" bottom: "prior" top: "det"
  detection_output_param { num_classes: 2 share_location: true background_label_id: 0
    nms_param { nms_threshold: 0.45 top_k: 400 } code_type: CENTER_SIZE keep_top_k: 200
    confidence_threshold: 0.01 clip: 1 } }
layer { name: "pool" type: "Pooling" bottom: "x" top: "pool"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 ceil_mode: false } }
layer { name: "proposal" type: "Proposal" bottom: "s" bottom: "d" bottom: "im_info"
  top: "rois" proposal_param { ratio: 0.5 ratio: 1 scale: 8 scale: 16 } }
layer { name: "roi" type: "ROIPooling" bottom: "x" bottom: "rois" top: "roi"
  roi_pooling_param { pooled_w: 7 pooled_h: 7 spatial_scale: 0.0625 } }
layer { name: "psroi" type: "PSROIPooling" bottom: "x" bottom: "rois" top: "psroi"
  psroi_pooling_param { spatial_scale: 0.0625 output_dim: 21 group_size: 7 } }
'''


def test_fork_prototxt_parses():
    net = parse_net(SSD_LAYERS, "ssd.prototxt", upgrade=False)
    by_name = {lp.name: lp for lp in net.layer}
    assert by_name["norm"].norm_param.scale_filler.value == 20
    assert list(by_name["perm"].permute_param.order) == [0, 2, 3, 1]
    det = by_name["det"].detection_output_param
    assert det.code_type == pb.PriorBoxParameter.CENTER_SIZE and det.clip and det.keep_top_k == 200
    assert not by_name["pool"].pooling_param.ceil_mode
    assert by_name["psroi"].psroi_pooling_param.group_size == 7
