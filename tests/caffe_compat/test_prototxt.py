"""Text-format nets and solvers: parsing like Caffe, errors with file:line:column, writing back."""
import glob
import os
import warnings

import pytest

from caffe_compat.errors import PrototxtError
from caffe_compat.io.prototxt import (PrototxtWarning, parse_net, parse_solver,
                                      parse_text_message, read_net, read_solver, to_text,
                                      write_prototxt)
from caffe_compat.proto import caffe_pb2 as pb
from tests.conftest import fixture_path, public_input

ORIGINAL_NETS = ["deploy/model_1F_CNN+D.prototxt", "deploy/SRCNN_net.prototxt",
                 "experiments/network/model_1F_CNN+D.prototxt",
                 "experiments/network/model_1F_CNN+D_vlqr.prototxt",
                 "experiments/network/model_1F_CNN+D_vlqr_non_joint.prototxt",
                 "pretrain/Pretrain_net.prototxt"]
ORIGINAL_SOLVERS = ["experiments/solver/solver_1F_CNN+D.prototxt",
                    "experiments/solver/solver_1F_CNN+D_vlqr.prototxt",
                    "experiments/solver/solver_1F_CNN+D_vlqr_non_joint.prototxt",
                    "pretrain/Pretrain_solver.prototxt"]


@pytest.mark.parametrize("rel", ORIGINAL_NETS)
def test_original_nets_parse(rel):
    net = read_net(public_input("original", rel))
    assert len(net.layer) > 5
    assert not net.input and not net.input_dim and not net.layers
    conv1 = next(l for l in net.layer if l.name == "conv1")
    assert conv1.type == "Convolution"
    assert conv1.convolution_param.num_output == 64
    assert list(conv1.convolution_param.kernel_size) == [5]
    assert len(conv1.param) == 2


def test_original_include_syntax_and_comments():
    net = read_net(public_input("original", "experiments/network/model_1F_CNN+D.prototxt"))
    assert net.name == "emotion_train_val"
    data = [l for l in net.layer if l.type == "HDF5Data"]
    assert [l.include[0].phase for l in data] == [pb.TRAIN, pb.TEST]
    assert data[0].hdf5_data_param.batch_size == 128
    pool1 = next(l for l in net.layer if l.name == "pool1")
    assert pool1.pooling_param.pool == pb.PoolingParameter.MAX
    assert pool1.pooling_param.kernel_size == 2
    vlqr = read_net(public_input("original", "experiments/network/model_1F_CNN+D_vlqr.prototxt"))
    conv1 = next(l for l in vlqr.layer if l.name == "conv1")
    assert [p.lr_mult for p in conv1.param] == [pytest.approx(0.1), pytest.approx(0.2)]


@pytest.mark.parametrize("rel", ORIGINAL_SOLVERS)
def test_original_solvers_parse(rel):
    solver = read_solver(public_input("original", rel))
    assert solver.type == "SGD" and not solver.HasField("solver_type")
    assert solver.lr_policy == "fixed"
    assert solver.momentum == pytest.approx(0.9)
    assert solver.solver_mode == pb.SolverParameter.GPU
    assert solver.snapshot_prefix.startswith("PATH/TO/")
    assert list(solver.test_iter) and solver.test_interval > 0


def test_pretrain_solver_values():
    solver = read_solver(public_input("original", "pretrain/Pretrain_solver.prototxt"))
    assert (solver.test_iter[0], solver.test_interval, solver.max_iter) == (556, 500, 500000)
    assert solver.base_lr == pytest.approx(1e-4)
    assert solver.HasField("weight_decay") and solver.weight_decay == 0


def test_every_reference_prototxt_parses_strictly():
    root = fixture_path("caffe-reference")
    nets = glob.glob(os.path.join(root, "**", "net.prototxt"), recursive=True)
    solvers = glob.glob(os.path.join(root, "**", "solver.prototxt"), recursive=True)
    assert nets and solvers
    for path in nets:
        assert len(read_net(path).layer) > 1, path
    for path in solvers:
        assert read_solver(path).type, path


def test_unknown_field_names_field_line_and_column():
    text = 'name: "x"\nlayer {\n  name: "a"\n  type: "ReLU"\n  relu_param { leak: 3 }\n}\n'
    with pytest.raises(PrototxtError) as err:
        parse_net(text, "fork.prototxt")
    msg = str(err.value)
    assert msg.startswith("fork.prototxt:5:16: ")
    assert '"leak"' in msg and "ReLUParameter" in msg
    # skipping is never offered as the fix: it would build another net
    assert "allow_unknown_fields" not in msg and "OpenCV's Caffe fork" in msg


def test_unknown_fields_skipped_with_warning_when_allowed():
    text = ('name: "x"\nlayer {\n  name: "a"\n  type: "ReLU"\n'
            '  relu_param { leak: 3 negative_slope: 0.5 }\n'
            '  fork_param { a: 1 nested { b: "c" } }\n}\n')
    with pytest.warns(PrototxtWarning) as record:
        net = parse_net(text, "fork.prototxt", allow_unknown_fields=True)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2  # the nested field of a skipped block is not reported again
    assert messages[0].startswith('fork.prototxt:5:16: skipped field "leak" (ReLUParameter) '
                                  "of layer 'a'")
    assert messages[1].startswith('fork.prototxt:6:3: skipped field "fork_param" '
                                  "(LayerParameter) of layer 'a'")
    assert all("may change its shapes or values" in m for m in messages)
    assert net.layer[0].relu_param.negative_slope == pytest.approx(0.5)


@pytest.mark.parametrize("text,line,col,needle", [
    ('name: "x"\nlayer {\n  name: "a"\n  type: ReLU\n}\n', 4, 9, "Expected string"),
    ('name: "x"\nlayer {\n  name: "a"\n', 3, 9, 'Expected "}"'),
    ('name: "x"\nname: "y"\n', 2, 7, 'multiple "name" fields'),
    ('layer {\n pooling_param { pool: MEDIAN } }', 2, 24, "no value named MEDIAN"),
    ('layer { convolution_param { num_output: -3 } }', 1, 41, "out of range"),
])
def test_syntax_errors_have_positions(text, line, col, needle):
    with pytest.raises(PrototxtError) as err:
        parse_net(text, "bad.prototxt")
    msg = str(err.value)
    assert msg.startswith(f"bad.prototxt:{line}:{col}: "), msg
    assert needle in msg
    assert "caffe_compat." not in msg


def test_missing_required_field_names_the_layer():
    with pytest.raises(PrototxtError, match=r"x\.prototxt:2:35: required field\(s\) missing: "
                                            r"layer\[1\] \('clip'\)\.clip_param\.max"):
        parse_net('layer { name: "in" type: "Input" }\n'
                  'layer { name: "clip" type: "Clip" clip_param { min: 0 } }', "x.prototxt")


def test_caffe_text_features():
    text = """
    # comment line
    name: 'quoted'   # trailing comment
    layer < name: "a" type: "Input" top: "d" input_param { shape: { dim: [2, 3] } } >
    layer { name: "b"; type: "Pooling", pooling_param { pool: 1 } include: { phase: TEST } }
    force_backward: true
    """
    net = parse_net(text, "features.prototxt")
    assert net.name == "quoted" and net.force_backward
    assert list(net.layer[0].input_param.shape[0].dim) == [2, 3]
    assert net.layer[1].pooling_param.pool == pb.PoolingParameter.AVE
    assert net.layer[1].include[0].phase == pb.TEST


def test_bom_and_bytes_input():
    net = parse_net('\ufeffname: "bom"'.encode("utf-8"), "bom.prototxt")
    assert net.name == "bom"


def test_file_errors(tmp_path):
    with pytest.raises(PrototxtError, match="no such prototxt file"):
        read_net(tmp_path / "missing.prototxt")
    with pytest.raises(PrototxtError, match="is a directory"):
        read_net(tmp_path)
    binary = tmp_path / "weights.prototxt"
    binary.write_bytes(b'\n\x03net\xa2\x06\x00name: "x"')
    with pytest.raises(PrototxtError, match=r"weights\.prototxt:2:5: not UTF-8 text .*binary"):
        read_net(binary)
    with pytest.raises(PrototxtError, match="no such solver file"):
        read_solver(tmp_path / "missing_solver.prototxt")


GBK_NET = ("name: \"gbk\"  # \u5377\u79ef\u7f51\u7edc\n"
           "layer { name: \"data\" type: \"Input\" top: \"data\"   # \u8f93\u5165 '#\n"
           "  input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n").encode("gbk")


def test_a_comment_in_another_encoding_is_read_as_caffe_reads_it(tmp_path):
    """Chinese comments saved as GBK, a cp1252 quote: real Caffe 1.0's text reader skips a
    comment's bytes (upgrade_net_proto_text and caffe.Net read these files); a byte that is
    not UTF-8 in a string or outside any comment stays an error naming line and column."""
    path = tmp_path / "gbk.prototxt"
    path.write_bytes(GBK_NET)
    for net in (read_net(path), parse_net(GBK_NET, "gbk.prototxt"),
                parse_net('name: "q" # \u201cquoted\u201d\n'.encode("cp1252"), "q")):
        assert net.name in ("gbk", "q")
    from caffe_compat import dnn
    assert dnn.readNetFromCaffe(str(path)).getLayerNames() == ()
    assert dnn.readNetFromCaffe(bufferProto=GBK_NET).getLayerNames() == ()
    path.write_bytes(b'name: "ok"\nlayer { name: "\xb2\xe3" type: "Input" }\n')
    with pytest.raises(PrototxtError, match=r"gbk\.prototxt:2:16: not UTF-8 text \(byte 0xb2"):
        read_net(path)
    with pytest.raises(PrototxtError, match=r"<bufferProto>:2:16: .*the first argument"):
        dnn.readNetFromCaffe(bufferProto=path.read_bytes())


def test_solver_type_upgrade():
    solver = parse_solver("solver_type: NESTEROV\nbase_lr: 0.1\n", "s.prototxt")
    assert solver.type == "Nesterov" and not solver.HasField("solver_type")
    raw = parse_solver("solver_type: NESTEROV\n", "s.prototxt", upgrade=False)
    assert raw.solver_type == pb.SolverParameter.NESTEROV and not raw.HasField("type")
    with pytest.raises(PrototxtError, match="both 'solver_type'.*and 'type'"):
        parse_solver('solver_type: ADAM\ntype: "Adam"\n', "s.prototxt")


def test_read_solver_default_snapshot_prefix(tmp_path):
    path = tmp_path / "my_solver.prototxt"
    path.write_text('net: "n.prototxt"\nbase_lr: 0.1\n')
    assert read_solver(path).snapshot_prefix == str(tmp_path / "my_solver")
    assert not read_solver(path, upgrade=False).HasField("snapshot_prefix")
    folder = tmp_path / "snaps"
    folder.mkdir()
    path.write_text(f'net: "n.prototxt"\nsnapshot_prefix: "{folder}"\n')
    assert read_solver(path).snapshot_prefix == str(folder / "my_solver")
    path.write_text('snapshot_prefix: "run/snap"\n')
    assert read_solver(path).snapshot_prefix == "run/snap"


def test_parse_text_message_generic():
    state = parse_text_message("iter: 3 learned_net: 'a.caffemodel'", pb.SolverState())
    assert state.iter == 3 and state.learned_net == "a.caffemodel"


def test_to_text_round_trip(tmp_path):
    net = read_net(public_input("original", "deploy/SRCNN_net.prototxt"))
    text = to_text(net)
    assert parse_net(text, "again") == net
    out = tmp_path / "sub" / "net.prototxt"
    write_prototxt(net, out)
    assert read_net(out) == net
    assert [p.name for p in out.parent.iterdir()] == ["net.prototxt"]  # no temporary left
    solver = read_solver(public_input("original", "pretrain/Pretrain_solver.prototxt"))
    write_prototxt(solver, tmp_path / "solver.prototxt")
    assert parse_solver((tmp_path / "solver.prototxt").read_text(), "s") == solver


def test_unicode_names_survive():
    net = parse_net('name: "réseau ü"', "u.prototxt")
    assert parse_net(to_text(net), "u2") == net
    assert "réseau ü" in to_text(net)


def test_no_warnings_on_clean_files():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_net(public_input("original", "pretrain/Pretrain_net.prototxt"))


def test_io_package_exports():
    import caffe_compat.io as cio
    from caffe_compat.io import caffemodel, prototxt, solverstate, upgrade
    assert cio.read_net is prototxt.read_net
    assert cio.read_caffemodel is caffemodel.read_caffemodel
    assert cio.write_solverstate is solverstate.write_solverstate
    assert set(cio.__all__) <= set(dir(cio))
    with pytest.raises(AttributeError):
        cio.no_such_function


def test_a_bad_value_after_a_skipped_field_names_its_line():
    """With unknown fields allowed, protobuf's skipping raises some errors without a place
    (``Invalid field value``, found by the prototxt fuzz campaign): the error names the
    token's line and column."""
    import pytest

    from caffe_compat.errors import PrototxtError
    from caffe_compat.io.prototxt import parse_net
    text = ('layer { name: "in" type: "Input" top: "d"\n'
            '  input_param { shape { dim: 2 dimphase: TRAIN }\n}\n'
            'layer {\n  name: "x"  type:: 12 }\n')
    with pytest.raises(PrototxtError, match=r"^<t>:5:\d+: Invalid field"):
        parse_net(text, "<t>", allow_unknown_fields=True, upgrade=False)
