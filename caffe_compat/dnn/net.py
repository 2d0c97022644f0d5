"""``caffe_compat.dnn.Net``: the methods of OpenCV's ``cv2.dnn.Net`` that programs call on a
Caffe model, on caffe_compat's engine, with OpenCV 4's rules (checked against OpenCV 4.14):

* layers are the prototxt's layers (after the TEST-phase filter) except ``Input`` layers,
  which become the net's inputs; ids count from 1 (0 is the input layer ``_input``); a name
  used twice gets ``_1``, ``_2``, ... as OpenCV's importer does;
* ``forward(name)`` returns the first output of the layer of that name; an in-place layer's
  name gives the blob after that layer (``forward("conv1")`` is the convolution's output even
  when ``relu1`` rewrites it in place); ``forward()`` returns the last layer's output;
* ``setInput(blob, name, scalefactor, mean)`` feeds ``(blob - mean[c]) * scalefactor`` per
  channel, in float32;
* outputs are float32 arrays of Caffe's shapes; ``getLayer(...).blobs`` are shaped as OpenCV
  holds them (a 1-D blob of n values as n x 1, an InnerProduct bias as 1 x n);
* ``getUnconnectedOutLayers`` lists the layers none of whose outputs another layer reads;
* ``getPerfProfile`` returns (total ticks, per-layer ticks) of the last forward, in units of
  ``cv2.getTickFrequency()`` (per-layer times of torch forwards only; zeros for an engine's).

Every input shape seen gets its own engine net (as OpenCV reshapes on a new input); the last
two are kept. The engine (:mod:`caffe_compat.inference.engines`): ``DNN_BACKEND_DEFAULT`` the
fastest trusted engine for the net, outputs and input shape, and so does
``DNN_BACKEND_OPENCV`` (in OpenCV 4's builds without the Inference Engine the default backend
is OpenCV's own: the line tutorials write changes nothing); ``DNN_BACKEND_INFERENCE_ENGINE``
OpenVINO (checked like any other; the torch
forward with a warning where it fails). ``$CAFFE_COMPAT_ENGINE`` overrides the backend's
engine; ``DNN_TARGET_CUDA`` runs on torch. Methods of ``cv2.dnn.Net`` not provided here raise
:class:`UnsupportedError` naming the method."""
from __future__ import annotations

import collections
import os
import time
import warnings

import numpy as np

from ..diagnostics.stack import caller_stacklevel
from ..errors import NetError, WeightsError
from . import python_layers
from .importer import (in_place_free, opencv_layers, renamed_repeats, split_inputs,
                       unique_names)
from .input_fit import InputFitMixin
from .layer import Layer, opencv_blob_shape
from .net_extras import NetExtrasMixin
from .positions import PositionsMixin
from .route import ENGINE_ENV, Route, engine_asked
from .precision import PrecisionMixin
from .light_read import LightMixin
from .torch_free import TorchFreeMixin

from .constants import (BACKEND_NAMES as _BACKENDS, TARGET_NAMES as _TARGETS,
                        DNN_BACKEND_CUDA, DNN_BACKEND_DEFAULT, DNN_BACKEND_INFERENCE_ENGINE,
                        DNN_BACKEND_OPENCV, DNN_TARGET_CPU, DNN_TARGET_CPU_FP16, DNN_TARGET_CUDA,
                        DNN_TARGET_CUDA_FP16, DNN_TARGET_OPENCL, DNN_TARGET_OPENCL_FP16)

_CPU_BACKENDS = {DNN_BACKEND_DEFAULT, DNN_BACKEND_OPENCV, DNN_BACKEND_CUDA,
                 DNN_BACKEND_INFERENCE_ENGINE}
# each backend's engine (caffe_compat.inference.engines; None: the torch forward, no runner)
_BACKEND_ENGINES = {DNN_BACKEND_DEFAULT: "auto",
                    DNN_BACKEND_CUDA: None, DNN_BACKEND_INFERENCE_ENGINE: "openvino"}
# targets OpenCV itself runs on the CPU when their device is missing (with a warning)
_FALLBACK_TARGETS = {DNN_TARGET_OPENCL, DNN_TARGET_OPENCL_FP16, DNN_TARGET_CPU_FP16}

# cv2.dnn.Net methods that caffe_compat.dnn does not provide (looking one up raises
# UnsupportedMethodError, an AttributeError: ``hasattr`` answers False)
UNSUPPORTED_METHODS = (
    "addLayer", "addLayerToPrev", "connect", "dumpToPbtxt",
    "getLayerShapes", "getLayerInputs",
    "setHalideScheduler", "setParam_", "readFromModelOptimizer", "registerOutput",
    "setPreferableBackend_",
    "enableKVCache", "disableKVCache", "resetKVCache", "finalizeNet", "getModelFormat",
    "setTracingMode", "getTracingMode", "setProfilingMode", "getProfilingMode",
    "printPerfProfile")

_KEEP_NETS = 2
# layer types whose last blob is a bias OpenCV runs without when Layer.blobs omits it
_BIAS_LAST = {"Convolution", "Deconvolution", "InnerProduct", "Scale"}


class UnsupportedError(NetError, NotImplementedError):
    """A cv2.dnn call or setting that caffe_compat.dnn does not provide."""


class UnsupportedMethodError(UnsupportedError, AttributeError):
    """A cv2.dnn.Net method not provided, looked up: an AttributeError too, so ``hasattr``
    answers False, as for a method a cv2 build lacks."""


def _tick_frequency():
    try:
        import cv2
        return float(cv2.getTickFrequency())
    except ImportError:             # pragma: no cover - cv2 is a dependency
        return 1e9


class Net(NetExtrasMixin, TorchFreeMixin, PositionsMixin, LightMixin, PrecisionMixin,
          InputFitMixin):
    """A Caffe net behind cv2.dnn.Net's methods (see the module docstring). Built by
    :func:`caffe_compat.dnn.readNetFromCaffe`; ``Net()`` is an empty net, as cv2.dnn.Net()."""
    _unsupported = UnsupportedError         # what the mixins raise for a call not provided

    def __init__(self, param=None, weights=None, source="<net>", open_inputs=(), values=None,
                 *, tables_only=False, weights_source=None):
        self._init_state(source, weights_source)
        if param is None:
            self._param, self._layers, self._inputs = None, [], []
            return
        from ..net.graph import filter_net
        from ..proto import caffe_pb2
        filtered = filter_net(param, "TEST", source=source)
        # inputs declared by 'input:' fields without a shape (the upgrade drops them; with a
        # shape it made them an Input layer)
        del filtered.input[:]
        del filtered.input_shape[:]
        del filtered.input_dim[:]
        inputs_kept = caffe_pb2.NetParameter()
        inputs_kept.CopyFrom(filtered)
        del inputs_kept.layer[:]
        self._inputs, self._input_shapes, body, body_at, inputs_at = split_inputs(
            filtered.layer, open_inputs)
        names = unique_names(body)
        for lp, name in zip(body, names):
            new = inputs_kept.layer.add()
            new.CopyFrom(lp)
            new.name = name                                  # OpenCV's names for repeats
        # each layer's file:line:column, for the engine nets' errors: worked out when first
        # needed (:meth:`_layer_positions`)
        self._located = (filtered, body_at, names, inputs_at)
        self._weights = renamed_repeats(weights)
        self._values = values       # the blob values, kept apart until the torch path needs them
        self._param, _ = in_place_free(inputs_kept)
        self._layers = opencv_layers(inputs_kept, self._param)
        self._index_layers()
        if tables_only:                 # the protobuf side of a net read by the light reader
            return
        if python_layers.any_registered(self._param):
            self._full_weights()
        self._python_layers = python_layers.make_instances(self._param, self._weights)
        self._torch_free = self._lite_net()
        if self._torch_free is None and None not in self._declared_shapes() \
                and not self._python_layers:  # OpenCV asks their shapes at the shapes fed only
            try:
                self._engine(self._declared_shapes())
            except (NetError, WeightsError) as e:
                # the declared shapes may be a placeholder (OpenPose's 1x3x1x1): as in OpenCV
                # the shapes fed decide, and a forward at these raises it; an unknown type now
                if isinstance(e, Warning) or getattr(e, "field", None) == "type":
                    raise

    def _init_state(self, source, weights_source=None):
        self._source = source
        self._nets = collections.OrderedDict()   # input shapes -> engine Net
        self._runners = {}                       # (input shapes, blobs) -> EngineRunner
        self._fed = {}
        self._input_shapes = {}
        self._timings = None
        self._device = "cpu"                     # torch's device type (torch imported on use)
        self._torch_free = None           # the torch-free forwards (caffe_compat.onnx_path)
        self._values = None                      # caffemodel values not yet in the message
        self._backend, self._target = DNN_BACKEND_DEFAULT, DNN_TARGET_CPU
        # $CAFFE_COMPAT_ENGINE, read when the net is read (as the runtimes read their own
        # settings: the person running the program sets it; .route)
        self._engine_asked = engine_asked()
        self._state = None
        self._python_layers = {}                 # engine layer name -> registered class's
        self._input_aliases = {}                 # setInputsNames: given name -> own name
        self._set_shapes = {}                    # (engine layer, blob index) -> shape given
        # the caffemodel's path (or <bufferModel>), named in weights messages
        self._located, self._positions, self._weights_source = None, ([], None), weights_source

    def _index_layers(self):
        self._ids = {}
        for k, layer in enumerate(self._layers, start=1):
            self._ids.setdefault(layer["name"], k)
        self._consumed = self._find_consumed()

    # ------------------------------------------------------------------ building
    def _find_consumed(self):
        """Ids of layers an output of which another layer reads (OpenCV's requiredOutputs),
        by OpenCV's rule: a bottom is the latest top of that name so far."""
        latest, consumed = {name: 0 for name in self._inputs}, set()
        for k, layer in enumerate(self._layers, start=1):
            for b in layer["bottoms"]:
                if b in latest:
                    consumed.add(latest[b])
            for t in layer["raw_tops"]:
                latest[t] = k
        return consumed

    def _declared_shapes(self):
        return tuple(self._input_shapes.get(n) for n in self._inputs)

    def _engine(self, shapes):
        """The engine net for these input shapes (built and cached as needed)."""
        from ..net.core import Net as EngineNet
        net = self._nets.get(shapes)
        if net is not None:
            self._nets.move_to_end(shapes)
            return net
        missing = [n for n, s in zip(self._inputs, shapes) if s is None]
        if missing:
            raise NetError(f"{self._source}: input(s) {missing} have no shape; feed them with "
                           "setInput (or give their shape with setInputShape) first")
        from ..proto import caffe_pb2
        param = caffe_pb2.NetParameter()
        if self._inputs:                # the inputs' layer first, then the definition's
            lp = param.layer.add(name="_input", type="Input")
            for name, shape in zip(self._inputs, shapes):
                lp.top.append(name)
                lp.input_param.shape.add().dim.extend(int(d) for d in shape)
        param.MergeFrom(self._param)
        positions, input_position = self._layer_positions()
        from ..diagnostics import locations
        locations.attach(param, locations.NetSource(
            self._source, [input_position] * (len(param.layer) - len(positions)) + positions))
        with python_layers.instances(self._python_layers):
            net = EngineNet(param, phase="test")
        if self._state is None:
            if self._weights is not None:
                self._full_weights()
                try:
                    net.copy_from(self._weights, source=self._weights_source or "<caffemodel>")
                except WeightsError as e:
                    self._blame_input(shapes, e)
                    raise
            self._state = net.caffe_state_dict()
        else:
            self._check_fits(net, shapes)
            net.load_caffe_state_dict(self._state)
        net.to(self._device).eval()
        self._hook(net)
        self._say_fallback()            # the torch path runs the net: now it may be said
        self._nets[shapes] = net
        while len(self._nets) > _KEEP_NETS:
            self._nets.popitem(last=False)
        return net

    def _hook(self, net):
        """Per-layer timings (getPerfProfile) by forward hooks on the engine's layers."""
        clock = time.perf_counter_ns

        def pre(module, args):
            module._dnn_t0 = clock()

        def post(module, args, out):
            if self._timings is not None:
                self._timings[module._dnn_name] += clock() - module._dnn_t0

        for layer in {layer["caffe_name"]: layer for layer in reversed(self._layers)}.values():
            module = net.layer(layer["caffe_name"])
            module._dnn_name = layer["name"]      # a split Convolution: its first layer
            module.register_forward_pre_hook(pre)
            module.register_forward_hook(post)

    def _check(self):
        if not self._layers:            # (empty(), unwrapped: cv2.error's wrapper is not paid)
            raise NetError("the net is empty (cv2.dnn.Net() without a model); read one with "
                           "caffe_compat.dnn.readNetFromCaffe")

    def _layer_index(self, name):
        if isinstance(name, bytes):             # OpenCV's bindings take bytes names too
            name = name.decode("utf-8", "replace")
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            k = int(name)
            if not 1 <= k <= len(self._layers):
                raise NetError(f"{self._source}: layer with requested id={k} not found "
                               f"(ids are 1..{len(self._layers)})")
            return k
        k = self._ids.get(str(name))
        if k is None:
            close = [n for n in self._ids if str(name).lower() in n.lower()][:5]
            raise NetError(f"{self._source}: requested layer \"{name}\" not found"
                           + (f"; similar: {close}" if close else "")
                           + " (forward and getLayer take layer names, as cv2.dnn)")
        return k

    # ------------------------------------------------------------------ cv2.dnn.Net methods
    def empty(self):
        """True for a net without layers (``cv2.dnn.Net()``)."""
        return not self._layers

    def getLayerNames(self):
        """Names of the layers, in order (the input layer excluded), as a tuple."""
        return tuple(layer["name"] for layer in self._layers)

    def getLayerId(self, layer):
        """The id of layer ``layer`` (1-based; 0 is ``_input``), or -1 when there is none."""
        if isinstance(layer, bytes):
            layer = layer.decode("utf-8", "replace")
        return 0 if layer == "_input" else self._ids.get(str(layer), -1)

    def getLayer(self, layerId):
        """The layer of id or name ``layerId`` (0 or ``"_input"``: the input layer); its
        ``blobs`` can be read and assigned (:mod:`caffe_compat.dnn.layer`)."""
        self._check()
        if layerId in (0, "_input") and not isinstance(layerId, bool):
            return Layer(self, 0, "_input", "")
        k = self._layer_index(layerId)
        return Layer(self, k, self._layers[k - 1]["name"], self._layers[k - 1]["class"])

    def _layer_blobs(self, k):
        """Layer ``k``'s parameters, float32 copies in OpenCV's shapes (or the shapes they
        were last set with)."""
        if k == 0:
            return ()
        layer = self._layers[k - 1]
        shapes = next(reversed(self._nets)) if self._nets else self._declared_shapes()
        module = self._engine(shapes).layer(layer["caffe_name"])
        if self._blobs_missing(layer, module):
            return ()
        blobs = []
        for i, p in enumerate(module.blobs):
            a = p.detach().float().cpu().numpy().copy()
            shape = self._set_shapes.get((layer["caffe_name"], i)) or \
                opencv_blob_shape(layer["type"], i, a.shape)
            blobs.append(a.reshape(shape))
        return tuple(blobs)

    def _blobs_missing(self, layer, module):
        """Whether ``layer`` holds no blobs in OpenCV: a net read without a caffemodel has none
        until ``Layer.blobs = ...`` or ``setParam`` gives them (this engine's fillers aside)."""
        return self._weights_source is None and any(
            (layer["caffe_name"], i) not in self._set_shapes for i in range(len(module.blobs)))

    def _set_layer_blobs(self, k, values):
        """``Layer.blobs = values``: OpenCV replaces the layer's blob list; the blobs left out
        must be biases (they become zero, as OpenCV runs the layer without them)."""
        if k == 0:
            raise NetError(f"{self._source}: the input layer has no parameters")
        layer = self._layers[k - 1]
        keys = self._param_keys(layer)
        have = len(keys)
        if len(values) > have or (len(values) < have and (
                layer["type"] not in _BIAS_LAST or len(values) != have - 1)):
            raise NetError(f"{self._source}: layer '{layer['name']}' ({layer['type']}) holds "
                           f"{have} blob(s); {len(values)} given (a blob list replaces all of "
                           "them" + (", or all but the bias" if layer["type"] in _BIAS_LAST
                                     else "") + ")")
        values = [np.asarray(v, np.float32) for v in values]
        if len(values) < have:
            values.append(np.zeros(tuple(self._state[keys[-1]].shape), np.float32))
        for i, v in enumerate(values):
            self.setParam(k, i, v)

    def _param_keys(self, layer):
        if self._state is None:
            self._engine(self._declared_shapes())
        return [key for key in self._state if key.rsplit(".", 1)[0] == layer["caffe_name"]]

    def getUnconnectedOutLayers(self):
        """Ids of the layers none of whose outputs another layer reads (int32 array)."""
        return np.array([k for k in range(1, len(self._layers) + 1) if k not in self._consumed],
                        dtype=np.int32)

    def getUnconnectedOutLayersNames(self):
        """Names of :meth:`getUnconnectedOutLayers`, as a tuple."""
        return tuple(self._layers[k - 1]["name"] for k in self.getUnconnectedOutLayers())

    def setInputShape(self, inputName, shape):
        """Declare the shape of an input that the definition leaves open (OpenCV refuses to
        redefine a declared one, and so does this)."""
        self._check()
        given, inputName = inputName, self._input_name(inputName)
        if inputName not in self._input_shapes:
            raise NetError(f"{self._source}: no input named '{given}' (inputs: "
                           f"{self.input_names()})")
        if self._input_shapes[inputName] is not None:
            raise NetError(f"{self._source}: input '{inputName}' already has the shape "
                           f"{self._input_shapes[inputName]} (OpenCV: input shape redefinition "
                           "is not allowed)")
        self._input_shapes[inputName] = tuple(int(d) for d in shape)
        self.__dict__["_fed_fit"] = None

    def setInput(self, blob, name="", scalefactor=1.0, mean=None):
        """Feed input ``name`` (default: the first) with ``(blob - mean[c]) * scalefactor``,
        computed in float32 as OpenCV does."""
        self._check()
        if not self._inputs:
            raise NetError(f"{self._source}: the net has no input")
        given = name = name.decode() if isinstance(name, bytes) else name
        name = self._inputs[0] if name in ("", None) else self._input_name(name)
        if name not in self._inputs:
            raise NetError(f"{self._source}: requested input blob \"{given}\" not found "
                           f"(inputs: {self.input_names()})")
        try:                    # what OpenCV's bindings refuse, a cv2.error on its path too
            x = np.asarray(blob, dtype=np.float32)
            scalefactor = 1.0 if scalefactor is None else float(scalefactor)
            # a cv::Scalar: one number is (v, 0, 0, 0), as OpenCV's bindings make it
            mean = () if mean is None else (float(mean),) if np.ndim(mean) == 0 else \
                tuple(float(m) for m in mean)
        except (TypeError, ValueError) as exc:
            raise NetError(f"setInput: {exc}") from None
        if len(mean) > 4:
            raise NetError(f"setInput: a mean (a cv::Scalar) has at most 4 values, got {mean}")
        if scalefactor != 1.0 or any(mean):
            if x.ndim < 2:
                raise NetError(f"setInput: a mean or scale needs an N x C x ... blob, got shape "
                               f"{x.shape}")
            c = x.shape[1]
            m = np.array([mean[k] if k < len(mean) and k < 4 else 0.0 for k in range(c)])
            shape = (1, c) + (1,) * (x.ndim - 2)
            s = np.float32(scalefactor)
            x = x * s + (-m * float(scalefactor)).astype(np.float32).reshape(shape)
        self._fed[name] = np.ascontiguousarray(x, dtype=np.float32)

    def _run(self, layer_ids):
        """Forward once; the first output of each layer in ``layer_ids`` (all outputs with
        ``all_outputs``)."""
        route = self.__dict__.get("_route")
        if route is not None:                      # the last forward's way (.route)
            got = route.forward(self, layer_ids)
            if got is not None:
                return got
            self.__dict__["_route"] = None
        self._check()
        self._follow_opencv_threads()              # cv2.setNumThreads (.opencv_threads)
        # every input is set first, a declared shape or not (OpenCV 4 fails on an empty one)
        unset = [n for n in self._inputs if n not in self._fed]
        if unset:
            raise NetError(f"{self._source}: input '{unset[0]}' was not set; call setInput("
                           f"blob{'' if unset[0] == self._inputs[0] else ', name'}) first")
        shapes = tuple(tuple(self._fed[n].shape) for n in self._inputs)
        empty = [n for n, s in zip(self._inputs, shapes) if 0 in s]     # (OpenCV: inp.total())
        if empty:
            raise NetError(f"{self._source}: input '{empty[0]}' is empty, shape "
                           f"{self._fed[empty[0]].shape}")
        self._check_fed()
        wanted = tuple(sorted({t for k in layer_ids for t in self._layers[k - 1]["tops"]}))
        self._timings = collections.Counter()      # per layer, filled by torch forwards
        # .precision: CPU_FP16, then the torch-free path
        got = self._torch_free_forward(shapes, wanted)
        if got is not None:
            taken = self.__dict__.pop("_lite_taken", None)
            if taken is not None:
                self.__dict__["_route"] = Route(self, layer_ids, shapes, taken)
            return dict(zip(wanted, got))
        net = self._engine(shapes)
        # read without a caffemodel: OpenCV fails the forward too (!blobs.empty())
        for layer in self._layers if self._weights_source is None else ():
            if self._blobs_missing(layer, net.layer(layer["caffe_name"])):
                raise NetError(f"{self._source}: layer '{layer['name']}' ({layer['type']}) has "
                               "no weights: the net was read without a caffemodel; pass it "
                               "(readNetFromCaffe(prototxt, caffeModel)) or set the layer's "
                               "blobs (getLayer(name).blobs = [...])")
        runner = self._runner(shapes, net, wanted)
        start = time.perf_counter_ns()
        try:
            if runner is None:
                got = self._torch_forward(net, wanted, self._fed)
            else:
                got = runner(self._fed)
        finally:
            self._total = time.perf_counter_ns() - start
        return dict(zip(wanted, got))

    def _torch_forward(self, net, wanted, fed):
        """Our own forward of ``net`` (per-layer timings kept): the outputs ``wanted``, in
        order, as float32 arrays."""
        import contextlib

        import torch
        feed = {n: torch.from_numpy(fed[n]).to(self._device) for n in fed}
        half = self._cuda_half()        # DNN_TARGET_CUDA_FP16: autocast on the device
        with torch.inference_mode(), torch.autocast("cuda", dtype=getattr(torch, half)) \
                if half else contextlib.nullcontext():
            out = net._forward_layers(blobs=list(wanted), keep_blobs=False, **feed)
        return [np.ascontiguousarray(out[b].detach().to("cpu", torch.float32).numpy())
                for b in wanted]

    def _runner(self, shapes, net, wanted):
        """The EngineRunner for these shapes and outputs (None: the torch forward here)."""
        engine = _BACKEND_ENGINES.get(self._backend)
        if self._python_layers:
            return None                # Python code runs in the torch forward only
        if self._device != "cpu" or (engine is None and ENGINE_ENV not in os.environ):
            return None
        key = (shapes, wanted, engine)
        runner = self._runners.get(key)
        if runner is None:
            from ..inference.engines import EngineRunner
            runner = EngineRunner(net, wanted, engine or "torch",
                                  torch_run=lambda fed: self._torch_forward(net, wanted, fed))
            # one per engine net kept (the others went with their nets)
            self._runners = {k: v for k, v in self._runners.items() if k[0] in self._nets}
            self._runners[key] = runner
        return runner

    def forward(self, outputName=None, outBlobNames=None):
        """``forward()``: the last layer's output; ``forward(name)``: the first output of
        layer ``name``; ``forward([names])``: a tuple of them (float32 arrays)."""
        if isinstance(outBlobNames, (str, bytes)):
            # OpenCV's forward(outputBlobs, outputName): every output of that layer
            return self.forwardAndRetrieve([outBlobNames])[0]
        names = outBlobNames if outBlobNames is not None else outputName
        self._check()
        if names is None or (isinstance(names, str) and names == ""):
            return self._run([len(self._layers)])[self._first_top(len(self._layers))]
        if isinstance(names, (str, bytes, int, np.integer)):
            k = self._layer_index(names)
            return self._run([k])[self._first_top(k)]
        # no names: the last layer's output, as one of a tuple (OpenCV 4)
        ids = [self._layer_index(n) for n in names] or [len(self._layers)]
        got = self._run(ids)
        return tuple(got[self._first_top(k)] for k in ids)

    def _first_top(self, k):
        layer = self._layers[k - 1]
        if not layer["tops"]:
            raise NetError(f"{self._source}: layer '{layer['name']}' ({layer['type']}) has no "
                           "output to return; ask forward() for a layer that has one")
        return layer["tops"][0]

    def forwardAndRetrieve(self, outBlobNames):
        """Every output of each named layer: a tuple (per name) of tuples of arrays."""
        ids = [self._layer_index(n) for n in outBlobNames]
        got = self._run(ids)
        return tuple(tuple(got[t] for t in self._layers[k - 1]["tops"]) for k in ids)

    def getPerfProfile(self):
        """(total ticks of the last forward, per-layer ticks as a float64 array), ticks in
        units of ``cv2.getTickFrequency()``."""
        if self._timings is None:
            return 0, np.zeros(len(self._layers))
        scale = _tick_frequency() / 1e9
        per_layer = np.array([self._timings[layer["name"]] * scale for layer in self._layers],
                             dtype=np.float64)
        return int(round(self._total * scale)), per_layer

    def setPreferableBackend(self, backendId):
        """DNN_BACKEND_DEFAULT and DNN_BACKEND_OPENCV: the fastest trusted engine
        (``CAFFE_COMPAT_ENGINE=torch`` pins our torch forward); DNN_BACKEND_INFERENCE_ENGINE:
        OpenVINO (see the module doc);
        DNN_BACKEND_CUDA with a CUDA target; other backends raise UnsupportedError."""
        if backendId not in _CPU_BACKENDS:
            raise UnsupportedError(f"setPreferableBackend("
                                   f"{_BACKENDS.get(backendId, backendId)}): caffe_compat.dnn "
                                   "runs nets with torch or an engine (DNN_BACKEND_DEFAULT, "
                                   "DNN_BACKEND_OPENCV, DNN_BACKEND_INFERENCE_ENGINE; "
                                   "DNN_BACKEND_CUDA with DNN_TARGET_CUDA)")
        self._backend = DNN_BACKEND_DEFAULT if backendId == DNN_BACKEND_OPENCV else int(backendId)

    def setPreferableTarget(self, targetId):
        """DNN_TARGET_CPU; DNN_TARGET_CUDA on torch's CUDA device when there is one (float32
        arithmetic), DNN_TARGET_CUDA_FP16 there under float16 autocast (:mod:`.precision`),
        otherwise on the CPU in float32 with a warning; OpenCL runs on the CPU with a warning,
        as OpenCV does without it; CPU_FP16 as :mod:`.precision` says; others raise."""
        name = _TARGETS.get(targetId, targetId)
        if targetId in (DNN_TARGET_CUDA, DNN_TARGET_CUDA_FP16):
            import torch
            if torch.cuda.is_available():
                self._set_device("cuda")
            else:
                warnings.warn(f"{name}: torch has no CUDA device here; the net runs on the "
                              "CPU", RuntimeWarning, stacklevel=caller_stacklevel())
                self._set_device("cpu")
        elif targetId in _FALLBACK_TARGETS:
            self._fallback_target(targetId, name)     # (.precision: CPU_FP16)
        elif targetId == DNN_TARGET_CPU:
            self._set_device("cpu")
        else:
            raise UnsupportedError(f"setPreferableTarget({name}): caffe_compat.dnn runs on "
                                   "the CPU or on torch's CUDA device (DNN_TARGET_CPU, "
                                   "DNN_TARGET_CUDA)")
        self._target = int(targetId)

    def _set_device(self, device):
        self._device = device
        for net in self._nets.values():
            net.to(device)

    def enableFusion(self, fusion):
        """Accepted and ignored: layer fusion is an OpenCV optimisation that does not change
        what the net computes."""

    def __getattr__(self, name):
        if name in UNSUPPORTED_METHODS:
            raise UnsupportedMethodError(f"cv2.dnn.Net.{name} is not provided by caffe_compat."
                                         "dnn (see docs/from-cv2-dnn.md for what is)")
        raise AttributeError(f"'caffe_compat.dnn.Net' has no attribute '{name}'")

    def __repr__(self):
        if self.empty():
            return "<caffe_compat.dnn.Net (empty)>"
        return (f"<caffe_compat.dnn.Net {self._source}: {len(self._layers)} layers, inputs "
                f"{self._inputs}>")
