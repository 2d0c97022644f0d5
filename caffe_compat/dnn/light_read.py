"""A dnn Net read by the light reader (:mod:`caffe_compat.io.protobuf_free`): a one-shot program's net
without protobuf. The net's tables (inputs, layers, ids) and its torch-free forwards come
from the light messages; the protobuf side (the definition's messages, the caffemodel's,
positions, Python layers) is read by the protobuf reader from the same text and bytes the
first time anything asks for it (:class:`_FromProtobuf`): a method the torch-free path does
not answer, the torch path, an error's position. That read must give the same tables, or
NetError says so: the light reader is trusted only where it reads as protobuf does."""
from __future__ import annotations

from types import SimpleNamespace

from ..errors import NetError
from .importer import in_place_names, opencv_layers, split_inputs, unique_names


class _FromProtobuf:
    """A Net attribute of the protobuf side: for a net the light reader read, worked out on
    first use (:meth:`LightMixin._materialize`)."""

    def __set_name__(self, owner, name):
        self.key = "_pb" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if obj.__dict__.get("_reread") is not None:
            obj._materialize()
        try:
            return obj.__dict__[self.key]
        except KeyError:
            raise AttributeError(self.key[3:]) from None

    def __set__(self, obj, value):
        obj.__dict__[self.key] = value


class LightMixin:
    """The protobuf side of a dnn Net on demand."""

    _param = _FromProtobuf()
    _weights = _FromProtobuf()
    _values = _FromProtobuf()
    _located = _FromProtobuf()
    _positions = _FromProtobuf()

    @classmethod
    def from_light(cls, deploy, weights, source, reread):
        """The Net of ``deploy`` (a :class:`caffe_compat.io.protobuf_free.deploy.Deploy`) and
        ``weights()`` (({layer name: float32 arrays}, the :class:`caffe_compat.onnx_path.graph.
        FileSource` they view or None); called once the tables are made, so that a
        caffemodel still being read is waited for as late as possible); ``reread()`` gives
        ``(NetParameter, weights NetParameter, open inputs, values)`` from the protobuf
        reader when first needed. None where the torch-free path does not take the net (the
        protobuf reader then reads it as before)."""
        from .. import onnx_path
        from . import python_layers
        if not onnx_path.enabled() or \
                python_layers.any_registered(SimpleNamespace(layer=deploy.layers)):
            return None
        net = cls.__new__(cls)
        net._init_state(source)
        net._inputs, net._input_shapes, engine, net._layers = light_tables(deploy)
        net._index_layers()
        if onnx_path.TorchFreeNet.unsupported_types(engine):
            return None
        arrays, file_source = weights()
        net._torch_free = net._lite_net(engine, arrays, deploy.name, file_source)
        if net._torch_free is None:
            return None
        net._light_tables = (list(net._inputs), dict(net._input_shapes), net._layers)
        net.__dict__["_reread"] = reread
        return net

    def _materialize(self):
        """Read the protobuf side (module doc)."""
        reread = self.__dict__.pop("_reread", None)
        if reread is None:
            return
        param, weights, open_inputs, values = reread()
        full = type(self)(param, weights, self._source, open_inputs, values, tables_only=True)
        if (full._inputs, full._input_shapes, full._layers) != self._light_tables:
            raise NetError(f"{self._source}: the light reader and the protobuf reader read "
                           "this net differently (a bug of caffe_compat: please report it with "
                           "the prototxt)")
        for name in ("_param", "_weights", "_values", "_located", "_positions"):
            setattr(self, name, full.__dict__["_pb" + name])


def light_tables(deploy):
    """(inputs, {input: shape}, the engine's layers, OpenCV's layer records) of a light
    deploy net, as :class:`~.net.Net` makes them of the protobuf messages: Input layers
    become inputs, repeated names OpenCV's, every in-place top a blob of its own."""
    inputs, shapes, body, _, _ = split_inputs(deploy.layers, deploy.open_inputs)
    named = [lp.replaced(name=n) for lp, n in zip(body, unique_names(body))]
    bottoms, tops = in_place_names(named)
    engine = [lp.replaced(bottom=b, top=t) for lp, b, t in zip(named, bottoms, tops)]
    return inputs, shapes, engine, opencv_layers(SimpleNamespace(layer=named),
                                                 SimpleNamespace(layer=engine))
