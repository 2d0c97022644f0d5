"""Every error of building a net read from text names ``file:line:column``.

The positions come from the text reader and travel with the net through the legacy upgrades
(V0 with its padding layers folded away, V1, ``input`` fields turned into an Input layer), the
phase filter, the split layers, a solver's own net definitions and the weights copy.
"""
import re

import numpy as np
import pytest
import torch

from caffe_compat import Net, get_solver
from caffe_compat.diagnostics import locations
from caffe_compat.errors import DataError, NetError, PrototxtError, WeightsError
from caffe_compat.net.graph import build_graph, filter_net
from caffe_compat.io.caffemodel import array_to_blob
from caffe_compat.io.prototxt import parse_net, read_net
from caffe_compat.io.upgrade import upgrade_net
from caffe_compat.layers.base import Layer
from caffe_compat.layers.registry import register_layer
from caffe_compat.proto import caffe_pb2

INPUT = ('layer { name: "in" type: "Input" top: "x"\n'
         '  input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }\n')


def raises_at(where, cls=NetError):
    """pytest.raises for an error whose message starts with ``where`` (file:line:column)."""
    return pytest.raises(cls, match="^" + re.escape(where) + ": ")


def test_net_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n'
                    'layer { name: "r2" type: "ReLU" bottom: "x"\n'
                    '        top: "y" }\n')
    with raises_at(f"{path}:5:9") as info:      # the second `top: "y"`
        Net(str(path))
    assert f"already produced by another layer ('r' at {path}:3:1" in str(info.value)
    # read_net, then Net: the same (the positions travel beside the message)
    with raises_at(f"{path}:5:9"):
        Net(read_net(path))


def test_bad_parameter_value_points_at_the_parameter():
    text = INPUT + ('layer { name: "c" type: "Convolution" bottom: "x" top: "y"\n'
                    '  convolution_param {\n    num_output: 4\n    stride: 0\n'
                    '    kernel_size: 3 } }\n')
    with raises_at("<string>:6:5", NetError) as info:    # `stride: 0`
        Net(text)
    assert "stride must be positive" in str(info.value)


def test_shape_mismatch_names_the_layer_line():
    text = ('layer { name: "in" type: "Input" top: "a" top: "b"\n'
            '  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }\n'
            'layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "s" }\n')
    with raises_at("<string>:3:1") as info:
        Net(text)
    assert "all bottoms must have the same shape" in str(info.value)


def test_missing_data_source_points_at_the_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = ('layer { name: "d" type: "HDF5Data" top: "data" top: "label"\n'
            '  hdf5_data_param {\n    source: "nowhere.txt"\n    batch_size: 2 } }\n')
    with raises_at("<string>:3:5", DataError) as info:
        Net(text, phase="train")
    assert "nowhere.txt" in str(info.value)


def test_weights_that_do_not_fit_name_the_layer_definition(tmp_path):
    net = Net(INPUT + 'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"\n'
                      '  inner_product_param { num_output: 5 } }\n')
    proto = net.to_proto()
    ip = [lp for lp in proto.layer if lp.name == "ip"][0]
    ip.blobs[0].CopyFrom(array_to_blob(np.zeros((4, 192), np.float32)))
    with pytest.raises(WeightsError) as info:
        net.copy_from(proto)
    assert "<string>:3:1: layer 'ip' blob 0: shape mismatch" in str(info.value)


def test_unknown_bottom_and_propagate_down_point_at_the_field():
    with raises_at("<string>:4:3"):
        Net(INPUT + 'layer { name: "r" type: "ReLU"\n  bottom: "z"\n  top: "y" }\n')
    with raises_at("<string>:3:53"):
        Net(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" propagate_down: 1 '
                    'propagate_down: 0 }\n')


def test_shared_parameter_mismatch_points_at_param():
    text = INPUT + ('layer { name: "a" type: "InnerProduct" bottom: "x" top: "a"\n'
                    '  param { name: "w" } inner_product_param { num_output: 2 } }\n'
                    'layer { name: "b" type: "InnerProduct" bottom: "x" top: "b"\n'
                    '  param { name: "w" } inner_product_param { num_output: 3 } }\n')
    with raises_at("<string>:6:3") as info:
        Net(text)
    assert "shared parameter 'w'" in str(info.value)


def test_v1_layers_keep_their_lines():
    text = ('input: "data"\ninput_dim: 1\ninput_dim: 1\ninput_dim: 4\ninput_dim: 4\n'
            'layers { name: "c" type: CONVOLUTION bottom: "data" top: "c"\n'
            '  convolution_param { num_output: 2 kernel_size: 9 } }\n'
            'layers {\n  name: "u"\n  type: RELU\n  bottom: "nothing"\n  top: "u" }\n')
    net = parse_net(text, "v1.prototxt")
    src = locations.source_of(net)
    assert [(s.name, s.line) for s in src.layers] == [("input", 1), ("c", 6), ("u", 8)]
    with raises_at("v1.prototxt:11:3"):     # the V1 `bottom: "nothing"`
        Net(net)
    with raises_at("v1.prototxt:6:1") as info:   # kernel 9 on a 4x4 input
        Net(parse_net(text.replace('"nothing"', '"c"'), "v1.prototxt"))
    assert "empty" in str(info.value) or "kernel" in str(info.value)


def test_v0_layers_keep_their_lines_after_the_padding_layers_go():
    text = ('input: "d"\ninput_dim: 1\ninput_dim: 1\ninput_dim: 5\ninput_dim: 5\n'
            'layers { layer { name: "p" type: "padding" pad: 1 } bottom: "d" top: "q" }\n'
            'layers { layer { name: "c" type: "conv" num_output: 2 kernelsize: 3 } '
            'bottom: "q" top: "c" }\n'
            'layers {\n  layer { name: "r" type: "relu" }\n  bottom: "c"\n  top: "c" }\n'
            'layers { layer { name: "s" type: "relu" } bottom: "c"\n top: "d" }\n')
    net = parse_net(text, "v0.prototxt")
    assert [lp.name for lp in net.layer] == ["input", "c", "r", "s"]
    assert [s.line for s in locations.source_of(net).layers] == [1, 7, 8, 12]
    with raises_at("v0.prototxt:13:2") as info:     # s writes the input blob "d" again
        Net(net)
    assert "top blob 'd' is already produced" in str(info.value)
    # an unknown blob is found while the V0 padding layers are folded: the V0 layer's line
    with pytest.raises(PrototxtError, match=r"^v0\.prototxt:8:1: V0 layer 2 \('r'\) takes "
                                            "unknown blob 'missing'"):
        parse_net(text.replace('bottom: "c"\n  top', 'bottom: "missing"\n  top'),
                  "v0.prototxt")


def test_input_fields_become_a_layer_at_the_input_line():
    text = ('name: "n"\ninput: "data"\ninput_shape { dim: 1 dim: 2 }\n'
            'layer { name: "r" type: "ReLU" bottom: "data"\n  top: "data2" }\n'
            'layer { name: "x" type: "ReLU" bottom: "data2" top: "data" }\n')
    with raises_at("<string>:6:48") as info:
        Net(text)
    assert "('input' at <string>:2:1" in str(info.value)


def test_phase_filter_and_splits_keep_positions():
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 } } }\n'
            'layer { name: "t" type: "ReLU" bottom: "x" top: "t" include { phase: TRAIN } }\n'
            'layer { name: "a" type: "ReLU" bottom: "x" top: "a" }\n'
            'layer { name: "b" type: "ReLU" bottom: "x" top: "b" }\n')
    net_param = parse_net(text, "s.prototxt")
    filtered = filter_net(net_param, "TEST")
    assert [s.line for s in locations.source_of(filtered).layers] == [1, 3, 4]
    graph = build_graph(net_param, "TEST")
    where = {n.name: n.source.where() for n in graph.layers}
    assert where["x_in_0_split"] == "s.prototxt:1:34"      # the `top: "x"` it splits
    assert where["a"] == "s.prototxt:3:1" and where["b"] == "s.prototxt:4:1"
    assert locations.source_of(upgrade_net(net_param)) is not None      # copies keep them


def test_solver_nets_name_their_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.prototxt").write_text(
        INPUT + 'layer { name: "r" type: "Relu" bottom: "x" top: "y" }\n')
    (tmp_path / "solver.prototxt").write_text('net: "net.prototxt"\nbase_lr: 0.1\n'
                                              'lr_policy: "fixed"\nmax_iter: 1\n'
                                              'snapshot_after_train: false\n')
    with pytest.raises(NetError) as info:
        get_solver("solver.prototxt")
    msg = str(info.value)
    assert msg.startswith("net.prototxt:3:19: layer 'r': unknown layer type 'Relu'; did you "
                          "mean 'ReLU'"), msg
    assert msg.count("net.prototxt") == 1


def test_solver_embedded_net_names_the_solver_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "solver.prototxt").write_text(
        'base_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 1\nsnapshot_after_train: false\n'
        'net_param {\n  layer { name: "in" type: "Input" top: "x"\n'
        '    input_param { shape { dim: 2 dim: 3 } } }\n'
        '  layer { name: "r" type: "ReLU" bottom: "xx" top: "y" }\n}\n')
    with raises_at("solver.prototxt:8:34"):
        get_solver("solver.prototxt")


def test_nets_built_in_code_name_the_layer_only():
    net = caffe_pb2.NetParameter()
    lp = net.layer.add()
    lp.name, lp.type = "r", "ReLU"
    lp.bottom.append("nothing")
    lp.top.append("y")
    with pytest.raises(NetError, match=r"^layer 'r': unknown bottom blob 'nothing'"):
        Net(net)


def test_an_edited_message_loses_only_the_edited_positions():
    net = parse_net(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n', "e")
    net.layer[1].name = "renamed"
    src = locations.source_of(net)
    assert src.layer(0, net.layer[0]) is not None and src.layer(1, net.layer[1]) is None
    net.layer.add().name = "new"          # a different number of layers: no positions at all
    assert locations.source_of(net) is None


def test_side_table_forgets_the_oldest_beyond_its_budget(monkeypatch):
    monkeypatch.setattr(locations, "MAX_LAYERS", 10)
    first = parse_net(INPUT, "first")
    assert locations.source_of(first) is not None
    for i in range(10):
        parse_net(INPUT, f"other{i}")
    assert locations.source_of(first) is None
    assert locations.source_of(parse_net(INPUT, "last")) is not None


def test_layer_fail_can_name_its_field(monkeypatch):
    # the test's layer type leaves the registry with the test (other tests list every
    # registered type)
    from caffe_compat.layers import registry
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_layer("_FieldFailTest", replace=True)
    class _FieldFail(Layer):
        def __init__(self, param, bottom_shapes, phase="TEST"):
            super().__init__(param, bottom_shapes, phase)
            self.fail("the threshold is wrong", field="threshold_param.threshold")

        def forward(self, x):
            return x

    text = INPUT + ('layer { name: "f" type: "_FieldFailTest" bottom: "x" top: "y"\n'
                    '  threshold_param {\n    threshold: 2 } }\n')
    with raises_at("<string>:5:5"):
        Net(text)


def test_forward_still_works_on_a_located_net():
    net = Net(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n')
    assert float(net.forward(x=-torch.ones(2, 3, 8, 8))["y"].sum()) == 0


def test_positions_are_scanned_for_only_when_asked_for(monkeypatch):
    """Reading a net records the scan to be done (the text's positions cost about as much as
    its parse); the first question scans once, under the names the layers had when read."""
    from caffe_compat.io import positions
    scans = []
    real = positions.scan
    monkeypatch.setattr(positions, "scan", lambda text: scans.append(1) or real(text))
    net = parse_net(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n', "p")
    kept = filter_net(net, "TEST")
    assert scans == [] and locations.file_of(kept) == "p"
    assert locations.source_of(kept).layer(1, kept.layer[1]).where() == "p:3:1"
    assert locations.source_of(net).layer(1, net.layer[1]).where() == "p:3:1"
    assert len(scans) == 1


def test_a_pending_scan_keeps_the_names_of_the_read():
    """A message edited between its reading and the first question loses the edited layer's
    position, as when the positions were taken at once."""
    net = parse_net(INPUT + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n', "e",
                    upgrade=False)
    net.layer[1].name = "renamed"
    src = locations.source_of(net)
    assert src.layer(0, net.layer[0]) is not None and src.layer(1, net.layer[1]) is None


def test_a_scan_that_does_not_match_gives_no_positions():
    net = caffe_pb2.NetParameter()
    net.layer.add().name = "a"
    locations.attach_pending(net, "f", lambda: None)
    assert locations.file_of(net) == "f"
    assert locations.source_of(net) is None and locations.file_of(net) is None
