"""The schema: field numbers, types, labels, defaults and enums as in Caffe 1.0's caffe.proto."""
import importlib.util
import pathlib
import subprocess
import sys

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

from caffe_compat import proto
from caffe_compat.proto import caffe_pb2 as pb
from tests.caffe_compat.test_proto_opencv import OPENCV_LAYER_PARAMS
from tests.conftest import FIXTURES, REPO

PROTO_DIR = pathlib.Path(proto.__file__).parent
# protoc's reading of caffe.proto, and the script that wrote it
PROTOC = FIXTURES / "caffe_proto_descriptor" / "caffe.proto.pb"
REGEN = "sh tests/fixtures/caffe_proto_descriptor/make_fixture.sh"


def field(message, name):
    return getattr(pb, message).DESCRIPTOR.fields_by_name[name]


# (message, field, number) -- numbers are what the files on disk depend on.
NUMBERS = [
    ("BlobShape", "dim", 1), ("BlobProto", "shape", 7), ("BlobProto", "data", 5),
    ("BlobProto", "diff", 6), ("BlobProto", "double_data", 8), ("BlobProto", "double_diff", 9),
    ("BlobProto", "num", 1), ("BlobProto", "width", 4),
    ("NetParameter", "name", 1), ("NetParameter", "input", 3), ("NetParameter", "input_shape", 8),
    ("NetParameter", "input_dim", 4), ("NetParameter", "force_backward", 5),
    ("NetParameter", "state", 6), ("NetParameter", "debug_info", 7),
    ("NetParameter", "layer", 100), ("NetParameter", "layers", 2),
    ("LayerParameter", "name", 1), ("LayerParameter", "type", 2), ("LayerParameter", "bottom", 3),
    ("LayerParameter", "top", 4), ("LayerParameter", "loss_weight", 5),
    ("LayerParameter", "param", 6), ("LayerParameter", "blobs", 7),
    ("LayerParameter", "include", 8), ("LayerParameter", "exclude", 9),
    ("LayerParameter", "phase", 10), ("LayerParameter", "propagate_down", 11),
    ("LayerParameter", "transform_param", 100), ("LayerParameter", "loss_param", 101),
    ("LayerParameter", "accuracy_param", 102), ("LayerParameter", "convolution_param", 106),
    ("LayerParameter", "hdf5_data_param", 112), ("LayerParameter", "inner_product_param", 117),
    ("LayerParameter", "pooling_param", 121), ("LayerParameter", "relu_param", 123),
    ("LayerParameter", "window_data_param", 129), ("LayerParameter", "python_param", 130),
    ("LayerParameter", "prelu_param", 131), ("LayerParameter", "batch_norm_param", 139),
    ("LayerParameter", "input_param", 143), ("LayerParameter", "recurrent_param", 146),
    ("LayerParameter", "swish_param", 147), ("LayerParameter", "clip_param", 148),
    ("SolverParameter", "net", 24), ("SolverParameter", "train_net", 1),
    ("SolverParameter", "test_iter", 3), ("SolverParameter", "base_lr", 5),
    ("SolverParameter", "lr_policy", 8), ("SolverParameter", "momentum", 11),
    ("SolverParameter", "weight_decay", 12), ("SolverParameter", "solver_mode", 17),
    ("SolverParameter", "random_seed", 20), ("SolverParameter", "solver_type", 30),
    ("SolverParameter", "delta", 31), ("SolverParameter", "clip_gradients", 35),
    ("SolverParameter", "iter_size", 36), ("SolverParameter", "rms_decay", 38),
    ("SolverParameter", "momentum2", 39), ("SolverParameter", "type", 40),
    ("SolverParameter", "layer_wise_reduce", 41), ("SolverParameter", "weights", 42),
    ("SolverState", "iter", 1), ("SolverState", "learned_net", 2), ("SolverState", "history", 3),
    ("SolverState", "current_step", 4),
    ("NetStateRule", "not_stage", 5), ("ParamSpec", "lr_mult", 3), ("ParamSpec", "decay_mult", 4),
    ("ConvolutionParameter", "dilation", 18), ("ConvolutionParameter", "stride", 6),
    ("ConvolutionParameter", "group", 5), ("PoolingParameter", "pad", 4),
    ("PoolingParameter", "round_mode", 13), ("FillerParameter", "variance_norm", 8),
    ("V1LayerParameter", "type", 5), ("V1LayerParameter", "blobs_lr", 7),
    ("V1LayerParameter", "weight_decay", 8), ("V1LayerParameter", "include", 32),
    ("V1LayerParameter", "param", 1001), ("V1LayerParameter", "blob_share_mode", 1002),
    ("V1LayerParameter", "layer", 1), ("V1LayerParameter", "loss_param", 42),
    ("V0LayerParameter", "kernelsize", 8), ("V0LayerParameter", "blobs", 50),
    ("V0LayerParameter", "concat_dim", 65), ("V0LayerParameter", "hdf5_output_param", 1001),
]


@pytest.mark.parametrize("message,name,number", NUMBERS)
def test_field_numbers(message, name, number):
    assert field(message, name).number == number


# (message, field, default)
DEFAULTS = [
    ("SolverParameter", "type", "SGD"), ("SolverParameter", "momentum2", pytest.approx(0.999)),
    ("SolverParameter", "delta", pytest.approx(1e-8)), ("SolverParameter", "rms_decay",
                                                         pytest.approx(0.99)),
    ("SolverParameter", "clip_gradients", -1), ("SolverParameter", "average_loss", 1),
    ("SolverParameter", "iter_size", 1), ("SolverParameter", "random_seed", -1),
    ("SolverParameter", "regularization_type", "L2"), ("SolverParameter", "test_initialization",
                                                       True),
    ("SolverParameter", "solver_mode", pb.SolverParameter.GPU),
    ("SolverParameter", "snapshot_format", pb.SolverParameter.BINARYPROTO),
    ("SolverParameter", "solver_type", pb.SolverParameter.SGD),
    ("SolverParameter", "layer_wise_reduce", True), ("SolverParameter", "snapshot_after_train",
                                                     True),
    ("FillerParameter", "type", "constant"), ("FillerParameter", "std", 1),
    ("FillerParameter", "max", 1), ("FillerParameter", "sparse", -1),
    ("FillerParameter", "variance_norm", pb.FillerParameter.FAN_IN),
    ("PoolingParameter", "pool", pb.PoolingParameter.MAX), ("PoolingParameter", "stride", 1),
    ("PoolingParameter", "round_mode", pb.PoolingParameter.CEIL),
    ("ConvolutionParameter", "bias_term", True), ("ConvolutionParameter", "group", 1),
    ("ConvolutionParameter", "axis", 1), ("InnerProductParameter", "axis", 1),
    ("ParamSpec", "lr_mult", 1), ("ParamSpec", "decay_mult", 1),
    ("NetState", "phase", pb.TEST), ("LRNParameter", "local_size", 5),
    ("LRNParameter", "beta", pytest.approx(0.75)), ("LRNParameter", "k", 1),
    ("BatchNormParameter", "moving_average_fraction", pytest.approx(0.999)),
    ("BatchNormParameter", "eps", pytest.approx(1e-5)), ("MVNParameter", "eps",
                                                         pytest.approx(1e-9)),
    ("DropoutParameter", "dropout_ratio", 0.5), ("ExpParameter", "base", -1),
    ("LogParameter", "base", -1), ("SwishParameter", "beta", 1), ("ELUParameter", "alpha", 1),
    ("EltwiseParameter", "operation", pb.EltwiseParameter.SUM),
    ("EltwiseParameter", "stable_prod_grad", True), ("CropParameter", "axis", 2),
    ("ReshapeParameter", "num_axes", -1), ("FlattenParameter", "end_axis", -1),
    ("ReductionParameter", "operation", pb.ReductionParameter.SUM),
    ("LossParameter", "normalization", pb.LossParameter.VALID),
    ("HingeLossParameter", "norm", pb.HingeLossParameter.L1),
    ("ImageDataParameter", "batch_size", 1), ("ImageDataParameter", "is_color", True),
    ("DataParameter", "prefetch", 4), ("DataParameter", "backend", pb.DataParameter.LEVELDB),
    ("WindowDataParameter", "crop_mode", "warp"), ("WindowDataParameter", "fg_fraction", 0.25),
    ("InfogainLossParameter", "axis", 1), ("AccuracyParameter", "top_k", 1),
    ("ConcatParameter", "axis", 1), ("SliceParameter", "axis", 1), ("TileParameter", "axis", 1),
    ("V0LayerParameter", "biasterm", True), ("V0LayerParameter", "det_crop_mode", "warp"),
    ("SolverState", "current_step", 0),
]


@pytest.mark.parametrize("message,name,default", DEFAULTS)
def test_defaults(message, name, default):
    assert getattr(getattr(pb, message)(), name) == default


def test_types_and_labels():
    assert field("BlobShape", "dim").type == FD.TYPE_INT64
    assert field("BlobProto", "num").type == FD.TYPE_INT32
    assert field("BlobProto", "data").type == FD.TYPE_FLOAT
    assert field("BlobProto", "double_data").type == FD.TYPE_DOUBLE
    assert field("NetParameter", "input_dim").type == FD.TYPE_INT32
    assert field("SolverParameter", "random_seed").type == FD.TYPE_INT64
    assert field("SolverParameter", "test_iter").type == FD.TYPE_INT32
    assert field("ConvolutionParameter", "kernel_size").type == FD.TYPE_UINT32
    assert field("ConvolutionParameter", "kernel_size").is_repeated
    assert not field("PoolingParameter", "kernel_size").is_repeated
    assert field("ClipParameter", "min").is_required and field("ClipParameter", "max").is_required
    assert field("SolverParameter", "weights").is_repeated
    assert field("V1LayerParameter", "type").enum_type.name == "LayerType"
    # Packed encodings are part of the wire format.
    for message, name in [("BlobShape", "dim"), ("BlobProto", "data"), ("BlobProto", "diff"),
                          ("BlobProto", "double_data"), ("BlobProto", "double_diff")]:
        assert field(message, name).is_packed, (message, name)
    assert not field("LayerParameter", "loss_weight").is_packed


def test_enums():
    assert pb.TRAIN == 0 and pb.TEST == 1
    v1 = pb.V1LayerParameter
    assert (v1.NONE, v1.ACCURACY, v1.CONVOLUTION, v1.DATA, v1.POOLING, v1.RELU) == (0, 1, 4, 5, 17,
                                                                                 18)
    assert (v1.ABSVAL, v1.SILENCE, v1.CONTRASTIVE_LOSS, v1.DECONVOLUTION, v1.EXP) == (35, 36, 37,
                                                                                    39, 38)
    assert (v1.SLICE, v1.DUMMY_DATA, v1.THRESHOLD, v1.MVN) == (33, 32, 31, 34)
    assert len(v1.LayerType.keys()) == 40
    s = pb.SolverParameter
    assert [s.SolverType.Name(i) for i in range(6)] == ["SGD", "NESTEROV", "ADAGRAD", "RMSPROP",
                                                        "ADADELTA", "ADAM"]
    assert pb.ReductionParameter.ReductionOp.Value("MEAN") == 4
    assert pb.HingeLossParameter.Norm.Value("L2") == 2
    assert pb.LossParameter.NormalizationMode.Value("NONE") == 3
    assert pb.PoolingParameter.RoundMode.Value("FLOOR") == 1
    assert pb.ParamSpec.DimCheckMode.Value("PERMISSIVE") == 1


def test_every_layer_param_message():
    layer = pb.LayerParameter.DESCRIPTOR
    params = {f.name: f for f in layer.fields if f.name.endswith("_param")}
    # OpenCV's fork adds its own (checked in test_proto_opencv.py)
    for name in OPENCV_LAYER_PARAMS:
        params.pop(name)
    assert len(params) == 49
    numbers = sorted(f.number for f in params.values())
    assert numbers == list(range(100, 149))  # 100..148, none missing, none doubled
    for name in ["Accuracy", "ArgMax", "BatchNorm", "Bias", "Clip", "Concat", "ContrastiveLoss",
                 "Convolution", "Crop", "Data", "Dropout", "DummyData", "Eltwise", "ELU",
                 "Embed", "Exp", "Flatten", "HDF5Data", "HDF5Output", "HingeLoss", "ImageData",
                 "InfogainLoss", "InnerProduct", "Input", "Log", "LRN", "MemoryData", "MVN",
                 "Parameter", "Pooling", "Power", "Python", "Recurrent", "Reduction", "ReLU",
                 "Reshape", "Scale", "Sigmoid", "Slice", "Softmax", "Swish", "TanH", "Tile",
                 "Threshold", "WindowData", "SPP", "PReLU", "Transformation", "Loss"]:
        assert hasattr(pb, name + "Parameter"), name
    for name in ["BlobShape", "BlobProto", "BlobProtoVector", "Datum", "NetState", "NetStateRule",
                 "SolverState", "V0LayerParameter"]:
        assert hasattr(pb, name), name


def test_package_is_distinct_from_caffe():
    assert pb.DESCRIPTOR.package == "caffe_compat"
    assert pb.NetParameter.DESCRIPTOR.full_name == "caffe_compat.NetParameter"


def _protocs_descriptor(path=PROTOC):
    """The FileDescriptorProto protoc writes for caffe.proto, less ``json_name``: protoc's
    Python output leaves it out too, and protobuf derives the same name from the field's."""
    from google.protobuf import descriptor_pb2
    file = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file[0]
    for message in file.message_type:
        for f in message.field:
            f.ClearField("json_name")
    return file


def test_the_descriptor_is_protocs():
    """caffe_pb2 builds caffe.proto's descriptor from the file itself: the bytes protoc writes,
    field options and defaults as protoc spells them (``1e-08``, ``0.999``) included."""
    ours = pb.file_descriptor_proto().SerializeToString()
    assert ours == _protocs_descriptor().SerializeToString(), (
        "caffe.proto and tests/fixtures/caffe_proto_descriptor/ disagree: after editing "
        f"caffe.proto, rewrite the fixture with: {REGEN}")
    from google.protobuf import descriptor_pb2, descriptor_pool
    added, fresh = descriptor_pb2.FileDescriptorProto(), descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(added)
    descriptor_pool.DescriptorPool().AddSerializedFile(ours).CopyToProto(fresh)
    assert added == fresh                       # the default pool holds that file


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None,
                    reason="grpcio-tools not installed (protoc writes the fixture)")
def test_the_protoc_fixture_is_up_to_date(tmp_path):
    out = tmp_path / "caffe.proto.pb"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", ".",
                    f"--descriptor_set_out={out}", "caffe_compat/proto/caffe.proto"],
                   check=True, cwd=REPO)
    assert _protocs_descriptor(out) == _protocs_descriptor(), f"stale; rewrite it: {REGEN}"
    assert REGEN.split()[-1] in (PROTO_DIR / "caffe.proto").read_text()


def test_the_module_holds_a_generated_modules_names():
    """Every top-level message's class, each top-level enum with protobuf's enum wrapper API
    and its values as module constants, nested enums on their classes, as protoc's module."""
    names = {n for n in dir(pb) if not n.startswith("_")}
    assert set(pb.DESCRIPTOR.message_types_by_name) <= names
    assert pb.Phase.keys() == ["TRAIN", "TEST"] and pb.Phase.values() == [0, 1]
    assert pb.Phase.items() == [("TRAIN", 0), ("TEST", 1)] and (pb.TRAIN, pb.TEST) == (0, 1)
    assert pb.Phase.Name(1) == "TEST" and pb.Phase.Value("TRAIN") == 0 == pb.Phase.TRAIN
    assert pb.Type.Name(pb.FLOAT16) == "FLOAT16"
    nested = pb.PoolingParameter.PoolMethod
    for enum, wrong in ((pb.Phase, 7), (nested, 7)):
        with pytest.raises(ValueError, match="has no name defined for value 7"):
            enum.Name(wrong)
        with pytest.raises(ValueError, match="has no value defined for name 'X'"):
            enum.Value("X")
    with pytest.raises(AttributeError):
        pb.Phase.VALIDATION
    assert pb.PoolingParameter.MAX == 0 and nested.Name(1) == "AVE"


def test_messages_pickle_and_parse():
    """Classes are found by pickle under this module, as a generated module's are; text and
    wire forms round-trip."""
    import pickle

    from google.protobuf import text_format
    net = text_format.Parse('name: "n" layer { name: "a" type: "ReLU" }', pb.NetParameter())
    assert pb.NetParameter.__module__ == pb.__name__
    assert pickle.loads(pickle.dumps(net)) == net
    assert pb.NetParameter.FromString(net.SerializeToString()) == net
    assert pb.SolverParameter().delta == pytest.approx(1e-8, rel=1e-7)   # float32's 1e-8


def test_the_descriptor_is_kept_beside_the_bytecode():
    """The descriptor's bytes are kept in __pycache__ as the schema's table is, and read back
    by the next import."""
    import marshal
    ours = pb.file_descriptor_proto().SerializeToString()
    kept = [marshal.loads(p.read_bytes())
            for p in (PROTO_DIR / "__pycache__").glob("caffe.proto.descriptor.*.marshal")]
    assert ours in kept
