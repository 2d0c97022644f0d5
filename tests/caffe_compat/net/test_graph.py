"""The blob graph Caffe's Net::Init builds: FilterNet, InsertSplits and the connectivity checks.

Split names and counts follow util/insert_splits.cpp (``<blob>_<producer>_<top index>_split`` for
the layer, ``..._split_<k>`` for its tops, consumers numbered in layer order, a loss-weighted top
counting as one more consumer). The fixtures written by a real Caffe 1.0 confirm them: their
``blobs.npz`` list every blob, split blobs included, in Caffe's own order.
"""
import numpy as np
import pytest

from caffe_compat.errors import CaffeCompatError, NetError
from caffe_compat.net.graph import build_graph, filter_net, insert_splits, split_blob_name
from caffe_compat.io.prototxt import parse_net, read_net
from caffe_compat.proto import caffe_pb2 as pb
from tests.conftest import fixture_path, public_input

ZOO = ["layerzoo_a_conv", "layerzoo_a_act", "layerzoo_a_struct", "layerzoo_a_misc",
       "layerzoo_a_loss"]


def net(*layers, header='name: "g"\n'):
    return parse_net(header + "\n".join(layers))


def L(name, type_="ReLU", bottoms=(), tops=None, extra=""):
    """One layer in text form (tops default to the layer's name)."""
    tops = [name] if tops is None else tops
    return (f'layer {{ name: "{name}" type: "{type_}" '
            + "".join(f'bottom: "{b}" ' for b in bottoms)
            + "".join(f'top: "{t}" ' for t in tops) + extra + " }")


INPUT = L("input", "Input", tops=["data"], extra="input_param { shape { dim: 2 dim: 3 } }")


def layers(param):
    return [(lp.name, lp.type, list(lp.bottom), list(lp.top)) for lp in param.layer]


# ------------------------------------------------------------------------ InsertSplits
def test_blob_consumed_once_gets_no_split_and_net_is_unchanged():
    src = net(INPUT, L("a", bottoms=["data"]), L("b", bottoms=["a"]))
    assert insert_splits(src) == src


def test_blob_consumed_by_two_layers():
    out = insert_splits(net(INPUT, L("a", bottoms=["data"]), L("b", bottoms=["data"])))
    assert layers(out) == [
        ("input", "Input", [], ["data"]),
        ("data_input_0_split", "Split", ["data"], ["data_input_0_split_0", "data_input_0_split_1"]),
        ("a", "ReLU", ["data_input_0_split_0"], ["a"]),
        ("b", "ReLU", ["data_input_0_split_1"], ["b"]),
    ]


def test_blob_consumed_by_three_layers_one_of_them_twice():
    # Caffe counts bottoms, not layers: an Eltwise reading the blob twice takes two outputs.
    out = insert_splits(net(INPUT, L("a", bottoms=["data"]),
                            L("e", "Eltwise", bottoms=["data", "data"]),
                            L("c", bottoms=["data"])))
    split = out.layer[1]
    assert (split.name, split.type) == ("data_input_0_split", "Split")
    assert list(split.top) == [f"data_input_0_split_{k}" for k in range(4)]
    assert list(out.layer[2].bottom) == ["data_input_0_split_0"]
    assert list(out.layer[3].bottom) == ["data_input_0_split_1", "data_input_0_split_2"]
    assert list(out.layer[4].bottom) == ["data_input_0_split_3"]


def test_split_name_carries_the_top_index():
    out = insert_splits(net(INPUT, L("sl", "Slice", bottoms=["data"], tops=["p", "q"]),
                            L("a", bottoms=["q"]), L("b", bottoms=["q"]), L("c", bottoms=["p"])))
    assert [lp.name for lp in out.layer] == ["input", "sl", "q_sl_1_split", "a", "b", "c"]
    assert list(out.layer[2].top) == ["q_sl_1_split_0", "q_sl_1_split_1"]
    assert list(out.layer[5].bottom) == ["p"]
    assert split_blob_name("sl", "q", 1, 0) == "q_sl_1_split_0"


def test_in_place_chain_is_split_after_its_last_writer():
    # conv -> relu (in place) -> two consumers: the split belongs to the last in-place writer.
    out = insert_splits(net(INPUT, L("conv", "Convolution", ["data"], ["conv"]),
                            L("relu", "ReLU", ["conv"], ["conv"]),
                            L("drop", "Dropout", ["conv"], ["conv"]),
                            L("a", bottoms=["conv"]), L("b", bottoms=["conv"])))
    assert [lp.name for lp in out.layer] == ["input", "conv", "relu", "drop", "conv_drop_0_split",
                                             "a", "b"]
    assert list(out.layer[2].bottom) == ["conv"] and list(out.layer[3].bottom) == ["conv"]
    assert list(out.layer[4].top) == ["conv_drop_0_split_0", "conv_drop_0_split_1"]


def test_consumer_before_an_in_place_layer_breaks_the_chain_as_in_caffe():
    # The in-place ReLU takes the second split output, so its top 'conv' is a second producer of
    # 'conv': Caffe stops with "Top blob 'conv' produced by multiple sources", and so do we.
    text = [INPUT, L("conv", "Convolution", ["data"], ["conv"]), L("a", bottoms=["conv"]),
            L("relu", "ReLU", ["conv"], ["conv"])]
    split = insert_splits(net(*text))
    assert list(split.layer[4].bottom) == ["conv_conv_0_split_1"]
    with pytest.raises(NetError, match=r"layer 'relu': top blob 'conv' is already produced"):
        build_graph(net(*text))


def test_loss_weighted_top_that_is_also_consumed():
    out = insert_splits(net(INPUT, L("ip", "InnerProduct", ["data"], extra="loss_weight: 2"),
                            L("a", bottoms=["ip"])))
    ip, split, a = out.layer[1], out.layer[2], out.layer[3]
    assert len(ip.loss_weight) == 0                      # moved onto the split
    assert (split.name, list(split.top)) == ("ip_ip_0_split", ["ip_ip_0_split_0",
                                                               "ip_ip_0_split_1"])
    assert list(split.loss_weight) == [2.0, 0.0]         # the loss rides on the first output
    assert list(a.bottom) == ["ip_ip_0_split_1"]         # consumers start at the second


def test_loss_weight_without_consumer_or_zero_weight_adds_no_split():
    src = net(INPUT, L("ip", "InnerProduct", ["data"], extra="loss_weight: 2"),
              L("ip0", "InnerProduct", ["data"], extra="loss_weight: 0"), L("a", bottoms=["ip0"]))
    out = insert_splits(src)
    assert [lp.name for lp in out.layer] == ["input", "data_input_0_split", "ip", "ip0", "a"]
    assert list(out.layer[2].loss_weight) == [2.0]


def test_no_splits_in_the_original_deploy_net():
    param = read_net(public_input("original", "deploy", "model_1F_CNN+D.prototxt"))
    filtered = filter_net(param, "TEST")
    assert insert_splits(filtered) == filtered


@pytest.mark.parametrize("folder", ZOO + ["deploy_cnnd"])
def test_blob_names_and_order_equal_caffe(folder):
    """Every blob, split outputs included, named and ordered as the real Caffe's net.blobs."""
    base = fixture_path("caffe-reference", "forward", folder)
    graph = build_graph(read_net(base / "net.prototxt"), "TEST")
    with np.load(base / "blobs.npz") as ref:
        assert graph.blob_names == list(ref.files)
    splits = [n.name for n in graph.layers if n.type == "Split"]
    print(f"\n{folder}: {len(graph.blob_names)} blobs, {len(splits)} split layers")


def test_sixteen_consumers_of_one_blob():
    graph = build_graph(read_net(fixture_path("caffe-reference", "forward", "layerzoo_a_act",
                                             "net.prototxt")), "TEST")
    split = graph.layer("x_x_0_split")
    assert split.tops == [f"x_x_0_split_{k}" for k in range(16)]


# ------------------------------------------------------------------------ FilterNet
RULES = [
    L("always", bottoms=["data"]),
    L("train_only", bottoms=["data"], extra="include { phase: TRAIN }"),
    L("not_train", bottoms=["data"], extra="exclude { phase: TRAIN }"),
    L("level1", bottoms=["data"], extra="include { min_level: 1 }"),
    L("upto1", bottoms=["data"], extra="include { max_level: 1 }"),
    L("ab", bottoms=["data"], extra='include { stage: "a" stage: "b" }'),
    L("a_or_test", bottoms=["data"], extra='include { stage: "a" } include { phase: TEST }'),
    L("not_a", bottoms=["data"], extra='include { not_stage: "a" }'),
    L("drop_on_b", bottoms=["data"], extra='exclude { stage: "b" }'),
]


@pytest.mark.parametrize("phase, level, stages, expected", [
    ("TRAIN", 0, (), ["always", "train_only", "upto1", "not_a", "drop_on_b"]),
    ("TEST", 0, (), ["always", "not_train", "upto1", "a_or_test", "not_a", "drop_on_b"]),
    ("TEST", 1, (), ["always", "not_train", "level1", "upto1", "a_or_test", "not_a",
                     "drop_on_b"]),
    ("TEST", 2, (), ["always", "not_train", "level1", "a_or_test", "not_a", "drop_on_b"]),
    ("TRAIN", 0, ("a",), ["always", "train_only", "upto1", "a_or_test", "drop_on_b"]),
    ("TRAIN", 0, ("a", "b"), ["always", "train_only", "upto1", "ab", "a_or_test"]),
    ("TRAIN", 0, ("b",), ["always", "train_only", "upto1", "not_a"]),
])
def test_filter_by_phase_level_stage(phase, level, stages, expected):
    out = filter_net(net(INPUT, *RULES), phase, level, stages)
    assert [lp.name for lp in out.layer] == ["input"] + expected
    assert out.state.phase == pb.Phase.Value(phase) and out.state.level == level
    assert list(out.state.stage) == list(stages)


def test_net_state_stages_are_kept_and_extended():
    src = net(INPUT, *RULES, header='name: "g"\nstate { stage: "a" level: 5 }\n')
    out = filter_net(src, "TRAIN", 0, ("b",))
    assert list(out.state.stage) == ["a", "b"] and out.state.level == 0   # level is replaced
    assert "ab" in [lp.name for lp in out.layer]


def test_include_and_exclude_together_names_the_layer():
    bad = L("both", bottoms=["data"], extra="include { phase: TRAIN } exclude { phase: TEST }")
    with pytest.raises(NetError, match=r"layer 'both'.*both include and exclude") as info:
        filter_net(net(INPUT, bad), "TRAIN")
    assert isinstance(info.value, CaffeCompatError)


# ------------------------------------------------------------------------ connectivity
def test_duplicate_top_not_in_place_names_the_layer():
    with pytest.raises(NetError, match=r"layer 'b': top blob 'a' is already produced"):
        build_graph(net(INPUT, L("a", bottoms=["data"]), L("b", bottoms=["a"], tops=["x", "a"])))


def test_top_equal_to_another_bottom_index_is_not_in_place():
    # In place means top j == bottom j; Eltwise(data, x) -> x is a second producer of x.
    with pytest.raises(NetError, match=r"layer 'e': top blob 'x' is already produced"):
        build_graph(net(INPUT, L("x", bottoms=["data"]), L("y", bottoms=["data"]),
                        L("e", "Eltwise", bottoms=["y", "x"], tops=["x"])))


def test_unknown_bottom_names_layer_blob_and_index():
    with pytest.raises(NetError) as info:
        build_graph(net(INPUT, L("a", "Eltwise", bottoms=["data", "nowhere"])))
    message = str(info.value)
    assert "layer 'a'" in message and "'nowhere'" in message and "bottom index 1" in message


def test_bottom_produced_only_later_is_unknown():
    with pytest.raises(NetError, match=r"layer 'a': unknown bottom blob 'b'"):
        build_graph(net(INPUT, L("a", bottoms=["b"]), L("b", bottoms=["data"])))


def test_propagate_down_count_is_checked():
    with pytest.raises(NetError, match=r"layer 'e': propagate_down must be given 0 or 2 times"):
        build_graph(net(INPUT, L("x", bottoms=["data"]), L("y", bottoms=["data"]),
                        L("e", "Eltwise", ["x", "y"], extra="propagate_down: true")))


def test_outputs_are_unconsumed_blobs_sorted_by_name_blobs_in_production_order():
    graph = build_graph(net(INPUT, L("zeta", bottoms=["data"]),
                            L("mid", "Slice", ["zeta"], ["mid", "alpha"]),
                            L("beta", bottoms=["mid"]), L("beta_inplace", "ReLU", ["beta"],
                                                          ["beta"])))
    assert graph.blob_names == ["data", "zeta", "mid", "alpha", "beta"]
    assert graph.outputs == ["alpha", "beta"]        # std::set order, not production order
    # split blobs count as produced blobs; consumed sources are not outputs
    graph = build_graph(net(INPUT, L("b", bottoms=["data"]), L("a", bottoms=["data"])))
    assert graph.blob_names == ["data", "data_input_0_split_0", "data_input_0_split_1", "b", "a"]
    assert graph.outputs == ["a", "b"]


def test_every_layer_gets_the_net_phase_splits_included():
    graph = build_graph(net(INPUT, L("a", bottoms=["data"]), L("b", bottoms=["data"]),
                            L("c", bottoms=["a"], extra="phase: TRAIN")), "TEST")
    phases = {n.name: n.param.phase for n in graph.layers}
    assert phases == {"input": pb.TEST, "data_input_0_split": pb.TEST, "a": pb.TEST,
                      "b": pb.TEST, "c": pb.TRAIN}   # an explicit phase is kept, as in Caffe
    assert graph.filtered.layer[1].HasField("phase") is False   # the source is not touched
