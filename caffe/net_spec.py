"""pycaffe's ``caffe.net_spec``: write nets in Python; ``to_proto`` gives the NetParameter.

    n = caffe.NetSpec()
    n.data, n.label = L.DummyData(shape=[dict(dim=[64, 1, 28, 28]), dict(dim=[64, 1])], ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20)
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    open("net.prototxt", "w").write(str(n.to_proto()))

The rules are pycaffe's, so a script writes the same text as with pycaffe:

- a layer's keyword arguments go into its type's ``<type>_param`` message when that message
  has the field (``L.Convolution(kernel_size=3)`` -> ``convolution_param``), else into the
  LayerParameter itself (``param``, ``include``, ``loss_weight``, ...); names ending in
  ``param`` always go to the LayerParameter; dicts become messages, lists repeated fields, and
  a single value given for a repeated field becomes a one-element list;
- ``ntop`` (default 1) is the number of tops (0: the function itself is returned), and
  ``in_place=True`` makes the tops the bottoms;
- a NetSpec names each top (and the layer producing it: the name of its first top) after the
  attribute it was assigned to; unnamed tops and layers are named ``<Type><k>``, counting per
  type in the order the depth-first walk from the assigned tops first reaches them; layers
  come out in that walk's order.
"""
from __future__ import annotations

from collections import Counter, OrderedDict

from .proto import caffe_pb2


def param_name_dict():
    """{parameter message type stem: LayerParameter field stem}, e.g. ``"InnerProduct":
    "inner_product"``, from every ``*_param`` field of LayerParameter."""
    out = {}
    for field in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith("_param") and field.message_type is not None:
            type_name = field.message_type.name
            if type_name.endswith("Parameter"):
                out[type_name[:-len("Parameter")]] = field.name[:-len("_param")]
    return out


def assign_proto(proto, name, val):
    """Set field ``name`` of message ``proto`` from a Python value: dicts fill sub-messages,
    lists fill repeated fields (a list of dicts adds one message per dict), a non-list
    value for a repeated field is taken as a one-element list, anything else is assigned."""
    field = getattr(proto, name)
    repeated = hasattr(field, "extend")
    if repeated and not isinstance(val, list):
        val = [val]
    if isinstance(val, list):
        if val and isinstance(val[0], dict):
            for item in val:
                message = field.add()
                for k, v in item.items():
                    assign_proto(message, k, v)
        else:
            field.extend(val)
    elif isinstance(val, dict):
        for k, v in val.items():
            assign_proto(field, k, v)
    else:
        setattr(proto, name, val)


def to_proto(*tops):
    """A NetParameter with every layer needed to compute ``tops`` (auto-named)."""
    layers, autonames = OrderedDict(), Counter()
    for top in tops:
        top.fn._to_proto(layers, {}, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class Top:
    """One output blob of a layer function (its ``n``-th top)."""

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n

    def to_proto(self):
        """A NetParameter with every layer needed to compute this top."""
        return to_proto(self)

    def _to_proto(self, layers, names, autonames):
        return self.fn._to_proto(layers, names, autonames)


class Function:
    """One layer: its type, its input Tops and its parameters."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        for i, top in enumerate(inputs):
            if not isinstance(top, Top):
                raise TypeError(f"{type_name} input {i} is not a Top (type is {type(top)})")
        self.inputs = inputs
        self.params = params
        self.ntop = self.params.pop("ntop", 1)
        self.in_place = self.params.pop("in_place", False)
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _top_name(self, top, names, autonames):
        if top not in names:
            autonames[top.fn.type_name] += 1
            names[top] = top.fn.type_name + str(autonames[top.fn.type_name])
        return names[top]

    def _name(self, names, autonames):
        if self not in names:
            if self.ntop > 0:
                names[self] = self._top_name(self.tops[0], names, autonames)
            else:
                autonames[self.type_name] += 1
                names[self] = self.type_name + str(autonames[self.type_name])
        return names[self]

    def _to_proto(self, layers, names, autonames):
        if self in layers:
            return
        bottoms = []
        for top in self.inputs:
            top._to_proto(layers, names, autonames)
            bottoms.append(layers[top.fn].top[top.n])
        layer = caffe_pb2.LayerParameter()
        layer.type = self.type_name
        layer.bottom.extend(bottoms)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            layer.top.extend(self._top_name(t, names, autonames) for t in self.tops)
        layer.name = self._name(names, autonames)
        for key, value in self.params.items():
            if key.endswith("param"):
                assign_proto(layer, key, value)
                continue
            try:
                assign_proto(getattr(layer, _param_names[self.type_name] + "_param"), key,
                             value)
            except (AttributeError, KeyError):
                assign_proto(layer, key, value)
        layers[self] = layer


class NetSpec:
    """Named tops: assign ``n.name = L.Type(...)``; :meth:`to_proto` writes every layer
    needed for the assigned tops, with the assigned names."""

    def __init__(self):
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name, value):
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(f"NetSpec has no top '{name}'") from None

    def __setitem__(self, key, value):
        self.__setattr__(key, value)

    def __getitem__(self, item):
        return self.tops[item]

    def to_proto(self):
        names = {v: k for k, v in self.tops.items()}
        layers, autonames = OrderedDict(), Counter()
        for top in self.tops.values():
            top._to_proto(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """``L.<Type>(*bottoms, **params)``: a Top (one top), a tuple of Tops (``ntop`` > 1) or
    the Function (``ntop=0``)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def layer_fn(*args, **kwargs):
            fn = Function(name, args, kwargs)
            if fn.ntop == 0:
                return fn
            return fn.tops[0] if fn.ntop == 1 else fn.tops
        return layer_fn


class Parameters:
    """``P.<Type>.<CONSTANT>``: enum values of ``<Type>Parameter``, e.g. ``P.Pooling.MAX``."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        message = getattr(caffe_pb2, name + "Parameter")

        class Param:
            def __getattr__(self, param_name):
                return getattr(message, param_name)
        return Param()


_param_names = param_name_dict()
layers = Layers()
params = Parameters()
