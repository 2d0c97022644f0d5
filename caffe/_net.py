"""pycaffe's ``caffe.Net`` and ``caffe.Blob`` with Caffe's blob semantics: ``blobs[name].data``
/ ``.diff`` and ``params[layer][i].data`` / ``.diff`` are numpy arrays aliasing the net's memory.

A CPU net whose layers the array engine runs (:mod:`caffe_compat.array_net`) starts there,
without torch; anything that engine does not do (``backward``, the layer objects, sharing, a
Python layer, a GPU) moves the net to :class:`caffe_compat.Net` first (:meth:`Net._to_torch`),
its parameters, blobs and diffs kept in the same memory, so arrays and blob objects taken
before stay live. A parameter whose filler only torch draws (gaussian, msra) is left unfilled
until a weights file overwrites it; read before that, it moves the net to torch, which fills
it as it would have from the start. ``CAFFE_COMPAT_ARRAY_NET=0`` builds every net on torch.

A net runs in the mode current when it runs (Caffe's rule; :mod:`caffe._placement`)."""
from __future__ import annotations

import collections
import os

import numpy as np

from caffe_compat.errors import NetError
from caffe_compat.net.blob_view import BlobVec, BlobView

from . import _mode, _placement
from ._arguments import net_arguments
from ._views import ArrayParam, LayerView

__all__ = ["Net", "Blob", "Layer", "ParamBlob", "layer_type_list"]

_TORCH_NAMES = {"Layer": "PythonLayer", "ParamBlob": "ParamBlob"}


def __getattr__(name):
    """``Layer`` (pycaffe's Python layer base) and ``ParamBlob`` load the torch engine on
    first use."""
    if name in _TORCH_NAMES:
        from caffe_compat.layers import python as python_layers
        value = getattr(python_layers, _TORCH_NAMES[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'caffe._net' has no attribute '{name}'")


def layer_type_list():
    """The registered layer type names (Caffe's LayerRegistry::LayerTypeList), sorted."""
    import caffe_compat
    return caffe_compat.registered_types()


def _phase(value):
    if isinstance(value, str):
        return value.upper()
    if value in (_mode.TRAIN, _mode.TEST) and not isinstance(value, bool):
        return "TRAIN" if value == _mode.TRAIN else "TEST"
    raise TypeError(f"phase must be caffe.TRAIN or caffe.TEST, got {value!r}")


def _array_engine_allowed():
    return os.environ.get("CAFFE_COMPAT_ARRAY_NET", "1").strip() != "0" and \
        not _mode.gpu_mode()


Blob = BlobView


class LayerNameError(NetError, ValueError):
    """A layer name the net does not have (``forward(start=...)``, ``backward(end=...)``)."""


class Net:
    """A Caffe net with pycaffe's interface.

    ``Net(network_file, phase, level=0, stages=None, weights=None)`` or the older
    ``Net(network_file, weights, phase)``; ``phase`` is ``caffe.TRAIN`` or ``caffe.TEST``."""

    # a net of a solver on the array engine (caffe_compat.array_solver): its data layers'
    # positions live with that solver, so it stays on arrays
    _pinned = False
    # {input: shape} the net was built for, and the layers whose blobs fix what each input
    # can take (caffe_compat.net.input_check); None for a solver's nets
    _declared = None
    _readers = None
    # the mode the net's memory is placed for ("cpu": one copy; "gpu": host and device
    # copies), and whether the net is a solver's (which keeps its solver's mode)
    _placed = "cpu"
    _solver_net = False

    def __init__(self, network_file, *args, phase=None, level=None, stages=None, weights=None,
                 _net=None, _arrays=None):
        self._arrays = None
        self._layers = None
        if _net is not None:         # a solver's net, on the device its solver chose
            self._attach(_net)
            self._solver_net = True
            if _mode.gpu_mode():
                from caffe_compat.net import synced_memory
                synced_memory.attach(self._torch_store, _mode.device(), existing="device")
                self._placed = "gpu"
            return
        if _arrays is not None:
            self._arrays = _arrays
            self._pinned = True
            self._blobs = collections.OrderedDict(
                (n, Blob(_arrays, n)) for n in _arrays.graph.blob_names)
            return
        phase, level, stages, weights = net_arguments(args, phase, level, stages, weights)
        self._source = (os.fspath(network_file), _phase(phase), level, list(stages or []))
        why = []
        if _array_engine_allowed():
            from caffe_compat.array_net import build_array_net
            self._arrays = build_array_net(*self._source, defer_fills=True, why=why)
        on_arrays = self._arrays is not None
        if on_arrays:
            self._blobs = collections.OrderedDict(
                (n, Blob(self._arrays, n)) for n in self._arrays.graph.blob_names)
        else:
            import caffe_compat
            path, phase, level, stages = self._source
            self._attach(caffe_compat.Net(path, phase=phase, level=level, stages=stages))
        self._declared = {n: tuple(self._blobs[n].shape) for n in self.inputs}
        if weights:      # a file the array engine does not read moves the net to torch
            self.copy_from(weights)
        if on_arrays:
            return
        _placement.follow_mode(self)  # GPU mode: the device copies are made as they are needed
        if why:             # said once the torch engine holds the net: not before its error
            self._fallback(why[0])

    def _fallback(self, why):
        """The torch engine builds this net: said once per net file and reason
        (:mod:`caffe_compat.diagnostics.engine_notice`) after it built the net and read its
        weights (a net it refuses too gets the error alone), kept as :attr:`engine_reason`."""
        from caffe_compat.diagnostics import engine_notice
        self._engine_reason = why
        engine_notice.fallback(self._source[0], "pycaffe's array engine (numpy)", why)

    @property
    def engine(self):
        """The engine holding this net now: ``"array"`` (numpy, no torch) or ``"torch"``."""
        return "array" if self._arrays is not None else "torch"

    @property
    def engine_reason(self):
        """Why the torch engine holds a net the array engine refused (None otherwise)."""
        return getattr(self, "_engine_reason", None)

    def _attach(self, net):
        from caffe_compat.net.stepwise import Stepwise
        self._torch_net = net
        self._torch_store = Stepwise(net)
        if getattr(self, "_blobs", None) is None:
            self._blobs = collections.OrderedDict(
                (n, Blob(self._torch_store, n)) for n in net.graph.blob_names)

    @property
    def _net(self):
        """The :class:`caffe_compat.Net` (the net moves to torch on first use)."""
        if self._arrays is not None:
            self._to_torch()
        return self._torch_net

    @property
    def _store(self):
        if self._arrays is not None:
            self._to_torch()
        return self._torch_store

    def _to_torch(self):
        """Move the net from the array engine to torch: the same layers built as a
        :class:`caffe_compat.Net`, whose parameters, blobs and diffs take the arrays' memory
        (arrays and blob views taken before stay live)."""
        if self._pinned:
            raise NetError(f"net '{self._arrays.name}' belongs to a solver running on the array "
                           "engine, which does not offer this (a layer object, a Python "
                           "layer, HDF5 weights, a backward it cannot take); set "
                           "CAFFE_COMPAT_ARRAY_NET=0 before creating the solver to train on "
                           "the torch engine")
        import torch
        import caffe_compat
        from caffe_compat.layers.base import mark_numpy_view
        from caffe_compat.data.caffe_random import CaffeRandom
        arrays = self._arrays
        path, phase, level, stages = self._source
        # the fillers drew from Caffe's stream when the arrays were built: not again; those
        # left unfilled (drawn from torch's generator) take the values torch draws now
        net = caffe_compat.Net(path, phase=phase, level=level, stages=stages,
                               caffe_rng=CaffeRandom(0))
        unfilled = arrays.unfilled
        handed = arrays.handed_out   # the arrays Python may hold: they stay the net's memory
        arrays.settle_all()          # the weight gradients a backward left for later
        with torch.no_grad():
            for layer, values in arrays.params.items():
                module = net.layers[net._layer_keys[layer]]
                for k, value in enumerate(values):
                    p = module.blobs[k]
                    if (layer, k) in unfilled:
                        np.copyto(value, p.detach().numpy())
                    p.data = torch.from_numpy(value)
                    diff = arrays.param_diffs.get((layer, k))
                    if diff is not None:
                        p.grad = torch.from_numpy(diff)
                    if (layer, k) in handed:
                        mark_numpy_view(p)
        self._attach(net)
        store = self._torch_store
        for name in net.graph.blob_names:
            store.data[name] = torch.from_numpy(arrays.data[name])
            if name in handed:
                store.exported.add(name)
            diff = arrays.diff.get(name)
            if diff is not None and diff.shape == arrays.data[name].shape:
                store.diff[name] = torch.from_numpy(diff)
        for view in self._blobs.values():
            view._store = store
        self._arrays = None

    # ------------------------------------------------------------------ structure
    @property
    def blobs(self):
        """OrderedDict blob name -> Blob, in Caffe's blob order."""
        return self._blobs

    @property
    def params(self):
        """OrderedDict layer name -> the layer's parameter blobs (layers with parameters)."""
        out = collections.OrderedDict()
        arrays = self._arrays
        if arrays is not None:
            for node in arrays.nodes:
                values = arrays.params.get(node.name)
                if values:
                    out[node.name] = BlobVec(None, [ArrayParam(self, node.name, k)
                                                    for k in range(len(values))])
            return out
        for name, layer in zip(self._layer_names, self.layers):
            if len(layer.blobs):
                out[name] = layer.blobs
        return out

    @property
    def layers(self):
        """The layers: Python layers are their own objects, others expose type and blobs."""
        if self._layers is None:
            out = []
            for i, (node, key, _, _) in enumerate(self._net._nodes):
                module = self._net.layers[key]
                out.append(module.impl if node.type == "Python" else LayerView(self, i))
            self._layers = out
        return self._layers

    @property
    def layer_dict(self):
        return collections.OrderedDict(zip(self._layer_names, self.layers))

    @property
    def _layer_names(self):
        return [node.name for node in self._nodes]

    @property
    def _nodes(self):
        """The layer nodes (:class:`caffe_compat.net.graph.LayerNode`) in Caffe's order."""
        if self._arrays is not None:
            return self._arrays.nodes
        return [node for node, _, _, _ in self._torch_net._nodes]

    @property
    def _blob_names(self):
        return list(self._blobs)

    @property
    def _blob_loss_weights(self):
        weights = (self._store if self._arrays is None else self._arrays).loss_weights
        return [weights.get(n, 0.0) for n in self._blobs]

    @property
    def blob_loss_weights(self):
        return collections.OrderedDict(zip(self._blobs, self._blob_loss_weights))

    @property
    def inputs(self):
        return list((self._net if self._arrays is None else self._arrays).inputs)

    @property
    def outputs(self):
        return list((self._net if self._arrays is None else self._arrays).outputs)

    def _blob_ids(self, names):
        order = list(self._blobs)
        return [order.index(n) for n in names]

    @property
    def _inputs(self):
        return self._blob_ids(self.inputs)

    @property
    def _outputs(self):
        return self._blob_ids(self.outputs)

    @property
    def top_names(self):
        return collections.OrderedDict((node.name, list(node.tops)) for node in self._nodes)

    @property
    def bottom_names(self):
        return collections.OrderedDict((node.name, list(node.bottoms)) for node in self._nodes)

    def _top_ids(self, i):
        return self._blob_ids(self._nodes[i].tops)

    def _bottom_ids(self, i):
        return self._blob_ids(self._nodes[i].bottoms)

    # ------------------------------------------------------------------ passes
    def _forward(self, start, end):
        _placement.follow_mode(self)
        if self._arrays is not None and self._arrays.unfilled:
            self._to_torch()             # a parameter only torch fills: torch runs the net
        if self._arrays is not None:
            try:
                return self._arrays.forward(start, end)
            except Exception:     # a shape the array engine refuses: torch runs the range
                if self._pinned:  # again, and reports what is wrong with Caffe's message
                    raise
                self._to_torch()
        return self._store.forward(start, end)

    def _layer_range(self, start, end, default_start, default_end):
        """(first, last) layer indices of ``start`` / ``end`` (names or None); a name the
        net lacks is a :class:`LayerNameError`, a ValueError as pycaffe's
        ``list(net._layer_names).index(name)``."""
        try:
            if self._arrays is None:
                return self._store.layer_range(start, end, default_start, default_end)
            return (self._arrays.layer_index(start, default_start),
                    self._arrays.layer_index(end, default_end))
        except KeyError as e:
            raise LayerNameError(f"net '{self._arrays.name}' has no layer "
                                 f"'{e.args[0]}'") from None
        except NetError as e:
            raise LayerNameError(str(e)) from None

    def _backward(self, start, end):
        _placement.follow_mode(self)
        (self._arrays if self._arrays is not None else self._store).backward(start, end)

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """Run layers ``start`` to ``end`` (names; default all) after copying ``kwargs``
        (input blob name -> array of the blob's batch size) into the inputs. Returns {blob:
        data array} for the outputs (or the tops of ``end``) and ``blobs``."""
        blobs = list(blobs or [])
        first, last = self._layer_range(start, end, 0, len(self._nodes) - 1)
        outputs = set((self.top_names[end] if end is not None else self.outputs) + blobs)
        if kwargs:
            if set(kwargs) != set(self.inputs):
                raise ValueError(f"Input blob arguments {sorted(kwargs)} do not match net "
                                 f"inputs {self.inputs}")
            self._check_inputs({name: self._fed_shape(name, value)
                                for name, value in kwargs.items()})
            for name, value in kwargs.items():
                value = np.asarray(value)
                if value.shape[0] != self._blobs[name].shape[0]:
                    raise ValueError(f"input '{name}' has {value.shape[0]} items, the blob's "
                                     f"batch size is {self._blobs[name].shape[0]} (reshape "
                                     "the blob first)")
                self._blobs[name].data[...] = value
        else:
            self._check_inputs()        # blobs set by hand (the arrays fed were checked above)
        self._forward(first, last)
        return {name: self._blobs[name].data for name in outputs}

    def _fed_shape(self, name, value):
        """The shape input ``name`` takes from ``value``: pycaffe checks the batch size
        (``shape[0]``), then assigns with numpy's broadcasting (``blobs[name].data[...] =
        value``), so a value of the blob's batch size that broadcasts to the blob (one grey
        channel for a colour net's three) fills the blob's shape."""
        shape, blob = np.shape(value), tuple(self._blobs[name].shape)
        if shape[:1] != blob[:1]:
            return shape
        try:
            return blob if np.broadcast_shapes(shape, blob) == blob else shape
        except ValueError:
            return shape

    def _check_inputs(self, fed=None):
        """The arrays ``fed`` ({input: shape}; default: the input blobs as they are now) are
        ones the net can take: the check cv2.dnn's paths make too
        (:mod:`caffe_compat.net.input_check`), before any engine runs."""
        if self._declared is None:
            return
        from caffe_compat.net import input_check
        if self._readers is None:
            self._readers = input_check.readers(
                [(n.name, n.type, n.bottoms, n.tops) for n in self._nodes], self.inputs)
        if fed is None:
            fed = {n: self._blobs[n].shape for n in self.inputs}
        input_check.check(self._source[0], fed, self._declared, self._readers)

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """Back-propagate layers ``start`` down to ``end`` (names; default all) after copying
        ``kwargs`` (output blob name -> diff array) into the output diffs. Returns {blob: diff
        array} for the inputs (or the bottoms of ``end``) and ``diffs``."""
        diffs = list(diffs or [])
        first, last = self._layer_range(start, end, len(self._nodes) - 1, 0)
        if self._arrays is not None and (self._arrays.unfilled or
                                         not self._arrays.can_backward(first, last)):
            self._to_torch()             # a layer the array engine cannot take back
        outputs = set((self.bottom_names[end] if end is not None else self.inputs) + diffs)
        if kwargs:
            if set(kwargs) != set(self.outputs):
                raise ValueError(f"Top diff arguments {sorted(kwargs)} do not match net "
                                 f"outputs {self.outputs}")
            for name, value in kwargs.items():
                value = np.asarray(value)
                if value.shape[0] != self._blobs[name].shape[0]:
                    raise ValueError(f"diff for '{name}' has {value.shape[0]} items, the "
                                     f"blob's batch size is {self._blobs[name].shape[0]}")
                self._blobs[name].diff[...] = value
        self._backward(first, last)
        return {name: self._blobs[name].diff for name in outputs}

    def _batch(self, blobs):
        """Batches of the arrays in ``blobs`` at the net's batch size; the last is padded
        with zeros."""
        num = len(next(iter(blobs.values())))
        batch = next(iter(self._blobs.values())).shape[0]
        for i in range(0, num - num % batch, batch):
            yield {name: v[i:i + batch] for name, v in blobs.items()}
        rest = num % batch
        if rest:
            yield {name: np.concatenate([np.asarray(v[-rest:]), np.zeros(
                (batch - rest,) + np.asarray(v).shape[1:])]) for name, v in blobs.items()}

    def forward_all(self, blobs=None, **kwargs):
        """``forward`` over inputs of any length, batch by batch: {blob: array of all items}."""
        outs = {name: [] for name in set(self.outputs + list(blobs or []))}
        for batch in self._batch(kwargs):
            _gather(outs, self.forward(blobs=blobs, **batch))
        return _unpad(outs, kwargs)

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs):
        """``forward`` then ``backward`` batch by batch: ({blob: data}, {blob: diff})."""
        import itertools
        outs = {name: [] for name in set(self.outputs + list(blobs or []))}
        grads = {name: [] for name in set(self.inputs + list(diffs or []))}
        fwd = self._batch({k: kwargs[k] for k in self.inputs if k in kwargs}) \
            if any(k in kwargs for k in self.inputs) else iter(())
        bwd = self._batch({k: kwargs[k] for k in self.outputs if k in kwargs}) \
            if any(k in kwargs for k in self.outputs) else iter(())
        for fb, bb in itertools.zip_longest(fwd, bwd, fillvalue={}):
            _gather(outs, self.forward(blobs=blobs, **fb))
            _gather(grads, self.backward(diffs=diffs, **bb))
        pad = len(next(iter(outs.values()))) - len(next(iter(kwargs.values())))
        return _unpad(outs, kwargs, pad), _unpad(grads, kwargs, pad)

    def reshape(self):
        """Propagate the input blobs' shapes through the net (Caffe's Net::Reshape)."""
        self._check_inputs()
        if self._arrays is not None:
            try:
                self._arrays.reshape()
                return
            except Exception:     # torch reshapes, or reports the error with its layer
                if self._pinned:
                    raise
                self._to_torch()
        self._store.reshape()

    def clear_param_diffs(self):
        (self._arrays if self._arrays is not None else self._store).clear_param_diffs()

    # ------------------------------------------------------------------ weights
    def copy_from(self, filename):
        """Copy weights by layer name from a caffemodel, binary or HDF5 (told apart by the
        file's signature, as Caffe's H5Fis_hdf5). Layers of the net with parameters that the
        file lacks keep their values, as in Caffe, and a
        :class:`caffe_compat.errors.WeightsMismatchWarning` names them
        (``warnings.simplefilter("error", WeightsMismatchWarning)`` makes it an error)."""
        from caffe_compat.io.hdf5_kind import is_hdf5_file
        path = os.fspath(filename)
        if is_hdf5_file(path):
            return self.load_hdf5(path)
        if self._arrays is not None:
            from caffe_compat.array_net import Unsupported
            try:
                self._arrays.copy_from(path)
                return
            except Unsupported:
                pass                     # the torch engine reads it, or says what is wrong
        net = self._net
        with _placement.params_on_engine(self, writes=True):
            net.copy_from(path)

    def before_forward(self, callback):
        """pycaffe's net hook: ``callback(i)`` before layer ``i`` runs forward, in every
        forward of this net (a solver's iterations included); the layers then run one by one
        on the torch engine (:meth:`caffe_compat.net.stepwise.Stepwise.forward`)."""
        self._add_hook("before_forward", callback)

    def after_forward(self, callback):
        """pycaffe's net hook: ``callback(i)`` after layer ``i`` ran forward."""
        self._add_hook("after_forward", callback)

    def before_backward(self, callback):
        """pycaffe's net hook: ``callback(i)`` before layer ``i`` runs backward (every layer
        of the range, as Caffe's BackwardFromTo, whether it needs a backward or not)."""
        self._add_hook("before_backward", callback)

    def after_backward(self, callback):
        """pycaffe's net hook: ``callback(i)`` after layer ``i`` ran backward. With a
        ``caffe.NCCL`` (Caffe's layer-wise reduction, ``layer_wise_reduce``): accepted; the
        exchange sums every gradient once, in ``on_gradients_ready``, which gives the same
        sums."""
        if getattr(callback, "sums_gradients_per_iteration", False):     # a caffe.NCCL
            return
        self._add_hook("after_backward", callback)

    def _add_hook(self, when, callback):
        if not callable(callback):
            raise TypeError(f"net.{when}() takes a callable of one argument (the layer's "
                            f"index), got {type(callback).__name__}")
        if self._arrays is not None and self._pinned:
            raise NetError(f"net.{when}(): this net belongs to a solver on the array engine, "
                           "whose iterations run without stopping between layers; set "
                           "CAFFE_COMPAT_ARRAY_NET=0 before creating the solver to run its "
                           "nets on torch, which calls the hooks")
        self._store.hooks.setdefault(when, []).append(callback)     # (moves it to torch)

    def share_with(self, other):
        """Use ``other``'s parameter blobs for the layers of the same name
        (Caffe's ShareTrainedLayersWith)."""
        if self._arrays is not None and isinstance(other, Net) and other._arrays is not None \
                and not self._arrays.unfilled and not other._arrays.unfilled:
            self._arrays.share_trained_layers(other._arrays)
            return
        from caffe_compat.solvers.nets import share_trained_layers
        if isinstance(other, Net):       # both in the mode current now, as they will run
            _placement.follow_mode(self)
            _placement.follow_mode(other)
        share_trained_layers(self._net, other._net if isinstance(other, Net) else other)

    def save(self, filename):
        """Write a caffemodel (atomic)."""
        if self._arrays is not None and not self._arrays.unfilled:
            self._arrays.save(os.fspath(filename))
            return
        net = self._net
        with _placement.params_on_engine(self, writes=False):
            net.save(os.fspath(filename))

    def save_hdf5(self, filename):
        """Write the weights in Caffe's HDF5 layout (``data/<layer>/<i>``; atomic)."""
        from caffe_compat.solvers.weights import write_net_hdf5
        net = self._net
        with _placement.params_on_engine(self, writes=False):
            write_net_hdf5(net, os.fspath(filename))

    def load_hdf5(self, filename):
        """Copy weights by layer name from Caffe's HDF5 layout (another HDF5 file, a data
        file or a solver state, is refused saying which)."""
        net = self._net
        with _placement.params_on_engine(self, writes=True):
            net._copy_from_hdf5(os.fspath(filename))

    def set_input_arrays(self, data, labels):
        """Feed a MemoryData layer (its first one): ``data`` N x C x H x W float32 and
        ``labels`` (N, or N x 1 x 1 x 1)."""
        labels = np.asarray(labels)
        if labels.ndim == 1:
            labels = np.ascontiguousarray(labels[:, None, None, None])
        return self._set_input_arrays(data, labels)

    def _set_input_arrays(self, data, labels):
        setter = getattr(self._net, "set_input_arrays", None)
        if setter is None:
            raise NotImplementedError("Net.set_input_arrays: this engine has no MemoryData "
                                      "layer yet")
        return setter(data, labels)

    def __repr__(self):
        name = self._arrays.name if self._arrays is not None else self._torch_net.name
        return f"<caffe.Net {name!r}: {len(self._nodes)} layers>"


def _gather(into, arrays):
    """Appends a batch's items to the lists of ``into`` ({blob: list}), copied."""
    for name, value in arrays.items():
        into[name].extend(value.copy())


def _unpad(gathered, fed, pad=None):
    """The gathered items as arrays, less the padding of the last batch (``pad`` items; by
    default, as many as there are more than in ``fed``)."""
    arrays = {name: np.asarray(v) for name, v in gathered.items()}
    if pad is None:
        pad = len(next(iter(arrays.values()))) - len(next(iter(fed.values())))
    return {name: v[:-pad] for name, v in arrays.items()} if pad else arrays
