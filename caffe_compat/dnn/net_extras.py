"""More of ``cv2.dnn.Net``, as OpenCV 4.14 answers (a mixin of :class:`caffe_compat.dnn.net.Net`):

* ``enableWinograd(flag)``: accepted and ignored (a kernel choice of OpenCV's), as
  ``enableFusion``;
* ``setInputsNames(names)``: new names for the net's inputs, in order (as many as it has),
  taken by ``setInput``, ``setInputShape`` and the input layer's ``outputNameToIndex``;
* ``forwardAsync(name)``: with ``DNN_BACKEND_INFERENCE_ENGINE`` an object whose ``get()``
  gives ``forward(name)`` (OpenCV's ``AsyncArray``: ``get``, ``wait_for``, ``valid``); with
  any other backend the error OpenCV 4 raises;
* ``getFLOPS(shapes)``: OpenCV 4's count, layer type by layer type (:mod:`.flops`);
* ``getMemoryConsumption(shapes)``: ``(weights, blobs)`` in bytes, 4 a value: every layer's
  parameter blobs (a split Convolution's once per layer) and outputs, the input layer's
  included (OpenCV 4.14's sums);
* ``getLayersShapes(shapes)``: for one input shape or a list, ``(ids, input shapes, output
  shapes)``: ids 0..N as int32, per layer a tuple of int32 shape arrays (layer 0, the input
  layer, has the net inputs as both);
* ``getLayerTypes``, ``getLayersCount``, ``getParam``, ``setParam``."""
from __future__ import annotations

import numpy as np

from ..errors import NetError
from .constants import DNN_BACKEND_INFERENCE_ENGINE


class AsyncArray:
    """The result of :meth:`NetExtrasMixin.forwardAsync` (computed when it is made)."""

    def __init__(self, value):
        self._value = value

    def get(self, timeoutNs=-1):
        return self._value

    def wait_for(self, timeoutNs=0):
        return True

    def valid(self):
        return self._value is not None


def _shape_list(shapes):
    """One shape (a sequence of ints) or a list of shapes -> a list of int tuples."""
    if len(shapes) and all(isinstance(d, (int, np.integer)) for d in shapes):
        return [tuple(int(d) for d in shapes)]
    return [tuple(int(d) for d in s) for s in shapes]


class NetExtrasMixin:

    def enableWinograd(self, useWinograd):
        """Accepted and ignored (see the module docstring)."""

    def setInputsNames(self, inputBlobNames):
        """Rename the net's inputs, in order (OpenCV's ``setInputsNames``)."""
        self._check()
        names = [str(n) for n in inputBlobNames]
        if len(names) != len(self._inputs):
            raise NetError(f"{self._source}: setInputsNames got {len(names)} name(s) for "
                           f"{len(self._inputs)} input(s) {self.input_names()}")
        self._input_aliases = dict(zip(names, self._inputs))

    def input_names(self):
        """The inputs as the caller names them (after :meth:`setInputsNames`)."""
        inverse = {v: k for k, v in self._input_aliases.items()}
        return [inverse.get(n, n) for n in self._inputs]

    def _input_name(self, name):
        """The net's own name of input ``name`` (as given to setInputsNames, or its own)."""
        if self._input_aliases:
            return self._input_aliases.get(name, None if name in self._inputs else name)
        return name

    def forwardAsync(self, outputName=""):
        """``forward(outputName)`` as an AsyncArray, with DNN_BACKEND_INFERENCE_ENGINE only."""
        if self._backend != DNN_BACKEND_INFERENCE_ENGINE:
            raise NetError(f"{self._source}: DNN: Asynchronous forward is supported for "
                           "Inference Engine backend only (setPreferableBackend("
                           "DNN_BACKEND_INFERENCE_ENGINE) first, as OpenCV 4)")
        return AsyncArray(self.forward(outputName or None))

    def getLayersShapes(self, netInputShapes):
        """(ids, input shapes, output shapes) of every layer for these input shapes."""
        self._check()
        shapes = _shape_list(netInputShapes)
        if len(shapes) != len(self._inputs):
            raise NetError(f"{self._source}: {len(shapes)} input shape(s) given for "
                           f"{len(self._inputs)} input(s) {self.input_names()}")
        net = self._engine(tuple(shapes))

        def arrays(blobs):
            return tuple(np.array(net.blob_shape(b), dtype=np.int32) for b in blobs)

        ins, outs = [arrays(self._inputs)], [arrays(self._inputs)]
        for layer in self._layers:
            ins.append(arrays(layer["engine_bottoms"]))
            outs.append(arrays(layer["tops"]))
        return np.arange(len(self._layers) + 1, dtype=np.int32), tuple(ins), tuple(outs)

    def _layer_ids(self, args, what):
        """(layer ids, input shapes) of ``getFLOPS`` / ``getMemoryConsumption``'s two forms:
        ``(shapes)`` for every layer (the input layer's 0 included), ``(layerId, shapes)``
        for one."""
        if len(args) == 1:
            return range(len(self._layers) + 1), args[0]
        if len(args) == 2 and isinstance(args[0], (int, np.integer)) and \
                not isinstance(args[0], bool):
            k = int(args[0])
            if not 0 <= k <= len(self._layers):
                raise NetError(f"{self._source}: {what}: layer with requested id={k} not "
                               f"found (ids are 0..{len(self._layers)})")
            return (k,), args[1]
        raise TypeError(f"{what}(netInputShapes) or {what}(layerId, netInputShapes)")

    def getMemoryConsumption(self, *args):
        """(bytes of the layers' parameter blobs, bytes of their outputs) as OpenCV 4 counts
        them for float32 nets: of every layer, the input layer's outputs included
        (``getMemoryConsumption(shapes)``), or of layer ``layerId`` alone
        (``getMemoryConsumption(layerId, shapes)``)."""
        ids, shapes = self._layer_ids(args, "getMemoryConsumption")
        _, _, outs = self.getLayersShapes(shapes)
        weights = sum(int(b.size) for k in ids if k for b in self._layer_blobs(k))
        blobs = sum(int(np.prod(a)) for k in ids for a in outs[k])
        return 4 * weights, 4 * blobs

    def getFLOPS(self, *args):
        """OpenCV 4's operation count for these input shapes (:mod:`.flops`): of the net
        (``getFLOPS(shapes)``) or of layer ``layerId`` (``getFLOPS(layerId, shapes)``)."""
        from .flops import layer_flops
        ids, shapes = self._layer_ids(args, "getFLOPS")
        _, ins, outs = self.getLayersShapes(shapes)
        net = self._engine(tuple(_shape_list(shapes)))
        params = {lp.name: lp for lp in self._param.layer}
        count = 0
        for k in ids:
            if not k:                           # the input layer computes nothing
                continue
            layer = self._layers[k - 1]
            weights = [tuple(p.shape) for p in net.layer(layer["caffe_name"]).blobs]
            count += layer_flops(layer["class"], params[layer["caffe_name"]],
                                 [tuple(int(d) for d in a) for a in ins[k]],
                                 [tuple(int(d) for d in a) for a in outs[k]], weights)
        return count

    def dump(self):
        """The net as a Graphviz ``digraph`` (OpenCV's ``Net::dump`` for ``dot``): a record
        per layer (id, name, type, output shapes once the net has run) and an edge from each
        layer to the layers reading its outputs."""
        self._check()
        fed = {n: tuple(self._fed[n].shape) for n in self._inputs if n in self._fed}
        shapes = None
        if len(fed) == len(self._inputs):
            shapes = self.getLayersShapes([fed[n] for n in self._inputs])[2]

        def label(k, name, kind):
            rows = [f"id: {k}", f"name: {name}", f"type: {kind}"]
            if shapes is not None:
                rows += ["output: " + " ".join("x".join(str(int(d)) for d in a)
                                               for a in shapes[k])]
            text = " | ".join(r.replace("{", "\\{").replace("}", "\\}").replace("|", "\\|")
                              .replace("<", "\\<").replace(">", "\\>").replace('"', '\\"')
                              for r in rows)
            return f'  {k} [label="{{{text}}}"];'

        lines = ["digraph G {", "  node [shape=record];",
                 label(0, "_input", "__NetInputLayer__")]
        made = {t: 0 for t in self._inputs}
        edges = []
        for k, layer in enumerate(self._layers, start=1):
            lines.append(label(k, layer["name"], layer["type"]))
            for b in layer["engine_bottoms"]:
                if b in made and (made[b], k) not in edges:
                    edges.append((made[b], k))
            for t in layer["tops"]:
                made[t] = k
        lines += [f"  {a} -> {b};" for a, b in edges] + ["}"]
        return "\n".join(lines) + "\n"

    def dumpToFile(self, path):
        """Write :meth:`dump` to ``path`` (atomically)."""
        from ..io.atomic import write_bytes_atomic
        write_bytes_atomic(str(path), self.dump().encode("utf-8"))

    def getLayerTypes(self):
        """The distinct layer types, sorted, with OpenCV's input layer type."""
        return tuple(sorted({layer["type"] for layer in self._layers} | {"__NetInputLayer__"}))

    def getLayersCount(self, layerType):
        """How many layers have type ``layerType`` (OpenCV's input layer: one)."""
        return 1 if layerType == "__NetInputLayer__" else \
            sum(layer["type"] == layerType for layer in self._layers)

    def getParam(self, layer, numParam=0):
        """Parameter blob ``numParam`` of a layer (id or name), in OpenCV's shape."""
        blobs = self.getLayer(layer).blobs
        if not 0 <= int(numParam) < len(blobs):
            raise NetError(f"{self._source}: layer '{self.getLayer(layer).name}' has "
                           f"{len(blobs)} parameter blob(s); numParam={numParam} is out of range")
        return blobs[int(numParam)]

    def setParam(self, layer, numParam, blob):
        """Replace parameter blob ``numParam`` of a layer (same number of values; ``getParam``
        then answers ``blob``'s shape, as OpenCV)."""
        k = self._layer_index(layer) if layer not in (0, "_input") else 0
        if k == 0:
            raise NetError(f"{self._source}: the input layer has no parameters")
        info = self._layers[k - 1]
        keys = self._param_keys(info)
        if not 0 <= int(numParam) < len(keys):
            raise NetError(f"{self._source}: layer '{info['name']}' has {len(keys)} parameter "
                           f"blob(s); numParam={numParam} is out of range")
        self._lite_off("setParam")                # the torch path holds the weights now
        target = self._state[keys[int(numParam)]]
        value = np.asarray(blob, dtype=np.float32)
        if value.size != target.numel():
            raise NetError(f"{self._source}: layer '{info['name']}' blob {numParam} has "
                           f"{target.numel()} values, got {value.size} (its shape "
                           f"{tuple(target.shape)}, the one given {value.shape})")
        import torch
        with torch.no_grad():
            target.copy_(torch.from_numpy(value.reshape(tuple(target.shape))))
            for net in self._nets.values():
                net.load_caffe_state_dict(self._state)
        self._set_shapes[(info["caffe_name"], int(numParam))] = value.shape
        self._runners.clear()           # the exports hold the old weights
