"""One count of in-place writes for the weights of a net built with ``engine=``
(caffe_compat.net.write_count): every weight keeps its identity and values, a write to any of
them moves the one count, a weight moved out of the shared tensor is counted on its own, and a
forward on the engine after an in-place write runs the written weights."""
import copy
import pickle

import numpy as np
import pytest
import torch

from caffe_compat import Net
from caffe_compat.net import write_count
from caffe_compat.proto import caffe_pb2
from tests.caffe_compat.dnn import nets, zoo_nets

# float32 engines against our forward: the order of the sums (as the engines' trust check)
TOL = 1e-4


def _files(tmp_path, builder=lambda: zoo_nets.mobilenet_v2(1, 32, 0.25)):
    text, blobs = builder()
    proto, model = tmp_path / "n.prototxt", tmp_path / "n.caffemodel"
    proto.write_text(text)
    model.write_bytes(nets.caffemodel_bytes(text, blobs, seed=0))
    return str(proto), str(model)


def _count(net):
    return sum(t._version for t in write_count.watched(net, net.caffe_state_dict().values()))


def test_weights_keep_identity_and_values(tmp_path):
    proto, model = _files(tmp_path)
    plain = Net(proto, model, phase="test")
    net = Net(proto, model, phase="test", engine="auto")
    for (k, a), (_, b) in zip(plain.caffe_state_dict().items(), net.caffe_state_dict().items()):
        assert torch.equal(a, b), k
    watched = write_count.watched(net, net.caffe_state_dict().values())
    assert len(watched) == 1 and len(net.caffe_state_dict()) > 1     # one count for them all
    assert len(write_count.watched(plain, plain.caffe_state_dict().values())) == \
        len(plain.caffe_state_dict())            # a net without an engine: one per tensor
    first = net.params["conv1"][0]
    assert first is net.layer("conv1").weight and first.is_leaf and first.requires_grad


def test_a_write_to_any_weight_moves_the_count(tmp_path):
    proto, model = _files(tmp_path)
    net = Net(proto, model, phase="test", engine="auto")
    for name, blobs in net.params.items():
        for b in blobs:
            before = _count(net)
            with torch.no_grad():
                b.mul_(1.0)
            assert _count(net) == before + 1, name


def test_moved_and_copied_weights_are_counted_alone(tmp_path):
    proto, model = _files(tmp_path)
    net = Net(proto, model, phase="test", engine="auto")
    w = net.params["conv1"][0]
    w.data = w.detach().clone()              # out of the shared tensor
    watched = write_count.watched(net, net.caffe_state_dict().values())
    assert len(watched) == 2
    before = _count(net)
    with torch.no_grad():
        w.add_(1.0)
    # (> not ==: torch's .data assignment keeps a tensor's count, still the shared one too)
    assert _count(net) > before
    # a copy's or an unpickled net's weights are its own tensors: each counted alone
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        state = other.caffe_state_dict()
        assert len(write_count.watched(other, state.values())) == len(state)


def test_nets_whose_forward_writes_blobs_count_each_tensor(tmp_path):
    proto, model = _files(tmp_path)
    text = open(proto).read()
    param = caffe_pb2.NetParameter()
    from google.protobuf import text_format
    text_format.Parse(text, param)
    for layer in param.layer:
        if layer.type == "BatchNorm":
            layer.batch_norm_param.use_global_stats = False
    net = Net(param, model, phase="test", engine="auto")
    state = net.caffe_state_dict()
    assert len(write_count.watched(net, state.values())) == len(state)


def test_a_gathered_net_still_trains(tmp_path):
    proto, model = _files(tmp_path)
    net = Net(proto, model, phase="test", engine="auto")
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32))
                         .astype(np.float32))
    out = net.forward(data=x)[net.outputs[0]]
    out.sum().backward()
    w = net.params["conv1"][0]
    assert w.grad is not None and w.grad.abs().sum() > 0
    torch.optim.SGD(net.parameters(), lr=0.1).step()


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_an_engine_forward_after_an_in_place_write_runs_the_written_weights(tmp_path, engine):
    from caffe_compat.inference.engines import installed_engines
    if engine not in installed_engines():
        pytest.skip(f"{engine} is not installed")
    proto, model = _files(tmp_path)
    net = Net(proto, model, phase="test", engine=engine)
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (1, 3, 32, 32))
                         .astype(np.float32))

    def both():
        with torch.inference_mode():
            fast = net.forward(keep_blobs=False, data=x)[net.outputs[0]]
            ours = net.forward(data=x)[net.outputs[0]]
        return fast.clone(), ours.clone()
    before, _ = both()
    with torch.no_grad():
        net.params["conv1"][0].mul_(-1.5)        # an in-place write after the export
    after, ours = both()
    assert (after - ours).abs().max() <= TOL * max(1.0, ours.abs().max())
    assert (after - before).abs().max() > 1e-3


def test_nets_with_a_python_layer_count_each_tensor():
    # a Python layer's forward may write its blobs (through numpy or torch)
    bottoms = ["data"] + [f"c{k}" for k in range(write_count.MIN_TENSORS)]
    convs = "".join(f"""layer {{ type: 'Convolution' name: 'c{k}' bottom: '{bottoms[k]}'
  top: 'c{k}' convolution_param {{ num_output: 3 kernel_size: 1 }} }}
""" for k in range(write_count.MIN_TENSORS))
    text = """name: 'p'
layer { type: 'Python' name: 'data' top: 'data' top: 'label'
  python_param { module: 'tests.pycaffe.pylayers' layer: 'GaussianData' param_str: '1' } }
""" + convs
    net = Net(text, phase="test", engine="auto")
    state = net.caffe_state_dict()
    assert len(state) >= write_count.MIN_TENSORS
    assert len(write_count.watched(net, state.values())) == len(state)
    # the same layers fed by an Input share one count
    plain = Net(text.replace("""layer { type: 'Python' name: 'data' top: 'data' top: 'label'
  python_param { module: 'tests.pycaffe.pylayers' layer: 'GaussianData' param_str: '1' } }""",
        "input: 'data' input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }"), phase="test", engine="auto")
    assert len(write_count.watched(plain, plain.caffe_state_dict().values())) == 1


def test_nets_of_few_tensors_count_each_tensor(tmp_path):
    proto, model = _files(tmp_path, lambda: zoo_nets.squeezenet11(1, 35, 0.25))
    net = Net(proto, model, phase="test", engine="auto")
    state = net.caffe_state_dict()
    assert len(state) < write_count.MIN_TENSORS       # (52: each count costs a forward little)
    assert len(write_count.watched(net, state.values())) == len(state)
