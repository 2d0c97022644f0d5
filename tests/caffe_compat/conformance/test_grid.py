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

from .grid import CASES, FEEDS, REFUSED

# float32 sums of at most a few hundred products in another order than the reference's (or
# the same order: the array engine's exact kernels): a few roundings of 6e-8 of the partial
# sums stay below 1e-5 of the output's scale
TOL = 1e-5

# the torch-free path on each of its runtimes: "lite" on the process's default one (OpenCV 5's
# reader where it is installed), and onnxruntime and OpenVINO, which the runtime trial of a
# net that keeps running may choose (caffe_compat.onnx_path.choice)
LITE_RUNTIMES = {"lite": None, "lite-onnxruntime": "onnxruntime", "lite-openvino": "openvino"}
# "torch-inference": the torch engine's output-only forward (no autograd, blobs dropped
# after their last use: the inference plan, caffe_compat.inference.fast_inference), which
# cv2.dnn's torch path and Net.forward under no_grad take; "torch-inference-cuda-row": the same
# plan with the calls of its CUDA row (fast_inference.ROWS), run here on CPU tensors
# "onnx-export": caffe_compat.export.export_onnx's file (the batch axis free) run by onnxruntime
ENGINES = ("array", *LITE_RUNTIMES, "onnx-export", "pytorch-source", "torch-inference",
           "torch-inference-cuda-row")


def _claims(engine):
    """The types ``engine`` registers in the one registry (the torch-free path: its ONNX
    converters and its numpy steps)."""
    from caffe_compat.rules import registry
    names = ("lite", "lite-host") if engine == "lite" else (engine,)
    return {t for e in names for t in registry.types(e)}


CLAIMS = {engine: _claims(engine) for engine in ("array", "lite", "pytorch-source")}
CLAIMS["onnx-export"] = _claims("onnx")
for _name in LITE_RUNTIMES:
    CLAIMS[_name] = CLAIMS["lite"]
CLAIMS["torch-inference"] = set()          # every type: filled below from the grid's cases


def _scaled(a, b):
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(np.asarray(a, np.float64) - b).max()) / scale


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Each case's reference, computed once for every engine's column of it."""
    made = {}

    def reference(case):
        if case not in made:
            made[case] = _reference(CASES[case][1], tmp_path_factory.mktemp("grid"),
                                    feed=FEEDS.get(case))
        return made[case]
    return reference


def _reference(text, tmp_path, seed=7, feed=None):
    """(net, inputs, outputs, weights file): every input drawn normal(0, 1), or by ``feed(rng,
    shapes)`` (:data:`grid.FEEDS`: indices, ROIs, sequence flags, ...)."""
    net = Net(text, phase="test", seed=seed)
    rng = np.random.default_rng(seed)
    shapes = {name: tuple(net.blob_shape(name)) for name in net.inputs}
    feed = feed(rng, shapes) if feed is not None else \
        {name: rng.normal(0, 1, shape).astype(np.float32) for name, shape in shapes.items()}
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
    from caffe_compat.onnx_path.runtime import ENV_RUNTIME
    from tests.caffe_compat.onnx_path.helpers import lite_mode
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
        if net._torch_free is None:
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


def _run_onnx_export(text, feed, model, tmp_path):
    """The exported file (every output of the net, batch axis free) run by onnxruntime on the
    same inputs (the deploy batch)."""
    ort = pytest.importorskip("onnxruntime")
    from caffe_compat.export import export_onnx
    net = Net(text, weights=str(model), phase="test")
    path = tmp_path / "grid.onnx"
    try:
        export_onnx(net, path, outputs=list(net.outputs))
    except NetError as exc:
        raise Refused(str(exc)) from exc
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    # the graph's outputs in the order asked for (an output of an input's name is renamed)
    return dict(zip(net.outputs, session.run(None, {n: feed[n] for n in names})))


def _run_torch_inference(text, feed, model, tmp_path, row=None):
    import torch
    from caffe_compat.inference import fast_inference
    net = Net(text, weights=str(model), phase="test")
    saved, fast_inference.ROW = fast_inference.ROW, row
    try:
        with torch.inference_mode():
            out = net._forward_layers(blobs=list(net.outputs), keep_blobs=False,
                                      **{k: torch.from_numpy(v) for k, v in feed.items()})
    finally:
        fast_inference.ROW = saved
    return {t: out[t].numpy() for t in net.outputs}


RUN = {"array": _run_array, "pytorch-source": _run_pytorch_source,
       "onnx-export": _run_onnx_export,
       "torch-inference": _run_torch_inference,
       "torch-inference-cuda-row": lambda *a: _run_torch_inference(*a, row="cuda"),
       **{name: (lambda *a, runtime=runtime: _run_lite(*a, runtime=runtime))
          for name, runtime in LITE_RUNTIMES.items()}}


CLAIMS["torch-inference"] |= {type_name for type_name, _ in CASES.values()}
CLAIMS["torch-inference-cuda-row"] = CLAIMS["torch-inference"]


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
    from caffe_compat.io.prototxt import parse_net
    from tests.caffe_compat.onnx_path.helpers import lite_mode
    with lite_mode("on"):       # read (the declared shapes may be a placeholder), then run
        net = dnn.readNetFromCaffe(bufferProto=text.encode())
        for lp in parse_net(text).layer:
            for top, shape in zip(lp.top, lp.input_param.shape if lp.type == "Input" else ()):
                net.setInput(np.zeros(tuple(shape.dim), np.float32), top)
        with pytest.raises(NetError) as got:
            net.forward()
    assert words in str(got.value)


def _engine_modules():
    """Every engine's modules, through the registry (their declarations with them)."""
    from caffe_compat.rules import registry
    for engine in registry.ENGINES:
        registry.load(engine)


# the parameter message of each layer type that has one: ``<Type>Parameter`` unless named
# here (types that read another type's message); types without a message of their own
# (AbsVal, BNLL, ReLU6, Split, Silence, ...) have nothing to declare
OTHER_MESSAGE = {"Deconvolution": "ConvolutionParameter",
                 "ConvolutionDepthwise": "ConvolutionParameter",
                 "Im2col": "ConvolutionParameter", "Normalize": "NormalizeBBoxParameter",
                 "PriorBoxClustered": "PriorBoxParameter", "LSTM": "RecurrentParameter",
                 "RNN": "RecurrentParameter", "SoftmaxWithLoss": "SoftmaxParameter"}


def message_of(type_name):
    """The name of ``type_name``'s parameter message in caffe.proto, or None."""
    name = OTHER_MESSAGE.get(type_name, f"{type_name}Parameter")
    return name if hasattr(caffe_pb2, name) and name.endswith("Parameter") else None


def _registry_claims(engine):
    """The types ``engine`` registers in the one registry that have a parameter message (the
    torch-free path: its ONNX converters and its numpy steps)."""
    _engine_modules()
    return sorted(t for t in _claims(engine) if message_of(t))


# every engine of the registry (the torch-free path's two tables as one: its fields are its
# converters' whatever the runtime)
@pytest.mark.parametrize("engine", ("torch", "array", "array-loop", "fast", "lite", "onnx",
                                    "pytorch-source"))
def test_every_field_is_decided_by_every_engine_claiming_the_type(engine):
    claims = _registry_claims(engine)          # (imports the engines' modules first)
    table = declared()
    undecided = {}
    for type_name in claims:
        use = table.get((engine, type_name))
        if use is None:
            undecided[type_name] = "no declaration"
            continue
        message = getattr(caffe_pb2, use.message)
        assert use.message == message_of(type_name), (type_name, use.message)
        names = [f.name for f in message.DESCRIPTOR.fields]
        assert not (use.honours - set(names)), ("a declared field not in caffe.proto",
                                                type_name)
        if use.undecided(names):
            undecided[type_name] = sorted(use.undecided(names))
    assert not undecided, (engine, undecided)


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
