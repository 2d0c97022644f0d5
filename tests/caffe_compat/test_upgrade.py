"""Legacy formats brought up to date as Caffe's upgrade_proto does; Net::FilterNet layer choice."""
import pytest

from caffe_compat.errors import NetError, PrototxtError, SolverError
from caffe_compat.io.prototxt import parse_net, read_net
from caffe_compat.net.graph import filter_net, phase_value
from caffe_compat.net.rules import state_meets_rule
from caffe_compat.io.upgrade import (UpgradeWarning, V1_LAYER_TYPE_NAMES,
                                     net_needs_upgrade,
                                     upgrade_net, upgrade_snapshot_prefix, upgrade_solver)
from caffe_compat.proto import caffe_pb2 as pb
from tests.conftest import public_input


def names(net):
    return [layer.name for layer in net.layer]


def layer(net, name):
    return next(l for l in net.layer if l.name == name)


def input_shapes(net):
    first = net.layer[0]
    return [list(s.dim) for s in first.input_param.shape]


# --------------------------------------------------------------------------------------------
# The original nets

@pytest.mark.parametrize("rel,label_shape", [("deploy/model_1F_CNN+D.prototxt", [1, 1, 1, 1]),
                                             ("deploy/SRCNN_net.prototxt", [1, 1, 80, 80])])
def test_deploy_inputs_become_an_input_layer(rel, label_shape):
    path = public_input("original", rel)
    raw = read_net(path, upgrade=False)
    assert list(raw.input) == ["data", "label"] and len(raw.input_dim) == 8
    assert net_needs_upgrade(raw)
    net = read_net(path)
    first = net.layer[0]
    assert (first.name, first.type, list(first.top), list(first.bottom)) == (
        "input", "Input", ["data", "label"], [])
    assert input_shapes(net) == [[1, 1, 96, 96], label_shape]
    assert not net.input and not net.input_dim and not net.input_shape
    assert names(net)[1:] == names(raw)  # everything else unchanged, in order
    assert not net_needs_upgrade(net)


def test_deploy_filter_by_phase():
    net = read_net(public_input("original", "deploy/model_1F_CNN+D.prototxt"))
    train = filter_net(net, "TRAIN")
    test = filter_net(net, "TEST")
    assert "loss" in names(train) and "Silence" not in names(train)
    assert "Silence" in names(test) and "loss" not in names(test)
    assert names(train)[0] == names(test)[0] == "input"
    assert len(train.layer) == len(test.layer) == len(net.layer) - 1
    assert train.state.phase == pb.TRAIN and test.state.phase == pb.TEST
    srcnn = read_net(public_input("original", "deploy/SRCNN_net.prototxt"))
    assert names(filter_net(srcnn, pb.TRAIN))[-1] == "loss"
    assert "Silence" not in names(filter_net(srcnn, "train"))
    assert "Silence" in names(filter_net(srcnn, "test"))


@pytest.mark.parametrize("rel,train_src,test_src,test_batch", [
    ("experiments/network/model_1F_CNN+D.prototxt", "PATH/TO/train.txt", "PATH/TO/test.txt", 128),
    ("experiments/network/model_1F_CNN+D_vlqr.prototxt", "PATH/TO/train.txt", "PATH/TO/test.txt",
     128),
    ("experiments/network/model_1F_CNN+D_vlqr_non_joint.prototxt", "PATH/TO/train.txt",
     "PATH/TO/test.txt", 128),
    ("pretrain/Pretrain_net.prototxt", "PATH/TO/CAFFE_EMOTION/Pretrain/train.txt",
     "PATH/TO/CAFFE_EMOTION/Pretrain/test.txt", 2),
])
def test_train_test_nets_keep_one_data_layer_per_phase(rel, train_src, test_src, test_batch):
    net = read_net(public_input("original", rel))
    assert not net_needs_upgrade(net)
    for phase, source, batch in [("TRAIN", train_src, 128), ("TEST", test_src, test_batch)]:
        kept = filter_net(net, phase)
        data = [l for l in kept.layer if l.type == "HDF5Data"]
        assert len(data) == 1, phase
        assert data[0].hdf5_data_param.source == source
        assert data[0].hdf5_data_param.batch_size == batch
        assert names(kept)[-1] == "loss"  # no phase rule: kept in both
        assert len(kept.layer) == len(net.layer) - 1


# --------------------------------------------------------------------------------------------
# V1 nets

V1_NET = """
name: "legacy_v1"
input: "data"
input_dim: 2
input_dim: 3
input_dim: 16
input_dim: 16
layers {
  name: "db"
  type: DATA
  top: "data"
  top: "label"
  data_param { source: "train_lmdb" batch_size: 8 backend: LMDB
               scale: 0.00390625 mean_file: "mean.binaryproto" crop_size: 14 mirror: true }
  include { phase: TRAIN }
}
layers {
  name: "conv1"
  type: CONVOLUTION
  bottom: "data"
  top: "conv1"
  blobs_lr: 1
  blobs_lr: 2
  weight_decay: 1
  weight_decay: 0
  param: "conv1_w"
  param: "conv1_b"
  blob_share_mode: PERMISSIVE
  convolution_param {
    num_output: 8
    kernel_size: 3
    weight_filler { type: "xavier" }
  }
}
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" relu_param { negative_slope: 0.1 } }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
         pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "pool1" top: "ip" blobs_lr: 0.5
         inner_product_param { num_output: 10 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip" bottom: "label" top: "loss"
         loss_weight: 2 exclude { phase: TEST } }
layers { name: "acc" type: ACCURACY bottom: "ip" bottom: "label" top: "acc"
         include { phase: TEST } accuracy_param { top_k: 5 } }
"""


def test_v1_net_upgrade():
    raw = parse_net(V1_NET, "v1.prototxt", upgrade=False)
    assert net_needs_upgrade(raw) and len(raw.layers) == 7 and not raw.layer
    net = parse_net(V1_NET, "v1.prototxt")
    assert not net.layers and not net_needs_upgrade(net)
    assert names(net) == ["input", "db", "conv1", "relu1", "pool1", "ip", "loss", "acc"]
    assert [l.type for l in net.layer] == ["Input", "Data", "Convolution", "ReLU", "Pooling",
                                           "InnerProduct", "SoftmaxWithLoss", "Accuracy"]
    assert input_shapes(net) == [[2, 3, 16, 16]]

    conv = layer(net, "conv1")
    assert [(p.name, p.lr_mult, p.decay_mult) for p in conv.param] == [
        ("conv1_w", 1, 1), ("conv1_b", 2, 0)]
    assert conv.param[0].share_mode == pb.ParamSpec.PERMISSIVE
    assert not conv.param[1].HasField("share_mode")
    assert conv.convolution_param.num_output == 8
    assert conv.convolution_param.weight_filler.type == "xavier"
    assert list(conv.bottom) == ["data"] and list(conv.top) == ["conv1"]

    ip = layer(net, "ip")
    assert len(ip.param) == 1 and ip.param[0].lr_mult == 0.5
    assert not ip.param[0].HasField("decay_mult") and ip.param[0].decay_mult == 1
    assert layer(net, "relu1").relu_param.negative_slope == pytest.approx(0.1)
    assert layer(net, "pool1").pooling_param.pool == pb.PoolingParameter.AVE
    assert list(layer(net, "loss").loss_weight) == [2]
    assert layer(net, "loss").exclude[0].phase == pb.TEST
    assert layer(net, "acc").accuracy_param.top_k == 5

    # Deprecated data fields moved into transform_param.
    db = layer(net, "db")
    tp = db.transform_param
    assert (tp.scale, tp.mean_file, tp.crop_size, tp.mirror) == (
        pytest.approx(1 / 256), "mean.binaryproto", 14, True)
    for name in ("scale", "mean_file", "crop_size", "mirror"):
        assert not db.data_param.HasField(name)
    assert (db.data_param.source, db.data_param.batch_size) == ("train_lmdb", 8)
    assert db.data_param.backend == pb.DataParameter.LMDB

    assert names(filter_net(net, "TRAIN")) == ["input", "db", "conv1", "relu1", "pool1", "ip",
                                               "loss"]
    assert names(filter_net(upgrade_net(raw), "TEST")) == ["input", "conv1", "relu1", "pool1",
                                                           "ip", "acc"]
    # the graph takes current-format nets only: the readers upgrade, filter_net does not
    with pytest.raises(NetError, match="v1.prototxt: the net uses the deprecated field.*layers"):
        filter_net(raw, "TEST", source="v1.prototxt")


def test_v1_type_names_cover_the_enum():
    assert set(V1_LAYER_TYPE_NAMES) == set(pb.V1LayerParameter.LayerType.values())
    assert V1_LAYER_TYPE_NAMES[pb.V1LayerParameter.SOFTMAX_LOSS] == "SoftmaxWithLoss"
    assert V1_LAYER_TYPE_NAMES[pb.V1LayerParameter.IM2COL] == "Im2col"
    assert V1_LAYER_TYPE_NAMES[pb.V1LayerParameter.NONE] == ""


def test_v1_blobs_survive_and_v0_block_takes_over():
    net = pb.NetParameter()
    v1 = net.layers.add(name="fc", type=pb.V1LayerParameter.INNER_PRODUCT)
    blob = v1.blobs.add(num=1, channels=1, height=2, width=3)
    blob.data.extend(range(6))
    out = upgrade_net(net, "m.caffemodel")
    assert (out.layer[0].name, out.layer[0].type) == ("fc", "InnerProduct")
    assert out.layer[0].blobs[0] == blob
    # A V0 block anywhere makes the whole net V0: as in Caffe, only the V0 block (plus bottom
    # and top) of each entry is kept.
    v1.layer.name = "old"
    out = upgrade_net(net, "m.caffemodel")
    assert (out.layer[0].name, out.layer[0].type, len(out.layer[0].blobs)) == ("old", "", 0)


def test_layer_and_layers_together_is_refused():
    net = pb.NetParameter()
    net.layer.add(name="new", type="ReLU")
    net.layers.add(name="old", type=pb.V1LayerParameter.RELU)
    with pytest.raises(NetError, match=r"mixed\.prototxt: .*both 'layer' and deprecated "
                                       r"'layers'"):
        upgrade_net(net, "mixed.prototxt")
    with pytest.raises(PrototxtError, match="both 'layer'"):
        parse_net('layer { name: "a" } layers { name: "b" }', "mixed.prototxt")


def test_upgrade_leaves_input_alone():
    raw = parse_net(V1_NET, "v1.prototxt", upgrade=False)
    copy = pb.NetParameter()
    copy.CopyFrom(raw)
    upgrade_net(raw)
    assert raw == copy


# --------------------------------------------------------------------------------------------
# V0 nets

V0_NET = """
name: "legacy_v0"
input: "data"
input_dim: 1 input_dim: 3 input_dim: 12 input_dim: 12
layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
layers {
  layer { name: "conv1" type: "conv" num_output: 6 kernelsize: 5 stride: 1 group: 1
          biasterm: false blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
          weight_filler { type: "gaussian" std: 0.01 } }
  bottom: "pad1" top: "conv1"
}
layers { layer { name: "relu1" type: "relu" } bottom: "conv1" top: "conv1" }
layers { layer { name: "pool1" type: "pool" pool: MAX kernelsize: 3 stride: 2 pad: 1 }
         bottom: "conv1" top: "pool1" }
layers { layer { name: "norm1" type: "lrn" local_size: 3 alpha: 0.0001 beta: 0.75 k: 2 }
         bottom: "pool1" top: "norm1" }
layers { layer { name: "drop" type: "dropout" dropout_ratio: 0.4 } bottom: "norm1" top: "norm1" }
layers { layer { name: "fc" type: "innerproduct" num_output: 3 } bottom: "norm1" top: "fc" }
layers { layer { name: "prob" type: "softmax" } bottom: "fc" top: "prob" }
"""


def test_v0_net_upgrade():
    net = parse_net(V0_NET, "v0.prototxt")
    assert not net_needs_upgrade(net)
    assert names(net) == ["input", "conv1", "relu1", "pool1", "norm1", "drop", "fc", "prob"]
    assert [l.type for l in net.layer] == ["Input", "Convolution", "ReLU", "Pooling", "LRN",
                                           "Dropout", "InnerProduct", "Softmax"]
    conv = layer(net, "conv1")
    assert list(conv.bottom) == ["data"]  # the padding layer is folded in
    cp = conv.convolution_param
    assert (list(cp.pad), list(cp.kernel_size), list(cp.stride), cp.group, cp.num_output,
            cp.bias_term) == ([2], [5], [1], 1, 6, False)
    assert cp.weight_filler.std == pytest.approx(0.01)
    assert [(p.lr_mult, p.decay_mult) for p in conv.param] == [(1, 1), (2, 0)]
    pp = layer(net, "pool1").pooling_param
    assert (pp.pool, pp.kernel_size, pp.stride, pp.pad) == (pb.PoolingParameter.MAX, 3, 2, 1)
    lrn = layer(net, "norm1").lrn_param
    assert (lrn.local_size, lrn.alpha, lrn.beta, lrn.k) == (3, pytest.approx(1e-4),
                                                           pytest.approx(0.75), 2)
    assert layer(net, "drop").dropout_param.dropout_ratio == pytest.approx(0.4)
    assert layer(net, "fc").inner_product_param.num_output == 3
    assert input_shapes(net) == [[1, 3, 12, 12]]


def test_v0_data_layer_fields():
    text = """layers { layer { name: "d" type: "data" source: "db" batchsize: 16 cropsize: 10
                       mirror: true scale: 0.5 meanfile: "m" rand_skip: 3 } top: "data" }
              layers { layer { name: "w" type: "window_data" source: "w.txt" det_fg_threshold: 0.6
                       det_crop_mode: "square" det_context_pad: 4 } top: "win" }"""
    net = parse_net(text, "v0data.prototxt")
    d = layer(net, "d")
    assert (d.data_param.source, d.data_param.batch_size, d.data_param.rand_skip) == ("db", 16, 3)
    tp = d.transform_param
    assert (tp.crop_size, tp.mirror, tp.scale, tp.mean_file) == (10, True, 0.5, "m")
    w = layer(net, "w").window_data_param
    assert (w.source, w.crop_mode, w.context_pad) == ("w.txt", "square", 4)
    assert w.fg_threshold == pytest.approx(0.6)


def test_v0_problems():
    with pytest.warns(UpgradeWarning, match="'num_output' does not apply to type 'relu'"):
        net = parse_net('layers { layer { name: "r" type: "relu" num_output: 3 } }', "w.prototxt")
    assert net.layer[0].type == "ReLU"
    with pytest.raises(PrototxtError, match=r"u\.prototxt:1:1: V0 layer 0 \('x'\) has unknown type "
                                            "'warp'"):
        parse_net('layers { layer { name: "x" type: "warp" } }', "u.prototxt")
    with pytest.raises(PrototxtError, match="padding layer 'p' feeds layer 'r'"):
        parse_net('input: "d" layers { layer { name: "p" type: "padding" pad: 1 } bottom: "d" '
                  'top: "q" } layers { layer { name: "r" type: "relu" } bottom: "q" top: "r" }',
                  "p.prototxt")
    with pytest.raises(PrototxtError, match="unknown blob 'nowhere'"):
        parse_net('layers { layer { name: "r" type: "relu" } bottom: "nowhere" top: "r" }',
                  "b.prototxt")


# --------------------------------------------------------------------------------------------
# Inputs, BatchNorm

def test_input_shape_form_and_errors():
    net = parse_net('input: "a" input: "b" input_shape { dim: 4 dim: 2 } '
                    'input_shape { dim: 4 } layer { name: "r" type: "ReLU" bottom: "a" top: "r" }',
                    "s.prototxt")
    assert names(net) == ["input", "r"] and input_shapes(net) == [[4, 2], [4]]
    with pytest.raises(PrototxtError, match="2 inputs need 8 input_dim values"):
        parse_net('input: "a" input: "b" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 1',
                  "d.prototxt")
    with pytest.raises(PrototxtError, match="2 inputs but only 1 input_shape"):
        parse_net('input: "a" input: "b" input_shape { dim: 1 }', "d.prototxt")
    with pytest.warns(UpgradeWarning, match="the last 1 are ignored"):
        net = parse_net('input: "a" input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4 '
                        'input_dim: 5', "d.prototxt")
    assert input_shapes(net) == [[1, 2, 3, 4]]


def test_bare_input_names_are_dropped():
    net = pb.NetParameter(input=["data"])
    net.layer.add(name="conv", type="Convolution", bottom=["data"])
    out = upgrade_net(net)
    assert names(out) == ["conv"] and not out.input


def test_batchnorm_param_upgrade():
    text = """layer { name: "bn_old" type: "BatchNorm" param { lr_mult: 0 name: "m" }
                      param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 0 } }
              layer { name: "bn_two" type: "BatchNorm" param { lr_mult: 0 } param { lr_mult: 0 } }
              layer { name: "conv" type: "Convolution" param { lr_mult: 1 } param { lr_mult: 2 }
                      param { lr_mult: 3 } }"""
    raw = parse_net(text, "bn.prototxt", upgrade=False)
    assert net_needs_upgrade(raw)
    net = parse_net(text, "bn.prototxt")
    # Caffe 1.0's UpgradeNetBatchNorm: the specs stay (names too), learning and decay set to 0
    assert [(p.name, p.lr_mult, p.decay_mult) for p in layer(net, "bn_old").param] == [
        ("m", 0, 0), ("", 0, 0), ("", 0, 0)]
    assert len(layer(net, "bn_two").param) == 2
    assert [p.lr_mult for p in layer(net, "conv").param] == [1, 2, 3]
    assert net_needs_upgrade(net)             # as Caffe's check, still true: upgrading again
    assert parse_net(str(net), "bn.prototxt") == net              # changes nothing


# --------------------------------------------------------------------------------------------
# Net state rules

RULES_NET = """
state { stage: "from_file" }
layer { name: "always" }
layer { name: "train" include { phase: TRAIN } }
layer { name: "not_test" exclude { phase: TEST } }
layer { name: "level_1_to_2" include { min_level: 1 max_level: 2 } }
layer { name: "deploy_stage" include { stage: "deploy" } }
layer { name: "both_stages" include { stage: "deploy" stage: "extra" } }
layer { name: "either_rule" include { stage: "extra" } include { phase: TRAIN } }
layer { name: "not_deploy" include { not_stage: "deploy" } }
layer { name: "file_stage" include { stage: "from_file" } }
layer { name: "excl_level" exclude { min_level: 3 } }
"""


@pytest.mark.parametrize("phase,level,stages,expected", [
    ("TRAIN", 0, (), ["always", "train", "not_test", "either_rule", "not_deploy", "file_stage",
                      "excl_level"]),
    ("TEST", 0, (), ["always", "not_deploy", "file_stage", "excl_level"]),
    ("TEST", 1, ("deploy",), ["always", "level_1_to_2", "deploy_stage", "file_stage",
                              "excl_level"]),
    ("TEST", 3, ("deploy", "extra"), ["always", "deploy_stage", "both_stages", "either_rule",
                                      "file_stage"]),
    (pb.TEST, 2, "extra", ["always", "level_1_to_2", "either_rule", "not_deploy", "file_stage",
                           "excl_level"]),
])
def test_filter_net_rules(phase, level, stages, expected):
    net = parse_net(RULES_NET, "rules.prototxt")
    kept = filter_net(net, phase, level=level, stages=stages)
    assert names(kept) == expected
    assert kept.state.level == level
    assert kept.state.stage[0] == "from_file"  # stages from the file stay, others are added


def test_filter_net_keeps_file_phase_when_none():
    net = parse_net('state { phase: TRAIN } layer { name: "t" include { phase: TRAIN } }', "p")
    assert names(filter_net(net, None)) == ["t"]
    assert names(filter_net(parse_net('layer { name: "t" include { phase: TRAIN } }', "p"),
                            None)) == []


def test_include_and_exclude_together_is_an_error():
    net = parse_net('layer { name: "ok" } layer { name: "bad" include { phase: TRAIN } '
                    'exclude { phase: TEST } }', "x.prototxt")
    # the position is that of the layer's `exclude` (line 1, column 67)
    with pytest.raises(NetError, match=r"x\.prototxt:1:67: layer 'bad' \(#1\) has both include "
                                       "and exclude rules"):
        filter_net(net, "TRAIN", source="x.prototxt")


def test_state_meets_rule_and_phase_values():
    state = pb.NetState(phase=pb.TRAIN, level=2, stage=["a", "b"])
    assert state_meets_rule(state, pb.NetStateRule())
    assert state_meets_rule(state, pb.NetStateRule(phase=pb.TRAIN, min_level=2, max_level=2,
                                                   stage=["a"], not_stage=["c"]))
    assert not state_meets_rule(state, pb.NetStateRule(max_level=1))
    assert not state_meets_rule(state, pb.NetStateRule(not_stage=["b"]))
    assert not state_meets_rule(state, pb.NetStateRule(stage=["a", "z"]))
    assert phase_value("train") == pb.TRAIN and phase_value(" TEST ") == pb.TEST
    assert phase_value(1) == pb.TEST
    for bad in ("val", 2, True, None):
        with pytest.raises(ValueError):
            phase_value(bad)


# --------------------------------------------------------------------------------------------
# Solvers

@pytest.mark.parametrize("enum,name", [("SGD", "SGD"), ("NESTEROV", "Nesterov"),
                                       ("ADAGRAD", "AdaGrad"), ("RMSPROP", "RMSProp"),
                                       ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")])
def test_upgrade_solver_type(enum, name):
    solver = pb.SolverParameter(base_lr=0.1)
    solver.solver_type = pb.SolverParameter.SolverType.Value(enum)
    out = upgrade_solver(solver, "s.prototxt")
    assert out.type == name and not out.HasField("solver_type")
    assert solver.HasField("solver_type")  # the input is left alone


def test_upgrade_solver_conflict_and_noop():
    solver = pb.SolverParameter(type="Adam", solver_type=pb.SolverParameter.ADAM)
    with pytest.raises(SolverError, match=r"s\.prototxt: both 'solver_type'"):
        upgrade_solver(solver, "s.prototxt")
    plain = pb.SolverParameter(type="RMSProp")
    assert upgrade_solver(plain) == plain


def test_upgrade_snapshot_prefix(tmp_path):
    solver = pb.SolverParameter()
    assert upgrade_snapshot_prefix(solver, "runs/solver.prototxt").snapshot_prefix == \
        "runs/solver"
    solver.snapshot_prefix = str(tmp_path)
    assert upgrade_snapshot_prefix(solver, "a/b/sgd.prototxt").snapshot_prefix == \
        str(tmp_path / "sgd")
    solver.snapshot_prefix = "snap/iter"
    assert upgrade_snapshot_prefix(solver, "x.prototxt").snapshot_prefix == "snap/iter"


def test_messages_of_another_caffe_schema_are_accepted():
    # pycaffe's caffe_pb2 has the same messages in package "caffe"; build such a class here.
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    file_proto = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(file_proto)
    file_proto.package = "caffe"

    def rename(messages):
        for message in messages:
            for f in message.field:
                if f.HasField("type_name"):
                    f.type_name = f.type_name.replace(".caffe_compat.", ".caffe.")
            rename(message.nested_type)
    rename(file_proto.message_type)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    other = message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))
    foreign = other()
    foreign.ParseFromString(parse_net(V1_NET, "v1", upgrade=False).SerializeToString())
    out = upgrade_net(foreign)
    assert isinstance(out, pb.NetParameter) and out == parse_net(V1_NET, "v1")
    assert names(filter_net(upgrade_net(foreign), "TEST"))[-1] == "acc"
    with pytest.raises(TypeError, match="expected a NetParameter"):
        upgrade_net(pb.SolverParameter())
