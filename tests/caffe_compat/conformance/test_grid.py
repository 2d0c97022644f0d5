"""The conformance grid: for each layer type, each engine that claims it, and the type's edge
cases drawn from Caffe's rules, the engine's tops equal the reference's within ``TOL``, or the
engine refuses (its ``Unsupported``: another engine takes the net); what Caffe refuses, every
engine refuses with the reference's words. Field coverage: every field of the type's parameter
message in caffe.proto is honoured, refused or without effect in each engine's declaration."""

import numpy as np
import pytest

from caffe_compat import Net
from caffe_compat.errors import NetError
from caffe_compat.proto import caffe_pb2
from caffe_compat.rules.fields import declared

from .grid import CASES, REFUSED

# float32 sums of at most a few hundred products in another order than the reference's (or
# the same order: the array engine's exact kernels): a few roundings of 6e-8 of the partial
# sums stay below 1e-5 of the output's scale
TOL = 1e-5

# the torch-free path on each of its runtimes: "lite" on the process's default one (OpenCV 5's
# reader where it is installed), and onnxruntime and OpenVINO, which the runtime trial of a
# net that keeps running may choose (caffe_compat.lite.choice)
LITE_RUNTIMES = {"lite": None, "lite-onnxruntime": "onnxruntime", "lite-openvino": "openvino"}
# "torch-inference": the torch engine's output-only forward (no autograd, blobs dropped
# after their last use: the fused inference path, caffe_compat.inference), which cv2.dnn's
# torch path and Net.forward under no_grad take
ENGINES = ("array", *LITE_RUNTIMES, "pytorch-source", "torch-inference")
CLAIMS = {"array": {"Convolution", "Pooling", "InnerProduct", "LRN", "PReLU", "Slice",
                    "BatchNorm", "Scale", "Bias", "Eltwise"},
          "lite": {"Convolution", "Deconvolution", "Pooling", "InnerProduct", "LRN", "PReLU",
                   "Slice", "BatchNorm", "Scale", "Bias", "Eltwise"},
          "pytorch-source": {"Convolution", "Deconvolution", "Pooling", "InnerProduct", "LRN",
                             "PReLU", "Slice", "BatchNorm", "Scale", "Bias", "Eltwise"}}
for _name in LITE_RUNTIMES:
    CLAIMS[_name] = CLAIMS["lite"]
CLAIMS["torch-inference"] = set()          # every type: filled below from the grid's cases
MESSAGES = {"Convolution": "ConvolutionParameter", "Deconvolution": "ConvolutionParameter",
            "Pooling": "PoolingParameter", "InnerProduct": "InnerProductParameter",
            "LRN": "LRNParameter", "PReLU": "PReLUParameter", "Slice": "SliceParameter",
            "BatchNorm": "BatchNormParameter", "Scale": "ScaleParameter",
            "Bias": "BiasParameter", "Eltwise": "EltwiseParameter"}


# the element-wise and shape layers of grid_neuron.py; AbsVal, BNLL and ReLU6 have no
# parameter message (nothing to declare)
NEURON_TYPES = {"Sigmoid", "TanH", "AbsVal", "BNLL", "ReLU6", "ELU", "Power", "Exp", "Log",
                "Threshold", "Clip", "Reshape", "Crop", "Permute", "Tile", "Reduction", "MVN",
                "ShuffleChannel"}
NO_MESSAGE = {"AbsVal", "BNLL", "ReLU6"}
CLAIMS["array"] |= NEURON_TYPES | {"Deconvolution"}
CLAIMS["lite"] |= NEURON_TYPES
CLAIMS["pytorch-source"] |= NEURON_TYPES
MESSAGES.update({t: f"{t}Parameter" for t in NEURON_TYPES - NO_MESSAGE})


def _scaled(a, b):
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(np.asarray(a, np.float64) - b).max()) / scale


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Each case's reference, computed once for every engine's column of it."""
    made = {}

    def reference(case):
        if case not in made:
            made[case] = _reference(CASES[case][1], tmp_path_factory.mktemp("grid"))
        return made[case]
    return reference


def _reference(text, tmp_path, seed=7):
    net = Net(text, phase="test", seed=seed)
    rng = np.random.default_rng(seed)
    feed = {name: rng.normal(0, 1, tuple(net.blob_shape(name))).astype(np.float32)
            for name in net.inputs}
    tops = [t for t in net.outputs]
    out = net.forward(blobs=tops, **feed)
    want = {t: out[t].detach().numpy().astype(np.float32) for t in tops}
    model = tmp_path / "grid.caffemodel"
    net.save(str(model))
    return net, feed, want, model


class Refused(Exception):
    """The engine handed the net to another engine (its Unsupported)."""


def _run_array(text, feed, model, tmp_path):
    from caffe_compat.array_net.net import ArrayNet
    from caffe_compat.net.graph import build_graph
    from caffe_compat.array_net.registry import Unsupported
    from caffe_compat.io.prototxt import parse_net
    from caffe_compat.kernels import caffe_products
    if not caffe_products.available():
        raise Refused("the compiled kernel is not built")
    try:
        arrays = ArrayNet(build_graph(parse_net(text), "TEST", 0, []))
    except Unsupported as exc:
        raise Refused(str(exc)) from exc
    arrays.copy_from(str(model))
    for name, value in feed.items():
        arrays.reshape_blob(name, value.shape)
        arrays.data[name][...] = value
    arrays.forward()
    return {t: arrays.data[t] for t in arrays.outputs} if hasattr(arrays, "outputs") else \
        {t: arrays.data[t] for t in arrays.data if t not in feed}


def _run_lite(text, feed, model, tmp_path, runtime=None):
    import importlib.util
    import os

    from caffe_compat import dnn
    from caffe_compat.lite.runtime import ENV_RUNTIME
    from tests.caffe_compat.lite.helpers import lite_mode
    if runtime is not None and importlib.util.find_spec(runtime) is None:
        pytest.skip(f"{runtime} is not installed")
    saved = os.environ.get(ENV_RUNTIME)
    if runtime is not None:
        os.environ[ENV_RUNTIME] = runtime
    try:
        return _run_lite_net(text, feed, model, dnn, lite_mode)
    finally:
        if saved is None:
            os.environ.pop(ENV_RUNTIME, None)
        else:
            os.environ[ENV_RUNTIME] = saved


def _run_lite_net(text, feed, model, dnn, lite_mode):
    with lite_mode("on"):
        net = dnn.readNetFromCaffe(bufferProto=text.encode(), bufferModel=model.read_bytes())
        for name, value in feed.items():
            net.setInput(value, name)
        layers = [net._layers[k - 1] for k in net.getUnconnectedOutLayers()]
        # every output of each output layer (a Split's second top as well), OpenCV's call
        got = net.forwardAndRetrieve([layer["name"] for layer in layers])
        if net._lite is None:
            raise Refused("the torch path ran the net")
    # an in-place top is named ``top#layer`` (the importer's own blob for it): the top's name
    return {t.split("#")[0]: v for layer, values in zip(layers, got)
            for t, v in zip(layer["tops"], values)}


def _run_pytorch_source(text, feed, model, tmp_path):
    """The written ``model.py`` imported here and run on the same inputs (the export's own
    check in a process without this package is tests/caffe_compat/export/pytorch/'s)."""
    pytest.importorskip("safetensors")
    import importlib.util

    import torch
    from caffe_compat.export import export_pytorch
    net = Net(text, weights=str(model), phase="test")
    try:
        export_pytorch(net, tmp_path / "src", check=False)
    except NetError as exc:
        raise Refused(str(exc)) from exc
    spec = importlib.util.spec_from_file_location(f"grid_model_{id(tmp_path)}",
                                                  tmp_path / "src" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.load(str(tmp_path / "src"))
    with torch.no_grad():
        out = written(*[torch.from_numpy(feed[name]) for name in written.input_names])
    return {k: v.contiguous().numpy() for k, v in out.items()}


def _run_torch_inference(text, feed, model, tmp_path):
    import torch
    net = Net(text, weights=str(model), phase="test")
    with torch.inference_mode():
        out = net._forward_layers(blobs=list(net.outputs), keep_blobs=False,
                                  **{k: torch.from_numpy(v) for k, v in feed.items()})
    return {t: out[t].numpy() for t in net.outputs}


RUN = {"array": _run_array, "pytorch-source": _run_pytorch_source,
       "torch-inference": _run_torch_inference,
       **{name: (lambda *a, runtime=runtime: _run_lite(*a, runtime=runtime))
          for name, runtime in LITE_RUNTIMES.items()}}


CLAIMS["torch-inference"] |= {type_name for type_name, _ in CASES.values()}


def _grid():
    for case, (type_name, _) in sorted(CASES.items()):
        for engine in ENGINES:
            if type_name in CLAIMS[engine]:
                yield pytest.param(case, engine, id=f"{engine}: {case}")


@pytest.mark.parametrize("case, engine", list(_grid()))
def test_engine_equals_the_reference_or_refuses(case, engine, tmp_path, references):
    _, text = CASES[case]
    net, feed, want, model = references(case)
    try:
        got = RUN[engine](text, feed, model, tmp_path)
    except Refused as exc:
        # another engine takes the net: what a user runs is the reference's forward
        assert str(exc), "a refusal says why"
        return
    for top, value in want.items():
        assert top in got, (top, sorted(got))
        assert tuple(got[top].shape) == value.shape, top
        assert _scaled(got[top], value) <= TOL, top


def _refusal_grid():
    for case in sorted(REFUSED):
        for engine in ("array", "lite"):
            yield pytest.param(case, engine, id=f"{engine}: {case}")


@pytest.mark.parametrize("case, engine", list(_refusal_grid()))
def test_what_caffe_refuses_every_engine_refuses_in_the_same_words(case, engine, tmp_path):
    text = REFUSED[case]
    with pytest.raises(NetError) as ref:
        Net(text, phase="test")
    words = str(ref.value)
    words = words[words.index("layer '"):]            # the reference adds the file position
    if engine == "array":
        from caffe_compat.array_net.net import ArrayNet
        from caffe_compat.net.graph import build_graph
        from caffe_compat.array_net.registry import Unsupported
        from caffe_compat.io.prototxt import parse_net
        try:
            ArrayNet(build_graph(parse_net(text), "TEST", 0, []))
        except Unsupported:
            return          # refused before the rule was read: the torch engine reports it
        except NetError as exc:
            assert words in str(exc)
            return
        pytest.fail("the array engine accepted what Caffe refuses")
    from caffe_compat import dnn
    from tests.caffe_compat.lite.helpers import lite_mode
    with lite_mode("on"), pytest.raises(NetError) as got:
        dnn.readNetFromCaffe(bufferProto=text.encode())
    assert words in str(got.value)


def _engine_modules():
    import caffe_compat.array_net.layers  # noqa: F401
    import caffe_compat.array_net.layers.convolution  # noqa: F401
    import caffe_compat.array_net.layers.inner_product  # noqa: F401
    import caffe_compat.array_net.layers.lrn  # noqa: F401
    import caffe_compat.array_net.layers.pooling  # noqa: F401
    import caffe_compat.export.pytorch.emitters.conv  # noqa: F401
    import caffe_compat.export.pytorch.emitters.elementwise  # noqa: F401
    import caffe_compat.export.pytorch.emitters.misc  # noqa: F401
    import caffe_compat.export.pytorch.emitters.neuron  # noqa: F401
    import caffe_compat.export.pytorch.emitters.normalization  # noqa: F401
    import caffe_compat.export.pytorch.emitters.pooling  # noqa: F401
    import caffe_compat.layers  # noqa: F401
    import caffe_compat.export.pytorch.emitters  # noqa: F401
    import caffe_compat.lite.converters  # noqa: F401
    from caffe_compat.lite.converters._common import load_all
    load_all()
    import caffe_compat.lite.converters.convolution  # noqa: F401
    import caffe_compat.lite.converters.deconvolution  # noqa: F401
    import caffe_compat.lite.converters.inner_product  # noqa: F401
    import caffe_compat.lite.converters.lrn  # noqa: F401
    import caffe_compat.lite.converters.pooling  # noqa: F401


# the torch-free path's fields are its converters' whatever the runtime: "lite" once
@pytest.mark.parametrize("engine", ("torch",) + tuple(
    e for e in ENGINES if LITE_RUNTIMES.get(e) is None and e != "torch-inference"))
def test_every_field_is_decided_by_every_engine_claiming_the_type(engine):
    _engine_modules()
    table = declared()
    claims = CLAIMS.get(engine, set(MESSAGES))
    for type_name in sorted(claims - NO_MESSAGE):
        use = table.get((engine, type_name))
        assert use is not None, f"{engine} claims {type_name} without declaring its fields"
        message = getattr(caffe_pb2, use.message)
        assert use.message == MESSAGES[type_name]
        names = [f.name for f in message.DESCRIPTOR.fields]
        assert not use.undecided(names), (engine, type_name, sorted(use.undecided(names)))
        assert not (use.honours - set(names)), "a declared field not in caffe.proto"


def test_the_array_engine_refuses_what_it_declares_refused(tmp_path):
    """``force_nd_im2col`` and a gaussian filler (declared refused) leave the net to torch."""
    from caffe_compat.array_net import build_array_net
    from caffe_compat.io.prototxt import parse_net
    from .grid import conv
    for params in ("num_output: 2 kernel_size: 3 force_nd_im2col: true",):
        assert build_array_net(parse_net(conv(params, (1, 2, 6, 6))), "TEST") is None
    gauss = conv("num_output: 2 kernel_size: 3", (1, 2, 6, 6)).replace(
        'type: "uniform" min: -0.5 max: 0.5', 'type: "gaussian" std: 0.1', 1)
    assert build_array_net(parse_net(gauss), "TEST") is None
